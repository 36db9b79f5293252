/* The FUSE operations on the namespace and on inodes: lookups and
 * forgets, attributes, new entries (MKNOD, MKDIR, SYMLINK, LINK), removal
 * and rename, xattrs, ACCESS, STATFS and SYNCFS. Everything that holds a
 * file open is in fuse_io.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "vmm/virtio/fuse_internal.h"

/* The tail of MKNOD, MKDIR and SYMLINK: NAME now exists in DIRFD. */
static int finish_new(struct fuse_server *s, struct fuse_req *r, int dirfd, const char *name,
		      mode_t mode, struct fuse_entry_out *e)
{
	struct stat st;
	struct fuse_node *n;

	int fd = fuse_open_beneath(dirfd, name, O_PATH, 0);
	if (fd < 0)
		return -errno;
	int err = fuse_stat_fd(fd, &st);
	if (err == 0)
		err = fuse_own_new(s, r, dirfd, fd, mode, &st);
	if (err < 0) {
		close(fd);
		return err;
	}
	if ((err = fuse_node_ref(s, fd, &st, &n)) < 0)
		return err;
	fuse_fill_entry(s, e, n, &st);
	r->out = e;
	r->outlen = sizeof(*e);
	return 0;
}

int fuse_op_lookup(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const char *name;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	r->out = e;
	r->outlen = sizeof(*e);
	err = fuse_lookup_at(s, dir->fd, name, e);
	if (err == -ENOENT) {
		/* A negative entry the guest may cache as long as others. */
		*e = (struct fuse_entry_out){ .entry_valid = fuse_timeout(s) };
		return 0;
	}
	return err;
}

int fuse_op_forget(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_forget_in *f = (const void *)r->arg;
	struct fuse_node *n = fuse_node_get(s, r->in.nodeid);

	if (n)
		fuse_node_unref(s, n, f->nlookup);
	return 0;
}

int fuse_op_batch_forget(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_batch_forget_in *b = (const void *)r->arg;
	const struct fuse_forget_one *one = (const void *)(b + 1);
	size_t room = (r->arglen - sizeof(*b)) / sizeof(*one);

	for (size_t i = 0; i < b->count && i < room; i++) {
		struct fuse_node *n = fuse_node_get(s, one[i].nodeid);
		if (n)
			fuse_node_unref(s, n, one[i].nlookup);
	}
	return 0;
}

