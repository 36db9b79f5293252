/* The container process: see vmm_process.h. */
#include "runtime/vmm_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_host.h"
#include "base/cleanup.h"
#include "runtime/control.h"
#include "runtime/exit_status.h"
#include "base/fileio.h"
#include "base/log.h"
#include "proto/agent_proto.h"

#define MAX_CLIENTS 64
/* The guest process id UPDATE frames carry, so that the agent's ERROR
 * for a failed update cannot be taken for the main process's. */
#define UPDATE_ID 0xffffffffu
#define FIRST_EXEC_ID 1u
/* The router writes to no peer directly: frames wait in a queue per peer
 * and go out as the peer's socket takes them, so that a peer that stops
 * reading never stalls the router (and with it every other client). Above
 * its soft bound a queue holds back what feeds it: the agent's stops the
 * reading of stdin and of the clients, a client's the reading of the agent
 * (flow control for a slow reader, as runc's blocking pipes give). A peer
 * must stay below its queue's MAX and, over the soft bound, take some of it
 * every STALL_MS: else a client is dropped (its exec is killed) and a
 * guest agent fails the container. */
#define AGENT_QUEUE_SOFT (1u << 20)
#define AGENT_QUEUE_MAX (8u << 20)
#define CLIENT_QUEUE_SOFT (1u << 20)
#define CLIENT_QUEUE_MAX (8u << 20)
#define CLIENT_STALL_MS 30000
/* husk-init gives up on a process's stdin after 5 s of it not reading, so
 * an agent that takes nothing for this long is stuck or hostile. */
#define AGENT_STALL_MS 30000

/* Bytes for one peer, not yet taken by its socket. */
struct outq {
	uint8_t *buf;
	size_t off, len, cap; /* pending: buf[off, len) */
};
/* How long the control socket goes unwatched when a connection pending on
 * it cannot be taken (no descriptor at all): the router wakes ten times a
 * second instead of spinning. */
#define ACCEPT_PAUSE_MS 100

struct client {
	int fd; /* -1: free slot */
	unsigned gen;
	struct agent_rx rx;
	uint32_t exec_id; /* 0: no exec on this connection */
	bool exec_done;
	bool start_wait;
	struct outq out;
	long long drained_at; /* when the socket last took bytes, or the queue was empty */
};

/* Clients waiting for one kind of reply, in the order they asked. */
struct waiters {
	struct {
		int slot;
		unsigned gen;
	} q[MAX_CLIENTS];
	unsigned head, len;
};

struct router {
	struct vmm_process *p;
	/* The VM's before_run, which the router's own wraps: once it is
	 * done the process is confined, and the router narrows itself at its
	 * next wake (confine_due), as the VMM's other threads do. */
	int (*before_run)(void *arg, husk_error_t *err);
	void *before_run_arg;
	atomic_bool confine_due;
	bool confined;
	int stop_pipe[2]; /* router → vm_run: end the VM */
	int quit_pipe[2]; /* main thread → router: the VM ended */
	int sigfd;
	struct agent_session s;
	bool agent_up;
	struct outq agent_out;
	long long agent_drained_at;
	bool ready, started, exited, create_failed;
	bool stdin_open;
	char create_error[AGENT_MAX_ERROR_MSG + 1];
	uint32_t code, sig;
	int term_signal; /* a host signal that ended the VM before START */
	bool failed;	 /* the container could not be created: exit 1 */
	struct client clients[MAX_CLIENTS];
	unsigned gen;
	uint32_t next_exec_id;
	struct waiters ps, stats, update;
	struct timespec t0;
	int ctl_spare; /* see vmm_ctl_accept() */
	bool ctl_paused;
	struct timespec ctl_resume; /* CLOCK_MONOTONIC */
	atomic_bool rootfs_sealed;  /* the rootfs share's seal (seal_rootfs) */
};

/* Signals the container process passes on to the guest's main process,
 * as runc's init forwards them. SIGKILL and SIGSTOP cannot be caught;
 * SIGCHLD and SIGWINCH are the VMM's own; faults stay synchronous. */
