/* The runtime's pure pieces: state records, ids, signal names, VM sizing,
 * exec's process.json, hooks and annotations in config.json, and the state
 * store on a scratch --root. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/exec_process.h"
#include "oci/state.h"
#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "base/fileio.h"
#include "runtime/lifecycle.h"
#include "runtime/container.h"
#include "vmm/x86_boot.h"
#include "tests/unit/tap.h"

#define BASE "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"

static struct oci_config *parse(const char *json, husk_error_t *err)
{
	return oci_config_parse(json, strlen(json), err);
}

TEST(state_record_round_trip)
{
	struct oci_kv ann[] = { { "a", "1" }, { "husk.cpus", "2" } };
	struct oci_state_record r = { .id = "c1",
				      .pid = 42,
				      .pid_start = 123456789ull,
				      .bundle = "/b",
				      .rootfs = "/b/rootfs",
				      .created = "2026-11-21T00:00:00.000000001Z",
				      .owner = 0,
				      .started = true,
				      .cgroup_path = "/husk/c1",
				      .annotations = ann,
				      .nannotations = 2 };
	char *json = oci_state_record_to_json(&r);
	husk_error_t err = NULL;
	CHECK(json);
	struct oci_state_record *back =
		oci_state_record_parse(json, strlen(json), "state.json", &err);
	free(json);
	CHECK(back);
	CHECK_STR(back->id, "c1");
	CHECK_INT(back->pid, 42);
	CHECK_INT(back->pid_start, 123456789ull);
	CHECK_STR(back->cgroup_path, "/husk/c1");
	CHECK(back->started);
	CHECK_INT(back->nannotations, 2);
	char *state = oci_state_to_json(back, "running", 42, false);
	CHECK(state);
	CHECK(strstr(state, "\"status\":\"running\""));
	CHECK(strstr(state, "\"pid\":42"));
	CHECK(strstr(state, "\"annotations\":{\"a\":\"1\""));
	free(state);
	oci_state_record_free(back);
}

/* Records from before cgroup_created existed still load, and keep the
 * behaviour their containers were created with: delete removes the
 * cgroup. */
TEST(state_record_without_cgroup_created_is_husks_cgroup)
{
	husk_error_t err cleanup_error = NULL;
	const char *old = "{\"id\":\"x\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"created\":\"t\","
			  "\"cgroup_path\":\"/husk/x\",\"pid\":7,\"pid_start\":1,\"owner\":0,"
			  "\"started\":false,\"annotations\":{}}";
	struct oci_state_record *r = oci_state_record_parse(old, strlen(old), "s", &err);
	CHECK(r);
	CHECK(r->cgroup_created);
	r->cgroup_created = false;
	char *json = oci_state_record_to_json(r);
	oci_state_record_free(r);
	CHECK(json);
	r = oci_state_record_parse(json, strlen(json), "s", &err);
	free(json);
	CHECK(r);
	CHECK(!r->cgroup_created);
	oci_state_record_free(r);
	const char *bad = "{\"id\":\"x\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"created\":\"t\","
			  "\"cgroup_path\":\"\",\"pid\":7,\"pid_start\":1,\"owner\":0,"
			  "\"started\":false,\"cgroup_created\":\"no\",\"annotations\":{}}";
	CHECK(!oci_state_record_parse(bad, strlen(bad), "s", &err));
	CHECK(err && strstr(err->msg, "cgroup_created"));
}

TEST(state_record_rejects_tampering)
{
	husk_error_t err = NULL;
	const char *bad[] = { "", "[]", "{\"id\":1}",
			      "{\"id\":\"x\",\"bundle\":\"/b\",\"rootfs\":\"/r\",\"created\":\"t\","
			      "\"cgroup_path\":\"\",\"pid\":-1,\"pid_start\":1,\"owner\":0,"
			      "\"started\":false,\"annotations\":{}}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct oci_state_record *r =
			oci_state_record_parse(bad[i], strlen(bad[i]), "s", &err);
		CHECK(!r);
		CHECK(err && strstr(err->msg, "s: "));
		husk_error_release(&err);
	}
}

