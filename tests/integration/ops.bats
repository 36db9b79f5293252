#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# Operations on a live container: kill, ps, list, pause/resume, update,
# events. Expectations are runc's (RUNTIME=runc is the oracle). One
# container per test.

load helpers

# A running container whose init only sleeps; its id is $CT.
start_sleeper() {
	require_containers
	make_bundle "$WORK/b" sleep 1000
	run_ct "$CT" "$WORK/b"
}

# count_is FILE TEXT N: FILE has exactly N lines that are TEXT.
count_is() {
	[ "$(grep -cx -- "$2" "$1")" -eq "$3" ]
}

# lines_over FILE N: FILE has more than N lines.
lines_over() {
	[ "$(wc -l <"$1")" -gt "$2" ]
}

# ---------------------------------------------------------------------------
# kill

@test "kill: signals by name, SIG-name and number reach the process's traps; the default is TERM" {
	require_containers
	# The process is its container's PID 1, which only gets signals it has
	# handlers for, so every signal sent here has a trap.
	make_bundle "$WORK/b" sh -c 'for s in HUP USR1 USR2 TERM; do trap "echo got-$s" $s; done
		echo ready; while :; do sleep 0.1; done'
	run_ct "$CT" "$WORK/b"
	out=$WORK/$CT.out
	wait_output "$out" ready

	rt kill "$CT" USR1
	wait_output "$out" got-USR1
	rt kill "$CT" SIGUSR2
	wait_output "$out" got-USR2
	rt kill "$CT" 1
	wait_output "$out" got-HUP
	rt kill "$CT" TERM
	wait_output "$out" got-TERM
	rt kill "$CT"
	wait_until "$WAIT_TIMEOUT" count_is "$out" got-TERM 2

	run_rt kill "$CT" BOGUS
	[ "$status" -eq 1 ]
	# runc: msg="unknown signal \"BOGUS\""
	[[ "$stderr" == *"unknown signal"*BOGUS* ]]
	[ "$(ct_status "$CT")" = running ]

	rt kill "$CT" SIGKILL
	wait_status "$CT" stopped
	delete_ct "$CT"
	# Each signal ran its trap once.
	for s in USR1 USR2 HUP; do count_is "$out" "got-$s" 1; done
}

@test "kill --all KILL ends every process of the container, exec'd ones too" {
	start_sleeper
	rt exec --detach --pid-file "$WORK/exec.pid" "$CT" sleep 999 </dev/null >/dev/null 2>&1 3>&-
	pid=$(ct_state "$CT" pid)
	epid=$(cat "$WORK/exec.pid")
	pid_alive "$epid"

	run_rt kill --all "$CT" KILL
	[ "$status" -eq 0 ]
	wait_status "$CT" stopped
	wait_until "$WAIT_TIMEOUT" _pid_gone "$epid"
	wait_until "$WAIT_TIMEOUT" _pid_gone "$pid"
	delete_ct "$CT"
}

@test "kill --all TERM reaches the traps of the container's process and of exec'd ones" {
	require_containers
	# The init lingers after its trap so that its end does not take the
	# exec'd process down before that one's trap ran.
	make_bundle "$WORK/b" sh -c 'trap "echo init-got-TERM; sleep 1; exit 0" TERM
		echo ready; while :; do sleep 0.1; done'
	run_ct "$CT" "$WORK/b"
	wait_output "$WORK/$CT.out" ready
	bg "$WORK/exec.out" rt exec "$CT" sh -c 'trap "echo exec-got-TERM; exit 3" TERM
		echo exec-ready; while :; do sleep 0.1; done'
	exec_pid=$BG_PID
	wait_output "$WORK/exec.out" exec-ready

	run_rt kill --all "$CT" TERM
	[ "$status" -eq 0 ]
	wait_output "$WORK/exec.out" exec-got-TERM
	wait_output "$WORK/$CT.out" init-got-TERM
	rc=0
	wait "$exec_pid" || rc=$?
	[ "$rc" -eq 3 ]
	wait_status "$CT" stopped
	delete_ct "$CT"
}

# ---------------------------------------------------------------------------
# ps

