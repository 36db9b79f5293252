#include "runtime/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"

/* ---- namespaces ---- */

int confine_namespaces(const struct oci_config *c, husk_error_t *err)
{
	for (size_t i = 0; i < c->nnamespaces; i++) {
		const struct oci_namespace *ns = &c->namespaces[i];
		if (ns->type != CLONE_NEWNET)
			continue;
		if (!ns->path) {
			if (unshare(CLONE_NEWNET) < 0)
				return husk_error_set(
					err, errno, "linux.namespaces[%zu]: new network namespace",
					i);
			break;
		}
		cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return husk_error_set(err, errno, "linux.namespaces[%zu].path: %s", i,
					      ns->path);
		/* CLONE_NEWNET makes setns check the kind: EINVAL for a
		 * file that is some other namespace, or none. */
		if (setns(fd, CLONE_NEWNET) < 0)
			return husk_error_set(err, errno == EINVAL ? 0 : errno,
					      "linux.namespaces[%zu].path: %s%s", i, ns->path,
					      errno == EINVAL ? ": not a network namespace" : "");
		break;
	}
	/* The VMM's own: its mounts (none yet) stay out of the host, and it
	 * shares no System V IPC or host name with anything. A cgroup
	 * namespace rooted at the cgroup it was just put in: on cgroup v2 the
	 * kernel refuses to move it anywhere outside that (the root's device
	 * and resource limits are none). v1 has no such check. */
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) < 0)
		return husk_error_set(err, errno, "VMM mount, IPC, UTS and cgroup namespaces");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return husk_error_set(err, errno, "VMM mount namespace: make / a slave");
	return 0;
}

/* ---- rlimits ---- */

static const struct {
	int resource;
	const char *name;
	bool vmm_own; /* not applied: see confine.h */
} rlimits[] = {
	{ RLIMIT_AS, "RLIMIT_AS", true },
	{ RLIMIT_CORE, "RLIMIT_CORE", true },
	{ RLIMIT_CPU, "RLIMIT_CPU", true },
	{ RLIMIT_DATA, "RLIMIT_DATA", true },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", true },
	{ RLIMIT_LOCKS, "RLIMIT_LOCKS", false },
	{ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", false },
	{ RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", false },
	{ RLIMIT_NICE, "RLIMIT_NICE", false },
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", true },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", true },
	{ RLIMIT_RSS, "RLIMIT_RSS", false },
	{ RLIMIT_RTPRIO, "RLIMIT_RTPRIO", false },
	{ RLIMIT_RTTIME, "RLIMIT_RTTIME", false },
	{ RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", false },
	{ RLIMIT_STACK, "RLIMIT_STACK", false },
};

int confine_rlimits(const struct oci_process *p, husk_error_t *err)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		const struct oci_rlimit *r = &p->rlimits[i];
		const char *name = "?";
		bool skip = false;
		for (size_t k = 0; k < sizeof(rlimits) / sizeof(rlimits[0]); k++)
			if (rlimits[k].resource == r->resource) {
				name = rlimits[k].name;
				skip = rlimits[k].vmm_own;
			}
		if (skip)
			continue;
		/* UINT64_MAX is RLIM_INFINITY on Linux; prlimit takes the
		 * 64-bit values as they are. */
		struct rlimit rl = { (rlim_t)r->soft, (rlim_t)r->hard };
		if (setrlimit((__rlimit_resource_t)r->resource, &rl) < 0)
			return husk_error_set(err, errno, "process.rlimits[%zu]: %s %llu:%llu", i,
					      name, (unsigned long long)r->soft,
					      (unsigned long long)r->hard);
	}
	return 0;
}

int confine_oom_score_adj(const struct oci_process *p, husk_error_t *err)
{
	char v[16];

	if (!p->has_oom_score_adj)
		return 0;
	int n = snprintf(v, sizeof(v), "%d", p->oom_score_adj);
	cleanup_close int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, v, (size_t)n) != n)
		return husk_error_set(err, errno, "process.oomScoreAdj: %d", p->oom_score_adj);
	return 0;
}

