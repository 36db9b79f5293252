#include <stdio.h>
#include <stdlib.h>

#include "runtime/commands.h"
#include "oci/spec.h"

const struct cli_command cmd_features_cli = {
	.name = "features",
	.summary = "show the enabled features",
	.min_args = 0,
	.max_args = 0,
};

int cmd_features(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int r = cli_parse_command(&cmd_features_cli, argc, argv, &a, err);
	(void)g;
	if (r != 0)
		return r < 0 ? r : 0;
	char *text = oci_features(err);
	if (!text)
		return -1;
	printf("%s\n", text);
	free(text);
	return 0;
}
