/* `husk debug boot`: boots a raw micro-VM with the console on stdio, for
 * developers, tests and benchmarks. The exit status is the guest's when it
 * reports one (husk's guest side writes it before it powers off), 128+N
 * when host signal N stopped the VM, 0 for a guest reboot, and 1 with the
 * panic line for a guest kernel panic. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/cli.h"
#include "runtime/commands.h"
#include "runtime/debug_run.h"
#include "runtime/exit_status.h"
#include "runtime/guest_assets.h"
#include "runtime/share_spec.h"
#include "vmm/fd_budget.h"
#include "vmm/vm.h"

static const struct cli_flag boot_flags[] = {
	{ "kernel", 0, true, "guest kernel, vmlinux or bzImage (default: husk's guest kernel)" },
	{ "initrd", 0, true, "initramfs (default: husk's guest initramfs)" },
	{ "cmdline", 0, true, "appended to the kernel command line" },
	{ "cpus", 0, true, "number of vCPUs (default 1)" },
	{ "memory", 0, true, "guest RAM in MiB (default 256)" },
	{ "disk", 0, true, "raw disk image for a virtio-blk device" },
	{ "disk-readonly", 0, false, "attach --disk read-only" },
	{ "serial", 0, false, "kernel console on an 8250 UART (one VM exit per byte: slow)" },
	{ "vsock-cid", 0, true,
	  "add a vsock device with this guest CID (default 3 with --vsock-dir)" },
	{ "vsock-dir", 0, true,
	  "guest vsock connections to host port P go to the unix socket DIR/P" },
	{ "share", 0, true,
	  "virtio-fs share TAG=DIR[:ro][:cache=always][:dax[=MIB]][:setid], up to 8 (repeat the flag)" },
	{ "timing", 0, false, "print set-up time, boot time and VMM memory on stderr" },
	{ "repeat", 0, true, "boot N times in this process and fail if fds or threads leaked" },
	{ NULL },
};

static const struct cli_command boot_cli = {
	.name = "debug boot",
	.summary = "boot a raw micro-VM with its console on stdio",
	.min_args = 0,
	.max_args = 0,
	.flags = boot_flags,
};

const struct cli_command cmd_debug_cli = {
	.name = "debug",
	.summary = "developer tools: `husk debug boot|run --help`",
	.args = " boot|run [options]",
	.min_args = 1,
	.max_args = -1,
};

static int parse_uint(const char *s, unsigned long min, unsigned long max, const char *flag,
		      unsigned long *out, husk_error_t *err)
{
	if (!cli_parse_ulong(s, min, max, out))
		return husk_error_set(err, 0, "--%s %s: want a whole number from %lu to %lu", flag,
				      s ? s : "", min, max);
	return 0;
}

/* Entries in DIR (/proc/self/fd or /proc/self/task), less . and .. */
static int count_entries(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	int n = 0;

	while (d && readdir(d))
		n++;
	return n - 2 - (strcmp(dir, "/proc/self/fd") == 0); /* opendir's own fd */
}

static int debug_boot(int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct timespec t0;
	unsigned long cpus = 1, mem = 256, cid = VM_GUEST_CID, repeat = 1;
	struct vm_result res;

	/* The boot timer counts from here, the closest to process start. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = cli_parse_command(&boot_cli, argc, argv, &a, err);
	if (r != 0)
		return r < 0 ? r : 0;
#define V(name) cli_value(&boot_cli, &a, name)
	if ((V("cpus") && parse_uint(V("cpus"), 1, MAX_VCPUS, "cpus", &cpus, err) < 0) ||
	    (V("memory") && parse_uint(V("memory"), 32, 1 << 20, "memory", &mem, err) < 0) ||
	    (V("vsock-cid") &&
	     parse_uint(V("vsock-cid"), 3, 0xfffffffeUL, "vsock-cid", &cid, err) < 0) ||
	    (V("repeat") && parse_uint(V("repeat"), 1, 10000, "repeat", &repeat, err) < 0))
		return -1;
	cleanup_free char *kernel = V("kernel") ? strdup(V("kernel"))
						: guest_asset_find(GUEST_KERNEL_NAME, err);
	if (!kernel)
		return -1;
	cleanup_free char *initrd = V("initrd") ? strdup(V("initrd"))
						: guest_asset_find(GUEST_INITRD_NAME, err);
	if (!initrd)
		return -1;

	struct vm_config cfg = {
		.kernel = kernel,
		.initrd = initrd,
		.cmdline = V("cmdline"),
		.cpus = (int)cpus,
		.memory_mib = mem,
		.disk = V("disk"),
		.disk_readonly = cli_switch(&boot_cli, &a, "disk-readonly"),
		.serial = cli_switch(&boot_cli, &a, "serial"),
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		/* A vsock device only when asked for: it is one more device
		 * for the guest to probe at boot. */
		.vsock_cid = V("vsock-dir") || V("vsock-cid") ? (uint32_t)cid : 0,
		.vsock_dir = V("vsock-dir"),
		.rng = true,
	};
