/* config.json / process.json parser: see config.h. This file holds the
 * document, process, mounts, hooks and annotations; linux.* is in
 * config_linux.c, the JSON readers in config_json.c. Each parse_*
 * function takes the JSON path of the value it reads, for its error
 * messages. */
#include "oci/config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "oci/config_internal.h"
#include "oci/tables.h"

/* Capability NAME, at PATH, into the set *CTX. */
static int add_cap(const char *name, const char *path, size_t i, void *ctx, husk_error_t *err)
{
	uint64_t *set = ctx;
	int c = oci_name_lookup(&oci_capabilities, name);

	(void)i;
	if (c < 0)
		return husk_error_set(err, 0, "%s: unknown capability \"%s\"", path, name);
	*set |= 1ULL << c;
	return 0;
}

static int parse_caps(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;
	static const char *const sets[OCI_CAP_NSETS] = {
		[OCI_CAP_BOUNDING] = "bounding",       [OCI_CAP_EFFECTIVE] = "effective",
		[OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
		[OCI_CAP_AMBIENT] = "ambient",
	};
	char sp[OCI_JSON_PATHLEN];

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	p->has_caps = true;
	for (int s = 0; s < OCI_CAP_NSETS; s++) {
		jobj *a = oci_json_member(v, sets[s]);
		if (!a)
			continue;
		oci_json_child_path(sp, path, sets[s]);
		if (oci_json_each_string(a, sp, add_cap, &p->caps[s], err) < 0)
			return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

static const struct oci_field rlimit_fields[] = {
	{ "soft", OCI_UINT64(struct oci_rlimit, soft), OCI_REQUIRED },
	{ "hard", OCI_UINT64(struct oci_rlimit, hard), OCI_REQUIRED },
	{ 0 },
};

/* process.rlimits[I], with the rlimits before it in P (CTX). */
static int parse_rlimit(jobj *e, const char *ip, void *elem, size_t i, void *ctx, husk_error_t *err)
{
	struct oci_process *p = ctx;
	struct oci_rlimit *r = elem;
	char fp[OCI_JSON_PATHLEN];

	jobj *t = oci_json_member(e, "type");
	oci_json_child_path(fp, ip, "type");
	if (!t)
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(t, json_type_string))
		return oci_json_type_error(fp, "a string", err);
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
	if (oci_json_read_fields(e, ip, rlimit_fields, r, err) < 0)
		return -1;
	if (r->soft > r->hard)
		return husk_error_set(err, 0, "%s: soft limit above the hard limit", ip);
	return 0;
}

static int parse_rlimits(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;

	return oci_json_each_object(v, path, &p->rlimits, &p->nrlimits, sizeof(*p->rlimits),
				    parse_rlimit, p, err);
}

static const struct oci_field console_size_fields[] = {
	{ "height", OCI_UINT32(struct oci_process, console_height, 0, UINT32_MAX) },
	{ "width", OCI_UINT32(struct oci_process, console_width, 0, UINT32_MAX) },
	{ 0 },
};

static int parse_console_size(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;

	if (oci_json_want_object(v, path, err) < 0 ||
	    oci_json_read_fields(v, path, console_size_fields, p, err) < 0)
		return -1;
	if (p->console_height > 65535 || p->console_width > 65535)
		return husk_error_set(err, 0, "%s: larger than 65535", path);
	return 0;
}

static int parse_args(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;

	if (oci_json_strings(v, path, &p->args, &p->nargs, err) < 0)
		return -1;
	if (p->nargs == 0)
		return husk_error_set(err, 0, "%s: must not be empty", path);
	if (p->args[0][0] == '\0')
		return husk_error_set(err, 0, "%s[0]: must not be empty", path);
	return 0;
}

static int parse_env(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;
	char ip[OCI_JSON_PATHLEN];

	if (oci_json_strings(v, path, &p->env, &p->nenv, err) < 0)
		return -1;
	for (size_t i = 0; i < p->nenv; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=') {
			oci_json_index_path(ip, path, i);
			return husk_error_set(err, 0, "%s: \"%s\" is not NAME=VALUE", ip,
					      p->env[i]);
		}
	return 0;
}

static int parse_umask(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;
	uint32_t x;

	if (oci_json_uint32(v, path, &x, err) < 0)
		return -1;
	if (x > 0777)
		return husk_error_set(err, 0, "%s: %u is not a mode", path, x);
	p->has_umask = true;
	p->umask = x;
	return 0;
}

static int parse_additional_gids(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_process *p = obj;
	char ip[OCI_JSON_PATHLEN];
	uint32_t x;

	if (!json_object_is_type(v, json_type_array))
		return oci_json_type_error(path, "an array of integers", err);
	size_t n = json_object_array_length(v);
	if (n > 65536)
		return husk_error_set(err, 0, "%s: too many groups", path);
	p->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
	if (!p->additional_gids)
		return husk_error_set(err, ENOMEM, "%s", path);
	for (size_t i = 0; i < n; i++) {
		oci_json_index_path(ip, path, i);
		if (oci_json_id(json_object_array_get_idx(v, i), ip, &x, err) < 0)
			return -1;
		p->additional_gids[i] = x;
		p->nadditional_gids = i + 1;
	}
	return 0;
}

static const struct oci_field user_fields[] = {
	{ "uid", OCI_ID(struct oci_process, uid) },
	{ "gid", OCI_ID(struct oci_process, gid) },
	{ "umask", OCI_CUSTOM(parse_umask) },
	{ "additionalGids", OCI_CUSTOM(parse_additional_gids) },
	{ 0 },
};

static const struct oci_field process_fields[] = {
	{ "terminal", OCI_BOOL(struct oci_process, terminal) },
	{ "consoleSize", OCI_CUSTOM(parse_console_size) },
	{ "args", OCI_CUSTOM(parse_args), OCI_REQUIRED },
	{ "env", OCI_CUSTOM(parse_env) },
	{ "cwd", OCI_ABS_PATH(struct oci_process, cwd), OCI_REQUIRED },
	{ "user", OCI_OBJECT(user_fields) },
	{ "capabilities", OCI_CUSTOM(parse_caps) },
	{ "rlimits", OCI_CUSTOM(parse_rlimits) },
	{ "noNewPrivileges", OCI_BOOL(struct oci_process, no_new_privileges) },
	{ "oomScoreAdj", OCI_INT(struct oci_process, oom_score_adj, -1000, 1000),
	  OCI_HAS(struct oci_process, has_oom_score_adj) },
	{ 0 },
};

static int parse_process_obj(jobj *v, const char *path, struct oci_process *p, husk_error_t *err)
{
	if (oci_json_want_object(v, path, err) < 0 ||
	    oci_json_read_fields(v, path, process_fields, p, err) < 0)
		return -1;
	/* No env is an empty one. */
	if (!p->env && !(p->env = calloc(1, sizeof(char *))))
		return husk_error_set(err, ENOMEM, "%s", path);
	return 0;
}

/* Mount options: flags, propagation, or kernel data. */
static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "async", 0, MS_SYNCHRONOUS },
	{ "atime", 0, MS_NOATIME },
	{ "bind", MS_BIND, 0 },
	{ "defaults", 0, 0 },
	{ "dev", 0, MS_NODEV },
	{ "diratime", 0, MS_NODIRATIME },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "exec", 0, MS_NOEXEC },
	{ "iversion", MS_I_VERSION, 0 },
	{ "lazytime", MS_LAZYTIME, 0 },
	{ "loud", 0, MS_SILENT },
	{ "mand", MS_MANDLOCK, 0 },
	{ "noatime", MS_NOATIME, 0 },
	{ "nodev", MS_NODEV, 0 },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "noexec", MS_NOEXEC, 0 },
	{ "noiversion", 0, MS_I_VERSION },
	{ "nolazytime", 0, MS_LAZYTIME },
	{ "nomand", 0, MS_MANDLOCK },
	{ "norelatime", 0, MS_RELATIME },
	{ "nostrictatime", 0, MS_STRICTATIME },
	{ "nosuid", MS_NOSUID, 0 },
	{ "rbind", MS_BIND | MS_REC, 0 },
	{ "relatime", MS_RELATIME, 0 },
	{ "remount", MS_REMOUNT, 0 },
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "silent", MS_SILENT, 0 },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "sync", MS_SYNCHRONOUS, 0 },
};

