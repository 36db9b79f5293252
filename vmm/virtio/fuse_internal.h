/* What the FUSE server's files share, and nothing outside vmm/virtio/
 * includes: the server's state, the request being served, the inode and
 * handle entries, and the functions one file of the server calls in
 * another. The public interface (and the design) is fuse_server.h. */
#ifndef HUSK_VMM_VIRTIO_FUSE_INTERNAL_H
#define HUSK_VMM_VIRTIO_FUSE_INTERNAL_H

#include <limits.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "base/error.h"
#include "base/slot_table.h"
#include "vmm/virtio/fuse_server.h"

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

/* The node id is the slot table's id: slot and reuse count. */
struct fuse_node {
	int fd;		  /* O_PATH | O_NOFOLLOW */
	uint32_t next;	  /* hash chain: slot + 1, 0 ends it */
	uint64_t nlookup; /* references the guest holds: lookups minus forgets */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits: an inode never changes type */
};

struct fuse_handle {
	int fd; /* an open file or directory */
	bool dir;
	bool writable;
};

struct fuse_server {
	bool readonly, cache_always, allow_devices, can_chown, allow_setid;
	const atomic_bool *sealed; /* read-only once true (fuse_server.h) */
	int proc_fd;		   /* /proc/self/fd, to reopen O_PATH descriptors */
	bool initialized;
	uint32_t minor;

	/* SYNCFS: whether the guest may have changed the share since the
	 * last host syncfs(), and when that one ended (CLOCK_MONOTONIC). A
	 * writable DAX mapping changes files without requests. */
	bool unsynced, dax_writable;
	struct timespec last_syncfs;

	struct slot_table nodes; /* of struct fuse_node; slot 0 is the share's root, node id 1 */
	uint32_t buckets[1U << BUCKET_BITS];

	struct slot_table handles; /* of struct fuse_handle */

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
struct fuse_req {
	struct fuse_in_header in;
	const uint8_t *arg; /* the arguments, copied out of guest memory */
	size_t arglen;	    /* their length (WRITE: the fixed part only) */
	size_t datalen;	    /* WRITE: the data bytes that follow */
	const struct iovec *req, *rep;
	unsigned nreq, nrep;
	size_t replen; /* room for the reply, header included */
	/* The reply's payload: OUT, or already written after the header. */
	const void *out;
	size_t outlen;
	bool direct;
};

/* The node a request names, or the request fails with ESTALE. */
#define NODE(s, r, n)                                             \
	struct fuse_node *n = fuse_node_get((s), (r)->in.nodeid); \
	if (!n)                                                   \
	return -ESTALE

/* fuse_server.c: the arguments of the request being served. */
int fuse_take_string(const struct fuse_req *r, size_t *pos, size_t max, const char **out);
int fuse_take_name(const struct fuse_req *r, size_t *pos, const char **out);
int fuse_args_end(const struct fuse_req *r, size_t pos);

/* fuse_nodes.c: the inode and handle tables. */
int fuse_tables_init(struct fuse_server *s, uint32_t max_nodes, uint32_t max_handles);
void fuse_tables_reset(struct fuse_server *s); /* all but the root */
void fuse_tables_destroy(struct fuse_server *s);
struct fuse_node *fuse_node_at(const struct fuse_server *s, uint32_t slot);
struct fuse_node *fuse_node_get(struct fuse_server *s, uint64_t id);
int fuse_node_ref(struct fuse_server *s, int fd, const struct stat *st, struct fuse_node **out);
void fuse_node_unref(struct fuse_server *s, struct fuse_node *n, uint64_t count);
struct fuse_handle *fuse_handle_get(struct fuse_server *s, uint64_t fh, bool dir);
int fuse_handle_new(struct fuse_server *s, int fd, bool dir, bool writable, uint64_t *fh);
void fuse_handle_free(struct fuse_server *s, struct fuse_handle *h);
void fuse_fill_entry(const struct fuse_server *s, struct fuse_entry_out *e,
		     const struct fuse_node *n, const struct stat *st);
int fuse_lookup_at(struct fuse_server *s, int dirfd, const char *name, struct fuse_entry_out *e);

/* fuse_host.c: reaching host files, and the guest's privilege rules. */
dev_t fuse_decode_dev(uint32_t d);
uint64_t fuse_timeout(const struct fuse_server *s);
void fuse_fill_attr(struct fuse_attr *a, const struct stat *st);
int fuse_stat_fd(int fd, struct stat *st);
void fuse_fd_name(int fd, char buf[16]);
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode);
int fuse_reopen(const struct fuse_server *s, int fd, int flags);
int fuse_chmod_node(const struct fuse_server *s, int fd, mode_t type, mode_t mode);
bool fuse_readonly(const struct fuse_server *s);
mode_t fuse_setid_filter(const struct fuse_server *s, mode_t type, mode_t want, mode_t old);
int fuse_drop_privileges(const struct fuse_server *s, int fd);
bool fuse_privileged_xattr(const struct fuse_server *s, const char *name);
int fuse_own_new(const struct fuse_server *s, const struct fuse_req *r, int dirfd, int fd,
		 mode_t mode, struct stat *st);

