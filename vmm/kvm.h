/* Thin KVM ioctl wrappers. KVM_IOCTL() checks at compile time that the
 * argument's size matches the one encoded in the request number, as the KVM
 * selftests do: a wrong struct passed to an ioctl becomes a build error. */
#ifndef HUSK_VMM_KVM_H
#define HUSK_VMM_KVM_H

#include <assert.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#define KVM_IOCTL(fd, cmd, arg)                                      \
	({                                                           \
		static_assert(_IOC_SIZE(cmd) == sizeof(*(arg)),      \
			      "argument size does not match " #cmd); \
		ioctl(fd, cmd, arg);                                 \
	})

#endif
