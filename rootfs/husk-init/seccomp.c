/* The OCI seccomp profile as a libseccomp filter, the way runc builds it:
 * syscall names the library does not know are skipped (profiles list
 * syscalls of newer kernels), rules whose action is the default are
 * dropped, and the filter never sets no_new_privs on its own: that is
 * process.noNewPrivileges' job. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

#include "rootfs/husk-init/init.h"
#include "oci/tables.h"

static uint32_t action_of(int action, bool has_errno, unsigned errno_ret)
{
	const char *name = oci_seccomp_actions.names[action];
	unsigned e = has_errno ? errno_ret : EPERM;

	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		return SCMP_ACT_ALLOW;
	if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		return SCMP_ACT_ERRNO(e);
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		return SCMP_ACT_KILL_THREAD;
	if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(name, "SCMP_ACT_LOG") == 0)
		return SCMP_ACT_LOG;
	if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		return SCMP_ACT_TRACE(e);
	return SCMP_ACT_TRAP;
}

static enum scmp_compare op_of(int op)
{
	static const enum scmp_compare ops[] = { SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT,
						 SCMP_CMP_LE, SCMP_CMP_LT, SCMP_CMP_MASKED_EQ,
						 SCMP_CMP_NE };
	return ops[op];
}

static uint32_t arch_of(int arch)
{
	static const uint32_t archs[] = { SCMP_ARCH_X86, SCMP_ARCH_X86_64, SCMP_ARCH_X32 };
	return archs[arch];
}

int spec_seccomp_load(const struct oci_seccomp *s, char *why, size_t whylen)
{
	uint32_t def = action_of(s->default_action, s->has_default_errno, s->default_errno);
	scmp_filter_ctx ctx = seccomp_init(def);
	int r;

	if (!ctx) {
		snprintf(why, whylen, "seccomp_init failed");
		return -1;
	}
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (s->flags & 1)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (s->flags & 2)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
	if (s->flags & 4)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	for (size_t i = 0; i < s->narchs; i++) {
		r = seccomp_arch_add(ctx, arch_of(s->archs[i]));
		if (r < 0 && r != -EEXIST) {
			snprintf(why, whylen, "seccomp: add architecture %s: %s",
				 oci_seccomp_archs.names[s->archs[i]], strerror(-r));
			seccomp_release(ctx);
			return -1;
		}
	}
	for (size_t i = 0; i < s->nsyscalls; i++) {
		const struct oci_seccomp_syscall *sc = &s->syscalls[i];
		uint32_t act = action_of(sc->action, sc->has_errno, sc->errno_ret);
		struct scmp_arg_cmp cmp[6];

		if (act == def)
			continue;
		for (size_t a = 0; a < sc->nargs; a++)
			cmp[a] = (struct scmp_arg_cmp){ sc->args[a].index, op_of(sc->args[a].op),
							sc->args[a].value, sc->args[a].value_two };
		for (size_t n = 0; n < sc->nnames; n++) {
			int nr = seccomp_syscall_resolve_name(sc->names[n]);
			if (nr == __NR_SCMP_ERROR)
				continue;
			r = seccomp_rule_add_array(ctx, act, nr, (unsigned)sc->nargs, cmp);
			if (r < 0) {
				snprintf(why, whylen, "seccomp: rule for %s: %s", sc->names[n],
					 strerror(-r));
				seccomp_release(ctx);
				return -1;
			}
		}
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		snprintf(why, whylen, "seccomp: load filter: %s", strerror(-r));
		return -1;
	}
	return 0;
}
