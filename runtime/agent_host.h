/* The host end of the agent protocol (vmm/agent_proto.h): one session with
 * husk-init over the unix socket the VMM relays the guest's vsock port
 * 1024 to. `husk debug run` drives it; the runtime's create/start/exec will
 * reuse it. */
#ifndef HUSK_RUNTIME_AGENT_HOST_H
#define HUSK_RUNTIME_AGENT_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "proto/agent_proto.h"

struct agent_session {
	int fd;
	struct agent_rx rx;
	struct agent_hello hello;
};

/* Accepts the guest's connection on LISTEN_FD, waiting at most TIMEOUT_MS,
 * or until STOP_FD (-1: none) becomes readable; reads and checks HELLO,
 * which must come within TIMEOUT_MS too. */
int agent_session_accept(struct agent_session *s, int listen_fd, int stop_fd, int timeout_ms,
			 husk_error_t *err);

/* Next frame from the guest (blocking, or until STOP_FD is readable): 1 with
 * *M (valid until the next call), 0 when the guest hung up, -1 on error. */
int agent_session_recv(struct agent_session *s, int stop_fd, struct agent_msg *m,
		       husk_error_t *err);

/* CREATE with CONFIG (LEN bytes of config.json) and the rootfs. */
int agent_session_create(struct agent_session *s, const char *config, size_t len,
			 enum agent_rootfs_kind kind, const char *rootfs, husk_error_t *err);

int agent_session_send(struct agent_session *s, uint16_t type, uint32_t id, const void *p,
		       size_t len, husk_error_t *err);

void agent_session_close(struct agent_session *s);

/* Creates a unix socket listening at PATH. */
int agent_listen(const char *path, husk_error_t *err);

#endif
