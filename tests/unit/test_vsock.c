/* Unit tests for virtio-vsock without KVM: the test plays the guest driver
 * on split rings it lays out by hand in a guest_memory, calls the device's
 * queue_notify as the transport would (with the lock held), and runs the
 * device's event loop a step at a time. Host peers are unix sockets in a
 * temporary directory, served by the test itself or by an echo thread. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "tests/unit/tap.h"
#include "vmm/event_loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/vsock_proto.h"

#define GUEST_CID 3
#define QSIZE 64
#define HDR ((uint32_t)sizeof(struct vsock_hdr))

/* Guest memory layout. */
#define RING_GPA(q) (0x10000ULL * ((q) + 1)) /* desc; avail +4K; used +8K */
#define RX_BASE 0x100000ULL
#define RX_STRIDE 0x5000ULL
#define RX_PAYLOAD 16384     /* data bytes per rx buffer */
#define RX_SLOTS (QSIZE / 2) /* two descriptors per slot */
#define TX_BASE 0x400000ULL
#define TX_STRIDE 0x11000ULL /* header + 64 KiB of payload + slack */
#define TX_BATCH 16	     /* packets per kick: 3 descriptors each */

#define GUEST_BUF (256 * 1024) /* what the test guest advertises */

struct ring {
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t avail_idx, used_seen;
};

struct tguest {
	bool ready;
	struct guest_memory mem;
	struct event_loop loop;
	struct virtio_mmio_dev *d;
	struct ring rx, tx, ev;
	unsigned tx_batch;
	char dir[64];
	char paths[4][128]; /* host sockets to remove at the end */
	unsigned npaths;
};

/* ---- the fake guest driver ---- */

static void ring_map(struct tguest *g, struct ring *r, unsigned q)
{
	r->desc = guest_mem_ptr(&g->mem, RING_GPA(q), 16 * QSIZE);
	r->avail = guest_mem_ptr(&g->mem, RING_GPA(q) + 0x1000, 6 + 2 * QSIZE);
	r->used = guest_mem_ptr(&g->mem, RING_GPA(q) + 0x2000, 6 + 8 * QSIZE);
}

static void lock_notify(struct tguest *g, unsigned q)
{
	pthread_mutex_lock(&g->d->lock);
	if (virtio_mmio_live(g->d))
		g->d->ops->queue_notify(g->d, q);
	pthread_mutex_unlock(&g->d->lock);
}

static void avail_add(struct ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx % QSIZE] = head;
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

/* Rx slot I: even slots split header and data over two descriptors (at
 * separate addresses), odd ones use one, as Linux does since 6.x. */
static void rx_post(struct tguest *g, unsigned i)
{
	uint64_t base = RX_BASE + i * RX_STRIDE;
	struct virtq_desc *d = &g->rx.desc[2 * i];

	if (i % 2 == 0) {
		d[0] = (struct virtq_desc){ base, HDR, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
					    (uint16_t)(2 * i + 1) };
		d[1] = (struct virtq_desc){ base + 0x100, RX_PAYLOAD, VIRTQ_DESC_F_WRITE, 0 };
	} else {
		d[0] = (struct virtq_desc){ base, HDR + RX_PAYLOAD, VIRTQ_DESC_F_WRITE, 0 };
	}
	avail_add(&g->rx, (uint16_t)(2 * i));
}

static void rx_kick(struct tguest *g)
{
	lock_notify(g, VSOCK_RX_QUEUE);
}

/* Takes the next packet the device put in the rx queue (header in host
 * order, payload copied to PAYLOAD up to CAP) and posts its buffer again.
 * False when there is none; aborts the test run on a malformed one. */
static bool rx_get(struct tguest *g, struct vsock_hdr *h, uint8_t *payload, uint32_t cap,
		   uint32_t *len)
{
	uint16_t used = __atomic_load_n(&g->rx.used->idx, __ATOMIC_ACQUIRE);

	if (used == g->rx.used_seen)
		return false;
	struct virtq_used_elem e = g->rx.used->ring[g->rx.used_seen % QSIZE];
	g->rx.used_seen++;
	if (e.id % 2 || e.id >= QSIZE || e.len < HDR) {
		fprintf(stderr, "bad used element id %u len %u\n", e.id, e.len);
		abort();
	}
	unsigned slot = e.id / 2;
	uint64_t base = RX_BASE + slot * RX_STRIDE;
	uint8_t *hp = guest_mem_ptr(&g->mem, base, HDR);
	uint8_t *data = guest_mem_ptr(&g->mem, base + (slot % 2 == 0 ? 0x100 : HDR), RX_PAYLOAD);
	memcpy(h, hp, HDR);
	vsock_hdr_to_host(h);
	if (e.len != HDR + h->len || h->len > RX_PAYLOAD) {
		fprintf(stderr, "used length %u for a packet of %u bytes\n", e.len, h->len);
		abort();
	}
	*len = h->len;
	if (payload)
		memcpy(payload, data, h->len < cap ? h->len : cap);
	rx_post(g, slot);
	return true;
}

static struct vsock_hdr mk(uint16_t op, uint32_t gport, uint32_t hport, uint32_t len,
			   uint32_t flags, uint32_t fwd_cnt)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = gport,
		.dst_port = hport,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = GUEST_BUF,
		.fwd_cnt = fwd_cnt,
	};
}