int confine_no_dump(husk_error_t *err)
{
	/* Hard limit too: with CAP_SYS_RESOURCE gone it cannot come back. */
	struct rlimit none = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return husk_error_set(err, errno, "VMM: RLIMIT_CORE 0");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return husk_error_set(err, errno, "VMM: not dumpable");
	return 0;
}

/* ---- capabilities ---- */

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}
#define cleanup_cap __attribute__((cleanup(cap_freep)))

int confine_capabilities(husk_error_t *err)
{
	cleanup_cap cap_t cur = cap_get_proc();
	cleanup_cap cap_t want = cap_init();
	cap_value_t keep[64];
	int nkeep = 0;
	cap_flag_value_t v;

	if (!cur || !want)
		return husk_error_set(err, errno, "capabilities");
	/* Kept only what the process has: asking for more is EPERM. */
	for (cap_value_t c = 0; c < 64; c++)
		if ((CONFINE_CAPS & (1ULL << c)) && cap_get_flag(cur, c, CAP_PERMITTED, &v) == 0 &&
		    v == CAP_SET)
			keep[nkeep++] = c;

	bool setpcap = cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
	if (setpcap) {
		for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
			if (c < 64 && (CONFINE_CAPS & (1ULL << c)))
				continue;
			if (cap_drop_bound(c) < 0)
				return husk_error_set(err, errno,
						      "drop capability %d from the bounding set",
						      (int)c);
		}
	}
	/* EINVAL: a kernel without ambient capabilities has none to clear. */
	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return husk_error_set(err, errno, "clear the ambient capabilities");
	if ((nkeep && (cap_set_flag(want, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
		       cap_set_flag(want, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0)) ||
	    cap_set_proc(want) < 0)
		return husk_error_set(err, errno, "set capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return husk_error_set(err, errno, "no_new_privs");
	return 0;
}

/* ---- seccomp ---- */

/* Sanitizer builds (the tests run one): LeakSanitizer's end-of-process
 * check stops the other threads from a helper task it clones (without
 * CLONE_THREAD) and ptrace()s them, waiting with wait4(), after listing
 * them with the old getdents(). Allowed there only; release builds never
 * make these calls. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Allowed whatever the arguments. Reading the VMM sources: the event loop
 * (epoll, eventfd, signalfd), vCPU threads (futex, signals to kick them),
 * guest memory and the mapped kernel (mmap family; see the PROT_EXEC rule),
 * virtio-blk (preadv/pwritev/fdatasync), virtio-vsock and the agent (unix
 * stream sockets), console and stdio relays (read/write on ttys and
 * pipes), virtio-rng (getrandom), virtio-fs (every *at call below, xattrs
 * on /proc/self/fd paths, copy_file_range, syncfs). Then what glibc and the
 * sanitizer runtime do on their own: rseq and robust lists for new
 * threads, sigaltstack, sched_yield, readlink of /proc/self/exe, pipe (the
 * sanitizer probes memory with it), clock and identity calls. */
/* clang-format off */
static const char *const allowed[] = {
	/* memory */
	"brk", "munmap", "mremap", "madvise",
	/* threads, synchronisation */
	"futex", "set_robust_list", "rseq", "set_tid_address", "sched_yield",
	"sched_getaffinity", "gettid", "getpid", "getppid", "exit", "exit_group",
	"restart_syscall",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
	"signalfd4",
	/* time */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"getrusage", "times", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	/* events */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
	"poll", "ppoll",
	/* descriptor I/O */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3",
	"pipe", "pipe2", "copy_file_range",
	/* files: virtio-fs and set-up leftovers */
	"open", "openat", "openat2", "newfstatat", "fstat", "stat", "lstat", "statx", "statfs",
	"fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
	"mkdirat", "unlinkat", "renameat2", "linkat", "symlinkat", "mknodat", "fchmod",
	"fchmodat", "fchown", "fchownat", "utimensat", "ftruncate", "fallocate", "fsync",
	"fdatasync", "syncfs", "fadvise64", "getcwd", "setxattr", "getxattr", "listxattr",
	"removexattr", "fsetxattr", "fgetxattr", "flistxattr", "fremovexattr",
	/* unix sockets (socket() itself is AF_UNIX only, below) */
	"connect", "accept", "accept4", "bind", "listen", "sendmsg", "recvmsg", "sendto",
	"recvfrom", "sendmmsg", "recvmmsg", "shutdown", "getsockopt", "setsockopt",
	"getsockname", "getpeername",
	/* identity and limits, read only but for lowering */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
	"capget", "uname", "sysinfo", "getrlimit", "setrlimit", "getrandom",
};
/* clang-format on */

/* The ioctls the VMM makes, by request number: KVM's on the system, VM and
 * vCPU descriptors (set-up ones included, so the filter may also come
 * before set-up), terminal size and mode on stdio and the console pty, a
 * few generic descriptor ones, and the tap device's offload settings the
 * guest driver negotiates at run time. Creating a tap (TUNSETIFF) needs
 * CAP_NET_ADMIN, gone by then, so it is not here. */
/* clang-format off */
static const unsigned long ioctls[] = {
	KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE,
	KVM_GET_SUPPORTED_CPUID, KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST,
	/* VM */
	KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR,
	KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_IRQFD,
	KVM_IOEVENTFD, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI, KVM_GET_CLOCK, KVM_SET_CLOCK,
	KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_GET_PIT2, KVM_SET_PIT2, KVM_ENABLE_CAP,
	/* vCPU */
	KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU,
	KVM_SET_FPU, KVM_GET_MSRS, KVM_SET_MSRS, KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_SET_CPUID2,
	KVM_GET_CPUID2, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_MP_STATE,
	KVM_SET_MP_STATE, KVM_GET_XSAVE, KVM_SET_XSAVE, KVM_GET_XCRS, KVM_SET_XCRS,
	KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_SET_SIGNAL_MASK, KVM_KVMCLOCK_CTRL,
	KVM_INTERRUPT, KVM_NMI,
	/* terminals and descriptors */
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, FIONBIO, FIOCLEX,
	FIONCLEX,
	/* tap */
	TUNGETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TUNGETVNETHDRSZ,
};
/* clang-format on */

/* fcntl commands: descriptor and status flags, duplicates, locks, pipe
 * sizes and seals. Not F_SETOWN, F_SETOWN_EX or F_SETSIG, which would have
 * the kernel signal any process the VMM names (SIGIO to a host daemon,
 * say), nor leases or directory notification, which it never takes. */
/* clang-format off */
static const int fcntls[] = {
	F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, F_DUPFD_CLOEXEC,
	F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
	F_GETPIPE_SZ, F_SETPIPE_SZ, F_ADD_SEALS, F_GET_SEALS, F_GETOWN,
};
/* clang-format on */

/* prctl options: thread names, and queries. */
/* clang-format off */
static const int prctls[] = {
	PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS,
	0x53564d41 /* PR_SET_VMA: glibc names its mappings */,
#if SANITIZED
	PR_SET_PTRACER, PR_SET_PDEATHSIG,
#endif
};
/* clang-format on */

/* fchmodat2 (Linux 6.6): vmm/virtio/fuse_host.c tries it first.
 * libseccomp 2.5.4 does not know the name; on x86-64 it is 452. */
#define NR_FCHMODAT2_X86_64 452

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, unsigned n,
		const struct scmp_arg_cmp *args, husk_error_t *err)
{
	int r = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (r < 0)
		return husk_error_set(err, -r, "seccomp rule for %s", name);
	return 0;
}

/* ACTION for ioctl with each of the N requests in REQS. The request is an
 * unsigned int in the kernel; compare the low 32 bits, so a caller that
 * sign-extends one does not die for it. */
static int ioctl_rules(scmp_filter_ctx ctx, uint32_t action, const unsigned long *reqs, size_t n,
		       husk_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp req = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, reqs[i]);
		if (rule(ctx, action, SCMP_SYS(ioctl), "ioctl", 1, &req, err) < 0)
			return -1;
	}
	return 0;
}

