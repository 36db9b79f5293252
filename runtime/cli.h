/* Command-line parsing shared by the global options and every command.
 *
 * One table per command describes its flags; the same table drives parsing
 * and the help text, so the two cannot drift. Flags follow Go's flag package
 * as runc uses it: `-flag`, `--flag`, `--flag=value` and `--flag value` are
 * all accepted, and parsing stops at the first positional argument. */
#ifndef HUSK_CLI_H
#define HUSK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

#define CLI_MAX_FLAGS 24

struct cli_flag {
	const char *name; /* long name, without dashes */
	char short_name;  /* 0 for none */
	bool takes_value; /* false: a boolean switch */
	const char *help;
};

struct cli_command {
	const char *name;
	const char *summary;	      /* one line, shown in `husk --help` */
	const char *args;	      /* positional arguments, for the usage line */
	int min_args, max_args;	      /* max_args < 0: unlimited */
	const struct cli_flag *flags; /* terminated by a { NULL } entry */
};

#define CLI_MAX_VALUES 64

/* What cli_parse() found: values[i] belongs to flags[i] ("true" for a set
 * switch, NULL when absent); the positional arguments follow. */
struct cli_args {
	const char *values[CLI_MAX_FLAGS];
	/* Every value of every flag, in command-line order, for flags that
	 * may be repeated (cli_values()); values[] keeps the last one. */
	struct {
		int flag;
		const char *value;
	} all[CLI_MAX_VALUES];
	int nall;
	bool help; /* -h/--help was given: the caller prints help and stops */
	int argc;
	char **argv;
};

/* argv[0] is the command name. On a usage error prints the command's help to
 * stderr and fails with runc's message ("flag provided but not defined:
 * -x", "\"state\" requires exactly 1 argument(s)"). */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
	      husk_error_t *err);

/* cli_parse() for a command: on -h/--help prints its help to stdout and
 * returns 1 (the command then ends with status 0); <0 on a usage error. */
int cli_parse_command(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
		      husk_error_t *err);

/* Whether S is a whole decimal number from MIN to MAX (no sign, nothing
 * after it), stored in *OUT; the caller words the error, naming its field. */
bool cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* The value of flag NAME (NULL when absent). An unknown NAME aborts: it is a
 * programming error, caught by any test that runs the code. */
const char *cli_value(const struct cli_command *cmd, const struct cli_args *a, const char *name);
bool cli_switch(const struct cli_command *cmd, const struct cli_args *a, const char *name);
/* Every value flag NAME was given, in order, into OUT (at most MAX);
 * returns how many there were. */
int cli_values(const struct cli_command *cmd, const struct cli_args *a, const char *name,
	       const char **out, int max);

void cli_print_help(const struct cli_command *cmd, const char *prog, FILE *out);

#endif
