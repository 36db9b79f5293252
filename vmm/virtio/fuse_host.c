/* How the FUSE server reaches host files, and what it lets the guest make
 * of them: opens beneath the share that follow nothing, O_PATH descriptors
 * reopened through /proc/self/fd, chmod without following a symlink, the
 * rules on set-ID bits, file capabilities, privileged xattrs and new
 * files' owners (fuse_server.h), and a host inode's status as the FUSE
 * attributes the guest caches. Kept apart from the operations so the calls
 * that touch the host by name or by magic link can be read, and checked,
 * together. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vmm/virtio/fuse_internal.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; newer than this libc's headers */
#endif

#define TIMEOUT_ALWAYS 86400 /* seconds: only the guest changes the share */
#define TIMEOUT_AUTO 1

static uint32_t encode_dev(dev_t d)
{
	/* The kernel's new_encode_dev(): what fuse_attr.rdev carries. */
	uint32_t ma = major(d), mi = minor(d);
	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

dev_t fuse_decode_dev(uint32_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

uint64_t fuse_timeout(const struct fuse_server *s)
{
	return s->cache_always ? TIMEOUT_ALWAYS : TIMEOUT_AUTO;
}

void fuse_fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino,
		.size = (uint64_t)st->st_size,
		.blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec,
		.mtime = (uint64_t)st->st_mtim.tv_sec,
		.ctime = (uint64_t)st->st_ctim.tv_sec,
		.atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctimensec = (uint32_t)st->st_ctim.tv_nsec,
		.mode = st->st_mode,
		.nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.rdev = encode_dev(st->st_rdev),
		.blksize = (uint32_t)st->st_blksize,
	};
}

int fuse_stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* "N" for descriptor FD, to name it beneath /proc/self/fd. */
void fuse_fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* Opens NAME, a single checked component, beneath directory DIRFD without
 * following any symlink. openat2 says so to the kernel; where it is
 * missing (or filtered), O_NOFOLLOW on one component is the same. */
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd;
}

/* Opens regular file node FD with FLAGS through its /proc/self/fd magic
 * link: the link names exactly that inode, which was checked to be a
 * regular file (so nothing is followed and no device is opened). */
int fuse_reopen(const struct fuse_server *s, int fd, int flags)
{
	char name[16];
	fuse_fd_name(fd, name);
	int r = openat(s->proc_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/* chmod of a node that is not a symlink: fchmodat2 on the descriptor, or
 * on kernels without it (before 6.6) the /proc/self/fd magic link, which
 * names that inode and, not being a symlink, leads nowhere else. */
int fuse_chmod_node(const struct fuse_server *s, int fd, mode_t type, mode_t mode)
{
	if (S_ISLNK(type))
		return -EOPNOTSUPP;
	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	char name[16];
	fuse_fd_name(fd, name);
	return fchmodat(s->proc_fd, name, mode, 0) < 0 ? -errno : 0;
}

/* Read-only from the start, or since the owner sealed the share. */
bool fuse_readonly(const struct fuse_server *s)
{
	return s->readonly || (s->sealed && atomic_load_explicit(s->sealed, memory_order_acquire));
}

/* The mode the guest may give an inode of TYPE that has the mode OLD (0
 * when new): WANT without the set-ID bits it may not add (header). A
 * directory may be set-group-ID: that hands its group to new entries, as
 * the kernel does, and runs nothing with anyone's rights. Set-ID bits a
 * file has already (the host's, or left after a chown, which clears them)
 * stay: they give the guest nothing new. */
mode_t fuse_setid_filter(const struct fuse_server *s, mode_t type, mode_t want, mode_t old)
{
	if (s->allow_setid)
		return want;
	mode_t forbidden = S_ISDIR(type) ? S_ISUID : S_ISUID | S_ISGID;
	return want & ~(forbidden & ~old);
}

/* FD, open on a regular file, is about to let the guest change its data
 * (a writable handle, a truncate, a writable DAX mapping): the file loses
 * its set-ID bits and file capabilities first, as on a write by anyone
 * without CAP_FSETID. The VMM has that capability, so the host kernel
 * would keep them, and a set-ID or capable program would run the guest's
 * code on the host. EPERM: the VMM lacks FOWNER or SETFCAP, so it lacks
 * FSETID too and the kernel drops them itself on the first write. */
int fuse_drop_privileges(const struct fuse_server *s, int fd)
{
	struct stat st;

	if (s->allow_setid)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & (S_ISUID | S_ISGID)) &&
	    fchmod(fd, st.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0 && errno != EPERM)
		return -errno;
	if (fremovexattr(fd, "security.capability") < 0 && errno != ENODATA &&
	    errno != EOPNOTSUPP && errno != EPERM)
		return -errno;
	return 0;
}

/* security.* (file capabilities, LSM labels, IMA) and trusted.* (overlayfs
 * redirects and the like, read by the host's own overlay mounts) mean
 * something to the host kernel: the guest sets neither unless allowed. */
bool fuse_privileged_xattr(const struct fuse_server *s, const char *name)
{
	return !s->allow_setid &&
	       (strncmp(name, "security.", 9) == 0 || strncmp(name, "trusted.", 8) == 0);
}

/* A new inode FD (O_PATH) was created in directory DIRFD for the request:
 * owner and mode become what the guest asked for (see the header). *ST is
 * its status, updated. */
int fuse_own_new(const struct fuse_server *s, const struct fuse_req *r, int dirfd, int fd,
		 mode_t mode, struct stat *st)
{
	struct stat dir;
	bool changed = false;
	int e;

	if (fstat(dirfd, &dir) < 0)
		return -errno;
	uid_t uid = r->in.uid;
	gid_t gid = (dir.st_mode & S_ISGID) ? dir.st_gid : r->in.gid;
	mode_t want = mode & 07777;
	if (S_ISDIR(st->st_mode) && (dir.st_mode & S_ISGID))
		want |= S_ISGID;
	want = fuse_setid_filter(s, st->st_mode & S_IFMT, want, 0);
	if (s->can_chown && (st->st_uid != uid || st->st_gid != gid)) {
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		changed = true;
	}
	/* Also undoes the VMM's umask (the guest applied its own) and the
	 * set-ID bits a chown cleared. */
	if (!S_ISLNK(st->st_mode) && (changed || (st->st_mode & 07777) != want)) {
		if ((e = fuse_chmod_node(s, fd, st->st_mode & S_IFMT, want)) < 0)
			return e;
		changed = true;
	}
	return changed ? fuse_stat_fd(fd, st) : 0;
}
