/* The VMM's one epoll loop: queue notifications (ioeventfds), host sockets
 * and signals all arrive here and are handled on this thread. A source is a
 * callback plus its context; event_loop_stop() may be called from any
 * thread and makes event_loop_run() return. */
#ifndef HUSK_VMM_EVENT_LOOP_H
#define HUSK_VMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct event_source {
	void (*fn)(struct event_source *src, uint32_t events);
	void *ctx;
	int fd;
};

struct event_loop {
	int epfd;
	int stop_fd; /* eventfd written by event_loop_stop() */
	bool stopping;
};

int event_loop_init(struct event_loop *l, husk_error_t *err);
void event_loop_release(struct event_loop *l);
int event_loop_add(struct event_loop *l, struct event_source *src, uint32_t events,
		   husk_error_t *err);
void event_loop_del(struct event_loop *l, struct event_source *src);
/* Changes the events SRC waits for (0: none, while it stays registered). */
int event_loop_mod(struct event_loop *l, struct event_source *src, uint32_t events);
int event_loop_run(struct event_loop *l, husk_error_t *err);
void event_loop_stop(struct event_loop *l);

#endif
