#ifndef HUSK_VMM_VCPU_H
#define HUSK_VMM_VCPU_H

#include <linux/kvm.h>

#include "vmm/vm_internal.h"

/* The signal that kicks a vCPU thread out of KVM_RUN when the VM stops. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

/* Creates vCPU ID with CPUID derived from SUPPORTED (KVM's list, patched
 * for this vCPU's APIC id and the VM's CPU count), MSRs and LAPIC wiring;
 * vCPU 0 also gets the long-mode boot state entering K. */
int vcpu_init(struct vm *vm, struct vcpu *v, int id, const struct kvm_cpuid2 *supported,
	      const struct boot_kernel *k, husk_error_t *err);
int vcpu_start(struct vcpu *v, husk_error_t *err);
/* Makes a running vCPU leave KVM_RUN for good (vm->outcome is set). */
void vcpu_kick(struct vcpu *v);
void vcpu_release(struct vcpu *v);

#endif
