/* Tap devices for virtio-net: opened (or created) by name in the calling
 * thread's network namespace, as the VMM's network set-up needs before it
 * drops CAP_NET_ADMIN. */
#ifndef HUSK_VMM_TAP_H
#define HUSK_VMM_TAP_H

#include "base/error.h"

/* The virtio 1.x net header the tap reads and writes in front of every
 * frame (struct virtio_net_hdr_v1: the legacy 10 bytes plus num_buffers). */
#define TAP_VNET_HDR_LEN 12

/* Opens the tap NAME (created if missing; "" lets the kernel pick
 * "tapN"), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR with a 12-byte header, no
 * offloads yet, nonblocking and close-on-exec. The name the kernel used
 * goes to NAME_OUT (IFNAMSIZ bytes) when given. Returns the fd or -1. */
int tap_open(const char *name, char *name_out, husk_error_t *err);

#endif
