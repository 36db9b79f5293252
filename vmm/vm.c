/* The VM: see vm.h, and vm_internal.h for what vmm/ shares of it. */
#include "vmm/vm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "proto/guest_ports.h"
#include "vmm/kvm.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "vmm/vcpu.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/fuse_server.h"
#include "vmm/virtio/mmio.h"

/* KVM needs three pages of guest-physical space for the (Intel) real-mode
 * TSS and one for the EPT identity map; put them just below the BIOS area,
 * inside the MMIO hole where no RAM is. */
#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

static uint64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (uint64_t)(b->tv_sec - a->tv_sec) * 1000000000ULL + b->tv_nsec - a->tv_nsec;
}

uint64_t vm_elapsed_ns(const struct vm *vm)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ns_between(&vm->t0, &now);
}

bool vm_vcpu_may_run(struct vm *vm, int id)
{
	pthread_mutex_lock(&vm->lock);
	bool run = vm->outcome == VM_OUTCOME_RUNNING;
	if (id == 0 && !vm->setup_ns)
		vm->setup_ns = vm_elapsed_ns(vm);
	pthread_mutex_unlock(&vm->lock);
	return run;
}

void vm_request_stop(struct vm *vm, enum vm_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->outcome == VM_OUTCOME_RUNNING) {
		vm->outcome = outcome;
		va_start(ap, fmt);
		vsnprintf(vm->message, sizeof(vm->message), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->lock);
	event_loop_stop(&vm->loop);
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

/* The guest reset the machine (i8042 pulse or triple fault): a power-off
 * if husk's guest side reported a status first, a panic if the console
 * shows one, a reboot otherwise. */
static void guest_reset(struct vm *vm, const char *how)
{
	char panic[256];

	pthread_mutex_lock(&vm->lock);
	uint32_t status = vm->guest_status;
	pthread_mutex_unlock(&vm->lock);
	if (status & HUSK_EXIT_VALID)
		vm_request_stop(vm, VM_OUTCOME_POWEROFF, "guest powered off");
	else if (console_log_find_panic(&vm->console, panic, sizeof(panic)))
		vm_request_stop(vm, VM_OUTCOME_PANIC, "guest kernel panic: %s", panic);
	else
		vm_request_stop(vm, VM_OUTCOME_REBOOT, "guest rebooted (%s)", how);
}

/* Port 0x64, the i8042 keyboard controller: just enough for reboot=k. */
static void i8042_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off, (void)len;
	if (!is_write) {
		data[0] = 0; /* buffers empty: the kernel may write a command */
		return;
	}
	if (data[0] == 0xfe) /* pulse the reset line */
		guest_reset(dev, "i8042 reset");
}

static void husk_ports_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = dev;
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	if (off == HUSK_PORT_BOOT_TIMER - HUSK_PORT_BOOT_TIMER && v == HUSK_BOOT_MAGIC) {
		pthread_mutex_lock(&vm->lock);
		bool first = !vm->boot_ns;
		if (first)
			vm->boot_ns = vm_elapsed_ns(vm);
		uint64_t ns = vm->boot_ns;
		pthread_mutex_unlock(&vm->lock);
		if (first)
			log_debug("boot-timer: guest init started %.1f ms after VMM start",
				  ns / 1e6);
	} else if (off == HUSK_PORT_EXIT - HUSK_PORT_BOOT_TIMER && (v & HUSK_EXIT_VALID)) {
		pthread_mutex_lock(&vm->lock);
		vm->guest_status = v;
		pthread_mutex_unlock(&vm->lock);
	}
}

static void on_signal(struct event_source *src, uint32_t events)
{
	struct vm *vm = src->ctx;
	struct signalfd_siginfo si;

	(void)events;
	if (read(src->fd, &si, sizeof(si)) != sizeof(si))
		return;
	pthread_mutex_lock(&vm->lock);
	bool running = vm->outcome == VM_OUTCOME_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	if (running) {
		pthread_mutex_lock(&vm->lock);
		vm->host_signal = (int)si.ssi_signo;
		pthread_mutex_unlock(&vm->lock);
		vm_request_stop(vm, VM_OUTCOME_SIGNAL, "stopped by host signal %s",
				sigabbrev_np((int)si.ssi_signo));
	}
}

