#include "vmm/io_bus.h"

#include <string.h>

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *dev,
	       husk_error_t *err)
{
	if (bus->n == IO_BUS_MAX)
		return husk_error_set(err, 0, "too many devices on one bus");
	for (int i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return husk_error_set(err, 0,
					      "device range 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
					      (unsigned long long)base, (unsigned long long)len,
					      (unsigned long long)r->base,
					      (unsigned long long)r->len);
	}
	bus->ranges[bus->n++] = (struct io_range){ base, len, fn, dev };
	return 0;
}

bool io_bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
		   bool is_write)
{
	for (int i = 0; i < bus->n; i++) {
		const struct io_range *r = &bus->ranges[i];
		/* The whole access must fall inside the range. */
		if (addr >= r->base && addr - r->base < r->len &&
		    len <= r->len - (addr - r->base)) {
			r->fn(r->dev, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
