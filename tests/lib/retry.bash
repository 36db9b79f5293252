# One retry for tests that boot guests inside hack/kvmbox, and only there.
# The emulated box (QEMU TCG running kvm_amd) now and then loses a guest
# that is fine on hardware: a triple fault in the middle of a run, or a
# boot that stalls along with the box's own timers (RCU stall reports in
# build/kvmbox/last-serial.log). hack/run-tests.sh sets HUSK_TEST_RETRIES=1
# for the box alone; on a host with VT-x/AMD-V a failure is final. Every
# retry is printed as a TAP comment with the failed attempt's status and
# last lines, and run-tests.sh counts them in its summary, so a real bug
# that fails twice still fails and one that fails once is still seen.
BATS_TEST_RETRIES=${HUSK_TEST_RETRIES:-0}

# retry_note: call from teardown.
retry_note() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] || return 0
	[ "${BATS_TEST_TRY_NUMBER:-1}" -le "$BATS_TEST_RETRIES" ] || return 0
	{
		echo "# husk-test: retrying after a failed attempt: $BATS_TEST_DESCRIPTION (status=${status:-?})"
		tail -n 3 <<<"${stderr:-${output:-}}" | sed 's/^/#   /'
	} >&3
}