/* fuse_dax.c: the DAX window. */
int fuse_dax_init(struct fuse_server *s, const char *dir, uint64_t size, husk_error_t *err);
void fuse_dax_reset(struct fuse_server *s);
void fuse_dax_destroy(struct fuse_server *s);

/* The operations, one per opcode (the table is in fuse_server.c): each
 * returns 0 or -errno and sets the reply in R. */
int fuse_op_lookup(struct fuse_server *s, struct fuse_req *r);
int fuse_op_forget(struct fuse_server *s, struct fuse_req *r);
int fuse_op_batch_forget(struct fuse_server *s, struct fuse_req *r);
int fuse_op_getattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_setattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_readlink(struct fuse_server *s, struct fuse_req *r);
int fuse_op_symlink(struct fuse_server *s, struct fuse_req *r);
int fuse_op_mknod(struct fuse_server *s, struct fuse_req *r);
int fuse_op_mkdir(struct fuse_server *s, struct fuse_req *r);
int fuse_op_unlink(struct fuse_server *s, struct fuse_req *r);
int fuse_op_rmdir(struct fuse_server *s, struct fuse_req *r);
int fuse_op_rename(struct fuse_server *s, struct fuse_req *r);
int fuse_op_rename2(struct fuse_server *s, struct fuse_req *r);
int fuse_op_link(struct fuse_server *s, struct fuse_req *r);
int fuse_op_statfs(struct fuse_server *s, struct fuse_req *r);
int fuse_op_access(struct fuse_server *s, struct fuse_req *r);
int fuse_op_setxattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_getxattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_listxattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_removexattr(struct fuse_server *s, struct fuse_req *r);
int fuse_op_syncfs(struct fuse_server *s, struct fuse_req *r);
int fuse_op_open(struct fuse_server *s, struct fuse_req *r);
int fuse_op_create(struct fuse_server *s, struct fuse_req *r);
int fuse_op_read(struct fuse_server *s, struct fuse_req *r);
int fuse_op_write(struct fuse_server *s, struct fuse_req *r);
int fuse_op_release(struct fuse_server *s, struct fuse_req *r);
int fuse_op_fsync(struct fuse_server *s, struct fuse_req *r);
int fuse_op_flush(struct fuse_server *s, struct fuse_req *r);
int fuse_op_opendir(struct fuse_server *s, struct fuse_req *r);
int fuse_op_readdir(struct fuse_server *s, struct fuse_req *r);
int fuse_op_fallocate(struct fuse_server *s, struct fuse_req *r);
int fuse_op_lseek(struct fuse_server *s, struct fuse_req *r);
int fuse_op_copy_file_range(struct fuse_server *s, struct fuse_req *r);
int fuse_op_setupmapping(struct fuse_server *s, struct fuse_req *r);
int fuse_op_removemapping(struct fuse_server *s, struct fuse_req *r);

#endif
