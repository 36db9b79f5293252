#!/usr/bin/env bats
# husk-test: needs-vm
# podman 4.3 with conmon and the cgroupfs manager drives husk as its default
# runtime (tests/clients/podman-config.sh). Every test checks podman's
# output and exit status, and that after `podman rm` nothing of the
# container is left: no husk state, no cgroup, no conmon or VMM process.

load helpers

# podman passes no --root, so husk keeps state in its default.
HUSK_ROOT=/run/husk
IMAGE=husk.test/busybox:latest

setup_file() {
	require_clients podman conmon script
	PM_RUN=$(mktemp -d /run/husk-podman.XXXXXX)
	"$REPO_ROOT/tests/clients/podman-config.sh" "$BATS_FILE_TMPDIR/conf" \
		"$BATS_FILE_TMPDIR/graph" "$PM_RUN" "$HUSK"
	export PM_RUN
	export CONTAINERS_CONF=$BATS_FILE_TMPDIR/conf/containers.conf
	export CONTAINERS_STORAGE_CONF=$BATS_FILE_TMPDIR/conf/storage.conf
	podman import --change 'CMD ["sh"]' "$(client_images)/rootfs.tar" "$IMAGE" >/dev/null
}

teardown_file() {
	[ -n "${PM_RUN:-}" ] || return 0
	podman rm -af -t 0 >/dev/null 2>&1 || true
	# Unmounts podman's overlay storage before the tmpdir goes.
	podman system reset -f >/dev/null 2>&1 || true
	rm -rf "$PM_RUN"
}

setup() {
	require_clients podman conmon script
	setup_work
}

teardown() {
	local rc=0 ids
	retry_note
	[ -n "${WORK:-}" ] || return 0
	ids=$(podman ps -aq --no-trunc --filter "name=$TEST_ID" 2>/dev/null)
	[ -z "$ids" ] || podman rm -f -t 0 $ids >/dev/null 2>&1 || true
	stop_pids "$WORK/.bg"
	assert_no_leaks "$HUSK_ROOT" $ids || rc=1
	rm -rf "$WORK"
	return $rc
}

# pm ARGS...: podman, bounded in time.
pm() {
	timeout -k 5 "$RT_TIMEOUT" podman "$@"
}

# run_pm ARGS...: `run_split pm ARGS...` through files (see run_rt).
run_pm() {
	local out=$WORK/.pm.out err=$WORK/.pm.err
	status=0
	pm "$@" >"$out" 2>"$err" </dev/null 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$err")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	printf '# podman %s -> %s\n# stdout: %s\n# stderr: %s\n' "$*" "$status" "$output" "$stderr"
}

# pm_tty ARGS...: podman with a terminal (with_tty); sets $status, $output
# and $lines.
pm_tty() {
	status=0
	output=$(with_tty timeout --foreground -k 5 "$RT_TIMEOUT" podman "$@") || status=$?
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	printf '# podman (tty) %s -> %s\n# output: %s\n' "$*" "$status" "$output"
}

# rm_ct NAME ID: podman rm, then nothing of the container is left.
rm_ct() {
	run_pm rm "$1"
	[ "$status" -eq 0 ]
	[ "$output" = "$1" ]
	run_pm ps -aq --filter "name=$1"
	[ -z "$output" ]
	[ ! -e "$HUSK_ROOT/$2" ]
	assert_no_leaks "$HUSK_ROOT" "$2"
}

# wait_logs NAME TEXT: waits until `podman logs NAME` has TEXT.
wait_logs() {
	wait_until "$WAIT_TIMEOUT" _logs_have "$1" "$2" || {
		echo "no '$2' in the logs of $1:" >&2
		pm logs "$1" >&2
		return 1
	}
}
_logs_have() {
	pm logs "$1" 2>&1 | grep -qF -- "$2"
}

# ---------------------------------------------------------------------------

@test "podman run --rm: output, stderr and exit code; /etc/hostname and /etc/hosts are there" {
	run_pm run --rm --name "$CT" --network none "$IMAGE" \
		sh -c 'echo out; echo err >&2; cat /etc/hostname; echo; grep -c . /etc/hosts; exit 3'
	[ "$status" -eq 3 ]
	[ "${lines[0]}" = out ]
	# podman names the host after the short container id.
	[[ "${lines[1]}" =~ ^[0-9a-f]{12}$ ]]
	[ "${lines[2]}" -gt 0 ]
	[[ "$stderr" == *err* ]]
	run_pm ps -aq --filter "name=$CT"
	[ -z "$output" ]
	assert_no_leaks "$HUSK_ROOT" "${lines[1]}"
}

