/* Passing a descriptor over a unix socket (SCM_RIGHTS): the console to
 * --console-socket on the host, a container's pty master in the guest. */
#ifndef HUSK_BASE_FDPASS_H
#define HUSK_BASE_FDPASS_H

#include <stddef.h>

/* Sends FD over SOCK with LEN bytes of DATA (at least one: a message
 * without data carries no descriptor on a stream socket). -1 with errno. */
int fd_send(int sock, int fd, const void *data, size_t len);

#endif