static const struct {
	const char *name;
	unsigned long flags;
} mount_propagation[] = {
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* The recursive options, as runc maps them to mount_setattr(2). */
static const struct {
	const char *name;
	bool clear;
	uint64_t attr;
} mount_rec_attrs[] = {
	{ "rro", false, MOUNT_ATTR_RDONLY },
	{ "rrw", true, MOUNT_ATTR_RDONLY },
	{ "rnosuid", false, MOUNT_ATTR_NOSUID },
	{ "rsuid", true, MOUNT_ATTR_NOSUID },
	{ "rnodev", false, MOUNT_ATTR_NODEV },
	{ "rdev", true, MOUNT_ATTR_NODEV },
	{ "rnoexec", false, MOUNT_ATTR_NOEXEC },
	{ "rexec", true, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", false, MOUNT_ATTR_NODIRATIME },
	{ "rdiratime", true, MOUNT_ATTR_NODIRATIME },
	{ "rrelatime", false, MOUNT_ATTR_RELATIME },
	{ "rnorelatime", true, MOUNT_ATTR_RELATIME },
	{ "rnoatime", false, MOUNT_ATTR_NOATIME },
	{ "ratime", true, MOUNT_ATTR_NOATIME },
	{ "rstrictatime", false, MOUNT_ATTR_STRICTATIME },
	{ "rnostrictatime", true, MOUNT_ATTR_STRICTATIME },
	{ "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
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

/* mounts[].options[I]: O, at IP, into the mount (CTX). */
static int parse_mount_option(const char *o, const char *ip, size_t i, void *ctx, husk_error_t *err)
{
	struct oci_mount *m = ctx;

	(void)i;
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
				m->rec_attr_clr = (m->rec_attr_clr & ~a) |
						  (atime ? MOUNT_ATTR__ATIME : 0);
			}
			/* And the plain form on the mount itself, which the
			 * host reads too (a read-only bind share). */
			const char *plain = strcmp(o, "rrw") == 0 ? "rw" : o + 1;
			for (size_t j = 0; j < sizeof(mount_flags) / sizeof(mount_flags[0]); j++)
				if (strcmp(mount_flags[j].name, plain) == 0) {
					m->flags = (m->flags | mount_flags[j].set) &
						   ~mount_flags[j].clear;
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
	return 0;
}

static int parse_mount_options(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	return oci_json_each_string(v, path, parse_mount_option, obj, err);
}

static const struct oci_field mount_fields[] = {
	{ "destination", OCI_ABS_PATH(struct oci_mount, destination), OCI_REQUIRED },
	{ "source", OCI_STRING(struct oci_mount, source) },
	{ "type", OCI_STRING(struct oci_mount, type) },
	{ "options", OCI_CUSTOM(parse_mount_options) },
	{ 0 },
};

static int parse_mount(jobj *v, const char *path, void *elem, size_t i, void *ctx,
		       husk_error_t *err)
{
	struct oci_mount *m = elem;

	(void)i, (void)ctx;
	if (oci_json_read_fields(v, path, mount_fields, m, err) < 0)
		return -1;
	/* A mount of type "bind" is one without options too, as in runc. */
	m->bind = (m->flags & MS_BIND) != 0 || (m->type && strcmp(m->type, "bind") == 0);
	m->recursive = (m->flags & MS_REC) != 0;
	return 0;
}

const char *const oci_hook_names[OCI_HOOK_NKINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

/* hooks.KIND[I]. */
static const struct oci_field hook_fields[] = {
	{ "path", OCI_ABS_PATH(struct oci_hook, path), OCI_REQUIRED },
	{ "args", OCI_STRINGS(struct oci_hook, args) },
	{ "env", OCI_STRINGS(struct oci_hook, env) },
	{ "timeout", OCI_INT(struct oci_hook, timeout, 1, INT32_MAX) },
	{ 0 },
};

/* hooks.KIND[I]. */
static int parse_hook(jobj *o, const char *hp, void *elem, size_t i, void *ctx, husk_error_t *err)
{
	(void)i, (void)ctx;
	return oci_json_read_fields(o, hp, hook_fields, elem, err);
}

static int parse_hooks(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;
	char kp[OCI_JSON_PATHLEN];
	jobj *list;

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		if (!(list = oci_json_member(v, oci_hook_names[k])))
			continue;
		oci_json_child_path(kp, path, oci_hook_names[k]);
		if (oci_json_each_object(list, kp, &c->hooks[k], &c->nhooks[k],
					 sizeof(struct oci_hook), parse_hook, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_annotations(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	return oci_json_string_map(v, path, &c->annotations, &c->nannotations, NULL, err);
}

const char *oci_config_annotation(const struct oci_config *c, const char *key)
{
	for (size_t i = 0; i < c->nannotations; i++)
		if (strcmp(c->annotations[i].key, key) == 0)
			return c->annotations[i].value;
	return NULL;
}

static int parse_oci_version(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	(void)obj;
	if (!json_object_is_type(v, json_type_string))
		return oci_json_type_error(path, "a string", err);
	return 0;
}

static int parse_process(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	c->has_process = true;
	return parse_process_obj(v, path, &c->process, err);
}

static int parse_mounts(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	return oci_json_each_object(v, path, &c->mounts, &c->nmounts, sizeof(*c->mounts),
				    parse_mount, NULL, err);
}

static const struct oci_field root_fields[] = {
	{ "path", OCI_STRING(struct oci_config, root_path), OCI_REQUIRED },
	{ "readonly", OCI_BOOL(struct oci_config, root_readonly) },
	{ 0 },
};

/* A hostname or domainname that the kernel takes (__NEW_UTS_LEN). */
#define UTS_NAME_MAX 64

static const struct oci_field config_fields[] = {
	{ "ociVersion", OCI_CUSTOM(parse_oci_version) },
	{ "process", OCI_CUSTOM(parse_process) },
	{ "root", OCI_OBJECT(root_fields), OCI_REQUIRED },
	{ "hostname", OCI_STRING(struct oci_config, hostname), .max = UTS_NAME_MAX },
	{ "domainname", OCI_STRING(struct oci_config, domainname), .max = UTS_NAME_MAX },
	{ "mounts", OCI_CUSTOM(parse_mounts) },
	{ "linux", OCI_OBJECT(oci_linux_fields) },
	{ "hooks", OCI_CUSTOM(parse_hooks) },
	{ "annotations", OCI_CUSTOM(parse_annotations) },
	{ 0 },
};

struct oci_config *oci_config_parse(const char *json, size_t len, husk_error_t *err)
{
	jobj *o = oci_json_parse(json, len, "config.json", err);
	struct oci_config *c = NULL;

	if (!o)
		return NULL;
	if (oci_json_want_object(o, "config.json", err) < 0)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (!c) {
		husk_error_set(err, ENOMEM, "config.json");
		goto fail;
	}
	if (oci_json_read_fields(o, "", config_fields, c, err) < 0)
		goto fail;
	json_object_put(o);
	return c;
fail:
	json_object_put(o);
	oci_config_free(c);
	return NULL;
}

struct oci_process *oci_process_parse(const char *json, size_t len, husk_error_t *err)
{
	jobj *o = oci_json_parse(json, len, "process.json", err);
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
	oci_strv_free(p->args);
	oci_strv_free(p->env);
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
	oci_linux_release(c);
	for (size_t i = 0; i < c->nannotations; i++) {
		free(c->annotations[i].key);
		free(c->annotations[i].value);
	}
	free(c->annotations);
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		for (size_t i = 0; i < c->nhooks[k]; i++) {
			free(c->hooks[k][i].path);
			oci_strv_free(c->hooks[k][i].args);
			oci_strv_free(c->hooks[k][i].env);
		}
		free(c->hooks[k]);
	}
	free(c);
}
