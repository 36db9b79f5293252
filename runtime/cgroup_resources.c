/* linux.resources on the host cgroup (memory and swap, cpu, cpuset, pids),
 * with v1's and v2's files and runc's conversions between them, and the
 * stats read back from the same controllers for `events --stats`. Apart
 * from the driver: the values are the kernel's files whichever driver
 * made the cgroup. */
#include "runtime/cgroup.h"

#include <errno.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cgroup_internal.h"

#define RES "linux.resources"

/* A counter or limit: "max" (v2) reads as UINT64_MAX. */
static int read_u64(struct cgroup_handle *cg, enum ctrl c, const char *file, uint64_t *v,
		    husk_error_t *err)
{
	char buf[64];

	if (cgroup_value_read(cg, c, file, buf, sizeof(buf), err) < 0)
		return -1;
	if (strcmp(buf, "max") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return husk_error_set(err, 0, "%s of cgroup %s: not a number: \"%s\"", file,
				      cg->path, buf);
	return 0;
}

/* Like read_u64, for files a host may not have: 0 when absent. */
static void read_u64_opt(struct cgroup_handle *cg, enum ctrl c, const char *file, uint64_t *v)
{
	husk_error_t err cleanup_error = NULL;

	if (!cg->c[c].present || !cgroup_file_exists(cg->c[c].dir, file) ||
	    read_u64(cg, c, file, v, &err) < 0)
		*v = 0;
}

/* ---- resources ---- */

static int need(struct cgroup_handle *cg, enum ctrl c, const char *field, husk_error_t *err)
{
	if (cg->c[c].present)
		return 0;
	if (!cg->c[c].mount)
		return husk_error_set(err, 0,
				      "%s: the %s cgroup controller is not available on this host",
				      field, cgroup_ctrl_names[c]);
	return husk_error_set(err, 0,
			      "%s: the %s cgroup controller is not enabled for %s (its parent's "
			      "cgroup.subtree_control)",
			      field, cgroup_ctrl_names[c], cg->path);
}

/* Which controllers RES needs, checked before anything is created. */
int cgroup_resources_check(struct cgroup_handle *cg, const struct oci_resources *r,
			   husk_error_t *err)
{
	if (r->has_memory_limit && need(cg, C_MEMORY, RES ".memory.limit", err) < 0)
		return -1;
	if (r->has_memory_swap && need(cg, C_MEMORY, RES ".memory.swap", err) < 0)
		return -1;
	if (r->has_cpu_quota && need(cg, C_CPU, RES ".cpu.quota", err) < 0)
		return -1;
	if (r->has_cpu_period && need(cg, C_CPU, RES ".cpu.period", err) < 0)
		return -1;
	if (r->has_cpu_shares && need(cg, C_CPU, RES ".cpu.shares", err) < 0)
		return -1;
	if (r->has_pids_limit && need(cg, C_PIDS, RES ".pids.limit", err) < 0)
		return -1;
	if (r->has_cpuset_cpus && need(cg, C_CPUSET, RES ".cpu.cpus", err) < 0)
		return -1;
	if (r->has_cpuset_mems && need(cg, C_CPUSET, RES ".cpu.mems", err) < 0)
		return -1;
	return 0;
}

static void fmt_limit(char *buf, size_t size, int64_t v, bool v2)
{
	if (v < 0)
		snprintf(buf, size, "%s", v2 ? "max" : "-1");
	else
		snprintf(buf, size, "%" PRId64, v);
}

static int set_memory_v2(struct cgroup_handle *cg, const struct oci_resources *r, husk_error_t *err)
{
	char v[32];

	if (r->has_memory_limit) {
		fmt_limit(v, sizeof(v), r->memory_limit, true);
		if (cgroup_value_set(cg, C_MEMORY, "memory.max", v, RES ".memory.limit", err) < 0)
			return -1;
	}
	/* v1's memsw limit counts memory and swap together; v2's swap.max
	 * counts swap alone, so it gets the difference, as runc converts. An
	 * unlimited memory without a swap value means unlimited both. */
	bool swap_max = (r->has_memory_swap && r->memory_swap == -1) ||
			(!r->has_memory_swap && r->has_memory_limit && r->memory_limit == -1);
	if (!swap_max && !(r->has_memory_swap && r->memory_swap > 0))
		return 0;
	if (!cgroup_file_exists(cg->c[C_MEMORY].dir, "memory.swap.max")) {
		if (!r->has_memory_swap)
			return 0; /* only implied, and there is no swap accounting */
		return husk_error_set(
			err, 0,
			RES ".memory.swap: this host does not account swap (no memory.swap.max)");
	}
	if (swap_max)
		return cgroup_value_set(cg, C_MEMORY, "memory.swap.max", "max", RES ".memory.swap",
					err);
	if (!r->has_memory_limit || r->memory_limit <= 0)
		return husk_error_set(err, 0, RES ".memory.swap: needs " RES ".memory.limit");
	if (r->memory_swap < r->memory_limit)
		return husk_error_set(err, 0,
				      RES ".memory.swap: %" PRId64 " is below " RES
					  ".memory.limit %" PRId64
					  " (it counts memory and swap together)",
				      r->memory_swap, r->memory_limit);
	snprintf(v, sizeof(v), "%" PRId64, r->memory_swap - r->memory_limit);
	return cgroup_value_set(cg, C_MEMORY, "memory.swap.max", v, RES ".memory.swap", err);
}

static int set_memory_v1(struct cgroup_handle *cg, const struct oci_resources *r, husk_error_t *err)
{
	char lim[32], sw[32];
	bool memsw = cgroup_file_exists(cg->c[C_MEMORY].dir, "memory.memsw.limit_in_bytes");
	bool has_swap = r->has_memory_swap;
	int64_t swap = r->memory_swap;

	/* Unlimited memory, swap not given: unlimited memsw too, or the
	 * kernel refuses a limit above memsw. */
	if (!has_swap && r->has_memory_limit && r->memory_limit == -1 && memsw) {
		has_swap = true;
		swap = -1;
	}
	if (has_swap && !memsw)
		return husk_error_set(err, 0,
				      RES ".memory.swap: this host does not account swap (no "
					  "memory.memsw.limit_in_bytes)");
	fmt_limit(lim, sizeof(lim), r->memory_limit, false);
	fmt_limit(sw, sizeof(sw), swap, false);
	/* The kernel keeps limit <= memsw at every step, so the order of the
	 * two writes depends on where the limit moves: memsw first when it
	 * grows past the current limit. */
	bool swap_first = false;
	if (has_swap && r->has_memory_limit) {
		uint64_t cur;
		if (read_u64(cg, C_MEMORY, "memory.limit_in_bytes", &cur, err) < 0)
			return -1;
		swap_first = swap == -1 || cur < (uint64_t)swap;
	}
	if (swap_first && cgroup_value_set(cg, C_MEMORY, "memory.memsw.limit_in_bytes", sw,
					   RES ".memory.swap", err) < 0)
		return -1;
	if (r->has_memory_limit && cgroup_value_set(cg, C_MEMORY, "memory.limit_in_bytes", lim,
						    RES ".memory.limit", err) < 0)
		return -1;
	if (has_swap && !swap_first &&
	    cgroup_value_set(cg, C_MEMORY, "memory.memsw.limit_in_bytes", sw, RES ".memory.swap",
			     err) < 0)
		return -1;
	return 0;
}

/* runc's conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000]. */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int set_cpu_v2(struct cgroup_handle *cg, const struct oci_resources *r, husk_error_t *err)
{
	char v[64];
	bool quota = r->has_cpu_quota && r->cpu_quota != 0;
	bool period = r->has_cpu_period && r->cpu_period != 0;

	if (quota || period) {
		/* cpu.max is "QUOTA PERIOD"; keep the half not given. */
		char cur[64] = "max";
		if (!quota && cgroup_value_read(cg, C_CPU, "cpu.max", cur, sizeof(cur), err) < 0)
			return -1;
		cur[strcspn(cur, " ")] = '\0';
		char q[32];
		if (quota)
			fmt_limit(q, sizeof(q), r->cpu_quota, true);
		else
			snprintf(q, sizeof(q), "%s", cur);
		if (period)
			snprintf(v, sizeof(v), "%s %" PRIu64, q, r->cpu_period);
		else
			snprintf(v, sizeof(v), "%s", q);
		if (cgroup_value_set(cg, C_CPU, "cpu.max", v,
				     quota ? RES ".cpu.quota" : RES ".cpu.period", err) < 0)
			return -1;
	}
	if (r->has_cpu_shares && r->cpu_shares != 0) {
		snprintf(v, sizeof(v), "%" PRIu64, shares_to_weight(r->cpu_shares));
		if (cgroup_value_set(cg, C_CPU, "cpu.weight", v, RES ".cpu.shares", err) < 0)
			return -1;
	}
	return 0;
}

static int set_cpu_v1(struct cgroup_handle *cg, const struct oci_resources *r, husk_error_t *err)
{
	char q[32], p[32];
	bool quota = r->has_cpu_quota && r->cpu_quota != 0;
	bool period = r->has_cpu_period && r->cpu_period != 0;

	fmt_limit(q, sizeof(q), r->cpu_quota, false);
	snprintf(p, sizeof(p), "%" PRIu64, r->cpu_period);
	if (period &&
	    cgroup_value_set(cg, C_CPU, "cpu.cfs_period_us", p, RES ".cpu.period", err) < 0) {
		/* A period the current quota does not fit (EINVAL): the
		 * other order works. */
		if (!quota || (*err)->errnum != EINVAL)
			return -1;
		husk_error_release(err);
		if (cgroup_value_set(cg, C_CPU, "cpu.cfs_quota_us", q, RES ".cpu.quota", err) < 0 ||
		    cgroup_value_set(cg, C_CPU, "cpu.cfs_period_us", p, RES ".cpu.period", err) < 0)
			return -1;
		quota = false;
	}
	if (quota && cgroup_value_set(cg, C_CPU, "cpu.cfs_quota_us", q, RES ".cpu.quota", err) < 0)
		return -1;
	if (r->has_cpu_shares && r->cpu_shares != 0) {
		snprintf(q, sizeof(q), "%" PRIu64, r->cpu_shares);
		if (cgroup_value_set(cg, C_CPU, "cpu.shares", q, RES ".cpu.shares", err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_resources_apply(struct cgroup_handle *cg, const struct oci_resources *r,
			   husk_error_t *err)
{
	if (cgroup_resources_check(cg, r, err) < 0)
		return -1;
	if (r->has_memory_limit || r->has_memory_swap) {
		int ret = cg->c[C_MEMORY].v2 ? set_memory_v2(cg, r, err)
					     : set_memory_v1(cg, r, err);
		if (ret < 0)
			return -1;
	}
	if (r->has_cpu_quota || r->has_cpu_period || r->has_cpu_shares) {
		int ret = cg->c[C_CPU].v2 ? set_cpu_v2(cg, r, err) : set_cpu_v1(cg, r, err);
		if (ret < 0)
			return -1;
	}
	/* Both files have one name on v1 and v2; the kernel checks the list
	 * against the parent's (EINVAL for a CPU the parent lacks). */
	if (r->has_cpuset_cpus &&
	    cgroup_value_set(cg, C_CPUSET, "cpuset.cpus", r->cpuset_cpus, RES ".cpu.cpus", err) < 0)
		return -1;
	if (r->has_cpuset_mems &&
	    cgroup_value_set(cg, C_CPUSET, "cpuset.mems", r->cpuset_mems, RES ".cpu.mems", err) < 0)
		return -1;
	/* 0 leaves the limit as it is (runc's reading); below 0 lifts it. */
	if (r->has_pids_limit && r->pids_limit != 0) {
		char v[32] = "max"; /* v1's pids.max says "max" too */
		if (r->pids_limit > 0)
			snprintf(v, sizeof(v), "%" PRId64, r->pids_limit);
		if (cgroup_value_set(cg, C_PIDS, "pids.max", v, RES ".pids.limit", err) < 0)
			return -1;
	}
	return 0;
}

/* ---- stats ---- */

/* Fills from "key value" lines of controller C's FILE (a .stat file). */
static void read_stats(struct cgroup_handle *cg, enum ctrl c, const char *file,
		       void (*fn)(struct cgroup_stats *, const char *, uint64_t),
		       struct cgroup_stats *st)
{
	struct cgroup_stat s;
	void *h = NULL;

	if (!cg->c[c].present || !cgroup_file_exists(cg->c[c].dir, file))
		return;
	/* libcgroup reads "<controller>.stat"; FILE must be that name. */
	int ret = cgroup_read_stats_begin(cgroup_ctrl_names[c], cg->name, &h, &s);
	while (ret == 0) {
		fn(st, s.name, strtoull(s.value, NULL, 10));
		ret = cgroup_read_stats_next(&h, &s);
	}
	if (h)
		cgroup_read_stats_end(&h);
}

static void cpu_stat_v2(struct cgroup_stats *st, const char *k, uint64_t v)
{
	if (strcmp(k, "usage_usec") == 0)
		st->cpu_usage_ns = v * 1000;
	else if (strcmp(k, "user_usec") == 0)
		st->cpu_user_ns = v * 1000;
	else if (strcmp(k, "system_usec") == 0)
		st->cpu_system_ns = v * 1000;
	else if (strcmp(k, "nr_periods") == 0)
		st->cpu_periods = v;
	else if (strcmp(k, "nr_throttled") == 0)
		st->cpu_throttled_periods = v;
	else if (strcmp(k, "throttled_usec") == 0)
		st->cpu_throttled_ns = v * 1000;
}

static void cpu_stat_v1(struct cgroup_stats *st, const char *k, uint64_t v)
{
	if (strcmp(k, "nr_periods") == 0)
		st->cpu_periods = v;
	else if (strcmp(k, "nr_throttled") == 0)
		st->cpu_throttled_periods = v;
	else if (strcmp(k, "throttled_time") == 0)
		st->cpu_throttled_ns = v;
}

static void cpuacct_stat(struct cgroup_stats *st, const char *k, uint64_t v)
{
	/* USER_HZ ticks. */
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t ns = hz > 0 ? v * (1000000000ULL / (uint64_t)hz) : 0;

	if (strcmp(k, "user") == 0)
		st->cpu_user_ns = ns;
	else if (strcmp(k, "system") == 0)
		st->cpu_system_ns = ns;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* memory.events' "max": how often usage hit the limit (v2's failcnt). */
static void memory_events(struct cgroup_handle *cg, struct cgroup_stats *st)
{
	char buf[1024];

	if (!cg->c[C_MEMORY].present ||
	    cgroup_file_read(cg->c[C_MEMORY].dir, "memory.events", buf, sizeof(buf)) < 0)
		return;
	for (char *s = NULL, *line = strtok_r(buf, "\n", &s); line; line = strtok_r(NULL, "\n", &s))
		if (strncmp(line, "max ", 4) == 0)
			st->memory_failcnt = strtoull(line + 4, NULL, 10);
}

int cgroup_stats_read(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err)
{
	*st = (struct cgroup_stats){ 0 };
	if (!cgroup_exists_anywhere(cg))
		return husk_error_set(err, ENOENT, "cgroup %s", cg->path);
	if (cg->c[C_MEMORY].v2) {
		uint64_t swap = 0, swap_max = 0;
		read_u64_opt(cg, C_MEMORY, "memory.current", &st->memory_usage);
		read_u64_opt(cg, C_MEMORY, "memory.max", &st->memory_limit);
		read_u64_opt(cg, C_MEMORY, "memory.peak", &st->memory_max_usage);
		read_u64_opt(cg, C_MEMORY, "memory.swap.current", &swap);
		read_u64_opt(cg, C_MEMORY, "memory.swap.max", &swap_max);
		memory_events(cg, st);
		st->swap_usage = sat_add(st->memory_usage, swap);
		st->swap_limit = sat_add(st->memory_limit, swap_max);
	} else {
		read_u64_opt(cg, C_MEMORY, "memory.usage_in_bytes", &st->memory_usage);
		read_u64_opt(cg, C_MEMORY, "memory.limit_in_bytes", &st->memory_limit);
		read_u64_opt(cg, C_MEMORY, "memory.max_usage_in_bytes", &st->memory_max_usage);
		read_u64_opt(cg, C_MEMORY, "memory.failcnt", &st->memory_failcnt);
		read_u64_opt(cg, C_MEMORY, "memory.memsw.usage_in_bytes", &st->swap_usage);
		read_u64_opt(cg, C_MEMORY, "memory.memsw.limit_in_bytes", &st->swap_limit);
	}
	if (cg->c[C_CPU].v2) {
		read_stats(cg, C_CPU, "cpu.stat", cpu_stat_v2, st);
	} else {
		read_stats(cg, C_CPU, "cpu.stat", cpu_stat_v1, st);
		read_u64_opt(cg, C_CPUACCT, "cpuacct.usage", &st->cpu_usage_ns);
		read_stats(cg, C_CPUACCT, "cpuacct.stat", cpuacct_stat, st);
	}
	if (!cg->c[C_CPU].present && cg->v2_dir) {
		/* cpu.stat's usage lines are core v2, there without the cpu
		 * controller; libcgroup only reads files of a controller. */
		char buf[1024];
		if (cgroup_file_read(cg->v2_dir, "cpu.stat", buf, sizeof(buf)) >= 0)
			for (char *s = NULL, *line = strtok_r(buf, "\n", &s); line;
			     line = strtok_r(NULL, "\n", &s)) {
				char *sp = strchr(line, ' ');
				if (!sp)
					continue;
				*sp = '\0';
				cpu_stat_v2(st, line, strtoull(sp + 1, NULL, 10));
			}
	}
	read_u64_opt(cg, C_PIDS, "pids.current", &st->pids_current);
	read_u64_opt(cg, C_PIDS, "pids.max", &st->pids_limit);
	if (st->pids_limit == UINT64_MAX)
		st->pids_limit = 0; /* runc's "no limit" */
	return 0;
}
