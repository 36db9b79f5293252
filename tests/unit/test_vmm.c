/* vmm/ without KVM: guest memory bounds, the split virtqueue against every
 * malformed value a guest can write, the virtio-mmio transport, and the
 * x86 boot structures. */
#include <asm/bootparam.h>
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "tests/unit/tap.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/queue.h"
#include "vmm/vm.h"
#include "vmm/x86_boot.h"

static void mem_release(struct guest_memory *m)
{
	guest_mem_release(m);
}
#define cleanup_mem __attribute__((cleanup(mem_release)))

TEST(guest_mem_bounds_and_overflow)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(guest_mem_init(&m, 16 << 20, &err), 0);
	CHECK(guest_mem_ptr(&m, 0, 16 << 20) == m.base);
	CHECK(guest_mem_ptr(&m, (16 << 20) - 1, 1));
	CHECK(!guest_mem_ptr(&m, (16 << 20) - 1, 2));
	CHECK(!guest_mem_ptr(&m, 16 << 20, 1));
	CHECK(!guest_mem_ptr(&m, UINT64_MAX - 4, 16)); /* gpa + len wraps */
	CHECK(!guest_mem_ptr(&m, 8, UINT64_MAX));
	CHECK_INT(guest_mem_init(&m, 1 << 20, &err), -1); /* too small */
}

TEST(guest_mem_splits_around_mmio_hole)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;

	CHECK_INT(guest_mem_init(&m, GUEST_MMIO_HOLE_START + (64 << 20), &err), 0);
	CHECK_INT(m.nregions, 2);
	CHECK(guest_mem_ptr(&m, GUEST_MMIO_HOLE_START - 4096, 4096));
	CHECK(!guest_mem_ptr(&m, GUEST_MMIO_HOLE_START, 1));	  /* the hole */
	CHECK(!guest_mem_ptr(&m, GUEST_MMIO_HOLE_START - 8, 16)); /* straddles */
	CHECK(guest_mem_ptr(&m, GUEST_MMIO_HOLE_END, 64 << 20) == m.base + GUEST_MMIO_HOLE_START);
	CHECK(!guest_mem_ptr(&m, GUEST_MMIO_HOLE_END + (64 << 20), 1));
}

/* A driver's view of one queue in synthetic guest memory. */
#define QSIZE 8
#define DESC_GPA 0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA 0x3000
#define BUF_GPA 0x10000

struct fake_queue {
	struct guest_memory mem;
	struct virtq q;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
};

static bool fq_init(struct fake_queue *f)
{
	husk_error_t err cleanup_error = NULL;
	const char *why;

	memset(f, 0, sizeof(*f));
	if (guest_mem_init(&f->mem, 16 << 20, &err) < 0)
		return false;
	f->desc = guest_mem_ptr(&f->mem, DESC_GPA, 16 * QSIZE);
	f->avail = guest_mem_ptr(&f->mem, AVAIL_GPA, 6 + 2 * QSIZE);
	f->used = guest_mem_ptr(&f->mem, USED_GPA, 6 + 8 * QSIZE);
	f->q = (struct virtq){
		.size = QSIZE, .desc_gpa = DESC_GPA, .avail_gpa = AVAIL_GPA, .used_gpa = USED_GPA
	};
	if (virtq_activate(&f->q, 256, &f->mem, &why) < 0)
		return false;
	f->q.ready = true;
	return true;
}

static void fq_release(struct fake_queue *f)
{
	guest_mem_release(&f->mem);
}
#define cleanup_fq __attribute__((cleanup(fq_release)))

static void fq_desc(struct fake_queue *f, int i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	f->desc[i] = (struct virtq_desc){ addr, len, flags, next };
}

static void fq_offer(struct fake_queue *f, uint16_t head)
{
	f->avail->ring[f->avail->idx % QSIZE] = head;
	f->avail->idx++;
}

