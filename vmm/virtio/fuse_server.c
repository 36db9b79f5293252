/* The FUSE server's session: the request framing (the header checked
 * against the bytes present, the arguments copied out of guest memory,
 * the reply written back), the table of operations it dispatches to, and
 * the share's life cycle. The operations themselves are in fuse_ops.c,
 * fuse_io.c and fuse_dax.c; the design and the security rules are in
 * fuse_server.h. Request and reply layouts are <linux/fuse.h>; open
 * flags, errno values and the dirent types are the same numbers in an
 * x86-64 guest and an x86-64 host, so they pass through unchanged. */
#include "vmm/virtio/fuse_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/virtio/fuse_internal.h"
#include "vmm/virtio/queue.h"

#define MIN_MINOR 31 /* virtio-fs came with 7.31 (Linux 5.4) */

/* ---- arguments ------------------------------------------------------- */

/* A C string at *POS within the arguments, ending (NUL) inside them; *POS
 * moves past it. */
int fuse_take_string(const struct fuse_req *r, size_t *pos, size_t max, const char **out)
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
int fuse_take_name(const struct fuse_req *r, size_t *pos, const char **out)
{
	int e = fuse_take_string(r, pos, NAME_MAX, out);
	if (e < 0)
		return e;
	if (strchr(*out, '/') || strcmp(*out, ".") == 0 || strcmp(*out, "..") == 0)
		return -EINVAL;
	return 0;
}

/* The request's strings must end exactly where its arguments do: trailing
 * bytes would be a name with an embedded NUL. */
int fuse_args_end(const struct fuse_req *r, size_t pos)
{
	return pos == r->arglen ? 0 : -EINVAL;
}

/* ---- the session ----------------------------------------------------- */

