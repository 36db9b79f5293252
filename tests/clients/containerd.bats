#!/usr/bin/env bats
# husk-test: needs-vm
# containerd 1.6 drives husk through its runc shim (io.containerd.runc.v2
# with BinaryName = husk): `ctr run --runc-binary`, and the CRI plugin with a
# runtime handler whose BinaryName is husk. Every test checks what the
# client prints, its exit status, and that removing the container leaves no
# husk state, cgroup or process behind.

load helpers

NS=husk-test
# The shim runs the runtime with --root /run/containerd/runc/NAMESPACE.
RUNC_ROOT=/run/containerd/runc/$NS

setup_file() {
	require_clients containerd ctr script
	CTD_DIR=$BATS_FILE_TMPDIR/containerd
	# Sockets stay off the 9p share (and under the 108-byte path limit).
	CTD_RUN=$(mktemp -d /run/husk-ctd.XXXXXX)
	CTD_SOCK=$CTD_RUN/containerd.sock
	export CTD_DIR CTD_RUN CTD_SOCK
	mkdir -p "$CTD_DIR"
	"$REPO_ROOT/tests/clients/containerd-config.sh" "$CTD_DIR/root" \
		"$CTD_RUN/state" "$CTD_SOCK" "$HUSK" >"$CTD_DIR/config.toml"
	containerd --config "$CTD_DIR/config.toml" </dev/null \
		>"$CTD_DIR/containerd.log" 2>&1 3>&- &
	echo $! >"$CTD_DIR/pid"
	wait_until 30 ctr -a "$CTD_SOCK" version >/dev/null 2>&1 || {
		cat "$CTD_DIR/containerd.log" >&2
		return 1
	}
	ctr -a "$CTD_SOCK" -n "$NS" image import "$(client_images)/busybox.oci" >/dev/null
	# CRI sees the images of containerd's k8s.io namespace.
	ctr -a "$CTD_SOCK" -n k8s.io image import "$(client_images)/busybox.oci" >/dev/null
}

teardown_file() {
	[ -n "${CTD_DIR:-}" ] && [ -e "$CTD_DIR/pid" ] || return 0
	local pid
	pid=$(cat "$CTD_DIR/pid")
	kill -TERM "$pid" 2>/dev/null || true
	wait_until 10 _pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	# containerd leaves its snapshot mounts; they must go before the tmpdir.
	grep -F " $CTD_DIR/" /proc/self/mountinfo | awk '{print $5}' | sort -r |
		xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$CTD_RUN"
}

setup() {
	require_clients containerd ctr script
	setup_work
}

teardown() {
	local rc=0 id
	retry_note
	[ -n "${WORK:-}" ] || return 0
	[ -e "$WORK/pod" ] && {
		cri stopp "$(cat "$WORK/pod")" || true
		cri rmp "$(cat "$WORK/pod")" || true
	} >/dev/null 2>&1
	for id in $(ctr_ -n "$NS" container ls -q 2>/dev/null | grep -F "$TEST_ID"); do
		ctr_ task kill -s KILL "$id" >/dev/null 2>&1 || true
		wait_until 30 _task_gone "$id" || true
		ctr_ task rm -f "$id" >/dev/null 2>&1 || true
		ctr_ container rm "$id" >/dev/null 2>&1 || true
	done
	stop_pids "$WORK/.bg"
	assert_no_leaks "$RUNC_ROOT" || rc=1
	rm -rf "$WORK"
	return $rc
}

# ctr_ ARGS...: ctr against this file's containerd and namespace.
ctr_() {
	timeout -k 5 "$RT_TIMEOUT" ctr -a "$CTD_SOCK" -n "$NS" "$@"
}

# run_ctr ARGS...: `run_split ctr_ ARGS...` through files (see run_rt).
run_ctr() {
	local out=$WORK/.ctr.out err=$WORK/.ctr.err
	status=0
	ctr_ "$@" >"$out" 2>"$err" </dev/null 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$err")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	printf '# ctr %s -> %s\n# stdout: %s\n# stderr: %s\n' "$*" "$status" "$output" "$stderr"
}

# task_status ID: RUNNING, PAUSED, STOPPED (ctr task ls), or nothing.
task_status() {
	ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'
}
_task_is() {
	[ "$(task_status "$1")" = "$2" ]
}
_task_gone() {
	[ "$(task_status "$1")" != RUNNING ] && [ "$(task_status "$1")" != PAUSED ]
}
wait_task() {
	wait_until "$WAIT_TIMEOUT" _task_is "$1" "$2" || {
		echo "task $1 is '$(task_status "$1")', not '$2'" >&2
		return 1
	}
}

