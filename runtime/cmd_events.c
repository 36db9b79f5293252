/* `husk events`: the container's resource usage as runc's events print it
 * ({"type":"stats","id":...,"data":{...}}), read from the guest's cgroup
 * of the container through the agent; once with --stats, else every
 * --interval until the container stops or is deleted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/commands.h"
#include "runtime/container.h"
#include "runtime/control.h"

static const struct cli_flag events_flags[] = {
	{ "interval", 0, true, "set the stats collection interval (default: 5s)" },
	{ "stats", 0, false, "display the container's stats then exit" },
	{ NULL },
};

const struct cli_command cmd_events_cli = {
	.name = "events",
	.summary =
		"display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	.args = " <container-id>",
	.min_args = 1,
	.max_args = 1,
	.flags = events_flags,
};

/* A Go duration as runc takes it: "5s", "500ms", "1m", "1.5s". */
static int parse_duration(const char *s, double *seconds, husk_error_t *err)
{
	char *end;
	double v = strtod(s, &end);
	double scale = strcmp(end, "ms") == 0  ? 1e-3
		       : strcmp(end, "s") == 0 ? 1
		       : strcmp(end, "m") == 0 ? 60
		       : strcmp(end, "h") == 0 ? 3600
					       : 0;
	if (end == s || scale == 0 || v <= 0)
		return husk_error_set(err, 0,
				      "invalid value \"%s\" for flag -interval: parse error", s);
	*seconds = v * scale;
	return 0;
}

/* Lets go of C's lock once connected: the guest's answer may be slow, and
 * delete must not wait for it. */
static int print_stats(struct container *c, husk_error_t *err)
{
	cleanup_close int fd = -1;
	cleanup_free uint8_t *reply = NULL;
	size_t len = 0;
	char why[256];
	struct agent_stats st;
	int timeout_ms;

	if (control_timeout(CONTROL_REPLY_TIMEOUT_ENV, CONTROL_REPLY_TIMEOUT_S, &timeout_ms, err) <
		    0 ||
	    (fd = control_connect(c, err)) < 0)
		return -1;
	container_unlock(c);
	if (control_call(fd, AGENT_STATS, NULL, 0, AGENT_STATS_REPLY, &reply, &len, timeout_ms,
			 err) < 0)
		return -1;
	struct agent_msg m = { .type = AGENT_STATS_REPLY,
			       .length = (uint32_t)len,
			       .payload = reply };
	if (agent_decode_stats(&m, &st, why, sizeof(why)) < 0)
		return husk_error_set(err, 0, "stats: %s", why);
	unsigned long long total_ns = (unsigned long long)st.cpu_usage_usec * 1000;
	printf("{\"type\":\"stats\",\"id\":\"%s\",\"data\":{"
	       "\"cpu\":{\"usage\":{\"total\":%llu,\"kernel\":0,\"user\":0},\"throttling\":{}},"
	       "\"memory\":{\"usage\":{\"limit\":%llu,\"usage\":%llu,\"max\":0,\"failcnt\":0},"
	       "\"swap\":{\"limit\":0,\"usage\":0},\"kernel\":{},\"kernelTCP\":{},\"raw\":{}},"
	       "\"pids\":{\"current\":%llu},\"blkio\":{},\"hugetlb\":{},\"intel_rdt\":{},"
	       "\"network_interfaces\":null}}\n",
	       c->rec->id, total_ns,
	       (unsigned long long)(st.memory_max ? st.memory_max : UINT64_MAX >> 1),
	       (unsigned long long)st.memory_current, (unsigned long long)st.pids_current);
	fflush(stdout);
	return 0;
}

int cmd_events(const struct husk_globals *g, int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct container *c;
	pid_t pid;
	double interval = 5;
	int rc = cli_parse_command(&cmd_events_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (cli_value(&cmd_events_cli, &a, "interval") &&
	    parse_duration(cli_value(&cmd_events_cli, &a, "interval"), &interval, err) < 0)
		return -1;
	bool once = cli_switch(&cmd_events_cli, &a, "stats");
	if (container_load(g->root, a.argv[0], false, &c, err) < 0)
		return -1;
	for (;;) {
		enum container_status s = container_status(c, &pid);
		if (s == CONTAINER_STOPPED) {
			rc = once ? husk_error_set(err, 0, "container with id %s is not running",
						   c->rec->id)
				  : 0;
			break;
		}
		if (s != CONTAINER_PAUSED && print_stats(c, err) < 0) {
			/* The container ended between the check and the call. */
			if (!once && container_status(c, &pid) == CONTAINER_STOPPED) {
				husk_error_release(err);
				rc = 0;
			} else {
				rc = -1;
			}
			break;
		}
		if (once)
			break;
		/* The stream may run for the container's whole life: between
		 * ticks it holds no lock, so delete, pause, update and start
		 * go on meanwhile, and the next tick sees what they did. */
		container_unlock(c);
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (double)(time_t)interval) * 1e9) };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (container_relock(c, false, err) < 0) {
			/* Deleted meanwhile: the stream ends as for a stop. */
			rc = -1;
			if (strcmp((*err)->msg, "container does not exist") == 0) {
				husk_error_release(err);
				rc = 0;
			}
			break;
		}
	}
	container_free(c);
	return rc;
}
