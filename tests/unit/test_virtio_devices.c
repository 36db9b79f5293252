/* virtio devices (vmm/virtio/net.c, console.c) driven as a hostile guest
 * driver would drive them, without KVM: the transport is set up through its
 * registers over synthetic guest memory and the device's notification
 * callback is called directly. Run alone with `unit-tests virtio_`. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/unit/tap.h"
#include "vmm/event_loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/devices.h"

#define MEM_SIZE (16 << 20)
#define BUF_GPA 0x100000

/* Queue Q's rings, one 64 KiB area each (room for 256 entries). */
static uint64_t desc_gpa(unsigned q)
{
	return 0x10000 * (q + 1);
}
static uint64_t avail_gpa(unsigned q)
{
	return desc_gpa(q) + 0x1000;
}
static uint64_t used_gpa(unsigned q)
{
	return desc_gpa(q) + 0x2000;
}

static void reg_write(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, true);
}

static uint32_t reg_read(struct virtio_mmio_dev *d, uint64_t off)
{
	uint32_t v = 0;
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, false);
	return v;
}

/* What a driver does up to DRIVER_OK: VERSION_1 only, NQ queues of SIZE. */
static bool dev_start(struct virtio_mmio_dev *d, const struct guest_memory *m, unsigned nq,
		      uint16_t size)
{
	d->mem = m;
	reg_write(d, 0x070, 1 | 2);
	reg_write(d, 0x024, 1);
	reg_write(d, 0x020, 1); /* VIRTIO_F_VERSION_1 */
	reg_write(d, 0x070, 1 | 2 | 8);
	for (unsigned q = 0; q < nq; q++) {
		reg_write(d, 0x030, q);
		reg_write(d, 0x038, size);
		reg_write(d, 0x080, (uint32_t)desc_gpa(q));
		reg_write(d, 0x090, (uint32_t)avail_gpa(q));
		reg_write(d, 0x0a0, (uint32_t)used_gpa(q));
		reg_write(d, 0x044, 1);
	}
	reg_write(d, 0x070, 1 | 2 | 8 | 4);
	return (reg_read(d, 0x070) & 0xff) == (1 | 2 | 8 | 4);
}

static void desc(const struct guest_memory *m, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct virtq_desc *t = guest_mem_ptr(m, desc_gpa(q), 16 * 256);
	t[i] = (struct virtq_desc){ addr, len, flags, next };
}

static void offer(const struct guest_memory *m, unsigned q, uint16_t size, uint16_t head)
{
	struct virtq_avail *a = guest_mem_ptr(m, avail_gpa(q), 6 + 2 * 256);
	a->ring[a->idx % size] = head;
	__atomic_store_n(&a->idx, (uint16_t)(a->idx + 1), __ATOMIC_RELEASE);
}

