/* The guest's interfaces from the host's NETWORK message: loopback up, and
 * each virtio-net card, found by its MAC, renamed eth<N> in the order the
 * host listed them, given the MTU, addresses and routes of the veth it
 * stands for, and brought up; before the container is built, so its
 * process starts with the network in place.
 *
 * Names, MTU and flags through the classic ioctls; addresses and routes
 * through a NETLINK_ROUTE socket by hand (husk-init is static and Debian
 * has no static libmnl). Messages are built in a fixed buffer with every
 * append bounds-checked; replies are only read for their error code, each
 * length checked before use. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rootfs/husk-init/init.h"

#define NL_BUF 1024

struct nlreq {
	char buf[NL_BUF];
	size_t len;
	bool overflow;
};

static struct nlmsghdr *nl_start(struct nlreq *q, uint16_t type, uint16_t flags, const void *hdr,
				 size_t hdrlen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)q->buf;

	memset(q->buf, 0, sizeof(q->buf));
	q->overflow = false;
	q->len = NLMSG_LENGTH(hdrlen);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	memcpy(NLMSG_DATA(h), hdr, hdrlen);
	return h;
}

static void nl_attr(struct nlreq *q, uint16_t type, const void *data, size_t len)
{
	size_t need = NLMSG_ALIGN(q->len) + RTA_SPACE(len);

	if (need > sizeof(q->buf)) {
		q->overflow = true;
		return;
	}
	struct rtattr *a = (struct rtattr *)(q->buf + NLMSG_ALIGN(q->len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	q->len = need;
}

/* Sends the request and reads its acknowledgement: 0 or -errno. */
static int nl_call(int fd, struct nlreq *q)
{
	static unsigned seq;
	struct nlmsghdr *h = (struct nlmsghdr *)q->buf;
	char reply[NL_BUF];

	if (q->overflow)
		return -EMSGSIZE;
	h->nlmsg_len = (uint32_t)q->len;
	h->nlmsg_seq = ++seq;
	if (send(fd, q->buf, q->len, 0) != (ssize_t)q->len)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *r = (struct nlmsghdr *)reply; NLMSG_OK(r, (size_t)n);
		     r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_seq != seq || r->nlmsg_type != NLMSG_ERROR)
				continue;
			if (r->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EBADMSG;
			const struct nlmsgerr *e = NLMSG_DATA(r);
			return e->error;
		}
	}
}

static int if_flags_up(int sock, const char *name)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* Waits until every eth<N> of N is running (operstate up), at most
 * RUNNING_WAIT_MS in all. The kernel sets IFF_RUNNING from its link watch,
 * up to a second after the card came up with its carrier: a process that
 * starts before then sees "NO-CARRIER", and programs that check the flag
 * (DHCP clients, health checks) give up. Not reaching it is not an
 * error, as the link may legitimately come up later; the card is used as
 * it is. Returns how many were still not running. */
#define RUNNING_WAIT_MS 2000
static unsigned wait_running(int sock, unsigned n)
{
	unsigned waiting = n;

	for (int ms = 0; ms <= RUNNING_WAIT_MS && waiting > 0; ms += 10) {
		waiting = 0;
		for (unsigned i = 0; i < n; i++) {
			struct ifreq ifr = { 0 };
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth%u", i);
			if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_RUNNING))
				waiting++;
		}
		if (waiting > 0)
			usleep(10 * 1000);
	}
	return waiting;
}

/* The name of the Ethernet interface with MAC, into NAME. */
static int find_by_mac(int sock, const uint8_t mac[6], char name[IFNAMSIZ])
{
	struct if_nameindex *all = if_nameindex(), *i;
	int found = -1;

	if (!all)
		return -1;
	for (i = all; i->if_index; i++) {
		struct ifreq ifr = { 0 };
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
		if (ioctl(sock, SIOCGIFHWADDR, &ifr) == 0 &&
		    ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER &&
		    memcmp(ifr.ifr_hwaddr.sa_data, mac, 6) == 0) {
			snprintf(name, IFNAMSIZ, "%s", i->if_name);
			found = 0;
			break;
		}
	}
	if_freenameindex(all);
	return found;
}

