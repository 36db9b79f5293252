/* `husk update`: new resource limits for the container's host cgroup and
 * for the guest's cgroup of the container, so that the container sees
 * them. The VM's size is fixed at create (no memory or vCPU hotplug):
 * a larger limit than the VM has is accepted and bounded by the VM, and a
 * cpuset moves the VMM to other host CPUs without changing the guest's
 * vCPUs. A paused guest cannot take the update (its agent is frozen): the
 * host cgroup changes at once and the guest's part waits in the state
 * directory for resume. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/control.h"
#include "base/fileio.h"
#include "oci/config.h"
#include "runtime/container.h"

static const struct cli_flag update_flags[] = {
	{ "resources", 'r', true,
	  "path to the file containing the resources to update or '-' to read from the standard input" },
	{ "memory", 0, true, "Memory limit (in bytes)" },
	{ "memory-swap", 0, true,
	  "Total memory usage (memory + swap); set '-1' to enable unlimited swap" },
	{ "memory-reservation", 0, true,
	  "Memory reservation or soft_limit (in bytes; not supported)" },
	{ "cpu-period", 0, true,
	  "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default" },
	{ "cpu-quota", 0, true,
	  "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period" },
	{ "cpu-share", 0, true, "CPU shares (relative weight vs. other containers)" },
	{ "pids-limit", 0, true, "Maximum number of pids allowed in the container" },
	{ "blkio-weight", 0, true, "not supported by husk" },
	{ "cpuset-cpus", 0, true,
	  "CPU(s) to use (the VMM's host CPUs; the guest keeps its vCPUs)" },
	{ "cpuset-mems", 0, true, "Memory node(s) to use" },
	{ "cpu-rt-period", 0, true, "not supported by husk" },
	{ "cpu-rt-runtime", 0, true, "not supported by husk" },
	{ "l3-cache-schema", 0, true, "not supported by husk" },
	{ "mem-bw-schema", 0, true, "not supported by husk" },
	{ NULL },
};

const struct cli_command cmd_update_cli = {
	.name = "update",
	.summary = "update container resource constraints",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
	.flags = update_flags,
};

/* A byte count with runc's optional unit suffix (k, m, g, t; b optional). */
static int parse_bytes(const char *flag, const char *s, int64_t *out, husk_error_t *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s)
		goto bad;
	int shift = 0;
	if (*end) {
		const char *units = "kmgt", *u = strchr(units, tolower((unsigned char)*end));
		if (!u)
			goto bad;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end || v < 0)
			goto bad;
	}
	if (v > (INT64_MAX >> shift))
		goto bad;
	*out = v < 0 ? v : (int64_t)((uint64_t)v << shift);
	return 0;
bad:
	return husk_error_set(err, 0, "invalid value for %s: %s", flag, s);
}

static int parse_num(const char *flag, const char *s, int64_t min, int64_t *out, husk_error_t *err)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return husk_error_set(err, 0, "invalid value for %s: %s", flag, s);
	*out = v;
	return 0;
}

static int cpuset_flag(const char *flag, const char *v, char out[OCI_CPUSET_LIST_MAX],
		       unsigned *count, husk_error_t *err)
{
	if (strlen(v) >= OCI_CPUSET_LIST_MAX)
		return husk_error_set(err, 0, "invalid value for %s: longer than %d characters",
				      flag, OCI_CPUSET_LIST_MAX - 1);
	if (oci_cpuset_list_parse(v, flag, count, err) < 0)
		return -1;
	strcpy(out, v);
	return 0;
}

/* The guest's share of R: its cgroup of the container gets the limits (a
 * cpuset names host CPUs, which mean nothing in the guest). Lets go of C's
 * lock once connected: the wait for the guest must not keep kill, delete,
 * state or ps waiting, so nothing may need the lock after this. */
static int send_update(struct container *c, const struct oci_resources *r, husk_error_t *err)
{
	int timeout_ms;
	cleanup_free char *json = oci_resources_to_json(r);
	if (!json)
		return husk_error_set(err, ENOMEM, "update");
	if (control_timeout(CONTROL_REPLY_TIMEOUT_ENV, CONTROL_REPLY_TIMEOUT_S, &timeout_ms, err) <
	    0)
		return -1;
	cleanup_close int fd = control_connect(c, err);
	if (fd < 0)
		return -1;
	container_unlock(c);
	return control_call(fd, AGENT_UPDATE, json, strlen(json), AGENT_UPDATED, NULL, NULL,
			    timeout_ms, err);
}

/* The queued guest update, or an empty one; -1 only for a broken file. */
static int read_pending(const struct container *c, struct oci_resources *r, husk_error_t *err)
{
	char path[PATH_MAX + 32];
	size_t len;

	*r = (struct oci_resources){ 0 };
	snprintf(path, sizeof(path), "%s/" UPDATE_PENDING_FILE, c->dir);
	if (faccessat(c->dirfd, UPDATE_PENDING_FILE, F_OK, 0) < 0)
		return 0;
	cleanup_free char *text = read_whole(path, 1u << 20, &len, err);
	if (!text || oci_resources_parse(text, len, r, err) < 0)
		return husk_error_wrap(err, "queued update %s", path);
	return 0;
}

