/* libFuzzer target for the virtio-fs FUSE server (vmm/virtio/fuse_*.c):
 * `make fuzz-fuse` builds it with clang -fsanitize=fuzzer,address,undefined
 * and runs it for FUZZ_SECONDS.
 *
 * Each input is one guest session on a fresh scratch share:
 *   byte 0: share options (bit 0 read-only, bit 1 cache_always, bit 2 skip
 *           the harness's INIT so the fuzzer meets an uninitialized server,
 *           bit 3 a DAX window of DAX_WINDOW bytes, bit 4 through the
 *           virtio transport, see below)
 *   then frames: le16 LEN, le16 ROOM, u8 SPLIT, LEN bytes of request.
 * The request goes to the server in up to 8 pieces (SPLIT picks where),
 * each in a heap block of its exact size, and the reply into ROOM bytes,
 * so AddressSanitizer sees any byte read or written outside them. Node and
 * handle ids are small numbers (slot + 1), so the fuzzer finds live ones.
 *
 * Through the transport, each request is a chain in a split virtqueue of a
 * virtio-mmio device in guest memory, served as virtio-fs serves it
 * (virtio_mmio_serve_unlocked(): the lock is dropped while the server
 * works), and SPLIT instead picks what the guest's other vCPU writes to
 * the device's registers and rings meanwhile: disable the queue, shrink or
 * grow it, move its rings, reset the device and set it up anew. The used
 * ring sits at the top of guest RAM, so a push past it faults.
 *
 * After every input the host is checked: the share's sibling directory
 * still holds exactly its canary, /etc/passwd is unchanged, and no
 * descriptor leaked. Device nodes stay refused (allow_devices is off), and
 * nothing in the share is set-user-ID, a set-group-ID non-directory or
 * holds file capabilities (allow_setid is off; the fixture has none).
 * With a DAX window, after every request each mapping inside the window
 * must be of a file beneath the share (or a hole), and after the session
 * nothing of the window may be left mapped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vmm/memory.h"
#include "vmm/virtio/fuse_server.h"
#include "vmm/virtio/mmio.h"

#define DAX_WINDOW (8U << 20)

static char top[64], share[96], outside[96], canary[128];
static struct stat passwd0;
static int fds0;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag;
	if (ftw->level == 0)
		return 0; /* keep the share itself */
	return remove(p);
}

static void put(const char *rel, const char *data)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", share, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, data, strlen(data)) < 0)
			abort();
		close(fd);
	}
}

/* The share as every input starts it: a file, a directory with files, a
 * symlink out to the canary and one to /etc, a FIFO. */
