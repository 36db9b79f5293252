/* The cgroupfs driver: husk makes, enters, freezes and removes the cgroup
 * itself, through libcgroup where version 2.0.2 can and on the files where
 * it cannot (each place says why). What only the driver decides lives
 * here, behind struct cgroup_driver, so a systemd driver can take its
 * place. */
#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cgroup_internal.h"

/* How long freeze/thaw and the emptying of a cgroup may take. */
#define SETTLE_TIMEOUT_MS 10000

/* ---- create, attach, destroy ---- */

/* A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
 * the kernel refuses tasks in it (ENOSPC) until both are set; libcgroup's
 * parent directories start the same. Each level from the top gets its
 * parent's lists where it has none, as runc does. (v2 cpusets inherit the
 * parent's effective lists by themselves.) */
static int inherit_cpuset_v1(struct cgroup_handle *cg, husk_error_t *err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char dir[PATH_MAX], parent[PATH_MAX];

	if (!cg->c[C_CPUSET].present || cg->c[C_CPUSET].v2)
		return 0;
	int n = snprintf(dir, sizeof(dir), "%s", cg->c[C_CPUSET].mount);
	for (const char *p = cg->path; n > 0 && (size_t)n < sizeof(dir) && *p;) {
		const char *next = strchr(p + 1, '/');
		size_t len = next ? (size_t)(next - p) : strlen(p);
		snprintf(parent, sizeof(parent), "%s", dir);
		if ((size_t)n + len >= sizeof(dir))
			return husk_error_set(err, ENAMETOOLONG, "cgroup %s", cg->path);
		memcpy(dir + n, p, len);
		n += (int)len;
		dir[n] = '\0';
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			char have[OCI_CPUSET_LIST_MAX * 2], from[OCI_CPUSET_LIST_MAX * 2];
			if (cgroup_file_read(dir, files[i], have, sizeof(have)) < 0)
				return husk_error_set(err, errno, "read %s/%s", dir, files[i]);
			if (have[strspn(have, " \n")])
				continue;
			if (cgroup_file_read(parent, files[i], from, sizeof(from)) < 0)
				return husk_error_set(err, errno, "read %s/%s", parent, files[i]);
			from[strcspn(from, "\n")] = '\0';
			if (cgroup_file_write(dir, files[i], from) < 0)
				return husk_error_set(err, errno, "set %s/%s to \"%s\"", dir,
						      files[i], from);
		}
		p += len;
	}
	return 0;
}

/* Creates PATH's ancestors on the unified tree and enables the v2
 * controllers husk uses in each one's cgroup.subtree_control, from the top.
 * libcgroup 2.0.2 does enable them as it creates a cgroup, but all or
 * nothing: one controller a parent cannot pass on (a parent with processes
 * of its own, a controller not delegated to us) fails the creation. Done
 * here one by one, what cannot be enabled is simply not present, and only
 * an error if the resources ask for it. */
static void prepare_v2_parents(struct cgroup_handle *cg)
{
	const char *mount = NULL;
	char dir[PATH_MAX], list[1024];

	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present && cg->c[i].v2)
			mount = cg->c[i].mount;
	if (!mount)
		return;
	snprintf(dir, sizeof(dir), "%s", mount);
	size_t n = strlen(dir);
	const char *p = cg->path;
	for (;;) {
		if (cgroup_file_read(dir, "cgroup.subtree_control", list, sizeof(list)) >= 0)
			for (int i = 0; i < C_N; i++) {
				if (!cg->c[i].present || !cg->c[i].v2 ||
				    cgroup_has_word(list, cgroup_ctrl_names[i]))
					continue;
				char plus[32];
				snprintf(plus, sizeof(plus), "+%s", cgroup_ctrl_names[i]);
				cgroup_file_write(dir, "cgroup.subtree_control", plus);
			}
		const char *next = strchr(p + 1, '/');
		if (!next)
			break; /* DIR is the parent of the cgroup */
		if (n + (size_t)(next - p) >= sizeof(dir))
			break;
		memcpy(dir + n, p, (size_t)(next - p));
		n += (size_t)(next - p);
		dir[n] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			break;
		p = next;
	}
	cgroup_narrow_v2(cg, dir, "cgroup.subtree_control");
}

