/* jail-probe: what a taken-over VMM could do on the host (issue 15).
 *
 * Each probe runs in a child of its own that confines itself exactly as
 * create's forked VMM does (runtime/lifecycle.c child_main and its last
 * step before the vCPUs run: descriptors, session, namespaces, rlimits,
 * no dumps, capabilities, seccomp), then makes one escape attempt, as
 * code the guest had taken over would. No guest is needed: the probe is
 * the hostile VMM. Another child, confined the same way, stands for a
 * second container's VMM to attack.
 *
 * Usage: jail-probe [--jail] [--socket PATH] [--file PATH]
 *   --jail    confine as create does (unless HUSK_JAIL=0): in a root of
 *             its own (runtime/jail.h), holding nothing here
 *   --socket  a root-only unix socket to try to connect to (containerd's,
 *             another container's ctl)
 *   --file    a root-only host file to try to read
 * Prints one line per probe, "refused NAME: how" or "reached NAME: what",
 * and exits 0; the jail suite (tests/integration/jail.bats) says which
 * must be refused. Must run as root, as create does. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fileio.h"
#include "oci/config.h"
#include "runtime/confine.h"
#include "runtime/jail.h"

static const char *socket_path = "/run/containerd/containerd.sock";
static const char *file_path = "/etc/shadow";
static pid_t victim;
static char *jail_root; /* --jail: the directory each probe's jail is built on */

/* The VMM's confinement, in create's order, for the calling process. */
static void confine_like_the_vmm(void)
{
	static const struct oci_config no_namespaces;
	static const struct oci_process no_limits;
	husk_error_t err = NULL;
	int keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };

	if (close_fds_except(keep, sizeof(keep) / sizeof(keep[0])) < 0 || chdir("/") < 0) {
		fprintf(stderr, "jail-probe: leave descriptors and directory: %s\n",
			strerror(errno));
		_exit(3);
	}
	setsid();
	if (confine_namespaces(&no_namespaces, &err) < 0 || confine_rlimits(&no_limits, &err) < 0 ||
	    confine_no_dump(&err) < 0 ||
	    (jail_root && jail_enter(&(struct jail_spec){ .root = jail_root }, &err) < 0) ||
	    confine_capabilities(&err) < 0 || confine_seccomp(&err) < 0) {
		fprintf(stderr, "jail-probe: confine: %s\n", err->msg);
		_exit(3);
	}
}

/* Each probe returns 0 when the escape worked (and says what it got),
 * or the errno that stopped it. */
typedef int probe_fn(char *what, size_t len);

static int probe_write_etc(char *what, size_t len)
{
	int fd = open("/etc/.husk-jail-probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	snprintf(what, len, "created /etc/.husk-jail-probe");
	close(fd);
	return 0;
}

static int probe_read_host_file(char *what, size_t len)
{
	char buf[16];
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return errno;
	snprintf(what, len, "read %zd bytes of %s", n, file_path);
	return 0;
}

static int probe_connect_unix(char *what, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	if (r < 0)
		return e;
	snprintf(what, len, "connected to %s", socket_path);
	return 0;
}

static int probe_sigio_owner(char *what, size_t len)
{
	if (fcntl(STDIN_FILENO, F_SETOWN, victim) < 0)
		return errno;
	snprintf(what, len, "made pid %d the owner of a descriptor's SIGIO", (int)victim);
	return 0;
}

static int probe_sigio_signal(char *what, size_t len)
{
	if (fcntl(STDIN_FILENO, F_SETSIG, SIGKILL) < 0)
		return errno;
	snprintf(what, len, "made SIGKILL a descriptor's SIGIO");
	return 0;
}

static int probe_kill_other(char *what, size_t len)
{
	if (kill(victim, SIGCONT) < 0)
		return errno;
	snprintf(what, len, "signalled pid %d", (int)victim);
	return 0;
}

static int probe_ptrace_other(char *what, size_t len)
{
	if (ptrace(PTRACE_ATTACH, victim, NULL, NULL) < 0)
		return errno;
	snprintf(what, len, "attached to pid %d", (int)victim);
	return 0;
}

static int probe_other_vmm_memory(char *what, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)victim);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	snprintf(what, len, "opened %s", path);
	return 0;
}

static int probe_own_memory(char *what, size_t len)
{
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	close(fd);
	snprintf(what, len, "opened /proc/self/mem to write (its own code, despite no PROT_EXEC)");
	return 0;
}