static void forwarded_signals(sigset_t *set)
{
	static const int sigs[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1,	  SIGUSR2,
				    SIGALRM, SIGTERM, SIGCONT, SIGTSTP,	  SIGTTIN,
				    SIGTTOU, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
				    SIGIO,   SIGPWR,  SIGURG,  SIGWINCH,  SIGCHLD };
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t outq_size(const struct outq *q)
{
	return q->len - q->off;
}

static void outq_free(struct outq *q)
{
	free(q->buf);
	*q = (struct outq){ 0 };
}

/* Appends HDR (HLEN bytes) and P: false when out of memory. */
static bool outq_push(struct outq *q, const void *hdr, size_t hlen, const void *p, size_t plen)
{
	if (q->off == q->len)
		q->off = q->len = 0;
	if (q->cap - q->len < hlen + plen && q->off) {
		memmove(q->buf, q->buf + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	if (q->cap - q->len < hlen + plen) {
		size_t cap = q->cap ? q->cap : 65536;
		while (cap - q->len < hlen + plen)
			cap *= 2;
		uint8_t *b = realloc(q->buf, cap);
		if (!b)
			return false;
		q->buf = b;
		q->cap = cap;
	}
	memcpy(q->buf + q->len, hdr, hlen);
	if (plen)
		memcpy(q->buf + q->len + hlen, p, plen);
	q->len += hlen + plen;
	return true;
}

/* Writes what FD takes now: the bytes written, or -1 when the peer is
 * gone. */
static ssize_t outq_flush(struct outq *q, int fd)
{
	size_t done = 0;
	while (q->off < q->len) {
		ssize_t w = send(fd, q->buf + q->off, q->len - q->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		q->off += (size_t)w;
		done += (size_t)w;
	}
	if (q->off == q->len)
		q->off = q->len = 0;
	return (ssize_t)done;
}

static void answer_start_waiters(struct router *r);
static void fail_container(struct router *r);

/* The agent's stream is gone (hung up, broken, or failed by us). */
static void agent_down(struct router *r)
{
	agent_session_close(&r->s);
	outq_free(&r->agent_out);
	r->agent_up = false;
}

static void agent_flush(struct router *r)
{
	if (!r->agent_up)
		return;
	ssize_t n = outq_flush(&r->agent_out, r->s.fd);
	if (n < 0) {
		log_error("send to the guest agent: %s", strerror(errno));
		agent_down(r);
		answer_start_waiters(r);
	} else if (n > 0 || !outq_size(&r->agent_out)) {
		r->agent_drained_at = now_ms();
	}
}

/* The guest does not take what it is sent: nothing can reach it any more,
 * so the container ends (status 1), as when it cannot be created. */
static void agent_stuck(struct router *r, const char *why)
{
	snprintf(r->create_error, sizeof(r->create_error),
		 "the guest agent stopped reading its stream (%s)", why);
	log_error("%s", r->create_error);
	agent_down(r);
	r->create_failed = true;
	answer_start_waiters(r);
	fail_container(r);
}

/* Queues a frame (header HDR, payload P) for the agent. */
static void agent_queue(struct router *r, const void *hdr, size_t hlen, const void *p, size_t plen)
{
	if (!r->agent_up)
		return;
	if (!outq_size(&r->agent_out))
		r->agent_drained_at = now_ms();
	if (!outq_push(&r->agent_out, hdr, hlen, p, plen) ||
	    outq_size(&r->agent_out) > AGENT_QUEUE_MAX) {
		agent_stuck(r, "its queue is full");
		return;
	}
	agent_flush(r);
}

static void to_agent(struct router *r, uint16_t type, uint32_t id, const void *p, size_t len)
{
	uint8_t hdr[AGENT_HDR_LEN];
	if (len > AGENT_MAX_PAYLOAD)
		return; /* the clients' frames were checked on the way in */
	agent_queue(r, hdr, agent_encode_hdr(hdr, type, id, (uint32_t)len), p, len);
}

static void agent_queue_buf(struct router *r, const uint8_t *f, size_t len)
{
	agent_queue(r, f, len, NULL, 0);
}

static bool agent_busy(const struct router *r)
{
	return r->agent_up && outq_size(&r->agent_out) > AGENT_QUEUE_SOFT;
}

static bool clients_busy(const struct router *r)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (r->clients[i].fd >= 0 && outq_size(&r->clients[i].out) > CLIENT_QUEUE_SOFT)
			return true;
	return false;
}

static void drop_client(struct router *r, struct client *c)
{
	if (c->exec_id && !c->exec_done && !r->exited) {
		/* Whoever relayed this process is gone (`husk exec` killed):
		 * nobody can read its output or status any more. */
		uint8_t f[AGENT_HDR_LEN + 8];
		agent_queue_buf(r, f, agent_encode_signal(f, c->exec_id, SIGKILL, 0));
	}
	close(c->fd);
	agent_rx_free(&c->rx);
	outq_free(&c->out);
	*c = (struct client){ .fd = -1 };
}

static void client_flush(struct router *r, struct client *c)
{
	ssize_t n = outq_flush(&c->out, c->fd);
	if (n < 0)
		drop_client(r, c);
	else if (n > 0 || !outq_size(&c->out))
		c->drained_at = now_ms();
}

static void client_queue(struct router *r, struct client *c, const void *hdr, size_t hlen,
			 const void *p, size_t plen)
{
	if (c->fd < 0)
		return;
	if (!outq_size(&c->out))
		c->drained_at = now_ms();
	if (!outq_push(&c->out, hdr, hlen, p, plen) || outq_size(&c->out) > CLIENT_QUEUE_MAX) {
		log_warn("a client of the control socket stopped reading: dropped");
		drop_client(r, c);
		return;
	}
	client_flush(r, c);
}

static void to_client(struct router *r, struct client *c, uint16_t type, const void *p, size_t len)
{
	uint8_t hdr[AGENT_HDR_LEN];
	if (len <= AGENT_MAX_PAYLOAD)
		client_queue(r, c, hdr, agent_encode_hdr(hdr, type, 0, (uint32_t)len), p, len);
}

static void client_error(struct router *r, struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_error(struct router *r, struct client *c, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	cleanup_free uint8_t *f = agent_encode_verror(0, 1, &len, fmt, ap);
	va_end(ap);
	if (f)
		client_queue(r, c, f, len, NULL, 0);
}

static void wait_push(struct waiters *w, int slot, unsigned gen)
{
	if (w->len == MAX_CLIENTS)
		return; /* cannot happen: one entry per client at most per kind */
	unsigned i = (w->head + w->len++) % MAX_CLIENTS;
	w->q[i].slot = slot;
	w->q[i].gen = gen;
}

/* The client the next reply of this kind is for, or NULL when it left. */
static struct client *wait_pop(struct router *r, struct waiters *w)
{
	if (w->len == 0)
		return NULL;
	int slot = w->q[w->head].slot;
	unsigned gen = w->q[w->head].gen;
	w->head = (w->head + 1) % MAX_CLIENTS;
	w->len--;
	struct client *c = &r->clients[slot];
	return c->fd >= 0 && c->gen == gen ? c : NULL;
}

static struct client *exec_owner(struct router *r, uint32_t id)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (r->clients[i].fd >= 0 && r->clients[i].exec_id == id)
			return &r->clients[i];
	return NULL;
}

/* From here on the guest may run code that is not husk-init's. */
static void seal_rootfs(struct router *r)
{
	atomic_store_explicit(&r->rootfs_sealed, true, memory_order_release);
}

static void do_start(struct router *r, struct client *c)
{
	c->start_wait = false;
	seal_rootfs(r);
	to_agent(r, AGENT_START, 0, NULL, 0);
	r->started = true;
	r->stdin_open = true;
	if (r->p->console_fd >= 0) {
		/* The client may have sized the terminal after create. */
		struct winsize ws;
		uint8_t f[AGENT_HDR_LEN + 4];
		if (ioctl(r->p->console_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
			agent_queue_buf(r, f, agent_encode_resize(f, 0, ws.ws_row, ws.ws_col));
	}
	to_client(r, c, AGENT_READY, NULL, 0);
}

static void fail_container(struct router *r)
{
	if (!r->failed && !r->exited) {
		r->failed = true;
		(void)!write(r->stop_pipe[1], "f", 1);
	}
}

static void answer_start_waiters(struct router *r)
{
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &r->clients[i];
		if (c->fd < 0 || !c->start_wait)
			continue;
		if (r->create_failed || r->exited || !r->agent_up) {
			c->start_wait = false;
			client_error(r, c, "%s",
				     r->create_error[0]
					     ? r->create_error
					     : "the container's VM stopped before it started");
			/* The failure is told: nothing is left to run. */
			fail_container(r);
		} else if (!r->started) {
			do_start(r, c);
		} else {
			c->start_wait = false;
			client_error(r, c, "cannot start an already running container");
		}
	}
}

static void main_output(struct router *r, uint16_t type, const struct agent_msg *m)
{
	int fd = r->p->console_fd >= 0	? r->p->console_fd
		 : type == AGENT_STDOUT ? STDOUT_FILENO
					: STDERR_FILENO;
	if (m->length && write_all(fd, m->payload, m->length) < 0 && errno != EPIPE)
		log_warn("container output: %s", strerror(errno));
}

static void on_agent_frame(struct router *r, const struct agent_msg *m)
{
	char why[256];
	struct client *c;

	switch (m->type) {
	case AGENT_READY:
		if (m->id == 0) {
			seal_rootfs(r);
			r->ready = true;
			answer_start_waiters(r);
		} else if ((c = exec_owner(r, m->id))) {
			to_client(r, c, m->type, NULL, 0);
		}
		break;
	case AGENT_ERROR: {
		struct agent_error e;
		if (agent_decode_error(m, &e, why, sizeof(why)) < 0) {
			log_error("guest agent: %s", why);
			break;
		}
		if (m->id == UPDATE_ID) {
			if ((c = wait_pop(r, &r->update)))
				to_client(r, c, AGENT_ERROR, m->payload, m->length);
		} else if (m->id != 0) {
			if ((c = exec_owner(r, m->id)))
				to_client(r, c, AGENT_ERROR, m->payload, m->length);
		} else if (!r->started) {
			r->create_failed = true;
			snprintf(r->create_error, sizeof(r->create_error), "%s", e.message);
			log_error("%s", e.message);
			answer_start_waiters(r);
		} else {
			/* The main process could not be run (runc reports these
			 * at start; the exit status follows in EXIT). */
			log_error("%s", e.message);
			dprintf(r->p->console_fd >= 0 ? r->p->console_fd : STDERR_FILENO,
				"husk: %s\n", e.message);
		}
		break;
	}
	case AGENT_STDOUT:
	case AGENT_STDERR:
		if (m->id == 0)
			main_output(r, m->type, m);
		else if ((c = exec_owner(r, m->id)))
			to_client(r, c, m->type, m->payload, m->length);
		break;
	case AGENT_EXIT: {
		struct agent_exit e;
		if (agent_decode_exit(m, &e, why, sizeof(why)) < 0) {
			log_error("guest agent: %s", why);
			break;
		}
		if (m->id != 0) {
			if ((c = exec_owner(r, m->id))) {
				c->exec_done = true;
				to_client(r, c, AGENT_EXIT, m->payload, m->length);
			}
			break;
		}
		r->exited = true;
		r->code = e.code;
		r->sig = e.signal;
		answer_start_waiters(r);
		/* Hanging up lets the guest sync, unmount and power off. */
		agent_down(r);
		break;
	}
	case AGENT_PS_REPLY:
		if ((c = wait_pop(r, &r->ps)))
			to_client(r, c, m->type, m->payload, m->length);
		break;
	case AGENT_STATS_REPLY:
		if ((c = wait_pop(r, &r->stats)))
			to_client(r, c, m->type, m->payload, m->length);
		break;
	case AGENT_UPDATED:
		if ((c = wait_pop(r, &r->update)))
			to_client(r, c, m->type, NULL, 0);
		break;
	default: break;
	}
}

static bool main_running(const struct router *r)
{
	return r->started && !r->exited && r->agent_up;
}

static void on_client_frame(struct router *r, struct client *c, const struct agent_msg *m)
{
	int slot = (int)(c - r->clients);
	char why[256];

	switch (m->type) {
	case AGENT_START:
		if (r->started)
			client_error(r, c,
				     r->exited ? "cannot start a container that has stopped"
					       : "cannot start an already running container");
		else if (r->create_failed || r->exited) {
			client_error(r, c, "%s",
				     r->create_error[0]
					     ? r->create_error
					     : "cannot start a container that has stopped");
			fail_container(r);
		} else if (r->ready)
			do_start(r, c);
		else
			c->start_wait = true;
		break;
	case AGENT_EXEC:
		if (!main_running(r)) {
			client_error(r, c, "cannot exec in a stopped container");
		} else if (c->exec_id) {
			client_error(r, c, "this connection already runs a process");
		} else {
			/* After the counter wraps, skip the ids of execs that still
			 * run: husk-init refuses an id in use. */
			uint32_t id;
			do {
				id = r->next_exec_id++;
				if (r->next_exec_id == UPDATE_ID)
					r->next_exec_id = FIRST_EXEC_ID;
			} while (exec_owner(r, id));
			c->exec_id = id;
			to_agent(r, AGENT_EXEC, c->exec_id, m->payload, m->length);
		}
		break;
	case AGENT_STDIN:
		if (c->exec_id && !c->exec_done)
			to_agent(r, m->type, c->exec_id, m->payload, m->length);
		break;
	case AGENT_RESIZE:
	case AGENT_SIGNAL:
		if (m->type == AGENT_SIGNAL) {
			struct agent_signal sg;
			if (agent_decode_signal(m, &sg, why, sizeof(why)) < 0) {
				client_error(r, c, "%s", why);
				break;
			}
			if (!c->exec_id && !r->started) {
				/* Signalling a created container: as runc,
				 * the signal ends it when it would end a process. */
				if (exit_status_signal_ends((int)sg.signo) && !r->term_signal) {
					r->term_signal = (int)sg.signo;
					(void)!write(r->stop_pipe[1], "s", 1);
				}
				break;
			}
		}
		if (c->exec_id) {
			if (!c->exec_done)
				to_agent(r, m->type, c->exec_id, m->payload, m->length);
		} else if (main_running(r)) {
			to_agent(r, m->type, 0, m->payload, m->length);
		}
		break;
	case AGENT_PS:
	case AGENT_STATS:
	case AGENT_UPDATE:
		if (!r->agent_up || !r->ready || r->exited) {
			client_error(r, c, "container not running");
			break;
		}
		wait_push(m->type == AGENT_PS	   ? &r->ps
			  : m->type == AGENT_STATS ? &r->stats
						   : &r->update,
			  slot, c->gen);
		to_agent(r, m->type, m->type == AGENT_UPDATE ? UPDATE_ID : 0, m->payload,
			 m->length);
		break;
	default: client_error(r, c, "unexpected %s request", agent_type_name(m->type));
	}
}

static void on_signal(struct router *r)
{
	struct signalfd_siginfo si;
	if (read(r->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	int sig = (int)si.ssi_signo;
	if (sig == SIGCHLD)
		return;
	if (sig == SIGWINCH) {
		struct winsize ws;
		uint8_t f[AGENT_HDR_LEN + 4];
		if (r->p->console_fd >= 0 && main_running(r) &&
		    ioctl(r->p->console_fd, TIOCGWINSZ, &ws) == 0)
			agent_queue_buf(r, f, agent_encode_resize(f, 0, ws.ws_row, ws.ws_col));
		return;
	}
	if (main_running(r)) {
		uint8_t f[AGENT_HDR_LEN + 8];
		agent_queue_buf(r, f, agent_encode_signal(f, 0, (uint32_t)sig, 0));
	} else if (!r->started && exit_status_signal_ends(sig) && !r->term_signal) {
		r->term_signal = sig;
		(void)!write(r->stop_pipe[1], "s", 1);
	}
}

static void on_stdin(struct router *r)
{
	uint8_t buf[65536];
	int fd = r->p->console_fd >= 0 ? r->p->console_fd : STDIN_FILENO;
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF on a pipe; EIO once the pty's master side is closed. */
		r->stdin_open = false;
		to_agent(r, AGENT_STDIN, 0, NULL, 0);
		return;
	}
	to_agent(r, AGENT_STDIN, 0, buf, (size_t)n);
}

/* What the guest's eth<N> carry: the veths' MAC, MTU, addresses and
 * routes, in the order of the virtio-net cards. Always sent, even with no
 * interface: the agent then brings up loopback alone. */
static int send_network(struct router *r, husk_error_t *err)
{
	static struct agent_network an; /* ~10 KiB: not on the stack */
	const struct net_setup *ns = r->p->net;
	size_t len;

	memset(&an, 0, sizeof(an));
	for (unsigned i = 0; ns && i < ns->n && i < AGENT_MAX_IFACES; i++) {
		const struct net_iface *f = &ns->ifs[i];
		struct agent_iface *a = &an.ifs[an.n++];
		memcpy(a->mac, f->mac, 6);
		a->mtu = f->mtu;
		for (unsigned k = 0; k < f->naddrs && k < AGENT_MAX_ADDRS; k++) {
			const struct net_addr *x = &f->addrs[k];
			struct agent_addr *y = &a->addrs[a->naddrs++];
			y->family = x->family == AF_INET ? 4 : 6;
			y->prefixlen = x->prefixlen;
			memcpy(y->addr, x->addr, x->family == AF_INET ? 4 : 16);
		}
		for (unsigned k = 0; k < f->nroutes && k < AGENT_MAX_ROUTES; k++) {
			const struct net_route *x = &f->routes[k];
			struct agent_route *y = &a->routes[a->nroutes++];
			size_t alen = x->family == AF_INET ? 4 : 16;
			*y = (struct agent_route){ .family = x->family == AF_INET ? 4 : 6,
						   .dst_len = x->dst_len,
						   .has_gw = x->has_gw,
						   .metric = x->metric };
			memcpy(y->dst, x->dst, alen);
			memcpy(y->gw, x->gw, alen);
		}
	}
	cleanup_free uint8_t *f = agent_encode_network(&an, &len);
	if (!f)
		return husk_error_set(
			err, EINVAL,
			"NETWORK for the guest agent: an interface the guest cannot take");
	if (!outq_push(&r->agent_out, f, len, NULL, 0))
		return husk_error_set(err, ENOMEM, "NETWORK for the guest agent");
	return 0;
}

static int send_create(struct router *r, husk_error_t *err)
{
	static struct agent_create c; /* large (bind table); one router per process */
	size_t len;

	memset(&c, 0, sizeof(c));
	c.rootfs_kind = AGENT_ROOTFS_VIRTIOFS;
	snprintf(c.rootfs, sizeof(c.rootfs), "%s", r->p->rootfs_tag);
	c.config = r->p->config_json;
	c.config_len = (uint32_t)r->p->config_len;
	c.nbinds = (uint16_t)r->p->nbinds;
	for (unsigned i = 0; i < r->p->nbinds && i < AGENT_MAX_BINDS; i++)
		c.binds[i] = r->p->binds[i];
	if (send_network(r, err) < 0)
		return -1;
	cleanup_free uint8_t *f = agent_encode_create(&c, &len);
	if (!f)
		return husk_error_set(err, EMSGSIZE, "CREATE for the guest agent");
	if (!outq_push(&r->agent_out, f, len, NULL, 0))
		return husk_error_set(err, ENOMEM, "CREATE for the guest agent");
	return 0;
}

static void refuse(int fd, const char *why)
{
	size_t len;
	cleanup_free uint8_t *f = agent_encode_error(0, 1, why, &len);
	if (f)
		(void)!write(fd, f, len);
	close(fd);
}

int vmm_ctl_accept(int listen_fd, int *spare, int *pause_ms)
{
	*pause_ms = 0;
	/* Any descriptor will do: an eventfd needs no path. */
	if (*spare < 0)
		*spare = eventfd(0, EFD_CLOEXEC);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED: return -1; /* nothing (left) pending: poll says when */
	case EMFILE:
	case ENFILE: break;
	default: *pause_ms = ACCEPT_PAUSE_MS; return -1;
	}
	if (*spare >= 0) {
		close(*spare);
		*spare = -1;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			log_warn("control socket: out of file descriptors, a request was refused");
			refuse(fd, "the container's VMM is out of file descriptors");
			*spare = eventfd(0, EFD_CLOEXEC);
			return -1;
		}
		*spare = eventfd(0, EFD_CLOEXEC);
	}
	/* Another thread took the descriptor freed, or there was none. */
	*pause_ms = ACCEPT_PAUSE_MS;
	return -1;
}

static void accept_client(struct router *r)
{
	int pause_ms;
	int fd = vmm_ctl_accept(r->p->ctl_listen, &r->ctl_spare, &pause_ms);
	if (pause_ms) {
		clock_gettime(CLOCK_MONOTONIC, &r->ctl_resume);
		r->ctl_resume.tv_nsec += pause_ms * 1000000L;
		if (r->ctl_resume.tv_nsec >= 1000000000L) {
			r->ctl_resume.tv_sec++;
			r->ctl_resume.tv_nsec -= 1000000000L;
		}
		r->ctl_paused = true;
	}
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (r->clients[i].fd < 0) {
			r->clients[i] = (struct client){ .fd = fd, .gen = ++r->gen };
			return;
		}
	/* Too many husk commands at once on one container: refuse this one. */
	refuse(fd, "too many concurrent requests");
}

/* Milliseconds until the control socket is watched again (0: it is). */
static int ctl_pause_left(struct router *r)
{
	struct timespec now;

	if (!r->ctl_paused)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (r->ctl_resume.tv_sec - now.tv_sec) * 1000LL +
		       (r->ctl_resume.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0) {
		r->ctl_paused = false;
		return 0;
	}
	return (int)ms + 1;
}

/* The guest agent's stream went away without reporting an exit. */
static void agent_lost(struct router *r)
{
	agent_down(r);
	answer_start_waiters(r);
}

/* Takes the agent's frames already read, while the clients take their
 * output (or all of them: FORCE, when the agent is gone). */
static void agent_frames(struct router *r, bool force)
{
	char why[256];
	struct agent_msg m;

	while (r->agent_up && (force || !clients_busy(r))) {
		int k = agent_rx_next(&r->s.rx, AGENT_FROM_GUEST, &m, why, sizeof(why));
		if (k == 0)
			return;
		if (k < 0) {
			log_error("guest agent: %s", why);
			agent_lost(r);
			return;
		}
		on_agent_frame(r, &m);
	}
}

/* Takes C's requests already read, while the agent takes its input. */
static void client_frames(struct router *r, struct client *c)
{
	char why[256];
	struct agent_msg m;

	while (c->fd >= 0 && !agent_busy(r)) {
		int k = agent_rx_next(&c->rx, AGENT_FROM_HOST, &m, why, sizeof(why));
		if (k == 0)
			return;
		if (k < 0) {
			drop_client(r, c);
			return;
		}
		on_client_frame(r, c, &m);
	}
}

/* Fails a stuck agent, and drops the clients that held back the agent's
 * stream and took nothing for CLIENT_STALL_MS: the time until the next may
 * be due, or -1. */
static int drop_stalled_peers(struct router *r)
{
	long long now = now_ms(), next = -1;
	if (agent_busy(r)) {
		long long left = r->agent_drained_at + AGENT_STALL_MS - now;
		if (left <= 0) {
			char why[64];
			snprintf(why, sizeof(why), "it took nothing for %d s",
				 AGENT_STALL_MS / 1000);
			agent_stuck(r, why);
		} else
			next = left;
	}
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &r->clients[i];
		if (c->fd < 0 || outq_size(&c->out) <= CLIENT_QUEUE_SOFT)
			continue;
		long long left = c->drained_at + CLIENT_STALL_MS - now;
		if (left <= 0) {
			log_warn(
				"a client of the control socket took none of its output for %d s: dropped",
				CLIENT_STALL_MS / 1000);
			drop_client(r, c);
		} else if (next < 0 || left < next) {
			next = left;
		}
	}
	return (int)next;
}

static void route(struct router *r)
{
	struct pollfd pf[5 + MAX_CLIENTS];
	int slot_of[5 + MAX_CLIENTS];
	husk_error_t err = NULL;

	for (;;) {
		if (!r->confined && atomic_load(&r->confine_due)) {
			r->confined = true;
			if (r->p->vm.confine_thread &&
			    r->p->vm.confine_thread(VMM_THREAD_ROUTER, &err) < 0) {
				log_error("%s", err->msg);
				husk_error_release(&err);
				fail_container(r);
				return;
			}
		}
		int timeout = drop_stalled_peers(r);
		bool hold_agent = clients_busy(r), hold_inputs = agent_busy(r);
		nfds_t n = 0;
		pf[n++] = (struct pollfd){ r->quit_pipe[0], POLLIN, 0 };
		pf[n++] = (struct pollfd){ r->sigfd, POLLIN, 0 };
		int paused = ctl_pause_left(r);
		pf[n++] = (struct pollfd){ paused ? -1 : r->p->ctl_listen, POLLIN, 0 };
		if (r->agent_up)
			pf[n++] =
				(struct pollfd){ r->s.fd,
						 (short)((hold_agent ? 0 : POLLIN) |
							 (outq_size(&r->agent_out) ? POLLOUT : 0)),
						 0 };
		else
			pf[n++] = (struct pollfd){ r->ready || r->exited ? -1 : r->p->agent_listen,
						   POLLIN, 0 };
		int in = r->p->console_fd >= 0 ? r->p->console_fd : STDIN_FILENO;
		pf[n++] =
			(struct pollfd){ main_running(r) && r->stdin_open && !hold_inputs ? in : -1,
					 POLLIN, 0 };
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (r->clients[i].fd >= 0) {
				slot_of[n] = i;
				pf[n++] = (struct pollfd){
					r->clients[i].fd,
					(short)((hold_inputs ? 0 : POLLIN) |
						(outq_size(&r->clients[i].out) ? POLLOUT : 0)),
					0
				};
			}
		/* The guest must boot, connect and be ready in time. */
		if (!r->ready && !r->exited && !r->create_failed) {
			const long long boot_ms = r->p->boot_timeout_ms > 0
							  ? r->p->boot_timeout_ms
							  : CONTROL_BOOT_TIMEOUT_S * 1000LL;
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long long ms = (now.tv_sec - r->t0.tv_sec) * 1000LL +
				       (now.tv_nsec - r->t0.tv_nsec) / 1000000;
			if (ms >= boot_ms) {
				snprintf(r->create_error, sizeof(r->create_error),
					 r->agent_up ? "the guest agent was not ready within %d s"
						     : "the guest did not boot within %d s",
					 (int)(boot_ms / 1000));
				log_error("%s", r->create_error);
				r->create_failed = true;
				answer_start_waiters(r);
				fail_container(r);
				continue;
			}
			if (timeout < 0 || boot_ms - ms < timeout)
				timeout = (int)(boot_ms - ms);
		}
		if (paused && (timeout < 0 || paused < timeout))
			timeout = paused;
		if (poll(pf, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("router poll: %s", strerror(errno));
			return;
		}
		if (pf[0].revents)
			return;
		if (pf[1].revents)
			on_signal(r);
		if (pf[2].revents)
			accept_client(r);
		if (pf[3].revents && pf[3].fd == r->p->agent_listen) {
			if (agent_session_accept(&r->s, r->p->agent_listen, r->quit_pipe[0], 10000,
						 &err) < 0 ||
			    fcntl(r->s.fd, F_SETFL, O_NONBLOCK) < 0 || send_create(r, &err) < 0) {
				if (!err)
					husk_error_set(&err, errno, "the guest agent's socket");
				log_error("%s", err->msg);
				snprintf(r->create_error, sizeof(r->create_error), "%s", err->msg);
				husk_error_release(&err);
				agent_down(r);
				r->create_failed = true;
				answer_start_waiters(r);
				(void)!write(r->stop_pipe[1], "e", 1);
			} else {
				r->agent_up = true;
				agent_flush(r);
			}
		} else if (r->agent_up) {
			if (pf[3].revents & POLLOUT)
				agent_flush(r);
			bool gone = false, hup = pf[3].revents & (POLLHUP | POLLERR);
			if (r->agent_up && (pf[3].revents & POLLIN || hup)) {
				/* What is already read goes first, as far as the
				 * clients take it: the buffer is bounded. */
				agent_frames(r, false);
				if (hup || !clients_busy(r)) {
					ssize_t got = agent_rx_fill(&r->s.rx, r->s.fd);
					gone = got == 0 || (got < 0 && errno != EAGAIN);
				}
			}
			agent_frames(r, gone);
			if (gone && r->agent_up)
				agent_lost(r);
		}
		if (pf[4].revents)
			on_stdin(r);
		for (nfds_t i = 5; i < n; i++) {
			struct client *c = &r->clients[slot_of[i]];
			if (!pf[i].revents || c->fd != pf[i].fd)
				continue;
			if (pf[i].revents & POLLOUT)
				client_flush(r, c);
			if (c->fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (hold_inputs) {
				/* Not read now, but a client that went away goes. */
				if (pf[i].revents & (POLLHUP | POLLERR))
					drop_client(r, c);
				continue;
			}
			client_frames(r, c);
			if (c->fd < 0 || (agent_busy(r) && !(pf[i].revents & (POLLHUP | POLLERR))))
				continue;
			ssize_t got = agent_rx_fill(&c->rx, c->fd);
			if (got == 0 || (got < 0 && errno != EAGAIN))
				drop_client(r, c);
		}
		/* Requests held back while the agent's queue was full. */
		for (int i = 0; i < MAX_CLIENTS && !agent_busy(r); i++)
			client_frames(r, &r->clients[i]);
		if (r->agent_up)
			agent_frames(r, false);
	}
}

void vmm_process_route(struct vmm_process *p, int quit_fd, int stop_fd)
{
	struct router *r = calloc(1, sizeof(*r));
	if (!r)
		return;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->p = p;
	r->s.fd = -1;
	r->next_exec_id = FIRST_EXEC_ID;
	r->quit_pipe[0] = quit_fd;
	r->stop_pipe[1] = stop_fd;
	r->sigfd = -1;
	r->ctl_spare = eventfd(0, EFD_CLOEXEC);
	(void)!fcntl(p->ctl_listen, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < MAX_CLIENTS; i++)
		r->clients[i].fd = -1;
	route(r);
	agent_down(r);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (r->clients[i].fd >= 0)
			drop_client(r, &r->clients[i]);
	if (r->ctl_spare >= 0)
		close(r->ctl_spare);
	free(r);
}

/* The VM's before_run, then the word to the router that the process is
 * confined and it may narrow itself. */
static int router_before_run(void *arg, husk_error_t *err)
{
	struct router *r = arg;
	if (r->before_run && r->before_run(r->before_run_arg, err) < 0)
		return -1;
	atomic_store(&r->confine_due, true);
	return 0;
}

static void *router_main(void *arg)
{
	pthread_setname_np(pthread_self(), "agent-router"); /* its class, in /proc/PID/task */
	route(arg);
	return NULL;
}

int vmm_process_run(struct vmm_process *p, husk_error_t *err)
{
	struct router *r = calloc(1, sizeof(*r));
	struct vm_result res;
	struct timespec t0;
	sigset_t fwd;
	pthread_t thread;
	int status = 255;

	if (!r)
		return husk_error_set(err, ENOMEM, "router");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->t0 = t0;
	r->p = p;
	r->s.fd = -1;
	r->next_exec_id = FIRST_EXEC_ID;
	atomic_init(&r->rootfs_sealed, false);
	atomic_init(&r->confine_due, false);
	for (int i = 0; p->seal_rootfs && i < p->vm.nshares && i < VM_MAX_SHARES; i++)
		if (p->rootfs_tag && strcmp(p->vm.shares[i].tag, p->rootfs_tag) == 0)
			p->vm.shares[i].sealed = &r->rootfs_sealed;
	r->stop_pipe[0] = r->stop_pipe[1] = r->quit_pipe[0] = r->quit_pipe[1] = r->sigfd = -1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		r->clients[i].fd = -1;
	/* Taken now, while descriptors are plenty; and the socket must not
	 * block the router when a connection it saw pending is gone. */
	r->ctl_spare = eventfd(0, EFD_CLOEXEC);
	if (fcntl(p->ctl_listen, F_SETFL, O_NONBLOCK) < 0) {
		husk_error_set(err, errno, "control socket");
		goto out;
	}
	/* Blocked before any thread exists: the router's signalfd alone
	 * receives them. A reader that went away must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	forwarded_signals(&fwd);
	pthread_sigmask(SIG_BLOCK, &fwd, NULL);
	if (pipe2(r->stop_pipe, O_CLOEXEC) < 0 || pipe2(r->quit_pipe, O_CLOEXEC) < 0 ||
	    (r->sigfd = signalfd(-1, &fwd, SFD_CLOEXEC)) < 0) {
		husk_error_set(err, errno, "VMM set-up");
		goto out;
	}
	p->vm.caller_signals = true;
	p->vm.stop_fd = r->stop_pipe[0];
	r->before_run = p->vm.before_run;
	r->before_run_arg = p->vm.before_run_arg;
	p->vm.before_run = router_before_run;
	p->vm.before_run_arg = r;
	/* The router's own while the VM runs: the agent's connection, every
	 * control client it lets in and one more it is turning away. */
	p->vm.extra_fds = MAX_CLIENTS + 2;
	int e = pthread_create(&thread, NULL, router_main, r);
	if (e) {
		husk_error_set(err, e, "pthread_create");
		goto out;
	}
	int ret = vm_run(&p->vm, &t0, &res, err);
	(void)!write(r->quit_pipe[1], "q", 1);
	pthread_join(thread, NULL);
	if (ret < 0)
		goto out;
	/* What the guest reported is hostile: exit_status_*() decide. */
	if (r->exited) {
		status = exit_status_from_guest(r->code, r->sig);
	} else if (r->failed) {
		status = 1;
	} else if (r->term_signal) {
		status = exit_status_of_signal(r->term_signal);
	} else if (res.outcome == VM_OUTCOME_POWEROFF) {
		status = exit_status_from_guest((uint32_t)res.exit_code, (uint32_t)res.exit_signal);
	} else {
		log_error("the container's VM ended without an exit status: %s", res.message);
		status = 255;
	}
out:
	agent_down(r);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (r->clients[i].fd >= 0) {
			close(r->clients[i].fd);
			agent_rx_free(&r->clients[i].rx);
			outq_free(&r->clients[i].out);
		}
	int fds[] = { r->stop_pipe[0], r->stop_pipe[1], r->quit_pipe[0],
		      r->quit_pipe[1], r->sigfd,	r->ctl_spare };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(r);
	return status;
}

_Noreturn void vmm_process_exit(int status)
{
	/* Die the way the guest's process died, so that a waiting client
	 * reads what runc would give. */
	exit_status_end(status);
}