/* Removes the cgroup's directories; ENOENT anywhere is fine. */
static int remove_dirs(struct cgroup_handle *cg, husk_error_t *err)
{
	int idx[C_N], n = cgroup_distinct_dirs(cg, idx);

	if (n > 0) {
		/* One controller per directory: libcgroup removes a directory
		 * per controller and reports the second rmdir of a shared one
		 * (ENOENT) as a failure. */
		cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
		if (!lc)
			return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
		for (int k = 0; k < n; k++)
			if (cgroup_file_exists(cg->c[idx[k]].dir, NULL))
				cgroup_add_controller(lc, cgroup_ctrl_names[idx[k]]);
		/* Its result is not trusted either way: 2.0.2 also fails on
		 * v2 after a successful removal. What is left is checked
		 * below. */
		cgroup_delete_cgroup_ext(lc,
					 CGFLAG_DELETE_IGNORE_MIGRATION | CGFLAG_DELETE_RECURSIVE);
	}
	/* Whatever is left (libcgroup failed, or a v2 directory with no
	 * controller): rmdir, retrying EBUSY while the last tasks leave. */
	uint64_t deadline = cgroup_now_ms() + SETTLE_TIMEOUT_MS;
	for (int k = 0; k <= n; k++) {
		const char *dir = k < n ? cg->c[idx[k]].dir : cg->v2_dir;
		if (!dir)
			continue;
		while (rmdir(dir) < 0 && errno != ENOENT) {
			if (errno != EBUSY || cgroup_now_ms() > deadline)
				return husk_error_set(err, errno, "remove cgroup %s", dir);
			cgroup_sleep_ms(10);
		}
	}
	return 0;
}

/* Frozen, or asked to be (v1's FREEZING, v2's cgroup.freeze while tasks
 * still stop): either way a task that joins stops. A cgroup not there in
 * the freezer's hierarchy cannot be. */
static bool is_frozen_now(struct cgroup_handle *cg)
{
	char buf[512];
	husk_error_t ignored cleanup_error = NULL;

	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2 &&
	    cgroup_file_exists(cg->c[C_FREEZER].dir, NULL) &&
	    cgroup_value_read(cg, C_FREEZER, "freezer.state", buf, sizeof(buf), &ignored) == 0 &&
	    buf[0] && strcmp(buf, "THAWED") != 0)
		return true;
	/* Hybrid too: the unified directory freezes on its own. */
	if (!cg->v2_dir)
		return false;
	if (cgroup_file_read(cg->v2_dir, "cgroup.freeze", buf, sizeof(buf)) >= 0 && buf[0] == '1')
		return true;
	return cgroup_file_read(cg->v2_dir, "cgroup.events", buf, sizeof(buf)) >= 0 &&
	       strstr(buf, "frozen 1") != NULL;
}

