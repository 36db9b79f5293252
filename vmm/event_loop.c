#include "vmm/event_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int event_loop_init(struct event_loop *l, husk_error_t *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	l->stopping = false;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return husk_error_set(err, errno, "epoll_create1");
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
		int e = errno;
		event_loop_release(l);
		return husk_error_set(err, e, "event loop stop eventfd");
	}
	return 0;
}

void event_loop_release(struct event_loop *l)
{
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->stop_fd = l->epfd = -1;
}

int event_loop_add(struct event_loop *l, struct event_source *src, uint32_t events,
		   husk_error_t *err)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0)
		return husk_error_set(err, errno, "epoll_ctl add fd %d", src->fd);
	return 0;
}

void event_loop_del(struct event_loop *l, struct event_source *src)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

int event_loop_mod(struct event_loop *l, struct event_source *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, src->fd, &ev);
}

int event_loop_run(struct event_loop *l, husk_error_t *err)
{
	struct epoll_event evs[32];

	while (!l->stopping) {
		int n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return husk_error_set(err, errno, "epoll_wait");
		for (int i = 0; i < n && !l->stopping; i++) {
			struct event_source *src = evs[i].data.ptr;
			if (!src) {
				l->stopping = true;
				break;
			}
			src->fn(src, evs[i].events);
		}
	}
	return 0;
}

void event_loop_stop(struct event_loop *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->stop_fd, &one, sizeof(one));
	(void)r; /* an eventfd write only fails when the counter is full: already stopping */
}
