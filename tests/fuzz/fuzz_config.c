/* libFuzzer target for the OCI config parser (oci/config*.c): `make
 * fuzz-config` builds it with clang -fsanitize=fuzzer,address,undefined
 * and runs it for FUZZ_SECONDS from tests/fuzz/corpus/config.
 *
 * config.json is written by whoever builds the bundle and read by husk as
 * root (and by husk-init in the guest, which also parses process.json for
 * exec and a linux.resources object for update). Each input is given, in
 * a heap block of its exact size, to all three entry points. A failed
 * parse must leave an error and nothing allocated; a successful one must
 * hold what config.h promises: counts that match NULL-terminated arrays,
 * the strings it says are there, values inside the ranges the parser
 * checks (so a wrapped or saturated number shows up here, not in a guest),
 * and resources that survive oci_resources_to_json() and back. Leaks are
 * LeakSanitizer's to find. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "oci/config.h"
#include "oci/tables.h"

#define MUST(cond)                                                                              \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "fuzz_config: invariant broken: %s (line %d)\n", #cond, \
				__LINE__);                                                      \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* A[N] is NULL and A[0..N-1] are strings. */
static void check_strings(char *const *a, size_t n)
{
	MUST(a);
	for (size_t i = 0; i < n; i++)
		MUST(a[i]);
	MUST(!a[n]);
}

/* A NULL-terminated array whose count config.h does not keep. */
static void check_opt_strings(char *const *a)
{
	if (!a)
		return;
	for (size_t i = 0; a[i]; i++)
		MUST(strlen(a[i]) < OCI_CONFIG_MAX);
}

static void check_process(const struct oci_process *p)
{
	check_strings(p->args, p->nargs);
	MUST(p->nargs >= 1 && p->args[0][0]);
	check_strings(p->env, p->nenv);
	for (size_t i = 0; i < p->nenv; i++)
		MUST(p->env[i][0] != '=' && strchr(p->env[i], '='));
	MUST(p->cwd && p->cwd[0] == '/');
	MUST(p->console_height <= 65535 && p->console_width <= 65535);
	MUST(p->uid != (uid_t)-1 && p->gid != (gid_t)-1);
	MUST(!p->has_umask || p->umask <= 0777);
	MUST(p->nadditional_gids <= 65536);
	MUST(!p->nadditional_gids || p->additional_gids);
	for (size_t i = 0; i < p->nadditional_gids; i++)
		MUST(p->additional_gids[i] != (gid_t)-1);
	for (int s = 0; s < OCI_CAP_NSETS; s++)
		MUST(!p->has_caps ? p->caps[s] == 0
				  : oci_capabilities.count >= 64 ||
					    (p->caps[s] >> oci_capabilities.count) == 0);
	MUST(!p->nrlimits || p->rlimits);
	for (size_t i = 0; i < p->nrlimits; i++) {
		MUST(p->rlimits[i].resource >= 0 && p->rlimits[i].resource < RLIM_NLIMITS);
		MUST(p->rlimits[i].soft <= p->rlimits[i].hard);
		for (size_t k = 0; k < i; k++)
			MUST(p->rlimits[k].resource != p->rlimits[i].resource);
	}
	MUST(!p->has_oom_score_adj || (p->oom_score_adj >= -1000 && p->oom_score_adj <= 1000));
	MUST(p->has_oom_score_adj || p->oom_score_adj == 0);
}

static void check_cpuset(bool has, const char *list, const char *what, unsigned *count)
{
	size_t n = strnlen(list, OCI_CPUSET_LIST_MAX);
	husk_error_t err = NULL;

	MUST(n < OCI_CPUSET_LIST_MAX);
	MUST(has == (n > 0));
	if (!has)
		return;
	MUST(oci_cpuset_list_parse(list, what, count, &err) == 0);
	MUST(!err);
	MUST(*count >= 1 && *count <= OCI_CPUSET_MAX_ID + 1);
}

static void check_resources(const struct oci_resources *r)
{
	unsigned n = 0, m = 0;

	MUST(r->has_memory_limit ? r->memory_limit >= -1 : r->memory_limit == 0);
	MUST(r->has_memory_swap ? r->memory_swap >= -1 : r->memory_swap == 0);
	MUST(r->has_cpu_quota ? r->cpu_quota >= -1 : r->cpu_quota == 0);
	MUST(r->has_cpu_period || r->cpu_period == 0);
	MUST(r->has_cpu_shares || r->cpu_shares == 0);
	MUST(r->has_pids_limit || r->pids_limit == 0);
	check_cpuset(r->has_cpuset_cpus, r->cpuset_cpus, "cpus", &n);
	check_cpuset(r->has_cpuset_mems, r->cpuset_mems, "mems", &m);
	MUST(r->cpuset_ncpus == (r->has_cpuset_cpus ? n : 0));

	/* What `update` sends the guest reads back as the same numbers. */
	char *json = oci_resources_to_json(r);
	struct oci_resources back;
	husk_error_t err = NULL;
	MUST(json);
	MUST(oci_resources_parse(json, strlen(json), &back, &err) == 0);
	MUST(back.has_memory_limit == r->has_memory_limit && back.memory_limit == r->memory_limit);
	MUST(back.has_memory_swap == r->has_memory_swap && back.memory_swap == r->memory_swap);
	MUST(back.has_cpu_quota == r->has_cpu_quota && back.cpu_quota == r->cpu_quota);
	MUST(back.has_cpu_period == r->has_cpu_period && back.cpu_period == r->cpu_period);
	MUST(back.has_cpu_shares == r->has_cpu_shares && back.cpu_shares == r->cpu_shares);
	MUST(back.has_pids_limit == r->has_pids_limit && back.pids_limit == r->pids_limit);
	free(json);
}

