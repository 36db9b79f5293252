/* The split virtqueue (virtio 1.2, section 2.7), device side.
 *
 * All of a queue's guest-controlled values are checked here, once, for
 * every device (Firecracker's list): ring addresses and sizes inside guest
 * RAM and aligned, the available index no more than the queue size ahead,
 * head and next indices below the size, chains no longer than the queue
 * (a loop), every buffer's [addr, addr + len) inside RAM, no indirect
 * descriptors (not offered), and device-writable buffers only after the
 * device-readable ones. A malformed chain makes virtq_pop() fail; the
 * transport then marks the device broken (DEVICE_NEEDS_RESET). */
#ifndef HUSK_VMM_VIRTIO_QUEUE_H
#define HUSK_VMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

#define VIRTQ_MAX_SIZE 256
#define VIRTQ_MAX_SEGS VIRTQ_MAX_SIZE

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

struct virtq {
	/* The driver's registers, written through the transport only while
	 * the queue is not ready and no chain of it is held; read only by
	 * virtq_activate(). */
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* What virtq_activate() checked and mapped: the only values pop and
	 * push use, so a register the driver rewrites later never reaches
	 * the rings. */
	uint16_t num;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail; /* next available entry the device will take */
	uint16_t used_idx;   /* the device's copy of used->idx */
	/* Bumped whenever the rings stop being the ones chains were popped
	 * from (ready, not ready, reset); chains carry the value they were
	 * popped under. Kept across virtq_reset(). */
	uint32_t generation;
	/* Chains of this generation a worker serves with the lock dropped. */
	unsigned held;
};

/* One request: its buffers as host iovecs, device-readable ones first. */
struct virtq_chain {
	uint16_t head;
	uint32_t generation; /* the queue's, when popped */
	unsigned nout, nin;
	struct iovec out[VIRTQ_MAX_SEGS];
	struct iovec in[VIRTQ_MAX_SEGS];
	uint64_t out_len, in_len;
};

/* Checks SIZE and the three ring addresses against M and maps them; -1 with
 * *why set when the driver's configuration is invalid. */
int virtq_activate(struct virtq *q, uint16_t max_size, const struct guest_memory *m,
		   const char **why);

/* Forgets the driver's configuration and the rings; chains still held are
 * orphaned (virtq_unhold() says so). */
void virtq_reset(struct virtq *q);

/* Disables the queue (the driver wrote 0 to QueueReady), orphaning held
 * chains as a reset does. */
void virtq_disable(struct virtq *q);

/* Takes the next available chain: 1 when one was taken, 0 when none is
 * available, -1 (with *why) when the ring or chain is malformed. */
int virtq_pop(struct virtq *q, const struct guest_memory *m, struct virtq_chain *c,
	      const char **why);

/* Gives back the chain virtq_pop() just returned, unused (a device that
 * found it had nothing to put in it). Its available-ring entry is still
 * there: the driver may not reuse it before the device returns it. */
void virtq_unpop(struct virtq *q);

/* A worker that serves chain C with the device lock dropped (fs.c) holds
 * it meanwhile, both calls under the lock: while a chain is held the
 * driver cannot change the queue's layout or disable it (the transport
 * ignores those writes), and a reset orphans it. virtq_unhold() returns
 * whether C still belongs to Q's rings as they are; only then may the
 * worker push it. Memory the chain points into stays mapped for the VM's
 * life, so serving an orphaned chain is harmless. */
void virtq_hold(struct virtq *q, struct virtq_chain *c);
bool virtq_unhold(struct virtq *q, const struct virtq_chain *c);

/* Returns chain HEAD to the driver with WRITTEN bytes written into it. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt for what was pushed. */
bool virtq_should_notify(const struct virtq *q);

/* Copies between a chain's buffers and a flat buffer, bounded by both;
 * return the number of bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len);
size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len);

/* Points DST at LEN bytes of SRC's N buffers from offset SKIP (all within
 * the buffers); returns how many entries it used, at most N. */
unsigned iov_slice(struct iovec *dst, const struct iovec *src, unsigned n, size_t skip, size_t len);

#endif
