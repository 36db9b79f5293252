/* The client end of a container's control socket (<root>/<id>/ctl), which
 * the container process (runtime/vmm_process.h) serves. Requests and
 * replies are agent-protocol frames (vmm/agent_proto.h): the husk command
 * plays the host, the VMM the guest. */
#ifndef HUSK_RUNTIME_CONTROL_H
#define HUSK_RUNTIME_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "runtime/container.h"
#include "proto/agent_proto.h"

#define CONTROL_SOCKET "ctl"

/* Listens on C's control socket (create). */
int control_listen(const struct container *c, husk_error_t *err);
/* Connects to it; "container not running" when nobody serves it. */
int control_connect(const struct container *c, husk_error_t *err);

/* How long the VMM waits for its guest to boot, connect and say READY
 * (vmm_process.c), from create's environment; a heavily loaded host (many
 * VMs booting at once, nested emulation) may need longer. */
#define CONTROL_BOOT_TIMEOUT_S 120
#define CONTROL_BOOT_TIMEOUT_ENV "HUSK_BOOT_TIMEOUT"

/* How long a husk command waits for the guest behind the control socket,
 * in seconds, and the environment variables that override them (whole
 * seconds, 1 to 86400). START waits for the guest's READY, which a guest
 * still booting sends only after boot and CREATE: the VMM's own bound for
 * that (CONTROL_BOOT_TIMEOUT_S) plus a margin, so that its
 * clearer error arrives first. Every other request (UPDATE, STATS, EXEC)
 * is answered by a running guest at once. runtime/README.md says why. */
#define CONTROL_START_TIMEOUT_S 150
#define CONTROL_START_TIMEOUT_ENV "HUSK_START_TIMEOUT"
#define CONTROL_REPLY_TIMEOUT_S 30
#define CONTROL_REPLY_TIMEOUT_ENV "HUSK_REPLY_TIMEOUT"

/* *MS from the environment variable VAR, or DEFAULT_S seconds. */
int control_timeout(const char *var, int default_s, int *ms, husk_error_t *err);

/* The CLOCK_MONOTONIC time, in ms, TIMEOUT_MS from now. */
long long control_deadline(int timeout_ms);

/* Sends one frame without ever blocking past DEADLINE: -1 with errno
 * (ETIMEDOUT when the peer did not take it in time). */
int control_send(int fd, uint16_t type, uint32_t id, const void *p, size_t len, long long deadline);

/* agent_rx_fill once FD is readable: -1 with ETIMEDOUT at DEADLINE. */
ssize_t control_fill(int fd, struct agent_rx *rx, long long deadline);

/* Sends TYPE with payload P and waits for the reply of type WANT, at most
 * TIMEOUT_MS for both: 0 with the payload in *REPLY (malloc'd, may be NULL
 * when empty) and *RLEN, or -1 with the VMM's ERROR message (or the
 * transport failure, or the time-out naming the answer that did not come)
 * in *err. */
int control_call(int fd, uint16_t type, const void *p, size_t len, uint16_t want, uint8_t **reply,
		 size_t *rlen, int timeout_ms, husk_error_t *err);

#endif
