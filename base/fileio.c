/* Whole reads and writes: see fileio.h. */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"

int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { fd, POLLOUT, 0 };
			poll(&p, 1, -1);
			continue;
		}
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int close_fds_except(const int *keep, size_t n)
{
	unsigned next = 0; /* the lowest descriptor that may still be closed */

	for (;;) {
		/* The smallest kept descriptor at or above NEXT: the list is
		 * short, so a scan beats sorting a copy. */
		long k = -1;
		for (size_t i = 0; i < n; i++)
			if (keep[i] >= 0 && (unsigned)keep[i] >= next && (k < 0 || keep[i] < k))
				k = keep[i];
		unsigned last = k < 0 ? ~0u : (unsigned)k - 1;
		if ((k < 0 || (unsigned)k > next) && close_range(next, last, 0) < 0)
			return -1;
		if (k < 0)
			return 0;
		next = (unsigned)k + 1;
	}
}

int pid_file_write(const char *path, pid_t pid, husk_error_t *err)
{
	char tmp[PATH_MAX], buf[32];
	/* The directory may be writable by others (a client's run dir):
	 * a new file of a name no one can guess, made with O_EXCL (so never
	 * through a planted symlink), filled, then renamed over PATH, which
	 * replaces a symlink there rather than following it. */
	if (snprintf(tmp, sizeof(tmp), "%s.husk-XXXXXX", path) >= (int)sizeof(tmp))
		return husk_error_set(err, ENAMETOOLONG, "--pid-file %s", path);
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	cleanup_close int fd = mkostemp(tmp, O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return husk_error_set(err, errno, "--pid-file %s", path);
	if (fchmod(fd, 0644) < 0 || write_all(fd, buf, (size_t)n) < 0 || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return husk_error_set(err, e, "--pid-file %s", path);
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

char *read_whole(const char *path, size_t max, size_t *len, husk_error_t *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		husk_error_set(err, errno, "open %s", path);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap || ferror(f))
			break;
		char *b = cap < max ? realloc(buf, (cap *= 2) + 1) : NULL;
		if (!b) {
			free(buf);
			buf = NULL;
			husk_error_set(err, cap < max ? ENOMEM : EFBIG, "read %s", path);
			break;
		}
		buf = b;
	}
	bool failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (buf && failed) {
		free(buf);
		buf = NULL;
		husk_error_set(err, EIO, "read %s", path);
	}
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}