/* Queues one tx packet: HDR_BYTES bytes of header H (in host order; fewer
 * than 44 makes a truncated packet), split after SPLIT bytes into two
 * descriptors when SPLIT is within it, and LEN bytes of PAYLOAD in a third
 * descriptor. */
static void tx_queue_raw(struct tguest *g, const struct vsock_hdr *h, uint32_t hdr_bytes,
			 uint32_t split, const void *payload, uint32_t len)
{
	struct vsock_hdr le = {
		.src_cid = htole64(h->src_cid),
		.dst_cid = htole64(h->dst_cid),
		.src_port = htole32(h->src_port),
		.dst_port = htole32(h->dst_port),
		.len = htole32(h->len),
		.type = htole16(h->type),
		.op = htole16(h->op),
		.flags = htole32(h->flags),
		.buf_alloc = htole32(h->buf_alloc),
		.fwd_cnt = htole32(h->fwd_cnt),
	};
	unsigned k = g->tx_batch++;
	uint64_t base = TX_BASE + k * TX_STRIDE;
	uint16_t d0 = (uint16_t)(3 * k), n = d0;
	struct virtq_desc *dt = g->tx.desc;

	if (g->tx_batch > TX_BATCH || len > TX_STRIDE - 0x200)
		abort();
	memcpy(guest_mem_ptr(&g->mem, base, HDR), &le, HDR);
	if (split > 0 && split < hdr_bytes) {
		dt[n] = (struct virtq_desc){ base, split, VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1) };
		n++;
		dt[n] = (struct virtq_desc){ base + split, hdr_bytes - split, 0, 0 };
	} else {
		dt[n] = (struct virtq_desc){ base, hdr_bytes, 0, 0 };
	}
	if (len) {
		memcpy(guest_mem_ptr(&g->mem, base + 0x100, len), payload, len);
		dt[n].flags |= VIRTQ_DESC_F_NEXT;
		dt[n].next = (uint16_t)(n + 1);
		n++;
		dt[n] = (struct virtq_desc){ base + 0x100, len, 0, 0 };
	}
	avail_add(&g->tx, d0);
}

static void tx_queue(struct tguest *g, const struct vsock_hdr *h, const void *payload,
		     unsigned split)
{
	tx_queue_raw(g, h, HDR, split, payload, h->len);
}

/* Notifies the tx queue; true when the device took every packet. */
static bool tx_kick(struct tguest *g)
{
	lock_notify(g, VSOCK_TX_QUEUE);
	g->tx_batch = 0;
	g->tx.used_seen = __atomic_load_n(&g->tx.used->idx, __ATOMIC_ACQUIRE);
	return g->tx.used_seen == g->tx.avail_idx;
}

static void send1(struct tguest *g, const struct vsock_hdr *h, const void *payload)
{
	tx_queue(g, h, payload, 0);
	tx_kick(g);
}

