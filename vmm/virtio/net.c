/* virtio-net (virtio 1.2, section 5.1) backed by a tap: one receive and
 * one transmit queue, the MAC and MTU in config space, the link always up,
 * mergeable receive buffers, and (unless turned off) checksum and TSO
 * offloads passed through to the tap with its virtio-net header.
 *
 * Both directions run on the event loop with the device lock held:
 *   tx  the guest's notification: each chain's readable buffers (header +
 *       frame) go to the tap with one writev. The header is copied out and
 *       the copy is checked and sent (a second vCPU may rewrite the
 *       guest's one meanwhile): offloads it did not negotiate are refused
 *       here, and the tap's kernel code checks the rest. The frame goes
 *       from guest memory uncopied; the tap treats it as untrusted.
 *   rx  the tap is readable: a frame is read into a bounce buffer and
 *       copied into as many posted chains as it needs (MRG_RXBUF). When the
 *       guest has posted too few buffers the frame waits and the tap leaves
 *       the poll set until the guest's next receive-queue notification:
 *       no reading without buffers, no busy loop.
 * Every chain comes from virtq_pop(), which checks it against guest RAM. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/virtio/devices.h"
#include "base/log.h"
#include "vmm/tap.h"

#define VIRTIO_NET_F_CSUM (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MTU (1ULL << 3)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)
#define VIRTIO_NET_F_HOST_TSO4 (1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6 (1ULL << 12)
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)

#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_MAX 256
#define ETH_HLEN 14
/* The largest frame the tap hands over: a 64 KiB GSO packet, its Ethernet
 * and VLAN headers; the header in front. */
#define NET_FRAME_MAX (65535 + ETH_HLEN + 4)
#define NET_BUF_MAX (TAP_VNET_HDR_LEN + NET_FRAME_MAX)
/* Frames taken from the tap per wake-up, so other sources get their turn;
 * the tap stays readable (level-triggered) and the loop comes back. */
#define NET_RX_BUDGET 64

struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr_v1) == TAP_VNET_HDR_LEN, "virtio-net header");

struct net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

struct net_dev {
	struct virtio_mmio_dev *d;
	struct event_source tap; /* fd: the device's own dup of the tap */
	bool in_loop, polling;
	struct net_config config;
	struct virtio_device_ops ops;		 /* per device: features depend on the NIC */
	uint8_t *pkt;				 /* NET_BUF_MAX bytes: the rx bounce buffer */
	size_t pending;				 /* bytes of a frame waiting for buffers, or 0 */
	struct virtq_chain *chain;		 /* scratch, too big for the stack */
	struct iovec tx_iov[1 + VIRTQ_MAX_SEGS]; /* the checked header + frame */
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t lens[VIRTQ_MAX_SIZE];
	uint64_t rx_dropped, tx_dropped;
};

static bool negotiated(const struct virtio_mmio_dev *d, uint64_t f)
{
	return (d->driver_features & f) == f;
}

static void set_polling(struct net_dev *n, bool on)
{
	if (!n->in_loop || n->polling == on)
		return;
	if (event_loop_mod(n->d->loop, &n->tap, on ? EPOLLIN : 0) < 0)
		log_warn("virtio-net: epoll_ctl: %s", strerror(errno));
	else
		n->polling = on;
}

/* ---- transmit ---- */

/* Whether the guest's header asks only for what it negotiated. */
static bool tx_header_ok(const struct virtio_mmio_dev *d, const struct virtio_net_hdr_v1 *h)
{
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !negotiated(d, VIRTIO_NET_F_CSUM))
		return false;
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE: return true;
	case VIRTIO_NET_HDR_GSO_TCPV4: return negotiated(d, VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6: return negotiated(d, VIRTIO_NET_F_HOST_TSO6);
	default: /* UFO, ECN: never offered */ return false;
	}
}

static void tx_one(struct net_dev *n, const struct virtq_chain *c)
{
	struct virtio_net_hdr_v1 h;

	if (c->out_len < TAP_VNET_HDR_LEN + ETH_HLEN || c->out_len > NET_BUF_MAX ||
	    iov_to_buf(c->out, c->nout, 0, &h, sizeof(h)) != sizeof(h) || !tx_header_ok(n->d, &h)) {
		n->tx_dropped++;
		return;
	}
	/* The tap takes header and frame from one writev. It does not block
	 * (a full device queue drops), and a tap that is down says EIO:
	 * both are a lost frame, as on a wire. */
	n->tx_iov[0] = (struct iovec){ &h, sizeof(h) };
	unsigned k = iov_slice(n->tx_iov + 1, c->out, c->nout, sizeof(h),
			       (size_t)c->out_len - sizeof(h));
	ssize_t r;
	do
		r = writev(n->tap.fd, n->tx_iov, (int)(1 + k));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		n->tx_dropped++;
}

