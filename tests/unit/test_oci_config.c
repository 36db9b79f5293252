/* oci/config.c: a full config parses into the model; every kind of bad
 * value is refused with its JSON path. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/spec.h"
#include "tests/unit/tap.h"

static const char good[] =
	"{\"ociVersion\":\"1.1.0\","
	"\"process\":{\"terminal\":true,\"consoleSize\":{\"height\":40,\"width\":100},"
	"\"user\":{\"uid\":1000,\"gid\":1001,\"additionalGids\":[10,20],\"umask\":63},"
	"\"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"A=b=c\"],\"cwd\":\"/work\","
	"\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"effective\":[\"CAP_KILL\"],"
	"\"inheritable\":[],\"permitted\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]},"
	"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},"
	"{\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,\"hard\":18446744073709551615}],"
	"\"noNewPrivileges\":true,\"oomScoreAdj\":-500},"
	"\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
	"\"hostname\":\"h\",\"domainname\":\"d.org\","
	"\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	"\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
	"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv\",\"options\":[\"rbind\",\"ro\",\"rprivate\"]}],"
	"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"},"
	"{\"type\":\"mount\"}],"
	"\"cgroupsPath\":\"machine.slice:libpod:abc\","
	"\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
	"\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],"
	"\"resources\":{\"memory\":{\"limit\":67108864},\"cpu\":{\"quota\":50000,\"period\":100000,\"shares\":512},"
	"\"pids\":{\"limit\":64}},"
	"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
	"\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
	"\"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
	"\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}}}";

TEST(oci_config_parses_everything)
{
	husk_error_t err = NULL;
	struct oci_config *c = oci_config_parse(good, strlen(good), &err);

	if (!c) {
		printf("# %s\n", err->msg);
		husk_error_release(&err);
	}
	CHECK(c);
	const struct oci_process *p = &c->process;
	CHECK(c->has_process);
	CHECK(p->terminal);
	CHECK_INT(p->console_height, 40);
	CHECK_INT(p->console_width, 100);
	CHECK_INT(p->uid, 1000);
	CHECK_INT(p->gid, 1001);
	CHECK_INT(p->nadditional_gids, 2);
	CHECK_INT(p->additional_gids[1], 20);
	CHECK(p->has_umask);
	CHECK_INT(p->umask, 077);
	CHECK_INT(p->nargs, 3);
	CHECK_STR(p->args[2], "echo hi");
	CHECK(p->args[3] == NULL);
	CHECK_STR(p->env[1], "A=b=c");
	CHECK_STR(p->cwd, "/work");
	CHECK(p->has_caps);
	CHECK_INT(p->caps[OCI_CAP_BOUNDING], (1 << 5) | 1);
	CHECK_INT(p->caps[OCI_CAP_AMBIENT], 1 << 5);
	CHECK_INT(p->caps[OCI_CAP_INHERITABLE], 0);
	CHECK_INT(p->nrlimits, 2);
	CHECK_INT(p->rlimits[0].resource, RLIMIT_NOFILE);
	CHECK_INT(p->rlimits[1].hard, (long long)UINT64_MAX);
	CHECK(p->no_new_privileges);
	CHECK_INT(p->oom_score_adj, -500);
	CHECK_STR(c->root_path, "rootfs");
	CHECK(c->root_readonly);
	CHECK_STR(c->hostname, "h");
	CHECK_STR(c->domainname, "d.org");
	CHECK_INT(c->nmounts, 3);
	CHECK_INT(c->mounts[1].flags, MS_NOSUID | MS_NOEXEC);
	CHECK_STR(c->mounts[1].data, "newinstance,ptmxmode=0666,mode=0620");
	CHECK(c->mounts[2].bind);
	CHECK(c->mounts[2].recursive);
	CHECK(c->mounts[2].flags & MS_RDONLY);
	CHECK_INT(c->mounts[2].propagation, MS_PRIVATE | MS_REC);
	CHECK_INT(c->nnamespaces, 3);
	CHECK(oci_config_namespace(c, CLONE_NEWPID));
	CHECK_STR(oci_config_namespace(c, CLONE_NEWNET)->path, "/proc/1/ns/net");
	CHECK(!oci_config_namespace(c, CLONE_NEWUTS));
	CHECK_INT(c->nsysctl, 1);
	CHECK_STR(c->sysctl[0].key, "net.ipv4.ip_forward");
	CHECK_STR(c->masked_paths[0], "/proc/kcore");
	CHECK_STR(c->readonly_paths[0], "/proc/sys");
	CHECK_INT(c->resources.memory_limit, 67108864);
	CHECK_INT(c->resources.cpu_quota, 50000);
	CHECK_INT(c->resources.pids_limit, 64);
	CHECK_STR(c->cgroups_path, "machine.slice:libpod:abc");
	CHECK(c->seccomp);
	CHECK_INT(c->seccomp->default_errno, 38);
	CHECK_INT(c->seccomp->narchs, 2);
	CHECK_INT(c->seccomp->flags, 4);
	CHECK_INT(c->seccomp->nsyscalls, 2);
	CHECK_STR(c->seccomp->syscalls[0].names[1], "write");
	CHECK_INT(c->seccomp->syscalls[1].nargs, 1);
	CHECK_INT(c->seccomp->syscalls[1].args[0].value, 8);
	oci_config_free(c);
}

TEST(oci_config_parses_husk_spec_output)
{
	husk_error_t err = NULL;
	char *spec = oci_default_spec(false, 0, 0, &err);
	CHECK(spec);
	struct oci_config *c = oci_config_parse(spec, strlen(spec), &err);
	free(spec);
	if (!c) {
		printf("# %s\n", err->msg);
		husk_error_release(&err);
	}
	CHECK(c);
	CHECK(c->nmounts > 3);
	CHECK(c->nmasked_paths > 3);
	oci_config_free(c);
	spec = oci_default_spec(true, 1000, 1000, &err);
	CHECK(spec);
	c = oci_config_parse(spec, strlen(spec), &err);
	free(spec);
	CHECK(c);
	oci_config_free(c);
}

/* Replaces the first occurrence of FROM in the good config by TO and
 * expects the parse to fail with exactly WANT. */
