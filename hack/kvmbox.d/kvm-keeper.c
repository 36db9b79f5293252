/* kvm-keeper: run by the box's agent (box-agent), it holds one KVM VM
 * with one vCPU open for the box's lifetime. KVM flips static keys
 * (preempt notifiers, the LAPIC-disabled keys) when the first VM or vCPU
 * comes and the last goes, and the kernel text patching behind each flip
 * sometimes livelocks the emulated box: both vCPUs were found looping in
 * the int3 handler on a jump label in __schedule. With one VM held, the
 * keys stay put however many guests the tests boot. hack/kvmbox compiles
 * it on the host into its cache (build/kvmbox/kvm-keeper); it prints
 * "ready" once it holds the VM. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what)
{
	perror(what);
	return 1;
}

int main(void)
{
	int kvm, vm;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("kvm-keeper: /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("kvm-keeper: KVM_CREATE_VM");
	/* An in-kernel LAPIC, as QEMU's guests have, so the same keys count. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("kvm-keeper: KVM_CREATE_IRQCHIP");
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		return fail("kvm-keeper: KVM_CREATE_VCPU");
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}