TEST(container_ids_follow_runc)
{
	husk_error_t err = NULL;
	const char *good[] = { "a", "abc-1.2_3+x", "0123456789abcdef" };
	const char *bad[] = { ".", "..", "a/b", "a b", "../x", "é" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK_INT(container_validate_id(good[i], &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(container_validate_id(bad[i], &err), -1);
		CHECK_STR(err->msg, "invalid container ID format");
		husk_error_release(&err);
	}
	CHECK_INT(container_validate_id("", &err), -1);
	CHECK_STR(err->msg, "container id cannot be empty");
	husk_error_release(&err);
}

TEST(signal_names_follow_runc)
{
	husk_error_t err = NULL;
	int sig = 0;
	CHECK_INT(lifecycle_parse_signal("9", &sig, &err), 0);
	CHECK_INT(sig, SIGKILL);
	CHECK_INT(lifecycle_parse_signal("KILL", &sig, &err), 0);
	CHECK_INT(sig, SIGKILL);
	CHECK_INT(lifecycle_parse_signal("sigterm", &sig, &err), 0);
	CHECK_INT(sig, SIGTERM);
	CHECK_INT(lifecycle_parse_signal("USR1", &sig, &err), 0);
	CHECK_INT(sig, SIGUSR1);
	CHECK_INT(lifecycle_parse_signal("FOO", &sig, &err), -1);
	husk_error_release(&err);
	CHECK_INT(lifecycle_parse_signal("0", &sig, &err), -1);
	husk_error_release(&err);
	CHECK_INT(lifecycle_parse_signal("9x", &sig, &err), -1);
	husk_error_release(&err);
}

TEST(vm_size_from_resources_and_annotations)
{
	husk_error_t err = NULL;
	int cpus;
	unsigned long mem;
	struct oci_config *c = parse(BASE
				     "\"linux\":{\"resources\":{\"memory\":{\"limit\":536870912},"
				     "\"cpu\":{\"quota\":150000,\"period\":100000}}}}",
				     &err);
	CHECK(c);
	CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), 0);
	CHECK_INT(mem, 512 - HUSK_VMM_OVERHEAD_MIB);
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK_INT(cpus, host >= 2 ? 2 : host);
	oci_config_free(c);

	c = parse(BASE "\"annotations\":{\"husk.cpus\":\"1\",\"husk.memory_mib\":\"128\"}}", &err);
	CHECK(c);
	CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), 0);
	CHECK_INT(cpus, 1);
	CHECK_INT(mem, 128);
	oci_config_free(c);

	c = parse(BASE "\"linux\":{\"resources\":{\"memory\":{\"limit\":6291456}}}}", &err);
	CHECK(c);
	CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), -1);
	CHECK(strstr(err->msg, "linux.resources.memory.limit"));
	husk_error_release(&err);
	oci_config_free(c);

	c = parse(BASE "\"annotations\":{\"husk.memory_mib\":\"lots\"}}", &err);
	CHECK(c);
	CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), -1);
	CHECK(strstr(err->msg, "annotations.husk.memory_mib"));
	husk_error_release(&err);
	oci_config_free(c);
}

/* vm_size_cpus SPEC_CPU: the vCPU count for linux.resources.cpu = SPEC_CPU,
 * or -1 when the spec or the sizing is refused. */
static int vm_size_cpus(const char *cpu_json)
{
	char json[1024];
	husk_error_t err cleanup_error = NULL;
	int cpus;
	unsigned long mem;

	snprintf(json, sizeof(json), BASE "\"linux\":{\"resources\":{\"cpu\":%s}}}", cpu_json);
	struct oci_config *c = parse(json, &err);
	if (!c)
		return -1;
	int ret = lifecycle_vm_size(c, &cpus, &mem, &err);
	oci_config_free(c);
	return ret < 0 ? -1 : cpus;
}

