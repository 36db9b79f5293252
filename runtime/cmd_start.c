/* `husk start`: releases the process of a created container. */
#include "runtime/commands.h"
#include "runtime/lifecycle.h"

const struct cli_command cmd_start_cli = {
	.name = "start",
	.summary = "executes the user defined process in a created container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
};

int cmd_start(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	int rc = cli_parse_command(&cmd_start_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (container_load(g->root, a.argv[0], true, &c, err) < 0)
		return -1;
	rc = lifecycle_start(c, err);
	container_free(c);
	return rc;
}
