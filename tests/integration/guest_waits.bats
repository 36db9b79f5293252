#!/usr/bin/env bats
# Waits on a guest that stays silent (issue 15), on this host, without a
# VM: a fake container whose "VMM" is a sleeping process and whose control
# socket accepts and never answers. start must give up after its bound,
# and kill, state and ps must not wait for it meanwhile.

load helpers

# fake_container ID: state for ID under $WORK/root, its pid a background
# sleep ($FAKE_PID), and a control socket a python listener serves without
# answering until $WORK/ID.answer exists; $WORK/ID.got appears once a
# request arrived.
fake_container() {
	local id=$1 dir=$WORK/root/$1 start
	mkdir -p "$dir" "$WORK/bundle/rootfs"
	chmod 700 "$WORK/root" "$dir"
	echo '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}' \
		>"$WORK/bundle/config.json"
	# create's saved copy of the config, which start reads (never the bundle)
	install -m 0600 "$WORK/bundle/config.json" "$dir/config.json"
	bg "$WORK/sleep.out" sleep 1000
	FAKE_PID=$BG_PID
	start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$FAKE_PID/stat")
	jq -n --arg id "$id" --arg b "$WORK/bundle" --argjson pid "$FAKE_PID" \
		--argjson st "$start" '{id: $id, pid: $pid, pid_start: $st, bundle: $b,
		rootfs: ($b + "/rootfs"), created: "2026-01-01T00:00:00Z", cgroup_path: "",
		owner: 0, started: false, annotations: {}}' >"$dir/state.json"
	bg "$WORK/ctl.out" python3 -c '
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
c, _ = s.accept()
hdr = c.recv(16)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.1)
# READY (16) for the START, as the VMM would send it.
c.send(hdr[:6] + struct.pack("<H", 16) + hdr[8:12] + bytes(4))
time.sleep(1000)
' "$dir/ctl" "$WORK/$id.got" "$WORK/$id.answer"
	wait_until 10 test -S "$dir/ctl"
}

@test "start on a guest that never answers: kill, state and ps go on meanwhile; start fails after its bound" {
	fake_container ct1
	HUSK_START_TIMEOUT=4 bg "$WORK/start.out" timeout 60 "$HUSK" --root "$WORK/root" start ct1
	start_pid=$BG_PID
	wait_until 10 test -e "$WORK/ct1.got"
	# While start waits: none of these may wait for it.
	run timeout 3 "$HUSK" --root "$WORK/root" state ct1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .status)" = created ]
	run timeout 3 "$HUSK" --root "$WORK/root" ps --format json ct1
	[ "$status" -eq 0 ]
	[ "$output" = "[$FAKE_PID]" ]
	run timeout 3 "$HUSK" --root "$WORK/root" kill ct1 KILL
	[ "$status" -eq 0 ]
	wait_until 10 _pid_gone "$FAKE_PID"
	# start gives up with runc's status for an error, naming what the
	# guest did not do.
	status=0
	wait "$start_pid" || status=$?
	cat "$WORK/start.out.err"
	[ "$status" -eq 1 ]
	grep -q "did not answer START with READY within 4 s" "$WORK/start.out.err"
	run timeout 10 "$HUSK" --root "$WORK/root" delete ct1
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/ct1" ]
}

@test "delete --force while start waits on a silent guest: start fails, the container is gone" {
	fake_container ct2
	HUSK_START_TIMEOUT=30 bg "$WORK/start.out" timeout 60 "$HUSK" --root "$WORK/root" start ct2
	start_pid=$BG_PID
	wait_until 10 test -e "$WORK/ct2.got"
	run timeout 5 "$HUSK" --root "$WORK/root" delete --force ct2
	[ "$status" -eq 0 ]
	[ ! -e "$WORK/root/ct2" ]
	# The guest answers after all: start finds the container gone
	# instead of recording it as started.
	touch "$WORK/ct2.answer"
	status=0
	wait "$start_pid" || status=$?
	cat "$WORK/start.out.err"
	[ "$status" -eq 1 ]
	grep -q "container does not exist" "$WORK/start.out.err"
	[ ! -e "$WORK/root/ct2" ]
}

@test "HUSK_START_TIMEOUT must be a whole number of seconds" {
	fake_container ct3
	HUSK_START_TIMEOUT=0 run timeout 10 "$HUSK" --root "$WORK/root" start ct3
	[ "$status" -eq 1 ]
	[[ "$output" == *"HUSK_START_TIMEOUT"* ]]
}

@test "start on a guest that answers: the container is running" {
	fake_container ct4
	touch "$WORK/ct4.answer"
	run timeout 10 "$HUSK" --root "$WORK/root" start ct4
	[ "$status" -eq 0 ]
	[ "$(timeout 3 "$HUSK" --root "$WORK/root" state ct4 | jq -r .status)" = running ]
	run timeout 10 "$HUSK" --root "$WORK/root" delete --force ct4
	[ "$status" -eq 0 ]
}

@test "HUSK_BOOT_TIMEOUT must be a whole number of seconds: create and start refuse it, naming it" {
	mkdir -p "$WORK/b/rootfs" "$WORK/root"
	"$HUSK" spec --bundle "$WORK/b"
	bundle_edit "$WORK/b" '.process.terminal = false'
	for bad in 0 x 1.5 86401; do
		HUSK_BOOT_TIMEOUT=$bad run timeout 10 "$HUSK" --root "$WORK/root" create --bundle "$WORK/b" ct5
		[ "$status" -eq 1 ]
		[[ "$output" == *"HUSK_BOOT_TIMEOUT: "*"$bad"*" is not a whole number of seconds"* ]]
		[ ! -e "$WORK/root/ct5" ]
	done
	fake_container ct6
	HUSK_BOOT_TIMEOUT=x run timeout 10 "$HUSK" --root "$WORK/root" start ct6
	[ "$status" -eq 1 ]
	[[ "$output" == *"HUSK_BOOT_TIMEOUT"* ]]
}
