/* How a husk process ends when it stands in for a process that ran in the
 * guest: the VMM for the container's process, `husk exec` for an exec'd
 * one. The guest reports how that process ended (an EXIT frame, or the
 * HUSK_PORT_EXIT status port) and clients waiting on the host process
 * (conmon, containerd-shim, a shell) read it from the host wait status, as
 * they would from runc's. That report is hostile: only this module turns
 * it into the host's end, so that a guest cannot stop the VMM or `husk
 * exec` (SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU leave clients waiting forever),
 * leave them running, or make the host dump the VMM (guest RAM) to a core.
 *
 * A status is an int: >= 0 exit with that code, < 0 die of signal -status.
 * Guest and host signal numbers are the same (both Linux, one ABI). */
#ifndef HUSK_RUNTIME_EXIT_STATUS_H
#define HUSK_RUNTIME_EXIT_STATUS_H

#include <stdbool.h>
#include <stdint.h>

enum exit_signal_class {
	EXIT_SIG_INVALID,  /* 0, negative, or beyond the kernel's 64 */
	EXIT_SIG_TERM,	   /* default action: terminate */
	EXIT_SIG_CORE,	   /* default action: terminate with a core dump */
	EXIT_SIG_IGNORE,   /* default action: ignore */
	EXIT_SIG_STOP,	   /* default action: stop */
	EXIT_SIG_RESERVED, /* terminates, but libc keeps it (32, 33): its
			    * disposition cannot be set back to SIG_DFL */
};

/* The fixed exit code for a "signal" that is none (see exit_status_of_signal). */
#define EXIT_STATUS_BAD_SIGNAL 255

enum exit_signal_class exit_status_classify(int sig);

/* Whether SIG's default action ends a process (as a created container's
 * process would end of it). */
bool exit_status_signal_ends(int sig);

/* The status for "killed by SIG": -SIG only when this process can die of
 * SIG the same way (class TERM or CORE); otherwise the plain exit code a
 * shell (and runc's `run`) shows for it, 128 + SIG, and for a number that
 * is no signal (0, > 64) EXIT_STATUS_BAD_SIGNAL. */
int exit_status_of_signal(int sig);

/* The status for a guest's report: killed by SIG, or with SIG 0 exited
 * with CODE (beyond 255: EXIT_STATUS_BAD_SIGNAL). */
int exit_status_from_guest(uint32_t code, uint32_t sig);

/* The exit code a shell would show for STATUS: 0-255. */
int exit_status_code(int status);

/* Ends this process with STATUS. A signal is raised only if
 * exit_status_of_signal() allows it, with its default disposition,
 * unblocked and without a core dump; when that does not end the process
 * (pid 1 of a PID namespace ignores its own signals) it exits with
 * exit_status_code(STATUS). */
_Noreturn void exit_status_end(int status);

#endif