#undef V
	const char *shares[VM_MAX_SHARES + 1];
	char share_buf[VM_MAX_SHARES][4096];
	int nshares = cli_values(&boot_cli, &a, "share", shares, VM_MAX_SHARES + 1);
	if (nshares > VM_MAX_SHARES)
		return husk_error_set(err, 0, "--share: at most %d shares", VM_MAX_SHARES);
	for (int i = 0; i < nshares; i++)
		if (share_spec_parse(shares[i], share_buf[i], sizeof(share_buf[i]),
				     &cfg.shares[cfg.nshares++], err) < 0)
			return -1;
	fd_budget_raise_nofile(); /* for the shares, as the container process does */
	int fds = count_entries("/proc/self/fd"), threads = count_entries("/proc/self/task");
	for (unsigned long i = 0; i < repeat; i++) {
		if (i)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		if (vm_run(&cfg, &t0, &res, err) < 0)
			return husk_error_wrap(err, "boot %lu", i + 1);
		if (cli_switch(&boot_cli, &a, "timing"))
			fprintf(stderr,
				"husk-timing setup_us=%llu boot_us=%llu rss_overhead_kb=%llu\n",
				(unsigned long long)res.setup_ns / 1000,
				(unsigned long long)res.boot_ns / 1000,
				(unsigned long long)res.rss_overhead_kb);
	}
	if (repeat > 1) {
		int fds_after = count_entries("/proc/self/fd");
		int threads_after = count_entries("/proc/self/task");
		fprintf(stderr, "husk-leak-check boots=%lu fds=%d->%d threads=%d->%d\n", repeat,
			fds, fds_after, threads, threads_after);
		if (fds_after != fds || threads_after != threads)
			return husk_error_set(err, 0,
					      "leak after %lu boots: fds %d->%d, threads %d->%d",
					      repeat, fds, fds_after, threads, threads_after);
	}

	switch (res.outcome) {
	case VM_OUTCOME_POWEROFF:
		return exit_status_code(
			exit_status_from_guest((uint32_t)res.exit_code, (uint32_t)res.exit_signal));
	case VM_OUTCOME_REBOOT: fprintf(stderr, "husk: %s\n", res.message); return 0;
	case VM_OUTCOME_SIGNAL:
		fprintf(stderr, "husk: %s\n", res.message);
		return 128 + res.exit_signal;
	case VM_OUTCOME_PANIC:
	case VM_OUTCOME_ERROR:
	case VM_OUTCOME_RUNNING: break;
	}
	return husk_error_set(err, 0, "%s", res.message);
}

int cmd_debug(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	(void)g;
	if (argc >= 2 && strcmp(argv[1], "boot") == 0)
		return debug_boot(argc - 1, argv + 1, err);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return debug_run(argc - 1, argv + 1, err);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_print_help(&cmd_debug_cli, "husk", stdout);
		return 0;
	}
	return husk_error_set(err, 0,
			      "husk debug: unknown tool '%s' (try 'husk debug boot --help')",
			      argc >= 2 ? argv[1] : "");
}
