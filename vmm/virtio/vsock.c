/* virtio-vsock (virtio 1.2, section 5.10): stream sockets between the guest
 * and the host (CID 2). A guest connection to host port P is joined to the
 * unix stream socket DIR/P; the host never connects to the guest.
 *
 * Everything runs on the event loop thread under the transport's lock: tx
 * packets when the driver notifies the tx queue, host sockets through one
 * event source per connection (reset() alone comes from a vCPU thread,
 * also under the lock). Flow control is the spec's credit scheme, in both
 * directions:
 *
 *   guest to host: the device advertises VSOCK_BUF_ALLOC bytes per
 *   connection and counts in fwd_cnt what it wrote to the host socket.
 *   Data the socket cannot take yet waits in a per-connection ring of that
 *   size, flushed on EPOLLOUT. A guest that has more in flight than the
 *   credit it was shown is reset, so the ring can never overflow.
 *
 *   host to guest: a socket is read straight into an rx buffer the driver
 *   posted, and no further than the guest's credit (its buf_alloc minus
 *   the bytes in flight, from the last header it sent) allows. Without
 *   credit or rx buffers the socket is not watched for input until a tx
 *   packet brings credit or the driver refills the rx queue. Nothing is
 *   buffered on the host in this direction.
 *
 * Control packets (RESPONSE, RST, SHUTDOWN, CREDIT_UPDATE) wait as flags on
 * their connection, connections in a FIFO, until an rx buffer is free, and
 * go out before any more data. RSTs answering packets that name no
 * connection wait in a small ring and are dropped when it is full: only a
 * guest that floods bogus packets without reading its rx queue loses them.
 *
 * Connection slots are allocated on first use and live as long as the
 * device: an epoll batch may still hold an event for a connection closed
 * by an earlier event of that batch (or by a reset on a vCPU thread), so
 * an event source must stay valid memory. Handlers thus tolerate stale
 * events: they act on what the socket reports now, not on the event bits. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/virtio/devices.h"
#include "base/cleanup.h"
#include "base/log.h"
#include "vmm/virtio/vsock_proto.h"

#define VSOCK_QUEUE_MAX 128
#define HDR_LEN ((uint32_t)sizeof(struct vsock_hdr))
/* Bytes written to the host since the guest last heard of fwd_cnt that
 * are worth a CREDIT_UPDATE of their own (packets to the guest carry it
 * anyway). At most VSOCK_BUF_ALLOC, or a guest that used all its credit
 * would wait forever. */
#define CREDIT_UPDATE_AT (VSOCK_BUF_ALLOC / 2)
#define MAX_RX_PAYLOAD (64 * 1024) /* per packet, Linux's own limit */
#define READS_PER_EVENT 16	   /* rx packets per socket event: fairness */
#define RST_RING 64
#define HASH_BUCKETS 256

static_assert((VSOCK_BUF_ALLOC & (VSOCK_BUF_ALLOC - 1)) == 0,
	      "the per-connection ring size is a power of two");

enum conn_state {
	CONN_FREE,  /* slot unused */
	CONN_OPEN,  /* joined to a host socket */
	CONN_RESET, /* host socket closed; an RST for the guest is pending */
};

struct vsock_conn {
	struct event_source src; /* fd: the host socket, -1 once closed */
	enum conn_state state;
	uint32_t guest_port, host_port;
	struct vsock_conn *hash_next, *free_next;
	struct vsock_conn *ctrl_prev, *ctrl_next;
	bool in_ctrl;
	bool registered;  /* in the event loop ... */
	uint32_t watched; /* ... with these events */

	/* Control packets waiting for an rx buffer. */
	bool need_response, need_shutdown, need_credit;
	uint32_t shutdown_flags;

