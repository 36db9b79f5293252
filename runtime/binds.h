/* Bind mounts of host files and directories, served to the guest through
 * ONE virtio-fs share whatever their number or kind.
 *
 * A share is a directory, and a file's directory holds its siblings
 * (/etc/resolv.conf next to /etc/shadow), so a file cannot be shared by
 * its parent. Instead the VMM, in its own mount namespace (confine.c),
 * mounts a small tmpfs on <state dir>/binds and bind-mounts each source
 * onto an entry there named after the mount's index in mounts[]: a file
 * onto an empty file, a directory onto an empty directory. Only those
 * entries are in the share; the guest mounts it once and bind-mounts
 * entry N onto mounts[N].destination.
 *
 *   - Writes go through to the source (the entry is the host file itself,
 *     not a copy), and the host's own changes are seen by the guest (the
 *     share is not cached for long: fuse_server.h).
 *   - Read-only is enforced on the host, per entry: a read-only mount's
 *     entry is a read-only bind mount, so even a guest that ignored its own
 *     read-only mount gets EROFS; when every bind is read-only the whole
 *     share is, too. The tmpfs is made read-only once filled, so the guest
 *     cannot add entries.
 *   - Directories share the one device as well: VM_MAX_SHARES (8) would
 *     otherwise cap a container at 7 volumes. The costs: one virtio-fs
 *     worker for all of them, and one guest superblock, so every bind has
 *     the same st_dev in the guest and two host filesystems' inode numbers
 *     can meet there (tools that spot hard links by dev and inode could be
 *     misled across volumes). Announcing each entry as a FUSE submount
 *     (FUSE_ATTR_SUBMOUNT) would give each its own; not done yet.
 *   - Nothing is left on the host: the mounts live in the VMM's mount
 *     namespace and die with it; the empty directory they sit on is in the
 *     state directory, which delete removes. */
#ifndef HUSK_RUNTIME_BINDS_H
#define HUSK_RUNTIME_BINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/config.h"
#include "proto/agent_proto.h"

/* The share's tag, and its directory's name in the state directory. */
#define BINDS_TAG "binds"
#define BINDS_DIR "binds"

struct bind_entry {
	uint32_t index; /* in mounts[]; also the entry's name */
	char *source;	/* absolute host path, as given or joined to the bundle */
	bool dir;	/* a directory (else a regular file) */
	bool readonly;
	bool recursive; /* rbind: the source's submounts come along */
};

struct bind_plan {
	struct bind_entry *entries;
	struct agent_bind_tag *tags; /* for CREATE: every entry's index, BINDS_TAG */
	size_t n;
	bool all_readonly;
};

/* Collects CFG's bind mounts (sources relative to BUNDLE are joined to it)
 * and checks each source exists and is a directory or regular file; errors
 * name the mount ("mounts[3].source /x: ..."). An empty plan (n == 0) needs
 * no share. */
int binds_plan(const struct oci_config *cfg, const char *bundle, struct bind_plan *plan,
	       husk_error_t *err);
void binds_free(struct bind_plan *plan);

/* In the caller's own mount namespace (it needs CAP_SYS_ADMIN): a tmpfs on
 * DIR (an existing, empty directory), one entry per bind with its source
 * mounted on it, read-only entries made so, then the tmpfs read-only. */
int binds_stage(const struct bind_plan *plan, const char *dir, husk_error_t *err);

#endif
