#include "vmm/virtio/mmio.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/log.h"
#include "vmm/kvm.h"

enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define HUSK_VENDOR_ID 0x4b535548    /* "HUSK" */
#define INT_USED_BUFFER 1
#define INT_CONFIG_CHANGE 2

void virtio_mmio_init(struct virtio_mmio_dev *d, const struct virtio_device_ops *ops, void *priv)
{
	*d = (struct virtio_mmio_dev){ .ops = ops, .priv = priv, .irqfd = -1 };
	pthread_mutex_init(&d->lock, NULL);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->notify[i].fd = -1;
}

static void raise_irq(struct virtio_mmio_dev *d, uint32_t why)
{
	uint64_t one = 1;

	d->interrupt_status |= why;
	if (d->irqfd >= 0 && write(d->irqfd, &one, sizeof(one)) < 0)
		log_warn("virtio-%s: irqfd write: %s", d->ops->name, strerror(errno));
}

bool virtio_mmio_live(const struct virtio_mmio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->broken;
}

void virtio_mmio_used(struct virtio_mmio_dev *d, unsigned q)
{
	if (virtq_should_notify(&d->queues[q]))
		raise_irq(d, INT_USED_BUFFER);
}

void virtio_mmio_fail(struct virtio_mmio_dev *d, const char *why)
{
	if (d->broken)
		return;
	d->broken = true;
	log_warn(
		"virtio-%s: the guest driver sent malformed input (%s); device stopped until reset",
		d->ops->name, why);
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(d, INT_CONFIG_CHANGE);
}

int virtio_mmio_serve_unlocked(struct virtio_mmio_dev *d, unsigned q, struct virtq_chain *c,
			       virtio_serve_fn serve, void *arg)
{
	struct virtq *vq = &d->queues[q];
	const char *why;

	if (!virtio_mmio_live(d))
		return 0;
	int r = virtq_pop(vq, d->mem, c, &why);
	if (r < 0)
		virtio_mmio_fail(d, why);
	if (r <= 0)
		return r;
	virtq_hold(vq, c);
	pthread_mutex_unlock(&d->lock);
	uint32_t written = serve(arg, c);
	pthread_mutex_lock(&d->lock);
	if (!virtq_unhold(vq, c))
		return 0; /* reset meanwhile: the rings it came from are gone */
	virtq_push(vq, c->head, written);
	virtio_mmio_used(d, q);
	return 1;
}

static void device_reset(struct virtio_mmio_dev *d)
{
	if (d->ops->reset)
		d->ops->reset(d);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&d->queues[i]);
	d->status = 0;
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = 0;
	d->queue_sel = 0;
	d->interrupt_status = 0;
	d->broken = false;
}

static void on_notify(struct event_source *src, uint32_t events)
{
	struct virtio_mmio_dev *d = src->ctx;
	unsigned q = (unsigned)(src - d->notify);
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (virtio_mmio_live(d) && d->queues[q].ready && d->ops->queue_notify)
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_attach(struct virtio_mmio_dev *d, int vm_fd, uint64_t base, uint32_t irq,
		       const struct guest_memory *mem, struct event_loop *loop, husk_error_t *err)
{
	d->vm_fd = vm_fd;
	d->base = base;
	d->irq = irq;
	d->mem = mem;
	d->loop = loop;
	d->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irqfd < 0)
		return husk_error_set(err, errno, "virtio-%s irqfd", d->ops->name);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irqfd, .gsi = irq };
	if (KVM_IOCTL(vm_fd, KVM_IRQFD, &irqfd) < 0)
		return husk_error_set(err, errno, "virtio-%s: KVM_IRQFD", d->ops->name);

	for (unsigned q = 0; q < d->ops->nqueues; q++) {
		struct event_source *src = &d->notify[q];
		*src = (struct event_source){ on_notify, d,
					      eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
		if (src->fd < 0)
			return husk_error_set(err, errno, "virtio-%s notify eventfd", d->ops->name);
		/* The driver writes the queue index to QueueNotify; KVM
		 * turns a write of exactly that value into an eventfd
		 * signal without leaving the kernel. */
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = base + REG_QUEUE_NOTIFY,
			.len = 4,
			.fd = src->fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (KVM_IOCTL(vm_fd, KVM_IOEVENTFD, &io) < 0)
			return husk_error_set(err, errno, "virtio-%s: KVM_IOEVENTFD", d->ops->name);
		if (event_loop_add(loop, src, EPOLLIN, err) < 0)
			return -1;
	}
	return 0;
}

void virtio_mmio_release(struct virtio_mmio_dev *d)
{
	if (d->ops->release)
		d->ops->release(d);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->notify[q].fd >= 0) {
			close(d->notify[q].fd);
			d->notify[q].fd = -1;
		}
	if (d->irqfd >= 0)
		close(d->irqfd);
	d->irqfd = -1;
	pthread_mutex_destroy(&d->lock);
}

