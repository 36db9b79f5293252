#include "vmm/vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/kvm.h"
#include "base/cleanup.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define CR0_PE 0x1ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

static void patch_cpuid(struct kvm_cpuid2 *c, int id, int ncpus, bool tsc_deadline)
{
	int shift = 0;

	while ((1 << shift) < ncpus)
		shift++;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* Initial APIC id, logical CPU count, "running under a
			 * hypervisor" so the guest looks for KVM's leaves. */
			e->ebx = (e->ebx & 0xffff) | ((uint32_t)id << 24) | ((uint32_t)ncpus << 16);
			e->ecx |= 1u << 31;
			/* KVM emulates the TSC-deadline timer in its LAPIC but
			 * leaves the bit out of the supported list (it is a
			 * capability of its own). Without it the guest
			 * calibrates the LAPIC timer against the PIT: ~0.7 s
			 * of a 2.5 s boot, measured in the box. */
			if (tsc_deadline)
				e->ecx |= 1u << 24;
			if (ncpus > 1)
				e->edx |= 1u << 28;
			break;
		case 4: e->eax = (e->eax & 0x03ffffffu) | ((uint32_t)(ncpus - 1) << 26); break;
		case 0xb:
		case 0x1f:
			/* One thread per core, NCPUS cores in one package. */
			e->edx = (uint32_t)id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8;
			} else if (e->index == 1) {
				e->eax = (uint32_t)shift;
				e->ebx = (uint32_t)ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008: e->ecx = (e->ecx & ~0xf0ffu) | (uint32_t)(ncpus - 1); break;
		default: break;
		}
	}
}

static int set_msrs(struct vcpu *v, husk_error_t *err)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },	      /* fast string operations */
		{ MSR_MTRR_DEF_TYPE, (1 << 11) | 6 }, /* MTRRs on, write-back */
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[N];
	} m = { .hdr.nmsrs = N };

	for (int i = 0; i < N; i++) {
		m.e[i].index = boot_msrs[i].index;
		m.e[i].data = boot_msrs[i].data;
	}
	int r = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (r != N)
		return husk_error_set(err, r < 0 ? errno : 0, "vCPU %d: KVM_SET_MSRS set %d of %d",
				      v->id, r, N);
	return 0;
}

static struct kvm_segment segment(int slot)
{
	uint64_t d = boot_gdt_entry(slot);
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = (uint16_t)(slot * 8),
		.type = (d >> 40) & 0xf,
		.present = (d >> 47) & 1,
		.dpl = (d >> 45) & 3,
		.db = (d >> 54) & 1,
		.s = (d >> 44) & 1,
		.l = (d >> 53) & 1,
		.g = (d >> 55) & 1,
	};
}

