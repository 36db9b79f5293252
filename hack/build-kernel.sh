#!/usr/bin/env bash
# Builds husk's guest kernel: an uncompressed x86_64 `vmlinux` (ELF with a
# Xen PVH note) from Debian's linux-source-6.1, configured as `tinyconfig`
# plus the fragment rootfs/kernel/husk.config.
#
#   hack/build-kernel.sh                 build if needed -> build/guest/vmlinux
#   hack/build-kernel.sh --force         rebuild even if up to date
#   hack/build-kernel.sh --config-only   stop after writing and checking .config
#
# Layout (all under build/, nothing outside the repo is written):
#   build/kernel/linux-source-6.1/   pristine source, extracted once
#   build/kernel/obj/                out-of-tree objects and .config (O=)
#   build/kernel/build.log           everything kconfig and make print
#   build/guest/vmlinux              the result
#
# Environment: HUSK_KERNEL_TARBALL (default /usr/src/linux-source-6.1.tar.xz),
# JOBS (default nproc+1).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
script="$here/$(basename "${BASH_SOURCE[0]}")"

tarball=${HUSK_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
fragment=$repo/rootfs/kernel/husk.config
kdir=$repo/build/kernel
src=$kdir/linux-source-6.1
obj=$kdir/obj
log=$kdir/build.log
out=$repo/build/guest/vmlinux
jobs=${JOBS:-$(($(nproc) + 1))}

force=0
config_only=0
for arg in "$@"; do
	case $arg in
	-f | --force) force=1 ;;
	--config-only) config_only=1 ;;
	-h | --help)
		sed -n '2,17p' "$script" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-kernel: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

say() { echo "build-kernel: $*"; }
die() {
	echo "build-kernel: error: $*" >&2
	exit 1
}

# Show the end of the log when a logged step fails, so the cause is visible
# without opening the file.
fail_with_log() {
	echo "build-kernel: error: $1 failed; last lines of $log:" >&2
	tail -n 30 "$log" >&2 || true
	exit 1
}

[ -f "$fragment" ] || die "missing config fragment $fragment"
# An option named twice would make the result depend on which line wins.
dups=$(grep -oE '^(# )?CONFIG_[A-Za-z0-9_]+' "$fragment" | sed 's/^# //' | sort | uniq -d)
[ -z "$dups" ] || die "options named twice in ${fragment#"$repo"/}: $(tr "\n" " " <<<"$dups")"

if [ "$force" = 0 ] && [ "$config_only" = 0 ] && [ -f "$out" ] &&
	[ "$out" -nt "$fragment" ] && [ "$out" -nt "$script" ]; then
	say "up to date: ${out#"$repo"/} ($(stat -c %s "$out") bytes)"
	exit 0
fi

for tool in make gcc ld bc flex bison perl tar xz readelf; do
	command -v "$tool" >/dev/null || die "'$tool' not found (run hack/install-deps.sh)"
done
[ -f /usr/include/libelf.h ] || die "libelf-dev is missing (objtool needs it)"
[ -f /usr/include/openssl/ssl.h ] || die "libssl-dev is missing"

mkdir -p "$kdir" "$obj" "$(dirname "$out")"

# 1. Extract the source once. Extraction goes to a temporary directory that is
#    renamed at the end, so an interrupted run never leaves a half tree that
#    later runs would mistake for a complete one.
if [ ! -f "$src/Makefile" ]; then
	[ -f "$tarball" ] || die "kernel source $tarball not found (apt-get install linux-source-6.1)"
	say "extracting $(basename "$tarball") (once)"
	tmp=$(mktemp -d "$kdir/extract.XXXXXX")
	tar -xf "$tarball" -C "$tmp"
	[ -f "$tmp/linux-source-6.1/Makefile" ] || die "unexpected layout in $tarball"
	rm -rf "$src"
	mv "$tmp/linux-source-6.1" "$src"
	rmdir "$tmp"
fi
kver=$(make -s -C "$src" kernelversion 2>/dev/null)

: >"$log"
start=$(date +%s)
kmake() { make -C "$src" O="$obj" ARCH=x86_64 "$@"; }

# 2. Configure: tinyconfig, then the fragment merged on top in allnoconfig
#    mode (-n), so every option the fragment makes visible but does not name
#    is off rather than at its default: the fragment is the whole list of
#    what is in, on top of tinyconfig.
say "configuring Linux $kver: tinyconfig + ${fragment#"$repo"/}"
kmake tinyconfig >>"$log" 2>&1 || fail_with_log "make tinyconfig"
(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$obj" \
	"$obj/.config" "$fragment") >>"$log" 2>&1 || fail_with_log "merge_config.sh"

# 3. Check that every option the fragment sets has the requested value in the
#    final .config. kconfig silently drops an option whose dependencies are
#    not met, so without this a typo or a missing dependency would give a
#    kernel that quietly lacks a feature.
check_config() {
	local want=$1 have=$2 bad=0 line sym val got
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			sym=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
			sym=${BASH_REMATCH[1]} val=n
		else
			continue
		fi
		got=$(grep -m1 -E "^$sym=" "$have" | cut -d= -f2-) || true
		[ -n "$got" ] || got=n
		if [ "$got" != "$val" ]; then
			[ "$bad" = 1 ] || echo "build-kernel: options not set as requested (fragment -> final .config):" >&2
			printf '  %-44s wanted %-6s got %s\n' "$sym" "$val" "$got" >&2
			bad=1
		fi
	done <"$want"
	return "$bad"
}
nreq=$(grep -cE '^(CONFIG_|# CONFIG_.* is not set)' "$fragment")
if ! check_config "$fragment" "$obj/.config"; then
	die "the final .config differs from ${fragment#"$repo"/} (missing dependency or misspelt option?)"
fi
say "config ok: all $nreq options of the fragment have the requested value"
if [ "$config_only" = 1 ]; then
	say "config only: ${obj#"$repo"/}/.config"
	exit 0
fi

# 4. Build vmlinux only (no bzImage: we boot the ELF directly).
say "building vmlinux with make -j$jobs (log: ${log#"$repo"/})"
kmake -j"$jobs" vmlinux >>"$log" 2>&1 || fail_with_log "make vmlinux"

# 5. Sanity checks on the result, then install it.
file_out=$(readelf -h "$obj/vmlinux" 2>/dev/null) || die "vmlinux is not an ELF file"
grep -q 'ELF64' <<<"$file_out" || die "vmlinux is not a 64-bit ELF"
# XEN_ELFNOTE_PHYS32_ENTRY is note type 18 (0x12) with owner "Xen"; readelf
# names it in newer binutils and prints the number in older ones.
readelf -n "$obj/vmlinux" | grep -qE 'Xen.*(PHYS32_ENTRY|0x00000012)' ||
	die "vmlinux has no Xen PVH entry note (CONFIG_PVH missing?)"
# Copy then rename, so a reader never sees a half-written file; the copy gets
# a fresh mtime, which the up-to-date test above relies on.
cp "$obj/vmlinux" "$out.tmp"
mv "$out.tmp" "$out"

secs=$(($(date +%s) - start))
say "built ${out#"$repo"/}: $(stat -c %s "$out") bytes, Linux $kver, in $((secs / 60))m$((secs % 60))s"
