/* runtime/cgroup.c: cgroupsPath resolution (anywhere), and a real cgroup's
 * life on the host the tests run on (root only): create with resources,
 * attach, freeze, update, stats, the device allow-list, destroy. Each test
 * cgroup is /husk-unit-PID/..., removed by a cleanup handler even when a
 * check fails half-way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "runtime/host.h"
#include "tests/unit/tap.h"

#define ROOT "/sys/fs/cgroup"

static int resolve(const char *cp, bool systemd, char *out, husk_error_t *err)
{
	return cgroup_resolve(cp, "abc", systemd, out, 4096, err);
}

TEST(cgroup_resolve_plain_paths)
{
	char out[4096];
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(resolve("", false, out, &err), 0);
	CHECK_STR(out, "/husk/abc");
	CHECK_INT(resolve(NULL, false, out, &err), 0);
	CHECK_STR(out, "/husk/abc");
	CHECK_INT(resolve("/a/b", false, out, &err), 0);
	CHECK_STR(out, "/a/b");
	CHECK_INT(resolve("/a//b/./c/", false, out, &err), 0);
	CHECK_STR(out, "/a/b/c");
	/* Without --systemd-cgroup, colons are just part of a name. */
	CHECK_INT(resolve("/x:y:z", false, out, &err), 0);
	CHECK_STR(out, "/x:y:z");
}

TEST(cgroup_resolve_relative_is_beside_own_cgroup)
{
	char out[4096], line[4096], want[4096] = "";
	husk_error_t err cleanup_error = NULL;
	bool v2 = host_cgroup_mode(ROOT) == CGROUP_MODE_V2;

	/* The parent of this process's cgroup: the unified line on v2, the
	 * memory controller's elsewhere. */
	FILE *f = fopen("/proc/self/cgroup", "re");
	CHECK(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		*a = *b = '\0';
		bool mem = false;
		for (char *s = NULL, *t = strtok_r(a + 1, ",", &s); t; t = strtok_r(NULL, ",", &s))
			mem |= strcmp(t, "memory") == 0;
		if (v2 ? strcmp(line, "0") == 0 : mem) {
			snprintf(want, sizeof(want), "%s", b + 1);
			break;
		}
	}
	fclose(f);
	if (!strrchr(want, '/')) {
		/* Show what this host has, for whoever reads the failure. */
		f = fopen("/proc/self/cgroup", "re");
		while (f && fgets(line, sizeof(line), f))
			printf("# /proc/self/cgroup: %s", line);
		if (f)
			fclose(f);
		printf("# mode %s\n", host_cgroup_mode_name(host_cgroup_mode(ROOT)));
	}
	CHECK(strrchr(want, '/'));
	*strrchr(want, '/') = '\0';
	strcat(want, "/k8s/pod1");
	CHECK_INT(resolve("k8s/pod1", false, out, &err), 0);
	CHECK_STR(out, want);
}

TEST(cgroup_resolve_systemd_form)
{
	char out[4096];
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(resolve("machine.slice:libpod:abc", true, out, &err), 0);
	CHECK_STR(out, "/machine.slice/libpod-abc.scope");
	CHECK_INT(resolve("system.slice:cri-containerd:x", true, out, &err), 0);
	CHECK_STR(out, "/system.slice/cri-containerd-x.scope");
	CHECK_INT(resolve("a-b.slice:p:n", true, out, &err), 0);
	CHECK_STR(out, "/a.slice/a-b.slice/p-n.scope");
	CHECK_INT(resolve("kubepods-burstable-pod1.slice:cri-o:c1", true, out, &err), 0);
	CHECK_STR(out, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
		       "cri-o-c1.scope");
	CHECK_INT(resolve("-.slice:p:n", true, out, &err), 0);
	CHECK_STR(out, "/p-n.scope");
	CHECK_INT(resolve(":p:n", true, out, &err), 0);
	CHECK_STR(out, "/system.slice/p-n.scope");
	CHECK_INT(resolve("user.slice:p:sub.slice", true, out, &err), 0);
	CHECK_STR(out, "/user.slice/sub.slice");
	CHECK_INT(resolve("", true, out, &err), 0);
	CHECK_STR(out, "/system.slice/husk-abc.scope");
}