int fuse_op_getattr(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_attr_out *o = &s->out.attr;
	struct stat st;

	NODE(s, r, n);
	int err = fuse_stat_fd(n->fd, &st);
	if (err < 0)
		return err;
	*o = (struct fuse_attr_out){ .attr_valid = fuse_timeout(s) };
	fuse_fill_attr(&o->attr, &st);
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

static int set_times(const struct fuse_server *s, const struct fuse_node *n,
		     const struct fuse_setattr_in *a)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (a->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ (time_t)a->atime, a->atimensec };
	if (a->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ (time_t)a->mtime, a->mtimensec };
	if ((!(a->valid & FATTR_ATIME_NOW) && (a->valid & FATTR_ATIME) &&
	     a->atimensec >= 1000000000) ||
	    (!(a->valid & FATTR_MTIME_NOW) && (a->valid & FATTR_MTIME) &&
	     a->mtimensec >= 1000000000))
		return -EINVAL;
	if (utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* Kernels before 5.8 take no AT_EMPTY_PATH here; then the magic link,
	 * which leads to the inode itself unless that is a symlink. */
	if (errno != EINVAL || S_ISLNK(n->type))
		return -errno;
	char name[16];
	fuse_fd_name(n->fd, name);
	return utimensat(s->proc_fd, name, ts, 0) < 0 ? -errno : 0;
}

int fuse_op_setattr(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_setattr_in *a = (const void *)r->arg;
	struct fuse_handle *h = NULL;
	int err;

	NODE(s, r, n);
	if ((a->valid & FATTR_FH) && !(h = fuse_handle_get(s, a->fh, false)))
		return -EBADF;
	if (a->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (a->valid & FATTR_UID) ? a->uid : (uid_t)-1;
		gid_t gid = (a->valid & FATTR_GID) ? a->gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	/* After the chown, which clears set-ID bits the new mode may set, and
	 * the filter, which sees what the chown left. */
	if (a->valid & FATTR_MODE) {
		struct stat st;
		if ((err = fuse_stat_fd(n->fd, &st)) < 0 ||
		    (err = fuse_chmod_node(s, n->fd, n->type,
					   fuse_setid_filter(s, n->type, a->mode & 07777,
							     st.st_mode & 07777))) < 0)
			return err;
	}
	if (a->valid & FATTR_SIZE) {
		if (a->size > INT64_MAX)
			return -EINVAL;
		if (S_ISDIR(n->type))
			return -EISDIR;
		if (!S_ISREG(n->type))
			return -EINVAL;
		if (h && h->writable) {
			if ((err = fuse_drop_privileges(s, h->fd)) < 0)
				return err;
			if (ftruncate(h->fd, (off_t)a->size) < 0)
				return -errno;
		} else {
			cleanup_close int fd = fuse_reopen(s, n->fd, O_WRONLY);
			if (fd < 0)
				return fd;
			if ((err = fuse_drop_privileges(s, fd)) < 0)
				return err;
			if (ftruncate(fd, (off_t)a->size) < 0)
				return -errno;
		}
	}
	if ((a->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) &&
	    (err = set_times(s, n, a)) < 0)
		return err;
	return fuse_op_getattr(s, r);
}

int fuse_op_readlink(struct fuse_server *s, struct fuse_req *r)
{
	NODE(s, r, n);
	if (!S_ISLNK(n->type))
		return -EINVAL;
	size_t room = r->replen - HDR_OUT;
	ssize_t len = readlinkat(n->fd, "", (char *)s->scratch, room < PATH_MAX ? room : PATH_MAX);
	if (len < 0)
		return -errno;
	r->out = s->scratch;
	r->outlen = (size_t)len;
	return 0;
}

int fuse_op_symlink(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const char *name, *target;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 ||
	    (err = fuse_take_string(r, &pos, PATH_MAX - 1, &target)) < 0 ||
	    (err = fuse_args_end(r, pos)) < 0)
		return err;
	/* The target is only stored: the host never follows it. */
	if (symlinkat(target, dir->fd, name) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, 0777, e);
}

int fuse_op_mknod(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_mknod_in *m = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*m);
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	mode_t type = m->mode & S_IFMT;
	dev_t rdev = 0;
	switch (type) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK: break;
	case S_IFCHR:
	case S_IFBLK:
		rdev = fuse_decode_dev(m->rdev);
		/* overlayfs's whiteout, char 0:0, opens nothing. */
		if (!s->allow_devices && !(type == S_IFCHR && rdev == 0))
			return -EPERM;
		break;
	default: return -EINVAL;
	}
	if (mknodat(dir->fd, name, type | fuse_setid_filter(s, type, m->mode & 07777, 0), rdev) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, m->mode, e);
}

int fuse_op_mkdir(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_mkdir_in *m = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*m);
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	if (mkdirat(dir->fd, name, fuse_setid_filter(s, S_IFDIR, m->mode & 07777, 0)) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, m->mode, e);
}

static int remove_entry(struct fuse_server *s, struct fuse_req *r, int flags)
{
	const char *name;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	return unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
}

int fuse_op_unlink(struct fuse_server *s, struct fuse_req *r)
{
	return remove_entry(s, r, 0);
}

int fuse_op_rmdir(struct fuse_server *s, struct fuse_req *r)
{
	return remove_entry(s, r, AT_REMOVEDIR);
}

