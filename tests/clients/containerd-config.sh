#!/bin/sh
# containerd-config.sh ROOT STATE SOCKET HUSK: prints a containerd 1.6
# config.toml that runs husk through the runc shim: the CRI plugin's default
# runtime handler "husk" (io.containerd.runc.v2, BinaryName = HUSK), the
# busybox-based pause image as the sandbox image, and
# restrict_oom_score_adj, without which CRI fails where the caller lacks
# CAP_SYS_RESOURCE (the sandbox this project is tested in). README.md shows
# the same settings.
set -eu
[ $# -eq 4 ] || {
	echo "usage: containerd-config.sh ROOT STATE SOCKET HUSK" >&2
	exit 1
}
cat <<EOT
version = 2
root = "$1"
state = "$2"

[grpc]
  address = "$3"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "husk.test/pause:latest"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "husk"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk.options]
        BinaryName = "$4"
EOT
