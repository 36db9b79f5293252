#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# Faults (issue 15): the VMM, exec or the guest's output failing in the
# middle of a container's life, and guests whose kernel or agent fails
# (tests/guest/fault-init.c stands in for a broken husk-init). Each test
# ends, as every test of these suites, with teardown's leak check: no
# state directory, cgroup, process or mount of the test's containers left
# on the host. `make test-faults` runs this file with create-host.bats
# (create killed mid-way, a full state directory), which needs no guest.

load helpers

# The container pid is the VMM's: SIGKILL of it is the VMM dying of any
# fault. A v1 freezer holds even SIGKILL until thawed, so the paused case
# is a v2 host's (runc's too).
@test "the VMM SIGKILLed while created, running and paused: each container is stopped, delete leaves nothing" {
	require_containers
	local ids=("$CT-created" "$CT-running") id pid
	make_bundle "$WORK/b1" sleep 1000
	make_bundle "$WORK/b2" sleep 1000
	create_ct "$CT-created" "$WORK/b1"
	run_ct "$CT-running" "$WORK/b2"
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		make_bundle "$WORK/b3" sleep 1000
		run_ct "$CT-paused" "$WORK/b3"
		rt pause "$CT-paused"
		[ "$(ct_status "$CT-paused")" = paused ]
		ids+=("$CT-paused")
	fi
	for id in "${ids[@]}"; do
		pid=$(ct_state "$id" pid)
		kill -KILL "$pid"
		wait_status "$id" stopped
		run_rt state "$id"
		[ "$status" -eq 0 ]
		# Stopped, not merely unreachable: delete needs no --force.
		delete_ct "$id"
		run_rt state "$id"
		[ "$status" -eq 1 ]
		[[ $stderr == *"container does not exist"* ]]
	done
}

# The killed exec's process writes into a stream nobody reads any more: it
# must end (SIGPIPE, as on a host), not block the guest's relay, and the
# container must go on answering.
@test "husk exec SIGKILLed mid-stream: the container runs on, its process ends, exec works again" {
	require_containers
	make_bundle "$WORK/b" sleep 1000
	run_ct "$CT" "$WORK/b"
	bg "$WORK/flood.out" "$HUSK" --root "$WORK/root" exec "$CT" \
		sh -c 'while :; do echo flood; done' floodmark
	local exec_pid=$BG_PID
	wait_output "$WORK/flood.out" flood
	kill -KILL "$exec_pid"
	wait "$exec_pid" || true
	[ "$(ct_status "$CT")" = running ]
	_flood_gone() {
		! rt exec "$CT" ps </dev/null 2>/dev/null | grep -q floodmark
	}
	wait_until "$WAIT_TIMEOUT" _flood_gone
	run_rt exec "$CT" echo again </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = again ]
	run_rt events --stats "$CT"
	[ "$status" -eq 0 ]
	rt kill "$CT" KILL
	wait_status "$CT" stopped
	delete_ct "$CT"
}

# stdout is a pipe whose reader never reads: the VMM must hold the guest
# back, not stall on the write, so everything that asks the VMM still gets
# an answer, and the container can be killed and deleted. What needs the
# guest's agent (stats, exec) queues behind the stream on the one agent
# connection (no per-stream credit yet): it may fail, but within its
# bound and saying so, never hang.
@test "a container flooding a stdout nobody reads: state, ps, events, kill and delete answer" {
	require_containers
	make_bundle "$WORK/b" sh -c 'while :; do echo flood-flood-flood-flood; done'
	mkfifo "$WORK/stdout"
	# Holds the pipe's read end open without reading from it.
	bg "$WORK/holder.out" sh -c 'exec sleep 1000 <"$1"' _ "$WORK/stdout"
	rt run --detach --bundle "$WORK/b" "$CT" </dev/null >"$WORK/stdout" 2>"$WORK/run.err" 3>&-
	# Long enough for the pipe and the VMM's queue to fill.
	sleep 5
	run_rt state "$CT"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .status)" = running ]
	run_rt ps --format json "$CT"
	[ "$status" -eq 0 ]
	run_rt events --stats "$CT"
	[ "$status" -eq 0 ] || [[ $stderr == *"did not answer STATS"* ]]
	run_rt exec "$CT" echo answered </dev/null
	[ "$status" -ne 124 ]
	[ "$status" -eq 0 ] || [ -n "$stderr" ]
	run_rt kill "$CT" KILL
	[ "$status" -eq 0 ]
	wait_status "$CT" stopped
	delete_ct "$CT"
}

# fault_initrd MODE: an initramfs whose /init is tests/guest/fault-init in
# MODE (its header lists them), or, for "none", one with no /init at all
# (the guest kernel finds nothing to run and panics). Prints its path.
fault_initrd() {
	local mode=$1 stage=$WORK/initrd-$1
	mkdir -p "$stage"
	if [ "$mode" != none ]; then
		install -m 0755 "$REPO_ROOT/build/guest-test/fault-init" "$stage/init"
		echo "$mode" >"$stage/fault-mode"
	fi
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$stage.cpio"
	echo "$stage.cpio"
}

# guest_fault MODE MESSAGE [ENV...]: create with MODE's initramfs (and ENV
# in create's environment) succeeds, as it returns before the guest boots;
# start then fails, the VMM's log (its stderr, create's) says MESSAGE, the
# container is stopped, and a plain delete removes it (teardown checks
# that nothing is left).
guest_fault() {
	local mode=$1 message=$2 initrd
	shift 2
	initrd=$(fault_initrd "$mode")
	make_bundle "$WORK/b-$mode" true
	env HUSK_INITRD="$initrd" "$@" timeout -k 5 "$RT_TIMEOUT" "$RUNTIME_BIN" --root "$WORK/root" \
		create --bundle "$WORK/b-$mode" "$CT-$mode" </dev/null >"$WORK/$mode.out" 2>&1 3>&-
	run_rt start "$CT-$mode" </dev/null
	[ "$status" -eq 1 ]
	wait_status "$CT-$mode" stopped
	echo "# the VMM's log: $(cat "$WORK/$mode.out")" >&3
	grep -q -- "$message" "$WORK/$mode.out"
	delete_ct "$CT-$mode"
}

@test "a guest kernel that panics: start says so, the container is stopped, delete leaves nothing" {
	require_containers
	guest_fault none "guest kernel panic: Kernel panic - not syncing"
}

@test "the guest agent crashing (SIGSEGV of the guest's init): start says so, delete leaves nothing" {
	require_containers
	# The guest kernel's word for its init dying of signal 11.
	guest_fault segv "guest kernel panic: .*Attempted to kill init! exitcode=0x0000000b"
}

@test "a guest agent that never connects: the VMM's boot bound ends it, start says so" {
	require_containers
	guest_fault silent "the guest did not boot within 10 s" HUSK_BOOT_TIMEOUT=10
}

@test "a guest agent sending malformed frames: start fails naming the agent, delete leaves nothing" {
	require_containers
	guest_fault garbage "waiting for HELLO: guest agent: bad frame magic 0xa5a5a5a5"
}
