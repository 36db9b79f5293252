#!/usr/bin/env bash
# Builds the VM tests' guest initramfs (uncompressed cpio): test-init as
# /init and /bin/husk-guest-tool, static busybox with its applets, and
# /dev/console (the kernel opens it for init before anything is mounted).
# Further static binaries (test tools such as fs-conformance) go to /bin.
# Usage: build-initramfs.sh OUT.cpio TEST-INIT-BINARY [TOOL...]
set -euo pipefail

out=$1 init=$2
shift 2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc,mnt}
install -m 0755 "$init" "$stage/init"
ln "$stage/init" "$stage/bin/husk-guest-tool"
for tool in "$@"; do
	install -m 0755 "$tool" "$stage/bin/$(basename "$tool")"
done
install -m 0755 /bin/busybox "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
mknod -m 600 "$stage/dev/console" c 5 1
(cd "$stage" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
