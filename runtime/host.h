/* What the host offers husk: which KVM, which cgroup layout. Each probe
 * takes the directory it reads so the unit tests can point it at a fake
 * sysfs. */
#ifndef HUSK_HOST_H
#define HUSK_HOST_H

#include <stdbool.h>
#include <stddef.h>

enum kvm_backend {
	KVM_BACKEND_NONE,  /* no kvm vendor module loaded */
	KVM_BACKEND_INTEL, /* kvm_intel: VT-x */
	KVM_BACKEND_AMD,   /* kvm_amd: AMD-V */
	KVM_BACKEND_PVM,   /* kvm_pvm: no hardware assist; cannot run a stock guest */
};

/* MODULE_DIR is normally /sys/module. */
enum kvm_backend host_kvm_backend(const char *module_dir);
const char *host_kvm_backend_name(enum kvm_backend b);

/* Opens DEV (normally /dev/kvm) read-write. When it cannot, *WHY says so
 * ("DEV: <strerror> (KVM module: <name>)", B being the module loaded) and
 * *FIX what to do: `husk check` and create give the same words. */
int host_kvm_open(const char *dev, enum kvm_backend b, char *why, size_t size, const char **fix);

enum cgroup_mode {
	CGROUP_MODE_NONE,
	CGROUP_MODE_V1,
	CGROUP_MODE_V2,
	CGROUP_MODE_HYBRID, /* v1 controllers plus a v2 tree at ROOT/unified */
};

/* ROOT is normally /sys/fs/cgroup. */
enum cgroup_mode host_cgroup_mode(const char *root);
const char *host_cgroup_mode_name(enum cgroup_mode m);

/* Whether controller NAME can be used: on v2 listed in ROOT's
 * cgroup.controllers, on v1 (and hybrid) mounted as ROOT/NAME. */
bool host_cgroup_controller(const char *root, enum cgroup_mode m, const char *name);

#endif
