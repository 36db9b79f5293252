/* virtio-fs (virtio 1.2, section 5.11): FUSE requests over two queues,
 * hiprio (FORGETs, which have no reply) and one request queue, served by
 * the FUSE server (fuse_server.h) inside the VMM; no virtiofsd.
 *
 * One worker thread per device serves both queues, so file I/O (an fsync,
 * a megabyte read) never stalls the event loop, which carries the console,
 * vsock and signals. The loop only wakes the worker. The worker takes the
 * transport lock to pop and push chains and drops it while it serves a
 * request; the guest memory a chain points into is mapped for the VM's
 * life, so it stays valid while unlocked. The transport's
 * virtio_mmio_serve_unlocked() does that dance: while a chain is out, the
 * driver cannot move or disable its queue, and a request served across a
 * driver reset is not pushed to the new queue. After a reset the worker
 * drops the server's inodes and handles before it serves anything else.
 * The server itself is only ever used by the worker.
 *
 * One request queue only: Linux 6.1's driver sends every request to the
 * first (virtio_fs.c: "TODO multiqueue"), so more would never be used. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "vmm/virtio/devices.h"
#include "vmm/virtio/fuse_server.h"

#define FS_QUEUE_MAX VIRTQ_MAX_SIZE /* the driver caps a request at this many pages, less 4 */
#define FS_NQUEUES 2		    /* hiprio + one request queue */
#define FS_TAG_MAX 36

struct fs_config {
	char tag[FS_TAG_MAX]; /* not NUL-terminated when all 36 bytes are used */
	uint32_t num_request_queues;
} __attribute__((packed));

struct fs_dev {
	struct fuse_server *srv;
	struct fs_config config;
	struct virtio_device_ops ops;
	struct virtq_chain *chain;

	/* Guarded by the transport's lock. */
	pthread_cond_t wake;
	pthread_t thread;
	bool started;
	bool kicked;	   /* a queue was notified since the worker last looked */
	bool stop;	   /* the VM is going away */
	bool reset_server; /* the driver reset the device */
	bool confined;	   /* the worker loaded its thread class's filter */
	vmm_thread_confine_fn confine;
};

static void fs_notify(struct virtio_mmio_dev *d, unsigned q)
{
	struct fs_dev *f = d->priv;

	(void)q;
	f->kicked = true;
	pthread_cond_signal(&f->wake);
}

static void fs_reset(struct virtio_mmio_dev *d)
{
	struct fs_dev *f = d->priv;

	f->reset_server = true;
	f->kicked = false;
	pthread_cond_signal(&f->wake);
}

static uint32_t fs_serve_chain(void *arg, const struct virtq_chain *c)
{
	struct fs_dev *f = arg;
	return (uint32_t)fuse_server_handle(f->srv, c->out, c->nout, c->in, c->nin);
}

/* Serves what queue Q has, until it is empty or the device changes under
 * the worker; called and returns with the lock held. Returns whether it
 * served anything. */
static bool serve_queue(struct virtio_mmio_dev *d, unsigned q)
{
	struct fs_dev *f = d->priv;
	bool served = false;

	while (!f->stop && !f->reset_server &&
	       virtio_mmio_serve_unlocked(d, q, f->chain, fs_serve_chain, f) > 0)
		served = true;
	return served;
}

/* The worker's own filter, once: when it first has work, which is after
 * the process filter (the worker exists before it, and a filter of its
 * own would keep the process's from reaching every thread). */
static bool confine_worker(struct virtio_mmio_dev *d)
{
	struct fs_dev *f = d->priv;
	husk_error_t err = NULL;

	if (!f->confine || f->confined)
		return true;
	if (f->confine(VMM_THREAD_FS_WORKER, &err) == 0) {
		f->confined = true;
		return true;
	}
	log_error("virtio-fs: %s; the share is no longer served", err->msg);
	husk_error_release(&err);
	d->broken = true;
	return false;
}

