/* husk-init's processes: the table of the container's processes (the main
 * one and each exec), how one is started, the relay of its output to the
 * host, and the reaping of every child, orphans included, into EXIT frames.
 * Apart from main.c, which serves the host's frames, because this is the
 * part with state that outlives a frame: pids, fds and exits that arrive
 * in any order. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs/husk-init/init.h"

#define MAX_STASH 256

static struct proc procs[MAX_PROCS];
struct proc *main_proc;
static struct {
	pid_t pid;
	int status;
} stash[MAX_STASH];
static unsigned stash_next;

struct proc *proc_find(uint32_t id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used && procs[i].id == id)
			return &procs[i];
	return NULL;
}

struct proc *proc_new(uint32_t id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (!procs[i].used) {
			procs[i] = (struct proc){ .used = true,
						  .id = id,
						  .in_fd = -1,
						  .out_fd = -1,
						  .err_fd = -1,
						  .sync_fd = -1,
						  .start_fd = -1 };
			return &procs[i];
		}
	return NULL;
}

/* Output of P on FD (STDOUT or STDERR): one read; false at EOF. */
static bool relay_output(struct proc *p, int *fd, uint16_t type)
{
	static uint8_t buf[65536];
	ssize_t r;

	do
		r = read(*fd, buf, sizeof(buf));
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		send_frame(type, p->id, buf, (size_t)r);
		return true;
	}
	if (r < 0 && errno == EAGAIN)
		return true;
	/* EOF, or EIO from a pty master whose slave is gone. */
	send_frame(type, p->id, NULL, 0);
	unwatch_close(fd);
	return false;
}

/* Reads until the pipe is empty: what the process wrote before it exited. */
static void drain_output(struct proc *p, int *fd, uint16_t type)
{
	if (*fd < 0)
		return;
	int fl = fcntl(*fd, F_GETFL);
	fcntl(*fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		static uint8_t buf[65536];
		ssize_t r = read(*fd, buf, sizeof(buf));
		if (r > 0) {
			send_frame(type, p->id, buf, (size_t)r);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
	send_frame(type, p->id, NULL, 0);
	unwatch_close(fd);
}

void proc_free(struct proc *p)
{
	unwatch_close(&p->in_fd);
	unwatch_close(&p->out_fd);
	unwatch_close(&p->err_fd);
	unwatch_close(&p->sync_fd);
	unwatch_close(&p->start_fd);
	oci_process_free(p->owned);
	if (p == main_proc)
		main_proc = NULL;
	*p = (struct proc){ 0 };
}

/* A message from a child on its sync socket; false at EOF. */
static bool handle_sync(struct proc *p, bool nonblock)
{
	char buf[4096];
	ssize_t r;
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof(u.c)
	};

	do
		r = recvmsg(p->sync_fd, &mh, (nonblock ? MSG_DONTWAIT : 0) | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	int passed = -1;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&passed, CMSG_DATA(cm), sizeof(int));
	if (r < 0 && errno == EAGAIN)
		return false;
	if (r <= 0) {
		unwatch_close(&p->sync_fd);
		return false;
	}
	buf[r] = '\0';
	if (passed >= 0 && (buf[0] != 'T' || !p->tty || p->in_fd >= 0)) {
		close(passed); /* not asked for */
		passed = -1;
	}
	switch (buf[0]) {
	case 'T':
		if (passed >= 0) {
			p->in_fd = passed;
			p->out_fd = dup(passed);
			fcntl(p->out_fd, F_SETFD, FD_CLOEXEC);
			fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
			watch(p->out_fd, K_OUT, (unsigned)(p - procs));
		}
		break;
	case 'R': send_frame(AGENT_READY, p->id, NULL, 0); break;
	case 'E': {
		char *msg = NULL;
		long code = strtol(buf + 1, &msg, 10);
		send_error(p->id, (uint32_t)code, "%s", msg && *msg == ' ' ? msg + 1 : buf + 1);
		break;
	}
	case 'P': p->pid = (pid_t)atoi(buf + 1); break;
	}
	return true;
}

static void finish_proc(struct proc *p, int status);

/* Whether an exec's process may have exited before its helper's "P<pid>"
 * was read: only then can a reaped pid that matches no process be that
 * process, and only then is it worth keeping. */
static bool exec_pid_pending(void)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used && !procs[i].main && procs[i].pid == 0)
			return true;
	return false;
}

/* Once no exec's pid is unknown, what the stash holds is orphans': drop
 * it, so that a pid the kernel hands out again later (after the pid
 * counter wraps) is never matched with an old orphan's exit. */
static void drop_stale_stash(void)
{
	if (stash_next && !exec_pid_pending()) {
		memset(stash, 0, sizeof(stash));
		stash_next = 0;
	}
}

static void claim_stash(struct proc *p)
{
	for (unsigned i = 0; i < MAX_STASH; i++)
		if (stash[i].pid == p->pid && p->pid > 0) {
			stash[i].pid = 0;
			finish_proc(p, stash[i].status);
			break;
		}
	drop_stale_stash();
}

static void exit_of(int status, uint32_t *code, uint32_t *sig)
{
	if (WIFSIGNALED(status)) {
		*sig = (uint32_t)WTERMSIG(status);
		*code = 128 + *sig;
	} else {
		*sig = 0;
		*code = (uint32_t)WEXITSTATUS(status);
	}
}

static void finish_proc(struct proc *p, int status)
{
	uint32_t code, sig;

	while (p->sync_fd >= 0 && handle_sync(p, true))
		;
	drain_output(p, &p->out_fd, AGENT_STDOUT);
	drain_output(p, &p->err_fd, AGENT_STDERR);
	exit_of(status, &code, &sig);
	if (p->main) {
		proc_free(p);
		shutdown_vm(code, sig);
	}
	send_exit(p->id, code, sig);
	proc_free(p);
}

