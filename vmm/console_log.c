#include "vmm/console_log.h"

#include <string.h>
#include <unistd.h>

void console_log_init(struct console_log *c, int out_fd)
{
	pthread_mutex_init(&c->lock, NULL);
	c->pos = 0;
	c->wrapped = false;
	c->out_fd = out_fd;
}

void console_log_write(struct console_log *c, const void *data, size_t len)
{
	const char *p = data;

	pthread_mutex_lock(&c->lock);
	/* Only the last ring's worth can stay, copied in at most two pieces:
	 * the cost does not grow with LEN. */
	size_t keep = len < CONSOLE_LOG_RING ? len : CONSOLE_LOG_RING;
	const char *src = p + (len - keep);
	while (keep > 0) {
		size_t chunk = CONSOLE_LOG_RING - c->pos;
		if (chunk > keep)
			chunk = keep;
		memcpy(c->ring + c->pos, src, chunk);
		src += chunk;
		keep -= chunk;
		c->pos += chunk;
		if (c->pos == CONSOLE_LOG_RING) {
			c->pos = 0;
			c->wrapped = true;
		}
	}
	if (c->out_fd >= 0) {
		while (len > 0) {
			ssize_t n = write(c->out_fd, p, len);
			if (n <= 0)
				break; /* a closed console must not stop the guest */
			p += n;
			len -= (size_t)n;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

bool console_log_find_panic(struct console_log *c, char *out, size_t size)
{
	char text[CONSOLE_LOG_RING + 1];
	size_t n = 0;
	bool found = false;

	pthread_mutex_lock(&c->lock);
	if (c->wrapped) {
		memcpy(text, c->ring + c->pos, CONSOLE_LOG_RING - c->pos);
		n = CONSOLE_LOG_RING - c->pos;
	}
	memcpy(text + n, c->ring, c->pos);
	n += c->pos;
	pthread_mutex_unlock(&c->lock);
	text[n] = '\0';

	/* Console output may hold NULs; search each NUL-separated piece. */
	for (size_t start = 0; start < n; start += strlen(text + start) + 1) {
		char *hit = text + start, *last = NULL;
		while ((hit = strstr(hit, "Kernel panic")) != NULL)
			last = hit++;
		if (!last)
			continue;
		size_t len = strcspn(last, "\r\n");
		if (len >= size)
			len = size - 1;
		memcpy(out, last, len);
		out[len] = '\0';
		found = true;
	}
	return found;
}
