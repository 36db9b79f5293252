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
	{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC },	 { "mount", CLONE_NEWNS },
	{ "network", CLONE_NEWNET },   { "pid", CLONE_NEWPID },	 { "time", 0x00000080 /* CLONE_NEWTIME */ },
	{ "user", CLONE_NEWUSER },     { "uts", CLONE_NEWUTS },
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
	return oci_json_abs_path(e, ip, "path", false, &ns->path, err);
}

/* A seccomp errno: SCMP_ACT_ERRNO() keeps its low 16 bits (the filter's
 * SECCOMP_RET_DATA), so 65536 would become errno 0, a syscall that
 * "succeeds" without running. */
static int get_errno_ret(jobj *v, const char *path, uint32_t *out, husk_error_t *err)
{
	int64_t x;
	if (oci_json_int64(v, path, 0, 0xffff, &x, err) < 0)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* linux.seccomp.syscalls[I].args[J]. */
static int parse_syscall_arg(jobj *a, const char *jp, void *elem, size_t j, void *ctx,
			     husk_error_t *err)
{
	struct oci_seccomp_arg *arg = elem;
	char kp[OCI_JSON_PATHLEN];
	uint32_t idx;
	jobj *h;

	(void)j, (void)ctx;
	oci_json_child_path(kp, jp, "index");
	if (!(h = oci_json_member(a, "index")))
		return husk_error_set(err, 0, "%s: required", kp);
	if (oci_json_uint32(h, kp, &idx, err) < 0)
		return -1;
	if (idx > 5)
		return husk_error_set(err, 0, "%s: %u is not an argument index (0-5)", kp, idx);
	arg->index = idx;
	oci_json_child_path(kp, jp, "value");
	if (!(h = oci_json_member(a, "value")))
		return husk_error_set(err, 0, "%s: required", kp);
	if (oci_json_uint64(h, kp, &arg->value, err) < 0)
		return -1;
	if ((h = oci_json_member(a, "valueTwo"))) {
		oci_json_child_path(kp, jp, "valueTwo");
		if (oci_json_uint64(h, kp, &arg->value_two, err) < 0)
			return -1;
	}
	oci_json_child_path(kp, jp, "op");
	if (!(h = oci_json_member(a, "op")))
		return husk_error_set(err, 0, "%s: required", kp);
	if (!json_object_is_type(h, json_type_string))
		return oci_json_type_error(kp, "a string", err);
	arg->op = oci_name_lookup(&oci_seccomp_operators, json_object_get_string(h));
	if (arg->op < 0)
		return husk_error_set(err, 0, "%s: unknown operator \"%s\"", kp,
				      json_object_get_string(h));
	return 0;
}

/* linux.seccomp.syscalls[I]. */
static int parse_syscall(jobj *e, const char *ip, void *elem, size_t i, void *ctx,
			 husk_error_t *err)
{
	struct oci_seccomp_syscall *sc = elem;
	char ap[OCI_JSON_PATHLEN];
	jobj *g;

	(void)i, (void)ctx;
	oci_json_child_path(ap, ip, "names");
	if (!(g = oci_json_member(e, "names")))
		return husk_error_set(err, 0, "%s: required", ap);
	if (oci_json_strings(g, ap, &sc->names, &sc->nnames, err) < 0)
		return -1;
	oci_json_child_path(ap, ip, "action");
	if (!(g = oci_json_member(e, "action")))
		return husk_error_set(err, 0, "%s: required", ap);
	if (!json_object_is_type(g, json_type_string))
		return oci_json_type_error(ap, "a string", err);
	sc->action = oci_name_lookup(&oci_seccomp_actions, json_object_get_string(g));
	if (sc->action < 0)
		return husk_error_set(err, 0, "%s: unknown action \"%s\"", ap,
				      json_object_get_string(g));
	if ((g = oci_json_member(e, "errnoRet"))) {
		uint32_t x;
		oci_json_child_path(ap, ip, "errnoRet");
		if (get_errno_ret(g, ap, &x, err) < 0)
			return -1;
		sc->has_errno = true;
		sc->errno_ret = x;
	}
	if (!(g = oci_json_member(e, "args")))
		return 0;
	oci_json_child_path(ap, ip, "args");
	if (json_object_is_type(g, json_type_array) && json_object_array_length(g) > 6)
		return husk_error_set(err, 0, "%s: more than 6 argument rules", ap);
	return oci_json_each_object(g, ap, &sc->args, &sc->nargs, sizeof(*sc->args),
				    parse_syscall_arg, NULL, err);
}

static int parse_seccomp(jobj *v, const char *path, struct oci_seccomp *s, husk_error_t *err)
{
	char fp[OCI_JSON_PATHLEN], ip[OCI_JSON_PATHLEN];
	jobj *f;

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	oci_json_child_path(fp, path, "defaultAction");
	if (!(f = oci_json_member(v, "defaultAction")))
		return husk_error_set(err, 0, "%s: required", fp);
	if (!json_object_is_type(f, json_type_string))
		return oci_json_type_error(fp, "a string", err);
	s->default_action = oci_name_lookup(&oci_seccomp_actions, json_object_get_string(f));
	if (s->default_action < 0)
		return husk_error_set(err, 0, "%s: unknown action \"%s\"", fp,
				      json_object_get_string(f));
	if ((f = oci_json_member(v, "defaultErrnoRet"))) {
		uint32_t x;
		oci_json_child_path(fp, path, "defaultErrnoRet");
		if (get_errno_ret(f, fp, &x, err) < 0)
			return -1;
		s->has_default_errno = true;
		s->default_errno = x;
	}
	if ((f = oci_json_member(v, "architectures"))) {
		oci_json_child_path(fp, path, "architectures");
		if (!json_object_is_type(f, json_type_array))
			return oci_json_type_error(fp, "an array of strings", err);
		size_t n = json_object_array_length(f);
		s->archs = calloc(n ? n : 1, sizeof(int));
		if (!s->archs)
			return husk_error_set(err, ENOMEM, "%s", fp);
		for (size_t i = 0; i < n; i++) {
			jobj *e = json_object_array_get_idx(f, i);
			oci_json_index_path(ip, fp, i);
			if (!json_object_is_type(e, json_type_string))
				return oci_json_type_error(ip, "a string", err);
			s->archs[i] = oci_name_lookup(&oci_seccomp_archs, json_object_get_string(e));
			if (s->archs[i] < 0)
				return husk_error_set(err, 0, "%s: unsupported architecture \"%s\"", ip,
						      json_object_get_string(e));
			s->narchs = i + 1;
		}
	}
	if ((f = oci_json_member(v, "flags"))) {
		oci_json_child_path(fp, path, "flags");
		if (!json_object_is_type(f, json_type_array))
			return oci_json_type_error(fp, "an array of strings", err);
		for (size_t i = 0; i < json_object_array_length(f); i++) {
			jobj *e = json_object_array_get_idx(f, i);
			oci_json_index_path(ip, fp, i);
			if (!json_object_is_type(e, json_type_string))
				return oci_json_type_error(ip, "a string", err);
			int k = oci_name_lookup(&oci_seccomp_flags, json_object_get_string(e));
			if (k < 0)
				return husk_error_set(err, 0, "%s: unsupported flag \"%s\"", ip,
						      json_object_get_string(e));
			s->flags |= 1u << k;
		}
	}
	if (!(f = oci_json_member(v, "syscalls")))
		return 0;
	oci_json_child_path(fp, path, "syscalls");
	return oci_json_each_object(f, fp, &s->syscalls, &s->nsyscalls, sizeof(*s->syscalls),
				    parse_syscall, NULL, err);
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
	char sp[OCI_JSON_PATHLEN];
	jobj *g = oci_json_member(f, key);
	unsigned n;

	if (!g)
		return 0;
	oci_json_child_path(sp, fp, key);
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

static int parse_resources(jobj *v, const char *path, struct oci_resources *r, husk_error_t *err)
{
	char fp[OCI_JSON_PATHLEN], sp[OCI_JSON_PATHLEN];
	jobj *f, *g;

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	if ((f = oci_json_member(v, "memory"))) {
		oci_json_child_path(fp, path, "memory");
		if (oci_json_want_object(f, fp, err) < 0)
			return -1;
		if ((g = oci_json_member(f, "limit"))) {
			oci_json_child_path(sp, fp, "limit");
			if (oci_json_int64(g, sp, -1, INT64_MAX, &r->memory_limit, err) < 0)
				return -1;
			r->has_memory_limit = true;
		}
		if ((g = oci_json_member(f, "swap"))) {
			oci_json_child_path(sp, fp, "swap");
			if (oci_json_int64(g, sp, -1, INT64_MAX, &r->memory_swap, err) < 0)
				return -1;
			r->has_memory_swap = true;
		}
	}
	if ((f = oci_json_member(v, "cpu"))) {
		oci_json_child_path(fp, path, "cpu");
		if (oci_json_want_object(f, fp, err) < 0)
			return -1;
		if ((g = oci_json_member(f, "quota"))) {
			oci_json_child_path(sp, fp, "quota");
			if (oci_json_int64(g, sp, -1, INT64_MAX, &r->cpu_quota, err) < 0)
				return -1;
			r->has_cpu_quota = true;
		}
		if ((g = oci_json_member(f, "period"))) {
			oci_json_child_path(sp, fp, "period");
			if (oci_json_uint64(g, sp, &r->cpu_period, err) < 0)
				return -1;
			r->has_cpu_period = true;
		}
		if ((g = oci_json_member(f, "shares"))) {
			oci_json_child_path(sp, fp, "shares");
			if (oci_json_uint64(g, sp, &r->cpu_shares, err) < 0)
				return -1;
			r->has_cpu_shares = true;
		}
		if (parse_cpuset_list(f, fp, "cpus", r->cpuset_cpus, &r->has_cpuset_cpus,
				      &r->cpuset_ncpus, err) < 0 ||
		    parse_cpuset_list(f, fp, "mems", r->cpuset_mems, &r->has_cpuset_mems, NULL,
				      err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "pids"))) {
		oci_json_child_path(fp, path, "pids");
		if (oci_json_want_object(f, fp, err) < 0)
			return -1;
		if ((g = oci_json_member(f, "limit"))) {
			oci_json_child_path(sp, fp, "limit");
			if (oci_json_int64(g, sp, INT64_MIN, INT64_MAX, &r->pids_limit, err) < 0)
				return -1;
			r->has_pids_limit = true;
		}
	}
	return 0;
}

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

	if (oci_json_abs_path(v, path, "path", true, &d->path, err) < 0)
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
		return husk_error_set(err, 0, "%s: \"%s\" is not a device type (c, b, u or p)", fp, t);
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
	if ((f = oci_json_member(v, "fileMode"))) {
		int64_t x;
		oci_json_child_path(fp, path, "fileMode");
		if (oci_json_int64(f, fp, 0, 07777, &x, err) < 0)
			return -1;
		d->mode = (mode_t)x;
	}
	if (oci_json_opt_id(v, path, "uid", &d->uid, err) < 0 ||
	    oci_json_opt_id(v, path, "gid", &d->gid, err) < 0)
		return -1;
	for (size_t k = 0; k < i; k++)
		if (strcmp(c->devices[k].path, d->path) == 0)
			return husk_error_set(err, 0, "%s.path: duplicate device \"%s\"", path,
					      d->path);
	return 0;
}

int oci_linux_parse(jobj *v, const char *path, struct oci_config *c, husk_error_t *err)
{
	char fp[OCI_JSON_PATHLEN], ip[OCI_JSON_PATHLEN];
	jobj *f;

	if (oci_json_want_object(v, path, err) < 0)
		return -1;
	if ((f = oci_json_member(v, "namespaces"))) {
		oci_json_child_path(fp, path, "namespaces");
		if (oci_json_each_object(f, fp, &c->namespaces, &c->nnamespaces,
					 sizeof(*c->namespaces), parse_namespace, c, err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "devices"))) {
		oci_json_child_path(fp, path, "devices");
		if (oci_json_each_object(f, fp, &c->devices, &c->ndevices, sizeof(*c->devices),
					 parse_device, c, err) < 0)
			return -1;
	}
	/* Resolved and checked by runtime/cgroup.c, which knows the driver. */
	if ((f = oci_json_member(v, "cgroupsPath"))) {
		oci_json_child_path(fp, path, "cgroupsPath");
		if (oci_json_string(f, fp, &c->cgroups_path, err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "sysctl"))) {
		oci_json_child_path(fp, path, "sysctl");
		if (oci_json_want_object(f, fp, err) < 0)
			return -1;
		size_t n = (size_t)json_object_object_length(f), i = 0;
		c->sysctl = calloc(n ? n : 1, sizeof(*c->sysctl));
		if (!c->sysctl)
			return husk_error_set(err, ENOMEM, "%s", fp);
		json_object_object_foreach(f, key, val)
		{
			oci_json_child_path(ip, fp, key);
			if (i >= n)
				break;
			c->nsysctl = i + 1;
			c->sysctl[i].key = strdup(key);
			if (!c->sysctl[i].key)
				return husk_error_set(err, ENOMEM, "%s", ip);
			if (oci_json_string(val, ip, &c->sysctl[i].value, err) < 0)
				return -1;
			if (!key[0] || strstr(key, "..") || key[0] == '/' || key[0] == '.')
				return husk_error_set(err, 0, "%s: not a sysctl name", ip);
			i++;
		}
	}
	if ((f = oci_json_member(v, "maskedPaths"))) {
		oci_json_child_path(fp, path, "maskedPaths");
		if (oci_json_strings(f, fp, &c->masked_paths, &c->nmasked_paths, err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "readonlyPaths"))) {
		oci_json_child_path(fp, path, "readonlyPaths");
		if (oci_json_strings(f, fp, &c->readonly_paths, &c->nreadonly_paths, err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "seccomp"))) {
		oci_json_child_path(fp, path, "seccomp");
		c->seccomp = calloc(1, sizeof(*c->seccomp));
		if (!c->seccomp)
			return husk_error_set(err, ENOMEM, "%s", fp);
		if (parse_seccomp(f, fp, c->seccomp, err) < 0)
			return -1;
	}
	if ((f = oci_json_member(v, "resources"))) {
		oci_json_child_path(fp, path, "resources");
		if (parse_resources(f, fp, &c->resources, err) < 0)
			return -1;
	}
	return 0;
}

int oci_resources_parse(const char *json, size_t len, struct oci_resources *out, husk_error_t *err)
{
	jobj *o = oci_json_parse(json, len, "resources", err);
	if (!o)
		return -1;
	*out = (struct oci_resources){ 0 };
	int ret = parse_resources(o, "resources", out, err);
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