# rm_task ID: what a client does at the end: task rm, container rm; then
# nothing of ID may be left.
rm_task() {
	run_ctr task rm "$1"
	[ "$status" -eq 0 ]
	run_ctr container rm "$1"
	[ "$status" -eq 0 ]
	run_ctr container ls -q
	[[ "$output" != *"$1"* ]]
	assert_no_leaks "$RUNC_ROOT"
}

IMAGE=husk.test/busybox:latest

# ---------------------------------------------------------------------------
# ctr run --runc-binary

@test "ctr run: output and exit code come back; --rm leaves nothing" {
	run_ctr run --rm --runc-binary "$HUSK" "$IMAGE" "$CT" \
		sh -c 'echo hello-from-guest; echo to-stderr >&2; uname -r; exit 3'
	[ "$status" -eq 3 ]
	[ "${lines[0]}" = hello-from-guest ]
	# The guest kernel is husk's, not the box's.
	[ "${lines[1]}" != "$(uname -r)" ]
	[[ "$stderr" == *to-stderr* ]]
	run_ctr container ls -q
	[[ "$output" != *"$CT"* ]]
	assert_no_leaks "$RUNC_ROOT"
}

@test "ctr run -d, task exec with and without a tty, task ps" {
	run_ctr run -d --runc-binary "$HUSK" "$IMAGE" "$CT" sleep 1000
	[ "$status" -eq 0 ]
	wait_task "$CT" RUNNING
	pid=$(ctr_ task ls | awk -v id="$CT" '$1 == id { print $2 }')
	[ "$pid" -gt 0 ]
	# The task's pid is the VMM, husk itself.
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$HUSK")" ]

	run_ctr task exec --exec-id e1 "$CT" sh -c 'echo in-exec; echo err-exec >&2; exit 5'
	[ "$status" -eq 5 ]
	[ "$output" = in-exec ]
	[[ "$stderr" == *err-exec* ]]

	# ctr wants a terminal of its own for -t.
	run with_tty ctr -a "$CTD_SOCK" -n "$NS" task exec -t --exec-id e2 "$CT" \
		sh -c 'tty; stty size; exit 6'
	[ "$status" -eq 6 ]
	[[ "${lines[0]}" == /dev/pts/* ]]

	# A detached exec shows up in task ps as a second pid until it ends.
	bg "$WORK/e3.out" ctr_ task exec --exec-id e3 "$CT" sleep 1000
	wait_until "$WAIT_TIMEOUT" _ps_count "$CT" 2
	run_ctr task ps "$CT"
	[ "$status" -eq 0 ]
	[ "${lines[0]%% *}" = PID ]
	[[ "$output" == *"$pid"* ]]
	run_ctr task kill -s KILL --exec-id e3 "$CT"
	[ "$status" -eq 0 ]
	rc=0
	wait "$BG_PID" || rc=$?
	[ "$rc" -eq 137 ]
	wait_until "$WAIT_TIMEOUT" _ps_count "$CT" 1

	run_ctr task kill -s KILL "$CT"
	[ "$status" -eq 0 ]
	wait_task "$CT" STOPPED
	rm_task "$CT"
}
_ps_count() {
	[ "$(ctr_ task ps "$1" | tail -n +2 | grep -c .)" -eq "$2" ]
}

@test "ctr task kill: SIGTERM reaches the process, its exit code is the task's" {
	run_ctr run -d --runc-binary "$HUSK" "$IMAGE" "$CT" \
		sh -c 'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 1; done'
	[ "$status" -eq 0 ]
	wait_task "$CT" RUNNING
	# The trap is set once "up" is printed; ctr logs to no file in -d, so
	# wait on exec instead: the shell is there when exec sees its pid 1.
	wait_until "$WAIT_TIMEOUT" ctr_ task exec --exec-id probe "$CT" \
		sh -c 'grep -q trap /proc/1/cmdline'
	run_ctr task kill -s TERM "$CT"
	[ "$status" -eq 0 ]
	wait_task "$CT" STOPPED
	# ctr's task rm reports the exit status (warning on a non-zero one).
	run_ctr task rm "$CT"
	[ "$status" -eq 0 ]
	[[ "$stderr$output" == *"exit code 7"* ]]
	run_ctr container rm "$CT"
	[ "$status" -eq 0 ]
	assert_no_leaks "$RUNC_ROOT"
}

@test "ctr task pause/resume freeze and thaw the container" {
	run_ctr run -d --runc-binary "$HUSK" "$IMAGE" "$CT" sleep 1000
	[ "$status" -eq 0 ]
	wait_task "$CT" RUNNING
	run_ctr task pause "$CT"
	[ "$status" -eq 0 ]
	[ "$(task_status "$CT")" = PAUSED ]
	[ "$("$HUSK" --root "$RUNC_ROOT" state "$CT" | jq -r .status)" = paused ]
	run_ctr task resume "$CT"
	[ "$status" -eq 0 ]
	[ "$(task_status "$CT")" = RUNNING ]
	run_ctr task exec --exec-id e1 "$CT" echo thawed
	[ "$status" -eq 0 ]
	[ "$output" = thawed ]
	# rm -f of a running task: kill, delete --force.
	run_ctr task rm -f "$CT"
	[ "$status" -eq 0 ]
	run_ctr container rm "$CT"
	[ "$status" -eq 0 ]
	assert_no_leaks "$RUNC_ROOT"
}

# ---------------------------------------------------------------------------
# CRI: runtime handler husk (io.containerd.runc.v2, BinaryName = husk)

# CRI's containers live in containerd's k8s.io namespace.
CRI_ROOT=/run/containerd/runc/k8s.io

# cri ARGS...: our CRI client (tests/clients/cri-client.py; Debian has no
# crictl).
cri() {
	timeout -k 5 "$RT_TIMEOUT" /usr/bin/python3 "$REPO_ROOT/tests/clients/cri-client.py" "$CTD_SOCK" "$@"
}

# run_cri ARGS...: `run_split cri ARGS...`.
run_cri() {
	run_split cri "$@"
	printf '# cri %s -> %s\n# stdout: %s\n# stderr: %s\n' "$*" "$status" "$output" "$stderr"
}

@test "CRI: a pod sandbox and a container run as husk VMs; exec, stop, remove" {
	/usr/bin/python3 -c 'import grpc' 2>/dev/null || skip "python3-grpcio is not installed (hack/install-deps.sh)"
	run_cri version
	[ "$status" -eq 0 ]
	[[ "$output" == containerd* ]]

	run_cri runp "$CT"
	[ "$status" -eq 0 ]
	pod=$output
	echo "$pod" >"$WORK/pod"
	[[ "$pod" =~ ^[0-9a-f]{64}$ ]]
	run_cri podstate "$pod"
	[ "$output" = READY ]
	# The sandbox (the pause image) is a husk container of its own.
	"$HUSK" --root "$CRI_ROOT" state "$pod" | jq -e '.status == "running"'

	run_cri create "$pod" "$CT-c" husk.test/busybox:latest \
		sh -c 'trap "exit 3" TERM; while :; do sleep 1; done'
	[ "$status" -eq 0 ]
	ctr=$output
	[[ "$ctr" =~ ^[0-9a-f]{64}$ ]]
	run_cri state "$ctr"
	[ "$output" = "CREATED 0" ]
	run_cri start "$ctr"
	[ "$status" -eq 0 ]
	run_cri state "$ctr"
	[ "$output" = "RUNNING 0" ]
	pid=$("$HUSK" --root "$CRI_ROOT" state "$ctr" | jq -r 'select(.status == "running") | .pid')
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$HUSK")" ]

	run_cri exec "$ctr" sh -c 'echo cri-exec; echo cri-err >&2; exit 4'
	[ "$status" -eq 4 ]
	[ "$output" = cri-exec ]
	[ "$stderr" = cri-err ]

	# StopContainer sends SIGTERM, which the trap turns into exit 3.
	run_cri stop "$ctr" 60
	[ "$status" -eq 0 ]
	run_cri state "$ctr"
	[ "$output" = "EXITED 3" ]
	run_cri rm "$ctr"
	[ "$status" -eq 0 ]
	run_cri stopp "$pod"
	[ "$status" -eq 0 ]
	run_cri podstate "$pod"
	[ "$output" = NOTREADY ]
	run_cri rmp "$pod"
	[ "$status" -eq 0 ]
	rm "$WORK/pod"
	run_cri podstate "$pod"
	[ "$status" -eq 1 ]
	assert_no_leaks "$CRI_ROOT" "$pod" "$ctr"
}
