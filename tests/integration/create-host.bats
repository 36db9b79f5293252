#!/usr/bin/env bats
# create on a host without a KVM that boots guests: what create refuses
# before anything exists, and what its forked VMM holds before it gets to
# /dev/kvm. Nothing here boots a guest.

load helpers

# host_bundle DIR: a bundle from `husk spec` with an empty rootfs/, a
# process without a terminal and a cgroupsPath unique to the test.
host_bundle() {
	touch "$WORK/.containers"
	mkdir -p "$1/rootfs"
	husk spec --bundle "$1"
	bundle_edit "$1" '.process.terminal = false | .linux.cgroupsPath = $cg' \
		--arg cg "/$TEST_ID-$(basename "$1")"
}

@test "create refuses a rootfs that is the bundle or holds it, naming root.path, leaving nothing" {
	local b=$WORK/bundle
	host_bundle "$b"
	ln -s .. "$b/rootfs/up"
	for root in . .. / "$b" rootfs/up "$WORK"; do
		bundle_edit "$b" '.root.path = $r' --arg r "$root"
		run_rt create --bundle "$b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ $stderr == *"root.path"* ]]
		[[ $stderr == *"holds it"* ]]
		[ ! -e "$WORK/root/$CT" ]
	done
}