TEST(vm_size_vcpus_are_the_fewest_of_quota_and_cpuset)
{
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	int host2 = host >= 2 ? 2 : (int)host;

	CHECK_INT(vm_size_cpus("{}"), HUSK_DEFAULT_CPUS);
	/* cpuset alone: its size, bounded by the host. */
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0\"}"), 1);
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0-1\"}"), host2);
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0,0-1,1\"}"), host2);
	/* Both: the smaller wins, whichever it is. */
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0\",\"quota\":200000,\"period\":100000}"), 1);
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0-7\",\"quota\":100000,\"period\":100000}"), 1);
	CHECK_INT(vm_size_cpus("{\"cpus\":\"0-7\",\"quota\":150000,\"period\":100000}"), host2);
	/* An empty list is runc's "not set"; mems do not size the VM. */
	CHECK_INT(vm_size_cpus("{\"cpus\":\"\",\"mems\":\"0\"}"), HUSK_DEFAULT_CPUS);

	/* The annotation still wins over the cpuset. */
	husk_error_t err cleanup_error = NULL;
	int cpus;
	unsigned long mem;
	struct oci_config *c = parse(BASE "\"linux\":{\"resources\":{\"cpu\":{\"cpus\":\"0\"}}},"
					  "\"annotations\":{\"husk.cpus\":\"2\"}}",
				     &err);
	CHECK(c);
	if (host >= 2) {
		CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), 0);
		CHECK_INT(cpus, 2);
	}
	oci_config_free(c);
}

/* Values at the limits the spec's types allow: quota + period - 1 wrapped
 * to give 0 vCPUs, and a memory limit of INT64_MAX asked for 8 EiB/1 MiB
 * of guest RAM. */
TEST(vm_size_at_the_limits_of_the_spec_types)
{
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	int most = host < 1 ? 1 : host > MAX_VCPUS ? MAX_VCPUS : (int)host;

	CHECK_INT(vm_size_cpus("{\"quota\":9223372036854775807,\"period\":18446744073709551615}"),
		  1);
	CHECK_INT(vm_size_cpus("{\"quota\":9223372036854775807,\"period\":1}"), most);
	CHECK_INT(vm_size_cpus("{\"quota\":1,\"period\":18446744073709551615}"), 1);
	CHECK_INT(vm_size_cpus("{\"quota\":9223372036854775807}"), most);

	husk_error_t err cleanup_error = NULL;
	int cpus;
	unsigned long mem = 0;
	struct oci_config *c = parse(BASE "\"linux\":{\"resources\":{\"memory\":"
					  "{\"limit\":9223372036854775807}}}}",
				     &err);
	CHECK(c);
	int rc = lifecycle_vm_size(c, &cpus, &mem, &err);
	oci_config_free(c);
	CHECK_INT(rc, 0);
	unsigned long host_mib = (unsigned long)sysconf(_SC_PHYS_PAGES) /
				 ((1ul << 20) / (unsigned long)sysconf(_SC_PAGESIZE));
	printf("# limit INT64_MAX: %lu MiB of guest RAM (host %lu MiB)\n", mem, host_mib);
	CHECK(mem >= HUSK_MIN_GUEST_MIB);
	CHECK(mem <= host_mib);
}

