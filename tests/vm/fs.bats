#!/usr/bin/env bats
# virtio-fs (issue 6): host directories shared into the guest, served by
# husk's VMM. The guest mounts them with `mount -t virtiofs TAG /mnt`;
# tests/guest/fs-conformance.c (in the test initramfs) exercises every
# request from the guest side, and the host checks what landed.

load helpers

setup() {
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/husk-vm.XXXXXX")
	mkdir "$WORK/share" "$WORK/outside"
	echo host-marker >"$WORK/outside/marker"
	chmod 0644 "$WORK/outside/marker"
	MARKER_SUM=$(stat -c '%s %Y %a %u' "$WORK/outside/marker"; sha256sum <"$WORK/outside/marker")
}

# The directory next to the share is exactly as setup() left it.
outside_intact() {
	[ "$(ls -A "$WORK/outside")" = marker ]
	[ "$(stat -c '%s %Y %a %u' "$WORK/outside/marker"; sha256sum <"$WORK/outside/marker")" = "$MARKER_SUM" ]
}

sum() {
	sha256sum <"$1" | cut -d' ' -f1
}

# The conformance run in $output passed every check, and the files it
# wrote (their sums in $output) are what the host holds.
conformance_passed_and_landed() {
	[[ "$output" == *"fs-conformance: 12 passed, 0 failed"* ]]
	for f in pattern.bin mmap.bin; do
		guest_sum=$(echo "$output" | awk -v f="/mnt/conf/$f" '$2 == f {print $1}')
		[ -n "$guest_sum" ]
		[ "$(sum "$WORK/share/conf/$f")" = "$guest_sum" ]
	done
}

@test "virtio-fs: the guest reads the host's files and the host the guest's" {
	head -c $((16 << 20)) /dev/urandom >"$WORK/share/from-host"
	want=$(sum "$WORK/share/from-host")
	in_guest --share "t=$WORK/share" -- 'mount -t virtiofs t /mnt && sha256sum /mnt/from-host && head -c 16777216 /dev/urandom >/mnt/from-guest && sha256sum /mnt/from-guest && umount /mnt'
	[ "$status" -eq 0 ]
	[[ "$output" == *"$want  /mnt/from-host"* ]]
	guest_sum=$(echo "$output" | awk '$2 == "/mnt/from-guest" {print $1}')
	[ "$(sum "$WORK/share/from-guest")" = "$guest_sum" ]
}

@test "virtio-fs: the conformance program passes every check" {
	in_guest --memory 512 --share "t=$WORK/share:setid" -- "mount -t virtiofs t /mnt && fs-conformance rw /mnt $WORK/outside && sha256sum /mnt/conf/pattern.bin /mnt/conf/mmap.bin"
	echo "$output" | grep -E '^(not ok|#)' || true
	[ "$status" -eq 0 ]
	conformance_passed_and_landed
	[ "$(stat -c %s "$WORK/share/conf/pattern.bin")" -eq $((32 << 20)) ]
	# Owners as the guest sees them: root's files are root's, uid 1000's 1000's.
	[ "$(stat -c '%u:%g %a' "$WORK/share/conf/owned-by-root")" = "0:0 644" ]
	[ "$(stat -c '%u:%g %a' "$WORK/share/conf/owned-by-1000")" = "1000:1000 640" ]
	[ "$(stat -c '%u:%g' "$WORK/share/conf/dir-by-1000")" = "1000:1000" ]
	[ "$(stat -c '%g %A' "$WORK/share/conf/sgid/sub")" = "4242 drwxr-sr-x" ]
	[ "$(stat -c '%u:%g %a' "$WORK/share/conf/attr")" = "1000:1000 6755" ]
	# Devices were refused; the FIFO and socket exist.
	[ ! -e "$WORK/share/conf/null" ] && [ ! -e "$WORK/share/conf/disk" ]
	[ -p "$WORK/share/conf/fifo" ] && [ -S "$WORK/share/conf/sock" ]
	# The guest's symlinks to host paths were stored, never followed.
	[ "$(readlink "$WORK/share/conf/to-host")" = "$WORK/outside/marker" ]
	outside_intact
}

@test "virtio-fs: a read-only share refuses every change" {
	echo original >"$WORK/share/existing"
	mkdir "$WORK/share/existing-dir"
	before=$(cd "$WORK/share" && find . -printf '%p %s %m %u %T@\n' | sort)
	in_guest --share "ro=$WORK/share:ro" -- 'mount -t virtiofs ro /mnt && fs-conformance ro /mnt && (echo x >/mnt/existing) 2>&1; cat /mnt/existing'
	echo "$output" | grep -E '^(not ok|#)' || true
	[ "$status" -eq 0 ]
	[[ "$output" == *"fs-conformance: 1 passed, 0 failed"* ]]
	[[ "$output" == *"Read-only file system"* ]]
	[[ "$output" == *original* ]]
	[ "$before" = "$(cd "$WORK/share" && find . -printf '%p %s %m %u %T@\n' | sort)" ]
}

@test "virtio-fs: .. at the mount root and symlinks to host paths stay in the guest" {
	echo inside >"$WORK/share/inside"
	in_guest --share "t=$WORK/share" -- "mount -t virtiofs t /mnt && cd /mnt && [ .. -ef / ] && echo DOTDOT-IS-GUEST-ROOT; ln -s $WORK/outside/marker esc && (echo pwned >esc) 2>&1; ln -s ../../../../../../..$WORK/outside up && (echo pwned >up/marker) 2>&1; cat ../../../../..$WORK/outside/marker 2>&1; cat /mnt/../mnt/inside"
	[ "$status" -eq 0 ]
	# ".." at the mount's root is the guest's own root, not the host's.
	[[ "$output" == *DOTDOT-IS-GUEST-ROOT* ]]
	[[ "$output" == *inside* ]]
	[[ "$output" != *host-marker* ]]
	outside_intact
	[ "$(readlink "$WORK/share/esc")" = "$WORK/outside/marker" ]
}