	/* Guest to host. */
	uint8_t *buf; /* VSOCK_BUF_ALLOC-byte ring; NULL while empty */
	uint32_t buf_head, buf_len;
	uint32_t rx_cnt;       /* bytes received from the guest */
	uint32_t fwd_cnt;      /* of which written to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt in the last packet to the guest */
	bool guest_shut_send, guest_shut_rcv;
	bool host_wr_shut; /* shutdown(SHUT_WR) done, after the ring drained */

	/* Host to guest. */
	uint32_t peer_buf_alloc, peer_fwd_cnt; /* the guest's last header */
	uint32_t tx_cnt;		       /* bytes sent to the guest */
	bool host_eof;			       /* read() returned 0 and the guest was told */
	bool host_hup; /* the host peer closed both directions, guest told */
};

struct rst_entry {
	uint32_t guest_port, host_port;
	uint16_t type;
};

struct vsock_dev {
	uint64_t guest_cid;
	char *dir; /* NULL: every REQUEST is refused */
	unsigned max_conns, nconns, nslots;
	struct vsock_conn **slots; /* max_conns entries, nslots allocated */
	struct vsock_conn *free_list;
	struct vsock_conn *hash[HASH_BUCKETS];
	struct vsock_conn *ctrl_head, *ctrl_tail;
	struct rst_entry rst[RST_RING];
	unsigned rst_head, rst_len;
	bool rx_starved;		       /* no rx buffer: wait for the driver's rx notify */
	bool rx_pushed;			       /* rx buffers used since the last interrupt */
	struct virtq_chain rx_chain, tx_chain; /* ~8 KiB each: not on the stack */
};

static void on_conn_event(struct event_source *src, uint32_t events);
static void rx_pump(struct virtio_mmio_dev *d);

