/* The FUSE operations on open files and directories: OPEN and CREATE,
 * READ and WRITE straight between the host file and the guest's buffers,
 * the handle's other operations (FLUSH, FSYNC, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE, RELEASE), and OPENDIR and READDIR(PLUS). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/iov.h"
#include "vmm/virtio/fuse_internal.h"
#include "vmm/virtio/queue.h"

/* Guest open flags to the host's: the access mode and flags that mean the
 * same on an already resolved file. O_DIRECT becomes FOPEN_DIRECT_IO (the
 * guest's buffers need not be aligned for the host's O_DIRECT). */
static int open_flags(const struct fuse_server *s, uint32_t guest, bool *writable)
{
	int acc = (int)guest & O_ACCMODE;

	if (acc == O_ACCMODE)
		return -EINVAL;
	*writable = acc != O_RDONLY;
	if (fuse_readonly(s) && (*writable || (guest & O_TRUNC)))
		return -EROFS;
	return acc | ((int)guest & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NOATIME));
}

static uint32_t fopen_flags(const struct fuse_server *s, uint32_t guest)
{
	uint32_t f = s->cache_always ? FOPEN_KEEP_CACHE : 0;
	if (guest & O_DIRECT)
		f = FOPEN_DIRECT_IO;
	return f;
}

int fuse_op_open(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_open_out *o = &s->out.open;
	const struct fuse_open_in *in = (const void *)r->arg;
	bool writable;

	NODE(s, r, n);
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (S_ISLNK(n->type))
		return -ELOOP;
	if (!S_ISREG(n->type))
		return -EACCES; /* devices, FIFOs, sockets: the guest serves those itself */
	int flags = open_flags(s, in->flags, &writable);
	if (flags < 0)
		return flags;
	if (flags & O_TRUNC)
		s->unsynced = true;
	int fd = fuse_reopen(s, n->fd, flags);
	if (fd < 0)
		return fd;
	int err = writable || (in->flags & O_TRUNC) ? fuse_drop_privileges(s, fd) : 0;
	if (err < 0) {
		close(fd);
		return err;
	}
	*o = (struct fuse_open_out){ .open_flags = fopen_flags(s, in->flags) };
	r->out = o;
	r->outlen = sizeof(*o);
	return fuse_handle_new(s, fd, false, writable, &o->fh);
}

int fuse_op_create(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_entry_out *e = &s->out.create.e;
	struct fuse_open_out *o = &s->out.create.o;
	const struct fuse_create_in *in = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*in);
	bool writable;
	struct stat st;
	struct fuse_node *n;
	int err;

	NODE(s, r, dir);
	if ((err = fuse_take_name(r, &pos, &name)) < 0 || (err = fuse_args_end(r, pos)) < 0)
		return err;
	int flags = open_flags(s, in->flags, &writable);
	if (flags < 0)
		return flags;
	/* Always O_EXCL, so an existing FIFO or device is never opened (it
	 * could block the server or reach a host device); an existing file
	 * is then opened the way OPEN does, after a look at its type. */
	cleanup_close int fd =
		fuse_open_beneath(dir->fd, name, flags | O_CREAT | O_EXCL,
				  fuse_setid_filter(s, S_IFREG, in->mode & 07777, 0));
	bool created = fd >= 0;
	if (!created) {
		if (errno != EEXIST || (in->flags & O_EXCL))
			return -errno;
		cleanup_close int path = fuse_open_beneath(dir->fd, name, O_PATH, 0);
		if (path < 0)
			return -errno;
		if ((err = fuse_stat_fd(path, &st)) < 0)
			return err;
		if (!S_ISREG(st.st_mode))
			return S_ISDIR(st.st_mode)   ? -EISDIR
			       : S_ISLNK(st.st_mode) ? -ELOOP
						     : -EACCES;
		if ((fd = fuse_reopen(s, path, flags)) < 0)
			return fd;
		if ((writable || (in->flags & O_TRUNC)) && (err = fuse_drop_privileges(s, fd)) < 0)
			return err;
	}
	/* The node: the open file itself, reopened as O_PATH through its
	 * magic link (its name may already name something else). */
	int pfd = fuse_reopen(s, fd, O_PATH);
	if (pfd < 0)
		return pfd;
	if ((err = fuse_stat_fd(pfd, &st)) < 0 ||
	    (created && (err = fuse_own_new(s, r, dir->fd, pfd, in->mode, &st)) < 0)) {
		close(pfd);
		return err;
	}
	if ((err = fuse_node_ref(s, pfd, &st, &n)) < 0)
		return err;
	fuse_fill_entry(s, e, n, &st);
	if ((err = fuse_handle_new(s, steal_fd(&fd), false, writable, &o->fh)) < 0) {
		fuse_node_unref(s, n, 1);
		return err;
	}
	o->open_flags = fopen_flags(s, in->flags);
	o->padding = 0;
	r->out = &s->out.create;
	r->outlen = sizeof(s->out.create);
	return 0;
}

