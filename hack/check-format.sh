#!/usr/bin/env bash
# The C style as a test suite (TAP): every C file of the tree is exactly as
# clang-format formats it with the tree's .clang-format, so style never
# needs a review comment and `make format` is the one way to fix it.
# Pinned to clang-format 14 (Debian 12's): another version formats a few
# constructs differently, so the check is skipped there rather than failing
# on a file nobody changed. Usage: check-format.sh [TREE].
set -uo pipefail

tree=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$tree" || exit 2

echo "1..1"
version=$(clang-format --version 2>/dev/null | sed -nE 's/.*version ([0-9]+)\..*/\1/p')
if [ -z "$version" ]; then
	echo "ok 1 # skip clang-format is not installed (hack/install-deps.sh installs it)"
	exit 0
fi
if [ "$version" != 14 ]; then
	echo "ok 1 # skip clang-format $version, the style is pinned to 14"
	exit 0
fi

mapfile -t files < <(hack/c-files.sh)
bad=()
for f in "${files[@]}"; do
	clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
done
if [ ${#bad[@]} -eq 0 ]; then
	echo "ok 1 every C file (${#files[@]}) is formatted as .clang-format says"
	exit 0
fi
echo "not ok 1 C files not formatted as .clang-format says (run make format)"
for f in "${bad[@]}"; do
	echo "# $f"
	clang-format --style=file "$f" | diff -u "$f" - | sed -n '3,12s/^/#   /p'
done
exit 1
