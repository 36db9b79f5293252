/* `husk kill`: a signal to the container process, which passes it to the
 * guest's process (SIGKILL ends the VM and with it every process). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/control.h"
#include "runtime/lifecycle.h"

static const struct cli_flag kill_flags[] = {
	{ "all", 'a', false, "send the specified signal to all processes inside the container" },
	{ NULL },
};

const struct cli_command cmd_kill_cli = {
	.name = "kill",
	.summary =
		"kill sends the specified signal (default: SIGTERM) to the container's init process",
	.args = " <container-id> [signal]",
	.min_args = 1,
	.max_args = 2,
	.flags = kill_flags,
};

int cmd_kill(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int sig = SIGTERM;
	int rc = cli_parse_command(&cmd_kill_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (a.argc > 1 && lifecycle_parse_signal(a.argv[1], &sig, err) < 0)
		return -1;
	if (container_load(g->root, a.argv[0], false, &c, err) < 0)
		return -1;
	rc = 0;
	enum container_status s = container_status(c, &pid);
	if (s == CONTAINER_STOPPED) {
		rc = husk_error_set(err, 0, "container not running");
	} else if (cli_switch(&cmd_kill_cli, &a, "all") && sig != SIGKILL &&
		   s != CONTAINER_CREATED) {
		/* Every process in the guest; SIGKILL needs no guest: the VM
		 * and everything in it end with the VMM. */
		uint8_t f[AGENT_HDR_LEN + 8];
		size_t n = agent_encode_signal(f, 0, (uint32_t)sig, AGENT_SIGNAL_ALL);
		cleanup_close int fd = control_connect(c, err);
		if (fd < 0)
			rc = -1;
		else if (agent_send_buf(fd, f, n) < 0)
			rc = husk_error_set(err, errno, "send the signal to the container");
	} else if (kill(pid, sig) < 0) {
		rc = husk_error_set(err, errno, "kill %d", (int)pid);
	} else if (sig == SIGKILL && s == CONTAINER_PAUSED) {
		rc = lifecycle_thaw_for_kill(c, err);
	}
	container_free(c);
	return rc;
}
