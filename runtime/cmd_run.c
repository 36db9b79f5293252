/* `husk run`: create and start, then (unless --detach) wait for the
 * container process, passing on signals, and delete the container unless
 * --keep. Exits with the process's status: its code, or 128+N. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/commands.h"
#include "runtime/lifecycle.h"
#include "base/log.h"

static const struct cli_flag run_flags[] = {
	{ "bundle", 'b', true,
	  "path to the root of the bundle directory, defaults to the current directory" },
	{ "console-socket", 0, true,
	  "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
	{ "detach", 'd', false, "detach from the container's process" },
	{ "keep", 0, false, "do not delete the container after it exits" },
	{ "pid-file", 0, true, "specify the file to write the process id to" },
	{ "no-subreaper", 0, false,
	  "accepted for runc compatibility (the container process is husk's own child)" },
	{ "no-pivot", 0, false, "accepted for runc compatibility (the guest always pivots)" },
	{ "no-new-keyring", 0, false,
	  "accepted for runc compatibility (the guest has its own keyrings)" },
	{ "preserve-fds", 0, true,
	  "pass N additional file descriptors to the container (only 0 is supported)" },
	{ NULL },
};

const struct cli_command cmd_run_cli = {
	.name = "run",
	.summary = "create and run a container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
	.flags = run_flags,
};

static void remove_container(const struct husk_globals *g, const char *id)
{
	struct container *c;
	husk_error_t e = NULL;
	if (container_load(g->root, id, true, &c, &e) == 0) {
		if (lifecycle_destroy(c, &e) < 0)
			log_warn("delete %s: %s", id, e->msg);
		container_free(c);
	}
	husk_error_release(&e);
}

int cmd_run(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int rc = cli_parse_command(&cmd_run_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
#define V(n) cli_value(&cmd_run_cli, &a, n)
	bool detach = cli_switch(&cmd_run_cli, &a, "detach"),
	     keep = cli_switch(&cmd_run_cli, &a, "keep");
	const char *id = a.argv[0];
	if (lifecycle_check_preserve_fds(V("preserve-fds"), err) < 0)
		return -1;
	struct create_opts o = { .id = id,
				 .bundle = V("bundle"),
				 .pid_file = V("pid-file"),
				 .console_socket = V("console-socket") };
	o.own_terminal = !detach && !o.console_socket && isatty(STDIN_FILENO);
#undef V
	/* Signals wait in a signalfd from here on, so none is lost between
	 * the fork and the wait; the container process blocks the same set. */
	sigset_t fwd, old;
	sigfillset(&fwd);
	int sync_sigs[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL,
			    SIGFPE,  SIGTRAP, SIGSYS,  SIGABRT };
	for (size_t i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigdelset(&fwd, sync_sigs[i]);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigdelset(&fwd, s);
	if (!detach)
		sigprocmask(SIG_BLOCK, &fwd, &old);

	struct termios saved;
	bool raw = false;
	pid_t pid;
	if (lifecycle_create(g, &o, &pid, err) < 0) {
		if (!detach)
			sigprocmask(SIG_SETMASK, &old, NULL);
		return husk_error_wrap(err, "husk run failed");
	}
	struct container *c = NULL;
	if (container_load(g->root, id, true, &c, err) < 0 || lifecycle_start(c, err) < 0) {
		/* Our lock goes first: removing takes it again. */
		container_free(c);
		if (!detach) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		remove_container(g, id);
		if (!detach)
			sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	container_free(c);
	if (detach)
		return 0;

	/* The terminal is the container's now: raw, so that ^C and friends
	 * reach the guest's terminal instead of ending us. */
	if (o.own_terminal && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	int sfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			st = 0;
			break;
		}
		struct signalfd_siginfo si;
		if (sfd < 0 || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		int sig = (int)si.ssi_signo;
		/* With our terminal the container process shares our
		 * process group and gets SIGWINCH itself. */
		if (sig != SIGCHLD && !(sig == SIGWINCH && o.own_terminal))
			kill(pid, sig);
	}
	if (sfd >= 0)
		close(sfd);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!keep)
		remove_container(g, id);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