static void check_refused(const char *cp, bool systemd, const char *want_in_msg)
{
	char out[4096];
	husk_error_t err cleanup_error = NULL;

	if (resolve(cp, systemd, out, &err) == 0) {
		tap_fail(__FILE__, __LINE__, "\"%s\" resolved to \"%s\"", cp, out);
		return;
	}
	if (strncmp(err->msg, "linux.cgroupsPath: ", 19) != 0 || !strstr(err->msg, want_in_msg))
		tap_fail(__FILE__, __LINE__, "\"%s\": message \"%s\"", cp, err->msg);
}

TEST(cgroup_resolve_refuses_bad_paths)
{
	check_refused("/a/../b", false, "\"..\" is not allowed");
	check_refused("..", false, "\"..\" is not allowed");
	check_refused("/", false, "root cgroup");
	check_refused("/a/b", true, "expected \"slice:prefix:name\"");
	check_refused("a:b", true, "expected \"slice:prefix:name\"");
	check_refused("a:b:c:d", true, "expected \"slice:prefix:name\"");
	check_refused("machine:p:n", true, "invalid slice name");
	check_refused("a--b.slice:p:n", true, "invalid slice name");
	check_refused("-a.slice:p:n", true, "invalid slice name");
	check_refused("a/b.slice:p:n", true, "invalid slice name");
	check_refused("machine.slice:p:", true, "invalid unit name");
	check_refused("machine.slice:p:../x", true, "invalid unit name");

	char big[5000], out[64];
	husk_error_t err cleanup_error = NULL;
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(cgroup_resolve(big, "abc", false, out, sizeof(out), &err), -1);
	CHECK_INT(err->errnum, ENAMETOOLONG);
}

/* ---- on the host ---- */

struct guard {
	char top[64]; /* "/husk-unit-PID" */
	pid_t child;
	struct cgroup_handle *cg;
};

/* Removes DIR and any directories below it (cgroup directories hold only
 * kernel files, which go with them). */
static void rmdir_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (e->d_type == DT_DIR && strcmp(e->d_name, ".") &&
			    strcmp(e->d_name, "..")) {
				char sub[4096];
				snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
				rmdir_tree(sub);
			}
		closedir(d);
	}
	rmdir(dir);
}

static void guard_release(struct guard *g)
{
	husk_error_t err cleanup_error = NULL;

	/* A test that failed with its cgroup frozen: v1 holds the kill until
	 * a thaw, and waitpid() would wait for ever. */
	if (g->cg)
		cgroup_freeze(g->cg, false, &err);
	husk_error_release(&err);
	if (g->child > 0) {
		kill(g->child, SIGKILL);
		waitpid(g->child, NULL, 0);
	}
	if (g->cg) {
		cgroup_destroy(g->cg, &err);
		cgroup_handle_free(g->cg);
	}
	if (!g->top[0])
		return;
	char dir[4096];
	snprintf(dir, sizeof(dir), ROOT "%s", g->top);
	rmdir_tree(dir); /* v2 */
	DIR *d = opendir(ROOT);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			snprintf(dir, sizeof(dir), ROOT "/%s%s", e->d_name, g->top);
			rmdir_tree(dir);
		}
	if (d)
		closedir(d);
}
#define cleanup_guard __attribute__((cleanup(guard_release)))

/* Why the lifecycle tests cannot run here, or NULL. */
static const char *host_lacks(void)
{
	enum cgroup_mode m = host_cgroup_mode(ROOT);
	const char *root = ROOT;

	if (geteuid() != 0)
		return "needs root";
	if (m == CGROUP_MODE_NONE)
		return "no cgroup file system at " ROOT;
	static const char *const need[] = { "memory", "cpu", "pids" };
	for (size_t i = 0; i < 3; i++)
		if (!host_cgroup_controller(root, m, need[i]))
			return "the memory, cpu and pids controllers are not all available";
	return NULL;
}

