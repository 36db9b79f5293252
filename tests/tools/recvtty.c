/* recvtty: the receiving end of an OCI runtime's --console-socket, for the
 * integration tests.
 *
 *   recvtty [--once] [--print-winsize] [--winsize ROWSxCOLS]
 *           [--input STRING] [--resize-on TEXT=ROWSxCOLS] [--no-copy] SOCKET
 *
 * Listens on the unix stream socket SOCKET and accepts a connection; the
 * runtime sends the pseudo-terminal master of the container's console on it
 * as SCM_RIGHTS ancillary data. Then, in this order:
 *   --winsize R x C   sets the terminal's window size (TIOCSWINSZ),
 *   --print-winsize   prints "ROWS COLS" of the received terminal,
 *   --input STRING    writes STRING to the master (the line discipline
 *                     echoes it back, as a terminal would),
 *   and copies everything read from the master to stdout until the slave
 *   side is closed by everyone (read gives EIO), unless --no-copy; with
 *   --resize-on, the first time TEXT appears in that output the window
 *   size becomes ROWSxCOLS (a resize while the process runs).
 * With --once it exits after that first terminal; otherwise it accepts the
 * next connection (say, a later `exec -t`).
 *
 * The socket only appears at SOCKET once it is listening (it is bound under
 * a temporary name and renamed), so a caller may wait for `-S SOCKET` and
 * then start the runtime without racing. SOCKET is removed on exit.
 *
 * Exit status: 0 after EOF, 1 on errors (a connection without a file
 * descriptor, a descriptor that is not a terminal, I/O errors), 2 on usage
 * errors. Messages go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static const char *sock_path;
static char tmp_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void usage(FILE *f)
{
	fputs("Usage: recvtty [--once] [--print-winsize] [--winsize ROWSxCOLS]\n"
	      "               [--input STRING] [--resize-on TEXT=ROWSxCOLS] [--no-copy] SOCKET\n",
	      f);
}

static void cleanup(void)
{
	if (tmp_path[0])
		unlink(tmp_path);
	if (sock_path)
		unlink(sock_path);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int parse_winsize(const char *s, struct winsize *ws)
{
	char *end;
	unsigned long rows, cols;

	errno = 0;
	rows = strtoul(s, &end, 10);
	if (errno || end == s || (*end != 'x' && *end != 'X') || rows > USHRT_MAX)
		return -1;
	s = end + 1;
	cols = strtoul(s, &end, 10);
	if (errno || end == s || *end || cols > USHRT_MAX)
		return -1;
	memset(ws, 0, sizeof(*ws));
	ws->ws_row = (unsigned short)rows;
	ws->ws_col = (unsigned short)cols;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receives one descriptor passed with SCM_RIGHTS on conn; -1 if none came.
 * Any further descriptors in the same message are closed. */
static int recv_fd(int conn)
{
	char data[256];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	int fd = -1;
	ssize_t n;

	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		perror("recvtty: recvmsg");
		return -1;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t i, count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	if (fd < 0)
		fprintf(stderr, "recvtty: the connection carried no file descriptor\n");
	else if (msg.msg_flags & MSG_CTRUNC)
		fprintf(stderr, "recvtty: warning: ancillary data truncated\n");
	return fd;
}

/* --resize-on: the text to wait for (NULL: none) and the size it brings. */
static const char *resize_text;
static struct winsize resize_ws;

