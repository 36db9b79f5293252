/* runtime/exit_status.c: how a host process ends for a status the guest
 * reported. The decision is checked for every signal class; the ending
 * itself runs in forked children, whose wait status is what a client of
 * the VMM or of `husk exec` would read. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/exit_status.h"
#include "runtime/vmm_process.h"
#include "tests/unit/tap.h"

static const int term_sigs[] = { SIGHUP,  SIGINT, SIGKILL, SIGPIPE,   SIGALRM,	 SIGTERM, SIGUSR1,
				 SIGUSR2, SIGIO,  SIGPROF, SIGVTALRM, SIGSTKFLT, SIGPWR };
static const int core_sigs[] = { SIGQUIT, SIGILL,  SIGTRAP, SIGABRT, SIGBUS,
				 SIGFPE,  SIGSEGV, SIGSYS,  SIGXCPU, SIGXFSZ };
static const int ignore_sigs[] = { SIGCHLD, SIGCONT, SIGURG, SIGWINCH };
static const int stop_sigs[] = { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool in(const int *set, size_t n, int sig)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == sig)
			return true;
	return false;
}

TEST(exit_status_classifies_every_signal_number)
{
	CHECK_INT(SIGRTMAX, 64);
	for (int sig = -2; sig <= 70; sig++) {
		enum exit_signal_class want;
		if (sig < 1 || sig > 64)
			want = EXIT_SIG_INVALID;
		else if (in(term_sigs, N(term_sigs), sig))
			want = EXIT_SIG_TERM;
		else if (in(core_sigs, N(core_sigs), sig))
			want = EXIT_SIG_CORE;
		else if (in(ignore_sigs, N(ignore_sigs), sig))
			want = EXIT_SIG_IGNORE;
		else if (in(stop_sigs, N(stop_sigs), sig))
			want = EXIT_SIG_STOP;
		else if (sig >= 32 && sig < SIGRTMIN)
			want = EXIT_SIG_RESERVED;
		else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
			want = EXIT_SIG_TERM;
		else
			want = EXIT_SIG_INVALID; /* no number 1-31 is left */
		if (exit_status_classify(sig) != want) {
			tap_fail(__FILE__, __LINE__, "signal %d: class %d, want %d", sig,
				 exit_status_classify(sig), want);
			return;
		}
	}
	CHECK(exit_status_classify(INT_MIN) == EXIT_SIG_INVALID);
	CHECK(exit_status_classify(INT_MAX) == EXIT_SIG_INVALID);
	/* glibc's own: sigaction() refuses them, so SIG_DFL is not ours to set. */
	CHECK(exit_status_classify(32) == EXIT_SIG_RESERVED);
	CHECK(exit_status_classify(33) == EXIT_SIG_RESERVED);
}

