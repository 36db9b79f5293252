/* oci/config.c: a full config parses into the model; every kind of bad
 * value is refused with its JSON path. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

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
	CHECK(bad("\"uid\":1000", "\"uid\":-1", "process.user.uid: -1 out of range [0, 4294967295]"));
	CHECK(bad("\"uid\":1000", "\"uid\":\"1000\"", "process.user.uid: must be an integer"));
	CHECK(bad("\"uid\":1000", "\"uid\":1.5", "process.user.uid: must be an integer"));
	CHECK(bad("[10,20]", "[10,\"x\"]", "process.user.additionalGids[1]: must be an integer"));
	CHECK(bad("\"umask\":63", "\"umask\":4096", "process.user.umask: 4096 is not a mode"));
	CHECK(bad("\"A=b=c\"", "\"novalue\"", "process.env[1]: \"novalue\" is not NAME=VALUE"));
	CHECK(bad("\"cwd\":\"/work\"", "\"cwd\":\"work\"", "process.cwd: must be an absolute path"));
	CHECK(bad("\"effective\":[\"CAP_KILL\"]", "\"effective\":[\"CAP_KILLER\"]",
		  "process.capabilities.effective[0]: unknown capability \"CAP_KILLER\""));
	CHECK(bad("\"RLIMIT_CORE\"", "\"RLIMIT_NOFILE\"",
		  "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""));
	CHECK(bad("\"soft\":1024", "\"soft\":5000", "process.rlimits[0]: soft limit above the hard limit"));
	CHECK(bad("\"soft\":1024", "\"soft\":-1", "process.rlimits[0].soft: must not be negative"));
	CHECK(bad("\"oomScoreAdj\":-500", "\"oomScoreAdj\":-1001",
		  "process.oomScoreAdj: -1001 out of range [-1000, 1000]"));
	CHECK(bad("\"height\":40", "\"height\":true", "process.consoleSize.height: must be an integer"));
	CHECK(bad("\"root\":", "\"rooot\":", "root: required"));
	CHECK(bad("\"readonly\":true", "\"readonly\":\"yes\"", "root.readonly: must be a boolean"));
	CHECK(bad("\"hostname\":\"h\"", "\"hostname\":[]", "hostname: must be a string"));
	CHECK(bad("\"destination\":\"/proc\"", "\"destination\":\"proc\"",
		  "mounts[0].destination: must be an absolute path"));
	CHECK(bad("\"nosuid\",\"noexec\"", "\"nosuid\",7", "mounts[1].options[1]: must be a string"));
	CHECK(bad("{\"type\":\"pid\"}", "{\"type\":\"pids\"}",
		  "linux.namespaces[0].type: unknown namespace \"pids\""));
	CHECK(bad("{\"type\":\"mount\"}", "{\"type\":\"pid\"}",
		  "linux.namespaces[2].type: duplicate namespace \"pid\""));
	CHECK(bad("ip_forward\":\"1\"", "ip_forward\":1",
		  "linux.sysctl.net.ipv4.ip_forward: must be a string"));
	CHECK(bad("[\"/proc/kcore\"]", "[\"/proc/kcore\",null]", "linux.maskedPaths[1]: must be a string"));
	CHECK(bad("\"limit\":67108864", "\"limit\":\"64m\"", "linux.resources.memory.limit: must be an integer"));
	CHECK(bad("\"SCMP_ACT_ERRNO\"", "\"SCMP_ACT_NOPE\"",
		  "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""));
	CHECK(bad("\"SCMP_ARCH_X86\"]", "\"SCMP_ARCH_ARM\"]",
		  "linux.seccomp.architectures[1]: unsupported architecture \"SCMP_ARCH_ARM\""));
	CHECK(bad("\"op\":\"SCMP_CMP_EQ\"", "\"op\":\"EQ\"",
		  "linux.seccomp.syscalls[1].args[0].op: unknown operator \"EQ\""));
	CHECK(bad("\"index\":0", "\"index\":6",
		  "linux.seccomp.syscalls[1].args[0].index: 6 is not an argument index (0-5)"));
	CHECK(bad("[\"read\",\"write\"]", "[\"read\",{}]", "linux.seccomp.syscalls[0].names[1]: must be a string"));
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
	CHECK(bad_device("\"type\":\"c\"", "\"type\":3", "linux.devices[0].type: must be a string"));
	CHECK(bad_device("\"major\":8,", "", "linux.devices[1].major: required for a type b device"));
	CHECK(bad_device("\"minor\":3", "\"minor\":-3",
			 "linux.devices[0].minor: -3 out of range [0, 1048575]"));
	CHECK(bad_device("\"major\":1,", "\"major\":4096,",
			 "linux.devices[0].major: 4096 out of range [0, 4095]"));
	CHECK(bad_device("\"fileMode\":384", "\"fileMode\":\"0600\"",
			 "linux.devices[0].fileMode: must be an integer"));
	CHECK(bad_device("\"uid\":1000", "\"uid\":-1",
			 "linux.devices[0].uid: -1 out of range [0, 4294967295]"));
	CHECK(bad_device("\"devices\":[", "\"devices\":7,\"x\":[", "linux.devices: must be an array"));
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
	CHECK_INT(c->mounts[1].rec_attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME);
	CHECK_INT(c->mounts[1].rec_attr_clr, MOUNT_ATTR__ATIME);
	CHECK(c->mounts[1].flags & MS_RDONLY);
	CHECK_INT(c->mounts[2].rec_attr_set, 0);
	CHECK_INT(c->mounts[2].rec_attr_clr, MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME);
	CHECK(!(c->mounts[2].flags & MS_RDONLY));
	oci_config_free(c);
}
