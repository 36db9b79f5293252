/* The FUSE server behind virtio-fs; the design and the security rules are
 * in fuse_server.h. Request and reply layouts are <linux/fuse.h>; open
 * flags, errno values and the dirent types are the same numbers in an
 * x86-64 guest and an x86-64 host, so they pass through unchanged. */
#include "vmm/virtio/fuse_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "vmm/virtio/queue.h"
#include "base/cleanup.h"
#include "base/iov.h"
#include "base/slot_table.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; newer than this libc's headers */
#endif

#define MIN_MINOR 31 /* virtio-fs came with 7.31 (Linux 5.4) */
#define HDR_IN ((uint32_t)sizeof(struct fuse_in_header))
#define HDR_OUT ((uint32_t)sizeof(struct fuse_out_header))
#define BUCKET_BITS 14
/* A request's arguments, WRITE's data excepted: at most SETXATTR's fixed
 * part, name and a 64 KiB value. */
#define ARGS_MAX (XATTR_SIZE_MAX + 4096)
/* Variable replies: READLINK, GETXATTR, LISTXATTR, READDIR(PLUS). */
#define SCRATCH_MAX (XATTR_SIZE_MAX + 4096)
#define DENTS_MAX (32 * 1024)
#define MAX_SEGS 1024 /* IOV_MAX: what one preadv/pwritev takes */

#define TIMEOUT_ALWAYS 86400 /* seconds: only the guest changes the share */
#define TIMEOUT_AUTO 1

/* The node id is the slot table's id: slot and reuse count. */
struct node {
	int fd;           /* O_PATH | O_NOFOLLOW */
	uint32_t next;    /* hash chain: slot + 1, 0 ends it */
	uint64_t nlookup; /* references the guest holds: lookups minus forgets */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits: an inode never changes type */
};

struct handle {
	int fd; /* an open file or directory */
	bool dir;
	bool writable;
};

struct fuse_server {
	bool readonly, cache_always, allow_devices, can_chown, allow_setid;
	const atomic_bool *sealed; /* read-only once true (fuse_server.h) */
	int proc_fd; /* /proc/self/fd, to reopen O_PATH descriptors */
	bool initialized;
	uint32_t minor;

	/* SYNCFS: whether the guest may have changed the share since the
	 * last host syncfs(), and when that one ended (CLOCK_MONOTONIC). A
	 * writable DAX mapping changes files without requests. */
	bool unsynced, dax_writable;
	struct timespec last_syncfs;

	struct slot_table nodes; /* of struct node; slot 0 is the share's root, node id 1 */
	uint32_t buckets[1U << BUCKET_BITS];

	struct slot_table handles; /* of struct handle */

	struct fuse_fd_pool *fds; /* the VM's, or own_fds */
	struct fuse_fd_pool own_fds;

	/* DAX: dax_size bytes at dax_base, aligned to FUSE_SERVER_DAX_ALIGN
	 * inside a PROT_NONE reservation of reserved_len bytes at reserved. */
	uint8_t *dax_base, *reserved;
	uint64_t dax_size;
	size_t reserved_len;

	/* Fixed-size replies are built here: one request at a time. */
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
		struct fuse_open_out open;
		struct fuse_init_out init;
		struct fuse_write_out write;
		struct fuse_statfs_out statfs;
		struct fuse_getxattr_out xattr;
		struct fuse_lseek_out lseek;
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} create;
	} out;
	uint8_t args[ARGS_MAX];
	uint8_t scratch[SCRATCH_MAX];
	uint8_t dents[DENTS_MAX];
	struct iovec iov[MAX_SEGS];
};

/* One request being served. */
struct req {
	struct fuse_in_header in;
	const uint8_t *arg; /* the arguments, copied out of guest memory */
	size_t arglen;      /* their length (WRITE: the fixed part only) */
	size_t datalen;     /* WRITE: the data bytes that follow */
	const struct iovec *req, *rep;
	unsigned nreq, nrep;
	size_t replen; /* room for the reply, header included */
	/* The reply's payload: OUT, or already written after the header. */
	const void *out;
	size_t outlen;
	bool direct;
};

/* ---- small helpers --------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static uint32_t encode_dev(dev_t d)
{
	/* The kernel's new_encode_dev(): what fuse_attr.rdev carries. */
	uint32_t ma = major(d), mi = minor(d);
	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffU) << 12);
}

static dev_t decode_dev(uint32_t d)
{
	return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
}

static uint64_t timeout(const struct fuse_server *s)
{
	return s->cache_always ? TIMEOUT_ALWAYS : TIMEOUT_AUTO;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
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

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* "N" for descriptor FD, to name it beneath /proc/self/fd. */
static void fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* Opens NAME, a single checked component, beneath directory DIRFD without
 * following any symlink. openat2 says so to the kernel; where it is
 * missing (or filtered), O_NOFOLLOW on one component is the same. */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
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
static int reopen(const struct fuse_server *s, int fd, int flags)
{
	char name[16];
	fd_name(fd, name);
	int r = openat(s->proc_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/* ---- arguments ------------------------------------------------------- */

/* A C string at *POS within the arguments, ending (NUL) inside them; *POS
 * moves past it. */
static int take_string(const struct req *r, size_t *pos, size_t max, const char **out)
{
	if (*pos > r->arglen)
		return -EINVAL;
	const char *p = (const char *)r->arg + *pos;
	const char *nul = memchr(p, '\0', r->arglen - *pos);
	if (!nul || nul == p)
		return -EINVAL;
	if ((size_t)(nul - p) > max)
		return -ENAMETOOLONG;
	*pos += (size_t)(nul - p) + 1;
	*out = p;
	return 0;
}

/* A directory entry name: one component, never "." or ".." (see the
 * header for why LOOKUP does not need them). */
static int take_name(const struct req *r, size_t *pos, const char **out)
{
	int e = take_string(r, pos, NAME_MAX, out);
	if (e < 0)
		return e;
	if (strchr(*out, '/') || strcmp(*out, ".") == 0 || strcmp(*out, "..") == 0)
		return -EINVAL;
	return 0;
}

/* The request's strings must end exactly where its arguments do: trailing
 * bytes would be a name with an embedded NUL. */
static int args_end(const struct req *r, size_t pos)
{
	return pos == r->arglen ? 0 : -EINVAL;
}

/* ---- the inode table ------------------------------------------------- */

static uint32_t bucket(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ULL)) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> (64 - BUCKET_BITS));
}

