/* `husk ps`: the container's host processes, as runc shows them: the VMM
 * (the container's pid) and any exec relays, all in its cgroup. With
 * --format json a list of pids, which the containerd shim reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/container.h"

static const struct cli_flag ps_flags[] = {
	{ "format", 'f', true, "select one of: table or json (default: \"table\")" },
	{ NULL },
};

const struct cli_command cmd_ps_cli = {
	.name = "ps",
	.summary = "ps displays the processes running inside a container",
	.args = " <container-id> [ps options]",
	.min_args = 1,
	.max_args = -1,
	.flags = ps_flags,
};

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Runs `ps ARGS` and prints its header and the lines of PIDS. */
static int ps_table(char **args, int nargs, const pid_t *pids, size_t n, husk_error_t *err)
{
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return husk_error_set(err, errno, "pipe");
	pid_t child = fork();
	if (child < 0)
		return husk_error_set(err, errno, "fork");
	if (child == 0) {
		char *argv[64] = { "ps" };
		int k = 1;
		if (nargs == 0)
			argv[k++] = "-ef";
		for (int i = 0; i < nargs && k < 63; i++)
			argv[k++] = args[i];
		argv[k] = NULL;
		dup2(out[1], STDOUT_FILENO);
		execvp("ps", argv);
		_exit(127);
	}
	close(out[1]);
	FILE *f = fdopen(out[0], "r");
	char *line = NULL;
	size_t cap = 0;
	int pid_col = -1;
	bool header = true;
	while (f && getline(&line, &cap, f) > 0) {
		if (header) {
			/* Which column is PID: ps options may move it. */
			char *copy = strdup(line), *save, *tok = strtok_r(copy, " \t\n", &save);
			for (int col = 0; tok; col++, tok = strtok_r(NULL, " \t\n", &save))
				if (strcmp(tok, "PID") == 0)
					pid_col = col;
			free(copy);
			fputs(line, stdout);
			header = false;
			continue;
		}
		char *copy = strdup(line), *save, *tok = strtok_r(copy, " \t\n", &save);
		for (int col = 0; tok && col < pid_col; col++)
			tok = strtok_r(NULL, " \t\n", &save);
		if (tok && has_pid(pids, n, strtol(tok, NULL, 10)))
			fputs(line, stdout);
		free(copy);
	}
	free(line);
	if (f)
		fclose(f);
	int st;
	waitpid(child, &st, 0);
	if (pid_col < 0)
		return husk_error_set(err, 0, "couldn't find PID field in ps output");
	return 0;
}

int cmd_ps(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	int rc = cli_parse_command(&cmd_ps_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	const char *format = cli_value(&cmd_ps_cli, &a, "format");
	bool json = format && strcmp(format, "json") == 0;
	if (format && !json && strcmp(format, "table") != 0)
		return husk_error_set(err, 0, "invalid format option");
	if (container_load(g->root, a.argv[0], false, &c, err) < 0)
		return -1;
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	if (container_status(c, &pid) == CONTAINER_STOPPED) {
		/* runc lists no processes for a stopped container: not an error. */
	} else if (c->rec->cgroup_path[0]) {
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
		rc = cg ? cgroup_pids(cg, &pids, &n, err) : -1;
		cgroup_handle_free(cg);
	} else if ((pids = malloc(sizeof(*pids)))) {
		pids[n++] = pid;
	}
	container_free(c);
	if (rc < 0)
		return -1;
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
		return 0;
	}
	fflush(stdout);
	return ps_table(a.argv + 1, a.argc - 1, pids, n, err);
}
