# Shared set-up for the suites that boot guests. They run where KVM can
# boot a stock guest: directly on a VT-x/AMD-V host, inside hack/kvmbox
# elsewhere (hack/run-tests.sh decides).

bats_require_minimum_version 1.5.0

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${HUSK:=$REPO_ROOT/build/husk}"
KERNEL=${HUSK_TEST_KERNEL:-$REPO_ROOT/build/guest/vmlinux}
INITRD=${HUSK_TEST_INITRD:-$REPO_ROOT/build/guest-test/initramfs.cpio}
# A guest that hangs must fail the test, not the whole run.
BOOT_TIMEOUT=${HUSK_TEST_BOOT_TIMEOUT:-180}
source "$REPO_ROOT/tests/lib/retry.bash"

setup() {
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/husk-vm.XXXXXX")
}

teardown() {
	retry_note
	rm -rf "$WORK"
}

# boot [husk debug boot options...]: a VM with the test kernel and initramfs.
boot() {
	timeout "$BOOT_TIMEOUT" "$HUSK" debug boot --kernel "$KERNEL" --initrd "$INITRD" "$@" </dev/null
}

# in_guest [options...] -- 'SHELL LINE': boots a VM whose init runs the line
# with /bin/sh -c; results in $status, $output (stdout) and $stderr. The
# line reaches the guest through the kernel command line: no double quotes.
in_guest() {
	local opts=()
	while [ "$1" != "--" ]; do
		opts+=("$1")
		shift
	done
	shift
	run --separate-stderr boot "${opts[@]}" --cmdline "-- /bin/sh -c \"$1\""
	# The guest's console is a tty that ends lines with \r\n.
	output=${output//$'\r'/}
	mapfile -t lines <<<"$output"
}
