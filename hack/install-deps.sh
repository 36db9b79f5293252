#!/usr/bin/env bash
# Installs every package husk needs to build, test and benchmark on Debian 12.
# Idempotent: apt-get skips what is already there, and the package list is
# only refreshed when it is older than a day (or missing), so a second run is
# fast. Must run as root on a fresh machine; it touches nothing outside apt (on
# Debian 12 it adds bookworm-backports as a source, for QEMU).
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
# The emulated box (hack/kvmbox) wants QEMU 10, from bookworm-backports on
# Debian 12: under 7.2's TCG the box boots in 15 s rather than 4 and the vm
# suite took about 30 min rather than 20.5. Both have stalled the box now
# and then (kvmbox detects that).
box=(qemu-system-x86 qemu-utils)
box_min=1:10
oracles=(podman conmon containerd runc crun uidmap iproute2 iptables
	hyperfine iperf3)

want=("${build[@]}" "${test[@]}" "${clients[@]}" "${kernel[@]}" "${oracles[@]}")

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}

missing=()
for p in "${want[@]}"; do
	installed "$p" || missing+=("$p")
done
# Debian 12's own QEMU is 7.2; newer releases carry 10 or later already.
backports=
[ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" != bookworm ] || backports=bookworm-backports
box_missing=()
for p in "${box[@]}"; do
	if ! installed "$p" || ! dpkg --compare-versions \
		"$(dpkg-query -W -f='${Version}' "$p")" ge "$box_min"; then
		box_missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ] && [ ${#box_missing[@]} -eq 0 ]; then
	echo "install-deps: all $((${#want[@]} + ${#box[@]})) packages present"
	exit 0
fi

stamp=/var/lib/apt/periodic/husk-update-stamp
if [ ${#box_missing[@]} -gt 0 ] && [ -n "$backports" ] &&
	! grep -rqs "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
	# Only the box's packages are taken from it (apt-get -t below): the
	# archive's default priority keeps everything else on Debian 12.
	cat >/etc/apt/sources.list.d/husk-bookworm-backports.sources <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: $backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	rm -f "$stamp"
fi
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ${#box_missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${box_missing[*]}${backports:+ from $backports}"
	apt-get install -y -qq --no-install-recommends ${backports:+-t "$backports"} "${box_missing[@]}" >/dev/null
fi
echo "install-deps: done"