TEST(cpuset_lists_are_checked_naming_the_field)
{
	static const struct {
		const char *cpu, *msg;
	} bad[] = {
		{ "{\"cpus\":\"0-\"}", "linux.resources.cpu.cpus: \"0-\" is not a cpuset list" },
		{ "{\"cpus\":\"a\"}", "linux.resources.cpu.cpus: \"a\" is not a cpuset list" },
		{ "{\"cpus\":\"0, 1\"}",
		  "linux.resources.cpu.cpus: \"0, 1\" is not a cpuset list" },
		{ "{\"cpus\":\"1,\"}", "linux.resources.cpu.cpus: \"1,\" is not a cpuset list" },
		{ "{\"cpus\":\"3-1\"}",
		  "linux.resources.cpu.cpus: \"3-1\": range 3-1 runs backwards" },
		{ "{\"cpus\":\"99999\"}",
		  "linux.resources.cpu.cpus: \"99999\": ids go up to 8191" },
		{ "{\"cpus\":3}", "linux.resources.cpu.cpus: must be a string" },
		{ "{\"mems\":\"0-1-2\"}",
		  "linux.resources.cpu.mems: \"0-1-2\" is not a cpuset list" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[1024];
		husk_error_t err cleanup_error = NULL;
		snprintf(json, sizeof(json), BASE "\"linux\":{\"resources\":{\"cpu\":%s}}}",
			 bad[i].cpu);
		struct oci_config *c = parse(json, &err);
		CHECK(!c);
		CHECK(err && strstr(err->msg, bad[i].msg));
		if (err && !strstr(err->msg, bad[i].msg))
			printf("# got: %s\n", err->msg);
		oci_config_free(c);
	}

	/* update -r takes the same syntax, under "resources". */
	struct oci_resources r;
	husk_error_t err cleanup_error = NULL;
	const char *ok = "{\"cpu\":{\"cpus\":\"0-2,5\",\"mems\":\"0\"}}";
	CHECK_INT(oci_resources_parse(ok, strlen(ok), &r, &err), 0);
	CHECK(r.has_cpuset_cpus && r.has_cpuset_mems);
	CHECK_STR(r.cpuset_cpus, "0-2,5");
	CHECK_STR(r.cpuset_mems, "0");
	CHECK_INT(r.cpuset_ncpus, 4);
	const char *bad_update = "{\"cpu\":{\"cpus\":\"x\"}}";
	CHECK_INT(oci_resources_parse(bad_update, strlen(bad_update), &r, &err), -1);
	CHECK(err && strstr(err->msg, "resources.cpu.cpus: \"x\""));
}

TEST(config_hooks_and_annotations)
{
	husk_error_t err = NULL;
	struct oci_config *c = parse(
		BASE "\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\","
		     "\"args\":[\"true\",\"x\"],\"timeout\":5}],\"poststop\":[{\"path\":\"/p\"}]},"
		     "\"annotations\":{\"k\":\"v\"},\"linux\":{\"cgroupsPath\":\"/a/b\"}}",
		&err);
	CHECK(c);
	CHECK_INT(c->nhooks[OCI_HOOK_PRESTART], 1);
	CHECK_STR(c->hooks[OCI_HOOK_PRESTART][0].args[1], "x");
	CHECK_INT(c->hooks[OCI_HOOK_PRESTART][0].timeout, 5);
	CHECK_INT(c->nhooks[OCI_HOOK_POSTSTOP], 1);
	CHECK_STR(oci_config_annotation(c, "k"), "v");
	CHECK(!oci_config_annotation(c, "nope"));
	CHECK_STR(c->cgroups_path, "/a/b");
	oci_config_free(c);

	c = parse(BASE "\"hooks\":{\"poststart\":[{\"path\":\"relative\"}]}}", &err);
	CHECK(!c);
	CHECK_STR(err->msg, "hooks.poststart[0].path: must be an absolute path");
	husk_error_release(&err);
	c = parse(BASE "\"hooks\":{\"prestart\":[{\"args\":[]}]}}", &err);
	CHECK(!c);
	CHECK_STR(err->msg, "hooks.prestart[0].path: required");
	husk_error_release(&err);
}

TEST(exec_process_from_config)
{
	husk_error_t err = NULL;
	const char *config = BASE
		"\"process\":{\"args\":[\"sh\"],\"cwd\":\"/srv\",\"env\":[\"PATH=/bin\","
		"\"A=1\"],\"user\":{\"uid\":5,\"gid\":6}}}";
	char *const args[] = { "echo", "hi", NULL };
	const char *env[] = { "A=2", "B=3" };
	struct oci_exec_overrides o = { .args = args, .env = env, .nenv = 2 };
	char *json = oci_exec_process_json(config, strlen(config), &o, &err);
	CHECK(json);
	struct oci_process *p = oci_process_parse(json, strlen(json), &err);
	free(json);
	CHECK(p);
	CHECK_STR(p->args[0], "echo");
	CHECK_STR(p->cwd, "/srv");
	CHECK_INT(p->uid, 5);
	CHECK_INT(p->nenv, 3);
	CHECK_STR(p->env[0], "PATH=/bin");
	CHECK_STR(p->env[1], "A=2");
	CHECK_STR(p->env[2], "B=3");
	oci_process_free(p);

	o = (struct oci_exec_overrides){ .args = args,
					 .cwd = "/tmp",
					 .has_user = true,
					 .uid = 1000,
					 .gid = 1000,
					 .terminal = true };
	json = oci_exec_process_json(config, strlen(config), &o, &err);
	CHECK(json);
	p = oci_process_parse(json, strlen(json), &err);
	free(json);
	CHECK(p);
	CHECK_STR(p->cwd, "/tmp");
	CHECK_INT(p->uid, 1000);
	CHECK(p->terminal);
	oci_process_free(p);

	json = oci_exec_process_json("{", 1, &o, &err);
	CHECK(!json);
	husk_error_release(&err);
}

TEST(state_store_create_load_remove)
{
	char root[] = "/tmp/husk-unit-root.XXXXXX";
	husk_error_t err = NULL;
	struct container *c, *c2;
	CHECK(mkdtemp(root));
	CHECK_INT(container_new(root, "c1", &c, &err), 0);
	CHECK_INT(container_new(root, "c1", &c2, &err), -1);
	CHECK_STR(err->msg, "container with given ID already exists");
	husk_error_release(&err);
	c->rec = calloc(1, sizeof(*c->rec));
	c->rec->id = strdup("c1");
	c->rec->bundle = strdup("/b");
	c->rec->rootfs = strdup("/b/r");
	c->rec->created = strdup("t");
	c->rec->cgroup_path = strdup("");
	c->rec->pid = getpid();
	c->rec->pid_start = container_pid_start_time(getpid());
	CHECK(c->rec->pid_start != 0);
	CHECK_INT(container_save(c, &err), 0);
	container_free(c);

	CHECK_INT(container_load(root, "c1", false, &c, &err), 0);
	pid_t pid;
	CHECK_INT(container_status(c, &pid), CONTAINER_CREATED);
	CHECK_INT(pid, getpid());
	/* A reused pid (another start time) is a stopped container. */
	c->rec->pid_start++;
	CHECK_INT(container_status(c, &pid), CONTAINER_STOPPED);
	CHECK_INT(pid, 0);
	CHECK_INT(container_remove(c, &err), 0);
	container_free(c);
	CHECK_INT(container_load(root, "c1", false, &c, &err), -1);
	CHECK_STR(err->msg, "container does not exist");
	husk_error_release(&err);
	CHECK_INT(container_load(root, "../etc", false, &c, &err), -1);
	CHECK_STR(err->msg, "invalid container ID format");
	husk_error_release(&err);
	CHECK_INT(rmdir(root), 0);
}

TEST(read_whole_and_write_all)
{
	char path[] = "/tmp/husk-unit-file.XXXXXX";
	husk_error_t err = NULL;
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	static char big[100000];
	memset(big, 'x', sizeof(big));
	CHECK_INT(write_all(fd, big, sizeof(big)), 0);
	close(fd);
	size_t len = 0;
	char *got = read_whole(path, 1u << 20, &len, &err);
	CHECK(got);
	CHECK_INT(len, sizeof(big));
	CHECK_INT(got[len], '\0');
	free(got);
	/* Larger than allowed: refused, not truncated. */
	CHECK(!read_whole(path, 4096, &len, &err));
	CHECK(strstr(err->msg, path));
	husk_error_release(&err);
	unlink(path);
	CHECK(!read_whole(path, 4096, &len, &err));
	CHECK(strstr(err->msg, "no such file or directory"));
	husk_error_release(&err);
}

/* delete --force of a paused container: the VMM's SIGKILL stays pending
 * in a frozen v1 cgroup until a thaw, and destroy waited ~10 s for it to
 * go; it thaws right after the kill now. A forked sleeper in a real,
 * frozen cgroup stands in for the VMM. */
TEST(destroy_of_a_paused_container_thaws_and_does_not_stall)
{
	if (geteuid() != 0)
		SKIP("needs root");
	char root[] = "/tmp/husk-unit-root.XXXXXX", cgpath[64];
	husk_error_t err cleanup_error = NULL;
	struct container *c = NULL;
	struct cgroup_handle *cg = NULL;

	snprintf(cgpath, sizeof(cgpath), "/husk-unit-%d-paused", (int)getpid());
	if (cgroup_create(cgpath, NULL, 0, &cg, &err) < 0) {
		printf("# %s\n", err->msg);
		SKIP("no cgroup to freeze on this host");
	}
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	CHECK_INT(cgroup_attach(cg, child, &err), 0);
	CHECK_INT(cgroup_freeze(cg, true, &err), 0);
	CHECK(mkdtemp(root));
	CHECK_INT(container_new(root, "p1", &c, &err), 0);
	c->rec = calloc(1, sizeof(*c->rec));
	c->rec->id = strdup("p1");
	c->rec->bundle = strdup("/nonexistent-bundle");
	c->rec->rootfs = strdup("/nonexistent-bundle/rootfs");
	c->rec->created = strdup("t");
	c->rec->cgroup_path = strdup(cgpath);
	c->rec->started = true;
	c->rec->pid = child;
	c->rec->pid_start = container_pid_start_time(child);
	CHECK_INT(container_save(c, &err), 0);
	pid_t pid;
	CHECK_INT(container_status(c, &pid), CONTAINER_PAUSED);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = lifecycle_destroy(c, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# destroy took %.2f s\n", took);
	CHECK(took < 5);
	int status;
	CHECK_INT(waitpid(child, &status, 0), child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(access(root, F_OK) == 0);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/p1", root);
	CHECK(access(dir, F_OK) < 0);
	container_free(c);
	cgroup_destroy(cg, &err);
	cgroup_handle_free(cg);
	rmdir(root);
}

/* A sleeper stands in for the VMM of a created container whose state sits
 * in a scratch --root; *CHILD gets its pid. */
static struct container *fake_container(const char *root, const char *id, const char *bundle,
					pid_t *child)
{
	husk_error_t err cleanup_error = NULL;
	struct container *c = NULL;

	*child = fork();
	if (*child == 0) {
		/* Gone with the test, even one that fails half-way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (*child < 0 || container_new(root, id, &c, &err) < 0)
		return NULL;
	c->rec = calloc(1, sizeof(*c->rec));
	c->rec->id = strdup(id);
	c->rec->bundle = strdup(bundle);
	c->rec->rootfs = strdup(bundle);
	c->rec->created = strdup("t");
	c->rec->cgroup_path = strdup("");
	c->rec->pid = *child;
	c->rec->pid_start = container_pid_start_time(*child);
	if (container_save(c, &err) < 0) {
		container_free(c);
		return NULL;
	}
	return c;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A container that can write its bundle (root.path "." or a writable share
 * holding it) rewrites config.json after create: start and delete must run
 * the hooks create saw, never the new ones, which would run as root on the
 * host. */
TEST(hooks_come_from_the_config_saved_at_create)
{
	char root[] = "/tmp/husk-unit-root.XXXXXX", bundle[] = "/tmp/husk-unit-bundle.XXXXXX";
	char path[256], planted[256], saved[256], json[2048];
	husk_error_t err cleanup_error = NULL;
	pid_t child;

	CHECK(mkdtemp(root) && mkdtemp(bundle));
	snprintf(planted, sizeof(planted), "%s/planted-hook-ran", bundle);
	snprintf(saved, sizeof(saved), "%s/saved-hook-ran", root);
	struct container *c = fake_container(root, "h1", bundle, &child);
	CHECK(c);
	if (!c)
		return;
	/* What create saw: one poststop hook. */
	snprintf(json, sizeof(json),
		 BASE "\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"},\"hooks\":{\"poststop\":"
		      "[{\"path\":\"/usr/bin/touch\",\"args\":[\"touch\",\"%s\"]}]}}",
		 saved);
	snprintf(path, sizeof(path), "%s/h1/config.json", root);
	write_text(path, json);
	/* What the container wrote into its bundle afterwards. */
	snprintf(json, sizeof(json),
		 BASE
		 "\"process\":{\"args\":[\"true\"],\"cwd\":\"/\"},\"hooks\":{"
		 "\"startContainer\":[{\"path\":\"/usr/bin/touch\",\"args\":[\"touch\",\"%s\"]}],"
		 "\"poststop\":[{\"path\":\"/usr/bin/touch\",\"args\":[\"touch\",\"%s\"]}]}}",
		 planted, planted);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	write_text(path, json);

	/* No control socket: start fails, but only after its hooks. */
	int started = lifecycle_start(c, &err);
	husk_error_release(&err);
	bool planted_at_start = access(planted, F_OK) == 0;
	unlink(planted);
	int destroyed = lifecycle_destroy(c, &err);
	bool planted_at_delete = access(planted, F_OK) == 0, saved_ran = access(saved, F_OK) == 0;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	container_free(c);
	unlink(planted);
	unlink(saved);
	unlink(path);
	CHECK_INT(started, -1);
	CHECK(!planted_at_start);
	CHECK_INT(destroyed, 0);
	CHECK(!planted_at_delete);
	CHECK(saved_ran);
	CHECK_INT(rmdir(bundle), 0);
	CHECK_INT(rmdir(root), 0);
}

/* close_fds_except in a child: KEEP in any order, with repeats and -1. */
TEST(close_fds_except_keeps_only_what_it_is_told)
{
	int fds[6];
	for (int i = 0; i < 6; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		int keep[] = { fds[4], -1, STDERR_FILENO, fds[1], fds[4] };
		if (close_fds_except(keep, 5) < 0)
			_exit(10);
		for (int i = 0; i < 6; i++)
			if ((fcntl(fds[i], F_GETFD) >= 0) != (i == 1 || i == 4))
				_exit(20 + i);
		_exit(fcntl(STDERR_FILENO, F_GETFD) >= 0 && fcntl(STDIN_FILENO, F_GETFD) < 0 ? 0
											     : 30);
	}
	int status;
	CHECK_INT(waitpid(child, &status, 0), child);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
}

/* Whoever can write the pid file's directory plants symlinks at the names
 * husk writes through: the file a link points at must stay as it was, and
 * the pid file must end up a whole, regular file of its own. */
TEST(pid_file_follows_no_planted_symlink)
{
	char dir[] = "/tmp/husk-unit-pid.XXXXXX", victim[128], pidf[128], tmpname[160], buf[64];
	husk_error_t err cleanup_error = NULL;

	CHECK(mkdtemp(dir));
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(pidf, sizeof(pidf), "%s/ct.pid", dir);
	snprintf(tmpname, sizeof(tmpname), "%s.husk-tmp", pidf);
	write_text(victim, "precious\n");
	int planted = symlink(victim, tmpname) == 0 && symlink(victim, pidf) == 0;
	int rc = pid_file_write(pidf, 4242, &err);
	FILE *f = fopen(victim, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	bool victim_kept = strcmp(buf, "precious\n") == 0;
	struct stat st;
	bool regular = lstat(pidf, &st) == 0 && S_ISREG(st.st_mode);
	f = fopen(pidf, "re");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* Nothing but the three names above is left in the directory. */
	int entries = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		entries += e->d_name[0] != '.';
	if (d)
		closedir(d);
	unlink(pidf);
	unlink(tmpname);
	unlink(victim);
	rmdir(dir);
	CHECK(planted);
	CHECK_INT(rc, 0);
	CHECK(victim_kept);
	CHECK(regular);
	CHECK_STR(buf, "4242");
	CHECK_INT(entries, 3);
}

/* Kubernetes allows 256 KiB of annotations and create copies them into
 * state.json; every command after create must read it back. */
TEST(state_with_200k_of_annotations_loads)
{
	char root[] = "/tmp/husk-unit-root.XXXXXX";
	husk_error_t err cleanup_error = NULL;
	struct container *c = NULL;
	static char value[200 * 1024 + 1];

	memset(value, 'a', sizeof(value) - 1);
	CHECK(mkdtemp(root));
	CHECK_INT(container_new(root, "big", &c, &err), 0);
	c->rec = calloc(1, sizeof(*c->rec));
	c->rec->id = strdup("big");
	c->rec->bundle = strdup("/b");
	c->rec->rootfs = strdup("/b/r");
	c->rec->created = strdup("t");
	c->rec->cgroup_path = strdup("");
	c->rec->pid = 1;
	c->rec->pid_start = 1;
	c->rec->annotations = calloc(2, sizeof(struct oci_kv));
	c->rec->annotations[0].key = strdup("io.kubernetes.big");
	c->rec->annotations[0].value = strdup(value);
	c->rec->nannotations = 1;
	int saved = container_save(c, &err);
	container_free(c);
	c = NULL;
	int loaded = saved < 0 ? -1 : container_load(root, "big", false, &c, &err);
	if (loaded < 0 && err)
		printf("# %s\n", err->msg);
	bool same = loaded == 0 && c->rec->nannotations == 1 &&
		    strcmp(c->rec->annotations[0].value, value) == 0;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/big", root);
	if (c)
		container_remove(c, &err);
	container_free(c);
	rmdir(dir);
	rmdir(root);
	CHECK_INT(saved, 0);
	CHECK_INT(loaded, 0);
	CHECK(same);
}

/* delete of a container whose cgroupsPath named a cgroup that was there
 * before (another manager's, with its own processes): the VMM goes, the
 * cgroup and everything else in it stay. It used to be frozen, emptied
 * with SIGKILL and removed. The record is written as husk writes it, so
 * the test stands on the stored field, not on a struct member. */
TEST(destroy_leaves_a_cgroup_husk_did_not_create)
{
	if (geteuid() != 0)
		SKIP("needs root");
	char root[] = "/tmp/husk-unit-root.XXXXXX", cgpath[64], rec[1024], file[256];
	husk_error_t err cleanup_error = NULL;
	struct container *c = NULL;
	struct cgroup_handle *cg = NULL;

	snprintf(cgpath, sizeof(cgpath), "/husk-unit-%d-shared", (int)getpid());
	if (cgroup_create(cgpath, NULL, 0, &cg, &err) < 0) {
		printf("# %s\n", err->msg);
		SKIP("no cgroup on this host");
	}
	pid_t other = fork(), vmm;
	CHECK(other >= 0);
	if (other == 0) {
		for (;;)
			pause();
	}
	vmm = fork();
	CHECK(vmm >= 0);
	if (vmm == 0) {
		for (;;)
			pause();
	}
	CHECK_INT(cgroup_attach(cg, other, &err), 0);
	CHECK_INT(cgroup_attach(cg, vmm, &err), 0);
	CHECK(mkdtemp(root));
	CHECK_INT(container_new(root, "s1", &c, &err), 0);
	snprintf(rec, sizeof(rec),
		 "{\"id\":\"s1\",\"pid\":%d,\"pid_start\":%llu,\"bundle\":\"/nonexistent-bundle\","
		 "\"rootfs\":\"/nonexistent-bundle/rootfs\",\"created\":\"t\",\"owner\":0,"
		 "\"started\":true,\"cgroup_path\":\"%s\",\"cgroup_created\":false,"
		 "\"annotations\":{}}",
		 (int)vmm, container_pid_start_time(vmm), cgpath);
	snprintf(file, sizeof(file), "%s/s1/state.json", root);
	FILE *f = fopen(file, "we");
	CHECK(f);
	fputs(rec, f);
	fclose(f);
	container_free(c);
	CHECK_INT(container_load(root, "s1", true, &c, &err), 0);

	int rc = lifecycle_destroy(c, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	int status;
	CHECK_INT(waitpid(vmm, &status, 0), vmm);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The other process lives on, in its cgroup, which is not frozen. */
	CHECK_INT(waitpid(other, &status, WNOHANG), 0);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	CHECK_INT(cgroup_pids(cg, &pids, &n, &err), 0);
	CHECK_INT(n, 1);
	CHECK(n == 1 && pids[0] == other);
	bool frozen = true;
	CHECK_INT(cgroup_is_frozen(cg, &frozen, &err), 0);
	CHECK(!frozen);
	container_free(c);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	cgroup_destroy(cg, &err);
	cgroup_handle_free(cg);
	rmdir(root);
}