static struct node *node_at(const struct fuse_server *s, uint32_t slot)
{
	return slot_table_at(&s->nodes, slot);
}

static uint32_t node_slot(const struct fuse_server *s, const struct node *n)
{
	return slot_table_slot(&s->nodes, n);
}

static uint64_t node_id(const struct fuse_server *s, const struct node *n)
{
	return slot_table_id(&s->nodes, node_slot(s, n));
}

/* The node a guest node id names, or NULL: the slot must be in use and of
 * the same generation (a forgotten id is stale, not the slot's new file). */
static struct node *get_node(struct fuse_server *s, uint64_t id)
{
	return slot_table_get(&s->nodes, id);
}

static void hash_remove(struct fuse_server *s, struct node *n)
{
	uint32_t self = node_slot(s, n) + 1;
	uint32_t *p = &s->buckets[bucket(n->dev, n->ino)];
	while (*p && *p != self)
		p = &node_at(s, *p - 1)->next;
	if (*p)
		*p = n->next;
}

/* One descriptor more for a table entry, if the pool has room. */
static bool fds_take(struct fuse_server *s)
{
	uint32_t used = atomic_load(&s->fds->used);
	do {
		if (used >= s->fds->limit)
			return false;
	} while (!atomic_compare_exchange_weak(&s->fds->used, &used, used + 1));
	return true;
}

static void fds_put(struct fuse_server *s)
{
	atomic_fetch_sub(&s->fds->used, 1);
}

/* Takes FD, an O_PATH descriptor beneath the share with *ST its status,
 * and returns the node of that inode with one more lookup reference. FD is
 * consumed either way. The same inode reached by another name (a hard
 * link) is the same node, as the guest kernel requires. */
static int node_ref(struct fuse_server *s, int fd, const struct stat *st, struct node **out)
{
	uint32_t b = bucket(st->st_dev, st->st_ino);

	for (uint32_t i = s->buckets[b]; i; i = node_at(s, i - 1)->next) {
		struct node *n = node_at(s, i - 1);
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			close(fd);
			n->nlookup++;
			*out = n;
			return 0;
		}
	}
	uint32_t slot;
	/* The table or the VM's descriptors are used up: the guest must
	 * forget first. */
	if (slot_table_full(&s->nodes) || !fds_take(s)) {
		close(fd);
		return -ENFILE;
	}
	int err = slot_table_alloc(&s->nodes, &slot);
	if (err < 0) {
		fds_put(s);
		close(fd);
		return err;
	}
	struct node *n = node_at(s, slot);
	n->fd = fd;
	n->nlookup = 1;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->next = s->buckets[b];
	s->buckets[b] = slot + 1;
	*out = n;
	return 0;
}

static void node_free(struct fuse_server *s, struct node *n)
{
	hash_remove(s, n);
	close(n->fd);
	fds_put(s);
	n->nlookup = 0;
	slot_table_release(&s->nodes, node_slot(s, n));
}

static void node_unref(struct fuse_server *s, struct node *n, uint64_t count)
{
	if (node_slot(s, n) == 0)
		return; /* the root lives as long as the server */
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup == 0)
		node_free(s, n);
}

/* ---- the handle table ------------------------------------------------ */

static struct handle *get_handle(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct handle *h = slot_table_get(&s->handles, fh);
	if (!h || h->dir != dir)
		return NULL;
	return h;
}

/* Makes FD a handle; FD is consumed either way. */
static int handle_new(struct fuse_server *s, int fd, bool dir, bool writable, uint64_t *fh)
{
	uint32_t slot;

	if (slot_table_full(&s->handles) || !fds_take(s)) {
		close(fd);
		return -ENFILE;
	}
	int err = slot_table_alloc(&s->handles, &slot);
	if (err < 0) {
		fds_put(s);
		close(fd);
		return err;
	}
	struct handle *h = slot_table_at(&s->handles, slot);
	h->fd = fd;
	h->dir = dir;
	h->writable = writable;
	*fh = slot_table_id(&s->handles, slot);
	return 0;
}

static void handle_free(struct fuse_server *s, struct handle *h)
{
	close(h->fd);
	fds_put(s);
	slot_table_release(&s->handles, slot_table_slot(&s->handles, h));
}

/* ---- lookups and new entries ----------------------------------------- */

static void fill_entry(const struct fuse_server *s, struct fuse_entry_out *e,
		       const struct node *n, const struct stat *st)
{
	*e = (struct fuse_entry_out){
		.nodeid = node_id(s, n),
		.generation = slot_table_gen(&s->nodes, node_slot(s, n)),
		.entry_valid = timeout(s),
		.attr_valid = timeout(s),
	};
	fill_attr(&e->attr, st);
}

/* NAME beneath directory DIRFD: its node, with one more reference. */
static int lookup_at(struct fuse_server *s, int dirfd, const char *name,
		     struct fuse_entry_out *e)
{
	struct stat st;
	struct node *n;

	int fd = open_beneath(dirfd, name, O_PATH, 0);
	if (fd < 0)
		return -errno;
	int r = stat_fd(fd, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	if ((r = node_ref(s, fd, &st, &n)) < 0)
		return r;
	fill_entry(s, e, n, &st);
	return 0;
}

/* chmod of a node that is not a symlink: fchmodat2 on the descriptor, or
 * on kernels without it (before 6.6) the /proc/self/fd magic link, which
 * names that inode and, not being a symlink, leads nowhere else. */
static int chmod_node(const struct fuse_server *s, int fd, mode_t type, mode_t mode)
{
	if (S_ISLNK(type))
		return -EOPNOTSUPP;
	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	char name[16];
	fd_name(fd, name);
	return fchmodat(s->proc_fd, name, mode, 0) < 0 ? -errno : 0;
}

/* Read-only from the start, or since the owner sealed the share. */
static bool is_readonly(const struct fuse_server *s)
{
	return s->readonly || (s->sealed && atomic_load_explicit(s->sealed, memory_order_acquire));
}

/* The mode the guest may give an inode of TYPE that has the mode OLD (0
 * when new): WANT without the set-ID bits it may not add (header). A
 * directory may be set-group-ID: that hands its group to new entries, as
 * the kernel does, and runs nothing with anyone's rights. Set-ID bits a
 * file has already (the host's, or left after a chown, which clears them)
 * stay: they give the guest nothing new. */
static mode_t setid_filter(const struct fuse_server *s, mode_t type, mode_t want, mode_t old)
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
static int drop_privileges(const struct fuse_server *s, int fd)
{
	struct stat st;

	if (s->allow_setid)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & (S_ISUID | S_ISGID)) &&
	    fchmod(fd, st.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0 && errno != EPERM)
		return -errno;
	if (fremovexattr(fd, "security.capability") < 0 && errno != ENODATA && errno != EOPNOTSUPP &&
	    errno != EPERM)
		return -errno;
	return 0;
}