static uint16_t used_idx(const struct guest_memory *m, unsigned q)
{
	struct virtq_used *u = guest_mem_ptr(m, used_gpa(q), 6 + 8 * 256);
	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

static void notify(struct virtio_mmio_dev *d, unsigned q)
{
	pthread_mutex_lock(&d->lock);
	d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void dev_free(struct virtio_mmio_dev **d)
{
	if (*d) {
		virtio_mmio_release(*d);
		free(*d);
	}
}
#define cleanup_dev __attribute__((cleanup(dev_free)))

static void mem_free(struct guest_memory *m)
{
	guest_mem_release(m);
}
#define cleanup_mem __attribute__((cleanup(mem_free)))

static void loop_free(struct event_loop *l)
{
	if (l->epfd >= 0)
		event_loop_release(l);
}
#define cleanup_loop __attribute__((cleanup(loop_free)))

/* ---- virtio-net: the header sent is the header checked ------------------ */

#define NET_TXQ 1
#define NET_HDR_LEN 12
#define FRAME_LEN 60

struct tx_thread {
	struct virtio_mmio_dev *d;
	pid_t tid;
};

static void *tx_run(void *arg)
{
	struct tx_thread *t = arg;
	__atomic_store_n(&t->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	notify(t->d, NET_TXQ);
	return NULL;
}

/* Whether thread TID sleeps in writev(), from /proc/self/task/TID/syscall
 * (its first field is the number of the system call a blocked task is in). */
static bool blocked_in_writev(pid_t tid)
{
	char path[64], buf[64] = "";
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return got && atol(buf) == SYS_writev && buf[0] != 'r'; /* "running" */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define cleanup_fd __attribute__((cleanup(close_fd)))

/* The tap is a stream socket here whose send buffer is full, so the
 * device's writev() sleeps before it copies anything; meanwhile a "second
 * vCPU" turns the header it checked into one asking for an offload that was
 * not negotiated (UDP segmentation and a partial checksum). What reaches
 * the tap must still be the header that was checked. */
TEST(virtio_net_tx_sends_the_header_it_checked)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	cleanup_fd int tap = -1, peer = -1;
	int sv[2];
	cleanup_loop struct event_loop loop = { .epfd = -1, .stop_fd = -1 };

	CHECK_INT(guest_mem_init(&m, MEM_SIZE, &err), 0);
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	tap = sv[0];
	peer = sv[1];
	CHECK_INT(event_loop_init(&loop, &err), 0);
	struct virtio_net_opts o = { .tap_fd = tap, .mac = { 2, 0, 0, 0, 0, 1 } };
	cleanup_dev struct virtio_mmio_dev *d = virtio_net_new(&o, &err);
	CHECK(d != NULL);
	d->loop = &loop;
	CHECK(dev_start(d, &m, 2, 16));

	/* Fill the send buffer (the device's dup shares the file status). */
	static char fill[1 << 16];
	size_t filled = 0;
	CHECK_INT(fcntl(tap, F_SETFL, O_NONBLOCK), 0);
	for (;;) {
		ssize_t n = write(tap, fill, sizeof(fill));
		if (n < 0)
			break;
		filled += (size_t)n;
	}
	CHECK_INT(errno, EAGAIN);
	CHECK_INT(fcntl(tap, F_SETFL, 0), 0);

	uint8_t *hdr = guest_mem_ptr(&m, BUF_GPA, NET_HDR_LEN);
	uint8_t *frame = guest_mem_ptr(&m, BUF_GPA + 0x100, FRAME_LEN);
	memset(hdr, 0, NET_HDR_LEN); /* no offload: what was negotiated */
	memset(frame, 0x5a, FRAME_LEN);
	desc(&m, NET_TXQ, 0, BUF_GPA, NET_HDR_LEN, VIRTQ_DESC_F_NEXT, 1);
	desc(&m, NET_TXQ, 1, BUF_GPA + 0x100, FRAME_LEN, 0, 0);
	offer(&m, NET_TXQ, 16, 0);

	struct tx_thread t = { d, 0 };
	pthread_t th;
	CHECK_INT(pthread_create(&th, NULL, tx_run, &t), 0);
	bool blocked = false;
	for (int i = 0; i < 10000 && !blocked; i++) {
		pid_t tid = __atomic_load_n(&t.tid, __ATOMIC_ACQUIRE);
		blocked = tid && blocked_in_writev(tid);
		if (!blocked)
			usleep(1000);
	}
	hdr[0] = 1; /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
	hdr[1] = 3; /* VIRTIO_NET_HDR_GSO_UDP */

	/* Drain what was there, then read the frame. */
	static char sink[1 << 16];
	size_t want = filled + NET_HDR_LEN + FRAME_LEN, got = 0;
	uint8_t sent[NET_HDR_LEN + FRAME_LEN];
	while (got < want) {
		size_t room = want - got;
		char *dst = got < filled ? sink : (char *)sent + (got - filled);
		if (got < filled && room > filled - got)
			room = filled - got;
		if (got < filled && room > sizeof(sink))
			room = sizeof(sink);
		ssize_t n = read(peer, dst, room);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	pthread_join(th, NULL);
	CHECK(blocked);
	CHECK_INT(got, want);
	CHECK_INT(sent[0], 0);
	CHECK_INT(sent[1], 0);
	CHECK(memcmp(sent + NET_HDR_LEN, frame, FRAME_LEN) == 0);
	CHECK_INT(used_idx(&m, NET_TXQ), 1);
}

/* ---- virtio-console: output costs what is bounded ---------------------- */

#define CON_TXQ 1
#define CON_QSIZE 128

static off_t fd_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

/* One chain of 128 descriptors, each naming the same 256 KiB of guest
 * memory: 32 MiB claimed. The console copies a bounded part of it. */
TEST(virtio_console_overlapping_chain_is_bounded)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	static struct console_log log;
	cleanup_fd int out = memfd_create("console", MFD_CLOEXEC);

	CHECK(out >= 0);
	CHECK_INT(guest_mem_init(&m, MEM_SIZE, &err), 0);
	console_log_init(&log, out);
	cleanup_dev struct virtio_mmio_dev *d = virtio_console_new(&log, -1, &err);
	CHECK(d != NULL);
	CHECK(dev_start(d, &m, 2, CON_QSIZE));

	const uint32_t len = 256 << 10;
	char *buf = guest_mem_ptr(&m, BUF_GPA, len);
	memset(buf, 'x', len);
	static const char last[] = "\nKernel panic - the end\n";
	memcpy(buf + VIRTIO_CONSOLE_CHAIN_MAX - (sizeof(last) - 1), last, sizeof(last) - 1);
	for (uint16_t i = 0; i < CON_QSIZE; i++)
		desc(&m, CON_TXQ, i, BUF_GPA, len, i + 1 < CON_QSIZE ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	offer(&m, CON_TXQ, CON_QSIZE, 0);
	notify(d, CON_TXQ);

	CHECK_INT(used_idx(&m, CON_TXQ), 1);
	CHECK(reg_read(d, 0x070) == (1 | 2 | 8 | 4)); /* not broken */
	CHECK(fd_size(out) <= VIRTIO_CONSOLE_CHAIN_MAX);
	CHECK(fd_size(out) > 0);
	/* The ring keeps the end of what was taken. */
	char panic[64];
	CHECK(console_log_find_panic(&log, panic, sizeof(panic)));
	CHECK_STR(panic, "Kernel panic - the end");
	pthread_mutex_destroy(&log.lock);
}

/* A queue full of such chains is taken over several turns of the event
 * loop: each notification copies a bounded amount and kicks the queue
 * again for the rest. */
TEST(virtio_console_output_per_turn_is_bounded)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	static struct console_log log;
	cleanup_fd int out = memfd_create("console", MFD_CLOEXEC);
	const unsigned nchains = 16, per = CON_QSIZE / 16;
	const uint32_t len = 256 << 10;

	CHECK(out >= 0);
	CHECK_INT(guest_mem_init(&m, MEM_SIZE, &err), 0);
	console_log_init(&log, out);
	cleanup_dev struct virtio_mmio_dev *d = virtio_console_new(&log, -1, &err);
	CHECK(d != NULL);
	CHECK(dev_start(d, &m, 2, CON_QSIZE));
	/* The transport's eventfd for the queue, as virtio_mmio_attach()
	 * makes it (released with the device). */
	d->notify[CON_TXQ].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(d->notify[CON_TXQ].fd >= 0);

	memset(guest_mem_ptr(&m, BUF_GPA, len), 'y', len);
	for (unsigned c = 0; c < nchains; c++) {
		for (unsigned i = 0; i < per; i++) {
			uint16_t k = (uint16_t)(c * per + i);
			desc(&m, CON_TXQ, k, BUF_GPA, len, i + 1 < per ? VIRTQ_DESC_F_NEXT : 0,
			     (uint16_t)(k + 1));
		}
		offer(&m, CON_TXQ, CON_QSIZE, (uint16_t)(c * per));
	}

	unsigned turns = 0;
	off_t before = 0;
	uint64_t kicks;
	while (used_idx(&m, CON_TXQ) < nchains && turns < nchains) {
		notify(d, CON_TXQ);
		turns++;
		off_t now = fd_size(out);
		CHECK(now - before <= 4 * VIRTIO_CONSOLE_CHAIN_MAX);
		before = now;
		if (used_idx(&m, CON_TXQ) < nchains)
			CHECK_INT(read(d->notify[CON_TXQ].fd, &kicks, sizeof(kicks)), 8);
	}
	CHECK_INT(used_idx(&m, CON_TXQ), nchains);
	CHECK(turns > 1);
	CHECK_INT(fd_size(out), (off_t)nchains * VIRTIO_CONSOLE_CHAIN_MAX);
	pthread_mutex_destroy(&log.lock);
}

/* The log ring takes a write longer than itself, and one across its end,
 * in bulk, and keeps exactly the last bytes in order. */
TEST(virtio_console_log_ring_keeps_the_tail)
{
	static struct console_log log;
	static char big[3 * CONSOLE_LOG_RING];
	static const char msg[] = "\nKernel panic - across the end\n";
	char panic[64];

	console_log_init(&log, -1);
	memset(big, 'z', sizeof(big));
	console_log_write(&log, big, CONSOLE_LOG_RING - 10);
	console_log_write(&log, msg, sizeof(msg) - 1);
	CHECK(log.wrapped);
	CHECK(console_log_find_panic(&log, panic, sizeof(panic)));
	CHECK_STR(panic, "Kernel panic - across the end");

	memcpy(big + sizeof(big) - (sizeof(msg) - 1), msg, sizeof(msg) - 1);
	console_log_write(&log, big, sizeof(big));
	CHECK(console_log_find_panic(&log, panic, sizeof(panic)));
	CHECK_STR(panic, "Kernel panic - across the end");
	CHECK(memcmp(log.ring + (log.pos + CONSOLE_LOG_RING - 1) % CONSOLE_LOG_RING, "\n", 1) == 0);
	CHECK(log.ring[log.pos] == 'z'); /* the oldest byte kept */
	pthread_mutex_destroy(&log.lock);
}

/* ---- virtio-rng: entropy per request and per turn is bounded ----------- */

#define RNG_QSIZE 64

/* Chains of 8 descriptors each naming the same 1 MiB: 8 MiB asked for
 * per chain, a whole queue of them. Each request gets at most the cap,
 * and each notification serves a bounded amount, the rest on later turns. */
TEST(virtio_rng_overlapping_chains_are_bounded)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	const unsigned per = 8, nchains = RNG_QSIZE / 8;
	const uint32_t len = 1 << 20;

	CHECK_INT(guest_mem_init(&m, MEM_SIZE, &err), 0);
	cleanup_dev struct virtio_mmio_dev *d = virtio_rng_new(&err);
	CHECK(d != NULL);
	CHECK(dev_start(d, &m, 1, RNG_QSIZE));
	d->notify[0].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(d->notify[0].fd >= 0);
	for (unsigned c = 0; c < nchains; c++) {
		for (unsigned i = 0; i < per; i++) {
			uint16_t k = (uint16_t)(c * per + i);
			desc(&m, 0, k, BUF_GPA, len,
			     VIRTQ_DESC_F_WRITE | (i + 1 < per ? VIRTQ_DESC_F_NEXT : 0),
			     (uint16_t)(k + 1));
		}
		offer(&m, 0, RNG_QSIZE, (uint16_t)(c * per));
	}

	struct virtq_used *u = guest_mem_ptr(&m, used_gpa(0), 6 + 8 * 256);
	unsigned turns = 0;
	uint16_t seen = 0;
	uint64_t kicks;
	while (used_idx(&m, 0) < nchains && turns < nchains) {
		notify(d, 0);
		turns++;
		uint64_t given = 0;
		for (; seen < used_idx(&m, 0); seen++) {
			CHECK(u->ring[seen % RNG_QSIZE].len <= VIRTIO_RNG_CHAIN_MAX);
			given += u->ring[seen % RNG_QSIZE].len;
		}
		CHECK(given > 0 && given <= 4 * VIRTIO_RNG_CHAIN_MAX);
		if (used_idx(&m, 0) < nchains)
			CHECK_INT(read(d->notify[0].fd, &kicks, sizeof(kicks)), 8);
	}
	CHECK_INT(used_idx(&m, 0), nchains);
	CHECK(turns > 1);
}
