#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libcgroup.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/host.h"

#define CG_ROOT "/sys/fs/cgroup"
#define FIELD "linux.cgroupsPath"
#define RES "linux.resources"

/* How long freeze/thaw and the emptying of a cgroup may take. */
#define SETTLE_TIMEOUT_MS 10000

/* The controllers husk uses, by libcgroup's names. */
enum ctrl { C_MEMORY, C_CPU, C_CPUACCT, C_CPUSET, C_PIDS, C_FREEZER, C_DEVICES, C_N };
static const char *const ctrl_names[C_N] = {
	[C_MEMORY] = "memory", [C_CPU] = "cpu",		[C_CPUACCT] = "cpuacct",
	[C_CPUSET] = "cpuset", [C_PIDS] = "pids",	[C_FREEZER] = "freezer",
	[C_DEVICES] = "devices",
};

struct ctrl_state {
	bool present; /* usable for this cgroup */
	bool v2;      /* on the cgroup2 mount */
	char *mount;  /* where its hierarchy is mounted */
	char *dir;    /* mount + path */
};

struct cgroup_handle {
	char *path;	  /* "/husk/id" */
	const char *name; /* path without its '/': libcgroup's name for it */
	struct ctrl_state c[C_N];
	char *v2_dir; /* the unified directory, when one is in use */
	bool devices_confined;
	bool created;   /* create made it: it existed in no hierarchy before */
	unsigned flags; /* CGROUP_*, from create */
};

/* The devices the VMM opens; everything else is denied. All "rwm". */
static const struct dev_rule {
	char type; /* 'c' */
	unsigned major;
	int minor;	   /* -1: any */
	unsigned only_for; /* CGROUP_* flag the rule needs, or 0 */
} dev_rules[] = {
	{ 'c', 10, 232, 0 },		    /* /dev/kvm */
	{ 'c', 10, 200, CGROUP_ALLOW_TUN }, /* /dev/net/tun */
	{ 'c', 1, 3, 0 },		    /* /dev/null */
	{ 'c', 1, 5, 0 },		    /* /dev/zero */
	{ 'c', 1, 7, 0 },		    /* /dev/full */
	{ 'c', 1, 8, 0 },		    /* /dev/random */
	{ 'c', 1, 9, 0 },		    /* /dev/urandom */
	{ 'c', 5, 0, 0 },		    /* /dev/tty */
	{ 'c', 5, 2, 0 },		    /* /dev/ptmx */
	{ 'c', 136, -1, 0 },		    /* /dev/pts/N */
};
#define NDEV_RULES (sizeof(dev_rules) / sizeof(dev_rules[0]))

/* ---- libcgroup plumbing ---- */

/* A libcgroup return code as an error: ECGOTHER carries the errno. */
static int lib_fail(husk_error_t *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int lib_fail(husk_error_t *err, int ret, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ret == ECGOTHER)
		return husk_error_set(err, cgroup_get_last_errno(), "%s", msg);
	return husk_error_set(err, 0, "%s: %s", msg, cgroup_strerror(ret));
}

static int lib_init(husk_error_t *err)
{
	static bool done;
	static int ret;

	/* libcgroup reads the mount table once; husk is one short-lived
	 * command, so once per process is right. */
	if (!done) {
		ret = cgroup_init();
		done = true;
	}
	if (ret != 0)
		return lib_fail(err, ret, "libcgroup");
	return 0;
}

static void lib_cgroup_freep(struct cgroup **cg)
{
	if (*cg)
		cgroup_free(cg);
}
#define cleanup_libcg __attribute__((cleanup(lib_cgroup_freep)))

/* ---- small file helpers ---- */

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static bool path_exists(const char *dir, const char *file)
{
	char p[PATH_MAX];
	struct stat st;

	if (file)
		snprintf(p, sizeof(p), "%s/%s", dir, file);
	else
		snprintf(p, sizeof(p), "%s", dir);
	return stat(p, &st) == 0;
}