/* ---- small helpers ---- */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static ssize_t sock_send(int fd, struct iovec *iov, unsigned n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r;

	do /* MSG_NOSIGNAL: a closed host peer is an error, not SIGPIPE */
		r = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Whether the host peer has closed both directions (not just its writing
 * side): asked now, since an event may be stale. */
static bool sock_hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* A packet from the host to the guest, in wire order. */
static struct vsock_hdr hdr_to_guest(const struct vsock_dev *v, uint32_t guest_port,
				     uint32_t host_port, uint16_t type, uint16_t op, uint32_t flags,
				     uint32_t len, uint32_t fwd_cnt)
{
	return (struct vsock_hdr){
		.src_cid = htole64(VSOCK_HOST_CID),
		.dst_cid = htole64(v->guest_cid),
		.src_port = htole32(host_port),
		.dst_port = htole32(guest_port),
		.len = htole32(len),
		.type = htole16(type),
		.op = htole16(op),
		.flags = htole32(flags),
		.buf_alloc = htole32(VSOCK_BUF_ALLOC),
		.fwd_cnt = htole32(fwd_cnt),
	};
}

/* ---- connection table ---- */

static unsigned hash_of(uint32_t guest_port, uint32_t host_port)
{
	return ((guest_port * 0x9e3779b1u) ^ host_port) % HASH_BUCKETS;
}

static struct vsock_conn *conn_find(struct vsock_dev *v, uint32_t guest_port, uint32_t host_port)
{
	for (struct vsock_conn *c = v->hash[hash_of(guest_port, host_port)]; c; c = c->hash_next)
		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
	return NULL;
}

static void hash_del(struct vsock_dev *v, struct vsock_conn *c)
{
	struct vsock_conn **p = &v->hash[hash_of(c->guest_port, c->host_port)];

	while (*p && *p != c)
		p = &(*p)->hash_next;
	if (*p)
		*p = c->hash_next;
	c->hash_next = NULL;
}

static void ctrl_add(struct vsock_dev *v, struct vsock_conn *c)
{
	if (c->in_ctrl)
		return;
	c->in_ctrl = true;
	c->ctrl_next = NULL;
	c->ctrl_prev = v->ctrl_tail;
	if (v->ctrl_tail)
		v->ctrl_tail->ctrl_next = c;
	else
		v->ctrl_head = c;
	v->ctrl_tail = c;
}

static void ctrl_del(struct vsock_dev *v, struct vsock_conn *c)
{
	if (!c->in_ctrl)
		return;
	if (c->ctrl_prev)
		c->ctrl_prev->ctrl_next = c->ctrl_next;
	else
		v->ctrl_head = c->ctrl_next;
	if (c->ctrl_next)
		c->ctrl_next->ctrl_prev = c->ctrl_prev;
	else
		v->ctrl_tail = c->ctrl_prev;
	c->ctrl_prev = c->ctrl_next = NULL;
	c->in_ctrl = false;
}

static bool ctrl_pending(const struct vsock_conn *c)
{
	return c->state == CONN_RESET || c->need_response || c->need_shutdown || c->need_credit;
}

/* A free slot, or NULL at the connection limit (or out of memory). */
static struct vsock_conn *slot_get(struct virtio_mmio_dev *d)
{
	struct vsock_dev *v = d->priv;
	struct vsock_conn *c = v->free_list;

	if (v->nconns >= v->max_conns)
		return NULL;
	if (c) {
		v->free_list = c->free_next;
		return c;
	}
	if (v->nslots >= v->max_conns || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->src = (struct event_source){ on_conn_event, d, -1 };
	v->slots[v->nslots++] = c;
	return c;
}

static void slot_put(struct vsock_dev *v, struct vsock_conn *c)
{
	c->state = CONN_FREE;
	c->free_next = v->free_list;
	v->free_list = c;
}

static void conn_close_fd(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	if (c->src.fd >= 0) {
		if (c->registered)
			event_loop_del(d->loop, &c->src);
		close(c->src.fd);
	}
	c->src.fd = -1;
	c->registered = false;
	c->watched = 0;
	free(c->buf);
	c->buf = NULL;
	c->buf_head = c->buf_len = 0;
}

/* Forgets connection C at once, sending nothing. */
static void conn_free(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	struct vsock_dev *v = d->priv;

	conn_close_fd(d, c);
	hash_del(v, c);
	ctrl_del(v, c);
	slot_put(v, c);
	v->nconns--;
}

/* Closes the host side of C and queues an RST for the guest; the slot is
 * freed once the RST is out (or the guest sends its own). */
static void conn_reset(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	conn_close_fd(d, c);
	c->state = CONN_RESET;
	c->need_response = c->need_shutdown = c->need_credit = false;
	ctrl_add(d->priv, c);
}

static void drop_all(struct virtio_mmio_dev *d)
{
	struct vsock_dev *v = d->priv;

	for (unsigned i = 0; i < v->nslots; i++)
		if (v->slots[i]->state != CONN_FREE)
			conn_free(d, v->slots[i]);
	v->rst_head = v->rst_len = 0;
	v->rx_starved = false;
	v->rx_pushed = false;
}

/* The driver sent malformed queue content: stop until it resets us. */
static void vsock_fail(struct virtio_mmio_dev *d, const char *why)
{
	virtio_mmio_fail(d, why);
	drop_all(d);
}

/* ---- flow control ---- */

/* How many more bytes the guest can take on C. Hostile counters make
 * in_flight look huge, which only stops the flow. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool wants_read(const struct virtio_mmio_dev *d, const struct vsock_conn *c)
{
	const struct vsock_dev *v = d->priv;

	return c->state == CONN_OPEN && !c->need_response && !c->host_eof && !c->guest_shut_rcv &&
	       !v->rx_starved && peer_credit(c) > 0;
}

/* Brings C's registration in the event loop in line with what it can do
 * now: EPOLLIN only while it may read, EPOLLOUT only while data waits,
 * nothing otherwise (a hang-up is reported even so, and would spin). */
static void conn_watch(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	husk_error_t err cleanup_error = NULL;
	uint32_t want = 0;
	bool reg = false;

	if (c->state == CONN_OPEN && c->src.fd >= 0) {
		if (wants_read(d, c))
			want |= EPOLLIN;
		if (c->buf_len)
			want |= EPOLLOUT;
		/* After the host's EOF only its hang-up is awaited, which
		 * epoll reports with an empty mask. */
		reg = want || (c->host_eof && !c->host_hup);
	}
	if (reg == c->registered && want == c->watched)
		return;
	if (c->registered)
		event_loop_del(d->loop, &c->src);
	c->registered = false;
	c->watched = 0;
	if (!reg)
		return;
	if (event_loop_add(d->loop, &c->src, want, &err) < 0) {
		log_warn("virtio-vsock: %s", err->msg);
		conn_reset(d, c);
		return;
	}
	c->registered = true;
	c->watched = want;
}

/* N more bytes reached the host socket. */
static void conn_forwarded(struct vsock_dev *v, struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt - c->fwd_cnt_sent >= CREDIT_UPDATE_AT) {
		c->need_credit = true;
		ctrl_add(v, c);
	}
}

/* Applies the guest's SHUTDOWN once everything it sent before has reached
 * the host: SEND becomes shutdown(SHUT_WR); both close the connection. */
static void conn_drained(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	if (c->state != CONN_OPEN || c->buf_len)
		return;
	if (c->guest_shut_send && c->guest_shut_rcv) {
		conn_reset(d, c);
		return;
	}
	if (c->guest_shut_send && !c->host_wr_shut) {
		shutdown(c->src.fd, SHUT_WR);
		c->host_wr_shut = true;
	}
}

/* Writes C's buffered guest data to the host socket. */
static void conn_flush(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = min_u32(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first },
			{ c->buf, c->buf_len - first },
		};
		ssize_t n = sock_send(c->src.fd, iov, iov[1].iov_len ? 2 : 1);
		if (n < 0 && errno != EAGAIN) {
			conn_reset(d, c);
			return;
		}
		if (n <= 0)
			break;
		c->buf_head = (c->buf_head + (uint32_t)n) & (VSOCK_BUF_ALLOC - 1);
		c->buf_len -= (uint32_t)n;
		conn_forwarded(d->priv, c, (uint32_t)n);
	}
	if (c->buf_len == 0) {
		free(c->buf); /* an idle connection holds no buffer */
		c->buf = NULL;
		c->buf_head = 0;
		conn_drained(d, c);
	}
}

