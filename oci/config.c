/* config.json / process.json parser: see config.h. Each parse_* function
 * takes the JSON path of the value it reads, for its error messages. */
#include "oci/config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <json-c/json_visit.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "oci/tables.h"

#define PATHLEN 256

typedef struct json_object jobj;

static int type_error(const char *path, const char *want, husk_error_t *err)
{
	return husk_error_set(err, 0, "%s: must be %s", path, want);
}

/* Member KEY of object O, or NULL when absent (or JSON null). */
static jobj *member(jobj *o, const char *key)
{
	jobj *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static void child_path(char *out, const char *parent, const char *key)
{
	/* A path too long to show ends in "..."; it is only for messages. */
	if (snprintf(out, PATHLEN, "%s%s%s", parent, *parent ? "." : "", key) >= PATHLEN)
		memcpy(out + PATHLEN - 4, "...", 4);
}

static void index_path(char *out, const char *parent, size_t i)
{
	if (snprintf(out, PATHLEN, "%s[%zu]", parent, i) >= PATHLEN)
		memcpy(out + PATHLEN - 4, "...", 4);
}

static int want_object(jobj *v, const char *path, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_object))
		return type_error(path, "an object", err);
	return 0;
}

static int get_bool(jobj *v, const char *path, bool *out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return type_error(path, "a boolean", err);
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_string(jobj *v, const char *path, char **out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_string))
		return type_error(path, "a string", err);
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return husk_error_set(err, 0, "%s: contains a NUL byte", path);
	*out = strdup(s);
	if (!*out)
		return husk_error_set(err, ENOMEM, "%s", path);
	return 0;
}

/* json-c reads an integer literal beyond int64 and uint64 as the nearest
 * bound, silently: 18446744073709551616 would read as 18446744073709551615
 * (RLIM_INFINITY), a seccomp argument as another number. parse_json marks
 * the values that stand for such a literal with this. */
static const char saturated_mark;

static bool saturated(jobj *v)
{
	return json_object_get_userdata(v) == &saturated_mark;
}

