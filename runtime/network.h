/* The container's network, carried into the guest (issue #8).
 *
 * The client (podman's netavark, a CNI plugin) prepared a network namespace
 * holding a veth with the container's MAC, addresses and routes; the VMM
 * joined it (confine_namespaces). network_setup(), in the VMM before it
 * drops CAP_NET_ADMIN, then for every interface that is up and not
 * loopback:
 *   - reads its MAC, MTU, global IPv4/IPv6 addresses and the routes through
 *     it (not the kernel's own prefix routes);
 *   - creates a tap "husk<N>" (vmm/tap.c), up, with the veth's MTU;
 *   - gives both an ingress qdisc with a matchall filter whose mirred
 *     action redirects every frame to the other's egress (the approach of
 *     Kata's tc-redirect-tap): the namespace's own IP stack never sees
 *     them, and the guest's eth0, carrying the veth's MAC, addresses,
 *     routes and MTU, is the container's interface.
 * All through libmnl. Without a network entry in the spec, a new namespace
 * (a spec entry without a path) or one with only loopback, there is no
 * interface: the guest has loopback only.
 *
 * The taps go away with the VMM (they are not persistent); the ingress
 * qdiscs on the veths stay in the caller's namespace until
 * network_cleanup() removes them (husk delete; the namespace belongs to
 * the caller, as under runc). */
#ifndef HUSK_RUNTIME_NETWORK_H
#define HUSK_RUNTIME_NETWORK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define NET_MAX_IFACES 4 /* VM_MAX_NICS */
#define NET_MAX_ADDRS 16
#define NET_MAX_ROUTES 32

struct net_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefixlen;
	uint8_t addr[16];
};

struct net_route {
	uint8_t family;
	uint8_t dst_len; /* 0: default route */
	uint8_t dst[16];
	uint8_t gw[16];
	bool has_gw;
	uint32_t metric;
};

struct net_iface {
	char name[IFNAMSIZ]; /* in the namespace: the veth */
	int ifindex;
	char tap_name[IFNAMSIZ];
	int tap_fd;
	uint8_t mac[6];
	uint16_t mtu;
	unsigned naddrs, nroutes;
	struct net_addr addrs[NET_MAX_ADDRS];
	struct net_route routes[NET_MAX_ROUTES];
};

struct net_setup {
	unsigned n;
	struct net_iface ifs[NET_MAX_IFACES];
};

/* Reads and wires the calling thread's network namespace as above; on
 * failure undoes what it did. */
int network_setup(struct net_setup *ns, husk_error_t *err);

/* Closes the taps (they vanish with the last descriptor). */
void network_release(struct net_setup *ns);

/* Removes the ingress qdisc from each interface of the calling thread's
 * namespace that network_setup() would wire (up, not loopback, Ethernet):
 * the interfaces are the caller's, the qdiscs husk's. None there is not an
 * error. */
int network_cleanup(husk_error_t *err);

#endif