/* Directory of controller CTRL's hierarchy for PATH. */
static void ctrl_dir(char *out, size_t size, const char *ctrl, const char *path)
{
	if (host_cgroup_mode(ROOT) == CGROUP_MODE_V2)
		snprintf(out, size, ROOT "%s", path);
	else
		snprintf(out, size, ROOT "/%s%s", ctrl, path);
}

static bool read_file(const char *ctrl, const char *path, const char *file, char *buf, size_t size)
{
	char dir[4096], p[4200];

	ctrl_dir(dir, sizeof(dir), ctrl, path);
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	return true;
}

#define CHECK_FILE(ctrl, path, file, want)                              \
	do {                                                            \
		char got_[256];                                         \
		CHECK(read_file(ctrl, path, file, got_, sizeof(got_))); \
		CHECK_STR(got_, want);                                  \
	} while (0)

static bool gone_everywhere(const char *path)
{
	char dir[4096];
	struct stat st;
	DIR *d = opendir(ROOT);
	struct dirent *e;
	bool gone = true;

	snprintf(dir, sizeof(dir), ROOT "%s", path);
	gone &= stat(dir, &st) < 0;
	while (d && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.') {
			snprintf(dir, sizeof(dir), ROOT "/%s%s", e->d_name, path);
			gone &= stat(dir, &st) < 0;
		}
	if (d)
		closedir(d);
	return gone;
}

/* A child that waits for a byte on GO (if not -1), then burns ~50 ms of
 * CPU, says so on DONE, and sleeps until killed. */
static pid_t worker(int go, int done)
{
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		if (go >= 0 && read(go, &c, 1) == 1) {
			struct timespec ts;
			do
				clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
			while (ts.tv_sec == 0 && ts.tv_nsec < 50000000);
			if (write(done, "d", 1) != 1)
				_exit(1);
		}
		for (;;)
			pause();
	}
	return pid;
}

static pid_t sleeper(void)
{
	return worker(-1, -1);
}

static bool in_cgroup(pid_t pid, const char *path)
{
	char p[64], line[4096];
	bool found = false;

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	FILE *f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *last = strrchr(line, ':');
		found |= last && strcmp(last + 1, path) == 0;
	}
	if (f)
		fclose(f);
	return found;
}