static int cgroupfs_create(struct cgroup_handle *cg, const struct oci_resources *res,
			   husk_error_t *err)
{
	const char *path = cg->path;
	int idx[C_N];

	if (cg->v2_dir)
		prepare_v2_parents(cg);
	if (cgroup_resources_check(cg, res, err) < 0)
		return husk_error_wrap(err, "create cgroup %s", path);
	bool existed = cgroup_exists_anywhere(cg);

	int n = 0;
	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present)
			idx[n++] = i;
	if (n > 0) {
		cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
		if (!lc)
			return husk_error_set(err, ENOMEM, "create cgroup %s", path);
		for (int k = 0; k < n; k++)
			if (!cgroup_add_controller(lc, cgroup_ctrl_names[idx[k]]))
				return husk_error_set(err, ENOMEM, "create cgroup %s", path);
		int ret = cgroup_create_cgroup(lc, 1);
		if (ret != 0) {
			cgroup_lib_fail(err, ret, "create cgroup %s", path);
			goto undo;
		}
	}
	/* v2 with no controller to give: libcgroup creates nothing (it works
	 * per controller), but the directory still freezes and counts. */
	if (cg->v2_dir && mkdir(cg->v2_dir, 0755) < 0 && errno != EEXIST) {
		husk_error_set(err, errno, "create cgroup %s", cg->v2_dir);
		goto undo;
	}
	/* A process that joins a frozen cgroup stops at once: the VMM would
	 * never say "ok" and create would wait for ever. Checked before any
	 * value is written, so a cgroup that was there stays as it was. Not
	 * there in the freezer's hierarchy means it cannot be frozen. */
	if (is_frozen_now(cg)) {
		husk_error_set(err, 0,
			       CG_FIELD ": container's cgroup unexpectedly frozen: %s is frozen "
					"(thaw it, or name another cgroup)",
			       path);
		goto undo;
	}
	if (inherit_cpuset_v1(cg, err) < 0 || cgroup_resources_apply(cg, res, err) < 0 ||
	    cgroup_devices_apply(cg, err) < 0) {
		husk_error_wrap(err, "create cgroup %s", path);
		goto undo;
	}
	cg->created = !existed;
	return 0;

undo:
	if (!existed) {
		husk_error_t ignored cleanup_error = NULL;
		remove_dirs(cg, &ignored);
	}
	return -1;
}

static void cgroupfs_open(struct cgroup_handle *cg)
{
	if (cg->v2_dir)
		cgroup_narrow_v2(cg, cg->v2_dir, "cgroup.controllers");
}

static int cgroupfs_update(struct cgroup_handle *cg, const struct oci_resources *res,
			   husk_error_t *err)
{
	if (!cgroup_exists_anywhere(cg))
		return husk_error_set(err, ENOENT, "cgroup %s", cg->path);
	if (cgroup_resources_apply(cg, res, err) < 0)
		return husk_error_wrap(err, "update cgroup %s", cg->path);
	return 0;
}

static int cgroupfs_attach(struct cgroup_handle *cg, pid_t pid, husk_error_t *err)
{
	const char *ctrls[C_N + 1];
	int n = 0;

	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present)
			ctrls[n++] = cgroup_ctrl_names[i];
	ctrls[n] = NULL;
	if (n > 0) {
		/* cgroup_attach_task_pid() writes v1's "tasks", which moves
		 * one thread; this one walks /proc/PID/task and moves all. */
		int ret = cgroup_change_cgroup_path(cg->name, pid, ctrls);
		if (ret != 0)
			return cgroup_lib_fail(err, ret, "move process %d into cgroup %s", (int)pid,
					       cg->path);
	}
	/* A unified directory without controllers is not one libcgroup
	 * knows of; cgroup.procs moves the whole process. */
	bool v2_done = false;
	for (int i = 0; i < C_N; i++)
		v2_done |= cg->c[i].present && cg->c[i].v2;
	if (cg->v2_dir && !v2_done) {
		char v[32];
		snprintf(v, sizeof(v), "%d", (int)pid);
		if (cgroup_file_write(cg->v2_dir, "cgroup.procs", v) < 0)
			return husk_error_set(err, errno, "move process %d into cgroup %s",
					      (int)pid, cg->v2_dir);
	}
	return 0;
}

static int cgroupfs_pids_all(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err);

/* PF_KTHREAD in /proc/PID/stat's flags (field 9). */
static bool is_kthread(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (len <= 0)
		return false;
	buf[len] = '\0';
	char *p = strrchr(buf, ')');
	for (int field = 2; p && field < 9; field++)
		if ((p = strchr(p + 1, ' ')))
			p++;
	return p && (strtoul(p, NULL, 10) & 0x00200000u);
}

