/* The control socket's client end: see control.h. */
#include "runtime/control.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_host.h"
#include "runtime/cli.h"

static int sock_addr(const struct container *c, struct sockaddr_un *a, husk_error_t *err)
{
	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	container_sock_path(c, CONTROL_SOCKET, a->sun_path, sizeof(a->sun_path));
	if (strlen(a->sun_path) + 1 >= sizeof(a->sun_path))
		return husk_error_set(err, ENAMETOOLONG, "control socket");
	return 0;
}

int control_listen(const struct container *c, husk_error_t *err)
{
	struct sockaddr_un a;
	if (sock_addr(c, &a, err) < 0)
		return -1;
	return agent_listen(a.sun_path, err);
}

int control_connect(const struct container *c, husk_error_t *err)
{
	struct sockaddr_un a;
	if (sock_addr(c, &a, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return husk_error_set(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return husk_error_set(err, 0, "container not running");
	}
	return fd;
}

long long control_deadline(int timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
}

/* 0 once FD is ready for EVENTS; -1 with ETIMEDOUT at DEADLINE. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - control_deadline(0);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { fd, events, 0 };
		int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int control_send(int fd, uint16_t type, uint32_t id, const void *p, size_t len, long long deadline)
{
	uint8_t hdr[AGENT_HDR_LEN];

	if (len > AGENT_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	agent_encode_hdr(hdr, type, id, (uint32_t)len);
	/* Never a blocking write: a VMM that does not read (frozen, stuck)
	 * would hold us past any deadline. */
	for (size_t off = 0, total = sizeof(hdr) + len; off < total;) {
		struct iovec iov[2];
		int n = 0;
		if (off < sizeof(hdr))
			iov[n++] = (struct iovec){ hdr + off, sizeof(hdr) - off };
		size_t poff = off < sizeof(hdr) ? 0 : off - sizeof(hdr);
		if (len > poff)
			iov[n++] = (struct iovec){ (uint8_t *)p + poff, len - poff };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno == EINTR)
			continue;
		else if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) == 0)
			continue;
		else
			return -1;
	}
	return 0;
}

ssize_t control_fill(int fd, struct agent_rx *rx, long long deadline)
{
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
		ssize_t got = agent_rx_fill(rx, fd);
		if (got >= 0 || errno != EINTR)
			return got;
	}
}

int control_timeout(const char *var, int default_s, int *ms, husk_error_t *err)
{
	const char *v = getenv(var);
	unsigned long s = (unsigned long)default_s;

	if (v && !cli_parse_ulong(v, 1, 86400, &s))
		return husk_error_set(err, 0,
				      "%s: \"%s\" is not a whole number of seconds from 1 to 86400",
				      var, v);
	*ms = (int)s * 1000;
	return 0;
}

int control_call(int fd, uint16_t type, const void *p, size_t len, uint16_t want, uint8_t **reply,
		 size_t *rlen, int timeout_ms, husk_error_t *err)
{
	struct agent_rx rx = { 0 };
	struct agent_msg m;
	char why[256];
	int ret = -1;
	long long deadline = control_deadline(timeout_ms);

	if (reply)
		*reply = NULL;
	if (control_send(fd, type, 0, p, len, deadline) < 0) {
		if (errno == ETIMEDOUT)
			return husk_error_set(err, 0, "the container took no %s within %d s",
					      agent_type_name(type), timeout_ms / 1000);
		return husk_error_set(err, errno, "send %s to the container",
				      agent_type_name(type));
	}
	for (;;) {
		int k = agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why));
		if (k < 0) {
			husk_error_set(err, 0, "the container's reply: %s", why);
			break;
		}
		if (k == 0) {
			ssize_t got = control_fill(fd, &rx, deadline);
			if (got < 0 && errno == ETIMEDOUT) {
				husk_error_set(
					err, 0,
					"the container's guest did not answer %s with %s within %d s",
					agent_type_name(type), agent_type_name(want),
					timeout_ms / 1000);
				break;
			}
			if (got <= 0) {
				husk_error_set(err, got < 0 ? errno : 0,
					       "the container stopped before it answered %s",
					       agent_type_name(type));
				break;
			}
			continue;
		}
		if (m.type == AGENT_ERROR) {
			struct agent_error e;
			if (agent_decode_error(&m, &e, why, sizeof(why)) < 0)
				husk_error_set(err, 0, "the container's reply: %s", why);
			else
				husk_error_set(err, 0, "%s", e.message);
			break;
		}
		if (m.type != want)
			continue;
		if (reply && m.length) {
			*reply = malloc(m.length);
			if (!*reply) {
				husk_error_set(err, ENOMEM, "reply");
				break;
			}
			memcpy(*reply, m.payload, m.length);
		}
		if (rlen)
			*rlen = m.length;
		ret = 0;
		break;
	}
	agent_rx_free(&rx);
	return ret;
}