TEST(exit_status_only_terminating_signals_are_raised)
{
	for (size_t i = 0; i < N(term_sigs); i++)
		CHECK_INT(exit_status_of_signal(term_sigs[i]), -term_sigs[i]);
	for (size_t i = 0; i < N(core_sigs); i++)
		CHECK_INT(exit_status_of_signal(core_sigs[i]), -core_sigs[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		CHECK_INT(exit_status_of_signal(sig), -sig);
	/* Stop and ignore signals and glibc's reserved ones become the code
	 * a shell shows: a client would wait forever, or see nothing. */
	for (size_t i = 0; i < N(stop_sigs); i++)
		CHECK_INT(exit_status_of_signal(stop_sigs[i]), 128 + stop_sigs[i]);
	for (size_t i = 0; i < N(ignore_sigs); i++)
		CHECK_INT(exit_status_of_signal(ignore_sigs[i]), 128 + ignore_sigs[i]);
	CHECK_INT(exit_status_of_signal(32), 160);
	CHECK_INT(exit_status_of_signal(33), 161);
	CHECK_INT(exit_status_of_signal(0), 255);
	CHECK_INT(exit_status_of_signal(65), 255);
	CHECK_INT(exit_status_of_signal(255), 255);
	CHECK_INT(exit_status_of_signal(-9), 255);
	CHECK_INT(exit_status_of_signal(INT_MAX), 255);
	CHECK_INT(exit_status_of_signal(INT_MIN), 255);
	CHECK(exit_status_signal_ends(SIGTERM) && exit_status_signal_ends(SIGKILL));
	CHECK(exit_status_signal_ends(SIGSEGV) && exit_status_signal_ends(32));
	CHECK(!exit_status_signal_ends(SIGSTOP) && !exit_status_signal_ends(SIGTSTP));
	CHECK(!exit_status_signal_ends(SIGCHLD) && !exit_status_signal_ends(0));
	CHECK(!exit_status_signal_ends(65));
}

TEST(exit_status_from_guest_reports)
{
	CHECK_INT(exit_status_from_guest(0, 0), 0);
	CHECK_INT(exit_status_from_guest(42, 0), 42);
	CHECK_INT(exit_status_from_guest(255, 0), 255);
	CHECK_INT(exit_status_from_guest(256, 0), 255);
	CHECK_INT(exit_status_from_guest(UINT32_MAX, 0), 255);
	/* husk-init sends code 128 + signal beside the signal; the signal decides. */
	CHECK_INT(exit_status_from_guest(137, SIGKILL), -SIGKILL);
	CHECK_INT(exit_status_from_guest(0, SIGTERM), -SIGTERM);
	CHECK_INT(exit_status_from_guest(147, SIGSTOP), 147);
	CHECK_INT(exit_status_from_guest(0, SIGTTOU), 128 + SIGTTOU);
	CHECK_INT(exit_status_from_guest(0, SIGWINCH), 128 + SIGWINCH);
	/* The status port carries 8 bits of signal; a frame 32. */
	CHECK_INT(exit_status_from_guest(0, 200), 255);
	CHECK_INT(exit_status_from_guest(0, 0x80000000u), 255);
	CHECK_INT(exit_status_from_guest(0, UINT32_MAX), 255);
}

TEST(exit_status_code_is_eight_bits)
{
	CHECK_INT(exit_status_code(0), 0);
	CHECK_INT(exit_status_code(255), 255);
	CHECK_INT(exit_status_code(256), 255);
	CHECK_INT(exit_status_code(INT_MAX), 255);
	CHECK_INT(exit_status_code(-SIGKILL), 137);
	CHECK_INT(exit_status_code(-64), 192);
	CHECK_INT(exit_status_code(-65), 255);
	CHECK_INT(exit_status_code(INT_MIN), 255);
}

/* ---- how the process ends ---- */

/* Blocks and ignores SIG, as the VMM's router and `husk exec` leave the
 * signals they forward, and allows core files. */
static void hostile_setup(int sig)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
	}
	if (sig > 0 && sig != SIGKILL && sig != SIGSTOP && sig < SIGRTMAX + 1 &&
	    (sig < 32 || sig >= SIGRTMIN)) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_BLOCK, &set, NULL);
		signal(sig, SIG_IGN);
	}
}

/* The wait status of a child that ends through vmm_process_exit(STATUS)
 * (so the test also runs against the code before exit_status.c), in
 * directory DIR when given. A child that stops is killed: -1. */
static int end_in_child(int status, const char *dir)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (dir && chdir(dir) < 0)
			_exit(99);
		hostile_setup(status < 0 && status != INT_MIN ? -status : 0);
		vmm_process_exit(status);
	}
	int st;
	if (waitpid(pid, &st, WUNTRACED) != pid)
		return -1;
	if (WIFSTOPPED(st)) {
		printf("# child stopped by %s\n", sigabbrev_np(WSTOPSIG(st)));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	return st;
}

#define EXITED_WITH(st, code) (WIFEXITED(st) && WEXITSTATUS(st) == (code))
#define KILLED_BY(st, sig) (WIFSIGNALED(st) && WTERMSIG(st) == (sig))

