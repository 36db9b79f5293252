/* The control plane's waits on the guest (issue 15): a VMM or guest that
 * never answers, or never reads, gives a husk command an error after its
 * bound, and the container's lock is free while a start waits. The VMM is
 * faked by sockets that accept and stay silent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_host.h"
#include "base/cleanup.h"
#include "runtime/container.h"
#include "runtime/control.h"
#include "runtime/lifecycle.h"
#include "runtime/vmm_process.h"
#include "tests/unit/tap.h"

static double since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Runs FN in a child killed after LIMIT seconds, so that a call that
 * hangs fails the test instead of hanging the suite: the child's exit
 * status, or -1 when it had to be killed. */
static int bounded(void (*fn)(void *), void *arg, unsigned limit)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(limit);
		fn(arg);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void call_silent(void *arg)
{
	int fd = *(int *)arg;
	husk_error_t err = NULL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = control_call(fd, AGENT_START, NULL, 0, AGENT_READY, NULL, NULL, 300, &err);
	if (rc != -1 || !err || !strstr(err->msg, "did not answer START with READY"))
		_exit(2);
	if (since(&t0) > 5)
		_exit(3);
	husk_error_release(&err);
}

TEST(control_call_to_a_silent_container_fails_after_its_bound)
{
	int sv[2];
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* The peer keeps its end open and never answers. */
	CHECK_INT(bounded(call_silent, &sv[0], 20), 0);
	char buf[64];
	CHECK_INT(read(sv[1], buf, sizeof(buf)), AGENT_HDR_LEN);
	close(sv[0]);
	close(sv[1]);
}

static void send_unread(void *arg)
{
	int fd = *(int *)arg;
	static char big[1 << 20];
	husk_error_t err = NULL;
	/* More than the socket buffers hold: the peer never reads. */
	int rc = control_call(fd, AGENT_UPDATE, big, sizeof(big), AGENT_UPDATED, NULL, NULL, 300,
			      &err);
	if (rc != -1 || !err || !strstr(err->msg, "took no UPDATE"))
		_exit(2);
	husk_error_release(&err);
}