static int fuse_op_init(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_init_out *o = &s->out.init;
	struct fuse_init_in in = { 0 };

	memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
	*o = (struct fuse_init_out){ .major = FUSE_KERNEL_VERSION,
				     .minor = FUSE_KERNEL_MINOR_VERSION };
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

static int fuse_op_destroy(struct fuse_server *s, struct fuse_req *r)
{
	(void)r;
	fuse_server_reset(s);
	return 0;
}

/* ---- dispatch -------------------------------------------------------- */

static size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

enum {
	OP_MODIFIES = 1, /* refused with EROFS on a read-only share */
	OP_NO_REPLY = 2,
};

struct op {
	int (*fn)(struct fuse_server *s, struct fuse_req *r);
	uint32_t in_min;  /* the fixed arguments */
	uint32_t out_min; /* room the reply needs (variable ones check) */
	unsigned flags;
};

#define ENTRY_OUT ((uint32_t)sizeof(struct fuse_entry_out))
#define OPEN_OUT ((uint32_t)sizeof(struct fuse_open_out))

static const struct op ops[] = {
	[FUSE_LOOKUP] = { fuse_op_lookup, 2, ENTRY_OUT, 0 },
	[FUSE_FORGET] = { fuse_op_forget, sizeof(struct fuse_forget_in), 0, OP_NO_REPLY },
	[FUSE_GETATTR] = { fuse_op_getattr, sizeof(struct fuse_getattr_in),
			   sizeof(struct fuse_attr_out), 0 },
	[FUSE_SETATTR] = { fuse_op_setattr, sizeof(struct fuse_setattr_in),
			   sizeof(struct fuse_attr_out), OP_MODIFIES },
	[FUSE_READLINK] = { fuse_op_readlink, 0, 0, 0 },
	[FUSE_SYMLINK] = { fuse_op_symlink, 4, ENTRY_OUT, OP_MODIFIES },
	[FUSE_MKNOD] = { fuse_op_mknod, sizeof(struct fuse_mknod_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_MKDIR] = { fuse_op_mkdir, sizeof(struct fuse_mkdir_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_UNLINK] = { fuse_op_unlink, 2, 0, OP_MODIFIES },
	[FUSE_RMDIR] = { fuse_op_rmdir, 2, 0, OP_MODIFIES },
	[FUSE_RENAME] = { fuse_op_rename, sizeof(struct fuse_rename_in) + 4, 0, OP_MODIFIES },
	[FUSE_LINK] = { fuse_op_link, sizeof(struct fuse_link_in) + 2, ENTRY_OUT, OP_MODIFIES },
	[FUSE_OPEN] = { fuse_op_open, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READ] = { fuse_op_read, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_WRITE] = { fuse_op_write, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out),
			 OP_MODIFIES },
	[FUSE_STATFS] = { fuse_op_statfs, 0, sizeof(struct fuse_statfs_out), 0 },
	[FUSE_RELEASE] = { fuse_op_release, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNC] = { fuse_op_fsync, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_SETXATTR] = { fuse_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE + 2, 0, OP_MODIFIES },
	[FUSE_GETXATTR] = { fuse_op_getxattr, sizeof(struct fuse_getxattr_in) + 2, 0, 0 },
	[FUSE_LISTXATTR] = { fuse_op_listxattr, sizeof(struct fuse_getxattr_in), 0, 0 },
	[FUSE_REMOVEXATTR] = { fuse_op_removexattr, 2, 0, OP_MODIFIES },
	[FUSE_FLUSH] = { fuse_op_flush, sizeof(struct fuse_flush_in), 0, 0 },
	[FUSE_INIT] = { fuse_op_init, 16, sizeof(struct fuse_init_out), 0 },
	[FUSE_OPENDIR] = { fuse_op_opendir, sizeof(struct fuse_open_in), OPEN_OUT, 0 },
	[FUSE_READDIR] = { fuse_op_readdir, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_RELEASEDIR] = { fuse_op_release, sizeof(struct fuse_release_in), 0, 0 },
	[FUSE_FSYNCDIR] = { fuse_op_fsync, sizeof(struct fuse_fsync_in), 0, 0 },
	[FUSE_ACCESS] = { fuse_op_access, sizeof(struct fuse_access_in), 0, 0 },
	[FUSE_CREATE] = { fuse_op_create, sizeof(struct fuse_create_in) + 2, ENTRY_OUT + OPEN_OUT,
			  OP_MODIFIES },
	[FUSE_DESTROY] = { fuse_op_destroy, 0, 0, 0 },
	[FUSE_BATCH_FORGET] = { fuse_op_batch_forget, sizeof(struct fuse_batch_forget_in), 0,
				OP_NO_REPLY },
	[FUSE_FALLOCATE] = { fuse_op_fallocate, sizeof(struct fuse_fallocate_in), 0, OP_MODIFIES },
	[FUSE_READDIRPLUS] = { fuse_op_readdir, sizeof(struct fuse_read_in), 0, 0 },
	[FUSE_RENAME2] = { fuse_op_rename2, sizeof(struct fuse_rename2_in) + 4, 0, OP_MODIFIES },
	[FUSE_LSEEK] = { fuse_op_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out),
			 0 },
	[FUSE_COPY_FILE_RANGE] = { fuse_op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
				   sizeof(struct fuse_write_out), OP_MODIFIES },
	[FUSE_SYNCFS] = { fuse_op_syncfs, sizeof(struct fuse_syncfs_in), 0, 0 },
	[FUSE_SETUPMAPPING] = { fuse_op_setupmapping, sizeof(struct fuse_setupmapping_in), 0, 0 },
	[FUSE_REMOVEMAPPING] = { fuse_op_removemapping, sizeof(struct fuse_removemapping_in), 0,
				 0 },
};

size_t fuse_server_handle(struct fuse_server *s, const struct iovec *req, unsigned nreq,
			  const struct iovec *rep, unsigned nrep)
{
	struct fuse_req r = { .req = req, .nreq = nreq, .rep = rep, .nrep = nrep };
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
	if ((op->flags & OP_MODIFIES) && fuse_readonly(s)) {
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
	fuse_tables_reset(s);
	fuse_dax_reset(s);
	s->initialized = false;
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
	fuse_tables_destroy(s);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	fuse_dax_destroy(s);
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
		husk_error_set(err, EINVAL, "share %s: room for %u inodes: want 2 at least",
			       opts->dir, max_nodes);
		goto fail;
	}

	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0 || fstatfs(s->proc_fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		husk_error_set(err, s->proc_fd < 0 ? errno : 0, "share %s: /proc/self/fd%s",
			       opts->dir, s->proc_fd < 0 ? "" : " is not procfs");
		goto fail;
	}
	if (fuse_dax_init(s, opts->dir, opts->dax_window_size, err) < 0)
		goto fail;
	if (fuse_tables_init(s, max_nodes, max_handles) < 0) {
		husk_error_set(err, ENOMEM, "share %s", opts->dir);
		goto fail;
	}
	/* The share's own path comes from the host's configuration and may
	 * go through symlinks; nothing beneath it will. */
	int fd = open(opts->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fuse_stat_fd(fd, &st) < 0) {
		husk_error_set(err, errno, "share %s", opts->dir);
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	struct fuse_node *root;
	if (fuse_node_ref(s, fd, &st, &root) < 0) { /* slot 0: node id 1 */
		husk_error_set(err, EMFILE, "share %s: no descriptors left for it", opts->dir);
		goto fail;
	}
	return s;
fail:
	fuse_server_free(s);
	return NULL;
}