/* preadv/pwritev of LEN bytes at OFF over N buffers, repeated on short
 * transfers; stops at end of file. Returns the bytes done or -errno. */
static ssize_t do_io(int fd, bool write, struct iovec *iov, size_t n, off_t off)
{
	size_t done = 0;

	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, (int)n, off) : preadv(fd, iov, (int)n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : -errno;
		if (r == 0)
			break;
		done += (size_t)r;
		off += r;
		iov_advance(&iov, &n, (size_t)r);
	}
	return (ssize_t)done;
}

int fuse_op_read(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, false);

	if (!h)
		return -EBADF;
	if (in->offset > INT64_MAX)
		return -EINVAL;
	/* Straight into the guest's buffers, at most what they hold. */
	size_t size = in->size;
	if (size > FUSE_SERVER_MAX_IO)
		size = FUSE_SERVER_MAX_IO;
	if (size > r->replen - HDR_OUT)
		size = r->replen - HDR_OUT;
	if (r->nrep > MAX_SEGS)
		return -EINVAL;
	unsigned n = iov_slice(s->iov, r->rep, r->nrep, HDR_OUT, size);
	ssize_t got = do_io(h->fd, false, s->iov, n, (off_t)in->offset);
	if (got < 0)
		return (int)got;
	r->outlen = (size_t)got;
	r->direct = true;
	return 0;
}

int fuse_op_write(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_write_out *o = &s->out.write;
	const struct fuse_write_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, false);

	if (!h || !h->writable)
		return -EBADF;
	if (in->size > r->datalen || in->size > FUSE_SERVER_MAX_IO || in->offset > INT64_MAX)
		return -EINVAL;
	if (r->nreq > MAX_SEGS)
		return -EINVAL;
	/* Straight from the guest's buffers. */
	unsigned n = iov_slice(s->iov, r->req, r->nreq, HDR_IN + sizeof(*in), in->size);
	ssize_t done = do_io(h->fd, true, s->iov, n, (off_t)in->offset);
	if (done < 0)
		return (int)done;
	*o = (struct fuse_write_out){ .size = (uint32_t)done };
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

int fuse_op_release(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_release_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, r->in.opcode == FUSE_RELEASEDIR);

	if (!h)
		return -EBADF;
	fuse_handle_free(s, h);
	return 0;
}

int fuse_op_fsync(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_fsync_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, r->in.opcode == FUSE_FSYNCDIR);

	if (!h)
		return -EBADF;
	int ret = (in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd);
	return ret < 0 ? -errno : 0;
}

int fuse_op_flush(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_flush_in *in = (const void *)r->arg;

	/* Nothing is buffered and no locks are held for the guest. */
	return fuse_handle_get(s, in->fh, false) ? 0 : -EBADF;
}

int fuse_op_opendir(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_open_out *o = &s->out.open;

	NODE(s, r, n);
	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	/* "." beneath the directory's own descriptor is that directory. */
	int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*o = (struct fuse_open_out){ .open_flags = s->cache_always
							   ? FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR
							   : 0 };
	r->out = o;
	r->outlen = sizeof(*o);
	return fuse_handle_new(s, fd, true, false, &o->fh);
}

struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* READDIR and READDIRPLUS. Offsets are the host directory's own d_off
 * cookies, so the guest's offset is simply sought to. READDIRPLUS looks
 * each entry up (one more reference, which the guest forgets); "." and
 * ".." and entries that cannot be looked up go out with node id 0, which
 * the guest takes as "no attributes", not as an error. */
