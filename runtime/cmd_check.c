/* `husk check`: the first thing to run on a new host. Each line says OK, WARN
 * or FAIL with what was found and, when not OK, a one-line fix. Exits 0 only
 * when nothing FAILs, i.e. when containers can run here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/agent_host.h"
#include "runtime/cgroup.h"
#include "runtime/commands.h"
#include "runtime/confine.h"
#include "runtime/container.h"
#include "runtime/control.h"
#include "runtime/guest_assets.h"
#include "runtime/host.h"
#include "runtime/lifecycle.h"
#include "vmm/memory.h"
#include "vmm/vm.h"
#include "vmm/x86_boot.h"

static const struct cli_flag check_flags[] = {
	{ "quiet", 'q', false, "print only WARN and FAIL lines" },
	{ "boot", 0, false,
	  "also boot a guest as create does and time it until its agent answers (at most "
	  "HUSK_CHECK_BOOT_TIMEOUT seconds, default 60)" },
	{ NULL },
};

const struct cli_command cmd_check_cli = {
	.name = "check",
	.summary = "check that this host can run husk containers",
	.min_args = 0,
	.max_args = 0,
	.flags = check_flags,
};

#define CHECK_BOOT_TIMEOUT_ENV "HUSK_CHECK_BOOT_TIMEOUT"
#define CHECK_BOOT_TIMEOUT_S 60

enum verdict { OK, WARN, FAIL };

struct report {
	bool quiet;
	int fails, warns;
};

static void line(struct report *r, enum verdict v, const char *what, const char *fix,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void line(struct report *r, enum verdict v, const char *what, const char *fix,
		 const char *fmt, ...)
{
	static const char *const tags[] = { "OK", "WARN", "FAIL" };
	va_list ap;

	r->fails += v == FAIL;
	r->warns += v == WARN;
	if (r->quiet && v == OK)
		return;
	printf("%-5s %-16s ", tags[v], what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (v != OK && fix)
		printf("%-5s %-16s fix: %s\n", "", "", fix);
}

static bool cpu_flag(const char *flag)
{
	cleanup_file FILE *f = fopen("/proc/cpuinfo", "re");
	char buf[8192];

	while (f && fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "flags", 5) != 0)
			continue;
		for (char *save, *t = strtok_r(strchr(buf, ':'), " \n", &save); t;
		     t = strtok_r(NULL, " \n", &save))
			if (strcmp(t, flag) == 0)
				return true;
		return false;
	}
	return false;
}

/* The capabilities vmm/ relies on; a KVM without any of them cannot run
 * husk's device model. */
static const struct {
	int cap;
	const char *name;
} needed_caps[] = {
	{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "IRQCHIP" },
	{ KVM_CAP_IRQFD, "IRQFD" },
	{ KVM_CAP_IOEVENTFD, "IOEVENTFD" },
	{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	{ KVM_CAP_PIT2, "PIT2" },
};

/* True when /dev/kvm opens and nothing about it FAILed: only then is a VM
 * worth building. */
static bool check_kvm(struct report *r)
{
	enum kvm_backend b = host_kvm_backend("/sys/module");
	const char *nested = cpu_flag("hypervisor") ? " (nested: this host is itself a VM)" : "";
	char why[128];
	const char *fix;
	cleanup_close int fd = host_kvm_open("/dev/kvm", b, why, sizeof(why), &fix);
	int fails = r->fails;

	/* Without the device nothing else about KVM can be known or
	 * matters: one line, naming the module, rather than a second FAIL
	 * blaming the module for what the missing device did. */
	if (fd < 0) {
		line(r, FAIL, "kvm-device", fix, "%s", why);
		return false;
	}
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	line(r, api == KVM_API_VERSION ? OK : FAIL, "kvm-device",
	     "this kernel's KVM API is not the stable version 12",
	     "/dev/kvm opened, API version %d", api);
	char missing[256] = "";
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 " %s", needed_caps[i].name);
	if (missing[0])
		line(r, FAIL, "kvm-extensions", "use a newer host kernel", "missing:%s", missing);
	else
		line(r, OK, "kvm-extensions", NULL,
		     "irqchip, irqfd, ioeventfd, PIT and CPUID present");

	switch (b) {
	case KVM_BACKEND_INTEL:
	case KVM_BACKEND_AMD:
		line(r, OK, "kvm-backend", NULL, "%s: hardware-assisted, boots a stock guest%s",
		     host_kvm_backend_name(b), nested);
		break;
	case KVM_BACKEND_PVM:
		line(r, FAIL, "kvm-backend",
		     "use a host with VT-x/AMD-V (or nested virtualization); "
		     "to develop here, run husk inside the emulated AMD-V box: "
		     "hack/kvmbox -- build/husk ...",
		     "kvm_pvm: no hardware assist, every guest kernel "
		     "instruction is emulated; cannot boot a stock Linux guest "
		     "(VM tests on this host run in hack/kvmbox)");
		break;
	case KVM_BACKEND_NONE:
		/* /dev/kvm works, so some KVM is there; which one decides
		 * whether a stock guest boots, and `check --boot` tells. */
		line(r, WARN, "kvm-backend", "run `husk check --boot` to see whether a guest boots",
		     "/dev/kvm works but no kvm_intel, kvm_amd or kvm_pvm module is listed (CPU flags: %s)",
		     cpu_flag("vmx")   ? "vmx"
		     : cpu_flag("svm") ? "svm"
				       : "neither vmx nor svm");
		break;
	}
	return r->fails == fails;
}

