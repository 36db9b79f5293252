/* The command table: one cmd_<verb>.c per command, each exporting its flag
 * table (struct cli_command) and its entry point. main.c only dispatches. */
#ifndef HUSK_COMMANDS_H
#define HUSK_COMMANDS_H

#include <stdbool.h>

#include "runtime/cli.h"
#include "base/error.h"
#include "base/log.h"

/* Options that come before the command, as runc takes them. */
struct husk_globals {
	const char *root; /* state directory, default /run/husk */
	const char *log_path;
	enum log_format log_format;
	bool debug;
	bool systemd_cgroup;
	const char *rootless; /* "true", "false" or "auto", as runc */
};

typedef int (*husk_command_fn)(const struct husk_globals *g, int argc, char **argv,
			       husk_error_t *err);

struct husk_command {
	const struct cli_command *cli;
	husk_command_fn run;
};

#define HUSK_COMMAND(verb)                                \
	extern const struct cli_command cmd_##verb##_cli; \
	int cmd_##verb(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)

HUSK_COMMAND(version);
HUSK_COMMAND(spec);
HUSK_COMMAND(features);
HUSK_COMMAND(check);
HUSK_COMMAND(debug);
HUSK_COMMAND(create);
HUSK_COMMAND(start);
HUSK_COMMAND(run);
HUSK_COMMAND(state);
HUSK_COMMAND(kill);
HUSK_COMMAND(delete);
HUSK_COMMAND(exec);
HUSK_COMMAND(ps);
HUSK_COMMAND(list);
HUSK_COMMAND(pause);
HUSK_COMMAND(resume);
HUSK_COMMAND(update);
HUSK_COMMAND(events);

/* Commands runc has that husk cannot do for a micro-VM (checkpoint and
 * restore): listed, so users see the full command set, and failing with a
 * clear message. */
extern const struct husk_command husk_pending_commands[];

/* The state directory's file holding the guest's part of an update made
 * while the container was paused (JSON resources), for resume to send. */
#define UPDATE_PENDING_FILE "update.pending"
struct container;
/* Sends and removes the update queued while C was paused, if any. */
int update_apply_pending(struct container *c, husk_error_t *err);

/* Shared by `husk --version` and `husk version`. */
void husk_print_version(FILE *out);

#endif
