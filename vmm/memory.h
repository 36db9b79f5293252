/* Guest RAM: one anonymous MAP_NORESERVE mapping, so the host commits only
 * the pages the guest touches. On x86 it is split around the MMIO hole below
 * 4 GiB into at most two regions.
 *
 * Every guest physical address husk dereferences goes through
 * guest_mem_ptr(), which checks that [gpa, gpa + len) lies wholly inside one
 * region without overflowing: the one place guest-controlled addresses are
 * bounds-checked. */
#ifndef HUSK_VMM_MEMORY_H
#define HUSK_VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Device MMIO and the LAPIC/IOAPIC live between here and 4 GiB. */
#define GUEST_MMIO_HOLE_START 0xc0000000ULL
#define GUEST_MMIO_HOLE_END 0x100000000ULL

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_memory {
	uint8_t *base; /* the whole mapping, for munmap */
	uint64_t ram_size;
	int nregions;
	struct guest_region regions[2];
};

int guest_mem_init(struct guest_memory *m, uint64_t ram_size, husk_error_t *err);
void guest_mem_release(struct guest_memory *m);

/* Host pointer for [gpa, gpa + len), or NULL if any byte of it is not RAM.
 * len may be 0 (then gpa itself must be inside RAM or at a region's end). */
void *guest_mem_ptr(const struct guest_memory *m, uint64_t gpa, uint64_t len);

/* Highest guest physical address + 1 of RAM below the MMIO hole. */
uint64_t guest_mem_low_end(const struct guest_memory *m);

#endif