TEST(virtq_activate_rejects_bad_layouts)
{
	cleanup_fq struct fake_queue f;
	const char *why = NULL;
	CHECK(fq_init(&f));

	struct virtq q = f.q;
	q.size = 6; /* not a power of two */
	CHECK_INT(virtq_activate(&q, 256, &f.mem, &why), -1);
	q.size = 512; /* beyond the device's maximum */
	CHECK_INT(virtq_activate(&q, 256, &f.mem, &why), -1);
	q.size = 0;
	CHECK_INT(virtq_activate(&q, 256, &f.mem, &why), -1);
	q = f.q;
	q.desc_gpa = DESC_GPA + 8; /* misaligned */
	CHECK_INT(virtq_activate(&q, 256, &f.mem, &why), -1);
	q = f.q;
	q.used_gpa = (16 << 20) - 16; /* ring runs past the end of RAM */
	CHECK_INT(virtq_activate(&q, 256, &f.mem, &why), -1);
	CHECK(why != NULL);
}

TEST(virtq_pop_walks_a_good_chain)
{
	cleanup_fq struct fake_queue f;
	struct virtq_chain *c = malloc(sizeof(*c));
	const char *why;
	CHECK(c && fq_init(&f));

	CHECK_INT(virtq_pop(&f.q, &f.mem, c, &why), 0); /* nothing offered */
	fq_desc(&f, 3, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	fq_desc(&f, 5, BUF_GPA + 16, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	fq_desc(&f, 1, BUF_GPA + 200, 1, VIRTQ_DESC_F_WRITE, 0);
	fq_offer(&f, 3);
	CHECK_INT(virtq_pop(&f.q, &f.mem, c, &why), 1);
	CHECK_INT(c->head, 3);
	CHECK_INT(c->nout, 1);
	CHECK_INT(c->nin, 2);
	CHECK_INT(c->out_len, 16);
	CHECK_INT(c->in_len, 101);
	CHECK(c->in[0].iov_base == guest_mem_ptr(&f.mem, BUF_GPA + 16, 100));
	CHECK_INT(virtq_pop(&f.q, &f.mem, c, &why), 0);

	virtq_push(&f.q, c->head, 42);
	CHECK_INT(f.used->idx, 1);
	CHECK_INT(f.used->ring[0].id, 3);
	CHECK_INT(f.used->ring[0].len, 42);
	free(c);
}

/* Offers a chain starting at HEAD after SETUP wrote descriptors, and checks
 * that popping it fails as malformed. */
#define EXPECT_MALFORMED(setup)                             \
	do {                                                \
		cleanup_fq struct fake_queue f;             \
		struct virtq_chain *c = malloc(sizeof(*c)); \
		const char *why = NULL;                     \
		CHECK(c &&fq_init(&f));                     \
		setup;                                      \
		int r_ = virtq_pop(&f.q, &f.mem, c, &why);  \
		free(c);                                    \
		CHECK_INT(r_, -1);                          \
		CHECK(why != NULL);                         \
	} while (0)

TEST(virtq_rejects_avail_index_too_far_ahead)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, BUF_GPA, 8, 0, 0);
		f.avail->idx = QSIZE + 1;
	});
}

TEST(virtq_rejects_head_beyond_queue)
{
	EXPECT_MALFORMED(fq_offer(&f, QSIZE));
}

TEST(virtq_rejects_next_beyond_queue)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE + 3);
		fq_offer(&f, 0);
	});
}

TEST(virtq_rejects_descriptor_loop)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
		fq_desc(&f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
		fq_offer(&f, 0);
	});
}

TEST(virtq_rejects_buffer_outside_ram)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, (16 << 20) - 4, 8, 0, 0);
		fq_offer(&f, 0);
	});
}

TEST(virtq_rejects_buffer_wrapping_address_space)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, UINT64_MAX - 2, 16, 0, 0);
		fq_offer(&f, 0);
	});
}

TEST(virtq_rejects_readable_after_writable)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
		fq_desc(&f, 1, BUF_GPA, 8, 0, 0);
		fq_offer(&f, 0);
	});
}

