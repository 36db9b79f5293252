# Shared set-up for the bats suites. HUSK is the binary under test (the
# Makefile exports it); every test gets its own scratch directory.

: "${HUSK:=$BATS_TEST_DIRNAME/../../build/husk}"
REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/husk-test.XXXXXX")
}

teardown() {
	rm -rf "$WORK"
}

bats_require_minimum_version 1.5.0

# husk ARGS...: the binary under test.
husk() {
	"$HUSK" "$@"
}

# run_split CMD...: like `run`, but $output is stdout only and $stderr is
# stderr, so tests can tell where a message went.
run_split() {
	run --separate-stderr "$@"
}
