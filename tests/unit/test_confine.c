/* runtime/confine.c: each confinement is applied in a forked child (they
 * cannot be undone), which reports through its exit status; failures print
 * as TAP comments. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "base/cleanup.h"
#include "runtime/confine.h"
#include "runtime/jail.h"
#include "tests/unit/tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* Runs FN(ARG) in a child and returns its wait status. FN ends the child
 * with _exit(0) for success, or _exit(N) after printing why. */
static int in_child(void (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

#define CHILD_OK(status) (WIFEXITED(status) && WEXITSTATUS(status) == 0)

#define FAIL_CHILD(code, ...)          \
	do {                           \
		printf("#   child: "); \
		printf(__VA_ARGS__);   \
		printf("\n");          \
		_exit(code);           \
	} while (0)

static void show_status(int status)
{
	if (WIFSIGNALED(status))
		printf("# child killed by %s\n", sigabbrev_np(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		printf("# child exited %d\n", WEXITSTATUS(status));
}

/* ---- rlimits and oom_score_adj ---- */

static void rlimits_child(void *arg)
{
	(void)arg;
	struct rlimit before, core0, rl;
	getrlimit(RLIMIT_NOFILE, &before);
	/* The guest's: a VMM with a core limit could dump guest RAM. */
	rl = (struct rlimit){ 0, 4096 };
	setrlimit(RLIMIT_CORE, &rl);
	getrlimit(RLIMIT_CORE, &core0);
	struct oci_rlimit lim[] = {
		{ RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY },
		{ RLIMIT_NOFILE, 16, 16 }, /* the VMM's own: not applied */
		{ RLIMIT_MSGQUEUE, 4096, 8192 },
	};
	struct oci_process p = { .rlimits = lim, .nrlimits = 3 };
	husk_error_t err cleanup_error = NULL;

	if (confine_rlimits(&p, &err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	getrlimit(RLIMIT_CORE, &rl);
	if (rl.rlim_cur != core0.rlim_cur || rl.rlim_max != core0.rlim_max)
		FAIL_CHILD(2, "RLIMIT_CORE %lu:%lu", rl.rlim_cur, rl.rlim_max);
	getrlimit(RLIMIT_MSGQUEUE, &rl);
	if (rl.rlim_cur != 4096 || rl.rlim_max != 8192)
		FAIL_CHILD(3, "RLIMIT_MSGQUEUE %lu:%lu", rl.rlim_cur, rl.rlim_max);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != before.rlim_cur || rl.rlim_max != before.rlim_max)
		FAIL_CHILD(4, "RLIMIT_NOFILE changed");

	/* soft above hard: the kernel's EINVAL, with the field. */
	struct oci_rlimit bad[] = { { RLIMIT_CORE, 0, 0 }, { RLIMIT_STACK, 10 << 20, 1 << 20 } };
	struct oci_process q = { .rlimits = bad, .nrlimits = 2 };
	if (confine_rlimits(&q, &err) == 0)
		FAIL_CHILD(5, "soft > hard accepted");
	if (strcmp(err->msg, "process.rlimits[1]: RLIMIT_STACK 10485760:1048576: invalid argument"))
		FAIL_CHILD(6, "message: %s", err->msg);
}

TEST(confine_rlimits_applies_what_fits_a_vmm)
{
	int st = in_child(rlimits_child, NULL);
	show_status(st);
	CHECK(CHILD_OK(st));
}

static void no_dump_child(void *arg)
{
	(void)arg;
	husk_error_t err cleanup_error = NULL;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (confine_no_dump(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		FAIL_CHILD(2, "still dumpable");
	getrlimit(RLIMIT_CORE, &rl);
	if (rl.rlim_cur != 0 || rl.rlim_max != 0)
		FAIL_CHILD(3, "RLIMIT_CORE %lu:%lu", rl.rlim_cur, rl.rlim_max);
	/* The VMM still reaches its own descriptors through /proc/self/fd
	 * (virtio-fs reopens every file that way). */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int again = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || again < 0)
		FAIL_CHILD(4, "reopen through %s: %s", path, strerror(errno));
}

TEST(confine_no_dump_leaves_no_core_and_no_ptrace)
{
	int st = in_child(no_dump_child, NULL);
	show_status(st);
	CHECK(CHILD_OK(st));
}

static void oom_child(void *arg)
{
	(void)arg;
	struct oci_process none = { 0 }, p = { .has_oom_score_adj = true, .oom_score_adj = 567 };
	husk_error_t err cleanup_error = NULL;
	char buf[16] = "";

	if (confine_oom_score_adj(&none, &err) < 0 || confine_oom_score_adj(&p, &err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	int fd = open("/proc/self/oom_score_adj", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		FAIL_CHILD(2, "read oom_score_adj");
	if (atoi(buf) != 567)
		FAIL_CHILD(3, "oom_score_adj %s", buf);
}

TEST(confine_oom_score_adj_is_written)
{
	int st = in_child(oom_child, NULL);
	show_status(st);
	CHECK(CHILD_OK(st));
}

/* ---- namespaces ---- */

static void ns_link(pid_t pid, const char *ns, char *out, size_t size)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(p, out, size - 1);
	out[n > 0 ? n : 0] = '\0';
}

struct ns_case {
	struct oci_config *c;
	pid_t parent;
	pid_t holder;	   /* its network namespace is the one to join, or 0 */
	bool new_net;	   /* expect a network namespace of its own */
	const char *error; /* expected message, or NULL */
};

static void ns_child(void *arg)
{
	struct ns_case *t = arg;
	husk_error_t err cleanup_error = NULL;
	char mine[128], theirs[128];

	int r = confine_namespaces(t->c, &err);
	if (t->error) {
		if (r == 0)
			FAIL_CHILD(1, "no error");
		if (strcmp(err->msg, t->error) != 0)
			FAIL_CHILD(2, "message: %s", err->msg);
		_exit(0);
	}
	if (r < 0)
		FAIL_CHILD(3, "%s", err->msg);
	static const char *const own[] = { "mnt", "ipc", "uts", "cgroup" };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		ns_link(getpid(), own[i], mine, sizeof(mine));
		ns_link(t->parent, own[i], theirs, sizeof(theirs));
		if (strcmp(mine, theirs) == 0)
			FAIL_CHILD(4, "%s namespace is the parent's", own[i]);
	}
	ns_link(getpid(), "pid", mine, sizeof(mine));
	ns_link(t->parent, "pid", theirs, sizeof(theirs));
	if (strcmp(mine, theirs) != 0)
		FAIL_CHILD(5, "pid namespace changed");
	ns_link(getpid(), "net", mine, sizeof(mine));
	ns_link(t->holder ? t->holder : t->parent, "net", theirs, sizeof(theirs));
	if (t->new_net == (strcmp(mine, theirs) == 0))
		FAIL_CHILD(6, "net %s vs %s", mine, theirs);
}

static void release_holder(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
}

TEST(confine_namespaces_network_and_own)
{
	if (geteuid() != 0)
		SKIP("needs root");
	struct oci_namespace ns[] = { { CLONE_NEWPID, NULL }, { CLONE_NEWNET, NULL } };
	struct oci_config c = { .namespaces = ns, .nnamespaces = 2 };
	struct ns_case t = { .c = &c, .parent = getpid(), .new_net = true };
	int st;

	/* A new network namespace. */
	st = in_child(ns_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));

	/* No network entry: the host's. */
	c.nnamespaces = 1;
	t.new_net = false;
	st = in_child(ns_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));

	/* Joining one by path: a holder process keeps it alive. */
	int ready[2];
	CHECK_INT(pipe(ready), 0);
	pid_t holder __attribute__((cleanup(release_holder))) = fork();
	CHECK(holder >= 0);
	if (holder == 0) {
		char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char ok = 0;
	CHECK_INT(read(ready[0], &ok, 1), 1);
	close(ready[0]);
	close(ready[1]);
	CHECK(ok == 'y');
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)holder);
	ns[1].path = path;
	c.nnamespaces = 2;
	t.holder = holder;
	st = in_child(ns_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));
}

TEST(confine_namespaces_errors_name_the_entry)
{
	struct oci_namespace ns[] = { { CLONE_NEWPID, NULL }, { CLONE_NEWNET, "/nonexistent/ns" } };
	struct oci_config c = { .namespaces = ns, .nnamespaces = 2 };
	struct ns_case t = {
		.c = &c,
		.parent = getpid(),
		.error = "linux.namespaces[1].path: /nonexistent/ns: no such file or directory",
	};

	int st = in_child(ns_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));
	if (geteuid() != 0)
		SKIP("needs root for the second case");
	ns[1].path = "/proc/self/ns/uts";
	t.error = "linux.namespaces[1].path: /proc/self/ns/uts: not a network namespace";
	st = in_child(ns_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));
}

/* ---- capabilities ---- */

static uint64_t status_hex(const char *key)
{
	char line[256];
	uint64_t v = UINT64_MAX;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static void caps_child(void *arg)
{
	const char *dir = arg;
	uint64_t prm = status_hex("CapPrm"), bnd = status_hex("CapBnd");
	husk_error_t err cleanup_error = NULL;

	if (confine_capabilities(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	uint64_t want = CONFINE_CAPS & prm;
	if (status_hex("CapEff") != want || status_hex("CapPrm") != want)
		FAIL_CHILD(2, "CapEff %llx CapPrm %llx, want %llx",
			   (unsigned long long)status_hex("CapEff"),
			   (unsigned long long)status_hex("CapPrm"), (unsigned long long)want);
	if (status_hex("CapInh") != 0 || status_hex("CapAmb") != 0)
		FAIL_CHILD(3, "inheritable or ambient left");
	if (status_hex("CapBnd") != (CONFINE_CAPS & bnd))
		FAIL_CHILD(4, "CapBnd %llx", (unsigned long long)status_hex("CapBnd"));
	if (status_hex("NoNewPrivs") != 1)
		FAIL_CHILD(5, "no_new_privs not set");
	/* CAP_SYS_ADMIN is gone; CAP_CHOWN is kept. */
	if (unshare(CLONE_NEWUTS) == 0 || errno != EPERM)
		FAIL_CHILD(6, "unshare worked without CAP_SYS_ADMIN");
	char file[4096];
	snprintf(file, sizeof(file), "%s/owned", dir);
	int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, 1234, 1234) < 0)
		FAIL_CHILD(7, "chown with CAP_CHOWN: %s", strerror(errno));
	close(fd);
}

TEST(confine_capabilities_keeps_the_fs_set)
{
	if (status_hex("CapEff") != status_hex("CapBnd") || geteuid() != 0)
		SKIP("needs root with every capability");
	char dir[] = "/tmp/husk-caps-XXXXXX";
	CHECK(mkdtemp(dir));
	int st = in_child(caps_child, dir);
	char file[64];
	snprintf(file, sizeof(file), "%s/owned", dir);
	unlink(file);
	rmdir(dir);
	show_status(st);
	CHECK(CHILD_OK(st));
}

/* ---- seccomp ---- */

static void *thread_fn(void *arg)
{
	int *fds = arg;
	char c = 'x';
	return (void *)(intptr_t)write(fds[1], &c, 1);
}

/* What the VMM does all the time must keep working under the filter, and
 * so must the sanitizer runtime, down to the leak check at exit. */
static void seccomp_allowed_child(void *arg)
{
	(void)arg;
	husk_error_t err cleanup_error = NULL;
	int sv[2], ep, ev, n;
	char c;

	if (confine_seccomp(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		FAIL_CHILD(2, "socketpair: %s", strerror(errno));
	pthread_t t;
	if (pthread_create(&t, NULL, thread_fn, sv) != 0)
		FAIL_CHILD(3, "pthread_create");
	void *ret;
	pthread_join(t, &ret);
	if ((intptr_t)ret != 1 || ioctl(sv[0], FIONREAD, &n) < 0 || n != 1 ||
	    read(sv[0], &c, 1) != 1)
		FAIL_CHILD(4, "thread, FIONREAD or read: %s", strerror(errno));
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event e = { .events = EPOLLIN };
	uint64_t one = 1;
	if (ep < 0 || ev < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0 ||
	    write(ev, &one, 8) != 8 || epoll_wait(ep, &e, 1, 1000) != 1)
		FAIL_CHILD(5, "epoll/eventfd: %s", strerror(errno));
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || munmap(m, 1 << 20) < 0)
		FAIL_CHILD(6, "mmap: %s", strerror(errno));
	int fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		FAIL_CHILD(7, "open/fstat: %s", strerror(errno));
	/* The fcntl commands the VMM and libc use. */
	struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int flags = fcntl(fd, F_GETFL), dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 || dup_fd < 0 ||
	    fcntl(dup_fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_GETFD) < 0 ||
	    fcntl(fd, F_OFD_GETLK, &lk) < 0 || close(dup_fd) < 0 || close(fd) < 0)
		FAIL_CHILD(9, "fcntl: %s", strerror(errno));
	free(malloc(10 << 20));
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		FAIL_CHILD(8, "getrlimit: %s", strerror(errno));
	/* The sanitizer's leak check runs from exit(), not _exit(). */
	fflush(stdout);
	exit(0);
}

TEST(confine_seccomp_allows_the_vmm_calls)
{
	int st = in_child(seccomp_allowed_child, NULL);
	show_status(st);
	CHECK(CHILD_OK(st));
}

#if SANITIZED
/* Out of line, so no copy of the pointer stays where the leak check
 * looks (registers, the live stack). */
static __attribute__((noinline)) void leak(void)
{
	for (int i = 0; i < 16; i++) {
		volatile char *p = malloc(1000);
		p[0] = 1;
	}
}

/* A leak check under the filter: the sanitizer's helper task and its
 * ptrace calls work, and the report is made rather than the process dying
 * of SIGSYS half-way. Same machinery as the check at exit. */
static void seccomp_leak_child(void *arg)
{
	(void)arg;
	husk_error_t err cleanup_error = NULL;
	int null = open("/dev/null", O_WRONLY);

	if (confine_seccomp(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	dup2(null, 2); /* the report itself is noise here */
	leak();
	int found = __lsan_do_recoverable_leak_check();
	_exit(found == 1 ? 0 : 10 + found);
}

TEST(confine_seccomp_keeps_leak_checks_working)
{
	int st = in_child(seccomp_leak_child, NULL);
	show_status(st);
	CHECK(CHILD_OK(st));
}
#endif

/* A VM's life under the filter, set-up included: a one-page real-mode
 * guest that halts. Returns 0 when it ran, else the step that failed. */
static int tiny_vm(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return 1;
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return 2;
	uint8_t *mem =
		mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 3;
	mem[0x1000] = 0xf4; /* hlt */
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = 0x2000,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return 4;
	int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (cpu < 0 || size <= 0)
		return 5;
	struct kvm_run *run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED)
		return 6;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
	if (ioctl(cpu, KVM_GET_SREGS, &sregs) < 0)
		return 7;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(cpu, KVM_SET_REGS, &regs) < 0)
		return 8;
	if (ioctl(cpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT)
		return 9;
	return 0;
}

static void kvm_child(void *arg)
{
	husk_error_t err cleanup_error = NULL;

	if (arg && (confine_capabilities(&err) < 0 || confine_seccomp(&err) < 0))
		FAIL_CHILD(20, "%s", err->msg);
	_exit(tiny_vm());
}

TEST(confine_seccomp_lets_a_vcpu_run)
{
	if (access("/dev/kvm", R_OK | W_OK) < 0)
		SKIP("no /dev/kvm");
	int st = in_child(kvm_child, NULL);
	if (!CHILD_OK(st))
		SKIP("this KVM cannot run a real-mode guest (kvm_pvm?)");
	st = in_child(kvm_child, "confined");
	show_status(st);
	CHECK(CHILD_OK(st));
}

enum forbidden {
	F_MOUNT,
	F_INET,
	F_EXEC_MAP,
	F_TIOCSTI,
	F_KILL_OTHER,
	F_FORK,
	F_UNSHARE,
	F_SIGIO_OWNER,
	F_SIGIO_OWNER_EX,
	F_SIGIO_SIGNAL,
};

static void seccomp_forbidden_child(void *arg)
{
	enum forbidden what = *(enum forbidden *)arg;
	husk_error_t err cleanup_error = NULL;
	char c = 'x';

	if (confine_seccomp(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	switch (what) {
	case F_MOUNT: mount("none", "/mnt", "tmpfs", 0, NULL); break;
	case F_INET: socket(AF_INET, SOCK_STREAM, 0); break;
	case F_EXEC_MAP:
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case F_TIOCSTI: ioctl(0, TIOCSTI, &c); break;
	case F_KILL_OTHER: kill(getppid(), 0); break;
	case F_FORK: fork(); break;
	case F_UNSHARE: unshare(CLONE_NEWNET); break;
	/* Owners and signals for SIGIO: the kernel would signal whatever
	 * process the VMM names. */
	case F_SIGIO_OWNER: fcntl(0, F_SETOWN, getppid()); break;
	case F_SIGIO_OWNER_EX: {
		struct f_owner_ex owner = { .type = F_OWNER_PID, .pid = getppid() };
		fcntl(0, F_SETOWN_EX, &owner);
		break;
	}
	case F_SIGIO_SIGNAL: fcntl(0, F_SETSIG, SIGKILL); break;
	}
	_exit(2); /* still alive */
}

TEST(confine_seccomp_kills_on_anything_else)
{
	static const struct {
		enum forbidden what;
		const char *name;
	} cases[] = {
		{ F_MOUNT, "mount" },
		{ F_INET, "socket(AF_INET)" },
		{ F_EXEC_MAP, "mmap(PROT_EXEC)" },
		{ F_TIOCSTI, "ioctl(TIOCSTI)" },
		{ F_KILL_OTHER, "kill(parent)" },
		{ F_UNSHARE, "unshare" },
		{ F_SIGIO_OWNER, "fcntl(F_SETOWN)" },
		{ F_SIGIO_OWNER_EX, "fcntl(F_SETOWN_EX)" },
		{ F_SIGIO_SIGNAL, "fcntl(F_SETSIG)" },
#if !SANITIZED
		/* The sanitizer's leak check needs a non-thread clone. */
		{ F_FORK, "fork" },
#endif
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum forbidden w = cases[i].what;
		int st = in_child(seccomp_forbidden_child, &w);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS) {
			printf("# %s: ", cases[i].name);
			show_status(st);
			if (!WIFSIGNALED(st))
				printf("# not killed\n");
			CHECK(false);
		}
	}
}

/* ---- seccomp per thread class ---- */

enum class_act {
	A_OPEN,	     /* a path */
	A_SOCKET,    /* a unix socket */
	A_CREATE_VM, /* VM set-up */
	A_FIONREAD,  /* any ioctl */
	A_THREAD,    /* a new thread */
	A_HARMLESS,  /* what its work needs: an eventfd write, a clock read */
};

struct class_case {
	enum vmm_thread_class cls;
	enum class_act act;
};

static void *class_thread(void *arg)
{
	const struct class_case *c = arg;
	husk_error_t err cleanup_error = NULL;
	int n = 0, efd = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;
	struct timespec ts;
	pthread_t t;

	if (confine_thread(c->cls, &err) < 0)
		return (void *)(intptr_t)30;
	/* Refused: the call fails with EPERM (and nothing else does). */
	int r = 0, e;
	errno = 0;
	switch (c->act) {
	case A_OPEN: r = open("/", O_PATH | O_CLOEXEC); break;
	case A_SOCKET: r = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0); break;
	/* Refused before the descriptor is looked at: an eventfd would
	 * give ENOTTY. */
	case A_CREATE_VM: r = ioctl(efd, KVM_CREATE_VM, 0); break;
	case A_FIONREAD: r = ioctl(efd, FIONREAD, &n); break;
	case A_THREAD:
		r = -1;
		errno = pthread_create(&t, NULL, class_thread, NULL);
		if (errno == 0)
			pthread_join(t, NULL);
		break;
	case A_HARMLESS:
		if (write(efd, &one, sizeof(one)) != sizeof(one) ||
		    clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
			return (void *)(intptr_t)31;
		close(efd);
		return NULL;
	}
	e = errno;
	if (r >= 0 && c->act != A_THREAD)
		close(r);
	return (void *)(intptr_t)(r < 0 && e == EPERM ? 40 : 0);
}

static void class_child(void *arg)
{
	husk_error_t err cleanup_error = NULL;
	pthread_t t;
	void *ret;

	if (confine_thread_filters_prepare(&err) < 0 || confine_seccomp(&err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	if (pthread_create(&t, NULL, class_thread, arg) != 0 || pthread_join(t, &ret) != 0)
		FAIL_CHILD(2, "thread");
	if (ret && ret != (void *)(intptr_t)40)
		_exit((int)(intptr_t)ret);
	/* The thread's filter was its own: this thread still may. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || open("/", O_PATH | O_CLOEXEC) < 0)
		FAIL_CHILD(3, "the process lost what only a thread gave up: %s", strerror(errno));
	_exit(ret ? 40 : 0); /* 40: the thread's call was refused */
}

TEST(confine_thread_class_refuses_what_the_class_never_does)
{
	static const struct {
		struct class_case c;
		bool refused;
		const char *name;
	} cases[] = {
		{ { VMM_THREAD_VCPU, A_OPEN }, true, "vCPU: open" },
		{ { VMM_THREAD_VCPU, A_SOCKET }, true, "vCPU: socket" },
		{ { VMM_THREAD_VCPU, A_CREATE_VM }, true, "vCPU: KVM_CREATE_VM" },
		{ { VMM_THREAD_VCPU, A_THREAD }, true, "vCPU: thread" },
		{ { VMM_THREAD_VCPU, A_FIONREAD }, false, "vCPU: FIONREAD" },
		{ { VMM_THREAD_VCPU, A_HARMLESS }, false, "vCPU: eventfd, clock" },
		{ { VMM_THREAD_FS_WORKER, A_SOCKET }, true, "FS worker: socket" },
		{ { VMM_THREAD_FS_WORKER, A_FIONREAD }, true, "FS worker: ioctl" },
		{ { VMM_THREAD_FS_WORKER, A_THREAD }, true, "FS worker: thread" },
		{ { VMM_THREAD_FS_WORKER, A_OPEN }, false, "FS worker: open" },
		{ { VMM_THREAD_FS_WORKER, A_HARMLESS }, false, "FS worker: eventfd, clock" },
		{ { VMM_THREAD_ROUTER, A_OPEN }, true, "router: open" },
		{ { VMM_THREAD_ROUTER, A_SOCKET }, true, "router: socket" },
		{ { VMM_THREAD_ROUTER, A_THREAD }, true, "router: thread" },
		{ { VMM_THREAD_ROUTER, A_FIONREAD }, false, "router: FIONREAD" },
		{ { VMM_THREAD_ROUTER, A_HARMLESS }, false, "router: eventfd, clock" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct class_case c = cases[i].c;
		int st = in_child(class_child, &c);
		bool ok = cases[i].refused ? WIFEXITED(st) && WEXITSTATUS(st) == 40 : CHILD_OK(st);
		if (!ok) {
			printf("# %s: ", cases[i].name);
			show_status(st);
		}
		CHECK(ok);
	}
}

/* ---- the jail (runtime/jail.c) ---- */

struct jail_case {
	char dir[64]; /* scratch: root/, share/, state/, kernel */
};

static void jail_child(void *arg)
{
	struct jail_case *t = arg;
	static const struct oci_config none;
	husk_error_t err cleanup_error = NULL;
	char root[96], share[96], state[96], kernel[96], roshare[96], buf[8];

	snprintf(root, sizeof(root), "%s/root", t->dir);
	snprintf(share, sizeof(share), "%s/share", t->dir);
	snprintf(state, sizeof(state), "%s/state", t->dir);
	snprintf(kernel, sizeof(kernel), "%s/kernel", t->dir);
	snprintf(roshare, sizeof(roshare), "%s/roshare", t->dir);
	struct jail_spec j = { .root = root,
			       .kernel = kernel,
			       .state_dir = state,
			       .shares = { share, roshare },
			       .nshares = 2 };
	if (confine_namespaces(&none, &err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	/* A share that is a read-only mount on the host (a :ro volume). */
	if (mount(roshare, roshare, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, roshare, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		FAIL_CHILD(11, "read-only bind: %s", strerror(errno));
	if (jail_enter(&j, &err) < 0)
		FAIL_CHILD(1, "%s", err->msg);
	/* What it was given, at the paths jail.h names. */
	int fd = open("/kernel", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, 6) != 6 || memcmp(buf, "vmlinu", 6) != 0)
		FAIL_CHILD(2, "/kernel: %s", strerror(errno));
	close(fd);
	if (access("/share0/in-share", F_OK) < 0 || access("/state/in-state", F_OK) < 0 ||
	    access("/proc/self/fd/0", F_OK) < 0)
		FAIL_CHILD(3, "share, state or /proc/self/fd: %s", strerror(errno));
	/* Nothing else: no host file, and ".." from a share ends in the
	 * jail, not in the host directory that holds the share. */
	if (access("/etc/passwd", F_OK) == 0 || access(kernel, F_OK) == 0)
		FAIL_CHILD(4, "a host path is still there");
	int sfd = open("/share0", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || faccessat(sfd, "../kernel", F_OK, 0) < 0 ||
	    faccessat(sfd, "../share/in-share", F_OK, 0) == 0)
		FAIL_CHILD(5, "\"..\" from the share leaves the jail");
	close(sfd);
	/* Once its capabilities are the VMM's, processes it may not trace do
	 * not show; its root takes nothing. */
	if (confine_capabilities(&err) < 0)
		FAIL_CHILD(8, "%s", err->msg);
	if (access("/proc/1/status", F_OK) == 0 && getpid() != 1)
		FAIL_CHILD(6, "/proc shows pid 1");
	/* Of /proc only what the VMM uses: no /proc/self/mem (it writes
	 * through page protections), and ".." from the fd directory stays in
	 * the jail. A descriptor still reopens through its magic link. */
	if (access("/proc/self/mem", F_OK) == 0 || access("/proc/self/fd/../mem", F_OK) == 0)
		FAIL_CHILD(13, "/proc/self holds more than fd");
	char magic[64];
	int sh = open("/share0/in-share", O_PATH | O_CLOEXEC);
	snprintf(magic, sizeof(magic), "/proc/self/fd/%d", sh);
	int reopened = open(magic, O_RDWR | O_CLOEXEC);
	if (sh < 0 || reopened < 0 || read(reopened, buf, 3) != 3)
		FAIL_CHILD(14, "reopen through %s: %s", magic, strerror(errno));
	close(reopened);
	close(sh);
	if (mkdir("/new", 0700) == 0 || errno != EROFS)
		FAIL_CHILD(7, "mkdir in the jail's root: %s", strerror(errno));
	/* Every container's kernel, and the state directory, only to read;
	 * the share as it was given. */
	if (open("/kernel", O_WRONLY | O_CLOEXEC) >= 0 || errno != EROFS ||
	    mkdir("/state/new", 0700) == 0 || errno != EROFS)
		FAIL_CHILD(9, "/kernel or /state is writable");
	if (mkdir("/share0/new", 0700) < 0 || rmdir("/share0/new") < 0)
		FAIL_CHILD(10, "the share is not writable: %s", strerror(errno));
	if (mkdir("/share1/new", 0700) == 0 || errno != EROFS)
		FAIL_CHILD(12, "a read-only share came out writable");
	_exit(0);
}

TEST(jail_holds_only_what_it_was_given)
{
	if (geteuid() != 0)
		SKIP("needs root");
	struct jail_case t;
	snprintf(t.dir, sizeof(t.dir), "/tmp/husk-test-jail.XXXXXX");
	CHECK(mkdtemp(t.dir) != NULL);
	char p[128];
	static const char *const dirs[] = { "root", "share", "state", "roshare" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", t.dir, dirs[i]);
		CHECK_INT(mkdir(p, 0700), 0);
	}
	static const char *const files[] = { "share/in-share", "state/in-state", "kernel" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", t.dir, files[i]);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && write(fd, "vmlinux", 7) == 7);
		close(fd);
	}
	int st = in_child(jail_child, &t);
	show_status(st);
	CHECK(CHILD_OK(st));
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", t.dir, files[i]);
		unlink(p);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", t.dir, dirs[i]);
		CHECK_INT(rmdir(p), 0);
	}
	CHECK_INT(rmdir(t.dir), 0);
}
