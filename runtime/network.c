/* The container's network: see network.h. */
#include "runtime/network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "vmm/tap.h"

#define TAP_NAME_PATTERN "husk%d" /* the kernel picks the number */
/* The matchall filters' priority: any fixed value; one filter per qdisc. */
#define FILTER_PRIO 1

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	/* libmnl's MNL_SOCKET_BUFFER_SIZE is the page size, up to 8 KiB,
	 * computed at run time; a dump message fits in 32 KiB. */
	char buf[32768];
};

static void nl_closep(struct nl **n)
{
	if (*n) {
		if ((*n)->sock)
			mnl_socket_close((*n)->sock);
		free(*n);
	}
}
#define cleanup_nl __attribute__((cleanup(nl_closep)))

static struct nl *nl_open(husk_error_t *err)
{
	struct nl *n = calloc(1, sizeof(*n));

	if (!n) {
		husk_error_set(err, ENOMEM, "netlink");
		return NULL;
	}
	n->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!n->sock || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		husk_error_set(err, errno, "netlink socket");
		nl_closep(&n);
		return NULL;
	}
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (unsigned)time(NULL);
	return n;
}

static struct nlmsghdr *nl_msg(struct nl *n, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(n->buf);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++n->seq;
	return h;
}

/* Sends H and reads replies through CB (NULL: an acknowledgement only)
 * until the dump ends or the ack arrives. Returns 0 or -errno. */
static int nl_talk(struct nl *n, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	unsigned seq = h->nlmsg_seq;

	if (mnl_socket_sendto(n->sock, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(n->sock, n->buf, sizeof(n->buf));
		if (r < 0)
			return -errno;
		int c = mnl_cb_run(n->buf, (size_t)r, seq, n->portid, cb, data);
		if (c < 0)
			return -errno;
		if (c == MNL_CB_STOP)
			return 0;
	}
}

/* ---- reading the namespace ---- */

static struct net_iface *iface_by_index(struct net_setup *ns, int ifindex)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (ns->ifs[i].ifindex == ifindex)
			return &ns->ifs[i];
	return NULL;
}

struct attrs {
	const struct nlattr *a[IFLA_MAX + IFA_MAX + RTA_MAX + 3];
	int max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->a[type] = attr;
	return MNL_CB_OK;
}

struct link_walk {
	struct net_setup *ns;
	int skipped; /* interfaces beyond NET_MAX_IFACES */
};

