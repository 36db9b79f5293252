/* Builds the container inside the guest the way runc does on a host: the
 * rootfs, its mounts and /dev, pivot_root, hostname, sysctls, masked and
 * read-only paths; then the process: rlimits, terminal, user, capabilities,
 * no_new_privs, seccomp, cwd, environment and exec with a PATH lookup in the
 * container's environment. Failures go to the agent over the sync pipe as
 * "E<status> <message>"; 127/126 for a command that cannot be run. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/fdpass.h"
#include "base/fileio.h"
#include "rootfs/husk-init/init.h"

static int sync_fd = -1;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void report(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (write(sync_fd, buf, (size_t)n) < 0)
		_exit(1);
}

/* Ends the child with STATUS after telling the agent why. */
static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(int status, const char *fmt, ...)
{
	char msg[3900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report("E%d %s", status, msg);
	_exit(status);
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

int rootfs_prepare(const struct agent_create *c, char *why, size_t whylen)
{
	const char *lower = "/run/husk/lower";

	mkdir_p("/run/husk/lower", 0755);
	mkdir_p("/run/husk/rw", 0755);
	mkdir_p(INIT_ROOTFS, 0755);
	switch (c->rootfs_kind) {
	case AGENT_ROOTFS_DIR: lower = c->rootfs; break;
	case AGENT_ROOTFS_BLOCK:
		if (mount(c->rootfs, "/run/husk/lower", "ext4", MS_RDONLY, NULL) < 0) {
			snprintf(why, whylen, "mount %s (ext4, read-only): %s", c->rootfs,
				 strerror(errno));
			return -1;
		}
		break;
	case AGENT_ROOTFS_VIRTIOFS:
		/* The bundle's own directory: the container's writes land on
		 * the host, as with runc (a read-only share refuses them). */
		if (mount(c->rootfs, INIT_ROOTFS, "virtiofs", 0, NULL) < 0) {
			snprintf(why, whylen, "mount virtio-fs tag %s: %s", c->rootfs,
				 strerror(errno));
			return -1;
		}
		return 0;
	}
	/* The image stays untouched: the container writes to a tmpfs upper
	 * layer (root.readonly makes the whole tree read-only later). */
	if (mount("tmpfs", "/run/husk/rw", "tmpfs", 0, "mode=0755") < 0 ||
	    mkdir_p("/run/husk/rw/upper", 0755) < 0 || mkdir_p("/run/husk/rw/work", 0755) < 0) {
		snprintf(why, whylen, "tmpfs for the rootfs upper layer: %s", strerror(errno));
		return -1;
	}
	char opts[PATH_MAX + 128];
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s,upperdir=/run/husk/rw/upper,workdir=/run/husk/rw/work", lower);
	if (mount("overlay", INIT_ROOTFS, "overlay", 0, opts) < 0) {
		snprintf(why, whylen, "overlay over the rootfs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int cgroup_prepare(const struct oci_config *cfg, char *why, size_t whylen)
{
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu");
	if (mkdir(INIT_CGROUP, 0755) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", INIT_CGROUP, strerror(errno));
		return -1;
	}
	return cgroup_apply(&cfg->resources, why, whylen);
}

int cgroup_apply(const struct oci_resources *r, char *why, size_t whylen)
{
	char buf[64];

#define SET(file, value)                                                                           \
	do {                                                                                       \
		if (write_file(INIT_CGROUP "/" file, value) < 0) {                                 \
			snprintf(why, whylen, "cgroup %s = %s: %s", file, value, strerror(errno)); \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)
	if (r->has_memory_limit) {
		if (r->memory_limit < 0)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)r->memory_limit);
		SET("memory.max", buf);
	}
	if (r->has_memory_swap && r->has_memory_limit && r->memory_swap >= r->memory_limit) {
		snprintf(buf, sizeof(buf), "%lld", (long long)(r->memory_swap - r->memory_limit));
		write_file(INIT_CGROUP "/memory.swap.max", buf); /* no swap in the guest */
	}
	if (r->has_pids_limit) {
		if (r->pids_limit <= 0)
			snprintf(buf, sizeof(buf), "max");
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)r->pids_limit);
		SET("pids.max", buf);
	}
	if (r->has_cpu_quota || r->has_cpu_period) {
		unsigned long long period = r->has_cpu_period && r->cpu_period ? r->cpu_period
									       : 100000;
		if (r->has_cpu_quota && r->cpu_quota > 0)
			snprintf(buf, sizeof(buf), "%lld %llu", (long long)r->cpu_quota, period);
		else
			snprintf(buf, sizeof(buf), "max %llu", period);
		SET("cpu.max", buf);
	}
	if (r->has_cpu_shares && r->cpu_shares) {
		/* runc's conversion of cgroup v1 shares to v2 weight. */
		unsigned long long s = r->cpu_shares < 2	? 2
				       : r->cpu_shares > 262144 ? 262144
								: r->cpu_shares;
		snprintf(buf, sizeof(buf), "%llu", 1 + ((s - 2) * 9999) / 262142);
		SET("cpu.weight", buf);
	}
#undef SET
	return 0;
}

/* Paths in the container are resolved beneath its root the way the kernel
 * would resolve them once the rootfs is "/": every symlink and ".." stays
 * inside it (openat2 RESOLVE_IN_ROOT, Linux 5.6; husk's guest kernel has
 * it). A joined path would follow an image's "/etc -> /run/husk" or
 * "../../.." in the agent's namespace and put the mount there. */
static int root_fd = -1;

/* PATH (absolute in the container) beneath root_fd, as an O_PATH
 * descriptor: -1 with errno when it cannot be resolved. */
static int resolve_in_root(const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/* Opens DEST beneath the root, making what is missing: directories, and
 * the last component an empty file when FILE (the mount point of a file
 * bind). A dangling symlink on the way is followed and its target made,
 * still beneath the root, as runc does (an image's /etc/resolv.conf ->
 * ../run/systemd/resolve/stub-resolv.conf is common). Dies naming WHAT. */
static int open_in_root(const char *dest, bool file, const char *what)
{
	char want[PATH_MAX], prefix[PATH_MAX], name[NAME_MAX + 1], link[PATH_MAX];

	if (snprintf(want, sizeof(want), "%s", dest) >= (int)sizeof(want))
		die(1, "%s: path too long", what);
	for (int hops = 0; hops < 40; hops++) {
		int fd = resolve_in_root(want);
		if (fd >= 0)
			return fd;
		if (errno == ENOSYS)
			die(1,
			    "%s: this guest kernel lacks openat2, needed to resolve paths beneath the rootfs",
			    what);
		if (errno != ENOENT)
			die(1, "%s: %s: %s", what, want, strerror(errno));
		/* Walk it component by component, from the root, and make the
		 * first missing one; the walk then goes on from there. */
		int parent = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
		size_t plen = 0;
		const char *p = want;
		bool restart = false;
		prefix[0] = '\0';
		while (parent >= 0 && !restart) {
			while (*p == '/')
				p++;
			if (!*p)
				return parent;
			const char *end = strchrnul(p, '/'), *rest = end;
			size_t len = (size_t)(end - p);
			while (*rest == '/')
				rest++;
			bool last = !*rest;
			if (len > NAME_MAX || plen + 1 + len >= sizeof(prefix))
				die(1, "%s: %s: %s", what, want, strerror(ENAMETOOLONG));
			memcpy(name, p, len);
			name[len] = '\0';
			size_t parent_len = plen;
			prefix[plen++] = '/';
			memcpy(prefix + plen, name, len + 1);
			plen += len;
			p = end;
			int next = resolve_in_root(prefix);
			if (next < 0 && errno == ENOENT) {
				int r;
				if (last && file) {
					r = openat(parent, name,
						   O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
							   O_CLOEXEC,
						   0644);
					if (r >= 0)
						close(r);
				} else {
					r = mkdirat(parent, name, 0755);
				}
				if (r < 0 && errno != EEXIST)
					die(1, "%s: create %s: %s", what, prefix, strerror(errno));
				next = resolve_in_root(prefix);
				ssize_t n = -1;
				if (next < 0 && errno == ENOENT)
					n = readlinkat(parent, name, link, sizeof(link) - 1);
				/* Made, yet neither there nor a symlink: another
				 * guest sharing this rootfs made it after this one
				 * had cached its absence, for the share's entry
				 * timeout (a second). Wait that out. */
				for (int t = 0; next < 0 && n < 0 && errno == ENOENT && t < 30;
				     t++) {
					usleep(100 * 1000);
					if ((next = resolve_in_root(prefix)) < 0 && errno == ENOENT)
						n = readlinkat(parent, name, link,
							       sizeof(link) - 1);
				}
				if (next < 0 && (n >= 0 || errno == ENOENT)) {
					/* Something is there and leads nowhere: a
					 * dangling symlink. Go on from its target. */
					if (n < 0)
						die(1, "%s: %s: %s", what, prefix, strerror(errno));
					link[n] = '\0';
					prefix[parent_len] = '\0';
					char next_want[PATH_MAX];
					/* No trailing slash: it would make a file
					 * target ENOTDIR. */
					if (snprintf(next_want, sizeof(next_want), "%s/%s%s%s",
						     link[0] == '/' ? "" : prefix, link,
						     *rest ? "/" : "",
						     rest) >= (int)sizeof(next_want))
						die(1, "%s: %s: %s", what, want,
						    strerror(ENAMETOOLONG));
					memcpy(want, next_want, sizeof(want));
					restart = true;
				}
			}
			close(parent);
			parent = restart ? -1 : next;
			if (!restart && next < 0)
				die(1, "%s: %s: %s", what, prefix, strerror(errno));
		}
		if (!restart)
			die(1, "%s: %s: %s", what, want, strerror(errno));
	}
	die(1, "%s: %s: %s", what, dest, strerror(ELOOP));
}

/* The magic link naming FD's file, for mount(2). */
static void fd_path(char *out, size_t size, int fd)
{
	snprintf(out, size, "/proc/self/fd/%d", fd);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* tmpcopyup: what SRC (a directory) holds, copied into DST (the new tmpfs
 * over it) with modes, owners and times; files, directories, symlinks,
 * device nodes, FIFOs and sockets. Dies naming WHAT. */
static void copy_tree(int src, int dst, const char *what, int depth)
{
	if (depth > 64)
		die(1, "%s: tmpcopyup: directories nested too deep", what);
	int scan = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = scan >= 0 ? fdopendir(scan) : NULL;
	if (!d)
		die(1, "%s: tmpcopyup: %s", what, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		struct stat st;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die(1, "%s: tmpcopyup: stat %s: %s", what, n, strerror(errno));
		int r = 0;
		if (S_ISDIR(st.st_mode)) {
			int from = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
			    to = -1;
			if (from < 0 || (mkdirat(dst, n, 0700) < 0 && errno != EEXIST) ||
			    (to = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
				    0)
				die(1, "%s: tmpcopyup: directory %s: %s", what, n, strerror(errno));
			copy_tree(from, to, what, depth + 1);
			close(from);
			close(to);
		} else if (S_ISREG(st.st_mode)) {
			int from = openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int to = openat(dst, n,
					O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (from < 0 || to < 0)
				die(1, "%s: tmpcopyup: file %s: %s", what, n, strerror(errno));
			char buf[65536];
			ssize_t got;
			while ((got = read(from, buf, sizeof(buf))) > 0 ||
			       (got < 0 && errno == EINTR))
				for (ssize_t off = 0; got > 0 && off < got;) {
					ssize_t w = write(to, buf + off, (size_t)(got - off));
					if (w < 0 && errno != EINTR)
						die(1, "%s: tmpcopyup: write %s: %s", what, n,
						    strerror(errno));
					off += w > 0 ? w : 0;
				}
			if (got < 0)
				die(1, "%s: tmpcopyup: read %s: %s", what, n, strerror(errno));
			close(from);
			close(to);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(src, n, target, sizeof(target) - 1);
			if (len < 0)
				die(1, "%s: tmpcopyup: readlink %s: %s", what, n, strerror(errno));
			target[len] = '\0';
			r = symlinkat(target, dst, n);
		} else {
			r = mknodat(dst, n, st.st_mode, st.st_rdev);
		}
		if (r < 0)
			die(1, "%s: tmpcopyup: %s: %s", what, n, strerror(errno));
		struct timespec times[2] = { st.st_atim, st.st_mtim };
		if (fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISLNK(st.st_mode) && fchmodat(dst, n, st.st_mode & 07777, 0) < 0) ||
		    utimensat(dst, n, times, AT_SYMLINK_NOFOLLOW) < 0)
			die(1, "%s: tmpcopyup: attributes of %s: %s", what, n, strerror(errno));
	}
	closedir(d);
}

static void do_mounts(const struct oci_config *cfg)
{
	char target[64], what[64];

	root_fd = open(INIT_ROOTFS, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die(1, "open %s: %s", INIT_ROOTFS, strerror(errno));
	for (size_t i = 0; i < cfg->nmounts; i++) {
		const struct oci_mount *m = &cfg->mounts[i];
		const char *type = m->type;
		unsigned long flags = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
		int fd;

		snprintf(what, sizeof(what), "mounts[%zu].destination", i);
		if (strstr(m->destination, "/../") ||
		    (strlen(m->destination) >= 3 &&
		     strcmp(m->destination + strlen(m->destination) - 3, "/..") == 0))
			die(1, "mounts[%zu].destination: \"..\" not allowed", i);
		if (m->bind) {
			if (!m->source)
				die(1, "mounts[%zu]: bind mount without a source", i);
			struct stat st;
			if (stat(m->source, &st) < 0)
				die(1,
				    "mounts[%zu]: bind source %s is not in the guest "
				    "(host paths reach the guest through virtio-fs): %s",
				    i, m->source, strerror(errno));
			fd = open_in_root(m->destination, !S_ISDIR(st.st_mode), what);
			fd_path(target, sizeof(target), fd);
			if (mount(m->source, target, NULL, MS_BIND | (m->recursive ? MS_REC : 0),
				  NULL) < 0)
				die(1, "bind mount %s on %s: %s", m->source, m->destination,
				    strerror(errno));
		} else {
			if (!type)
				die(1, "mounts[%zu]: no type", i);
			/* cgroup v1 is absent from the guest: "cgroup" means cgroup2. */
			if (strcmp(type, "cgroup") == 0)
				type = "cgroup2";
			fd = open_in_root(m->destination, false, what);
			fd_path(target, sizeof(target), fd);
			int below = -1;
			if (m->tmpcopyup) {
				if (strcmp(type, "tmpfs") != 0)
					die(1, "mounts[%zu]: tmpcopyup is for tmpfs mounts, not %s",
					    i, type);
				/* The directory the tmpfs is about to cover, to copy from. */
				below = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (below < 0)
					die(1, "mounts[%zu]: tmpcopyup: %s: %s", i, m->destination,
					    strerror(errno));
			}
			if (mount(m->source ? m->source : type, target, type, flags, m->data) < 0) {
				/* sysfs needs its own network namespace, as in runc:
				 * without one, bind the guest's read-only. */
				if (!(strcmp(type, "sysfs") == 0 && errno == EPERM &&
				      mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0))
					die(1, "mount %s (%s) on %s: %s",
					    m->source ? m->source : type, type, m->destination,
					    strerror(errno));
				flags = 0;
			}
			if (below >= 0) {
				int fresh = open_in_root(m->destination, false, what), top;
				char fresh_path[64];
				fd_path(fresh_path, sizeof(fresh_path), fresh);
				struct stat st;
				if ((top = open(fresh_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
					    0 ||
				    fstat(below, &st) < 0)
					die(1, "mounts[%zu]: tmpcopyup: %s: %s", i, m->destination,
					    strerror(errno));
				copy_tree(below, top, what, 0);
				/* The tmpfs root takes the directory's own mode and owner too. */
				if (fchown(top, st.st_uid, st.st_gid) < 0 ||
				    fchmod(top, st.st_mode & 07777) < 0)
					die(1, "mounts[%zu]: tmpcopyup: %s: %s", i, m->destination,
					    strerror(errno));
				close(top);
				close(fresh);
				close(below);
			}
		}
		/* The descriptor names the mount point under the new mount;
		 * what follows acts on the new mount, found afresh. */
		close(fd);
		if ((m->bind && flags) || m->propagation) {
			fd = open_in_root(m->destination, false, what);
			fd_path(target, sizeof(target), fd);
			if (m->bind && flags &&
			    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
				die(1, "remount %s: %s", m->destination, strerror(errno));
			if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0)
				die(1, "propagation of %s: %s", m->destination, strerror(errno));
			close(fd);
		}
		if (m->rec_attr_set || m->rec_attr_clr) {
			/* "rro" and the like: this mount and every one below it. */
			struct mount_attr attr = { .attr_set = m->rec_attr_set,
						   .attr_clr = m->rec_attr_clr };
			fd = open_in_root(m->destination, false, what);
			if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
					  sizeof(attr)) < 0)
				die(1, "mounts[%zu]: recursive options on %s: %s", i,
				    m->destination, strerror(errno));
			close(fd);
		}
	}
}

static void make_dev(void)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} devs[] = {
		{ "null", 1, 3 },   { "zero", 1, 5 },	 { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const struct {
		const char *from, *to;
	} links[] = {
		{ "/proc/self/fd", "fd" },	 { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	struct stat st;
	int dev = open_in_root("/dev", false, "/dev");

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) <
			    0 &&
		    errno != EEXIST)
			die(1, "mknod /dev/%s: %s", devs[i].name, strerror(errno));
		/* Past the umask; only the node itself, never what an image's
		 * symlink of that name points to. */
		if (fstatat(dev, devs[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISCHR(st.st_mode) && fchmodat(dev, devs[i].name, 0666, 0) < 0)
			die(1, "chmod /dev/%s: %s", devs[i].name, strerror(errno));
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].from, dev, links[i].to) < 0 && errno != EEXIST)
			die(1, "symlink /dev/%s: %s", links[i].to, strerror(errno));
	close(dev);
}

/* linux.devices: each node made in the container (before pivot_root, with
 * the mounts in place, so /dev is the spec's /dev), then given the spec's
 * mode (past the umask) and owner. The numbers are the guest kernel's
 * devices: a VM has no host devices to reach. As runc, a node that exists
 * already is left as it is. */
static void make_spec_devices(const struct oci_config *cfg)
{
	char what[64], dir[PATH_MAX];

	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct oci_device *d = &cfg->devices[i];
		snprintf(what, sizeof(what), "linux.devices[%zu]", i);
		const char *slash = strrchr(d->path, '/'), *name = slash + 1;
		if (!*name)
			die(1, "%s: %s: not a file name", what, d->path);
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - d->path), d->path);
		int parent = open_in_root(dir[0] ? dir : "/", false, what);
		if (mknodat(parent, name, d->type | (d->mode & 0777), makedev(d->major, d->minor)) <
		    0) {
			if (errno != EEXIST)
				die(1, "%s: mknod %s: %s", what, d->path, strerror(errno));
		} else if (fchownat(parent, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			   fchmodat(parent, name, d->mode, 0) < 0) {
			die(1, "%s: chown/chmod %s: %s", what, d->path, strerror(errno));
		}
		close(parent);
	}
}

static void set_sysctls(const struct oci_config *cfg)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < cfg->nsysctl; i++) {
		int n = snprintf(path, sizeof(path), "/proc/sys/%s", cfg->sysctl[i].key);
		if (n < 0 || (size_t)n >= sizeof(path))
			die(1, "sysctl %s: name too long", cfg->sysctl[i].key);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (write_file(path, cfg->sysctl[i].value) < 0)
			die(1, "sysctl %s=%s: %s", cfg->sysctl[i].key, cfg->sysctl[i].value,
			    strerror(errno));
	}
}

/* After pivot_root: mask and make read-only as the spec lists. */
static void mask_paths(const struct oci_config *cfg)
{
	for (size_t i = 0; i < cfg->nmasked_paths; i++) {
		const char *p = cfg->masked_paths[i];
		int r;
		if (is_dir(p))
			r = mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0");
		else
			r = mount("/dev/null", p, NULL, MS_BIND, NULL);
		if (r < 0 && errno != ENOENT)
			die(1, "mask %s: %s", p, strerror(errno));
	}
	for (size_t i = 0; i < cfg->nreadonly_paths; i++) {
		const char *p = cfg->readonly_paths[i];
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			die(1, "read-only %s: %s", p, strerror(errno));
		}
		if (mount(NULL, p, NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			die(1, "read-only remount %s: %s", p, strerror(errno));
	}
}

static void build_container(const struct oci_config *cfg)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(1, "make / private: %s", strerror(errno));
	set_sysctls(cfg);
	do_mounts(cfg);
	make_dev();
	make_spec_devices(cfg);
	if (chdir(INIT_ROOTFS) < 0)
		die(1, "chdir rootfs: %s", strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die(1, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die(1, "detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		die(1, "chdir /: %s", strerror(errno));
	mask_paths(cfg);
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		die(1, "sethostname: %s", strerror(errno));
	if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
		die(1, "setdomainname: %s", strerror(errno));
	if (cfg->root_readonly &&
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		die(1, "remount / read-only: %s", strerror(errno));
}

/* exec: the namespaces of the container's process, mount last (it moves
 * the root); the pid namespace applies to the children of the caller,
 * which is why child_run() forks once more after this. */
static void join_namespaces(pid_t pid)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = {
		{ "cgroup", CLONE_NEWCGROUP }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
		{ "net", CLONE_NEWNET },       { "pid", CLONE_NEWPID }, { "time", CLONE_NEWTIME },
		{ "mnt", CLONE_NEWNS },
	};
	enum { NNS = sizeof(ns) / sizeof(ns[0]) };
	int fds[NNS];
	char path[64];
	struct stat self, other;

	for (size_t i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die(1, "open %s: %s", path, strerror(errno));
	}
	/* A time namespace, like the pid one, applies to the children: the
	 * fork in child_run() puts the process in it. */
	for (size_t i = 0; i < NNS; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i].name);
		if (stat(path, &self) == 0 && fstat(fds[i], &other) == 0 &&
		    self.st_ino == other.st_ino)
			continue; /* already there */
		if (setns(fds[i], ns[i].type) < 0)
			die(1, "join the container's %s namespace: %s", ns[i].name,
			    strerror(errno));
		close(fds[i]);
	}
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* PATH lookup in the container's environment, as runc does it: 127 when
 * nothing is found, 126 when what is found cannot be run. */
/* The terminal comes from the container's own devpts (its /dev/ptmx), as
 * runc makes it, so that ttyname() works inside: the master goes to the
 * agent over the sync socket ("T" with the fd), the slave is returned. */
static int container_pty(const struct oci_process *p)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];
	int s = -1;
	if (m < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY)) < 0)
		die(1, "open a pty in the container: %s", strerror(errno));
	if (p->console_height || p->console_width) {
		struct winsize ws = { .ws_row = (unsigned short)p->console_height,
				      .ws_col = (unsigned short)p->console_width };
		ioctl(m, TIOCSWINSZ, &ws);
	}
	if (fd_send(sync_fd, m, "T", 1) < 0)
		_exit(1);
	close(m);
	return s;
}

