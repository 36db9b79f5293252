#!/usr/bin/env bats
# husk-init, the guest's PID 1, builds the container from config.json and
# runs its process; `husk debug run` is the host end (issue 5).

load helpers

AGENT_INITRD=${HUSK_TEST_AGENT_INITRD:-$REPO_ROOT/build/guest/initramfs.cpio}

# The busybox rootfs, made once per file and copied per bundle: in the
# emulated box, a few hundred `ln` processes cost half a minute a bundle.
# `busybox --install -s /bin` chrooted into it makes the applet links in
# one process; where chroot is not allowed, a loop does.
agent_rootfs_template() {
	local t=$BATS_FILE_TMPDIR/agent-rootfs a
	if [ ! -e "$t/.done" ]; then
		rm -rf "$t"
		mkdir -p "$t"/{bin,tmp,etc,proc,sys,dev,work}
		cp /bin/busybox "$t/bin/busybox"
		if ! chroot "$t" /bin/busybox --install -s /bin 2>/dev/null; then
			for a in $(/bin/busybox --list); do
				[ "$a" = busybox ] || ln -sf busybox "$t/bin/$a"
			done
		fi
		touch "$t/.done"
	fi
	echo "$t"
}

# make_bundle [JQ-FILTER]: a busybox bundle from `husk spec` (no terminal,
# writable root unless the filter says otherwise), edited by the filter.
# Called again in one test, it keeps the rootfs and redoes the config.
make_bundle() {
	[ -r "$AGENT_INITRD" ] || skip "no $AGENT_INITRD (make guest-init)"
	B=$WORK/bundle
	local t
	t=$(agent_rootfs_template)
	mkdir -p "$B"
	if [ ! -d "$B/rootfs" ]; then
		cp -a "$t" "$B/rootfs"
		rm -f "$B/rootfs/.done"
	fi
	rm -f "$B/config.json"
	(cd "$B" && "$HUSK" spec)
	jq '.process.terminal = false | .root.readonly = false' "$B/config.json" >"$B/c.json"
	jq "${1:-.}" "$B/c.json" >"$B/config.json"
}

# args 'SHELL LINE': the jq filter setting the process to sh -c LINE.
args() {
	jq -n --arg l "$1" '["sh", "-c", $l]'
}

run_bundle() {
	run --separate-stderr timeout "$BOOT_TIMEOUT" "$HUSK" debug run --bundle "$B" \
		--kernel "$KERNEL" --initrd "$AGENT_INITRD" "$@" </dev/null
	# Shown when the test fails.
	echo "# status=$status"
	echo "# stdout: $output"
	echo "# stderr: $stderr"
}

# sh_bundle 'SHELL LINE' [JQ-FILTER]
sh_bundle() {
	make_bundle ".process.args = $(args "$1") | ${2:-.}"
}