@test "ps: --format json is a list of host pids; table has ps's header" {
	start_sleeper
	rt exec --detach --pid-file "$WORK/exec.pid" "$CT" sleep 999 </dev/null >/dev/null 2>&1 3>&-
	pid=$(ct_state "$CT" pid)
	epid=$(cat "$WORK/exec.pid")

	# runc lists the host pids of the container's processes: its init and
	# the exec'd sleep. husk lists host pids too, of what stands for them on
	# the host: the VMM (the state's pid) and the exec relay (the pid file's).
	# Either way: exactly the state's pid and the exec's pid.
	run_rt ps --format json "$CT"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --argjson p "$pid" --argjson e "$epid" \
		'type == "array" and sort == ([$p, $e] | sort)'
	run_rt ps -f json "$CT"
	echo "$output" | jq -e 'length == 2'
	if [ "$RUNTIME" = husk ]; then
		# Differs in a VM: both pids are husk processes on the host, the
		# VMM and the relay of the exec (the guest's pids mean nothing here).
		[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$HUSK")" ]
		[ "$(readlink "/proc/$epid/exe")" = "$(readlink -f "$HUSK")" ]
	else
		# runc: the container's own processes.
		[ "$(tr '\0' ' ' <"/proc/$epid/cmdline")" = "sleep 999 " ]
	fi

	# The table is the host's `ps -ef` for those pids: "UID PID PPID C
	# STIME TTY TIME CMD".
	for fmt in "" "--format table"; do
		# shellcheck disable=SC2086
		run_rt ps $fmt "$CT"
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" =~ ^UID\ +PID\  ]]
		[ "${#lines[@]}" -eq 3 ]
		[ "$(printf '%s\n' "${lines[@]:1}" | awk '{print $2}' | sort)" = "$(printf '%s\n' "$pid" "$epid" | sort)" ]
	done

	run_rt ps --format yaml "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"invalid format option"* ]]

	# A stopped container has no processes: runc prints null, [] is as good.
	rt kill --all "$CT" KILL
	wait_status "$CT" stopped
	run_rt ps --format json "$CT"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'length == 0'
	delete_ct "$CT"
}

# ---------------------------------------------------------------------------
# list

@test "list: table, --format json and -q, with no containers and with one" {
	require_containers
	run_rt list
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	run_rt list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# runc prints null for no containers; an empty list is as good.
	run_rt list --format json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e 'length == 0'

	make_bundle "$WORK/b"
	create_ct "$CT" "$WORK/b"
	pid=$(ct_state "$CT" pid)
	created=$(ct_state "$CT" created)

	run_rt list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER$ ]]
	read -r f_id f_pid f_status f_bundle f_created f_owner <<<"${lines[1]}"
	[ "$f_id" = "$CT" ]
	[ "$f_pid" = "$pid" ]
	[ "$f_status" = created ]
	[ "$f_bundle" = "$WORK/b" ]
	[ "$f_created" = "$created" ]
	# runc's list names the owner of the state directory (state says "").
	[ "$f_owner" = "$(id -un)" ]

	run_rt list -q
	[ "$output" = "$CT" ]

	run_rt list --format json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg id "$CT" --argjson pid "$pid" --arg b "$WORK/b" \
		--arg c "$created" --arg o "$(id -un)" '
		length == 1 and .[0].id == $id and .[0].pid == $pid
		and .[0].status == "created" and .[0].bundle == $b
		and .[0].created == $c and .[0].owner == $o'

	rt start "$CT"
	run_rt list --format json
	echo "$output" | jq -e '.[0].status == "running"'
	delete_ct "$CT" --force
}

# ---------------------------------------------------------------------------
# pause / resume

@test "pause and resume: state says paused, the process stops and goes on" {
	require_containers
	make_bundle "$WORK/b" sh -c 'i=0; while :; do i=$((i + 1)); echo $i; sleep 0.1; done'
	run_ct "$CT" "$WORK/b"
	out=$WORK/$CT.out
	wait_until "$WAIT_TIMEOUT" lines_over "$out" 2

	run_rt pause "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(ct_status "$CT")" = paused ]
	run_rt list --format json
	echo "$output" | jq -e '.[0].status == "paused"'
	# Output in flight may still land; after that, nothing.
	sleep 0.5
	n=$(wc -l <"$out")
	sleep 1
	[ "$(wc -l <"$out")" -eq "$n" ]

	run_rt pause "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container not running"* ]]
	run_rt exec "$CT" true </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"cannot exec in a paused container"* ]]

	run_rt resume "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(ct_status "$CT")" = running ]
	wait_until "$WAIT_TIMEOUT" lines_over "$out" "$((n + 2))"
	run_rt resume "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container not paused"* ]]

	rt kill "$CT" KILL
	wait_status "$CT" stopped
	delete_ct "$CT"
}

@test "exec --ignore-paused on a paused container waits for resume, and resume goes through" {
	start_sleeper
	rt pause "$CT"
	rt exec --ignore-paused "$CT" echo ran </dev/null >"$WORK/exec.out" 2>"$WORK/exec.err" 3>&- &
	epid=$!
	echo "$epid" >>"$WORK/.bg"
	sleep 2
	# Still waiting, and nothing ran while paused.
	kill -0 "$epid"
	[ ! -s "$WORK/exec.out" ]

	RT_TIMEOUT=30 run_rt resume "$CT"
	[ "$status" -eq 0 ]
	[ "$(ct_status "$CT")" = running ]
	wait "$epid"
	[ "$(cat "$WORK/exec.out")" = ran ]

	delete_ct "$CT" --force
}