/* Reads DIR/FILE whole into BUF, NUL-terminated. -1 with errno. */
static ssize_t read_small(const char *dir, const char *file, char *buf, size_t size)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Writes VALUE to DIR/FILE in one write(2), as cgroup files want. */
static int write_direct(const char *dir, const char *file, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(value);
	ssize_t r = write(fd, value, len);
	if (r < 0)
		return -1;
	if ((size_t)r != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Whether WORD is one of the blank-separated words of LIST. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- resolving linux.cgroupsPath ---- */

/* Appends "/COMP" to OUT (length *N), refusing "..". */
static int append_component(char *out, size_t outlen, size_t *n, const char *comp, size_t len,
			    const char *whole, husk_error_t *err)
{
	if (len == 0 || (len == 1 && comp[0] == '.'))
		return 0; /* "//" and "/./" mean nothing */
	if (len == 2 && comp[0] == '.' && comp[1] == '.')
		return husk_error_set(err, 0, FIELD ": \"%s\": \"..\" is not allowed", whole);
	if (*n + 1 + len >= outlen)
		return husk_error_set(err, ENAMETOOLONG, FIELD ": \"%s\"", whole);
	out[(*n)++] = '/';
	memcpy(out + *n, comp, len);
	*n += len;
	out[*n] = '\0';
	return 0;
}

static int append_path(char *out, size_t outlen, size_t *n, const char *path, const char *whole,
		       husk_error_t *err)
{
	const char *p = path;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (append_component(out, outlen, n, p, len, whole, err) < 0)
			return -1;
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Whether NAME is one of the comma-separated names in LIST. */
static bool in_csv(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

/* The parent of the cgroup this process is in, from /proc/self/cgroup:
 * the "0::" line on v2, the memory controller's line otherwise (one path
 * must serve every hierarchy; memory is the one whose limit matters most). */
static int own_parent(char *out, size_t outlen, husk_error_t *err)
{
	bool v2 = host_cgroup_mode(CG_ROOT) == CGROUP_MODE_V2;
	cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096], found[4096] = "";

	if (!f)
		return husk_error_set(err, errno, "/proc/self/cgroup");
	/* Lines are "hierarchy-id:controllers:path". */
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = *c2 = '\0';
		const char *ctrls = c1 + 1;
		if (v2 ? strcmp(line, "0") == 0 && !*ctrls : in_csv(ctrls, "memory")) {
			snprintf(found, sizeof(found), "%s", c2 + 1);
			break;
		}
	}
	char *slash = strrchr(found, '/');
	if (slash)
		*slash = '\0';
	if (strlen(found) >= outlen)
		return husk_error_set(err, ENAMETOOLONG, "own cgroup %s", found);
	strcpy(out, found);
	return 0;
}

/* "a-b-c.slice" to "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
static int expand_slice(const char *slice, char *out, size_t outlen, size_t *n, const char *whole,
			husk_error_t *err)
{
	size_t len = strlen(slice);
	const size_t suf = strlen(".slice");

	if (strcmp(slice, "-.slice") == 0)
		return 0;
	if (len <= suf || strcmp(slice + len - suf, ".slice") != 0 || strchr(slice, '/'))
		return husk_error_set(err, 0, FIELD ": \"%s\": invalid slice name \"%s\"", whole,
				      slice);
	size_t base = len - suf;
	if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
		return husk_error_set(err, 0, FIELD ": \"%s\": invalid slice name \"%s\"", whole,
				      slice);
	for (size_t i = 0; i <= base; i++) {
		if (i < base && slice[i] != '-')
			continue;
		char comp[NAME_MAX + 1];
		if (i + suf > NAME_MAX)
			return husk_error_set(err, ENAMETOOLONG, FIELD ": \"%s\"", whole);
		memcpy(comp, slice, i);
		strcpy(comp + i, ".slice");
		if (append_component(out, outlen, n, comp, strlen(comp), whole, err) < 0)
			return -1;
	}
	return 0;
}

static int resolve_systemd(const char *cp, char *out, size_t outlen, husk_error_t *err)
{
	const char *c1 = strchr(cp, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	size_t n = 0;
	char slice[NAME_MAX + 1], prefix[NAME_MAX + 1], unit[NAME_MAX + 1];

	if (!c2 || strchr(c2 + 1, ':'))
		return husk_error_set(
			err, 0,
			FIELD ": \"%s\": expected \"slice:prefix:name\" for systemd cgroups", cp);
	if ((size_t)(c1 - cp) > NAME_MAX || (size_t)(c2 - c1 - 1) > NAME_MAX)
		return husk_error_set(err, ENAMETOOLONG, FIELD ": \"%s\"", cp);
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - cp), cp);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	const char *name = c2 + 1;
	if (!*name || strchr(name, '/') || strchr(prefix, '/'))
		return husk_error_set(err, 0, FIELD ": \"%s\": invalid unit name", cp);
	out[0] = '\0';
	if (expand_slice(*slice ? slice : "system.slice", out, outlen, &n, cp, err) < 0)
		return -1;
	size_t nl = strlen(name);
	int w;
	if (nl > 6 && strcmp(name + nl - 6, ".slice") == 0)
		w = snprintf(unit, sizeof(unit), "%s", name);
	else if (*prefix)
		w = snprintf(unit, sizeof(unit), "%s-%s.scope", prefix, name);
	else
		w = snprintf(unit, sizeof(unit), "%s.scope", name);
	if (w < 0 || (size_t)w >= sizeof(unit))
		return husk_error_set(err, ENAMETOOLONG, FIELD ": \"%s\"", cp);
	return append_component(out, outlen, &n, unit, strlen(unit), cp, err);
}

int cgroup_resolve(const char *cgroups_path, const char *id, bool systemd, char *out, size_t outlen,
		   husk_error_t *err)
{
	char buf[PATH_MAX];
	const char *cp = cgroups_path ? cgroups_path : "";
	size_t n = 0;

	if (!id || !*id || strchr(id, '/'))
		return husk_error_set(err, 0, "container id \"%s\": not usable in a cgroup path",
				      id ? id : "");
	if (outlen < 2)
		return husk_error_set(err, ENAMETOOLONG, FIELD);
	out[0] = '\0';
	if (systemd) {
		if (!*cp) {
			snprintf(buf, sizeof(buf), "system.slice:husk:%s", id);
			cp = buf;
		}
		if (resolve_systemd(cp, out, outlen, err) < 0)
			return -1;
	} else if (!*cp) {
		if (append_component(out, outlen, &n, "husk", 4, cp, err) < 0 ||
		    append_path(out, outlen, &n, id, cp, err) < 0)
			return -1;
	} else {
		if (cp[0] != '/') {
			char parent[PATH_MAX];
			if (own_parent(parent, sizeof(parent), err) < 0)
				return husk_error_wrap(err, FIELD ": \"%s\"", cp);
			if (append_path(out, outlen, &n, parent, cp, err) < 0)
				return -1;
		}
		if (append_path(out, outlen, &n, cp, cp, err) < 0)
			return -1;
	}
	if (!out[0])
		return husk_error_set(err, 0,
				      FIELD ": \"%s\": the root cgroup cannot hold a container",
				      cgroups_path ? cgroups_path : "");
	return 0;
}

/* ---- the handle ---- */

static int check_path(const char *path, husk_error_t *err)
{
	char tmp[PATH_MAX];
	size_t n = 0;

	if (!path || path[0] != '/' || !path[1])
		return husk_error_set(err, 0,
				      "cgroup \"%s\": must be an absolute path below the root",
				      path ? path : "");
	if (append_path(tmp, sizeof(tmp), &n, path, path, err) < 0)
		return -1;
	if (strcmp(tmp, path) != 0)
		return husk_error_set(err, 0, "cgroup \"%s\": not a clean path", path);
	return 0;
}

void cgroup_handle_free(struct cgroup_handle *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < C_N; i++) {
		free(cg->c[i].mount);
		free(cg->c[i].dir);
	}
	free(cg->v2_dir);
	free(cg->path);
	free(cg);
}

const char *cgroup_path(const struct cgroup_handle *cg)
{
	return cg->path;
}

bool cgroup_devices_confined(const struct cgroup_handle *cg)
{
	return cg->devices_confined;
}

bool cgroup_created(const struct cgroup_handle *cg)
{
	return cg->created;
}

/* Where each controller is mounted, and the unified directory if any. On
 * return every mounted controller is marked present; create() and open()
 * narrow that on v2, where the parent decides what a cgroup gets. */
static struct cgroup_handle *handle_new(const char *path, husk_error_t *err)
{
	if (check_path(path, err) < 0 || lib_init(err) < 0)
		return NULL;
	struct cgroup_handle *cg = calloc(1, sizeof(*cg));
	if (!cg || !(cg->path = strdup(path))) {
		cgroup_handle_free(cg);
		husk_error_set(err, ENOMEM, "cgroup %s", path);
		return NULL;
	}
	cg->name = cg->path + 1;
	const char *v2_mount = NULL;
	for (int i = 0; i < C_N; i++) {
		struct ctrl_state *s = &cg->c[i];
		if (cgroup_get_subsys_mount_point(ctrl_names[i], &s->mount) != 0) {
			s->mount = NULL;
			continue;
		}
		s->v2 = is_cgroup2(s->mount);
		if (asprintf(&s->dir, "%s%s", s->mount, path) < 0) {
			s->dir = NULL;
			cgroup_handle_free(cg);
			husk_error_set(err, ENOMEM, "cgroup %s", path);
			return NULL;
		}
		s->present = true;
		if (s->v2)
			v2_mount = s->mount;
	}
	/* Pure v2: the unified directory is the cgroup even if no controller
	 * is available (it still freezes, counts and holds a device filter).
	 * Hybrid: only if a controller husk uses lives there. */
	if (!v2_mount && host_cgroup_mode(CG_ROOT) == CGROUP_MODE_V2)
		v2_mount = CG_ROOT;
	if (v2_mount && asprintf(&cg->v2_dir, "%s%s", v2_mount, path) < 0) {
		cg->v2_dir = NULL;
		cgroup_handle_free(cg);
		husk_error_set(err, ENOMEM, "cgroup %s", path);
		return NULL;
	}
	return cg;
}

/* On v2 a cgroup has the controllers its parent lists in
 * cgroup.subtree_control. DIR/FILE names them: the cgroup's own
 * cgroup.controllers, or the parent's subtree_control before it exists. */
static void narrow_v2(struct cgroup_handle *cg, const char *dir, const char *file)
{
	char list[1024];

	if (read_small(dir, file, list, sizeof(list)) < 0)
		return; /* keep what the root offers */
	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present && cg->c[i].v2 && !has_word(list, ctrl_names[i]))
			cg->c[i].present = false;
}