TEST(cgroup_lifecycle_on_this_host)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	bool v2 = host_cgroup_mode(ROOT) == CGROUP_MODE_V2;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/life", g.top);
	struct oci_resources r = {
		.has_memory_limit = true,
		.memory_limit = 64 << 20,
		.has_cpu_quota = true,
		.cpu_quota = 50000,
		.has_cpu_period = true,
		.cpu_period = 100000,
		.has_cpu_shares = true,
		.cpu_shares = 512,
		.has_pids_limit = true,
		.pids_limit = 64,
	};
	int rc = cgroup_create(path, &r, 0, &g.cg, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	CHECK_STR(cgroup_path(g.cg), path);
	if (v2) {
		CHECK_FILE("memory", path, "memory.max", "67108864");
		CHECK_FILE("cpu", path, "cpu.max", "50000 100000");
		CHECK_FILE("cpu", path, "cpu.weight", "20"); /* 1 + (510 * 9999) / 262142 */
	} else {
		CHECK_FILE("memory", path, "memory.limit_in_bytes", "67108864");
		CHECK_FILE("cpu", path, "cpu.cfs_quota_us", "50000");
		CHECK_FILE("cpu", path, "cpu.cfs_period_us", "100000");
		CHECK_FILE("cpu", path, "cpu.shares", "512");
	}
	CHECK_FILE("pids", path, "pids.max", "64");

	int go[2], done[2];
	CHECK_INT(pipe(go), 0);
	CHECK_INT(pipe(done), 0);
	g.child = worker(go[0], done[1]);
	CHECK(g.child > 0);
	CHECK_INT(cgroup_attach(g.cg, g.child, &err), 0);
	CHECK(in_cgroup(g.child, path));
	char c;
	CHECK_INT(write(go[1], "g", 1), 1);
	CHECK_INT(read(done[0], &c, 1), 1);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	CHECK_INT(cgroup_pids(g.cg, &pids, &n, &err), 0);
	CHECK_INT(n, 1);
	CHECK_INT(pids[0], g.child);

	bool frozen = true;
	CHECK_INT(cgroup_is_frozen(g.cg, &frozen, &err), 0);
	CHECK(!frozen);
	CHECK_INT(cgroup_freeze(g.cg, true, &err), 0);
	CHECK_INT(cgroup_is_frozen(g.cg, &frozen, &err), 0);
	CHECK(frozen);
	if (v2)
		CHECK_FILE("memory", path, "cgroup.freeze", "1");
	else
		CHECK_FILE("freezer", path, "freezer.state", "FROZEN");
	CHECK_INT(cgroup_freeze(g.cg, false, &err), 0);
	CHECK_INT(cgroup_is_frozen(g.cg, &frozen, &err), 0);
	CHECK(!frozen);

	/* update changes what it names and nothing else. */
	struct oci_resources u = {
		.has_memory_limit = true,
		.memory_limit = 128 << 20,
		.has_pids_limit = true,
		.pids_limit = -1,
		.has_cpu_period = true,
		.cpu_period = 200000,
	};
	CHECK_INT(cgroup_update(g.cg, &u, &err), 0);
	CHECK_FILE("memory", path, v2 ? "memory.max" : "memory.limit_in_bytes", "134217728");
	CHECK_FILE("pids", path, "pids.max", "max");
	if (v2)
		CHECK_FILE("cpu", path, "cpu.max", "50000 200000");
	else
		CHECK_FILE("cpu", path, "cpu.cfs_quota_us", "50000");

	struct cgroup_stats st;
	CHECK_INT(cgroup_stats(g.cg, &st, &err), 0);
	CHECK_INT(st.memory_limit, 128 << 20);
	CHECK_INT(st.pids_current, 1);
	CHECK_INT(st.pids_limit, 0);
	printf("# cpu %llu ns (user %llu, system %llu), memory %llu\n",
	       (unsigned long long)st.cpu_usage_ns, (unsigned long long)st.cpu_user_ns,
	       (unsigned long long)st.cpu_system_ns, (unsigned long long)st.memory_usage);
	CHECK(st.cpu_usage_ns >= 20000000);
	CHECK(st.cpu_user_ns + st.cpu_system_ns > 0);

	/* A frozen cgroup with a live process: destroy thaws, kills, waits
	 * and removes. The process is this test's child, so it stays a
	 * zombie until waited for; that must not block the removal. */
	CHECK_INT(cgroup_freeze(g.cg, true, &err), 0);
	rc = cgroup_destroy(g.cg, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	int status = 0;
	CHECK_INT(waitpid(g.child, &status, 0), g.child);
	g.child = -1;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(gone_everywhere(path));
	/* Idempotent, and so is an open handle on what is gone. */
	CHECK_INT(cgroup_destroy(g.cg, &err), 0);
	struct cgroup_handle *again = cgroup_open(path, &err);
	CHECK(again);
	rc = cgroup_destroy(again, &err);
	cgroup_handle_free(again);
	CHECK_INT(rc, 0);
	CHECK_INT(cgroup_update(g.cg, &u, &err), -1);
	CHECK_INT(err->errnum, ENOENT);
}

TEST(cgroup_open_finds_an_existing_one)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/open", g.top);
	CHECK_INT(cgroup_create(path, NULL, 0, &g.cg, &err), 0);
	g.child = sleeper();
	CHECK(g.child > 0);
	CHECK_INT(cgroup_attach(g.cg, g.child, &err), 0);

	struct cgroup_handle *cg cleanup_cgroup = cgroup_open(path, &err);
	CHECK(cg);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	CHECK_INT(cgroup_pids(cg, &pids, &n, &err), 0);
	CHECK_INT(n, 1);
	struct oci_resources u = { .has_pids_limit = true, .pids_limit = 7 };
	CHECK_INT(cgroup_update(cg, &u, &err), 0);
	CHECK_FILE("pids", path, "pids.max", "7");
	CHECK_INT(cgroup_destroy(cg, &err), 0);
	CHECK(gone_everywhere(path));
}

