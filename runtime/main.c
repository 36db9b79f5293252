/* husk: an OCI runtime with runc's command line that runs every container in
 * its own KVM micro-VM. This file parses the global options, dispatches to
 * the command and is the only place that prints errors and picks the exit
 * status (runtime/README.md, "Error contract"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/commands.h"

static const struct husk_command commands[] = {
	{ &cmd_check_cli, cmd_check },
	{ &cmd_create_cli, cmd_create },
	{ &cmd_debug_cli, cmd_debug },
	{ &cmd_delete_cli, cmd_delete },
	{ &cmd_events_cli, cmd_events },
	{ &cmd_exec_cli, cmd_exec },
	{ &cmd_features_cli, cmd_features },
	{ &cmd_kill_cli, cmd_kill },
	{ &cmd_list_cli, cmd_list },
	{ &cmd_pause_cli, cmd_pause },
	{ &cmd_ps_cli, cmd_ps },
	{ &cmd_resume_cli, cmd_resume },
	{ &cmd_run_cli, cmd_run },
	{ &cmd_spec_cli, cmd_spec },
	{ &cmd_start_cli, cmd_start },
	{ &cmd_state_cli, cmd_state },
	{ &cmd_update_cli, cmd_update },
	{ &cmd_version_cli, cmd_version },
};

static const struct cli_flag global_flags[] = {
	{ "debug", 0, false, "enable debug logging" },
	{ "log", 0, true, "set the log file to write husk logs to (default is '/dev/stderr')" },
	{ "log-format", 0, true, "set the log format ('text' (default), or 'json')" },
	{ "root", 0, true,
	  "root directory for storage of container state (default: \"/run/husk\")" },
	{ "criu", 0, true, "accepted for runc compatibility; checkpointing is not supported" },
	{ "systemd-cgroup", 0, false,
	  "enable systemd cgroup support (cgroupsPath as \"slice:prefix:name\")" },
	{ "rootless", 0, true, "ignore cgroup permission errors ('true', 'false', or 'auto')" },
	{ "version", 'v', false, "print the version" },
	{ NULL },
};

static const struct cli_command global_cli = {
	.name = "",
	.summary = "OCI runtime that runs every container in its own KVM micro-VM",
	.args = " command [command options] [arguments...]",
	.min_args = 0,
	.max_args = -1,
	.flags = global_flags,
};

static const struct husk_command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].cli->name, name) == 0)
			return &commands[i];
	for (const struct husk_command *c = husk_pending_commands; c->cli; c++)
		if (strcmp(c->cli->name, name) == 0)
			return c;
	return NULL;
}

static void print_command_line(const struct cli_command *cli, FILE *out)
{
	fprintf(out, "   %-12s %s\n", cli->name, cli->summary);
}

static void print_main_help(FILE *out)
{
	fprintf(out,
		"NAME:\n   husk - %s\n\n"
		"husk is a drop-in for runc: the same commands, flags and state,\n"
		"but each container's processes run inside a minimal KVM guest.\n\n"
		"USAGE:\n   husk [global options] command [command options] [arguments...]\n\n"
		"VERSION:\n",
		global_cli.summary);
	husk_print_version(out);
	fprintf(out, "\nCOMMANDS:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		print_command_line(commands[i].cli, out);
	for (const struct husk_command *c = husk_pending_commands; c->cli; c++)
		print_command_line(c->cli, out);
	fprintf(out, "   %-12s %s\n\nGLOBAL OPTIONS:\n", "help, h",
		"Shows a list of commands or help for one command");
	for (const struct cli_flag *f = global_flags; f->name; f++)
		fprintf(out, "   --%-20s %s\n", f->name, f->help);
	fprintf(out, "   --%-20s %s\n", "help, -h", "show help");
}

/* Reports ERR the way runc does: a log line (to --log, or stderr), and the
 * bare message on stderr too when the log went elsewhere. */
static int report(husk_error_t *err)
{
	int status = (*err)->exit_status;

	log_error("%s", (*err)->msg);
	if (!log_is_stderr())
		fprintf(stderr, "%s\n", (*err)->msg);
	husk_error_release(err);
	return status;
}

static int run_help(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stdout);
		return 0;
	}
	const struct husk_command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "No help topic for '%s'\n", argv[1]);
		return 1;
	}
	cli_print_help(c->cli, "husk", stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct husk_globals g = { .root = "/run/husk" };
	struct cli_args ga;
	husk_error_t err = NULL;
	const char *fmt;

	if (cli_parse(&global_cli, argc, argv, &ga, &err) < 0)
		return report(&err);
	if (ga.help) {
		print_main_help(stdout);
		return 0;
	}
	if (cli_switch(&global_cli, &ga, "version")) {
		husk_print_version(stdout);
		return 0;
	}
	fmt = cli_value(&global_cli, &ga, "log-format");
	if (fmt && log_format_parse(fmt, &g.log_format) < 0) {
		husk_error_set(&err, 0, "invalid log-format: %s", fmt);
		return report(&err);
	}
	g.debug = cli_switch(&global_cli, &ga, "debug");
	g.log_path = cli_value(&global_cli, &ga, "log");
	if (log_open(g.log_path, g.log_format, g.debug, &err) < 0)
		return report(&err);
	if (cli_value(&global_cli, &ga, "root"))
		g.root = cli_value(&global_cli, &ga, "root");
	g.systemd_cgroup = cli_switch(&global_cli, &ga, "systemd-cgroup");
	g.rootless = cli_value(&global_cli, &ga, "rootless");
	if (g.rootless && strcmp(g.rootless, "true") != 0 && strcmp(g.rootless, "false") != 0 &&
	    strcmp(g.rootless, "auto") != 0) {
		husk_error_set(&err, 0,
			       "invalid value for --rootless: %s (want true, false or auto)",
			       g.rootless);
		return report(&err);
	}

	if (ga.argc == 0) {
		print_main_help(stdout);
		return 0;
	}
	if (strcmp(ga.argv[0], "help") == 0 || strcmp(ga.argv[0], "h") == 0)
		return run_help(ga.argc, ga.argv);

	const struct husk_command *c = find_command(ga.argv[0]);
	if (!c) {
		husk_error_set(&err, 0, "unknown command '%s' (see 'husk --help')", ga.argv[0]);
		return report(&err);
	}
	log_debug("husk %s: root %s", ga.argv[0], g.root);
	int ret = c->run(&g, ga.argc, ga.argv, &err);
	int status = ret < 0 ? report(&err) : ret;
	log_close();
	return status;
}
