/* `husk create`: the container process (a VMM) is forked, confined and its
 * VM built; the guest boots while the client goes on. */
#include <stdlib.h>
#include <string.h>

#include "runtime/commands.h"
#include "runtime/lifecycle.h"

static const struct cli_flag create_flags[] = {
	{ "bundle", 'b', true,
	  "path to the root of the bundle directory, defaults to the current directory" },
	{ "console-socket", 0, true,
	  "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" },
	{ "pid-file", 0, true, "specify the file to write the process id to" },
	{ "no-pivot", 0, false, "accepted for runc compatibility (the guest always pivots)" },
	{ "no-new-keyring", 0, false,
	  "accepted for runc compatibility (the guest has its own keyrings)" },
	{ "preserve-fds", 0, true,
	  "pass N additional file descriptors to the container (only 0 is supported)" },
	{ NULL },
};

const struct cli_command cmd_create_cli = {
	.name = "create",
	.summary = "create a container",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
	.flags = create_flags,
};

int lifecycle_check_preserve_fds(const char *v, husk_error_t *err)
{
	if (v && strcmp(v, "0") != 0)
		return husk_error_set(
			err, 0,
			"--preserve-fds %s: not yet supported: host file descriptors cannot cross into the micro-VM",
			v);
	return 0;
}

int cmd_create(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int rc = cli_parse_command(&cmd_create_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
#define V(n) cli_value(&cmd_create_cli, &a, n)
	if (lifecycle_check_preserve_fds(V("preserve-fds"), err) < 0)
		return -1;
	struct create_opts o = { .id = a.argv[0],
				 .bundle = V("bundle"),
				 .pid_file = V("pid-file"),
				 .console_socket = V("console-socket") };
#undef V
	pid_t pid;
	if (lifecycle_create(g, &o, &pid, err) < 0)
		return husk_error_wrap(err, "husk create failed");
	return 0;
}
