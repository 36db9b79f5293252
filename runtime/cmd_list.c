/* `husk list`: the containers under --root, as runc lists them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "runtime/commands.h"
#include "oci/state.h"
#include "runtime/container.h"

static const struct cli_flag list_flags[] = {
	{ "format", 'f', true, "select one of: table or json (default: \"table\")" },
	{ "quiet", 'q', false, "display only container IDs" },
	{ NULL },
};

const struct cli_command cmd_list_cli = {
	.name = "list",
	.summary = "lists containers started by husk with the given root",
	.min_args = 0,
	.max_args = 0,
	.flags = list_flags,
};

static int by_id(const void *a, const void *b)
{
	const struct container *const *x = a, *const *y = b;
	return strcmp((*x)->rec->id, (*y)->rec->id);
}

int cmd_list(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	int rc = cli_parse_command(&cmd_list_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	const char *format = cli_value(&cmd_list_cli, &a, "format");
	bool json = false;
	if (format && strcmp(format, "json") == 0)
		json = true;
	else if (format && strcmp(format, "table") != 0)
		return husk_error_set(err, 0, "invalid format option");
	bool quiet = cli_switch(&cmd_list_cli, &a, "quiet");

	struct container **cs = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir(g->root);
	if (!d && errno != ENOENT)
		return husk_error_set(err, errno, "open %s", g->root);
	for (struct dirent *e; d && (e = readdir(d));) {
		struct container *c;
		husk_error_t ignored = NULL;
		if (e->d_name[0] == '.')
			continue;
		/* A container deleted meanwhile, or a stray directory. */
		if (container_load(g->root, e->d_name, false, &c, &ignored) < 0) {
			husk_error_release(&ignored);
			continue;
		}
		if (n == cap) {
			struct container **m =
				realloc(cs, (cap = cap ? cap * 2 : 16) * sizeof(*cs));
			if (!m) {
				container_free(c);
				break;
			}
			cs = m;
		}
		cs[n++] = c;
	}
	if (d)
		closedir(d);
	qsort(cs, n, sizeof(*cs), by_id);
	struct oci_list_entry *es = calloc(n + 1, sizeof(*es));
	for (size_t i = 0; es && i < n; i++) {
		pid_t pid;
		es[i].r = cs[i]->rec;
		es[i].status = container_status_name(container_status(cs[i], &pid));
		es[i].pid = pid;
	}
	if (!es) {
		rc = husk_error_set(err, ENOMEM, "list");
	} else if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", es[i].r->id);
	} else if (json) {
		cleanup_free char *text = oci_list_to_json(es, n);
		printf("%s\n", text ? text : "null");
	} else {
		/* runc's tabwriter: columns padded to the widest cell plus 3. */
		size_t w[4] = { 2, 3, 6, 6 };
		char pids[64][16];
		for (size_t i = 0; i < n; i++) {
			snprintf(pids[i % 64], sizeof(pids[0]), "%d", (int)es[i].pid);
			size_t l[4] = { strlen(es[i].r->id), strlen(pids[i % 64]),
					strlen(es[i].status), strlen(es[i].r->bundle) };
			for (int k = 0; k < 4; k++)
				if (l[k] > w[k])
					w[k] = l[k];
		}
		printf("%-*s%-*s%-*s%-*s%-*s%s\n", (int)w[0] + 3, "ID", (int)w[1] + 3, "PID",
		       (int)w[2] + 3, "STATUS", (int)w[3] + 3, "BUNDLE", 33, "CREATED", "OWNER");
		for (size_t i = 0; i < n; i++)
			printf("%-*s%-*d%-*s%-*s%-*s%s\n", (int)w[0] + 3, es[i].r->id,
			       (int)w[1] + 3, (int)es[i].pid, (int)w[2] + 3, es[i].status,
			       (int)w[3] + 3, es[i].r->bundle, 33, es[i].r->created, "root");
	}
	free(es);
	for (size_t i = 0; i < n; i++)
		container_free(cs[i]);
	free(cs);
	return rc;
}
