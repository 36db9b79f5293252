#include "base/iov.h"

#include <stdint.h>

void iov_advance(struct iovec **iov, size_t *cnt, size_t n)
{
	struct iovec *v = *iov;
	size_t c = *cnt;

	while (c > 0 && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		c--;
	}
	if (c > 0) {
		v->iov_base = (uint8_t *)v->iov_base + n;
		v->iov_len -= n;
	}
	*iov = v;
	*cnt = c;
}