static void check_cgroups(struct report *r)
{
	static const char *const wanted[] = { "memory", "cpu", "pids", "cpuset" };
	const char *root = "/sys/fs/cgroup";
	enum cgroup_mode m = host_cgroup_mode(root);
	char have[128] = "", lack[128] = "";

	if (m == CGROUP_MODE_NONE) {
		line(r, FAIL, "cgroups", "mount cgroup2 on /sys/fs/cgroup",
		     "no cgroup file system at %s", root);
		return;
	}
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		char *buf = host_cgroup_controller(root, m, wanted[i]) ? have : lack;
		snprintf(buf + strlen(buf), 128 - strlen(buf), " %s", wanted[i]);
	}
	line(r, lack[0] ? WARN : OK, "cgroups",
	     "enable the missing controllers (cgroup_enable= on the kernel command line, or subtree_control)",
	     "%s; usable:%s%s%s", host_cgroup_mode_name(m), have[0] ? have : " none",
	     lack[0] ? "; missing:" : "", lack);
}

/* What create makes for a container (its cgroup, its state directory),
 * under a name no container id collides with in practice. */
static void scratch_id(char *id, size_t len)
{
	snprintf(id, len, "husk-check-%ld", (long)getpid());
}

/* A cgroup made, confined and removed by the same calls create and delete
 * use, so that check cannot pass where create would fail. */
static void check_cgroup_create(struct report *r, const struct husk_globals *g)
{
	char id[64], path[PATH_MAX];
	husk_error_t err cleanup_error = NULL;
	cleanup_cgroup struct cgroup_handle *cg = NULL;
	const char *fix =
		"run as root with the cgroup file system writable "
		"(in a container: a private cgroup namespace and a read-write /sys/fs/cgroup)";

	scratch_id(id, sizeof(id));
	if (cgroup_resolve(NULL, id, g->systemd_cgroup, path, sizeof(path), &err) < 0 ||
	    cgroup_create(path, NULL, 0, &cg, &err) < 0) {
		line(r, FAIL, "cgroup-create", fix, "%s", err->msg);
		return;
	}
	if (!cgroup_created(cg)) {
		line(r, WARN, "cgroup-create", "remove it if nothing uses it",
		     "%s existed already: left alone, not tried", path);
		return;
	}
	bool confined = cgroup_devices_confined(cg);
	if (cgroup_destroy(cg, &err) < 0) {
		line(r, FAIL, "cgroup-create", fix, "made %s but could not remove it: %s", path,
		     err->msg);
		return;
	}
	if (confined)
		line(r, OK, "cgroup-create", NULL,
		     "made and removed %s, device allow-list in force", path);
	else
		line(r, WARN, "cgroup-create",
		     "run husk with CAP_SYS_ADMIN (or CAP_BPF) on a kernel with CONFIG_CGROUP_BPF",
		     "made and removed %s, but no device allow-list: a subverted VMM could open any device",
		     path);
}