/* Forwards the LEN payload bytes of tx chain CH to the host socket; what
 * the socket does not take now is kept in C's ring. */
static void conn_write(struct virtio_mmio_dev *d, struct vsock_conn *c,
		       const struct virtq_chain *ch, uint32_t len)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint32_t done = 0;

	/* The guest may have no more in flight than VSOCK_BUF_ALLOC past
	 * the fwd_cnt it last saw, which is at most fwd_cnt_sent. Counted in
	 * 64 bits: LEN comes from the guest. */
	if ((uint64_t)(uint32_t)(c->rx_cnt - c->fwd_cnt_sent) + len > VSOCK_BUF_ALLOC ||
	    (uint64_t)c->buf_len + len > VSOCK_BUF_ALLOC) {
		log_debug("virtio-vsock: guest port %" PRIu32 " sent beyond its credit; reset",
			  c->guest_port);
		conn_reset(d, c);
		return;
	}
	c->rx_cnt += len;
	if (len == 0)
		return;
	if (c->buf_len == 0) {
		ssize_t n =
			sock_send(c->src.fd, iov, iov_slice(iov, ch->out, ch->nout, HDR_LEN, len));
		if (n < 0 && errno != EAGAIN) {
			conn_reset(d, c);
			return;
		}
		done = n > 0 ? (uint32_t)n : 0;
		conn_forwarded(d->priv, c, done);
	}
	if (done < len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			conn_reset(d, c);
			return;
		}
		uint32_t rest = len - done;
		uint32_t tail = (c->buf_head + c->buf_len) & (VSOCK_BUF_ALLOC - 1);
		uint32_t first = min_u32(rest, VSOCK_BUF_ALLOC - tail);
		iov_to_buf(ch->out, ch->nout, HDR_LEN + done, c->buf + tail, first);
		iov_to_buf(ch->out, ch->nout, HDR_LEN + done + first, c->buf, rest - first);
		c->buf_len += rest;
	}
}

