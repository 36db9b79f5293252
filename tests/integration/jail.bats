#!/usr/bin/env bats
# The VMM's jail (issue 15), without a guest: tests/tools/jail-probe
# confines itself exactly as create's VMM does and then acts as a VMM the
# guest took over would, one escape attempt per probe. Each escape listed
# here must be refused. What the probe still reaches is printed (without
# the jail, its own memory through /proc/self/mem; the jail's next step:
# an unprivileged uid) and is not yet asserted.

load helpers

setup() {
	setup_work
	[ "$(id -u)" = 0 ] || skip "the VMM's confinement needs root, as create does"
	PROBE=$(need_tool jail-probe)
}

# probe_verdicts [--jail]: runs the probe against a root-only socket and
# file of the test's; $output holds one "refused|reached NAME: ..." line
# per probe.
probe_verdicts() {
	mkdir -m 0700 "$WORK/private"
	echo secret >"$WORK/private/file"
	chmod 0600 "$WORK/private/file"
	bg "$WORK/listener.out" python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o600)
s.listen(8)
while True:
    s.accept()[0].close()
' "$WORK/private/sock"
	wait_until 10 test -S "$WORK/private/sock"
	run "$PROBE" "$@" --socket "$WORK/private/sock" --file "$WORK/private/file"
	[ "$status" -eq 0 ]
	echo "$output" | sed 's/^/# /' >&3
	[ "$(echo "$output" | grep -c '^\(refused\|reached\) ')" -eq 13 ]
}

refused() {
	echo "$output" | grep -q "^refused $1: " || {
		echo "escape '$1' was not refused: $(echo "$output" | grep " $1: ")" >&2
		return 1
	}
}

@test "jail: a taken-over VMM signals, traces, reads the memory of and execs nothing but its own" {
	probe_verdicts
	# Signals to another process, directly or as SIGIO through a
	# descriptor's owner (F_SETOWN, F_SETSIG).
	refused kill-other
	refused sigio-owner
	refused sigio-signal
	refused ptrace-other
	# Another VMM's memory: it is not dumpable, and CAP_SYS_PTRACE is gone.
	refused other-vmm-memory
	refused exec
	refused inet-socket
	# Out of its cgroup to the root, where no device or resource limit
	# holds: its cgroup namespace forbids it where the kernel checks that
	# (v2; v1 does not).
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		refused cgroup-root
	fi
	# Nothing the probe did outlives it.
	[ ! -e /etc/.husk-jail-probe ]
	[ ! -e /tmp/.husk-jail-probe-blk ]
}

# create puts the VMM in a root of its own (runtime/jail.h; HUSK_JAIL=0
# turns it off): the host's files, sockets and /sys are not there.
@test "jail: in its own root, a taken-over VMM reaches no host file, socket, device node or cgroup" {
	probe_verdicts --jail
	refused write-etc
	refused read-host-file
	refused connect-unix
	refused mknod-block
	refused cgroup-root
	refused kill-other
	refused sigio-owner
	refused other-vmm-memory
	# Its own memory, which /proc/self/mem writes through page
	# protections: the jail's /proc has only self/fd.
	refused own-memory
	refused exec
	[ ! -e /etc/.husk-jail-probe ]
	[ -z "$(find /tmp -maxdepth 1 -name 'husk-jail-probe.*')" ]
}
