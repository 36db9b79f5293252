#include "commands.h"

/* Each entry names the issue that brings it, so the message tells a user
 * this is unfinished work, not a misuse. */
static int cmd_pending(const struct husk_globals *g, int argc, char **argv,
		       husk_error_t *err)
{
	(void)g, (void)argc;
	return husk_error_set(err, 0,
			      "husk %s: not yet supported: this build cannot "
			      "run containers yet (the VM lifecycle is still "
			      "being built)",
			      argv[0]);
}

#define PENDING(verb, text)                                                   \
	{ &(const struct cli_command){ .name = verb, .summary = text,         \
				       .max_args = -1 },                      \
	  cmd_pending }

const struct husk_command husk_pending_commands[] = {
	PENDING("checkpoint", "checkpoint a running container (not supported for micro-VMs)"),
	PENDING("create", "create a container"),
	PENDING("delete", "delete any resources held by the container"),
	PENDING("events", "display container events and resource usage statistics"),
	PENDING("exec", "execute new process inside the container"),
	PENDING("kill", "send a signal (default: SIGTERM) to the container's init process"),
	PENDING("list", "lists containers started by husk with the given root"),
	PENDING("pause", "pause suspends all processes inside the container"),
	PENDING("ps", "ps displays the processes running inside a container"),
	PENDING("restore", "restore a container from a checkpoint (not supported for micro-VMs)"),
	PENDING("resume", "resumes all processes that have been previously paused"),
	PENDING("run", "create and run a container"),
	PENDING("start", "executes the user defined process in a created container"),
	PENDING("state", "output the state of a container"),
	PENDING("update", "update container resource constraints"),
	{ NULL, NULL },
};