/* security.* (file capabilities, LSM labels, IMA) and trusted.* (overlayfs
 * redirects and the like, read by the host's own overlay mounts) mean
 * something to the host kernel: the guest sets neither unless allowed. */
static bool privileged_xattr(const struct fuse_server *s, const char *name)
{
	return !s->allow_setid &&
	       (strncmp(name, "security.", 9) == 0 || strncmp(name, "trusted.", 8) == 0);
}

/* A new inode FD (O_PATH) was created in directory DIRFD for the request:
 * owner and mode become what the guest asked for (see the header). *ST is
 * its status, updated. */
static int own_new(const struct fuse_server *s, const struct req *r, int dirfd, int fd,
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
	want = setid_filter(s, st->st_mode & S_IFMT, want, 0);
	if (s->can_chown && (st->st_uid != uid || st->st_gid != gid)) {
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		changed = true;
	}
	/* Also undoes the VMM's umask (the guest applied its own) and the
	 * set-ID bits a chown cleared. */
	if (!S_ISLNK(st->st_mode) && (changed || (st->st_mode & 07777) != want)) {
		if ((e = chmod_node(s, fd, st->st_mode & S_IFMT, want)) < 0)
			return e;
		changed = true;
	}
	return changed ? stat_fd(fd, st) : 0;
}

/* The tail of MKNOD, MKDIR and SYMLINK: NAME now exists in DIRFD. */
static int finish_new(struct fuse_server *s, struct req *r, int dirfd, const char *name,
		      mode_t mode, struct fuse_entry_out *e)
{
	struct stat st;
	struct node *n;

	int fd = open_beneath(dirfd, name, O_PATH, 0);
	if (fd < 0)
		return -errno;
	int err = stat_fd(fd, &st);
	if (err == 0)
		err = own_new(s, r, dirfd, fd, mode, &st);
	if (err < 0) {
		close(fd);
		return err;
	}
	if ((err = node_ref(s, fd, &st, &n)) < 0)
		return err;
	fill_entry(s, e, n, &st);
	r->out = e;
	r->outlen = sizeof(*e);
	return 0;
}

/* ---- requests -------------------------------------------------------- */

#define NODE(s, r, n)                                 \
	struct node *n = get_node((s), (r)->in.nodeid); \
	if (!n)                                       \
		return -ESTALE

static int op_init(struct fuse_server *s, struct req *r)
{
	struct fuse_init_out *o = &s->out.init;
	struct fuse_init_in in = { 0 };

	memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
	*o = (struct fuse_init_out){ .major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION };
	r->out = o;
	if (in.major > FUSE_KERNEL_VERSION) {
		/* The kernel then asks again in our major version. */
		r->outlen = FUSE_COMPAT_INIT_OUT_SIZE;
		return 0;
	}
	if (in.major < FUSE_KERNEL_VERSION || in.minor < MIN_MINOR)
		return -EPROTO;

	uint64_t flags = in.flags;
	if (in.flags & FUSE_INIT_EXT)
		flags |= (uint64_t)in.flags2 << 32;
	uint64_t want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS |
			FUSE_MAX_PAGES | FUSE_INIT_EXT;
	/* Host changes are noticed through attributes (at most a second
	 * old); a share only the guest changes needs none of that. */
	want |= s->cache_always ? FUSE_CACHE_SYMLINKS : FUSE_AUTO_INVAL_DATA;
	if (s->dax_base)
		want |= FUSE_MAP_ALIGNMENT;
	flags &= want;

	o->minor = in.minor < FUSE_KERNEL_MINOR_VERSION ? in.minor : FUSE_KERNEL_MINOR_VERSION;
	o->max_readahead = in.max_readahead;
	o->flags = (uint32_t)flags;
	o->flags2 = (uint32_t)(flags >> 32);
	o->max_background = 64;
	o->congestion_threshold = 48;
	o->max_write = FUSE_SERVER_MAX_IO;
	o->time_gran = 1;
	o->max_pages = FUSE_SERVER_MAX_IO / 4096;
	if (flags & FUSE_MAP_ALIGNMENT)
		o->map_alignment = FUSE_SERVER_DAX_ALIGN_SHIFT;
	r->outlen = sizeof(*o);
	s->minor = o->minor;
	s->initialized = true;
	return 0;
}

static int op_destroy(struct fuse_server *s, struct req *r)
{
	(void)r;
	fuse_server_reset(s);
	return 0;
}

static int op_lookup(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const char *name;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	r->out = e;
	r->outlen = sizeof(*e);
	err = lookup_at(s, dir->fd, name, e);
	if (err == -ENOENT) {
		/* A negative entry the guest may cache as long as others. */
		*e = (struct fuse_entry_out){ .entry_valid = timeout(s) };
		return 0;
	}
	return err;
}

static int op_forget(struct fuse_server *s, struct req *r)
{
	const struct fuse_forget_in *f = (const void *)r->arg;
	struct node *n = get_node(s, r->in.nodeid);

	if (n)
		node_unref(s, n, f->nlookup);
	return 0;
}

static int op_batch_forget(struct fuse_server *s, struct req *r)
{
	const struct fuse_batch_forget_in *b = (const void *)r->arg;
	const struct fuse_forget_one *one = (const void *)(b + 1);
	size_t room = (r->arglen - sizeof(*b)) / sizeof(*one);

	for (size_t i = 0; i < b->count && i < room; i++) {
		struct node *n = get_node(s, one[i].nodeid);
		if (n)
			node_unref(s, n, one[i].nlookup);
	}
	return 0;
}

