/* Port I/O and MMIO dispatch for vCPU exits. Devices register an address
 * range and a handler; vCPU threads call io_bus_access() concurrently, so
 * handlers lock their own state. The bus itself is fixed before the first
 * vCPU runs and only read afterwards. */
#ifndef HUSK_VMM_IO_BUS_H
#define HUSK_VMM_IO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* OFFSET is relative to the range's base; LEN is 1, 2, 4 or 8. A read fills
 * DATA; a write reads it. */
typedef void (*io_handler_fn)(void *dev, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct io_range {
	uint64_t base, len;
	io_handler_fn fn;
	void *dev;
};

#define IO_BUS_MAX 32

struct io_bus {
	int n;
	struct io_range ranges[IO_BUS_MAX];
};

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *dev,
	       husk_error_t *err);

/* False when nothing is mapped there; reads of unmapped space return all
 * ones, as on a PC bus. */
bool io_bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		   bool is_write);

#endif
