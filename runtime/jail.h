/* The VMM's jail: a root of its own holding only what it still opens by
 * path once confined (issue 15), so that a VMM the guest took over finds
 * no host file, socket or /sys to reach. create builds it unless
 * HUSK_JAIL=0 is in its environment (for looking into a VMM with host
 * tools; runtime/README.md, "The VMM's jail"). */
#ifndef HUSK_RUNTIME_JAIL_H
#define HUSK_RUNTIME_JAIL_H

#include <stdbool.h>

#include "base/error.h"
#include "vmm/vm.h"

/* What goes into the jail, each optional (NULL, or nshares 0). root is an
 * empty directory the jail's tmpfs is mounted on; it must not be under a
 * share. */
struct jail_spec {
	const char *root;
	const char *kernel, *initrd;	    /* files, bound to /kernel and /initrd */
	const char *kvm;		    /* the KVM device, bound to /dev/kvm */
	const char *state_dir;		    /* bound, without its submounts, to /state */
	const char *shares[VM_MAX_SHARES];  /* bound with their submounts to /shareN */
	bool share_readonly[VM_MAX_SHARES]; /* the bind read-only (its submounts keep theirs) */
	unsigned nshares;
};

/* Where the jail puts share N: "/share<N>". */
void jail_share_path(unsigned n, char *out, size_t len);

/* Builds the jail and makes it this process's root: a small read-only
 * tmpfs, the bind mounts of SPEC (nosuid, nodev but /dev/kvm; the kernel,
 * the initrd and the state directory read-only), of /proc only
 * /proc/self/fd (no /proc/self/mem, no other process), then pivot_root with the old root detached. Needs CAP_SYS_ADMIN and a private mount
 * namespace (confine_namespaces). The caller then opens everything by
 * its path inside. */
int jail_enter(const struct jail_spec *spec, husk_error_t *err);

/* Not HUSK_JAIL=0 in the environment. */
bool jail_wanted(void);

#endif