/* memory.swap counts memory and swap together (v1's memsw): v2's
 * swap.max gets the difference; v1 writes limit and memsw in whichever
 * order keeps limit <= memsw at each step, growing and shrinking. */
TEST(cgroup_memory_and_swap)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	bool v2 = host_cgroup_mode(ROOT) == CGROUP_MODE_V2;
	char path[128], dir[4096], file[4200];
	struct stat st;

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/swap", g.top);
	CHECK_INT(cgroup_create(path, NULL, 0, &g.cg, &err), 0);
	ctrl_dir(dir, sizeof(dir), "memory", path);
	snprintf(file, sizeof(file), "%s/%s", dir,
		 v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
	if (stat(file, &st) < 0)
		SKIP("this host does not account swap");

	struct oci_resources r = {
		.has_memory_limit = true,
		.memory_limit = 64 << 20,
		.has_memory_swap = true,
		.memory_swap = 96 << 20,
	};
	int rc = cgroup_update(g.cg, &r, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	if (v2) {
		CHECK_FILE("memory", path, "memory.max", "67108864");
		CHECK_FILE("memory", path, "memory.swap.max", "33554432");
	} else {
		CHECK_FILE("memory", path, "memory.limit_in_bytes", "67108864");
		CHECK_FILE("memory", path, "memory.memsw.limit_in_bytes", "100663296");
	}
	/* Grow both past the current memsw, then shrink both below the
	 * current limit. */
	r.memory_limit = 256 << 20;
	r.memory_swap = 512 << 20;
	CHECK_INT(cgroup_update(g.cg, &r, &err), 0);
	CHECK_FILE("memory", path, v2 ? "memory.max" : "memory.limit_in_bytes", "268435456");
	CHECK_FILE("memory", path, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
		   v2 ? "268435456" : "536870912");
	r.memory_limit = 32 << 20;
	r.memory_swap = 48 << 20;
	CHECK_INT(cgroup_update(g.cg, &r, &err), 0);
	CHECK_FILE("memory", path, v2 ? "memory.max" : "memory.limit_in_bytes", "33554432");
	CHECK_FILE("memory", path, v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
		   v2 ? "16777216" : "50331648");
	/* Unlimited memory without a swap value: unlimited swap too. */
	struct oci_resources u = { .has_memory_limit = true, .memory_limit = -1 };
	CHECK_INT(cgroup_update(g.cg, &u, &err), 0);
	if (v2) {
		CHECK_FILE("memory", path, "memory.max", "max");
		CHECK_FILE("memory", path, "memory.swap.max", "max");
	}
	struct cgroup_stats s;
	CHECK_INT(cgroup_stats(g.cg, &s, &err), 0);
	CHECK(s.memory_limit > (1ULL << 40)); /* "max", or v1's page-counter maximum */
}

/* A failed create leaves nothing behind and names the field. */
TEST(cgroup_create_failure_names_the_field_and_undoes)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/bad", g.top);
	/* Swap (memory+swap) below the memory limit: refused by husk on v2,
	 * by the kernel on v1, or "no swap accounting" on either. */
	struct oci_resources r = {
		.has_memory_limit = true,
		.memory_limit = 64 << 20,
		.has_memory_swap = true,
		.memory_swap = 32 << 20,
	};
	CHECK_INT(cgroup_create(path, &r, 0, &g.cg, &err), -1);
	CHECK(!g.cg);
	printf("# %s\n", err->msg);
	CHECK(strstr(err->msg, "linux.resources.memory.swap: "));
	CHECK(gone_everywhere(path));
	husk_error_release(&err);

	struct oci_resources q = { .has_cpu_quota = true, .cpu_quota = 10 };
	CHECK_INT(cgroup_create(path, &q, 0, &g.cg, &err), -1);
	printf("# %s\n", err->msg);
	CHECK(strstr(err->msg, "linux.resources.cpu.quota: "));
	CHECK(gone_everywhere(path));
}

/* A process that joins a frozen cgroup stops at once: create used to
 * share a frozen cgroup, and `husk create` then waited for ever on a VMM
 * that never ran. It is refused now, promptly, and left as it was. */