struct cgroup_handle *cgroup_open(const char *path, husk_error_t *err)
{
	struct cgroup_handle *cg = handle_new(path, err);

	if (cg && cg->v2_dir)
		narrow_v2(cg, cg->v2_dir, "cgroup.controllers");
	return cg;
}

/* Distinct directories of the cgroup: co-mounted v1 controllers and all of
 * v2 share one. Fills IDX with one controller per directory; returns how
 * many. */
static int distinct_dirs(const struct cgroup_handle *cg, int idx[C_N])
{
	int n = 0;

	for (int i = 0; i < C_N; i++) {
		if (!cg->c[i].dir)
			continue;
		bool dup = false;
		for (int k = 0; k < n; k++)
			dup |= strcmp(cg->c[idx[k]].dir, cg->c[i].dir) == 0;
		if (!dup)
			idx[n++] = i;
	}
	return n;
}

static bool exists_anywhere(const struct cgroup_handle *cg)
{
	int idx[C_N], n = distinct_dirs(cg, idx);

	for (int k = 0; k < n; k++)
		if (path_exists(cg->c[idx[k]].dir, NULL))
			return true;
	return cg->v2_dir && path_exists(cg->v2_dir, NULL);
}

/* ---- reading and writing values through libcgroup ---- */

/* FIELD (may be NULL) names what in the config asked for the value. */
static int set_value(struct cgroup_handle *cg, enum ctrl c, const char *file, const char *value,
		     const char *field, husk_error_t *err)
{
	cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
	struct cgroup_controller *ctl = lc ? cgroup_add_controller(lc, ctrl_names[c]) : NULL;
	int ret;

	if (!ctl)
		return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
	if ((ret = cgroup_add_value_string(ctl, file, value)) != 0 ||
	    (ret = cgroup_modify_cgroup(lc)) != 0)
		return lib_fail(err, ret, "%s%sset %s of cgroup %s to %s", field ? field : "",
				field ? ": " : "", file, cg->path, value);
	return 0;
}