static int set_boot_state(struct vcpu *v, const struct boot_kernel *k, husk_error_t *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (KVM_IOCTL(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return husk_error_set(err, errno, "KVM_GET_SREGS");
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = BOOT_IDT_ADDR;
	sregs.idt.limit = 7;
	sregs.cs = segment(BOOT_GDT_CODE64);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(BOOT_GDT_DATA);
	sregs.tr = segment(BOOT_GDT_TSS);
	sregs.cr3 = BOOT_PML4;
	sregs.cr4 |= CR4_PAE;
	sregs.cr0 |= CR0_PE | CR0_PG;
	sregs.efer |= EFER_LME | EFER_LMA;
	if (KVM_IOCTL(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return husk_error_set(err, errno, "KVM_SET_SREGS");

	regs.rflags = 2; /* bit 1 is reserved and always set */
	regs.rip = k->entry;
	regs.rsp = regs.rbp = BOOT_STACK_TOP;
	regs.rsi = BOOT_ZERO_PAGE; /* the 64-bit boot protocol's boot_params */
	if (KVM_IOCTL(v->fd, KVM_SET_REGS, &regs) < 0)
		return husk_error_set(err, errno, "KVM_SET_REGS");
	if (KVM_IOCTL(v->fd, KVM_SET_FPU, &fpu) < 0)
		return husk_error_set(err, errno, "KVM_SET_FPU");
	return 0;
}

/* LINT0 as ExtINT (the legacy PIC) and LINT1 as NMI, as the MP table says. */
static int set_lapic(struct vcpu *v, husk_error_t *err)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (KVM_IOCTL(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return husk_error_set(err, errno, "KVM_GET_LAPIC");
	memcpy(&lvt, lapic.regs + 0x350, 4);
	lvt = (lvt & ~0x700u) | (7u << 8);
	memcpy(lapic.regs + 0x350, &lvt, 4);
	memcpy(&lvt, lapic.regs + 0x360, 4);
	lvt = (lvt & ~0x700u) | (4u << 8);
	memcpy(lapic.regs + 0x360, &lvt, 4);
	if (KVM_IOCTL(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return husk_error_set(err, errno, "KVM_SET_LAPIC");
	return 0;
}

int vcpu_init(struct vm *vm, struct vcpu *v, int id, const struct kvm_cpuid2 *supported,
	      const struct boot_kernel *k, husk_error_t *err)
{
	size_t csize = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	cleanup_free struct kvm_cpuid2 *cpuid = malloc(csize);

	*v = (struct vcpu){ .vm = vm, .id = id, .fd = -1 };
	if (!cpuid)
		return husk_error_set(err, ENOMEM, "vCPU %d CPUID", id);
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return husk_error_set(err, errno, "create vCPU %d", id);
	int size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return husk_error_set(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
	v->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return husk_error_set(err, errno, "map vCPU %d run area", id);
	}
	v->run_size = size;

	memcpy(cpuid, supported, csize);
	patch_cpuid(cpuid, id, vm->ncpus,
		    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	if (KVM_IOCTL(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		return husk_error_set(err, errno, "vCPU %d: KVM_SET_CPUID2", id);
	if (set_msrs(v, err) < 0 || set_lapic(v, err) < 0)
		return -1;
	/* Application processors wait for the boot CPU's INIT/SIPI, which
	 * the in-kernel LAPIC handles; only the boot CPU needs a state. */
	if (id == 0)
		return set_boot_state(v, k, err);
	return 0;
}

/* A triple fault leaves no trace in the guest's log: the registers are
 * the only clue to where it happened (RIP against System.map, CR2 for a
 * page fault, the pending exception KVM was delivering). */
static void describe_shutdown(struct vcpu *v, char *out, size_t size)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events ev;

	if (KVM_IOCTL(v->fd, KVM_GET_REGS, &regs) < 0 ||
	    KVM_IOCTL(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(out, size, "registers unreadable: %s", strerror(errno));
		return;
	}
	int n = snprintf(
		out, size,
		"rip=%#llx rsp=%#llx cr0=%#llx cr2=%#llx cr3=%#llx cr4=%#llx efer=%#llx idt=%#llx/%#x",
		(unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		(unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2,
		(unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
		(unsigned long long)sregs.efer, (unsigned long long)sregs.idt.base,
		sregs.idt.limit);
	if (n > 0 && (size_t)n < size && KVM_IOCTL(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0)
		snprintf(out + n, size - n, " exception=%u/%u/%#x nmi=%u/%u", ev.exception.injected,
			 ev.exception.nr, ev.exception.error_code, ev.nmi.injected, ev.nmi.pending);
}

static void kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return EINTR */
}

/* A vCPU exit the VMM must answer. Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *p = (uint8_t *)run + run->io.data_offset;
		for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
			io_bus_access(&vm->pio, run->io.port, p, run->io.size,
				      run->io.direction == KVM_EXIT_IO_OUT);
		return true;
	}
	case KVM_EXIT_MMIO:
		io_bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			      run->mmio.is_write);
		return true;
	case KVM_EXIT_SHUTDOWN: {
		char why[256];
		describe_shutdown(v, why, sizeof(why));
		vm_request_stop(vm, VM_OUTCOME_REBOOT, "triple fault on vCPU %d (%s)", v->id, why);
		return false;
	}
	case KVM_EXIT_SYSTEM_EVENT:
		vm_request_stop(vm, VM_OUTCOME_REBOOT, "system event %u on vCPU %d",
				run->system_event.type, v->id);
		return false;
	case KVM_EXIT_HLT:
		vm_request_stop(vm, VM_OUTCOME_REBOOT, "vCPU %d halted", v->id);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_stop(vm, VM_OUTCOME_ERROR,
				"vCPU %d: entry failed, hardware reason 0x%llx", v->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_request_stop(vm, VM_OUTCOME_ERROR, "vCPU %d: KVM internal error %u", v->id,
				run->internal.suberror);
		return false;
	default:
		vm_request_stop(vm, VM_OUTCOME_ERROR, "vCPU %d: unexpected exit reason %u", v->id,
				run->exit_reason);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Named for ps and /proc/PID/task: which thread is which class. */
	char name[16];
	snprintf(name, sizeof(name), "vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);

	if (vm->cfg->confine_thread) {
		husk_error_t err = NULL;
		if (vm->cfg->confine_thread(VMM_THREAD_VCPU, &err) < 0) {
			vm_request_stop(vm, VM_OUTCOME_ERROR, "vCPU %d: %s", v->id, err->msg);
			husk_error_release(&err);
			return NULL;
		}
	}
	for (;;) {
		if (!vm_vcpu_may_run(vm, v->id))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue; /* kicked: the top of the loop decides */
			/* EFAULT: the guest touched memory the host cannot back
			 * (a hole in a DAX window, a mapped file past its end);
			 * where it was tells whose bug it is. */
			int e = errno;
			struct kvm_regs regs;
			if (KVM_IOCTL(v->fd, KVM_GET_REGS, &regs) == 0)
				vm_request_stop(vm, VM_OUTCOME_ERROR,
						"vCPU %d: KVM_RUN: %s (guest rip 0x%llx)", v->id,
						strerror(e), (unsigned long long)regs.rip);
			else
				vm_request_stop(vm, VM_OUTCOME_ERROR, "vCPU %d: KVM_RUN: %s", v->id,
						strerror(e));
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v, husk_error_t *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	/* No SA_RESTART: the point is to interrupt KVM_RUN. */
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r != 0) /* pthread_create returns the error, not -1 */
		return husk_error_set(err, r, "start vCPU %d thread", v->id);
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	/* immediate_exit covers the window between the thread's stop check
	 * and its next KVM_RUN; the signal covers a thread inside KVM_RUN. */
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_release(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