static int cgroupfs_release_kthreads(struct cgroup_handle *cg, husk_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n;
	if (cgroupfs_pids_all(cg, &pids, &n, err) < 0)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (!is_kthread(pids[k]))
			continue;
		char pid[24];
		snprintf(pid, sizeof(pid), "%d", (int)pids[k]);
		for (int i = 0; i < C_N; i++)
			if (cg->c[i].present && cg->c[i].mount &&
			    cgroup_file_write(cg->c[i].mount, "cgroup.procs", pid) < 0)
				return husk_error_set(
					err, errno, "move KVM's kernel thread %s out of cgroup %s",
					pid, cg->path);
		if (cg->v2_dir) {
			/* The unified mount is v2_dir without the cgroup's path. */
			char root[PATH_MAX];
			size_t dl = strlen(cg->v2_dir), pl = strlen(cg->path);
			if (dl >= pl && dl - pl < sizeof(root)) {
				memcpy(root, cg->v2_dir, dl - pl);
				root[dl - pl] = '\0';
				if (cgroup_file_write(root, "cgroup.procs", pid) < 0)
					return husk_error_set(
						err, errno,
						"move KVM's kernel thread %s out of cgroup %s", pid,
						cg->path);
			}
		}
	}
	return 0;
}

static int cgroupfs_pids(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err)
{
	if (cgroupfs_pids_all(cg, pids, n, err) < 0)
		return -1;
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++)
		if (!is_kthread((*pids)[i]))
			(*pids)[kept++] = (*pids)[i];
	*n = kept;
	return 0;
}

static int cgroupfs_pids_all(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err)
{
	*pids = NULL;
	*n = 0;
	for (int i = 0; i < C_N; i++) {
		if (!cg->c[i].present)
			continue;
		cleanup_free char *name = strdup(cg->name), *ctrl = strdup(cgroup_ctrl_names[i]);
		int size = 0;
		if (!name || !ctrl)
			return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
		if (!cgroup_file_exists(cg->c[i].dir, NULL))
			continue; /* not (or no longer) in this hierarchy */
		int ret = cgroup_get_procs(name, ctrl, pids, &size);
		if (ret != 0) {
			*pids = NULL;
			return cgroup_lib_fail(err, ret, "processes of cgroup %s", cg->path);
		}
		*n = (size_t)size;
		return 0;
	}
	if (!cg->v2_dir)
		return husk_error_set(err, ENOENT, "cgroup %s", cg->path);
	/* The unified directory alone (no controllers): read it here. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/cgroup.procs", cg->v2_dir);
	cleanup_file FILE *f = fopen(p, "re");
	if (!f)
		return husk_error_set(err, errno, "processes of cgroup %s", cg->path);
	size_t cap = 0;
	int pid;
	while (fscanf(f, "%d", &pid) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			pid_t *np = realloc(*pids, cap * sizeof(**pids));
			if (!np) {
				free(*pids);
				*pids = NULL;
				*n = 0;
				return husk_error_set(err, ENOMEM, "processes of cgroup %s",
						      cg->path);
			}
			*pids = np;
		}
		(*pids)[(*n)++] = pid;
	}
	return 0;
}

/* ---- freezing ---- */

static int cgroupfs_is_frozen(struct cgroup_handle *cg, bool *frozen, husk_error_t *err)
{
	char buf[512];

	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2) {
		if (cgroup_value_read(cg, C_FREEZER, "freezer.state", buf, sizeof(buf), err) < 0)
			return -1;
		*frozen = strcmp(buf, "FROZEN") == 0;
		return 0;
	}
	if (!cg->v2_dir)
		return husk_error_set(err, 0, "cgroup %s: no freezer on this host", cg->path);
	/* cgroup.events is core v2, outside any controller: libcgroup 2.0.2
	 * cannot name it. "frozen 1" once every task has stopped. */
	if (cgroup_file_read(cg->v2_dir, "cgroup.events", buf, sizeof(buf)) < 0)
		return husk_error_set(err, errno, "cgroup %s: cgroup.events", cg->path);
	*frozen = strstr(buf, "frozen 1") != NULL;
	return 0;
}

