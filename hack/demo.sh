#!/usr/bin/env bash
# The README's first command ends here. It runs `echo` in a micro-VM twice:
# once with husk by hand on a busybox bundle, as runc would be used, and
# once through podman (`podman --runtime husk run --rm`), as a user who
# changed one line would. Where this host's KVM cannot boot a guest
# (hack/vm-env says "box"), both happen inside the emulated AMD-V box. If
# husk or podman fails, so does this script: no step here pretends to
# succeed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
husk=$top/build/husk

# inside: the two runs, where guests boot.
inside() {
	local bundle=$top/build/demo/bundle id=husk-demo-$$
	# A bundle whose rootfs is busybox and its applet links: enough for a shell.
	rm -rf "$bundle"
	mkdir -p "$bundle/rootfs/bin"
	cp /bin/busybox "$bundle/rootfs/bin/busybox"
	for applet in sh echo ls cat; do
		ln -sf busybox "$bundle/rootfs/bin/$applet"
	done
	"$husk" spec --bundle "$bundle"
	# Not a terminal, so the demo runs the same from a script or CI.
	jq '.process.terminal = false | .process.args = ["echo", "hello from a husk micro-VM"]' \
		"$bundle/config.json" >"$bundle/config.json.new"
	mv "$bundle/config.json.new" "$bundle/config.json"

	echo "demo: husk run --bundle $bundle $id"
	# State under /run (tmpfs): its sockets cannot live on the box's 9p share.
	"$husk" --root /run/husk-demo run --bundle "$bundle" "$id"

	command -v podman >/dev/null || {
		echo "demo: podman is not installed (hack/install-deps.sh installs it)" >&2
		return 1
	}
	# podman with private storage and the README's containers.conf, and an
	# image built offline from busybox (there is no registry to pull from).
	local pm
	pm=$(mktemp -d /run/husk-demo-podman.XXXXXX)
	trap 'podman rm -af -t 0 >/dev/null 2>&1; podman system reset -f >/dev/null 2>&1; rm -rf "$pm"' RETURN
	tests/clients/podman-config.sh "$pm/conf" "$pm/graph" "$pm/run" "$husk"
	export CONTAINERS_CONF=$pm/conf/containers.conf
	export CONTAINERS_STORAGE_CONF=$pm/conf/storage.conf
	tests/clients/make-images.sh "$pm/images" >/dev/null
	podman import -q --change 'CMD ["sh"]' "$pm/images/rootfs.tar" husk.test/busybox >/dev/null
	# The box's kernel has tun as a module; podman's bridge needs it for
	# the VMM's tap.
	[ -e /dev/net/tun ] || modprobe tun
	echo "demo: podman --runtime husk run --rm husk.test/busybox sh -c 'echo ...; ip -4 -o addr show eth0'"
	podman --runtime husk run --rm husk.test/busybox \
		sh -c 'echo "hello from podman, in a husk micro-VM on kernel $(uname -r)"; ip -4 -o addr show eth0'
}

if [ "${1:-}" = --inside ]; then
	inside
	exit
fi
case $(hack/vm-env 2>/dev/null || echo "none: hack/vm-env is missing") in
direct) inside ;;
box) hack/kvmbox -- "$0" --inside ;;
*)
	echo "demo: no way to run a micro-VM here: $(hack/vm-env --reason 2>/dev/null)" >&2
	exit 1
	;;
esac
