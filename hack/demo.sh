#!/usr/bin/env bash
# The README's first command ends here: builds a busybox bundle and runs
# `echo hello` in it with husk, in a micro-VM. Where this host's KVM cannot
# boot a guest (hack/vm-env says "box"), the run happens inside the emulated
# AMD-V box. If husk fails, so does this script: no step here pretends to
# succeed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
husk=$top/build/husk
bundle=$top/build/demo/bundle

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

# State under /run (tmpfs): its sockets cannot live on the box's 9p share.
run=("$husk" --root /run/husk-demo run --bundle "$bundle" "husk-demo-$$")
case $(hack/vm-env 2>/dev/null || echo "none: hack/vm-env is missing") in
direct) "${run[@]}" ;;
box) hack/kvmbox -- "${run[@]}" ;;
*) echo "demo: no way to run a micro-VM here: $(hack/vm-env --reason 2>/dev/null)" >&2
	exit 1 ;;
esac
