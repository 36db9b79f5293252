/* One micro-VM: KVM VM and vCPU threads, guest memory, devices and the
 * event loop that serves them. vm_run() builds it, runs it until the guest
 * stops (or a host signal or fatal error stops it), tears it down and says
 * why it stopped. This is what its callers see: the configuration, the run
 * and the result; the running VM's insides are vm_internal.h's. */
#ifndef HUSK_VMM_VM_H
#define HUSK_VMM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/error.h"
#include "vmm/thread_class.h"
#include "vmm/x86_boot.h" /* MAX_VCPUS, the most cpus a VM takes */

#define VM_MAX_SHARES 8
#define VM_MAX_NICS 4

/* A network card: virtio-net over a tap the caller opened (and closes
 * after vm_run). */
struct vm_nic {
	int tap_fd;
	uint8_t mac[6];
	uint16_t mtu;	 /* 0: the guest's default (1500) */
	bool no_offload; /* no checksum/TSO offloads (for measuring them) */
};

/* A host directory the guest mounts with `mount -t virtiofs TAG DIR`. */
struct vm_share {
	const char *tag; /* 1 to 36 bytes */
	const char *dir;
	bool readonly;
	bool cache_always; /* only the guest changes DIR: cache it for long */
	bool allow_setid;  /* the guest may make set-ID files (fuse_server.h) */
	uint64_t dax_mib;  /* DAX window (mount -o dax in the guest); 0: none */
	/* Read-only once *sealed is true (any thread may store it); NULL: never. */
	const atomic_bool *sealed;
};

/* The guest's vsock CID for every VM husk runs: each VM has a vsock of its
 * own (no host-wide CID space), so all can use the first non-reserved one. */
#define VM_GUEST_CID 3

struct vm_config {
	const char *kernel;
	const char *initrd;
	/* What errors call them, when the paths above are not the user's
	 * (the VMM's jail); NULL: the paths. */
	const char *kernel_name, *initrd_name;
	const char *cmdline; /* appended to husk's own; may be NULL */
	int cpus;
	uint64_t memory_mib;
	const char *disk; /* virtio-blk backing file, or NULL */
	bool disk_readonly;
	bool serial;	 /* 8250 console on COM1 instead of virtio console */
	int console_in;	 /* host fd feeding the guest console, -1: none */
	int console_out; /* host fd receiving it, -1: the ring only */
	/* vsock: guest connections to port P are relayed to the unix socket
	 * "<vsock_dir>/P", when vsock_dir is set. */
	uint32_t vsock_cid;
	const char *vsock_dir;
	bool rng;
	/* virtio-fs: one device per share, mounted in the guest by its tag. */
	struct vm_share shares[VM_MAX_SHARES];
	int nshares;
	/* virtio-net: one device per NIC, in this order. */
	struct vm_nic nics[VM_MAX_NICS];
	int nnics;
	/* Descriptors the caller opens while the VM runs (its control
	 * clients, its agent connection): kept out of the guest's reach
	 * along with the VMM's own (fd_budget.h). */
	unsigned extra_fds;
	/* The runtime owns host signals (it forwards them to the guest's
	 * process): vm_run() then leaves them alone, and ends the VM with
	 * VM_OUTCOME_SIGNAL when STOP_FD becomes readable instead. */
	bool caller_signals;
	int stop_fd;
	/* Called once the VM is built, before any vCPU runs: confinement
	 * that must follow set-up (seccomp, capabilities). NULL: none. */
	int (*before_run)(void *arg, husk_error_t *err);
	void *before_run_arg;
	/* Called by each vCPU thread and virtio-fs worker on itself, after
	 * before_run and before its first guest work (thread_class.h). NULL:
	 * every thread keeps the process's confinement only. */
	vmm_thread_confine_fn confine_thread;
};

enum vm_outcome {
	VM_OUTCOME_RUNNING = 0,
	VM_OUTCOME_POWEROFF, /* the guest reported a status and reset */
	VM_OUTCOME_REBOOT,   /* reset or triple fault without a status */
	VM_OUTCOME_PANIC,    /* reset after a "Kernel panic" on the console */
	VM_OUTCOME_SIGNAL,   /* a host signal stopped the VMM */
	VM_OUTCOME_ERROR,    /* the VMM failed */
};

struct vm_result {
	enum vm_outcome outcome;
	int exit_code;	 /* POWEROFF: the guest's code */
	int exit_signal; /* POWEROFF: the guest's terminating signal, or 0; SIGNAL: the host's */
	char message[512];
	uint64_t setup_ns;	  /* VMM start to the first KVM_RUN */
	uint64_t boot_ns;	  /* VMM start to the boot-timer write, 0 if none */
	uint64_t rss_overhead_kb; /* VMM RSS at the end, guest RAM excluded */
};

/* Runs the VM to its end. T0 is when the VMM process started (for the boot
 * timer), or NULL for now. Returns -1 only when the VM could not be built;
 * every way a built VM ends is reported in *res. */
int vm_run(const struct vm_config *cfg, const struct timespec *t0, struct vm_result *res,
	   husk_error_t *err);

/* Builds the VM vm_run() would (KVM VM, memory, kernel and initramfs,
 * devices, vCPUs) and tears it down without running a vCPU: whether this
 * host's KVM and these assets can make it (`husk check`). */
int vm_probe(const struct vm_config *cfg, husk_error_t *err);

#endif
