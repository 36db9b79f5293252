#include "vmm/virtio/queue.h"

#include <string.h>

int virtq_activate(struct virtq *q, uint16_t max_size, const struct guest_memory *m,
		   const char **why)
{
	uint64_t n = q->size;

	if (n == 0 || n > max_size || (n & (n - 1))) {
		*why = "queue size is not a power of two up to the maximum";
		return -1;
	}
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3)) {
		*why = "queue ring address misaligned";
		return -1;
	}
	/* Rings including the event-index fields, whether or not used. */
	q->desc = guest_mem_ptr(m, q->desc_gpa, 16 * n);
	q->avail = guest_mem_ptr(m, q->avail_gpa, 6 + 2 * n);
	q->used = guest_mem_ptr(m, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used) {
		*why = "queue ring outside guest memory";
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -1;
	}
	q->num = (uint16_t)n;
	q->last_avail = 0;
	q->used_idx = 0;
	q->generation++;
	q->held = 0;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	*q = (struct virtq){ .generation = q->generation + 1 };
}

void virtq_disable(struct virtq *q)
{
	q->ready = false;
	q->num = 0;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->generation++;
	q->held = 0;
}

void virtq_hold(struct virtq *q, struct virtq_chain *c)
{
	c->generation = q->generation;
	q->held++;
}

bool virtq_unhold(struct virtq *q, const struct virtq_chain *c)
{
	if (c->generation != q->generation)
		return false;
	q->held--;
	return q->ready && q->used;
}

int virtq_pop(struct virtq *q, const struct guest_memory *m, struct virtq_chain *c,
	      const char **why)
{
	if (!q->ready || !q->avail || !q->num)
		return 0;
	/* Acquire: the ring entries the driver wrote before bumping idx. */
	uint16_t avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > q->num) {
		*why = "available index more than the queue size ahead";
		return -1;
	}
	uint16_t head = q->avail->ring[q->last_avail % q->num];
	if (head >= q->num) {
		*why = "available ring names a descriptor beyond the queue";
		return -1;
	}

	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	uint16_t i = head;
	for (unsigned count = 0;; count++) {
		if (count >= q->num) {
			*why = "descriptor chain longer than the queue (a loop)";
			return -1;
		}
		/* A snapshot: the driver may change the table meanwhile, and
		 * only what was checked may be used. */
		struct virtq_desc d;
		memcpy(&d, &q->desc[i], sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			*why = "indirect descriptor (not negotiated)";
			return -1;
		}
		void *p = guest_mem_ptr(m, d.addr, d.len);
		if (!p) {
			*why = "descriptor buffer outside guest memory";
			return -1;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			c->in[c->nin++] = (struct iovec){ p, d.len };
			c->in_len += d.len;
		} else {
			if (c->nin) {
				*why = "device-readable descriptor after a writable one";
				return -1;
			}
			c->out[c->nout++] = (struct iovec){ p, d.len };
			c->out_len += d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->num) {
			*why = "descriptor next index beyond the queue";
			return -1;
		}
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	struct virtq_used_elem *e = &q->used->ring[q->used_idx % q->num];

	e->id = head;
	e->len = written;
	q->used_idx++;
	/* Release: the element before the index that publishes it. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(const struct virtq *q)
{
	/* The driver's flag is read after the index was published. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Copies between the buffers and BUF in either direction, from offset SKIP
 * of the buffers, bounded by both sides. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, char *buf, size_t len,
		       bool into_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - skip;
		if (chunk > len - done)
			chunk = len - done;
		char *p = (char *)iov[i].iov_base + skip;
		if (into_iov)
			memcpy(p, buf + done, chunk);
		else
			memcpy(buf + done, p, chunk);
		done += chunk;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t skip, const void *buf, size_t len)
{
	/* The buffer is only read in this direction. */
	return iov_copy(iov, n, skip, (char *)buf, len, true);
}

unsigned iov_slice(struct iovec *dst, const struct iovec *src, unsigned n, size_t skip, size_t len)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len > 0; i++) {
		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		size_t part = src[i].iov_len - skip;
		if (part > len)
			part = len;
		dst[k++] = (struct iovec){ (char *)src[i].iov_base + skip, part };
		len -= part;
		skip = 0;
	}
	return k;
}