@test "agent: stdout and stderr arrive exactly and apart" {
	sh_bundle 'echo out1; echo err1 >&2; printf "out2"; printf "err2\n" >&2'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "out1
out2" ]
	[ "$stderr" = "err1
err2" ]
}

@test "agent: exit codes 0, 1 and 42 become husk's" {
	for code in 0 1 42; do
		sh_bundle "exit $code"
		run_bundle
		[ "$status" -eq "$code" ]
	done
}

@test "agent: a command not found is 127 with the reason" {
	make_bundle '.process.args = ["no-such-command"]'
	run_bundle
	[ "$status" -eq 127 ]
	[[ "$stderr" == *'"no-such-command": executable file not found in $PATH'* ]]
}

@test "agent: a file that is not executable is 126 with the reason" {
	make_bundle '.process.args = ["/bin/not-exec"]'
	echo 'echo hi' >"$B/rootfs/bin/not-exec"
	chmod 0644 "$B/rootfs/bin/not-exec"
	run_bundle
	[ "$status" -eq 126 ]
	# Go's spelling, as runc prints it and podman matches it.
	[[ "$stderr" == *"exec /bin/not-exec: permission denied"* ]]
}

@test "agent: death by SIGTERM and SIGKILL is reported as such" {
	# In its own pid namespace the process is that namespace's init, which
	# signals from inside cannot kill (as with runc): run it without one.
	sh_bundle 'kill -TERM $$' '.linux.namespaces |= map(select(.type != "pid"))'
	run_bundle
	[ "$status" -eq 143 ]
	sh_bundle 'kill -KILL $$' '.linux.namespaces |= map(select(.type != "pid"))'
	run_bundle
	[ "$status" -eq 137 ]
}

@test "agent: env and cwd" {
	sh_bundle 'echo "$FOO"; pwd' '.process.env = ["PATH=/bin", "FOO=bar baz"] | .process.cwd = "/work"'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "bar baz
/work" ]
}

@test "agent: uid, gid, additional groups and umask" {
	sh_bundle 'id; umask' '.process.user = {uid: 1000, gid: 1001, additionalGids: [10, 20], umask: 63}'
	run_bundle
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "uid=1000 gid=1001 groups=10,20" ]
	[ "${lines[1]}" = "0077" ]
}

@test "agent: capabilities in /proc/self/status match the spec" {
	# husk spec's defaults: CAP_AUDIT_WRITE (29), CAP_KILL (5),
	# CAP_NET_BIND_SERVICE (10) in bounding, effective and permitted.
	sh_bundle 'grep ^Cap /proc/self/status' '.process.capabilities.inheritable = ["CAP_KILL"] | .process.capabilities.ambient = ["CAP_KILL"]'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$output" == *"CapInh:	0000000000000020"* ]]
	[[ "$output" == *"CapPrm:	0000000020000420"* ]]
	[[ "$output" == *"CapEff:	0000000020000420"* ]]
	[[ "$output" == *"CapBnd:	0000000020000420"* ]]
	[[ "$output" == *"CapAmb:	0000000000000020"* ]]
}

@test "agent: a non-root user keeps only what the spec gives" {
	sh_bundle 'grep ^Cap /proc/self/status' '.process.user = {uid: 1000, gid: 1000} | .process.capabilities = {bounding: ["CAP_CHOWN"], effective: [], permitted: []}'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$output" == *"CapEff:	0000000000000000"* ]]
	[[ "$output" == *"CapBnd:	0000000000000001"* ]]
}

@test "agent: a seccomp profile denies mkdir with EPERM" {
	# No errnoRet: the action's errno is EPERM.
	sh_bundle 'mkdir /tmp/a && echo MADE; touch /tmp/f && echo TOUCHED' \
		'.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO"}]}'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"Operation not permitted"* ]]
	[[ "$output" != *MADE* ]]
	[[ "$output" == *TOUCHED* ]]
}

@test "agent: seccomp errnoRet is the errno the denied call gets" {
	# 13 (EACCES), not the default EPERM (1).
	sh_bundle 'mkdir /tmp/a && echo MADE; touch /tmp/f && echo TOUCHED' \
		'.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"can't create directory '/tmp/a': Permission denied"* ]]
	[[ "$output" != *MADE* ]]
	[[ "$output" == *TOUCHED* ]]
}

@test "agent: seccomp defaultErrnoRet is what a call no rule allows gets" {
	# Every x86_64 syscall allowed but mkdir and mkdirat, which fall to the
	# default action: ERRNO with defaultErrnoRet 38 (ENOSYS).
	allowed=$(sed -n 's/^#define __NR_\([a-z0-9_]*\) .*/\1/p' /usr/include/x86_64-linux-gnu/asm/unistd_64.h |
		grep -vx -e mkdir -e mkdirat | jq -R . | jq -s .)
	[ "$(jq length <<<"$allowed")" -gt 300 ]
	sh_bundle 'mkdir /tmp/a && echo MADE; touch /tmp/f && echo TOUCHED' \
		".linux.seccomp = {defaultAction: \"SCMP_ACT_ERRNO\", defaultErrnoRet: 38, architectures: [\"SCMP_ARCH_X86_64\"], syscalls: [{names: $allowed, action: \"SCMP_ACT_ALLOW\"}]}"
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"can't create directory '/tmp/a': Function not implemented"* ]]
	[[ "$output" != *MADE* ]]
	[[ "$output" == *TOUCHED* ]]
}

