/* Whole reads and writes, for every layer. */
#ifndef HUSK_BASE_FILEIO_H
#define HUSK_BASE_FILEIO_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"

/* Writes all N bytes to FD, waiting out EINTR and, on a non-blocking FD,
 * EAGAIN; -1 with errno on failure. */
int write_all(int fd, const void *buf, size_t n);

/* mkdir -p: PATH and its missing parents with MODE; existing ones are
 * fine. -1 with errno (ENAMETOOLONG past PATH_MAX). */
int mkdir_p(const char *path, mode_t mode);

/* The whole of PATH ("-": stdin) as a NUL-terminated buffer of *LEN bytes,
 * at most MAX; NULL with *err naming PATH. */
char *read_whole(const char *path, size_t max, size_t *len, husk_error_t *err);

/* Writes PID to PATH (--pid-file) whole, never a part of it. */
int pid_file_write(const char *path, pid_t pid, husk_error_t *err);

/* Closes every descriptor of this process but the N in KEEP (entries < 0
 * are ignored): a process forked to outlive its caller (the VMM, exec's
 * detached relay) must hold nothing the caller happened to have open.
 * -1 with errno on failure. */
int close_fds_except(const int *keep, size_t n);

#endif
