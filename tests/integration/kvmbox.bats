#!/usr/bin/env bats
# shellcheck disable=SC2154 # $stderr comes from run --separate-stderr
# hack/kvmbox, the emulated KVM box that VM tests run in on hosts without
# hardware virtualization. Every test boots a box (QEMU TCG, 5-15 s), so
# there are few, and each checks several things.

bats_require_minimum_version 1.5.0

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
kvmbox=$REPO_ROOT/hack/kvmbox

setup() {
	local mode
	mode=$("$REPO_ROOT/hack/vm-env")
	case $mode in
	none*) skip "${mode#none: }" ;;
	esac
	command -v "${KVMBOX_QEMU:-qemu-system-x86_64}" >/dev/null || skip "no QEMU for hack/kvmbox"
	# A box inside a box (the box sets KVMBOX=1) would crawl at TCG-in-TCG speed.
	[ -z "${KVMBOX:-}" ] || skip "already inside hack/kvmbox"
	SCRATCH=$REPO_ROOT/build/kvmbox-test.$$.$BATS_TEST_NUMBER
	rm -rf "$SCRATCH"
	BOX_NAME=bats-$$-$BATS_TEST_NUMBER
	cd "$REPO_ROOT" || return
}

teardown() {
	if [ -n "${BOX_NAME:-}" ]; then "$kvmbox" stop --name "$BOX_NAME" >/dev/null 2>&1 || true; fi
	rm -rf "${SCRATCH:-/nonexistent}"
}

@test "kvmbox: the box has /dev/kvm from kvm_amd and a CPU with svm" {
	run --separate-stderr "$kvmbox" -- sh -c 'ls -l /dev/kvm; grep -c svm /proc/cpuinfo; hack/vm-env'
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == c*/dev/kvm ]]
	[ "${lines[1]}" -ge 1 ]
	[ "${lines[2]}" = direct ]
}

@test "kvmbox: exit status, stdout and stderr come back apart; repo writes land on the host" {
	# shellcheck disable=SC2016 # expanded by the box's sh
	run --separate-stderr "$kvmbox" -e GREETING=hi -- sh -c \
		'echo "out $GREETING"; echo "err in $PWD" >&2; mkdir -p "$1" && echo written >"$1/f"; exit 42' \
		sh "$SCRATCH"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 42 ]
	[ "$output" = "out hi" ]
	[ "$stderr" = "err in $PWD" ]
	[ "$(cat "$SCRATCH/f")" = written ]
}

@test "kvmbox: a command past --timeout is killed with status 124 and a message" {
	run --separate-stderr "$kvmbox" -t 10 -- sleep 600
	echo "stderr: $stderr"
	[ "$status" -eq 124 ]
	[[ $stderr == *"kvmbox: timed out after 10 s; serial log: "* ]]
}

@test "kvmbox: keep-alive box runs several commands, then stops" {
	run --separate-stderr "$kvmbox" start --name "$BOX_NAME"
	echo "start: $output / $stderr"
	[ "$status" -eq 0 ]
	[ -d "$output" ]

	run --separate-stderr "$kvmbox" exec --name "$BOX_NAME" -- sh -c 'echo one; echo two >&2; exit 3'
	[ "$status" -eq 3 ]
	[ "$output" = one ]
	[ "$stderr" = two ]

	# Box state lasts between commands: the overlay root keeps this file.
	"$kvmbox" exec --name "$BOX_NAME" -- sh -c 'echo kept >/root/kvmbox-bats'
	run "$kvmbox" exec --name "$BOX_NAME" -- cat /root/kvmbox-bats
	[ "$status" -eq 0 ]
	[ "$output" = kept ]
	[ ! -e /root/kvmbox-bats ]

	run --separate-stderr "$kvmbox" exec --name "$BOX_NAME" -t 2 -- sleep 600
	[ "$status" -eq 124 ]

	run "$kvmbox" stop --name "$BOX_NAME"
	[ "$status" -eq 0 ]
	run --separate-stderr "$kvmbox" exec --name "$BOX_NAME" -- true
	[ "$status" -eq 125 ]
}