TEST(virtq_rejects_indirect_descriptors)
{
	EXPECT_MALFORMED({
		fq_desc(&f, 0, BUF_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
		fq_offer(&f, 0);
	});
}

TEST(virtq_longest_legal_chain_is_the_queue)
{
	cleanup_fq struct fake_queue f;
	struct virtq_chain *c = malloc(sizeof(*c));
	const char *why;
	CHECK(c && fq_init(&f));
	for (int i = 0; i < QSIZE; i++)
		fq_desc(&f, i, BUF_GPA, 4, i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	fq_offer(&f, 0);
	int r = virtq_pop(&f.q, &f.mem, c, &why);
	unsigned nout = c->nout;
	free(c);
	CHECK_INT(r, 1);
	CHECK_INT(nout, QSIZE);
}

TEST(virtq_notify_respects_no_interrupt)
{
	cleanup_fq struct fake_queue f;
	CHECK(fq_init(&f));
	CHECK(virtq_should_notify(&f.q));
	f.avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(!virtq_should_notify(&f.q));
}

TEST(iov_copies_are_bounded_by_both_sides)
{
	char a[4] = "abc", b[3] = "de", out[16] = { 0 };
	struct iovec iov[2] = { { a, 3 }, { b, 2 } };

	CHECK_INT(iov_to_buf(iov, 2, 1, out, sizeof(out)), 4);
	CHECK(memcmp(out, "bcde", 4) == 0);
	CHECK_INT(iov_to_buf(iov, 2, 0, out, 2), 2);
	CHECK_INT(buf_to_iov(iov, 2, 2, "XYZW", 4), 3);
	CHECK(memcmp(a, "abX", 3) == 0 && memcmp(b, "YZ", 2) == 0);
	CHECK_INT(buf_to_iov(iov, 2, 10, "X", 1), 0);
}

/* The transport driven through its registers, as a guest driver would. */
static uint8_t fake_config[6] = { 1, 2, 3, 4, 5, 6 };
static void fake_read_config(struct virtio_mmio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	memcpy(data, fake_config + off, len);
}
static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.device_id = 42,
	.features = 1ULL << 3,
	.nqueues = 1,
	.queue_max = 64,
	.read_config = fake_read_config,
	.config_len = 6,
};

static uint32_t reg_read(struct virtio_mmio_dev *d, uint64_t off)
{
	uint32_t v;
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, false);
	return v;
}
static void reg_write(struct virtio_mmio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, true);
}