int fuse_op_readdir(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	bool plus = r->in.opcode == FUSE_READDIRPLUS;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, true);

	if (!h)
		return -EBADF;
	size_t size = in->size;
	if (size > sizeof(s->scratch))
		size = sizeof(s->scratch);
	if (size > r->replen - HDR_OUT)
		size = r->replen - HDR_OUT;
	if (in->offset > INT64_MAX || lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0)
		return in->offset > INT64_MAX ? -EINVAL : -errno;

	/* Read about as many host entries as fit in the reply (a plus entry
	 * is some six times a host one); the rest would be read again. */
	size_t want = plus ? size / 4 : size;
	if (want < 1024)
		want = 1024;
	if (want > sizeof(s->dents))
		want = sizeof(s->dents);
	size_t used = 0;
	for (;;) {
		ssize_t got = getdents64(h->fd, s->dents, want);
		if (got < 0) {
			if (used)
				break;
			return -errno;
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dent64 *d = (struct dent64 *)(s->dents + off);
			if (d->d_reclen == 0)
				return -EIO;
			off += d->d_reclen;
			size_t namelen = strlen(d->d_name);
			size_t fixed = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
			size_t reclen = FUSE_DIRENT_ALIGN(fixed + namelen);
			if (used + reclen > size)
				goto full; /* the next request starts at this entry */
			uint8_t *rec = s->scratch + used;
			memset(rec, 0, reclen);
			struct fuse_dirent *fd =
				(struct fuse_dirent *)(rec + fixed - FUSE_NAME_OFFSET);
			fd->ino = d->d_ino;
			fd->off = (uint64_t)d->d_off;
			fd->namelen = (uint32_t)namelen;
			fd->type = d->d_type;
			memcpy(fd->name, d->d_name, namelen);
			if (plus && strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
				struct fuse_entry_out e;
				if (fuse_lookup_at(s, h->fd, d->d_name, &e) == 0)
					memcpy(rec, &e, sizeof(e));
			}
			used += reclen;
		}
	}
full:
	r->out = s->scratch;
	r->outlen = used;
	return 0;
}

int fuse_op_fallocate(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_fallocate_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, false);

	if (!h || !h->writable)
		return -EBADF;
	if (in->offset > INT64_MAX || in->length > INT64_MAX)
		return -EINVAL;
	return fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0 ? -errno
											 : 0;
}

int fuse_op_lseek(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_lseek_out *o = &s->out.lseek;
	const struct fuse_lseek_in *in = (const void *)r->arg;
	struct fuse_handle *h = fuse_handle_get(s, in->fh, false);

	if (!h)
		return -EBADF;
	/* The guest seeks SET, CUR and END itself; DATA and HOLE need the
	 * host's file. The descriptor's own offset is not used otherwise. */
	if ((in->whence != SEEK_DATA && in->whence != SEEK_HOLE) || in->offset > INT64_MAX)
		return -EINVAL;
	off_t off = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	if (off < 0)
		return -errno;
	o->offset = (uint64_t)off;
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

int fuse_op_copy_file_range(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_write_out *o = &s->out.write;
	const struct fuse_copy_file_range_in *in = (const void *)r->arg;
	struct fuse_handle *hin = fuse_handle_get(s, in->fh_in, false);
	struct fuse_handle *hout = fuse_handle_get(s, in->fh_out, false);

	if (!hin || !hout || !hout->writable)
		return -EBADF;
	if (in->flags || in->off_in > INT64_MAX || in->off_out > INT64_MAX)
		return -EINVAL;
	/* The reply counts in 32 bits; a bounded length also bounds the
	 * time one request may hold the server. */
	size_t len = in->len < (1U << 30) ? in->len : (1U << 30);
	loff_t off_in = (loff_t)in->off_in, off_out = (loff_t)in->off_out;
	ssize_t n = copy_file_range(hin->fd, &off_in, hout->fd, &off_out, len, 0);
	if (n < 0)
		return -errno;
	*o = (struct fuse_write_out){ .size = (uint32_t)n };
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}
