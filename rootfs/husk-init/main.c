/* husk-init: PID 1 of husk's guest. It mounts what it needs, writes the boot
 * timer, connects to the host over vsock (CID 2, port HUSK_AGENT_PORT) and
 * says HELLO; then one epoll loop serves the host's frames (CREATE, START,
 * EXEC, STDIN, RESIZE, SIGNAL, PS, STATS), relays the processes' output,
 * reaps every process (orphans included) and reports each EXIT. When the
 * container's process ends it kills what is left, reports, and powers the
 * VM off with the status (HUSK_PORT_EXIT, then a reset). */
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "rootfs/husk-init/init.h"
#include "proto/guest_ports.h"

#define MAX_PROCS 160
#define MAX_STASH 256

enum fd_kind { K_VSOCK = 1, K_SIGNAL, K_OUT, K_ERR, K_SYNC };

struct proc {
	bool used;
	bool main;
	uint32_t id;
	pid_t pid;    /* 0 until known (exec: from the helper's "P" message) */
	pid_t helper; /* exec: the namespace-joining intermediate */
	int in_fd, out_fd, err_fd, sync_fd, start_fd;
	bool tty;
	struct oci_process *owned; /* exec: its parsed process.json */
};

static int vsock = -1, epfd = -1;
static struct proc procs[MAX_PROCS];
static struct oci_config *config;
static struct proc *main_proc;
static bool started;
static struct {
	pid_t pid;
	int status;
} stash[MAX_STASH];
static unsigned stash_next;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "husk-init: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static void __attribute__((noreturn)) power_off(uint32_t code, uint32_t sig)
{
	sync();
	if (ioperm(HUSK_PORT_BOOT_TIMER, 8, 1) == 0)
		outl(HUSK_EXIT_VALID | (sig << 8) | (code & 0xff), HUSK_PORT_EXIT);
	reboot(LINUX_REBOOT_CMD_RESTART);
	_exit(1);
}

static void send_frame(uint16_t type, uint32_t id, const void *p, size_t n)
{
	if (vsock >= 0 && agent_send(vsock, type, id, p, n) < 0) {
		logmsg("send %s: %s", agent_type_name(type), strerror(errno));
		close(vsock);
		vsock = -1;
	}
}

static void send_error(uint32_t id, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void send_error(uint32_t id, uint32_t code, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	uint8_t *f = agent_encode_verror(id, code, &len, fmt, ap);
	va_end(ap);
	if (f && vsock >= 0 && agent_send_buf(vsock, f, len) < 0) {
		close(vsock);
		vsock = -1;
	}
	free(f);
}

static void send_exit(uint32_t id, uint32_t code, uint32_t sig)
{
	uint8_t f[AGENT_HDR_LEN + 8];

	agent_encode_exit(f, id, code, sig);
	if (vsock >= 0 && agent_send_buf(vsock, f, sizeof(f)) < 0) {
		close(vsock);
		vsock = -1;
	}
}

static void watch(int fd, enum fd_kind kind, unsigned slot)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)slot << 8 | kind };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		logmsg("epoll add: %s", strerror(errno));
}

static void unwatch_close(int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

static struct proc *find_proc(uint32_t id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used && procs[i].id == id)
			return &procs[i];
	return NULL;
}

static struct proc *new_proc(uint32_t id)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (!procs[i].used) {
			procs[i] = (struct proc){ .used = true, .id = id, .in_fd = -1, .out_fd = -1,
						  .err_fd = -1, .sync_fd = -1, .start_fd = -1 };
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

static void free_proc(struct proc *p)
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
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c,
			     .msg_controllen = sizeof(u.c) };

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
	case 'R':
		send_frame(AGENT_READY, p->id, NULL, 0);
		break;
	case 'E': {
		char *msg = NULL;
		long code = strtol(buf + 1, &msg, 10);
		send_error(p->id, (uint32_t)code, "%s", msg && *msg == ' ' ? msg + 1 : buf + 1);
		break;
	}
	case 'P':
		p->pid = (pid_t)atoi(buf + 1);
		break;
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

static void shutdown_vm(uint32_t code, uint32_t sig) __attribute__((noreturn));

