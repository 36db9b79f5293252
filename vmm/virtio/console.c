/* virtio-console (virtio 1.2, section 5.3), a single port without the
 * multiport protocol: the guest kernel's hvc0. Output goes to the console
 * log (ring + optional host fd); host input, if any, fills the receive
 * queue. Input is read only when the guest has a buffer for it, so the
 * host side is never read further than the guest can take. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/virtio/devices.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
/* Output taken per notification. Past it the rest of the queue waits for
 * the loop's next turn (the queue's eventfd is kicked again), so a guest
 * filling the queue with large buffers cannot hold the loop for long. */
#define TURN_MAX (4 * VIRTIO_CONSOLE_CHAIN_MAX)

struct console_dev {
	struct console_log *log;
	struct event_source input; /* fd -1: no host input */
	bool watching;		   /* input is in the event loop */
	bool eof;		   /* host input ended; not watched again */
};

static void watch_input(struct virtio_mmio_dev *d, bool on)
{
	struct console_dev *c = d->priv;
	husk_error_t err cleanup_error = NULL;

	if (c->input.fd < 0 || c->eof || c->watching == on)
		return;
	if (on && event_loop_add(d->loop, &c->input, EPOLLIN, &err) < 0)
		return;
	if (!on)
		event_loop_del(d->loop, &c->input);
	c->watching = on;
}

static void on_input(struct event_source *src, uint32_t events)
{
	struct virtio_mmio_dev *d = src->ctx;
	struct console_dev *c = d->priv;
	struct virtq_chain ch;
	const char *why;

	(void)events;
	pthread_mutex_lock(&d->lock);
	int r = virtio_mmio_live(d) ? virtq_pop(&d->queues[RX_QUEUE], d->mem, &ch, &why) : 0;
	if (r < 0) {
		virtio_mmio_fail(d, why);
	} else if (r == 0 || ch.nin == 0) {
		/* No buffer (or one the device cannot write): wait for the
		 * guest to post one (rx notify turns input back on). */
		if (r > 0)
			virtq_push(&d->queues[RX_QUEUE], ch.head, 0);
		watch_input(d, false);
	} else {
		ssize_t n = readv(src->fd, ch.in, (int)ch.nin);
		if (n <= 0 && errno != EAGAIN) {
			/* End of host input: nothing more will come. The fd
			 * is the caller's (often stdin), so it stays open. */
			watch_input(d, false);
			c->eof = true;
		}
		/* A popped chain is always returned, even empty. */
		virtq_push(&d->queues[RX_QUEUE], ch.head, n > 0 ? (uint32_t)n : 0);
		virtio_mmio_used(d, RX_QUEUE);
	}
	pthread_mutex_unlock(&d->lock);
}

static void console_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct console_dev *c = d->priv;
	struct virtq_chain ch;
	const char *why;
	int r;

	if (q == RX_QUEUE) {
		watch_input(d, true);
		return;
	}
	/* Chains are counted too: empty ones cost a pop each, and the guest
	 * may keep posting them while this runs. */
	size_t budget = TURN_MAX;
	unsigned chains = d->queues[q].num;
	while ((r = virtq_pop(&d->queues[q], d->mem, &ch, &why)) > 0) {
		/* A chain's descriptors may all name the same large buffer:
		 * what is copied is bounded, not what the chain claims. */
		size_t left = VIRTIO_CONSOLE_CHAIN_MAX;
		for (unsigned i = 0; i < ch.nout && left > 0; i++) {
			size_t len = ch.out[i].iov_len < left ? ch.out[i].iov_len : left;
			console_log_write(c->log, ch.out[i].iov_base, len);
			left -= len;
		}
		virtq_push(&d->queues[q], ch.head, 0);
		size_t taken = VIRTIO_CONSOLE_CHAIN_MAX - left;
		budget -= taken < budget ? taken : budget;
		if (budget == 0 || --chains == 0)
			break;
	}
	if (r < 0)
		virtio_mmio_fail(d, why);
	else if (r > 0 && d->notify[q].fd >= 0) {
		uint64_t one = 1;
		if (write(d->notify[q].fd, &one, sizeof(one)) < 0)
			virtio_mmio_fail(d, "cannot requeue console output");
	}
	virtio_mmio_used(d, q);
}

static void console_activate(struct virtio_mmio_dev *d)
{
	watch_input(d, true);
}

static void console_reset(struct virtio_mmio_dev *d)
{
	watch_input(d, false);
}

static void console_release(struct virtio_mmio_dev *d)
{
	struct console_dev *c = d->priv;

	free(c);
	d->priv = NULL;
}

static const struct virtio_device_ops console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nqueues = 2,
	.queue_max = 128,
	.queue_notify = console_notify,
	.activate = console_activate,
	.reset = console_reset,
	.release = console_release,
};

struct virtio_mmio_dev *virtio_console_new(struct console_log *log, int in_fd, husk_error_t *err)
{
	struct virtio_mmio_dev *d = malloc(sizeof(*d));
	struct console_dev *c = calloc(1, sizeof(*c));

	if (!d || !c) {
		free(d);
		free(c);
		husk_error_set(err, ENOMEM, "virtio-console");
		return NULL;
	}
	c->log = log;
	virtio_mmio_init(d, &console_ops, c);
	c->input = (struct event_source){ on_input, d, in_fd };
	return d;
}
