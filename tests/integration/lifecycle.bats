#!/usr/bin/env bats
# husk-test: needs-vm (run-tests.sh runs this file where guests boot)
# The container lifecycle: create, start, run, state, delete; stdio and exit
# statuses of run; the errors clients match on. The expected behaviour and
# messages are runc's (RUNTIME=runc bats ... passes on a host with runc);
# husk must give the same. Each container is a VM under husk, so tests make
# as few as they can.

load helpers

# ---------------------------------------------------------------------------
# create / start / state / delete

@test "create, start, kill, delete: state goes created -> running -> stopped -> gone" {
	require_containers
	make_bundle "$WORK/b"
	create_ct "$CT" "$WORK/b" --pid-file "$WORK/pid"

	run_rt state "$CT"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg id "$CT" --arg b "$WORK/b" '
		(.ociVersion | test("^1\\.")) and .id == $id and .status == "created"
		and .pid > 0 and .bundle == $b and .rootfs == ($b + "/rootfs")
		and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$"))'
	pid=$(echo "$output" | jq .pid)
	pid_alive "$pid"
	# The pid file holds the digits alone: containerd parses it with Atoi.
	[ "$(cat "$WORK/pid")" = "$pid" ]
	[ "$(wc -c <"$WORK/pid")" -eq "${#pid}" ]

	run_rt start "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_rt state "$CT"
	echo "$output" | jq -e --argjson pid "$pid" '.status == "running" and .pid == $pid'

	run_rt kill "$CT" KILL
	[ "$status" -eq 0 ]
	wait_status "$CT" stopped
	run_rt state "$CT"
	[ "$status" -eq 0 ]
	# runc reports pid 0 once the container stopped.
	echo "$output" | jq -e '.status == "stopped" and (.pid // 0) == 0'

	run_rt delete "$CT"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_rt state "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container does not exist"* ]]
	[ ! -e "$WORK/root/$CT" ]
	wait_until "$WAIT_TIMEOUT" _pid_gone "$pid"
}

@test "start of a running or stopped container and kill of a stopped one fail with runc's messages" {
	require_containers
	make_bundle "$WORK/b"
	create_ct "$CT" "$WORK/b"
	rt start "$CT"

	run_rt start "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cannot start an already running container"* ]]
	[ "$(ct_status "$CT")" = running ]

	rt kill "$CT" KILL
	wait_status "$CT" stopped
	run_rt start "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cannot start a container that has stopped"* ]]
	run_rt kill "$CT" KILL
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container not running"* ]]
	run_rt kill "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container not running"* ]]

	delete_ct "$CT"
}

@test "delete refuses a running container without --force; --force kills and removes it" {
	require_containers
	make_bundle "$WORK/b"
	run_ct "$CT" "$WORK/b"
	pid=$(ct_state "$CT" pid)

	run_rt delete "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"cannot delete container $CT that is not stopped: running"* ]]
	[ "$(ct_status "$CT")" = running ]
	pid_alive "$pid"

	run_rt delete --force "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
	[ -z "$output" ]
	run_rt state "$CT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container does not exist"* ]]
	wait_until "$WAIT_TIMEOUT" _pid_gone "$pid"
}

@test "create with an id in use fails 'already exists'; a created container deletes without --force" {
	require_containers
	make_bundle "$WORK/b"
	make_bundle "$WORK/b2"
	create_ct "$CT" "$WORK/b"
	pid=$(ct_state "$CT" pid)

	run_rt create --bundle "$WORK/b2" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container with given ID already exists"* ]]
	# The first container is untouched.
	run_rt state "$CT"
	echo "$output" | jq -e --arg b "$WORK/b" --argjson pid "$pid" \
		'.status == "created" and .bundle == $b and .pid == $pid'

	# runc deletes a container that was never started without --force.
	run_rt delete "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
	run_rt state "$CT"
	[ "$status" -eq 1 ]
	wait_until "$WAIT_TIMEOUT" _pid_gone "$pid"
}

@test "delete --force of an unknown container succeeds; delete without it fails" {
	run_rt delete --force "$CT-nope"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run_rt delete "$CT-nope"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container does not exist"* ]]
}

