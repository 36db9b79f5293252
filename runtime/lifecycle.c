/* The container lifecycle: see lifecycle.h.
 *
 * create runs in two processes. The parent (`husk create`) validates, makes
 * the state directory, the cgroup, the pty and the sockets, saves a record
 * without a pid, then forks; the child confines itself, builds the VM and,
 * just before the first vCPU runs, says "ok" on a socket pair. Only then
 * does the parent save the record with the pid, say "go" and write the pid
 * file, so that every failure up to there is reported by `create` with
 * nothing left behind. A create killed in between leaves the record
 * without a pid, which delete cleans up like any stopped container, and
 * no VMM: until "go", the VMM dies with its parent. */
#include "runtime/lifecycle.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "runtime/agent_host.h"
#include "runtime/binds.h"
#include "runtime/cgroup.h"
#include "base/cleanup.h"
#include "runtime/cli.h"
#include "runtime/confine.h"
#include "runtime/console.h"
#include "base/fileio.h"
#include "runtime/control.h"
#include "runtime/guest_assets.h"
#include "runtime/host.h"
#include "runtime/jail.h"
#include "base/log.h"
#include "oci/state.h"
#include "runtime/network.h"
#include "runtime/vmm_process.h"
#include "vmm/fd_budget.h"

#define ROOTFS_TAG "rootfs"

char *lifecycle_saved_config(const struct container *c, size_t *len, husk_error_t *err)
{
	return container_read_file(c, HUSK_SAVED_CONFIG, OCI_CONFIG_MAX, len, err);
}

struct oci_config *lifecycle_load_config(const struct container *c, husk_error_t *err)
{
	size_t len;
	cleanup_free char *json = lifecycle_saved_config(c, &len, err);
	if (!json)
		return NULL;
	struct oci_config *cfg = oci_config_parse(json, len, err);
	if (!cfg)
		husk_error_wrap(err, "%s/%s", c->dir, HUSK_SAVED_CONFIG);
	return cfg;
}

static int parse_annotation_ulong(const struct oci_config *cfg, const char *key, unsigned long min,
				  unsigned long max, unsigned long *out, husk_error_t *err)
{
	const char *v = oci_config_annotation(cfg, key);
	if (!v)
		return 0;
	if (!cli_parse_ulong(v, min, max, out))
		return husk_error_set(
			err, 0, "annotations.%s: \"%s\" is not a whole number from %lu to %lu", key,
			v, min, max);
	return 1;
}

int lifecycle_vm_size(const struct oci_config *cfg, int *cpus, unsigned long *memory_mib,
		      husk_error_t *err)
{
	const struct oci_resources *r = &cfg->resources;
	long host_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned long max_cpus = host_cpus > 0 && host_cpus < MAX_VCPUS ? (unsigned long)host_cpus
									: MAX_VCPUS;
	unsigned long n = HUSK_DEFAULT_CPUS, mem = HUSK_DEFAULT_MEMORY_MIB;

	/* Each of quota and cpuset bounds how many CPUs the VMM can keep
	 * busy; more vCPUs than that would only contend for them. */
	bool bounded = false;
	unsigned long bound = ULONG_MAX;
	if (r->has_cpu_quota && r->cpu_quota > 0) {
		uint64_t period = r->has_cpu_period && r->cpu_period ? r->cpu_period : 100000;
		uint64_t q = (uint64_t)r->cpu_quota;
		/* The ceiling without q + period - 1, which wraps. */
		uint64_t ceil = q / period + (q % period != 0);
		bound = ceil < ULONG_MAX ? (unsigned long)ceil : ULONG_MAX;
		bounded = true;
	}
	if (r->has_cpuset_cpus && r->cpuset_ncpus < bound) {
		bound = r->cpuset_ncpus;
		bounded = true;
	}
	if (bounded)
		n = bound < 1 ? 1 : bound < max_cpus ? bound : max_cpus;
	if (r->has_memory_limit && r->memory_limit > 0) {
		int64_t mib = r->memory_limit / (1024 * 1024) - HUSK_VMM_OVERHEAD_MIB;
		if (mib < HUSK_MIN_GUEST_MIB)
			return husk_error_set(
				err, 0,
				"linux.resources.memory.limit: %lld bytes is below husk's minimum of %d MiB "
				"(%d MiB of guest RAM plus %d MiB for the VMM)",
				(long long)r->memory_limit,
				HUSK_MIN_GUEST_MIB + HUSK_VMM_OVERHEAD_MIB, HUSK_MIN_GUEST_MIB,
				HUSK_VMM_OVERHEAD_MIB);
		/* A limit only bounds the guest: one above the host's RAM
		 * (INT64_MAX is common for "none") would have the guest
		 * kernel size its page tables for memory that is not there. */
		long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
		uint64_t cap = HUSK_MAX_GUEST_MIB;
		if (pages > 0 && page > 0 && (uint64_t)pages / ((1u << 20) / (uint64_t)page) < cap)
			cap = (uint64_t)pages / ((1u << 20) / (uint64_t)page);
		mem = (uint64_t)mib < cap ? (unsigned long)mib : (unsigned long)cap;
		if (mem < HUSK_MIN_GUEST_MIB)
			mem = HUSK_MIN_GUEST_MIB;
	}
	if (parse_annotation_ulong(cfg, "husk.cpus", 1, max_cpus, &n, err) < 0 ||
	    parse_annotation_ulong(cfg, "husk.memory_mib", HUSK_MIN_GUEST_MIB, HUSK_MAX_GUEST_MIB,
				   &mem, err) < 0)
		return -1;
	*cpus = (int)n;
	*memory_mib = mem;
	return 0;
}

