#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# Bind mounts: host files (what podman and CRI give every container:
# /etc/resolv.conf, /etc/hosts, /etc/hostname, /dev/termination-log) and
# directories, live both ways; destinations resolved beneath the rootfs
# however its symlinks point; many volumes at once; nothing left after
# delete. runc's behaviour is the oracle (RUNTIME=runc bats ... passes);
# the tests that are husk's own say so and skip under another runtime.

load helpers

# host_files DIR: resolv.conf, hosts and hostname as a client writes them,
# and a sibling that must never reach the container.
host_files() {
	mkdir -p "$1"
	printf 'nameserver 192.0.2.53\nsearch example.test\n' >"$1/resolv.conf"
	printf '127.0.0.1 localhost\n192.0.2.10 ct\n' >"$1/hosts"
	echo ct-hostname >"$1/hostname"
	echo do-not-leak >"$1/sibling-secret"
}

@test "file binds: resolv.conf, hosts and hostname show the host's files, writes land in them, ro refuses" {
	require_containers
	host_files "$WORK/etc"
	make_bundle "$WORK/b" sh -c '
		cat /etc/resolv.conf /etc/hosts /etc/hostname
		echo "--"
		find / -path /proc -prune -o -path /sys -prune -o -name sibling-secret -print
		echo "192.0.2.11 added" >>/etc/hosts && echo appended
		echo new-name >/etc/hostname && echo rewritten
		echo "nameserver 6.6.6.6" >>/etc/resolv.conf || echo "ro refused"
		cat /etc/hostname'
	bundle_edit "$WORK/b" '.mounts += [
		{destination: "/etc/resolv.conf", type: "bind", source: ($d + "/resolv.conf"), options: ["rbind", "ro", "rprivate"]},
		{destination: "/etc/hosts", type: "bind", source: ($d + "/hosts"), options: ["rbind", "rw", "rprivate"]},
		{destination: "/etc/hostname", type: "bind", source: ($d + "/hostname"), options: ["bind", "rprivate"]}]' \
		--arg d "$WORK/etc"
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "nameserver 192.0.2.53" ]
	[ "${lines[1]}" = "search example.test" ]
	[ "${lines[2]}" = "127.0.0.1 localhost" ]
	[ "${lines[3]}" = "192.0.2.10 ct" ]
	[ "${lines[4]}" = ct-hostname ]
	# Nothing but the files: find printed nothing between the marker and
	# the writes.
	[ "${lines[5]}" = "--" ]
	[ "${lines[6]}" = appended ]
	[ "${lines[7]}" = rewritten ]
	[ "${lines[8]}" = "ro refused" ]
	[ "${lines[9]}" = new-name ]
	[[ "$stderr" == *"Read-only file system"* ]]
	# The writes are the host files', in place.
	[ "$(tail -n 1 "$WORK/etc/hosts")" = "192.0.2.11 added" ]
	[ "$(cat "$WORK/etc/hostname")" = new-name ]
	[ "$(cat "$WORK/etc/resolv.conf")" = $'nameserver 192.0.2.53\nsearch example.test' ]
	# Mount points for files are files, made in the rootfs as runc makes
	# them.
	[ -f "$WORK/b/rootfs/etc/resolv.conf" ]
	[ -f "$WORK/b/rootfs/etc/hostname" ]
}

@test "file binds: the host's later changes to the file are seen inside" {
	require_containers
	host_files "$WORK/etc"
	make_bundle "$WORK/b"
	bundle_edit "$WORK/b" '.mounts += [
		{destination: "/etc/hosts", type: "bind", source: ($d + "/hosts"), options: ["rbind", "rw"]}]' \
		--arg d "$WORK/etc"
	run_ct "$CT" "$WORK/b"
	run_rt exec "$CT" cat /etc/hosts </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = $'127.0.0.1 localhost\n192.0.2.10 ct' ]
	# As podman rewrites /etc/hosts on a network connect: in place.
	printf '127.0.0.1 localhost\n192.0.2.99 connected\n' >"$WORK/etc/hosts"
	wait_until "$WAIT_TIMEOUT" _exec_shows "$CT" /etc/hosts "192.0.2.99 connected"
	rt kill "$CT" KILL
	wait_status "$CT" stopped
	rt delete "$CT"
}
_exec_shows() {
	rt exec "$1" cat "$2" </dev/null 2>/dev/null | grep -qF -- "$3"
}

