#!/usr/bin/env bats
# create on a host without a KVM that boots guests: what create refuses
# before anything exists, and what its forked VMM holds before it builds a
# VM. Nothing here boots a guest; tests that need the VMM forked need a
# /dev/kvm that opens (require_kvm_device).

load helpers

# host_bundle DIR: a bundle from `husk spec` with an empty rootfs/, a
# process without a terminal and a cgroupsPath unique to the test.
host_bundle() {
	touch "$WORK/.containers"
	mkdir -p "$1/rootfs"
	husk spec --bundle "$1"
	bundle_edit "$1" '.process.terminal = false | .linux.cgroupsPath = $cg' \
		--arg cg "/$TEST_ID-$(basename "$1")"
}

@test "create refuses a rootfs that is the bundle or holds it, naming root.path, leaving nothing" {
	local b=$WORK/bundle
	host_bundle "$b"
	ln -s .. "$b/rootfs/up"
	for root in . .. / "$b" rootfs/up "$WORK"; do
		bundle_edit "$b" '.root.path = $r' --arg r "$root"
		run_rt create --bundle "$b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ $stderr == *"root.path"* ]]
		[[ $stderr == *"holds it"* ]]
		[ ! -e "$WORK/root/$CT" ]
	done
}

# _blocked_child PID: PID's one child, once it waits in open() for a FIFO's
# writer; prints its pid.
_blocked_child() {
	local c
	c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
	c=${c% }
	[ -n "$c" ] && [ "$(cat "/proc/$c/wchan" 2>/dev/null)" = wait_for_partner ] || return 1
	echo "$c"
}

# The VMM must not inherit what its caller had open or where it stood
# (runc's CVE-2024-21626 leaked a host directory descriptor into the
# container). A FIFO given as the network namespace holds the forked VMM
# in open() right after it confined its descriptors, where it can be
# looked at; a writer then lets it fail, as it must ("not a network
# namespace").
@test "the forked VMM keeps none of create's other descriptors and not its working directory" {
	require_kvm_device
	local b=$WORK/bundle fifo=$WORK/netns vmm="" create_pid
	host_bundle "$b"
	mkfifo "$fifo"
	mkdir "$WORK/cwd"
	touch "$WORK/kernel" "$WORK/initrd"
	bundle_edit "$b" '.linux.namespaces = [{type: "network", path: $p}]' --arg p "$fifo"
	(
		cd "$WORK/cwd"
		exec 8</etc/passwd 9<"$WORK/cwd"
		HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd \
			exec "$HUSK" --root "$WORK/root" create --bundle "$b" "$CT"
	) </dev/null >"$WORK/create.out" 2>"$WORK/create.err" 3>&- &
	create_pid=$!
	echo "$create_pid" >>"$WORK/.bg"
	if ! wait_until 20 _blocked_child "$create_pid" >/dev/null; then
		# Whatever it waits on, it must not outlive the test.
		timeout 5 sh -c ': >"$1"' _ "$fifo" || true
		echo "create's child never waited on the FIFO" >&2
		return 1
	fi
	vmm=$(_blocked_child "$create_pid")
	local fds cwd
	fds=$(ls -l "/proc/$vmm/fd/")
	cwd=$(readlink "/proc/$vmm/cwd")
	echo "# VMM $vmm: cwd $cwd, fds:" >&3
	echo "$fds" | sed 's/^/# /' >&3
	# Let it go before checking, so a failure leaves nothing waiting.
	: >"$fifo"
	local rc=0
	wait "$create_pid" || rc=$?
	cat "$WORK/create.err"
	[ "$rc" -eq 1 ]
	grep -q "not a network namespace" "$WORK/create.err"
	[[ $fds != *"/etc/passwd"* ]]
	[[ $fds != *"$WORK/cwd"* ]]
	[ "$cwd" = / ]
	[ ! -e "$WORK/root/$CT" ]
}

# state.json holds the annotations; one too large to read back would leave
# a VMM no command can find.
@test "create refuses annotations too large for its state, naming them, before anything exists" {
	require_kvm_device
	local b=$WORK/bundle
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	head -c $((1100 * 1024)) /dev/zero | tr '\0' a >"$WORK/big"
	bundle_edit "$b" '.annotations = {"big": $v}' --rawfile v "$WORK/big"
	HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd run_rt create --bundle "$b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"annotations: "* ]]
	[ ! -e "$WORK/root/$CT" ]
}

