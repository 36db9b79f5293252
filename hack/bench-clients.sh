#!/usr/bin/env bash
# Clients' view of husk (issue: podman and containerd), against crun in the
# same session. Needs a KVM that boots a stock guest: run directly on such a
# host or inside hack/kvmbox (make bench-clients picks). Prints:
#   - the median wall time of `podman run --rm IMAGE true` with each runtime,
#     alternating, and husk's ratio to crun;
#   - TCP throughput over podman's default bridge between a container and
#     an iperf3 server on the bridge's host side, both directions, with
#     each runtime, and husk's ratio to crun.
# podman uses private storage and the README's containers.conf; the images
# are built offline (tests/clients/make-images.sh), the iperf3 one with the
# host's iperf3 and the libraries it links. A runtime that fails is
# reported as such, not timed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
seconds=${BENCH_IPERF_SECONDS:-5}
husk=${HUSK:-$top/build/husk}
for c in podman crun iperf3 jq; do
	command -v "$c" >/dev/null || {
		echo "bench-clients: $c is not installed (hack/install-deps.sh)" >&2
		exit 1
	}
done

# State on tmpfs: podman and the runtimes keep sockets there, which a 9p
# share (the box's view of the repo) cannot hold.
pm=$(mktemp -d /run/husk-bench-clients.XXXXXX)
errors=$pm/errors.log
cleanup() {
	podman rm -af -t 0 >/dev/null 2>&1 || true
	podman system reset -f >/dev/null 2>&1 || true
	[ -z "${iperf_pid:-}" ] || kill "$iperf_pid" 2>/dev/null || true
	rm -rf "$pm"
}
trap cleanup EXIT
"$top/tests/clients/podman-config.sh" "$pm/conf" "$pm/graph" "$pm/run" "$husk"
export CONTAINERS_CONF=$pm/conf/containers.conf
export CONTAINERS_STORAGE_CONF=$pm/conf/storage.conf
"$top/tests/clients/make-images.sh" "$pm/images" >/dev/null
podman import -q --change 'CMD ["sh"]' "$pm/images/rootfs.tar" husk.test/busybox >/dev/null

# The iperf3 image: the busybox root plus iperf3 and what `ldd` says it
# needs, at the same paths.
r=$pm/iperf-root
mkdir -p "$r"
tar -xf "$pm/images/rootfs.tar" -C "$r"
for f in "$(command -v iperf3)" $(ldd "$(command -v iperf3)" | grep -o '/[^ ]*'); do
	mkdir -p "$r$(dirname "$f")"
	cp -L "$f" "$r$f"
done
tar -C "$r" -cf "$pm/iperf.tar" .
podman import -q --change 'CMD ["sh"]' "$pm/iperf.tar" husk.test/iperf3 >/dev/null

# The VMM opens /dev/net/tun in the container's netns; the box's kernel
# has tun as a module.
[ -e /dev/net/tun ] || modprobe tun

median() {
	sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
# ratio NAME A B: prints "bench-clients: NAME husk / crun = A/B".
ratio() {
	if [[ $2 != n/a && $3 != n/a ]]; then
		awk -v a="$2" -v b="$3" -v n="$1" 'BEGIN { printf "bench-clients: %s husk / crun = %.2f\n", n, a / b }'
	else
		echo "bench-clients: $1 husk / crun: n/a (a runtime failed; see the errors above)"
	fi
}

# ms RUNTIME: wall milliseconds of one `podman run --rm`, or nothing if it failed.
ms() {
	local t0 t1
	t0=$EPOCHREALTIME
	if podman --runtime "$1" run --rm husk.test/busybox true </dev/null >/dev/null 2>>"$errors"; then
		t1=$EPOCHREALTIME
		echo $(((${t1/./} - ${t0/./}) / 1000))
	fi
}

declare -A times med
# One untimed run each: the first podman run sets up the bridge and the
# image's overlay, which would weigh on whichever runtime came first.
ms husk >/dev/null
ms crun >/dev/null
for i in $(seq 1 "$runs"); do
	for rt in husk crun; do
		t=$(ms "$rt")
		[ -n "$t" ] && times[$rt]+="$t "
	done
done
for rt in husk crun; do
	med[$rt]=$(echo "${times[$rt]:-}" | tr ' ' '\n' | grep . | median || true)
	echo "bench-clients: podman run --rm true with $rt: median ${med[$rt]} ms over $(echo "${times[$rt]:-}" | wc -w) of $runs runs"
done
ratio "podman run --rm true:" "${med[husk]}" "${med[crun]}"

bridge_ip=$(ip -4 -o addr show | awk '$2 ~ /podman/ { sub(/\/.*/, "", $4); print $4; exit }')
[ -n "$bridge_ip" ] || {
	echo "bench-clients: podman made no bridge" >&2
	exit 1
}
iperf3 -s -B "$bridge_ip" -p 5201 >/dev/null 2>&1 </dev/null &
iperf_pid=$!
sleep 1

# mbps RUNTIME [-R]: Mbit/s received by the far end of one iperf3 run from
# a container (-R: server to container), or nothing if it failed.
mbps() {
	local rt=$1
	shift
	podman --runtime "$rt" run --rm husk.test/iperf3 \
		iperf3 -c "$bridge_ip" -p 5201 -t "$seconds" -J "$@" </dev/null 2>>"$errors" |
		jq -r '.end.sum_received.bits_per_second / 1e6 | floor' 2>>"$errors" || true
}
declare -A rate
for dir in up down; do
	flag=
	[ "$dir" = down ] && flag=-R
	for rt in husk crun; do
		rate[$rt]=$(mbps "$rt" $flag)
		[ -n "${rate[$rt]}" ] || rate[$rt]=n/a
		echo "bench-clients: TCP over the bridge, container $([ "$dir" = up ] && echo "to host" || echo "from host"), $rt: ${rate[$rt]} Mbit/s"
	done
	ratio "TCP $dir:" "${rate[husk]}" "${rate[crun]}"
done
if [ -s "$errors" ]; then
	echo "bench-clients: errors:" >&2
	tail -n 20 "$errors" >&2
fi
