/* Host-side terminals for containers and exec'd processes: a raw pty pair
 * (the guest's own pty does the terminal work; this one passes bytes
 * through) and runc's console-socket hand-over of its master. */
#ifndef HUSK_RUNTIME_CONSOLE_H
#define HUSK_RUNTIME_CONSOLE_H

#include "base/error.h"

/* A new raw pty sized ROWS x COLS (0: left as is). */
int console_open_pty(unsigned rows, unsigned cols, int *master, int *slave, husk_error_t *err);

/* Sends MASTER over the unix socket at PATH (--console-socket) as runc
 * does: SCM_RIGHTS with the name as payload. */
int console_send(const char *path, int master, husk_error_t *err);

#endif