/* First line of controller C's FILE, without its newline. */
static int read_value(struct cgroup_handle *cg, enum ctrl c, const char *file, char *buf,
		      size_t size, husk_error_t *err)
{
	void *h = NULL;
	cleanup_free char *name = strdup(file);

	if (!name)
		return husk_error_set(err, ENOMEM, "%s", file);
	buf[0] = '\0';
	int ret = cgroup_read_value_begin(ctrl_names[c], cg->name, name, &h, buf, (int)size);
	if (h)
		cgroup_read_value_end(&h);
	if (ret != 0 && ret != ECGEOF)
		return lib_fail(err, ret, "read %s of cgroup %s", file, cg->path);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A counter or limit: "max" (v2) reads as UINT64_MAX. */
static int read_u64(struct cgroup_handle *cg, enum ctrl c, const char *file, uint64_t *v,
		    husk_error_t *err)
{
	char buf[64];

	if (read_value(cg, c, file, buf, sizeof(buf), err) < 0)
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

	if (!cg->c[c].present || !path_exists(cg->c[c].dir, file) ||
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
				      field, ctrl_names[c]);
	return husk_error_set(err, 0,
			      "%s: the %s cgroup controller is not enabled for %s (its parent's "
			      "cgroup.subtree_control)",
			      field, ctrl_names[c], cg->path);
}

/* Which controllers RES needs, checked before anything is created. */
static int check_resources(struct cgroup_handle *cg, const struct oci_resources *r,
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
		if (set_value(cg, C_MEMORY, "memory.max", v, RES ".memory.limit", err) < 0)
			return -1;
	}
	/* v1's memsw limit counts memory and swap together; v2's swap.max
	 * counts swap alone, so it gets the difference, as runc converts. An
	 * unlimited memory without a swap value means unlimited both. */
	bool swap_max = (r->has_memory_swap && r->memory_swap == -1) ||
			(!r->has_memory_swap && r->has_memory_limit && r->memory_limit == -1);
	if (!swap_max && !(r->has_memory_swap && r->memory_swap > 0))
		return 0;
	if (!path_exists(cg->c[C_MEMORY].dir, "memory.swap.max")) {
		if (!r->has_memory_swap)
			return 0; /* only implied, and there is no swap accounting */
		return husk_error_set(
			err, 0,
			RES ".memory.swap: this host does not account swap (no memory.swap.max)");
	}
	if (swap_max)
		return set_value(cg, C_MEMORY, "memory.swap.max", "max", RES ".memory.swap", err);
	if (!r->has_memory_limit || r->memory_limit <= 0)
		return husk_error_set(err, 0, RES ".memory.swap: needs " RES ".memory.limit");
	if (r->memory_swap < r->memory_limit)
		return husk_error_set(err, 0,
				      RES ".memory.swap: %" PRId64 " is below " RES
					  ".memory.limit %" PRId64
					  " (it counts memory and swap together)",
				      r->memory_swap, r->memory_limit);
	snprintf(v, sizeof(v), "%" PRId64, r->memory_swap - r->memory_limit);
	return set_value(cg, C_MEMORY, "memory.swap.max", v, RES ".memory.swap", err);
}

static int set_memory_v1(struct cgroup_handle *cg, const struct oci_resources *r, husk_error_t *err)
{
	char lim[32], sw[32];
	bool memsw = path_exists(cg->c[C_MEMORY].dir, "memory.memsw.limit_in_bytes");
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
	if (swap_first &&
	    set_value(cg, C_MEMORY, "memory.memsw.limit_in_bytes", sw, RES ".memory.swap", err) < 0)
		return -1;
	if (r->has_memory_limit &&
	    set_value(cg, C_MEMORY, "memory.limit_in_bytes", lim, RES ".memory.limit", err) < 0)
		return -1;
	if (has_swap && !swap_first &&
	    set_value(cg, C_MEMORY, "memory.memsw.limit_in_bytes", sw, RES ".memory.swap", err) < 0)
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
		if (!quota && read_value(cg, C_CPU, "cpu.max", cur, sizeof(cur), err) < 0)
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
		if (set_value(cg, C_CPU, "cpu.max", v, quota ? RES ".cpu.quota" : RES ".cpu.period",
			      err) < 0)
			return -1;
	}
	if (r->has_cpu_shares && r->cpu_shares != 0) {
		snprintf(v, sizeof(v), "%" PRIu64, shares_to_weight(r->cpu_shares));
		if (set_value(cg, C_CPU, "cpu.weight", v, RES ".cpu.shares", err) < 0)
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
	if (period && set_value(cg, C_CPU, "cpu.cfs_period_us", p, RES ".cpu.period", err) < 0) {
		/* A period the current quota does not fit (EINVAL): the
		 * other order works. */
		if (!quota || (*err)->errnum != EINVAL)
			return -1;
		husk_error_release(err);
		if (set_value(cg, C_CPU, "cpu.cfs_quota_us", q, RES ".cpu.quota", err) < 0 ||
		    set_value(cg, C_CPU, "cpu.cfs_period_us", p, RES ".cpu.period", err) < 0)
			return -1;
		quota = false;
	}
	if (quota && set_value(cg, C_CPU, "cpu.cfs_quota_us", q, RES ".cpu.quota", err) < 0)
		return -1;
	if (r->has_cpu_shares && r->cpu_shares != 0) {
		snprintf(q, sizeof(q), "%" PRIu64, r->cpu_shares);
		if (set_value(cg, C_CPU, "cpu.shares", q, RES ".cpu.shares", err) < 0)
			return -1;
	}
	return 0;
}