static int op_getattr(struct fuse_server *s, struct req *r)
{
	struct fuse_attr_out *o = &s->out.attr;
	struct stat st;

	NODE(s, r, n);
	int err = stat_fd(n->fd, &st);
	if (err < 0)
		return err;
	*o = (struct fuse_attr_out){ .attr_valid = timeout(s) };
	fill_attr(&o->attr, &st);
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

static int set_times(const struct fuse_server *s, const struct node *n,
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
	if ((!(a->valid & FATTR_ATIME_NOW) && (a->valid & FATTR_ATIME) && a->atimensec >= 1000000000) ||
	    (!(a->valid & FATTR_MTIME_NOW) && (a->valid & FATTR_MTIME) && a->mtimensec >= 1000000000))
		return -EINVAL;
	if (utimensat(n->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* Kernels before 5.8 take no AT_EMPTY_PATH here; then the magic link,
	 * which leads to the inode itself unless that is a symlink. */
	if (errno != EINVAL || S_ISLNK(n->type))
		return -errno;
	char name[16];
	fd_name(n->fd, name);
	return utimensat(s->proc_fd, name, ts, 0) < 0 ? -errno : 0;
}

static int op_setattr(struct fuse_server *s, struct req *r)
{
	const struct fuse_setattr_in *a = (const void *)r->arg;
	struct handle *h = NULL;
	int err;

	NODE(s, r, n);
	if ((a->valid & FATTR_FH) && !(h = get_handle(s, a->fh, false)))
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
		if ((err = stat_fd(n->fd, &st)) < 0 ||
		    (err = chmod_node(s, n->fd, n->type,
				      setid_filter(s, n->type, a->mode & 07777, st.st_mode & 07777))) < 0)
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
			if ((err = drop_privileges(s, h->fd)) < 0)
				return err;
			if (ftruncate(h->fd, (off_t)a->size) < 0)
				return -errno;
		} else {
			cleanup_close int fd = reopen(s, n->fd, O_WRONLY);
			if (fd < 0)
				return fd;
			if ((err = drop_privileges(s, fd)) < 0)
				return err;
			if (ftruncate(fd, (off_t)a->size) < 0)
				return -errno;
		}
	}
	if ((a->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) &&
	    (err = set_times(s, n, a)) < 0)
		return err;
	return op_getattr(s, r);
}

static int op_readlink(struct fuse_server *s, struct req *r)
{
	NODE(s, r, n);
	if (!S_ISLNK(n->type))
		return -EINVAL;
	size_t room = r->replen - HDR_OUT;
	ssize_t len = readlinkat(n->fd, "", (char *)s->scratch,
				 room < PATH_MAX ? room : PATH_MAX);
	if (len < 0)
		return -errno;
	r->out = s->scratch;
	r->outlen = (size_t)len;
	return 0;
}

static int op_symlink(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const char *name, *target;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 ||
	    (err = take_string(r, &pos, PATH_MAX - 1, &target)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	/* The target is only stored: the host never follows it. */
	if (symlinkat(target, dir->fd, name) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, 0777, e);
}

static int op_mknod(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_mknod_in *m = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*m);
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	mode_t type = m->mode & S_IFMT;
	dev_t rdev = 0;
	switch (type) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	case S_IFCHR:
	case S_IFBLK:
		rdev = decode_dev(m->rdev);
		/* overlayfs's whiteout, char 0:0, opens nothing. */
		if (!s->allow_devices && !(type == S_IFCHR && rdev == 0))
			return -EPERM;
		break;
	default:
		return -EINVAL;
	}
	if (mknodat(dir->fd, name, type | setid_filter(s, type, m->mode & 07777, 0), rdev) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, m->mode, e);
}

static int op_mkdir(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_mkdir_in *m = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*m);
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	if (mkdirat(dir->fd, name, setid_filter(s, S_IFDIR, m->mode & 07777, 0)) < 0)
		return -errno;
	return finish_new(s, r, dir->fd, name, m->mode, e);
}

static int remove_entry(struct fuse_server *s, struct req *r, int flags)
{
	const char *name;
	size_t pos = 0;
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	return unlinkat(dir->fd, name, flags) < 0 ? -errno : 0;
}

static int op_unlink(struct fuse_server *s, struct req *r)
{
	return remove_entry(s, r, 0);
}

static int op_rmdir(struct fuse_server *s, struct req *r)
{
	return remove_entry(s, r, AT_REMOVEDIR);
}

static int do_rename(struct fuse_server *s, struct req *r, uint64_t newdir, uint32_t flags,
		     size_t pos)
{
	const char *oldname, *newname;
	int err;

	NODE(s, r, olddir);
	struct node *nd = get_node(s, newdir);
	if (!nd)
		return -ESTALE;
	if ((err = take_name(r, &pos, &oldname)) < 0 || (err = take_name(r, &pos, &newname)) < 0 ||
	    (err = args_end(r, pos)) < 0)
		return err;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	return renameat2(olddir->fd, oldname, nd->fd, newname, flags) < 0 ? -errno : 0;
}

static int op_rename(struct fuse_server *s, struct req *r)
{
	const struct fuse_rename_in *in = (const void *)r->arg;
	return do_rename(s, r, in->newdir, 0, sizeof(*in));
}

static int op_rename2(struct fuse_server *s, struct req *r)
{
	const struct fuse_rename2_in *in = (const void *)r->arg;
	return do_rename(s, r, in->newdir, in->flags, sizeof(*in));
}