static int add_all(scmp_filter_ctx ctx, husk_error_t *err)
{
	const uint32_t A = SCMP_ACT_ALLOW;
	pid_t self = getpid();

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		/* Newer than this libseccomp, and so than the kernel it targets. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (rule(ctx, A, nr, allowed[i], 0, NULL, err) < 0)
			return -1;
	}
	int nr = seccomp_syscall_resolve_name("fchmodat2");
	if (nr == __NR_SCMP_ERROR && seccomp_arch_native() == SCMP_ARCH_X86_64)
		nr = NR_FCHMODAT2_X86_64;
	if (nr != __NR_SCMP_ERROR && rule(ctx, A, nr, "fchmodat2", 0, NULL, err) < 0)
		return -1;

	/* No executable mappings: the VMM never runs code it maps, and a
	 * taken-over VMM could not map its own. */
	struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (rule(ctx, A, SCMP_SYS(mmap), "mmap", 1, &noexec, err) < 0 ||
	    rule(ctx, A, SCMP_SYS(mprotect), "mprotect", 1, &noexec, err) < 0)
		return -1;

	if (ioctl_rules(ctx, A, ioctls, sizeof(ioctls) / sizeof(ioctls[0]), err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(fcntls) / sizeof(fcntls[0]); i++) {
		struct scmp_arg_cmp cmd = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntls[i]);
		if (rule(ctx, A, SCMP_SYS(fcntl), "fcntl", 1, &cmd, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(prctls) / sizeof(prctls[0]); i++) {
		struct scmp_arg_cmp opt = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)prctls[i]);
		if (rule(ctx, A, SCMP_SYS(prctl), "prctl", 1, &opt, err) < 0)
			return -1;
	}

	/* Sockets: unix only. The VMM talks to the guest agent, the runtime
	 * and vsock ports over unix sockets; it never needs the network. */
	struct scmp_arg_cmp unix_only = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	if (rule(ctx, A, SCMP_SYS(socket), "socket", 1, &unix_only, err) < 0 ||
	    rule(ctx, A, SCMP_SYS(socketpair), "socketpair", 1, &unix_only, err) < 0)
		return -1;

	/* Threads only: clone with CLONE_THREAD. clone3 passes its flags in
	 * memory, out of a filter's sight, so it fails with ENOSYS and glibc
	 * falls back to clone. */
	struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	if (rule(ctx, A, SCMP_SYS(clone), "clone", SANITIZED ? 0 : 1, &thread, err) < 0 ||
	    rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3", 0, NULL, err) < 0)
		return -1;

	/* Signals to itself only: re-raising the guest's death signal, and
	 * kicking its own vCPU threads. */
	struct scmp_arg_cmp me = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self);
	if (rule(ctx, A, SCMP_SYS(kill), "kill", 1, &me, err) < 0 ||
	    rule(ctx, A, SCMP_SYS(tgkill), "tgkill", 1, &me, err) < 0)
		return -1;
	/* prlimit64 is how glibc gets and sets limits; its own only. */
	struct scmp_arg_cmp pid0 = SCMP_A0(SCMP_CMP_EQ, 0);
	if (rule(ctx, A, SCMP_SYS(prlimit64), "prlimit64", 1, &pid0, err) < 0)
		return -1;

	/* A thread narrowing itself (confine_thread()): a filter of its own,
	 * no flags (not TSYNC onto the others, no listener). */
	struct scmp_arg_cmp own_filter[] = { SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
					     SCMP_A1(SCMP_CMP_EQ, 0) };
	if (rule(ctx, A, SCMP_SYS(seccomp), "seccomp", 2, own_filter, err) < 0)
		return -1;

	if (SANITIZED && (rule(ctx, A, SCMP_SYS(ptrace), "ptrace", 0, NULL, err) < 0 ||
			  rule(ctx, A, SCMP_SYS(wait4), "wait4", 0, NULL, err) < 0 ||
			  rule(ctx, A, SCMP_SYS(getdents), "getdents", 0, NULL, err) < 0))
		return -1;
	return 0;
}