TEST(cgroup_create_refuses_a_frozen_cgroup_and_leaves_it)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/frozen", g.top);
	CHECK_INT(cgroup_create(path, NULL, 0, &g.cg, &err), 0);
	g.child = sleeper();
	CHECK(g.child > 0);
	CHECK_INT(cgroup_attach(g.cg, g.child, &err), 0);
	if (cgroup_freeze(g.cg, true, &err) < 0) {
		printf("# %s\n", err->msg);
		SKIP("no freezer on this host");
	}

	struct cgroup_handle *again = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = cgroup_create(path, NULL, 0, &again, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cgroup_handle_free(again);
	CHECK_INT(rc, -1);
	CHECK(t1.tv_sec - t0.tv_sec < 2);
	printf("# %s\n", err ? err->msg : "(no error)");
	CHECK(err && strstr(err->msg, "linux.cgroupsPath: "));
	CHECK(err && strstr(err->msg, "frozen"));
	/* Still there, still frozen, its process still in it. */
	bool frozen = false;
	CHECK_INT(cgroup_is_frozen(g.cg, &frozen, &err), 0);
	CHECK(frozen);
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	CHECK_INT(cgroup_pids(g.cg, &pids, &n, &err), 0);
	CHECK_INT(n, 1);
	CHECK_INT(cgroup_freeze(g.cg, false, &err), 0);
}

/* Only a cgroup create made is husk's: one that was there is shared (and
 * says so), one that was not is husk's, and open() claims none. */
TEST(cgroup_create_tells_a_shared_cgroup_from_its_own)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/shared", g.top);
	CHECK_INT(cgroup_create(path, NULL, 0, &g.cg, &err), 0);
	CHECK(cgroup_created(g.cg));
	g.child = sleeper();
	CHECK(g.child > 0);
	CHECK_INT(cgroup_attach(g.cg, g.child, &err), 0);

	struct cgroup_handle *shared cleanup_cgroup = NULL;
	CHECK_INT(cgroup_create(path, NULL, 0, &shared, &err), 0);
	CHECK(!cgroup_created(shared));
	struct cgroup_handle *opened cleanup_cgroup = cgroup_open(path, &err);
	CHECK(opened && !cgroup_created(opened));
}

/* Bits of a device probe's exit status: what it found, opening each. */
enum {
	PROBE_NULL_REFUSED = 1, /* /dev/null: must open */
	PROBE_KMSG_OPENED = 2,	/* /dev/kmsg: must be refused */
	PROBE_KMSG_OTHER = 4,	/* /dev/kmsg failed otherwise than EPERM */
	PROBE_KVM_REFUSED = 8,	/* /dev/kvm: the VMM's own device, must open */
	PROBE_TUN_OPENED = 16,	/* /dev/net/tun opened */
	PROBE_TUN_REFUSED = 32, /* /dev/net/tun refused (EPERM) */
};

/* Forks a child into CG that opens the devices and exits with PROBE_*
 * bits; returns them, or -1. */