# ---------------------------------------------------------------------------
# update
#
# container_cgroup_value reads cgroup v2 files: on the host for runc (v1
# files converted), inside the container for husk (see helpers.bash).

@test "update --memory --cpu-quota --cpu-period --cpu-share --pids-limit set the cgroup" {
	start_sleeper
	run_rt update --memory 64M --cpu-quota 20000 --cpu-period 50000 --cpu-share 512 \
		--pids-limit 77 "$CT"
	[ "$status" -eq 0 ]
	[ "$(container_cgroup_value "$CT" memory.max)" = 67108864 ]
	[ "$(container_cgroup_value "$CT" cpu.max)" = "20000 50000" ]
	# 512 shares are weight 20 (runc's conversion: 1 + (shares-2)*9999/262142).
	[ "$(container_cgroup_value "$CT" cpu.weight)" = 20 ]
	[ "$(container_cgroup_value "$CT" pids.max)" = 77 ]

	# One flag changes one thing.
	run_rt update --pids-limit 88 "$CT"
	[ "$status" -eq 0 ]
	[ "$(container_cgroup_value "$CT" pids.max)" = 88 ]
	[ "$(container_cgroup_value "$CT" memory.max)" = 67108864 ]
	[ "$(container_cgroup_value "$CT" cpu.max)" = "20000 50000" ]
}

@test "update --resources FILE and --resources - (stdin); update of a stopped container fails" {
	start_sleeper
	cat >"$WORK/resources.json" <<'EOF'
{
	"memory": {"limit": 104857600},
	"cpu": {"quota": 30000, "period": 60000, "shares": 1024},
	"pids": {"limit": 55}
}
EOF
	run_rt update --resources "$WORK/resources.json" "$CT"
	[ "$status" -eq 0 ]
	[ "$(container_cgroup_value "$CT" memory.max)" = 104857600 ]
	[ "$(container_cgroup_value "$CT" cpu.max)" = "30000 60000" ]
	[ "$(container_cgroup_value "$CT" cpu.weight)" = 39 ]
	[ "$(container_cgroup_value "$CT" pids.max)" = 55 ]

	run_rt update -r - "$CT" <<<'{"memory": {"limit": 209715200}, "pids": {"limit": 66}}'
	[ "$status" -eq 0 ]
	[ "$(container_cgroup_value "$CT" memory.max)" = 209715200 ]
	[ "$(container_cgroup_value "$CT" pids.max)" = 66 ]
	[ "$(container_cgroup_value "$CT" cpu.max)" = "30000 60000" ]

	rt kill "$CT" KILL
	wait_status "$CT" stopped
	run_rt update --pids-limit 10 "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container not running"* ]]
	delete_ct "$CT"
}

