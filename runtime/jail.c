/* The VMM's jail: see jail.h. */
#include "runtime/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OLD_ROOT ".old-root"
#define PROC_STAGE ".proc"

void jail_share_path(unsigned n, char *out, size_t len)
{
	snprintf(out, len, "/share%u", n);
}

bool jail_wanted(void)
{
	const char *v = getenv("HUSK_JAIL");
	return !v || strcmp(v, "0") != 0;
}

enum bind_how {
	BIND_RW = 0,
	BIND_REC = 1,	 /* with the mounts beneath SRC */
	BIND_RDONLY = 2, /* read-only (the mounts beneath, if any, keep theirs) */
	BIND_DEVICE = 4, /* a device node: not nodev */
};

/* Binds SRC (a directory, or a file when !DIR) on NAME under ROOT, made
 * first. */
static int bind_into(const char *root, const char *name, const char *src, bool dir, unsigned how,
		     husk_error_t *err)
{
	char dst[PATH_MAX];
	if (snprintf(dst, sizeof(dst), "%s/%s", root, name) >= (int)sizeof(dst))
		return husk_error_set(err, ENAMETOOLONG, "jail: %s/%s", root, name);
	if (dir) {
		if (mkdir(dst, 0700) < 0)
			return husk_error_set(err, errno, "jail: mkdir %s", dst);
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return husk_error_set(err, errno, "jail: create %s", dst);
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND | ((how & BIND_REC) ? MS_REC : 0), NULL) < 0)
		return husk_error_set(err, errno, "jail: bind %s on %s", src, dst);
	/* A bind takes its source's flags; ours need a remount, which sets
	 * every flag anew: the source's are kept (a read-only volume must not
	 * come out writable). */
	struct statvfs sv;
	if (statvfs(dst, &sv) < 0)
		return husk_error_set(err, errno, "jail: statvfs %s", dst);
	static const struct {
		unsigned long st, ms;
	} keep[] = { { ST_RDONLY, MS_RDONLY },	  { ST_NOSUID, MS_NOSUID },
		     { ST_NODEV, MS_NODEV },	  { ST_NOEXEC, MS_NOEXEC },
		     { ST_NOATIME, MS_NOATIME },  { ST_NODIRATIME, MS_NODIRATIME },
		     { ST_RELATIME, MS_RELATIME } };
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID |
			      ((how & BIND_DEVICE) ? 0 : MS_NODEV) |
			      ((how & BIND_RDONLY) ? MS_RDONLY | MS_NOEXEC : 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (sv.f_flag & keep[i].st)
			flags |= keep[i].ms;
	if (mount(NULL, dst, NULL, flags, NULL) < 0)
		return husk_error_set(err, errno, "jail: remount %s", dst);
	return 0;
}

/* /proc/self/fd, and nothing else of /proc: the FUSE server reopens its
 * descriptors through it. A whole procfs would also hold /proc/self/mem,
 * which writes through page protections: a taken-over VMM would patch its
 * own code despite the no-PROT_EXEC rule. The fd directory is a bind
 * mount, so ".." from it ends in the jail's /proc/self, not in procfs. */
static int mount_proc_self(const char *root, husk_error_t *err)
{
	static const char *const dirs[] = { "proc", "proc/self", PROC_STAGE };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		if (mkdir(path, 0555) < 0)
			return husk_error_set(err, errno, "jail: mkdir %s", path);
	}
	/* Staged out of sight and detached once the fd directory is bound.
	 * invisible (Linux 5.8): no process it may not ptrace shows at all;
	 * 2 before. */
	snprintf(path, sizeof(path), "%s/" PROC_STAGE, root);
	unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (mount("proc", path, "proc", flags, "hidepid=invisible,gid=65534") < 0 &&
	    (errno != EINVAL || mount("proc", path, "proc", flags, "hidepid=2,gid=65534") < 0))
		return husk_error_set(err, errno, "jail: mount proc on %s", path);
	char fd_dir[PATH_MAX + 16];
	snprintf(fd_dir, sizeof(fd_dir), "%s/self/fd", path);
	if (bind_into(root, "proc/self/fd", fd_dir, true, BIND_RDONLY, err) < 0)
		return -1;
	if (umount2(path, MNT_DETACH) < 0 || rmdir(path) < 0)
		return husk_error_set(err, errno, "jail: let go of %s", path);
	return 0;
}

int jail_enter(const struct jail_spec *spec, husk_error_t *err)
{
	const char *root = spec->root;
	char path[PATH_MAX];

	if (mount("husk-jail", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k,nr_inodes=64") < 0)
		return husk_error_set(err, errno, "jail: tmpfs on %s", root);
	/* Read-only: the kernel and initrd are every container's, and the
	 * VMM only connects to the sockets in the state directory (a
	 * read-only mount does not stop a connect). */
	if ((spec->kernel &&
	     bind_into(root, "kernel", spec->kernel, false, BIND_RDONLY, err) < 0) ||
	    (spec->initrd &&
	     bind_into(root, "initrd", spec->initrd, false, BIND_RDONLY, err) < 0) ||
	    (spec->state_dir &&
	     bind_into(root, "state", spec->state_dir, true, BIND_RDONLY, err) < 0))
		return -1;
	if (spec->kvm) {
		snprintf(path, sizeof(path), "%s/dev", root);
		if (mkdir(path, 0755) < 0)
			return husk_error_set(err, errno, "jail: mkdir %s", path);
		if (bind_into(root, "dev/kvm", spec->kvm, false, BIND_DEVICE, err) < 0)
			return -1;
	}
	for (unsigned i = 0; i < spec->nshares; i++) {
		char name[32];
		jail_share_path(i, name, sizeof(name));
		unsigned how = BIND_REC | (spec->share_readonly[i] ? BIND_RDONLY : 0);
		if (bind_into(root, name + 1, spec->shares[i], true, how, err) < 0)
			return -1;
	}
	if (mount_proc_self(root, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/" OLD_ROOT, root);
	if (mkdir(path, 0700) < 0)
		return husk_error_set(err, errno, "jail: mkdir %s", path);
	if (syscall(SYS_pivot_root, root, path) < 0)
		return husk_error_set(err, errno, "jail: pivot_root to %s", root);
	/* Detached, the host's tree is gone from this namespace: nothing
	 * by path reaches it, and ".." from a share stops at the jail. */
	if (chdir("/") < 0 || umount2("/" OLD_ROOT, MNT_DETACH) < 0 || rmdir("/" OLD_ROOT) < 0)
		return husk_error_set(err, errno, "jail: let go of the host's root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return husk_error_set(err, errno, "jail: make its root read-only");
	return 0;
}