/* One round of the device's event loop (event_loop_run blocks). */
static void pump(struct tguest *g, int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(g->loop.epfd, evs, 32, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct event_source *src = evs[i].data.ptr;
		if (src)
			src->fn(src, evs[i].events);
	}
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Waits up to 2 s for the next rx packet. */
static bool expect(struct tguest *g, struct vsock_hdr *h, uint8_t *payload, uint32_t cap,
		   uint32_t *len)
{
	double end = now() + 2;
	uint32_t dummy;

	do {
		if (rx_get(g, h, payload, cap, len ? len : &dummy)) {
			rx_kick(g);
			return true;
		}
		pump(g, 5);
	} while (now() < end);
	return false;
}

/* True when no packet arrives for MS milliseconds of running the loop (a
 * packet that does arrive is left in the ring). */
static bool quiet(struct tguest *g, int ms)
{
	double end = now() + ms / 1e3;

	do
		pump(g, 2);
	while (now() < end &&
	       __atomic_load_n(&g->rx.used->idx, __ATOMIC_ACQUIRE) == g->rx.used_seen);
	return __atomic_load_n(&g->rx.used->idx, __ATOMIC_ACQUIRE) == g->rx.used_seen;
}

static void guest_teardown(struct tguest *g)
{
	if (g->d) {
		virtio_mmio_release(g->d); /* closes irqfd */
		free(g->d);
	}
	if (g->ready) {
		event_loop_release(&g->loop);
		guest_mem_release(&g->mem);
	}
	for (unsigned i = 0; i < g->npaths; i++)
		unlink(g->paths[i]);
	if (g->dir[0])
		rmdir(g->dir);
}
#define cleanup_guest __attribute__((cleanup(guest_teardown)))

/* A device for guest CID 3 with its three queues live and RX_BUFS rx
 * buffers posted; host sockets in a fresh directory unless NO_DIR. */
static int guest_setup(struct tguest *g, bool no_dir, unsigned rx_bufs)
{
	husk_error_t err cleanup_error = NULL;

	*g = (struct tguest){ 0 };
	strcpy(g->dir, "/tmp/husk-vsock-XXXXXX");
	if (!mkdtemp(g->dir)) {
		g->dir[0] = 0;
		return -1;
	}
	if (guest_mem_init(&g->mem, 16 << 20, &err) < 0)
		return -1;
	if (event_loop_init(&g->loop, &err) < 0) {
		guest_mem_release(&g->mem);
		return -1;
	}
	g->ready = true;
	g->d = virtio_vsock_new(GUEST_CID, no_dir ? NULL : g->dir, &err);
	if (!g->d)
		return -1;
	struct virtio_mmio_dev *d = g->d;
	d->mem = &g->mem;
	d->loop = &g->loop;
	d->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
	d->driver_features = VIRTIO_F_VERSION_1;
	struct ring *rings[3] = { &g->rx, &g->tx, &g->ev };
	for (unsigned q = 0; q < 3; q++) {
		struct virtq *vq = &d->queues[q];
		const char *why;
		vq->size = QSIZE;
		vq->desc_gpa = RING_GPA(q);
		vq->avail_gpa = RING_GPA(q) + 0x1000;
		vq->used_gpa = RING_GPA(q) + 0x2000;
		if (virtq_activate(vq, d->ops->queue_max, &g->mem, &why) < 0)
			return -1;
		vq->ready = true;
		ring_map(g, rings[q], q);
	}
	for (unsigned i = 0; i < rx_bufs && i < RX_SLOTS; i++)
		rx_post(g, i);
	/* The event queue gets buffers too, which the device must keep. */
	for (uint16_t i = 0; i < 4; i++) {
		g->ev.desc[i] = (struct virtq_desc){ RX_BASE + RX_SLOTS * RX_STRIDE + 8 * i, 4,
						     VIRTQ_DESC_F_WRITE, 0 };
		avail_add(&g->ev, i);
	}
	lock_notify(g, VSOCK_EVENT_QUEUE);
	return 0;
}

/* A listening unix socket at DIR/PORT. */
static int listen_port(struct tguest *g, uint32_t port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/%u", g->dir, port);
	if (g->npaths < 4)
		snprintf(g->paths[g->npaths++], sizeof(g->paths[0]), "%s", a.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool is(const struct vsock_hdr *h, uint16_t op, uint32_t gport, uint32_t hport)
{
	return h->op == op && h->dst_port == gport && h->src_port == hport &&
	       h->src_cid == VSOCK_HOST_CID && h->dst_cid == GUEST_CID;
}

/* REQUEST from GPORT to HPORT; true on a RESPONSE. */
static bool open_conn(struct tguest *g, uint32_t gport, uint32_t hport)
{
	struct vsock_hdr h = mk(VSOCK_OP_REQUEST, gport, hport, 0, 0, 0);

	send1(g, &h, NULL);
	return expect(g, &h, NULL, 0, NULL) && is(&h, VSOCK_OP_RESPONSE, gport, hport) &&
	       h.type == VSOCK_TYPE_STREAM && h.buf_alloc == VSOCK_BUF_ALLOC;
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	if (!dir)
		return -1;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

static uint64_t irq_count(struct tguest *g)
{
	uint64_t v = 0;
	if (read(g->d->irqfd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i ^ (i >> 8) ^ (i >> 17)) * 31 + 7);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* A guest application writing pattern data on one connection, within
 * the device's credit. */
struct sender {
	uint32_t gport, hport;
	uint64_t sent, total;
	uint32_t dev_alloc, dev_fwd;
	bool bad; /* a packet other than CREDIT_UPDATE came */
};

/* One round: queue what credit allows, kick, run the loop once, take the
 * device's credit updates. False when nothing happened. */
static bool send_step(struct tguest *g, struct sender *s)
{
	static uint8_t chunk[16384];
	struct vsock_hdr h;
	unsigned queued = 0;
	bool got = false;
	uint32_t len;

	while (queued < TX_BATCH && s->sent < s->total) {
		uint32_t credit = s->dev_alloc - ((uint32_t)s->sent - s->dev_fwd);
		uint32_t n = credit < sizeof(chunk) ? credit : sizeof(chunk);
		if (n > s->total - s->sent)
			n = (uint32_t)(s->total - s->sent);
		if (!n)
			break;
		for (uint32_t i = 0; i < n; i++)
			chunk[i] = pattern(s->sent + i);
		h = mk(VSOCK_OP_RW, s->gport, s->hport, n, 0, 0);
		tx_queue(g, &h, chunk, 5);
		s->sent += n;
		queued++;
	}
	if (queued && !tx_kick(g))
		s->bad = true;
	pump(g, queued ? 0 : 2);
	while (rx_get(g, &h, NULL, 0, &len)) {
		if (!is(&h, VSOCK_OP_CREDIT_UPDATE, s->gport, s->hport))
			s->bad = true;
		s->dev_alloc = h.buf_alloc;
		s->dev_fwd = h.fwd_cnt;
		got = true;
	}
	rx_kick(g);
	return queued || got;
}

/* Sends until the device grants no more credit (its host peer reads
 * nothing), so that the device holds a full buffer. */
static bool fill(struct tguest *g, struct sender *s)
{
	double end = now() + 10;

	while (now() < end && !s->bad)
		if (!send_step(g, s) && quiet(g, 30))
			return true;
	return false;
}

/* ---- an echo server thread ---- */

struct echo {
	int listen_fd;
	pthread_t thread;
	bool started;
	uint64_t bytes;
};

static void *echo_main(void *arg)
{
	struct echo *e = arg;
	int fd = accept(e->listen_fd, NULL, NULL);
	static __thread uint8_t buf[65536];

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w <= 0)
				goto out;
			off += w;
		}
		e->bytes += (uint64_t)n;
	}
out:
	close(fd);
	return NULL;
}

static void echo_stop(struct echo *e)
{
	if (e->started)
		pthread_join(e->thread, NULL);
	if (e->listen_fd > 0)
		close(e->listen_fd);
}
#define cleanup_echo __attribute__((cleanup(echo_stop)))

/* ---- tests ---- */

TEST(vsock_rejects_bad_arguments)
{
	husk_error_t err cleanup_error = NULL;
	char longdir[200];

	CHECK(!virtio_vsock_new(2, "/tmp", &err));
	CHECK(strstr(err->msg, "reserved"));
	husk_error_release(&err);
	err = NULL;
	CHECK(!virtio_vsock_new(0xffffffffu, "/tmp", &err));
	husk_error_release(&err);
	err = NULL;
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	CHECK(!virtio_vsock_new(3, longdir, &err));
	CHECK(strstr(err->msg, "too long"));
}

TEST(vsock_identity_and_config)
{
	struct tguest g cleanup_guest = { 0 };
	uint8_t cfg[8];
	uint32_t lo;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK_INT(g.d->ops->device_id, VIRTIO_ID_VSOCK);
	CHECK_INT(g.d->ops->nqueues, 3);
	CHECK_INT(g.d->ops->config_len, 8);
	uint64_t cid;
	g.d->ops->read_config(g.d, 0, cfg, 8);
	memcpy(&cid, cfg, 8);
	CHECK_INT(le64toh(cid), GUEST_CID);
	g.d->ops->read_config(g.d, 0, (uint8_t *)&lo, 4);
	CHECK_INT(lo, GUEST_CID);
	/* The event queue's buffers are kept. */
	CHECK_INT(g.ev.used->idx, 0);
}

TEST(vsock_connect_gets_response)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	struct vsock_hdr h;
	char buf[16];
	uint32_t len;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 1234)) >= 0);
	irq_count(&g);
	CHECK(open_conn(&g, 5000, 1234));
	CHECK(irq_count(&g) > 0);
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK_INT(g.ev.used->idx, 0);

	/* Both directions carry data. */
	h = mk(VSOCK_OP_RW, 5000, 1234, 5, 0, 0);
	send1(&g, &h, "hello");
	CHECK_INT(read(hfd, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_INT(write(hfd, "world!", 6), 6);
	CHECK(expect(&g, &h, (uint8_t *)buf, sizeof(buf), &len));
	CHECK(is(&h, VSOCK_OP_RW, 5000, 1234));
	CHECK_INT(len, 6);
	CHECK(!memcmp(buf, "world!", 6));
	/* Credit requested, credit given. */
	h = mk(VSOCK_OP_CREDIT_REQUEST, 5000, 1234, 0, 0, 6);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_CREDIT_UPDATE, 5000, 1234));
	CHECK_INT(h.fwd_cnt, 5);
	CHECK_INT(h.buf_alloc, VSOCK_BUF_ALLOC);
}

