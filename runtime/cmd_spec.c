#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "runtime/commands.h"
#include "oci/spec.h"

static const struct cli_flag spec_flags[] = {
	{ "bundle", 'b', true, "path to the root of the bundle directory" },
	{ "rootless", 0, false, "generate a configuration for a rootless container" },
	{ NULL },
};

const struct cli_command cmd_spec_cli = {
	.name = "spec",
	.summary = "create a new specification file",
	.min_args = 0,
	.max_args = 0,
	.flags = spec_flags,
};

int cmd_spec(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int r = cli_parse_command(&cmd_spec_cli, argc, argv, &a, err);
	(void)g;
	if (r != 0)
		return r < 0 ? r : 0;

	const char *bundle = cli_value(&cmd_spec_cli, &a, "bundle");
	cleanup_close int dirfd = open(bundle ? bundle : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return husk_error_set(err, errno, "bundle %s", bundle ? bundle : ".");

	cleanup_free char *text = oci_default_spec(cli_switch(&cmd_spec_cli, &a, "rootless"),
						   getuid(), getgid(), err);
	if (!text)
		return -1;

	/* O_EXCL: never overwrite a user's config, even one that appears
	 * between a check and the write; O_NOFOLLOW: a config.json symlink
	 * must not redirect the write elsewhere. */
	cleanup_close int fd = openat(dirfd, "config.json",
				      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return husk_error_set(err, 0, "File config.json exists. Remove it first");
	if (fd < 0)
		return husk_error_set(err, errno, "create config.json");
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		int saved = errno;
		unlinkat(dirfd, "config.json", 0); /* leave no half file behind */
		return husk_error_set(err, saved, "write config.json");
	}
	return 0;
}