static void finish_proc(struct proc *p, int status)
{
	uint32_t code, sig;

	while (p->sync_fd >= 0 && handle_sync(p, true))
		;
	drain_output(p, &p->out_fd, AGENT_STDOUT);
	drain_output(p, &p->err_fd, AGENT_STDERR);
	exit_of(status, &code, &sig);
	if (p->main) {
		free_proc(p);
		shutdown_vm(code, sig);
	}
	send_exit(p->id, code, sig);
	free_proc(p);
}

static void reap(bool block)
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

/* The container's file systems, as the agent's namespace holds them (the
 * rootfs and what the container mounted went with its mount namespace
 * when its last process died): everything under /run/husk, the rootfs,
 * its layers and the bind shares. Unmounted children first (mountinfo
 * lists a mount after its parent), each for real so virtio-fs finishes
 * its requests; one still busy is detached instead, and the console says
 * so. Then sync: what the container wrote is on the host before the VM
 * goes. */
static void unmount_container(void)
{
	enum { MAX_UNMOUNT = 256 };
	static char points[MAX_UNMOUNT][256];
	size_t n = 0;
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && n < MAX_UNMOUNT && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mount-point ... */
		char point[256];
		if (sscanf(line, "%*d %*d %*s %*s %255s", point) != 1)
			continue;
		if (strncmp(point, "/run/husk/", 10) == 0)
			snprintf(points[n++], sizeof(points[0]), "%s", point);
	}
	if (f)
		fclose(f);
	while (n--) {
		if (umount2(points[n], 0) == 0 || errno == EINVAL || errno == ENOENT)
			continue;
		logmsg("unmount %s: %s; detaching it instead", points[n], strerror(errno));
		umount2(points[n], MNT_DETACH);
	}
	sync();
}

static void shutdown_vm(uint32_t code, uint32_t sig)
{
	kill(-1, SIGKILL);
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used && procs[i].pid > 0)
			kill(procs[i].pid, SIGKILL);
	reap(true);
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].used)
			finish_proc(&procs[i], SIGKILL);
	uint8_t f[AGENT_HDR_LEN + 8];
	agent_encode_exit(f, 0, code, sig);
	if (vsock >= 0 && agent_send_buf(vsock, f, sizeof(f)) == 0) {
		/* Wait until the host has read everything and hangs up, so the
		 * reset cannot overtake data still in flight. */
		shutdown(vsock, SHUT_WR);
		struct pollfd pfd = { vsock, POLLIN, 0 };
		char buf[4096];
		while (poll(&pfd, 1, 5000) > 0 && read(vsock, buf, sizeof(buf)) > 0)
			;
	}
	unmount_container();
	power_off(code, sig);
}

/* stdio for a new process: pipes (child ends in CHILD, the agent's in P),
 * or, with a terminal, nothing yet: the child opens the pty itself. */
static int make_stdio(struct proc *p, const struct oci_process *op, int child[3],
		      char *why, size_t whylen)
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