TEST(vsock_connect_to_missing_port_gets_rst)
{
	struct tguest g cleanup_guest = { 0 };
	struct vsock_hdr h;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	h = mk(VSOCK_OP_REQUEST, 5000, 99, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 5000, 99));
	CHECK(quiet(&g, 20));
}

TEST(vsock_without_dir_refuses_everything)
{
	struct tguest g cleanup_guest = { 0 };
	struct vsock_hdr h;

	CHECK_INT(guest_setup(&g, true, RX_SLOTS), 0);
	h = mk(VSOCK_OP_REQUEST, 5000, 1, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 5000, 1));
}

/* 10 MiB through an echo server, in packets of varying size with headers
 * split across descriptors; both sides' credit is checked throughout. */
TEST(vsock_echo_10mib_intact_within_credit)
{
	struct tguest g cleanup_guest = { 0 };
	struct echo e cleanup_echo = { .listen_fd = -1 };
	const uint64_t total = 10 << 20;
	uint64_t sent = 0, recvd = 0, h_sent = 0xcbf29ce484222325ULL, h_recv = h_sent;
	uint32_t g_tx = 0, dev_alloc = 0, dev_fwd = 0, g_fwd = 0, g_told = 0;
	uint32_t max_in_flight = 0;
	bool shut_sent = false, shut_got = false;
	cleanup_free uint8_t *chunk = malloc(65536);
	static uint8_t payload[RX_PAYLOAD];
	struct vsock_hdr h;
	uint32_t len;

	CHECK(chunk);
	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((e.listen_fd = listen_port(&g, 1000)) >= 0);
	CHECK_INT(pthread_create(&e.thread, NULL, echo_main, &e), 0);
	e.started = true;
	h = mk(VSOCK_OP_REQUEST, 5000, 1000, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RESPONSE, 5000, 1000));
	dev_alloc = h.buf_alloc;
	dev_fwd = h.fwd_cnt;

	double deadline = now() + 120;
	while (!(shut_got && recvd == total)) {
		CHECK(now() < deadline);
		unsigned queued = 0;
		while (sent < total && queued < TX_BATCH - 2) {
			uint32_t credit = dev_alloc - (g_tx - dev_fwd);
			if (credit == 0)
				break;
			uint32_t n = 1 + (uint32_t)((sent * 7919) % 40000);
			if (n > credit)
				n = credit;
			if (n > total - sent)
				n = (uint32_t)(total - sent);
			for (uint32_t i = 0; i < n; i++)
				chunk[i] = pattern(sent + i);
			h_sent = fnv(h_sent, chunk, n);
			h = mk(VSOCK_OP_RW, 5000, 1000, n, 0, g_fwd);
			tx_queue(&g, &h, chunk, queued % 3 == 0 ? 0 : 7 + queued);
			g_told = g_fwd;
			sent += n;
			g_tx += n;
			queued++;
		}
		if (sent == total && !shut_sent) {
			h = mk(VSOCK_OP_SHUTDOWN, 5000, 1000, 0, VSOCK_SHUTDOWN_SEND, g_fwd);
			tx_queue(&g, &h, NULL, 0);
			g_told = g_fwd;
			shut_sent = true;
			queued++;
		}
		if (!queued && g_fwd - g_told >= GUEST_BUF / 4) {
			h = mk(VSOCK_OP_CREDIT_UPDATE, 5000, 1000, 0, 0, g_fwd);
			tx_queue(&g, &h, NULL, 0);
			g_told = g_fwd;
			queued++;
		}
		if (queued)
			CHECK(tx_kick(&g));
		pump(&g, queued ? 0 : 2);
		while (rx_get(&g, &h, payload, sizeof(payload), &len)) {
			CHECK(h.dst_port == 5000 && h.src_port == 1000);
			dev_alloc = h.buf_alloc;
			dev_fwd = h.fwd_cnt;
			/* The device never has more in flight to the guest
			 * than the guest said it could take. */
			uint32_t in_flight = (uint32_t)(recvd + len) - g_told;
			CHECK(in_flight <= GUEST_BUF);
			if (in_flight > max_in_flight)
				max_in_flight = in_flight;
			if (h.op == VSOCK_OP_RW) {
				CHECK(!shut_got);
				for (uint32_t i = 0; i < len; i++)
					if (payload[i] != pattern(recvd + i))
						CHECK(!"echoed data differs");
				h_recv = fnv(h_recv, payload, len);
				recvd += len;
				g_fwd += len; /* the guest application reads at once */
			} else if (h.op == VSOCK_OP_SHUTDOWN) {
				CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
				shut_got = true;
			} else {
				CHECK_INT(h.op, VSOCK_OP_CREDIT_UPDATE);
			}
		}
		rx_kick(&g);
	}
	CHECK(recvd == total);
	CHECK(h_sent == h_recv);
	CHECK(e.bytes == total);
	CHECK(max_in_flight > 0);
	/* The guest closes: the device answers with RST and forgets it. */
	h = mk(VSOCK_OP_SHUTDOWN, 5000, 1000, 0, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, g_fwd);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 5000, 1000));
	h = mk(VSOCK_OP_CREDIT_UPDATE, 5000, 1000, 0, 0, g_fwd);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 5000, 1000)); /* unknown connection */
	CHECK(!g.d->broken);
}

