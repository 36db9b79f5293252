/* runtime/vmm_process.c: the container process's control socket when the
 * process is out of descriptors. Each case runs in a forked child, whose
 * lowered RLIMIT_NOFILE and filled descriptor table die with it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/vmm_process.h"
#include "tests/unit/tap.h"
#include "proto/agent_proto.h"
#include "vmm/fd_budget.h"

#define FAIL(code, ...)                            \
	do {                                       \
		printf("#   child: " __VA_ARGS__); \
		printf("\n");                      \
		fflush(stdout);                    \
		_exit(code);                       \
	} while (0)

static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Reads the frame the VMM answered C with: an ERROR naming the cause. */
static bool got_error(int c, const char *want)
{
	uint8_t buf[4096];
	struct agent_msg m;
	struct agent_error e;
	char why[128];

	ssize_t n = read(c, buf, sizeof(buf));
	return n > 0 &&
	       agent_frame_parse(buf, (size_t)n, AGENT_FROM_GUEST, &m, why, sizeof(why)) > 0 &&
	       agent_decode_error(&m, &e, why, sizeof(why)) == 0 && strstr(e.message, want);
}

/* What the router does with a readable control socket: at most a few
 * rounds, each one accept, until the socket is quiet or to be left alone
 * for a while. Returns the rounds, or -1 on an accepted connection. */
static int router_rounds(int l, int *spare, int *pause_ms)
{
	int rounds = 0;

	*pause_ms = 0;
	while (readable(l) && rounds < 20) {
		rounds++;
		int fd = vmm_ctl_accept(l, spare, pause_ms);
		if (fd >= 0)
			return -1;
		if (*pause_ms)
			break;
	}
	return rounds;
}

/* A listening socket bound to an abstract name the kernel picks; its
 * address in *A. */
static int listener(struct sockaddr_un *a, socklen_t *alen)
{
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un any = { .sun_family = AF_UNIX };

	if (l < 0 || bind(l, (struct sockaddr *)&any, sizeof(sa_family_t)) < 0 ||
	    listen(l, 4) < 0 || getsockname(l, (struct sockaddr *)a, alen) < 0) {
		if (l >= 0)
			close(l);
		return -1;
	}
	return l;
}

static void emfile_child(void)
{
	struct sockaddr_un a;
	socklen_t alen = sizeof(a);
	int fillers[64], nfill = 0, pause_ms;

	int l = listener(&a, &alen);
	int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int spare = eventfd(0, EFD_CLOEXEC);
	if (l < 0 || c1 < 0 || c2 < 0 || spare < 0)
		FAIL(2, "sockets: %s", strerror(errno));

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = fd_budget_count_open() + 32;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		FAIL(3, "setrlimit: %s", strerror(errno));
	int fd;
	while ((fd = eventfd(0, EFD_CLOEXEC)) >= 0)
		if (nfill < 64)
			fillers[nfill++] = fd;
	if (errno != EMFILE)
		FAIL(4, "filling the table: %s", strerror(errno));

	/* Out of descriptors, a husk command connects: it is told why and
	 * the socket goes quiet, at once. */
	if (connect(c1, (struct sockaddr *)&a, alen) < 0)
		FAIL(5, "connect: %s", strerror(errno));
	int rounds = router_rounds(l, &spare, &pause_ms);
	if (rounds < 0)
		FAIL(6, "accepted without a descriptor to spare");
	if (readable(l))
		FAIL(7, "the control socket is still readable after %d rounds: the router spins",
		     rounds);
	if (!got_error(c1, "file descriptors"))
		FAIL(8, "the refused command got no ERROR");

	/* Not even the spare is left (another thread took it): the router
	 * is told to stop watching the socket, not to come straight back. */
	close(spare);
	spare = -1;
	if ((fd = eventfd(0, EFD_CLOEXEC)) < 0)
		FAIL(9, "retake the spare's slot");
	if (connect(c2, (struct sockaddr *)&a, alen) < 0)
		FAIL(10, "connect: %s", strerror(errno));
	rounds = router_rounds(l, &spare, &pause_ms);
	if (rounds != 1 || pause_ms <= 0)
		FAIL(11, "%d rounds, then a pause of %d ms", rounds, pause_ms);

	/* A descriptor frees up: the spare comes back and the waiting
	 * command is answered. */
	close(fd);
	rounds = router_rounds(l, &spare, &pause_ms);
	if (rounds != 1 || readable(l) || spare < 0)
		FAIL(12, "%d rounds, spare %d", rounds, spare);
	if (!got_error(c2, "file descriptors"))
		FAIL(13, "the waiting command got no ERROR");
	for (int i = 0; i < nfill; i++)
		close(fillers[i]);
}

TEST(vmm_ctl_accept_out_of_descriptors_never_spins)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		emfile_child();
		_exit(0);
	}
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* With descriptors to spare it is a plain accept, and an empty queue is
 * no reason to pause. */
TEST(vmm_ctl_accept_plain)
{
	int sv[2], pause_ms = -1, spare = -1;
	struct sockaddr_un a;
	socklen_t alen = sizeof(a);
	int l = listener(&a, &alen);

	CHECK(l >= 0);
	CHECK_INT(vmm_ctl_accept(l, &spare, &pause_ms), -1);
	CHECK_INT(pause_ms, 0);
	CHECK(spare >= 0); /* taken while it can be */
	sv[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(connect(sv[0], (struct sockaddr *)&a, alen), 0);
	sv[1] = vmm_ctl_accept(l, &spare, &pause_ms);
	CHECK(sv[1] >= 0);
	CHECK_INT(pause_ms, 0);
	close(sv[0]);
	close(sv[1]);
	close(spare);
	close(l);
}
