#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# exec: extra processes in a running container, with args or --process,
# with and without a terminal, attached or detached. Expectations are
# runc's (RUNTIME=runc is the oracle). One container per test.

load helpers

# A running container whose init only sleeps; its id is $CT.
start_sleeper() {
	require_containers
	make_bundle "$WORK/b" sleep 1000
	run_ct "$CT" "$WORK/b"
}

@test "exec: stdout, stderr and stdin of the exec'd process go through exec" {
	start_sleeper
	run_rt exec "$CT" sh -c 'echo to-stdout; echo to-stderr >&2' </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = to-stdout ]
	[[ "$stderr" == *to-stderr* ]]
	[[ "$stderr" != *stdout* ]]

	run_rt exec "$CT" sh -c 'cat; echo "<eof>"' < <(printf 'piped\ninput\n')
	[ "$status" -eq 0 ]
	[ "$output" = $'piped\ninput\n<eof>' ]

	run_rt exec "$CT" sh -c 'seq 1 20000; exit 0' </dev/null
	[ "$output" = "$(seq 1 20000)" ]
}

@test "exec: megabytes through a reader that pauses, both ways, arrive whole; other commands go on meanwhile" {
	start_sleeper
	# The VMM's queue for this exec fills while its reader sleeps: the
	# guest is held back, not the exec dropped, and the VMM still answers
	# (a stats request waits for the guest's stream, not forever).
	rt exec "$CT" sh -c 'head -c 8388608 /dev/zero' </dev/null 3>&- |
		{ sleep 5; wc -c; } >"$WORK/count" &
	local reader=$!
	sleep 2
	run_rt events --stats "$CT"
	[ "$status" -eq 0 ]
	wait "$reader"
	[ "$(cat "$WORK/count")" -eq 8388608 ]
	# Stdin of more than the VMM's queue holds, to a process that reads.
	run_rt exec "$CT" sh -c 'wc -c' < <(head -c 12582912 /dev/zero)
	[ "$status" -eq 0 ]
	[ "$output" -eq 12582912 ]
}

@test "exec: the exit status is the process's: 0, 1, 42, and 128+N when a signal kills it" {
	start_sleeper
	for code in 0 1 42; do
		run_rt exec "$CT" sh -c "exit $code" </dev/null
		[ "$status" -eq "$code" ]
	done
	run_rt exec "$CT" sh -c 'kill -TERM $$' </dev/null
	[ "$status" -eq 143 ]
	run_rt exec "$CT" sh -c 'kill -KILL $$' </dev/null
	[ "$status" -eq 137 ]
	# The container itself is unaffected.
	[ "$(ct_status "$CT")" = running ]
}

@test "exec -e, --cwd, --user: environment, directory and identity of the process" {
	start_sleeper
	run_rt exec -e FOO=bar -e TERM=dumb --cwd /tmp --user 1000:1000 "$CT" \
		sh -c 'echo "FOO=$FOO TERM=$TERM"; pwd; id -u; id -g; echo "HOME=$HOME"; env | grep -c ^TERM=' </dev/null
	[ "$status" -eq 0 ]
	# -e adds to process.env of config.json and replaces a variable it names.
	[ "${lines[0]}" = "FOO=bar TERM=dumb" ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 1000 ]
	# HOME comes from the user's entry in the container's /etc/passwd.
	[ "${lines[4]}" = HOME=/home/user ]
	[ "${lines[5]}" = 1 ]

	# Without them: config.json's env, cwd and user (root).
	run_rt exec "$CT" sh -c 'echo "PATH=$PATH"; pwd; id -u' </dev/null
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == PATH=*/bin* ]]
	[ "${lines[1]}" = / ]
	[ "${lines[2]}" = 0 ]

	# --user UID alone runs with group 0.
	run_rt exec --user 1000 "$CT" id -g </dev/null
	[ "$output" = 0 ]
}

@test "exec --process FILE: args, env, cwd and user come from the file" {
	start_sleeper
	cat >"$WORK/process.json" <<'EOF'
{
	"terminal": false,
	"user": {"uid": 5, "gid": 6},
	"args": ["sh", "-c", "echo \"A=$A\"; pwd; id -u; id -g; exit 7"],
	"env": ["PATH=/bin", "A=from-process-json"],
	"cwd": "/tmp"
}
EOF
	run_rt exec --process "$WORK/process.json" "$CT" </dev/null
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = A=from-process-json ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = 5 ]
	[ "${lines[3]}" = 6 ]
}

