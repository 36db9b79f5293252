/* `husk state`: the runtime-spec state, as runc prints it. */
#include <stdio.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/container.h"

const struct cli_command cmd_state_cli = {
	.name = "state",
	.summary = "output the state of a container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
};

int cmd_state(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int rc = cli_parse_command(&cmd_state_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (container_load(g->root, a.argv[0], false, &c, err) < 0)
		return -1;
	enum container_status s = container_status(c, &pid);
	cleanup_free char *json = oci_state_to_json(c->rec, container_status_name(s), pid, true);
	container_free(c);
	if (!json)
		return husk_error_set(err, 0, "out of memory");
	printf("%s\n", json);
	return 0;
}