/* Asks for the state; v1 wants it asked again while tasks are FREEZING. */
static int request_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err)
{
	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2)
		return cgroup_value_set(cg, C_FREEZER, "freezer.state",
					frozen ? "FROZEN" : "THAWED", NULL, err);
	if (!cg->v2_dir)
		return husk_error_set(err, 0, "cgroup %s: no freezer on this host", cg->path);
	/* cgroup.freeze, like cgroup.events, is core v2 and out of
	 * libcgroup 2.0.2's reach. */
	if (cgroup_file_write(cg->v2_dir, "cgroup.freeze", frozen ? "1" : "0") < 0)
		return husk_error_set(err, errno, "cgroup %s: cgroup.freeze", cg->path);
	return 0;
}

static int cgroupfs_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err)
{
	uint64_t deadline = cgroup_now_ms() + SETTLE_TIMEOUT_MS;
	unsigned wait = 1;
	bool now;

	for (;;) {
		if (request_freeze(cg, frozen, err) < 0 || cgroupfs_is_frozen(cg, &now, err) < 0)
			return husk_error_wrap(err, "%s", frozen ? "freeze" : "thaw");
		if (now == frozen)
			return 0;
		if (cgroup_now_ms() > deadline)
			break;
		cgroup_sleep_ms(wait);
		if (wait < 50)
			wait *= 2;
	}
	if (frozen) {
		/* Half frozen helps nobody: back to running. */
		husk_error_t ignored cleanup_error = NULL;
		request_freeze(cg, false, &ignored);
	}
	return husk_error_set(err, ETIMEDOUT, "%s cgroup %s", frozen ? "freeze" : "thaw", cg->path);
}

/* ---- destroy ---- */

static int kill_all(struct cgroup_handle *cg, bool *empty, husk_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n;

	if (cgroupfs_pids(cg, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			return husk_error_set(err, errno, "kill process %d of cgroup %s",
					      (int)pids[i], cg->path);
	*empty = n == 0;
	return 0;
}

static int cgroupfs_destroy(struct cgroup_handle *cg, husk_error_t *err)
{
	bool empty = false, can_freeze;

	if (!cgroup_exists_anywhere(cg))
		return 0;
	can_freeze = (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2 &&
		      cgroup_file_exists(cg->c[C_FREEZER].dir, NULL)) ||
		     (cg->v2_dir && cgroup_file_exists(cg->v2_dir, "cgroup.freeze"));
	/* Frozen, nothing can fork past the kills; then thawed, because a
	 * task frozen by v1's freezer does not die until it runs again. A
	 * freezer that fails is no reason to leave the cgroup behind. */
	if (can_freeze) {
		husk_error_t ignored cleanup_error = NULL;
		cgroupfs_freeze(cg, true, &ignored);
	}
	int r = kill_all(cg, &empty, err);
	if (can_freeze) {
		husk_error_t thaw_err cleanup_error = NULL;
		if (cgroupfs_freeze(cg, false, &thaw_err) < 0 && r == 0) {
			*err = steal_pointer(&thaw_err);
			return husk_error_wrap(err, "destroy cgroup %s", cg->path);
		}
	}
	if (r < 0)
		return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	uint64_t deadline = cgroup_now_ms() + SETTLE_TIMEOUT_MS;
	while (!empty) {
		if (cgroup_now_ms() > deadline)
			return husk_error_set(err, ETIMEDOUT, "destroy cgroup %s: processes left",
					      cg->path);
		cgroup_sleep_ms(5);
		if (kill_all(cg, &empty, err) < 0)
			return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	}
	if (remove_dirs(cg, err) < 0)
		return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	return 0;
}

const struct cgroup_driver cgroup_driver_cgroupfs = {
	.name = "cgroupfs",
	.create = cgroupfs_create,
	.open = cgroupfs_open,
	.attach = cgroupfs_attach,
	.update = cgroupfs_update,
	.freeze = cgroupfs_freeze,
	.is_frozen = cgroupfs_is_frozen,
	.pids = cgroupfs_pids,
	.stats = cgroup_stats_read,
	.release_kthreads = cgroupfs_release_kthreads,
	.destroy = cgroupfs_destroy,
};
