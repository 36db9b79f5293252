#include <seccomp.h>
#include <stdio.h>

#include "runtime/commands.h"
#include "oci/spec.h"
#include "base/version.h"

const struct cli_command cmd_version_cli = {
	.name = "version",
	.summary = "print the version, commit and runtime-spec version",
	.min_args = 0,
	.max_args = 0,
};

void husk_print_version(FILE *out)
{
	const struct scmp_version *sv = seccomp_version();

	/* Same lines and order as `runc --version`, which tools parse. */
	fprintf(out, "husk version %s\ncommit: %s\nspec: %s\n", HUSK_VERSION, HUSK_COMMIT,
		OCI_SPEC_VERSION);
	if (sv)
		fprintf(out, "libseccomp: %u.%u.%u\n", sv->major, sv->minor, sv->micro);
}

int cmd_version(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	(void)g, (void)argc, (void)argv, (void)err;
	husk_print_version(stdout);
	return 0;
}
