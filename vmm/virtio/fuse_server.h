/* A FUSE server (protocol 7.38, as Linux 6.1 speaks it) exporting one host
 * directory, without any transport: fuse_server_handle() takes one request
 * as the driver wrote it (scattered buffers) and writes the reply into the
 * buffers given for it. virtio-fs (fs.c) feeds it from a virtqueue; the
 * unit tests and the fuzzer feed it directly.
 *
 * The guest is hostile. Everything it sends is checked against the bytes
 * actually present, the fixed part of a request is copied out of guest
 * memory before it is parsed (the guest may change it meanwhile), and the
 * host is only ever reached through file descriptors the server opened
 * beneath the share:
 *
 *   - every inode the guest knows is an O_PATH|O_NOFOLLOW descriptor in a
 *     bounded table; node ids carry the slot and a reuse count, so a stale
 *     or made-up id is ESTALE, never another file;
 *   - names are single components: no '/', not "." or "..", at most
 *     NAME_MAX bytes, NUL-terminated exactly where the request ends. The
 *     guest kernel never sends "." or ".." (it resolves them itself; only
 *     FUSE_EXPORT_SUPPORT, not offered, would make it look ".." up), so
 *     they are refused outright: a walk up from the share root cannot be
 *     expressed;
 *   - lookups use openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 *     RESOLVE_NO_MAGICLINKS) and O_NOFOLLOW; a symlink is a node of its
 *     own and is never followed on the host (its target is only stored and
 *     returned by READLINK);
 *   - only regular files are reopened for I/O (through /proc/self/fd, the
 *     one way to turn an O_PATH descriptor into an open file; the magic
 *     link names exactly that inode); directories are opened as "."
 *     beneath their own descriptor; devices, FIFOs and sockets are never
 *     opened, so a device node in the share cannot reach a host device;
 *   - MKNOD creates character and block devices only when the share allows
 *     it (the whiteout device 0:0 overlayfs needs is always allowed);
 *   - a read-only share refuses every modifying request with EROFS; a
 *     sealed one does from the moment its owner seals it;
 *   - the guest gives no host file privileges (unless the share allows
 *     set-ID): no new set-user-ID bit, no set-group-ID bit on anything but a
 *     directory, no security.* or trusted.* xattr (file capabilities, LSM
 *     labels, overlayfs's own), and a file whose data it may change first
 *     loses the set-ID bits and file capabilities it had. The VMM holds
 *     FSETID, so the host kernel would not drop them on the guest's writes;
 *     a host user running a set-ID program the guest wrote would get its
 *     owner's rights.
 *
 * Ownership: the guest kernel checks permissions itself (virtio-fs mounts
 * with default_permissions), so the server acts with the VMM's own
 * credentials and only makes ownership come out right: a new file, directory,
 * node or symlink is chowned to the caller's uid and gid (or keeps the
 * directory's group under a set-group-ID directory, as the kernel gives it)
 * and its mode set as asked, less the set-ID bits above (a chown clears
 * them, as it does on the host). Without CAP_CHOWN (a rootless VMM) new files stay the VMM's.
 *
 * Caching: with cache_always (a share only the guest changes, like a
 * container's rootfs) entries and attributes are valid for a day, and open
 * files and directories keep their page cache; otherwise (host and guest
 * may both change it) they are valid for a second and the guest drops cached
 * pages when it opens a file or sees its size or mtime change.
 *
 * DAX (dax_window_size > 0): the server reserves a window of its own
 * address space, which the VMM maps into guest physical memory (the
 * device's shared memory region 0). FUSE_SETUPMAPPING maps a regular
 * file's pages there from the host's page cache (MAP_SHARED), so a guest
 * mounted with -o dax reads and writes them in place: one copy per read, as
 * on tmpfs, instead of the host's copy into the guest's page cache and the
 * guest's copy out of it. Offsets in the window and the file must be 2 MiB
 * aligned (what Linux uses, and announced as map_alignment), which also
 * bounds the mappings a guest can make to window / 2 MiB. A guest touching a
 * part of the window nothing is mapped at (or past a file's end) faults in
 * KVM and ends its own VM; the host is not affected. */
