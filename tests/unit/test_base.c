/* The bottom layer's shared pieces (base/): each replaced hand-written
 * copies, so each is pinned down here once. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/fdpass.h"
#include "base/fileio.h"
#include "base/iov.h"
#include "proto/agent_proto.h"
#include "tests/unit/tap.h"

TEST(iov_advance_drops_whole_entries_and_trims_the_next)
{
	char a[4], b[3], c[5];
	struct iovec v[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec *p = v;
	size_t n = 3;

	iov_advance(&p, &n, 0);
	CHECK(p == v && n == 3 && v[0].iov_len == 4);
	iov_advance(&p, &n, 2);
	CHECK(p == v && n == 3 && p->iov_base == a + 2 && p->iov_len == 2);
	iov_advance(&p, &n, 2 + 3);
	CHECK(p == v + 2 && n == 1 && p->iov_base == c && p->iov_len == 5);
	iov_advance(&p, &n, 4);
	CHECK(n == 1 && p->iov_base == c + 4 && p->iov_len == 1);
	iov_advance(&p, &n, 1);
	CHECK_INT(n, 0);
	/* More than is left: nothing to resume, and nothing touched past it. */
	struct iovec w[2] = { { a, 1 }, { b, 1 } };
	p = w;
	n = 2;
	iov_advance(&p, &n, 100);
	CHECK_INT(n, 0);
	CHECK(w[1].iov_len == 1);
}

TEST(iov_advance_skips_empty_entries)
{
	char a[2];
	struct iovec v[3] = { { a, 0 }, { a, 0 }, { a, 2 } };
	struct iovec *p = v;
	size_t n = 3;
	iov_advance(&p, &n, 1);
	CHECK(p == v + 2 && n == 1 && p->iov_base == a + 1 && p->iov_len == 1);
}

TEST(mkdir_p_makes_parents_and_accepts_what_exists)
{
	char dir[] = "/tmp/husk-unit-mkdirp.XXXXXX", path[256];
	struct stat st;
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b//c/", dir);
	CHECK_INT(mkdir_p(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	CHECK_INT(stat(path, &st), 0);
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	CHECK_INT(mkdir_p(path, 0700), 0);
	/* A file in the way is an error, not a silent success. */
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/f/g", dir);
	CHECK_INT(mkdir_p(path, 0700), -1);
	CHECK_INT(errno, ENOTDIR);
	char *longp = malloc(PATH_MAX + 16);
	memset(longp, 'x', PATH_MAX + 15);
	longp[0] = '/';
	longp[PATH_MAX + 15] = '\0';
	CHECK_INT(mkdir_p(longp, 0700), -1);
	CHECK_INT(errno, ENAMETOOLONG);
	free(longp);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
}

TEST(fd_send_passes_the_descriptor_and_the_data)
{
	int sv[2], p[2];
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_INT(pipe2(p, O_CLOEXEC), 0);
	CHECK_INT(fd_send(sv[0], p[1], "T", 1), 0);
	char buf[8];
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof(u.c)
	};
	CHECK_INT(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC), 1);
	CHECK(buf[0] == 'T');
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	CHECK(cm && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)));
	int got;
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	/* The passed descriptor is the pipe's write end. */
	CHECK_INT(write(got, "x", 1), 1);
	CHECK_INT(read(p[0], buf, 1), 1);
	close(got);
	/* Without data a stream socket would carry no descriptor. */
	CHECK_INT(fd_send(sv[0], p[1], "", 0), -1);
	CHECK_INT(errno, EINVAL);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	/* A closed peer is an error (EPIPE), not a SIGPIPE. */
	CHECK_INT(fd_send(sv[1], STDIN_FILENO, "T", 1), -1);
	close(sv[1]);
}

static uint8_t *verror(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint8_t *verror(size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	uint8_t *f = agent_encode_verror(7, 3, len, fmt, ap);
	va_end(ap);
	return f;
}

TEST(agent_encode_verror_formats_and_cuts_at_the_bound)
{
	size_t len;
	uint8_t *f = verror(&len, "mount %s: %d", "/data", 5);
	CHECK(f);
	struct agent_msg m;
	struct agent_error e;
	char why[128];
	CHECK_INT(agent_frame_parse(f, len, AGENT_FROM_GUEST, &m, why, sizeof(why)), (ssize_t)len);
	CHECK_INT(agent_decode_error(&m, &e, why, sizeof(why)), 0);
	CHECK(m.id == 7 && e.code == 3 && strcmp(e.message, "mount /data: 5") == 0);
	free(f);
	char *big = malloc(AGENT_MAX_ERROR_MSG * 2);
	memset(big, 'e', AGENT_MAX_ERROR_MSG * 2 - 1);
	big[AGENT_MAX_ERROR_MSG * 2 - 1] = '\0';
	f = verror(&len, "%s", big);
	CHECK(f);
	CHECK_INT(len, AGENT_HDR_LEN + 4 + AGENT_MAX_ERROR_MSG);
	CHECK_INT(agent_frame_parse(f, len, AGENT_FROM_GUEST, &m, why, sizeof(why)), (ssize_t)len);
	CHECK_INT(agent_decode_error(&m, &e, why, sizeof(why)), 0);
	CHECK_INT(strlen(e.message), AGENT_MAX_ERROR_MSG);
	free(f);
	free(big);
}