static int get_int64(jobj *v, const char *path, int64_t min, int64_t max, int64_t *out,
		     husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_int))
		return type_error(path, "an integer", err);
	if (saturated(v))
		return husk_error_set(err, 0, "%s: out of range [%lld, %lld]", path, (long long)min,
				      (long long)max);
	int64_t x = json_object_get_int64(v);
	/* json-c saturates values beyond int64; a uint64 above INT64_MAX
	 * reads as INT64_MAX here, which the range check catches. */
	if (x < min || x > max || (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
		return husk_error_set(err, 0, "%s: %s out of range [%lld, %lld]", path,
				      json_object_to_json_string(v), (long long)min,
				      (long long)max);
	*out = x;
	return 0;
}

static int get_uint64(jobj *v, const char *path, uint64_t *out, husk_error_t *err)
{
	if (!json_object_is_type(v, json_type_int))
		return type_error(path, "an integer", err);
	if (json_object_get_int64(v) < 0)
		return husk_error_set(err, 0, "%s: must not be negative", path);
	if (saturated(v))
		return husk_error_set(err, 0, "%s: larger than %llu", path,
				      (unsigned long long)UINT64_MAX);
	*out = json_object_get_uint64(v);
	return 0;
}

static int get_uint32(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (get_int64(v, path, 0, UINT32_MAX, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* A uid or gid. (uid_t)-1 is not one: chown() and setresuid() read it as
 * "leave unchanged", so a device would stay root's and setgroups() fails. */
static int get_id(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (get_int64(v, path, 0, UINT32_MAX - 1, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* OBJ's member NAME (PATH.NAME in errors), a uid or gid, into *OUT when
 * it is there; otherwise *OUT keeps its default. */
static int get_opt_id(jobj *obj, const char *path, const char *name, uint32_t *out, husk_error_t *err)
{
	char fp[PATHLEN];
	jobj *f = member(obj, name);

	if (!f)
		return 0;
	child_path(fp, path, name);
	return get_id(f, fp, out, err);
}

/* OBJ's member NAME (PATH.NAME in errors) as an absolute path into *OUT.
 * A missing member is an error when REQUIRED; otherwise *OUT is left alone. */
static int get_abs_path(jobj *obj, const char *path, const char *name, bool required, char **out,
			husk_error_t *err)
{
	char fp[PATHLEN];
	jobj *f;

	child_path(fp, path, name);
	if (!(f = member(obj, name)))
		return required ? husk_error_set(err, 0, "%s: required", fp) : 0;
	if (get_string(f, fp, out, err) < 0)
		return -1;
	if ((*out)[0] != '/')
		return husk_error_set(err, 0, "%s: must be an absolute path", fp);
	return 0;
}

/* An array of strings, NULL-terminated. */
static int get_strings(jobj *v, const char *path, char ***out, size_t *n, husk_error_t *err)
{
	char p[PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return type_error(path, "an array of strings", err);
	size_t len = json_object_array_length(v);
	char **a = calloc(len + 1, sizeof(*a));
	if (!a)
		return husk_error_set(err, ENOMEM, "%s", path);
	*out = a;
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		index_path(p, path, i);
		if (get_string(json_object_array_get_idx(v, i), p, &a[i], err) < 0)
			return -1;
		*n = i + 1;
	}
	return 0;
}

static void free_strings(char **a)
{
	if (!a)
		return;
	for (char **s = a; *s; s++)
		free(*s);
	free(a);
}

static int parse_caps(jobj *v, const char *path, struct oci_process *p, husk_error_t *err)
{
	static const char *const sets[OCI_CAP_NSETS] = {
		[OCI_CAP_BOUNDING] = "bounding", [OCI_CAP_EFFECTIVE] = "effective",
		[OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
		[OCI_CAP_AMBIENT] = "ambient",
	};
	char sp[PATHLEN], ip[PATHLEN];

	if (want_object(v, path, err) < 0)
		return -1;
	p->has_caps = true;
	for (int s = 0; s < OCI_CAP_NSETS; s++) {
		jobj *a = member(v, sets[s]);
		if (!a)
			continue;
		child_path(sp, path, sets[s]);
		if (!json_object_is_type(a, json_type_array))
			return type_error(sp, "an array of strings", err);
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			jobj *e = json_object_array_get_idx(a, i);
			index_path(ip, sp, i);
			if (!json_object_is_type(e, json_type_string))
				return type_error(ip, "a string", err);
			int c = oci_name_lookup(&oci_capabilities, json_object_get_string(e));
			if (c < 0)
				return husk_error_set(err, 0, "%s: unknown capability \"%s\"", ip,
						      json_object_get_string(e));
			p->caps[s] |= 1ULL << c;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },	    { "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },	    { "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },   { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },	    { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },   { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(jobj *v, const char *path, struct oci_process *p, husk_error_t *err)
{
	char ip[PATHLEN], fp[PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return type_error(path, "an array", err);
	size_t n = json_object_array_length(v);
	p->rlimits = calloc(n ? n : 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return husk_error_set(err, ENOMEM, "%s", path);
	for (size_t i = 0; i < n; i++) {
		jobj *e = json_object_array_get_idx(v, i);
		struct oci_rlimit *r = &p->rlimits[i];
		index_path(ip, path, i);
		if (want_object(e, ip, err) < 0)
			return -1;
		jobj *t = member(e, "type");
		child_path(fp, ip, "type");
		if (!t)
			return husk_error_set(err, 0, "%s: required", fp);
		if (!json_object_is_type(t, json_type_string))
			return type_error(fp, "a string", err);
		r->resource = -1;
		for (size_t k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
			if (strcmp(rlimit_names[k].name, json_object_get_string(t)) == 0)
				r->resource = rlimit_names[k].resource;
		if (r->resource < 0)
			return husk_error_set(err, 0, "%s: unknown rlimit \"%s\"", fp,
					      json_object_get_string(t));
		for (size_t k = 0; k < i; k++)
			if (p->rlimits[k].resource == r->resource)
				return husk_error_set(err, 0, "%s: duplicate rlimit \"%s\"", fp,
						      json_object_get_string(t));
		jobj *soft = member(e, "soft"), *hard = member(e, "hard");
		child_path(fp, ip, "soft");
		if (!soft)
			return husk_error_set(err, 0, "%s: required", fp);
		if (get_uint64(soft, fp, &r->soft, err) < 0)
			return -1;
		child_path(fp, ip, "hard");
		if (!hard)
			return husk_error_set(err, 0, "%s: required", fp);
		if (get_uint64(hard, fp, &r->hard, err) < 0)
			return -1;
		if (r->soft > r->hard)
			return husk_error_set(err, 0, "%s: soft limit above the hard limit", ip);
		p->nrlimits = i + 1;
	}
	return 0;
}

static int parse_process_obj(jobj *v, const char *path, struct oci_process *p, husk_error_t *err)
{
	char fp[PATHLEN], sp[PATHLEN];
	jobj *f;

	if (want_object(v, path, err) < 0)
		return -1;
	if ((f = member(v, "terminal"))) {
		child_path(fp, path, "terminal");
		if (get_bool(f, fp, &p->terminal, err) < 0)
			return -1;
	}
	if ((f = member(v, "consoleSize"))) {
		child_path(fp, path, "consoleSize");
		if (want_object(f, fp, err) < 0)
			return -1;
		uint32_t h = 0, w = 0;
		jobj *hv = member(f, "height"), *wv = member(f, "width");
		child_path(sp, fp, "height");
		if (hv && get_uint32(hv, sp, &h, err) < 0)
			return -1;
		child_path(sp, fp, "width");
		if (wv && get_uint32(wv, sp, &w, err) < 0)
			return -1;
		if (h > 65535 || w > 65535)
			return husk_error_set(err, 0, "%s: larger than 65535", fp);
		p->console_height = h;
		p->console_width = w;
	}
	child_path(fp, path, "args");
	if (!(f = member(v, "args")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (get_strings(f, fp, &p->args, &p->nargs, err) < 0)
		return -1;
	if (p->nargs == 0)
		return husk_error_set(err, 0, "%s: must not be empty", fp);
	if (p->args[0][0] == '\0')
		return husk_error_set(err, 0, "%s[0]: must not be empty", fp);
	if ((f = member(v, "env"))) {
		child_path(fp, path, "env");
		if (get_strings(f, fp, &p->env, &p->nenv, err) < 0)
			return -1;
		for (size_t i = 0; i < p->nenv; i++)
			if (!strchr(p->env[i], '=') || p->env[i][0] == '=') {
				index_path(sp, fp, i);
				return husk_error_set(err, 0, "%s: \"%s\" is not NAME=VALUE", sp,
						      p->env[i]);
			}
	} else if (!(p->env = calloc(1, sizeof(char *)))) {
		return husk_error_set(err, ENOMEM, "%s", path);
	}
	if (get_abs_path(v, path, "cwd", true, &p->cwd, err) < 0)
		return -1;
	if ((f = member(v, "user"))) {
		jobj *u;
		uint32_t x;
		child_path(fp, path, "user");
		if (want_object(f, fp, err) < 0)
			return -1;
		if (get_opt_id(f, fp, "uid", &p->uid, err) < 0 || get_opt_id(f, fp, "gid", &p->gid, err) < 0)
			return -1;
		if ((u = member(f, "umask"))) {
			child_path(sp, fp, "umask");
			if (get_uint32(u, sp, &x, err) < 0)
				return -1;
			if (x > 0777)
				return husk_error_set(err, 0, "%s: %u is not a mode", sp, x);
			p->has_umask = true;
			p->umask = x;
		}
		if ((u = member(f, "additionalGids"))) {
			child_path(sp, fp, "additionalGids");
			if (!json_object_is_type(u, json_type_array))
				return type_error(sp, "an array of integers", err);
			size_t n = json_object_array_length(u);
			if (n > 65536)
				return husk_error_set(err, 0, "%s: too many groups", sp);
			p->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
			if (!p->additional_gids)
				return husk_error_set(err, ENOMEM, "%s", sp);
			for (size_t i = 0; i < n; i++) {
				char ip[PATHLEN];
				index_path(ip, sp, i);
				if (get_id(json_object_array_get_idx(u, i), ip, &x, err) < 0)
					return -1;
				p->additional_gids[i] = x;
				p->nadditional_gids = i + 1;
			}
		}
	}
	if ((f = member(v, "capabilities"))) {
		child_path(fp, path, "capabilities");
		if (parse_caps(f, fp, p, err) < 0)
			return -1;
	}
	if ((f = member(v, "rlimits"))) {
		child_path(fp, path, "rlimits");
		if (parse_rlimits(f, fp, p, err) < 0)
			return -1;
	}
	if ((f = member(v, "noNewPrivileges"))) {
		child_path(fp, path, "noNewPrivileges");
		if (get_bool(f, fp, &p->no_new_privileges, err) < 0)
			return -1;
	}
	if ((f = member(v, "oomScoreAdj"))) {
		int64_t x;
		child_path(fp, path, "oomScoreAdj");
		if (get_int64(f, fp, -1000, 1000, &x, err) < 0)
			return -1;
		p->has_oom_score_adj = true;
		p->oom_score_adj = (int)x;
	}
	return 0;
}

/* Mount options: flags, propagation, or kernel data. */
static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "async", 0, MS_SYNCHRONOUS },	   { "atime", 0, MS_NOATIME },
	{ "bind", MS_BIND, 0 },		   { "defaults", 0, 0 },
	{ "dev", 0, MS_NODEV },		   { "diratime", 0, MS_NODIRATIME },
	{ "dirsync", MS_DIRSYNC, 0 },	   { "exec", 0, MS_NOEXEC },
	{ "iversion", MS_I_VERSION, 0 },   { "lazytime", MS_LAZYTIME, 0 },
	{ "loud", 0, MS_SILENT },	   { "mand", MS_MANDLOCK, 0 },
	{ "noatime", MS_NOATIME, 0 },	   { "nodev", MS_NODEV, 0 },
	{ "nodiratime", MS_NODIRATIME, 0 }, { "noexec", MS_NOEXEC, 0 },
	{ "noiversion", 0, MS_I_VERSION }, { "nolazytime", 0, MS_LAZYTIME },
	{ "nomand", 0, MS_MANDLOCK },	   { "norelatime", 0, MS_RELATIME },
	{ "nostrictatime", 0, MS_STRICTATIME }, { "nosuid", MS_NOSUID, 0 },
	{ "rbind", MS_BIND | MS_REC, 0 },  { "relatime", MS_RELATIME, 0 },
	{ "remount", MS_REMOUNT, 0 },	   { "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },		   { "silent", MS_SILENT, 0 },
	{ "strictatime", MS_STRICTATIME, 0 }, { "suid", 0, MS_NOSUID },
	{ "sync", MS_SYNCHRONOUS, 0 },
};

static const struct {
	const char *name;
	unsigned long flags;
} mount_propagation[] = {
	{ "private", MS_PRIVATE },	     { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },	     { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		     { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE },     { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* The recursive options, as runc maps them to mount_setattr(2). */
static const struct {
	const char *name;
	bool clear;
	uint64_t attr;
} mount_rec_attrs[] = {
	{ "rro", false, MOUNT_ATTR_RDONLY },	       { "rrw", true, MOUNT_ATTR_RDONLY },
	{ "rnosuid", false, MOUNT_ATTR_NOSUID },       { "rsuid", true, MOUNT_ATTR_NOSUID },
	{ "rnodev", false, MOUNT_ATTR_NODEV },	       { "rdev", true, MOUNT_ATTR_NODEV },
	{ "rnoexec", false, MOUNT_ATTR_NOEXEC },       { "rexec", true, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", false, MOUNT_ATTR_NODIRATIME }, { "rdiratime", true, MOUNT_ATTR_NODIRATIME },
	{ "rrelatime", false, MOUNT_ATTR_RELATIME },   { "rnorelatime", true, MOUNT_ATTR_RELATIME },
	{ "rnoatime", false, MOUNT_ATTR_NOATIME },     { "ratime", true, MOUNT_ATTR_NOATIME },
	{ "rstrictatime", false, MOUNT_ATTR_STRICTATIME }, { "rnostrictatime", true, MOUNT_ATTR_STRICTATIME },
	{ "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW }, { "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
};

static int append_data(char **data, const char *opt, const char *path, husk_error_t *err)
{
	char *n = NULL;
	if (asprintf(&n, "%s%s%s", *data ? *data : "", *data ? "," : "", opt) < 0)
		return husk_error_set(err, ENOMEM, "%s", path);
	free(*data);
	*data = n;
	return 0;
}

static int parse_mount(jobj *v, const char *path, struct oci_mount *m, husk_error_t *err)
{
	char fp[PATHLEN], ip[PATHLEN];
	jobj *f;

	if (want_object(v, path, err) < 0)
		return -1;
	if (get_abs_path(v, path, "destination", true, &m->destination, err) < 0)
		return -1;
	if ((f = member(v, "source"))) {
		child_path(fp, path, "source");
		if (get_string(f, fp, &m->source, err) < 0)
			return -1;
	}
	if ((f = member(v, "type"))) {
		child_path(fp, path, "type");
		if (get_string(f, fp, &m->type, err) < 0)
			return -1;
	}
	/* A mount of type "bind" is one without options too, as in runc. */
	if (!(f = member(v, "options")))
		goto kind;
	child_path(fp, path, "options");
	if (!json_object_is_type(f, json_type_array))
		return type_error(fp, "an array of strings", err);
	for (size_t i = 0; i < json_object_array_length(f); i++) {
		jobj *e = json_object_array_get_idx(f, i);
		index_path(ip, fp, i);
		if (!json_object_is_type(e, json_type_string))
			return type_error(ip, "a string", err);
		const char *o = json_object_get_string(e);
		bool known = false;
		for (size_t k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
			if (strcmp(mount_flags[k].name, o) == 0) {
				m->flags = (m->flags | mount_flags[k].set) & ~mount_flags[k].clear;
				m->clear_flags = (m->clear_flags | mount_flags[k].clear) &
						 ~mount_flags[k].set;
				known = true;
			}
		for (size_t k = 0; k < sizeof(mount_propagation) / sizeof(mount_propagation[0]); k++)
			if (strcmp(mount_propagation[k].name, o) == 0) {
				m->propagation = mount_propagation[k].flags;
				known = true;
			}
		if (!known && strcmp(o, "tmpcopyup") == 0) {
			m->tmpcopyup = true;
			known = true;
		}
		for (size_t k = 0; !known && k < sizeof(mount_rec_attrs) / sizeof(mount_rec_attrs[0]); k++)
			if (strcmp(mount_rec_attrs[k].name, o) == 0) {
				/* The recursive mount_setattr forms ("rro", "rnosuid",
				 * ...): on the mount and every mount below it. An
				 * atime mode replaces the whole atime setting. */
				uint64_t a = mount_rec_attrs[k].attr;
				bool atime = a == MOUNT_ATTR_RELATIME || (a & MOUNT_ATTR__ATIME) == a;
				if (mount_rec_attrs[k].clear) {
					m->rec_attr_clr |= atime ? MOUNT_ATTR__ATIME : a;
					m->rec_attr_set &= ~a;
				} else {
					m->rec_attr_set |= a;
					m->rec_attr_clr = (m->rec_attr_clr & ~a) | (atime ? MOUNT_ATTR__ATIME : 0);
				}
				/* And the plain form on the mount itself, which the
				 * host reads too (a read-only bind share). */
				const char *plain = strcmp(o, "rrw") == 0 ? "rw" : o + 1;
				for (size_t j = 0; j < sizeof(mount_flags) / sizeof(mount_flags[0]); j++)
					if (strcmp(mount_flags[j].name, plain) == 0) {
						m->flags = (m->flags | mount_flags[j].set) & ~mount_flags[j].clear;
						m->clear_flags |= mount_flags[j].clear;
					}
				known = true;
			}
		if (!known) {
			if (strchr(o, ',') || o[0] == '\0')
				return husk_error_set(err, 0, "%s: \"%s\" is not a mount option", ip, o);
			/* Anything else is the filesystem's own (mode=755, size=65536k). */
			if (append_data(&m->data, o, ip, err) < 0)
				return -1;
		}
	}
kind:
	m->bind = (m->flags & MS_BIND) != 0 || (m->type && strcmp(m->type, "bind") == 0);
	m->recursive = (m->flags & MS_REC) != 0;
	return 0;
}

static const struct {
	const char *name;
	int flag;
} ns_types[] = {
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC },	 { "mount", CLONE_NEWNS },
	{ "network", CLONE_NEWNET },   { "pid", CLONE_NEWPID },	 { "time", 0x00000080 /* CLONE_NEWTIME */ },
	{ "user", CLONE_NEWUSER },     { "uts", CLONE_NEWUTS },
};

static int parse_namespaces(jobj *v, const char *path, struct oci_config *c, husk_error_t *err)
{
	char ip[PATHLEN], fp[PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return type_error(path, "an array", err);
	size_t n = json_object_array_length(v);
	c->namespaces = calloc(n ? n : 1, sizeof(*c->namespaces));
	if (!c->namespaces)
		return husk_error_set(err, ENOMEM, "%s", path);
	for (size_t i = 0; i < n; i++) {
		jobj *e = json_object_array_get_idx(v, i), *t;
		index_path(ip, path, i);
		if (want_object(e, ip, err) < 0)
			return -1;
		child_path(fp, ip, "type");
		if (!(t = member(e, "type")))
			return husk_error_set(err, 0, "%s: required", fp);
		if (!json_object_is_type(t, json_type_string))
			return type_error(fp, "a string", err);
		const char *name = json_object_get_string(t);
		if (oci_name_lookup(&oci_namespaces, name) < 0)
			return husk_error_set(err, 0, "%s: unknown namespace \"%s\"", fp, name);
		for (size_t k = 0; k < sizeof(ns_types) / sizeof(ns_types[0]); k++)
			if (strcmp(ns_types[k].name, name) == 0)
				c->namespaces[i].type = ns_types[k].flag;
		for (size_t k = 0; k < i; k++)
			if (c->namespaces[k].type == c->namespaces[i].type)
				return husk_error_set(err, 0, "%s: duplicate namespace \"%s\"", fp, name);
		c->nnamespaces = i + 1;
		if (get_abs_path(e, ip, "path", false, &c->namespaces[i].path, err) < 0)
			return -1;
	}
	return 0;
}

/* A seccomp errno: SCMP_ACT_ERRNO() keeps its low 16 bits (the filter's
 * SECCOMP_RET_DATA), so 65536 would become errno 0, a syscall that
 * "succeeds" without running. */
static int get_errno_ret(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (get_int64(v, path, 0, 0xffff, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int parse_seccomp(jobj *v, const char *path, struct oci_seccomp *s, husk_error_t *err)
{
	char fp[PATHLEN], ip[PATHLEN], ap[PATHLEN], kp[PATHLEN];
	jobj *f;

	if (want_object(v, path, err) < 0)
		return -1;
	child_path(fp, path, "defaultAction");
	if (!(f = member(v, "defaultAction")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(f, json_type_string))
		return type_error(fp, "a string", err);
	s->default_action = oci_name_lookup(&oci_seccomp_actions, json_object_get_string(f));
	if (s->default_action < 0)
		return husk_error_set(err, 0, "%s: unknown action \"%s\"", fp,
				      json_object_get_string(f));
	if ((f = member(v, "defaultErrnoRet"))) {
		uint32_t x;
		child_path(fp, path, "defaultErrnoRet");
		if (get_errno_ret(f, fp, &x, err) < 0)
			return -1;
		s->has_default_errno = true;
		s->default_errno = x;
	}
	if ((f = member(v, "architectures"))) {
		child_path(fp, path, "architectures");
		if (!json_object_is_type(f, json_type_array))
			return type_error(fp, "an array of strings", err);
		size_t n = json_object_array_length(f);
		s->archs = calloc(n ? n : 1, sizeof(int));
		if (!s->archs)
			return husk_error_set(err, ENOMEM, "%s", fp);
		for (size_t i = 0; i < n; i++) {
			jobj *e = json_object_array_get_idx(f, i);
			index_path(ip, fp, i);
			if (!json_object_is_type(e, json_type_string))
				return type_error(ip, "a string", err);
			s->archs[i] = oci_name_lookup(&oci_seccomp_archs, json_object_get_string(e));
			if (s->archs[i] < 0)
				return husk_error_set(err, 0, "%s: unsupported architecture \"%s\"", ip,
						      json_object_get_string(e));
			s->narchs = i + 1;
		}
	}
	if ((f = member(v, "flags"))) {
		child_path(fp, path, "flags");
		if (!json_object_is_type(f, json_type_array))
			return type_error(fp, "an array of strings", err);
		for (size_t i = 0; i < json_object_array_length(f); i++) {
			jobj *e = json_object_array_get_idx(f, i);
			index_path(ip, fp, i);
			if (!json_object_is_type(e, json_type_string))
				return type_error(ip, "a string", err);
			int k = oci_name_lookup(&oci_seccomp_flags, json_object_get_string(e));
			if (k < 0)
				return husk_error_set(err, 0, "%s: unsupported flag \"%s\"", ip,
						      json_object_get_string(e));
			s->flags |= 1u << k;
		}
	}
	if (!(f = member(v, "syscalls")))
		return 0;
	child_path(fp, path, "syscalls");
	if (!json_object_is_type(f, json_type_array))
		return type_error(fp, "an array", err);
	size_t n = json_object_array_length(f);
	s->syscalls = calloc(n ? n : 1, sizeof(*s->syscalls));
	if (!s->syscalls)
		return husk_error_set(err, ENOMEM, "%s", fp);
	for (size_t i = 0; i < n; i++) {
		jobj *e = json_object_array_get_idx(f, i), *g;
		struct oci_seccomp_syscall *sc = &s->syscalls[i];
		index_path(ip, fp, i);
		s->nsyscalls = i + 1;
		if (want_object(e, ip, err) < 0)
			return -1;
		child_path(ap, ip, "names");
		if (!(g = member(e, "names")))
			return husk_error_set(err, 0, "%s: required", ap);
		if (get_strings(g, ap, &sc->names, &sc->nnames, err) < 0)
			return -1;
		child_path(ap, ip, "action");
		if (!(g = member(e, "action")))
			return husk_error_set(err, 0, "%s: required", ap);
		if (!json_object_is_type(g, json_type_string))
			return type_error(ap, "a string", err);
		sc->action = oci_name_lookup(&oci_seccomp_actions, json_object_get_string(g));
		if (sc->action < 0)
			return husk_error_set(err, 0, "%s: unknown action \"%s\"", ap,
					      json_object_get_string(g));
		if ((g = member(e, "errnoRet"))) {
			uint32_t x;
			child_path(ap, ip, "errnoRet");
			if (get_errno_ret(g, ap, &x, err) < 0)
				return -1;
			sc->has_errno = true;
			sc->errno_ret = x;
		}
		if (!(g = member(e, "args")))
			continue;
		child_path(ap, ip, "args");
		if (!json_object_is_type(g, json_type_array))
			return type_error(ap, "an array", err);
		size_t na = json_object_array_length(g);
		if (na > 6)
			return husk_error_set(err, 0, "%s: more than 6 argument rules", ap);
		sc->args = calloc(na ? na : 1, sizeof(*sc->args));
		if (!sc->args)
			return husk_error_set(err, ENOMEM, "%s", ap);
		for (size_t j = 0; j < na; j++) {
			jobj *a = json_object_array_get_idx(g, j), *h;
			struct oci_seccomp_arg *arg = &sc->args[j];
			char jp[PATHLEN];
			index_path(jp, ap, j);
			sc->nargs = j + 1;
			if (want_object(a, jp, err) < 0)
				return -1;
			uint32_t idx;
			child_path(kp, jp, "index");
			if (!(h = member(a, "index")))
				return husk_error_set(err, 0, "%s: required", kp);
			if (get_uint32(h, kp, &idx, err) < 0)
				return -1;
			if (idx > 5)
				return husk_error_set(err, 0, "%s: %u is not an argument index (0-5)", kp, idx);
			arg->index = idx;
			child_path(kp, jp, "value");
			if (!(h = member(a, "value")))
				return husk_error_set(err, 0, "%s: required", kp);
			if (get_uint64(h, kp, &arg->value, err) < 0)
				return -1;
			if ((h = member(a, "valueTwo"))) {
				child_path(kp, jp, "valueTwo");
				if (get_uint64(h, kp, &arg->value_two, err) < 0)
					return -1;
			}
			child_path(kp, jp, "op");
			if (!(h = member(a, "op")))
				return husk_error_set(err, 0, "%s: required", kp);
			if (!json_object_is_type(h, json_type_string))
				return type_error(kp, "a string", err);
			arg->op = oci_name_lookup(&oci_seccomp_operators, json_object_get_string(h));
			if (arg->op < 0)
				return husk_error_set(err, 0, "%s: unknown operator \"%s\"", kp,
						      json_object_get_string(h));
		}
	}
	return 0;
}

int oci_cpuset_list_parse(const char *list, const char *path, unsigned *count, husk_error_t *err)
{
	/* Which ids were named, so that "0,0-1" counts two, not three. */
	uint64_t seen[(OCI_CPUSET_MAX_ID + 64) / 64] = { 0 };
	const char *p = list;
	unsigned n = 0;

	if (!*list)
		return husk_error_set(err, 0, "%s: must not be empty", path);
	for (;;) {
		unsigned long lo, hi;
		char *end;
		if (*p < '0' || *p > '9')
			goto bad;
		lo = hi = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				goto bad;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (lo > OCI_CPUSET_MAX_ID || hi > OCI_CPUSET_MAX_ID)
			return husk_error_set(err, 0, "%s: \"%s\": ids go up to %d", path, list,
					      OCI_CPUSET_MAX_ID);
		if (lo > hi)
			return husk_error_set(err, 0, "%s: \"%s\": range %lu-%lu runs backwards", path,
					      list, lo, hi);
		for (unsigned long i = lo; i <= hi; i++)
			if (!(seen[i / 64] & (1ull << (i % 64)))) {
				seen[i / 64] |= 1ull << (i % 64);
				n++;
			}
		if (!*p)
			break;
		if (*p++ != ',')
			goto bad;
	}
	*count = n;
	return 0;
bad:
	return husk_error_set(err, 0,
			      "%s: \"%s\" is not a cpuset list (ids and ranges like \"0-3,8\")",
			      path, list);
}

/* cpu.cpus or cpu.mems (member KEY of F, at path FP) into OUT. */
static int parse_cpuset_list(jobj *f, const char *fp, const char *key, char *out, bool *has,
			     unsigned *count, husk_error_t *err)
{
	char sp[PATHLEN];
	jobj *g = member(f, key);
	unsigned n;

	if (!g)
		return 0;
	child_path(sp, fp, key);
	if (!json_object_is_type(g, json_type_string))
		return type_error(sp, "a string", err);
	const char *s = json_object_get_string(g);
	if (!*s)
		return 0;
	if (strlen(s) >= OCI_CPUSET_LIST_MAX)
		return husk_error_set(err, 0, "%s: longer than %d characters", sp,
				      OCI_CPUSET_LIST_MAX - 1);
	if (oci_cpuset_list_parse(s, sp, &n, err) < 0)
		return -1;
	strcpy(out, s);
	*has = true;
	if (count)
		*count = n;
	return 0;
}

static int parse_resources(jobj *v, const char *path, struct oci_resources *r, husk_error_t *err)
{
	char fp[PATHLEN], sp[PATHLEN];
	jobj *f, *g;

	if (want_object(v, path, err) < 0)
		return -1;
	if ((f = member(v, "memory"))) {
		child_path(fp, path, "memory");
		if (want_object(f, fp, err) < 0)
			return -1;
		if ((g = member(f, "limit"))) {
			child_path(sp, fp, "limit");
			if (get_int64(g, sp, -1, INT64_MAX, &r->memory_limit, err) < 0)
				return -1;
			r->has_memory_limit = true;
		}
		if ((g = member(f, "swap"))) {
			child_path(sp, fp, "swap");
			if (get_int64(g, sp, -1, INT64_MAX, &r->memory_swap, err) < 0)
				return -1;
			r->has_memory_swap = true;
		}
	}
	if ((f = member(v, "cpu"))) {
		child_path(fp, path, "cpu");
		if (want_object(f, fp, err) < 0)
			return -1;
		if ((g = member(f, "quota"))) {
			child_path(sp, fp, "quota");
			if (get_int64(g, sp, -1, INT64_MAX, &r->cpu_quota, err) < 0)
				return -1;
			r->has_cpu_quota = true;
		}
		if ((g = member(f, "period"))) {
			child_path(sp, fp, "period");
			if (get_uint64(g, sp, &r->cpu_period, err) < 0)
				return -1;
			r->has_cpu_period = true;
		}
		if ((g = member(f, "shares"))) {
			child_path(sp, fp, "shares");
			if (get_uint64(g, sp, &r->cpu_shares, err) < 0)
				return -1;
			r->has_cpu_shares = true;
		}
		if (parse_cpuset_list(f, fp, "cpus", r->cpuset_cpus, &r->has_cpuset_cpus,
				      &r->cpuset_ncpus, err) < 0 ||
		    parse_cpuset_list(f, fp, "mems", r->cpuset_mems, &r->has_cpuset_mems, NULL,
				      err) < 0)
			return -1;
	}
	if ((f = member(v, "pids"))) {
		child_path(fp, path, "pids");
		if (want_object(f, fp, err) < 0)
			return -1;
		if ((g = member(f, "limit"))) {
			child_path(sp, fp, "limit");
			if (get_int64(g, sp, INT64_MIN, INT64_MAX, &r->pids_limit, err) < 0)
				return -1;
			r->has_pids_limit = true;
		}
	}
	return 0;
}

/* linux.devices: runc's rules (an absolute path, type c, b, u or p, major
 * and minor for all but p), checked here so the guest gets only nodes it
 * can make. */
static int parse_device(jobj *v, const char *path, struct oci_device *d, husk_error_t *err)
{
	char fp[PATHLEN];
	jobj *f;

	if (want_object(v, path, err) < 0)
		return -1;
	if (get_abs_path(v, path, "path", true, &d->path, err) < 0)
		return -1;
	child_path(fp, path, "path");
	if (strcmp(d->path, "/") == 0 || strstr(d->path, "/../") ||
	    (strlen(d->path) >= 3 && strcmp(d->path + strlen(d->path) - 3, "/..") == 0))
		return husk_error_set(err, 0, "%s: \"%s\" is not a device path", fp, d->path);
	child_path(fp, path, "type");
	if (!(f = member(v, "type")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(f, json_type_string))
		return type_error(fp, "a string", err);
	const char *t = json_object_get_string(f);
	if (strcmp(t, "c") == 0 || strcmp(t, "u") == 0)
		d->type = S_IFCHR;
	else if (strcmp(t, "b") == 0)
		d->type = S_IFBLK;
	else if (strcmp(t, "p") == 0)
		d->type = S_IFIFO;
	else
		return husk_error_set(err, 0, "%s: \"%s\" is not a device type (c, b, u or p)", fp, t);
	static const char *const numbers[] = { "major", "minor" };
	for (int k = 0; k < 2; k++) {
		int64_t x;
		child_path(fp, path, numbers[k]);
		if (!(f = member(v, numbers[k]))) {
			if (d->type == S_IFIFO)
				continue;
			return husk_error_set(err, 0, "%s: required for a type %s device", fp, t);
		}
		/* What makedev() can encode: 12 bits of major, 20 of minor. */
		if (get_int64(f, fp, 0, k == 0 ? 0xfff : 0xfffff, &x, err) < 0)
			return -1;
		*(k == 0 ? &d->major : &d->minor) = (uint32_t)x;
	}
	d->mode = 0666;
	if ((f = member(v, "fileMode"))) {
		int64_t x;
		child_path(fp, path, "fileMode");
		if (get_int64(f, fp, 0, 07777, &x, err) < 0)
			return -1;
		d->mode = (mode_t)x;
	}
	if (get_opt_id(v, path, "uid", &d->uid, err) < 0 || get_opt_id(v, path, "gid", &d->gid, err) < 0)
		return -1;
	return 0;
}

static int parse_devices(jobj *v, const char *path, struct oci_config *c, husk_error_t *err)
{
	char ip[PATHLEN];

	if (!json_object_is_type(v, json_type_array))
		return type_error(path, "an array", err);
	size_t n = json_object_array_length(v);
	c->devices = calloc(n ? n : 1, sizeof(*c->devices));
	if (!c->devices)
		return husk_error_set(err, ENOMEM, "%s", path);
	for (size_t i = 0; i < n; i++) {
		index_path(ip, path, i);
		c->ndevices = i + 1;
		if (parse_device(json_object_array_get_idx(v, i), ip, &c->devices[i], err) < 0)
			return -1;
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->devices[k].path, c->devices[i].path) == 0)
				return husk_error_set(err, 0, "%s.path: duplicate device \"%s\"", ip,
						      c->devices[i].path);
	}
	return 0;
}

static int parse_linux(jobj *v, const char *path, struct oci_config *c, husk_error_t *err)
{
	char fp[PATHLEN], ip[PATHLEN];
	jobj *f;

	if (want_object(v, path, err) < 0)
		return -1;
	if ((f = member(v, "namespaces"))) {
		child_path(fp, path, "namespaces");
		if (parse_namespaces(f, fp, c, err) < 0)
			return -1;
	}
	if ((f = member(v, "devices"))) {
		child_path(fp, path, "devices");
		if (parse_devices(f, fp, c, err) < 0)
			return -1;
	}
	/* Resolved and checked by runtime/cgroup.c, which knows the driver. */
	if ((f = member(v, "cgroupsPath"))) {
		child_path(fp, path, "cgroupsPath");
		if (get_string(f, fp, &c->cgroups_path, err) < 0)
			return -1;
	}
	if ((f = member(v, "sysctl"))) {
		child_path(fp, path, "sysctl");
		if (want_object(f, fp, err) < 0)
			return -1;
		size_t n = (size_t)json_object_object_length(f), i = 0;
		c->sysctl = calloc(n ? n : 1, sizeof(*c->sysctl));
		if (!c->sysctl)
			return husk_error_set(err, ENOMEM, "%s", fp);
		json_object_object_foreach(f, key, val)
		{
			child_path(ip, fp, key);
			if (i >= n)
				break;
			c->nsysctl = i + 1;
			c->sysctl[i].key = strdup(key);
			if (!c->sysctl[i].key)
				return husk_error_set(err, ENOMEM, "%s", ip);
			if (get_string(val, ip, &c->sysctl[i].value, err) < 0)
				return -1;
			if (!key[0] || strstr(key, "..") || key[0] == '/' || key[0] == '.')
				return husk_error_set(err, 0, "%s: not a sysctl name", ip);
			i++;
		}
	}
	if ((f = member(v, "maskedPaths"))) {
		child_path(fp, path, "maskedPaths");
		if (get_strings(f, fp, &c->masked_paths, &c->nmasked_paths, err) < 0)
			return -1;
	}
	if ((f = member(v, "readonlyPaths"))) {
		child_path(fp, path, "readonlyPaths");
		if (get_strings(f, fp, &c->readonly_paths, &c->nreadonly_paths, err) < 0)
			return -1;
	}
	if ((f = member(v, "seccomp"))) {
		child_path(fp, path, "seccomp");
		c->seccomp = calloc(1, sizeof(*c->seccomp));
		if (!c->seccomp)
			return husk_error_set(err, ENOMEM, "%s", fp);
		if (parse_seccomp(f, fp, c->seccomp, err) < 0)
			return -1;
	}
	if ((f = member(v, "resources"))) {
		child_path(fp, path, "resources");
		if (parse_resources(f, fp, &c->resources, err) < 0)
			return -1;
	}
	return 0;
}

const char *const oci_hook_names[OCI_HOOK_NKINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int parse_hooks(jobj *v, struct oci_config *c, husk_error_t *err)
{
	char kp[PATHLEN], hp[PATHLEN], fp[PATHLEN];
	jobj *list, *f;

	if (want_object(v, "hooks", err) < 0)
		return -1;
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		if (!(list = member(v, oci_hook_names[k])))
			continue;
		child_path(kp, "hooks", oci_hook_names[k]);
		if (!json_object_is_type(list, json_type_array))
			return type_error(kp, "an array", err);
		size_t n = json_object_array_length(list);
		c->hooks[k] = calloc(n ? n : 1, sizeof(struct oci_hook));
		if (!c->hooks[k])
			return husk_error_set(err, ENOMEM, "%s", kp);
		for (size_t i = 0; i < n; i++) {
			struct oci_hook *h = &c->hooks[k][i];
			jobj *o = json_object_array_get_idx(list, i);
			index_path(hp, kp, i);
			c->nhooks[k] = i + 1;
			if (want_object(o, hp, err) < 0)
				return -1;
			if (get_abs_path(o, hp, "path", true, &h->path, err) < 0)
				return -1;
			child_path(fp, hp, "args");
			if ((f = member(o, "args")) && get_strings(f, fp, &h->args, &(size_t){ 0 }, err) < 0)
				return -1;
			child_path(fp, hp, "env");
			if ((f = member(o, "env")) && get_strings(f, fp, &h->env, &(size_t){ 0 }, err) < 0)
				return -1;
			child_path(fp, hp, "timeout");
			int64_t t = 0;
			if ((f = member(o, "timeout")) && get_int64(f, fp, 1, INT32_MAX, &t, err) < 0)
				return -1;
			h->timeout = (int)t;
		}
	}
	return 0;
}

static int parse_annotations(jobj *v, struct oci_config *c, husk_error_t *err)
{
	char ip[PATHLEN];

	if (want_object(v, "annotations", err) < 0)
		return -1;
	size_t n = (size_t)json_object_object_length(v), i = 0;
	c->annotations = calloc(n ? n : 1, sizeof(*c->annotations));
	if (!c->annotations)
		return husk_error_set(err, ENOMEM, "annotations");
	json_object_object_foreach(v, key, val)
	{
		if (i >= n)
			break;
		child_path(ip, "annotations", key);
		c->nannotations = i + 1;
		if (!(c->annotations[i].key = strdup(key)))
			return husk_error_set(err, ENOMEM, "%s", ip);
		if (get_string(val, ip, &c->annotations[i].value, err) < 0)
			return -1;
		i++;
	}
	return 0;
}

const char *oci_config_annotation(const struct oci_config *c, const char *key)
{
	for (size_t i = 0; i < c->nannotations; i++)
		if (strcmp(c->annotations[i].key, key) == 0)
			return c->annotations[i].value;
	return NULL;
}

/* What parse_json() learns from the text before json-c builds a tree. */
struct json_scan {
	size_t containers; /* objects and arrays */
	size_t values;	   /* a bound on how many values: separators + 1 */
	/* Integer literals at the bounds json-c saturates to
	 * (-9223372036854775808, 18446744073709551615) and beyond them. */
	size_t at_bound, beyond_bound, first_beyond;
	size_t too_deep; /* offset of the first bracket past OCI_JSON_MAX_DEPTH, or 0 */
};

/* One pass over the text, outside strings and comments. */
static void scan_json(const char *s, size_t len, struct json_scan *out)
{
	size_t depth = 0;

	*out = (struct json_scan){ .values = 1 };
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"' || c == '\'') {
			for (i++; i < len && s[i] != c; i++)
				if (s[i] == '\\')
					i++;
			continue;
		}
		if (c == '/' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '/')) {
			bool block = s[i + 1] == '*';
			for (i += 2; i < len; i++)
				if (block ? s[i] == '*' && i + 1 < len && s[i + 1] == '/' : s[i] == '\n')
					break;
			i += block;
			continue;
		}
		if ((c == '{' || c == '[') && ++depth > OCI_JSON_MAX_DEPTH && !out->too_deep)
			out->too_deep = i;
		depth -= depth && (c == '}' || c == ']');
		out->containers += c == '{' || c == '[';
		out->values += c == ',' || c == '{' || c == '[';
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		size_t start = i;
		bool neg = c == '-';
		i += neg;
		while (i < len && s[i] == '0')
			i++;
		size_t digits = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		size_t n = i - digits;
		bool integer = !(i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E'));
		while (i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' ||
				   s[i] == 'E' || s[i] == '+' || s[i] == '-'))
			i++;
		i--;
		if (!integer)
			continue;
		const char *bound = neg ? "9223372036854775808" : "18446744073709551615";
		size_t bn = strlen(bound);
		int cmp = n != bn ? (n > bn) - (n < bn) : memcmp(s + digits, bound, bn);
		if (cmp > 0 && !out->beyond_bound++)
			out->first_beyond = start;
		out->at_bound += cmp == 0;
	}
}

static int mark_saturated(jobj *v, int flags, jobj *parent, const char *key, size_t *index,
			  void *arg)
{
	(void)flags, (void)parent, (void)key, (void)index, (void)arg;
	if (json_object_is_type(v, json_type_int) &&
	    (json_object_get_int64(v) == INT64_MIN || json_object_get_uint64(v) == UINT64_MAX))
		json_object_set_userdata(v, (void *)&saturated_mark, NULL);
	return JSON_C_VISIT_RETURN_CONTINUE;
}

static jobj *parse_json(const char *json, size_t len, const char *what, husk_error_t *err)
{
	if (len >= OCI_CONFIG_MAX) {
		husk_error_set(err, 0, "%s: %zu bytes, too large (the limit is %u MiB)", what, len,
			       OCI_CONFIG_MAX >> 20);
		return NULL;
	}
	/* json-c spends some 800 bytes on an empty object: 16 MiB of "{},"
	 * would cost 4 GiB and a minute. Counted first, from the text. */
	struct json_scan scan;
	scan_json(json, len, &scan);
	if (scan.too_deep) {
		husk_error_set(err, 0, "%s: invalid JSON: nested deeper than %d levels at byte %zu",
			       what, OCI_JSON_MAX_DEPTH, scan.too_deep);
		return NULL;
	}
	if (scan.containers > OCI_JSON_MAX_CONTAINERS) {
		husk_error_set(err, 0, "%s: more than %d objects and arrays (the limit)", what,
			       OCI_JSON_MAX_CONTAINERS);
		return NULL;
	}
	if (scan.values > OCI_JSON_MAX_VALUES) {
		husk_error_set(err, 0, "%s: more than %d values (the limit)", what, OCI_JSON_MAX_VALUES);
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(OCI_JSON_MAX_DEPTH);
	if (!tok) {
		husk_error_set(err, ENOMEM, "%s", what);
		return NULL;
	}
	jobj *o = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || e != json_tokener_success) {
		json_object_put(o);
		if (e == json_tokener_error_depth)
			husk_error_set(err, 0, "%s: invalid JSON: nested deeper than %d levels at byte %zu",
				       what, OCI_JSON_MAX_DEPTH, end);
		else
			husk_error_set(err, 0, "%s: invalid JSON: %s", what,
				       !o && e == json_tokener_success ? "empty"
				       : e == json_tokener_continue   ? "unexpected end of input"
								      : json_tokener_error_desc(e));
		return NULL;
	}
	for (; end < len; end++)
		if (!memchr(" \t\r\n", json[end], 4)) {
			json_object_put(o);
			husk_error_set(err, 0, "%s: invalid JSON: trailing data at byte %zu", what, end);
			return NULL;
		}
	if (scan.beyond_bound && scan.at_bound) {
		/* Which of the values at a bound was written as one is lost;
		 * refuse rather than guess. */
		json_object_put(o);
		husk_error_set(err, 0, "%s: invalid JSON: integer at byte %zu out of range [%lld, %llu]",
			       what, scan.first_beyond, (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
		return NULL;
	}
	if (scan.beyond_bound)
		json_c_visit(o, 0, mark_saturated, NULL);
	return o;
}

struct oci_config *oci_config_parse(const char *json, size_t len, husk_error_t *err)
{
	jobj *o = parse_json(json, len, "config.json", err), *f, *g;
	struct oci_config *c = NULL;
	char fp[PATHLEN];

	if (!o)
		return NULL;
	if (want_object(o, "config.json", err) < 0)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (!c) {
		husk_error_set(err, ENOMEM, "config.json");
		goto fail;
	}
	if ((f = member(o, "ociVersion")) && !json_object_is_type(f, json_type_string)) {
		type_error("ociVersion", "a string", err);
		goto fail;
	}
	if ((f = member(o, "process"))) {
		c->has_process = true;
		if (parse_process_obj(f, "process", &c->process, err) < 0)
			goto fail;
	}
	if (!(f = member(o, "root"))) {
		husk_error_set(err, 0, "root: required");
		goto fail;
	}
	if (want_object(f, "root", err) < 0)
		goto fail;
	if (!(g = member(f, "path"))) {
		husk_error_set(err, 0, "root.path: required");
		goto fail;
	}
	if (get_string(g, "root.path", &c->root_path, err) < 0)
		goto fail;
	if ((g = member(f, "readonly")) && get_bool(g, "root.readonly", &c->root_readonly, err) < 0)
		goto fail;
	if ((f = member(o, "hostname")) && get_string(f, "hostname", &c->hostname, err) < 0)
		goto fail;
	if ((f = member(o, "domainname")) && get_string(f, "domainname", &c->domainname, err) < 0)
		goto fail;
	if ((c->hostname && strlen(c->hostname) > 64) || (c->domainname && strlen(c->domainname) > 64)) {
		husk_error_set(err, 0, "%s: longer than 64 bytes",
			       c->hostname && strlen(c->hostname) > 64 ? "hostname" : "domainname");
		goto fail;
	}
	if ((f = member(o, "mounts"))) {
		if (!json_object_is_type(f, json_type_array)) {
			type_error("mounts", "an array", err);
			goto fail;
		}
		size_t n = json_object_array_length(f);
		c->mounts = calloc(n ? n : 1, sizeof(*c->mounts));
		if (!c->mounts) {
			husk_error_set(err, ENOMEM, "mounts");
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			index_path(fp, "mounts", i);
			c->nmounts = i + 1;
			if (parse_mount(json_object_array_get_idx(f, i), fp, &c->mounts[i], err) < 0)
				goto fail;
		}
	}
	if ((f = member(o, "linux")) && parse_linux(f, "linux", c, err) < 0)
		goto fail;
	if ((f = member(o, "hooks")) && parse_hooks(f, c, err) < 0)
		goto fail;
	if ((f = member(o, "annotations")) && parse_annotations(f, c, err) < 0)
		goto fail;
	json_object_put(o);
	return c;
fail:
	json_object_put(o);
	oci_config_free(c);
	return NULL;
}

int oci_resources_parse(const char *json, size_t len, struct oci_resources *out, husk_error_t *err)
{
	jobj *o = parse_json(json, len, "resources", err);
	if (!o)
		return -1;
	*out = (struct oci_resources){ 0 };
	int ret = parse_resources(o, "resources", out, err);
	json_object_put(o);
	return ret;
}

struct oci_process *oci_process_parse(const char *json, size_t len, husk_error_t *err)
{
	jobj *o = parse_json(json, len, "process.json", err);
	struct oci_process *p;

	if (!o)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		husk_error_set(err, ENOMEM, "process.json");
	} else if (parse_process_obj(o, "process", p, err) < 0) {
		oci_process_free(p);
		p = NULL;
	}
	json_object_put(o);
	return p;
}

char *oci_config_read(const char *path, size_t *len, husk_error_t *err)
{
	/* O_NONBLOCK: a FIFO in the bundle's place must not hold us in open(). */
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		husk_error_set(err, errno, "open %s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		husk_error_set(err, 0, "%s: not a regular file", path);
		return NULL;
	}
	/* Refused before a byte is read: the size is the bundle's to choose. */
	if ((uint64_t)st.st_size >= OCI_CONFIG_MAX) {
		husk_error_set(err, 0, "%s: %lld bytes, too large (the limit is %u MiB)", path,
			       (long long)st.st_size, OCI_CONFIG_MAX >> 20);
		return NULL;
	}
	/* One byte more than fstat() said, to see a file that grows meanwhile. */
	size_t want = (size_t)st.st_size + 1, got = 0;
	char *buf = malloc(want + 1);
	if (!buf) {
		husk_error_set(err, ENOMEM, "read %s", path);
		return NULL;
	}
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			husk_error_set(err, errno, "read %s", path);
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got == want) {
		husk_error_set(err, 0, "%s: grew while it was read", path);
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

struct oci_config *oci_config_load(const char *path, husk_error_t *err)
{
	size_t len;
	cleanup_free char *buf = oci_config_read(path, &len, err);

	if (!buf)
		return NULL;
	struct oci_config *c = oci_config_parse(buf, len, err);
	if (!c)
		husk_error_wrap(err, "%s", path);
	return c;
}

static void process_release(struct oci_process *p)
{
	free_strings(p->args);
	free_strings(p->env);
	free(p->cwd);
	free(p->additional_gids);
	free(p->rlimits);
}

void oci_process_free(struct oci_process *p)
{
	if (!p)
		return;
	process_release(p);
	free(p);
}

void oci_config_free(struct oci_config *c)
{
	if (!c)
		return;
	process_release(&c->process);
	free(c->root_path);
	free(c->hostname);
	free(c->domainname);
	for (size_t i = 0; i < c->nmounts; i++) {
		free(c->mounts[i].destination);
		free(c->mounts[i].source);
		free(c->mounts[i].type);
		free(c->mounts[i].data);
	}
	free(c->mounts);
	for (size_t i = 0; i < c->nnamespaces; i++)
		free(c->namespaces[i].path);
	free(c->namespaces);
	for (size_t i = 0; i < c->nsysctl; i++) {
		free(c->sysctl[i].key);
		free(c->sysctl[i].value);
	}
	free(c->sysctl);
	free_strings(c->masked_paths);
	free_strings(c->readonly_paths);
	free(c->cgroups_path);
	for (size_t i = 0; i < c->nannotations; i++) {
		free(c->annotations[i].key);
		free(c->annotations[i].value);
	}
	free(c->annotations);
	for (size_t i = 0; i < c->ndevices; i++)
		free(c->devices[i].path);
	free(c->devices);
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		for (size_t i = 0; i < c->nhooks[k]; i++) {
			free(c->hooks[k][i].path);
			free_strings(c->hooks[k][i].args);
			free_strings(c->hooks[k][i].env);
		}
		free(c->hooks[k]);
	}
	if (c->seccomp) {
		for (size_t i = 0; i < c->seccomp->nsyscalls; i++) {
			free_strings(c->seccomp->syscalls[i].names);
			free(c->seccomp->syscalls[i].args);
		}
		free(c->seccomp->syscalls);
		free(c->seccomp->archs);
		free(c->seccomp);
	}
	free(c);
}

const struct oci_namespace *oci_config_namespace(const struct oci_config *c, int type)
{
	for (size_t i = 0; i < c->nnamespaces; i++)
		if (c->namespaces[i].type == type)
			return &c->namespaces[i];
	return NULL;
}

char *oci_resources_to_json(const struct oci_resources *r)
{
	jobj *o = json_object_new_object(), *mem = NULL, *cpu = NULL;
	if (r->has_memory_limit || r->has_memory_swap) {
		mem = json_object_new_object();
		if (r->has_memory_limit)
			json_object_object_add(mem, "limit", json_object_new_int64(r->memory_limit));
		if (r->has_memory_swap)
			json_object_object_add(mem, "swap", json_object_new_int64(r->memory_swap));
		json_object_object_add(o, "memory", mem);
	}
	if (r->has_cpu_quota || r->has_cpu_period || r->has_cpu_shares) {
		cpu = json_object_new_object();
		if (r->has_cpu_quota)
			json_object_object_add(cpu, "quota", json_object_new_int64(r->cpu_quota));
		if (r->has_cpu_period)
			json_object_object_add(cpu, "period", json_object_new_uint64(r->cpu_period));
		if (r->has_cpu_shares)
			json_object_object_add(cpu, "shares", json_object_new_uint64(r->cpu_shares));
		json_object_object_add(o, "cpu", cpu);
	}
	if (r->has_pids_limit) {
		jobj *pids = json_object_new_object();
		json_object_object_add(pids, "limit", json_object_new_int64(r->pids_limit));
		json_object_object_add(o, "pids", pids);
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	char *text = s ? strdup(s) : NULL;
	json_object_put(o);
	return text;
}