TEST(control_call_to_a_container_that_does_not_read_fails_after_its_bound)
{
	int sv[2], small = 4096;
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_INT(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	CHECK_INT(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	CHECK_INT(bounded(send_unread, &sv[0], 20), 0);
	close(sv[0]);
	close(sv[1]);
}

TEST(control_timeouts_come_from_the_environment)
{
	husk_error_t err cleanup_error = NULL;
	int ms = 0;
	unsetenv("HUSK_UNIT_TIMEOUT");
	CHECK_INT(control_timeout("HUSK_UNIT_TIMEOUT", 7, &ms, &err), 0);
	CHECK_INT(ms, 7000);
	setenv("HUSK_UNIT_TIMEOUT", "2", 1);
	CHECK_INT(control_timeout("HUSK_UNIT_TIMEOUT", 7, &ms, &err), 0);
	CHECK_INT(ms, 2000);
	const char *bad[] = { "0", "-1", "1.5", "x", "86401", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("HUSK_UNIT_TIMEOUT", bad[i], 1);
		CHECK_INT(control_timeout("HUSK_UNIT_TIMEOUT", 7, &ms, &err), -1);
		CHECK(strstr(err->msg, "HUSK_UNIT_TIMEOUT"));
		husk_error_release(&err);
	}
	unsetenv("HUSK_UNIT_TIMEOUT");
}

static void accept_silent(void *arg)
{
	int fd = *(int *)arg;
	struct agent_session s;
	husk_error_t err = NULL;
	int rc = agent_session_accept(&s, fd, -1, 300, &err);
	if (rc != -1 || !err || !strstr(err->msg, "HELLO"))
		_exit(2);
	husk_error_release(&err);
	agent_session_close(&s);
}

TEST(a_guest_agent_that_connects_and_never_says_hello_fails_after_the_bound)
{
	char dir[] = "/tmp/husk-unit-hello.XXXXXX", path[64];
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/1024", dir);
	husk_error_t err cleanup_error = NULL;
	int l = agent_listen(path, &err);
	CHECK(l >= 0);
	int g = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	CHECK_INT(connect(g, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_INT(bounded(accept_silent, &l, 20), 0);
	close(g);
	close(l);
	unlink(path);
	rmdir(dir);
}

struct start_case {
	const char *root;
	int status_pipe; /* the child's error message goes here */
};

static void start_child(void *arg)
{
	struct start_case *sc = arg;
	struct container *c;
	husk_error_t err = NULL;
	if (container_load(sc->root, "s1", true, &c, &err) < 0)
		_exit(4);
	int rc = lifecycle_start(c, &err);
	if (rc == 0)
		_exit(0);
	(void)!write(sc->status_pipe, err->msg, strlen(err->msg));
	_exit(1);
}

/* `husk start` on a container whose guest never says READY: the lock is
 * free while it waits (kill, delete, state and ps take it), and start fails
 * after its bound naming what the guest did not do. */
TEST(start_waits_for_a_silent_guest_without_the_lock_and_within_its_bound)
{
	char root[] = "/tmp/husk-unit-start.XXXXXX", bundle[128], path[256];
	husk_error_t err cleanup_error = NULL;
	struct container *c = NULL;
	CHECK(mkdtemp(root));
	snprintf(bundle, sizeof(bundle), "%s/bundle", root);
	CHECK_INT(mkdir(bundle, 0700), 0);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	static const char config[] = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
				     "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}";
	FILE *f = fopen(path, "w");
	CHECK(f);
	fputs(config, f);
	fclose(f);

	/* The "VMM": a live process, and a control socket nobody answers. */
	pid_t vmm = fork();
	CHECK(vmm >= 0);
	if (vmm == 0) {
		/* Gone with the test, should a check fail before delete. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	CHECK_INT(container_new(root, "s1", &c, &err), 0);
	c->rec = calloc(1, sizeof(*c->rec));
	c->rec->id = strdup("s1");
	c->rec->bundle = strdup(bundle);
	c->rec->rootfs = strdup("/nonexistent");
	c->rec->created = strdup("t");
	c->rec->cgroup_path = strdup("");
	c->rec->pid = vmm;
	c->rec->pid_start = container_pid_start_time(vmm);
	CHECK_INT(container_save(c, &err), 0);
	/* start reads the config create saved, not the bundle's. */
	CHECK_INT(container_write_new(c, HUSK_SAVED_CONFIG, config, strlen(config), &err), 0);
	int ctl = control_listen(c, &err);
	CHECK(ctl >= 0);
	container_unlock(c);

	int pipefd[2];
	CHECK_INT(pipe2(pipefd, O_CLOEXEC), 0);
	setenv(CONTROL_START_TIMEOUT_ENV, "2", 1);
	struct start_case sc = { root, pipefd[1] };
	fflush(NULL);
	pid_t starter = fork();
	CHECK(starter >= 0);
	if (starter == 0) {
		alarm(30);
		start_child(&sc);
	}
	unsetenv(CONTROL_START_TIMEOUT_ENV);
	close(pipefd[1]);
	/* Once start has sent START, the lock must be free. A start that
	 * fails before connecting must fail the test, not hang it. */
	struct pollfd pctl = { .fd = ctl, .events = POLLIN };
	CHECK_INT(poll(&pctl, 1, 30000), 1);
	int conn = accept4(ctl, NULL, NULL, SOCK_CLOEXEC);
	CHECK(conn >= 0);
	char hdr[AGENT_HDR_LEN];
	CHECK_INT(read(conn, hdr, sizeof(hdr)), AGENT_HDR_LEN);
	bool free_lock = false;
	for (int i = 0; i < 100 && !free_lock; i++) {
		if (flock(c->dirfd, LOCK_EX | LOCK_NB) == 0) {
			free_lock = true;
			flock(c->dirfd, LOCK_UN);
		} else {
			usleep(10000);
		}
	}
	int st;
	CHECK_INT(waitpid(starter, &st, 0), starter);
	CHECK(free_lock);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	char msg[512] = "";
	(void)!read(pipefd[0], msg, sizeof(msg) - 1);
	printf("# start: %s\n", msg);
	CHECK(strstr(msg, "did not answer START with READY within 2 s"));
	/* Left as it was: created, for kill and delete to clean up. */
	pid_t pid;
	CHECK_INT(container_relock(c, true, &err), 0);
	CHECK_INT(container_status(c, &pid), CONTAINER_CREATED);
	CHECK(!c->rec->started);
	CHECK_INT(lifecycle_destroy(c, &err), 0);
	CHECK_INT(waitpid(vmm, &st, 0), vmm);
	container_free(c);
	close(conn);
	close(ctl);
	close(pipefd[0]);
	unlink(path);
	rmdir(bundle);
	rmdir(root);
}

struct router_case {
	struct vmm_process p;
	int quit[2], stop[2];
	char dir[32], ctl_path[64], agent_path[64];
	pthread_t th;
	bool started;
};

static void *router_thread(void *arg)
{
	struct router_case *rc = arg;
	vmm_process_route(&rc->p, rc->quit[0], rc->stop[1]);
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Runs the VMM's router, without a VM, on a control and an agent socket in
 * a scratch directory; the guest's boot bound is BOOT_TIMEOUT_MS (0: the
 * default). Sets rc->started once it runs. */
static void router_case_start(struct router_case *rc, int boot_timeout_ms)
{
	husk_error_t err cleanup_error = NULL;
	snprintf(rc->dir, sizeof(rc->dir), "/tmp/husk-unit-router.XXXXXX");
	CHECK(mkdtemp(rc->dir));
	snprintf(rc->ctl_path, sizeof(rc->ctl_path), "%s/ctl", rc->dir);
	snprintf(rc->agent_path, sizeof(rc->agent_path), "%s/1024", rc->dir);
	rc->p = (struct vmm_process){ .config_json = "{}",
				      .config_len = 2,
				      .rootfs_tag = "rootfs",
				      .console_fd = -1,
				      .boot_timeout_ms = boot_timeout_ms };
	rc->p.ctl_listen = agent_listen(rc->ctl_path, &err);
	rc->p.agent_listen = agent_listen(rc->agent_path, &err);
	CHECK(rc->p.ctl_listen >= 0 && rc->p.agent_listen >= 0);
	CHECK_INT(pipe2(rc->quit, O_CLOEXEC), 0);
	CHECK_INT(pipe2(rc->stop, O_CLOEXEC), 0);
	CHECK_INT(pthread_create(&rc->th, NULL, router_thread, rc), 0);
	rc->started = true;
}

/* Tells the router to end, which it must within 10 s, and removes what
 * router_case_start() made. */
static void router_case_stop(struct router_case *rc)
{
	CHECK_INT(write(rc->quit[1], "q", 1), 1);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	CHECK_INT(pthread_timedjoin_np(rc->th, NULL, &ts), 0);
	int fds[] = { rc->p.ctl_listen, rc->p.agent_listen, rc->quit[0],
		      rc->quit[1],	rc->stop[0],	    rc->stop[1] };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	unlink(rc->ctl_path);
	unlink(rc->agent_path);
	rmdir(rc->dir);
}

/* Writes frames of TYPE for process ID to FD until it takes no more for a
 * second (or 32 MiB went): the bytes written. */
static size_t flood(int fd, uint16_t type, uint32_t id)
{
	static uint8_t frame[AGENT_HDR_LEN + 65536];
	size_t total = 0;
	agent_encode_hdr(frame, type, id, 65536);
	while (total < (32u << 20)) {
		struct pollfd p = { fd, POLLOUT, 0 };
		if (poll(&p, 1, 1000) <= 0)
			break;
		/* Whole frames only: a partial one would stay partial. */
		if (control_send(fd, type, id, frame + AGENT_HDR_LEN, 65536,
				 control_deadline(1000)) < 0)
			break;
		total += sizeof(frame);
	}
	return total;
}

/* The VMM's router with a guest agent and clients that stop reading (the
 * sockets' buffers made small): it goes on answering the other clients,
 * and ends when told, instead of blocking in a write to either. */
TEST(the_router_never_blocks_on_a_peer_that_does_not_read)
{
	husk_error_t err cleanup_error = NULL;
	static struct router_case rc;
	int small = 4096;
	router_case_start(&rc, 0);
	CHECK(rc.started);
	const char *ctl_path = rc.ctl_path, *agent_path = rc.agent_path;

	/* The guest agent: HELLO, takes NETWORK and CREATE, says READY, then
	 * reads nothing more. */
	int agent = connect_to(agent_path);
	CHECK(agent >= 0);
	CHECK_INT(setsockopt(agent, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	uint8_t hello[64];
	struct agent_hello h = { .version = HUSK_AGENT_PROTO_VERSION, .ncpus = 1 };
	size_t hl = agent_encode_hello(hello, &h);
	CHECK_INT(write(agent, hello, hl), (ssize_t)hl);
	struct agent_rx arx = { 0 };
	struct agent_msg m;
	char why[256];
	int got_create = 0;
	while (!got_create) {
		int k = agent_rx_next(&arx, AGENT_FROM_HOST, &m, why, sizeof(why));
		CHECK(k >= 0);
		if (k == 0) {
			CHECK(control_fill(agent, &arx, control_deadline(10000)) > 0);
			continue;
		}
		got_create = m.type == AGENT_CREATE;
	}
	agent_rx_free(&arx);
	CHECK_INT(control_send(agent, AGENT_READY, 0, NULL, 0, control_deadline(10000)), 0);

	int a = connect_to(ctl_path);
	CHECK(a >= 0);
	CHECK_INT(control_call(a, AGENT_START, NULL, 0, AGENT_READY, NULL, NULL, 10000, &err), 0);

	/* A `husk exec` whose output nobody reads, and a guest that floods
	 * it: the router stops reading the guest, not serving others. */
	int b = connect_to(ctl_path);
	CHECK(b >= 0);
	CHECK_INT(setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	CHECK_INT(control_send(b, AGENT_EXEC, 0, "{}", 2, control_deadline(10000)), 0);
	usleep(100000);
	CHECK_INT(control_send(agent, AGENT_READY, 1, NULL, 0, control_deadline(10000)), 0);
	size_t n = flood(agent, AGENT_STDOUT, 1);
	printf("# the guest wrote %zu KiB for a client that does not read\n", n >> 10);
	int c = connect_to(ctl_path);
	CHECK(c >= 0);
	CHECK_INT(control_call(c, AGENT_START, NULL, 0, AGENT_READY, NULL, NULL, 10000, &err), -1);
	printf("# another client's START: %s\n", err->msg);
	CHECK(strstr(err->msg, "already running"));
	husk_error_release(&err);

	/* An exec whose stdin the guest never takes. */
	int d = connect_to(ctl_path);
	CHECK(d >= 0);
	CHECK_INT(control_send(d, AGENT_EXEC, 0, "{}", 2, control_deadline(10000)), 0);
	usleep(100000);
	n = flood(d, AGENT_STDIN, 0);
	printf("# a client wrote %zu KiB of stdin for a guest that does not read\n", n >> 10);

	/* Still there: it ends when told. */
	router_case_stop(&rc);
	int fds[] = { a, b, c, d, agent };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
}

/* A guest that never boots: the VMM gives up after the boot bound create
 * handed it (HUSK_BOOT_TIMEOUT), not a fixed one, and says which. */
TEST(the_router_gives_up_on_a_guest_that_never_boots_after_the_bound_it_was_given)
{
	husk_error_t err cleanup_error = NULL;
	static struct router_case rc;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	router_case_start(&rc, 1000);
	CHECK(rc.started);

	/* START from a client, as `husk start` sends it: the answer is the
	 * boot bound's error. */
	int c = connect_to(rc.ctl_path);
	CHECK(c >= 0);
	uint8_t *reply = NULL;
	size_t rlen = 0;
	CHECK_INT(control_call(c, AGENT_START, NULL, 0, AGENT_READY, &reply, &rlen, 20000, &err),
		  -1);
	CHECK(err && strstr(err->msg, "did not boot within 1 s"));
	if (err)
		printf("# %s\n", err->msg);
	free(reply);
	/* And the VM is told to stop. */
	struct pollfd p = { rc.stop[0], POLLIN, 0 };
	CHECK_INT(poll(&p, 1, 10000), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms >= 1000 && ms < 10000);

	router_case_stop(&rc);
	close(c);
}