int confine_seccomp(husk_error_t *err)
{
	scmp_filter_ctx ctx
		__attribute__((cleanup(seccomp_releasep))) = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx)
		return husk_error_set(err, ENOMEM, "seccomp filter");
	if (add_all(ctx, err) < 0)
		return husk_error_wrap(err, "VMM seccomp filter");
	/* Every thread, not only the caller; libseccomp sets no_new_privs
	 * first (its default), which an unprivileged load needs. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
		return husk_error_set(err, -r, "VMM seccomp filter: thread sync");
	if ((r = seccomp_load(ctx)) < 0)
		return husk_error_set(err, -r, "VMM seccomp filter: load");
	return 0;
}

/* ---- seccomp per thread class ---- */

/* On top of the process's filter, each class of thread is refused what it
 * never does, so that a bug in one (a vCPU exit handler, the FUSE server)
 * gives the guest only that thread's reach. The lists deny rather than
 * allow: the process's allow-list already bounds every thread, and what is
 * left beside these is each class's real work. A vCPU thread runs KVM_RUN
 * and the device register accesses it exits for (which may reset or start
 * a device: epoll_ctl, close, eventfd writes, the tap's offloads); no path,
 * no socket, no new thread, no VM set-up. An FS worker serves its share by
 * path and descriptor, and signals the guest through an eventfd; no
 * socket, no ioctl, no new thread, no signal. The agent router relays
 * between control clients and the guest agent on sockets it already
 * has; no path, no new socket or connection, no new thread. A refused
 * call fails with EPERM rather than killing the VMM as the process filter
 * does: glibc makes some of these calls on its own, lazily and rarely
 * (the time zone file at the first log line, /proc/sys/vm/overcommit_memory
 * when a thread's heap shrinks, a terminal check on a stream's first use),
 * and each of those copes with a failure. */
