#!/usr/bin/env bats
# A cgroupsPath that names a cgroup husk did not make: husk shares it as
# runc 1.1 does (with its warning), refuses a frozen one, and a failed create
# leaves it and what runs in it alone. No guest boots: the kernel is a dummy
# file, so every create here fails after the cgroup was set up and the VMM
# forked (a KVM that cannot boot it, or no kernel in the dummy); without
# /dev/kvm create gets to neither, and those tests skip.

load helpers

# The helpers' teardown, kept under another name: ours first removes the
# cgroup the test made, which the leak check would otherwise report.
eval "$(declare -f teardown | sed '1s/^teardown/helpers_teardown/')"

setup() {
	setup_work
	[ "$(id -u)" = 0 ] || skip "cgroups need root"
	OTHER=$TEST_ID-other
	: >"$WORK/kernel" >"$WORK/initrd"
	export HUSK_KERNEL=$WORK/kernel HUSK_INITRD=$WORK/initrd
}

teardown() {
	other_remove
	helpers_teardown
}

# The mount point of every cgroup hierarchy on this host.
cgroup_mounts() {
	awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts
}

# other_make: /$OTHER in every hierarchy, holding a sleeper ($SLEEPER), as
# another manager would have made it.
other_make() {
	local m
	sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
	SLEEPER=$!
	echo "$SLEEPER" >"$WORK/sleeper"
	for m in $(cgroup_mounts); do
		mkdir "$m/$OTHER" || skip "cannot make a cgroup under $m"
		# v1 cpuset starts a cgroup with no CPUs: no process may join.
		if [ -e "$m/$OTHER/cpuset.cpus" ] && [ -z "$(cat "$m/$OTHER/cpuset.cpus")" ]; then
			cat "$m/cpuset.cpus" >"$m/$OTHER/cpuset.cpus"
			cat "$m/cpuset.mems" >"$m/$OTHER/cpuset.mems"
		fi
		echo "$SLEEPER" >"$m/$OTHER/cgroup.procs" || skip "cannot move a process into $m/$OTHER"
	done
}

# other_freeze: freezes /$OTHER as its freezer does (v1's, else cgroup2's).
other_freeze() {
	local m
	for m in $(cgroup_mounts); do
		if [ -e "$m/$OTHER/freezer.state" ]; then
			echo FROZEN >"$m/$OTHER/freezer.state"
			return 0
		fi
	done
	for m in $(cgroup_mounts); do
		if [ -e "$m/$OTHER/cgroup.freeze" ]; then
			echo 1 >"$m/$OTHER/cgroup.freeze"
			return 0
		fi
	done
	skip "no freezer on this host"
}

other_is_frozen() {
	local m
	for m in $(cgroup_mounts); do
		if [ -e "$m/$OTHER/freezer.state" ]; then
			[ "$(cat "$m/$OTHER/freezer.state")" = FROZEN ]
			return
		fi
		if [ -e "$m/$OTHER/cgroup.freeze" ]; then
			[ "$(cat "$m/$OTHER/cgroup.freeze")" = 1 ]
			return
		fi
	done
	return 1
}

# other_intact: /$OTHER is still in every hierarchy, the sleeper alive in it.
other_intact() {
	local m
	kill -0 "$SLEEPER"
	for m in $(cgroup_mounts); do
		[ -d "$m/$OTHER" ] || { echo "$m/$OTHER is gone"; return 1; }
		grep -qx "$SLEEPER" "$m/$OTHER/cgroup.procs" || { echo "sleeper not in $m/$OTHER"; return 1; }
	done
}