static uint32_t read_reg(struct virtio_mmio_dev *d, uint64_t off)
{
	uint64_t features = d->ops->features | VIRTIO_F_VERSION_1;
	struct virtq *q = d->queue_sel < d->ops->nqueues ? &d->queues[d->queue_sel] : NULL;
	/* A region that does not exist has length ~0 (4.2.2). */
	bool shm = d->shm_sel == 0 && d->shm_size;
	uint64_t shm_len = shm ? d->shm_size : ~0ULL;

	switch (off) {
	case REG_MAGIC: return VIRTIO_MMIO_MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return d->ops->device_id;
	case REG_VENDOR_ID: return HUSK_VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return d->device_features_sel == 0   ? (uint32_t)features
		       : d->device_features_sel == 1 ? (uint32_t)(features >> 32)
						     : 0;
	case REG_QUEUE_NUM_MAX: return q ? d->ops->queue_max : 0;
	case REG_QUEUE_READY: return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS: return d->interrupt_status;
	case REG_STATUS: return d->status;
	case REG_CONFIG_GENERATION: return d->config_generation;
	case REG_SHM_LEN_LOW: return (uint32_t)shm_len;
	case REG_SHM_LEN_HIGH: return (uint32_t)(shm_len >> 32);
	case REG_SHM_BASE_LOW: return shm ? (uint32_t)d->shm_gpa : ~0U;
	case REG_SHM_BASE_HIGH: return shm ? (uint32_t)(d->shm_gpa >> 32) : ~0U;
	default: return 0;
	}
}

static void set_addr_half(uint64_t *addr, uint32_t v, bool high)
{
	*addr = high ? (*addr & 0xffffffffULL) | ((uint64_t)v << 32) : (*addr & ~0xffffffffULL) | v;
}

static void write_status(struct virtio_mmio_dev *d, uint32_t v)
{
	uint64_t offered = d->ops->features | VIRTIO_F_VERSION_1;

	if (v == 0) {
		device_reset(d);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Features the device did not offer, or a legacy driver:
		 * refuse by not keeping FEATURES_OK (the driver checks). */
		if ((d->driver_features & ~offered) || !(d->driver_features & VIRTIO_F_VERSION_1))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	bool going_live = (v & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_DRIVER_OK);
	d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
	if (going_live && d->ops->activate && !d->broken)
		d->ops->activate(d);
}

static void write_reg(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *q = d->queue_sel < d->ops->nqueues ? &d->queues[d->queue_sel] : NULL;
	/* Queue layout may change only while the queue is not ready. */
	bool q_writable = q && !q->ready;
	const char *why;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL: d->device_features_sel = v; break;
	case REG_DRIVER_FEATURES_SEL: d->driver_features_sel = v; break;
	case REG_DRIVER_FEATURES:
		if (d->status & VIRTIO_STATUS_FEATURES_OK)
			break; /* frozen once accepted */
		if (d->driver_features_sel == 0)
			d->driver_features = (d->driver_features & ~0xffffffffULL) | v;
		else if (d->driver_features_sel == 1)
			d->driver_features = (d->driver_features & 0xffffffffULL) |
					     ((uint64_t)v << 32);
		break;
	case REG_QUEUE_SEL: d->queue_sel = v; break;
	case REG_SHM_SEL: d->shm_sel = v; break;
	case REG_QUEUE_NUM:
		if (q_writable)
			q->size = v > 0xffff ? 0 : (uint16_t)v;
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (q_writable)
			set_addr_half(&q->desc_gpa, v, off == REG_QUEUE_DESC_HIGH);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (q_writable)
			set_addr_half(&q->avail_gpa, v, off == REG_QUEUE_DRIVER_HIGH);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (q_writable)
			set_addr_half(&q->used_gpa, v, off == REG_QUEUE_DEVICE_HIGH);
		break;
	case REG_QUEUE_READY:
		if (!q)
			break;
		if (v == 1 && !q->ready) {
			if (virtq_activate(q, d->ops->queue_max, d->mem, &why) < 0) {
				virtio_mmio_fail(d, why);
				break;
			}
			q->ready = true;
		} else if (v == 0 && q->ready) {
			/* Not while a worker serves one of its chains: the
			 * layout would then be writable under that chain. */
			if (q->held)
				log_debug(
					"virtio-%s: queue %u not disabled: a request on it is in service",
					d->ops->name, d->queue_sel);
			else
				virtq_disable(q);
		}
		break;
	case REG_QUEUE_NOTIFY:
		/* Reached only if KVM did not take it through the ioeventfd
		 * (a queue index with none); hand it to the loop all the same
		 * so devices only ever run there. */
		if (v < d->ops->nqueues && d->notify[v].fd >= 0) {
			uint64_t one = 1;
			if (write(d->notify[v].fd, &one, sizeof(one)) < 0)
				log_warn("virtio-%s: notify: %s", d->ops->name, strerror(errno));
		}
		break;
	case REG_INTERRUPT_ACK: d->interrupt_status &= ~v; break;
	case REG_STATUS: write_status(d, v); break;
	default: break; /* read-only or reserved: ignored, as the spec allows */
	}
}

void virtio_mmio_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_mmio_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	if (offset >= REG_CONFIG) {
		uint64_t off = offset - REG_CONFIG;
		bool inside = off < d->ops->config_len && len <= d->ops->config_len - off;
		if (!is_write)
			memset(data, 0, len);
		if (inside && !is_write && d->ops->read_config)
			d->ops->read_config(d, (uint32_t)off, data, len);
		else if (inside && is_write && d->ops->write_config)
			d->ops->write_config(d, (uint32_t)off, data, len);
	} else if (len != 4 || (offset & 3)) {
		/* Registers are 32-bit only (4.2.2.2); ignore anything else. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4);
		write_reg(d, offset, v);
	} else {
		uint32_t v = read_reg(d, offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}
