/* husk-init: PID 1 of husk's guest. It mounts what it needs, writes the boot
 * timer, connects to the host over vsock (CID 2, port HUSK_AGENT_PORT) and
 * says HELLO; then one epoll loop serves the host's frames (NETWORK,
 * CREATE, START, EXEC, STDIN, RESIZE, SIGNAL, PS, STATS, UPDATE: one
 * handler per type in frame_ops) and hands the processes' fds and SIGCHLD
 * to processes.c, which relays their output, reaps every process (orphans
 * included) and reports each EXIT. When the container's process ends it
 * kills what is left, reports, and powers the VM off with the status
 * (HUSK_PORT_EXIT, then a reset). */
#include <errno.h>
#include <linux/reboot.h>
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
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "rootfs/husk-init/init.h"
#include "proto/guest_ports.h"

static int vsock = -1, epfd = -1;
static struct oci_config *config;
static bool started;

void logmsg(const char *fmt, ...)
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

void send_frame(uint16_t type, uint32_t id, const void *p, size_t n)
{
	if (vsock >= 0 && agent_send(vsock, type, id, p, n) < 0) {
		logmsg("send %s: %s", agent_type_name(type), strerror(errno));
		close(vsock);
		vsock = -1;
	}
}

void send_error(uint32_t id, uint32_t code, const char *fmt, ...)
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

void send_exit(uint32_t id, uint32_t code, uint32_t sig)
{
	uint8_t f[AGENT_HDR_LEN + 8];

	agent_encode_exit(f, id, code, sig);
	if (vsock >= 0 && agent_send_buf(vsock, f, sizeof(f)) < 0) {
		close(vsock);
		vsock = -1;
	}
}

void watch(int fd, enum fd_kind kind, unsigned slot)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)slot << 8 | kind };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		logmsg("epoll add: %s", strerror(errno));
}

void unwatch_close(int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
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

void shutdown_vm(uint32_t code, uint32_t sig)
{
	proc_kill_all();
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
			fail_create(
				"linux.namespaces[%zu]: a user namespace (uid/gid mappings) is not "
				"supported in husk's guest: the VM is the container's boundary",
				i);
	if (rootfs_prepare(&c, why, sizeof(why)) < 0 ||
	    cgroup_prepare(config, why, sizeof(why)) < 0)
		fail_create("%s", why);
	/* Bind mounts arrive through virtio-fs shares: each share is mounted
	 * once at /run/husk/shares/<tag>, and mounts[k]'s source is its entry
	 * "k" (a file or a directory; binds.h on the host side). */
	mkdir("/run/husk/shares", 0700);
	for (unsigned i = 0; i < c.nbinds; i++) {
		uint32_t k = c.binds[i].mount_index;
		if (k >= config->nmounts || !config->mounts[k].bind)
			fail_create("CREATE: share %s names mounts[%u], not a bind mount",
				    c.binds[i].tag, k);
		char dir[AGENT_MAX_NAME + 32], *src;
		snprintf(dir, sizeof(dir), "/run/husk/shares/%s", c.binds[i].tag);
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = strcmp(c.binds[j].tag, c.binds[i].tag) == 0;
		if (!seen && ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
			      mount(c.binds[i].tag, dir, "virtiofs", 0, NULL) < 0))
			fail_create("mounts[%u]: virtio-fs share %s: %s", k, c.binds[i].tag,
				    strerror(errno));
		if (asprintf(&src, "%s/%u", dir, k) < 0)
			fail_create("out of memory");
		free(config->mounts[k].source);
		config->mounts[k].source = src;
	}
	struct proc *p = proc_new(0);
	p->main = true;
	main_proc = p;
	if (!proc_spawn(p, config, &config->process))
		shutdown_vm(1, 0);
}

