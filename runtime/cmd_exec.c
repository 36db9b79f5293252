/* `husk exec`: a further process in a running container. The process runs
 * in the guest; this process (or, with --detach, a child of it whose pid
 * goes to --pid-file) relays its stdio over the control socket, passes
 * signals on to it and ends as it ended: its exit code, or the same signal.
 * With a terminal the pty is made here and its master sent over
 * --console-socket (or our own terminal is used), and resizes reach the
 * guest's pty. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "runtime/cli.h"
#include "runtime/commands.h"
#include "runtime/console.h"
#include "runtime/control.h"
#include "runtime/exit_status.h"
#include "base/fileio.h"
#include "runtime/lifecycle.h"
#include "base/log.h"
#include "oci/config.h"
#include "oci/exec_process.h"
#include "runtime/vmm_process.h"

static const struct cli_flag exec_flags[] = {
	{ "console-socket", 0, true,
	  "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
	{ "cwd", 0, true, "current working directory in the container" },
	{ "env", 'e', true, "set environment variables" },
	{ "tty", 't', false, "allocate a pseudo-TTY" },
	{ "user", 'u', true, "UID (format: <uid>[:<gid>])" },
	{ "additional-gids", 'g', true, "additional gids" },
	{ "process", 'p', true, "path to the process.json" },
	{ "detach", 'd', false, "detach from the container's process" },
	{ "pid-file", 0, true, "specify the file to write the process id to" },
	{ "process-label", 0, true, "accepted for runc compatibility (no SELinux in the guest)" },
	{ "apparmor", 0, true, "accepted for runc compatibility (no AppArmor in the guest)" },
	{ "no-new-privs", 0, false, "set the no new privileges value for the process" },
	{ "cap", 'c', true, "add a capability to the bounding set for the process" },
	{ "preserve-fds", 0, true,
	  "pass N additional file descriptors to the container (only 0 is supported)" },
	{ "cgroup", 0, true, "not supported by husk (the guest has one cgroup per container)" },
	{ "ignore-paused", 0, false, "allow exec in a paused container" },
	{ NULL },
};

const struct cli_command cmd_exec_cli = {
	.name = "exec",
	.summary = "execute new process inside the container",
	.args = " <container-id> <command> [command options]  || -p process.json <container-id>",
	.min_args = 1,
	.max_args = -1,
	.flags = exec_flags,
};

static int parse_id(const char *s, const char *what, unsigned *out, husk_error_t *err)
{
	unsigned long v = 0;
	bool ok = cli_parse_ulong(s, 0, 0xfffffffeul, &v);
	*out = (unsigned)v; /* set either way: callers need not guess */
	if (!ok)
		return husk_error_set(err, 0, "parsing %s %s: invalid syntax", what, s);
	return 0;
}

/* The process.json to send: --process as given, or config.json's process
 * with the command line's changes. *TTY tells whether it wants a pty. */