static void tx_notify(struct net_dev *n)
{
	struct virtio_mmio_dev *d = n->d;
	const char *why;
	int r;

	while (!d->broken && (r = virtq_pop(&d->queues[NET_TXQ], d->mem, n->chain, &why)) != 0) {
		if (r < 0) {
			virtio_mmio_fail(d, why);
			break;
		}
		tx_one(n, n->chain);
		virtq_push(&d->queues[NET_TXQ], n->chain->head, 0);
	}
	virtio_mmio_used(d, NET_TXQ);
}

/* ---- receive ---- */

enum rx_result { RX_DONE, RX_NO_BUFFERS, RX_BROKEN };

/* Copies the pending frame into the guest's posted chains: all or none. */
static enum rx_result rx_deliver(struct net_dev *n)
{
	struct virtio_mmio_dev *d = n->d;
	struct virtq *q = &d->queues[NET_RXQ];
	struct virtq_chain *c = n->chain;
	bool mrg = negotiated(d, VIRTIO_NET_F_MRG_RXBUF);
	struct iovec hdr_iov[TAP_VNET_HDR_LEN];
	unsigned nhdr = 0, used = 0;
	size_t off = 0;
	const char *why;

	while (off < n->pending) {
		int r = virtq_pop(q, d->mem, c, &why);
		if (r < 0) {
			virtio_mmio_fail(d, why);
			return RX_BROKEN;
		}
		if (r == 0) {
			/* Not enough buffers posted: hand back what was taken,
			 * not yet in the used ring, and wait for more. */
			for (unsigned i = 0; i < used; i++)
				virtq_unpop(q);
			return RX_NO_BUFFERS;
		}
		if (used == 0) {
			if (c->in_len < TAP_VNET_HDR_LEN) {
				virtio_mmio_fail(d, "receive buffer smaller than the net header");
				return RX_BROKEN;
			}
			nhdr = iov_slice(hdr_iov, c->in, c->nin, 0, TAP_VNET_HDR_LEN);
		}
		size_t len = n->pending - off < c->in_len ? n->pending - off : c->in_len;
		buf_to_iov(c->in, c->nin, 0, n->pkt + off, len);
		n->heads[used] = c->head;
		n->lens[used] = (uint32_t)len;
		used++;
		off += len;
		if (off < n->pending && (!mrg || used == q->num)) {
			/* Too big for one chain without mergeable buffers, or
			 * for the whole queue: dropped, the chains handed back. */
			for (unsigned i = 0; i < used; i++)
				virtq_unpop(q);
			n->rx_dropped++;
			n->pending = 0;
			return RX_DONE;
		}
	}
	/* The tap leaves num_buffers alone; it is the device's to fill. */
	uint16_t nb = (uint16_t)used;
	buf_to_iov(hdr_iov, nhdr, offsetof(struct virtio_net_hdr_v1, num_buffers), &nb, sizeof(nb));
	for (unsigned i = 0; i < used; i++)
		virtq_push(q, n->heads[i], n->lens[i]);
	n->pending = 0;
	return RX_DONE;
}

/* Moves frames from the tap to the guest while both have some. */
static void rx_process(struct net_dev *n)
{
	struct virtio_mmio_dev *d = n->d;
	bool delivered = false;

	if (!virtio_mmio_live(d) || !d->queues[NET_RXQ].ready)
		return;
	for (int budget = NET_RX_BUDGET; budget > 0; budget--) {
		if (!n->pending) {
			ssize_t r = read(n->tap.fd, n->pkt, NET_BUF_MAX);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				if (errno != EAGAIN)
					log_warn("virtio-net: tap read: %s", strerror(errno));
				set_polling(n, true);
				break;
			}
			if ((size_t)r < TAP_VNET_HDR_LEN + ETH_HLEN) {
				n->rx_dropped++;
				continue;
			}
			n->pending = (size_t)r;
		}
		enum rx_result res = rx_deliver(n);
		if (res == RX_BROKEN)
			break;
		if (res == RX_NO_BUFFERS) {
			/* Until the guest posts buffers and notifies. */
			set_polling(n, false);
			break;
		}
		delivered = true;
	}
	if (delivered)
		virtio_mmio_used(d, NET_RXQ);
}

