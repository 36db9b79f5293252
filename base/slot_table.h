/* A bounded, growable table of fixed-size slots whose ids a peer holds:
 * the FUSE server's inodes and open handles, which the guest names by id.
 * An id carries the slot and the slot's generation (the times it was
 * released), so a stale or made-up id finds nothing instead of whatever
 * took the slot since. Freed slots are reused last-freed first; the table
 * grows by doubling up to its limit and never shrinks or moves a slot's
 * index (the element pointers may move when it grows). */
#ifndef HUSK_BASE_SLOT_TABLE_H
#define HUSK_BASE_SLOT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct slot_meta {
	uint32_t gen;  /* times the slot was released */
	uint32_t next; /* free list: slot + 1, 0 ends it */
	bool live;
};

struct slot_table {
	unsigned char *elems; /* cap elements of elem_size bytes */
	struct slot_meta *meta;
	size_t elem_size;
	uint32_t used; /* slots ever handed out: [0, used) */
	uint32_t cap, max;
	uint32_t free; /* free list head: slot + 1, 0 when empty */
	uint32_t live; /* slots in use */
};

/* Room for CAP elements of ELEM_SIZE bytes now (zeroed), MAX at most
 * (at least 1). -EINVAL or -ENOMEM. A zeroed table is
 * an empty one that slot_table_destroy() accepts. */
int slot_table_init(struct slot_table *t, size_t elem_size, uint32_t cap, uint32_t max);
void slot_table_destroy(struct slot_table *t);

/* No slot can be handed out without going over the limit. */
bool slot_table_full(const struct slot_table *t);

/* Hands out a slot (its element's contents are the caller's to fill):
 * 0, or -ENFILE when full, -ENOMEM when the table cannot grow. */
int slot_table_alloc(struct slot_table *t, uint32_t *slot);

/* Gives SLOT, which must be live, back; ids naming it go stale. */
void slot_table_release(struct slot_table *t, uint32_t slot);

/* Whether SLOT is in range and handed out. */
bool slot_table_live(const struct slot_table *t, uint32_t slot);

/* The element of SLOT, which must be below t->used. */
void *slot_table_at(const struct slot_table *t, uint32_t slot);

/* The slot of ELEM, an element of the table. */
uint32_t slot_table_slot(const struct slot_table *t, const void *elem);

uint32_t slot_table_gen(const struct slot_table *t, uint32_t slot);

/* The id of live SLOT: generation << 32 | (slot + 1), never 0. */
uint64_t slot_table_id(const struct slot_table *t, uint32_t slot);

/* The element ID names, or NULL: out of range, free, or of another
 * generation. */
void *slot_table_get(const struct slot_table *t, uint64_t id);

#endif
