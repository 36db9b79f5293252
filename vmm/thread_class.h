/* The VMM's threads by what they do, so that each class can be confined
 * to what it needs (runtime/confine.h, confine_thread()). A class's filter
 * is loaded by the thread itself, on top of the process's: seccomp filters
 * are per thread, and one a thread loads reaches only it and the threads
 * it starts afterwards (none of these start any). */
#ifndef HUSK_VMM_THREAD_CLASS_H
#define HUSK_VMM_THREAD_CLASS_H

#include "base/error.h"

enum vmm_thread_class {
	VMM_THREAD_VCPU,      /* KVM_RUN, and the register accesses it exits for */
	VMM_THREAD_FS_WORKER, /* a virtio-fs share's FUSE server */
	/* The runtime's relay between the control socket and the guest
	 * agent (runtime/vmm_process.c), which it runs beside the VM. */
	VMM_THREAD_ROUTER,
	VMM_THREAD_CLASSES
};

/* Called by a thread of class CLS on itself, once the process is confined
 * (after vm_config.before_run) and before it does any of its work. A
 * failure ends that thread's work: the VM stops, or the device fails. */
typedef int (*vmm_thread_confine_fn)(enum vmm_thread_class cls, husk_error_t *err);

#endif