static void on_tap(struct event_source *src, uint32_t events)
{
	struct net_dev *n = src->ctx;

	(void)events;
	pthread_mutex_lock(&n->d->lock);
	rx_process(n);
	pthread_mutex_unlock(&n->d->lock);
}

/* ---- transport callbacks (device lock held) ---- */

static void net_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct net_dev *n = d->priv;

	if (q == NET_TXQ)
		tx_notify(n);
	else if (q == NET_RXQ)
		rx_process(n); /* new buffers: a waiting frame, then the tap */
}

static void net_activate(struct virtio_mmio_dev *d)
{
	struct net_dev *n = d->priv;
	husk_error_t err = NULL;
	unsigned long off = 0;

	/* What the guest accepts in received frames: partial checksums and
	 * TSO segments the tap may then pass on unsegmented. */
	if (negotiated(d, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (negotiated(d, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (negotiated(d, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	if (ioctl(n->tap.fd, TUNSETOFFLOAD, off) < 0)
		log_warn("virtio-net: TUNSETOFFLOAD %#lx: %s", off, strerror(errno));
	if (!n->in_loop) {
		if (event_loop_add(d->loop, &n->tap, EPOLLIN, &err) < 0) {
			log_warn("virtio-net: %s", err->msg);
			husk_error_release(&err);
			virtio_mmio_fail(d, "cannot poll the tap");
			return;
		}
		n->in_loop = n->polling = true;
	}
	set_polling(n, true);
}

static void net_reset(struct virtio_mmio_dev *d)
{
	struct net_dev *n = d->priv;

	if (n->in_loop) {
		event_loop_del(d->loop, &n->tap);
		n->in_loop = n->polling = false;
	}
	n->pending = 0;
	if (ioctl(n->tap.fd, TUNSETOFFLOAD, 0UL) < 0)
		log_warn("virtio-net: TUNSETOFFLOAD 0: %s", strerror(errno));
}

static void net_read_config(struct virtio_mmio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct net_dev *n = d->priv;
	memcpy(data, (uint8_t *)&n->config + off, len);
}

static void net_free(struct net_dev *n)
{
	if (!n)
		return;
	if (n->rx_dropped || n->tx_dropped)
		log_debug("virtio-net: dropped %llu received and %llu sent frames",
			  (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_dropped);
	if (n->tap.fd >= 0)
		close(n->tap.fd);
	free(n->pkt);
	free(n->chain);
	free(n);
}

static void net_release(struct virtio_mmio_dev *d)
{
	struct net_dev *n = d->priv;

	if (n && n->in_loop)
		event_loop_del(d->loop, &n->tap);
	net_free(n);
	d->priv = NULL;
}

struct virtio_mmio_dev *virtio_net_new(const struct virtio_net_opts *o, husk_error_t *err)
{
	struct net_dev *n = calloc(1, sizeof(*n));
	struct virtio_mmio_dev *d = malloc(sizeof(*d));

	if (n)
		n->tap.fd = -1;
	if (!n || !d || !(n->pkt = malloc(NET_BUF_MAX)) ||
	    !(n->chain = malloc(sizeof(*n->chain)))) {
		net_free(n);
		free(d);
		husk_error_set(err, ENOMEM, "virtio-net");
		return NULL;
	}
	/* A descriptor of its own: the caller keeps (and closes) its one. */
	n->tap = (struct event_source){ on_tap, n, fcntl(o->tap_fd, F_DUPFD_CLOEXEC, 3) };
	if (n->tap.fd < 0) {
		husk_error_set(err, errno, "virtio-net: tap descriptor %d", o->tap_fd);
		net_free(n);
		free(d);
		return NULL;
	}
	memcpy(n->config.mac, o->mac, sizeof(n->config.mac));
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = 1;
	n->config.mtu = o->mtu;
	uint64_t features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
			    (o->mtu ? VIRTIO_NET_F_MTU : 0);
	if (o->offload)
		features |= VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_HOST_TSO4 |
			    VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_GUEST_TSO4 |
			    VIRTIO_NET_F_GUEST_TSO6;
	n->ops = (struct virtio_device_ops){
		.name = "net",
		.device_id = VIRTIO_ID_NET,
		.features = features,
		.nqueues = 2,
		.queue_max = NET_QUEUE_MAX,
		.read_config = net_read_config,
		.config_len = sizeof(n->config),
		.queue_notify = net_notify,
		.activate = net_activate,
		.reset = net_reset,
		.release = net_release,
	};
	virtio_mmio_init(d, &n->ops, n);
	n->d = d;
	return d;
}