/* Starts P's child (main or exec); false with the reason sent as ERROR. */
static bool spawn(struct proc *p, const struct oci_process *op)
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
		.cfg = config,
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
		for (size_t i = 0; i < config->nnamespaces; i++) {
			/* A path names a host namespace (a pod's, in CRI), which
			 * nothing in a VM can join: the process stays in the
			 * guest's own namespace of that type, the one husk-init
			 * (in the sandbox's role) holds. The VMM joins a network
			 * path on the host. on_create() refuses user namespaces. */
			if (!config->namespaces[i].path)
				flags |= (uint64_t)(unsigned)config->namespaces[i].type;
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

static void fail_create(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail_create(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	logmsg("create: %s", msg);
	send_error(0, 1, "%s", msg);
	shutdown_vm(1, 0);
}

static void on_create(const struct agent_msg *m)
{
	static struct agent_create c;
	char why[512];
	husk_error_t err = NULL;

	if (config) {
		send_error(0, 1, "CREATE: the container exists already");
		return;
	}
	if (agent_decode_create(m, &c, why, sizeof(why)) < 0)
		fail_create("%s", why);
	config = oci_config_parse(c.config, c.config_len, &err);
	if (!config)
		fail_create("%s", err->msg);
	if (!config->has_process)
		fail_create("process: required");
	for (size_t i = 0; i < config->nnamespaces; i++)
		/* Not ignored: the process would run as the guest's real root
		 * with none of the spec's id mappings. */
		if (config->namespaces[i].type == CLONE_NEWUSER)
			fail_create("linux.namespaces[%zu]: a user namespace (uid/gid mappings) is not "
				    "supported in husk's guest: the VM is the container's boundary", i);
	if (rootfs_prepare(&c, why, sizeof(why)) < 0 || cgroup_prepare(config, why, sizeof(why)) < 0)
		fail_create("%s", why);
	/* Bind mounts arrive through virtio-fs shares: each share is mounted
	 * once at /run/husk/shares/<tag>, and mounts[k]'s source is its entry
	 * "k" (a file or a directory; binds.h on the host side). */
	mkdir("/run/husk/shares", 0700);
	for (unsigned i = 0; i < c.nbinds; i++) {
		uint32_t k = c.binds[i].mount_index;
		if (k >= config->nmounts || !config->mounts[k].bind)
			fail_create("CREATE: share %s names mounts[%u], not a bind mount", c.binds[i].tag, k);
		char dir[AGENT_MAX_NAME + 32], *src;
		snprintf(dir, sizeof(dir), "/run/husk/shares/%s", c.binds[i].tag);
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = strcmp(c.binds[j].tag, c.binds[i].tag) == 0;
		if (!seen && ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
			      mount(c.binds[i].tag, dir, "virtiofs", 0, NULL) < 0))
			fail_create("mounts[%u]: virtio-fs share %s: %s", k, c.binds[i].tag, strerror(errno));
		if (asprintf(&src, "%s/%u", dir, k) < 0)
			fail_create("out of memory");
		free(config->mounts[k].source);
		config->mounts[k].source = src;
	}
	struct proc *p = new_proc(0);
	p->main = true;
	main_proc = p;
	if (!spawn(p, &config->process))
		shutdown_vm(1, 0);
}

static void on_exec(const struct agent_msg *m)
{
	husk_error_t err = NULL;

	if (!main_proc || !started) {
		send_error(m->id, 1, "exec: the container is not running");
		return;
	}
	if (m->id == 0 || find_proc(m->id)) {
		/* No EXIT: one for this id would end the running process's
		 * client. The host never reuses a live id (vmm_process.c), so
		 * only a broken host gets here; the ERROR is its answer. */
		send_error(m->id, 1, "exec: process id %u is in use", m->id);
		return;
	}
	struct oci_process *op = oci_process_parse((const char *)m->payload, m->length, &err);
	if (!op) {
		send_error(m->id, 1, "%s", err->msg);
		husk_error_release(&err);
		send_exit(m->id, 1, 0);
		return;
	}
	struct proc *p = new_proc(m->id);
	if (!p) {
		/* The id names no process here: its EXIT is unambiguous, and
		 * the client waiting on it gets a definite end. */
		send_error(m->id, 1, "exec: too many processes (%d)", MAX_PROCS);
		oci_process_free(op);
		send_exit(m->id, 1, 0);
		return;
	}
	p->owned = op;
	if (!spawn(p, op)) {
		send_exit(m->id, 1, 0);
		free_proc(p);
	}
}

static size_t read_pids(uint32_t *pids, size_t max)
{
	FILE *f = fopen(INIT_CGROUP "/cgroup.procs", "re");
	size_t n = 0;
	unsigned v;

	if (!f)
		return 0;
	while (n < max && fscanf(f, "%u", &v) == 1)
		pids[n++] = v;
	fclose(f);
	return n;
}

static uint64_t read_u64(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[256];
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			v = strtoull(line, NULL, 10); /* "max" reads as 0 */
			break;
		}
		size_t k = strlen(key);
		if (strncmp(line, key, k) == 0 && line[k] == ' ') {
			v = strtoull(line + k + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* NETWORK comes before CREATE: the container's process must find its
 * interfaces configured. A failure fails the container. */
static void on_network(const struct agent_msg *m)
{
	static struct agent_network net; /* ~10 KiB: not on the stack */
	char why[512];

	if (config) {
		send_error(0, 1, "NETWORK: after CREATE");
		return;
	}
	if (agent_decode_network(m, &net, why, sizeof(why)) < 0 ||
	    network_configure(&net, why, sizeof(why)) < 0)
		fail_create("%s", why);
}

static void on_frame(const struct agent_msg *m)
{
	char why[512];
	struct proc *p;

	switch (m->type) {
	case AGENT_NETWORK:
		on_network(m);
		break;
	case AGENT_CREATE:
		on_create(m);
		break;
	case AGENT_START:
		if (!main_proc || started || main_proc->start_fd < 0) {
			send_error(0, 1, "START: no created container to start");
			break;
		}
		started = true;
		if (write(main_proc->start_fd, "S", 1) != 1)
			send_error(0, 1, "START: %s", strerror(errno));
		unwatch_close(&main_proc->start_fd);
		break;
	case AGENT_EXEC:
		on_exec(m);
		break;
	case AGENT_STDIN:
		if (!(p = find_proc(m->id)) || p->in_fd < 0)
			break;
		if (m->length == 0) {
			if (p->tty)
				(void)!write(p->in_fd, "\004", 1); /* ^D */
			else
				unwatch_close(&p->in_fd);
			break;
		}
		for (size_t off = 0; off < m->length;) {
			ssize_t w = write(p->in_fd, m->payload + off, m->length - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EAGAIN) {
				struct pollfd pfd = { p->in_fd, POLLOUT, 0 };
				if (poll(&pfd, 1, 5000) > 0)
					continue;
			}
			if (w <= 0)
				break; /* the process closed its stdin */
			off += (size_t)w;
		}
		break;
	case AGENT_RESIZE: {
		struct agent_resize r;
		if (agent_decode_resize(m, &r, why, sizeof(why)) < 0) {
			send_error(m->id, 1, "%s", why);
			break;
		}
		if ((p = find_proc(m->id)) && p->tty) {
			struct winsize ws = { .ws_row = r.rows, .ws_col = r.cols };
			ioctl(p->in_fd, TIOCSWINSZ, &ws);
		}
		break;
	}
	case AGENT_SIGNAL: {
		struct agent_signal s;
		if (agent_decode_signal(m, &s, why, sizeof(why)) < 0) {
			send_error(m->id, 1, "%s", why);
			break;
		}
		if (s.flags & AGENT_SIGNAL_ALL) {
			static uint32_t pids[65536];
			size_t n = read_pids(pids, 65536);
			for (size_t i = 0; i < n; i++)
				kill((pid_t)pids[i], (int)s.signo);
		} else if ((p = find_proc(m->id)) && p->pid > 0) {
			kill(p->pid, (int)s.signo);
		} else {
			send_error(m->id, 1, "SIGNAL: no process %u", m->id);
		}
		break;
	}
	case AGENT_PS: {
		static uint32_t pids[65536];
		size_t n = read_pids(pids, 65536), len;
		uint8_t *f = agent_encode_ps(pids, n, &len);
		if (f && vsock >= 0)
			agent_send_buf(vsock, f, len);
		free(f);
		break;
	}
	case AGENT_STATS: {
		struct agent_stats s = {
			.memory_current = read_u64(INIT_CGROUP "/memory.current", NULL),
			.cpu_usage_usec = read_u64(INIT_CGROUP "/cpu.stat", "usage_usec"),
			.pids_current = read_u64(INIT_CGROUP "/pids.current", NULL),
			.memory_max = read_u64(INIT_CGROUP "/memory.max", NULL),
		};
		uint8_t f[AGENT_HDR_LEN + 32];
		agent_encode_stats(f, &s);
		if (vsock >= 0)
			agent_send_buf(vsock, f, sizeof(f));
		break;
	}
	case AGENT_UPDATE: {
		struct oci_resources r;
		husk_error_t e = NULL;
		if (oci_resources_parse((const char *)m->payload, m->length, &r, &e) < 0) {
			send_error(m->id, 1, "update: %s", e->msg);
			husk_error_release(&e);
		} else if (cgroup_apply(&r, why, sizeof(why)) < 0) {
			send_error(m->id, 1, "update: %s", why);
		} else {
			send_frame(AGENT_UPDATED, m->id, NULL, 0);
		}
		break;
	}
	default:
		send_error(m->id, 1, "unexpected %s frame", agent_type_name(m->type));
	}
}

static int connect_host(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = HUSK_AGENT_PORT };
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (i == 99)
			logmsg("connect to the host (vsock port %u): %s", HUSK_AGENT_PORT, strerror(e));
		usleep(20000);
	}
	return -1;
}

/* The initramfs is the kernel's rootfs, which pivot_root cannot move away
 * from: put a tmpfs over it and make that the root (what switch_root
 * does, minus the exec), so the container's pivot_root works. */
static void leave_rootfs(void)
{
	if (mkdir("/newroot", 0755) < 0 && errno != EEXIST)
		return;
	if (mount("tmpfs", "/newroot", "tmpfs", 0, "mode=0755") < 0) {
		logmsg("tmpfs root: %s", strerror(errno));
		return;
	}
	if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		logmsg("switch to the tmpfs root: %s", strerror(errno));
}

static void boot_mounts(void)
{
	leave_rootfs();
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/run", 0755);
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, NULL);
	mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	mkdir("/dev/pts", 0755);
	mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
}

