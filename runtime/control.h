/* The client end of a container's control socket (<root>/<id>/ctl), which
 * the container process (runtime/vmm_process.h) serves. Requests and
 * replies are agent-protocol frames (vmm/agent_proto.h): the husk command
 * plays the host, the VMM the guest. */
#ifndef HUSK_RUNTIME_CONTROL_H
#define HUSK_RUNTIME_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "state.h"
#include "vmm/agent_proto.h"

#define CONTROL_SOCKET "ctl"

/* Listens on C's control socket (create). */
int control_listen(const struct container *c, husk_error_t *err);
/* Connects to it; "container not running" when nobody serves it. */
int control_connect(const struct container *c, husk_error_t *err);

/* Sends TYPE with payload P and waits for the reply of type WANT: 0 with
 * the payload in *REPLY (malloc'd, may be NULL when empty) and *RLEN, or
 * -1 with the VMM's ERROR message (or the transport failure) in *err. */
int control_call(int fd, uint16_t type, const void *p, size_t len, uint16_t want, uint8_t **reply,
		 size_t *rlen, husk_error_t *err);

#endif
