#!/usr/bin/env bash
# bench-box.sh: reliability and speed of the emulated KVM box (hack/kvmbox).
# Makes N one-shot box runs in a row; each boots a guest inside the box with
# QEMU -M microvm under KVM and times it to a marker its init prints on the
# serial console (QEMU's exit is not timed: a microvm guest that powers off
# is slow to end QEMU). Prints each run's figures, then min/median/max and
# "N passed, N failed"; exits 1 if any run failed.
#
# Box start: host-side QEMU start until the command begins in the box.
# Guest boot: inner QEMU start until the marker.
set -euo pipefail

readonly MARKER=HUSK-GUEST-INIT

usage() {
	cat <<'EOF'
Usage: hack/bench-box.sh [-n RUNS] [-t SECONDS] [-- KVMBOX_OPTIONS...]
  -n, --runs N       one-shot box runs to make (default 20)
  -t, --timeout SEC  limit for each box run, boot included (default 300)
  -h, --help         this text
Options after -- go to each hack/kvmbox call (e.g. -- -c 2 -m 4096).
Exit status: 0 if every run passed, 1 if any failed, 2 on bad usage.
EOF
}

say() { printf 'bench-box: %s\n' "$*" >&2; }

self=$(readlink -f "${BASH_SOURCE[0]}")
here=${self%/*}

# ------------------------------------------------------------ inside the box
# --inner KERNEL INITRD: boot the guest once and print guest_boot_s=S, or
# guest_fail=REASON. Runs in the box, where /dev/kvm is kvm_amd.

inner() {
	local kernel=$1 initrd=$2 work t0 t1 deadline left line marker='' err last=
	work=$(mktemp -d)
	# Guest files to tmpfs first, so the timing counts no 9p reads.
	cp "$kernel" "$work/kernel"
	cp "$initrd" "$work/initrd"
	err=$work/qemu.err
	# rtc=on: without a CMOS RTC the kernel waits seconds for one that never
	# answers. acpi=off: ACPI setup is slow when every exit is nested.
	# quiet: each console byte is an exit, expensive when nested.
	t0=${EPOCHREALTIME/./}
	coproc GUEST {
		exec qemu-system-x86_64 -M microvm,rtc=on,acpi=off -accel kvm -cpu host \
			-smp 1 -m 128 -nodefaults -no-user-config -no-reboot -display none \
			-serial stdio -kernel "$work/kernel" -initrd "$work/initrd" \
			-append "console=ttyS0 reboot=t panic=-1 quiet mitigations=off tsc=reliable" \
			</dev/null 2>"$err"
	}
	local gpid=$GUEST_PID
	deadline=$((t0 + 120 * 1000000))
	while :; do
		left=$((deadline - ${EPOCHREALTIME/./}))
		[ "$left" -gt 0 ] || break
		IFS= read -r -t "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))" \
			-u "${GUEST[0]}" line || break
		case $line in
		*"$MARKER"*)
			t1=${EPOCHREALTIME/./}
			marker=1
			break
			;;
		esac
		# Quiet consoles print errors only; keep the latest for the report.
		last=${line//$'\r'/}
	done
	# The guest reboots itself (reboot=t and -no-reboot end QEMU); give it
	# a few seconds, then make sure.
	for _ in $(seq 50); do
		kill -0 "$gpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$gpid" 2>/dev/null || true
	wait "$gpid" 2>/dev/null || true
	if [ -n "$marker" ]; then
		local d=$((t1 - t0))
		printf 'guest_boot_s=%d.%03d\n' $((d / 1000000)) $((d % 1000000 / 1000))
	else
		printf 'guest_fail=no %s within 120 s; last console line: %s; qemu said: %s\n' \
			"$MARKER" "${last:-none}" \
			"$(grep -v "TCG doesn't support" "$err" | tr '\n' ' ' | cut -c1-300)"
	fi
	rm -rf "$work"
}

if [ "${1:-}" = --inner ]; then
	shift
	inner "$@"
	exit 0
fi

# --------------------------------------------------------------------- host

runs=20 limit=300
kvmbox_opts=()
while [ $# -gt 0 ]; do
	case $1 in
	-n | --runs) runs=${2:?} && shift 2 ;;
	-t | --timeout) limit=${2:?} && shift 2 ;;
	-h | --help) usage && exit 0 ;;
	--) shift && kvmbox_opts=("$@") && break ;;
	*) usage >&2 && exit 2 ;;
	esac
done
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ]; then usage >&2 && exit 2; fi

case $("$here/vm-env") in
box) ;;
direct) say "note: this host has hardware KVM; the box is measured anyway" ;;
*) say "cannot run: $("$here/vm-env" --reason)" && exit 1 ;;
esac

repo=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) || repo=$(cd "$here/.." && pwd -P)
cache=${KVMBOX_DIR:-$repo/build/kvmbox}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fetch and build before the first timed run.
"$here/kvmbox" prepare 2>"$work/prepare.err" || {
	cat "$work/prepare.err" >&2
	exit 1
}
kernel=$cache/kernel/vmlinux
[ -s "$kernel" ] || kernel=$(echo "$cache"/kernel/boot/vmlinuz-*)

# The guest: busybox and an init that prints the marker and reboots.
guest=$cache/bench/guest.cpio
mkdir -p "$cache/bench"
stage=$work/guest
mkdir -p "$stage"/{bin,dev}
cp /bin/busybox "$stage/bin/busybox"
cat >"$stage/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0<>/dev/console 1>&0 2>&0
echo $MARKER
/bin/busybox reboot -f
EOF
chmod 755 "$stage/init"
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$guest"

printf 'bench-box: %s runs; box: hack/kvmbox %s; guest: %s under -M microvm\n' \
	"$runs" "${kvmbox_opts[*]:-(defaults)}" "${kernel#"$repo"/}"

pass=0 fail=0
: >"$work/box" && : >"$work/guest_s"
for i in $(seq "$runs"); do
	rc=0
	: >"$work/timing"
	"$here/kvmbox" "${kvmbox_opts[@]}" -t "$limit" --timing "$work/timing" \
		-- "$self" --inner "$kernel" "$guest" >"$work/out" 2>"$work/err" || rc=$?
	box_s=$(sed -n 's/^start_s=\([0-9.]*\).*/\1/p' "$work/timing")
	guest_s=$(sed -n 's/^guest_boot_s=//p' "$work/out")
	if [ "$rc" = 0 ] && [ -n "$guest_s" ] && [ -n "$box_s" ]; then
		pass=$((pass + 1))
		echo "$box_s" >>"$work/box"
		echo "$guest_s" >>"$work/guest_s"
		printf 'run %2d: box start %6s s, guest boot %6s s, ok\n' "$i" "$box_s" "$guest_s"
	else
		fail=$((fail + 1))
		why=$(sed -n 's/^guest_fail=//p' "$work/out")
		[ -n "$why" ] || why="kvmbox exit $rc: $(grep '^kvmbox:' "$work/err" | head -n 1)"
		printf 'run %2d: box start %6s s, guest boot %6s s, FAILED (%s)\n' \
			"$i" "${box_s:--}" "${guest_s:--}" "$why"
	fi
done

# min / median / max of one number a line.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "no data"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "min %.3f  median %.3f  max %.3f  (s, %d runs)\n", v[1], m, v[NR], NR }'
}
printf 'box start:  %s\n' "$(stats "$work/box")"
printf 'guest boot: %s\n' "$(stats "$work/guest_s")"
printf '%d passed, %d failed\n' "$pass" "$fail"
[ "$fail" = 0 ]
