/* The virtio-vsock wire format (virtio 1.2, section 5.10.6): the packet
 * header on the rx and tx queues and its constants. Shared by the device
 * (vsock.c) and its unit tests, which play the guest driver. */
#ifndef HUSK_VMM_VIRTIO_VSOCK_PROTO_H
#define HUSK_VMM_VIRTIO_VSOCK_PROTO_H

#include <assert.h>
#include <endian.h>
#include <stdint.h>

#define VSOCK_RX_QUEUE 0    /* device to driver */
#define VSOCK_TX_QUEUE 1    /* driver to device */
#define VSOCK_EVENT_QUEUE 2 /* device to driver; husk sends no events */

#define VSOCK_HOST_CID 2

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive / send no more. */
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2

/* All fields little-endian on the wire. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len; /* payload bytes after the header */
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc; /* the sender's receive buffer for this connection */
	uint32_t fwd_cnt;   /* bytes the sender has consumed from it */
} __attribute__((packed));

static_assert(sizeof(struct vsock_hdr) == 44, "virtio-vsock header is 44 bytes");

/* The receive buffer the device advertises for each connection (the
 * guest may have this many bytes in flight to one host socket), and the
 * most connections it keeps open at once. */
#define VSOCK_BUF_ALLOC (64 * 1024)
#define VSOCK_MAX_CONNS 1024

/* Headers travel little-endian; these convert one in place, for the
 * device and for the tests that play the driver. */
static inline void vsock_hdr_to_host(struct vsock_hdr *h)
{
	h->src_cid = le64toh(h->src_cid);
	h->dst_cid = le64toh(h->dst_cid);
	h->src_port = le32toh(h->src_port);
	h->dst_port = le32toh(h->dst_port);
	h->len = le32toh(h->len);
	h->type = le16toh(h->type);
	h->op = le16toh(h->op);
	h->flags = le32toh(h->flags);
	h->buf_alloc = le32toh(h->buf_alloc);
	h->fwd_cnt = le32toh(h->fwd_cnt);
}

#endif