static int probe_devices(struct cgroup_handle *cg, pid_t *child, husk_error_t *err)
{
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -1;
	*child = fork();
	if (*child < 0)
		return -1;
	if (*child == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(100);
		int bits = 0, fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			bits |= PROBE_NULL_REFUSED;
		fd = open("/dev/kmsg", O_RDONLY);
		if (fd >= 0)
			bits |= PROBE_KMSG_OPENED;
		else if (errno != EPERM)
			bits |= PROBE_KMSG_OTHER;
		/* ENOENT (no KVM on this host) is not the cgroup's doing. */
		if (open("/dev/kvm", O_RDWR) < 0 && errno == EPERM)
			bits |= PROBE_KVM_REFUSED;
		fd = open("/dev/net/tun", O_RDWR);
		if (fd >= 0)
			bits |= PROBE_TUN_OPENED;
		else if (errno == EPERM)
			bits |= PROBE_TUN_REFUSED;
		_exit(bits);
	}
	close(go[0]);
	int rc = cgroup_attach(cg, *child, err);
	if (write(go[1], "x", 1) != 1)
		rc = -1;
	close(go[1]);
	int status;
	pid_t w = waitpid(*child, &status, 0);
	*child = -1;
	if (rc < 0 || w < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The allow-list lets the VMM open /dev/null and /dev/kvm and nothing
 * else it does not need: /dev/kmsg is refused, and /dev/net/tun only
 * with CGROUP_ALLOW_TUN (a VMM that wires a given namespace). */
TEST(cgroup_device_allow_list)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	if (access("/dev/kmsg", F_OK) < 0)
		SKIP("no /dev/kmsg to be refused");
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/dev", g.top);
	int rc = cgroup_create(path, NULL, 0, &g.cg, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	if (!cgroup_devices_confined(g.cg))
		SKIP("this host has no device cgroup (no v1 devices controller, no cgroup2)");
	bool tun = access("/dev/net/tun", F_OK) == 0;
	int bits = probe_devices(g.cg, &g.child, &err);
	CHECK(bits >= 0);
	CHECK_INT(bits & ~(PROBE_TUN_REFUSED), 0);
	if (tun)
		CHECK(bits & PROBE_TUN_REFUSED);
	CHECK_INT(cgroup_destroy(g.cg, &err), 0);
	cgroup_handle_free(g.cg);
	g.cg = NULL;

	snprintf(path, sizeof(path), "%s/dev-tun", g.top);
	rc = cgroup_create(path, NULL, CGROUP_ALLOW_TUN, &g.cg, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	bits = probe_devices(g.cg, &g.child, &err);
	CHECK(bits >= 0);
	CHECK_INT(bits & ~(PROBE_TUN_OPENED), 0);
	if (tun)
		CHECK(bits & PROBE_TUN_OPENED);
}

/* linux.resources.cpu.cpus/mems reach the cpuset controller, on v1 too
 * (where a new cpuset starts empty and refuses tasks until it inherits
 * its parent's lists), and the process is held to those CPUs. */
TEST(cgroup_cpuset_applies_and_updates)
{
	const char *why = host_lacks();
	if (why)
		SKIP(why);
	if (!host_cgroup_controller(ROOT, host_cgroup_mode(ROOT), "cpuset"))
		SKIP("no cpuset controller on this host");
	struct guard g cleanup_guard = { .child = -1 };
	husk_error_t err cleanup_error = NULL;
	char path[128];

	snprintf(g.top, sizeof(g.top), "/husk-unit-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/cpuset", g.top);
	struct oci_resources r = { .has_cpuset_cpus = true,
				   .cpuset_cpus = "0",
				   .cpuset_ncpus = 1,
				   .has_cpuset_mems = true,
				   .cpuset_mems = "0" };
	int rc = cgroup_create(path, &r, 0, &g.cg, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	CHECK_FILE("cpuset", path, "cpuset.cpus", "0");
	CHECK_FILE("cpuset", path, "cpuset.mems", "0");
	g.child = sleeper();
	CHECK(g.child > 0);
	rc = cgroup_attach(g.cg, g.child, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	CHECK_INT(rc, 0);
	cpu_set_t set;
	CHECK_INT(sched_getaffinity(g.child, sizeof(set), &set), 0);
	CHECK_INT(CPU_COUNT(&set), 1);
	CHECK(CPU_ISSET(0, &set));

	/* A CPU this host lacks: refused, naming the field. */
	struct oci_resources bad = { .has_cpuset_cpus = true, .cpuset_cpus = "8000" };
	CHECK_INT(cgroup_update(g.cg, &bad, &err), -1);
	CHECK(err && strstr(err->msg, "linux.resources.cpu.cpus: "));
	husk_error_release(&err);
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		struct oci_resources u = { .has_cpuset_cpus = true, .cpuset_cpus = "0-1" };
		CHECK_INT(cgroup_update(g.cg, &u, &err), 0);
		CHECK_FILE("cpuset", path, "cpuset.cpus", "0-1");
		CHECK_INT(sched_getaffinity(g.child, sizeof(set), &set), 0);
		CHECK_INT(CPU_COUNT(&set), 2);
	}
	CHECK_INT(cgroup_destroy(g.cg, &err), 0);
	CHECK(gone_everywhere(path));
}