int lifecycle_parse_signal(const char *s, int *sig, husk_error_t *err)
{
	char up[32];
	size_t i;

	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	if (isdigit((unsigned char)up[0])) {
		char *end;
		long n = strtol(up, &end, 10);
		if (*end || n <= 0 || n > SIGRTMAX)
			return husk_error_set(err, 0, "invalid signal: %s", s);
		*sig = (int)n;
		return 0;
	}
	const char *name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
	for (int n = 1; n < SIGRTMIN; n++) {
		const char *abbrev = sigabbrev_np(n);
		if (abbrev && strcmp(abbrev, name) == 0) {
			*sig = n;
			return 0;
		}
	}
	return husk_error_set(err, 0, "unknown signal %s", s);
}

/* Runs one hook with STATE on its stdin; waits at most its timeout. */
static int run_hook(const struct oci_hook *h, const char *kind, const char *state,
		    husk_error_t *err)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return husk_error_set(err, errno, "%s hook %s: pipe", kind, h->path);
	pid_t pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return husk_error_set(err, errno, "%s hook %s: fork", kind, h->path);
	}
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		char *const none[] = { NULL };
		char *const argv0[] = { h->path, NULL };
		execve(h->path, h->args ? h->args : argv0, h->env ? h->env : none);
		_exit(127);
	}
	close(in[0]);
	/* A hook that does not read its stdin must not block us. */
	signal(SIGPIPE, SIG_IGN);
	(void)!write(in[1], state, strlen(state));
	close(in[1]);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, h->timeout ? WNOHANG : 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return husk_error_set(err, errno, "%s hook %s: wait", kind, h->path);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (h->timeout && now.tv_sec - start.tv_sec >= h->timeout) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return husk_error_set(err, 0, "%s hook %s: timed out after %d s", kind,
					      h->path, h->timeout);
		}
		usleep(10000);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return husk_error_set(err, 0, "%s hook %s: exit status %d", kind, h->path,
				      WEXITSTATUS(st));
	return husk_error_set(err, 0, "%s hook %s: killed by signal %d", kind, h->path,
			      WTERMSIG(st));
}

int lifecycle_run_hooks(const struct oci_config *cfg, enum oci_hook_kind kind,
			const struct container *c, const char *status, pid_t pid, husk_error_t *err)
{
	if (!cfg->nhooks[kind])
		return 0;
	cleanup_free char *state = oci_state_to_json(c->rec, status, pid, false);
	if (!state)
		return husk_error_set(err, ENOMEM, "state for hooks");
	for (size_t i = 0; i < cfg->nhooks[kind]; i++)
		if (run_hook(&cfg->hooks[kind][i], oci_hook_names[kind], state, err) < 0)
			return -1;
	return 0;
}

/* What the child needs to run the container process. */
struct child_ctx {
	const struct oci_config *cfg;
	struct vmm_process vp;
	struct cgroup_handle *cg;
	int sync_fd;  /* the child's end: "ok" or the error out, "go" in */
	pid_t parent; /* `husk create`, whose death before "go" ends the child */
	int console;  /* pty slave, or -1 */
	bool own_terminal;
	struct net_setup net; /* the taps and what the guest's eth<N> carry */
	char state_dir[PATH_MAX];
	const struct bind_plan *binds;
	char binds_dir[PATH_MAX]; /* <state_dir>/binds: the bind share's tmpfs goes on it */
	char jail_root[PATH_MAX]; /* <state_dir>/jail, or "": no jail (runtime/jail.h) */
	char jail_shares[VM_MAX_SHARES][16];
};

static void child_fail(struct child_ctx *cx, husk_error_t *err)
{
	if (cx->sync_fd >= 0) {
		(void)!write(cx->sync_fd, (*err)->msg, strlen((*err)->msg));
		close(cx->sync_fd);
		cx->sync_fd = -1;
	} else {
		log_error("%s", (*err)->msg);
	}
	husk_error_release(err);
}

/* Called by vm_run once the VM is built, before any vCPU runs: the last
 * confinement, then the word to the waiting `create`, and its word back
 * once the pid is saved. From here a dead create shows as the end of the
 * socket pair, not as the parent-death signal (which seccomp would no
 * longer let the VMM clear, and which would kill the VMM when create
 * returns). */
static int child_before_run(void *arg, husk_error_t *err)
{
	struct child_ctx *cx = arg;
	if (prctl(PR_SET_PDEATHSIG, 0) < 0)
		return husk_error_set(err, errno, "prctl PR_SET_PDEATHSIG");
	if (confine_thread_filters_prepare(err) < 0 || confine_seccomp(err) < 0)
		return -1;
	if (write(cx->sync_fd, "ok", 2) != 2)
		return husk_error_set(err, errno, "tell create the container is up");
	char go[2];
	ssize_t n;
	while ((n = read(cx->sync_fd, go, sizeof(go))) < 0 && errno == EINTR)
		;
	close(cx->sync_fd);
	cx->sync_fd = -1;
	if (n != 2 || memcmp(go, "go", 2) != 0)
		return husk_error_set(err, 0, "create ended before it saved the container");
	return 0;
}

