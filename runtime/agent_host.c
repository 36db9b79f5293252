#include "runtime/agent_host.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"

int agent_listen(const char *path, husk_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		return husk_error_set(err, 0, "socket path too long: %s", path);
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return husk_error_set(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
		int e = errno;
		close(fd);
		return husk_error_set(err, e, "listen on %s", path);
	}
	return fd;
}

/* Waits for FD to be readable: 1 ready, 0 STOP_FD fired or timeout, -1. */
static int wait_readable(int fd, int stop_fd, int timeout_ms)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { stop_fd, POLLIN, 0 } };
	int r;

	do
		r = poll(p, stop_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0 || (stop_fd >= 0 && p[1].revents))
		return 0;
	return 1;
}

static int session_recv(struct agent_session *s, int stop_fd, int timeout_ms, struct agent_msg *m,
			husk_error_t *err);

static bool fd_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) > 0;
}

int agent_session_accept(struct agent_session *s, int listen_fd, int stop_fd, int timeout_ms,
			 husk_error_t *err)
{
	struct agent_msg m;
	char why[256];

	*s = (struct agent_session){ .fd = -1 };
	int r = wait_readable(listen_fd, stop_fd, timeout_ms);
	if (r <= 0)
		return husk_error_set(err, r < 0 ? errno : 0, "the guest agent did not connect");
	s->fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s->fd < 0)
		return husk_error_set(err, errno, "accept the guest agent");
	/* HELLO within the same bound: a guest that connects and stays
	 * silent must not hold the caller. */
	r = session_recv(s, stop_fd, timeout_ms, &m, err);
	if (r == -2)
		return husk_error_set(err, 0, "the guest agent did not say HELLO within %d ms",
				      timeout_ms);
	if (r <= 0)
		return r < 0 ? husk_error_wrap(err, "waiting for HELLO")
			     : husk_error_set(err, 0, "the guest agent hung up before HELLO");
	if (agent_decode_hello(&m, &s->hello, why, sizeof(why)) < 0)
		return husk_error_set(err, 0, "guest agent: %s", why);
	return 0;
}

/* agent_session_recv, waiting at most TIMEOUT_MS (-1: no bound) for the
 * next frame: -2 when it did not come in time. */
static int session_recv(struct agent_session *s, int stop_fd, int timeout_ms, struct agent_msg *m,
			husk_error_t *err)
{
	char why[256];
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (;;) {
		int r = agent_rx_next(&s->rx, AGENT_FROM_GUEST, m, why, sizeof(why));
		if (r > 0) {
			if (agent_decode_any(m, why, sizeof(why)) < 0)
				return husk_error_set(err, 0, "guest agent: %s", why);
			return 1;
		}
		if (r < 0)
			return husk_error_set(err, 0, "guest agent: %s", why);
		int left = -1;
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long long ms = (now.tv_sec - t0.tv_sec) * 1000LL +
				       (now.tv_nsec - t0.tv_nsec) / 1000000;
			if (ms >= timeout_ms)
				return -2;
			left = timeout_ms - (int)ms;
		}
		r = wait_readable(s->fd, stop_fd, left);
		if (r < 0)
			return husk_error_set(err, errno, "poll");
		if (r == 0 && left >= 0 && (stop_fd < 0 || !fd_readable(stop_fd)))
			continue; /* the bound, checked above */
		if (r == 0)
			return 0;
		ssize_t n = agent_rx_fill(&s->rx, s->fd);
		if (n < 0)
			return errno == ECONNRESET
				       ? 0
				       : husk_error_set(err, errno, "read from the guest agent");
		if (n == 0)
			return 0;
	}
}

int agent_session_recv(struct agent_session *s, int stop_fd, struct agent_msg *m, husk_error_t *err)
{
	return session_recv(s, stop_fd, -1, m, err);
}

int agent_session_send(struct agent_session *s, uint16_t type, uint32_t id, const void *p,
		       size_t len, husk_error_t *err)
{
	if (agent_send(s->fd, type, id, p, len) < 0)
		return husk_error_set(err, errno, "send %s to the guest agent",
				      agent_type_name(type));
	return 0;
}

int agent_session_create(struct agent_session *s, const char *config, size_t len,
			 enum agent_rootfs_kind kind, const char *rootfs, husk_error_t *err)
{
	cleanup_free struct agent_create *c = calloc(1, sizeof(*c));
	size_t flen;

	if (!c)
		return husk_error_set(err, ENOMEM, "CREATE");
	if (strlen(rootfs) > AGENT_MAX_NAME || len > AGENT_MAX_PAYLOAD / 2)
		return husk_error_set(err, 0, "CREATE: rootfs name or config too long");
	c->rootfs_kind = (uint16_t)kind;
	strcpy(c->rootfs, rootfs);
	c->config = config;
	c->config_len = (uint32_t)len;
	cleanup_free uint8_t *frame = agent_encode_create(c, &flen);
	if (!frame)
		return husk_error_set(err, 0, "CREATE: cannot encode");
	if (agent_send_buf(s->fd, frame, flen) < 0)
		return husk_error_set(err, errno, "send CREATE to the guest agent");
	return 0;
}

void agent_session_close(struct agent_session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	agent_rx_free(&s->rx);
}