TEST(exit_status_stop_signal_from_guest_does_not_stop_the_vmm)
{
	/* What the EXIT frame {code 147, signal SIGSTOP} gave the VMM before. */
	for (size_t i = 0; i < N(stop_sigs); i++) {
		int st = end_in_child(-stop_sigs[i], NULL);
		CHECK(st != -1);
		CHECK(EXITED_WITH(st, 128 + stop_sigs[i]));
	}
}

TEST(exit_status_ignored_and_bogus_signals_become_exit_codes)
{
	for (size_t i = 0; i < N(ignore_sigs); i++) {
		int st = end_in_child(-ignore_sigs[i], NULL);
		CHECK(EXITED_WITH(st, 128 + ignore_sigs[i]));
	}
	CHECK(EXITED_WITH(end_in_child(-32, NULL), 160));
	CHECK(EXITED_WITH(end_in_child(-33, NULL), 161));
	CHECK(EXITED_WITH(end_in_child(-65, NULL), 255));
	CHECK(EXITED_WITH(end_in_child(-200, NULL), 255));
	CHECK(EXITED_WITH(end_in_child(INT_MIN, NULL), 255));
	CHECK(EXITED_WITH(end_in_child(300, NULL), 255));
	CHECK(EXITED_WITH(end_in_child(3, NULL), 3));
}

TEST(exit_status_terminating_signals_are_raised_unblocked_and_default)
{
	static const int sigs[] = { SIGTERM, SIGKILL, SIGHUP, SIGPIPE, SIGUSR1 };
	for (size_t i = 0; i < N(sigs); i++) {
		int st = end_in_child(-sigs[i], NULL);
		CHECK(KILLED_BY(st, sigs[i]));
	}
	CHECK(KILLED_BY(end_in_child(-SIGRTMIN, NULL), SIGRTMIN));
	CHECK(KILLED_BY(end_in_child(-SIGRTMAX, NULL), SIGRTMAX));
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;
	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

TEST(exit_status_core_signals_dump_no_core)
{
	/* The child allows cores and runs where core_pattern "core" would
	 * write one; a core of the VMM would be guest RAM. */
	char dir[] = "/tmp/husk-exit-status-XXXXXX";
	CHECK(mkdtemp(dir));
	for (size_t i = 0; i < N(core_sigs); i++) {
		int sig = core_sigs[i];
		int st = end_in_child(-sig, dir);
		if (!KILLED_BY(st, sig) || WCOREDUMP(st) || !dir_is_empty(dir)) {
			tap_fail(__FILE__, __LINE__, "%s: status 0x%x, or a core in %s",
				 sigabbrev_np(sig), st, dir);
			return;
		}
	}
	rmdir(dir);
}

/* Runs in exit() after the raise returned: the state the signal met. */
static void check_state_at_raise(void)
{
	struct rlimit rl;
	struct sigaction sa;
	sigset_t mask;
	if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0)
		_exit(11);
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		_exit(12);
	if (sigaction(SIGTERM, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		_exit(13);
	if (sigprocmask(SIG_BLOCK, NULL, &mask) < 0 || sigismember(&mask, SIGTERM))
		_exit(14);
}

TEST(exit_status_exits_when_the_signal_does_not_end_it)
{
	/* Pid 1 of a PID namespace ignores the signals it sends itself, even
	 * SIGKILL: the raise returns and the exit code must still tell. That
	 * also lets the child look at what the raise met: no core, SIGTERM
	 * at SIG_DFL and unblocked though it was ignored and blocked. */
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWPID) < 0)
			_exit(errno == EPERM || errno == EINVAL ? 77 : 1);
		pid_t init = fork();
		if (init == 0) {
			hostile_setup(SIGTERM);
			atexit(check_state_at_raise);
			vmm_process_exit(-SIGTERM);
		}
		int st;
		if (init < 0 || waitpid(init, &st, 0) != init)
			_exit(2);
		if (KILLED_BY(st, SIGTERM))
			_exit(3);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 4);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (EXITED_WITH(st, 77))
		SKIP("no CLONE_NEWPID here");
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 128 + SIGTERM);
}