static void check_seccomp(const struct oci_seccomp *s)
{
	MUST(s->default_action >= 0 && (size_t)s->default_action < oci_seccomp_actions.count);
	MUST(!s->has_default_errno ? s->default_errno == 0 : s->default_errno <= 0xffff);
	MUST(!s->narchs || s->archs);
	for (size_t i = 0; i < s->narchs; i++)
		MUST(s->archs[i] >= 0 && (size_t)s->archs[i] < oci_seccomp_archs.count);
	MUST(oci_seccomp_flags.count >= 32 || (s->flags >> oci_seccomp_flags.count) == 0);
	MUST(!s->nsyscalls || s->syscalls);
	for (size_t i = 0; i < s->nsyscalls; i++) {
		const struct oci_seccomp_syscall *sc = &s->syscalls[i];
		check_strings(sc->names, sc->nnames);
		MUST(sc->action >= 0 && (size_t)sc->action < oci_seccomp_actions.count);
		MUST(!sc->has_errno ? sc->errno_ret == 0 : sc->errno_ret <= 0xffff);
		MUST(sc->nargs <= 6 && (!sc->nargs || sc->args));
		for (size_t j = 0; j < sc->nargs; j++) {
			MUST(sc->args[j].index <= 5);
			MUST(sc->args[j].op >= 0 &&
			     (size_t)sc->args[j].op < oci_seccomp_operators.count);
		}
	}
}

static void check_config(const struct oci_config *c)
{
	if (c->has_process)
		check_process(&c->process);
	MUST(c->root_path);
	MUST(!c->hostname || strlen(c->hostname) <= 64);
	MUST(!c->domainname || strlen(c->domainname) <= 64);
	MUST(!c->nmounts || c->mounts);
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct oci_mount *m = &c->mounts[i];
		MUST(m->destination && m->destination[0] == '/');
		MUST(m->bind == ((m->flags & MS_BIND) || (m->type && !strcmp(m->type, "bind"))));
		MUST(m->recursive == !!(m->flags & MS_REC));
		MUST(!m->data || (m->data[0] && m->data[0] != ','));
	}
	MUST(!c->nnamespaces || c->namespaces);
	for (size_t i = 0; i < c->nnamespaces; i++) {
		MUST(!c->namespaces[i].path || c->namespaces[i].path[0] == '/');
		for (size_t k = 0; k < i; k++)
			MUST(c->namespaces[k].type != c->namespaces[i].type);
		MUST(oci_config_namespace(c, c->namespaces[i].type) == &c->namespaces[i]);
	}
	MUST(!c->nsysctl || c->sysctl);
	for (size_t i = 0; i < c->nsysctl; i++)
		MUST(c->sysctl[i].key && c->sysctl[i].key[0] && c->sysctl[i].value);
	if (c->masked_paths)
		check_strings(c->masked_paths, c->nmasked_paths);
	else
		MUST(!c->nmasked_paths);
	if (c->readonly_paths)
		check_strings(c->readonly_paths, c->nreadonly_paths);
	else
		MUST(!c->nreadonly_paths);
	if (c->seccomp)
		check_seccomp(c->seccomp);
	check_resources(&c->resources);
	MUST(!c->nannotations || c->annotations);
	for (size_t i = 0; i < c->nannotations; i++) {
		MUST(c->annotations[i].key && c->annotations[i].value);
		const char *v = oci_config_annotation(c, c->annotations[i].key);
		MUST(v);
	}
	for (int k = 0; k < OCI_HOOK_NKINDS; k++) {
		MUST(!c->nhooks[k] || c->hooks[k]);
		for (size_t i = 0; i < c->nhooks[k]; i++) {
			const struct oci_hook *h = &c->hooks[k][i];
			MUST(h->path && h->path[0] == '/');
			check_opt_strings(h->args);
			check_opt_strings(h->env);
			MUST(h->timeout >= 0);
		}
	}
	MUST(!c->ndevices || c->devices);
	for (size_t i = 0; i < c->ndevices; i++) {
		const struct oci_device *d = &c->devices[i];
		MUST(d->path && d->path[0] == '/' && strcmp(d->path, "/") != 0);
		MUST(d->type == S_IFCHR || d->type == S_IFBLK || d->type == S_IFIFO);
		MUST(d->major <= 0xfff && d->minor <= 0xfffff && d->mode <= 07777);
		MUST(d->uid != (uid_t)-1 && d->gid != (gid_t)-1);
		for (size_t k = 0; k < i; k++)
			MUST(strcmp(c->devices[k].path, d->path) != 0);
	}
}

/* An error, and only an error, comes back from a failed parse. */
static void check_failed(husk_error_t *err)
{
	MUST(*err && (*err)->msg && (*err)->msg[0]);
	husk_error_release(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly SIZE bytes, no terminator: the parser must not look past. */
	char *json = malloc(size ? size : 1);
	husk_error_t err = NULL;

	if (!json)
		return 0;
	memcpy(json, data, size);

	struct oci_config *c = oci_config_parse(json, size, &err);
	if (c) {
		MUST(!err);
		check_config(c);
		oci_config_free(c);
	} else {
		check_failed(&err);
	}

	struct oci_process *p = oci_process_parse(json, size, &err);
	if (p) {
		MUST(!err);
		check_process(p);
		oci_process_free(p);
	} else {
		check_failed(&err);
	}

	struct oci_resources r;
	if (oci_resources_parse(json, size, &r, &err) == 0) {
		MUST(!err);
		check_resources(&r);
	} else {
		check_failed(&err);
	}
	free(json);
	return 0;
}