/* ---- the rx queue ---- */

/* Takes an rx buffer for one packet: false when there is none (then the
 * device waits for the driver's rx notify) or the ring is malformed. */
static bool rx_take(struct virtio_mmio_dev *d, struct virtq_chain *ch)
{
	struct vsock_dev *v = d->priv;
	const char *why;
	int r = virtq_pop(&d->queues[VSOCK_RX_QUEUE], d->mem, ch, &why);

	if (r < 0) {
		vsock_fail(d, why);
		return false;
	}
	if (r == 0) {
		v->rx_starved = true;
		return false;
	}
	if (ch->in_len <= HDR_LEN) {
		vsock_fail(d, "rx buffer cannot hold a header and data");
		return false;
	}
	return true;
}

static void rx_put(struct virtio_mmio_dev *d, const struct virtq_chain *ch,
		   const struct vsock_hdr *h, uint32_t len)
{
	struct vsock_dev *v = d->priv;

	buf_to_iov(ch->in, ch->nin, 0, h, HDR_LEN);
	virtq_push(&d->queues[VSOCK_RX_QUEUE], ch->head, HDR_LEN + len);
	v->rx_pushed = true;
}

/* A packet on C in rx buffer CH; it tells the guest fwd_cnt as well. */
static void conn_put(struct virtio_mmio_dev *d, struct vsock_conn *c, const struct virtq_chain *ch,
		     uint16_t op, uint32_t flags, uint32_t len)
{
	struct vsock_hdr h = hdr_to_guest(d->priv, c->guest_port, c->host_port, VSOCK_TYPE_STREAM,
					  op, flags, len, c->fwd_cnt);

	c->fwd_cnt_sent = c->fwd_cnt;
	c->need_credit = false;
	rx_put(d, ch, &h, len);
}

/* Reads host data for the guest on C, as credit and rx buffers allow. */
static void conn_read(struct virtio_mmio_dev *d, struct vsock_conn *c)
{
	struct vsock_dev *v = d->priv;
	struct virtq_chain *ch = &v->rx_chain;
	struct iovec iov[VIRTQ_MAX_SEGS];

	for (int i = 0; i < READS_PER_EVENT && wants_read(d, c); i++) {
		if (!rx_take(d, ch))
			return;
		uint64_t room = ch->in_len - HDR_LEN;
		uint32_t max = min_u32(peer_credit(c), MAX_RX_PAYLOAD);
		if (room > max)
			room = max;
		ssize_t n =
			readv(c->src.fd, iov, (int)iov_slice(iov, ch->in, ch->nin, HDR_LEN, room));
		if (n < 0) {
			virtq_unpop(&d->queues[VSOCK_RX_QUEUE]);
			if (errno != EAGAIN && errno != EINTR)
				conn_reset(d, c);
			return;
		}
		if (n == 0) {
			/* The host will send no more. It may still read (a
			 * half-close, as after `shutdown(SHUT_WR)`), unless it
			 * closed the socket: then the guest hears both. */
			c->host_eof = true;
			c->host_hup = sock_hung_up(c->src.fd);
			conn_put(d, c, ch, VSOCK_OP_SHUTDOWN,
				 VSOCK_SHUTDOWN_SEND | (c->host_hup ? VSOCK_SHUTDOWN_RCV : 0), 0);
			return;
		}
		c->tx_cnt += (uint32_t)n;
		conn_put(d, c, ch, VSOCK_OP_RW, 0, (uint32_t)n);
	}
}

/* Sends waiting control packets while the driver has rx buffers, then
 * interrupts the driver if any buffer was used. */
