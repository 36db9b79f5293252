/* `husk pause` / `husk resume`: freeze and thaw the container's cgroup,
 * which holds the VMM (its vCPUs stop with it) and any exec relays. */
#include "runtime/cgroup.h"
#include "runtime/commands.h"
#include "runtime/container.h"

const struct cli_command cmd_pause_cli = {
	.name = "pause",
	.summary = "pause suspends all processes inside the container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
};

const struct cli_command cmd_resume_cli = {
	.name = "resume",
	.summary = "resumes all processes that have been previously paused",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
};

static int freeze(const struct husk_globals *g, const struct cli_command *cli, int argc,
		  char **argv, bool frozen, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int rc = cli_parse_command(cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (container_load(g->root, a.argv[0], true, &c, err) < 0)
		return -1;
	enum container_status s = container_status(c, &pid);
	if (frozen && s != CONTAINER_RUNNING)
		rc = husk_error_set(err, 0, "container not running");
	else if (!frozen && s != CONTAINER_PAUSED)
		rc = husk_error_set(err, 0, "container not paused");
	else if (!c->rec->cgroup_path[0])
		rc = husk_error_set(err, 0, "cannot %s a container without a cgroup", argv[0]);
	if (rc == 0) {
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
		rc = cg ? cgroup_freeze(cg, frozen, err) : -1;
		cgroup_handle_free(cg);
	}
	/* What update could not give the frozen guest, it gets now. */
	if (rc == 0 && !frozen)
		rc = update_apply_pending(c, err);
	container_free(c);
	return rc;
}

int cmd_pause(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	return freeze(g, &cmd_pause_cli, argc, argv, true, err);
}

int cmd_resume(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	return freeze(g, &cmd_resume_cli, argc, argv, false, err);
}
