#!/usr/bin/env bash
# Load (issue 15): N containers (default 50) created and started at once,
# then an exec into each at once, then all deleted at once. Needs a KVM
# that boots a stock guest: directly on such a host or inside hack/kvmbox
# (make bench-load picks). Prints each phase's wall time, how many of the N
# succeeded, the host's peak memory use above where it started (sampled
# every 0.1 s: MemTotal - MemAvailable) and the VMMs' summed RSS while all
# run. Exits 1 when any container failed any phase: all must succeed.
# Many guests booting at once on one emulated CPU take longer than the
# VMM's default boot bound (120 s); HUSK_BOOT_TIMEOUT, passed on to create
# and start, raises it (BENCH_LOAD_BOOT_TIMEOUT in make bench-load).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-50}
husk=${HUSK:-$top/build/husk}
[[ $n =~ ^[1-9][0-9]*$ ]] || {
	echo "bench-load: the number of containers must be a positive integer, not '$n'" >&2
	exit 2
}
work=$(mktemp -d)
state=$work/state
sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	for d in "$state"/*/; do
		[ -d "$d" ] && "$husk" --root "$state" delete --force "$(basename "$d")" >/dev/null 2>&1
	done
	rm -rf "$work"
}
trap cleanup EXIT

# A bundle of its own for each container, as clients give them.
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
"$husk" spec --bundle "$work/bundle"
jq '.process.terminal = false | .process.args = ["sleep", "100000"] | .root.readonly = true' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
for i in $(seq 1 "$n"); do cp -a "$work/bundle" "$work/bundle-$i"; done

used_kib() {
	awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { print t - a }' /proc/meminfo
}
# Peak of used_kib, written to $work/peak when the sampler is killed.
sample() {
	local peak=0 u
	trap 'echo "$peak" >"$work/peak"; exit 0' TERM
	while :; do
		u=$(used_kib)
		[ "$u" -gt "$peak" ] && peak=$u
		sleep 0.1
	done
}

# phase NAME FUNCTION: runs `FUNCTION ID` for every container at once; prints the
# wall time and how many succeeded; returns 1 if any failed.
phase() {
	local name=$1 fn=$2 t0 t1 pids=() ok=0 i
	t0=$EPOCHREALTIME
	for i in $(seq 1 "$n"); do
		"$fn" "load-$i" </dev/null >"$work/$name-$i.out" 2>"$work/$name-$i.err" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" && ok=$((ok + 1))
	done
	t1=$EPOCHREALTIME
	printf 'bench-load: %-22s %d of %d in %d ms\n' "$name" "$ok" "$n" \
		$(((${t1/./} - ${t0/./}) / 1000))
	if [ "$ok" -ne "$n" ]; then
		for i in $(seq 1 "$n"); do
			[ -s "$work/$name-$i.err" ] && { echo "bench-load: load-$i: $(tail -1 "$work/$name-$i.err")"; break; }
		done
		return 1
	fi
}

vmm_rss_kib() {
	local d pid total=0 r
	for d in "$state"/*/; do
		pid=$("$husk" --root "$state" state "$(basename "$d")" 2>/dev/null | jq -r .pid) || continue
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
		total=$((total + ${r:-0}))
	done
	echo "$total"
}

base=$(used_kib)
sample &
sampler=$!
failed=0
run_one() { "$husk" --root "$state" run --detach --bundle "$work/bundle-${1#load-}" "$1"; }
exec_one() { "$husk" --root "$state" exec "$1" true; }
delete_one() { "$husk" --root "$state" delete --force "$1"; }
phase "run --detach" run_one || failed=1
phase "exec true" exec_one || failed=1
rss=$(vmm_rss_kib)
phase "delete --force" delete_one || failed=1
kill "$sampler"
wait "$sampler" 2>/dev/null
sampler=
peak=$(cat "$work/peak" 2>/dev/null || echo 0)
echo "bench-load: host memory in use, peak above the start: $(((peak - base) / 1024)) MiB" \
	"($(((peak - base) / n)) KiB per container)"
echo "bench-load: the VMMs' RSS with all $n running: $((rss / 1024)) MiB ($((rss / n)) KiB each)"
left=$(find "$state" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
[ "$left" -eq 0 ] || {
	echo "bench-load: $left state directories left after delete"
	failed=1
}
exit "$failed"