@test "exec with a terminal through --console-socket: process.json's consoleSize, input, output" {
	start_sleeper
	# runc takes a console socket for exec only with --detach and --tty.
	jq -n '{terminal: true, consoleSize: {height: 11, width: 22}, cwd: "/",
		env: ["PATH=/bin"], user: {uid: 0, gid: 0},
		args: ["sh", "-c", "stty size; tty; read line; echo got:$line"]}' >"$WORK/process.json"
	start_recvtty "$WORK/tty.sock" "$WORK/tty.out" --print-winsize --input $'typed\n'
	run_rt exec --detach --process "$WORK/process.json" --console-socket "$WORK/tty.sock" "$CT" </dev/null
	[ "$status" -eq 0 ]
	wait_recvtty
	tr -d '\r' <"$WORK/tty.out" >"$WORK/tty.txt"
	cat "$WORK/tty.txt"
	[ "$(head -n1 "$WORK/tty.txt")" = "11 22" ]
	[ "$(grep -c '^11 22$' "$WORK/tty.txt")" -eq 2 ]
	grep -qE '^/dev/pts/[0-9]+$' "$WORK/tty.txt"
	grep -qx 'got:typed' "$WORK/tty.txt"

	# The same with args and -t on the command line.
	start_recvtty "$WORK/tty2.sock" "$WORK/tty2.out"
	run_rt exec -t -d --console-socket "$WORK/tty2.sock" "$CT" sh -c 'tty; echo second-terminal' </dev/null
	[ "$status" -eq 0 ]
	wait_recvtty
	tr -d '\r' <"$WORK/tty2.out" >"$WORK/tty2.txt"
	grep -qE '^/dev/pts/[0-9]+$' "$WORK/tty2.txt"
	grep -qx second-terminal "$WORK/tty2.txt"
}

@test "exec --tty through --console-socket: a resize of the pty reaches the exec'd process" {
	start_sleeper
	start_recvtty "$WORK/tty.sock" "$WORK/tty.out" --resize-on ready=21x55
	run_rt exec -t -d --console-socket "$WORK/tty.sock" "$CT" sh -c 'stty size; echo ready; i=0
		while [ "$(stty size)" != "21 55" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		stty size' </dev/null
	[ "$status" -eq 0 ]
	wait_recvtty
	tr -d '\r' <"$WORK/tty.out" >"$WORK/tty.txt"
	cat "$WORK/tty.txt"
	[ "$(tail -n 1 "$WORK/tty.txt")" = "21 55" ]
	[ "$(head -n 1 "$WORK/tty.txt")" != "21 55" ]
}

@test "exec --detach --pid-file: the pid is a host process that signals reach" {
	start_sleeper
	run_rt exec --detach --pid-file "$WORK/exec.pid" "$CT" sh -c 'trap "exit 3" TERM; echo ready; while :; do sleep 0.1; done' </dev/null
	[ "$status" -eq 0 ]
	pid=$(cat "$WORK/exec.pid")
	# Digits alone, as containerd parses them.
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$(wc -c <"$WORK/exec.pid")" -eq "${#pid}" ]
	# runc: the exec'd process itself; husk: the exec relay on the host,
	# which forwards signals to the process in the guest and ends with it.
	pid_alive "$pid"
	[ "$pid" != "$(ct_state "$CT" pid)" ]
	if [ "$RUNTIME" = husk ]; then
		# Differs in a VM: the pid is husk's relay, not the guest process.
		[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$HUSK")" ]
	else
		[[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == "sh -c trap "* ]]
	fi
	kill -TERM "$pid"
	wait_until "$WAIT_TIMEOUT" _pid_gone "$pid"
	[ "$(ct_status "$CT")" = running ]
}

@test "exec: a signal to a foreground exec reaches the process's trap, and exec exits with its status" {
	start_sleeper
	# The runtime itself, not rt: the signal must reach exec, not a
	# subshell or timeout(1) around it.
	bg "$WORK/exec.out" "$RUNTIME_BIN" --root "$WORK/root" exec "$CT" \
		sh -c 'trap "echo trapped; exit 3" TERM; echo ready; while :; do sleep 0.1; done'
	pid=$BG_PID
	wait_output "$WORK/exec.out" ready
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	cat "$WORK/exec.out" "$WORK/exec.out.err"
	# The trap's "exit 3", not 143: the signal was caught, not fatal.
	[ "$st" -eq 3 ]
	grep -qx trapped "$WORK/exec.out"
	[ "$(ct_status "$CT")" = running ]
}

@test "exec errors: missing program, no args, stopped container (status 255)" {
	start_sleeper
	run_rt exec "$CT" /no/such/program </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"/no/such/program"* ]]
	[[ "$stderr" == *"no such file or directory"* ]]

	run_rt exec "$CT" </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"process args cannot be empty"* ]]

	rt kill "$CT" KILL
	wait_status "$CT" stopped
	run_rt exec "$CT" true </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"cannot exec in a stopped container"* ]]
}