static void *fs_worker(void *arg)
{
	struct virtio_mmio_dev *d = arg;
	struct fs_dev *f = d->priv;
	sigset_t all;

	/* Signals are the event loop's (signalfd) and the vCPUs' business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "virtio-fs"); /* its class, in /proc/PID/task */
	pthread_mutex_lock(&d->lock);
	while (!f->stop) {
		if ((f->reset_server || f->kicked) && !confine_worker(d))
			break;
		if (f->reset_server) {
			f->reset_server = false;
			fuse_server_reset(f->srv);
			continue;
		}
		if (!f->kicked) {
			pthread_cond_wait(&f->wake, &d->lock);
			continue;
		}
		f->kicked = false;
		/* FORGETs first: they free inodes the requests may need. */
		while (serve_queue(d, 0) | serve_queue(d, 1))
			;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void fs_read_config(struct virtio_mmio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fs_dev *f = d->priv;
	memcpy(data, (uint8_t *)&f->config + off, len);
}

static void fs_release(struct virtio_mmio_dev *d)
{
	struct fs_dev *f = d->priv;

	if (!f)
		return;
	if (f->started) {
		pthread_mutex_lock(&d->lock);
		f->stop = true;
		pthread_cond_signal(&f->wake);
		pthread_mutex_unlock(&d->lock);
		pthread_join(f->thread, NULL);
	}
	pthread_cond_destroy(&f->wake);
	fuse_server_free(f->srv);
	free(f->chain);
	free(f);
	d->priv = NULL;
}

struct virtio_mmio_dev *virtio_fs_new_share(const char *tag, const struct fuse_share_opts *opts,
					    vmm_thread_confine_fn confine, husk_error_t *err)
{
	size_t taglen = tag ? strlen(tag) : 0;

	if (taglen == 0 || taglen > FS_TAG_MAX || strchr(tag, '\n')) {
		husk_error_set(err, 0, "virtio-fs tag '%s': want 1 to %d bytes, no newline",
			       tag ? tag : "", FS_TAG_MAX);
		return NULL;
	}
	struct fs_dev *f = calloc(1, sizeof(*f));
	struct virtio_mmio_dev *d = malloc(sizeof(*d));
	if (f)
		f->chain = malloc(sizeof(*f->chain)); /* ~8 KiB: not on a stack */
	if (!f || !d || !f->chain) {
		if (f)
			free(f->chain);
		free(f);
		free(d);
		husk_error_set(err, ENOMEM, "virtio-fs %s", tag);
		return NULL;
	}
	f->srv = fuse_server_new(opts, err);
	if (!f->srv) {
		free(f->chain);
		free(f);
		free(d);
		husk_error_wrap(err, "virtio-fs %s", tag);
		return NULL;
	}
	memcpy(f->config.tag, tag, taglen);
	f->config.num_request_queues = 1;
	f->confine = confine;
	pthread_cond_init(&f->wake, NULL);
	f->ops = (struct virtio_device_ops){
		.name = "fs",
		.device_id = VIRTIO_ID_FS,
		.nqueues = FS_NQUEUES,
		.queue_max = FS_QUEUE_MAX,
		.read_config = fs_read_config,
		.config_len = sizeof(f->config),
		.queue_notify = fs_notify,
		.reset = fs_reset,
		.release = fs_release,
	};
	virtio_mmio_init(d, &f->ops, f);
	fuse_server_dax_window(f->srv, &d->shm_host, &d->shm_size);
	int e = pthread_create(&f->thread, NULL, fs_worker, d);
	if (e != 0) {
		fs_release(d);
		virtio_mmio_release(d);
		free(d);
		husk_error_set(err, e, "virtio-fs %s: worker thread", tag);
		return NULL;
	}
	f->started = true;
	return d;
}

struct virtio_mmio_dev *virtio_fs_new(const char *tag, const char *dir, bool readonly,
				      husk_error_t *err)
{
	struct fuse_share_opts opts = { .dir = dir, .readonly = readonly };
	return virtio_fs_new_share(tag, &opts, NULL, err);
}