/* strerror() the way Go (and so runc) spells it: lower case. Podman maps
 * "no such file or directory" in a runtime's message to exit status 127. */
static const char *go_strerror(int e)
{
	static char buf[128];
	snprintf(buf, sizeof(buf), "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

/* HOME for a process whose env lacks it, as runc sets it: the user's home
 * in the container's /etc/passwd, or "/". */
static char **with_home(char **env, uid_t uid)
{
	size_t n = 0;
	for (; env && env[n]; n++)
		if (strncmp(env[n], "HOME=", 5) == 0)
			return env;
	char home[PATH_MAX] = "/", line[1024];
	FILE *f = fopen("/etc/passwd", "re");
	while (f && fgets(line, sizeof(line), f)) {
		/* name:password:uid:gid:gecos:dir:shell, fields may be empty */
		char *rest = line, *field[7] = { 0 };
		for (int i = 0; i < 7 && rest; i++)
			field[i] = strsep(&rest, ":\n");
		if (field[2] && field[5] && field[5][0] &&
		    (uid_t)strtoul(field[2], NULL, 10) == uid) {
			snprintf(home, sizeof(home), "%s", field[5]);
			break;
		}
	}
	if (f)
		fclose(f);
	char **out = calloc(n + 2, sizeof(*out));
	if (!out)
		return env;
	for (size_t i = 0; i < n; i++)
		out[i] = env[i];
	if (asprintf(&out[n], "HOME=%s", home) < 0)
		return env;
	return out;
}

static void find_program(const char *arg0, char *const *env, char *out, size_t size)
{
	if (strchr(arg0, '/')) {
		struct stat st;
		/* Found missing before the process is released, as runc finds
		 * it at create: the host then reports a failed start. */
		if (stat(arg0, &st) < 0)
			die(127, "exec: \"%s\": stat %s: %s", arg0, arg0, go_strerror(errno));
		snprintf(out, size, "%s", arg0);
		return;
	}
	const char *path = env_get(env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	bool denied = false;
	char cand[PATH_MAX];
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int)(end - path), path,
				 end == path ? "" : "/", arg0);
		path = *end ? end + 1 : end;
		if (n < 0 || (size_t)n >= sizeof(cand))
			continue;
		struct stat st;
		if (stat(cand, &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (access(cand, X_OK) == 0) {
			snprintf(out, size, "%s", cand);
			return;
		}
		denied = true;
	}
	if (denied)
		die(126, "exec: \"%s\": permission denied", arg0);
	die(127, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static void set_caps(const struct oci_process *p)
{
	cap_t caps = cap_init();
	cap_value_t list[64];
	static const cap_flag_t flags[] = { 0, CAP_EFFECTIVE, CAP_INHERITABLE, CAP_PERMITTED };

	if (!caps)
		die(1, "cap_init: %s", strerror(errno));
	for (int set = OCI_CAP_EFFECTIVE; set <= OCI_CAP_PERMITTED; set++) {
		int n = 0;
		for (int c = 0; c <= CAP_LAST_CAP && c < 64; c++)
			if (p->caps[set] & (1ULL << c))
				list[n++] = c;
		if (n && cap_set_flag(caps, flags[set], n, list, CAP_SET) < 0)
			die(1, "cap_set_flag: %s", strerror(errno));
	}
	if (cap_set_proc(caps) < 0)
		die(1, "set capabilities: %s", strerror(errno));
	cap_free(caps);
	cap_reset_ambient();
	/* As runc: an ambient capability the inheritable set lacks cannot be
	 * raised, and that is not an error (runc only warns). */
	for (int c = 0; c <= CAP_LAST_CAP && c < 64; c++)
		if (p->caps[OCI_CAP_AMBIENT] & (1ULL << c))
			cap_set_ambient(c, CAP_SET);
}

static void setup_process(const struct child_args *a)
{
	const struct oci_process *p = a->proc;
	const struct oci_config *cfg = a->cfg;
	char prog[PATH_MAX];

	for (size_t i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = { p->rlimits[i].soft, p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			die(1, "setrlimit %d: %s", p->rlimits[i].resource, strerror(errno));
	}
	if (p->has_oom_score_adj) {
		char v[16];
		snprintf(v, sizeof(v), "%d", p->oom_score_adj);
		if (write_file("/proc/self/oom_score_adj", v) < 0)
			die(1, "oom_score_adj: %s", strerror(errno));
	}
	setsid();
	if (p->terminal) {
		int slave = container_pty(p);
		if (ioctl(slave, TIOCSCTTY, 0) < 0)
			die(1, "TIOCSCTTY: %s", strerror(errno));
		for (int i = 0; i < 3; i++)
			dup2(slave, i);
		if (slave > 2)
			close(slave);
	} else {
		for (int i = 0; i < 3; i++)
			if (a->stdio[i] != i) {
				dup2(a->stdio[i], i);
				close(a->stdio[i]);
			}
	}
	bool early_seccomp = cfg->seccomp && !p->no_new_privileges;
	char why[512];
	if (early_seccomp && spec_seccomp_load(cfg->seccomp, why, sizeof(why)) < 0)
		die(1, "%s", why);
	if (p->has_caps) {
		for (int c = 0; c <= CAP_LAST_CAP; c++)
			if (!(p->caps[OCI_CAP_BOUNDING] & (1ULL << c)) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				die(1, "drop %s from the bounding set: %s", cap_to_name(c),
				    strerror(errno));
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	}
	if (setgroups(p->nadditional_gids, p->additional_gids) < 0)
		die(1, "setgroups: %s", strerror(errno));
	if (setgid(p->gid) < 0)
		die(1, "setgid %u: %s", p->gid, strerror(errno));
	if (setuid(p->uid) < 0)
		die(1, "setuid %u: %s", p->uid, strerror(errno));
	if (p->has_caps) {
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		set_caps(p);
	}
	umask(p->has_umask ? p->umask : 022);
	if (chdir(p->cwd) < 0)
		die(1, "chdir to cwd (\"%s\") set in config.json: %s", p->cwd, go_strerror(errno));
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(1, "no_new_privs: %s", strerror(errno));
	find_program(p->args[0], p->env, prog, sizeof(prog));
	if (a->main) {
		report("R");
		char c;
		ssize_t r;
		do
			r = read(a->start_fd, &c, 1);
		while (r < 0 && errno == EINTR);
		if (r != 1)
			_exit(1); /* the agent gave up on us */
		close(a->start_fd);
	} else {
		/* exec: set up; the host may now relay to it. */
		report("R");
	}
	if (cfg->seccomp && !early_seccomp && spec_seccomp_load(cfg->seccomp, why, sizeof(why)) < 0)
		die(1, "%s", why);
	execve(prog, p->args, with_home(p->env, p->uid));
	int e = errno;
	die(e == ENOENT ? 127 : 126, "exec %s: %s", prog, go_strerror(e));
}

void child_run(const struct child_args *a)
{
	sync_fd = a->sync_fd;
	/* The agent blocks these for its signalfd; the process must not. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (a->main) {
		if (write_file(INIT_CGROUP "/cgroup.procs", "0") < 0)
			die(1, "join %s: %s", INIT_CGROUP, strerror(errno));
		/* The guest exists for this container: its cgroup is the root
		 * of what it sees, so /sys/fs/cgroup/memory.max is its limit
		 * (as under runc with a cgroup namespace). */
		if (unshare(CLONE_NEWCGROUP) < 0)
			die(1, "cgroup namespace: %s", strerror(errno));
		build_container(a->cfg);
	} else {
		if (write_file(INIT_CGROUP "/cgroup.procs", "0") < 0)
			die(1, "join %s: %s", INIT_CGROUP, strerror(errno));
		join_namespaces(a->join_pid);
		/* A new pid namespace takes effect in the children: fork, and
		 * hand the agent the grandchild as its own (CLONE_PARENT). */
		pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (pid < 0)
			die(1, "clone: %s", strerror(errno));
		if (pid > 0) {
			report("P%d", pid);
			_exit(0);
		}
	}
	setup_process(a);
	_exit(1);
}
