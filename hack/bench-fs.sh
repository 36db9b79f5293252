#!/usr/bin/env bash
# virtio-fs benchmark (issue 6). Needs a KVM that boots a stock guest: run
# it directly on such a host, or inside hack/kvmbox (make bench-fs picks).
# Boots guests with 1 GiB of RAM and three shares of the same kind of host
# directory (this script's scratch directory, on the host's /tmp): "auto"
# (the default caching), "always" (cache=always, for a tree only the guest
# changes) and "dax" (a 1 GiB DAX window, mounted -o dax=always: file pages
# are mapped from the host's page cache, not copied; in a guest of its own).
# In the guest,
# tests/guest/fs-bench.c measures, on the guest's tmpfs and on each share:
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
mkdir "$work/auto" "$work/always" "$work/dax"

echo "bench-fs: $(nproc) of $(nproc --all) CPUs, $(uname -r), host dir on $(stat -f -c %T "$work")"
# One guest per measurement: a run that dies (nested emulation in the box
# has been seen to lose a guest now and then) costs one measurement, which
# is retried once, not the whole benchmark.
# measure NAME 'SHELL LINE' [dax]: boots a guest with the "auto" and
# "always" shares mounted (with dax: only the "dax" share, so that a DAX
# guest's trouble stays in its own measurement), runs the line, appends its
# "fs-bench" line to $out. A DAX guest that fails twice is reported and
# its row left empty: in the box, DAX guests crashed under this benchmark
# before the box held its work to one CPU (hack/KVMBOX.md, "One CPU at
# work"), and the other figures should still count if that comes back.
out=
measure() {
	local name=$1 line=$2 kind=${3:-} try got shares mounts
	if [ "$kind" = dax ]; then
		shares=(--share "dax=$work/dax:dax=1024")
		mounts="mkdir -p /dax && mount -t virtiofs -o dax=always dax /dax"
	else
		shares=(--share "auto=$work/auto" --share "always=$work/always:cache=always")
		mounts="mkdir -p /auto /always && mount -t virtiofs auto /auto && mount -t virtiofs always /always"
	fi
	for try in 1 2; do
		got=$(timeout 900 "$husk" debug boot --kernel "$kernel" --initrd "$initrd" --memory 1024 --cpus 1 \
			"${shares[@]}" --cmdline "-- /bin/sh -c \"$mounts && $line\"" \
			</dev/null 2>"$work/stderr" | tr -d '\r' | grep '^fs-bench ' | tail -n 1) || true
		if [ -n "$got" ]; then
			echo "$got"
			out+="$got"$'\n'
			return 0
		fi
		echo "bench-fs: $name: the guest did not report (try $try): $(tail -n 3 "$work/stderr")" >&2
		rm -rf "${work:?}"/auto/* "${work:?}"/always/* "${work:?}"/dax/*
	done
	[ "$kind" = dax ] || exit 1
	echo "bench-fs: $name: no figures (the guest failed twice)" >&2
	out+="fs-bench failed"$'\n'
}
# tmpfs runs twice in one guest and the first run is thrown away (above).
measure tmpfs "fs-bench /tmp >/dev/null && fs-bench /tmp"
measure auto "fs-bench /auto"
measure always "fs-bench /always"
measure "auto, ra 1 MiB" "fs-bench /auto 1024"
measure "always, ra 1 MiB" "fs-bench /always 1024"
measure dax "fs-bench /dax" dax

# value LINE_NO KEY
value() {
	echo "$out" | grep '^fs-bench ' | sed -n "${1}p" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

echo
printf '%-22s %10s %10s %10s %10s %10s %10s\n' "" write read-cold read-warm create stat unlink
labels=("tmpfs" "auto" "always" "auto, ra 1 MiB" "always, ra 1 MiB" "dax")
keys=(write_mbs read_cold_mbs read_warm_mbs create_per_s stat_per_s unlink_per_s)
for i in 2 3 4 5 6; do
	printf '%-22s' "${labels[$((i - 1))]} / tmpfs"
	for k in "${keys[@]}"; do
		awk -v a="$(value "$i" "$k")" -v b="$(value 1 "$k")" \
			'BEGIN { if (a == "") printf " %10s", "n/a"; else printf " %9.2fx", a / b }'
	done
	echo
done