@test "agent: a seccomp rule with an argument comparison denies only matching calls" {
	# kill(pid, SIGUSR1) is refused with EACCES; kill(pid, 0) is not.
	sh_bundle 'kill -0 $$ && echo ZERO-OK; kill -USR1 $$ && echo USR1-SENT; echo done' \
		'.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{index: 1, value: 10, op: "SCMP_CMP_EQ"}]}]}'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$output" == *ZERO-OK* ]]
	[[ "$output" != *USR1-SENT* ]]
	[[ "$stderr" == *"Permission denied"* ]]
	[ "${lines[-1]}" = done ]
}

@test "agent: an exec'd process inherits the container's seccomp filter" {
	sh_bundle 'echo up; sleep 6' \
		'.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13}]}'
	jq -n '{cwd: "/", env: ["PATH=/bin"], noNewPrivileges: true, args: ["sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/e && echo MADE; echo exec-done"]}' >"$WORK/exec.json"
	run_bundle --exec "$WORK/exec.json" --exec-on-output
	[ "$status" -eq 0 ]
	[[ "$output" == *"Seccomp:	2"* ]]
	[[ "$output" == *exec-done* ]]
	[[ "$output" != *MADE* ]]
	[[ "$stderr" == *"can't create directory '/tmp/e': Permission denied"* ]]
	[[ "$stderr" == *"husk-exec id=1 code=0 signal=0"* ]]
}

@test "agent: rlimits" {
	sh_bundle 'ulimit -Sn; ulimit -Hn' '.process.rlimits = [{type: "RLIMIT_NOFILE", soft: 123, hard: 456}]'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "123
456" ]
}

@test "agent: masked and read-only paths" {
	# A directory is covered by an empty tmpfs, a file by /dev/null;
	# paths that do not exist (the guest has no /proc/kcore) are skipped.
	sh_bundle 'ls /secret | wc -l; wc -c </hidden; touch /ro/x 2>&1 || echo RO-REFUSED; cat /ro/file' \
		'.linux.maskedPaths = ["/secret", "/hidden", "/proc/kcore"] | .linux.readonlyPaths = ["/ro"]'
	mkdir -p "$B/rootfs/secret" "$B/rootfs/ro"
	echo s >"$B/rootfs/secret/file"
	echo hidden >"$B/rootfs/hidden"
	echo readable >"$B/rootfs/ro/file"
	run_bundle
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[[ "$output" == *"Read-only file system"* ]]
	[[ "$output" == *RO-REFUSED* ]]
	[ "${lines[-1]}" = readable ]
}

@test "agent: root.readonly makes / read-only" {
	sh_bundle 'touch /x 2>/dev/null && echo WROTE || echo REFUSED' '.root.readonly = true'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = REFUSED ]
}

@test "agent: hostname and domainname" {
	sh_bundle 'hostname; cat /proc/sys/kernel/domainname' '.hostname = "husk-test" | .domainname = "example.org"'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "husk-test
example.org" ]
}

@test "agent: a terminal with the config's window size" {
	sh_bundle '[ -t 0 ] && [ -t 1 ] && echo TTY; stty size' '.process.terminal = true | .process.consoleSize = {height: 40, width: 100}'
	run_bundle
	[ "$status" -eq 0 ]
	output=${output//$'\r'/}
	[[ "$output" == *TTY* ]]
	[[ "$output" == *"40 100"* ]]
}

@test "agent: orphans are reaped (double fork)" {
	# Without a pid namespace the orphans' parent is husk-init itself.
	sh_bundle '(sleep 0.2 &); (sleep 0.2 &); (sh -c "sleep 0.2 &" &); sleep 2; grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l' \
		'.linux.namespaces |= map(select(.type != "pid"))'
	run_bundle
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = 0 ]
}

