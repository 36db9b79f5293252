/* `husk debug run --bundle DIR`: runs a bundle's process in a micro-VM
 * through husk-init, without state or a container id: the host end of the
 * agent protocol, for developers and the VM tests.
 *
 * The main thread runs the VM (vm_run); a relay thread accepts the agent's
 * connection on <tmpdir>/1024, sends CREATE and START, copies the process's
 * stdout and stderr to ours (kept apart) and our stdin to it, and records
 * its exit. Until virtio-fs lands the rootfs reaches the guest as an ext4
 * image built with mke2fs -d, attached read-only (the guest puts a tmpfs
 * overlay on it). The exit status is the process's: its code, or 128+N for
 * death by signal N. */
#include "runtime/debug_run.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_host.h"
#include "base/cleanup.h"
#include "runtime/cli.h"
#include "runtime/exit_status.h"
#include "base/fileio.h"
#include "runtime/guest_assets.h"
#include "oci/config.h"
#include "vmm/tap.h"
#include "vmm/fd_budget.h"
#include "vmm/vm.h"

static const struct cli_flag run_flags[] = {
	{ "bundle", 'b', true, "the bundle directory (config.json and its rootfs)" },
	{ "kernel", 0, true, "guest kernel (default: husk's guest kernel)" },
	{ "initrd", 0, true, "initramfs (default: husk's, with husk-init)" },
	{ "cpus", 0, true, "number of vCPUs (default 1)" },
	{ "memory", 0, true, "guest RAM in MiB (default 256)" },
	{ "disk", 0, true, "ext4 image of the rootfs (default: built from root.path)" },
	{ "share-rootfs", 0, false, "share the rootfs over virtio-fs instead of an ext4 image" },
	{ "console", 0, false, "copy the guest kernel's console (COM1, all messages) to stderr" },
	{ "exec", 0, true, "after START, run this process.json too (exit statuses on stderr)" },
	{ "exec-count", 0, true, "how many copies of --exec to run at once (default 1)" },
	{ "exec-on-output", 0, false,
	  "start --exec once the process first writes to stdout, not at READY" },
	{ "probe", 0, false, "once the process runs, print its PS and STATS replies on stderr" },
	{ "resize", 0, true,
	  "ROWSxCOLS: once the process first writes to stdout, resize its terminal" },
	{ "signal-all", 0, true,
	  "SIGNO: once the process first writes to stdout, signal all its container's processes" },
	{ "tap", 0, true, "a virtio-net card over this tap (opened, or created, here)" },
	{ "mac", 0, true, "the card's MAC (default: a random local one)" },
	{ "mtu", 0, true, "the card's MTU (default: the guest's, 1500)" },
	{ "no-offload", 0, false, "no checksum or TSO offloads on the card (to measure them)" },
	{ NULL },
};

static const struct cli_command run_cli = {
	.name = "debug run",
	.summary = "run a bundle's process in a micro-VM through husk-init",
	.min_args = 0,
	.max_args = 0,
	.flags = run_flags,
};

struct relay {
	const char *config;
	size_t config_len;
	const char *exec_json;
	size_t exec_len;
	unsigned long exec_count;
	int listen_fd;
	int stop_pipe[2];
	bool terminal;
	bool probe;
	bool exec_on_output;
	/* Sent once, when the main process first writes to stdout. */
	unsigned resize_rows, resize_cols; /* 0: none */
	unsigned signal_all;		   /* 0: none */
	bool share;			   /* rootfs over virtio-fs, tag "rootfs" */
	/* results */
	bool exited;
	uint32_t code, sig;
	husk_error_t err;
};