static int link_cb(const struct nlmsghdr *h, void *data)
{
	struct link_walk *w = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
	struct attrs t = { .max = IFLA_MAX };

	if (h->nlmsg_type != RTM_NEWLINK || (ifi->ifi_flags & IFF_LOOPBACK) ||
	    !(ifi->ifi_flags & IFF_UP))
		return MNL_CB_OK;
	mnl_attr_parse(h, sizeof(*ifi), attr_cb, &t);
	if (!t.a[IFLA_IFNAME] || !t.a[IFLA_ADDRESS] || !t.a[IFLA_MTU] ||
	    mnl_attr_get_payload_len(t.a[IFLA_ADDRESS]) != 6)
		return MNL_CB_OK; /* not Ethernet-like: nothing a virtio-net card can be */
	if (w->ns->n == NET_MAX_IFACES) {
		w->skipped++;
		return MNL_CB_OK;
	}
	struct net_iface *f = &w->ns->ifs[w->ns->n++];
	*f = (struct net_iface){ .ifindex = ifi->ifi_index, .tap_fd = -1 };
	snprintf(f->name, sizeof(f->name), "%s", mnl_attr_get_str(t.a[IFLA_IFNAME]));
	memcpy(f->mac, mnl_attr_get_payload(t.a[IFLA_ADDRESS]), 6);
	uint32_t mtu = mnl_attr_get_u32(t.a[IFLA_MTU]);
	f->mtu = (uint16_t)(mtu > 65535 ? 65535 : mtu);
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *h, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(h);
	struct attrs t = { .max = IFA_MAX };
	struct net_iface *f = iface_by_index(data, (int)ifa->ifa_index);
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;

	if (h->nlmsg_type != RTM_NEWADDR || !f || ifa->ifa_scope != RT_SCOPE_UNIVERSE ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_parse(h, sizeof(*ifa), attr_cb, &t);
	/* IFA_LOCAL is the interface's own address on point-to-point links,
	 * IFA_ADDRESS otherwise (and the only one for IPv6). */
	const struct nlattr *a = t.a[IFA_LOCAL] ? t.a[IFA_LOCAL] : t.a[IFA_ADDRESS];
	if (!a || mnl_attr_get_payload_len(a) != alen || f->naddrs == NET_MAX_ADDRS)
		return MNL_CB_OK;
	struct net_addr *x = &f->addrs[f->naddrs++];
	*x = (struct net_addr){ .family = ifa->ifa_family, .prefixlen = ifa->ifa_prefixlen };
	memcpy(x->addr, mnl_attr_get_payload(a), alen);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *h, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
	struct attrs t = { .max = RTA_MAX };
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;

	/* The main table's unicast routes someone added: the kernel's own
	 * (the prefix route of an address, IPv6 link-local) the guest makes
	 * itself when it gets the address. */
	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_table != RT_TABLE_MAIN ||
	    rt->rtm_type != RTN_UNICAST || rt->rtm_protocol == RTPROT_KERNEL ||
	    (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_parse(h, sizeof(*rt), attr_cb, &t);
	if (!t.a[RTA_OIF])
		return MNL_CB_OK; /* multipath: not carried */
	struct net_iface *f = iface_by_index(data, (int)mnl_attr_get_u32(t.a[RTA_OIF]));
	if (!f || f->nroutes == NET_MAX_ROUTES)
		return MNL_CB_OK;
	struct net_route r = { .family = rt->rtm_family, .dst_len = rt->rtm_dst_len };
	if (t.a[RTA_DST]) {
		if (mnl_attr_get_payload_len(t.a[RTA_DST]) != alen)
			return MNL_CB_OK;
		memcpy(r.dst, mnl_attr_get_payload(t.a[RTA_DST]), alen);
	}
	if (t.a[RTA_GATEWAY]) {
		if (mnl_attr_get_payload_len(t.a[RTA_GATEWAY]) != alen)
			return MNL_CB_OK;
		memcpy(r.gw, mnl_attr_get_payload(t.a[RTA_GATEWAY]), alen);
		r.has_gw = true;
	}
	if (t.a[RTA_PRIORITY])
		r.metric = mnl_attr_get_u32(t.a[RTA_PRIORITY]);
	f->routes[f->nroutes++] = r;
	return MNL_CB_OK;
}

static int dump(struct nl *n, uint16_t type, size_t hdrlen, mnl_cb_t cb, void *data,
		const char *what, husk_error_t *err)
{
	struct nlmsghdr *h = nl_msg(n, type, NLM_F_DUMP);
	/* The request's own header (ifinfomsg, ifaddrmsg, rtmsg), zeroed:
	 * each begins with the family, AF_UNSPEC for all. */
	mnl_nlmsg_put_extra_header(h, hdrlen);
	int r = nl_talk(n, h, cb, data);
	if (r < 0)
		return husk_error_set(err, -r, "netlink: list %s", what);
	return 0;
}

/* ---- wiring ---- */

static int link_up_mtu(struct nl *n, int ifindex, uint16_t mtu)
{
	struct nlmsghdr *h = nl_msg(n, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	mnl_attr_put_u32(h, IFLA_MTU, mtu);
	return nl_talk(n, h, NULL, NULL);
}

static struct nlmsghdr *tc_msg(struct nl *n, uint16_t type, uint16_t flags, int ifindex,
			       uint32_t parent, uint32_t handle, uint32_t info)
{
	struct nlmsghdr *h = nl_msg(n, type, flags | NLM_F_ACK);
	struct tcmsg *tc = mnl_nlmsg_put_extra_header(h, sizeof(*tc));
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = ifindex;
	tc->tcm_parent = parent;
	tc->tcm_handle = handle;
	tc->tcm_info = info;
	return h;
}

static int add_ingress(struct nl *n, int ifindex)
{
	struct nlmsghdr *h = tc_msg(n, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
				    TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0), 0);
	mnl_attr_put_strz(h, TCA_KIND, "ingress");
	return nl_talk(n, h, NULL, NULL);
}

static int del_ingress(struct nl *n, int ifindex)
{
	struct nlmsghdr *h =
		tc_msg(n, RTM_DELQDISC, 0, ifindex, TC_H_INGRESS, TC_H_MAKE(TC_H_INGRESS, 0), 0);
	mnl_attr_put_strz(h, TCA_KIND, "ingress");
	return nl_talk(n, h, NULL, NULL);
}

/* Every frame arriving on FROM leaves through TO: a matchall filter on
 * FROM's ingress with a mirred egress-redirect action, the frame stolen
 * from FROM's own stack. */
static int add_redirect(struct nl *n, int from, int to)
{
	struct nlmsghdr *h = tc_msg(n, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, from,
				    TC_H_MAKE(TC_H_INGRESS, 0), 0,
				    TC_H_MAKE((uint32_t)FILTER_PRIO << 16, htons(ETH_P_ALL)));
	mnl_attr_put_strz(h, TCA_KIND, "matchall");
	struct nlattr *opts = mnl_attr_nest_start(h, TCA_OPTIONS);
	struct nlattr *acts = mnl_attr_nest_start(h, TCA_MATCHALL_ACT);
	struct nlattr *act = mnl_attr_nest_start(h, 1); /* the first action */
	mnl_attr_put_strz(h, TCA_ACT_KIND, "mirred");
	struct nlattr *aopts = mnl_attr_nest_start(h, TCA_ACT_OPTIONS);
	struct tc_mirred m = { .action = TC_ACT_STOLEN,
			       .eaction = TCA_EGRESS_REDIR,
			       .ifindex = (uint32_t)to };
	mnl_attr_put(h, TCA_MIRRED_PARMS, sizeof(m), &m);
	mnl_attr_nest_end(h, aopts);
	mnl_attr_nest_end(h, act);
	mnl_attr_nest_end(h, acts);
	mnl_attr_nest_end(h, opts);
	return nl_talk(n, h, NULL, NULL);
}

static int wire(struct nl *n, struct net_iface *f, husk_error_t *err)
{
	int r;

	f->tap_fd = tap_open(TAP_NAME_PATTERN, f->tap_name, err);
	if (f->tap_fd < 0)
		return husk_error_wrap(err, "network interface %s", f->name);
	int tap = (int)if_nametoindex(f->tap_name);
	if (tap == 0)
		return husk_error_set(err, errno, "network interface %s: tap %s", f->name,
				      f->tap_name);
	if ((r = link_up_mtu(n, tap, f->mtu)) < 0)
		return husk_error_set(err, -r, "network interface %s: tap %s: up, mtu %u", f->name,
				      f->tap_name, f->mtu);
	if ((r = add_ingress(n, f->ifindex)) < 0)
		return husk_error_set(err, -r, "network interface %s: ingress qdisc%s", f->name,
				      r == -EEXIST ? " (one is there already)" : "");
	if ((r = add_ingress(n, tap)) < 0 || (r = add_redirect(n, f->ifindex, tap)) < 0 ||
	    (r = add_redirect(n, tap, f->ifindex)) < 0)
		return husk_error_set(err, -r, "network interface %s: tc redirect to tap %s",
				      f->name, f->tap_name);
	return 0;
}

int network_setup(struct net_setup *ns, husk_error_t *err)
{
	cleanup_nl struct nl *n = nl_open(err);
	struct link_walk w = { ns, 0 };

	*ns = (struct net_setup){ 0 };
	if (!n)
		return -1;
	if (dump(n, RTM_GETLINK, sizeof(struct ifinfomsg), link_cb, &w, "interfaces", err) < 0 ||
	    dump(n, RTM_GETADDR, sizeof(struct ifaddrmsg), addr_cb, ns, "addresses", err) < 0 ||
	    dump(n, RTM_GETROUTE, sizeof(struct rtmsg), route_cb, ns, "routes", err) < 0)
		return -1;
	if (w.skipped)
		return husk_error_set(err, 0,
				      "network namespace: %u interfaces, at most %d supported",
				      ns->n + (unsigned)w.skipped, NET_MAX_IFACES);
	for (unsigned i = 0; i < ns->n; i++)
		if (wire(n, &ns->ifs[i], err) < 0) {
			/* Undo: the qdiscs of the veths wired so far (a tap's
			 * own goes with it). */
			for (unsigned k = 0; k <= i; k++)
				del_ingress(n, ns->ifs[k].ifindex);
			network_release(ns);
			return -1;
		}
	return 0;
}

void network_release(struct net_setup *ns)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (ns->ifs[i].tap_fd >= 0) {
			close(ns->ifs[i].tap_fd);
			ns->ifs[i].tap_fd = -1;
		}
}

int network_cleanup(husk_error_t *err)
{
	cleanup_nl struct nl *n = nl_open(err);
	struct net_setup ns = { 0 };
	struct link_walk w = { &ns, 0 };

	if (!n)
		return -1;
	/* The same walk as network_setup(): the interfaces it would wire. */
	if (dump(n, RTM_GETLINK, sizeof(struct ifinfomsg), link_cb, &w, "interfaces", err) < 0)
		return -1;
	for (unsigned i = 0; i < ns.n; i++) {
		int r = del_ingress(n, ns.ifs[i].ifindex);
		if (r < 0 && r != -ENOENT && r != -EINVAL)
			return husk_error_set(err, -r, "network interface %s: remove ingress qdisc",
					      ns.ifs[i].name);
	}
	return 0;
}
