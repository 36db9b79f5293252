#!/usr/bin/env bash
# The source tree's layers as a test suite (TAP): each folder may include
# headers from the folders below it and its own, never from above, so a
# change to the runtime cannot break the guest agent and the VMM builds
# without the CLI. From the bottom:
#
#   base/    error, cleanup, log, file I/O: libc only
#   proto/   the host-guest contract (agent frames, guest ports) -> base
#   oci/     the OCI model                         -> base
#   vmm/     the VMM and its devices               -> base, proto
#   rootfs/  the guest: husk-init                  -> base, proto, oci
#   runtime/ the CLI                               -> everything
#
# Includes must name the header from the top of the tree ("base/error.h"),
# so what a file depends on reads off its include lines. A header
# <dir>/<module>_internal.h is private to <dir>: only files in <dir> (and
# the unit tests and fuzzers, which test the insides) include it. Usage:
# check-layers.sh [TREE] (default: this checkout).
set -uo pipefail

tree=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$tree" || exit 2

layers=(base proto oci vmm rootfs runtime)
declare -A allowed=(
	[base]="base"
	[proto]="proto base"
	[oci]="oci base"
	[vmm]="vmm base proto"
	[rootfs]="rootfs base proto oci"
	[runtime]="runtime base proto oci vmm"
)

echo "1..$((${#layers[@]} + 2))"
n=0
failed=0

# report OK_TEXT FAIL_TEXT [OFFENDING_LINE...]: test $n's TAP line, failing
# (with each offending line as a comment) when any were given.
report() {
	local ok_text=$1 fail_text=$2
	shift 2
	if [ $# -eq 0 ]; then
		echo "ok $n $ok_text"
	else
		failed=1
		echo "not ok $n $fail_text"
		printf '# %s\n' "$@"
	fi
}
for layer in "${layers[@]}"; do
	n=$((n + 1))
	bad=()
	while IFS=: read -r file lineno line; do
		inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$line")
		top=${inc%%/*}
		[[ " ${allowed[$layer]} " == *" $top "* ]] || bad+=("$file:$lineno: includes $inc")
	done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]*/' \
		--include='*.c' --include='*.h' "$layer" 2>/dev/null)
	report "$layer/ includes only from: ${allowed[$layer]}" \
		"$layer/ includes from a layer above it (allowed: ${allowed[$layer]})" "${bad[@]}"
done

n=$((n + 1))
mapfile -t relative < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"/]+"' \
	--include='*.c' --include='*.h' "${layers[@]}" tests/unit tests/fuzz 2>/dev/null)
report "every include names its header from the top of the tree" \
	"includes relative to the including file (name them from the top of the tree)" "${relative[@]}"

n=$((n + 1))
private=()
while IFS=: read -r file lineno line; do
	inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$line")
	[[ $inc == */* ]] || continue # relative: the check above names it
	dir=${inc%/*}
	case $file in
	"$dir"/* | tests/unit/* | tests/fuzz/*) ;;
	*) private+=("$file:$lineno: includes $inc, private to $dir/") ;;
	esac
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]*_internal\.h"' \
	--include='*.c' --include='*.h' "${layers[@]}" tests hack 2>/dev/null)
report "every *_internal.h is included only from its own folder" \
	"a folder's *_internal.h included from outside it" "${private[@]}"
exit "$failed"