static int relay_session(struct relay *r, struct agent_session *s)
{
	husk_error_t *err = &r->err;
	struct agent_msg m;
	char why[256];
	bool stdin_open = true, seen_output = false;
	unsigned long execs_left = r->exec_json ? r->exec_count : 0;

	if (agent_session_accept(s, r->listen_fd, r->stop_pipe[0], 120000, err) < 0)
		return -1;
	if (agent_session_create(s, r->config, r->config_len,
				 r->share ? AGENT_ROOTFS_VIRTIOFS : AGENT_ROOTFS_BLOCK,
				 r->share ? "rootfs" : "/dev/vda", err) < 0)
		return -1;
	if (agent_session_send(s, AGENT_START, 0, NULL, 0, err) < 0)
		return -1;
	if (r->terminal && isatty(STDIN_FILENO)) {
		struct winsize ws;
		uint8_t f[AGENT_HDR_LEN + 4];
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    agent_send_buf(s->fd, f, agent_encode_resize(f, 0, ws.ws_row, ws.ws_col)) < 0)
			return husk_error_set(err, errno, "send RESIZE");
	}
	for (;;) {
		/* stdin goes to the process while the guest is quiet. */
		if (stdin_open && s->rx.len == s->rx.taken) {
			struct pollfd p[3] = { { s->fd, POLLIN, 0 },
					       { STDIN_FILENO, POLLIN, 0 },
					       { r->stop_pipe[0], POLLIN, 0 } };
			if (poll(p, 3, -1) < 0 && errno != EINTR)
				return husk_error_set(err, errno, "poll");
			if (p[2].revents)
				return 0;
			if (p[1].revents && !p[0].revents) {
				uint8_t buf[65536];
				ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					stdin_open = false;
				if (agent_session_send(s, AGENT_STDIN, 0, buf,
						       n > 0 ? (size_t)n : 0, err) < 0)
					return -1;
				continue;
			}
		}
		int got = agent_session_recv(s, r->stop_pipe[0], &m, err);
		if (got < 0)
			return -1;
		if (got == 0)
			return 0;
		switch (m.type) {
		case AGENT_READY:
			if (m.id == 0 && r->probe &&
			    (agent_session_send(s, AGENT_PS, 0, NULL, 0, err) < 0 ||
			     agent_session_send(s, AGENT_STATS, 0, NULL, 0, err) < 0))
				return -1;
			break;
		case AGENT_PS_REPLY: {
			static uint32_t pids[65536];
			size_t n;
			if (agent_decode_ps(&m, pids, 65536, &n, why, sizeof(why)) < 0)
				return husk_error_set(err, 0, "guest agent: %s", why);
			fprintf(stderr, "husk-ps");
			for (size_t i = 0; i < n; i++)
				fprintf(stderr, " %u", pids[i]);
			fprintf(stderr, "\n");
			break;
		}
		case AGENT_STATS_REPLY: {
			struct agent_stats st;
			if (agent_decode_stats(&m, &st, why, sizeof(why)) < 0)
				return husk_error_set(err, 0, "guest agent: %s", why);
			fprintf(stderr,
				"husk-stats memory_current=%llu cpu_usage_usec=%llu pids_current=%llu memory_max=%llu\n",
				(unsigned long long)st.memory_current,
				(unsigned long long)st.cpu_usage_usec,
				(unsigned long long)st.pids_current,
				(unsigned long long)st.memory_max);
			break;
		}
		case AGENT_STDOUT:
		case AGENT_STDERR:
			if (m.id == 0 || r->exec_json) {
				int fd = m.type == AGENT_STDOUT ? STDOUT_FILENO : STDERR_FILENO;
				if (m.length && write_all(fd, m.payload, m.length) < 0 &&
				    errno != EPIPE)
					return husk_error_set(err, errno, "write output");
			}
			break;
		case AGENT_ERROR: {
			struct agent_error e;
			if (agent_decode_error(&m, &e, why, sizeof(why)) == 0)
				fprintf(stderr, "husk: %s%s\n", m.id ? "exec: " : "", e.message);
			break;
		}
		case AGENT_EXIT: {
			struct agent_exit e;
			if (agent_decode_exit(&m, &e, why, sizeof(why)) < 0)
				return husk_error_set(err, 0, "guest agent: %s", why);
			if (m.id != 0) {
				fprintf(stderr, "husk-exec id=%u code=%u signal=%u\n", m.id, e.code,
					e.signal);
				break;
			}
			r->exited = true;
			r->code = e.code;
			r->sig = e.signal;
			/* Hanging up lets the guest power off. */
			return 0;
		}
		default: break;
		}
		bool first_output = m.type == AGENT_STDOUT && m.id == 0 && m.length && !seen_output;
		if (first_output) {
			seen_output = true;
			uint8_t f[AGENT_HDR_LEN + 8];
			if (r->resize_rows &&
			    agent_send_buf(s->fd, f,
					   agent_encode_resize(f, 0, (uint16_t)r->resize_rows,
							       (uint16_t)r->resize_cols)) < 0)
				return husk_error_set(err, errno, "send RESIZE");
			if (r->signal_all &&
			    agent_send_buf(s->fd, f,
					   agent_encode_signal(f, 0, r->signal_all,
							       AGENT_SIGNAL_ALL)) < 0)
				return husk_error_set(err, errno, "send SIGNAL");
		}
		bool exec_now = r->exec_on_output ? first_output
						  : m.type == AGENT_READY && m.id == 0;
		if (exec_now && execs_left) {
			/* START already went out; exec once the process runs. */
			for (uint32_t id = 1; execs_left; execs_left--, id++)
				if (agent_session_send(s, AGENT_EXEC, id, r->exec_json, r->exec_len,
						       err) < 0 ||
				    agent_session_send(s, AGENT_STDIN, id, NULL, 0, err) < 0)
					return -1;
		}
	}
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct agent_session s = { .fd = -1 };
	sigset_t all;

	/* Host signals belong to vm_run's signalfd, not to this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	relay_session(r, &s);
	agent_session_close(&s);
	return NULL;
}

static int parse_ulong(const char *s, unsigned long min, unsigned long max, const char *flag,
		       unsigned long *out, husk_error_t *err)
{
	if (!cli_parse_ulong(s, min, max, out))
		return husk_error_set(err, 0, "--%s %s: want a whole number from %lu to %lu", flag,
				      s, min, max);
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6], husk_error_t *err)
{
	unsigned v[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6 ||
	    strlen(s) != 17 || (v[0] & 1))
		return husk_error_set(err, 0, "--mac %s: want a unicast MAC as 02:00:00:00:00:01",
				      s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)flag, (void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512 + 4096;
	return 0;
}

/* An ext4 image of DIR at IMG, sized for what DIR holds. */
static int make_image(const char *dir, const char *img, husk_error_t *err)
{
	tree_bytes = 0;
	if (nftw(dir, add_size, 64, FTW_PHYS) < 0)
		return husk_error_set(err, errno, "rootfs %s", dir);
	char size[32];
	snprintf(size, sizeof(size), "%lluk",
		 (unsigned long long)(tree_bytes * 5 / 4 / 1024 + 16384));
	pid_t pid = fork();
	if (pid < 0)
		return husk_error_set(err, errno, "fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		execlp("mke2fs", "mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-d",
		       dir, img, size, (char *)NULL);
		fprintf(stderr, "husk: exec mke2fs: %s\n", strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return husk_error_set(err, 0, "mke2fs -d %s failed (is e2fsprogs installed?)", dir);
	return 0;
}

int debug_run(int argc, char **argv, husk_error_t *err)
{
	struct cli_args a;
	struct timespec t0;
	unsigned long cpus = 1, mem = 256, exec_count = 1, mtu = 0;
	uint8_t mac[6];
	cleanup_close int tap = -1;
	char path[PATH_MAX];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = cli_parse_command(&run_cli, argc, argv, &a, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
#define V(name) cli_value(&run_cli, &a, name)
	if (!V("bundle"))
		return husk_error_set(err, 0, "husk debug run: --bundle is required");
	if ((V("cpus") && parse_ulong(V("cpus"), 1, MAX_VCPUS, "cpus", &cpus, err) < 0) ||
	    (V("memory") && parse_ulong(V("memory"), 32, 1 << 20, "memory", &mem, err) < 0) ||
	    (V("exec-count") &&
	     parse_ulong(V("exec-count"), 1, 256, "exec-count", &exec_count, err) < 0) ||
	    (V("mtu") && parse_ulong(V("mtu"), 68, 65535, "mtu", &mtu, err) < 0))
		return -1;
	unsigned long signal_all = 0, rows = 0, cols = 0;
	if (V("signal-all") &&
	    parse_ulong(V("signal-all"), 1, 64, "signal-all", &signal_all, err) < 0)
		return -1;
	if (V("resize")) {
		char *x = strchr(V("resize"), 'x');
		if (!x || x == V("resize"))
			return husk_error_set(err, 0, "--resize %s: want ROWSxCOLS, as 40x100",
					      V("resize"));
		char rows_s[16];
		snprintf(rows_s, sizeof(rows_s), "%.*s", (int)(x - V("resize")), V("resize"));
		if (parse_ulong(rows_s, 1, 65535, "resize", &rows, err) < 0 ||
		    parse_ulong(x + 1, 1, 65535, "resize", &cols, err) < 0)
			return -1;
	}
	if (V("mac")) {
		if (parse_mac(V("mac"), mac, err) < 0)
			return -1;
	} else {
		/* Random, locally administered, unicast. */
		if (getrandom(mac, sizeof(mac), 0) != sizeof(mac))
			return husk_error_set(err, errno, "getrandom");
		mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
	}
	if (V("tap") && (tap = tap_open(V("tap"), NULL, err)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/config.json", V("bundle"));
	struct oci_config *cfg = oci_config_load(path, err);
	if (!cfg)
		return -1;
	bool has_process = cfg->has_process, terminal = cfg->process.terminal;
	char rootfs[PATH_MAX];
	if (cfg->root_path[0] == '/')
		snprintf(rootfs, sizeof(rootfs), "%s", cfg->root_path);
	else
		snprintf(rootfs, sizeof(rootfs), "%s/%s", V("bundle"), cfg->root_path);
	bool root_readonly = cfg->root_readonly;
	oci_config_free(cfg);
	if (!has_process)
		return husk_error_set(err, 0, "%s: process: required", path);

	struct relay r = { .listen_fd = -1,
			   .stop_pipe = { -1, -1 },
			   .terminal = terminal,
			   .exec_count = exec_count,
			   .probe = cli_switch(&run_cli, &a, "probe"),
			   .share = cli_switch(&run_cli, &a, "share-rootfs"),
			   .exec_on_output = cli_switch(&run_cli, &a, "exec-on-output"),
			   .resize_rows = (unsigned)rows,
			   .resize_cols = (unsigned)cols,
			   .signal_all = (unsigned)signal_all };
	cleanup_free char *config = read_whole(path, OCI_CONFIG_MAX, &r.config_len, err);
	if (!config)
		return -1;
	r.config = config;
	cleanup_free char *exec_json = NULL;
	if (V("exec")) {
		struct oci_process *p;
		if (!(exec_json = read_whole(V("exec"), OCI_CONFIG_MAX, &r.exec_len, err)))
			return -1;
		if (!(p = oci_process_parse(exec_json, r.exec_len, err)))
			return husk_error_wrap(err, "%s", V("exec"));
		oci_process_free(p);
		r.exec_json = exec_json;
	}
	cleanup_free char *kernel = V("kernel") ? strdup(V("kernel"))
						: guest_asset_find(GUEST_KERNEL_NAME, err);
	if (!kernel)
		return -1;
	cleanup_free char *initrd = V("initrd") ? strdup(V("initrd"))
						: guest_asset_find(GUEST_INITRD_NAME, err);
	if (!initrd)
		return -1;

	char dir[] = "/tmp/husk-run.XXXXXX", sock[PATH_MAX], img[PATH_MAX];
	if (!mkdtemp(dir))
		return husk_error_set(err, errno, "mkdtemp");
	snprintf(sock, sizeof(sock), "%s/%u", dir, HUSK_AGENT_PORT);
	snprintf(img, sizeof(img), "%s/rootfs.img", dir);
	int ret = -1;
	struct vm_result res;
	pthread_t thread;
	bool thread_started = false;

	if (!r.share && !V("disk") && make_image(rootfs, img, err) < 0)
		goto out;
	if ((r.listen_fd = agent_listen(sock, err)) < 0)
		goto out;
	if (pipe2(r.stop_pipe, O_CLOEXEC) < 0) {
		husk_error_set(err, errno, "pipe");
		goto out;
	}
	struct vm_config vc = {
		.kernel = kernel,
		.initrd = initrd,
		.cpus = (int)cpus,
		.memory_mib = mem,
		.disk = r.share	    ? NULL
			: V("disk") ? V("disk")
				    : img,
		.disk_readonly = true,
		.console_in = -1,
		.console_out = cli_switch(&run_cli, &a, "console") ? STDERR_FILENO : -1,
		/* The 8250 is written synchronously, so even a panic's last
		 * lines reach the host; worth its slowness when debugging. */
		.serial = cli_switch(&run_cli, &a, "console"),
		.vsock_cid = VM_GUEST_CID,
		.vsock_dir = dir,
		.rng = true,
	};
	if (tap >= 0) {
		vc.nics[0] =
			(struct vm_nic){ .tap_fd = tap,
					 .mtu = (uint16_t)mtu,
					 .no_offload = cli_switch(&run_cli, &a, "no-offload") };
		memcpy(vc.nics[0].mac, mac, sizeof(mac));
		vc.nnics = 1;
	}
	if (r.share) {
		vc.shares[0] = (struct vm_share){ .tag = "rootfs",
						  .dir = rootfs,
						  .readonly = root_readonly };
		vc.nshares = 1;
	}
	fd_budget_raise_nofile(); /* for the share, as the container process does */
	int e = pthread_create(&thread, NULL, relay_main, &r);
	if (e) {
		husk_error_set(err, e, "pthread_create");
		goto out;
	}
	thread_started = true;
	ret = vm_run(&vc, &t0, &res, err);
	(void)!write(r.stop_pipe[1], "x", 1);
	pthread_join(thread, NULL);
	thread_started = false;
	if (ret < 0)
		goto out;
	if (r.exited) {
		ret = exit_status_code(exit_status_from_guest(r.code, r.sig));
	} else if (r.err) {
		husk_error_set(err, 0, "%s", r.err->msg);
		ret = -1;
	} else if (res.outcome == VM_OUTCOME_POWEROFF) {
		ret = exit_status_code(
			exit_status_from_guest((uint32_t)res.exit_code, (uint32_t)res.exit_signal));
	} else if (res.outcome == VM_OUTCOME_SIGNAL) {
		fprintf(stderr, "husk: %s\n", res.message);
		ret = 128 + res.exit_signal;
	} else {
		husk_error_set(err, 0, "the VM ended without an exit status: %s", res.message);
		ret = -1;
	}
out:
	if (thread_started) {
		(void)!write(r.stop_pipe[1], "x", 1);
		pthread_join(thread, NULL);
	}
	husk_error_release(&r.err);
	if (r.listen_fd >= 0)
		close(r.listen_fd);
	if (r.stop_pipe[0] >= 0) {
		close(r.stop_pipe[0]);
		close(r.stop_pipe[1]);
	}
	unlink(sock);
	unlink(img);
	rmdir(dir);
#undef V
	return ret;
}
