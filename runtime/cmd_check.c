/* `husk check`: the first thing to run on a new host. Each line says OK, WARN
 * or FAIL with what was found and, when not OK, a one-line fix. Exits 0 only
 * when nothing FAILs, i.e. when containers can run here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/guest_assets.h"
#include "runtime/host.h"

static const struct cli_flag check_flags[] = {
	{ "quiet", 'q', false, "print only WARN and FAIL lines" },
	{ NULL },
};

const struct cli_command cmd_check_cli = {
	.name = "check",
	.summary = "check that this host can run husk containers",
	.min_args = 0,
	.max_args = 0,
	.flags = check_flags,
};

enum verdict { OK, WARN, FAIL };

struct report {
	bool quiet;
	int fails, warns;
};

static void line(struct report *r, enum verdict v, const char *what,
		 const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void line(struct report *r, enum verdict v, const char *what,
		 const char *fix, const char *fmt, ...)
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

static void check_kvm(struct report *r)
{
	enum kvm_backend b = host_kvm_backend("/sys/module");
	const char *nested = cpu_flag("hypervisor") ? " (nested: this host is itself a VM)" : "";
	cleanup_close int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		line(r, FAIL, "kvm-device",
		     errno == ENOENT ? "load kvm_intel or kvm_amd; on a cloud VM, enable nested virtualization"
				     : "run as root or add the user to the group owning /dev/kvm",
		     "/dev/kvm: %s", strerror(errno));
	} else {
		int api = ioctl(fd, KVM_GET_API_VERSION, 0);
		line(r, api == KVM_API_VERSION ? OK : FAIL, "kvm-device",
		     "this kernel's KVM API is not the stable version 12",
		     "/dev/kvm opened, API version %d", api);
		char missing[256] = "";
		for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++)
			if (ioctl(fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0)
				snprintf(missing + strlen(missing),
					 sizeof(missing) - strlen(missing), " %s",
					 needed_caps[i].name);
		if (missing[0])
			line(r, FAIL, "kvm-extensions", "use a newer host kernel",
			     "missing:%s", missing);
		else
			line(r, OK, "kvm-extensions",
			     NULL, "irqchip, irqfd, ioeventfd, PIT and CPUID present");
	}

	switch (b) {
	case KVM_BACKEND_INTEL:
	case KVM_BACKEND_AMD:
		line(r, OK, "kvm-backend", NULL,
		     "%s: hardware-assisted, boots a stock guest%s",
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
		line(r, FAIL, "kvm-backend",
		     "modprobe kvm_intel or kvm_amd (needs VT-x/AMD-V in the CPU flags)",
		     "no KVM module loaded (CPU flags: %s)",
		     cpu_flag("vmx") ? "vmx" : cpu_flag("svm") ? "svm" : "neither vmx nor svm");
		break;
	}
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

static void check_seccomp(struct report *r)
{
	const struct scmp_version *v = seccomp_version();

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
		line(r, FAIL, "seccomp", "use a kernel built with CONFIG_SECCOMP_FILTER",
		     "not available in this kernel: %s", strerror(errno));
		return;
	}
	line(r, OK, "seccomp", NULL, "filters available, libseccomp %u.%u.%u",
	     v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0);
}

static void check_userns(struct report *r)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (status == 0)
		line(r, OK, "user-namespaces", NULL, "can be created");
	else
		line(r, WARN, "user-namespaces",
		     "raise /proc/sys/user/max_user_namespaces (needed only for user namespaces on the host)",
		     "cannot be created here");
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

static void check_guest(struct report *r)
{
	static const char *const names[] = { GUEST_KERNEL_NAME, GUEST_INITRD_NAME };

	for (size_t i = 0; i < 2; i++) {
		husk_error_t err cleanup_error = NULL;
		cleanup_free char *path = guest_asset_find(names[i], &err);
		const char *what = i ? "guest-initramfs" : "guest-kernel";

		if (path)
			line(r, OK, what, NULL, "%s", path);
		else
			line(r, FAIL, what,
			     "build it with `make guest` in the husk tree, or install it",
			     "%s", err->msg);
	}
}

int cmd_check(const struct husk_globals *g, int argc, char **argv,
	      husk_error_t *err)
{
	struct cli_args a;
	struct report r = { 0 };
	int ret = cli_parse_command(&cmd_check_cli, argc, argv, &a, err);

	(void)g;
	if (ret != 0)
		return ret < 0 ? ret : 0;
	r.quiet = cli_switch(&cmd_check_cli, &a, "quiet");
	check_kvm(&r);
	check_cgroups(&r);
	check_seccomp(&r);
	check_userns(&r);
	check_tun(&r);
	check_guest(&r);
	line(&r, FAIL, "containers",
	     "none yet: this is a development build (see README, Status)",
	     "this build cannot create containers yet (the VM lifecycle is not built)");

	printf("%d failed, %d warnings: %s\n", r.fails, r.warns,
	       r.fails ? "containers cannot run on this host" : "containers can run on this host");
	fflush(stdout);
	return r.fails ? 1 : 0;
}
