/* Slots with generation-checked ids; the rules are in slot_table.h. */
#include "base/slot_table.h"

#include <errno.h>
#include <stdlib.h>

int slot_table_init(struct slot_table *t, size_t elem_size, uint32_t cap, uint32_t max)
{
	*t = (struct slot_table){ .elem_size = elem_size, .max = max };
	if (elem_size == 0 || cap == 0 || max == 0)
		return -EINVAL;
	t->elems = calloc(cap, elem_size);
	t->meta = calloc(cap, sizeof(*t->meta));
	if (!t->elems || !t->meta) {
		slot_table_destroy(t);
		return -ENOMEM;
	}
	t->cap = cap;
	return 0;
}

void slot_table_destroy(struct slot_table *t)
{
	free(t->elems);
	free(t->meta);
	t->elems = NULL;
	t->meta = NULL;
	t->used = t->cap = t->free = t->live = 0;
}

bool slot_table_full(const struct slot_table *t)
{
	return !t->free && t->used >= t->max;
}

/* Doubles the room, to the limit at most. */
static int grow(struct slot_table *t)
{
	uint64_t cap = (uint64_t)t->cap * 2;
	if (cap > t->max)
		cap = t->max;
	if (cap > SIZE_MAX / t->elem_size)
		return -ENOMEM;
	unsigned char *e = realloc(t->elems, (size_t)cap * t->elem_size);
	if (!e)
		return -ENOMEM;
	t->elems = e;
	struct slot_meta *m = realloc(t->meta, (size_t)cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	t->meta = m;
	t->cap = (uint32_t)cap;
	return 0;
}

int slot_table_alloc(struct slot_table *t, uint32_t *slot)
{
	uint32_t s;

	if (slot_table_full(t))
		return -ENFILE;
	if (t->free) {
		s = t->free - 1;
		t->free = t->meta[s].next;
	} else {
		if (t->used == t->cap) {
			int err = grow(t);
			if (err < 0)
				return err;
		}
		s = t->used++;
		t->meta[s].gen = 0;
	}
	t->meta[s].live = true;
	t->meta[s].next = 0;
	t->live++;
	*slot = s;
	return 0;
}

void slot_table_release(struct slot_table *t, uint32_t slot)
{
	struct slot_meta *m = &t->meta[slot];

	m->live = false;
	m->gen++;
	m->next = t->free;
	t->free = slot + 1;
	t->live--;
}

bool slot_table_live(const struct slot_table *t, uint32_t slot)
{
	return slot < t->used && t->meta[slot].live;
}

void *slot_table_at(const struct slot_table *t, uint32_t slot)
{
	return t->elems + (size_t)slot * t->elem_size;
}

uint32_t slot_table_slot(const struct slot_table *t, const void *elem)
{
	return (uint32_t)(((const unsigned char *)elem - t->elems) / t->elem_size);
}

uint32_t slot_table_gen(const struct slot_table *t, uint32_t slot)
{
	return t->meta[slot].gen;
}

uint64_t slot_table_id(const struct slot_table *t, uint32_t slot)
{
	return ((uint64_t)t->meta[slot].gen << 32) | ((uint64_t)slot + 1);
}

void *slot_table_get(const struct slot_table *t, uint64_t id)
{
	uint64_t slot = id & 0xffffffffULL;

	if (slot == 0 || slot > t->used)
		return NULL;
	const struct slot_meta *m = &t->meta[slot - 1];
	if (!m->live || m->gen != (uint32_t)(id >> 32))
		return NULL;
	return slot_table_at(t, (uint32_t)(slot - 1));
}
