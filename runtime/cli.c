#include "runtime/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int flag_count(const struct cli_command *cmd)
{
	int n = 0;
	while (cmd->flags && cmd->flags[n].name)
		n++;
	return n;
}

static int flag_index(const struct cli_command *cmd, const char *name)
{
	for (int i = 0; cmd->flags && cmd->flags[i].name; i++)
		if (strcmp(cmd->flags[i].name, name) == 0)
			return i;
	fprintf(stderr, "husk: internal error: %s has no flag --%s\n", cmd->name, name);
	abort();
}

const char *cli_value(const struct cli_command *cmd, const struct cli_args *a, const char *name)
{
	return a->values[flag_index(cmd, name)];
}

bool cli_switch(const struct cli_command *cmd, const struct cli_args *a, const char *name)
{
	return a->values[flag_index(cmd, name)] != NULL;
}

int cli_values(const struct cli_command *cmd, const struct cli_args *a, const char *name,
	       const char **out, int max)
{
	int idx = flag_index(cmd, name), n = 0;

	for (int i = 0; i < a->nall; i++)
		if (a->all[i].flag == idx) {
			if (n < max)
				out[n] = a->all[i].value;
			n++;
		}
	return n;
}

void cli_print_help(const struct cli_command *cmd, const char *prog, FILE *out)
{
	fprintf(out, "NAME:\n   %s %s - %s\n\nUSAGE:\n   %s %s%s%s\n", prog, cmd->name,
		cmd->summary, prog, cmd->name, flag_count(cmd) ? " [command options]" : "",
		cmd->args ? cmd->args : "");
	if (!flag_count(cmd))
		return;
	fprintf(out, "\nOPTIONS:\n");
	for (const struct cli_flag *f = cmd->flags; f->name; f++) {
		char left[64];
		int n = snprintf(left, sizeof(left), "--%s%s", f->name,
				 f->takes_value ? " value" : "");
		if (f->short_name)
			snprintf(left + n, sizeof(left) - n, ", -%c%s", f->short_name,
				 f->takes_value ? " value" : "");
		fprintf(out, "   %-28s %s\n", left, f->help);
	}
}

static int usage_error(const struct cli_command *cmd, husk_error_t *err, const char *msg,
		       const char *arg)
{
	fprintf(stderr, "Incorrect Usage: %s%s\n\n", msg, arg);
	cli_print_help(cmd, "husk", stderr);
	return husk_error_set(err, 0, "%s%s", msg, arg);
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
	      husk_error_t *err)
{
	int n = flag_count(cmd);
	struct option longopts[CLI_MAX_FLAGS + 2];
	char shortopts[2 * CLI_MAX_FLAGS + 8] = "+:h";
	size_t sl = strlen(shortopts);

	if (n > CLI_MAX_FLAGS) {
		fprintf(stderr, "husk: internal error: %s has too many flags\n", cmd->name);
		abort();
	}
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		const struct cli_flag *f = &cmd->flags[i];
		longopts[i] = (struct option){ f->name,
					       f->takes_value ? required_argument : no_argument,
					       NULL, 256 + i };
		if (f->short_name) {
			shortopts[sl++] = f->short_name;
			if (f->takes_value)
				shortopts[sl++] = ':';
		}
	}
	shortopts[sl] = '\0';
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n + 1] = (struct option){ 0 };

	/* getopt keeps global state; optind = 0 makes it start afresh for
	 * this argument vector (glibc's documented reset). */
	optind = 0;
	opterr = 0;
	for (;;) {
		int c = getopt_long_only(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			break;
		if (c == 'h') {
			out->help = true;
			continue;
		}
		if (c == '?')
			return usage_error(cmd, err,
					   "flag provided but not defined: ", argv[optind - 1]);
		if (c == ':')
			return usage_error(cmd, err, "flag needs an argument: ", argv[optind - 1]);
		int idx = c >= 256 ? c - 256 : -1;
		for (int i = 0; idx < 0 && i < n; i++)
			if (cmd->flags[i].short_name == c)
				idx = i;
		out->values[idx] = cmd->flags[idx].takes_value ? optarg : "true";
		if (cmd->flags[idx].takes_value) {
			if (out->nall == CLI_MAX_VALUES)
				return usage_error(cmd, err,
						   "too many options: ", argv[optind - 1]);
			out->all[out->nall].flag = idx;
			out->all[out->nall++].value = optarg;
		}
	}
	out->argc = argc - optind;
	out->argv = argv + optind;
	if (out->help)
		return 0;

	if (out->argc < cmd->min_args || (cmd->max_args >= 0 && out->argc > cmd->max_args)) {
		char msg[128];
		if (cmd->min_args == cmd->max_args)
			snprintf(msg, sizeof(msg), "\"%s\" requires exactly %d argument(s)",
				 cmd->name, cmd->min_args);
		else if (out->argc < cmd->min_args)
			snprintf(msg, sizeof(msg), "\"%s\" requires a minimum of %d argument(s)",
				 cmd->name, cmd->min_args);
		else
			snprintf(msg, sizeof(msg), "\"%s\" requires a maximum of %d argument(s)",
				 cmd->name, cmd->max_args);
		return usage_error(cmd, err, msg, "");
	}
	return 0;
}

int cli_parse_command(const struct cli_command *cmd, int argc, char **argv, struct cli_args *out,
		      husk_error_t *err)
{
	if (cli_parse(cmd, argc, argv, out, err) < 0)
		return -1;
	if (out->help) {
		cli_print_help(cmd, "husk", stdout);
		return 1;
	}
	return 0;
}

bool cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	/* strtoul alone would take " 1", "+1" and "-1" (as ULONG_MAX). */
	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}