static int rename_if(int sock, const char *from, const char *to)
{
	struct ifreq ifr = { 0 };

	if (strcmp(from, to) == 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", from);
	snprintf(ifr.ifr_newname, sizeof(ifr.ifr_newname), "%s", to);
	return ioctl(sock, SIOCSIFNAME, &ifr);
}

static int add_addr(int nl, int ifindex, const struct agent_addr *a)
{
	struct nlreq q;
	struct ifaddrmsg ifa = {
		.ifa_family = a->family == 4 ? AF_INET : AF_INET6,
		.ifa_prefixlen = a->prefixlen,
		/* The address is the veth's, known unique: no duplicate
		 * detection delaying its use. */
		.ifa_flags = a->family == 6 ? IFA_F_NODAD : 0,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = (uint32_t)ifindex,
	};
	size_t alen = a->family == 4 ? 4 : 16;

	nl_start(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
	nl_attr(&q, IFA_LOCAL, a->addr, alen);
	nl_attr(&q, IFA_ADDRESS, a->addr, alen);
	return nl_call(nl, &q);
}

static int add_route(int nl, int ifindex, const struct agent_route *r)
{
	struct nlreq q;
	struct rtmsg rt = {
		.rtm_family = r->family == 4 ? AF_INET : AF_INET6,
		.rtm_dst_len = r->dst_len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		/* Without a gateway the destination is on the link. */
		.rtm_scope = r->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
		.rtm_type = RTN_UNICAST,
	};
	size_t alen = r->family == 4 ? 4 : 16;
	uint32_t oif = (uint32_t)ifindex;

	nl_start(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
	if (r->dst_len)
		nl_attr(&q, RTA_DST, r->dst, alen);
	if (r->has_gw)
		nl_attr(&q, RTA_GATEWAY, r->gw, alen);
	nl_attr(&q, RTA_OIF, &oif, sizeof(oif));
	if (r->metric)
		nl_attr(&q, RTA_PRIORITY, &r->metric, sizeof(r->metric));
	return nl_call(nl, &q);
}

static int fmt_err(char *why, size_t whylen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "network: <what>: <strerror(E)>" into WHY. */
static int fmt_err(char *why, size_t whylen, int e, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(why, whylen, "network: %s: %s", what, strerror(e));
	return -1;
}

int network_configure(const struct agent_network *net, char *why, size_t whylen)
{
	char names[AGENT_MAX_IFACES][IFNAMSIZ];
	int ret = -1, sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (sock < 0 || nl < 0) {
		fmt_err(why, whylen, errno, "%s", "sockets");
		goto out;
	}
	if (if_flags_up(sock, "lo") < 0) {
		fmt_err(why, whylen, errno, "%s up", "lo");
		goto out;
	}
	/* Temporary names first, so eth<N> is free whatever the kernel
	 * called the cards. */
	for (unsigned i = 0; i < net->n; i++) {
		char tmp[IFNAMSIZ];
		const uint8_t *m = net->ifs[i].mac;
		if (find_by_mac(sock, m, names[i]) < 0) {
			snprintf(why, whylen,
				 "network: no card with MAC %02x:%02x:%02x:%02x:%02x:%02x", m[0],
				 m[1], m[2], m[3], m[4], m[5]);
			goto out;
		}
		snprintf(tmp, sizeof(tmp), "husk-tmp%u", i);
		if (rename_if(sock, names[i], tmp) < 0) {
			fmt_err(why, whylen, errno, "rename %s", names[i]);
			goto out;
		}
		snprintf(names[i], sizeof(names[i]), "%s", tmp);
	}
	for (unsigned i = 0; i < net->n; i++) {
		const struct agent_iface *f = &net->ifs[i];
		char name[IFNAMSIZ];
		struct ifreq ifr = { 0 };
		int e;

		snprintf(name, sizeof(name), "eth%u", i);
		if (rename_if(sock, names[i], name) < 0) {
			fmt_err(why, whylen, errno, "rename to %s", name);
			goto out;
		}
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_mtu = f->mtu;
		if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) {
			fmt_err(why, whylen, errno, "%s mtu", name);
			goto out;
		}
		if (if_flags_up(sock, name) < 0) {
			fmt_err(why, whylen, errno, "%s up", name);
			goto out;
		}
		int ifindex = (int)if_nametoindex(name);
		if (ifindex == 0) {
			fmt_err(why, whylen, errno, "%s index", name);
			goto out;
		}
		for (unsigned k = 0; k < f->naddrs; k++)
			if ((e = add_addr(nl, ifindex, &f->addrs[k])) < 0 && e != -EEXIST) {
				fmt_err(why, whylen, -e, "%s: add address", name);
				goto out;
			}
		/* Routes on the link first: a gateway must be reachable
		 * before a route can go through it. */
		for (int pass = 0; pass < 2; pass++)
			for (unsigned k = 0; k < f->nroutes; k++) {
				if (f->routes[k].has_gw != (pass == 1))
					continue;
				if ((e = add_route(nl, ifindex, &f->routes[k])) < 0 &&
				    e != -EEXIST) {
					fmt_err(why, whylen, -e, "%s: add route", name);
					goto out;
				}
			}
	}
	unsigned not_running = wait_running(sock, net->n);
	if (not_running > 0)
		fprintf(stderr, "husk-init: network: %u of %u interfaces not running after %d ms\n",
			not_running, net->n, RUNNING_WAIT_MS);
	ret = 0;
out:
	if (sock >= 0)
		close(sock);
	if (nl >= 0)
		close(nl);
	return ret;
}