void proc_reap(bool block)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, block ? 0 : WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		struct proc *found = NULL;
		bool helper = false;
		for (int i = 0; i < MAX_PROCS; i++) {
			if (!procs[i].used)
				continue;
			if (procs[i].pid == pid)
				found = &procs[i];
			else if (procs[i].helper == pid) {
				procs[i].helper = 0;
				helper = true;
				/* It sent "P<pid>" before it exited. */
				while (procs[i].sync_fd >= 0 && procs[i].pid == 0 &&
				       handle_sync(&procs[i], true))
					;
				if (procs[i].pid == 0) {
					/* It failed before forking: report it as the exit. */
					finish_proc(&procs[i], st);
					drop_stale_stash();
				} else {
					claim_stash(&procs[i]);
				}
			}
		}
		if (found)
			finish_proc(found, st);
		else if (!helper && exec_pid_pending()) {
			/* An orphan, or an exec'd process whose pid is not known
			 * yet: keep the status until its pid is known. */
			stash[stash_next % MAX_STASH].pid = pid;
			stash[stash_next % MAX_STASH].status = st;
			stash_next++;
		}
	}
}

/* The end of the VM: every process killed, reaped and reported. */
void proc_kill_all(void)
{
	kill(-1, SIGKILL);
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used && procs[i].pid > 0)
			kill(procs[i].pid, SIGKILL);
	proc_reap(true);
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used)
			finish_proc(&procs[i], SIGKILL);
}

/* stdio for a new process: pipes (child ends in CHILD, the agent's in P),
 * or, with a terminal, nothing yet: the child opens the pty itself. */
static int make_stdio(struct proc *p, const struct oci_process *op, int child[3], char *why,
		      size_t whylen)
{
	child[0] = child[1] = child[2] = -1;
	if (op->terminal) {
		/* The child opens it inside the container and sends the master
		 * ("T" on the sync socket): see handle_sync(). */
		(void)why, (void)whylen;
		p->tty = true;
		return 0;
	}
	int pin[2], pout[2], perr[2];
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	child[0] = pin[0];
	child[1] = pout[1];
	child[2] = perr[1];
	p->in_fd = pin[1];
	p->out_fd = pout[0];
	p->err_fd = perr[0];
	return 0;
}

/* Starts P's child (main or exec) in the container CFG; false with the
 * reason sent as ERROR. */
bool proc_spawn(struct proc *p, const struct oci_config *cfg, const struct oci_process *op)
{
	char why[512];
	int child[3], sv[2], start[2] = { -1, -1 };

	if (make_stdio(p, op, child, why, sizeof(why)) < 0) {
		send_error(p->id, 1, "%s", why);
		return false;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (p->main && pipe2(start, O_CLOEXEC) < 0)) {
		send_error(p->id, 1, "socketpair: %s", strerror(errno));
		return false;
	}
	struct child_args a = {
		.cfg = cfg,
		.proc = op,
		.main = p->main,
		.join_pid = main_proc ? main_proc->pid : 0,
		.stdio = { child[0], child[1], child[2] },
		.sync_fd = sv[1],
		.start_fd = start[0],
	};
	uint64_t flags = 0;
	if (p->main) {
		flags |= CLONE_NEWNS;
		for (size_t i = 0; i < cfg->nnamespaces; i++) {
			/* A path names a host namespace (a pod's, in CRI), which
			 * nothing in a VM can join: the process stays in the
			 * guest's own namespace of that type, the one husk-init
			 * (in the sandbox's role) holds. The VMM joins a network
			 * path on the host. on_create() refuses user namespaces. */
			if (!cfg->namespaces[i].path)
				flags |= (uint64_t)(unsigned)cfg->namespaces[i].type;
		}
	}
	/* clone3, not clone: CLONE_NEWTIME (0x80) lies in legacy clone()'s
	 * exit-signal byte, where it is taken for the signal to send at exit
	 * (no time namespace, and a child that waitpid(-1) never reports). */
	struct clone_args ca = { .flags = flags, .exit_signal = SIGCHLD };
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child_run(&a);
	int e = errno;
	for (int i = 0; i < 3; i++)
		if (child[i] >= 0)
			close(child[i]);
	close(sv[1]);
	if (start[0] >= 0)
		close(start[0]);
	p->sync_fd = sv[0];
	p->start_fd = start[1];
	if (pid < 0) {
		send_error(p->id, 1, "clone: %s", strerror(e));
		return false;
	}
	if (p->main)
		p->pid = pid;
	else
		p->helper = pid;
	unsigned slot = (unsigned)(p - procs);
	if (p->out_fd >= 0) {
		fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
		watch(p->out_fd, K_OUT, slot);
	}
	if (p->err_fd >= 0) {
		fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
		watch(p->err_fd, K_ERR, slot);
	}
	watch(p->sync_fd, K_SYNC, slot);
	return true;
}

/* An event on one of a process's fds, which watch() tagged with its slot. */
void proc_event(enum fd_kind kind, unsigned slot)
{
	struct proc *p = &procs[slot];

	switch (kind) {
	case K_OUT:
		if (p->used && p->out_fd >= 0)
			relay_output(p, &p->out_fd, AGENT_STDOUT);
		break;
	case K_ERR:
		if (p->used && p->err_fd >= 0)
			relay_output(p, &p->err_fd, AGENT_STDERR);
		break;
	case K_SYNC:
		if (p->used && p->sync_fd >= 0) {
			handle_sync(p, true);
			if (p->pid > 0 && !p->main)
				claim_stash(p);
		}
		break;
	default: break;
	}
}
