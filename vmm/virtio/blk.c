/* virtio-blk (virtio 1.2, section 5.2) backed by a raw file: read, write,
 * flush (fdatasync) and the device id; read-only when asked. Requests are
 * served synchronously on the event loop. Every sector and length from the
 * guest is checked against the capacity before any I/O. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/virtio/devices.h"
#include "base/cleanup.h"
#include "base/iov.h"

#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define SECTOR 512
#define BLK_QUEUE_MAX 128
#define BLK_ID_LEN 20

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
} __attribute__((packed));

struct blk_dev {
	int fd;
	bool readonly;
	uint64_t size; /* bytes; a whole number of sectors */
	struct blk_config config;
	struct virtio_device_ops ops; /* per device: features depend on ro */
};

/* [sector * 512, + len) inside the disk, with no overflow on the way. */
static bool in_range(const struct blk_dev *b, uint64_t sector, uint64_t len)
{
	return sector <= b->size / SECTOR && len <= b->size - sector * SECTOR;
}

static size_t do_io(int fd, bool write, const struct iovec *iov, size_t n, off_t off,
		    uint8_t *status)
{
	size_t done = 0;

	/* preadv/pwritev take at most IOV_MAX (1024) entries; queues are
	 * smaller, so one call per request suffices, repeated on short I/O. */
	struct iovec cur[VIRTQ_MAX_SEGS];
	memcpy(cur, iov, n * sizeof(*iov));
	struct iovec *p = cur;
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, p, (int)n, off) : preadv(fd, p, (int)n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*status = VIRTIO_BLK_S_IOERR;
			return done;
		}
		done += (size_t)r;
		off += r;
		iov_advance(&p, &n, (size_t)r);
	}
	return done;
}

static void blk_request(struct virtio_mmio_dev *d, struct virtq_chain *c)
{
	struct blk_dev *b = d->priv;
	struct blk_req_hdr h;
	struct iovec data[VIRTQ_MAX_SEGS];
	uint8_t status = VIRTIO_BLK_S_OK;
	uint32_t written = 0;

	/* The status byte is the last device-writable byte of the chain. */
	if (c->in_len < 1 || iov_to_buf(c->out, c->nout, 0, &h, sizeof(h)) != sizeof(h)) {
		virtio_mmio_fail(d, "block request without header or status byte");
		return;
	}
	switch (h.type) {
	case VIRTIO_BLK_T_IN: {
		uint64_t len = c->in_len - 1;
		if (len % SECTOR || !in_range(b, h.sector, len)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		unsigned n = iov_slice(data, c->in, c->nin, 0, len);
		written =
			(uint32_t)do_io(b->fd, false, data, n, (off_t)(h.sector * SECTOR), &status);
		break;
	}
	case VIRTIO_BLK_T_OUT: {
		uint64_t len = c->out_len - sizeof(h);
		if (b->readonly || len % SECTOR || !in_range(b, h.sector, len)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		unsigned n = iov_slice(data, c->out, c->nout, sizeof(h), len);
		do_io(b->fd, true, data, n, (off_t)(h.sector * SECTOR), &status);
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (!b->readonly && fdatasync(b->fd) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[BLK_ID_LEN] = "husk-blk";
		written = (uint32_t)buf_to_iov(c->in, c->nin, 0, id,
					       c->in_len - 1 < BLK_ID_LEN ? c->in_len - 1
									  : BLK_ID_LEN);
		break;
	}
	default: status = VIRTIO_BLK_S_UNSUPP;
	}
	buf_to_iov(c->in, c->nin, c->in_len - 1, &status, 1);
	virtq_push(&d->queues[0], c->head, written + 1);
}

static void blk_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct virtq_chain *c = malloc(sizeof(*c)); /* ~8 KiB: not on the stack */
	const char *why;
	int r = 0;

	if (!c)
		return;
	while (!d->broken && (r = virtq_pop(&d->queues[q], d->mem, c, &why)) > 0)
		blk_request(d, c);
	if (r < 0)
		virtio_mmio_fail(d, why);
	virtio_mmio_used(d, q);
	free(c);
}

static void blk_read_config(struct virtio_mmio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct blk_dev *b = d->priv;
	memcpy(data, (uint8_t *)&b->config + off, len);
}

static void blk_release(struct virtio_mmio_dev *d)
{
	struct blk_dev *b = d->priv;

	if (b->fd >= 0)
		close(b->fd);
	free(b);
	d->priv = NULL;
}

struct virtio_mmio_dev *virtio_blk_new(const char *path, bool readonly, husk_error_t *err)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	struct virtio_mmio_dev *d = malloc(sizeof(*d));
	struct stat st;

	if (!b || !d) {
		free(b);
		free(d);
		husk_error_set(err, ENOMEM, "virtio-blk");
		return NULL;
	}
	b->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		husk_error_set(err, b->fd < 0 ? errno : 0, "disk %s%s", path,
			       b->fd >= 0 ? ": not a regular file" : "");
		if (b->fd >= 0)
			close(b->fd);
		free(b);
		free(d);
		return NULL;
	}
	b->readonly = readonly;
	b->size = (uint64_t)st.st_size / SECTOR * SECTOR; /* a partial last sector is not exposed */
	b->config.capacity = b->size / SECTOR;
	b->config.seg_max = BLK_QUEUE_MAX - 2; /* header and status take two */
	b->ops = (struct virtio_device_ops){
		.name = "blk",
		.device_id = VIRTIO_ID_BLOCK,
		.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_FLUSH |
			    (readonly ? VIRTIO_BLK_F_RO : 0),
		.nqueues = 1,
		.queue_max = BLK_QUEUE_MAX,
		.read_config = blk_read_config,
		.config_len = sizeof(b->config),
		.queue_notify = blk_notify,
		.release = blk_release,
	};
	virtio_mmio_init(d, &b->ops, b);
	return d;
}