static int probe_exec(char *what, size_t len)
{
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };
	execve(argv[0], argv, envp);
	int e = errno;
	snprintf(what, len, "exec returned");
	return e;
}

static int probe_inet(char *what, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	close(fd);
	snprintf(what, len, "opened an AF_INET socket");
	return 0;
}

static int probe_mknod_block(char *what, size_t len)
{
	if (mknod("/tmp/.husk-jail-probe-blk", S_IFBLK | 0600, makedev(7, 0)) < 0)
		return errno;
	snprintf(what, len, "made block device node /tmp/.husk-jail-probe-blk");
	return 0;
}

static int probe_cgroup_root(char *what, size_t len)
{
	static const char *const roots[] = { "/sys/fs/cgroup/cgroup.procs",
					     "/sys/fs/cgroup/devices/cgroup.procs" };
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		int fd = open(roots[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Written for real ("0": this process), which only this
		 * short-lived child would suffer. */
		int e = write(fd, "0", 1) == 1 ? 0 : errno;
		close(fd);
		if (e)
			return e;
		snprintf(what, len, "joined the root cgroup through %s", roots[i]);
		return 0;
	}
	return errno;
}

static const struct {
	const char *name;
	probe_fn *fn;
} probes[] = {
	{ "write-etc", probe_write_etc },	{ "read-host-file", probe_read_host_file },
	{ "connect-unix", probe_connect_unix }, { "sigio-owner", probe_sigio_owner },
	{ "sigio-signal", probe_sigio_signal }, { "kill-other", probe_kill_other },
	{ "ptrace-other", probe_ptrace_other }, { "other-vmm-memory", probe_other_vmm_memory },
	{ "own-memory", probe_own_memory },	{ "exec", probe_exec },
	{ "inet-socket", probe_inet },		{ "mknod-block", probe_mknod_block },
	{ "cgroup-root", probe_cgroup_root },
};

/* Runs one probe in a confined child; its verdict comes back on a pipe,
 * or as the signal seccomp killed it with. */
static void run_probe(size_t i)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("jail-probe: pipe");
		exit(2);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("jail-probe: fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(3);
		confine_like_the_vmm();
		char what[200] = "";
		int e = probes[i].fn(what, sizeof(what));
		if (e == 0)
			printf("reached %s: %s\n", probes[i].name, what);
		else
			printf("refused %s: %s\n", probes[i].name, strerror(e));
		fflush(stdout);
		_exit(0);
	}
	close(p[1]);
	char line[512];
	ssize_t n, got = 0;
	while (got < (ssize_t)sizeof(line) - 1 &&
	       (n = read(p[0], line + got, sizeof(line) - 1 - (size_t)got)) > 0)
		got += n;
	line[got] = '\0';
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		printf("refused %s: killed by the seccomp filter\n", probes[i].name);
	else if (got > 0)
		fputs(line, stdout);
	else
		printf("unknown %s: the probe ended with status %#x and said nothing\n",
		       probes[i].name, st);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--jail") == 0) {
			static char tmpl[] = "/tmp/husk-jail-probe.XXXXXX";
			if (!(jail_root = mkdtemp(tmpl))) {
				perror("jail-probe: mkdtemp");
				return 2;
			}
		} else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
			file_path = argv[++i];
		} else {
			fprintf(stderr,
				"usage: jail-probe [--jail] [--socket PATH] [--file PATH]\n");
			return 2;
		}
	}
	/* The other VMM: confined like the probes, waiting on a pipe that
	 * ends with this process. */
	int hold[2];
	if (pipe2(hold, O_CLOEXEC) < 0) {
		perror("jail-probe: pipe");
		return 2;
	}
	victim = fork();
	if (victim < 0) {
		perror("jail-probe: fork");
		return 2;
	}
	if (victim == 0) {
		close(hold[1]);
		if (dup2(hold[0], STDIN_FILENO) < 0)
			_exit(3);
		confine_like_the_vmm();
		char c;
		while (read(STDIN_FILENO, &c, 1) != 0)
			;
		_exit(0);
	}
	close(hold[0]);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		run_probe(i);
	/* What a probe that got through left behind. */
	unlink("/etc/.husk-jail-probe");
	unlink("/tmp/.husk-jail-probe-blk");
	if (jail_root)
		rmdir(jail_root);
	close(hold[1]);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	return 0;
}