static void rx_pump(struct virtio_mmio_dev *d)
{
	struct vsock_dev *v = d->priv;
	struct virtq_chain *ch = &v->rx_chain;

	while (!d->broken) {
		while (v->ctrl_head && !ctrl_pending(v->ctrl_head))
			ctrl_del(v, v->ctrl_head);
		if (!v->rst_len && !v->ctrl_head)
			break;
		if (!rx_take(d, ch))
			break;
		if (v->rst_len) {
			const struct rst_entry *e = &v->rst[v->rst_head];
			struct vsock_hdr h = hdr_to_guest(v, e->guest_port, e->host_port, e->type,
							  VSOCK_OP_RST, 0, 0, 0);
			rx_put(d, ch, &h, 0);
			v->rst_head = (v->rst_head + 1) % RST_RING;
			v->rst_len--;
			continue;
		}
		struct vsock_conn *c = v->ctrl_head;
		if (c->state == CONN_RESET) {
			conn_put(d, c, ch, VSOCK_OP_RST, 0, 0);
			conn_free(d, c);
		} else if (c->need_response) {
			c->need_response = false;
			conn_put(d, c, ch, VSOCK_OP_RESPONSE, 0, 0);
			conn_watch(d, c); /* data may follow now */
		} else if (c->need_shutdown) {
			c->need_shutdown = false;
			conn_put(d, c, ch, VSOCK_OP_SHUTDOWN, c->shutdown_flags, 0);
		} else {
			conn_put(d, c, ch, VSOCK_OP_CREDIT_UPDATE, 0, 0);
		}
	}
	if (v->rx_pushed) {
		v->rx_pushed = false;
		virtio_mmio_used(d, VSOCK_RX_QUEUE);
	}
}

/* ---- host socket events ---- */

static void on_conn_event(struct event_source *src, uint32_t events)
{
	struct vsock_conn *c =
		(struct vsock_conn *)((char *)src - offsetof(struct vsock_conn, src));
	struct virtio_mmio_dev *d = src->ctx;

	pthread_mutex_lock(&d->lock);
	if (c->state != CONN_OPEN || c->src.fd < 0)
		goto out; /* stale: the connection is gone */
	if (!virtio_mmio_live(d)) {
		drop_all(d);
		goto out;
	}
	if (events & EPOLLERR) {
		int e = 0;
		socklen_t len = sizeof(e);
		if (getsockopt(c->src.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e)
			conn_reset(d, c);
	}
	if (c->state == CONN_OPEN && c->buf_len && (events & (EPOLLOUT | EPOLLHUP)))
		conn_flush(d, c);
	if (c->state == CONN_OPEN && (events & (EPOLLIN | EPOLLHUP)))
		conn_read(d, c);
	if (c->state == CONN_OPEN && (events & EPOLLHUP) && c->host_eof && !c->host_hup &&
	    sock_hung_up(c->src.fd)) {
		/* After a half-close the host peer closed altogether. */
		c->host_hup = true;
		c->need_shutdown = true;
		c->shutdown_flags = VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND;
		ctrl_add(d->priv, c);
	}
	if (c->state == CONN_OPEN)
		conn_watch(d, c);
	rx_pump(d);
out:
	pthread_mutex_unlock(&d->lock);
}

/* ---- packets from the guest ---- */

/* Answers a packet the device will not take with an RST, closing the
 * connection it names if there is one. An RST is never answered. */
static void reject(struct virtio_mmio_dev *d, struct vsock_conn *c, const struct vsock_hdr *h)
{
	struct vsock_dev *v = d->priv;

	if (h->op == VSOCK_OP_RST)
		return;
	if (c) {
		conn_reset(d, c);
		return;
	}
	if (v->rst_len == RST_RING) {
		log_debug("virtio-vsock: RST queue full; one dropped");
		return;
	}
	v->rst[(v->rst_head + v->rst_len++) % RST_RING] = (struct rst_entry){
		.guest_port = h->src_port,
		.host_port = h->dst_port,
		.type = h->type,
	};
}

/* A REQUEST: connect to DIR/<port>, non-blocking. A unix stream connect
 * never completes later: it succeeds or fails at once (EAGAIN when the
 * listener's backlog is full). */
static void conn_open(struct virtio_mmio_dev *d, const struct vsock_hdr *h)
{
	struct vsock_dev *v = d->priv;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vsock_conn *c = v->dir ? slot_get(d) : NULL;

	if (!c) {
		reject(d, NULL, h);
		return;
	}
	/* Fits: the length of DIR was checked when the device was made. */
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%" PRIu32, v->dir, h->dst_port);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_debug("virtio-vsock: guest port %" PRIu32 " to %s: %s", h->src_port,
			  addr.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		slot_put(v, c);
		reject(d, NULL, h);
		return;
	}
	*c = (struct vsock_conn){
		.src = { on_conn_event, d, fd },
		.state = CONN_OPEN,
		.guest_port = h->src_port,
		.host_port = h->dst_port,
		.need_response = true,
		.peer_buf_alloc = h->buf_alloc,
		.peer_fwd_cnt = h->fwd_cnt,
	};
	unsigned b = hash_of(c->guest_port, c->host_port);
	c->hash_next = v->hash[b];
	v->hash[b] = c;
	v->nconns++;
	ctrl_add(v, c);
}

