/* Where a cgroup is: linux.cgroupsPath (plain, relative, systemd's
 * "slice:prefix:name") resolved to one path, and the handle that finds
 * that path in every hierarchy the host mounts (v1, v2, hybrid). Kept apart
 * from what is done in the cgroup: a systemd driver resolves and discovers
 * the same way. */
#include "runtime/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include "base/cleanup.h"
#include "runtime/cgroup_internal.h"
#include "runtime/host.h"

/* ---- resolving linux.cgroupsPath ---- */

/* Appends "/COMP" to OUT (length *N), refusing "..". */
static int append_component(char *out, size_t outlen, size_t *n, const char *comp, size_t len,
			    const char *whole, husk_error_t *err)
{
	if (len == 0 || (len == 1 && comp[0] == '.'))
		return 0; /* "//" and "/./" mean nothing */
	if (len == 2 && comp[0] == '.' && comp[1] == '.')
		return husk_error_set(err, 0, CG_FIELD ": \"%s\": \"..\" is not allowed", whole);
	if (*n + 1 + len >= outlen)
		return husk_error_set(err, ENAMETOOLONG, CG_FIELD ": \"%s\"", whole);
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
		return husk_error_set(err, 0, CG_FIELD ": \"%s\": invalid slice name \"%s\"", whole,
				      slice);
	size_t base = len - suf;
	if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
		return husk_error_set(err, 0, CG_FIELD ": \"%s\": invalid slice name \"%s\"", whole,
				      slice);
	for (size_t i = 0; i <= base; i++) {
		if (i < base && slice[i] != '-')
			continue;
		char comp[NAME_MAX + 1];
		if (i + suf > NAME_MAX)
			return husk_error_set(err, ENAMETOOLONG, CG_FIELD ": \"%s\"", whole);
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
			CG_FIELD ": \"%s\": expected \"slice:prefix:name\" for systemd cgroups",
			cp);
	if ((size_t)(c1 - cp) > NAME_MAX || (size_t)(c2 - c1 - 1) > NAME_MAX)
		return husk_error_set(err, ENAMETOOLONG, CG_FIELD ": \"%s\"", cp);
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - cp), cp);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	const char *name = c2 + 1;
	if (!*name || strchr(name, '/') || strchr(prefix, '/'))
		return husk_error_set(err, 0, CG_FIELD ": \"%s\": invalid unit name", cp);
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
		return husk_error_set(err, ENAMETOOLONG, CG_FIELD ": \"%s\"", cp);
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
		return husk_error_set(err, ENAMETOOLONG, CG_FIELD);
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
				return husk_error_wrap(err, CG_FIELD ": \"%s\"", cp);
			if (append_path(out, outlen, &n, parent, cp, err) < 0)
				return -1;
		}
		if (append_path(out, outlen, &n, cp, cp, err) < 0)
			return -1;
	}
	if (!out[0])
		return husk_error_set(err, 0,
				      CG_FIELD ": \"%s\": the root cgroup cannot hold a container",
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

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Where each controller is mounted, and the unified directory if any. On
 * return every mounted controller is marked present; create() and open()
 * narrow that on v2, where the parent decides what a cgroup gets. */
struct cgroup_handle *cgroup_handle_new(const char *path, husk_error_t *err)
{
	if (check_path(path, err) < 0 || cgroup_lib_init(err) < 0)
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
		if (cgroup_get_subsys_mount_point(cgroup_ctrl_names[i], &s->mount) != 0) {
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
void cgroup_narrow_v2(struct cgroup_handle *cg, const char *dir, const char *file)
{
	char list[1024];

	if (cgroup_file_read(dir, file, list, sizeof(list)) < 0)
		return; /* keep what the root offers */
	for (int i = 0; i < C_N; i++)
		if (cg->c[i].present && cg->c[i].v2 && !cgroup_has_word(list, cgroup_ctrl_names[i]))
			cg->c[i].present = false;
}

/* Distinct directories of the cgroup: co-mounted v1 controllers and all of
 * v2 share one. Fills IDX with one controller per directory; returns how
 * many. */
int cgroup_distinct_dirs(const struct cgroup_handle *cg, int idx[C_N])
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

bool cgroup_exists_anywhere(const struct cgroup_handle *cg)
{
	int idx[C_N], n = cgroup_distinct_dirs(cg, idx);

	for (int k = 0; k < n; k++)
		if (cgroup_file_exists(cg->c[idx[k]].dir, NULL))
			return true;
	return cg->v2_dir && cgroup_file_exists(cg->v2_dir, NULL);
}