static int do_rename(struct fuse_server *s, struct fuse_req *r, uint64_t newdir, uint32_t flags,
		     size_t pos)
{
	const char *oldname, *newname;
	int err;

	NODE(s, r, olddir);
	struct fuse_node *nd = fuse_node_get(s, newdir);
	if (!nd)
		return -ESTALE;
	if ((err = fuse_take_name(r, &pos, &oldname)) < 0 ||
	    (err = fuse_take_name(r, &pos, &newname)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return renameat2(olddir->fd, oldname, nd->fd, newname, flags) < 0 ? -errno : 0;
}

int fuse_op_rename(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_rename_in *in = (const void *)r->arg;
	return do_rename(s, r, in->newdir, 0, sizeof(*in));
}

int fuse_op_rename2(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_rename2_in *in = (const void *)r->arg;
	return do_rename(s, r, in->newdir, in->flags, sizeof(*in));
}

int fuse_op_link(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_link_in *in = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*in);
	int err;

	NODE(s, r, dir);
	struct fuse_node *old = fuse_node_get(s, in->oldnodeid);
	if (!old)
		return -ESTALE;
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	if (S_ISDIR(old->type))
		return -EPERM;
	if (linkat(old->fd, "", dir->fd, name, AT_EMPTY_PATH) < 0) {
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; otherwise the
		 * magic link (not for a symlink: it could lead elsewhere). */
		if (errno != ENOENT || S_ISLNK(old->type))
			return -errno;
		char oldname[16];
		fuse_fd_name(old->fd, oldname);
		if (linkat(s->proc_fd, oldname, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
			return -errno;
	}
	r->out = e;
	r->outlen = sizeof(*e);
	return fuse_lookup_at(s, dir->fd, name, e);
}

int fuse_op_statfs(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_statfs_out *o = &s->out.statfs;
	struct statfs st;

	NODE(s, r, n);
	if (fstatfs(n->fd, &st) < 0)
		return -errno;
	*o = (struct fuse_statfs_out){ .st = {
					       .blocks = st.f_blocks,
					       .bfree = st.f_bfree,
					       .bavail = st.f_bavail,
					       .files = st.f_files,
					       .ffree = st.f_ffree,
					       .bsize = (uint32_t)st.f_bsize,
					       .namelen = (uint32_t)st.f_namelen,
					       .frsize = (uint32_t)st.f_frsize,
				       } };
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

int fuse_op_access(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_access_in *in = (const void *)r->arg;
	struct stat st;

	NODE(s, r, n);
	int err = fuse_stat_fd(n->fd, &st);
	if (err < 0)
		return err;
	uint32_t mask = in->mask & 7;
	if ((mask & W_OK) && fuse_readonly(s))
		return -EROFS;
	/* The caller's own credentials; its supplementary groups are not in
	 * the request, so only its primary group counts. */
	if (r->in.uid == 0) {
		/* root may execute only what someone may execute */
		bool x_ok = S_ISDIR(st.st_mode) || (st.st_mode & 0111);
		return (mask & X_OK) && !x_ok ? -EACCES : 0;
	}
	uint32_t bits = r->in.uid == st.st_uid	 ? st.st_mode >> 6
			: r->in.gid == st.st_gid ? st.st_mode >> 3
						 : st.st_mode;
	return (bits & mask) == mask ? 0 : -EACCES;
}

/* xattrs have no *at() calls: the node's magic link names its inode, and
 * for anything but a symlink leads nowhere else. A symlink's own xattrs
 * cannot be reached without following it, so they are refused. */
static int xattr_path(const struct fuse_node *n, char path[32])
{
	if (S_ISLNK(n->type))
		return -EPERM;
	snprintf(path, 32, "/proc/self/fd/%d", n->fd);
	return 0;
}

int fuse_op_setxattr(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_setxattr_in *in = (const void *)r->arg;
	const char *name;
	char path[32];
	size_t pos = FUSE_COMPAT_SETXATTR_IN_SIZE;
	int err;

	NODE(s, r, n);
	if ((err = fuse_take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0)
		return err;
	if (in->size > XATTR_SIZE_MAX || in->size != r->arglen - pos)
		return -EINVAL;
	if (fuse_privileged_xattr(s, name))
		return -EPERM;
	if ((err = xattr_path(n, path)) < 0)
		return err;
	return setxattr(path, name, r->arg + pos, in->size, (int)in->flags) < 0 ? -errno : 0;
}

/* GETXATTR and LISTXATTR: with size 0 the size needed, else the bytes. */
static int xattr_reply(struct fuse_server *s, struct fuse_req *r, uint32_t size, ssize_t got)
{
	struct fuse_getxattr_out *o = &s->out.xattr;

	if (got < 0)
		return -errno;
	if (size == 0) {
		*o = (struct fuse_getxattr_out){ .size = (uint32_t)got };
		r->out = o;
		r->outlen = sizeof(*o);
	} else {
		r->out = s->scratch;
		r->outlen = (size_t)got;
	}
	return 0;
}

static size_t xattr_room(const struct fuse_req *r, uint32_t size)
{
	size_t room = r->replen - HDR_OUT;
	if (room > XATTR_SIZE_MAX)
		room = XATTR_SIZE_MAX;
	return size < room ? size : room;
}

int fuse_op_getxattr(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	const char *name;
	char path[32];
	size_t pos = sizeof(*in);
	int err;

	NODE(s, r, n);
	if ((err = fuse_take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0 ||
	    (err = fuse_args_end(r, pos)) < 0)
		return err;
	if (in->size == 0 && r->replen < HDR_OUT + sizeof(struct fuse_getxattr_out))
		return -EINVAL;
	if ((err = xattr_path(n, path)) < 0)
		return err == -EPERM ? -ENODATA : err;
	size_t room = xattr_room(r, in->size);
	return xattr_reply(s, r, in->size, getxattr(path, name, room ? s->scratch : NULL, room));
}

int fuse_op_listxattr(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	char path[32];

	NODE(s, r, n);
	if (in->size == 0 && r->replen < HDR_OUT + sizeof(struct fuse_getxattr_out))
		return -EINVAL;
	if (xattr_path(n, path) < 0)
		return xattr_reply(s, r, in->size, 0); /* a symlink: none we can show */
	size_t room = xattr_room(r, in->size);
	return xattr_reply(s, r, in->size, listxattr(path, room ? (char *)s->scratch : NULL, room));
}

int fuse_op_removexattr(struct fuse_server *s, struct fuse_req *r)
{
	const char *name;
	char path[32];
	size_t pos = 0;
	int err;

	NODE(s, r, n);
	if ((err = fuse_take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0 ||
	    (err = fuse_args_end(r, pos)) < 0)
		return err;
	if ((err = xattr_path(n, path)) < 0)
		return err;
	return removexattr(path, name) < 0 ? -errno : 0;
}

/* syncfs() writes back the whole host filesystem holding the share, other
 * tenants' data included, so a guest must not make the host do it at will:
 * a SYNCFS with nothing changed through the share since the last one costs
 * nothing, and host syncs are at least FUSE_SERVER_SYNCFS_INTERVAL_MS apart
 * (a SYNCFS waits for its turn, so it still returns only once what the
 * guest wrote is on disk). fsync() of the files the server holds open
 * would not do: data written through a file the guest has since closed
 * is reached only through the filesystem. */
int fuse_op_syncfs(struct fuse_server *s, struct fuse_req *r)
{
	(void)r;
	if (!s->unsynced && !s->dax_writable)
		return 0;
	struct timespec next = s->last_syncfs;
	next.tv_nsec += FUSE_SERVER_SYNCFS_INTERVAL_MS * 1000000L;
	next.tv_sec += next.tv_nsec / 1000000000L;
	next.tv_nsec %= 1000000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
		;
	cleanup_close int fd =
		openat(fuse_node_at(s, 0)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Cleared first: changes made from here on need the next sync. */
	s->unsynced = false;
	int ret = syncfs(fd) < 0 ? -errno : 0;
	if (ret < 0)
		s->unsynced = true;
	clock_gettime(CLOCK_MONOTONIC, &s->last_syncfs);
	return ret;
}
