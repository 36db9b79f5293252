/* DAX for the FUSE server: the window of the VMM's address space that the
 * VMM makes guest memory, and SETUPMAPPING and REMOVEMAPPING, which map a
 * file's host page cache into it and punch it back to a hole. Apart from
 * the other operations because it is the one place where the guest reaches
 * host memory without a request per access (fuse_server.h says what that
 * costs and allows). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/virtio/fuse_internal.h"

/* ---- mappings -------------------------------------------------------- */

/* [OFF, OFF + LEN) of the window back to a hole: an anonymous PROT_NONE
 * mapping, which drops the file pages (and the file) mapped there and keeps
 * the range reserved, so nothing else the VMM maps can land in guest
 * memory. */
static int dax_clear(struct fuse_server *s, uint64_t off, uint64_t len)
{
	void *p = mmap(s->dax_base + off, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? -errno : 0;
}

/* A range of the window the guest names: starts on the mapping alignment,
 * whole pages, inside the window. */
static bool dax_range_ok(const struct fuse_server *s, uint64_t off, uint64_t len)
{
	return len > 0 && off % FUSE_SERVER_DAX_ALIGN == 0 && len % 4096 == 0 &&
	       off <= s->dax_size && len <= s->dax_size - off;
}

/* Maps LEN bytes of the file at FOFFSET at MOFFSET in the window. Linux
 * sends no handle (fh is -1): the server opens the inode itself, for
 * writing only when asked and the share allows it. */
int fuse_op_setupmapping(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_setupmapping_in *in = (const void *)r->arg;
	const uint64_t known = FUSE_SETUPMAPPING_FLAG_READ | FUSE_SETUPMAPPING_FLAG_WRITE;
	bool writable = in->flags & FUSE_SETUPMAPPING_FLAG_WRITE;

	if (!s->dax_base)
		return -ENOSYS;
	NODE(s, r, n);
	if ((in->flags & ~known) || !dax_range_ok(s, in->moffset, in->len) ||
	    in->foffset % FUSE_SERVER_DAX_ALIGN || in->foffset > (uint64_t)INT64_MAX - in->len)
		return -EINVAL;
	if (n->type != S_IFREG)
		return -EINVAL; /* only regular files are ever opened (header) */
	if (writable && fuse_readonly(s))
		return -EROFS;
	int fd = fuse_reopen(s, n->fd, writable ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return fd;
	int err = writable ? fuse_drop_privileges(s, fd) : 0;
	if (err < 0) {
		close(fd);
		return err;
	}
	void *p = mmap(s->dax_base + in->moffset, in->len, PROT_READ | (writable ? PROT_WRITE : 0),
		       MAP_SHARED | MAP_FIXED, fd, (off_t)in->foffset);
	int e = errno;
	close(fd); /* the mapping holds the file */
	if (p != MAP_FAILED) {
		s->dax_writable |= writable;
		return 0;
	}
	/* A failed MAP_FIXED may already have unmapped the range. */
	dax_clear(s, in->moffset, in->len);
	return -e;
}

int fuse_op_removemapping(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_removemapping_in in;
	struct fuse_removemapping_one one;
	const size_t max = 4096 / sizeof(one); /* FUSE_REMOVEMAPPING_MAX_ENTRY */
	int err;

	if (!s->dax_base)
		return -ENOSYS;
	memcpy(&in, r->arg, sizeof(in));
	if (in.count == 0 || in.count > max || r->arglen != sizeof(in) + in.count * sizeof(one))
		return -EINVAL;
	/* All or nothing: every range is checked before any is removed. */
	for (uint32_t i = 0; i < in.count; i++) {
		memcpy(&one, r->arg + sizeof(in) + i * sizeof(one), sizeof(one));
		if (!dax_range_ok(s, one.moffset, one.len))
			return -EINVAL;
	}
	for (uint32_t i = 0; i < in.count; i++) {
		memcpy(&one, r->arg + sizeof(in) + i * sizeof(one), sizeof(one));
		if ((err = dax_clear(s, one.moffset, one.len)) < 0)
			return err;
	}
	return 0;
}

/* ---- the window ------------------------------------------------------ */

void fuse_server_dax_window(const struct fuse_server *s, void **base, uint64_t *size)
{
	*base = s->dax_base;
	*size = s->dax_size;
}

/* Reserves a window of SIZE bytes (0: none) for share DIR. */
int fuse_dax_init(struct fuse_server *s, const char *dir, uint64_t size, husk_error_t *err)
{
	if (!size)
		return 0;
	if (size % FUSE_SERVER_DAX_ALIGN || size > FUSE_SERVER_DAX_MAX) {
		husk_error_set(
			err, EINVAL,
			"share %s: DAX window of %llu bytes: want a multiple of 2 MiB, at most %llu GiB",
			dir, (unsigned long long)size,
			(unsigned long long)(FUSE_SERVER_DAX_MAX >> 30));
		return -1;
	}
	/* One alignment unit more than asked for, so an aligned window
	 * fits: aligned file offsets then map as huge pages where
	 * the host's page cache has them. */
	size_t len = (size_t)size + FUSE_SERVER_DAX_ALIGN;
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		husk_error_set(err, errno, "share %s: DAX window", dir);
		return -1;
	}
	s->reserved = p;
	s->reserved_len = len;
	s->dax_base = (uint8_t *)(((uintptr_t)p + FUSE_SERVER_DAX_ALIGN - 1) &
				  ~(uintptr_t)(FUSE_SERVER_DAX_ALIGN - 1));
	s->dax_size = size;
	return 0;
}

/* Every mapping goes: the guest forgot them with the rest (driver reset). */
void fuse_dax_reset(struct fuse_server *s)
{
	if (s->dax_base)
		dax_clear(s, 0, s->dax_size);
	s->dax_writable = false;
}

void fuse_dax_destroy(struct fuse_server *s)
{
	if (s->reserved)
		munmap(s->reserved, s->reserved_len);
}