/* The host writes 100 KiB; the guest allows 4 KiB at a time. */
TEST(vsock_host_to_guest_waits_for_credit)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	static uint8_t big[100 * 1024], got[RX_PAYLOAD];
	struct vsock_hdr h;
	uint32_t len, recvd = 0;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 7)) >= 0);
	h = mk(VSOCK_OP_REQUEST, 4000, 7, 0, 0, 0);
	h.buf_alloc = 4096;
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RESPONSE, 4000, 7));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = pattern(i);
	CHECK_INT(send(hfd, big, sizeof(big), MSG_DONTWAIT), sizeof(big));
	for (int round = 0; recvd < sizeof(big); round++) {
		CHECK(round < 100);
		uint32_t allowed = recvd + 4096;
		while (recvd < allowed && expect(&g, &h, got, sizeof(got), &len)) {
			CHECK(is(&h, VSOCK_OP_RW, 4000, 7));
			CHECK(!memcmp(got, big + recvd, len));
			recvd += len;
		}
		CHECK(recvd == allowed || recvd == sizeof(big));
		/* Nothing more until the guest reports what it consumed. */
		CHECK(quiet(&g, 10));
		h = mk(VSOCK_OP_CREDIT_UPDATE, 4000, 7, 0, 0, recvd);
		h.buf_alloc = 4096;
		send1(&g, &h, NULL);
	}
	CHECK(quiet(&g, 10));
}

/* With the host not reading, the device buffers what the guest may send
 * within its credit, then grants no more; once the host reads, the rest
 * flows and arrives intact. */
TEST(vsock_slow_host_buffers_within_credit)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	static uint8_t rbuf[65536];
	struct sender s = { 4001, 9, 0, 2 << 20, VSOCK_BUF_ALLOC, 0, false };
	uint64_t host_got = 0;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 9)) >= 0);
	CHECK(open_conn(&g, 4001, 9));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK(fill(&g, &s));
	CHECK(s.sent >= VSOCK_BUF_ALLOC);
	CHECK(s.sent < s.total);
	CHECK((uint32_t)s.sent - s.dev_fwd == s.dev_alloc); /* out of credit */
	double deadline = now() + 60;
	while (host_got < s.total) {
		CHECK(now() < deadline);
		ssize_t n = recv(hfd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		for (ssize_t i = 0; i < n; i++)
			if (rbuf[i] != pattern(host_got + (uint64_t)i))
				CHECK(!"data differs");
		if (n > 0)
			host_got += (uint64_t)n;
		send_step(&g, &s);
		CHECK(!s.bad);
	}
	CHECK(quiet(&g, 10));
	CHECK(!g.d->broken);
}