TEST(mmio_identifies_and_negotiates)
{
	struct virtio_mmio_dev d;
	virtio_mmio_init(&d, &fake_ops, NULL);
	CHECK_INT(reg_read(&d, 0x000), 0x74726976);
	CHECK_INT(reg_read(&d, 0x004), 2);
	CHECK_INT(reg_read(&d, 0x008), 42);
	reg_write(&d, 0x014, 1);
	CHECK_INT(reg_read(&d, 0x010), 1); /* VERSION_1 is bit 32 */
	reg_write(&d, 0x014, 0);
	CHECK_INT(reg_read(&d, 0x010), 1 << 3);

	/* A driver without VERSION_1 (legacy) does not get FEATURES_OK. */
	reg_write(&d, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(&d, 0x020, 1 << 3);
	reg_write(&d, 0x070, 0xb);
	CHECK(!(reg_read(&d, 0x070) & VIRTIO_STATUS_FEATURES_OK));
	/* Nor one asking for a feature that was not offered. */
	reg_write(&d, 0x070, 0);
	reg_write(&d, 0x024, 1);
	reg_write(&d, 0x020, 1 | 2);
	reg_write(&d, 0x070, 0xb);
	CHECK(!(reg_read(&d, 0x070) & VIRTIO_STATUS_FEATURES_OK));
	reg_write(&d, 0x070, 0);
	reg_write(&d, 0x024, 1);
	reg_write(&d, 0x020, 1);
	reg_write(&d, 0x070, 0xb);
	CHECK(reg_read(&d, 0x070) & VIRTIO_STATUS_FEATURES_OK);
	virtio_mmio_release(&d);
}

TEST(mmio_bad_queue_marks_device_broken)
{
	struct virtio_mmio_dev d;
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	CHECK_INT(guest_mem_init(&m, 16 << 20, &err), 0);
	virtio_mmio_init(&d, &fake_ops, NULL);
	d.mem = &m;
	reg_write(&d, 0x030, 0);
	CHECK_INT(reg_read(&d, 0x034), 64);
	reg_write(&d, 0x038, 16);
	reg_write(&d, 0x080, 0xfffff000); /* descriptor table outside RAM */
	reg_write(&d, 0x044, 1);
	CHECK_INT(reg_read(&d, 0x044), 0);
	CHECK(reg_read(&d, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	reg_write(&d, 0x070, 0); /* reset clears it */
	CHECK_INT(reg_read(&d, 0x070), 0);
	/* A queue selector beyond the device's queues reads as absent. */
	reg_write(&d, 0x030, 7);
	CHECK_INT(reg_read(&d, 0x034), 0);
	virtio_mmio_release(&d);
}

TEST(mmio_config_and_odd_accesses_are_bounded)
{
	struct virtio_mmio_dev d;
	uint8_t buf[8];
	virtio_mmio_init(&d, &fake_ops, NULL);
	virtio_mmio_io(&d, 0x100 + 4, buf, 2, false);
	CHECK(buf[0] == 5 && buf[1] == 6);
	memset(buf, 0xaa, sizeof(buf));
	virtio_mmio_io(&d, 0x100 + 4, buf, 4, false); /* runs past config */
	CHECK(buf[0] == 0 && buf[3] == 0);
	virtio_mmio_io(&d, 0x100 + 0xefc, buf, 4, false);
	CHECK(buf[0] == 0);
	virtio_mmio_io(&d, 0x000, buf, 2, false); /* registers are 32-bit only */
	CHECK(buf[0] == 0 && buf[1] == 0);
	virtio_mmio_release(&d);
}

/* A device whose worker serves chains with the lock dropped (fs.c's way),
 * set up through its registers as the Linux driver does. What the guest
 * does while a chain is in service is the serve callback's business. */
static const struct virtio_device_ops worker_ops = {
	.name = "worker",
	.device_id = 43,
	.nqueues = 1,
	.queue_max = 256,
};

static void driver_setup_queue(struct virtio_mmio_dev *d, uint16_t size, uint64_t desc,
			       uint64_t avail, uint64_t used)
{
	reg_write(d, 0x030, 0);
	reg_write(d, 0x038, size);
	reg_write(d, 0x080, (uint32_t)desc);
	reg_write(d, 0x084, (uint32_t)(desc >> 32));
	reg_write(d, 0x090, (uint32_t)avail);
	reg_write(d, 0x094, (uint32_t)(avail >> 32));
	reg_write(d, 0x0a0, (uint32_t)used);
	reg_write(d, 0x0a4, (uint32_t)(used >> 32));
	reg_write(d, 0x044, 1);
}

static void driver_start(struct virtio_mmio_dev *d)
{
	reg_write(d, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(d, 0x024, 1);
	reg_write(d, 0x020, 1); /* VERSION_1 */
	reg_write(d, 0x070, 0xb);
	driver_setup_queue(d, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	reg_write(d, 0x070, 0xf);
}

struct in_service {
	struct virtio_mmio_dev *d;
	int calls;
	void (*guest)(struct virtio_mmio_dev *d);
};

static uint32_t serve_while_guest_acts(void *arg, const struct virtq_chain *c)
{
	struct in_service *s = arg;
	(void)c;
	s->calls++;
	if (s->guest)
		s->guest(s->d);
	return 8;
}

/* The driver disables the queue and writes sizes that would divide by zero
 * or push past the ring, and moves the used ring out of RAM. */
static void guest_shrinks_queue(struct virtio_mmio_dev *d)
{
	reg_write(d, 0x044, 0);
	reg_write(d, 0x038, 0xffff);
	reg_write(d, 0x0a0, 0xfffff000);
	reg_write(d, 0x038, 0);
}

static void guest_resets_and_rebuilds(struct virtio_mmio_dev *d)
{
	reg_write(d, 0x070, 0);
	driver_start(d);
	/* A smaller queue at the same place: a stale push would land in it. */
	reg_write(d, 0x070, 0);
	reg_write(d, 0x070, 0xb);
	driver_setup_queue(d, 2, DESC_GPA, AVAIL_GPA, USED_GPA);
	reg_write(d, 0x070, 0xf);
}

static int serve_one(struct virtio_mmio_dev *d, struct virtq_chain *c, struct in_service *s)
{
	pthread_mutex_lock(&d->lock);
	int r = virtio_mmio_serve_unlocked(d, 0, c, serve_while_guest_acts, s);
	pthread_mutex_unlock(&d->lock);
	return r;
}

TEST(mmio_queue_layout_is_frozen_while_a_chain_is_served)
{
	cleanup_fq struct fake_queue f;
	cleanup_free struct virtq_chain *c = malloc(sizeof(*c));
	struct virtio_mmio_dev d;
	CHECK(c && fq_init(&f));
	virtio_mmio_init(&d, &worker_ops, NULL);
	d.mem = &f.mem;
	driver_start(&d);
	CHECK(d.queues[0].ready);

	fq_desc(&f, 0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	fq_offer(&f, 0);
	struct in_service s = { &d, 0, guest_shrinks_queue };
	CHECK_INT(serve_one(&d, c, &s), 1);
	CHECK_INT(s.calls, 1);
	/* Nothing the driver wrote meanwhile took effect; the chain went back
	 * to the ring it came from. */
	CHECK(d.queues[0].ready);
	CHECK_INT(d.queues[0].size, QSIZE);
	CHECK_INT(d.queues[0].used_gpa, USED_GPA);
	CHECK_INT(f.used->idx, 1);
	CHECK_INT(f.used->ring[0].id, 0);
	CHECK_INT(f.used->ring[0].len, 8);

	/* Once nothing is in service, the same writes take effect (and the
	 * queue can no longer be popped). */
	guest_shrinks_queue(&d);
	CHECK(!d.queues[0].ready);
	CHECK_INT(d.queues[0].size, 0);
	fq_offer(&f, 0);
	s.guest = NULL;
	CHECK_INT(serve_one(&d, c, &s), 0);
	CHECK_INT(s.calls, 1);
	virtio_mmio_release(&d);
}

TEST(mmio_chain_served_across_reset_is_not_pushed)
{
	cleanup_fq struct fake_queue f;
	cleanup_free struct virtq_chain *c = malloc(sizeof(*c));
	struct virtio_mmio_dev d;
	CHECK(c && fq_init(&f));
	virtio_mmio_init(&d, &worker_ops, NULL);
	d.mem = &f.mem;
	driver_start(&d);

	fq_desc(&f, 5, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	fq_offer(&f, 5);
	struct in_service s = { &d, 0, guest_resets_and_rebuilds };
	f.used->idx = 0;
	CHECK_INT(serve_one(&d, c, &s), 0);
	CHECK_INT(s.calls, 1);
	/* The new two-entry queue did not get head 5 of the old one. */
	CHECK_INT(d.queues[0].num, 2);
	CHECK_INT(f.used->idx, 0);
	CHECK_INT(f.used->ring[0].id, 0);
	CHECK(!d.broken);

	/* The rebuilt queue serves as usual. */
	f.avail->idx = 0;
	fq_desc(&f, 1, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	f.avail->ring[0] = 1;
	f.avail->idx = 1;
	s.guest = NULL;
	CHECK_INT(serve_one(&d, c, &s), 1);
	CHECK_INT(f.used->idx, 1);
	CHECK_INT(f.used->ring[0].id, 1);
	virtio_mmio_release(&d);
}

static uint8_t sum(const void *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += ((const uint8_t *)p)[i];
	return s;
}

TEST(mptable_checksums_and_entries)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	CHECK_INT(guest_mem_init(&m, 64 << 20, &err), 0);
	CHECK_INT(boot_write_mptable(&m, 4, &err), 0);
	uint8_t *mpf = guest_mem_ptr(&m, BOOT_MPTABLE, 16);
	CHECK(memcmp(mpf, "_MP_", 4) == 0);
	CHECK_INT(sum(mpf, 16), 0);
	uint32_t physptr;
	memcpy(&physptr, mpf + 4, 4);
	uint8_t *mpc = guest_mem_ptr(&m, physptr, 44);
	CHECK(memcmp(mpc, "PCMP", 4) == 0);
	uint16_t len, count;
	memcpy(&len, mpc + 4, 2);
	memcpy(&count, mpc + 34, 2);
	CHECK_INT(sum(mpc, len), 0);
	CHECK_INT(count, 4 + 1 + 1 + IOAPIC_PINS + 2);
	/* The first entry is the boot processor, enabled. */
	CHECK_INT(mpc[44], 0);
	CHECK_INT(mpc[44 + 3], 3);
	CHECK_INT(mpc[44 + 20 + 3], 1); /* the second CPU: enabled, not BP */
	CHECK_INT(boot_write_mptable(&m, 0, &err), -1);
	husk_error_release(&err);
	CHECK_INT(boot_write_mptable(&m, MAX_VCPUS + 1, &err), -1);
}

TEST(zero_page_fields_and_e820)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	struct boot_kernel k = { .entry = 0x1000000, .end = 0x2000000 };
	CHECK_INT(guest_mem_init(&m, 128 << 20, &err), 0);
	CHECK_INT(boot_write_zero_page(&m, &k, "console=hvc0 quiet", 0x6000000, 4096, &err), 0);
	struct boot_params *bp = guest_mem_ptr(&m, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK_INT(bp->hdr.boot_flag, 0xaa55);
	CHECK_INT(bp->hdr.header, 0x53726448);
	CHECK_INT(bp->hdr.type_of_loader, 0xff);
	CHECK_INT(bp->hdr.cmd_line_ptr, BOOT_CMDLINE);
	CHECK_STR((char *)guest_mem_ptr(&m, BOOT_CMDLINE, 1), "console=hvc0 quiet");
	CHECK_INT(bp->hdr.ramdisk_image, 0x6000000);
	CHECK_INT(bp->hdr.ramdisk_size, 4096);
	CHECK_INT(bp->e820_entries, 3);
	CHECK_INT(bp->e820_table[0].addr, 0);
	CHECK_INT(bp->e820_table[0].type, 1);
	CHECK_INT(bp->e820_table[2].addr, BOOT_HIMEM);
	CHECK_INT(bp->e820_table[2].addr + bp->e820_table[2].size, 128 << 20);

	char *huge = malloc(BOOT_CMDLINE_MAX + 1);
	memset(huge, 'x', BOOT_CMDLINE_MAX);
	huge[BOOT_CMDLINE_MAX] = '\0';
	int r = boot_write_zero_page(&m, &k, huge, 0, 0, &err);
	free(huge);
	CHECK_INT(r, -1);
}

TEST(zero_page_e820_above_4g)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	struct boot_kernel k = { .entry = 0x1000000, .end = 0x2000000 };
	CHECK_INT(guest_mem_init(&m, GUEST_MMIO_HOLE_START + (32 << 20), &err), 0);
	CHECK_INT(boot_write_zero_page(&m, &k, "", 0, 0, &err), 0);
	struct boot_params *bp = guest_mem_ptr(&m, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK_INT(bp->e820_entries, 4);
	CHECK_INT(bp->e820_table[3].addr, GUEST_MMIO_HOLE_END);
	CHECK_INT(bp->e820_table[3].size, 32 << 20);
}

/* A minimal ELF64 with one loadable segment. */
static size_t make_elf(uint8_t *buf, uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	Elf64_Ehdr *eh = (void *)buf;
	Elf64_Phdr *ph = (void *)(buf + sizeof(*eh));
	memset(buf, 0, sizeof(*eh) + sizeof(*ph));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_entry = paddr;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	ph->p_type = PT_LOAD;
	ph->p_offset = 0x100;
	ph->p_paddr = paddr;
	ph->p_filesz = filesz;
	ph->p_memsz = memsz;
	memset(buf + 0x100, 0xcc, filesz);
	return 0x100 + filesz;
}

TEST(elf_kernel_loads_and_rejects_bad_segments)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	struct boot_kernel k;
	uint8_t buf[0x300];
	CHECK_INT(guest_mem_init(&m, 32 << 20, &err), 0);

	size_t len = make_elf(buf, 0x1000000, 0x100, 0x200);
	uint8_t *dst = guest_mem_ptr(&m, 0x1000000, 0x200);
	memset(dst, 0x11, 0x200);
	CHECK_INT(boot_load_kernel_image(&m, buf, len, &k, &err), 0);
	CHECK_INT(k.entry, 0x1000000);
	CHECK_INT(k.end, 0x1000200);
	CHECK(dst[0] == 0xcc && dst[0xff] == 0xcc && dst[0x100] == 0 && dst[0x1ff] == 0);

	len = make_elf(buf, 0x1000000, 0x100, 0x200);
	CHECK_INT(boot_load_kernel_image(&m, buf, len - 1, &k, &err), -1); /* file too short */
	husk_error_release(&err);
	len = make_elf(buf, 32 << 20, 0x100, 0x100); /* beyond RAM */
	CHECK_INT(boot_load_kernel_image(&m, buf, len, &k, &err), -1);
	husk_error_release(&err);
	len = make_elf(buf, 0x1000, 0x100, 0x100); /* over the boot structures */
	CHECK_INT(boot_load_kernel_image(&m, buf, len, &k, &err), -1);
	husk_error_release(&err);
	memset(buf, 0, sizeof(buf));
	CHECK_INT(boot_load_kernel_image(&m, buf, sizeof(buf), &k, &err), -1);
}

TEST(bzimage_loads_at_1mib_with_64bit_entry)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	struct boot_kernel k;
	size_t len = 5 * 512 + 4096;
	uint8_t *img = calloc(1, len);
	CHECK(img);
	CHECK_INT(guest_mem_init(&m, 32 << 20, &err), 0);
	img[0x1f1] = 4; /* setup_sects */
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f; /* protocol 2.15 */
	img[0x207] = 0x02;
	img[0x201] = 0x6a; /* header ends at 0x26c */
	uint16_t xl = XLF_KERNEL_64;
	memcpy(img + 0x236, &xl, 2);
	memset(img + 5 * 512, 0x90, 4096);
	int r = boot_load_kernel_image(&m, img, len, &k, &err);
	free(img);
	CHECK_INT(r, 0);
	CHECK(k.is_bzimage);
	CHECK_INT(k.entry, BOOT_HIMEM + 0x200);
	CHECK_INT(*(uint8_t *)guest_mem_ptr(&m, BOOT_HIMEM, 1), 0x90);
	CHECK_INT(boot_write_zero_page(&m, &k, "x", 0, 0, &err), 0);
	struct boot_params *bp = guest_mem_ptr(&m, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK_INT(bp->hdr.version, 0x20f);
	CHECK_INT(bp->hdr.setup_sects, 4);
}

TEST(page_tables_identity_map_first_gib)
{
	cleanup_mem struct guest_memory m = { 0 };
	husk_error_t err cleanup_error = NULL;
	CHECK_INT(guest_mem_init(&m, 16 << 20, &err), 0);
	CHECK_INT(boot_write_page_tables(&m, &err), 0);
	uint64_t *pml4 = guest_mem_ptr(&m, BOOT_PML4, 8);
	uint64_t *pd = guest_mem_ptr(&m, BOOT_PD, 4096);
	CHECK_INT(pml4[0], BOOT_PDPT | 3);
	CHECK_INT(pd[0], 0x83);
	CHECK_INT(pd[511], (511ULL << 21) | 0x83);
	uint64_t *gdt = guest_mem_ptr(&m, BOOT_GDT_ADDR, 32);
	CHECK_INT(gdt[0], 0);
	CHECK_INT(gdt[BOOT_GDT_CODE64], 0x00af9b000000ffffULL);
	CHECK_INT(gdt[BOOT_GDT_DATA], 0x00cf93000000ffffULL);
}

/* A set-up that fails before the vCPUs are made (no /dev/kvm, or here a
 * kernel that is not there) released vCPU slots still zeroed by calloc:
 * close(0) took the caller's stdin, and `husk check`'s later descriptors. */
TEST(vm_failed_setup_leaves_fd_0_alone)
{
	struct vm_config c = { .kernel = "/nonexistent/vmlinux",
			       .cpus = 1,
			       .memory_mib = 32,
			       .console_in = -1,
			       .console_out = -1 };
	struct vm_result res;
	husk_error_t err cleanup_error = NULL;
	struct stat before, after;
	int saved = dup(0), p[2];

	CHECK(saved >= 0 && pipe(p) == 0);
	CHECK(dup2(p[0], 0) == 0);
	close(p[0]);
	CHECK_INT(fstat(0, &before), 0);
	int r = vm_run(&c, NULL, &res, &err);
	int st = fstat(0, &after);
	dup2(saved, 0);
	close(saved);
	close(p[1]);
	CHECK_INT(r, -1);
	CHECK_INT(st, 0);
	CHECK(after.st_ino == before.st_ino && after.st_dev == before.st_dev);
	husk_error_release(&err);
	CHECK_INT(vm_probe(&c, &err), -1);
	CHECK(fcntl(0, F_GETFD) >= 0);
}
