/* Unit tests for the foundation: error contract, log formats, flag parsing,
 * default spec, features tables, host probes. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/spec.h"
#include "oci/tables.h"
#include "base/cleanup.h"
#include "runtime/cli.h"
#include "base/error.h"
#include "runtime/host.h"
#include "base/log.h"
#include "tests/unit/tap.h"

static void json_putp(json_object **o)
{
	json_object_put(*o);
}
#define cleanup_json __attribute__((cleanup(json_putp)))

TEST(error_wrap_adds_context_and_cause)
{
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(husk_error_set(&err, ENOENT, "open %s", "x"), -1);
	CHECK_INT(husk_error_wrap(&err, "bundle %s", "/b"), -1);
	CHECK_STR(err->msg, "bundle /b: open x: no such file or directory");
	CHECK_INT(err->errnum, ENOENT);
	CHECK_INT(err->exit_status, 1);
}

TEST(error_status_is_kept)
{
	husk_error_t err cleanup_error = NULL;

	husk_error_set_status(&err, 127, 0, "exec: \"nope\": not found");
	CHECK_INT(err->exit_status, 127);
	CHECK_STR(err->msg, "exec: \"nope\": not found");
}

TEST(log_json_line_escapes)
{
	cleanup_free char *line =
		log_format_line(LOG_FORMAT_JSON, LOG_LEVEL_ERROR, 0, "a \"q\"\n\\\x01");
	CHECK(line);
	/* A JSON parser must read back exactly the message. */
	cleanup_json json_object *o = json_tokener_parse(line);
	CHECK(o);
	CHECK_STR(json_object_get_string(json_object_object_get(o, "level")), "error");
	CHECK_STR(json_object_get_string(json_object_object_get(o, "msg")), "a \"q\"\n\\\x01");
	CHECK(json_object_object_get(o, "time"));
	CHECK(line[strlen(line) - 1] == '\n');
}

TEST(log_text_line_like_logrus)
{
	setenv("TZ", "UTC", 1);
	tzset();
	cleanup_free char *line =
		log_format_line(LOG_FORMAT_TEXT, LOG_LEVEL_WARN, 86400, "x \"y\"\tz");
	CHECK_STR(line, "time=\"1970-01-02T00:00:00Z\" level=warning msg=\"x \\\"y\\\"\\tz\"\n");
}

TEST(log_format_names)
{
	enum log_format f;
	CHECK_INT(log_format_parse("json", &f), 0);
	CHECK_INT(f, LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("text", &f), 0);
	CHECK_INT(f, LOG_FORMAT_TEXT);
	CHECK_INT(log_format_parse("xml", &f), -1);
}

static const struct cli_flag flags[] = {
	{ "bundle", 'b', true, "" },
	{ "pid-file", 0, true, "" },
	{ "process", 'p', true, "" },
	{ "detach", 'd', false, "" },
	{ NULL },
};
static const struct cli_command cmd = {
	.name = "t",
	.summary = "",
	.min_args = 1,
	.max_args = 1,
	.flags = flags,
};

TEST(cli_accepts_go_flag_spellings)
{
	char *argv[] = { "t", "-bundle", "B", "--pid-file=P", "-p", "F", "-d", "id", NULL };
	struct cli_args a;
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(cli_parse(&cmd, 8, argv, &a, &err), 0);
	CHECK_STR(cli_value(&cmd, &a, "bundle"), "B");
	CHECK_STR(cli_value(&cmd, &a, "pid-file"), "P");
	CHECK_STR(cli_value(&cmd, &a, "process"), "F");
	CHECK(cli_switch(&cmd, &a, "detach"));
	CHECK_INT(a.argc, 1);
	CHECK_STR(a.argv[0], "id");
}

TEST(cli_stops_at_first_positional)
{
	char *argv[] = { "t", "id", "--detach", NULL };
	struct cli_args a;
	husk_error_t err cleanup_error = NULL;

	/* "--detach" after the id is an argument, so there are two: too many. */
	fflush(stdout);
	int saved = dup(2), devnull = open("/dev/null", 1);
	dup2(devnull, 2); /* the usage text goes to stderr */
	int r = cli_parse(&cmd, 3, argv, &a, &err);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	CHECK_INT(r, -1);
	CHECK_STR(err->msg, "\"t\" requires exactly 1 argument(s)");
}

TEST(cli_unknown_flag_message)
{
	char *argv[] = { "t", "--bogus", "id", NULL };
	struct cli_args a;
	husk_error_t err cleanup_error = NULL;

	int saved = dup(2), devnull = open("/dev/null", 1);
	dup2(devnull, 2);
	int r = cli_parse(&cmd, 3, argv, &a, &err);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	CHECK_INT(r, -1);
	CHECK_STR(err->msg, "flag provided but not defined: --bogus");
}

static json_object *path(json_object *o, const char *k1, const char *k2)
{
	o = json_object_object_get(o, k1);
	return k2 ? json_object_object_get(o, k2) : o;
}

TEST(default_spec_matches_runc_shape)
{
	husk_error_t err cleanup_error = NULL;
	cleanup_free char *text = oci_default_spec(false, 1000, 1000, &err);
	CHECK(text);
	cleanup_json json_object *s = json_tokener_parse(text);
	CHECK(s);
	CHECK_STR(json_object_get_string(path(s, "ociVersion", NULL)), OCI_SPEC_VERSION);
	CHECK_STR(json_object_get_string(path(s, "root", "path")), "rootfs");
	CHECK(json_object_get_boolean(path(s, "process", "terminal")));
	CHECK_INT(json_object_array_length(path(s, "mounts", NULL)), 7);
	CHECK_INT(json_object_array_length(path(s, "linux", "namespaces")), 5);
	CHECK(path(s, "linux", "resources"));
	CHECK(!path(s, "linux", "uidMappings"));
}

