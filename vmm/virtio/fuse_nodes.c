/* The FUSE server's tables: the inodes the guest knows (O_PATH
 * descriptors, found again by device and inode number so a hard link is
 * one node) and the files and directories it holds open, both slot tables
 * whose ids the guest sends back, and the descriptor pool both draw from.
 * Separate from the operations so that every rule about what an id may
 * reach is in one place. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/virtio/fuse_internal.h"

/* ---- the inode table ------------------------------------------------- */

static uint32_t bucket(dev_t dev, ino_t ino)
{
	uint64_t h =
		((uint64_t)ino ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ULL)) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h >> (64 - BUCKET_BITS));
}

struct fuse_node *fuse_node_at(const struct fuse_server *s, uint32_t slot)
{
	return slot_table_at(&s->nodes, slot);
}

static uint32_t node_slot(const struct fuse_server *s, const struct fuse_node *n)
{
	return slot_table_slot(&s->nodes, n);
}

static uint64_t node_id(const struct fuse_server *s, const struct fuse_node *n)
{
	return slot_table_id(&s->nodes, node_slot(s, n));
}

/* The node a guest node id names, or NULL: the slot must be in use and of
 * the same generation (a forgotten id is stale, not the slot's new file). */
struct fuse_node *fuse_node_get(struct fuse_server *s, uint64_t id)
{
	return slot_table_get(&s->nodes, id);
}

static void hash_remove(struct fuse_server *s, struct fuse_node *n)
{
	uint32_t self = node_slot(s, n) + 1;
	uint32_t *p = &s->buckets[bucket(n->dev, n->ino)];
	while (*p && *p != self)
		p = &fuse_node_at(s, *p - 1)->next;
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

/* A slot of table T and a descriptor of the pool for FD, which is closed
 * when there is no room: with the table or the VM's descriptors used up,
 * the guest must forget or release first. */
static int slot_take(struct fuse_server *s, struct slot_table *t, int fd, uint32_t *slot)
{
	if (slot_table_full(t) || !fds_take(s)) {
		close(fd);
		return -ENFILE;
	}
	int err = slot_table_alloc(t, slot);
	if (err < 0) {
		fds_put(s);
		close(fd);
	}
	return err;
}

/* Takes FD, an O_PATH descriptor beneath the share with *ST its status,
 * and returns the node of that inode with one more lookup reference. FD is
 * consumed either way. The same inode reached by another name (a hard
 * link) is the same node, as the guest kernel requires. */
int fuse_node_ref(struct fuse_server *s, int fd, const struct stat *st, struct fuse_node **out)
{
	uint32_t b = bucket(st->st_dev, st->st_ino);

	for (uint32_t i = s->buckets[b]; i; i = fuse_node_at(s, i - 1)->next) {
		struct fuse_node *n = fuse_node_at(s, i - 1);
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			close(fd);
			n->nlookup++;
			*out = n;
			return 0;
		}
	}
	uint32_t slot;
	int err = slot_take(s, &s->nodes, fd, &slot);
	if (err < 0)
		return err;
	struct fuse_node *n = fuse_node_at(s, slot);
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

static void node_free(struct fuse_server *s, struct fuse_node *n)
{
	hash_remove(s, n);
	close(n->fd);
	fds_put(s);
	n->nlookup = 0;
	slot_table_release(&s->nodes, node_slot(s, n));
}

void fuse_node_unref(struct fuse_server *s, struct fuse_node *n, uint64_t count)
{
	if (node_slot(s, n) == 0)
		return; /* the root lives as long as the server */
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup == 0)
		node_free(s, n);
}

/* ---- the handle table ------------------------------------------------ */

struct fuse_handle *fuse_handle_get(struct fuse_server *s, uint64_t fh, bool dir)
{
	struct fuse_handle *h = slot_table_get(&s->handles, fh);
	if (!h || h->dir != dir)
		return NULL;
	return h;
}

/* Makes FD a handle; FD is consumed either way. */
int fuse_handle_new(struct fuse_server *s, int fd, bool dir, bool writable, uint64_t *fh)
{
	uint32_t slot;
	int err = slot_take(s, &s->handles, fd, &slot);
	if (err < 0)
		return err;
	struct fuse_handle *h = slot_table_at(&s->handles, slot);
	h->fd = fd;
	h->dir = dir;
	h->writable = writable;
	*fh = slot_table_id(&s->handles, slot);
	return 0;
}

void fuse_handle_free(struct fuse_server *s, struct fuse_handle *h)
{
	close(h->fd);
	fds_put(s);
	slot_table_release(&s->handles, slot_table_slot(&s->handles, h));
}

/* ---- lookups --------------------------------------------------------- */

void fuse_fill_entry(const struct fuse_server *s, struct fuse_entry_out *e,
		     const struct fuse_node *n, const struct stat *st)
{
	*e = (struct fuse_entry_out){
		.nodeid = node_id(s, n),
		.generation = slot_table_gen(&s->nodes, node_slot(s, n)),
		.entry_valid = fuse_timeout(s),
		.attr_valid = fuse_timeout(s),
	};
	fuse_fill_attr(&e->attr, st);
}

/* NAME beneath directory DIRFD: its node, with one more reference. */
int fuse_lookup_at(struct fuse_server *s, int dirfd, const char *name, struct fuse_entry_out *e)
{
	struct stat st;
	struct fuse_node *n;

	int fd = fuse_open_beneath(dirfd, name, O_PATH, 0);
	if (fd < 0)
		return -errno;
	int r = fuse_stat_fd(fd, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	if ((r = fuse_node_ref(s, fd, &st, &n)) < 0)
		return r;
	fuse_fill_entry(s, e, n, &st);
	return 0;
}

/* ---- the tables' life cycle ------------------------------------------ */

int fuse_tables_init(struct fuse_server *s, uint32_t max_nodes, uint32_t max_handles)
{
	if (slot_table_init(&s->nodes, sizeof(struct fuse_node), 64, max_nodes) < 0 ||
	    slot_table_init(&s->handles, sizeof(struct fuse_handle), 16, max_handles) < 0)
		return -ENOMEM;
	return 0;
}

void fuse_tables_reset(struct fuse_server *s)
{
	for (uint32_t i = 1; i < s->nodes.used; i++)
		if (slot_table_live(&s->nodes, i))
			node_free(s, fuse_node_at(s, i));
	for (uint32_t i = 0; i < s->handles.used; i++)
		if (slot_table_live(&s->handles, i))
			fuse_handle_free(s, slot_table_at(&s->handles, i));
}

void fuse_tables_destroy(struct fuse_server *s)
{
	if (slot_table_live(&s->nodes, 0)) {
		close(fuse_node_at(s, 0)->fd);
		fds_put(s);
	}
	slot_table_destroy(&s->nodes);
	slot_table_destroy(&s->handles);
}