#ifndef HUSK_VMM_VIRTIO_FUSE_SERVER_H
#define HUSK_VMM_VIRTIO_FUSE_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/error.h"

#define FUSE_SERVER_MAX_INODES (1U << 16)
#define FUSE_SERVER_MAX_HANDLES (1U << 14)
/* Largest READ and WRITE: 256 pages, what a 256-entry queue can carry. */
#define FUSE_SERVER_MAX_IO (1U << 20)
/* The least time between two host syncfs() calls a share makes for the
 * guest's SYNCFS (fuse_op_syncfs() in fuse_ops.c says why). */
#define FUSE_SERVER_SYNCFS_INTERVAL_MS 100

/* Descriptors a share holds outside its tables: /proc/self/fd, and those
 * one request has open before they join a table (CREATE: the new file,
 * its O_PATH twin and the path it was found by). */
#define FUSE_SERVER_FIXED_FDS 4

/* Descriptors the inode and handle tables of several shares draw from
 * together: one VM's budget, so that no share, and no two, can take the
 * descriptors the rest of the VMM needs. Shared by the shares' worker
 * threads. */
struct fuse_fd_pool {
	_Atomic uint32_t used;
	uint32_t limit;
};

struct fuse_share_opts {
	const char *dir;
	bool readonly;
	bool cache_always;  /* only the guest changes the tree: cache for long */
	bool allow_devices; /* MKNOD may create character and block devices */
	/* The guest may make set-ID files and set security.* and trusted.*
	 * xattrs on the host (see above): only for a share whose files no
	 * host user runs, or whose guest is trusted. */
	bool allow_setid;
	/* When set: the share turns read-only for good once *SEALED is true,
	 * which another thread may store at any time (root.readonly: the
	 * guest makes its mount points first, before its workload runs). */
	const atomic_bool *sealed;
	/* Table limits; 0 means the defaults above. */
	uint32_t max_inodes;
	uint32_t max_handles;
	/* Where every inode and handle (each holds a descriptor) is counted,
	 * the root included; at its limit a new one fails with ENFILE.
	 * NULL: a pool of the share's own, of half the RLIMIT_NOFILE in
	 * force (a server alone in its process: the tests, the fuzzer). */
	struct fuse_fd_pool *fd_pool;
	/* DAX window in bytes, a multiple of FUSE_SERVER_DAX_ALIGN; 0: none. */
	uint64_t dax_window_size;
};

/* The alignment of every DAX mapping, in the window and in the file. */
#define FUSE_SERVER_DAX_ALIGN_SHIFT 21
#define FUSE_SERVER_DAX_ALIGN (1ULL << FUSE_SERVER_DAX_ALIGN_SHIFT)
#define FUSE_SERVER_DAX_MAX (64ULL << 30)

struct fuse_server;

/* Opens the share: DIR must be a directory. */
struct fuse_server *fuse_server_new(const struct fuse_share_opts *opts, husk_error_t *err);
void fuse_server_free(struct fuse_server *s);

/* Serves one request: REQ (NREQ buffers, REQ_LEN bytes in all) as the
 * driver wrote it, the reply into REP (NREP buffers). Returns the number of
 * bytes written to REP: 0 when there is no reply (FORGET, or no room even
 * for a reply header). */
size_t fuse_server_handle(struct fuse_server *s, const struct iovec *req, unsigned nreq,
			  const struct iovec *rep, unsigned nrep);

/* Forgets every inode and handle the guest had (driver reset). */
void fuse_server_reset(struct fuse_server *s);

/* The DAX window (NULL, 0 without one): the VMM makes it guest memory. */
void fuse_server_dax_window(const struct fuse_server *s, void **base, uint64_t *size);

/* How many inodes (root included) and handles are held: for the tests. */
void fuse_server_counts(const struct fuse_server *s, uint32_t *inodes, uint32_t *handles);

#endif
