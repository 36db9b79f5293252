#!/usr/bin/env bash
# Builds husk's guest initramfs (uncompressed cpio: no decompression on the
# boot path): husk-init as /init, /dev/console (the kernel opens it for init
# before anything is mounted) and the empty directories init mounts on.
# Usage: build-initramfs.sh OUT.cpio HUSK-INIT-BINARY
set -euo pipefail

out=$1 init=$2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{dev,proc,sys,run,tmp}
install -m 0755 "$init" "$stage/init"
mknod -m 600 "$stage/dev/console" c 5 1
(cd "$stage" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
