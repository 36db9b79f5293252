#!/usr/bin/env bash
# Installs every package husk needs to build, test and benchmark on Debian 12.
# Idempotent: apt-get skips what is already there, and the package list is
# only refreshed when it is older than a day (or missing), so a second run is
# fast. Must run as root on a fresh machine; it touches nothing outside apt.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root (apt-get install)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

build=(build-essential pkg-config clang clang-format libclang-rt-14-dev
	libseccomp-dev libcap-dev libcgroup-dev libjson-c-dev libmnl-dev)
test=(bats jq valgrind busybox-static cpio kmod strace socat e2fsprogs)
# The client suites (tests/clients): script(1) gives clients a terminal,
# python3-grpcio carries the CRI test client (Debian has no crictl).
clients=(containerd podman conmon containernetworking-plugins bsdutils
	python3-grpcio)
kernel=(linux-source-6.1 bc bison flex libelf-dev libssl-dev xz-utils
	dwarves rsync)
box=(qemu-system-x86 qemu-utils)
oracles=(podman conmon containerd runc crun uidmap iproute2 iptables
	hyperfine iperf3)

want=("${build[@]}" "${test[@]}" "${clients[@]}" "${kernel[@]}" "${box[@]}" "${oracles[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#want[@]} packages present"
	exit 0
fi

stamp=/var/lib/apt/periodic/husk-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
echo "install-deps: installing ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
