#!/usr/bin/env bash
# `husk run` of `true` against crun and runc (issue: runtime). Needs a KVM
# that boots a stock guest: run directly on such a host or inside
# hack/kvmbox (make bench-run picks). The same busybox bundle runs N times
# with each runtime, alternating, in one session; prints the median wall
# time of each and husk's ratio to crun and to runc. A runtime that fails
# here is reported as such, not timed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
husk=${HUSK:-$top/build/husk}
work=$top/build/bench-run
rm -rf "$work"
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sh"
"$husk" spec --bundle "$work/bundle"
jq '.process.terminal = false | .process.args = ["true"]' "$work/bundle/config.json" \
	>"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"

# State on tmpfs: runtimes keep sockets there, which a 9p share (the box's
# view of the repo) cannot hold.
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

median() {
	sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# ms RUNTIME ID: wall milliseconds of one `RUNTIME run`, or nothing if it failed.
ms() {
	local rt=$1 id=$2 t0 t1
	t0=$EPOCHREALTIME
	if "$rt" --root "$state/$(basename "$rt")" run --bundle "$work/bundle" "$id" \
		</dev/null >/dev/null 2>>"$work/errors.log"; then
		t1=$EPOCHREALTIME
		echo $(((${t1/./} - ${t0/./}) / 1000))
	fi
}

declare -A times
runtimes=("$husk" "$(command -v crun || true)" "$(command -v runc || true)")
for i in $(seq 1 "$runs"); do
	for rt in "${runtimes[@]}"; do
		[ -n "$rt" ] || continue
		t=$(ms "$rt" "bench-$i")
		[ -n "$t" ] && times[$rt]+="$t "
	done
done

declare -A med
for rt in "${runtimes[@]}"; do
	[ -n "$rt" ] || continue
	name=$(basename "$rt")
	med[$name]=$(echo "${times[$rt]:-}" | tr ' ' '\n' | grep . | median || true)
	n=$(echo "${times[$rt]:-}" | wc -w)
	echo "bench-run: $name run true: median ${med[$name]} ms over $n of $runs runs"
done
for other in crun runc; do
	if [[ ${med[husk]:-n/a} != n/a && ${med[$other]:-n/a} != n/a ]]; then
		awk -v h="${med[husk]}" -v o="${med[$other]}" -v n="$other" \
			'BEGIN { printf "bench-run: husk / %s = %.2f\n", n, h / o }'
	else
		echo "bench-run: husk / $other: n/a (a runtime failed; see $work/errors.log)"
	fi
done