@test "podman run -d, logs, ps, inspect, pause/unpause, stop (SIGTERM reaches the process), rm" {
	run_pm run -d --name "$CT" --network none "$IMAGE" \
		sh -c 'trap "echo got-term; exit 0" TERM; echo started; while :; do sleep 1; done'
	[ "$status" -eq 0 ]
	id=$output
	[[ "$id" =~ ^[0-9a-f]{64}$ ]]
	wait_logs "$CT" started

	# podman's view matches husk's: the same pid, running.
	run_pm inspect --format '{{.State.Status}} {{.State.Pid}} {{.OCIRuntime}}' "$CT"
	[ "$status" -eq 0 ]
	read -r st pid rt <<<"$output"
	[ "$st" = running ]
	[ "$rt" = husk ]
	husk_state=$("$HUSK" --root "$HUSK_ROOT" state "$id")
	echo "$husk_state" | jq -e --argjson pid "$pid" '.status == "running" and .pid == $pid'
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$HUSK")" ]
	run_pm ps --filter "name=$CT" --format '{{.ID}} {{.Status}} {{.Names}}'
	[ "$status" -eq 0 ]
	[[ "$output" == "${id:0:12} Up "*" $CT" ]]

	run_pm pause "$CT"
	[ "$status" -eq 0 ]
	[ "$(pm inspect --format '{{.State.Status}}' "$CT")" = paused ]
	[ "$("$HUSK" --root "$HUSK_ROOT" state "$id" | jq -r .status)" = paused ]
	run_pm unpause "$CT"
	[ "$status" -eq 0 ]
	[ "$(pm inspect --format '{{.State.Status}}' "$CT")" = running ]

	run_pm stop -t 60 "$CT"
	[ "$status" -eq 0 ]
	[ "$output" = "$CT" ]
	# No "resorting to SIGKILL": the trap ran and the shell exited 0.
	[[ "$stderr" != *SIGKILL* ]]
	run_pm logs "$CT"
	[ "${lines[0]}" = started ]
	[ "${lines[1]}" = got-term ]
	run_pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$CT"
	[ "$output" = "exited 0" ]
	rm_ct "$CT" "$id"
}