static char *build_process(const struct container *c, const struct cli_args *a, bool *tty,
			   struct winsize *ws, husk_error_t *err)
{
#define V(n) cli_value(&cmd_exec_cli, a, n)
	size_t len;
	if (V("process")) {
		char *json = read_whole(V("process"), OCI_CONFIG_MAX, &len, err);
		struct oci_process *p = json ? oci_process_parse(json, len, err) : NULL;
		if (!p) {
			free(json);
			husk_error_wrap(err, "%s", V("process"));
			return NULL;
		}
		*tty = p->terminal;
		ws->ws_row = (unsigned short)p->console_height;
		ws->ws_col = (unsigned short)p->console_width;
		oci_process_free(p);
		return json;
	}
	if (a->argc < 2) {
		husk_error_set(err, 0, "exec: process args cannot be empty");
		return NULL;
	}
	const char *env[CLI_MAX_VALUES], *caps[CLI_MAX_VALUES], *gids[CLI_MAX_VALUES];
	gid_t gidv[CLI_MAX_VALUES];
	struct oci_exec_overrides o = {
		.args = a->argv + 1,
		.env = env,
		.nenv = (size_t)cli_values(&cmd_exec_cli, a, "env", env, CLI_MAX_VALUES),
		.cwd = V("cwd"),
		.terminal = cli_switch(&cmd_exec_cli, a, "tty"),
		.caps = caps,
		.ncaps = (size_t)cli_values(&cmd_exec_cli, a, "cap", caps, CLI_MAX_VALUES),
		.no_new_privileges = cli_switch(&cmd_exec_cli, a, "no-new-privs"),
		.additional_gids = gidv,
	};
	size_t ngids =
		(size_t)cli_values(&cmd_exec_cli, a, "additional-gids", gids, CLI_MAX_VALUES);
	for (size_t i = 0; i < ngids; i++) {
		unsigned g;
		if (parse_id(gids[i], "additional gid", &g, err) < 0)
			return NULL;
		gidv[o.nadditional_gids++] = g;
	}
	if (V("user")) {
		char user[64];
		snprintf(user, sizeof(user), "%s", V("user"));
		char *colon = strchr(user, ':');
		unsigned uid, gid = 0;
		if (colon)
			*colon = '\0';
		if (parse_id(user, "uid", &uid, err) < 0 ||
		    (colon && parse_id(colon + 1, "gid", &gid, err) < 0))
			return NULL;
		o.has_user = true, o.uid = uid, o.gid = gid;
	} else if (ngids) {
		o.has_user = true; /* runc: -g alone applies to uid/gid 0 */
	}
	*tty = o.terminal;
	cleanup_free char *config = lifecycle_saved_config(c, &len, err);
	if (!config)
		return NULL;
	return oci_exec_process_json(config, len, &o, err);
#undef V
}

