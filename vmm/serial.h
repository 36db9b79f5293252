/* A 16550A UART at COM1 (0x3f8, IRQ 4), only as much of one as Linux's 8250
 * driver needs: the kernel log when asked for (husk debug boot --serial,
 * --debug). Every byte costs a VM exit, so it is off by default. */
#ifndef HUSK_VMM_SERIAL_H
#define HUSK_VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/console_log.h"
#include "vmm/event_loop.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4

struct serial {
	pthread_mutex_t lock;
	int vm_fd;
	struct console_log *log;
	struct event_loop *loop;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool thr_irq_pending; /* THR empty, not yet reported through IIR */
	bool irq_high;
	uint8_t rx[256];
	unsigned rx_head, rx_count;
	struct event_source input; /* host input, fd -1 for none */
};

void serial_init(struct serial *s, int vm_fd, struct console_log *log, struct event_loop *loop,
		 int in_fd);
void serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Event loop callback: host input became readable. */
void serial_input(struct event_source *src, uint32_t events);

#endif
