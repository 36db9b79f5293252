#!/usr/bin/env bats
# husk's VMM boots the guest kernel and its devices work (issue: micro-VM).

load helpers

@test "boots to init and passes its output through the console" {
	in_guest -- 'echo HUSK-INIT-MARKER'
	[ "$status" -eq 0 ]
	[[ "$output" == *HUSK-INIT-MARKER* ]]
}

@test "the guest's exit code becomes husk's" {
	in_guest -- 'exit 42'
	[ "$status" -eq 42 ]
	in_guest -- 'exit 0'
	[ "$status" -eq 0 ]
	in_guest -- 'exit 1'
	[ "$status" -eq 1 ]
}

@test "death of the guest process by a signal is 128+N" {
	in_guest -- 'kill -TERM $$'
	[ "$status" -eq 143 ]
}

@test "--cpus 2 gives the guest 2 CPUs" {
	in_guest --cpus 2 -- 'grep -c ^processor /proc/cpuinfo; nproc'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 2 ]
	[ "${lines[1]}" = 2 ]
}

@test "--memory sets the guest's RAM" {
	in_guest --memory 200 -- 'grep MemTotal /proc/meminfo'
	[ "$status" -eq 0 ]
	kb=$(echo "$output" | awk '/MemTotal/ {print $2}')
	# The kernel keeps some for itself; most of 200 MiB must be there.
	[ "$kb" -gt $((150 * 1024)) ] && [ "$kb" -le $((200 * 1024)) ]
}

@test "the guest is a KVM guest with kvm-clock" {
	in_guest -- 'cat /sys/devices/system/clocksource/clocksource0/current_clocksource; grep -c hypervisor /proc/cpuinfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = kvm-clock ]
	[ "${lines[1]}" -ge 1 ]
}

@test "virtio-rng gives the guest random bytes" {
	in_guest -- "cat /sys/class/misc/hw_random/rng_current; head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == virtio_rng* ]]
	[ "${#lines[1]}" -eq 64 ]
	[ "${lines[1]}" != 0000000000000000000000000000000000000000000000000000000000000000 ]
}

@test "virtio-blk: the guest reads what the host wrote" {
	head -c $((4 << 20)) /dev/urandom >"$WORK/disk.img"
	want=$(sha256sum <"$WORK/disk.img" | cut -d' ' -f1)
	in_guest --disk "$WORK/disk.img" -- 'sha256sum /dev/vda'
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tail -1 | cut -d' ' -f1)" = "$want" ]
}

@test "virtio-blk: the host reads what the guest wrote" {
	truncate -s 4M "$WORK/disk.img"
	in_guest --disk "$WORK/disk.img" -- 'head -c 4194304 /dev/urandom >/dev/vda && sync && sha256sum /dev/vda'
	[ "$status" -eq 0 ]
	guest_sum=$(echo "$output" | tail -1 | cut -d' ' -f1)
	[ "$(sha256sum <"$WORK/disk.img" | cut -d' ' -f1)" = "$guest_sum" ]
}

@test "virtio-blk --disk-readonly refuses guest writes" {
	head -c 1M /dev/urandom >"$WORK/disk.img"
	want=$(sha256sum <"$WORK/disk.img")
	in_guest --disk "$WORK/disk.img" --disk-readonly -- 'cat /sys/block/vda/ro; echo x | dd of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null && echo WROTE; true'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[[ "$output" != *WROTE* ]]
	[ "$(sha256sum <"$WORK/disk.img")" = "$want" ]
}

@test "virtio-vsock: 10 MiB echoed through a host unix socket arrive intact" {
	mkdir "$WORK/vsock"
	socat UNIX-LISTEN:"$WORK/vsock/5000",fork EXEC:cat &
	server=$!
	for _ in $(seq 50); do [ -S "$WORK/vsock/5000" ] && break; sleep 0.1; done
	in_guest --vsock-dir "$WORK/vsock" -- 'husk-guest-tool vsock-echo 5000 10485760'
	kill "$server"
	[ "$status" -eq 0 ]
	[[ "$output" == *"10485760 bytes intact"* ]]
}

@test "vsock to a host port nobody listens on is refused" {
	mkdir "$WORK/vsock"
	in_guest --vsock-dir "$WORK/vsock" -- 'husk-guest-tool vsock-echo 5001 16'
	[ "$status" -eq 1 ]
	[[ "$stderr$output" == *"connect to port 5001"* ]]
}

@test "a guest reboot ends the VM with status 0 and says so" {
	in_guest -- 'reboot -f'
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"guest rebooted"* ]]
}

@test "a guest kernel panic ends the VM non-zero with the panic line" {
	run --separate-stderr boot --cmdline "rdinit=/no-such-init"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"guest kernel panic: Kernel panic - not syncing"* ]]
}

@test "the boot timer measures VMM start to guest init" {
	in_guest --timing -- 'true'
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ husk-timing\ setup_us=([0-9]+)\ boot_us=([0-9]+) ]]
	[ "${BASH_REMATCH[2]}" -gt 0 ]
	[ "${BASH_REMATCH[2]}" -gt "${BASH_REMATCH[1]}" ]
}

@test "--serial gives the kernel log on the 8250 console" {
	in_guest --serial -- 'echo SERIAL-MARKER'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Linux version"* ]]
	[[ "$output" == *SERIAL-MARKER* ]]
}

@test "SIGTERM to husk stops the VM with 128+15" {
	"$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" \
		--cmdline '-- /bin/sh -c "sleep 600"' </dev/null >"$WORK/out" 2>"$WORK/err" &
	pid=$!
	sleep 8
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	grep -q "stopped by host signal TERM" "$WORK/err"
}

@test "bad arguments are refused before any VM is built" {
	run --separate-stderr "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" --cpus 0
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--cpus 0"* ]]
	run --separate-stderr "$HUSK" debug boot --kernel /nonexistent --initrd "$INITRD"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"/nonexistent"* ]]
	run --separate-stderr "$HUSK" debug boot --kernel "$INITRD" --initrd "$INITRD"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"neither an ELF vmlinux nor a bzImage"* ]]
}

@test "no fd or thread leaks across 50 boots in one process" {
	# 50 boots: the per-boot timeout does not apply, this budget does.
	run --separate-stderr timeout 1800 "$HUSK" debug boot --kernel "$KERNEL" \
		--initrd "$INITRD" --repeat 50 --cmdline '-- /bin/true' </dev/null
	echo "$stderr" | tail -5
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ husk-leak-check\ boots=50\ fds=([0-9]+)-\>([0-9]+)\ threads=([0-9]+)-\>([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[ "${BASH_REMATCH[3]}" = "${BASH_REMATCH[4]}" ]
}

@test "husk check --boot boots husk's guest, reports the time and leaves nothing" {
	initrd=$REPO_ROOT/build/guest/initramfs.cpio
	[ -r "$initrd" ] || skip "no $initrd (make guest-init)"
	before=$(ls -d /tmp/husk-check.* 2>/dev/null | wc -l)
	HUSK_KERNEL=$KERNEL HUSK_INITRD=$initrd run timeout "$BOOT_TIMEOUT" "$HUSK" --root "$WORK/root" check --boot
	echo "$output"
	echo "$output" | grep -E '^OK +boot +guest booted and answered in [0-9]+\.[0-9]{2} s$'
	# The temporary vsock directory and the VMM went with the check.
	[ "$(ls -d /tmp/husk-check.* 2>/dev/null | wc -l)" -eq "$before" ]
	! pgrep -f -- "--root $WORK/root"
}