TEST(rootless_spec_maps_ids_and_drops_netns)
{
	husk_error_t err cleanup_error = NULL;
	cleanup_free char *text = oci_default_spec(true, 1234, 567, &err);
	CHECK(text);
	cleanup_json json_object *s = json_tokener_parse(text);
	CHECK(s);
	json_object *m = json_object_array_get_idx(path(s, "linux", "uidMappings"), 0);
	CHECK_INT(json_object_get_int(json_object_object_get(m, "hostID")), 1234);
	m = json_object_array_get_idx(path(s, "linux", "gidMappings"), 0);
	CHECK_INT(json_object_get_int(json_object_object_get(m, "hostID")), 567);
	json_object *ns = path(s, "linux", "namespaces");
	bool user = false;
	for (size_t i = 0; i < json_object_array_length(ns); i++) {
		const char *t = json_object_get_string(
			json_object_object_get(json_object_array_get_idx(ns, i), "type"));
		CHECK(strcmp(t, "network") != 0);
		user |= strcmp(t, "user") == 0;
	}
	CHECK(user);
	CHECK(!path(s, "linux", "resources"));
}

/* Every name the default spec uses must be one husk claims to support. */
TEST(default_spec_uses_only_supported_names)
{
	husk_error_t err cleanup_error = NULL;
	cleanup_free char *text = oci_default_spec(false, 0, 0, &err);
	cleanup_json json_object *s = json_tokener_parse(text);
	CHECK(s);
	json_object *mounts = path(s, "mounts", NULL);
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		json_object *opts =
			json_object_object_get(json_object_array_get_idx(mounts, i), "options");
		for (size_t j = 0; opts && j < json_object_array_length(opts); j++) {
			const char *o = json_object_get_string(json_object_array_get_idx(opts, j));
			/* Options that are not mount flags are handed to the
			 * file system as data: key=value ones, and devpts'
			 * "newinstance". */
			if (!strchr(o, '=') && strcmp(o, "newinstance") != 0)
				CHECK(oci_name_lookup(&oci_mount_options, o) >= 0);
		}
	}
	json_object *caps = path(path(s, "process", NULL), "capabilities", "bounding");
	for (size_t i = 0; i < json_object_array_length(caps); i++)
		CHECK(oci_name_lookup(&oci_capabilities,
				      json_object_get_string(json_object_array_get_idx(caps, i))) >=
		      0);
}

TEST(capability_table_in_kernel_order)
{
	CHECK_INT(oci_name_lookup(&oci_capabilities, "CAP_CHOWN"), 0);
	CHECK_INT(oci_name_lookup(&oci_capabilities, "CAP_SYS_ADMIN"), 21);
	CHECK_INT(oci_name_lookup(&oci_capabilities, "CAP_CHECKPOINT_RESTORE"), 40);
	CHECK_INT(oci_name_lookup(&oci_capabilities, "CAP_NOPE"), -1);
}

TEST(kvm_backend_from_module_dir)
{
	char dir[] = "/tmp/husk-unit-XXXXXX", sub[64];
	CHECK(mkdtemp(dir));
	CHECK_INT(host_kvm_backend(dir), KVM_BACKEND_NONE);
	snprintf(sub, sizeof(sub), "%s/kvm_pvm", dir);
	mkdir(sub, 0755);
	CHECK_INT(host_kvm_backend(dir), KVM_BACKEND_PVM);
	snprintf(sub, sizeof(sub), "%s/kvm_amd", dir);
	mkdir(sub, 0755);
	CHECK_INT(host_kvm_backend(dir), KVM_BACKEND_AMD);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/kvm_pvm", dir);
	rmdir(sub);
	rmdir(dir);
	CHECK_STR(host_kvm_backend_name(KVM_BACKEND_PVM), "kvm_pvm");
}

/* `husk check` and create say the same of a /dev/kvm that does not open:
 * missing with no module loaded is the module's to fix, missing with one
 * loaded the container's that was not given the device. */
TEST(kvm_open_says_why_and_what_to_do)
{
	char why[128];
	const char *fix = NULL;

	CHECK_INT(host_kvm_open("/nonexistent/kvm", KVM_BACKEND_NONE, why, sizeof(why), &fix), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_STR(why, "/nonexistent/kvm: No such file or directory (KVM module: none loaded)");
	CHECK(fix && strstr(fix, "load kvm_intel or kvm_amd"));
	CHECK_INT(host_kvm_open("/nonexistent/kvm", KVM_BACKEND_PVM, why, sizeof(why), &fix), -1);
	CHECK_STR(why, "/nonexistent/kvm: No such file or directory (KVM module: kvm_pvm)");
	CHECK(fix && strstr(fix, "pass /dev/kvm in"));
	/* Truncated, never overrun. */
	CHECK_INT(host_kvm_open("/nonexistent/kvm", KVM_BACKEND_NONE, why, 8, &fix), -1);
	CHECK_STR(why, "/nonexi");
}

TEST(cgroup_mode_of_non_cgroup_dir_is_none)
{
	CHECK_INT(host_cgroup_mode("/proc"), CGROUP_MODE_NONE);
	CHECK(!host_cgroup_controller("/proc", CGROUP_MODE_NONE, "memory"));
}