static void guest_shutdown(struct virtio_mmio_dev *d, struct vsock_conn *c, uint32_t flags)
{
	if ((flags & VSOCK_SHUTDOWN_RCV) && !c->guest_shut_rcv) {
		c->guest_shut_rcv = true;
		shutdown(c->src.fd, SHUT_RD); /* the host's writes now fail */
	}
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->guest_shut_send = true;
	conn_drained(d, c);
}

static void tx_packet(struct virtio_mmio_dev *d, const struct virtq_chain *ch)
{
	struct vsock_dev *v = d->priv;
	struct vsock_hdr h;

	if (ch->out_len < HDR_LEN) {
		vsock_fail(d, "tx packet shorter than its header");
		return;
	}
	iov_to_buf(ch->out, ch->nout, 0, &h, HDR_LEN); /* may span buffers */
	vsock_hdr_to_host(&h);
	struct vsock_conn *c = conn_find(v, h.src_port, h.dst_port);
	if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID ||
	    h.type != VSOCK_TYPE_STREAM || h.len > ch->out_len - HDR_LEN) {
		reject(d, c, &h);
		return;
	}
	if (h.op == VSOCK_OP_REQUEST) {
		if (c)
			reject(d, c, &h); /* the connection exists: both die */
		else
			conn_open(d, &h);
		return;
	}
	if (!c) {
		reject(d, NULL, &h);
		return;
	}
	if (c->state == CONN_RESET) {
		/* Our RST is on its way; the guest's own makes it moot. */
		if (h.op == VSOCK_OP_RST)
			conn_free(d, c);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VSOCK_OP_RST: conn_free(d, c); return;
	case VSOCK_OP_SHUTDOWN: guest_shutdown(d, c, h.flags); break;
	case VSOCK_OP_RW:
		if (c->guest_shut_send)
			reject(d, c, &h); /* data after SHUTDOWN SEND */
		else
			conn_write(d, c, ch, h.len);
		break;
	case VSOCK_OP_CREDIT_UPDATE: break; /* the credit fields were taken above */
	case VSOCK_OP_CREDIT_REQUEST:
		c->need_credit = true;
		ctrl_add(v, c);
		break;
	default: /* RESPONSE (husk never connects to the guest), INVALID, unknown */
		reject(d, c, &h);
		return;
	}
	if (c->state == CONN_OPEN)
		conn_watch(d, c); /* the credit may have changed */
}

/* ---- device operations ---- */