static int op_link(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.entry;
	const struct fuse_link_in *in = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*in);
	int err;

	NODE(s, r, dir);
	struct node *old = get_node(s, in->oldnodeid);
	if (!old)
		return -ESTALE;
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	if (S_ISDIR(old->type))
		return -EPERM;
	if (linkat(old->fd, "", dir->fd, name, AT_EMPTY_PATH) < 0) {
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; otherwise the
		 * magic link (not for a symlink: it could lead elsewhere). */
		if (errno != ENOENT || S_ISLNK(old->type))
			return -errno;
		char oldname[16];
		fd_name(old->fd, oldname);
		if (linkat(s->proc_fd, oldname, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
			return -errno;
	}
	r->out = e;
	r->outlen = sizeof(*e);
	return lookup_at(s, dir->fd, name, e);
}

/* Guest open flags to the host's: the access mode and flags that mean the
 * same on an already resolved file. O_DIRECT becomes FOPEN_DIRECT_IO (the
 * guest's buffers need not be aligned for the host's O_DIRECT). */
static int open_flags(const struct fuse_server *s, uint32_t guest, bool *writable)
{
	int acc = (int)guest & O_ACCMODE;

	if (acc == O_ACCMODE)
		return -EINVAL;
	*writable = acc != O_RDONLY;
	if (is_readonly(s) && (*writable || (guest & O_TRUNC)))
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

static int op_open(struct fuse_server *s, struct req *r)
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
	int fd = reopen(s, n->fd, flags);
	if (fd < 0)
		return fd;
	int err = writable || (in->flags & O_TRUNC) ? drop_privileges(s, fd) : 0;
	if (err < 0) {
		close(fd);
		return err;
	}
	*o = (struct fuse_open_out){ .open_flags = fopen_flags(s, in->flags) };
	r->out = o;
	r->outlen = sizeof(*o);
	return handle_new(s, fd, false, writable, &o->fh);
}

static int op_create(struct fuse_server *s, struct req *r)
{
	struct fuse_entry_out *e = &s->out.create.e;
	struct fuse_open_out *o = &s->out.create.o;
	const struct fuse_create_in *in = (const void *)r->arg;
	const char *name;
	size_t pos = sizeof(*in);
	bool writable;
	struct stat st;
	struct node *n;
	int err;

	NODE(s, r, dir);
	if ((err = take_name(r, &pos, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	int flags = open_flags(s, in->flags, &writable);
	if (flags < 0)
		return flags;
	/* Always O_EXCL, so an existing FIFO or device is never opened (it
	 * could block the server or reach a host device); an existing file
	 * is then opened the way OPEN does, after a look at its type. */
	cleanup_close int fd = open_beneath(dir->fd, name, flags | O_CREAT | O_EXCL,
					    setid_filter(s, S_IFREG, in->mode & 07777, 0));
	bool created = fd >= 0;
	if (!created) {
		if (errno != EEXIST || (in->flags & O_EXCL))
			return -errno;
		cleanup_close int path = open_beneath(dir->fd, name, O_PATH, 0);
		if (path < 0)
			return -errno;
		if ((err = stat_fd(path, &st)) < 0)
			return err;
		if (!S_ISREG(st.st_mode))
			return S_ISDIR(st.st_mode) ? -EISDIR : S_ISLNK(st.st_mode) ? -ELOOP : -EACCES;
		if ((fd = reopen(s, path, flags)) < 0)
			return fd;
		if ((writable || (in->flags & O_TRUNC)) && (err = drop_privileges(s, fd)) < 0)
			return err;
	}
	/* The node: the open file itself, reopened as O_PATH through its
	 * magic link (its name may already name something else). */
	int pfd = reopen(s, fd, O_PATH);
	if (pfd < 0)
		return pfd;
	if ((err = stat_fd(pfd, &st)) < 0 ||
	    (created && (err = own_new(s, r, dir->fd, pfd, in->mode, &st)) < 0)) {
		close(pfd);
		return err;
	}
	if ((err = node_ref(s, pfd, &st, &n)) < 0)
		return err;
	fill_entry(s, e, n, &st);
	if ((err = handle_new(s, steal_fd(&fd), false, writable, &o->fh)) < 0) {
		node_unref(s, n, 1);
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

static int op_read(struct fuse_server *s, struct req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, false);

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

static int op_write(struct fuse_server *s, struct req *r)
{
	struct fuse_write_out *o = &s->out.write;
	const struct fuse_write_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, false);

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

static int op_statfs(struct fuse_server *s, struct req *r)
{
	struct fuse_statfs_out *o = &s->out.statfs;
	struct statfs st;

	NODE(s, r, n);
	if (fstatfs(n->fd, &st) < 0)
		return -errno;
	*o = (struct fuse_statfs_out){ .st = {
		.blocks = st.f_blocks, .bfree = st.f_bfree, .bavail = st.f_bavail,
		.files = st.f_files, .ffree = st.f_ffree, .bsize = (uint32_t)st.f_bsize,
		.namelen = (uint32_t)st.f_namelen, .frsize = (uint32_t)st.f_frsize,
	} };
	r->out = o;
	r->outlen = sizeof(*o);
	return 0;
}

static int op_release(struct fuse_server *s, struct req *r)
{
	const struct fuse_release_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, r->in.opcode == FUSE_RELEASEDIR);

	if (!h)
		return -EBADF;
	handle_free(s, h);
	return 0;
}

static int op_fsync(struct fuse_server *s, struct req *r)
{
	const struct fuse_fsync_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, r->in.opcode == FUSE_FSYNCDIR);

	if (!h)
		return -EBADF;
	int ret = (in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd);
	return ret < 0 ? -errno : 0;
}

static int op_flush(struct fuse_server *s, struct req *r)
{
	const struct fuse_flush_in *in = (const void *)r->arg;

	/* Nothing is buffered and no locks are held for the guest. */
	return get_handle(s, in->fh, false) ? 0 : -EBADF;
}

/* xattrs have no *at() calls: the node's magic link names its inode, and
 * for anything but a symlink leads nowhere else. A symlink's own xattrs
 * cannot be reached without following it, so they are refused. */
static int xattr_path(const struct node *n, char path[32])
{
	if (S_ISLNK(n->type))
		return -EPERM;
	snprintf(path, 32, "/proc/self/fd/%d", n->fd);
	return 0;
}

static int op_setxattr(struct fuse_server *s, struct req *r)
{
	const struct fuse_setxattr_in *in = (const void *)r->arg;
	const char *name;
	char path[32];
	size_t pos = FUSE_COMPAT_SETXATTR_IN_SIZE;
	int err;

	NODE(s, r, n);
	if ((err = take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0)
		return err;
	if (in->size > XATTR_SIZE_MAX || in->size != r->arglen - pos)
		return -EINVAL;
	if (privileged_xattr(s, name))
		return -EPERM;
	if ((err = xattr_path(n, path)) < 0)
		return err;
	return setxattr(path, name, r->arg + pos, in->size, (int)in->flags) < 0 ? -errno : 0;
}

/* GETXATTR and LISTXATTR: with size 0 the size needed, else the bytes. */
static int xattr_reply(struct fuse_server *s, struct req *r, uint32_t size, ssize_t got)
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

static size_t xattr_room(const struct req *r, uint32_t size)
{
	size_t room = r->replen - HDR_OUT;
	if (room > XATTR_SIZE_MAX)
		room = XATTR_SIZE_MAX;
	return size < room ? size : room;
}

static int op_getxattr(struct fuse_server *s, struct req *r)
{
	const struct fuse_getxattr_in *in = (const void *)r->arg;
	const char *name;
	char path[32];
	size_t pos = sizeof(*in);
	int err;

	NODE(s, r, n);
	if ((err = take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	if (in->size == 0 && r->replen < HDR_OUT + sizeof(struct fuse_getxattr_out))
		return -EINVAL;
	if ((err = xattr_path(n, path)) < 0)
		return err == -EPERM ? -ENODATA : err;
	size_t room = xattr_room(r, in->size);
	return xattr_reply(s, r, in->size, getxattr(path, name, room ? s->scratch : NULL, room));
}

static int op_listxattr(struct fuse_server *s, struct req *r)
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

static int op_removexattr(struct fuse_server *s, struct req *r)
{
	const char *name;
	char path[32];
	size_t pos = 0;
	int err;

	NODE(s, r, n);
	if ((err = take_string(r, &pos, XATTR_NAME_MAX, &name)) < 0 || (err = args_end(r, pos)) < 0)
		return err;
	if ((err = xattr_path(n, path)) < 0)
		return err;
	return removexattr(path, name) < 0 ? -errno : 0;
}

static int op_opendir(struct fuse_server *s, struct req *r)
{
	struct fuse_open_out *o = &s->out.open;

	NODE(s, r, n);
	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	/* "." beneath the directory's own descriptor is that directory. */
	int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*o = (struct fuse_open_out){ .open_flags = s->cache_always ? FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR : 0 };
	r->out = o;
	r->outlen = sizeof(*o);
	return handle_new(s, fd, true, false, &o->fh);
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
static int op_readdir(struct fuse_server *s, struct req *r)
{
	const struct fuse_read_in *in = (const void *)r->arg;
	bool plus = r->in.opcode == FUSE_READDIRPLUS;
	struct handle *h = get_handle(s, in->fh, true);

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
			struct fuse_dirent *fd = (struct fuse_dirent *)(rec + fixed - FUSE_NAME_OFFSET);
			fd->ino = d->d_ino;
			fd->off = (uint64_t)d->d_off;
			fd->namelen = (uint32_t)namelen;
			fd->type = d->d_type;
			memcpy(fd->name, d->d_name, namelen);
			if (plus && strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
				struct fuse_entry_out e;
				if (lookup_at(s, h->fd, d->d_name, &e) == 0)
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

static int op_access(struct fuse_server *s, struct req *r)
{
	const struct fuse_access_in *in = (const void *)r->arg;
	struct stat st;

	NODE(s, r, n);
	int err = stat_fd(n->fd, &st);
	if (err < 0)
		return err;
	uint32_t mask = in->mask & 7;
	if ((mask & W_OK) && is_readonly(s))
		return -EROFS;
	/* The caller's own credentials; its supplementary groups are not in
	 * the request, so only its primary group counts. */
	if (r->in.uid == 0) {
		/* root may execute only what someone may execute */
		bool x_ok = S_ISDIR(st.st_mode) || (st.st_mode & 0111);
		return (mask & X_OK) && !x_ok ? -EACCES : 0;
	}
	uint32_t bits = r->in.uid == st.st_uid ? st.st_mode >> 6
			: r->in.gid == st.st_gid ? st.st_mode >> 3
						 : st.st_mode;
	return (bits & mask) == mask ? 0 : -EACCES;
}

static int op_fallocate(struct fuse_server *s, struct req *r)
{
	const struct fuse_fallocate_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, false);

	if (!h || !h->writable)
		return -EBADF;
	if (in->offset > INT64_MAX || in->length > INT64_MAX)
		return -EINVAL;
	return fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0 ? -errno : 0;
}

static int op_lseek(struct fuse_server *s, struct req *r)
{
	struct fuse_lseek_out *o = &s->out.lseek;
	const struct fuse_lseek_in *in = (const void *)r->arg;
	struct handle *h = get_handle(s, in->fh, false);

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

static int op_copy_file_range(struct fuse_server *s, struct req *r)
{
	struct fuse_write_out *o = &s->out.write;
	const struct fuse_copy_file_range_in *in = (const void *)r->arg;
	struct handle *hin = get_handle(s, in->fh_in, false);
	struct handle *hout = get_handle(s, in->fh_out, false);

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

/* syncfs() writes back the whole host filesystem holding the share, other
 * tenants' data included, so a guest must not make the host do it at will:
 * a SYNCFS with nothing changed through the share since the last one costs
 * nothing, and host syncs are at least FUSE_SERVER_SYNCFS_INTERVAL_MS apart
 * (a SYNCFS waits for its turn, so it still returns only once what the
 * guest wrote is on disk). fsync() of the files the server holds open
 * would not do: data written through a file the guest has since closed
 * is reached only through the filesystem. */
static int op_syncfs(struct fuse_server *s, struct req *r)
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
	cleanup_close int fd = openat(node_at(s, 0)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

/* ---- DAX mappings ---------------------------------------------------- */

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
static int op_setupmapping(struct fuse_server *s, struct req *r)
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
	if (writable && is_readonly(s))
		return -EROFS;
	int fd = reopen(s, n->fd, writable ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return fd;
	int err = writable ? drop_privileges(s, fd) : 0;
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

static int op_removemapping(struct fuse_server *s, struct req *r)
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

/* ---- dispatch -------------------------------------------------------- */

enum {
	OP_MODIFIES = 1, /* refused with EROFS on a read-only share */
	OP_NO_REPLY = 2,
};

struct op {
	int (*fn)(struct fuse_server *s, struct req *r);
	uint32_t in_min;  /* the fixed arguments */
	uint32_t out_min; /* room the reply needs (variable ones check) */
	unsigned flags;
};

#define ENTRY_OUT ((uint32_t)sizeof(struct fuse_entry_out))
#define OPEN_OUT ((uint32_t)sizeof(struct fuse_open_out))

static const struct op ops[] = {
	[FUSE_LOOKUP] = { op_lookup, 2, ENTRY_OUT, 0 },
	[FUSE_FORGET] = { op_forget, sizeof(struct fuse_forget_in), 0, OP_NO_REPLY },
	[FUSE_GETATTR] = { op_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out), 0 },
	[FUSE_SETATTR] = { op_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out), OP_MODIFIES },
	[FUSE_READLINK] = { op_readlink, 0, 0, 0 },
	[FUSE_SYMLINK] = { op_symlink, 4, ENTRY_OUT, OP_MODIFIES },
	[FUSE_MKNOD] = { op_mknod, sizeof(struct fuse_mknod_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_MKDIR] = { op_mkdir, sizeof(struct fuse_mkdir_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_UNLINK] = { op_unlink, 2, 0, OP_MODIFIES },
	[FUSE_RMDIR] = { op_rmdir, 2, 0, OP_MODIFIES },
	[FUSE_RENAME] = { op_rename, sizeof(struct fuse_rename_in) + 4, 0, OP_MODIFIES },
	[FUSE_LINK] = { op_link, sizeof(struct fuse_link_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_OPEN] = { op_open, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READ] = { op_read, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_WRITE] = { op_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out), OP_MODIFIES },
	[FUSE_STATFS] = { op_statfs, 0, sizeof(struct fuse_statfs_out), 0 },
	[FUSE_RELEASE] = { op_release, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNC] = { op_fsync, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_SETXATTR] = { op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE + 2, 0, OP_MODIFIES },
	[FUSE_GETXATTR] = { op_getxattr, sizeof(struct fuse_getxattr_in) + 2, 0, 0 },
	[FUSE_LISTXATTR] = { op_listxattr, sizeof(struct fuse_getxattr_in), 0, 0 },
	[FUSE_REMOVEXATTR] = { op_removexattr, 2, 0, OP_MODIFIES },
	[FUSE_FLUSH] = { op_flush, sizeof(struct fuse_flush_in), 0, 0 },
	[FUSE_INIT] = { op_init, 16, sizeof(struct fuse_init_out), 0 },
	[FUSE_OPENDIR] = { op_opendir, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READDIR] = { op_readdir, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_RELEASEDIR] = { op_release, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNCDIR] = { op_fsync, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_ACCESS] = { op_access, sizeof(struct fuse_access_in), 0, 0 },
	[FUSE_CREATE] = { op_create, sizeof(struct fuse_create_in) + 2, ENTRY_OUT + OPEN_OUT, OP_MODIFIES },
	[FUSE_DESTROY] = { op_destroy, 0, 0, 0 },
	[FUSE_BATCH_FORGET] = { op_batch_forget, sizeof(struct fuse_batch_forget_in), 0, OP_NO_REPLY },
	[FUSE_FALLOCATE] = { op_fallocate, sizeof(struct fuse_fallocate_in), 0, OP_MODIFIES },
	[FUSE_READDIRPLUS] = { op_readdir, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_RENAME2] = { op_rename2, sizeof(struct fuse_rename2_in) + 4, 0, OP_MODIFIES },
	[FUSE_LSEEK] = { op_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out), 0 },
	[FUSE_COPY_FILE_RANGE] = { op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
				   sizeof(struct fuse_write_out), OP_MODIFIES },
	[FUSE_SYNCFS] = { op_syncfs, sizeof(struct fuse_syncfs_in), 0, 0 },
	[FUSE_SETUPMAPPING] = { op_setupmapping, sizeof(struct fuse_setupmapping_in), 0, 0 },
	[FUSE_REMOVEMAPPING] = { op_removemapping, sizeof(struct fuse_removemapping_in), 0, 0 },
};

size_t fuse_server_handle(struct fuse_server *s, const struct iovec *req, unsigned nreq,
			  const struct iovec *rep, unsigned nrep)
{
	struct req r = { .req = req, .nreq = nreq, .rep = rep, .nrep = nrep };
	size_t req_len = iov_total(req, nreq);
	const struct op *op = NULL;
	int err;

	r.replen = iov_total(rep, nrep);
	/* Without a header there is not even a unique to answer; the reply
	 * (unique 0) still completes the driver's request. */
	if (iov_to_buf(req, nreq, 0, &r.in, sizeof(r.in)) != sizeof(r.in)) {
		memset(&r.in, 0, sizeof(r.in));
		err = -EINVAL;
		goto reply;
	}
	if (r.in.opcode < sizeof(ops) / sizeof(ops[0]) && ops[r.in.opcode].fn)
		op = &ops[r.in.opcode];
	size_t ext = (size_t)r.in.total_extlen * 8;
	if (r.in.len < HDR_IN || r.in.len > req_len || ext > r.in.len - HDR_IN) {
		err = -EINVAL;
		goto reply;
	}
	if (!op) {
		err = -ENOSYS;
		goto reply;
	}
	if (!s->initialized && r.in.opcode != FUSE_INIT) {
		err = -EIO;
		goto reply;
	}
	size_t arglen = r.in.len - HDR_IN - ext;
	if (arglen < op->in_min) {
		err = -EINVAL;
		goto reply;
	}
	/* WRITE's data stays in guest memory; everything else is copied, so
	 * what is checked is what is used. */
	if (r.in.opcode == FUSE_WRITE) {
		r.datalen = arglen - sizeof(struct fuse_write_in);
		arglen = sizeof(struct fuse_write_in);
	}
	if (arglen > sizeof(s->args)) {
		err = -EINVAL;
		goto reply;
	}
	iov_to_buf(req, nreq, HDR_IN, s->args, arglen);
	r.arg = s->args;
	r.arglen = arglen;
	if (!(op->flags & OP_NO_REPLY) && r.replen < HDR_OUT + op->out_min) {
		err = -EINVAL; /* checked before acting: no effect without an answer */
		goto reply;
	}
	if ((op->flags & OP_MODIFIES) && is_readonly(s)) {
		err = -EROFS;
		goto reply;
	}
	/* Even a failed change may have changed something: sync it. */
	if (op->flags & OP_MODIFIES)
		s->unsynced = true;
	err = op->fn(s, &r);
	if (op->flags & OP_NO_REPLY)
		return 0;

reply:
	if (r.replen < HDR_OUT)
		return 0;
	if (err < 0 || (!r.direct && r.outlen > r.replen - HDR_OUT))
		r.outlen = 0;
	struct fuse_out_header h = {
		.len = (uint32_t)(HDR_OUT + r.outlen),
		.error = err < 0 ? err : 0,
		.unique = r.in.unique,
	};
	buf_to_iov(rep, nrep, 0, &h, sizeof(h));
	if (r.outlen && !r.direct)
		buf_to_iov(rep, nrep, HDR_OUT, r.out, r.outlen);
	return h.len;
}

/* ---- life cycle ------------------------------------------------------ */

void fuse_server_reset(struct fuse_server *s)
{
	for (uint32_t i = 1; i < s->nodes.used; i++)
		if (slot_table_live(&s->nodes, i))
			node_free(s, node_at(s, i));
	for (uint32_t i = 0; i < s->handles.used; i++)
		if (slot_table_live(&s->handles, i))
			handle_free(s, slot_table_at(&s->handles, i));
	if (s->dax_base)
		dax_clear(s, 0, s->dax_size);
	s->dax_writable = false;
	s->initialized = false;
}

void fuse_server_dax_window(const struct fuse_server *s, void **base, uint64_t *size)
{
	*base = s->dax_base;
	*size = s->dax_size;
}

void fuse_server_counts(const struct fuse_server *s, uint32_t *inodes, uint32_t *handles)
{
	*inodes = s->nodes.live;
	*handles = s->handles.live;
}

static bool have_cap_chown(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[0].effective & (1U << CAP_CHOWN);
}

/* A server alone in its process leaves half the descriptors in force to
 * the rest of it. Raising the limit is the process's business, done while
 * it may (runtime: before its capabilities go), not the server's. */
static uint32_t own_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	uint64_t cur = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : rl.rlim_cur;
	if (cur < 2 * FUSE_SERVER_FIXED_FDS)
		return 0;
	cur = (cur - FUSE_SERVER_FIXED_FDS) / 2;
	return cur > UINT32_MAX ? UINT32_MAX : (uint32_t)cur;
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	fuse_server_reset(s);
	if (slot_table_live(&s->nodes, 0)) {
		close(node_at(s, 0)->fd);
		fds_put(s);
	}
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	if (s->reserved)
		munmap(s->reserved, s->reserved_len);
	slot_table_destroy(&s->nodes);
	slot_table_destroy(&s->handles);
	free(s);
}

struct fuse_server *fuse_server_new(const struct fuse_share_opts *opts, husk_error_t *err)
{
	struct fuse_server *s = calloc(1, sizeof(*s));
	struct statfs sfs;
	struct stat st;

	if (!s) {
		husk_error_set(err, ENOMEM, "share %s", opts->dir);
		return NULL;
	}
	s->proc_fd = -1;
	s->readonly = opts->readonly;
	s->cache_always = opts->cache_always;
	s->allow_devices = opts->allow_devices;
	s->allow_setid = opts->allow_setid;
	s->sealed = opts->sealed;
	s->can_chown = have_cap_chown();

	uint32_t max_nodes = opts->max_inodes ? opts->max_inodes : FUSE_SERVER_MAX_INODES;
	uint32_t max_handles = opts->max_handles ? opts->max_handles : FUSE_SERVER_MAX_HANDLES;
	s->fds = opts->fd_pool;
	if (!s->fds) {
		s->own_fds.limit = own_fd_limit();
		s->fds = &s->own_fds;
	}
	if (max_nodes < 2) {
		husk_error_set(err, EINVAL, "share %s: room for %u inodes: want 2 at least", opts->dir,
			       max_nodes);
		goto fail;
	}

	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0 || fstatfs(s->proc_fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		husk_error_set(err, s->proc_fd < 0 ? errno : 0, "share %s: /proc/self/fd%s",
			       opts->dir, s->proc_fd < 0 ? "" : " is not procfs");
		goto fail;
	}
	if (opts->dax_window_size) {
		uint64_t size = opts->dax_window_size;
		if (size % FUSE_SERVER_DAX_ALIGN || size > FUSE_SERVER_DAX_MAX) {
			husk_error_set(err, EINVAL, "share %s: DAX window of %llu bytes: want a multiple of 2 MiB, at most %llu GiB",
				       opts->dir, (unsigned long long)size,
				       (unsigned long long)(FUSE_SERVER_DAX_MAX >> 30));
			goto fail;
		}
		/* One alignment unit more than asked for, so an aligned window
		 * fits: aligned file offsets then map as huge pages where
		 * the host's page cache has them. */
		size_t len = (size_t)size + FUSE_SERVER_DAX_ALIGN;
		void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			husk_error_set(err, errno, "share %s: DAX window", opts->dir);
			goto fail;
		}
		s->reserved = p;
		s->reserved_len = len;
		s->dax_base = (uint8_t *)(((uintptr_t)p + FUSE_SERVER_DAX_ALIGN - 1) &
					  ~(uintptr_t)(FUSE_SERVER_DAX_ALIGN - 1));
		s->dax_size = size;
	}
	if (slot_table_init(&s->nodes, sizeof(struct node), 64, max_nodes) < 0 ||
	    slot_table_init(&s->handles, sizeof(struct handle), 16, max_handles) < 0) {
		husk_error_set(err, ENOMEM, "share %s", opts->dir);
		goto fail;
	}
	/* The share's own path comes from the host's configuration and may
	 * go through symlinks; nothing beneath it will. */
	int fd = open(opts->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || stat_fd(fd, &st) < 0) {
		husk_error_set(err, errno, "share %s", opts->dir);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	struct node *root;
	if (node_ref(s, fd, &st, &root) < 0) { /* slot 0: node id 1 */
		husk_error_set(err, EMFILE, "share %s: no descriptors left for it", opts->dir);
		goto fail;
	}
	return s;
fail:
	fuse_server_free(s);
	return NULL;
}
