/* The control socket's client end: see control.h. */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_host.h"

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

int control_call(int fd, uint16_t type, const void *p, size_t len, uint16_t want, uint8_t **reply,
		 size_t *rlen, husk_error_t *err)
{
	struct agent_rx rx = { 0 };
	struct agent_msg m;
	char why[256];
	int ret = -1;

	if (reply)
		*reply = NULL;
	if (agent_send(fd, type, 0, p, len) < 0)
		return husk_error_set(err, errno, "send %s to the container", agent_type_name(type));
	for (;;) {
		int k = agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why));
		if (k < 0) {
			husk_error_set(err, 0, "the container's reply: %s", why);
			break;
		}
		if (k == 0) {
			ssize_t got;
			do
				got = agent_rx_fill(&rx, fd);
			while (got < 0 && errno == EINTR);
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
