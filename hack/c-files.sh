#!/usr/bin/env bash
# Lists the tree's own C sources and headers, one per line, relative to the
# top of the tree: what `make format` formats and the format suite checks.
# From git when this is a checkout (untracked scratch files stay out), else
# from the source folders.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
dirs=(base proto oci vmm rootfs runtime tests hack)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -- "${dirs[@]/%//*.c}" "${dirs[@]/%//*.h}" |
		while read -r f; do [ -e "$f" ] && echo "$f"; done
else
	find "${dirs[@]}" -name '*.[ch]' -not -path 'build/*' 2>/dev/null | sort
fi