/* Later values win, field by field, as two updates applied in turn. */
static void merge_resources(struct oci_resources *into, const struct oci_resources *r)
{
#define TAKE(flag, field)               \
	if (r->flag) {                  \
		into->flag = true;      \
		into->field = r->field; \
	}
	TAKE(has_memory_limit, memory_limit);
	TAKE(has_memory_swap, memory_swap);
	TAKE(has_cpu_quota, cpu_quota);
	TAKE(has_cpu_period, cpu_period);
	TAKE(has_cpu_shares, cpu_shares);
	TAKE(has_pids_limit, pids_limit);
#undef TAKE
}

static int queue_update(const struct container *c, const struct oci_resources *r, husk_error_t *err)
{
	struct oci_resources q;
	if (read_pending(c, &q, err) < 0)
		return -1;
	merge_resources(&q, r);
	cleanup_free char *json = oci_resources_to_json(&q);
	if (!json)
		return husk_error_set(err, ENOMEM, "update");
	cleanup_close int fd = openat(c->dirfd, UPDATE_PENDING_FILE ".tmp",
				      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, json, strlen(json)) < 0 || fsync(fd) < 0 ||
	    renameat(c->dirfd, UPDATE_PENDING_FILE ".tmp", c->dirfd, UPDATE_PENDING_FILE) < 0)
		return husk_error_set(err, errno, "queue the update in %s/" UPDATE_PENDING_FILE,
				      c->dir);
	return 0;
}

int update_apply_pending(struct container *c, husk_error_t *err)
{
	struct oci_resources q;
	if (faccessat(c->dirfd, UPDATE_PENDING_FILE, F_OK, 0) < 0)
		return 0;
	int rc = read_pending(c, &q, err);
	/* Once tried, it is gone either way: a failure is reported now, and
	 * the next resume must not replay it. */
	unlinkat(c->dirfd, UPDATE_PENDING_FILE, 0);
	if (rc == 0)
		rc = send_update(c, &q, err);
	if (rc < 0)
		return husk_error_wrap(err, "resumed, but the update queued while paused failed");
	return 0;
}

int cmd_update(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int64_t v;
	int rc = cli_parse_command(&cmd_update_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
#define V(n) cli_value(&cmd_update_cli, &a, n)
	static const char *const unsupported[] = { "memory-reservation", "blkio-weight",
						   "cpu-rt-period",	 "cpu-rt-runtime",
						   "l3-cache-schema",	 "mem-bw-schema" };
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (V(unsupported[i]))
			return husk_error_set(err, 0, "--%s: not yet supported by husk",
					      unsupported[i]);
	struct oci_resources r = { 0 };
	if (V("resources")) {
		size_t len;
		cleanup_free char *text = read_whole(V("resources"), 1u << 20, &len, err);
		if (!text)
			return -1;
		if (oci_resources_parse(text, len, &r, err) < 0)
			return husk_error_wrap(err, "%s", V("resources"));
	}
	if (V("memory")) {
		if (parse_bytes("--memory", V("memory"), &r.memory_limit, err) < 0)
			return -1;
		r.has_memory_limit = true;
	}
	if (V("memory-swap")) {
		if (parse_bytes("--memory-swap", V("memory-swap"), &r.memory_swap, err) < 0)
			return -1;
		r.has_memory_swap = true;
	}
	if (V("cpu-period")) {
		if (parse_num("--cpu-period", V("cpu-period"), 0, &v, err) < 0)
			return -1;
		r.cpu_period = (uint64_t)v, r.has_cpu_period = true;
	}
	if (V("cpu-quota")) {
		if (parse_num("--cpu-quota", V("cpu-quota"), -1, &r.cpu_quota, err) < 0)
			return -1;
		r.has_cpu_quota = true;
	}
	if (V("cpu-share")) {
		if (parse_num("--cpu-share", V("cpu-share"), 0, &v, err) < 0)
			return -1;
		r.cpu_shares = (uint64_t)v, r.has_cpu_shares = true;
	}
	if (V("cpuset-cpus")) {
		if (cpuset_flag("--cpuset-cpus", V("cpuset-cpus"), r.cpuset_cpus, &r.cpuset_ncpus,
				err) < 0)
			return -1;
		r.has_cpuset_cpus = true;
	}
	if (V("cpuset-mems")) {
		unsigned n;
		if (cpuset_flag("--cpuset-mems", V("cpuset-mems"), r.cpuset_mems, &n, err) < 0)
			return -1;
		r.has_cpuset_mems = true;
	}
	if (V("pids-limit")) {
		if (parse_num("--pids-limit", V("pids-limit"), INT64_MIN, &r.pids_limit, err) < 0)
			return -1;
		r.has_pids_limit = true;
	}
#undef V
	if (container_load(g->root, a.argv[0], true, &c, err) < 0)
		return -1;
	enum container_status s = container_status(c, &pid);
	if (s == CONTAINER_STOPPED) {
		rc = husk_error_set(err, 0, "container not running");
	} else if (c->rec->cgroup_path[0]) {
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
		rc = cg ? cgroup_update(cg, &r, err) : -1;
		cgroup_handle_free(cg);
	}
	if (rc == 0 && s == CONTAINER_PAUSED)
		rc = queue_update(c, &r, err);
	else if (rc == 0)
		rc = send_update(c, &r, err);
	container_free(c);
	return rc;
}