TEST(vsock_guest_over_credit_gets_rst)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	static uint8_t data[48 * 1024];
	struct vsock_hdr h;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 11)) >= 0);
	CHECK(open_conn(&g, 4002, 11));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	/* 96 KiB at once against 64 KiB of credit. */
	h = mk(VSOCK_OP_RW, 4002, 11, sizeof(data), 0, 0);
	tx_queue(&g, &h, data, 0);
	tx_queue(&g, &h, data, 0);
	CHECK(tx_kick(&g));
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4002, 11));
	CHECK(!g.d->broken);
	/* The host socket was closed: it reads the first packet, then EOF. */
	static uint8_t buf[65536];
	uint64_t n = 0;
	ssize_t r;
	while ((r = read(hfd, buf, sizeof(buf))) > 0)
		n += (uint64_t)r;
	CHECK_INT(r, 0);
	CHECK_INT(n, sizeof(data));
}

TEST(vsock_malformed_length_gets_rst)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	struct vsock_hdr h;
	char buf[8];

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 12)) >= 0);
	CHECK(open_conn(&g, 4003, 12));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	/* A header claiming 1 MiB on a chain with 4 bytes of payload. */
	h = mk(VSOCK_OP_RW, 4003, 12, 1 << 20, 0, 0);
	tx_queue_raw(&g, &h, HDR, 13, "abcd", 4);
	CHECK(tx_kick(&g));
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4003, 12));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0); /* nothing was forwarded */
	/* Huge lengths on an unknown connection: RST too. */
	h = mk(VSOCK_OP_RW, 4004, 12, 0xffffffffu, 0, 0);
	tx_queue_raw(&g, &h, HDR, 0, NULL, 0);
	CHECK(tx_kick(&g));
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4004, 12));
	CHECK(!g.d->broken);
}

TEST(vsock_truncated_header_fails_device)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	struct vsock_hdr h;
	char buf[8];

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 13)) >= 0);
	CHECK(open_conn(&g, 4005, 13));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_RW, 4005, 13, 0, 0, 0);
	tx_queue_raw(&g, &h, HDR - 1, 20, NULL, 0);
	tx_kick(&g);
	CHECK(g.d->broken);
	CHECK(g.d->status & VIRTIO_STATUS_NEEDS_RESET);
	/* The device let go of its connections. */
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	CHECK(quiet(&g, 10));
	/* A reset brings it back. */
	pthread_mutex_lock(&g.d->lock);
	g.d->ops->reset(g.d);
	g.d->broken = false;
	g.d->status &= ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&g.d->lock);
	CHECK(open_conn(&g, 4006, 13));
}

TEST(vsock_rx_buffer_too_small_fails_device)
{
	struct tguest g cleanup_guest = { 0 };
	struct vsock_hdr h;

	CHECK_INT(guest_setup(&g, false, 0), 0);
	g.rx.desc[0] = (struct virtq_desc){ RX_BASE, HDR - 4, VIRTQ_DESC_F_WRITE, 0 };
	avail_add(&g.rx, 0);
	h = mk(VSOCK_OP_REQUEST, 5000, 99, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(g.d->broken);
	CHECK_INT(g.rx.used->idx, 0);
}

TEST(vsock_header_split_three_ways)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1;
	struct vsock_hdr h = mk(VSOCK_OP_REQUEST, 4007, 14, 0, 0, 0), le;
	uint8_t *p;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 14)) >= 0);
	/* Header bytes in three descriptors: 5 + 30 + 9. */
	le = h; /* x86 is little-endian; the device converts regardless */
	p = guest_mem_ptr(&g.mem, TX_BASE, HDR);
	memcpy(p, &le, HDR);
	g.tx.desc[0] = (struct virtq_desc){ TX_BASE, 5, VIRTQ_DESC_F_NEXT, 1 };
	g.tx.desc[1] = (struct virtq_desc){ TX_BASE + 5, 30, VIRTQ_DESC_F_NEXT, 2 };
	g.tx.desc[2] = (struct virtq_desc){ TX_BASE + 35, 9, 0, 0 };
	avail_add(&g.tx, 0);
	CHECK(tx_kick(&g));
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RESPONSE, 4007, 14));
}

