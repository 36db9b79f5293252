/* One VMM's file descriptors, planned once per VM from the RLIMIT_NOFILE in
 * force. Every virtio-fs inode and open handle holds a host descriptor and
 * so does every vsock connection the guest opens: a guest that could take
 * them all would leave the VMM unable to accept a `husk` command, open an
 * eventfd or answer its agent. So the VMM keeps a reserve for its own
 * machinery (counted below), the guest's vsock connections get a bounded
 * share of the rest, and all virtio-fs shares of the VM draw from one pool
 * holding what remains (struct fuse_fd_pool): at its limit a guest request
 * fails with ENFILE, and the reserve is never touched.
 *
 * Raising the limit (as virtiofsd does) needs CAP_SYS_RESOURCE beyond the
 * hard limit, so the process does it before it confines itself
 * (fd_budget_raise_nofile()); the plan reads whatever limit it then got. */
#ifndef HUSK_VMM_FD_BUDGET_H
#define HUSK_VMM_FD_BUDGET_H

#include <stdint.h>

#include "base/error.h"

struct vm_config;

/* Always kept by the VMM besides what a config asks for: KVM's and the
 * VM's descriptors, the epoll set, its stop eventfd, the signalfd, and
 * slack for files opened for a moment (kernel image, /proc reads) and for
 * libc and the sanitizers. */
#define FD_BUDGET_VMM_OWN 5
#define FD_BUDGET_SLACK 16

struct fd_budget {
	uint64_t nofile;      /* the soft RLIMIT_NOFILE planned with */
	uint32_t reserve;     /* the VMM's own: never given to the guest */
	uint32_t vsock_conns; /* host connections the guest may hold at once */
	uint32_t share_fds;   /* inodes and handles of all shares together */
};

/* Plans the descriptors of a VM built from CFG in a process that has
 * OPEN_NOW descriptors open and may hold NOFILE. Fails when the limit
 * leaves no room for a share or a vsock connection. */
int fd_budget_plan(const struct vm_config *cfg, uint64_t nofile, uint32_t open_now,
		   struct fd_budget *b, husk_error_t *err);

/* The descriptors this process has open, or 0 when /proc cannot tell. */
uint32_t fd_budget_count_open(void);

/* Raises the soft RLIMIT_NOFILE to fs.nr_open where the process may
 * (CAP_SYS_RESOURCE), else to the hard limit. Returns the soft limit now
 * in force. */
uint64_t fd_budget_raise_nofile(void);

#endif