static void send_resize(int ctl, int tty)
{
	struct winsize ws;
	uint8_t f[AGENT_HDR_LEN + 4];
	if (ioctl(tty, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		agent_send_buf(ctl, f, agent_encode_resize(f, 0, ws.ws_row, ws.ws_col));
}

/* Relays until the process's EXIT; returns the status for
 * vmm_process_exit(). TTY is the pty (or our terminal), else -1. */
static int relay(int ctl, struct agent_rx *rx, int tty, int sigfd)
{
	int in = tty >= 0 ? tty : STDIN_FILENO;
	int out = tty >= 0 ? tty : STDOUT_FILENO, errfd = tty >= 0 ? tty : STDERR_FILENO;
	bool in_open = true;
	struct agent_msg m;
	char why[256];

	if (tty >= 0)
		send_resize(ctl, tty);
	for (;;) {
		int k;
		while ((k = agent_rx_next(rx, AGENT_FROM_GUEST, &m, why, sizeof(why))) > 0) {
			if (m.type == AGENT_STDOUT || m.type == AGENT_STDERR) {
				if (m.length)
					write_all(m.type == AGENT_STDOUT ? out : errfd, m.payload,
						  m.length);
			} else if (m.type == AGENT_ERROR) {
				struct agent_error e;
				if (agent_decode_error(&m, &e, why, sizeof(why)) == 0)
					log_error("exec failed: %s", e.message);
			} else if (m.type == AGENT_EXIT) {
				struct agent_exit e;
				if (agent_decode_exit(&m, &e, why, sizeof(why)) < 0)
					return 255;
				return exit_status_from_guest(e.code, e.signal);
			}
		}
		if (k < 0) {
			log_error("exec: %s", why);
			return 255;
		}
		struct pollfd p[3] = { { ctl, POLLIN, 0 },
				       { in_open ? in : -1, POLLIN, 0 },
				       { sigfd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 255;
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				uint8_t f[AGENT_HDR_LEN + 8];
				if (si.ssi_signo == SIGWINCH) {
					if (tty >= 0)
						send_resize(ctl, tty);
				} else if (si.ssi_signo != SIGCHLD) {
					agent_send_buf(ctl, f,
						       agent_encode_signal(f, 0, si.ssi_signo, 0));
				}
			}
		}
		if (p[1].revents) {
			uint8_t buf[65536];
			ssize_t n = read(in, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				in_open = false;
			agent_send(ctl, AGENT_STDIN, 0, buf, n > 0 ? (size_t)n : 0);
		}
		if (p[0].revents) {
			ssize_t got = agent_rx_fill(rx, ctl);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				/* The VM ended under us: the process died with it. */
				return -SIGKILL;
			}
		}
	}
}

static int exec_main(const struct husk_globals *g, const struct cli_args *ap, husk_error_t *err);

/* runc exits 255 whenever exec could not run the process (usage errors
 * stay 1). */
int cmd_exec(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int rc = cli_parse_command(&cmd_exec_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = exec_main(g, &a, err);
	if (rc < 0 && *err)
		(*err)->exit_status = 255;
	return rc;
}

static int exec_main(const struct husk_globals *g, const struct cli_args *ap, husk_error_t *err)
{
	struct cli_args a = *ap;
	struct container *c;
	pid_t pid;
	bool tty = false;
	int rc;
#define V(n) cli_value(&cmd_exec_cli, &a, n)
	bool detach = cli_switch(&cmd_exec_cli, &a, "detach");
	if (lifecycle_check_preserve_fds(V("preserve-fds"), err) < 0)
		return -1;
	if (V("cgroup"))
		return husk_error_set(err, 0, "--cgroup: not yet supported by husk");
	if (container_load(g->root, a.argv[0], false, &c, err) < 0)
		return -1;
	cleanup_free char *process = NULL;
	int ctl = -1, master = -1, slave = -1, sigfd = -1;
	struct agent_rx rx = { 0 };
	struct termios saved;
	bool raw = false;
	rc = -1;
	enum container_status s = container_status(c, &pid);
	if (s == CONTAINER_STOPPED || s == CONTAINER_CREATED) {
		husk_error_set(err, 0, "cannot exec in a %s container", container_status_name(s));
		goto out;
	}
	if (s == CONTAINER_PAUSED && !cli_switch(&cmd_exec_cli, &a, "ignore-paused")) {
		husk_error_set(
			err, 0,
			"cannot exec in a paused container (use --ignore-paused to override)");
		goto out;
	}
	struct winsize ws = { 0 };
	if (!(process = build_process(c, &a, &tty, &ws, err)))
		goto out;
	if (tty && !V("console-socket") && (detach || !isatty(STDIN_FILENO))) {
		husk_error_set(
			err, 0,
			"cannot allocate tty if husk will detach without setting console socket");
		goto out;
	}
	if (!tty && V("console-socket")) {
		husk_error_set(err, 0,
			       "cannot use console socket if husk will not detach or allocate tty");
		goto out;
	}
	/* The relay belongs to the container on the host: pause freezes it
	 * with the VMM and delete finds it. Joining a frozen cgroup stops us
	 * at once, until resume thaws it: that is how --ignore-paused waits,
	 * as runc's exec does. resume takes the lock exclusively, so it is
	 * let go first; nothing below reads the record again. */
	container_unlock(c);
	if (c->rec->cgroup_path[0]) {
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
		int r = cg ? cgroup_attach(cg, getpid(), err) : -1;
		cgroup_handle_free(cg);
		if (r < 0)
			goto out;
	}
	if (tty && V("console-socket")) {
		if (console_open_pty(ws.ws_row, ws.ws_col, &master, &slave, err) < 0 ||
		    console_send(V("console-socket"), master, err) < 0)
			goto out;
		close(master);
		master = -1;
	} else if (tty) {
		slave = dup(STDIN_FILENO);
	}
	int timeout_ms;
	if (control_timeout(CONTROL_REPLY_TIMEOUT_ENV, CONTROL_REPLY_TIMEOUT_S, &timeout_ms, err) <
		    0 ||
	    (ctl = control_connect(c, err)) < 0)
		goto out;
	/* Connected, this exec belongs to this VMM: a delete meanwhile ends
	 * it, and the guest's answer, however slow, keeps nobody waiting. */
	container_unlock(c);
	/* Wait for READY: the process runs, or its failure is reported here. */
	long long deadline = control_deadline(timeout_ms);
	if (control_send(ctl, AGENT_EXEC, 0, process, strlen(process), deadline) < 0) {
		husk_error_set(err, errno, "send the process to the container");
		goto out;
	}
	for (bool ready = false; !ready;) {
		struct agent_msg m;
		char why[256];
		int k = agent_rx_next(&rx, AGENT_FROM_GUEST, &m, why, sizeof(why));
		if (k < 0) {
			husk_error_set(err, 0, "exec: %s", why);
			goto out;
		}
		if (k == 0) {
			ssize_t got = control_fill(ctl, &rx, deadline);
			if (got < 0 && errno == ETIMEDOUT) {
				husk_error_set(
					err, 0,
					"exec failed: the container's guest did not answer EXEC "
					"with READY within %d s",
					timeout_ms / 1000);
				goto out;
			}
			if (got <= 0) {
				husk_error_set(err, 0, "exec failed: the container stopped");
				goto out;
			}
			continue;
		}
		if (m.type == AGENT_READY) {
			ready = true;
		} else if (m.type == AGENT_STDOUT || m.type == AGENT_STDERR) {
			/* Output that overtook READY (the process runs already). */
			int out = slave >= 0		   ? slave
				  : m.type == AGENT_STDOUT ? STDOUT_FILENO
							   : STDERR_FILENO;
			if (m.length)
				write_all(out, m.payload, m.length);
		} else if (m.type == AGENT_ERROR) {
			struct agent_error e;
			if (agent_decode_error(&m, &e, why, sizeof(why)) < 0)
				snprintf(e.message, sizeof(e.message), "%s", why);
			husk_error_set(err, 0, "exec failed: %s", e.message);
			goto out;
		} else if (m.type == AGENT_EXIT) {
			husk_error_set(err, 0, "exec failed: the process ended before it ran");
			goto out;
		}
	}
	sigset_t fwd;
	sigfillset(&fwd);
	int keep[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,  SIGILL,
		       SIGFPE,	SIGTRAP, SIGSYS,  SIGABRT, SIGPIPE };
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		sigdelset(&fwd, keep[i]);
	for (int sg = SIGRTMIN; sg <= SIGRTMAX; sg++)
		sigdelset(&fwd, sg);
	if (detach) {
		fflush(NULL);
		pid_t child = fork();
		if (child < 0) {
			husk_error_set(err, errno, "fork");
			goto out;
		}
		if (child > 0) {
			if (V("pid-file") && pid_file_write(V("pid-file"), child, err) < 0) {
				kill(child, SIGKILL);
				goto out;
			}
			rc = 0;
			goto out;
		}
		setsid();
		if (slave >= 0)
			ioctl(slave, TIOCSCTTY, 0);
		/* The relay outlives its caller: it keeps only what it
		 * relays, not the caller's other descriptors or directory. */
		int held[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, ctl,
			       slave,	     c->dirfd,	    log_fileno() };
		if (close_fds_except(held, sizeof(held) / sizeof(held[0])) < 0 || chdir("/") < 0)
			_exit(255);
	} else if (V("pid-file") && pid_file_write(V("pid-file"), getpid(), err) < 0) {
		goto out;
	}
#undef V
	sigprocmask(SIG_BLOCK, &fwd, NULL);
	sigfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	if (tty && !cli_switch(&cmd_exec_cli, &a, "console-socket") && slave >= 0 &&
	    isatty(slave)) {
		if (tcgetattr(slave, &saved) == 0) {
			struct termios t = saved;
			cfmakeraw(&t);
			raw = tcsetattr(slave, TCSANOW, &t) == 0;
		}
	}
	container_free(c);
	c = NULL;
	int status = relay(ctl, &rx, slave, sigfd);
	if (raw)
		tcsetattr(slave, TCSANOW, &saved);
	agent_rx_free(&rx);
	close(ctl);
	if (slave >= 0)
		close(slave);
	close(sigfd);
	log_close();
	vmm_process_exit(status);
out:
	agent_rx_free(&rx);
	int fds[] = { ctl, master, slave, sigfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	container_free(c);
	return rc;
}