@test "agent: mounts from the config (tmpfs with options, proc, mqueue, devpts)" {
	sh_bundle 'grep -E " /(scratch|dev/pts|dev/mqueue|proc) " /proc/mounts; ls -l /dev/null /dev/zero /dev/ptmx /dev/fd' \
		'.mounts += [{destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "noexec", "size=1m", "mode=700"]}]'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$output" == *"tmpfs /scratch tmpfs rw,nosuid,nodev,noexec"*"size=1024k,mode=700"* ]] ||
		[[ "$output" == *"/scratch tmpfs rw,nosuid"*"noexec"*"mode=700"* ]]
	[[ "$output" == *"devpts /dev/pts devpts"* ]]
	[[ "$output" == *"/dev/mqueue mqueue"* ]]
	[[ "$output" == *"ptmx -> pts/ptmx"* ]]
}

@test "agent: a bad config.json is refused on the host with the JSON path" {
	make_bundle '.process.args = ["sh", 5]'
	run_bundle
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"process.args[1]: must be a string"* ]]
}

@test "agent: 100 concurrent execs each run and report their exit" {
	sh_bundle 'sleep 25' '.linux.namespaces |= map(select(.type != "pid"))'
	jq -n '{cwd: "/", env: ["PATH=/bin"], args: ["sh", "-c", "echo exec-out; exit 7"]}' >"$WORK/exec.json"
	run_bundle --cpus 2 --exec "$WORK/exec.json" --exec-count 100
	[ "$status" -eq 0 ]
	[ "$(grep -c '^exec-out$' <<<"$output")" -eq 100 ]
	[ "$(grep -c 'husk-exec id=[0-9]* code=7 signal=0' <<<"$stderr")" -eq 100 ]
}

@test "agent: exec joins the container's namespaces" {
	# Not a lone "sleep 20": sh would exec it and be gone from cmdline.
	sh_bundle 'sleep 20; exit 0' '.hostname = "inside"'
	jq -n '{cwd: "/", env: ["PATH=/bin"], args: ["sh", "-c", "hostname; tr \"\\0\" \" \" </proc/1/cmdline; echo; ls /secret-marker"]}' >"$WORK/exec.json"
	touch "$B/rootfs/secret-marker"
	run_bundle --exec "$WORK/exec.json"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = inside ]
	# pid 1 of the pid namespace it joined is the container's process.
	[ "${lines[1]}" = "sh -c sleep 20; exit 0 " ]
	[ "${lines[2]}" = /secret-marker ]
	[[ "$stderr" == *"husk-exec id=1 code=0 signal=0"* ]]
}