/* Copies the terminal's output to stdout until every slave is closed. */
static int copy_out(int master)
{
	char buf[4096];
	/* The output's last bytes before this read, so that TEXT split
	 * across two reads is still found. */
	char seen[2 * sizeof(buf)];
	size_t nseen = 0;
	int resized = !resize_text;

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (!resized && n > 0) {
			size_t keep = strlen(resize_text);
			if (nseen > keep) {
				memmove(seen, seen + nseen - keep, keep);
				nseen = keep;
			}
			memcpy(seen + nseen, buf, (size_t)n);
			nseen += (size_t)n;
			if (memmem(seen, nseen, resize_text, strlen(resize_text))) {
				if (ioctl(master, TIOCSWINSZ, &resize_ws) < 0) {
					perror("recvtty: TIOCSWINSZ");
					return -1;
				}
				resized = 1;
			}
		}
		if (n == 0 || (n < 0 && errno == EIO))
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("recvtty: read");
			return -1;
		}
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			perror("recvtty: write");
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	enum {
		OPT_ONCE = 256,
		OPT_PRINT,
		OPT_WINSIZE,
		OPT_INPUT,
		OPT_RESIZE,
		OPT_NOCOPY,
		OPT_HELP
	};
	static const struct option opts[] = {
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "print-winsize", no_argument, NULL, OPT_PRINT },
		{ "winsize", required_argument, NULL, OPT_WINSIZE },
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "resize-on", required_argument, NULL, OPT_RESIZE },
		{ "no-copy", no_argument, NULL, OPT_NOCOPY },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int once = 0, print_ws = 0, set_ws = 0, copy = 1, lsock, opt, rc = 0;
	const char *input = NULL;
	struct winsize want;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_ONCE: once = 1; break;
		case OPT_PRINT: print_ws = 1; break;
		case OPT_WINSIZE:
			if (parse_winsize(optarg, &want) < 0) {
				fprintf(stderr, "recvtty: bad --winsize '%s' (want ROWSxCOLS)\n",
					optarg);
				return 2;
			}
			set_ws = 1;
			break;
		case OPT_INPUT: input = optarg; break;
		case OPT_RESIZE: {
			char *eq = strrchr(optarg, '=');
			if (!eq || eq == optarg || parse_winsize(eq + 1, &resize_ws) < 0) {
				fprintf(stderr,
					"recvtty: bad --resize-on '%s' (want TEXT=ROWSxCOLS)\n",
					optarg);
				return 2;
			}
			*eq = '\0';
			if (strlen(optarg) > 256) {
				fprintf(stderr,
					"recvtty: --resize-on TEXT longer than 256 bytes\n");
				return 2;
			}
			resize_text = optarg;
			break;
		}
		case OPT_NOCOPY: copy = 0; break;
		case OPT_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	sock_path = argv[optind];
	if (snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", sock_path) >= (int)sizeof(tmp_path)) {
		tmp_path[0] = '\0';
		fprintf(stderr, "recvtty: socket path too long: %s\n", sock_path);
		sock_path = NULL;
		return 2;
	}
	memcpy(addr.sun_path, tmp_path, strlen(tmp_path) + 1);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0) {
		perror("recvtty: socket");
		return 1;
	}
	unlink(tmp_path);
	if (bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lsock, 4) < 0 ||
	    rename(tmp_path, sock_path) < 0) {
		fprintf(stderr, "recvtty: listening on %s: %s\n", sock_path, strerror(errno));
		cleanup();
		return 1;
	}
	tmp_path[0] = '\0';

	do {
		int conn, master;

		conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR)
				continue;
			perror("recvtty: accept");
			rc = 1;
			break;
		}
		master = recv_fd(conn);
		close(conn);
		if (master < 0) {
			rc = 1;
			break;
		}
		if (!isatty(master)) {
			fprintf(stderr, "recvtty: the received descriptor is not a terminal\n");
			close(master);
			rc = 1;
			break;
		}
		if (set_ws && ioctl(master, TIOCSWINSZ, &want) < 0) {
			perror("recvtty: TIOCSWINSZ");
			rc = 1;
		}
		if (print_ws) {
			struct winsize ws;

			if (ioctl(master, TIOCGWINSZ, &ws) < 0) {
				perror("recvtty: TIOCGWINSZ");
				rc = 1;
			} else {
				printf("%u %u\n", ws.ws_row, ws.ws_col);
				fflush(stdout);
			}
		}
		if (input && write_all(master, input, strlen(input)) < 0) {
			perror("recvtty: writing input");
			rc = 1;
		}
		if (copy && copy_out(master) < 0)
			rc = 1;
		close(master);
	} while (!once && rc == 0);

	close(lsock);
	cleanup();
	return rc;
}