@test "virtio-fs: large files, sparse files, truncate and O_APPEND from the shell" {
	in_guest --memory 512 --share "t=$WORK/share" -- 'mount -t virtiofs t /mnt && cd /mnt && head -c 33554432 /dev/urandom >big && sha256sum big && dd if=/dev/zero of=sparse bs=1 count=1 seek=1073741823 2>/dev/null && echo one >log && echo two >>log && head -c 100 big >big2 && truncate -s 10 big2 && echo done'
	[ "$status" -eq 0 ]
	[[ "$output" == *done* ]]
	guest_sum=$(echo "$output" | awk '$2 == "big" {print $1}')
	[ "$(sum "$WORK/share/big")" = "$guest_sum" ]
	[ "$(stat -c %s "$WORK/share/sparse")" -eq 1073741824 ]
	[ "$(stat -c %b "$WORK/share/sparse")" -lt 1024 ]
	[ "$(cat "$WORK/share/log")" = "$(printf 'one\ntwo')" ]
	[ "$(stat -c %s "$WORK/share/big2")" -eq 10 ]
}

@test "virtio-fs: several shares at once, one cached for long" {
	mkdir "$WORK/a" "$WORK/b"
	echo A >"$WORK/a/f"
	echo B >"$WORK/b/f"
	in_guest --share "a=$WORK/a" --share "b=$WORK/b:ro:cache=always" -- 'mkdir -p /a /b && mount -t virtiofs a /a && mount -t virtiofs b /b && cat /a/f /b/f && grep virtiofs /proc/mounts | wc -l'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = A ]
	[ "${lines[1]}" = B ]
	[ "${lines[2]}" = 2 ]
}

@test "virtio-fs: a host change shows in the guest within the cache timeout" {
	echo before >"$WORK/share/f"
	# Changed once the guest has read it (the guest says so in the share).
	( for _ in $(seq 600); do [ -e "$WORK/share/ready" ] && break; sleep 0.2; done
	  echo after-change >"$WORK/share/f" ) &
	in_guest --share "t=$WORK/share" -- 'mount -t virtiofs t /mnt && cat /mnt/f && touch /mnt/ready && sleep 4 && cat /mnt/f'
	wait
	[ "$status" -eq 0 ]
	[[ "$output" == *before*after-change* ]]
}

@test "virtio-fs: with a DAX window (-o dax) the conformance program passes and host files read right" {
	head -c $((8 << 20)) /dev/urandom >"$WORK/share/from-host"
	want=$(sum "$WORK/share/from-host")
	in_guest --memory 512 --share "t=$WORK/share:dax=256" -- "mount -t virtiofs -o dax=always t /mnt && grep -c 'virtiofs.*dax=always' /proc/mounts && dmesg | grep -o 'Cache len: 0x10000000' && sha256sum /mnt/from-host && fs-conformance rw /mnt $WORK/outside && sha256sum /mnt/conf/pattern.bin /mnt/conf/mmap.bin"
	echo "$output" | grep -E '^(not ok|#)' || true
	[ "$status" -eq 0 ]
	# The guest found the window (256 MiB) and mounted with DAX on.
	[ "${lines[0]}" = 1 ]
	[[ "$output" == *"Cache len: 0x10000000"* ]]
	[[ "$output" == *"$want  /mnt/from-host"* ]]
	conformance_passed_and_landed
	outside_intact
}

@test "virtio-fs: DAX on a read-only share maps for reading and refuses writes" {
	echo original >"$WORK/share/existing"
	in_guest --share "ro=$WORK/share:ro:dax=64" -- 'mount -t virtiofs -o dax ro /mnt && cat /mnt/existing && (echo x >/mnt/existing) 2>&1; cat /mnt/existing'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Read-only file system"* ]]
	[ "$(cat "$WORK/share/existing")" = original ]
}

@test "virtio-fs: bad --share arguments are refused before any VM is built" {
	run --separate-stderr "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" --share nodir
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"want TAG=DIR"* ]]
	run --separate-stderr "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" --share "t=$WORK/missing"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"$WORK/missing"* ]]
	run --separate-stderr "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" --share "0123456789012345678901234567890123456=$WORK/share"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"36 bytes"* ]]
	run --separate-stderr "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" --share "t=$WORK/share:dax=3"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"dax=3"*"even number of MiB"* ]]
}

@test "virtio-fs: no fd or thread leaks across boots with shares" {
	mkdir "$WORK/b"
	echo data >"$WORK/b/f"
	run --separate-stderr boot --repeat 5 --share "a=$WORK/share" --share "b=$WORK/b:ro:dax=64" --cmdline '-- /bin/sh -c "mount -t virtiofs a /mnt && ls /mnt >/dev/null && umount /mnt && mount -t virtiofs -o dax b /mnt && cat /mnt/f && umount /mnt"'
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ husk-leak-check\ boots=5\ fds=([0-9]+)-\>([0-9]+)\ threads=([0-9]+)-\>([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[ "${BASH_REMATCH[3]}" = "${BASH_REMATCH[4]}" ]
}
