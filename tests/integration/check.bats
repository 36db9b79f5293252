#!/usr/bin/env bats
# `husk check` reports the host honestly and exits 0 only when containers can
# run.

load helpers

@test "check prints one verdict per line and a summary" {
	run husk check
	[[ "${lines[-1]}" =~ ^[0-9]+\ failed,\ [0-9]+\ warnings: ]]
	for what in kvm-backend cgroups seccomp user-namespaces guest-kernel guest-initramfs; do
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
	if [ -d /sys/module/kvm_intel ]; then
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
	touch "$WORK/k" "$WORK/i"
	HUSK_KERNEL="$WORK/k" HUSK_INITRD="$WORK/i" run husk check
	echo "$output" | grep -E "^OK +guest-kernel +$WORK/k$"
	echo "$output" | grep -E "^OK +guest-initramfs +$WORK/i$"
	HUSK_KERNEL="$WORK/missing" run husk check
	echo "$output" | grep -E "^FAIL +guest-kernel .*HUSK_KERNEL=$WORK/missing"
}

@test "check --quiet prints only WARN and FAIL lines" {
	run husk check --quiet
	! echo "$output" | grep -q '^OK '
}