static void fixture(void)
{
	char p[256];

	chmod(share, 0755);
	nftw(share, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	put("file", "0123456789abcdef");
	snprintf(p, sizeof(p), "%s/dir", share);
	mkdir(p, 0755);
	put("dir/a", "a");
	put("dir/b", "bb");
	snprintf(p, sizeof(p), "%s/out", share);
	symlink(canary, p);
	snprintf(p, sizeof(p), "%s/etc", share);
	symlink("/etc", p);
	snprintf(p, sizeof(p), "%s/fifo", share);
	mkfifo(p, 0644);
}

/* nftw callback: a node the guest could have made privileged on the host. */
static int privileged_node(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag, (void)ftw;
	bool dir = S_ISDIR(st->st_mode);
	if ((st->st_mode & S_ISUID) || (!dir && (st->st_mode & S_ISGID)) ||
	    (!S_ISLNK(st->st_mode) && lgetxattr(p, "security.capability", NULL, 0) >= 0)) {
		fprintf(stderr, "fuzz_fuse: the guest made %s privileged (mode %o)\n", p,
			(unsigned)st->st_mode);
		abort();
	}
	return 0;
}

static void check_host(void)
{
	struct stat st;
	char buf[16] = { 0 };
	int n = 0;

	DIR *d = opendir(outside);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n++;
	if (d)
		closedir(d);
	int fd = open(canary, O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n != 3 || got != 6 || strcmp(buf, "canary") != 0 || stat(canary, &st) < 0 ||
	    (st.st_mode & 07777) != 0644) {
		fprintf(stderr, "fuzz_fuse: the directory next to the share changed\n");
		abort();
	}
	if (stat("/etc/passwd", &st) < 0 || st.st_mtim.tv_sec != passwd0.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != passwd0.st_mtim.tv_nsec || st.st_size != passwd0.st_size ||
	    st.st_mode != passwd0.st_mode || st.st_uid != passwd0.st_uid) {
		fprintf(stderr, "fuzz_fuse: /etc/passwd changed\n");
		abort();
	}
	nftw(share, privileged_node, 16, FTW_PHYS);
	if (count_fds() != fds0) {
		fprintf(stderr, "fuzz_fuse: descriptors leaked (%d, was %d)\n", count_fds(), fds0);
		abort();
	}
}

/* Every mapping of /proc/self/maps that overlaps [LO, HI) must be an
 * anonymous hole or a file beneath the share; with MUST_BE_EMPTY nothing
 * may overlap at all. */
static void check_window(uintptr_t lo, uintptr_t hi, bool must_be_empty)
{
	char line[512];
	size_t slen = strlen(share);
	FILE *fp = fopen("/proc/self/maps", "re");

	if (!fp)
		abort();
	while (fgets(line, sizeof(line), fp)) {
		unsigned long a, b;
		int path = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &a, &b, &path) < 2 || b <= lo ||
		    a >= hi)
			continue;
		const char *name = path ? line + path : "";
		if (must_be_empty) {
			fprintf(stderr, "fuzz_fuse: the DAX window is still mapped: %s", line);
			abort();
		}
		if (*name && *name != '\n' &&
		    (strncmp(name, share, slen) != 0 || name[slen] != '/')) {
			fprintf(stderr,
				"fuzz_fuse: the DAX window maps a file outside the share: %s",
				line);
			abort();
		}
	}
	fclose(fp);
}

/* ---- through the virtio transport ---- */

#define VQ_RAM (16ULL << 20)
#define VQ_SIZE 16
#define VQ_DESC 0x1000ULL
#define VQ_AVAIL 0x2000ULL
#define VQ_USED ((VQ_RAM - 6 - 8 * VQ_SIZE) & ~3ULL) /* the top of RAM */
#define VQ_REQ 0x100000ULL
#define VQ_REP 0x400000ULL

static const struct virtio_device_ops vq_ops = {
	.name = "fuzz-fs",
	.device_id = VIRTIO_ID_FS,
	.nqueues = 2,
	.queue_max = 256,
};

static void vq_reg(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, true);
}

static void vq_setup_queue(struct virtio_mmio_dev *d, unsigned q, uint16_t size, uint64_t used)
{
	vq_reg(d, 0x030, q);
	vq_reg(d, 0x038, size);
	vq_reg(d, 0x080, (uint32_t)VQ_DESC);
	vq_reg(d, 0x084, 0);
	vq_reg(d, 0x090, (uint32_t)VQ_AVAIL);
	vq_reg(d, 0x094, 0);
	vq_reg(d, 0x0a0, (uint32_t)used);
	vq_reg(d, 0x0a4, (uint32_t)(used >> 32));
	vq_reg(d, 0x044, 1);
}