static int apply_resources(struct cgroup_handle *cg, const struct oci_resources *r,
			   husk_error_t *err)
{
	if (check_resources(cg, r, err) < 0)
		return -1;
	if (r->has_memory_limit || r->has_memory_swap) {
		int ret =
			cg->c[C_MEMORY].v2 ? set_memory_v2(cg, r, err) : set_memory_v1(cg, r, err);
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
	    set_value(cg, C_CPUSET, "cpuset.cpus", r->cpuset_cpus, RES ".cpu.cpus", err) < 0)
		return -1;
	if (r->has_cpuset_mems &&
	    set_value(cg, C_CPUSET, "cpuset.mems", r->cpuset_mems, RES ".cpu.mems", err) < 0)
		return -1;
	/* 0 leaves the limit as it is (runc's reading); below 0 lifts it. */
	if (r->has_pids_limit && r->pids_limit != 0) {
		char v[32] = "max"; /* v1's pids.max says "max" too */
		if (r->pids_limit > 0)
			snprintf(v, sizeof(v), "%" PRId64, r->pids_limit);
		if (set_value(cg, C_PIDS, "pids.max", v, RES ".pids.limit", err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_update(struct cgroup_handle *cg, const struct oci_resources *res, husk_error_t *err)
{
	if (!exists_anywhere(cg))
		return husk_error_set(err, ENOENT, "cgroup %s", cg->path);
	if (apply_resources(cg, res, err) < 0)
		return husk_error_wrap(err, "update cgroup %s", cg->path);
	return 0;
}

/* ---- the device allow-list ---- */

static bool rule_applies(const struct dev_rule *d, unsigned flags)
{
	return !d->only_for || (flags & d->only_for);
}

static int devices_v1(struct cgroup_handle *cg, husk_error_t *err)
{
	char rule[64];

	if (set_value(cg, C_DEVICES, "devices.deny", "a", NULL, err) < 0)
		return -1;
	/* One value per write: the kernel takes one rule at a time, and
	 * libcgroup holds one value per file name. */
	for (size_t i = 0; i < NDEV_RULES; i++) {
		const struct dev_rule *d = &dev_rules[i];
		if (!rule_applies(d, cg->flags))
			continue;
		if (d->minor < 0)
			snprintf(rule, sizeof(rule), "%c %u:* rwm", d->type, d->major);
		else
			snprintf(rule, sizeof(rule), "%c %u:%d rwm", d->type, d->major, d->minor);
		if (set_value(cg, C_DEVICES, "devices.allow", rule, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* cgroup v2 has no devices files: access is decided by BPF programs of type
 * CGROUP_DEVICE attached to the cgroup (libcgroup 2.0.2 has nothing for
 * them). The program is the rule table above, in the instruction set, with
 * the context struct bpf_cgroup_dev_ctx in r1:
 *
 *	r2 = ctx->access_type & 0xffff	(device type: BPF_DEVCG_DEV_*)
 *	r3 = ctx->major; r4 = ctx->minor
 *	per rule: if r2 != type || r3 != major || r4 != minor: next rule
 *		  r0 = 1; exit		(allowed)
 *	r0 = 0; exit			(denied)
 *
 * Every rule allows read, write and mknod, so the access half of
 * access_type is not looked at. */
#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define AND32_K(d, i) INSN(BPF_ALU | BPF_AND | BPF_K, d, 0, 0, i)
#define JNE_K(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define MOV64_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static size_t device_program(struct bpf_insn *p, size_t max, unsigned flags)
{
	size_t n = 0;

	p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[n++] = AND32_K(BPF_REG_2, 0xffff);
	p[n++] = LDX_W(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
	p[n++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (size_t i = 0; i < NDEV_RULES && n + 6 < max; i++) {
		const struct dev_rule *d = &dev_rules[i];
		if (!rule_applies(d, flags))
			continue;
		int type = d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
		/* Jumps land on the next rule: past the rest of this one. */
		short len = d->minor < 0 ? 4 : 5;
		p[n++] = JNE_K(BPF_REG_2, type, len - 1);
		p[n++] = JNE_K(BPF_REG_3, (int)d->major, len - 2);
		if (d->minor >= 0)
			p[n++] = JNE_K(BPF_REG_4, d->minor, len - 3);
		p[n++] = MOV64_K(BPF_REG_0, 1);
		p[n++] = EXIT();
	}
	p[n++] = MOV64_K(BPF_REG_0, 0);
	p[n++] = EXIT();
	return n;
}

static int devices_v2(const char *dir, unsigned flags, husk_error_t *err)
{
	struct bpf_insn prog[4 + 5 * NDEV_RULES + 2];
	size_t n = device_program(prog, sizeof(prog) / sizeof(prog[0]), flags);
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t) "GPL";
	cleanup_close int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (pfd < 0)
		return husk_error_set(err, errno,
				      "device allow-list: load the cgroup v2 device filter (BPF)");
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return husk_error_set(err, errno, "device allow-list: open %s", dir);
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dfd;
	a.attach_bpf_fd = (uint32_t)pfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	/* Multi, as systemd and runc attach theirs: every program from here
	 * up to the root must allow an access. The attachment holds the
	 * program, so both descriptors can go. */
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a)) < 0)
		return husk_error_set(err, errno,
				      "device allow-list: attach the device filter to %s", dir);
	return 0;
}

/* A VMM whose allow-list could not be put in place is not started: the
 * device cgroup is what keeps a compromised VMM from every device node
 * of the host, and silently running without it would look confined
 * while it is not. Only a host with no device control at all (neither
 * the v1 controller nor a unified hierarchy) goes without, and says so
 * in cgroup_devices_confined(). */
static int apply_devices(struct cgroup_handle *cg, husk_error_t *err)
{
	if (cg->c[C_DEVICES].present && !cg->c[C_DEVICES].v2) {
		if (devices_v1(cg, err) < 0)
			return -1;
		cg->devices_confined = true;
	} else if (cg->v2_dir) {
		if (devices_v2(cg->v2_dir, cg->flags, err) < 0)
			return -1;
		cg->devices_confined = true;
	}
	return 0;
}

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
			if (read_small(dir, files[i], have, sizeof(have)) < 0)
				return husk_error_set(err, errno, "read %s/%s", dir, files[i]);
			if (have[strspn(have, " \n")])
				continue;
			if (read_small(parent, files[i], from, sizeof(from)) < 0)
				return husk_error_set(err, errno, "read %s/%s", parent, files[i]);
			from[strcspn(from, "\n")] = '\0';
			if (write_direct(dir, files[i], from) < 0)
				return husk_error_set(err, errno, "set %s/%s to \"%s\"", dir, files[i],
						      from);
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
		if (read_small(dir, "cgroup.subtree_control", list, sizeof(list)) >= 0)
			for (int i = 0; i < C_N; i++) {
				if (!cg->c[i].present || !cg->c[i].v2 ||
				    has_word(list, ctrl_names[i]))
					continue;
				char plus[32];
				snprintf(plus, sizeof(plus), "+%s", ctrl_names[i]);
				write_direct(dir, "cgroup.subtree_control", plus);
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
	narrow_v2(cg, dir, "cgroup.subtree_control");
}

/* Removes the cgroup's directories; ENOENT anywhere is fine. */
static int remove_dirs(struct cgroup_handle *cg, husk_error_t *err)
{
	int idx[C_N], n = distinct_dirs(cg, idx);

	if (n > 0) {
		/* One controller per directory: libcgroup removes a directory
		 * per controller and reports the second rmdir of a shared one
		 * (ENOENT) as a failure. */
		cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
		if (!lc)
			return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
		for (int k = 0; k < n; k++)
			if (path_exists(cg->c[idx[k]].dir, NULL))
				cgroup_add_controller(lc, ctrl_names[idx[k]]);
		/* Its result is not trusted either way: 2.0.2 also fails on
		 * v2 after a successful removal. What is left is checked
		 * below. */
		cgroup_delete_cgroup_ext(lc,
					 CGFLAG_DELETE_IGNORE_MIGRATION | CGFLAG_DELETE_RECURSIVE);
	}
	/* Whatever is left (libcgroup failed, or a v2 directory with no
	 * controller): rmdir, retrying EBUSY while the last tasks leave. */
	uint64_t deadline = now_ms() + SETTLE_TIMEOUT_MS;
	for (int k = 0; k <= n; k++) {
		const char *dir = k < n ? cg->c[idx[k]].dir : cg->v2_dir;
		if (!dir)
			continue;
		while (rmdir(dir) < 0 && errno != ENOENT) {
			if (errno != EBUSY || now_ms() > deadline)
				return husk_error_set(err, errno, "remove cgroup %s", dir);
			sleep_ms(10);
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

	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2 && path_exists(cg->c[C_FREEZER].dir, NULL) &&
	    read_value(cg, C_FREEZER, "freezer.state", buf, sizeof(buf), &ignored) == 0 && buf[0] &&
	    strcmp(buf, "THAWED") != 0)
		return true;
	/* Hybrid too: the unified directory freezes on its own. */
	if (!cg->v2_dir)
		return false;
	if (read_small(cg->v2_dir, "cgroup.freeze", buf, sizeof(buf)) >= 0 && buf[0] == '1')
		return true;
	return read_small(cg->v2_dir, "cgroup.events", buf, sizeof(buf)) >= 0 &&
	       strstr(buf, "frozen 1") != NULL;
}

int cgroup_create(const char *path, const struct oci_resources *res, unsigned flags,
		  struct cgroup_handle **out, husk_error_t *err)
{
	struct oci_resources none = { 0 };
	cleanup_cgroup struct cgroup_handle *cg = handle_new(path, err);
	int idx[C_N];

	*out = NULL;
	if (!cg)
		return -1;
	cg->flags = flags;
	if (!res)
		res = &none;
	if (cg->v2_dir)
		prepare_v2_parents(cg);
	if (check_resources(cg, res, err) < 0)
		return husk_error_wrap(err, "create cgroup %s", path);
	bool existed = exists_anywhere(cg);

	int n = 0;
	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present)
			idx[n++] = i;
	if (n > 0) {
		cleanup_libcg struct cgroup *lc = cgroup_new_cgroup(cg->name);
		if (!lc)
			return husk_error_set(err, ENOMEM, "create cgroup %s", path);
		for (int k = 0; k < n; k++)
			if (!cgroup_add_controller(lc, ctrl_names[idx[k]]))
				return husk_error_set(err, ENOMEM, "create cgroup %s", path);
		int ret = cgroup_create_cgroup(lc, 1);
		if (ret != 0) {
			lib_fail(err, ret, "create cgroup %s", path);
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
			       FIELD ": container's cgroup unexpectedly frozen: %s is frozen (thaw it, or "
			       "name another cgroup)",
			       path);
		goto undo;
	}
	if (inherit_cpuset_v1(cg, err) < 0 || apply_resources(cg, res, err) < 0 ||
	    apply_devices(cg, err) < 0) {
		husk_error_wrap(err, "create cgroup %s", path);
		goto undo;
	}
	cg->created = !existed;
	*out = steal_pointer(&cg);
	return 0;

undo:
	if (!existed) {
		husk_error_t ignored cleanup_error = NULL;
		remove_dirs(cg, &ignored);
	}
	return -1;
}

int cgroup_attach(struct cgroup_handle *cg, pid_t pid, husk_error_t *err)
{
	const char *ctrls[C_N + 1];
	int n = 0;

	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present)
			ctrls[n++] = ctrl_names[i];
	ctrls[n] = NULL;
	if (n > 0) {
		/* cgroup_attach_task_pid() writes v1's "tasks", which moves
		 * one thread; this one walks /proc/PID/task and moves all. */
		int ret = cgroup_change_cgroup_path(cg->name, pid, ctrls);
		if (ret != 0)
			return lib_fail(err, ret, "move process %d into cgroup %s", (int)pid,
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
		if (write_direct(cg->v2_dir, "cgroup.procs", v) < 0)
			return husk_error_set(err, errno, "move process %d into cgroup %s",
					      (int)pid, cg->v2_dir);
	}
	return 0;
}

static int cgroup_pids_all(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err);

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

int cgroup_release_kthreads(struct cgroup_handle *cg, husk_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n;
	if (cgroup_pids_all(cg, &pids, &n, err) < 0)
		return -1;
	for (size_t k = 0; k < n; k++) {
		if (!is_kthread(pids[k]))
			continue;
		char pid[24];
		snprintf(pid, sizeof(pid), "%d", (int)pids[k]);
		for (int i = 0; i < C_N; i++)
			if (cg->c[i].present && cg->c[i].mount && write_direct(cg->c[i].mount, "cgroup.procs", pid) < 0)
				return husk_error_set(err, errno, "move KVM's kernel thread %s out of cgroup %s",
						      pid, cg->path);
		if (cg->v2_dir) {
			/* The unified mount is v2_dir without the cgroup's path. */
			char root[PATH_MAX];
			size_t dl = strlen(cg->v2_dir), pl = strlen(cg->path);
			if (dl >= pl && dl - pl < sizeof(root)) {
				memcpy(root, cg->v2_dir, dl - pl);
				root[dl - pl] = '\0';
				if (write_direct(root, "cgroup.procs", pid) < 0)
					return husk_error_set(err, errno, "move KVM's kernel thread %s out of cgroup %s",
							      pid, cg->path);
			}
		}
	}
	return 0;
}

int cgroup_pids(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err)
{
	if (cgroup_pids_all(cg, pids, n, err) < 0)
		return -1;
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++)
		if (!is_kthread((*pids)[i]))
			(*pids)[kept++] = (*pids)[i];
	*n = kept;
	return 0;
}

static int cgroup_pids_all(struct cgroup_handle *cg, pid_t **pids, size_t *n, husk_error_t *err)
{
	*pids = NULL;
	*n = 0;
	for (int i = 0; i < C_N; i++) {
		if (!cg->c[i].present)
			continue;
		cleanup_free char *name = strdup(cg->name), *ctrl = strdup(ctrl_names[i]);
		int size = 0;
		if (!name || !ctrl)
			return husk_error_set(err, ENOMEM, "cgroup %s", cg->path);
		if (!path_exists(cg->c[i].dir, NULL))
			continue; /* not (or no longer) in this hierarchy */
		int ret = cgroup_get_procs(name, ctrl, pids, &size);
		if (ret != 0) {
			*pids = NULL;
			return lib_fail(err, ret, "processes of cgroup %s", cg->path);
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

static int frozen_state(struct cgroup_handle *cg, bool *frozen, husk_error_t *err)
{
	char buf[512];

	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2) {
		if (read_value(cg, C_FREEZER, "freezer.state", buf, sizeof(buf), err) < 0)
			return -1;
		*frozen = strcmp(buf, "FROZEN") == 0;
		return 0;
	}
	if (!cg->v2_dir)
		return husk_error_set(err, 0, "cgroup %s: no freezer on this host", cg->path);
	/* cgroup.events is core v2, outside any controller: libcgroup 2.0.2
	 * cannot name it. "frozen 1" once every task has stopped. */
	if (read_small(cg->v2_dir, "cgroup.events", buf, sizeof(buf)) < 0)
		return husk_error_set(err, errno, "cgroup %s: cgroup.events", cg->path);
	*frozen = strstr(buf, "frozen 1") != NULL;
	return 0;
}

int cgroup_is_frozen(struct cgroup_handle *cg, bool *frozen, husk_error_t *err)
{
	return frozen_state(cg, frozen, err);
}

/* Asks for the state; v1 wants it asked again while tasks are FREEZING. */
static int request_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err)
{
	if (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2)
		return set_value(cg, C_FREEZER, "freezer.state", frozen ? "FROZEN" : "THAWED", NULL,
				 err);
	if (!cg->v2_dir)
		return husk_error_set(err, 0, "cgroup %s: no freezer on this host", cg->path);
	/* cgroup.freeze, like cgroup.events, is core v2 and out of
	 * libcgroup 2.0.2's reach. */
	if (write_direct(cg->v2_dir, "cgroup.freeze", frozen ? "1" : "0") < 0)
		return husk_error_set(err, errno, "cgroup %s: cgroup.freeze", cg->path);
	return 0;
}

int cgroup_freeze(struct cgroup_handle *cg, bool frozen, husk_error_t *err)
{
	uint64_t deadline = now_ms() + SETTLE_TIMEOUT_MS;
	unsigned wait = 1;
	bool now;

	for (;;) {
		if (request_freeze(cg, frozen, err) < 0 || frozen_state(cg, &now, err) < 0)
			return husk_error_wrap(err, "%s", frozen ? "freeze" : "thaw");
		if (now == frozen)
			return 0;
		if (now_ms() > deadline)
			break;
		sleep_ms(wait);
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

/* ---- stats ---- */

/* Fills from "key value" lines of controller C's FILE (a .stat file). */
static void read_stats(struct cgroup_handle *cg, enum ctrl c, const char *file,
		       void (*fn)(struct cgroup_stats *, const char *, uint64_t),
		       struct cgroup_stats *st)
{
	struct cgroup_stat s;
	void *h = NULL;

	if (!cg->c[c].present || !path_exists(cg->c[c].dir, file))
		return;
	/* libcgroup reads "<controller>.stat"; FILE must be that name. */
	int ret = cgroup_read_stats_begin(ctrl_names[c], cg->name, &h, &s);
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
	    read_small(cg->c[C_MEMORY].dir, "memory.events", buf, sizeof(buf)) < 0)
		return;
	for (char *s = NULL, *line = strtok_r(buf, "\n", &s); line; line = strtok_r(NULL, "\n", &s))
		if (strncmp(line, "max ", 4) == 0)
			st->memory_failcnt = strtoull(line + 4, NULL, 10);
}

int cgroup_stats(struct cgroup_handle *cg, struct cgroup_stats *st, husk_error_t *err)
{
	*st = (struct cgroup_stats){ 0 };
	if (!exists_anywhere(cg))
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
		if (read_small(cg->v2_dir, "cpu.stat", buf, sizeof(buf)) >= 0)
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

/* ---- destroy ---- */

static int kill_all(struct cgroup_handle *cg, bool *empty, husk_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n;

	if (cgroup_pids(cg, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH)
			return husk_error_set(err, errno, "kill process %d of cgroup %s",
					      (int)pids[i], cg->path);
	*empty = n == 0;
	return 0;
}

int cgroup_destroy(struct cgroup_handle *cg, husk_error_t *err)
{
	bool empty = false, can_freeze;

	if (!exists_anywhere(cg))
		return 0;
	can_freeze = (cg->c[C_FREEZER].present && !cg->c[C_FREEZER].v2 &&
		      path_exists(cg->c[C_FREEZER].dir, NULL)) ||
		     (cg->v2_dir && path_exists(cg->v2_dir, "cgroup.freeze"));
	/* Frozen, nothing can fork past the kills; then thawed, because a
	 * task frozen by v1's freezer does not die until it runs again. A
	 * freezer that fails is no reason to leave the cgroup behind. */
	if (can_freeze) {
		husk_error_t ignored cleanup_error = NULL;
		cgroup_freeze(cg, true, &ignored);
	}
	int r = kill_all(cg, &empty, err);
	if (can_freeze) {
		husk_error_t thaw_err cleanup_error = NULL;
		if (cgroup_freeze(cg, false, &thaw_err) < 0 && r == 0) {
			*err = steal_pointer(&thaw_err);
			return husk_error_wrap(err, "destroy cgroup %s", cg->path);
		}
	}
	if (r < 0)
		return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	uint64_t deadline = now_ms() + SETTLE_TIMEOUT_MS;
	while (!empty) {
		if (now_ms() > deadline)
			return husk_error_set(err, ETIMEDOUT, "destroy cgroup %s: processes left",
					      cg->path);
		sleep_ms(5);
		if (kill_all(cg, &empty, err) < 0)
			return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	}
	if (remove_dirs(cg, err) < 0)
		return husk_error_wrap(err, "destroy cgroup %s", cg->path);
	return 0;
}