@test "podman run -it: the process has a terminal; its exit code is run's" {
	pm_tty run -it --rm --name "$CT" --network none "$IMAGE" \
		sh -c 'tty; [ -t 0 ] && echo stdin-tty; exit 5'
	[ "$status" -eq 5 ]
	[[ "${lines[0]}" == /dev/pts/* ]]
	[ "${lines[1]}" = stdin-tty ]
	run_pm ps -aq --filter "name=$CT"
	[ -z "$output" ]
}

@test "podman exec with and without -t, -e, -u, -w; exec -d" {
	run_pm run -d --name "$CT" --network none "$IMAGE" sleep 1000
	[ "$status" -eq 0 ]
	id=$output
	wait_until "$WAIT_TIMEOUT" _running "$CT"

	run_pm exec "$CT" sh -c 'echo exec-out; echo exec-err >&2; exit 9'
	[ "$status" -eq 9 ]
	[ "$output" = exec-out ]
	[[ "$stderr" == *exec-err* ]]

	run_pm exec -e FOO=bar -u 1000 -w /tmp "$CT" sh -c 'echo "$FOO $(id -u) $(pwd)"'
	[ "$status" -eq 0 ]
	[ "$output" = "bar 1000 /tmp" ]

	pm_tty exec -it "$CT" sh -c 'tty; exit 8'
	[ "$status" -eq 8 ]
	[[ "${lines[0]}" == /dev/pts/* ]]

	# A detached exec runs on after podman returns.
	run_pm exec -d "$CT" sh -c 'echo detached >/tmp/marker; sleep 1000'
	[ "$status" -eq 0 ]
	wait_until "$WAIT_TIMEOUT" _exec_has "$CT" 'cat /tmp/marker' detached

	# podman's program-not-found status, as with runc.
	run_pm exec "$CT" /no/such/program
	[ "$status" -eq 127 ]

	run_pm rm -f -t 0 "$CT"
	[ "$status" -eq 0 ]
	assert_no_leaks "$HUSK_ROOT" "$id"
}
_running() {
	[ "$(pm inspect --format '{{.State.Status}}' "$1" 2>/dev/null)" = running ]
}
_exec_has() {
	[ "$(pm exec "$1" sh -c "$2" 2>/dev/null)" = "$3" ]
}

@test "podman kill -s: the signal reaches the process; kill gives 137" {
	run_pm run -d --name "$CT" --network none "$IMAGE" \
		sh -c 'trap "echo got-usr1" USR1; echo started; while :; do sleep 1; done'
	[ "$status" -eq 0 ]
	id=$output
	wait_logs "$CT" started
	run_pm kill -s USR1 "$CT"
	[ "$status" -eq 0 ]
	[ "$output" = "$CT" ]
	wait_logs "$CT" got-usr1
	[ "$(pm inspect --format '{{.State.Status}}' "$CT")" = running ]

	run_pm kill "$CT"
	[ "$status" -eq 0 ]
	run_pm wait "$CT"
	[ "$status" -eq 0 ]
	[ "$output" = 137 ]
	rm_ct "$CT" "$id"
}

@test "podman run -e -u -w -v hostdir:/data: the environment, user, cwd and the host's view of writes" {
	mkdir "$WORK/host"
	chmod 777 "$WORK/host"
	echo from-host >"$WORK/host/in"
	run_pm run --rm --name "$CT" --network none -e FOO=bar -u 1000 -w /tmp \
		-v "$WORK/host:/data" "$IMAGE" \
		sh -c 'echo "$FOO $(id -u):$(id -g) $(pwd)"; cat /data/in; echo from-guest >/data/out'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "bar 1000:1000 /tmp" ]
	[ "${lines[1]}" = from-host ]
	[ "$(cat "$WORK/host/out")" = from-guest ]
	[ "$(stat -c %u "$WORK/host/out")" = 1000 ]
}

@test "podman run --memory/--cpus: the limits are visible in the guest" {
	run_pm run --rm --name "$CT" --network none --memory 512m --cpus 2 "$IMAGE" \
		sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max; nproc;
			sed -n "s/^MemTotal: *\([0-9]*\) kB/\1/p" /proc/meminfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 536870912 ]
	[ "${lines[1]}" = "200000 100000" ]
	# The VM is sized from the limits: two vCPUs, less than 512 MiB of RAM
	# (the VMM's share is taken off) but more than the 256 MiB default.
	[ "${lines[2]}" = 2 ]
	[ "${lines[3]}" -lt $((512 * 1024)) ]
	[ "${lines[3]}" -gt $((256 * 1024)) ]
}

@test "podman run --network none: the guest has loopback alone" {
	run_pm run --rm --name "$CT" --network none "$IMAGE" ls /sys/class/net
	[ "$status" -eq 0 ]
	[ "$output" = lo ]
}

@test "podman run on the default bridge: the guest reaches a server on the host side" {
	# The VMM opens /dev/net/tun in the container's netns; the box's
	# kernel has tun as a module.
	[ -e /dev/net/tun ] || modprobe tun
	# The bridge exists once podman has set up one container on it.
	run_pm run --rm --name "$CT-probe" "$IMAGE" true
	[ "$status" -eq 0 ]
	bridge_ip=$(ip -4 -o addr show | awk '$2 ~ /podman/ { sub(/\/.*/, "", $4); print $4; exit }')
	[ -n "$bridge_ip" ]
	mkdir -p "$WORK/www"
	echo hello-from-host >"$WORK/www/index.html"
	busybox httpd -f -p "$bridge_ip:8081" -h "$WORK/www" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >>"$WORK/.bg"
	run_pm run --rm --name "$CT" "$IMAGE" \
		sh -c "cat /sys/class/net/eth0/operstate; ip -4 -o addr show eth0; ip route; timeout 10 wget -q -O - http://$bridge_ip:8081/index.html"
	[ "$status" -eq 0 ]
	# Running from the process's first instruction: the agent waited for
	# the kernel's link watch.
	[ "${lines[0]}" = up ]
	[[ "${lines[1]}" == *"eth0"*"inet 10."* ]]
	grep -q "^default via $bridge_ip dev eth0" <<<"$output"
	[ "${lines[-1]}" = hello-from-host ]
}

@test "podman run -p 8080:80 on a bridge: the guest serves the host" {
	[ -e /dev/net/tun ] || modprobe tun
	run_pm run -d --name "$CT" -p 8080:80 "$IMAGE" \
		sh -c 'echo hello-net >/tmp/index.html; httpd -f -p 80 -h /tmp'
	[ "$status" -eq 0 ]
	id=$output
	ct_ip=$(pm inspect -f '{{.NetworkSettings.IPAddress}}' "$CT")
	[ -n "$ct_ip" ]
	# Through the published port on loopback (CNI's portmap DNAT) and
	# straight to the container's address on the bridge.
	wait_until "$WAIT_TIMEOUT" _http_get http://127.0.0.1:8080/index.html hello-net
	_http_get "http://$ct_ip:80/index.html" hello-net
	run_pm rm -f -t 0 "$CT"
	[ "$status" -eq 0 ]
	assert_no_leaks "$HUSK_ROOT" "$id"
}
# Debian 12's busybox 1.35 wget segfaults when given -T, so the time limit
# comes from timeout(1), here and in the guest.
_http_get() {
	[ "$(timeout 5 busybox wget -q -O - "$1" 2>/dev/null)" = "$2" ]
}
