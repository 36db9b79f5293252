/* The device allow-list of the VMM's cgroup: the devices it may open
 * (/dev/kvm, the null-type devices, ttys and ptys, /dev/net/tun when
 * asked), as v1's devices.deny/devices.allow or, on v2, the same table
 * compiled to a BPF_PROG_TYPE_CGROUP_DEVICE program. Its own file: it is
 * the module's one piece of BPF, and what confines a compromised VMM. */
#include "runtime/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cgroup_internal.h"

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

/* ---- the device allow-list ---- */

static bool rule_applies(const struct dev_rule *d, unsigned flags)
{
	return !d->only_for || (flags & d->only_for);
}

static int devices_v1(struct cgroup_handle *cg, husk_error_t *err)
{
	char rule[64];

	if (cgroup_value_set(cg, C_DEVICES, "devices.deny", "a", NULL, err) < 0)
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
		if (cgroup_value_set(cg, C_DEVICES, "devices.allow", rule, NULL, err) < 0)
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
#define INSN(c, d, s, o, i) \
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
int cgroup_devices_apply(struct cgroup_handle *cg, husk_error_t *err)
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