/* What a well-behaved driver does: reset, negotiate, queue 1 ready. */
static void vq_driver_start(struct virtio_mmio_dev *d, uint16_t size)
{
	vq_reg(d, 0x070, 0);
	vq_reg(d, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vq_reg(d, 0x024, 1);
	vq_reg(d, 0x020, 1); /* VERSION_1 */
	vq_reg(d, 0x070, 0xb);
	vq_setup_queue(d, 1, size, VQ_USED);
	vq_reg(d, 0x070, 0xf);
}

struct vq_service {
	struct virtio_mmio_dev *d;
	struct fuse_server *srv;
	struct virtq_desc *desc;
	uint8_t acts;
};

/* The other vCPU, while the request is in service. */
static void vq_guest_acts(struct vq_service *v)
{
	struct virtio_mmio_dev *d = v->d;

	vq_reg(d, 0x030, 1);
	if (v->acts & 1)
		vq_reg(d, 0x044, 0); /* disable the queue */
	if (v->acts & 2)
		vq_reg(d, 0x038, 0);
	if (v->acts & 4)
		vq_reg(d, 0x038, 0xffff);
	if (v->acts & 8)
		vq_reg(d, 0x0a0, (uint32_t)(VQ_RAM - 8)); /* used ring off the end */
	if (v->acts & 16)
		vq_reg(d, 0x070, 0); /* reset */
	if (v->acts & 32)	     /* set up anew, smaller */
		vq_driver_start(d, 2);
	if (v->acts & 64) /* the other queue, past the device's queues */
		vq_reg(d, 0x030, v->acts & 128 ? 0 : 7);
	if (v->acts & 128) /* the chain's descriptors rewritten */
		memset(v->desc, 0xff, 16 * 2);
}

static uint32_t vq_serve(void *arg, const struct virtq_chain *c)
{
	struct vq_service *v = arg;

	vq_guest_acts(v);
	return (uint32_t)fuse_server_handle(v->srv, c->out, c->nout, c->in, c->nin);
}

static void vq_send(struct virtio_mmio_dev *d, struct guest_memory *m, struct fuse_server *srv,
		    const uint8_t *req, size_t len, size_t room, uint8_t acts)
{
	struct virtq_desc *desc = guest_mem_ptr(m, VQ_DESC, 16 * VQ_SIZE);
	struct virtq_avail *avail = guest_mem_ptr(m, VQ_AVAIL, 6 + 2 * VQ_SIZE);
	struct virtq_used *used = guest_mem_ptr(m, VQ_USED, 6 + 8 * VQ_SIZE);
	struct virtq_chain *c = malloc(sizeof(*c));

	if (room > VQ_REQ)
		room = VQ_REQ;
	if (len > VQ_REP - VQ_REQ)
		len = VQ_REP - VQ_REQ;
	memcpy(guest_mem_ptr(m, VQ_REQ, len), req, len);
	desc[0] = (struct virtq_desc){ VQ_REQ, (uint32_t)len, VIRTQ_DESC_F_NEXT, 1 };
	desc[1] = (struct virtq_desc){ VQ_REP, (uint32_t)room, VIRTQ_DESC_F_WRITE, 0 };
	avail->ring[avail->idx % 2] = 0; /* a ring of 2 or of VQ_SIZE: both fit */
	avail->ring[avail->idx % VQ_SIZE] = 0;
	avail->idx++;

	uint16_t before = used->idx;
	struct vq_service v = { d, srv, desc, acts };
	pthread_mutex_lock(&d->lock);
	int r = virtio_mmio_serve_unlocked(d, 1, c, vq_serve, &v);
	pthread_mutex_unlock(&d->lock);
	/* At most the one chain went back, and only if it was served. */
	if ((uint16_t)(used->idx - before) > (r == 1 ? 1 : 0))
		abort();
	free(c);
	/* A driver that broke the device or the queue starts over. */
	if (d->broken || !d->queues[1].ready || !virtio_mmio_live(d)) {
		vq_driver_start(d, VQ_SIZE);
		avail->idx = 0;
		used->idx = 0;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(top, sizeof(top), "/tmp/husk-fuzz-fuse.XXXXXX");
	if (!mkdtemp(top))
		abort();
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	snprintf(canary, sizeof(canary), "%s/canary", outside);
	mkdir(share, 0755);
	mkdir(outside, 0755);
	int fd = open(canary, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || write(fd, "canary", 6) != 6)
		abort();
	close(fd);
	chmod(canary, 0644);
	if (stat("/etc/passwd", &passwd0) < 0)
		abort();
	return 0;
}

static size_t send_request(struct fuse_server *s, const uint8_t *req, size_t len, size_t room,
			   uint8_t split)
{
	struct iovec in[8], out[2];
	uint8_t *piece[8] = { 0 };
	unsigned n = 0;
	size_t off = 0;

	/* Each set bit of SPLIT cuts the rest of the request in half (maybe
	 * into an empty piece); the last piece takes what is left. */
	for (unsigned i = 0; i < 8; i++) {
		if (i < 7 && !(split >> i & 1))
			continue;
		size_t end = i == 7 ? len : off + (len - off) / 2;
		piece[n] = malloc(end - off ? end - off : 1);
		memcpy(piece[n], req + off, end - off);
		in[n] = (struct iovec){ piece[n], end - off };
		n++;
		off = end;
	}
	/* The reply in two blocks, so the split is exercised there too. */
	size_t first = room / 3;
	uint8_t *r1 = malloc(first ? first : 1), *r2 = malloc(room - first ? room - first : 1);
	out[0] = (struct iovec){ r1, first };
	out[1] = (struct iovec){ r2, room - first };
	size_t got = fuse_server_handle(s, in, n, out, 2);
	if (got > room)
		abort();
	if (got) {
		struct fuse_out_header h;
		uint8_t hb[sizeof(h)];
		size_t a = first < sizeof(h) ? first : sizeof(h);
		memcpy(hb, r1, a);
		memcpy(hb + a, r2, sizeof(h) - a);
		memcpy(&h, hb, sizeof(h));
		/* The reply's own length is what was written; errors carry no payload. */
		if (h.len != got || h.error > 0 || h.error < -4095 || (h.error && got != sizeof(h)))
			abort();
	}
	free(r1);
	free(r2);
	for (unsigned i = 0; i < n; i++)
		free(piece[i]);
	return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	husk_error_t err = NULL;

	if (size < 1)
		return 0;
	/* Counted per input: between inputs libFuzzer itself may open
	 * descriptors (its symbolizer's pipes, once it names a newly
	 * covered function). */
	fds0 = count_fds();
	fixture();
	struct fuse_share_opts o = {
		.dir = share,
		.readonly = data[0] & 1,
		.cache_always = data[0] & 2,
		.max_inodes = 64,
		.max_handles = 16,
		.dax_window_size = data[0] & 8 ? DAX_WINDOW : 0,
	};
	struct fuse_server *s = fuse_server_new(&o, &err);
	if (!s)
		abort();
	if (!(data[0] & 4)) {
		struct {
			struct fuse_in_header h;
			struct fuse_init_in i;
		} init = {
			{ .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 },
			{ .major = 7,
			  .minor = 38,
			  .max_readahead = 1 << 17,
			  .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES |
				   FUSE_MAP_ALIGNMENT | FUSE_INIT_EXT },
		};
		send_request(s, (const uint8_t *)&init, sizeof(init), 4096, 0);
	}
	void *win;
	uint64_t winlen;
	fuse_server_dax_window(s, &win, &winlen);
	uintptr_t lo = (uintptr_t)win, hi = lo + winlen;
	bool via_transport = data[0] & 16;
	struct guest_memory m = { 0 };
	struct virtio_mmio_dev d;
	if (via_transport) {
		if (guest_mem_init(&m, VQ_RAM, &err) < 0)
			abort();
		virtio_mmio_init(&d, &vq_ops, NULL);
		d.mem = &m;
		vq_driver_start(&d, VQ_SIZE);
	}
	size_t pos = 1;
	while (pos + 5 <= size) {
		size_t len = data[pos] | (size_t)data[pos + 1] << 8;
		size_t room = data[pos + 2] | (size_t)data[pos + 3] << 8;
		uint8_t split = data[pos + 4];
		pos += 5;
		if (len > size - pos)
			len = size - pos;
		/* Room above 64 KiB only for big READs: the top bit scales. */
		if (room & 0x8000)
			room = (room & 0x7fff) << 5;
		if (via_transport)
			vq_send(&d, &m, s, data + pos, len, room, split);
		else
			send_request(s, data + pos, len, room, split);
		pos += len;
		if (win)
			check_window(lo, hi, false);
	}
	if (via_transport) {
		virtio_mmio_release(&d);
		guest_mem_release(&m);
	}
	fuse_server_free(s);
	if (win)
		check_window(lo, hi, true);
	check_host();
	return 0;
}