/* clang-format off */
/* Every call that takes a path or changes a file: the FS worker's work. */
static const char *const path_calls[] = {
	"open", "openat", "openat2", "stat", "lstat", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getdents64", "statfs", "mkdirat", "unlinkat", "renameat2",
	"linkat", "symlinkat", "mknodat", "fchmod", "fchmodat", "fchown", "fchownat", "utimensat",
	"ftruncate", "fallocate", "syncfs", "copy_file_range", "setxattr", "getxattr",
	"listxattr", "removexattr", "fsetxattr", "fgetxattr", "flistxattr", "fremovexattr",
};
/* New sockets and connections: the event loop's (vsock to /state). */
static const char *const socket_calls[] = {
	"socket", "socketpair", "connect", "bind", "listen",
};
static const char *const vcpu_denied[] = { "accept", "accept4", "clone" };
static const unsigned long vcpu_denied_ioctls[] = {
	KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR,
	KVM_SET_IDENTITY_MAP_ADDR, KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2, KVM_IRQFD, KVM_IOEVENTFD,
	KVM_SET_GSI_ROUTING, KVM_ENABLE_CAP, KVM_SET_IRQCHIP, KVM_SET_PIT2, KVM_SET_CLOCK,
	KVM_SET_REGS, KVM_SET_SREGS, KVM_SET_FPU, KVM_SET_MSRS, KVM_SET_LAPIC, KVM_SET_CPUID2,
	KVM_SET_VCPU_EVENTS, KVM_SET_MP_STATE, KVM_SET_XSAVE, KVM_SET_XCRS, KVM_SET_DEBUGREGS,
	KVM_SET_SIGNAL_MASK, TUNSETVNETHDRSZ, TCSETS, TCSETSW, TCSETSF, TIOCSWINSZ,
};
static const char *const fs_worker_denied[] = {
	"accept", "accept4", "sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg",
	"ioctl", "clone", "kill", "tgkill",
};
/* The router accepts control clients and passes descriptors over the
 * sockets it has; it never opens, connects or starts a thread. */
static const char *const router_denied[] = { "clone" };
/* clang-format on */

/* Each class's filter as BPF, compiled before the process filter (which
 * leaves no way to make a memfd) and loaded by the thread itself. */