static void vsock_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct vsock_dev *v = d->priv;

	if (q == VSOCK_TX_QUEUE) {
		struct virtq *tq = &d->queues[q];
		const char *why;
		bool pushed = false;
		int r = 0;

		while (!d->broken && (r = virtq_pop(tq, d->mem, &v->tx_chain, &why)) > 0) {
			tx_packet(d, &v->tx_chain);
			virtq_push(tq, v->tx_chain.head, 0);
			pushed = true;
		}
		if (r < 0)
			vsock_fail(d, why);
		if (pushed)
			virtio_mmio_used(d, q);
	} else if (q == VSOCK_RX_QUEUE && v->rx_starved) {
		/* Fresh rx buffers: the sockets that stopped for want of
		 * them may read again. */
		v->rx_starved = false;
		for (unsigned i = 0; i < v->nslots; i++)
			if (v->slots[i]->state == CONN_OPEN)
				conn_watch(d, v->slots[i]);
	}
	/* The event queue's buffers are kept: husk sends no events. */
	rx_pump(d);
}

static void vsock_read_config(struct virtio_mmio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct vsock_dev *v = d->priv;
	uint64_t cid = htole64(v->guest_cid);

	memcpy(data, (uint8_t *)&cid + off, len);
}

static void vsock_reset(struct virtio_mmio_dev *d)
{
	drop_all(d);
}

static void vsock_free(struct vsock_dev *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->nslots; i++)
		free(v->slots[i]);
	free(v->slots);
	free(v->dir);
	free(v);
}

static void vsock_release(struct virtio_mmio_dev *d)
{
	drop_all(d);
	vsock_free(d->priv);
	d->priv = NULL;
}

static const struct virtio_device_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nqueues = 3,
	.queue_max = VSOCK_QUEUE_MAX,
	.read_config = vsock_read_config,
	.config_len = sizeof(uint64_t),
	.queue_notify = vsock_notify,
	.reset = vsock_reset,
	.release = vsock_release,
};

/* Each connection holds a host descriptor: leave at least half of the
 * VMM's descriptors to the rest of it. */
static unsigned conn_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 < VSOCK_MAX_CONNS)
		return (unsigned)(rl.rlim_cur / 2);
	return VSOCK_MAX_CONNS;
}

struct virtio_mmio_dev *virtio_vsock_new(uint32_t guest_cid, const char *dir, husk_error_t *err)
{
	return virtio_vsock_new_limited(guest_cid, dir, conn_limit(), err);
}

struct virtio_mmio_dev *virtio_vsock_new_limited(uint32_t guest_cid, const char *dir,
						 unsigned max_conns, husk_error_t *err)
{
	struct sockaddr_un addr;

	/* 0-2 are reserved (hypervisor, loopback, host), -1 is "any". */
	if (guest_cid <= VSOCK_HOST_CID || guest_cid == UINT32_MAX) {
		husk_error_set(err, 0, "virtio-vsock: guest CID %" PRIu32 " is reserved",
			       guest_cid);
		return NULL;
	}
	if (dir && strlen(dir) + sizeof("/4294967295") > sizeof(addr.sun_path)) {
		husk_error_set(err, 0, "virtio-vsock: %s: too long for a unix socket path", dir);
		return NULL;
	}
	struct vsock_dev *v = calloc(1, sizeof(*v));
	struct virtio_mmio_dev *d = malloc(sizeof(*d));
	if (v) {
		v->guest_cid = guest_cid;
		v->max_conns = max_conns < VSOCK_MAX_CONNS ? max_conns : VSOCK_MAX_CONNS;
		v->slots = calloc(v->max_conns ? v->max_conns : 1, sizeof(*v->slots));
		v->dir = dir ? strdup(dir) : NULL;
	}
	if (!d || !v || !v->slots || (dir && !v->dir)) {
		vsock_free(v);
		free(d);
		husk_error_set(err, ENOMEM, "virtio-vsock");
		return NULL;
	}
	virtio_mmio_init(d, &vsock_ops, v);
	return d;
}
