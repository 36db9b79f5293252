/* The runtime's pure pieces: state records, ids, signal names, VM sizing,
 * exec's process.json, hooks and annotations in config.json, and the state
 * store on a scratch --root. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/config.h"
#include "oci/exec_process.h"
#include "oci/state.h"
#include "runtime/cgroup.h"
#include "runtime/cleanup.h"
#include "runtime/fileio.h"
#include "runtime/lifecycle.h"
#include "runtime/state.h"
#include "tap.h"

#define BASE "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"

static struct oci_config *parse(const char *json, husk_error_t *err)
{
	return oci_config_parse(json, strlen(json), err);
}

TEST(state_record_round_trip)
{
	struct oci_kv ann[] = { { "a", "1" }, { "husk.cpus", "2" } };
	struct oci_state_record r = { .id = "c1", .pid = 42, .pid_start = 123456789ull,
				      .bundle = "/b", .rootfs = "/b/rootfs",
				      .created = "2026-11-21T00:00:00.000000001Z", .owner = 0,
				      .started = true, .cgroup_path = "/husk/c1",
				      .annotations = ann, .nannotations = 2 };
	char *json = oci_state_record_to_json(&r);
	husk_error_t err = NULL;
	CHECK(json);
	struct oci_state_record *back = oci_state_record_parse(json, strlen(json), "state.json", &err);
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
		struct oci_state_record *r = oci_state_record_parse(bad[i], strlen(bad[i]), "s", &err);
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
	CHECK_INT(parse_signal("9", &sig, &err), 0);
	CHECK_INT(sig, SIGKILL);
	CHECK_INT(parse_signal("KILL", &sig, &err), 0);
	CHECK_INT(sig, SIGKILL);
	CHECK_INT(parse_signal("sigterm", &sig, &err), 0);
	CHECK_INT(sig, SIGTERM);
	CHECK_INT(parse_signal("USR1", &sig, &err), 0);
	CHECK_INT(sig, SIGUSR1);
	CHECK_INT(parse_signal("FOO", &sig, &err), -1);
	husk_error_release(&err);
	CHECK_INT(parse_signal("0", &sig, &err), -1);
	husk_error_release(&err);
	CHECK_INT(parse_signal("9x", &sig, &err), -1);
	husk_error_release(&err);
}

TEST(vm_size_from_resources_and_annotations)
{
	husk_error_t err = NULL;
	int cpus;
	unsigned long mem;
	struct oci_config *c = parse(BASE "\"linux\":{\"resources\":{\"memory\":{\"limit\":536870912},"
				       "\"cpu\":{\"quota\":150000,\"period\":100000}}}}", &err);
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
				     "\"annotations\":{\"husk.cpus\":\"2\"}}", &err);
	CHECK(c);
	if (host >= 2) {
		CHECK_INT(lifecycle_vm_size(c, &cpus, &mem, &err), 0);
		CHECK_INT(cpus, 2);
	}
	oci_config_free(c);
}

TEST(cpuset_lists_are_checked_naming_the_field)
{
	static const struct {
		const char *cpu, *msg;
	} bad[] = {
		{ "{\"cpus\":\"0-\"}", "linux.resources.cpu.cpus: \"0-\" is not a cpuset list" },
		{ "{\"cpus\":\"a\"}", "linux.resources.cpu.cpus: \"a\" is not a cpuset list" },
		{ "{\"cpus\":\"0, 1\"}", "linux.resources.cpu.cpus: \"0, 1\" is not a cpuset list" },
		{ "{\"cpus\":\"1,\"}", "linux.resources.cpu.cpus: \"1,\" is not a cpuset list" },
		{ "{\"cpus\":\"3-1\"}", "linux.resources.cpu.cpus: \"3-1\": range 3-1 runs backwards" },
		{ "{\"cpus\":\"99999\"}", "linux.resources.cpu.cpus: \"99999\": ids go up to 8191" },
		{ "{\"cpus\":3}", "linux.resources.cpu.cpus: must be a string" },
		{ "{\"mems\":\"0-1-2\"}", "linux.resources.cpu.mems: \"0-1-2\" is not a cpuset list" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[1024];
		husk_error_t err cleanup_error = NULL;
		snprintf(json, sizeof(json), BASE "\"linux\":{\"resources\":{\"cpu\":%s}}}", bad[i].cpu);
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
	struct oci_config *c = parse(BASE "\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\","
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
	const char *config = BASE "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/srv\",\"env\":[\"PATH=/bin\","
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

	o = (struct oci_exec_overrides){ .args = args, .cwd = "/tmp", .has_user = true, .uid = 1000,
					 .gid = 1000, .terminal = true };
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
	c->rec->pid_start = process_start_time(getpid());
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
	struct husk_cgroup *cg = NULL;

	snprintf(cgpath, sizeof(cgpath), "/husk-unit-%d-paused", (int)getpid());
	if (husk_cgroup_create(cgpath, NULL, 0, &cg, &err) < 0) {
		printf("# %s\n", err->msg);
		SKIP("no cgroup to freeze on this host");
	}
	pid_t child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	CHECK_INT(husk_cgroup_attach(cg, child, &err), 0);
	CHECK_INT(husk_cgroup_freeze(cg, true, &err), 0);
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
	c->rec->pid_start = process_start_time(child);
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
	husk_cgroup_destroy(cg, &err);
	husk_cgroup_free(cg);
	rmdir(root);
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
	struct husk_cgroup *cg = NULL;

	snprintf(cgpath, sizeof(cgpath), "/husk-unit-%d-shared", (int)getpid());
	if (husk_cgroup_create(cgpath, NULL, 0, &cg, &err) < 0) {
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
	CHECK_INT(husk_cgroup_attach(cg, other, &err), 0);
	CHECK_INT(husk_cgroup_attach(cg, vmm, &err), 0);
	CHECK(mkdtemp(root));
	CHECK_INT(container_new(root, "s1", &c, &err), 0);
	snprintf(rec, sizeof(rec),
		 "{\"id\":\"s1\",\"pid\":%d,\"pid_start\":%llu,\"bundle\":\"/nonexistent-bundle\","
		 "\"rootfs\":\"/nonexistent-bundle/rootfs\",\"created\":\"t\",\"owner\":0,"
		 "\"started\":true,\"cgroup_path\":\"%s\",\"cgroup_created\":false,"
		 "\"annotations\":{}}",
		 (int)vmm, process_start_time(vmm), cgpath);
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
	CHECK_INT(husk_cgroup_pids(cg, &pids, &n, &err), 0);
	CHECK_INT(n, 1);
	CHECK(n == 1 && pids[0] == other);
	bool frozen = true;
	CHECK_INT(husk_cgroup_is_frozen(cg, &frozen, &err), 0);
	CHECK(!frozen);
	container_free(c);
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	husk_cgroup_destroy(cg, &err);
	husk_cgroup_free(cg);
	rmdir(root);
}
