#!/usr/bin/env bash
# make-images.sh OUTDIR: the images the client suites use, built offline
# from Debian's busybox-static (there is no registry to pull from):
#   OUTDIR/rootfs.tar     a busybox root filesystem, for `podman import`
#   OUTDIR/busybox.oci    an OCI image archive (oci-layout, index.json,
#                         blobs), for `ctr image import`, holding two images
#                         over the same layer:
#                           husk.test/busybox:latest  Cmd ["sh"]
#                           husk.test/pause:latest    Entrypoint sleeps, for
#                                                     CRI's sandbox_image
# Deterministic: the same busybox gives the same digests, so a second run
# is a no-op for containerd's content store.
set -euo pipefail

out=${1:?usage: make-images.sh OUTDIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || {
	echo "make-images: no static busybox at $busybox (Debian package busybox-static)" >&2
	exit 1
}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The root filesystem: busybox, its applets as relative links (so they
# resolve inside any container whatever the host path), users for -u tests.
r=$tmp/rootfs
mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev,root,home/user,data}
cp "$busybox" "$r/bin/busybox"
for a in $("$busybox" --list); do
	[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
done
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
	'user:x:1000:1000:user:/home/user:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' >"$r/etc/group"
chmod 1777 "$r/tmp"
chown 1000:1000 "$r/home/user"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	--xattrs --format=posix --pax-option=delete=atime,delete=ctime \
	-C "$r" -cf "$tmp/layer.tar" .
# podman import wants the user ids as they are (home/user is 1000).
tar --sort=name --mtime=@0 --numeric-owner --format=posix \
	--pax-option=delete=atime,delete=ctime -C "$r" -cf "$out/rootfs.tar" .

oci=$tmp/oci
mkdir -p "$oci/blobs/sha256"
# blob FILE: stores FILE as a blob, prints "sha256:HEX SIZE".
blob() {
	local d
	d=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$oci/blobs/sha256/$d"
	echo "sha256:$d $(stat -c %s "$1")"
}
read -r layer layer_size < <(blob "$tmp/layer.tar")

# image NAME CONFIG_FRAGMENT: prints an index.json manifest entry.
image() {
	local name=$1 cfg=$2 config config_size manifest manifest_size
	jq -cn --arg l "$layer" --argjson c "$cfg" '{
		architecture: "amd64", os: "linux",
		created: "1970-01-01T00:00:00Z",
		config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
			WorkingDir: "/"} + $c),
		rootfs: {type: "layers", diff_ids: [$l]}}' >"$tmp/config.json"
	read -r config config_size < <(blob "$tmp/config.json")
	jq -cn --arg c "$config" --argjson cs "$config_size" \
		--arg l "$layer" --argjson ls "$layer_size" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json",
			digest: $c, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar",
			digest: $l, size: $ls}]}' >"$tmp/manifest.json"
	read -r manifest manifest_size < <(blob "$tmp/manifest.json")
	# containerd names an imported image after io.containerd.image.name;
	# other tools read the OCI ref.name.
	jq -cn --arg m "$manifest" --argjson ms "$manifest_size" --arg n "$name" '{
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		digest: $m, size: $ms,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"io.containerd.image.name": $n,
			"org.opencontainers.image.ref.name": ($n | sub(".*:"; ""))}}'
}
{
	image husk.test/busybox:latest '{"Cmd": ["sh"]}'
	# A sandbox's process only has to stay up until the pod is removed.
	image husk.test/pause:latest '{"Entrypoint": ["sleep", "2147483647"]}'
} | jq -s '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: .}' >"$oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-C "$oci" -cf "$out/busybox.oci.new" oci-layout index.json blobs
mv "$out/busybox.oci.new" "$out/busybox.oci"