static void on_exec(const struct agent_msg *m)
{
	husk_error_t err = NULL;

	if (!main_proc || !started) {
		send_error(m->id, 1, "exec: the container is not running");
		return;
	}
	if (m->id == 0 || proc_find(m->id)) {
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
	struct proc *p = proc_new(m->id);
	if (!p) {
		/* The id names no process here: its EXIT is unambiguous, and
		 * the client waiting on it gets a definite end. */
		send_error(m->id, 1, "exec: too many processes (%d)", MAX_PROCS);
		oci_process_free(op);
		send_exit(m->id, 1, 0);
		return;
	}
	p->owned = op;
	if (!proc_spawn(p, config, op)) {
		send_exit(m->id, 1, 0);
		proc_free(p);
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

static void on_start(const struct agent_msg *m)
{
	(void)m;
	if (!main_proc || started || main_proc->start_fd < 0) {
		send_error(0, 1, "START: no created container to start");
		return;
	}
	started = true;
	if (write(main_proc->start_fd, "S", 1) != 1)
		send_error(0, 1, "START: %s", strerror(errno));
	unwatch_close(&main_proc->start_fd);
}

static void on_stdin(const struct agent_msg *m)
{
	struct proc *p;

	if (!(p = proc_find(m->id)) || p->in_fd < 0)
		return;
	if (m->length == 0) {
		if (p->tty)
			(void)!write(p->in_fd, "\004", 1); /* ^D */
		else
			unwatch_close(&p->in_fd);
		return;
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
}

static void on_resize(const struct agent_msg *m)
{
	struct agent_resize r;
	struct proc *p;
	char why[512];

	if (agent_decode_resize(m, &r, why, sizeof(why)) < 0) {
		send_error(m->id, 1, "%s", why);
		return;
	}
	if ((p = proc_find(m->id)) && p->tty) {
		struct winsize ws = { .ws_row = r.rows, .ws_col = r.cols };
		ioctl(p->in_fd, TIOCSWINSZ, &ws);
	}
}

static void on_signal(const struct agent_msg *m)
{
	struct agent_signal s;
	struct proc *p;
	char why[512];

	if (agent_decode_signal(m, &s, why, sizeof(why)) < 0) {
		send_error(m->id, 1, "%s", why);
		return;
	}
	if (s.flags & AGENT_SIGNAL_ALL) {
		static uint32_t pids[65536];
		size_t n = read_pids(pids, 65536);
		for (size_t i = 0; i < n; i++)
			kill((pid_t)pids[i], (int)s.signo);
	} else if ((p = proc_find(m->id)) && p->pid > 0) {
		kill(p->pid, (int)s.signo);
	} else {
		send_error(m->id, 1, "SIGNAL: no process %u", m->id);
	}
}

static void on_ps(const struct agent_msg *m)
{
	static uint32_t pids[65536];
	size_t n = read_pids(pids, 65536), len;
	uint8_t *f = agent_encode_ps(pids, n, &len);

	(void)m;
	if (f && vsock >= 0)
		agent_send_buf(vsock, f, len);
	free(f);
}

static void on_stats(const struct agent_msg *m)
{
	struct agent_stats s = {
		.memory_current = read_u64(INIT_CGROUP "/memory.current", NULL),
		.cpu_usage_usec = read_u64(INIT_CGROUP "/cpu.stat", "usage_usec"),
		.pids_current = read_u64(INIT_CGROUP "/pids.current", NULL),
		.memory_max = read_u64(INIT_CGROUP "/memory.max", NULL),
	};
	uint8_t f[AGENT_HDR_LEN + 32];

	(void)m;
	agent_encode_stats(f, &s);
	if (vsock >= 0)
		agent_send_buf(vsock, f, sizeof(f));
}

static void on_update(const struct agent_msg *m)
{
	struct oci_resources r;
	husk_error_t e = NULL;
	char why[512];

	if (oci_resources_parse((const char *)m->payload, m->length, &r, &e) < 0) {
		send_error(m->id, 1, "update: %s", e->msg);
		husk_error_release(&e);
	} else if (cgroup_apply(&r, why, sizeof(why)) < 0) {
		send_error(m->id, 1, "update: %s", why);
	} else {
		send_frame(AGENT_UPDATED, m->id, NULL, 0);
	}
}

/* The host's frames, by type. agent_rx_next() has checked each frame's
 * direction and length; a type without a handler here (one the host may
 * send but husk-init does not serve) is answered with an ERROR. */
typedef void frame_handler(const struct agent_msg *m);

static frame_handler *const frame_ops[AGENT_TYPE_MAX + 1] = {
	[AGENT_NETWORK] = on_network, [AGENT_CREATE] = on_create, [AGENT_START] = on_start,
	[AGENT_EXEC] = on_exec,	      [AGENT_STDIN] = on_stdin,	  [AGENT_RESIZE] = on_resize,
	[AGENT_SIGNAL] = on_signal,   [AGENT_PS] = on_ps,	  [AGENT_STATS] = on_stats,
	[AGENT_UPDATE] = on_update,
};

static void on_frame(const struct agent_msg *m)
{
	if (m->type <= AGENT_TYPE_MAX && frame_ops[m->type])
		frame_ops[m->type](m);
	else
		send_error(m->id, 1, "unexpected %s frame", agent_type_name(m->type));
}

static int connect_host(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_HOST,
				 .svm_port = HUSK_AGENT_PORT };
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (i == 99)
			logmsg("connect to the host (vsock port %u): %s", HUSK_AGENT_PORT,
			       strerror(e));
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
	mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	      "newinstance,ptmxmode=0666,mode=0620");
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
				while ((got = agent_rx_next(&rx, AGENT_FROM_HOST, &m, why,
							    sizeof(why))) > 0)
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
				proc_reap(false);
				break;
			}
			case K_OUT:
			case K_ERR:
			case K_SYNC: proc_event(kind, (unsigned)(evs[i].data.u64 >> 8)); break;
			}
		}
	}
}
