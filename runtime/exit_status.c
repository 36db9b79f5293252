#include "runtime/exit_status.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* The kernel's _NSIG - 1 on x86-64 and arm64, and the agent protocol's
 * bound: numbers above it are no signal on either side. */
#define MAX_SIGNAL 64

enum exit_signal_class exit_status_classify(int sig)
{
	switch (sig) {
	case SIGHUP:
	case SIGINT:
	case SIGKILL:
	case SIGPIPE:
	case SIGALRM:
	case SIGTERM:
	case SIGUSR1:
	case SIGUSR2:
	case SIGIO:
	case SIGPROF:
	case SIGVTALRM:
	case SIGSTKFLT:
	case SIGPWR: return EXIT_SIG_TERM;
	case SIGQUIT:
	case SIGILL:
	case SIGTRAP:
	case SIGABRT:
	case SIGBUS:
	case SIGFPE:
	case SIGSEGV:
	case SIGSYS:
	case SIGXCPU:
	case SIGXFSZ: return EXIT_SIG_CORE;
	case SIGCHLD:
	case SIGCONT:
	case SIGURG:
	case SIGWINCH: return EXIT_SIG_IGNORE;
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU: return EXIT_SIG_STOP;
	default: break;
	}
	if (sig < 1 || sig > MAX_SIGNAL || sig > SIGRTMAX)
		return EXIT_SIG_INVALID;
	/* Real-time signals terminate by default; glibc keeps the first few
	 * (SIGCANCEL, SIGSETXID) and sigaction() refuses to touch them. */
	return sig < SIGRTMIN ? EXIT_SIG_RESERVED : EXIT_SIG_TERM;
}

bool exit_status_signal_ends(int sig)
{
	enum exit_signal_class c = exit_status_classify(sig);
	return c == EXIT_SIG_TERM || c == EXIT_SIG_CORE || c == EXIT_SIG_RESERVED;
}

/* 128 + SIG is what a shell shows for a death by SIG, what runc's `run`
 * exits with and what husk-init already reports as the code beside the
 * signal; so a client that reads only exit codes sees the same number
 * whether or not the host could re-raise. 255 for a number that is no
 * signal: 128 + 0 would claim a death by "signal 0", 128 + 65 and more
 * would wrap past 8 bits into ordinary codes; 255 is also what husk
 * reports for a VM that ended without a status. */
int exit_status_of_signal(int sig)
{
	switch (exit_status_classify(sig)) {
	case EXIT_SIG_TERM:
	case EXIT_SIG_CORE: return -sig;
	case EXIT_SIG_IGNORE:
	case EXIT_SIG_STOP:
	case EXIT_SIG_RESERVED: return 128 + sig;
	case EXIT_SIG_INVALID: break;
	}
	return EXIT_STATUS_BAD_SIGNAL;
}

int exit_status_from_guest(uint32_t code, uint32_t sig)
{
	if (sig)
		return exit_status_of_signal(sig > INT_MAX ? 0 : (int)sig);
	return code > 255 ? EXIT_STATUS_BAD_SIGNAL : (int)code;
}

int exit_status_code(int status)
{
	if (status >= 0)
		return status > 255 ? EXIT_STATUS_BAD_SIGNAL : status;
	if (status < -MAX_SIGNAL)
		return EXIT_STATUS_BAD_SIGNAL;
	return 128 + -status;
}

_Noreturn void exit_status_end(int status)
{
	int code = exit_status_code(status);
	int sig = status < 0 && status >= -MAX_SIGNAL ? -status : 0;

	if (sig && exit_status_of_signal(sig) == -sig) {
		/* No core: it would hold the VMM's memory, guest RAM. The rlimit
		 * stops a core file; only an undumpable process is also kept
		 * from a core_pattern pipe (systemd-coredump, apport), which
		 * ignores the rlimit. The confined VMM is undumpable already
		 * and its seccomp filter kills PR_SET_DUMPABLE (with SIGSYS,
		 * which would then be its death), so ask first. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t set;
		bool no_core = setrlimit(RLIMIT_CORE, &(struct rlimit){ 0, 0 }) == 0 &&
			       (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ||
				prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
		/* SIGKILL's disposition cannot be set, and needs not be. */
		bool dfl_ok = sigaction(sig, &dfl, NULL) == 0 || sig == SIGKILL;
		sigemptyset(&set);
		sigaddset(&set, sig);
		if (no_core && dfl_ok && pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0)
			raise(sig);
	}
	exit(code);
}