/* Runs FN in a child, so that what it changes (namespaces, a seccomp
 * filter) goes with it: 0 when FN succeeded, else -1 and why in MSG. */
static int in_child(int (*fn)(husk_error_t *err), char *msg, size_t len)
{
	int p[2], st = 0;
	size_t got = 0;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(msg, len, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(msg, len, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		husk_error_t err = NULL;
		close(p[0]);
		if (fn(&err) == 0)
			_exit(0);
		(void)!write(p[1], err->msg, strlen(err->msg));
		_exit(1);
	}
	close(p[1]);
	for (ssize_t n; got < len - 1 && (n = read(p[0], msg + got, len - 1 - got)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!got && WIFSIGNALED(st))
		snprintf(msg, len, "killed by signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
	else if (!got)
		snprintf(msg, len, "exit status %d", WEXITSTATUS(st));
	return -1;
}

static int load_vmm_seccomp(husk_error_t *err)
{
	return confine_seccomp(err);
}

static void check_seccomp(struct report *r)
{
	const struct scmp_version *v = seccomp_version();
	char why[512];

	if (in_child(load_vmm_seccomp, why, sizeof(why)) < 0) {
		line(r, FAIL, "seccomp", "use a kernel built with CONFIG_SECCOMP_FILTER",
		     "the VMM's filter does not load: %s", why);
		return;
	}
	line(r, OK, "seccomp", NULL, "the VMM's filter loads, libseccomp %u.%u.%u",
	     v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0);
}

static int enter_vmm_namespaces(husk_error_t *err)
{
	static const struct oci_config none;
	return confine_namespaces(&none, err);
}

static void check_namespaces(struct report *r)
{
	char why[512];

	if (in_child(enter_vmm_namespaces, why, sizeof(why)) < 0)
		line(r, FAIL, "vmm-namespaces",
		     "run as root (CAP_SYS_ADMIN); in a container, without a seccomp profile that refuses unshare",
		     "%s", why);
	else
		line(r, OK, "vmm-namespaces", NULL,
		     "the VMM's mount, IPC and UTS namespaces can be made");
}

static void check_tun(struct report *r)
{
	struct stat st;

	if (stat("/dev/net/tun", &st) == 0 && S_ISCHR(st.st_mode))
		line(r, OK, "tun", NULL, "/dev/net/tun present (container networking)");
	else
		line(r, WARN, "tun", "modprobe tun",
		     "/dev/net/tun missing: containers get loopback only");
}

static void check_state_root(struct report *r, const struct husk_globals *g)
{
	char id[64];
	struct container *c = NULL;
	husk_error_t err cleanup_error = NULL;
	const char *fix = "run as root, or name a writable directory with --root";

	scratch_id(id, sizeof(id));
	if (container_new(g->root, id, &c, &err) < 0) {
		line(r, FAIL, "state-root", fix, "%s", err->msg);
		return;
	}
	int rm = container_remove(c, &err);
	container_free(c);
	if (rm < 0)
		line(r, FAIL, "state-root", fix, "%s", err->msg);
	else
		line(r, OK, "state-root", NULL, "%s is writable", g->root);
}

/* As lifecycle_create configures a container's VM, less its shares and
 * network (there is no bundle here). */
static void check_vm_config(struct vm_config *vc, const char *kernel, const char *initrd,
			    const char *vsock_dir)
{
	*vc = (struct vm_config){
		.kernel = kernel,
		.initrd = initrd,
		.cpus = HUSK_DEFAULT_CPUS,
		.memory_mib = HUSK_DEFAULT_MEMORY_MIB,
		.console_in = -1,
		.console_out = -1,
		.vsock_cid = VM_GUEST_CID,
		.vsock_dir = vsock_dir,
		.rng = true,
	};
}

static void bad_asset(struct report *r, const char *what, const char *path, const char *why)
{
	const char *fix =
		"rebuild it with `make guest`, or point HUSK_KERNEL / HUSK_INITRD at husk's own";

	if (strstr(why, path))
		line(r, FAIL, what, fix, "%s", why);
	else
		line(r, FAIL, what, fix, "%s: %s", path, why);
}

/* Each asset found and loaded into guest memory as the VMM loads it: a
 * file that is there but is no kernel fails here, not at create. Fills
 * PATHS[0] (kernel) and PATHS[1] (initramfs) and returns true when both
 * are good. */
static bool check_guest(struct report *r, char *paths[2])
{
	static const char *const names[] = { GUEST_KERNEL_NAME, GUEST_INITRD_NAME };
	static const char *const whats[] = { "guest-kernel", "guest-initramfs" };
	const char *fix = "build it with `make guest` in the husk tree, or install it";
	struct guest_memory mem = { 0 };
	struct boot_kernel k = { 0 };
	husk_error_t err cleanup_error = NULL;
	bool ok = true;

	for (size_t i = 0; i < 2; i++) {
		if (!(paths[i] = guest_asset_find(names[i], &err))) {
			line(r, FAIL, whats[i], fix, "%s", err->msg);
			husk_error_release(&err);
			ok = false;
		}
	}
	if (guest_mem_init(&mem, (uint64_t)HUSK_DEFAULT_MEMORY_MIB << 20, &err) < 0) {
		line(r, FAIL, "guest-kernel", NULL, "%s", err->msg);
		return false;
	}
	if (paths[0]) {
		if (boot_load_kernel(&mem, paths[0], NULL, &k, &err) < 0) {
			bad_asset(r, whats[0], paths[0], err->msg);
			husk_error_release(&err);
			ok = false;
		} else {
			line(r, OK, whats[0], NULL, "%s", paths[0]);
		}
	}
	if (paths[1]) {
		uint64_t gpa, size;
		/* Placed above the kernel when there is one, as at boot. */
		if (boot_load_initrd(&mem, paths[1], NULL, &k, &gpa, &size, &err) < 0) {
			bad_asset(r, whats[1], paths[1], err->msg);
			husk_error_release(&err);
			ok = false;
		} else {
			line(r, OK, whats[1], NULL, "%s", paths[1]);
		}
	}
	guest_mem_release(&mem);
	return ok;
}

/* The VM create would build, built and torn down without running. */
static bool check_vm(struct report *r, char *const paths[2])
{
	struct vm_config vc;
	husk_error_t err cleanup_error = NULL;

	/* Not used: the guest never runs, but the device must be made. */
	check_vm_config(&vc, paths[0], paths[1], "/nonexistent");
	if (vm_probe(&vc, &err) < 0) {
		line(r, FAIL, "kvm-vm",
		     "this KVM lacks what husk's VMM needs: use a VT-x/AMD-V host", "%s", err->msg);
		return false;
	}
	line(r, OK, "kvm-vm", NULL, "a %d-vCPU %d MiB VM with the guest kernel builds",
	     HUSK_DEFAULT_CPUS, HUSK_DEFAULT_MEMORY_MIB);
	return true;
}

/* The VMM, as create's child is: runs the VM, and says on OUT why it
 * ended, should it end before the parent has what it waits for. */
static _Noreturn void boot_child(const struct vm_config *vc, int out, pid_t parent)
{
	husk_error_t err = NULL;
	struct vm_result res;
	char msg[640];

	/* A check killed outright must not leave a VM running. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (vm_run(vc, NULL, &res, &err) < 0)
		snprintf(msg, sizeof(msg), "%s", err->msg);
	else
		snprintf(msg, sizeof(msg), "the VM stopped before the guest agent answered: %s",
			 res.message);
	(void)!write(out, msg, strlen(msg));
	_exit(1);
}

static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Boots the guest create would boot and waits, at most TIMEOUT_MS, for
 * its agent's HELLO: the first thing create's VMM hears from a guest. */
static void check_boot(struct report *r, char *const paths[2], int timeout_ms)
{
	char dir[] = "/tmp/husk-check.XXXXXX", sock[PATH_MAX];
	int listen_fd = -1, done[2] = { -1, -1 }, sfd = -1, tfd = -1, ep = -1;
	pid_t pid = -1;
	sigset_t sigs, old;
	struct timespec t0, t1;
	struct agent_session s = { .fd = -1 };
	husk_error_t err cleanup_error = NULL;
	char why[640] = "";
	bool ok = false;
	const char *fix =
		"see the lines above; `husk debug run --console` shows the guest's console";

	if (!mkdtemp(dir)) {
		line(r, FAIL, "boot", fix, "%s: %s", dir, strerror(errno));
		return;
	}
	snprintf(sock, sizeof(sock), "%s/%u", dir, HUSK_AGENT_PORT);
	/* Taken from a signalfd, so an interrupted check still cleans up. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	if ((listen_fd = agent_listen(sock, &err)) < 0)
		goto out;
	/* One descriptor for agent_session_accept to stop on: the VMM
	 * ended (its pipe closes), the bound passed, or a signal came. */
	if (pipe2(done, O_CLOEXEC) < 0 || (sfd = signalfd(-1, &sigs, SFD_CLOEXEC)) < 0 ||
	    (tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		husk_error_set(&err, errno, "set up the wait");
		goto out;
	}
	int watch[] = { done[0], sfd, tfd };
	for (size_t i = 0; i < 3; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = watch[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, watch[i], &ev) < 0) {
			husk_error_set(&err, errno, "epoll_ctl");
			goto out;
		}
	}
	struct itimerspec its = { .it_value = { timeout_ms / 1000,
						(timeout_ms % 1000) * 1000000L } };
	struct vm_config vc;
	check_vm_config(&vc, paths[0], paths[1], dir);
	pid_t parent = getpid();
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (timerfd_settime(tfd, 0, &its, NULL) < 0 || (pid = fork()) < 0) {
		husk_error_set(&err, errno, "start the VMM");
		goto out;
	}
	if (pid == 0) {
		close(done[0]);
		close(listen_fd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		boot_child(&vc, done[1], parent);
	}
	close(done[1]);
	done[1] = -1;
	if (agent_session_accept(&s, listen_fd, ep, timeout_ms, &err) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ok = true;
	} else if (readable(done[0])) {
		ssize_t n = read(done[0], why, sizeof(why) - 1);
		why[n > 0 ? n : 0] = '\0';
		if (!why[0])
			snprintf(why, sizeof(why), "the VMM died");
	} else if (readable(tfd)) {
		snprintf(why, sizeof(why), "the guest agent did not answer within %d s (%s)",
			 timeout_ms / 1000, CHECK_BOOT_TIMEOUT_ENV);
	} else if (readable(sfd)) {
		snprintf(why, sizeof(why), "interrupted by a signal");
	}
out:
	agent_session_close(&s);
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	int fds[] = { listen_fd, done[0], done[1], sfd, tfd, ep };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	unlink(sock);
	rmdir(dir);
	if (ok)
		line(r, OK, "boot", NULL, "guest booted and answered in %.2f s",
		     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		line(r, FAIL, "boot", fix, "%s", why[0] ? why : err ? err->msg : "failed");
	/* A signal that came meanwhile is delivered now, with nothing left. */
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int cmd_check(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct report r = { 0 };
	int ret = cli_parse_command(&cmd_check_cli, argc, argv, &a, err);
	int boot_ms = 0;
	char *paths[2] = { NULL, NULL };

	if (ret != 0)
		return ret < 0 ? ret : 0;
	r.quiet = cli_switch(&cmd_check_cli, &a, "quiet");
	bool boot = cli_switch(&cmd_check_cli, &a, "boot");
	/* Refused before anything runs, as the other commands refuse theirs. */
	if (boot &&
	    control_timeout(CHECK_BOOT_TIMEOUT_ENV, CHECK_BOOT_TIMEOUT_S, &boot_ms, err) < 0)
		return -1;
	bool kvm = check_kvm(&r);
	check_cgroups(&r);
	check_cgroup_create(&r, g);
	check_seccomp(&r);
	check_namespaces(&r);
	check_tun(&r);
	check_state_root(&r, g);
	bool guest = check_guest(&r, paths);
	/* Only when nothing it needs has FAILed already: a VM that cannot be
	 * built for a reason reported above would only report it twice. */
	bool vm = kvm && guest && check_vm(&r, paths);
	/* A boot needs KVM and the assets, nothing else above. */
	if (boot && vm)
		check_boot(&r, paths, boot_ms);
	else if (boot)
		line(&r, FAIL, "boot", "fix the kvm and guest FAIL lines above first", "not tried");
	free(paths[0]);
	free(paths[1]);

	printf("%d failed, %d warnings: %s\n", r.fails, r.warns,
	       r.fails ? "containers cannot run on this host" : "containers can run on this host");
	fflush(stdout);
	return r.fails ? 1 : 0;
}