const char *lifecycle_netns_path(const struct oci_config *cfg)
{
	for (size_t i = 0; i < cfg->nnamespaces; i++)
		if (cfg->namespaces[i].type == CLONE_NEWNET)
			return cfg->namespaces[i].path;
	return NULL;
}

/* Takes husk's qdiscs off the interfaces of the namespace at PATH, from
 * this (single-threaded) process, which then returns to its own. */
static int netns_cleanup(const char *path, husk_error_t *err)
{
	cleanup_close int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	/* O_NONBLOCK: the path is the bundle's word, and a FIFO there must
	 * not hold delete for ever (setns then refuses it). */
	cleanup_close int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0
				       : husk_error_set(err, errno, "network namespace %s", path);
	if (self < 0 || setns(fd, CLONE_NEWNET) < 0)
		return husk_error_set(err, errno, "enter the network namespace %s", path);
	int r = network_cleanup(err);
	if (setns(self, CLONE_NEWNET) < 0 && r == 0)
		r = husk_error_set(err, errno, "return to husk's network namespace");
	return r;
}

/* Into the jail, with CAP_SYS_ADMIN still there: from here the VM is
 * built from the paths inside, and the state directory (where the guest's
 * vsock connections to host ports go) is the jail's /state; *DIRFD is
 * reopened there. */
