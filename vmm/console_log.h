/* The guest kernel's console output: kept in a ring so that, when the guest
 * panics, the VMM can name the panic in its error; copied to a file
 * descriptor when one is given (husk debug boot, --debug). */
#ifndef HUSK_VMM_CONSOLE_LOG_H
#define HUSK_VMM_CONSOLE_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define CONSOLE_LOG_RING 16384

struct console_log {
	pthread_mutex_t lock;
	char ring[CONSOLE_LOG_RING];
	size_t pos; /* next write index */
	bool wrapped;
	int out_fd; /* -1: ring only */
};

void console_log_init(struct console_log *c, int out_fd);
void console_log_write(struct console_log *c, const void *data, size_t len);

/* Copies the last "Kernel panic" line (without its newline) into OUT. */
bool console_log_find_panic(struct console_log *c, char *out, size_t size);

#endif