other_remove() {
	local m pid
	for m in $(cgroup_mounts); do
		[ -e "$m/$OTHER/freezer.state" ] && echo THAWED >"$m/$OTHER/freezer.state"
		[ -e "$m/$OTHER/cgroup.freeze" ] && echo 0 >"$m/$OTHER/cgroup.freeze"
	done 2>/dev/null
	if [ -s "$WORK/sleeper" ]; then
		pid=$(cat "$WORK/sleeper")
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for m in $(cgroup_mounts); do
		[ ! -d "$m/$OTHER" ] || rmdir "$m/$OTHER" 2>/dev/null ||
			{ sleep 0.2; rmdir "$m/$OTHER"; } || true
	done
	return 0
}

@test "a failed create in an existing cgroup with other processes leaves both alone, with runc's warning" {
	require_kvm_device
	other_make
	make_bundle "$WORK/b"
	bundle_edit "$WORK/b" '.linux.cgroupsPath = $cg' --arg cg "/$OTHER"

	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -ne 0 ]
	other_intact
	[[ "$stderr" == *"container's cgroup is not empty: 1 process(es) found"* ]]
	[ ! -e "$WORK/root/$CT" ]
}

@test "create refuses a frozen cgroup at once, naming linux.cgroupsPath, and leaves nothing" {
	require_kvm_device
	other_make
	other_freeze
	make_bundle "$WORK/b"
	bundle_edit "$WORK/b" '.linux.cgroupsPath = $cg' --arg cg "/$OTHER"

	start=$SECONDS
	RT_TIMEOUT=20 run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 10 ]
	[[ "$stderr" == *"linux.cgroupsPath"*"frozen"* ]]
	other_intact
	other_is_frozen
	[ ! -e "$WORK/root/$CT" ]
}

@test "a failed create removes the cgroup it made itself" {
	require_kvm_device
	make_bundle "$WORK/b"

	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -ne 0 ]
	[[ "$stderr" != *"not empty"* ]]
	[ -z "$(find /sys/fs/cgroup -maxdepth 2 -type d -name "$TEST_ID-b")" ]
}

# A paused container made by hand, no guest: the sleeper stands in for the
# VMM, in /$OTHER, frozen; the state record is husk's own format.
fake_paused_container() {
	other_make
	other_freeze
	mkdir -p "$WORK/b/rootfs" "$WORK/root/$CT"
	husk spec --bundle "$WORK/b"
	# create's saved copy of the config, which exec reads (never the bundle)
	install -m 0600 "$WORK/b/config.json" "$WORK/root/$CT/config.json"
	touch "$WORK/.containers"
	jq -n --arg id "$CT" --argjson pid "$SLEEPER" \
		--argjson start "$(awk '{ print $22 }' "/proc/$SLEEPER/stat")" \
		--arg b "$WORK/b" --arg cg "/$OTHER" \
		'{id: $id, pid: $pid, pid_start: $start, bundle: $b, rootfs: ($b + "/rootfs"),
		  created: "2026-01-01T00:00:00.000000000Z", owner: 0, started: true,
		  cgroup_path: $cg, cgroup_created: false, annotations: {}}' \
		>"$WORK/root/$CT/state.json"
	[ "$(rt state "$CT" | jq -r .status)" = paused ]
}

@test "exec --ignore-paused waits for resume and does not block it; plain exec is refused" {
	fake_paused_container

	run_rt exec "$CT" true </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"cannot exec in a paused container (use --ignore-paused to override)"* ]]

	"$HUSK" --root "$WORK/root" exec --ignore-paused "$CT" true </dev/null \
		>"$WORK/exec.out" 2>"$WORK/exec.err" 3>&- &
	epid=$!
	echo "$epid" >>"$WORK/.bg"
	sleep 1
	# Waiting, frozen with the container, not failed.
	kill -0 "$epid"
	RT_TIMEOUT=15 run_rt resume "$CT"
	[ "$status" -eq 0 ]
	[ "$(rt state "$CT" | jq -r .status)" = running ]
	# Thawed, it goes on; here there is no VMM to talk to, so it ends.
	wait_until 10 _pid_gone "$epid"
	cat "$WORK/exec.err"
	! grep -q paused "$WORK/exec.err"
}