static int bad(const char *from, const char *to, const char *want)
{
	char *json = malloc(strlen(good) + strlen(to) + 1);
	const char *at = strstr(good, from);
	husk_error_t err = NULL;
	int ok;

	if (!at) {
		printf("# no '%s' in the good config\n", from);
		free(json);
		return 0;
	}
	memcpy(json, good, (size_t)(at - good));
	strcpy(json + (at - good), to);
	strcat(json, at + strlen(from));
	struct oci_config *c = oci_config_parse(json, strlen(json), &err);
	ok = !c && err && strcmp(err->msg, want) == 0;
	if (!ok)
		printf("# '%s' -> '%s': want \"%s\", got \"%s\"\n", from, to, want,
		       c ? "(parsed)" : err->msg);
	oci_config_free(c);
	husk_error_release(&err);
	free(json);
	return ok;
}

TEST(oci_config_errors_name_the_path)
{
	CHECK(bad("\"echo hi\"", "5", "process.args[2]: must be a string"));
	CHECK(bad("[\"sh\",\"-c\",\"echo hi\"]", "[]", "process.args: must not be empty"));
	CHECK(bad("\"args\":", "\"argz\":", "process.args: required"));
	CHECK(bad("\"terminal\":true", "\"terminal\":1", "process.terminal: must be a boolean"));
	CHECK(bad("\"uid\":1000", "\"uid\":-1",
		  "process.user.uid: -1 out of range [0, 4294967294]"));
	CHECK(bad("\"uid\":1000", "\"uid\":\"1000\"", "process.user.uid: must be an integer"));
	CHECK(bad("\"uid\":1000", "\"uid\":1.5", "process.user.uid: must be an integer"));
	CHECK(bad("[10,20]", "[10,\"x\"]", "process.user.additionalGids[1]: must be an integer"));
	CHECK(bad("\"umask\":63", "\"umask\":4096", "process.user.umask: 4096 is not a mode"));
	CHECK(bad("\"A=b=c\"", "\"novalue\"", "process.env[1]: \"novalue\" is not NAME=VALUE"));
	CHECK(bad("\"cwd\":\"/work\"", "\"cwd\":\"work\"",
		  "process.cwd: must be an absolute path"));
	CHECK(bad("\"effective\":[\"CAP_KILL\"]", "\"effective\":[\"CAP_KILLER\"]",
		  "process.capabilities.effective[0]: unknown capability \"CAP_KILLER\""));
	CHECK(bad("\"RLIMIT_CORE\"", "\"RLIMIT_NOFILE\"",
		  "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""));
	CHECK(bad("\"soft\":1024", "\"soft\":5000",
		  "process.rlimits[0]: soft limit above the hard limit"));
	CHECK(bad("\"soft\":1024", "\"soft\":-1", "process.rlimits[0].soft: must not be negative"));
	CHECK(bad("\"oomScoreAdj\":-500", "\"oomScoreAdj\":-1001",
		  "process.oomScoreAdj: -1001 out of range [-1000, 1000]"));
	CHECK(bad("\"height\":40", "\"height\":true",
		  "process.consoleSize.height: must be an integer"));
	CHECK(bad("\"root\":", "\"rooot\":", "root: required"));
	CHECK(bad("\"readonly\":true", "\"readonly\":\"yes\"", "root.readonly: must be a boolean"));
	CHECK(bad("\"hostname\":\"h\"", "\"hostname\":[]", "hostname: must be a string"));
	CHECK(bad("\"destination\":\"/proc\"", "\"destination\":\"proc\"",
		  "mounts[0].destination: must be an absolute path"));
	CHECK(bad("\"nosuid\",\"noexec\"", "\"nosuid\",7",
		  "mounts[1].options[1]: must be a string"));
	CHECK(bad("{\"type\":\"pid\"}", "{\"type\":\"pids\"}",
		  "linux.namespaces[0].type: unknown namespace \"pids\""));
	CHECK(bad("{\"type\":\"mount\"}", "{\"type\":\"pid\"}",
		  "linux.namespaces[2].type: duplicate namespace \"pid\""));
	CHECK(bad("ip_forward\":\"1\"", "ip_forward\":1",
		  "linux.sysctl.net.ipv4.ip_forward: must be a string"));
	CHECK(bad("[\"/proc/kcore\"]", "[\"/proc/kcore\",null]",
		  "linux.maskedPaths[1]: must be a string"));
	CHECK(bad("\"limit\":67108864", "\"limit\":\"64m\"",
		  "linux.resources.memory.limit: must be an integer"));
	CHECK(bad("\"SCMP_ACT_ERRNO\"", "\"SCMP_ACT_NOPE\"",
		  "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""));
	CHECK(bad("\"SCMP_ARCH_X86\"]", "\"SCMP_ARCH_ARM\"]",
		  "linux.seccomp.architectures[1]: unsupported architecture \"SCMP_ARCH_ARM\""));
	CHECK(bad("\"op\":\"SCMP_CMP_EQ\"", "\"op\":\"EQ\"",
		  "linux.seccomp.syscalls[1].args[0].op: unknown operator \"EQ\""));
	CHECK(bad("\"index\":0", "\"index\":6",
		  "linux.seccomp.syscalls[1].args[0].index: 6 is not an argument index (0-5)"));
	CHECK(bad("[\"read\",\"write\"]", "[\"read\",{}]",
		  "linux.seccomp.syscalls[0].names[1]: must be a string"));
	CHECK(bad("\"linux\":{", "\"linux\":7,\"x\":{", "linux: must be an object"));
	CHECK(bad("\"machine.slice:libpod:abc\"", "5", "linux.cgroupsPath: must be a string"));
}

TEST(oci_config_rejects_bad_json)
{
	husk_error_t err = NULL;

	CHECK(!oci_config_parse("{\"root\":", 8, &err));
	CHECK_STR(err->msg, "config.json: invalid JSON: unexpected end of input");
	husk_error_release(&err);
	CHECK(!oci_config_parse("[]", 2, &err));
	CHECK_STR(err->msg, "config.json: must be an object");
	husk_error_release(&err);
	CHECK(!oci_config_parse("{} x", 4, &err));
	CHECK_STR(err->msg, "config.json: invalid JSON: trailing data at byte 3");
	husk_error_release(&err);
	CHECK(!oci_config_parse("", 0, &err));
	husk_error_release(&err);
	/* A NUL inside a string would cut a path short. */
	const char nul[] = "{\"root\":{\"path\":\"a\\u0000b\"}}";
	CHECK(!oci_config_parse(nul, sizeof(nul) - 1, &err));
	CHECK_STR(err->msg, "root.path: contains a NUL byte");
	husk_error_release(&err);
}

TEST(oci_process_json)
{
	husk_error_t err = NULL;
	const char ok[] = "{\"args\":[\"ls\"],\"cwd\":\"/\",\"terminal\":false}";
	struct oci_process *p = oci_process_parse(ok, sizeof(ok) - 1, &err);
	CHECK(p);
	CHECK_STR(p->args[0], "ls");
	CHECK(p->env && p->env[0] == NULL);
	oci_process_free(p);
	const char no_cwd[] = "{\"args\":[\"ls\"]}";
	CHECK(!oci_process_parse(no_cwd, sizeof(no_cwd) - 1, &err));
	CHECK_STR(err->msg, "process.cwd: required");
	husk_error_release(&err);
}

/* linux.devices: parsed with its defaults, and each bad field refused with
 * its JSON path. */
static const char with_devices[] =
	"{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"devices\":["
	"{\"path\":\"/dev/mynull\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":384,"
	"\"uid\":1000,\"gid\":5},"
	"{\"path\":\"/dev/sda9\",\"type\":\"b\",\"major\":8,\"minor\":9},"
	"{\"path\":\"/dev/fifo\",\"type\":\"p\"}]}}";

static int bad_device(const char *from, const char *to, const char *want)
{
	char json[sizeof(with_devices) + 256];
	const char *at = strstr(with_devices, from);
	husk_error_t err = NULL;

	if (!at || strlen(to) > 200) {
		printf("# no '%s' in the devices config\n", from);
		return 0;
	}
	snprintf(json, sizeof(json), "%.*s%s%s", (int)(at - with_devices), with_devices, to,
		 at + strlen(from));
	struct oci_config *c = oci_config_parse(json, strlen(json), &err);
	int ok = !c && err && strcmp(err->msg, want) == 0;
	if (!ok)
		printf("# '%s' -> '%s': want \"%s\", got \"%s\"\n", from, to, want,
		       c ? "(parsed)" : err->msg);
	oci_config_free(c);
	husk_error_release(&err);
	return ok;
}

TEST(oci_config_devices)
{
	husk_error_t err = NULL;
	struct oci_config *c = oci_config_parse(with_devices, strlen(with_devices), &err);

	CHECK(c);
	if (!c) {
		printf("# %s\n", err->msg);
		husk_error_release(&err);
		return;
	}
	CHECK_INT(c->ndevices, 3);
	CHECK_STR(c->devices[0].path, "/dev/mynull");
	CHECK_INT(c->devices[0].type, S_IFCHR);
	CHECK_INT(c->devices[0].major, 1);
	CHECK_INT(c->devices[0].minor, 3);
	CHECK_INT(c->devices[0].mode, 0600);
	CHECK_INT(c->devices[0].uid, 1000);
	CHECK_INT(c->devices[0].gid, 5);
	CHECK_INT(c->devices[1].type, S_IFBLK);
	CHECK_INT(c->devices[1].mode, 0666);
	CHECK_INT(c->devices[1].uid, 0);
	CHECK_INT(c->devices[2].type, S_IFIFO);
	oci_config_free(c);

	CHECK(bad_device("\"path\":\"/dev/mynull\",", "", "linux.devices[0].path: required"));
	CHECK(bad_device("\"/dev/mynull\"", "\"dev/mynull\"",
			 "linux.devices[0].path: must be an absolute path"));
	CHECK(bad_device("\"/dev/mynull\"", "\"/dev/../etc/x\"",
			 "linux.devices[0].path: \"/dev/../etc/x\" is not a device path"));
	CHECK(bad_device("\"/dev/sda9\"", "\"/dev/mynull\"",
			 "linux.devices[1].path: duplicate device \"/dev/mynull\""));
	CHECK(bad_device("\"type\":\"c\"", "\"type\":\"x\"",
			 "linux.devices[0].type: \"x\" is not a device type (c, b, u or p)"));
	CHECK(bad_device("\"type\":\"c\"", "\"type\":3",
			 "linux.devices[0].type: must be a string"));
	CHECK(bad_device("\"major\":8,", "",
			 "linux.devices[1].major: required for a type b device"));
	CHECK(bad_device("\"minor\":3", "\"minor\":-3",
			 "linux.devices[0].minor: -3 out of range [0, 1048575]"));
	CHECK(bad_device("\"major\":1,", "\"major\":4096,",
			 "linux.devices[0].major: 4096 out of range [0, 4095]"));
	CHECK(bad_device("\"fileMode\":384", "\"fileMode\":\"0600\"",
			 "linux.devices[0].fileMode: must be an integer"));
	CHECK(bad_device("\"uid\":1000", "\"uid\":-1",
			 "linux.devices[0].uid: -1 out of range [0, 4294967294]"));
	CHECK(bad_device("\"devices\":[", "\"devices\":7,\"x\":[",
			 "linux.devices: must be an array"));
}

/* tmpcopyup is husk's to act on, not tmpfs data; the recursive options
 * become mount_setattr attributes as well as their plain flags. */
TEST(oci_config_tmpcopyup_and_recursive_options)
{
	static const char json[] =
		"{\"root\":{\"path\":\"rootfs\"},\"mounts\":["
		"{\"destination\":\"/etc\",\"type\":\"tmpfs\",\"options\":[\"tmpcopyup\",\"mode=755\"]},"
		"{\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"/s\","
		"\"options\":[\"rbind\",\"rro\",\"rnosuid\",\"rnoatime\"]},"
		"{\"destination\":\"/w\",\"type\":\"bind\",\"source\":\"/s\",\"options\":[\"rbind\",\"rrw\",\"ratime\"]}]}";
	husk_error_t err = NULL;
	struct oci_config *c = oci_config_parse(json, strlen(json), &err);

	CHECK(c);
	if (!c) {
		printf("# %s\n", err->msg);
		husk_error_release(&err);
		return;
	}
	CHECK(c->mounts[0].tmpcopyup);
	CHECK_STR(c->mounts[0].data, "mode=755");
	CHECK(!c->mounts[1].tmpcopyup);
	CHECK_INT(c->mounts[1].rec_attr_set,
		  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
	CHECK_INT(c->mounts[1].rec_attr_clr, MOUNT_ATTR__ATIME);
	CHECK(c->mounts[1].flags & MS_RDONLY);
	CHECK_INT(c->mounts[2].rec_attr_set, 0);
	CHECK_INT(c->mounts[2].rec_attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME);
	CHECK(!(c->mounts[2].flags & MS_RDONLY));
	oci_config_free(c);
}

/* The good config with the first FROM replaced by TO, parsed. */
static struct oci_config *parse_edited(const char *base, const char *from, const char *to,
				       husk_error_t *err)
{
	const char *at = strstr(base, from);
	if (!at) {
		printf("# no '%s' in the config\n", from);
		return NULL;
	}
	size_t n = strlen(base) - strlen(from) + strlen(to);
	char *json = malloc(n + 1);
	if (!json)
		return NULL;
	memcpy(json, base, (size_t)(at - base));
	strcpy(json + (at - base), to);
	strcat(json, at + strlen(from));
	struct oci_config *c = oci_config_parse(json, n, err);
	free(json);
	return c;
}

/* The good config without its two 18446744073709551615s (RLIMIT_CORE): a
 * literal beyond 64 bits is named by its field only when no other value
 * sits at the bound, see parse_json(). */
static char *good_finite(void)
{
	husk_error_t err = NULL;
	static const char inf[] = "\"soft\":18446744073709551615,\"hard\":18446744073709551615";
	const char *at = strstr(good, inf);
	char *s = malloc(sizeof(good));
	if (!at || !s)
		abort();
	memcpy(s, good, (size_t)(at - good));
	sprintf(s + (at - good), "\"soft\":1,\"hard\":2%s", at + strlen(inf));
	struct oci_config *c = oci_config_parse(s, strlen(s), &err);
	if (!c)
		abort();
	oci_config_free(c);
	return s;
}

/* Expects the edited BASE to fail with exactly WANT. */
static int bad_in(const char *base, const char *from, const char *to, const char *want)
{
	husk_error_t err = NULL;
	struct oci_config *c = parse_edited(base, from, to, &err);
	int ok = !c && err && strcmp(err->msg, want) == 0;
	if (!ok)
		printf("# '%s' -> '%s': want \"%s\", got \"%s\"\n", from, to, want,
		       c     ? "(parsed)"
		       : err ? err->msg
			     : "(nothing)");
	oci_config_free(c);
	husk_error_release(&err);
	return ok;
}

/* Every integer field the parser keeps, with what it keeps. */
static const struct int_field {
	bool dev; /* in with_devices, else in the good config */
	const char *from, *to, *to_end, *path;
	bool is_signed;
	int64_t min;
	uint64_t max; /* what the field promises to hold, when accepted */
	uint64_t (*get)(const struct oci_config *c);
} int_fields[];

#define GETTER(name, expr)                               \
	static uint64_t name(const struct oci_config *c) \
	{                                                \
		return (uint64_t)(expr);                 \
	}
GETTER(g_uid, c->process.uid)
GETTER(g_gid, c->process.gid)
GETTER(g_agid, c->process.additional_gids[1])
GETTER(g_umask, c->process.umask)
GETTER(g_height, c->process.console_height)
GETTER(g_width, c->process.console_width)
GETTER(g_nofile_soft, c->process.rlimits[0].soft)
GETTER(g_nofile_hard, c->process.rlimits[0].hard)
GETTER(g_oom, c->process.oom_score_adj)
GETTER(g_mem, c->resources.memory_limit)
GETTER(g_quota, c->resources.cpu_quota)
GETTER(g_period, c->resources.cpu_period)
GETTER(g_shares, c->resources.cpu_shares)
GETTER(g_pids, c->resources.pids_limit)
GETTER(g_errno, c->seccomp->default_errno)
GETTER(g_argval, c->seccomp->syscalls[1].args[0].value)
GETTER(g_argidx, c->seccomp->syscalls[1].args[0].index)
GETTER(g_dev_uid, c->devices[0].uid)
GETTER(g_dev_major, c->devices[0].major)
GETTER(g_dev_minor, c->devices[0].minor)
GETTER(g_dev_mode, c->devices[0].mode)

static const struct int_field int_fields[] = {
	{ false, "\"uid\":1000", "\"uid\":", "", "process.user.uid", false, 0, UINT32_MAX - 1,
	  g_uid },
	{ false, "\"gid\":1001", "\"gid\":", "", "process.user.gid", false, 0, UINT32_MAX - 1,
	  g_gid },
	{ false, "[10,20]", "[10,", "]", "process.user.additionalGids[1]", false, 0, UINT32_MAX - 1,
	  g_agid },
	{ false, "\"umask\":63", "\"umask\":", "", "process.user.umask", false, 0, 0777, g_umask },
	{ false, "\"height\":40", "\"height\":", "", "process.consoleSize", false, 0, 65535,
	  g_height },
	{ false, "\"width\":100", "\"width\":", "", "process.consoleSize", false, 0, 65535,
	  g_width },
	{ false, "\"soft\":1024", "\"soft\":", "", "process.rlimits[0]", false, 0, 4096,
	  g_nofile_soft },
	{ false, "\"hard\":4096", "\"hard\":", "", "process.rlimits[0]", false, 1024, UINT64_MAX,
	  g_nofile_hard },
	{ false, "\"oomScoreAdj\":-500", "\"oomScoreAdj\":", "", "process.oomScoreAdj", true, -1000,
	  1000, g_oom },
	{ false, "\"limit\":67108864", "\"limit\":", "", "linux.resources.memory.limit", true, -1,
	  INT64_MAX, g_mem },
	{ false, "\"quota\":50000", "\"quota\":", "", "linux.resources.cpu.quota", true, -1,
	  INT64_MAX, g_quota },
	{ false, "\"period\":100000", "\"period\":", "", "linux.resources.cpu.period", false, 0,
	  UINT64_MAX, g_period },
	{ false, "\"shares\":512", "\"shares\":", "", "linux.resources.cpu.shares", false, 0,
	  UINT64_MAX, g_shares },
	{ false, "\"limit\":64", "\"limit\":", "", "linux.resources.pids.limit", true, INT64_MIN,
	  INT64_MAX, g_pids },
	{ false, "\"defaultErrnoRet\":38", "\"defaultErrnoRet\":", "",
	  "linux.seccomp.defaultErrnoRet", false, 0, 65535, g_errno },
	{ false, "\"value\":8", "\"value\":", "", "linux.seccomp.syscalls[1].args[0].value", false,
	  0, UINT64_MAX, g_argval },
	{ false, "\"index\":0", "\"index\":", "", "linux.seccomp.syscalls[1].args[0].index", false,
	  0, 5, g_argidx },
	{ true, "\"uid\":1000", "\"uid\":", "", "linux.devices[0].uid", false, 0, UINT32_MAX - 1,
	  g_dev_uid },
	{ true, "\"major\":1", "\"major\":", "", "linux.devices[0].major", false, 0, 0xfff,
	  g_dev_major },
	{ true, "\"minor\":3", "\"minor\":", "", "linux.devices[0].minor", false, 0, 0xfffff,
	  g_dev_minor },
	{ true, "\"fileMode\":384", "\"fileMode\":", "", "linux.devices[0].fileMode", false, 0,
	  07777, g_dev_mode },
};

/* Each integer field at and beyond its limits, and given what is not an
 * integer: either an error that starts with the field's path, or the very
 * number written, inside the range the field promises. Never a value that
 * wrapped or saturated on its way in. */
TEST(oci_config_integer_fields_at_their_limits)
{
	static const char *const values[] = {
		"-1",
		"0",
		"1",
		"-1000",
		"1000",
		"-1001",
		"1001",
		"65535",
		"65536",
		"4095",
		"4096",
		"1048575",
		"1048576",
		"2147483647",
		"2147483648",
		"4294967294",
		"4294967295",
		"4294967296",
		"9223372036854775807",
		"9223372036854775808",
		"-9223372036854775808",
		"-9223372036854775809",
		"18446744073709551615",
		"18446744073709551616",
		"99999999999999999999999999",
		"-99999999999999999999999999",
		"00012",
		"-0",
		"1.0",
		"1.5",
		"1e3",
		"-1e999",
		"1e999",
		"\"5\"",
		"true",
		"[]",
		"{}",
	};
	char to[128], *base = good_finite();

	for (size_t f = 0; f < sizeof(int_fields) / sizeof(int_fields[0]); f++) {
		const struct int_field *x = &int_fields[f];
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			husk_error_t err = NULL;
			snprintf(to, sizeof(to), "%s%s%s", x->to, values[v], x->to_end);
			struct oci_config *c =
				parse_edited(x->dev ? with_devices : base, x->from, to, &err);
			if (!c) {
				if (!err)
					free(base);
				CHECK(err);
				bool named = strncmp(err->msg, x->path, strlen(x->path)) == 0;
				if (!named) {
					printf("# %s = %s: \"%s\"\n", x->path, values[v], err->msg);
					free(base);
				}
				husk_error_release(&err);
				CHECK(named);
				husk_error_release(&err);
				continue;
			}
			/* Accepted: it must be an integer literal, read exactly. */
			const char *s = values[v];
			char *end;
			errno = 0;
			uint64_t got = x->get(c);
			bool ok;
			if (x->is_signed) {
				long long want = strtoll(s, &end, 10);
				ok = !errno && !*end && (int64_t)got == want && want >= x->min &&
				     want <= (int64_t)x->max;
			} else {
				unsigned long long want = strtoull(s, &end, 10);
				ok = !errno && !*end && (s[0] != '-' || !want) && got == want &&
				     want <= x->max && want >= (uint64_t)x->min;
			}
			if (!ok)
				printf("# %s = %s: accepted as %llu\n", x->path, s,
				       (unsigned long long)got);
			oci_config_free(c);
			if (!ok)
				free(base);
			CHECK(ok);
		}
	}
	free(base);
}

/* json-c reads 18446744073709551616 as 18446744073709551615 and
 * -9223372036854775809 as INT64_MIN without a word. */
TEST(oci_config_refuses_integers_beyond_64_bits)
{
	char *base = good_finite();
	bool ok =
		bad_in(base, "\"soft\":1024", "\"soft\":18446744073709551616",
		       "process.rlimits[0].soft: larger than 18446744073709551615") &&
		bad_in(base, "\"value\":8", "\"value\":99999999999999999999999",
		       "linux.seccomp.syscalls[1].args[0].value: larger than 18446744073709551615") &&
		bad_in(base, "\"limit\":64", "\"limit\":-9223372036854775809",
		       "linux.resources.pids.limit: out of range [-9223372036854775808, 9223372036854775807]") &&
		bad_in(base, "\"period\":100000", "\"period\":18446744073709551616",
		       "linux.resources.cpu.period: larger than 18446744073709551615") &&
		bad_in(base, "\"limit\":67108864", "\"limit\":18446744073709551616",
		       "linux.resources.memory.limit: out of range [-1, 9223372036854775807]");
	free(base);
	CHECK(ok);
	/* The good config holds 18446744073709551615 (RLIMIT_CORE): with a
	 * literal beyond it too, which of them was written as such is lost. */
	CHECK(bad("\"shares\":512", "\"shares\":18446744073709551616",
		  "config.json: invalid JSON: integer at byte 1242 out of range "
		  "[-9223372036854775808, 18446744073709551615]"));
	/* Beyond, but in a field husk ignores: as runc, no error. */
	husk_error_t err = NULL;
	struct oci_config *c = parse_edited(
		with_devices, "\"root\"",
		"\"x\":[1e999,99999999999999999999,-99999999999999999999],\"root\"", &err);
	CHECK(c);
	oci_config_free(c);
	/* Exactly at the bounds is fine; digits in strings are no numbers. */
	c = parse_edited(good, "\"limit\":64", "\"limit\":-9223372036854775808", &err);
	CHECK(c);
	CHECK(c->resources.pids_limit == INT64_MIN);
	CHECK(c->process.rlimits[1].soft == UINT64_MAX);
	oci_config_free(c);
	c = parse_edited(good, "\"hostname\":\"h\"", "\"hostname\":\"99999999999999999999\"", &err);
	CHECK(c);
	oci_config_free(c);
}

/* (uid_t)-1 is "unchanged" to chown() and setresuid(). */
TEST(oci_config_refuses_uid_minus_one)
{
	CHECK(bad("\"uid\":1000", "\"uid\":4294967295",
		  "process.user.uid: 4294967295 out of range [0, 4294967294]"));
	CHECK(bad("[10,20]", "[4294967295]",
		  "process.user.additionalGids[0]: 4294967295 out of range [0, 4294967294]"));
	CHECK(bad_device("\"gid\":5", "\"gid\":4294967295",
			 "linux.devices[0].gid: 4294967295 out of range [0, 4294967294]"));
}

/* SCMP_ACT_ERRNO() keeps 16 bits: 65536 would be errno 0, a "success". */
TEST(oci_config_refuses_errno_ret_that_wraps)
{
	CHECK(bad("\"defaultErrnoRet\":38", "\"defaultErrnoRet\":65536",
		  "linux.seccomp.defaultErrnoRet: 65536 out of range [0, 65535]"));
	CHECK(bad("\"action\":\"SCMP_ACT_ALLOW\"}",
		  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":4294967295}",
		  "linux.seccomp.syscalls[0].errnoRet: 4294967295 out of range [0, 65535]"));
}

/* Nesting ends at OCI_JSON_MAX_DEPTH, wherever it is, before json-c (or its
 * recursive free) goes deeper; the error names config.json. */
TEST(oci_config_refuses_deep_nesting)
{
	static const char *const where[] = { "\"annotations\":{\"a\":", "\"unknown\":",
					     "\"process\":{\"env\":" };
	size_t depth = 100000;
	char *json = malloc(2 * depth + 256);
	CHECK(json);
	for (size_t w = 0; w < 3; w++) {
		for (size_t d = depth; d >= 2; d /= 10) {
			husk_error_t err = NULL;
			int n = sprintf(json, "{\"root\":{\"path\":\"r\"},%s", where[w]);
			memset(json + n, '[', d);
			memset(json + n + d, ']', d);
			size_t len = (size_t)n + 2 * d;
			len += (size_t)sprintf(json + len, "%s}", w == 1 ? "" : "}");
			struct oci_config *c = oci_config_parse(json, len, &err);
			if (d + 1 + (w != 1) > OCI_JSON_MAX_DEPTH) {
				CHECK(!c);
				CHECK(strncmp(err->msg,
					      "config.json: invalid JSON: nested deeper than 32 levels",
					      55) == 0);
			} else {
				/* Shallow enough: parsed, and refused or not by type. */
				CHECK(c || strncmp(err->msg,
						   w == 1   ? ""
						   : w == 0 ? "annotations.a"
							    : "process.env",
						   5) == 0);
			}
			oci_config_free(c);
			husk_error_release(&err);
		}
	}
	free(json);
}

/* A config of OCI_CONFIG_MAX bytes or more is refused by the parser itself
 * (husk-init parses what the host sends), and by oci_config_read() from
 * its size alone: a sparse file of a TiB costs no time, a FIFO no wait. */
TEST(oci_config_refuses_16_mib)
{
	husk_error_t err = NULL;
	size_t n = OCI_CONFIG_MAX;
	char *json = malloc(n);
	CHECK(json);
	static const char head[] = "{\"root\":{\"path\":\"r\"},\"annotations\":{\"a\":\"";
	memcpy(json, head, sizeof(head) - 1);
	memset(json + sizeof(head) - 1, 'x', n - sizeof(head) - 2);
	memcpy(json + n - 3, "\"}}", 3);
	struct oci_config *c = oci_config_parse(json, n, &err);
	CHECK(!c);
	CHECK_STR(err->msg, "config.json: 16777216 bytes, too large (the limit is 16 MiB)");
	husk_error_release(&err);
	/* One byte less, parsed. */
	json[n - 4] = '"';
	json[n - 3] = '}';
	json[n - 2] = '}';
	c = oci_config_parse(json, n - 1, &err);
	free(json);
	CHECK(c);
	CHECK_INT(strlen(oci_config_annotation(c, "a")), n - sizeof(head) - 3);
	oci_config_free(c);

	char dir[] = "/tmp/husk-config-XXXXXX", path[64];
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	int r = ftruncate(fd, 1LL << 40);
	close(fd);
	size_t len;
	char *text = r == 0 ? oci_config_read(path, &len, &err) : NULL;
	CHECK(!text && err);
	char want[160];
	snprintf(want, sizeof(want), "%s: 1099511627776 bytes, too large (the limit is 16 MiB)",
		 path);
	CHECK_STR(err->msg, want);
	husk_error_release(&err);
	CHECK(truncate(path, OCI_CONFIG_MAX) == 0);
	CHECK(!oci_config_read(path, &len, &err));
	husk_error_release(&err);
	CHECK(!oci_config_load(path, &err));
	CHECK(strstr(err->msg, "too large (the limit is 16 MiB)"));
	husk_error_release(&err);
	unlink(path);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(!oci_config_read(path, &len, &err));
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	CHECK_STR(err->msg, want);
	husk_error_release(&err);
	unlink(path);
	rmdir(dir);
}

/* Found by fuzz_config: the early return for a mount without "options"
 * skipped working out bind, so {"type":"bind"} alone was no bind mount:
 * no host share for it, and the guest asked mount(2) for a "bind" fs. */
TEST(oci_config_bind_mount_without_options)
{
	static const char json[] =
		"{\"root\":{\"path\":\"r\"},\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
		"\"source\":\"/y\"},{\"destination\":\"/t\",\"type\":\"tmpfs\"}]}";
	husk_error_t err = NULL;
	struct oci_config *c = oci_config_parse(json, strlen(json), &err);

	CHECK(c);
	CHECK(c->mounts[0].bind);
	CHECK(!c->mounts[0].recursive);
	CHECK(!c->mounts[1].bind);
	oci_config_free(c);
}

/* strchr() finds the terminator too: NUL bytes after the object passed as
 * whitespace. */
TEST(oci_config_refuses_trailing_nul_bytes)
{
	static const char json[] = "{\"root\":{\"path\":\"r\"}} \0\0";
	husk_error_t err = NULL;

	CHECK(!oci_config_parse(json, sizeof(json) - 1, &err));
	CHECK_STR(err->msg, "config.json: invalid JSON: trailing data at byte 22");
	husk_error_release(&err);
	struct oci_config *c = oci_config_parse(json, sizeof(json) - 3, &err);
	CHECK(c);
	oci_config_free(c);
}

/* json-c spends ~800 bytes on an empty object: 16 MiB of "{}," cost 4 GiB
 * and a minute of parsing before the count was checked from the text. */
static struct oci_config *parse_many(const char *item, size_t n, husk_error_t *err)
{
	static const char head[] = "{\"root\":{\"path\":\"r\"},\"x\":[";
	size_t il = strlen(item), len = sizeof(head) - 1 + n * (il + 1) + 2;
	char *json = malloc(len + 1), *p = json;
	if (!json)
		return NULL;
	p = stpcpy(p, head);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, item, il);
		p += il;
		*p++ = ',';
	}
	if (n)
		p--;
	p = stpcpy(p, "]}");
	struct oci_config *c = oci_config_parse(json, (size_t)(p - json), err);
	free(json);
	return c;
}

TEST(oci_config_refuses_too_many_values)
{
	husk_error_t err = NULL;
	/* The config object, root and x take three. */
	struct oci_config *c = parse_many("{}", OCI_JSON_MAX_CONTAINERS - 3, &err);
	CHECK(c);
	oci_config_free(c);
	CHECK(!parse_many("{}", OCI_JSON_MAX_CONTAINERS - 2, &err));
	CHECK_STR(err->msg, "config.json: more than 65536 objects and arrays (the limit)");
	husk_error_release(&err);
	CHECK(!parse_many("[]", 5000000, &err));
	CHECK_STR(err->msg, "config.json: more than 65536 objects and arrays (the limit)");
	husk_error_release(&err);
	/* A comma in a string is no separator. */
	c = parse_many("\",,,,,,,,\"", OCI_JSON_MAX_VALUES - 8, &err);
	CHECK(c);
	oci_config_free(c);
	CHECK(!parse_many("0", OCI_JSON_MAX_VALUES, &err));
	CHECK_STR(err->msg, "config.json: more than 1048576 values (the limit)");
	husk_error_release(&err);
	CHECK(!parse_many("\"\"", 5000000, &err));
	CHECK_STR(err->msg, "config.json: more than 1048576 values (the limit)");
	husk_error_release(&err);
}
