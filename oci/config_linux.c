/* linux.* of config.json: namespaces, devices, sysctls, masked and
 * read-only paths, seccomp and resources (also parsed alone, for
 * `update --resources`). Apart from config.c because it is the part of
 * the spec tied to one kernel: what it accepts is what the guest's
 * clone3, mknod, seccomp and cgroup code can act on. */
#include "oci/config_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oci/tables.h"

static const struct {
	const char *name;
	int flag;
} ns_types[] = {
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC },
	{ "mount", CLONE_NEWNS },      { "network", CLONE_NEWNET },
	{ "pid", CLONE_NEWPID },       { "time", 0x00000080 /* CLONE_NEWTIME */ },
	{ "user", CLONE_NEWUSER },     { "uts", CLONE_NEWUTS },
};

static const struct oci_field namespace_fields[] = {
	{ "path", OCI_ABS_PATH(struct oci_namespace, path) },
	{ 0 },
};

/* linux.namespaces[I], with the namespaces before it in C (CTX). */
static int parse_namespace(jobj *e, const char *ip, void *elem, size_t i, void *ctx,
			   husk_error_t *err)
{
	struct oci_config *c = ctx;
	struct oci_namespace *ns = elem;
	char fp[OCI_JSON_PATHLEN];
	jobj *t;

	oci_json_child_path(fp, ip, "type");
	if (!(t = oci_json_member(e, "type")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(t, json_type_string))
		return oci_json_type_error(fp, "a string", err);
	const char *name = json_object_get_string(t);
	if (oci_name_lookup(&oci_namespaces, name) < 0)
		return husk_error_set(err, 0, "%s: unknown namespace \"%s\"", fp, name);
	for (size_t k = 0; k < sizeof(ns_types) / sizeof(ns_types[0]); k++)
		if (strcmp(ns_types[k].name, name) == 0)
			ns->type = ns_types[k].flag;
	for (size_t k = 0; k < i; k++)
		if (c->namespaces[k].type == ns->type)
			return husk_error_set(err, 0, "%s: duplicate namespace \"%s\"", fp, name);
	return oci_json_read_fields(e, ip, namespace_fields, ns, err);
}

/* A seccomp errno: SCMP_ACT_ERRNO() keeps its low 16 bits (the filter's
 * SECCOMP_RET_DATA), so 65536 would become errno 0, a syscall that
 * "succeeds" without running. */
#define SECCOMP_ERRNO_MAX 0xffff

static int parse_arg_index(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_seccomp_arg *arg = obj;
	uint32_t idx;

	if (oci_json_uint32(v, path, &idx, err) < 0)
		return -1;
	if (idx > 5)
		return husk_error_set(err, 0, "%s: %u is not an argument index (0-5)", path, idx);
	arg->index = idx;
	return 0;
}

static const struct oci_field syscall_arg_fields[] = {
	{ "index", OCI_CUSTOM(parse_arg_index), OCI_REQUIRED },
	{ "value", OCI_UINT64(struct oci_seccomp_arg, value), OCI_REQUIRED },
	{ "valueTwo", OCI_UINT64(struct oci_seccomp_arg, value_two) },
	{ "op", OCI_NAME(struct oci_seccomp_arg, op, &oci_seccomp_operators, "operator"),
	  OCI_REQUIRED },
	{ 0 },
};

/* linux.seccomp.syscalls[I].args[J]. */
static int parse_syscall_arg(jobj *a, const char *jp, void *elem, size_t j, void *ctx,
			     husk_error_t *err)
{
	(void)j, (void)ctx;
	return oci_json_read_fields(a, jp, syscall_arg_fields, elem, err);
}

static int parse_syscall_args(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_seccomp_syscall *sc = obj;

	if (json_object_is_type(v, json_type_array) && json_object_array_length(v) > 6)
		return husk_error_set(err, 0, "%s: more than 6 argument rules", path);
	return oci_json_each_object(v, path, &sc->args, &sc->nargs, sizeof(*sc->args),
				    parse_syscall_arg, NULL, err);
}

static const struct oci_field syscall_fields[] = {
	{ "names", OCI_STRINGS(struct oci_seccomp_syscall, names), OCI_REQUIRED,
	  OCI_COUNT(struct oci_seccomp_syscall, nnames) },
	{ "action", OCI_NAME(struct oci_seccomp_syscall, action, &oci_seccomp_actions, "action"),
	  OCI_REQUIRED },
	{ "errnoRet", OCI_UINT32(struct oci_seccomp_syscall, errno_ret, 0, SECCOMP_ERRNO_MAX),
	  OCI_HAS(struct oci_seccomp_syscall, has_errno) },
	{ "args", OCI_CUSTOM(parse_syscall_args) },
	{ 0 },
};

/* linux.seccomp.syscalls[I]. */
static int parse_syscall(jobj *e, const char *ip, void *elem, size_t i, void *ctx,
			 husk_error_t *err)
{
	(void)i, (void)ctx;
	return oci_json_read_fields(e, ip, syscall_fields, elem, err);
}

static int add_arch(const char *name, const char *path, size_t i, void *ctx, husk_error_t *err)
{
	struct oci_seccomp *s = ctx;

	s->archs[i] = oci_name_lookup(&oci_seccomp_archs, name);
	if (s->archs[i] < 0)
		return husk_error_set(err, 0, "%s: unsupported architecture \"%s\"", path, name);
	s->narchs = i + 1;
	return 0;
}

static int parse_archs(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_seccomp *s = obj;
	size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;

	s->archs = calloc(n ? n : 1, sizeof(int));
	if (!s->archs)
		return husk_error_set(err, ENOMEM, "%s", path);
	return oci_json_each_string(v, path, add_arch, s, err);
}

static int add_seccomp_flag(const char *name, const char *path, size_t i, void *ctx,
			    husk_error_t *err)
{
	struct oci_seccomp *s = ctx;
	int k = oci_name_lookup(&oci_seccomp_flags, name);

	(void)i;
	if (k < 0)
		return husk_error_set(err, 0, "%s: unsupported flag \"%s\"", path, name);
	s->flags |= 1u << k;
	return 0;
}

static int parse_seccomp_flags(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	return oci_json_each_string(v, path, add_seccomp_flag, obj, err);
}

static int parse_syscalls(jobj *f, const char *fp, void *obj, husk_error_t *err)
{
	struct oci_seccomp *s = obj;

	return oci_json_each_object(f, fp, &s->syscalls, &s->nsyscalls, sizeof(*s->syscalls),
				    parse_syscall, NULL, err);
}

static const struct oci_field seccomp_fields[] = {
	{ "defaultAction",
	  OCI_NAME(struct oci_seccomp, default_action, &oci_seccomp_actions, "action"),
	  OCI_REQUIRED },
	{ "defaultErrnoRet", OCI_UINT32(struct oci_seccomp, default_errno, 0, SECCOMP_ERRNO_MAX),
	  OCI_HAS(struct oci_seccomp, has_default_errno) },
	{ "architectures", OCI_CUSTOM(parse_archs) },
	{ "flags", OCI_CUSTOM(parse_seccomp_flags) },
	{ "syscalls", OCI_CUSTOM(parse_syscalls) },
	{ 0 },
};

static int parse_seccomp(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	c->seccomp = calloc(1, sizeof(*c->seccomp));
	if (!c->seccomp)
		return husk_error_set(err, ENOMEM, "%s", path);
	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	return oci_json_read_fields(v, path, seccomp_fields, c->seccomp, err);
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
			return husk_error_set(err, 0, "%s: \"%s\": range %lu-%lu runs backwards",
					      path, list, lo, hi);
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

/* cpu.cpus or cpu.mems (V, at PATH) into OUT. */
static int parse_cpuset_list(jobj *g, const char *sp, char *out, bool *has, unsigned *count,
			     husk_error_t *err)
{
	unsigned n;

	if (!json_object_is_type(g, json_type_string))
		return oci_json_type_error(sp, "a string", err);
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

static int parse_cpuset_cpus(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_resources *r = obj;

	return parse_cpuset_list(v, path, r->cpuset_cpus, &r->has_cpuset_cpus, &r->cpuset_ncpus,
				 err);
}

static int parse_cpuset_mems(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_resources *r = obj;

	return parse_cpuset_list(v, path, r->cpuset_mems, &r->has_cpuset_mems, NULL, err);
}

#define RES struct oci_resources

static const struct oci_field memory_fields[] = {
	{ "limit", OCI_INT64(RES, memory_limit, -1, INT64_MAX), OCI_HAS(RES, has_memory_limit) },
	{ "swap", OCI_INT64(RES, memory_swap, -1, INT64_MAX), OCI_HAS(RES, has_memory_swap) },
	{ 0 },
};

static const struct oci_field cpu_fields[] = {
	{ "quota", OCI_INT64(RES, cpu_quota, -1, INT64_MAX), OCI_HAS(RES, has_cpu_quota) },
	{ "period", OCI_UINT64(RES, cpu_period), OCI_HAS(RES, has_cpu_period) },
	{ "shares", OCI_UINT64(RES, cpu_shares), OCI_HAS(RES, has_cpu_shares) },
	{ "cpus", OCI_CUSTOM(parse_cpuset_cpus) },
	{ "mems", OCI_CUSTOM(parse_cpuset_mems) },
	{ 0 },
};

static const struct oci_field pids_fields[] = {
	{ "limit", OCI_INT64(RES, pids_limit, INT64_MIN, INT64_MAX), OCI_HAS(RES, has_pids_limit) },
	{ 0 },
};

#undef RES

static const struct oci_field resources_fields[] = {
	{ "memory", OCI_OBJECT(memory_fields) },
	{ "cpu", OCI_OBJECT(cpu_fields) },
	{ "pids", OCI_OBJECT(pids_fields) },
	{ 0 },
};

static const struct oci_field device_path_fields[] = {
	{ "path", OCI_ABS_PATH(struct oci_device, path), OCI_REQUIRED },
	{ 0 },
};

static const struct oci_field device_fields[] = {
	{ "fileMode", OCI_UINT32(struct oci_device, mode, 0, 07777) },
	{ "uid", OCI_ID(struct oci_device, uid) },
	{ "gid", OCI_ID(struct oci_device, gid) },
	{ 0 },
};

/* linux.devices: runc's rules (an absolute path, type c, b, u or p, major
 * and minor for all but p), checked here so the guest gets only nodes it
 * can make. */
static int parse_device(jobj *v, const char *path, void *elem, size_t i, void *ctx,
			husk_error_t *err)
{
	struct oci_config *c = ctx;
	struct oci_device *d = elem;
	char fp[OCI_JSON_PATHLEN];
	jobj *f;

	if (oci_json_read_fields(v, path, device_path_fields, d, err) < 0)
		return -1;
	oci_json_child_path(fp, path, "path");
	if (strcmp(d->path, "/") == 0 || strstr(d->path, "/../") ||
	    (strlen(d->path) >= 3 && strcmp(d->path + strlen(d->path) - 3, "/..") == 0))
		return husk_error_set(err, 0, "%s: \"%s\" is not a device path", fp, d->path);
	oci_json_child_path(fp, path, "type");
	if (!(f = oci_json_member(v, "type")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(f, json_type_string))
		return oci_json_type_error(fp, "a string", err);
	const char *t = json_object_get_string(f);
	if (strcmp(t, "c") == 0 || strcmp(t, "u") == 0)
		d->type = S_IFCHR;
	else if (strcmp(t, "b") == 0)
		d->type = S_IFBLK;
	else if (strcmp(t, "p") == 0)
		d->type = S_IFIFO;
	else
		return husk_error_set(err, 0, "%s: \"%s\" is not a device type (c, b, u or p)", fp,
				      t);
	static const char *const numbers[] = { "major", "minor" };
	for (int k = 0; k < 2; k++) {
		int64_t x;
		oci_json_child_path(fp, path, numbers[k]);
		if (!(f = oci_json_member(v, numbers[k]))) {
			if (d->type == S_IFIFO)
				continue;
			return husk_error_set(err, 0, "%s: required for a type %s device", fp, t);
		}
		/* What makedev() can encode: 12 bits of major, 20 of minor. */
		if (oci_json_int64(f, fp, 0, k == 0 ? 0xfff : 0xfffff, &x, err) < 0)
			return -1;
		*(k == 0 ? &d->major : &d->minor) = (uint32_t)x;
	}
	d->mode = 0666;
	if (oci_json_read_fields(v, path, device_fields, d, err) < 0)
		return -1;
	for (size_t k = 0; k < i; k++)
		if (strcmp(c->devices[k].path, d->path) == 0)
			return husk_error_set(err, 0, "%s.path: duplicate device \"%s\"", path,
					      d->path);
	return 0;
}

static int parse_namespaces(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	return oci_json_each_object(v, path, &c->namespaces, &c->nnamespaces,
				    sizeof(*c->namespaces), parse_namespace, c, err);
}

static int parse_devices(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	return oci_json_each_object(v, path, &c->devices, &c->ndevices, sizeof(*c->devices),
				    parse_device, c, err);
}

static int check_sysctl_name(const char *key, const char *path, husk_error_t *err)
{
	if (!key[0] || strstr(key, "..") || key[0] == '/' || key[0] == '.')
		return husk_error_set(err, 0, "%s: not a sysctl name", path);
	return 0;
}

static int parse_sysctl(jobj *v, const char *path, void *obj, husk_error_t *err)
{
	struct oci_config *c = obj;

	return oci_json_string_map(v, path, &c->sysctl, &c->nsysctl, check_sysctl_name, err);
}

const struct oci_field oci_linux_fields[] = {
	{ "namespaces", OCI_CUSTOM(parse_namespaces) },
	{ "devices", OCI_CUSTOM(parse_devices) },
	/* Resolved and checked by runtime/cgroup.c, which knows the driver. */
	{ "cgroupsPath", OCI_STRING(struct oci_config, cgroups_path) },
	{ "sysctl", OCI_CUSTOM(parse_sysctl) },
	{ "maskedPaths", OCI_STRINGS(struct oci_config, masked_paths),
	  OCI_COUNT(struct oci_config, nmasked_paths) },
	{ "readonlyPaths", OCI_STRINGS(struct oci_config, readonly_paths),
	  OCI_COUNT(struct oci_config, nreadonly_paths) },
	{ "seccomp", OCI_CUSTOM(parse_seccomp) },
	{ "resources", OCI_OBJECT_AT(struct oci_config, resources, resources_fields) },
	{ 0 },
};

int oci_resources_parse(const char *json, size_t len, struct oci_resources *out, husk_error_t *err)
{
	jobj *o = oci_json_parse(json, len, "resources", err);
	if (!o)
		return -1;
	*out = (struct oci_resources){ 0 };
	int ret = oci_json_want_object(o, "resources", err);
	if (ret == 0)
		ret = oci_json_read_fields(o, "resources", resources_fields, out, err);
	json_object_put(o);
	return ret;
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
			json_object_object_add(mem, "limit",
					       json_object_new_int64(r->memory_limit));
		if (r->has_memory_swap)
			json_object_object_add(mem, "swap", json_object_new_int64(r->memory_swap));
		json_object_object_add(o, "memory", mem);
	}
	if (r->has_cpu_quota || r->has_cpu_period || r->has_cpu_shares) {
		cpu = json_object_new_object();
		if (r->has_cpu_quota)
			json_object_object_add(cpu, "quota", json_object_new_int64(r->cpu_quota));
		if (r->has_cpu_period)
			json_object_object_add(cpu, "period",
					       json_object_new_uint64(r->cpu_period));
		if (r->has_cpu_shares)
			json_object_object_add(cpu, "shares",
					       json_object_new_uint64(r->cpu_shares));
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

void oci_linux_release(struct oci_config *c)
{
	for (size_t i = 0; i < c->nnamespaces; i++)
		free(c->namespaces[i].path);
	free(c->namespaces);
	for (size_t i = 0; i < c->nsysctl; i++) {
		free(c->sysctl[i].key);
		free(c->sysctl[i].value);
	}
	free(c->sysctl);
	oci_strv_free(c->masked_paths);
	oci_strv_free(c->readonly_paths);
	free(c->cgroups_path);
	for (size_t i = 0; i < c->ndevices; i++)
		free(c->devices[i].path);
	free(c->devices);
	if (c->seccomp) {
		for (size_t i = 0; i < c->seccomp->nsyscalls; i++) {
			oci_strv_free(c->seccomp->syscalls[i].names);
			free(c->seccomp->syscalls[i].args);
		}
		free(c->seccomp->syscalls);
		free(c->seccomp->archs);
		free(c->seccomp);
	}
}