int main(void)
{
	/* First thing: the boot timer measures kernel boot to init. */
	if (ioperm(HUSK_PORT_BOOT_TIMER, 8, 1) == 0)
		outl(HUSK_BOOT_MAGIC, HUSK_PORT_BOOT_TIMER);
	if (getpid() != 1) {
		fprintf(stderr, "husk-init: must run as PID 1 of husk's guest\n");
		return 2;
	}
	boot_mounts();
	signal(SIGPIPE, SIG_IGN);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	vsock = connect_host();
	if (vsock < 0 || sfd < 0 || epfd < 0)
		power_off(1, 0);

	struct sysinfo si;
	struct timespec up;
	sysinfo(&si);
	clock_gettime(CLOCK_BOOTTIME, &up);
	struct agent_hello h = {
		.version = HUSK_AGENT_PROTO_VERSION,
		.ncpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN),
		.mem_kib = (uint64_t)si.totalram * si.mem_unit / 1024,
		.uptime_ns = (uint64_t)up.tv_sec * 1000000000ull + (uint64_t)up.tv_nsec,
	};
	uint8_t hello[AGENT_HDR_LEN + 24];
	agent_encode_hello(hello, &h);
	if (agent_send_buf(vsock, hello, sizeof(hello)) < 0)
		power_off(1, 0);
	watch(vsock, K_VSOCK, 0);
	watch(sfd, K_SIGNAL, 0);

	struct agent_rx rx = { 0 };
	for (;;) {
		struct epoll_event evs[32];
		int n = epoll_wait(epfd, evs, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (int i = 0; i < n; i++) {
			enum fd_kind kind = (enum fd_kind)(evs[i].data.u64 & 0xff);
			struct proc *p = &procs[evs[i].data.u64 >> 8];
			switch (kind) {
			case K_VSOCK: {
				if (vsock < 0)
					break;
				ssize_t r = agent_rx_fill(&rx, vsock);
				if (r <= 0) {
					logmsg("the host hung up");
					close(vsock);
					vsock = -1;
					shutdown_vm(1, 0);
				}
				struct agent_msg m;
				char why[256];
				int got;
				while ((got = agent_rx_next(&rx, AGENT_FROM_HOST, &m, why, sizeof(why))) > 0)
					on_frame(&m);
				if (got < 0) {
					logmsg("bad frame from the host: %s", why);
					send_error(0, 1, "bad frame: %s", why);
					shutdown_vm(1, 0);
				}
				break;
			}
			case K_SIGNAL: {
				struct signalfd_siginfo si2;
				while (read(sfd, &si2, sizeof(si2)) == sizeof(si2))
					;
				reap(false);
				break;
			}
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
			}
		}
	}
}
