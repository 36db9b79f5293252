/* Constructors of husk's virtio devices, one file each. Each returns a
 * malloc'd transport object owning the device state; vm_add_virtio() wires
 * it and the VM releases it. */
#ifndef HUSK_VMM_VIRTIO_DEVICES_H
#define HUSK_VMM_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio/mmio.h"
#include "vmm/console_log.h"
#include "vmm/thread_class.h"

/* Console: guest output to LOG, host input from IN_FD (-1: none). Output
 * past VIRTIO_CONSOLE_CHAIN_MAX bytes in one chain is dropped: Linux's hvc
 * writes at most a page per buffer. */
#define VIRTIO_CONSOLE_CHAIN_MAX (64 * 1024)
struct virtio_mmio_dev *virtio_console_new(struct console_log *log, int in_fd, husk_error_t *err);
/* Entropy from the host's getrandom(), at most VIRTIO_RNG_CHAIN_MAX bytes
 * per request (Linux's hwrng asks for a cache line at a time). */
#define VIRTIO_RNG_CHAIN_MAX (64 * 1024)
struct virtio_mmio_dev *virtio_rng_new(husk_error_t *err);
/* Block device backed by the raw file PATH. */
struct virtio_mmio_dev *virtio_blk_new(const char *path, bool readonly, husk_error_t *err);
/* vsock with guest CID; guest connections to port P go to the unix socket
 * DIR/P on the host. */
struct virtio_mmio_dev *virtio_vsock_new(uint32_t guest_cid, const char *dir, husk_error_t *err);
/* The same, holding at most MAX_CONNS host connections at once (each is a
 * descriptor); virtio_vsock_new() leaves half of RLIMIT_NOFILE to the rest
 * of the process. */
struct virtio_mmio_dev *virtio_vsock_new_limited(uint32_t guest_cid, const char *dir,
						 unsigned max_conns, husk_error_t *err);
/* virtio-fs: the host directory DIR, mounted in the guest by TAG (1 to 36
 * bytes), served inside the VMM (fs.c, fuse_server.h). */
struct virtio_mmio_dev *virtio_fs_new(const char *tag, const char *dir, bool readonly,
				      husk_error_t *err);
/* The same with every share option (caching, device nodes, table sizes);
 * CONFINE, when set, is called by the worker on itself before it serves
 * its first request (thread_class.h). */
struct fuse_share_opts;
struct virtio_mmio_dev *virtio_fs_new_share(const char *tag, const struct fuse_share_opts *opts,
					    vmm_thread_confine_fn confine, husk_error_t *err);

/* virtio-net over the tap TAP_FD (the device keeps a dup of it), with MAC,
 * MTU (0: not offered) and, when OFFLOAD, checksum and TSO offloads. */
struct virtio_net_opts {
	int tap_fd;
	uint8_t mac[6];
	uint16_t mtu;
	bool offload;
};
struct virtio_mmio_dev *virtio_net_new(const struct virtio_net_opts *o, husk_error_t *err);

#endif
