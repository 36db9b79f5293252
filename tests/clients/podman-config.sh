#!/bin/sh
# podman-config.sh DIR GRAPHROOT RUNROOT HUSK: writes DIR/containers.conf
# (pass it as CONTAINERS_CONF) and DIR/storage.conf (CONTAINERS_STORAGE_CONF)
# for podman 4.3 with conmon and husk as the default runtime. README.md shows
# the same settings.
#   runtime_supports_json  husk prints runc's JSON errors (--log-format=json)
#   cgroup_manager         cgroupfs: husk has no systemd cgroup driver
#   events_logger          file: there may be no journald
#   default_ulimits        podman otherwise raises nofile/nproc to the
#                          maximum, which fails without CAP_SYS_RESOURCE
set -eu
[ $# -eq 4 ] || {
	echo "usage: podman-config.sh DIR GRAPHROOT RUNROOT HUSK" >&2
	exit 1
}
dir=$1 graph=$2 run=$3 husk=$4
mkdir -p "$dir"
cat >"$dir/containers.conf" <<EOT
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "husk"
runtime_supports_json = ["husk", "crun", "runc", "kata", "runsc", "youki", "krun"]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$run/events.log"
tmp_dir = "$run/libpod"

[engine.runtimes]
husk = ["$husk"]
EOT
cat >"$dir/storage.conf" <<EOT
[storage]
driver = "overlay"
graphroot = "$graph"
runroot = "$run/storage"
EOT