@test "cpuset: cpu.cpus/mems go on the container's host cgroup, the CPU count follows; update sets it" {
	require_containers
	# Online CPUs, as husk counts them: in the box this shell is held to
	# one CPU (hack/kvmbox --help), so nproc would say 1.
	[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || skip "needs a host with 2 CPUs"
	# nproc inside: runc's container is pinned to the cpuset; husk's guest
	# has that many vCPUs (the default is 1).
	make_bundle "$WORK/b" sh -c 'nproc; echo ready; exec sleep 1000'
	bundle_edit "$WORK/b" '.linux.resources.cpu = {cpus: "0-1", mems: "0"}'
	run_ct "$CT" "$WORK/b"
	wait_output "$WORK/$CT.out" ready
	[ "$(head -n 1 "$WORK/$CT.out")" = 2 ]
	pid=$(ct_state "$CT" pid)
	[ "$(host_cgroup_value "$pid" cpuset.cpus)" = 0-1 ]
	[ "$(host_cgroup_value "$pid" cpuset.mems)" = 0 ]

	# The flag and --resources are the same update.
	run_rt update --cpuset-cpus 1 "$CT"
	[ "$status" -eq 0 ]
	[ "$(host_cgroup_value "$pid" cpuset.cpus)" = 1 ]
	run_rt update -r - "$CT" <<<'{"cpu": {"cpus": "0", "mems": "0"}}'
	[ "$status" -eq 0 ]
	[ "$(host_cgroup_value "$pid" cpuset.cpus)" = 0 ]
	if [ "$RUNTIME" = husk ]; then
		# The VMM's threads are held to the cpuset; the guest keeps its
		# vCPUs (no hotplug).
		[ "$(taskset -pc "$pid" | sed 's/.*: //')" = 0 ]
		[ "$(rt exec "$CT" nproc </dev/null)" = 2 ]
		# A list that is not one is refused, naming the flag or field.
		run_rt update --cpuset-cpus 1-x "$CT"
		[ "$status" -eq 1 ]
		# (a logrus line: the quotes come escaped)
		[[ "$stderr" == *'--cpuset-cpus: '*'1-x'*' is not a cpuset list'* ]]
		run_rt update -r - "$CT" <<<'{"cpu": {"mems": "a"}}'
		[ "$status" -eq 1 ]
		[[ "$stderr" == *'resources.cpu.mems: '*'a'*' is not a cpuset list'* ]]
		[ "$(host_cgroup_value "$pid" cpuset.cpus)" = 0 ]
	fi
}

@test "update of a paused container: the host cgroup at once, the container's view on resume" {
	start_sleeper
	pid=$(ct_state "$CT" pid)
	rt pause "$CT"
	run_rt update --pids-limit 42 --cpu-quota 20000 --cpu-period 50000 "$CT"
	[ "$status" -eq 0 ]
	[ "$(host_cgroup_value "$pid" pids.max)" = 42 ]
	[ "$(ct_status "$CT")" = paused ]
	# Two updates while paused both land, the later winning where they
	# overlap.
	run_rt update --pids-limit 43 "$CT"
	[ "$status" -eq 0 ]
	rt resume "$CT"
	[ "$(container_cgroup_value "$CT" pids.max)" = 43 ]
	[ "$(container_cgroup_value "$CT" cpu.max)" = "20000 50000" ]
	# Nothing is queued any more: a later resume has nothing to replay.
	[ ! -e "$WORK/root/$CT/update.pending" ]
	run_rt update --pids-limit 50 "$CT"
	[ "$(container_cgroup_value "$CT" pids.max)" = 50 ]
}

# ---------------------------------------------------------------------------
# events

@test "events --stats: one JSON object of type stats with memory, cpu and pids" {
	start_sleeper
	run_rt events --stats "$CT"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | jq -e --arg id "$CT" '
		.type == "stats" and .id == $id
		and (.data.memory | type) == "object" and .data.memory.usage.usage > 0
		and (.data.cpu | type) == "object" and .data.cpu.usage.total > 0
		and (.data.pids | type) == "object" and .data.pids.current >= 1'

	rt kill "$CT" KILL
	wait_status "$CT" stopped
	run_rt events --stats "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container with id $CT is not running"* ]]
	delete_ct "$CT"
}

@test "events --interval: a stats object every interval" {
	start_sleeper
	start=$(date +%s%N)
	# head ends the stream after three; the runtime dies of SIGPIPE.
	rt events --interval 300ms "$CT" 2>"$WORK/events.err" | head -n 3 >"$WORK/events" || true
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	cat "$WORK/events" "$WORK/events.err"
	[ "$(wc -l <"$WORK/events")" -eq 3 ]
	jq -se --arg id "$CT" 'length == 3 and
		all(.[]; .type == "stats" and .id == $id and (.data.pids | type) == "object")' "$WORK/events"
	# Not all at once: at least two intervals between the first and third.
	[ "$elapsed_ms" -ge 550 ]
}

@test "events --interval holds no lock between ticks: pause, update and delete --force go on; the stream ends" {
	start_sleeper
	bg "$WORK/events" rt events --interval 1s "$CT"
	events_pid=$BG_PID
	wait_until "$WAIT_TIMEOUT" lines_over "$WORK/events" 0
	# Each would wait for the lock while the stream runs, were it held.
	timeout 30 "$RUNTIME_BIN" --root "$WORK/root" pause "$CT"
	timeout 30 "$RUNTIME_BIN" --root "$WORK/root" resume "$CT"
	timeout 30 "$RUNTIME_BIN" --root "$WORK/root" update --pids-limit 99 "$CT"
	n=$(wc -l <"$WORK/events")
	# The stream goes on after them.
	wait_until "$WAIT_TIMEOUT" lines_over "$WORK/events" "$n"
	run timeout 30 "$RUNTIME_BIN" --root "$WORK/root" delete --force "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
	if [ "$RUNTIME" = husk ]; then
		# runc's stream logs an error each tick for a deleted container
		# and goes on; husk's ends as for a stopped one.
		wait_until 10 _pid_gone "$events_pid"
		rc=0
		wait "$events_pid" || rc=$?
		cat "$WORK/events.err"
		[ "$rc" -eq 0 ]
	fi
	jq -se --arg id "$CT" 'all(.[]; .type == "stats" and .id == $id)' "$WORK/events"
}