# config.json is the bundle's to write. One of 16 MiB or more is refused
# from its size (a sparse file of 4 GiB costs no reading), one nested past
# OCI_JSON_MAX_DEPTH before the parser goes deeper, each naming config.json
# with runc's status 1, and before anything exists.
@test "create refuses a config.json of 16 MiB or nested 100000 deep, naming it, leaving nothing" {
	local b=$WORK/bundle good deep
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	good=$(jq -c . "$b/config.json")
	mkdir -p "$WORK/root"
	_refused() {
		HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd run_rt create --bundle "$b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ $stderr == *"$b/config.json: "*"$1"* ]]
		[ ! -e "$WORK/root/$CT" ]
		[ -z "$(ls -A "$WORK/root")" ]
		! pgrep -f -- "$CT" >/dev/null
	}
	{ printf '%s' "$good"; head -c $(((16 << 20) - ${#good})) /dev/zero | tr '\0' ' '; } >"$b/config.json"
	[ "$(stat -c %s "$b/config.json")" -eq $((16 << 20)) ]
	_refused "16777216 bytes, too large (the limit is 16 MiB)"
	truncate -s 4G "$b/config.json"
	_refused "4294967296 bytes, too large (the limit is 16 MiB)"
	deep=$(printf '%100000s' '' | tr ' ' '[')$(printf '%100000s' '' | tr ' ' ']')
	printf '%s,"annotations":{"a":%s}}' "${good%\}}" "$deep" >"$b/config.json"
	_refused "invalid JSON: nested deeper than 32 levels"
	printf '%s,"x-unknown":%s}' "${good%\}}" "$deep" >"$b/config.json"
	_refused "invalid JSON: nested deeper than 32 levels"
}

@test "delete --force of a container whose state cannot be read fails, and says so" {
	mkdir -p "$WORK/root/$CT"
	echo '{"id":' >"$WORK/root/$CT/state.json"
	run_rt delete --force "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ $stderr == *"state.json"* ]]
	head -c $((2 << 20)) /dev/zero | tr '\0' ' ' >"$WORK/root/$CT/state.json"
	run_rt delete --force "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ $stderr == *"state.json"* ]]
	rm -rf "${WORK:?}/root/$CT"
}

# create SIGKILLed after it forked the VMM and before the VMM said "ok"
# (held there in open() of a FIFO given as the network namespace, as
# above): the VMM must not run on without anyone to own it, and delete
# --force must then remove the container it left, cgroup and all, so the
# id can be used again. Killed later, once the VMM runs, is the container's
# ordinary life (state, delete); killed earlier, nothing was forked.

# held_create NAME: create of $CT from $WORK/bundle in the background,
# stdio on $WORK/NAME.out and .err; returns once its VMM waits on the FIFO
# $WORK/netns ($HELD_PID: create's pid), or fails, letting it go.
held_create() {
	HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd \
		"$HUSK" --root "$WORK/root" create --bundle "$WORK/bundle" "$CT" \
		</dev/null >"$WORK/$1.out" 2>"$WORK/$1.err" 3>&- &
	HELD_PID=$!
	echo "$HELD_PID" >>"$WORK/.bg"
	if ! wait_until 20 _blocked_child "$HELD_PID" >/dev/null; then
		timeout 5 sh -c ': >"$1"' _ "$WORK/netns" || true
		echo "create's child never waited on the FIFO:" >&2
		cat "$WORK/$1.err" >&2
		return 1
	fi
}

@test "create killed between forking the VMM and its 'ok': the VMM dies, delete --force leaves nothing" {
	require_kvm_device
	local b=$WORK/bundle fifo=$WORK/netns vmm create_pid
	host_bundle "$b"
	mkfifo "$fifo"
	touch "$WORK/kernel" "$WORK/initrd"
	bundle_edit "$b" '.linux.namespaces = [{type: "network", path: $p}]' --arg p "$fifo"
	held_create create
	create_pid=$HELD_PID
	vmm=$(_blocked_child "$create_pid")
	kill -KILL "$create_pid"
	wait "$create_pid" || true
	# Its parent gone before "ok", the VMM goes too, FIFO or not.
	if ! wait_until 10 _pid_gone "$vmm"; then
		timeout 5 sh -c ': >"$1"' _ "$fifo" || true
		echo "the VMM $vmm outlived the create that forked it" >&2
		return 1
	fi
	run_rt delete --force "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
	[ -z "$(find /sys/fs/cgroup -type d -name "*$TEST_ID*")" ]
	# The id is free again: a second create gets as far as the FIFO.
	held_create create2
	create_pid=$HELD_PID
	: >"$fifo"
	local rc=0
	wait "$create_pid" || rc=$?
	[ "$rc" -eq 1 ]
	grep -q "not a network namespace" "$WORK/create2.err"
	[ ! -e "$WORK/root/$CT" ]
}

# The state directory's filesystem full, with no room at all and with room
# for create's copy of config.json but not for the state record: create
# fails naming what it could not write, and leaves neither a state
# directory nor a cgroup.
@test "create with the state directory's filesystem full fails, naming it, leaving nothing" {
	require_kvm_device
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	local b=$WORK/bundle rc=0
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	mkdir -p "$WORK/root"
	mount -t tmpfs -o size=64k,mode=0700 husk-test-full "$WORK/root"
	_create_when_full "$b" || rc=$?
	umount "$WORK/root"
	return $rc
}
_create_when_full() {
	local b=$1 room
	for room in 0 $(($(stat -c %s "$b/config.json") + 4096)); do
		rm -f "$WORK/root/filler"
		head -c $((64 * 1024 - room)) /dev/zero >"$WORK/root/filler" 2>/dev/null || true
		HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd run_rt create --bundle "$b" "$CT" </dev/null
		[ "$status" -eq 1 ] || return 1
		[[ $stderr == *"$WORK/root/$CT"*"no space left on device"* ]] || return 1
		[ ! -e "$WORK/root/$CT" ] || return 1
		[ -z "$(find /sys/fs/cgroup -type d -name "*$TEST_ID*")" ] || return 1
	done
}

# What a create leaves that died before its first record (its state
# directory with the saved config.json and nothing else): delete --force
# removes it, so the id is not taken for ever; without --force it stays
# "does not exist", as runc says of an id with no state.
@test "delete --force removes a state directory a dead create left without a record" {
	mkdir -p "$WORK/root/$CT"
	echo '{}' >"$WORK/root/$CT/config.json"
	run_rt delete "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"container does not exist"* ]]
	[ -e "$WORK/root/$CT/config.json" ]
	run_rt delete --force "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
}

# What a create or run refused for the host's sake must leave: no state
# directory (create refuses before it makes even --root), no cgroup, no
# process and no mount of this test's; and the id stays free, as runc
# says of one it never made.
_refused_leaving_nothing() {
	[ "$status" -eq 1 ]
	[ ! -e "$WORK/root" ]
	[ -z "$(_leaks)" ]
	run_rt delete "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"container does not exist"* ]]
}

# without_kvm [hide-modules]: a runtime ($RUNTIME_BIN) that runs in a mount
# namespace of its own (private: nothing propagates out) whose /dev holds
# the host's devices but kvm, and with hide-modules a /sys/module that
# lists no KVM module; prints its path, for RUNTIME_BIN.
without_kvm() {
	local s=$WORK/without-kvm
	mkdir -p "$WORK/dev"
	{
		echo '#!/bin/bash'
		printf 'dev=%q runtime=%q hide=%q\n' "$WORK/dev" "$RUNTIME_BIN" "${1:-}"
		cat <<'EOF'
set -eu
[ "${HUSK_TEST_NO_KVM:-}" = 1 ] || HUSK_TEST_NO_KVM=1 exec unshare -m "$0" "$@"
mount -t tmpfs -o mode=0755 husk-test-dev "$dev"
for n in null zero full random urandom tty ptmx; do
	touch "$dev/$n"
	mount --bind "/dev/$n" "$dev/$n"
done
mkdir "$dev/pts"
mount --bind /dev/pts "$dev/pts"
mount --move "$dev" /dev
[ -z "$hide" ] || mount -t tmpfs husk-test-modules /sys/module
exec "$runtime" "$@"
EOF
	} >"$s"
	chmod +x "$s"
	echo "$s"
}

# Without /dev/kvm the VMM create forks can build no VM; it found out only
# in its jail, after the state directory and the cgroup were made, and
# said "jail: bind /dev/kvm on <jail>/dev/kvm". create and run say it
# first, as `husk check` does: the device, why, and what to do.
@test "create and run without /dev/kvm fail naming it and what to load, leaving nothing" {
	[ "$(id -u)" = 0 ] || skip "a mount namespace without /dev/kvm needs root"
	local b=$WORK/bundle nokvm cmd
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	nokvm=$(without_kvm hide-modules)
	for cmd in create run; do
		HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd RUNTIME_BIN=$nokvm \
			run_rt "$cmd" --bundle "$b" "$CT" </dev/null
		[[ $stderr == *"husk $cmd failed: /dev/kvm: No such file or directory (KVM module: none loaded): load kvm_intel or kvm_amd"* ]]
		_refused_leaving_nothing
	done
}

# With a KVM module loaded but no device (a container not given /dev/kvm),
# the module is named and the device is what is missing.
@test "create without /dev/kvm but with a KVM module names the module and asks for the device" {
	[ "$(id -u)" = 0 ] || skip "a mount namespace without /dev/kvm needs root"
	local b=$WORK/bundle module="" m
	for m in kvm_intel kvm_amd kvm_pvm; do
		[ -d "/sys/module/$m" ] && { module=$m; break; }
	done
	[ -n "$module" ] || skip "no KVM module loaded on this host"
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd RUNTIME_BIN=$(without_kvm) \
		run_rt create --bundle "$b" "$CT" </dev/null
	[[ $stderr == *"/dev/kvm: No such file or directory (KVM module: $module): "*"pass /dev/kvm in"* ]]
	_refused_leaving_nothing
}

# The guest's kernel and initramfs are husk's own files: one missing
# (named by HUSK_KERNEL/HUSK_INITRD, or not beside the binary) is said,
# with the path, before anything exists.
@test "create and run with the guest kernel or initramfs missing fail naming it, leaving nothing" {
	local b=$WORK/bundle cmd
	host_bundle "$b"
	touch "$WORK/kernel" "$WORK/initrd"
	for cmd in create run; do
		HUSK_KERNEL=$WORK/no-kernel HUSK_INITRD=$WORK/initrd run_rt "$cmd" --bundle "$b" "$CT" </dev/null
		[[ $stderr == *"husk $cmd failed: HUSK_KERNEL=$WORK/no-kernel: no such file or directory"* ]]
		_refused_leaving_nothing
		HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/no-initrd run_rt "$cmd" --bundle "$b" "$CT" </dev/null
		[[ $stderr == *"husk $cmd failed: HUSK_INITRD=$WORK/no-initrd: no such file or directory"* ]]
		_refused_leaving_nothing
	done
}

@test "a husk with no guest assets beside it fails create, naming where it looked, leaving nothing" {
	local b=$WORK/bundle d
	for d in /usr/local/share/husk /usr/share/husk; do
		[ ! -e "$d/vmlinux" ] && [ ! -e "$d/initramfs.cpio" ] ||
			skip "guest assets installed in $d"
	done
	host_bundle "$b"
	mkdir -p "$WORK/bin"
	cp "$RUNTIME_BIN" "$WORK/bin/husk"
	RUNTIME_BIN=$WORK/bin/husk run_rt create --bundle "$b" "$CT" </dev/null
	[[ $stderr == *"guest vmlinux not found (set HUSK_KERNEL, or looked in: $WORK/bin/guest, "* ]]
	_refused_leaving_nothing
	# The kernel there, the initramfs not.
	mkdir "$WORK/bin/guest"
	touch "$WORK/bin/guest/vmlinux"
	RUNTIME_BIN=$WORK/bin/husk run_rt create --bundle "$b" "$CT" </dev/null
	[[ $stderr == *"guest initramfs.cpio not found (set HUSK_INITRD, or looked in: $WORK/bin/guest, "* ]]
	_refused_leaving_nothing
}

# The VMM loads the kernel and initramfs inside its jail, where they are
# /kernel and /initrd; its errors must still name the files the user gave.
@test "a guest kernel or initramfs that is empty or no kernel: create names the host's file, leaving nothing" {
	[ "$(id -u)" = 0 ] || skip "create needs root"
	require_kvm_device
	local b=$WORK/bundle
	host_bundle "$b"
	: >"$WORK/empty"
	echo "not a kernel" >"$WORK/garbage"
	local initrd=$REPO_ROOT/build/guest/initramfs.cpio kernel=$REPO_ROOT/build/guest/vmlinux
	[ -s "$initrd" ] && [ -s "$kernel" ] || skip "no guest assets built"
	HUSK_KERNEL=$WORK/empty HUSK_INITRD=$initrd run_rt create --bundle "$b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"husk create failed: $WORK/empty is empty"* ]]
	[ ! -e "$WORK/root/$CT" ]
	HUSK_KERNEL=$WORK/garbage HUSK_INITRD=$initrd run_rt create --bundle "$b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"husk create failed: $WORK/garbage: kernel: "* ]]
	[ ! -e "$WORK/root/$CT" ]
	HUSK_KERNEL=$kernel HUSK_INITRD=$WORK/empty run_rt create --bundle "$b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ $stderr == *"husk create failed: $WORK/empty is empty"* ]]
	[ ! -e "$WORK/root/$CT" ]
	[ -z "$(_leaks)" ]
}