TEST(vsock_hostile_headers_get_rst)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	struct vsock_hdr h;
	char buf[8];

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 15)) >= 0);

	/* Someone else's CID, or not for the host. */
	h = mk(VSOCK_OP_REQUEST, 4010, 15, 0, 0, 0);
	h.src_cid = 7;
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4010, 15));
	h = mk(VSOCK_OP_REQUEST, 4011, 15, 0, 0, 0);
	h.dst_cid = 5;
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4011, 15));
	/* Seqpacket is not offered: RST of the same type. */
	h = mk(VSOCK_OP_REQUEST, 4012, 15, 0, 0, 0);
	h.type = 2;
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4012, 15));
	CHECK_INT(h.type, 2);
	/* Packets for no connection; an RST for none gets no answer. */
	h = mk(VSOCK_OP_RW, 4013, 15, 3, 0, 0);
	send1(&g, &h, "xyz");
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4013, 15));
	h = mk(VSOCK_OP_RST, 4013, 15, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(quiet(&g, 20));
	/* None of those connected anything. */
	struct pollfd p = { lfd, POLLIN, 0 };
	CHECK_INT(poll(&p, 1, 0), 0);

	/* On a live connection: an unknown op, then RESPONSE from the guest. */
	CHECK(open_conn(&g, 4014, 15));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(99, 4014, 15, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4014, 15));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	close(hfd);
	CHECK(open_conn(&g, 4015, 15));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_RESPONSE, 4015, 15, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4015, 15));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	close(hfd);
	/* A second REQUEST on a live connection resets it. */
	CHECK(open_conn(&g, 4016, 15));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_REQUEST, 4016, 15, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4016, 15));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	/* A wrong CID on a live connection's ports ends it as well. */
	close(hfd);
	CHECK(open_conn(&g, 4017, 15));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_RW, 4017, 15, 2, 0, 0);
	h.src_cid = 4;
	send1(&g, &h, "no");
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4017, 15));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	CHECK(!g.d->broken);
}

/* Half-closes from either side, full closes, and SHUTDOWN RCV. */
TEST(vsock_shutdown_both_ways)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1, hfd = -1;
	struct vsock_hdr h;
	uint8_t buf[16];
	uint32_t len;

	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 16)) >= 0);

	/* The host half-closes: SHUTDOWN SEND only, and the guest may still
	 * write. When the host then closes, the guest hears both. */
	CHECK(open_conn(&g, 4020, 16));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK_INT(shutdown(hfd, SHUT_WR), 0);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_SHUTDOWN, 4020, 16));
	CHECK_INT(h.flags, VSOCK_SHUTDOWN_SEND);
	CHECK(quiet(&g, 10));
	h = mk(VSOCK_OP_RW, 4020, 16, 4, 0, 0);
	send1(&g, &h, "more");
	CHECK_INT(read(hfd, buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "more", 4));
	close(hfd);
	hfd = -1;
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_SHUTDOWN, 4020, 16));
	CHECK_INT(h.flags, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV);
	CHECK(quiet(&g, 10)); /* and no spinning on the hung-up socket */
	h = mk(VSOCK_OP_SHUTDOWN, 4020, 16, 0, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV, 0);
	send1(&g, &h, NULL);
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4020, 16));

	/* The guest half-closes after data: the host reads it, then EOF,
	 * and may still answer. */
	CHECK(open_conn(&g, 4023, 16));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_RW, 4023, 16, 5, 0, 0);
	tx_queue(&g, &h, "hello", 0);
	h = mk(VSOCK_OP_SHUTDOWN, 4023, 16, 0, VSOCK_SHUTDOWN_SEND, 0);
	tx_queue(&g, &h, NULL, 0);
	CHECK(tx_kick(&g));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 5);
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	CHECK_INT(send(hfd, "bye", 3, MSG_NOSIGNAL), 3);
	CHECK(expect(&g, &h, buf, sizeof(buf), &len));
	CHECK(is(&h, VSOCK_OP_RW, 4023, 16));
	CHECK(len == 3 && !memcmp(buf, "bye", 3));
	close(hfd);
	hfd = -1;
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_SHUTDOWN, 4023, 16));
	CHECK_INT(h.flags, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV);
	/* The guest's RST ends it without an answer. */
	h = mk(VSOCK_OP_RST, 4023, 16, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(quiet(&g, 20));
	h = mk(VSOCK_OP_RW, 4023, 16, 1, 0, 0);
	send1(&g, &h, "z");
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4023, 16)); /* gone */

	/* Data then a plain close: RW, then SHUTDOWN with both flags. */
	CHECK(open_conn(&g, 4021, 16));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	CHECK_INT(send(hfd, "x", 1, MSG_NOSIGNAL), 1);
	close(hfd);
	hfd = -1;
	CHECK(expect(&g, &h, buf, sizeof(buf), &len));
	CHECK(is(&h, VSOCK_OP_RW, 4021, 16));
	CHECK(len == 1 && buf[0] == 'x');
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_SHUTDOWN, 4021, 16));
	CHECK_INT(h.flags, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV);

	/* The guest stops receiving: the host's writes fail. */
	CHECK(open_conn(&g, 4022, 16));
	CHECK((hfd = accept(lfd, NULL, NULL)) >= 0);
	h = mk(VSOCK_OP_SHUTDOWN, 4022, 16, 0, VSOCK_SHUTDOWN_RCV, 0);
	send1(&g, &h, NULL);
	CHECK(send(hfd, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE);
	CHECK(quiet(&g, 10));
	/* Data the guest sent before its full shutdown still arrives. */
	h = mk(VSOCK_OP_RW, 4022, 16, 4, 0, 0);
	tx_queue(&g, &h, "last", 0);
	h = mk(VSOCK_OP_SHUTDOWN, 4022, 16, 0, VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV, 0);
	tx_queue(&g, &h, NULL, 0);
	CHECK(tx_kick(&g));
	CHECK(expect(&g, &h, NULL, 0, NULL));
	CHECK(is(&h, VSOCK_OP_RST, 4022, 16));
	CHECK_INT(read(hfd, buf, sizeof(buf)), 4);
	CHECK_INT(read(hfd, buf, sizeof(buf)), 0);
	CHECK(!g.d->broken);
}

