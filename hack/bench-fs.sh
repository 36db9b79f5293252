#!/usr/bin/env bash
# virtio-fs benchmark (issue 6). Needs a KVM that boots a stock guest: run
# it directly on such a host, or inside hack/kvmbox (make bench-fs picks).
# Boots guests with 1 GiB of RAM and two shares of the same kind of host
# directory (this script's scratch directory, on the host's /tmp): "auto"
# (the default caching) and "always" (cache=always, for a tree only the
# guest changes). In the guest, tests/guest/fs-bench.c measures, on the
# guest's tmpfs and on each share:
#   - sequential write of a 256 MiB file (1 MiB writes + fsync);
#   - sequential read after the guest dropped its caches ("cold": from the
#     host), then again ("warm": what the guest's page cache kept);
#   - create, stat (after dropping caches) and unlink of 10,000 files;
# once with the guest kernel's default read-ahead (128 KiB) and once with
# 1 MiB (one full request). tmpfs runs twice and the first run is thrown
# away: a guest's first touch of its RAM is slow under nested KVM and
# would flatter every ratio. Prints the figures and each as a ratio of
# tmpfs. Target: cold sequential reads at least 0.5x tmpfs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
husk=${HUSK:-$top/build/husk}
kernel=$top/build/guest/vmlinux
initrd=$top/build/guest-test/initramfs.cpio

work=$(mktemp -d "${TMPDIR:-/tmp}/husk-bench-fs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/auto" "$work/always"

echo "bench-fs: $(nproc) CPUs, $(uname -r), host dir on $(stat -f -c %T "$work")"
# One guest per measurement: a run that dies (nested emulation in the box
# has been seen to lose a guest now and then) costs one measurement, which
# is retried once, not the whole benchmark.
# measure NAME 'SHELL LINE': boots a guest with both shares mounted, runs
# the line, appends its "fs-bench" line to $out.
out=
measure() {
	local name=$1 line=$2 try got
	for try in 1 2; do
		got=$(timeout 900 "$husk" debug boot --kernel "$kernel" --initrd "$initrd" --memory 1024 --cpus 1 \
			--share "auto=$work/auto" --share "always=$work/always:cache=always" \
			--cmdline "-- /bin/sh -c \"mkdir -p /auto /always && mount -t virtiofs auto /auto && mount -t virtiofs always /always && $line\"" \
			</dev/null 2>"$work/stderr" | tr -d '\r' | grep '^fs-bench ' | tail -n 1) || true
		if [ -n "$got" ]; then
			echo "$got"
			out+="$got"$'\n'
			return 0
		fi
		echo "bench-fs: $name: the guest did not report (try $try): $(tail -n 3 "$work/stderr")" >&2
		rm -rf "${work:?}"/auto/* "${work:?}"/always/*
	done
	exit 1
}
# tmpfs runs twice in one guest and the first run is thrown away (above).
measure tmpfs "fs-bench /tmp >/dev/null && fs-bench /tmp"
measure auto "fs-bench /auto"
measure always "fs-bench /always"
measure "auto, ra 1 MiB" "fs-bench /auto 1024"
measure "always, ra 1 MiB" "fs-bench /always 1024"

# value LINE_NO KEY
value() {
	echo "$out" | grep '^fs-bench ' | sed -n "${1}p" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

echo
printf '%-22s %10s %10s %10s %10s %10s %10s\n' "" write read-cold read-warm create stat unlink
labels=("tmpfs" "auto" "always" "auto, ra 1 MiB" "always, ra 1 MiB")
keys=(write_mbs read_cold_mbs read_warm_mbs create_per_s stat_per_s unlink_per_s)
for i in 2 3 4 5; do
	printf '%-22s' "${labels[$((i - 1))]} / tmpfs"
	for k in "${keys[@]}"; do
		awk -v a="$(value "$i" "$k")" -v b="$(value 1 "$k")" 'BEGIN { printf " %9.2fx", a / b }'
	done
	echo
done