@test "mount destinations through symlinks in the rootfs stay inside it" {
	require_containers
	host_files "$WORK/etc"
	mkdir -p "$WORK/outside" "$WORK/vol"
	echo in-volume >"$WORK/vol/f"
	make_bundle "$WORK/b" sh -c 'cat /abs/hosts /rel/data/f /dotdot/deep/f'
	local r=$WORK/b/rootfs
	# An absolute link to a host path, a relative one climbing far above
	# the root, and one whose own target climbs and then descends.
	ln -s "$WORK/outside" "$r/abs"
	ln -s "../../../../../../../../../../..$WORK/outside" "$r/rel"
	mkdir -p "$r/sub"
	ln -s "../../../../../../../../.." "$r/sub/up"
	ln -s "sub/up$WORK/outside" "$r/dotdot"
	bundle_edit "$WORK/b" '.mounts += [
		{destination: "/abs/hosts", type: "bind", source: ($d + "/hosts"), options: ["bind", "ro"]},
		{destination: "/rel/data", type: "bind", source: $v, options: ["rbind", "ro"]},
		{destination: "/dotdot/deep", type: "bind", source: $v, options: ["rbind", "ro"]}]' \
		--arg d "$WORK/etc" --arg v "$WORK/vol"
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = $'127.0.0.1 localhost\n192.0.2.10 ct\nin-volume\nin-volume' ]
	# The mount points were made beneath the rootfs, where the links lead
	# when / is the rootfs, and nowhere else.
	[ -f "$r$WORK/outside/hosts" ]
	[ -d "$r$WORK/outside/data" ]
	[ -d "$r$WORK/outside/deep" ]
	[ -z "$(ls -A "$WORK/outside")" ]
}

@test "twelve bind mounts, six directories and six files, all arrive; delete leaves nothing" {
	require_containers
	local i args=()
	for i in 1 2 3 4 5 6; do
		mkdir -p "$WORK/vol$i"
		echo "dir$i" >"$WORK/vol$i/f"
		echo "file$i" >"$WORK/file$i"
	done
	make_bundle "$WORK/b" sh -c 'for i in 1 2 3 4 5 6; do cat /v$i/f /etc/f$i; done; echo w >/v6/out'
	bundle_edit "$WORK/b" '.mounts += [range(1; 7) as $i |
		{destination: "/v\($i)", type: "bind", source: ($w + "/vol\($i)"), options: ["rbind", (if $i < 6 then "ro" else "rw" end)]},
		{destination: "/etc/f\($i)", type: "bind", source: ($w + "/file\($i)"), options: ["bind", "ro"]}]' \
		--arg w "$WORK"
	create_ct "$CT" "$WORK/b"
	rt start "$CT"
	wait_status "$CT" stopped
	[ "$(cat "$WORK/$CT.out")" = "$(for i in 1 2 3 4 5 6; do printf 'dir%s\nfile%s\n' $i $i; done)" ]
	[ "$(cat "$WORK/vol6/out")" = w ]
	rt delete "$CT"
	# No state (the staging directory lived in it), and no mount of it
	# left in any mount namespace on the host.
	[ ! -e "$WORK/root/$CT" ]
	wait_until "$LEAK_WAIT" _no_mount_under "$WORK/root"
}
_no_mount_under() {
	! grep -qsF -- "$1" /proc/[0-9]*/mountinfo
}

@test "husk: a bind source that is neither file nor directory is refused naming the mount" {
	[ "$RUNTIME" = husk ] || skip "husk's own: runc binds sockets, a VM cannot"
	require_containers
	make_bundle "$WORK/b"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WORK/sock"
	bundle_edit "$WORK/b" '.mounts += [{destination: "/s", type: "bind", source: $s, options: ["bind"]}]' \
		--arg s "$WORK/sock"
	local n
	n=$(jq '.mounts | length - 1' "$WORK/b/config.json")
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"mounts[$n].source $WORK/sock: a socket cannot be bind-mounted"* ]]
	[ ! -e "$WORK/root/$CT" ]
}