/* With no rx buffers, replies wait (bounded) and none is lost. */
TEST(vsock_full_rx_queue_keeps_control_packets)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1;
	struct vsock_hdr h;
	unsigned rst = 0, resp = 0;

	CHECK_INT(guest_setup(&g, false, 0), 0);
	CHECK((lfd = listen_port(&g, 17)) >= 0);
	for (uint32_t i = 0; i < 10; i++) {
		h = mk(VSOCK_OP_REQUEST, 6000 + i, i % 2 ? 17 : 18, 0, 0, 0);
		tx_queue(&g, &h, NULL, 0);
	}
	CHECK(tx_kick(&g));
	pump(&g, 10);
	CHECK_INT(g.rx.used->idx, 0);
	for (unsigned i = 0; i < RX_SLOTS; i++)
		rx_post(&g, i);
	rx_kick(&g);
	while (expect(&g, &h, NULL, 0, NULL) && rst + resp < 10) {
		if (is(&h, VSOCK_OP_RST, h.dst_port, 18))
			rst++;
		else if (is(&h, VSOCK_OP_RESPONSE, h.dst_port, 17))
			resp++;
		if (rst + resp == 10)
			break;
	}
	CHECK_INT(rst, 5);
	CHECK_INT(resp, 5);
}

/* The number of connections is bounded; a closed one frees its slot. */
TEST(vsock_connection_limit)
{
	struct tguest g cleanup_guest = { 0 };
	cleanup_close int lfd = -1;
	static int fds[1200];
	unsigned nfds = 0, resp = 0, rst = 0;
	struct vsock_hdr h;
	struct rlimit rl;
	uint32_t len;

	for (unsigned i = 0; i < 1200; i++)
		fds[i] = -1;
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	unsigned limit = VSOCK_MAX_CONNS;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < limit)
		limit = (unsigned)(rl.rlim_cur / 2);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 2 * limit + 64)
		SKIP("too few file descriptors for both ends");
	CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
	CHECK((lfd = listen_port(&g, 19)) >= 0);
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	for (uint32_t i = 0; i < limit + 40; i += TX_BATCH) {
		for (uint32_t j = i; j < i + TX_BATCH && j < limit + 40; j++) {
			h = mk(VSOCK_OP_REQUEST, 10000 + j, 19, 0, 0, 0);
			tx_queue(&g, &h, NULL, 0);
		}
		CHECK(tx_kick(&g));
		while (rx_get(&g, &h, NULL, 0, &len)) {
			resp += h.op == VSOCK_OP_RESPONSE;
			rst += h.op == VSOCK_OP_RST;
		}
		rx_kick(&g);
		int fd;
		while (nfds < 1200 && (fd = accept(lfd, NULL, NULL)) >= 0)
			fds[nfds++] = fd;
	}
	CHECK_INT(resp, limit);
	CHECK_INT(rst, 40);
	/* The guest closes one; a new connection fits again. */
	h = mk(VSOCK_OP_RST, 10000, 19, 0, 0, 0);
	send1(&g, &h, NULL);
	CHECK(open_conn(&g, 20000, 19));
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

/* A driver reset and the VM's release close every host socket and free
 * every buffer (LSan checks the latter). */
TEST(vsock_reset_and_release_close_everything)
{
	cleanup_close int lfd = -1, a = -1, b = -1;
	static uint8_t rbuf[65536];
	uint64_t sent_on_b = 0, n = 0;
	char buf[8];
	int fds_before = count_fds();

	{
		struct tguest g cleanup_guest = { 0 };
		CHECK_INT(guest_setup(&g, false, RX_SLOTS), 0);
		CHECK((lfd = listen_port(&g, 20)) >= 0);
		CHECK(open_conn(&g, 4030, 20));
		CHECK((a = accept(lfd, NULL, NULL)) >= 0);
		pthread_mutex_lock(&g.d->lock);
		g.d->ops->reset(g.d);
		pthread_mutex_unlock(&g.d->lock);
		CHECK_INT(read(a, buf, sizeof(buf)), 0);
		CHECK(quiet(&g, 10));

		/* Connections whose host peers read nothing, each with a
		 * full buffer in the device; then the release. */
		for (uint32_t port = 4031; port < 4035; port++) {
			struct sender s = { port, 20, 0, 8 << 20, VSOCK_BUF_ALLOC, 0, false };
			CHECK(open_conn(&g, port, 20));
			CHECK(fill(&g, &s));
			if (port == 4031)
				sent_on_b = s.sent;
		}
		CHECK((b = accept(lfd, NULL, NULL)) >= 0);
		close(lfd);
		lfd = -1;
	} /* released here */
	ssize_t r;
	while ((r = read(b, rbuf, sizeof(rbuf))) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (rbuf[i] != pattern(n + (uint64_t)i))
				CHECK(!"data differs");
		n += (uint64_t)r;
	}
	CHECK_INT(r, 0);
	/* What the device still held was dropped: at least the part of its
	 * buffer not yet reported to the guest as forwarded. */
	CHECK(n + VSOCK_BUF_ALLOC / 2 < sent_on_b);
	close(a);
	close(b);
	a = b = -1;
	CHECK_INT(count_fds(), fds_before);
}