/* The runtime asked the VM to end (its fd is the runtime's; not closed here). */
static void on_stop_fd(struct event_source *src, uint32_t events)
{
	(void)events;
	vm_request_stop(src->ctx, VM_OUTCOME_SIGNAL, "stopped by the runtime");
}

/* Host signals that end the VM; they are read through a signalfd on the
 * event loop, so every thread blocks them. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
}

/* Makes DEV's shared memory region guest memory, above RAM and above 4 GiB
 * on a 1 GiB boundary (Linux hot-adds it as device memory, in sections),
 * where the guest's e820 map has nothing. */
static int add_shm_region(struct vm *vm, struct virtio_mmio_dev *dev, husk_error_t *err)
{
	const uint64_t align = 1ULL << 30;
	const struct guest_region *top = &vm->mem.regions[vm->mem.nregions - 1];

	if (vm->shm_next_gpa == 0) {
		uint64_t end = top->gpa + top->size;
		vm->shm_next_gpa = end > GUEST_MMIO_HOLE_END ? end : GUEST_MMIO_HOLE_END;
	}
	uint64_t gpa = (vm->shm_next_gpa + align - 1) & ~(align - 1);
	struct kvm_userspace_memory_region r = {
		.slot = (uint32_t)vm->mem.nregions + vm->nshm,
		.guest_phys_addr = gpa,
		.memory_size = dev->shm_size,
		.userspace_addr = (uint64_t)(uintptr_t)dev->shm_host,
	};
	if (KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return husk_error_set(err, errno, "shared memory region of %llu MiB at 0x%llx",
				      (unsigned long long)(dev->shm_size >> 20),
				      (unsigned long long)gpa);
	dev->shm_gpa = gpa;
	vm->shm_next_gpa = gpa + dev->shm_size;
	vm->nshm++;
	return 0;
}

int vm_add_virtio(struct vm *vm, struct virtio_mmio_dev *dev, husk_error_t *err)
{
	if (vm->nvirtio == VM_MAX_VIRTIO)
		return husk_error_set(err, 0, "too many virtio devices");
	uint64_t base = VIRTIO_MMIO_BASE + vm->nvirtio * VIRTIO_MMIO_SIZE;
	uint32_t irq = VIRTIO_IRQ_FIRST + vm->nvirtio;
	/* Owned by the VM from here, so teardown releases it even if the
	 * wiring below fails half-way. */
	vm->virtio[vm->nvirtio++] = dev;
	if (dev->shm_size && add_shm_region(vm, dev, err) < 0)
		return husk_error_wrap(err, "virtio-%s", dev->ops->name);
	if (virtio_mmio_attach(dev, vm->vm_fd, base, irq, &vm->mem, &vm->loop, err) < 0 ||
	    io_bus_add(&vm->mmio, base, VIRTIO_MMIO_SIZE, virtio_mmio_io, dev, err) < 0)
		return husk_error_wrap(err, "virtio-%s", dev->ops->name);
	return 0;
}

static int build_cmdline(const struct vm *vm, char *out, size_t size, husk_error_t *err)
{
	const struct vm_config *cfg = vm->cfg;
	size_t n = 0;

	/* reboot=k: the kernel resets through the i8042, which ends the VM;
	 * panic=-1: a panic resets at once rather than hanging. Without
	 * --serial the 8250 driver is told there are no UARTs, so it does not
	 * probe ports nobody answers. */
	n += snprintf(out + n, size - n, "reboot=k panic=-1 %s",
		      cfg->serial ? "console=ttyS0" : "console=hvc0 8250.nr_uarts=0 quiet");
	for (int i = 0; i < vm->nvirtio && n < size; i++)
		n += snprintf(out + n, size - n, " virtio_mmio.device=4K@0x%llx:%u",
			      (unsigned long long)vm->virtio[i]->base, vm->virtio[i]->irq);
	if (cfg->cmdline && *cfg->cmdline && n < size)
		n += snprintf(out + n, size - n, " %s", cfg->cmdline);
	if (n >= size)
		return husk_error_set(err, 0, "kernel command line longer than %zu bytes",
				      size - 1);
	return 0;
}

static int create_vm(struct vm *vm, husk_error_t *err)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return husk_error_set(err, errno, "open /dev/kvm");
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return husk_error_set(err, 0, "/dev/kvm: unsupported KVM API version");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return husk_error_set(err, errno, "KVM_CREATE_VM");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return husk_error_set(err, errno, "KVM_SET_TSS_ADDR");
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (KVM_IOCTL(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return husk_error_set(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
	/* LAPICs, IO-APIC and PIC in the kernel: interrupts never need a
	 * round trip through the VMM. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return husk_error_set(err, errno, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (KVM_IOCTL(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return husk_error_set(err, errno, "KVM_CREATE_PIT2");

	if (guest_mem_init(&vm->mem, vm->cfg->memory_mib << 20, err) < 0)
		return -1;
	for (int i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = vm->mem.regions[i].gpa,
			.memory_size = vm->mem.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.regions[i].host,
		};
		if (KVM_IOCTL(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return husk_error_set(err, errno, "KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd, husk_error_t *err)
{
	for (uint32_t n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c) {
			husk_error_set(err, ENOMEM, "CPUID table");
			return NULL;
		}
		c->nent = n;
		if (KVM_IOCTL(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		int e = errno;
		free(c);
		if (e != E2BIG) {
			husk_error_set(err, e, "KVM_GET_SUPPORTED_CPUID");
			return NULL;
		}
	}
	husk_error_set(err, E2BIG, "KVM_GET_SUPPORTED_CPUID");
	return NULL;
}

static int add_devices(struct vm *vm, husk_error_t *err)
{
	const struct vm_config *cfg = vm->cfg;

	if (io_bus_add(&vm->pio, 0x64, 1, i8042_io, vm, err) < 0 ||
	    io_bus_add(&vm->pio, HUSK_PORT_BOOT_TIMER, HUSK_PORT_EXIT + 4 - HUSK_PORT_BOOT_TIMER,
		       husk_ports_io, vm, err) < 0)
		return -1;
	if (cfg->serial) {
		serial_init(&vm->serial, vm->vm_fd, &vm->console, &vm->loop, cfg->console_in);
		if (io_bus_add(&vm->pio, SERIAL_COM1_BASE, 8, serial_io, &vm->serial, err) < 0)
			return -1;
		if (cfg->console_in >= 0 &&
		    event_loop_add(&vm->loop, &vm->serial.input, EPOLLIN, err) < 0) {
			/* EPERM: a regular file or /dev/null, which epoll
			 * cannot watch; such input is not interactive, so the
			 * console simply has none. */
			if ((*err)->errnum != EPERM)
				return -1;
			husk_error_release(err);
		}
	} else {
		struct virtio_mmio_dev *con =
			virtio_console_new(&vm->console, cfg->console_in, err);
		if (!con || vm_add_virtio(vm, con, err) < 0)
			return -1;
	}
	if (cfg->rng) {
		struct virtio_mmio_dev *rng = virtio_rng_new(err);
		if (!rng || vm_add_virtio(vm, rng, err) < 0)
			return -1;
	}
	if (cfg->disk) {
		struct virtio_mmio_dev *blk = virtio_blk_new(cfg->disk, cfg->disk_readonly, err);
		if (!blk || vm_add_virtio(vm, blk, err) < 0)
			return -1;
	}
	if (cfg->vsock_cid) {
		struct virtio_mmio_dev *vs = virtio_vsock_new_limited(
			cfg->vsock_cid, cfg->vsock_dir, vm->fds.vsock_conns, err);
		if (!vs || vm_add_virtio(vm, vs, err) < 0)
			return -1;
	}
	for (int i = 0; i < cfg->nnics && i < VM_MAX_NICS; i++) {
		const struct vm_nic *nic = &cfg->nics[i];
		struct virtio_net_opts o = { .tap_fd = nic->tap_fd,
					     .mtu = nic->mtu,
					     .offload = !nic->no_offload };
		memcpy(o.mac, nic->mac, sizeof(o.mac));
		struct virtio_mmio_dev *net = virtio_net_new(&o, err);
		if (!net || vm_add_virtio(vm, net, err) < 0)
			return -1;
	}
	for (int i = 0; i < cfg->nshares && i < VM_MAX_SHARES; i++) {
		const struct vm_share *sh = &cfg->shares[i];
		struct fuse_share_opts opts = { .dir = sh->dir,
						.readonly = sh->readonly,
						.cache_always = sh->cache_always,
						.allow_setid = sh->allow_setid,
						.sealed = sh->sealed,
						.dax_window_size = sh->dax_mib << 20,
						.fd_pool = &vm->share_fds };
		struct virtio_mmio_dev *fs =
			virtio_fs_new_share(sh->tag, &opts, cfg->confine_thread, err);
		if (!fs || vm_add_virtio(vm, fs, err) < 0)
			return -1;
	}
	return 0;
}

/* START false: everything but the vCPUs' first run (and before_run, which
 * confines for running), for vm_probe(). */
static int setup(struct vm *vm, bool start, husk_error_t *err)
{
	const struct vm_config *cfg = vm->cfg;
	struct boot_kernel k;
	uint64_t initrd_gpa = 0, initrd_size = 0;
	char cmdline[BOOT_CMDLINE_MAX];
	sigset_t sigs;

	if (cfg->cpus < 1 || cfg->cpus > MAX_VCPUS)
		return husk_error_set(err, 0, "--cpus %d: must be 1 to %d", cfg->cpus, MAX_VCPUS);
	vm->ncpus = cfg->cpus;
	/* Planned before the VM opens anything, from the limit the process
	 * raised while it could. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return husk_error_set(err, errno, "RLIMIT_NOFILE");
	if (fd_budget_plan(cfg, rl.rlim_cur, fd_budget_count_open(), &vm->fds, err) < 0)
		return -1;
	vm->share_fds.limit = vm->fds.share_fds;
	log_debug("descriptors: limit %llu, VMM reserve %u, vsock %u, shares %u",
		  (unsigned long long)vm->fds.nofile, vm->fds.reserve, vm->fds.vsock_conns,
		  vm->fds.share_fds);
	if (event_loop_init(&vm->loop, err) < 0 || create_vm(vm, err) < 0)
		return -1;
	if (boot_load_kernel(&vm->mem, cfg->kernel, cfg->kernel_name, &k, err) < 0)
		return -1;
	if (cfg->initrd && boot_load_initrd(&vm->mem, cfg->initrd, cfg->initrd_name, &k,
					    &initrd_gpa, &initrd_size, err) < 0)
		return -1;
	if (add_devices(vm, err) < 0 || build_cmdline(vm, cmdline, sizeof(cmdline), err) < 0)
		return -1;
	log_debug("kernel command line: %s", cmdline);
	if (boot_write_zero_page(&vm->mem, &k, cmdline, initrd_gpa, initrd_size, err) < 0 ||
	    boot_write_mptable(&vm->mem, vm->ncpus, err) < 0 ||
	    boot_write_page_tables(&vm->mem, err) < 0)
		return -1;

	if (cfg->caller_signals) {
		vm->signals = (struct event_source){ on_stop_fd, vm, cfg->stop_fd };
	} else {
		stop_signals(&sigs);
		vm->signals =
			(struct event_source){ on_signal, vm,
					       signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK) };
		if (vm->signals.fd < 0)
			return husk_error_set(err, errno, "signalfd");
	}
	if (event_loop_add(&vm->loop, &vm->signals, EPOLLIN, err) < 0)
		return -1;

	cleanup_free struct kvm_cpuid2 *cpuid = supported_cpuid(vm->kvm_fd, err);
	if (!cpuid)
		return -1;
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_init(vm, &vm->vcpus[i], i, cpuid, &k, err) < 0)
			return -1;
	if (!start)
		return 0;
	if (cfg->before_run && cfg->before_run(cfg->before_run_arg, err) < 0)
		return -1;
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_start(&vm->vcpus[i], err) < 0)
			return -1;
	return 0;
}

static void teardown(struct vm *vm)
{
	/* Sets an outcome if none is (a failed set-up) and kicks every vCPU,
	 * so each thread sees it must end and the joins below return. */
	vm_request_stop(vm, VM_OUTCOME_ERROR, "VMM set-up failed");
	for (int i = 0; i < vm->ncpus; i++)
		vcpu_release(&vm->vcpus[i]);
	for (int i = 0; i < vm->nvirtio; i++) {
		virtio_mmio_release(vm->virtio[i]);
		free(vm->virtio[i]);
	}
	if (vm->signals.fd >= 0 && !vm->cfg->caller_signals)
		close(vm->signals.fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	guest_mem_release(&vm->mem);
	event_loop_release(&vm->loop);
	pthread_mutex_destroy(&vm->lock);
}

/* The VMM's own resident memory: total RSS minus the guest RAM mapping's
 * (Firecracker's measure of VMM overhead). */
static uint64_t rss_overhead_kb(const struct vm *vm)
{
	cleanup_file FILE *f = fopen("/proc/self/smaps", "re");
	char line[256];
	uint64_t total = 0, guest = 0, kb;
	bool in_guest = false;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		/* A mapping's header is "start-end perms ..."; its fields are
		 * "Name: value" (and some names begin with hex letters). */
		/* The kernel and initramfs are mapped over parts of guest
		 * RAM, so it may be several mappings: all inside its range. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_guest = start >= (uintptr_t)vm->mem.base &&
				   end <= (uintptr_t)vm->mem.base + vm->mem.ram_size;
		else if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1) {
			total += kb;
			if (in_guest)
				guest += kb;
		}
	}
	return total - guest;
}

static void vm_init(struct vm *vm, const struct vm_config *cfg, const struct timespec *t0)
{
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->signals.fd = -1;
	vm->loop.epfd = vm->loop.stop_fd = -1;
	/* teardown releases every vCPU up to ncpus, also those a failed
	 * set-up never made: their fd must not be 0 (stdin). */
	for (int i = 0; i < MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	console_log_init(&vm->console, cfg->console_out);
	if (t0)
		vm->t0 = *t0;
	else
		clock_gettime(CLOCK_MONOTONIC, &vm->t0);
}

int vm_probe(const struct vm_config *cfg, husk_error_t *err)
{
	cleanup_free struct vm *vm = calloc(1, sizeof(*vm));
	sigset_t sigs, old;

	if (!vm)
		return husk_error_set(err, ENOMEM, "VM state");
	vm_init(vm, cfg, NULL);
	/* As vm_run blocks them: setup's signalfd expects it. */
	stop_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	int ret = setup(vm, false, err);
	teardown(vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int vm_run(const struct vm_config *cfg, const struct timespec *t0, struct vm_result *res,
	   husk_error_t *err)
{
	cleanup_free struct vm *vm = calloc(1, sizeof(*vm));
	sigset_t sigs, old;
	int ret = 0;

	*res = (struct vm_result){ 0 };
	if (!vm)
		return husk_error_set(err, ENOMEM, "VM state");
	vm_init(vm, cfg, t0);

	/* Blocked before any thread exists, so every vCPU thread inherits
	 * the mask and the signalfd alone receives these signals. */
	if (cfg->caller_signals)
		sigemptyset(&sigs);
	else
		stop_signals(&sigs);
	sigaddset(&sigs, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	if (setup(vm, true, err) < 0) {
		ret = -1;
	} else if (event_loop_run(&vm->loop, err) < 0) {
		vm_request_stop(vm, VM_OUTCOME_ERROR, "%s", (*err)->msg);
		husk_error_release(err);
	}
	if (ret == 0)
		res->rss_overhead_kb = rss_overhead_kb(vm);
	/* Every thread is joined before the outcome is read. */
	teardown(vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		return ret;

	res->outcome = vm->outcome;
	snprintf(res->message, sizeof(res->message), "%s", vm->message);
	res->setup_ns = vm->setup_ns;
	res->boot_ns = vm->boot_ns;
	if (vm->outcome == VM_OUTCOME_POWEROFF) {
		res->exit_code = vm->guest_status & 0xff;
		res->exit_signal = (vm->guest_status >> 8) & 0xff;
	} else if (vm->outcome == VM_OUTCOME_SIGNAL) {
		res->exit_signal = vm->host_signal;
	}
	return 0;
}
