/* The virtio-mmio transport (virtio 1.2, section 4.2, version 2), shared by
 * every device. A device is a table of operations plus its state; the
 * transport owns registers, feature negotiation, queue set-up (validated by
 * queue.c), notifications (one ioeventfd per queue, served on the event
 * loop) and interrupts (one irqfd). Device callbacks run with dev->lock
 * held, so a device never sees the driver reconfigure a queue under it. */
#ifndef HUSK_VMM_VIRTIO_MMIO_H
#define HUSK_VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/virtio/queue.h"
#include "vmm/event_loop.h"
#include "vmm/memory.h"

#define VIRTIO_MAX_QUEUES 8

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_ID_FS 26

#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

struct virtio_mmio_dev;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features; /* VIRTIO_F_VERSION_1 is added by the transport */
	unsigned nqueues;
	uint16_t queue_max;
	/* Config space reads and writes; OFFSET + LEN is within config_len. */
	void (*read_config)(struct virtio_mmio_dev *d, uint32_t offset, uint8_t *data,
			    uint32_t len);
	void (*write_config)(struct virtio_mmio_dev *d, uint32_t offset, const uint8_t *data,
			     uint32_t len);
	uint32_t config_len;
	/* The driver made buffers available on queue Q (event loop thread). */
	void (*queue_notify)(struct virtio_mmio_dev *d, unsigned q);
	/* DRIVER_OK was set: the queues are ready. */
	void (*activate)(struct virtio_mmio_dev *d);
	/* The driver reset the device: drop in-flight state. */
	void (*reset)(struct virtio_mmio_dev *d);
	/* The VM is going away. */
	void (*release)(struct virtio_mmio_dev *d);
};

struct virtio_mmio_dev {
	const struct virtio_device_ops *ops;
	void *priv; /* the device's own state */

	pthread_mutex_t lock;
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	bool broken;
	struct virtq queues[VIRTIO_MAX_QUEUES];

	/* Shared memory region 0 (virtio 1.2, 2.10), when shm_size is not 0:
	 * shm_size bytes of the device's at shm_host, which vm_add_virtio()
	 * makes guest memory at shm_gpa. The device sets host and size. */
	uint32_t shm_sel;
	void *shm_host;
	uint64_t shm_size, shm_gpa;

	/* Wiring, set by virtio_mmio_attach(). */
	const struct guest_memory *mem;
	struct event_loop *loop;
	int vm_fd;
	uint64_t base;
	uint32_t irq;
	int irqfd;
	struct event_source notify[VIRTIO_MAX_QUEUES];
};

/* Initializes D for OPS with private state PRIV. */
void virtio_mmio_init(struct virtio_mmio_dev *d, const struct virtio_device_ops *ops, void *priv);

/* Wires D at BASE with IRQ: irqfd, one ioeventfd per queue on the loop. */
int virtio_mmio_attach(struct virtio_mmio_dev *d, int vm_fd, uint64_t base, uint32_t irq,
		       const struct guest_memory *mem, struct event_loop *loop, husk_error_t *err);

void virtio_mmio_release(struct virtio_mmio_dev *d);

/* Serves one chain of queue Q, for a device whose worker does the work with
 * the lock dropped (a file read must not stall the vCPUs' register
 * accesses). Called and returns with D's lock held: pops a chain into C,
 * holds it (queue.h: the driver cannot move or disable the queue under
 * it), drops the lock for SERVE, which returns how many bytes it wrote
 * into the chain, and pushes the chain back only if the queue is still the
 * one it came from. 1: served; 0: nothing to serve, or the driver reset
 * the device meanwhile; -1: the ring was malformed (the device is marked
 * broken). */
typedef uint32_t (*virtio_serve_fn)(void *arg, const struct virtq_chain *c);
int virtio_mmio_serve_unlocked(struct virtio_mmio_dev *d, unsigned q, struct virtq_chain *c,
			       virtio_serve_fn serve, void *arg);

/* The io_bus handler for the device's 4 KiB window. */
void virtio_mmio_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* For devices, with dev->lock held: tell the driver that queue Q has used
 * buffers (if it wants to know); mark the device broken after malformed
 * input from the driver. */
void virtio_mmio_used(struct virtio_mmio_dev *d, unsigned q);
void virtio_mmio_fail(struct virtio_mmio_dev *d, const char *why);

/* Whether the driver finished set-up and the device is usable. */
bool virtio_mmio_live(const struct virtio_mmio_dev *d);

#endif