static int child_jail(struct child_ctx *cx, int *dirfd, husk_error_t *err)
{
	struct vm_config *vm = &cx->vp.vm;
	struct jail_spec j = { .root = cx->jail_root,
			       .kernel = vm->kernel,
			       .initrd = vm->initrd,
			       .kvm = "/dev/kvm",
			       .state_dir = cx->state_dir,
			       .nshares = (unsigned)vm->nshares };

	for (int i = 0; i < vm->nshares; i++) {
		j.shares[i] = vm->shares[i].dir;
		j.share_readonly[i] = vm->shares[i].readonly;
	}
	if (jail_enter(&j, err) < 0)
		return -1;
	/* Errors name the host's paths, which the user knows. */
	vm->kernel_name = vm->kernel;
	vm->initrd_name = vm->initrd;
	vm->kernel = "/kernel";
	vm->initrd = "/initrd";
	for (int i = 0; i < vm->nshares; i++) {
		jail_share_path((unsigned)i, cx->jail_shares[i], sizeof(cx->jail_shares[i]));
		vm->shares[i].dir = cx->jail_shares[i];
	}
	close(*dirfd);
	if ((*dirfd = open("/state", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return husk_error_set(err, errno, "jail: open /state");
	return 0;
}

static _Noreturn void child_main(struct child_ctx *cx)
{
	husk_error_t err = NULL;
	char vsock_dir[64];

	/* Until create has saved this process's pid, nothing but create
	 * could find it to stop it: it goes when create goes. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != cx->parent)
		_exit(1);
	/* The log's local time zone, read now from the host's /etc/localtime:
	 * glibc reads it at the first log line otherwise, which may come
	 * inside the jail, where the file is not, or from a thread whose
	 * filter refuses every open. */
	tzset();

	/* Nothing the caller had open but what the VMM is given, and no hold
	 * on its working directory (runc's CVE-2024-21626 leaked a host
	 * directory into the container that way); create made every path
	 * the child uses absolute. */
	int keep[] = { STDIN_FILENO, STDOUT_FILENO,	STDERR_FILENO,	     cx->sync_fd,
		       cx->console,  cx->vp.ctl_listen, cx->vp.agent_listen, log_fileno() };
	if (close_fds_except(keep, sizeof(keep) / sizeof(keep[0])) < 0 || chdir("/") < 0) {
		husk_error_set(&err, errno, "leave create's descriptors and directory");
		goto fail;
	}
	/* A session of its own, as runc's init; with a terminal the pty is
	 * its controlling tty, so SIGWINCH reaches it on resize. */
	if (!cx->own_terminal)
		setsid();
	if (cx->console >= 0 && !cx->own_terminal) {
		ioctl(cx->console, TIOCSCTTY, 0);
		for (int fd = 0; fd < 3; fd++)
			dup2(cx->console, fd);
	}
	/* The state directory without the parent's lock (flock belongs to the
	 * open file, which the parent keeps until it returns). */
	int dirfd = open(cx->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		husk_error_set(&err, errno, "open %s", cx->state_dir);
		goto fail;
	}
	snprintf(vsock_dir, sizeof(vsock_dir), "/proc/self/fd/%d", dirfd);
	cx->vp.vm.vsock_dir = vsock_dir;
	if (cx->cg && cgroup_attach(cx->cg, getpid(), &err) < 0)
		goto fail;
	/* Capabilities are per thread: they go before vm_run() starts any. */
	/* The bind share is staged in the VMM's own mount namespace, while
	 * the VMM may still mount. */
	if (confine_namespaces(cx->cfg, &err) < 0 ||
	    binds_stage(cx->binds, cx->binds_dir, &err) < 0 ||
	    confine_rlimits(&cx->cfg->process, &err) < 0 ||
	    confine_oom_score_adj(&cx->cfg->process, &err) < 0 || confine_no_dump(&err) < 0)
		goto fail;
	/* The network, while CAP_NET_ADMIN is still there; only a namespace
	 * the client made: the host's (no network entry) is never rewired,
	 * and a new one (an entry without a path) has loopback only. */
	if (lifecycle_netns_path(cx->cfg)) {
		if (network_setup(&cx->net, &err) < 0)
			goto fail;
		for (unsigned i = 0; i < cx->net.n && i < VM_MAX_NICS; i++) {
			struct vm_nic *nic = &cx->vp.vm.nics[cx->vp.vm.nnics++];
			*nic = (struct vm_nic){ .tap_fd = cx->net.ifs[i].tap_fd,
						.mtu = cx->net.ifs[i].mtu };
			memcpy(nic->mac, cx->net.ifs[i].mac, sizeof(nic->mac));
		}
		cx->vp.net = &cx->net;
	}
	/* Beyond the hard limit needs CAP_SYS_RESOURCE: before it goes. The
	 * VM plans its descriptors from what this got. */
	fd_budget_raise_nofile();
	if (cx->jail_root[0]) {
		if (child_jail(cx, &dirfd, &err) < 0)
			goto fail;
		snprintf(vsock_dir, sizeof(vsock_dir), "/proc/self/fd/%d", dirfd);
	}
	if (confine_capabilities(&err) < 0)
		goto fail;
	cx->vp.vm.before_run = child_before_run;
	cx->vp.vm.before_run_arg = cx;
	cx->vp.vm.confine_thread = confine_thread;
	int status = vmm_process_run(&cx->vp, &err);
	if (err)
		goto fail;
	vmm_process_exit(status);
fail:
	child_fail(cx, &err);
	_exit(1);
}

/* What the record grows by after create's check: the pid, its start
 * time and the started flag, with room to spare. */
#define HUSK_STATE_SLACK 256

static size_t annotations_size(const struct oci_config *cfg)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nannotations; i++)
		n += strlen(cfg->annotations[i].key) + strlen(cfg->annotations[i].value);
	return n;
}

/* *PATH resolved from here, for a child that leaves this directory. */
static int absolute_path(char **path, husk_error_t *err)
{
	char *abs = realpath(*path, NULL);
	if (!abs)
		return husk_error_set(err, errno, "%s", *path);
	free(*path);
	*path = abs;
	return 0;
}

/* Everything create makes or holds, so that one undo takes back exactly
 * what the steps that ran made, and one release frees the rest. */
struct create {
	const struct husk_globals *g;
	const struct create_opts *o;
	char bundle[PATH_MAX], rootfs[PATH_MAX], cgpath[PATH_MAX];
	char *json; /* config.json as read: saved, and handed to the VMM */
	size_t json_len;
	struct oci_config *cfg;
	int cpus;
	unsigned long mem;
	int boot_timeout_ms;
	struct bind_plan binds;
	char *kernel, *initrd;
	struct container *c; /* once set, the state directory is ours */
	struct cgroup_handle *cg;
	int master, slave, sync[2], ctl, agent;
	pid_t child; /* once set, the container process runs */
};

/* The bundle's config.json, read and parsed. */
static int create_read_bundle(struct create *cr, husk_error_t *err)
{
	const struct create_opts *o = cr->o;
	char config_path[PATH_MAX + 16];

	if (container_validate_id(o->id, err) < 0)
		return -1;
	if (!realpath(o->bundle ? o->bundle : ".", cr->bundle))
		return husk_error_set(err, errno, "bundle %s", o->bundle ? o->bundle : ".");
	snprintf(config_path, sizeof(config_path), "%s/config.json", cr->bundle);
	if (access(config_path, F_OK) < 0 && errno == ENOENT)
		return husk_error_set(err, 0, "JSON specification file config.json not found");
	if (!(cr->json = oci_config_read(config_path, &cr->json_len, err)))
		return -1;
	if (!(cr->cfg = oci_config_parse(cr->json, cr->json_len, err)))
		return husk_error_wrap(err, "%s", config_path);
	if (!cr->cfg->has_process)
		return husk_error_set(err, 0, "%s: process: required", config_path);
	return 0;
}

/* root.path: a directory, and neither the bundle nor one of its parents. */
static int create_check_rootfs(struct create *cr, husk_error_t *err)
{
	const char *root_path = cr->cfg->root_path;

	if (snprintf(cr->rootfs, sizeof(cr->rootfs), "%s%s%s",
		     root_path[0] == '/' ? "" : cr->bundle, root_path[0] == '/' ? "" : "/",
		     root_path) >= (int)sizeof(cr->rootfs))
		return husk_error_set(err, ENAMETOOLONG, "root.path");
	struct stat st;
	if (stat(cr->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return husk_error_set(err, errno ? errno : ENOTDIR,
				      "invalid rootfs: root.path: %s is not a directory",
				      cr->rootfs);
	/* A container that can write its bundle could plant hooks and mount
	 * sources for the next create; and the bundle's config.json is not
	 * the container's to read. */
	char real_rootfs[PATH_MAX];
	if (!realpath(cr->rootfs, real_rootfs))
		return husk_error_set(err, errno, "invalid rootfs: root.path: %s", cr->rootfs);
	size_t rlen = strlen(real_rootfs);
	if (strcmp(real_rootfs, "/") == 0 ||
	    (strncmp(cr->bundle, real_rootfs, rlen) == 0 &&
	     (cr->bundle[rlen] == '\0' || cr->bundle[rlen] == '/')))
		return husk_error_set(err, 0,
				      "invalid rootfs: root.path: %s is the bundle %s or holds it",
				      cr->rootfs, cr->bundle);
	return 0;
}

/* The VMM opens /dev/kvm only after create made the state directory and
 * the cgroup and forked it, and then fails deep in its jail; a host that
 * has no KVM for us is said here, as `husk check` says it, before any of
 * that. */
static int create_check_kvm(husk_error_t *err)
{
	char why[128];
	const char *fix;
	int fd = host_kvm_open("/dev/kvm", host_kvm_backend("/sys/module"), why, sizeof(why), &fix);

	if (fd < 0)
		return husk_error_set(err, 0, "%s: %s", why, fix);
	close(fd);
	return 0;
}

/* The rest of what can be refused before anything exists on the host:
 * the terminal options, the namespaces, the VM's size, the bind mounts,
 * the guest's kernel and initramfs, /dev/kvm, the cgroup's path. */
static int create_validate(struct create *cr, husk_error_t *err)
{
	const struct create_opts *o = cr->o;
	const struct oci_config *cfg = cr->cfg;

	if (cfg->process.terminal && !o->console_socket && !o->own_terminal)
		return husk_error_set(
			err, 0,
			"cannot allocate tty if husk will detach without setting console socket");
	if (!cfg->process.terminal && o->console_socket)
		return husk_error_set(
			err, 0,
			"cannot use console socket if husk will not detach or allocate tty");
	/* husk-init refuses it too, but only once the VM has booted: say so
	 * here, before anything exists on the host. */
	for (size_t i = 0; i < cfg->nnamespaces; i++)
		if (cfg->namespaces[i].type == CLONE_NEWUSER)
			return husk_error_set(
				err, 0,
				"linux.namespaces[%zu]: a user namespace (uid/gid mappings) is not "
				"supported in husk's guest: the VM is the container's boundary",
				i);
	if (lifecycle_vm_size(cfg, &cr->cpus, &cr->mem, err) < 0 ||
	    binds_plan(cfg, cr->bundle, &cr->binds, err) < 0 ||
	    control_timeout(CONTROL_BOOT_TIMEOUT_ENV, CONTROL_BOOT_TIMEOUT_S, &cr->boot_timeout_ms,
			    err) < 0)
		return -1;
	if (!(cr->kernel = guest_asset_find(GUEST_KERNEL_NAME, err)) ||
	    !(cr->initrd = guest_asset_find(GUEST_INITRD_NAME, err)) ||
	    absolute_path(&cr->kernel, err) < 0 || absolute_path(&cr->initrd, err) < 0 ||
	    create_check_kvm(err) < 0)
		return -1;
	return cgroup_resolve(cfg->cgroups_path, o->id, cr->g->systemd_cgroup, cr->cgpath,
			      sizeof(cr->cgpath), err);
}

/* <root>/<id>, locked, with the copy of config.json in it. */
static int create_state_dir(struct create *cr, husk_error_t *err)
{
	if (container_new(cr->g->root, cr->o->id, &cr->c, err) < 0)
		return -1;
	/* The bundle may be the container's to write from now on: start,
	 * exec and delete read this copy, never the bundle again. */
	return container_write_new(cr->c, HUSK_SAVED_CONFIG, cr->json, cr->json_len, err);
}

/* The state record, in memory: written once the container process is up. */
static int create_record(struct create *cr, husk_error_t *err)
{
	const struct oci_config *cfg = cr->cfg;
	struct container *c = cr->c;
	char created[64];

	container_time_now(created, sizeof(created));
	c->rec = calloc(1, sizeof(*c->rec));
	if (!c->rec || !(c->rec->id = strdup(cr->o->id)) ||
	    !(c->rec->bundle = strdup(cr->bundle)) || !(c->rec->rootfs = strdup(cr->rootfs)) ||
	    !(c->rec->created = strdup(created)) || !(c->rec->cgroup_path = strdup(cr->cgpath)) ||
	    !(c->rec->annotations = calloc(cfg->nannotations + 1, sizeof(struct oci_kv))))
		return husk_error_set(err, ENOMEM, "state");
	for (size_t i = 0; i < cfg->nannotations; i++, c->rec->nannotations++)
		if (!(c->rec->annotations[i].key = strdup(cfg->annotations[i].key)) ||
		    !(c->rec->annotations[i].value = strdup(cfg->annotations[i].value)))
			return husk_error_set(err, ENOMEM, "state");
	c->rec->owner = getuid();
	/* Said now, before anything runs: a record too large to read back
	 * would strand the VMM, since every later command starts there. */
	cleanup_free char *state_json = oci_state_record_to_json(c->rec);
	if (!state_json)
		return husk_error_set(err, ENOMEM, "state");
	if (strlen(state_json) + HUSK_STATE_SLACK > HUSK_STATE_MAX)
		return husk_error_set(
			err, 0,
			"annotations: %zu bytes of them leave no room in husk's state "
			"(at most %u bytes)",
			annotations_size(cfg), HUSK_STATE_MAX - HUSK_STATE_SLACK);
	return 0;
}

/* The host cgroup, made or shared. */
static int create_cgroup(struct create *cr, husk_error_t *err)
{
	/* The VMM opens /dev/net/tun only to wire a namespace it was given. */
	unsigned cg_flags = lifecycle_netns_path(cr->cfg) ? CGROUP_ALLOW_TUN : 0;
	if (cgroup_create(cr->cgpath, &cr->cfg->resources, cg_flags, &cr->cg, err) < 0)
		return -1;
	cr->c->rec->cgroup_created = cgroup_created(cr->cg);
	/* The record, still without a pid, as soon as it can say whether
	 * the cgroup is husk's: whatever kills create from here leaves a
	 * container delete removes, cgroup and all, and there is no VMM
	 * yet. (Killed between the cgroup's mkdir and this, an empty cgroup
	 * is left: a window of one write.) */
	if (container_save(cr->c, err) < 0)
		return -1;
	if (!cr->c->rec->cgroup_created) {
		/* Shared, as runc 1.1 does, with its warning; what others run
		 * there is theirs: neither a failed create nor delete touches
		 * it. */
		cleanup_free pid_t *pids = NULL;
		size_t npids = 0;
		husk_error_t ignored cleanup_error = NULL;
		if (cgroup_pids(cr->cg, &pids, &npids, &ignored) == 0 && npids)
			log_warn("container's cgroup is not empty: %zu process(es) found", npids);
	}
	return 0;
}

/* With terminal: true, the pty (its master to --console-socket), or our
 * own terminal. */
static int create_terminal(struct create *cr, husk_error_t *err)
{
	const struct create_opts *o = cr->o;
	const struct oci_process *p = &cr->cfg->process;

	if (!p->terminal)
		return 0;
	if (o->own_terminal) {
		cr->slave = dup(STDIN_FILENO);
		return 0;
	}
	if (console_open_pty(p->console_height, p->console_width, &cr->master, &cr->slave, err) <
		    0 ||
	    console_send(o->console_socket, cr->master, err) < 0)
		return -1;
	return 0;
}

/* The control socket, the socket the agent's vsock connection arrives on,
 * and the pipe the child says "ok" on. */
static int create_sockets(struct create *cr, husk_error_t *err)
{
	char agent_path[PATH_MAX];

	container_sock_path(cr->c, "1024", agent_path, sizeof(agent_path));
	if ((cr->ctl = control_listen(cr->c, err)) < 0 ||
	    (cr->agent = agent_listen(agent_path, err)) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cr->sync) < 0)
		return husk_error_set(err, errno, "socketpair");
	return 0;
}

/* Forks the container process, which builds the VM (child_main). */
static int create_vmm(struct create *cr, husk_error_t *err)
{
	struct container *c = cr->c;
	struct child_ctx cx = {
		.cfg = cr->cfg,
		.cg = cr->cg,
		.sync_fd = cr->sync[1],
		.parent = getpid(),
		.console = cr->slave,
		.own_terminal = cr->o->own_terminal,
		.vp = {
			.vm = {
				.kernel = cr->kernel,
				.initrd = cr->initrd,
				.cpus = cr->cpus,
				.memory_mib = cr->mem,
				.console_in = -1,
				.console_out = -1,
				.vsock_cid = VM_GUEST_CID,
				.rng = true,
				/* Writable at first even with root.readonly: the
				 * guest makes mount points in it, then remounts the
				 * root read-only, as runc does on a host; the VMM
				 * then seals the share (seal_rootfs). */
				.shares = { { .tag = ROOTFS_TAG, .dir = cr->rootfs } },
				.nshares = 1,
			},
			.config_json = cr->json,
			.config_len = cr->json_len,
			.rootfs_tag = ROOTFS_TAG,
			.seal_rootfs = cr->cfg->root_readonly,
			.console_fd = cr->slave,
			.ctl_listen = cr->ctl,
			.agent_listen = cr->agent,
			.boot_timeout_ms = cr->boot_timeout_ms,
		},
	};
	if (!realpath(c->dir, cx.state_dir))
		return husk_error_set(err, errno, "%s", c->dir);
	if (cr->binds.n) {
		/* An empty directory on the host; the child mounts over it in
		 * its own namespace, and delete removes it with the state. */
		if (snprintf(cx.binds_dir, sizeof(cx.binds_dir), "%s/%s", cx.state_dir,
			     BINDS_DIR) >= (int)sizeof(cx.binds_dir))
			return husk_error_set(err, ENAMETOOLONG, "%s/%s", cx.state_dir, BINDS_DIR);
		if (mkdirat(c->dirfd, BINDS_DIR, 0700) < 0)
			return husk_error_set(err, errno, "%s", cx.binds_dir);
		cx.vp.vm.shares[cx.vp.vm.nshares++] = (struct vm_share){
			.tag = BINDS_TAG, .dir = cx.binds_dir, .readonly = cr->binds.all_readonly
		};
	}
	if (jail_wanted()) {
		/* Empty on the host; the child's jail goes on it, in its own
		 * mount namespace, and delete removes it with the state. */
		if (snprintf(cx.jail_root, sizeof(cx.jail_root), "%s/jail", cx.state_dir) >=
		    (int)sizeof(cx.jail_root))
			return husk_error_set(err, ENAMETOOLONG, "%s/jail", cx.state_dir);
		if (mkdirat(c->dirfd, "jail", 0700) < 0)
			return husk_error_set(err, errno, "%s", cx.jail_root);
	}
	cx.binds = &cr->binds;
	cx.vp.binds = cr->binds.tags;
	cx.vp.nbinds = (unsigned)cr->binds.n;
	fflush(NULL);
	pid_t child = fork();
	if (child < 0)
		return husk_error_set(err, errno, "fork");
	if (child == 0) {
		close(cr->sync[0]);
		if (cr->master >= 0)
			close(cr->master);
		close(c->dirfd);
		child_main(&cx);
	}
	cr->child = child;
	close(cr->sync[1]);
	cr->sync[1] = -1;
	return 0;
}

/* Waits for the child's "ok" (its VM built, about to run), or its error. */
static int create_wait_ready(struct create *cr, husk_error_t *err)
{
	char msg[4096];
	size_t got = 0;
	ssize_t r;

	while (got < sizeof(msg) - 1 &&
	       (r = read(cr->sync[0], msg + got, sizeof(msg) - 1 - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		got += (size_t)r;
		if (got == 2 && memcmp(msg, "ok", 2) == 0)
			break;
	}
	msg[got] = '\0';
	if (strcmp(msg, "ok") != 0)
		return husk_error_set(err, 0, "%s",
				      got ? msg : "the container process died while starting");
	cr->c->rec->pid = cr->child;
	cr->c->rec->pid_start = container_pid_start_time(cr->child);
	if (cr->cg && cgroup_release_kthreads(cr->cg, err) < 0)
		return -1;
	return 0;
}

/* The word that lets the VMM run on its own once its pid is saved. */
static int create_say_go(int sync_fd, husk_error_t *err)
{
	if (send(sync_fd, "go", 2, MSG_NOSIGNAL) != 2)
		return husk_error_set(err, errno, "the container process died while starting");
	return 0;
}

/* The state and the pid file written, then the create hooks.
 *
 * Hooks run with the lock shared, not exclusive: a hook may well run
 * `husk state` (shared), while delete, start and pause (exclusive) still
 * wait for create to finish. runc runs prestart first, then createRuntime,
 * then createContainer. */
static int create_publish(struct create *cr, husk_error_t *err)
{
	const struct oci_config *cfg = cr->cfg;
	struct container *c = cr->c;
	pid_t child = cr->child;

	if (container_save(c, err) < 0 || create_say_go(cr->sync[0], err) < 0 ||
	    (cr->o->pid_file && pid_file_write(cr->o->pid_file, child, err) < 0) ||
	    container_relock(c, false, err) < 0 ||
	    lifecycle_run_hooks(cfg, OCI_HOOK_PRESTART, c, "creating", child, err) < 0 ||
	    lifecycle_run_hooks(cfg, OCI_HOOK_CREATE_RUNTIME, c, "creating", child, err) < 0 ||
	    lifecycle_run_hooks(cfg, OCI_HOOK_CREATE_CONTAINER, c, "creating", child, err) < 0)
		return -1;
	return 0;
}

/* A failed create leaves nothing behind: the container process, a cgroup
 * it made (a shared one is not its to remove) and the state directory go,
 * newest first. Each is there only if its step ran. */
static void create_undo(struct create *cr)
{
	husk_error_t e2 = NULL;

	if (cr->child > 0) {
		/* Already dead, or dying, when it said why it failed. */
		kill(cr->child, SIGKILL);
		while (waitpid(cr->child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (cr->cg && cgroup_created(cr->cg) && cgroup_destroy(cr->cg, &e2) < 0)
		husk_error_release(&e2);
	if (cr->c && container_remove(cr->c, &e2) < 0)
		husk_error_release(&e2);
}

/* What create holds, whether it worked or not: the descriptors it keeps
 * the container process's copies of, and memory. */
static void create_release(struct create *cr)
{
	int fds[] = { cr->master, cr->slave, cr->sync[0], cr->sync[1], cr->ctl, cr->agent };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	cgroup_handle_free(cr->cg);
	container_free(cr->c);
	oci_config_free(cr->cfg);
	binds_free(&cr->binds);
	free(cr->json);
	free(cr->kernel);
	free(cr->initrd);
}

int lifecycle_create(const struct husk_globals *g, const struct create_opts *o, pid_t *pid,
		     husk_error_t *err)
{
	/* In order; each step makes what the next ones use. */
	static int (*const steps[])(struct create *, husk_error_t *) = {
		create_read_bundle, create_check_rootfs, create_validate, create_state_dir,
		create_record,	    create_cgroup,	 create_terminal, create_sockets,
		create_vmm,	    create_wait_ready,	 create_publish,
	};
	struct create cr = {
		.g = g,
		.o = o,
		.master = -1,
		.slave = -1,
		.sync = { -1, -1 },
		.ctl = -1,
		.agent = -1,
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && ret == 0; i++)
		ret = steps[i](&cr, err);
	if (ret < 0)
		create_undo(&cr);
	else
		*pid = cr.child;
	create_release(&cr);
	return ret;
}

int lifecycle_start(struct container *c, husk_error_t *err)
{
	pid_t pid;
	enum container_status s = container_status(c, &pid);

	if (s == CONTAINER_STOPPED)
		return husk_error_set(err, 0, "cannot start a container that has stopped");
	if (s != CONTAINER_CREATED)
		return husk_error_set(err, 0, "cannot start an already %s container",
				      container_status_name(s));
	struct oci_config *cfg = lifecycle_load_config(c, err);
	if (!cfg)
		return -1;
	int ret = -1, fd = -1;
	/* startContainer hooks belong in the container; the guest has no
	 * view of the host's binaries, so they run on the host, before the
	 * process is released (documented in runtime/README.md). They run
	 * with the lock shared, so that one may run `husk state`; then the
	 * container may have changed, and is checked again. */
	if (cfg->nhooks[OCI_HOOK_START_CONTAINER]) {
		if (container_relock(c, false, err) < 0 ||
		    lifecycle_run_hooks(cfg, OCI_HOOK_START_CONTAINER, c, "created", pid, err) <
			    0 ||
		    container_relock(c, true, err) < 0)
			goto out;
		s = container_status(c, &pid);
		if (s != CONTAINER_CREATED) {
			husk_error_set(err, 0,
				       "container became %s while its startContainer hooks ran",
				       container_status_name(s));
			goto out;
		}
	}
	/* By default the VMM's boot bound and a margin, the boot bound as
	 * this environment gives it (create's, in the usual one shell). */
	int boot_ms, timeout_ms;
	if (control_timeout(CONTROL_BOOT_TIMEOUT_ENV, CONTROL_BOOT_TIMEOUT_S, &boot_ms, err) < 0 ||
	    control_timeout(CONTROL_START_TIMEOUT_ENV,
			    boot_ms / 1000 + CONTROL_START_TIMEOUT_S - CONTROL_BOOT_TIMEOUT_S,
			    &timeout_ms, err) < 0 ||
	    (fd = control_connect(c, err)) < 0)
		goto out;
	/* The guest may take its time (or never answer): no lock across the
	 * wait, so that kill, delete, state and ps go on meanwhile. The VMM
	 * releases the process for one START only, so a second start cannot
	 * run it twice; a delete meanwhile is found by the relock. */
	container_unlock(c);
	if (control_call(fd, AGENT_START, NULL, 0, AGENT_READY, NULL, NULL, timeout_ms, err) < 0 ||
	    container_relock(c, true, err) < 0)
		goto out;
	c->rec->started = true;
	if (container_save(c, err) < 0)
		goto out;
	husk_error_t hook_err = NULL;
	/* As in runc, a failing poststart hook is logged, not fatal. */
	if (cfg->nhooks[OCI_HOOK_POSTSTART] && container_relock(c, false, &hook_err) < 0) {
		log_warn("%s", hook_err->msg);
		husk_error_release(&hook_err);
	} else if (lifecycle_run_hooks(cfg, OCI_HOOK_POSTSTART, c, "running", pid, &hook_err) < 0) {
		log_warn("%s", hook_err->msg);
		husk_error_release(&hook_err);
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	oci_config_free(cfg);
	return ret;
}

int lifecycle_thaw_for_kill(const struct container *c, husk_error_t *err)
{
	if (!c->rec->cgroup_path[0])
		return 0;
	struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
	int rc = cg ? cgroup_freeze(cg, false, err) : -1;
	cgroup_handle_free(cg);
	return rc;
}

int lifecycle_destroy(struct container *c, husk_error_t *err)
{
	pid_t pid;
	enum container_status s = container_status(c, &pid);
	if (s != CONTAINER_STOPPED) {
		kill(c->rec->pid, SIGKILL);
		husk_error_t thaw_err = NULL;
		if (s == CONTAINER_PAUSED && lifecycle_thaw_for_kill(c, &thaw_err) < 0) {
			log_warn("%s", thaw_err->msg);
			husk_error_release(&thaw_err);
		}
		/* Not our child (create returned long ago): wait until it is
		 * gone or a zombie for its parent to reap. */
		for (int i = 0;
		     i < 1000 && container_pid_start_time(c->rec->pid) == c->rec->pid_start; i++)
			usleep(10000);
	}
	/* A cgroup that was there before create holds what others put there:
	 * the VMM is gone, and that is all of it that was ours. */
	if (c->rec->cgroup_path[0] && c->rec->cgroup_created) {
		struct cgroup_handle *cg = cgroup_open(c->rec->cgroup_path, err);
		if (!cg || cgroup_destroy(cg, err) < 0) {
			cgroup_handle_free(cg);
			return -1;
		}
		cgroup_handle_free(cg);
	}
	husk_error_t hook_err = NULL;
	struct oci_config *cfg = lifecycle_load_config(c, &hook_err);
	/* Shared from here, for poststop hooks that run `husk state`; a
	 * second delete still waits, then finds the container gone. */
	if (cfg && cfg->nhooks[OCI_HOOK_POSTSTOP] && container_relock(c, false, &hook_err) < 0) {
		log_warn("%s", hook_err->msg);
		husk_error_release(&hook_err);
	}
	/* The VMM is gone, and its taps with it. */
	if (cfg && lifecycle_netns_path(cfg) &&
	    netns_cleanup(lifecycle_netns_path(cfg), &hook_err) < 0) {
		log_warn("%s", hook_err->msg);
		husk_error_release(&hook_err);
	}
	/* No pid: create never got as far as the prestart hooks, so there is
	 * nothing for poststop to undo. */
	if (cfg && c->rec->pid &&
	    lifecycle_run_hooks(cfg, OCI_HOOK_POSTSTOP, c, "stopped", 0, &hook_err) < 0)
		log_warn("%s", hook_err->msg);
	husk_error_release(&hook_err);
	oci_config_free(cfg);
	return container_remove(c, err);
}
