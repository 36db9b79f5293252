#!/usr/bin/env bash
# Boot-time benchmark (issue: micro-VM). Needs a KVM that boots a stock
# guest: run it directly on such a host, or inside hack/kvmbox (make
# bench-boot picks). Boots the same kernel and initramfs N times with husk
# and with QEMU's microvm machine, alternating, and prints:
#   - median time from exec to the guest init's marker on the console, for
#     both, and their ratio (the target: husk at most 0.7x QEMU);
#   - husk's own boot timer (VMM start to the init's port write);
#   - husk's set-up time (process start to first KVM_RUN; target < 5 ms)
#     and its RSS without guest memory (target < 5 MiB).
# Both consoles are virtio (hvc0) and both guests run the same init.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
husk=${HUSK:-$top/build/husk}
kernel=$top/build/guest/vmlinux
initrd=$top/build/guest-test/initramfs.cpio
marker=HUSK-BENCH-MARKER
qemu=$(command -v qemu-system-x86_64)

# ms_to_marker CMD...: milliseconds from exec of CMD to MARKER on its
# stdout (EPOCHREALTIME: no fork inside the measurement); empty if never.
ms_to_marker() {
	local t0=$EPOCHREALTIME line
	while IFS= read -r line; do
		if [[ $line == *"$marker"* ]]; then
			local t1=$EPOCHREALTIME
			echo $(((${t1/./} - ${t0/./}) / 1000))
			cat >/dev/null
			return
		fi
	done < <("$@" </dev/null 2>>"$errlog")
}

median() {
	sort -n | awk '{a[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

errlog=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$errlog" "$out"' EXIT

husk_cmd=("$husk" debug boot --kernel "$kernel" --initrd "$initrd" --memory 256 --timing
	--cmdline "HUSK_TEST_MARKER=$marker")
qemu_cmd=("$qemu" -M microvm,x-option-roms=off,rtc=off,acpi=off -accel kvm -cpu host
	-m 256 -smp 1 -nodefaults -no-user-config -display none -no-reboot
	-chardev stdio,id=con -device virtio-serial-device -device virtconsole,chardev=con
	-kernel "$kernel" -initrd "$initrd"
	-append "console=hvc0 quiet reboot=t panic=-1 HUSK_TEST_MARKER=$marker")

echo "bench-boot: $runs runs each, kernel $(basename "$kernel"), $(nproc) of $(nproc --all) CPUs, $(uname -r)"
for i in $(seq "$runs"); do
	h=$(ms_to_marker "${husk_cmd[@]}")
	q=$(ms_to_marker "${qemu_cmd[@]}")
	echo "run $i: husk ${h:-fail} ms, qemu-microvm ${q:-fail} ms"
	[ -n "$h" ] && echo "$h" >>"$out/husk"
	[ -n "$q" ] && echo "$q" >>"$out/qemu"
done
grep -o 'setup_us=[0-9]*' "$errlog" | cut -d= -f2 >"$out/setup" || true
grep -o 'boot_us=[0-9]*' "$errlog" | cut -d= -f2 >"$out/boottimer" || true
grep -o 'rss_overhead_kb=[0-9]*' "$errlog" | cut -d= -f2 >"$out/rss" || true

h=$(median <"$out/husk" 2>/dev/null || echo n/a)
q=$(median <"$out/qemu" 2>/dev/null || echo n/a)
echo "median exec-to-init-marker: husk $h ms, qemu-microvm $q ms, ratio husk/qemu $(awk -v h="$h" -v q="$q" 'BEGIN {if (q > 0 && h > 0) printf "%.2f", h / q; else print "n/a"}')"
echo "median husk boot timer (VMM start to init): $(awk '{print $1 / 1000}' "$out/boottimer" | median) ms"
echo "median husk set-up (process start to first KVM_RUN): $(awk '{print $1 / 1000}' "$out/setup" | median) ms"
echo "median husk RSS without guest memory: $(median <"$out/rss") KiB"
[ -s "$out/husk" ] && [ -s "$out/qemu" ]
