/* Scatter-gather bookkeeping shared by every vectored I/O loop. */
#ifndef HUSK_BASE_IOV_H
#define HUSK_BASE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Moves *IOV and *CNT past N bytes a readv/writev-like call transferred:
 * entries wholly done are dropped and the next one trimmed, so the loop
 * resumes where the short transfer stopped. N beyond the entries' total
 * leaves *CNT 0. */
void iov_advance(struct iovec **iov, size_t *cnt, size_t n);

#endif
