#include "runtime/commands.h"

static int cmd_unsupported(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	(void)g, (void)argc;
	return husk_error_set(err, 0,
			      "husk %s: not supported: a micro-VM's state cannot be "
			      "checkpointed with CRIU",
			      argv[0]);
}

#define UNSUPPORTED(verb, text)                                                               \
	{                                                                                     \
		&(const struct cli_command){ .name = verb, .summary = text, .max_args = -1 }, \
			cmd_unsupported                                                       \
	}

const struct husk_command husk_pending_commands[] = {
	UNSUPPORTED("checkpoint", "checkpoint a running container (not supported for micro-VMs)"),
	UNSUPPORTED("restore",
		    "restore a container from a checkpoint (not supported for micro-VMs)"),
	{ NULL, NULL },
};
