#include "vmm/memory.h"

#include <errno.h>
#include <sys/mman.h>

int guest_mem_init(struct guest_memory *m, uint64_t ram_size, husk_error_t *err)
{
	uint64_t low = ram_size < GUEST_MMIO_HOLE_START ? ram_size : GUEST_MMIO_HOLE_START;

	*m = (struct guest_memory){ 0 };
	if (ram_size < (16 << 20) || (ram_size & 0xfff))
		return husk_error_set(
			err, 0, "guest memory %llu bytes: must be at least 16 MiB and page-aligned",
			(unsigned long long)ram_size);
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return husk_error_set(err, errno, "map %llu MiB of guest memory",
				      (unsigned long long)(ram_size >> 20));
	/* Transparent huge pages cut EPT/NPT misses; advice, so failure is fine. */
	madvise(p, ram_size, MADV_HUGEPAGE);
	m->base = p;
	m->ram_size = ram_size;
	m->regions[0] = (struct guest_region){ 0, low, m->base };
	m->nregions = 1;
	if (ram_size > low) {
		m->regions[1] =
			(struct guest_region){ GUEST_MMIO_HOLE_END, ram_size - low, m->base + low };
		m->nregions = 2;
	}
	return 0;
}

void guest_mem_release(struct guest_memory *m)
{
	if (m->base)
		munmap(m->base, m->ram_size);
	*m = (struct guest_memory){ 0 };
}

void *guest_mem_ptr(const struct guest_memory *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];
		/* Written so that no sum can overflow: offset < size first,
		 * then len against what is left. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		if (off == r->size && len == 0 && i + 1 < m->nregions)
			continue;
		return r->host + off;
	}
	return NULL;
}

uint64_t guest_mem_low_end(const struct guest_memory *m)
{
	return m->regions[0].size;
}