@test "agent: PS lists the container's pids, STATS reads its cgroup" {
	# --probe asks once the process is set up (READY): one pid so far.
	sh_bundle 'sleep 6' '.linux.resources = {memory: {limit: 67108864}, pids: {limit: 32}}'
	run_bundle --probe
	[ "$status" -eq 0 ]
	[[ "$stderr" =~ husk-ps\ ([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -gt 1 ]
	[[ "$stderr" =~ husk-stats\ memory_current=([0-9]+)\ cpu_usage_usec=([0-9]+)\ pids_current=([0-9]+)\ memory_max=([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -gt 0 ]
	[ "${BASH_REMATCH[3]}" -ge 1 ]
	[ "${BASH_REMATCH[4]}" -eq 67108864 ]
}

@test "agent: the rootfs over virtio-fs (--share-rootfs)" {
	sh_bundle 'cat /marker; echo new >/written && cat /written'
	echo from-the-host >"$B/rootfs/marker"
	run_bundle --share-rootfs
	[ "$status" -eq 0 ]
	[ "$output" = "from-the-host
new" ]
	# The guest's writes land in the bundle, as runc's do.
	[ "$(cat "$B/rootfs/written")" = new ]
}

@test "agent: a time namespace is created, and the process runs and exits" {
	# CLONE_NEWTIME is 0x80, inside legacy clone()'s exit-signal byte.
	sh_bundle 'echo "main $(readlink /proc/self/ns/time)"; sleep 3; exit 5' \
		'.linux.namespaces += [{type: "time"}]'
	jq -n '{cwd: "/", env: ["PATH=/bin"], args: ["sh", "-c", "echo exec $(readlink /proc/self/ns/time)"]}' >"$WORK/exec.json"
	run_bundle --exec "$WORK/exec.json" --exec-on-output
	[ "$status" -eq 5 ]
	read -r _ ns < <(grep '^main ' <<<"$output")
	[[ "$ns" == time:\[* ]]
	# Not the initial time namespace (the kernel's PROC_TIME_INIT_INO).
	[ "$ns" != "time:[4026531834]" ]
	# The exec joins the container's time namespace.
	[ "$(grep '^exec ' <<<"$output")" = "exec $ns" ]
	[[ "$stderr" == *"husk-exec id=1 code=0 signal=0"* ]]
}

@test "agent: an exec after the pid counter wraps is not given an old orphan's exit" {
	# A small pid_max, then orphans (exit 9) all over the pid range: the
	# execs' processes get pids that orphans had, and must report their
	# own exit (7), not an orphan's.
	# After a wrap pids restart at 300: with pid_max 512 the orphans' last
	# few hundred pids are all there is.
	sh_bundle 'i=0; while [ $i -lt 300 ]; do (sh -c "exit 9" &); i=$((i+1)); done; echo go; sleep 6' \
		'.linux.namespaces |= map(select(.type != "pid")) | .linux.sysctl = {"kernel.pid_max": "512"}'
	jq -n '{cwd: "/", env: ["PATH=/bin"], args: ["sh", "-c", "exit 7"]}' >"$WORK/exec.json"
	run_bundle --exec "$WORK/exec.json" --exec-count 20 --exec-on-output
	[ "$status" -eq 0 ]
	[ "$(grep -c 'husk-exec id=[0-9]* code=7 signal=0' <<<"$stderr")" -eq 20 ]
	[ "$(grep -c 'husk-exec' <<<"$stderr")" -eq 20 ]
}

@test "agent: an exec refused as too many processes still gets its EXIT" {
	# husk-init keeps 160 process slots, the container's own included.
	sh_bundle 'echo go; sleep 30' '.linux.namespaces |= map(select(.type != "pid"))'
	jq -n '{cwd: "/", env: ["PATH=/bin"], args: ["sleep", "15"]}' >"$WORK/exec.json"
	run_bundle --cpus 2 --memory 512 --exec "$WORK/exec.json" --exec-count 170 --exec-on-output
	[ "$status" -eq 0 ]
	refused=$(grep -c 'exec: too many processes' <<<"$stderr")
	[ "$refused" -ge 11 ]
	# Every exec ends: the refused ones with status 1.
	[ "$(grep -c 'husk-exec id=[0-9]* code=1 signal=0' <<<"$stderr")" -eq "$refused" ]
	[ "$(grep -c 'husk-exec id=[0-9]* code=0 signal=0' <<<"$stderr")" -eq $((170 - refused)) ]
}

@test "agent: sysctl from the spec is set in the container" {
	sh_bundle 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax' \
		'.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "1
12345" ]
}

@test "agent: oomScoreAdj, noNewPrivileges and the seccomp mode in /proc/self/status" {
	sh_bundle 'cat /proc/self/oom_score_adj; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status' \
		'.process.oomScoreAdj = 123 | .process.noNewPrivileges = true | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["mkdir"], action: "SCMP_ACT_ERRNO"}]}'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "123
NoNewPrivs:	1
Seccomp:	2" ]
	sh_bundle 'cat /proc/self/oom_score_adj; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status' \
		'.process.oomScoreAdj = -17 | .process.noNewPrivileges = false | del(.linux.seccomp)'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "-17
NoNewPrivs:	0
Seccomp:	0" ]
}

@test "agent: a terminal resized while the process runs" {
	sh_bundle 'stty size; i=0; while [ "$(stty size)" = "40 100" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; stty size' \
		'.process.terminal = true | .process.consoleSize = {height: 40, width: 100}'
	run_bundle --resize 25x132
	[ "$status" -eq 0 ]
	output=${output//$'\r'/}
	mapfile -t lines <<<"$output"
	[ "${lines[0]}" = "40 100" ]
	[ "${lines[-1]}" = "25 132" ]
}

@test "agent: mount propagation options reach the mount" {
	sh_bundle 'grep -E " /(shared|slave|private) " /proc/self/mountinfo' \
		'.mounts += [{destination: "/shared", type: "tmpfs", source: "tmpfs", options: ["rshared"]},
			     {destination: "/private", type: "tmpfs", source: "tmpfs", options: ["private"]}]'
	run_bundle
	[ "$status" -eq 0 ]
	[[ "$(grep ' /shared ' <<<"$output")" == *" shared:"* ]]
	[[ "$(grep ' /private ' <<<"$output")" != *" shared:"* ]]
	[[ "$(grep ' /private ' <<<"$output")" != *" master:"* ]]
}

@test "agent: SIGNAL to all processes with a non-KILL signal reaches each one's trap" {
	# The container's process and a child of it, each with a TERM trap.
	# The child says "up" once both traps are set: then the host signals.
	sh_bundle 'trap "echo main-got-term" TERM; sh -c "trap \"echo child-got-term; exit 0\" TERM; echo up; while :; do sleep 0.1; done" & wait; wait; echo main-done; exit 3' \
		'.linux.namespaces |= map(select(.type != "pid"))'
	run_bundle --signal-all 15
	[ "$status" -eq 3 ]
	[[ "$output" == *child-got-term* ]]
	[[ "$output" == *main-got-term* ]]
	[ "${lines[-1]}" = main-done ]
}

@test "agent: linux.devices are made in the container with their mode and owner" {
	sh_bundle 'echo data >/dev/mynull && wc -c </dev/mynull; stat -c "%A %u %g %t %T %n" /dev/mynull /dev/sub/myzero /dev/myfifo; head -c 4 /dev/sub/myzero | wc -c' \
		'.linux.devices = [{path: "/dev/mynull", type: "c", major: 1, minor: 3, fileMode: 438, uid: 1000, gid: 1001},
			{path: "/dev/sub/myzero", type: "c", major: 1, minor: 5},
			{path: "/dev/myfifo", type: "p", fileMode: 384}]'
	run_bundle
	[ "$status" -eq 0 ]
	# It works as /dev/null: what is written vanishes, a read is empty.
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = "crw-rw-rw- 1000 1001 1 3 /dev/mynull" ]
	[ "${lines[2]}" = "crw-rw-rw- 0 0 1 5 /dev/sub/myzero" ]
	[ "${lines[3]}" = "prw------- 0 0 0 0 /dev/myfifo" ]
	[ "${lines[-1]}" = 4 ]
}

@test "agent: a bad linux.devices entry is refused naming its JSON path" {
	make_bundle '.linux.devices = [{path: "/dev/x", type: "q", major: 1, minor: 3}]'
	run_bundle
	[ "$status" -eq 1 ]
	# The host's log line escapes the quotes around "q".
	[[ "$stderr" == *'linux.devices[0].type: '*'q'*' is not a device type (c, b, u or p)'* ]]
}

@test "agent: what the container wrote just before it exits is all on the host" {
	# Written and exit at once: husk-init unmounts the shares (virtio-fs
	# finishes its requests) and syncs before the VM powers off.
	sh_bundle 'dd if=/dev/urandom of=/big bs=64k count=128 2>/dev/null; md5sum /big; echo tail >>/log'
	run_bundle --share-rootfs
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$B/rootfs/big")" -eq 8388608 ]
	[ "$(md5sum <"$B/rootfs/big" | cut -d' ' -f1)" = "$(cut -d' ' -f1 <<<"${lines[0]}")" ]
	[ "$(cat "$B/rootfs/log")" = tail ]
}

@test "agent: tmpcopyup fills the tmpfs with what the directory held" {
	sh_bundle 'grep " /seed " /proc/mounts | cut -d" " -f3; cat /seed/file /seed/sub/deep; readlink /seed/link; stat -c "%a %u" /seed /seed/file; echo new >/seed/added && cat /seed/added' \
		'.mounts += [{destination: "/seed", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "nosuid"]}]'
	mkdir -p "$B/rootfs/seed/sub"
	echo from-image >"$B/rootfs/seed/file"
	echo deeper >"$B/rootfs/seed/sub/deep"
	ln -s file "$B/rootfs/seed/link"
	chmod 0751 "$B/rootfs/seed"
	chmod 0640 "$B/rootfs/seed/file"
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "tmpfs
from-image
deeper
file
751 0
640 0
new" ]
}

@test "agent: rro makes a bind mount read-only with the mounts below it" {
	# /outer/inner is a mount of its own under /outer; the rbind of
	# /outer (its path in husk-init's view of the rootfs) carries both.
	sh_bundle 'touch /view/x 2>/dev/null && echo TOP-WRITABLE; touch /view/inner/x 2>/dev/null && echo INNER-WRITABLE; touch /outer/inner/y && echo SOURCE-WRITABLE; grep " /view/inner " /proc/mounts | cut -d" " -f4 | cut -d, -f1' \
		'.mounts += [{destination: "/outer", type: "tmpfs", source: "tmpfs"},
			     {destination: "/outer/inner", type: "tmpfs", source: "tmpfs"},
			     {destination: "/view", type: "bind", source: "/run/husk/rootfs/outer", options: ["rbind", "rro"]}]'
	run_bundle
	[ "$status" -eq 0 ]
	[ "$output" = "SOURCE-WRITABLE
ro" ]
}

@test "agent: a user namespace is refused at create, naming the namespace" {
	make_bundle '.linux.namespaces += [{type: "user"}] | .linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}] | .linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]'
	n=$(jq '.linux.namespaces | length - 1' "$B/config.json")
	run_bundle
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"linux.namespaces[$n]: a user namespace (uid/gid mappings) is not supported in husk's guest"* ]]
	[[ "$output" == "" ]]
}

@test "agent: a namespace path (a pod's) leaves the process in the guest's own namespace" {
	# As CRI passes the sandbox's ipc, uts and pid namespaces: the process
	# is not pid 1 of a new pid namespace; husk-init, the guest's pid 1,
	# stands where the sandbox's process would.
	sh_bundle 'echo $$; tr "\0" " " </proc/1/cmdline; echo; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts' \
		'.linux.namespaces = [{type: "mount"}, {type: "pid", path: "/proc/1/ns/pid"}, {type: "ipc", path: "/proc/1/ns/ipc"}, {type: "uts", path: "/proc/1/ns/uts"}]'
	run_bundle
	[ "$status" -eq 0 ]
	[ "${lines[0]}" -gt 1 ]
	[[ "${lines[1]}" == /init* ]]
	# The initial namespaces (the kernel's PROC_IPC_INIT_INO, PROC_UTS_INIT_INO).
	[ "${lines[2]}" = "ipc:[4026531839]" ]
	[ "${lines[3]}" = "uts:[4026531838]" ]
}
