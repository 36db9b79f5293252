#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed, N skipped"
# counting every test of every suite. Each suite speaks TAP (the C unit tests
# through tests/unit/tap.c, bats with --tap); a suite that dies before
# reporting all the tests it planned has the missing ones counted as failed.
#
# Suites:
#   layers       each folder includes only from the layers below it
#                (hack/check-layers.sh)
#   format       every C file is as clang-format formats it
#                (hack/check-format.sh; `make format` fixes it)
#   unit         $UNIT (C, sanitized, no KVM needed)
#   fuzz         the libFuzzer targets, FUZZ_SECONDS each (hack/fuzz-tap.sh)
#   integration  tests/integration/*.bats against $HUSK, on this host
#   vm           tests/vm/*.bats and the integration and client
#                (tests/clients) files marked "# husk-test: needs-vm": need a KVM that boots a stock guest;
#                run directly, inside hack/kvmbox (a box per file, run
#                again if the box is lost), or skipped, as hack/vm-env says
#
# Environment: HUSK, UNIT (paths, set by the Makefile); SUITES to pick suites
# (default "layers format unit fuzz integration vm"); BATS_FILTER passed to bats --filter;
# TEST_FILES (paths of .bats files) limits the integration and vm suites to
# those files.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
: "${HUSK:=$top/build/husk}" "${UNIT:=$top/build/asan/unit-tests}"
: "${SUITES:=layers format unit fuzz integration vm}"
export HUSK

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

passed=0 failed=0 skipped=0

# count SUITE FILE STATUS: adds FILE's TAP results to the totals.
count() {
	local suite=$1 file=$2 status=$3 p f s planned seen
	read -r p f s planned < <(awk '
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); plan += $0 }
		/^ok / { if (tolower($0) ~ /# skip/) s++; else p++ }
		/^not ok / { f++ }
		END { printf "%d %d %d %d\n", p, f, s, plan }' "$file")
	seen=$((p + f + s))
	if [ "$seen" -lt "$planned" ]; then
		echo "# $suite: only $seen of $planned planned tests reported; the rest count as failed"
		f=$((f + planned - seen))
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "# $suite: exited with status $status without a failing test; counted as one failure"
		f=$((f + 1))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	# The wall time too: where CI's minutes go (the VM suites dominate).
	echo "# $suite: $p passed, $f failed, $s skipped in $((SECONDS - suite_started)) s"
}

run_suite() {
	local suite=$1
	shift
	echo "# ---- $suite: $*"
	suite_started=$SECONDS
	"$@" 2>&1 | tee "$out/$suite.tap"
	count "$suite" "$out/$suite.tap" "${PIPESTATUS[0]}"
}

# box_suite SUITE FILES...: each file in a box of its own, so a box that
# QEMU's TCG loses (kvmbox exits 125: stalled or died; 124: its timeout)
# costs that file one more run in a fresh box, not the rest of the suite.
# Inside, each test gets one retry (tests/lib/retry.bash).
box_suite() {
	local suite=$1 f name try st
	shift
	for f in "$@"; do
		name=$suite-$(basename "$f" .bats)
		suite_started=$SECONDS
		for try in 1 2; do
			echo "# ---- $suite: $f (box, try $try)"
			hack/kvmbox -t 1800 -e HUSK="$HUSK" -e HUSK_TEST_RETRIES=1 -- \
				bats "${bats_args[@]}" "$f" 2>&1 | tee "$out/$name.tap"
			st=${PIPESTATUS[0]}
			if [ "$try" = 1 ] && { [ "$st" = 124 ] || [ "$st" = 125 ]; }; then
				echo "# husk-test: box lost (kvmbox status $st) running $f; the whole file runs again in a new box"
				cp "$out/$name.tap" "$out/$name.lost"
				continue
			fi
			break
		done
		count "$name" "$out/$name.tap" "$st"
	done
}

# only_listed: keeps in the array `files` only what TEST_FILES names.
only_listed() {
	[ -n "${TEST_FILES:-}" ] || return 0
	local f kept=()
	for f in "${files[@]}"; do
		[[ " $TEST_FILES " == *" $f "* ]] && kept+=("$f")
	done
	files=("${kept[@]}")
}

suite_started=$SECONDS
bats_args=(--tap)
[ -n "${BATS_FILTER:-}" ] && bats_args+=(--filter "$BATS_FILTER")

# skip_all SUITE REASON FILES...: reports each test of the files as skipped,
# so a host that cannot run them shows how many were not run and why.
skip_all() {
	local suite=$1 reason=$2 n
	shift 2
	suite_started=$SECONDS
	n=$(bats --count "$@")
	{
		echo "1..$n"
		for i in $(seq 1 "$n"); do echo "ok $i # skip $reason"; done
	} | tee "$out/$suite.tap"
	count "$suite" "$out/$suite.tap" 0
}

for suite in $SUITES; do
	case $suite in
	layers)
		run_suite layers hack/check-layers.sh
		;;
	format)
		run_suite format hack/check-format.sh
		;;
	unit)
		run_suite unit "$UNIT"
		;;
	fuzz)
		run_suite fuzz hack/fuzz-tap.sh
		;;
	integration)
		mapfile -t files < <(grep -L '^# husk-test: needs-vm' tests/integration/*.bats)
		only_listed
		[ ${#files[@]} -gt 0 ] || continue
		run_suite integration bats "${bats_args[@]}" "${files[@]}"
		;;
	vm)
		shopt -s nullglob
		files=(tests/vm/*.bats)
		shopt -u nullglob
		# Integration files that start containers need guests too, and so
		# do the client suites (containerd, podman driving husk).
		mapfile -t -O "${#files[@]}" files < <(grep -l '^# husk-test: needs-vm' \
			tests/integration/*.bats tests/clients/*.bats)
		only_listed
		[ ${#files[@]} -gt 0 ] || continue
		mode=$(hack/vm-env)
		case $mode in
		direct) run_suite vm bats "${bats_args[@]}" "${files[@]}" ;;
		box) box_suite vm "${files[@]}" ;;
		*) skip_all vm "${mode#none: }" "${files[@]}" ;;
		esac
		;;
	*)
		echo "run-tests: unknown suite '$suite'" >&2
		exit 2
		;;
	esac
done

retried=$(cat "$out"/*.tap 2>/dev/null | grep -c '^# husk-test: retrying' || true)
[ "$retried" -eq 0 ] || echo "# $retried test(s) needed a second attempt in the emulated box (see '# husk-test: retrying' above)"
lost=$(find "$out" -name '*.lost' | wc -l)
[ "$lost" -eq 0 ] || echo "# $lost test file(s) ran again after the emulated box was lost (see '# husk-test: box lost' above)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