# ---------------------------------------------------------------------------
# run: exit statuses and stdio

@test "run: the process's exit code is run's status (0, 1, 42) and the container is gone after" {
	require_containers
	make_bundle "$WORK/b" true
	for code in 0 1 42; do
		bundle_edit "$WORK/b" '.process.args = ["sh", "-c", $s]' --arg s "exit $code"
		run_rt run --bundle "$WORK/b" "$CT-$code" </dev/null
		[ "$status" -eq "$code" ]
	done
	run_rt list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "run: a process killed by a signal gives 128+N" {
	require_containers
	make_bundle "$WORK/b" sleep 1000
	bg "$WORK/run.out" rt run --bundle "$WORK/b" "$CT"
	wait_status "$CT" running
	rt kill "$CT" KILL
	rc=0
	wait "$BG_PID" || rc=$?
	[ "$rc" -eq 137 ]
	run_rt state "$CT"
	[ "$status" -eq 1 ]
}

@test "a process killed by a signal: the container's pid itself dies of that signal" {
	require_containers
	reaper=$(need_tool reaper)
	make_bundle "$WORK/b" sleep 1000
	# Without a pid namespace the process is no namespace's init, so a
	# signal it has no handler for kills it.
	bundle_edit "$WORK/b" '.linux.namespaces |= map(select(.type != "pid"))'
	# create returns, leaving the container's process to the reaper, which
	# says how it ended: 128+N from a parent is not enough, the waiting
	# parent must see WIFSIGNALED (a shim reports exactly that).
	bg "$WORK/reaped" "$reaper" "$RUNTIME_BIN" --root "$WORK/root" create --bundle "$WORK/b" "$CT"
	reaper_pid=$BG_PID
	wait_status "$CT" created
	pid=$(ct_state "$CT" pid)
	rt start "$CT"
	rt kill "$CT" USR1
	wait_status "$CT" stopped
	wait_until "$WAIT_TIMEOUT" grep -q "^$pid " "$WORK/reaped"
	cat "$WORK/reaped" "$WORK/reaped.err"
	grep -qx "$pid killed $(kill -l USR1)" "$WORK/reaped"
	delete_ct "$CT"
	wait "$reaper_pid"
}

@test "the VMM runs confined: seccomp, no_new_privs, capabilities, rlimits, oom_score_adj, cgroup, no dumps, its jail" {
	require_containers
	[ "$RUNTIME" = husk ] || skip "the VMM's confinement is husk's own"
	make_bundle "$WORK/b" sleep 1000
	# RLIMIT_MSGQUEUE is applied to the VMM as given; RLIMIT_CORE is the
	# guest's (like RLIMIT_NOFILE, runtime/confine.h): the VMM's is 0.
	bundle_edit "$WORK/b" '.process.oomScoreAdj = 123
		| .process.rlimits = [{type: "RLIMIT_CORE", soft: 1024, hard: 2048},
			{type: "RLIMIT_MSGQUEUE", soft: 4096, hard: 8192}]'
	run_ct "$CT" "$WORK/b"
	wait_status "$CT" running
	pid=$(ct_state "$CT" pid)
	# Every thread: the seccomp filter (mode 2), no_new_privs, and the
	# capabilities of runtime/confine.h's CONFINE_CAPS (CHOWN, DAC_OVERRIDE,
	# DAC_READ_SEARCH, FOWNER, FSETID, MKNOD, SETFCAP) in the effective,
	# permitted and bounding sets, none inheritable or ambient.
	caps=000000008800001f
	n=0
	for st in /proc/"$pid"/task/*/status; do
		grep -qx $'Seccomp:\t2' "$st"
		grep -qx $'NoNewPrivs:\t1' "$st"
		grep -qx $'CapEff:\t'$caps "$st"
		grep -qx $'CapPrm:\t'$caps "$st"
		grep -qx $'CapBnd:\t'$caps "$st"
		grep -qx $'CapInh:\t0000000000000000' "$st"
		grep -qx $'CapAmb:\t0000000000000000' "$st"
		n=$((n + 1))
	done
	# The VMM has threads of its own (vCPUs, devices) besides the main one.
	[ "$n" -gt 1 ]
	# vCPU threads, virtio-fs workers and the agent router each stack a
	# filter of their class's on the process's (runtime/confine.c,
	# confine_thread).
	filters() { awk '/^Seccomp_filters:/ { print $2 }' "$1"; }
	base=$(filters "/proc/$pid/status")
	local vcpus=0 workers=0 routers=0
	for t in /proc/"$pid"/task/*; do
		case "$(cat "$t/comm")" in
		vcpu*) vcpus=$((vcpus + 1)) ;;
		virtio-fs) workers=$((workers + 1)) ;;
		agent-router) routers=$((routers + 1)) ;;
		*) continue ;;
		esac
		[ "$(filters "$t/status")" -eq $((base + 1)) ]
	done
	[ "$vcpus" -ge 1 ]
	[ "$workers" -ge 1 ]
	[ "$routers" -eq 1 ]
	[ "$(cat "/proc/$pid/oom_score_adj")" = 123 ]
	grep -E '^Max core file size +0 +0 +bytes' "/proc/$pid/limits"
	grep -E '^Max msgqueue size +4096 +8192 +bytes' "/proc/$pid/limits"
	# The cgroup is the spec's cgroupsPath (make_bundle's).
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		grep -qx "0::/$TEST_ID-b" "/proc/$pid/cgroup"
	else
		for c in memory cpu pids freezer; do
			grep -qE "^[0-9]+:([a-z_]+,)*$c(,[a-z_]+)*:/$TEST_ID-b\$" "/proc/$pid/cgroup"
		done
	fi
	# Its root is the jail (runtime/jail.h): the kernel, the initrd, KVM,
	# the state directory, the share and a /proc of its own, read-only,
	# and nothing of the host's.
	[ "$(ls "/proc/$pid/root" | tr '\n' ' ')" = "dev initrd kernel proc share0 state " ]
	grep -qE '^[0-9]+ [0-9]+ [0-9:]+ / / ro,.* - tmpfs husk-jail ' "/proc/$pid/mountinfo"
	# Not dumpable: a process of its uid with its capabilities (so not
	# CAP_SYS_PTRACE), as another VMM is, reads none of its memory.
	run setpriv --inh-caps=-all --bounding-set=-all,+chown,+dac_override,+dac_read_search,+fowner,+fsetid,+mknod,+setfcap \
		head -c 1 "/proc/$pid/environ"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
}

@test "root.readonly is enforced by the host: a guest that remounts / read-write still writes nothing" {
	require_containers
	[ "$RUNTIME" = husk ] || skip "the host's side of the VM boundary is husk's own"
	# CAP_SYS_ADMIN in the guest stands for a workload that owns the guest
	# kernel: it undoes the guest's own read-only mount of /.
	make_bundle "$WORK/b" sh -c 'mount -o remount,rw / && echo REMOUNTED; (echo x >/evil) 2>&1; (echo x >>/etc/passwd) 2>&1; mkdir /evil-dir 2>&1; echo DONE; sleep 1000'
	bundle_edit "$WORK/b" '.root.readonly = true
		| .process.capabilities.bounding += ["CAP_SYS_ADMIN"]
		| .process.capabilities.effective += ["CAP_SYS_ADMIN"]
		| .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
	before=$(cd "$WORK/b/rootfs" && find . -printf '%p %s %m %T@\n' | sort)
	run_ct "$CT" "$WORK/b"
	wait_output "$WORK/$CT.out" DONE
	cat "$WORK/$CT.out"
	grep -q REMOUNTED "$WORK/$CT.out"
	grep -q "Read-only file system" "$WORK/$CT.out"
	[ ! -e "$WORK/b/rootfs/evil" ]
	[ ! -e "$WORK/b/rootfs/evil-dir" ]
	# Nothing changed on the host (the default mounts' points exist).
	[ "$before" = "$(cd "$WORK/b/rootfs" && find . -printf '%p %s %m %T@\n' | sort)" ]
	rt kill "$CT" KILL
	wait_status "$CT" stopped
	delete_ct "$CT"
}

@test "hooks: all six kinds run in the runtime-spec's order with the state on stdin" {
	require_containers
	# The hook and its log live in a directory bind-mounted into the
	# container at the same path: runc runs startContainer hooks inside
	# the container (husk runs every kind on the host).
	hd=$WORK/hooks
	mkdir -p "$hd"
	make_bundle "$WORK/b" sleep 1000
	# hook.sh KIND LOG [RUNTIME ROOT]: appends "KIND STATUS" (STATUS from
	# the state on stdin); with RUNTIME, also "KIND state STATUS" from
	# `RUNTIME state` run by the hook itself, which must not hang.
	cat >"$hd/hook.sh" <<-'EOS'
		#!/bin/sh
		state=$(cat)
		field() { printf '%s' "$state" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
		echo "$1 $(field status)" >>"$2"
		if [ -n "$3" ]; then
			s=$(timeout 20 "$3" --root "$4" state "$(field id)" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')
			echo "$1 state ${s:-none}" >>"$2"
		fi
	EOS
	chmod +x "$hd/hook.sh"
	bundle_edit "$WORK/b" '.mounts += [{destination: $d, type: "bind", source: $d, options: ["rbind"]}]
		| .hooks = ({}
		| .prestart = [{path: $h, args: ["hook", "prestart", $l]}]
		| .createRuntime = [{path: $h, args: ["hook", "createRuntime", $l, $rt, $root]}]
		| .createContainer = [{path: $h, args: ["hook", "createContainer", $l]}]
		| .startContainer = [{path: $h, args: ["hook", "startContainer", $l]}]
		| .poststart = [{path: $h, args: ["hook", "poststart", $l, $rt, $root]}]
		| .poststop = [{path: $h, args: ["hook", "poststop", $l, $rt, $root]}])' \
		--arg d "$hd" --arg h "$hd/hook.sh" --arg l "$hd/hooks.log" \
		--arg rt "$(command -v "$RUNTIME_BIN")" --arg root "$WORK/root"
	create_ct "$CT" "$WORK/b"
	rt start "$CT"
	wait_until "$WAIT_TIMEOUT" grep -q '^poststart state' "$hd/hooks.log"
	rt kill "$CT" KILL
	wait_status "$CT" stopped
	delete_ct "$CT"
	cat "$hd/hooks.log"
	# runc runs prestart before createRuntime (both in the runtime's
	# namespaces), then createContainer; startContainer at start, poststop
	# at delete. `state` from a createRuntime hook: runc has no container
	# yet, husk has it created; from poststop: runc's is gone, husk's
	# still there, stopped.
	grep -v '^poststart' "$hd/hooks.log" >"$WORK/order"
	printf '%s\n' 'prestart creating' 'createRuntime creating' 'createRuntime state (none|created)' \
		'createContainer creating' 'startContainer created' 'poststop stopped' \
		'poststop state (none|stopped)' >"$WORK/want"
	[ "$(wc -l <"$WORK/order")" -eq 7 ]
	paste -d '\n' "$WORK/want" "$WORK/order" | while read -r want && read -r got; do
		[[ "$got" =~ ^$want$ ]] || {
			echo "got '$got', want '$want'" >&2
			exit 1
		}
	done
	# runc 1.1 runs poststart in create, with the state as it was then;
	# husk after start releases the process, as the runtime-spec says.
	[ "$(grep -c '^poststart' "$hd/hooks.log")" -eq 2 ]
	if [ "$RUNTIME" = husk ]; then
		[ "$(sed -n '6,7p' "$hd/hooks.log")" = "$(printf '%s\n' 'poststart running' 'poststart state running')" ]
	else
		grep -qxE 'poststart (running|created)' "$hd/hooks.log"
		grep -qxE 'poststart state (running|created)' "$hd/hooks.log"
	fi

	# A failing hook fails create and leaves nothing behind.
	for kind in prestart createRuntime createContainer; do
		bundle_edit "$WORK/b" '.hooks = {($k): [{path: "/bin/false"}]}' --arg k "$kind"
		run_rt create --bundle "$WORK/b" "$CT" </dev/null
		[ "$status" -ne 0 ]
		run_rt list -q
		[ -z "$output" ]
		[ ! -e "$WORK/root/$CT" ]
	done
}

@test "run: stdout and stderr of the process stay apart" {
	require_containers
	make_bundle "$WORK/b" sh -c 'echo to-stdout; echo to-stderr >&2; echo more-stdout'
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = $'to-stdout\nmore-stdout' ]
	[[ "$stderr" == *to-stderr* ]]
	[[ "$stderr" != *stdout* ]]
}

@test "run: the rootfs and a bind-mounted directory are the host's, live both ways" {
	require_containers
	mkdir -p "$WORK/data" "$WORK/ro"
	echo from-host >"$WORK/data/in"
	echo read-only >"$WORK/ro/f"
	make_bundle "$WORK/b" sh -c 'cat /data/in; echo from-container >/data/out; echo rootfs >/written;
		cat /ro/f; echo x >/ro/g 2>/dev/null && echo ro-write-worked; true'
	bundle_edit "$WORK/b" '.mounts += [{destination: "/data", type: "bind", source: $d, options: ["rbind", "rw"]},
		{destination: "/ro", type: "bind", source: $r, options: ["rbind", "ro"]}]' \
		--arg d "$WORK/data" --arg r "$WORK/ro"
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = $'from-host\nread-only' ]
	[ "$(cat "$WORK/data/out")" = from-container ]
	[ "$(cat "$WORK/b/rootfs/written")" = rootfs ]
	[ ! -e "$WORK/ro/g" ]
}

@test "run: stdin piped into run reaches the process, and its end is the process's EOF" {
	require_containers
	make_bundle "$WORK/b" sh -c 'cat; echo "<eof>"'
	run_rt run --bundle "$WORK/b" "$CT" < <(printf 'line one\nline two\n')
	[ "$status" -eq 0 ]
	[ "$output" = $'line one\nline two\n<eof>' ]
}

@test "run: output written just before the process exits is not lost" {
	require_containers
	make_bundle "$WORK/b" sh -c 'seq 1 50000; echo last-words >&2; exit 3'
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 3 ]
	[ "${#lines[@]}" -eq 50000 ]
	[ "$output" = "$(seq 1 50000)" ]
	[ "${stderr_lines[-1]}" = last-words ]
}

@test "run --detach: returns while the container runs; --pid-file names its pid" {
	require_containers
	make_bundle "$WORK/b" sh -c 'echo detached-output; exec sleep 1000'
	run_ct "$CT" "$WORK/b" --pid-file "$WORK/pid"
	[ "$(ct_status "$CT")" = running ]
	pid=$(ct_state "$CT" pid)
	[ "$(cat "$WORK/pid")" = "$pid" ]
	pid_alive "$pid"
	# The detached container writes to the stdio run had.
	wait_output "$WORK/$CT.out" detached-output
	rt kill "$CT" KILL
	wait_status "$CT" stopped
	delete_ct "$CT"
}

@test "run --keep: the stopped container stays for state and delete" {
	require_containers
	make_bundle "$WORK/b" sh -c 'exit 7'
	run_rt run --keep --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 7 ]
	run_rt state "$CT"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.status == "stopped"'
	run_rt delete "$CT"
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/$CT" ]
}

@test "a terminal through --console-socket: size from process.consoleSize, input and output" {
	require_containers
	make_bundle "$WORK/b" sh -c 'stty size; tty; read line; echo "got:$line"'
	bundle_edit "$WORK/b" '.process.terminal = true | .process.consoleSize = {height: 33, width: 77}'
	start_recvtty "$WORK/tty.sock" "$WORK/tty.out" --print-winsize --input $'hello\n'
	create_ct "$CT" "$WORK/b" --console-socket "$WORK/tty.sock"
	rt start "$CT"
	# recvtty ends when the last holder of the terminal's slave closes it.
	wait_recvtty
	tr -d '\r' <"$WORK/tty.out" >"$WORK/tty.txt"
	cat "$WORK/tty.txt"
	# The master the runtime handed over already has the size...
	[ "$(head -n1 "$WORK/tty.txt")" = "33 77" ]
	# ...and so does the terminal the process sees.
	[ "$(grep -c '^33 77$' "$WORK/tty.txt")" -eq 2 ]
	grep -qE '^/dev/pts/[0-9]+$' "$WORK/tty.txt"
	grep -qx 'got:hello' "$WORK/tty.txt"
	# Nothing of the terminal's output went to create's stdio.
	[ ! -s "$WORK/$CT.out" ]
	wait_status "$CT" stopped
	delete_ct "$CT"
}

@test "a terminal through --console-socket: resizes reach the process, before start and while it runs" {
	require_containers
	# The size set before start is the one the process starts with; then,
	# once it says ready, recvtty resizes again and the process waits to
	# see it (a resize is a signal, which may take a moment to land).
	make_bundle "$WORK/b" sh -c 'stty size; echo ready; i=0
		while [ "$(stty size)" != "44 99" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		stty size'
	bundle_edit "$WORK/b" '.process.terminal = true | .process.consoleSize = {height: 33, width: 77}'
	start_recvtty "$WORK/tty.sock" "$WORK/tty.out" --winsize 40x100 --resize-on ready=44x99
	create_ct "$CT" "$WORK/b" --console-socket "$WORK/tty.sock"
	rt start "$CT"
	wait_recvtty
	tr -d '\r' <"$WORK/tty.out" >"$WORK/tty.txt"
	cat "$WORK/tty.txt"
	[ "$(head -n 1 "$WORK/tty.txt")" = "40 100" ]
	[ "$(tail -n 1 "$WORK/tty.txt")" = "44 99" ]
	wait_status "$CT" stopped
	delete_ct "$CT"
}

@test "run: a program that cannot be executed fails run with a message naming it" {
	require_containers
	make_bundle "$WORK/b" /no/such/program
	run_rt run --bundle "$WORK/b" "$CT" </dev/null
	# runc fails the run itself (status 1), rather than a status from the
	# process; husk must report the guest's exec failure the same way.
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"/no/such/program"* ]]
	[[ "$stderr" == *"no such file or directory"* ]]
	run_rt list -q
	[ -z "$output" ]
}

# ---------------------------------------------------------------------------
# Errors clients match on (no container gets to run)

@test "commands on an unknown id say 'container does not exist'" {
	local cmd
	for cmd in state start "kill" delete pause resume ps "events --stats" "update --pids-limit 10"; do
		# shellcheck disable=SC2086
		run_rt $cmd "$CT-nope"
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"container does not exist"* ]]
	done
	# exec fails with 255, as runc does for everything exec cannot start.
	run_rt exec "$CT-nope" true </dev/null
	[ "$status" -eq 255 ]
	[[ "$stderr" == *"container does not exist"* ]]
}

@test "commands given the wrong number of arguments say how many they take" {
	# runc's logrus line escapes the quotes around the command's name
	# (msg="runc: \"state\" requires ..."), so match around them.
	run_rt state
	[ "$status" -eq 1 ]
	[[ "$stderr" == *state*'requires exactly 1 argument(s)'* ]]
	run_rt start a b
	[ "$status" -eq 1 ]
	[[ "$stderr" == *start*'requires exactly 1 argument(s)'* ]]
	run_rt create
	[ "$status" -eq 1 ]
	[[ "$stderr" == *create*'requires exactly 1 argument(s)'* ]]
	run_rt kill
	[ "$status" -eq 1 ]
	[[ "$stderr" == *kill*'requires a minimum of 1 argument(s)'* ]]
	run_rt kill a b c
	[ "$status" -eq 1 ]
	[[ "$stderr" == *kill*'requires a maximum of 2 argument(s)'* ]]
	run_rt exec
	[ "$status" -eq 1 ]
	[[ "$stderr" == *exec*'requires a minimum of 1 argument(s)'* ]]
}

@test "create: a missing bundle directory is an error naming it" {
	run_rt create --bundle "$WORK/no-such-bundle" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"$WORK/no-such-bundle"* ]]
	[[ "$stderr" == *"no such file or directory"* ]]
}

@test "create and run: a bundle without config.json says so" {
	mkdir -p "$WORK/empty"
	run_rt create --bundle "$WORK/empty" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"JSON specification file config.json not found"* ]]
	# Without --bundle the bundle is the current directory.
	cd "$WORK/empty"
	run_rt run "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"JSON specification file config.json not found"* ]]
}

@test "create: config.json that is not JSON fails with a message" {
	make_bundle "$WORK/b"
	echo '{"ociVersion": "1.0.2", bad' >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[ -n "$stderr" ]
	# runc's text is Go's decoder error ("invalid character 'b' looking for
	# beginning of object key string"); husk names the file.
	[ "$RUNTIME" = runc ] || [[ "$stderr" == *config.json* ]]
}

@test "create: bad config.json fields fail with messages naming them" {
	make_bundle "$WORK/b"
	cp "$WORK/b/config.json" "$WORK/good.json"

	jq '.process.args = "sleep 1000"' "$WORK/good.json" >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# runc: "json: cannot unmarshal string into Go struct field
	# Process.process.args of type []string"
	[[ "$stderr" == *"process.args"* ]]

	jq '.process.args = []' "$WORK/good.json" >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# husk names the JSON path: "process.args: must not be empty".
	[[ "$stderr" == *"args must not be empty"* || "$stderr" == *"process.args: must not be empty"* ]]

	jq 'del(.process)' "$WORK/good.json" >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# husk: "process: required".
	[[ "$stderr" == *"process property must not be empty"* || "$stderr" == *"process: required"* ]]

	jq '.process.cwd = "relative/dir"' "$WORK/good.json" >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# husk: "process.cwd: must be an absolute path".
	[[ "$stderr" == *"Cwd must be an absolute path"* || "$stderr" == *"process.cwd: must be an absolute path"* ]]

	jq '.root.path = "no-such-rootfs"' "$WORK/good.json" >"$WORK/b/config.json"
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"invalid rootfs"* ]]
	[[ "$stderr" == *"no-such-rootfs"* ]]

	if [ "$RUNTIME" = husk ]; then
		# runc finds these only when the kernel refuses the value.
		jq '.linux.resources.cpu.cpus = "0-"' "$WORK/good.json" >"$WORK/b/config.json"
		run_rt create --bundle "$WORK/b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ "$stderr" == *'linux.resources.cpu.cpus: '*'0-'*' is not a cpuset list'* ]]
		jq '.linux.resources.cpu.mems = "2-1"' "$WORK/good.json" >"$WORK/b/config.json"
		run_rt create --bundle "$WORK/b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ "$stderr" == *'linux.resources.cpu.mems: '*'2-1'*': range 2-1 runs backwards'* ]]
		# Refused on the host, before a VM boots: a guest would run the
		# process as its real root with none of the id mappings.
		jq '.linux.namespaces += [{"type": "user"}]' "$WORK/good.json" >"$WORK/b/config.json"
		run_rt create --bundle "$WORK/b" "$CT" </dev/null
		[ "$status" -eq 1 ]
		[[ "$stderr" == *'linux.namespaces['*']: a user namespace'*'not supported'* ]]
	fi

	# None of them left a container behind.
	run_rt list -q
	[ -z "$output" ]
}

@test "create: container ids must be non-empty and well-formed" {
	make_bundle "$WORK/b"
	run_rt create --bundle "$WORK/b" "" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"container id cannot be empty"* ]]
	run_rt create --bundle "$WORK/b" "../$CT" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"invalid container ID format"* ]]
	run_rt create --bundle "$WORK/b" "a/b" </dev/null
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"invalid container ID format"* ]]
	[ ! -e "$WORK/$CT" ]
}

@test "create: a terminal needs a console socket and a console socket needs a terminal" {
	make_bundle "$WORK/b"
	bundle_edit "$WORK/b" '.process.terminal = true'
	run_rt create --bundle "$WORK/b" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# runc: "cannot allocate tty if runc will detach without setting console socket"
	[[ "$stderr" == *"console socket"* ]]

	bundle_edit "$WORK/b" '.process.terminal = false'
	run_rt create --bundle "$WORK/b" --console-socket "$WORK/tty.sock" "$CT" </dev/null
	[ "$status" -eq 1 ]
	# runc: "cannot use console socket if runc will not detach or allocate tty"
	[[ "$stderr" == *"console socket"* ]]
}