static struct sock_fprog thread_filters[VMM_THREAD_CLASSES];

static int deny_names(scmp_filter_ctx ctx, const char *const *names, size_t n, husk_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (rule(ctx, SCMP_ACT_ERRNO(EPERM), nr, names[i], 0, NULL, err) < 0)
			return -1;
	}
	return 0;
}

#define DENY(ctx, list, err) deny_names(ctx, list, sizeof(list) / sizeof(list[0]), err)

static int class_rules(scmp_filter_ctx ctx, enum vmm_thread_class cls, husk_error_t *err)
{
	switch (cls) {
	case VMM_THREAD_VCPU:
		if (DENY(ctx, path_calls, err) < 0 || DENY(ctx, socket_calls, err) < 0 ||
		    DENY(ctx, vcpu_denied, err) < 0)
			return -1;
		return ioctl_rules(ctx, SCMP_ACT_ERRNO(EPERM), vcpu_denied_ioctls,
				   sizeof(vcpu_denied_ioctls) / sizeof(vcpu_denied_ioctls[0]), err);
	case VMM_THREAD_FS_WORKER:
		return DENY(ctx, socket_calls, err) < 0 ? -1 : DENY(ctx, fs_worker_denied, err);
	case VMM_THREAD_ROUTER:
		if (DENY(ctx, path_calls, err) < 0 || DENY(ctx, socket_calls, err) < 0)
			return -1;
		return DENY(ctx, router_denied, err);
	case VMM_THREAD_CLASSES: break;
	}
	return husk_error_set(err, EINVAL, "no thread class %d", (int)cls);
}

/* CLS's filter, compiled and exported as BPF into thread_filters[CLS]. */
static int compile_class(enum vmm_thread_class cls, husk_error_t *err)
{
	scmp_filter_ctx ctx
		__attribute__((cleanup(seccomp_releasep))) = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return husk_error_set(err, ENOMEM, "seccomp filter");
	/* no_new_privs is the process's already; libseccomp would set it
	 * again through prctl, which the process filter refuses. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		return husk_error_set(err, -r, "seccomp filter attribute");
	if (class_rules(ctx, cls, err) < 0)
		return -1;
	cleanup_close int fd = memfd_create("husk-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return husk_error_set(err, errno, "memfd for a seccomp filter");
	if ((r = seccomp_export_bpf(ctx, fd)) < 0)
		return husk_error_set(err, -r, "export a seccomp filter");
	off_t size = lseek(fd, 0, SEEK_CUR);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return husk_error_set(err, EINVAL, "exported seccomp filter of %lld bytes",
				      (long long)size);
	struct sock_filter *prog = malloc((size_t)size);
	if (!prog)
		return husk_error_set(err, ENOMEM, "seccomp filter");
	if (pread(fd, prog, (size_t)size, 0) != size) {
		free(prog);
		return husk_error_set(err, errno, "read back a seccomp filter");
	}
	free(thread_filters[cls].filter);
	thread_filters[cls] = (struct sock_fprog){
		.len = (unsigned short)(size / (off_t)sizeof(struct sock_filter)), .filter = prog
	};
	return 0;
}

int confine_thread_filters_prepare(husk_error_t *err)
{
	for (int cls = 0; cls < VMM_THREAD_CLASSES; cls++)
		if (compile_class((enum vmm_thread_class)cls, err) < 0)
			return husk_error_wrap(err, "thread class %d", cls);
	return 0;
}

int confine_thread(enum vmm_thread_class cls, husk_error_t *err)
{
	static const char *const names[] = { [VMM_THREAD_VCPU] = "vCPU",
					     [VMM_THREAD_FS_WORKER] = "virtio-fs worker",
					     [VMM_THREAD_ROUTER] = "agent router" };
	if ((unsigned)cls >= VMM_THREAD_CLASSES || !thread_filters[cls].filter)
		return husk_error_set(err, EINVAL, "no seccomp filter for thread class %d",
				      (int)cls);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &thread_filters[cls]) < 0)
		return husk_error_set(err, errno, "%s thread's seccomp filter", names[cls]);
	return 0;
}
