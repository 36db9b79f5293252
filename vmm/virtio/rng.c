/* virtio-rng (virtio 1.2, section 5.4): one queue, filled from getrandom(). */
#include <stdlib.h>
#include <sys/random.h>

#include "devices.h"

static void rng_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct virtq_chain c;
	const char *why;
	int r;

	while ((r = virtq_pop(&d->queues[q], d->mem, &c, &why)) > 0) {
		size_t written = 0;
		for (unsigned i = 0; i < c.nin; i++) {
			ssize_t n = getrandom(c.in[i].iov_base, c.in[i].iov_len, 0);
			if (n <= 0)
				break;
			written += (size_t)n;
			if ((size_t)n < c.in[i].iov_len)
				break; /* a short read ends this request */
		}
		virtq_push(&d->queues[q], c.head, (uint32_t)written);
	}
	if (r < 0)
		virtio_mmio_fail(d, why);
	virtio_mmio_used(d, q);
}

static const struct virtio_device_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.queue_max = 64,
	.queue_notify = rng_notify,
};

struct virtio_mmio_dev *virtio_rng_new(husk_error_t *err)
{
	struct virtio_mmio_dev *d = malloc(sizeof(*d));

	if (!d) {
		husk_error_set(err, 0, "virtio-rng: out of memory");
		return NULL;
	}
	virtio_mmio_init(d, &rng_ops, NULL);
	return d;
}
