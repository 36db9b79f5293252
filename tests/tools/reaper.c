/* reaper: runs a command as a child subreaper and reports how each process
 * it ends up waiting for ended, for the integration tests.
 *
 *   reaper CMD [ARGS...]
 *
 * A container's process outlives `create` (its parent), so a shell cannot
 * wait for it; under reaper it becomes reaper's child instead of init's.
 * reaper waits for CMD and every process left to it, and prints one line
 * per process on stdout as it ends:
 *   PID exited CODE      (WIFEXITED)
 *   PID killed SIGNAL    (WIFSIGNALED; SIGNAL is the number)
 * It returns once it has no children left: 0, or 1 when CMD itself failed
 * (exit status other than 0, or a signal), 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		fputs("Usage: reaper CMD [ARGS...]\n", stderr);
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	pid_t cmd = fork();
	if (cmd < 0) {
		perror("reaper: fork");
		return 1;
	}
	if (cmd == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "reaper: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	int rc = 0;
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break; /* ECHILD: nothing left */
		if (WIFEXITED(st))
			printf("%d exited %d\n", (int)pid, WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			printf("%d killed %d\n", (int)pid, WTERMSIG(st));
		fflush(stdout);
		if (pid == cmd && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			rc = 1;
	}
	return rc;
}
