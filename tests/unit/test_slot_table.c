/* base/slot_table: the allocator behind the FUSE server's inode and handle
 * tables, whose ids a hostile guest sends back. What matters is that no id
 * but the one handed out reaches a slot: stale, made-up and out-of-range
 * ids find nothing. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/slot_table.h"
#include "tests/unit/tap.h"

struct elem {
	int value;
	char pad[12];
};

TEST(slot_table_hands_out_slots_in_order_and_finds_them_by_id)
{
	struct slot_table t;
	uint32_t a, b;

	CHECK_INT(slot_table_init(&t, sizeof(struct elem), 4, 8), 0);
	CHECK_INT(slot_table_alloc(&t, &a), 0);
	CHECK_INT(slot_table_alloc(&t, &b), 0);
	CHECK_INT(a, 0);
	CHECK_INT(b, 1);
	CHECK_INT(t.live, 2);
	((struct elem *)slot_table_at(&t, a))->value = 10;
	((struct elem *)slot_table_at(&t, b))->value = 20;
	CHECK(slot_table_id(&t, a) == 1);
	CHECK(slot_table_id(&t, b) == 2);
	struct elem *e = slot_table_get(&t, slot_table_id(&t, b));
	CHECK(e != NULL);
	CHECK_INT(e->value, 20);
	CHECK_INT(slot_table_slot(&t, e), b);
	CHECK(slot_table_live(&t, a) && slot_table_live(&t, b));
	slot_table_destroy(&t);
}

TEST(slot_table_refuses_stale_made_up_and_out_of_range_ids)
{
	struct slot_table t;
	uint32_t a, c;

	CHECK_INT(slot_table_init(&t, sizeof(struct elem), 2, 4), 0);
	CHECK_INT(slot_table_alloc(&t, &a), 0);
	uint64_t id = slot_table_id(&t, a);
	CHECK(slot_table_get(&t, 0) == NULL);
	CHECK(slot_table_get(&t, 2) == NULL);	       /* never handed out */
	CHECK(slot_table_get(&t, 5) == NULL);	       /* beyond the limit */
	CHECK(slot_table_get(&t, UINT64_MAX) == NULL); /* slot and gen made up */
	CHECK(slot_table_get(&t, id | (1ULL << 32)) == NULL);
	slot_table_release(&t, a);
	CHECK(!slot_table_live(&t, a));
	CHECK(slot_table_get(&t, id) == NULL); /* released */
	/* The slot is reused under a new generation; the old id stays stale. */
	CHECK_INT(slot_table_alloc(&t, &c), 0);
	CHECK_INT(c, a);
	CHECK_INT(slot_table_gen(&t, c), 1);
	CHECK(slot_table_get(&t, id) == NULL);
	CHECK(slot_table_get(&t, slot_table_id(&t, c)) == slot_table_at(&t, c));
	CHECK(slot_table_id(&t, c) == ((1ULL << 32) | 1));
	CHECK(!slot_table_live(&t, 7));
	slot_table_destroy(&t);
}

TEST(slot_table_reuses_the_last_freed_slot_first)
{
	struct slot_table t;
	uint32_t s[3], r;

	CHECK_INT(slot_table_init(&t, sizeof(int), 4, 4), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(slot_table_alloc(&t, &s[i]), 0);
	slot_table_release(&t, s[0]);
	slot_table_release(&t, s[2]);
	CHECK_INT(t.live, 1);
	CHECK_INT(slot_table_alloc(&t, &r), 0);
	CHECK_INT(r, s[2]);
	CHECK_INT(slot_table_alloc(&t, &r), 0);
	CHECK_INT(r, s[0]);
	CHECK_INT(slot_table_alloc(&t, &r), 0);
	CHECK_INT(r, 3); /* the free list is empty: a fresh slot */
	slot_table_destroy(&t);
}

TEST(slot_table_grows_to_its_limit_keeping_contents_then_is_full)
{
	struct slot_table t;
	uint32_t s;

	CHECK_INT(slot_table_init(&t, sizeof(struct elem), 1, 5), 0);
	for (int i = 0; i < 5; i++) {
		CHECK(!slot_table_full(&t));
		CHECK_INT(slot_table_alloc(&t, &s), 0);
		CHECK_INT(s, i);
		((struct elem *)slot_table_at(&t, s))->value = 100 + i;
	}
	CHECK_INT(t.cap, 5); /* doubled, then held at the limit */
	CHECK(slot_table_full(&t));
	CHECK_INT(slot_table_alloc(&t, &s), -ENFILE);
	for (uint32_t i = 0; i < 5; i++)
		CHECK_INT(((struct elem *)slot_table_at(&t, i))->value, 100 + (int)i);
	slot_table_release(&t, 3);
	CHECK(!slot_table_full(&t));
	CHECK_INT(slot_table_alloc(&t, &s), 0);
	CHECK_INT(s, 3);
	slot_table_destroy(&t);
}

TEST(slot_table_refuses_bad_sizes_and_destroys_a_zeroed_table)
{
	struct slot_table t;

	CHECK_INT(slot_table_init(&t, 0, 4, 4), -EINVAL);
	CHECK_INT(slot_table_init(&t, 8, 0, 4), -EINVAL);
	CHECK_INT(slot_table_init(&t, 8, 4, 0), -EINVAL);
	memset(&t, 0, sizeof(t));
	slot_table_destroy(&t);
	CHECK(slot_table_full(&t)); /* a zeroed table has no room */
	CHECK(slot_table_get(&t, 1) == NULL);
}
