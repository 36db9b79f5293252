/* `husk delete`: removes a stopped (or, with --force, any) container and
 * everything it held on the host. */
#include <stdio.h>
#include <string.h>

#include "runtime/commands.h"
#include "runtime/lifecycle.h"

static const struct cli_flag delete_flags[] = {
	{ "force", 'f', false,
	  "forcibly deletes the container if it is still running (uses SIGKILL)" },
	{ NULL },
};

const struct cli_command cmd_delete_cli = {
	.name = "delete",
	.summary = "delete any resources held by the container often used with detached container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
	.flags = delete_flags,
};

int cmd_delete(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int rc = cli_parse_command(&cmd_delete_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	bool force = cli_switch(&cmd_delete_cli, &a, "force");
	if (container_load(g->root, a.argv[0], true, &c, err) < 0) {
		/* runc: deleting what is not there is fine when forced. A
		 * record that cannot be read is not that: its VMM may live
		 * on, and only a loud failure gets someone to look. */
		if (force && strcmp((*err)->msg, "container does not exist") == 0) {
			husk_error_release(err);
			return container_remove_unsaved(g->root, a.argv[0], err);
		}
		return -1;
	}
	enum container_status s = container_status(c, &pid);
	if (s != CONTAINER_STOPPED && s != CONTAINER_CREATED && !force) {
		husk_error_set(err, 0, "cannot delete container %s that is not stopped: %s",
			       a.argv[0], container_status_name(s));
		container_free(c);
		return -1;
	}
	rc = lifecycle_destroy(c, err);
	container_free(c);
	return rc;
}
