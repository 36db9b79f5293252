/* virtio-rng (virtio 1.2, section 5.4): one queue, filled from getrandom(). */
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "vmm/virtio/devices.h"

/* Bytes generated per notification. Past it the rest of the queue waits
 * for the loop's next turn (the queue's eventfd is kicked again): a chain
 * whose descriptors all name the same large buffer must not hold the loop
 * for as long as the guest likes. */
#define TURN_MAX (4 * VIRTIO_RNG_CHAIN_MAX)

static void rng_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct virtq_chain c;
	const char *why;
	size_t budget = TURN_MAX;
	unsigned chains = d->queues[q].num;
	int r;

	while ((r = virtq_pop(&d->queues[q], d->mem, &c, &why)) > 0) {
		size_t written = 0;
		for (unsigned i = 0; i < c.nin && written < VIRTIO_RNG_CHAIN_MAX; i++) {
			size_t len = c.in[i].iov_len;
			if (len > VIRTIO_RNG_CHAIN_MAX - written)
				len = VIRTIO_RNG_CHAIN_MAX - written;
			ssize_t n = getrandom(c.in[i].iov_base, len, 0);
			if (n <= 0)
				break;
			written += (size_t)n;
			if ((size_t)n < len)
				break; /* a short read ends this request */
		}
		virtq_push(&d->queues[q], c.head, (uint32_t)written);
		budget -= written < budget ? written : budget;
		if (budget == 0 || --chains == 0)
			break;
	}
	if (r < 0)
		virtio_mmio_fail(d, why);
	else if (r > 0 && d->notify[q].fd >= 0) {
		uint64_t one = 1;
		if (write(d->notify[q].fd, &one, sizeof(one)) < 0)
			virtio_mmio_fail(d, "cannot requeue entropy requests");
	}
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
