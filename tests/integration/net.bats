#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# Container networking (issue #8): the client's network namespace holds a
# veth with an address, as netavark or a CNI plugin leaves it; the guest's
# eth0 must be that interface (MAC, MTU, address, routes), reach the host
# end and be reached from it, and nothing husk added may outlive the
# container. Without a namespace of the client's, the guest has loopback
# only.

load helpers

# The helpers' teardown, kept under another name: ours adds the network.
eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"

HOST_IP=10.201.0.1
CT_IP=10.201.0.2

teardown() {
	if [ -n "${NETNS:-}" ]; then
		ip netns del "$NETNS" 2>/dev/null || true
		ip link del "$VETH_HOST" 2>/dev/null || true
	fi
	[ -z "${HTTPD_PID:-}" ] || kill "$HTTPD_PID" 2>/dev/null || true
	helpers_teardown
}

require_net() {
	require_containers
	command -v ip >/dev/null || skip "no ip (iproute2)"
	command -v tc >/dev/null || skip "no tc (iproute2)"
	# The box's kernel has tun as a module and no devtmpfs node for it.
	if [ ! -e /dev/net/tun ]; then
		modprobe tun 2>/dev/null || true
		mkdir -p /dev/net
		# devtmpfs may make the node on its own once the module loads.
		[ -e /dev/net/tun ] || mknod /dev/net/tun c 10 200 2>/dev/null ||
			skip "no /dev/net/tun"
	fi
}

# make_netns: a namespace $NETNS with veth $VETH_CT ($CT_IP/24, mtu 1400,
# default route via the host end) whose peer $VETH_HOST has $HOST_IP.
make_netns() {
	local s=${WORK##*.}
	NETNS=$TEST_ID VETH_HOST=vh$s VETH_CT=vc$s
	ip netns add "$NETNS"
	ip link add "$VETH_HOST" type veth peer name "$VETH_CT"
	ip link set "$VETH_CT" netns "$NETNS"
	ip addr add "$HOST_IP/24" dev "$VETH_HOST"
	ip link set "$VETH_HOST" up
	ip -n "$NETNS" link set "$VETH_CT" mtu 1400 up
	ip -n "$NETNS" addr add "$CT_IP/24" dev "$VETH_CT"
	ip -n "$NETNS" route add default via "$HOST_IP"
	CT_MAC=$(ip -n "$NETNS" -o link show "$VETH_CT" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	[ -n "$CT_MAC" ]
}

# net_bundle DIR 'SHELL LINE': a bundle in $NETNS whose process may ping.
net_bundle() {
	make_bundle "$1" sh -c "$2"
	bundle_edit "$1" '
		.linux.namespaces |= map(if .type == "network" then .path = $ns else . end)
		| .process.capabilities.bounding += ["CAP_NET_RAW"]
		| .process.capabilities.effective += ["CAP_NET_RAW"]
		| .process.capabilities.permitted += ["CAP_NET_RAW"]' \
		--arg ns "/var/run/netns/$NETNS"
}

@test "net: eth0 is the veth (MAC, MTU, address, route), both ways reachable, 20 MB intact" {
	require_net
	make_netns
	mkdir -p "$WORK/www"
	head -c 20000000 /dev/urandom >"$WORK/www/big"
	want_sum=$(md5sum <"$WORK/www/big" | cut -d' ' -f1)
	busybox httpd -f -p "$HOST_IP:8080" -h "$WORK/www" </dev/null >/dev/null 2>&1 3>&- &
	HTTPD_PID=$!
	net_bundle "$WORK/b" '
		cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu
		ip -o -4 addr show dev eth0
		ip route show default
		ping -c 2 -W 5 '"$HOST_IP"' >/dev/null && echo ping-ok
		t0=$(cut -d" " -f1 /proc/uptime)
		wget -q -O - http://'"$HOST_IP"':8080/big | md5sum
		t1=$(cut -d" " -f1 /proc/uptime)
		echo "rx-seconds $t0 $t1"
		echo hello-from-guest >/tmp/index.html
		httpd -p 8080 -h /tmp
		echo serving
		sleep 1000'
	run_ct "$CT" "$WORK/b"
	wait_output "$WORK/$CT.out" serving
	out=$WORK/$CT.out
	cat "$out"
	[ "$(sed -n 1p "$out")" = "$CT_MAC" ]
	[ "$(sed -n 2p "$out")" = 1400 ]
	grep -q "eth0 *inet $CT_IP/24" "$out"
	grep -q "^default via $HOST_IP dev eth0" "$out"
	grep -qx ping-ok "$out"
	grep -q "^$want_sum " "$out"
	read -r _ t0 t1 < <(grep '^rx-seconds' "$out")
	echo "# 20 MB host->guest in $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s" >&3
	# The host reaches the guest's server through the veth.
	run timeout 10 wget -q -O - "http://$CT_IP:8080/index.html"
	[ "$output" = hello-from-guest ]
	# husk's tap and its tc redirect are there while the VM runs ...
	ip -n "$NETNS" -o link show | grep -q ' husk[0-9]*:'
	tc -n "$NETNS" filter show dev "$VETH_CT" ingress | grep -q mirred

	run_rt kill "$CT" KILL
	wait_status "$CT" stopped
	run_rt delete "$CT"
	[ "$status" -eq 0 ]
	# ... and gone after delete; the veth and its address are the caller's.
	! ip -n "$NETNS" -o link show | grep -q ' husk[0-9]*:'
	! tc -n "$NETNS" qdisc show dev "$VETH_CT" | grep -q ingress
	ip -n "$NETNS" -o -4 addr show dev "$VETH_CT" | grep -q "$CT_IP/24"
}

@test "net: no namespace of the client's: the guest has loopback only" {
	require_net
	# No network entry (the VMM stays in the host's namespace, which husk
	# never rewires), then one without a path (a new, empty namespace).
	for filter in 'map(select(.type != "network"))' \
		'map(if .type == "network" then del(.path) else . end)'; do
		rm -rf "$WORK/b"
		make_bundle "$WORK/b" sh -c 'ip -o link show | cut -d: -f2 | tr -d " " | tr "\n" " "; echo; ip -o link show lo'
		bundle_edit "$WORK/b" ".linux.namespaces |= $filter"
		run_rt run --bundle "$WORK/b" "$CT" </dev/null
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "lo " ]
		# Up where the agent set it up (the guest's own namespace);
		# a new namespace in the guest starts with it down, as under runc.
		[ "$filter" != 'map(select(.type != "network"))' ] || [[ ${lines[1]} == *"UP"* ]]
		rt delete "$CT" 2>/dev/null || true
	done
}
