/* Descriptor planning for one VMM: see fd_budget.h. */
#include "vmm/fd_budget.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "vmm/vm.h"
#include "vmm/virtio/fuse_server.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/vsock_proto.h"

/* A virtio device holds its irqfd and one ioeventfd per queue. */
#define DEVICE_FDS (1 + VIRTIO_MAX_QUEUES)

int fd_budget_plan(const struct vm_config *cfg, uint64_t nofile, uint32_t open_now,
		   struct fd_budget *b, husk_error_t *err)
{
	int nshares = cfg->nshares < VM_MAX_SHARES ? cfg->nshares : VM_MAX_SHARES;
	int nnics = cfg->nnics < VM_MAX_NICS ? cfg->nnics : VM_MAX_NICS;
	int cpus = cfg->cpus < MAX_VCPUS ? cfg->cpus : MAX_VCPUS;
	unsigned devices = (cfg->serial ? 0 : 1) + (cfg->rng ? 1 : 0) + (cfg->disk ? 1 : 0) +
			   (cfg->vsock_cid ? 1 : 0) + (unsigned)nnics + (unsigned)nshares;
	uint64_t reserve = (uint64_t)open_now + FD_BUDGET_VMM_OWN + FD_BUDGET_SLACK +
			   (cpus > 0 ? (unsigned)cpus : 0) + devices * DEVICE_FDS +
			   (cfg->disk ? 1 : 0) + (uint64_t)nshares * FUSE_SERVER_FIXED_FDS +
			   cfg->extra_fds;

	*b = (struct fd_budget){ .nofile = nofile };
	uint64_t avail = nofile > reserve ? nofile - reserve : 0;
	if (avail > UINT32_MAX)
		avail = UINT32_MAX;
	if (cfg->vsock_cid) {
		/* The guest agent needs a few; the shares' files matter more. */
		uint64_t v = nshares ? avail / 4 : avail;
		b->vsock_conns = (uint32_t)(v < VSOCK_MAX_CONNS ? v : VSOCK_MAX_CONNS);
		if (b->vsock_conns == 0)
			goto too_low;
	}
	if (nshares) {
		b->share_fds = (uint32_t)(avail - b->vsock_conns);
		/* Each share's root, and one inode more for each. */
		if (b->share_fds < 2 * (uint32_t)nshares)
			goto too_low;
	}
	b->reserve = (uint32_t)reserve;
	return 0;
too_low:
	return husk_error_set(
		err, EMFILE,
		"RLIMIT_NOFILE %llu leaves the guest no descriptors: the VMM keeps %llu",
		(unsigned long long)nofile, (unsigned long long)reserve);
}

uint32_t fd_budget_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	uint32_t n = 0;

	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* the directory's own descriptor */
}

uint64_t fd_budget_raise_nofile(void)
{
	struct rlimit rl;
	unsigned long nr_open = 1UL << 20;

	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1UL << 20;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < nr_open) {
		struct rlimit want = { nr_open, rl.rlim_max > nr_open ? rl.rlim_max : nr_open };
		if (setrlimit(RLIMIT_NOFILE, &want) < 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
}
