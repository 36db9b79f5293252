#!/usr/bin/env bats
# `husk check` reports the host honestly and exits 0 only when containers can
# run.

load helpers

@test "check prints one verdict per line and a summary" {
	run husk check
	[[ "${lines[-1]}" =~ ^[0-9]+\ failed,\ [0-9]+\ warnings: ]]
	for what in kvm-device cgroups cgroup-create seccomp vmm-namespaces state-root guest-kernel \
		guest-initramfs; do
		echo "$output" | grep -qE "^(OK|WARN|FAIL) +$what " || { echo "no $what line"; false; }
	done
}

@test "check exits 0 exactly when no line is FAIL" {
	run husk check
	if echo "$output" | grep -q '^FAIL'; then
		[ "$status" -eq 1 ]
	else
		[ "$status" -eq 0 ]
	fi
}

@test "check names the KVM backend this host has" {
	run husk check
	if [ ! -c /dev/kvm ]; then
		# Without the device the module is named on its one line.
		echo "$output" | grep -E '^FAIL +kvm-device +/dev/kvm: .*\(KVM module: '
	elif [ -d /sys/module/kvm_intel ]; then
		echo "$output" | grep -E '^OK +kvm-backend +kvm_intel'
	elif [ -d /sys/module/kvm_amd ]; then
		echo "$output" | grep -E '^OK +kvm-backend +kvm_amd'
	elif [ -d /sys/module/kvm_pvm ]; then
		# kvm_pvm cannot boot a stock guest: say so, and where VM tests run.
		echo "$output" | grep -E '^FAIL +kvm-backend +kvm_pvm.*cannot boot a stock Linux guest'
		echo "$output" | grep -q 'hack/kvmbox'
		[ "$status" -eq 1 ]
	else
		echo "$output" | grep -E '^FAIL +kvm-backend +no KVM module'
	fi
}

@test "check reports the cgroup layout of this host" {
	run husk check
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		mode=v2
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		mode=hybrid
	else
		mode=v1
	fi
	echo "$output" | grep -E "^(OK|WARN) +cgroups +$mode;"
}

@test "check finds guest assets named by HUSK_KERNEL and HUSK_INITRD" {
	[ -r "$REPO_ROOT/build/guest/vmlinux" ] && [ -r "$REPO_ROOT/build/guest/initramfs.cpio" ] ||
		skip "no guest assets in build/guest (make vm-assets)"
	ln -s "$REPO_ROOT/build/guest/vmlinux" "$WORK/k"
	ln -s "$REPO_ROOT/build/guest/initramfs.cpio" "$WORK/i"
	HUSK_KERNEL="$WORK/k" HUSK_INITRD="$WORK/i" run husk check
	echo "$output" | grep -E "^OK +guest-kernel +$WORK/k$"
	echo "$output" | grep -E "^OK +guest-initramfs +$WORK/i$"
	HUSK_KERNEL="$WORK/missing" run husk check
	echo "$output" | grep -E "^FAIL +guest-kernel .*HUSK_KERNEL=$WORK/missing"
	[ "$status" -eq 1 ]
	HUSK_INITRD="$WORK/missing-initrd" run husk check
	echo "$output" | grep -E "^FAIL +guest-initramfs .*HUSK_INITRD=$WORK/missing-initrd"
	[ "$status" -eq 1 ]
}

@test "check loads the guest kernel: a file that is none FAILs, naming it" {
	# create loads the kernel into guest memory and fails on these; check
	# said OK as long as the file could be read.
	touch "$WORK/empty"
	echo "not a kernel" >"$WORK/text"
	HUSK_KERNEL="$WORK/empty" HUSK_INITRD="$WORK/empty" run husk check
	[ "$status" -eq 1 ]
	echo "$output" | grep -E "^FAIL +guest-kernel +$WORK/empty"
	echo "$output" | grep -E "^FAIL +guest-initramfs +$WORK/empty"
	HUSK_KERNEL="$WORK/text" run husk check
	echo "$output" | grep -E "^FAIL +guest-kernel +$WORK/text: .*neither an ELF vmlinux nor a bzImage"
}

@test "check does not claim this build cannot create containers" {
	run husk check
	! echo "$output" | grep -i 'cannot create containers'
	! echo "$output" | grep -E '^[A-Z]+ +containers '
}

@test "check makes what create makes: a cgroup and a state directory, and leaves neither" {
	run husk --root "$WORK/root" check
	echo "$output" | grep -E "^(OK|WARN|FAIL) +cgroup-create "
	echo "$output" | grep -E "^OK +state-root +$WORK/root is writable"
	[ -z "$(ls -A "$WORK/root")" ]
	! find /sys/fs/cgroup -maxdepth 4 -name 'husk-check-*' | grep .
	# A file where the state directory should be: create could not run.
	touch "$WORK/file"
	run husk --root "$WORK/file" check
	echo "$output" | grep -E "^FAIL +state-root "
	[ "$status" -eq 1 ]
}

@test "a missing /dev/kvm is reported once, not also as the KVM module's fault" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a mount namespace"
	# A /dev without kvm, in a mount namespace of its own.
	run unshare -m sh -c 'mount -t tmpfs husk-test /dev && exec "$0" check' "$HUSK"
	[ "$status" -eq 1 ]
	echo "$output" | grep -E '^FAIL +kvm-device +/dev/kvm: No such file or directory'
	[ "$(echo "$output" | grep -cE '^(OK|WARN|FAIL) +kvm')" -eq 1 ]
}

@test "check --boot refuses a bad HUSK_CHECK_BOOT_TIMEOUT, naming it" {
	for bad in 0 abc -5 86401 1.5 ""; do
		HUSK_CHECK_BOOT_TIMEOUT=$bad run --separate-stderr husk check --boot
		[ "$status" -ne 0 ]
		[[ "$stderr" == *"HUSK_CHECK_BOOT_TIMEOUT: "*"is not a whole number of seconds"* ]]
		# Refused before any check ran or any guest booted.
		[ -z "$output" ]
	done
}

@test "check --boot says it did not boot when a check FAILs, and leaves nothing" {
	before=$(ls -d /tmp/husk-check.* 2>/dev/null | wc -l)
	HUSK_KERNEL="$WORK/missing" run husk check --boot
	[ "$status" -eq 1 ]
	echo "$output" | grep -E '^FAIL +boot +not tried'
	[ "$(ls -d /tmp/husk-check.* 2>/dev/null | wc -l)" -eq "$before" ]
}

@test "check --help lists --boot and its bound" {
	run husk check --help
	[ "$status" -eq 0 ]
	echo "$output" | grep -E -- '--boot .*HUSK_CHECK_BOOT_TIMEOUT'
}

@test "check --quiet prints only WARN and FAIL lines" {
	run husk check --quiet
	! echo "$output" | grep -q '^OK '
}
