# Shared set-up for the bats suites. HUSK is the binary under test (the
# Makefile exports it); every test gets its own scratch directory.
#
# The lifecycle suites (lifecycle.bats, exec.bats, ops.bats) drive a runtime
# through `rt` and can run against runc, the behaviour oracle:
#   RUNTIME=husk (default)  the binary $HUSK
#   RUNTIME=runc            runc (or $RUNC)
#   RUNTIME=/path/to/other  any runtime with runc's command line
# Every container a test makes lives under --root "$WORK/root", so tests
# never see other containers, and teardown deletes what is left and fails
# the test if the container leaked (leak_check below).

: "${HUSK:=$BATS_TEST_DIRNAME/../../build/husk}"
REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
source "$REPO_ROOT/tests/lib/retry.bash"

: "${RUNTIME:=husk}"
case $RUNTIME in
husk) RUNTIME_BIN=$HUSK ;;
runc) RUNTIME_BIN=${RUNC:-runc} ;;
*) RUNTIME_BIN=$RUNTIME ;;
esac

# Seconds to wait for anything a container does (boot, output, a state
# change). Generous, since a husk container boots a VM inside an emulated
# box; waits return as soon as the condition holds.
: "${WAIT_TIMEOUT:=60}"
# Upper bound for one runtime command, so a hang fails one test, not the run.
: "${RT_TIMEOUT:=120}"
# Seconds teardown allows for processes and cgroups to go after delete.
: "${LEAK_WAIT:=10}"
# The static busybox the bundle fixture copies (Debian: busybox-static).
: "${BUSYBOX:=/bin/busybox}"
# The console-socket receiver (tests/tools/recvtty.c), built on demand.
: "${RECVTTY:=$REPO_ROOT/build/tools/recvtty}"

# setup_work: the test's scratch directory and the id everything it makes
# starts with; suites with a setup() of their own call it too.
setup_work() {
	WORK=$(mktemp -d "${BATS_TMPDIR:-/tmp}/husk-test.XXXXXX")
	# Unique to this test: container ids and cgroup names start with it,
	# so the leak check can look for it anywhere on the host.
	TEST_ID=ht-${WORK##*.}
	CT=$TEST_ID
}

setup() {
	setup_work
}

teardown() {
	local rc=0
	retry_note
	cd / || true
	[ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
	stop_pids "$WORK/.tools"
	if [ -e "$WORK/.containers" ]; then
		cleanup_containers
		wait_pids "$WORK/.bg" "$LEAK_WAIT"
		leak_check || rc=1
	fi
	stop_pids "$WORK/.bg"
	# --one-file-system: a leaked mount under $WORK must not be emptied.
	rm -rf --one-file-system "$WORK" 2>/dev/null || rc=1
	return $rc
}

bats_require_minimum_version 1.5.0

# husk ARGS...: the binary under test.
husk() {
	"$HUSK" "$@"
}

# run_split CMD...: like `run`, but $output is stdout only and $stderr is
# stderr, so tests can tell where a message went.
run_split() {
	run --separate-stderr "$@"
}

# ---------------------------------------------------------------------------
# The runtime

# rt ARGS...: the runtime under test with this test's private state root.
rt() {
	timeout -k 5 "$RT_TIMEOUT" "$RUNTIME_BIN" --root "$WORK/root" "$@"
}

# run_rt ARGS...: `run_split rt ARGS...`, but through files rather than
# pipes: a container process that inherits the runtime's stdio (create,
# run -d, exec -d) keeps a pipe open and would hang `run` until it ends.
# Sets $status, $output and $lines (stdout), $stderr and $stderr_lines.
# stdin is the caller's: redirect it (`run_rt run ID </dev/null`).
run_rt() {
	local out=$WORK/.rt.out err=$WORK/.rt.err
	status=0
	rt "$@" >"$out" 2>"$err" 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$err")
	lines=() stderr_lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	[ -z "$stderr" ] || mapfile -t stderr_lines <<<"$stderr"
	# Shown by bats when the test fails.
	printf '# rt %s -> %s\n# stdout: %s\n# stderr: %s\n' "$*" "$status" "$output" "$stderr"
}

# require_kvm_device: skips a test that needs create to get past its
# checks of the host (to make its state and cgroup, or fork its VMM): it
# refuses a host where /dev/kvm does not open before anything else.
require_kvm_device() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] ||
		skip "no usable /dev/kvm: create refuses the host before it gets this far"
}

# require_containers: skips the test where containers cannot run: husk
# needs a KVM that boots a guest (hack/vm-env says "direct": real VT-x or
# AMD-V, or inside hack/kvmbox). Every runtime needs root.
require_containers() {
	[ "$(id -u)" = 0 ] || skip "containers need root"
	if [ "$RUNTIME" = husk ]; then
		[ -x "$HUSK" ] || skip "no husk binary at $HUSK"
		local env
		env=$("$REPO_ROOT/hack/vm-env")
		[ "$env" = direct ] || skip "husk needs a KVM that boots guests ($env); run inside hack/kvmbox"
	else
		command -v "$RUNTIME_BIN" >/dev/null || {
			echo "RUNTIME=$RUNTIME but $RUNTIME_BIN is not installed" >&2
			return 1
		}
	fi
}

# ---------------------------------------------------------------------------
# Bundles

# The busybox rootfs, built once per test file and copied per bundle.
# `busybox --install -s /bin` run chrooted into it makes the applet links
# point at /bin/busybox, which resolves inside the container; where chroot
# is not allowed, relative links do the same.
_rootfs_template() {
	local t=$BATS_FILE_TMPDIR/rootfs
	if [ ! -e "$t/.done" ]; then
		[ -x "$BUSYBOX" ] || {
			echo "no static busybox at $BUSYBOX (Debian package busybox-static)" >&2
			return 1
		}
		rm -rf "$t"
		mkdir -p "$t"/{bin,etc,tmp,proc,sys,dev,root,home/user}
		cp "$BUSYBOX" "$t/bin/busybox"
		if ! chroot "$t" /bin/busybox --install -s /bin 2>/dev/null; then
			local a
			for a in $("$BUSYBOX" --list); do
				[ -e "$t/bin/$a" ] || ln -s busybox "$t/bin/$a"
			done
		fi
		printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
			'user:x:1000:1000:user:/home/user:/bin/sh' \
			'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$t/etc/passwd"
		printf '%s\n' 'root:x:0:' 'user:x:1000:' 'nogroup:x:65534:' >"$t/etc/group"
		chmod 1777 "$t/tmp"
		chown 1000:1000 "$t/home/user"
		touch "$t/.done"
	fi
	echo "$t"
}

# make_bundle DIR [ARGS...]: a bundle at DIR: rootfs/ from the static
# busybox, config.json from `RUNTIME spec` with process.args ARGS (default:
# sleep 1000), terminal false, a writable root, and linux.cgroupsPath set
# to /$TEST_ID-<basename DIR>, unique to the test and the bundle (so use one
# bundle per container). Marks the test as one that makes containers: its
# teardown deletes them and checks for leaks.
make_bundle() {
	local dir=$1 tmpl args
	shift
	[ $# -gt 0 ] || set -- sleep 1000
	touch "$WORK/.containers"
	tmpl=$(_rootfs_template)
	# Not `jq --args`: jq would take an argument like -c as its own option.
	args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -cs .)
	mkdir -p "$dir"
	cp -a "$tmpl" "$dir/rootfs"
	rm -f "$dir/rootfs/.done"
	"$RUNTIME_BIN" spec --bundle "$dir"
	bundle_edit "$dir" '
		.process.args = $args
		| .process.terminal = false
		| .root.path = "rootfs"
		| .root.readonly = false
		| .linux.cgroupsPath = $cg' \
		--argjson args "$args" --arg cg "/$TEST_ID-$(basename "$dir")"
}

# bundle_edit DIR FILTER [JQ ARGS...]: edits DIR/config.json with jq.
bundle_edit() {
	local dir=$1 filter=$2
	shift 2
	jq "$filter" "$@" "$dir/config.json" >"$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}

# ---------------------------------------------------------------------------
# Containers

# create_ct ID BUNDLE [CREATE OPTIONS...]: `rt create`, with the container's
# stdio on files: stdin from $CT_STDIN (default /dev/null), stdout to
# $WORK/ID.out, stderr (and the runtime's own messages) to $WORK/ID.err.
create_ct() {
	local id=$1 bundle=$2
	shift 2
	rt create --bundle "$bundle" "$@" "$id" <"${CT_STDIN:-/dev/null}" \
		>"$WORK/$id.out" 2>"$WORK/$id.err" 3>&- || {
		local rc=$?
		echo "create $id failed ($rc):" >&2
		cat "$WORK/$id.err" >&2
		return $rc
	}
}

# run_ct ID BUNDLE [RUN OPTIONS...]: `rt run --detach`, stdio as create_ct.
run_ct() {
	local id=$1 bundle=$2
	shift 2
	rt run --detach --bundle "$bundle" "$@" "$id" <"${CT_STDIN:-/dev/null}" \
		>"$WORK/$id.out" 2>"$WORK/$id.err" 3>&- || {
		local rc=$?
		echo "run -d $id failed ($rc):" >&2
		cat "$WORK/$id.err" >&2
		return $rc
	}
}

# delete_ct ID [DELETE OPTIONS...]: `rt delete`, which must succeed and leave
# no state directory behind (teardown's delete --force would hide that).
delete_ct() {
	local id=$1
	shift
	rt delete "$@" "$id" </dev/null 3>&- || return
	[ ! -e "$WORK/root/$id" ] || {
		echo "delete $id left its state directory: $(ls -la "$WORK/root/$id" 2>&1)" >&2
		return 1
	}
}

# ct_state ID [FIELD]: the container's state JSON, or one field of it.
ct_state() {
	if [ $# -gt 1 ]; then
		rt state "$1" | jq -r ".$2"
	else
		rt state "$1"
	fi
}

# ct_status ID: created, running, paused or stopped.
ct_status() {
	ct_state "$1" status
}

# wait_status ID STATUS: waits until the container reports STATUS.
wait_status() {
	wait_until "$WAIT_TIMEOUT" _status_is "$1" "$2" || {
		echo "container $1 is '$(ct_status "$1" 2>&1)', not '$2'" >&2
		return 1
	}
}
_status_is() {
	[ "$(ct_status "$1" 2>/dev/null)" = "$2" ]
}

# wait_output FILE TEXT: waits until FILE contains the fixed string TEXT.
wait_output() {
	wait_until "$WAIT_TIMEOUT" grep -qF -- "$2" "$1" 2>/dev/null || {
		echo "no '$2' in $1 after ${WAIT_TIMEOUT}s; it holds:" >&2
		cat "$1" >&2
		return 1
	}
}

# wait_until SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_until() {
	local tries=$(($1 * 10))
	shift
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# bg FILE CMD...: runs CMD in the background with stdin from /dev/null
# (or $BG_STDIN), stdout to FILE and stderr to FILE.err; $BG_PID is its
# pid. Teardown waits for it after deleting the containers, then kills it.
bg() {
	local out=$1
	shift
	"$@" <"${BG_STDIN:-/dev/null}" >"$out" 2>"$out.err" 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$WORK/.bg"
}

# wait_pids FILE SECONDS: waits until none of the pids listed in FILE is
# alive, then reaps those that are our children.
wait_pids() {
	local p
	[ -e "$1" ] || return 0
	for p in $(cat "$1"); do
		wait_until "$2" _pid_gone "$p" || true
	done
}
_pid_gone() {
	! pid_alive "$1"
}

# stop_pids FILE: kills (TERM, then KILL) the pids listed in FILE.
stop_pids() {
	local p
	[ -e "$1" ] || return 0
	for p in $(cat "$1"); do
		pid_alive "$p" || continue
		kill -TERM "$p" 2>/dev/null || true
		wait_until 2 _pid_gone "$p" || kill -KILL "$p" 2>/dev/null || true
	done
	for p in $(cat "$1"); do
		wait "$p" 2>/dev/null || true
	done
	rm -f "$1"
}

# ---------------------------------------------------------------------------
# Console sockets

# need_recvtty: builds tests/tools/recvtty when missing or stale.
need_recvtty() {
	if [ "$RECVTTY" = "$REPO_ROOT/build/tools/recvtty" ] &&
		{ [ ! -x "$RECVTTY" ] || [ "$REPO_ROOT/tests/tools/recvtty.c" -nt "$RECVTTY" ]; }; then
		make -s -C "$REPO_ROOT" build/tools/recvtty >&2
	fi
	[ -x "$RECVTTY" ] || {
		echo "no recvtty at $RECVTTY" >&2
		return 1
	}
}

# need_tool NAME: builds tests/tools/NAME.c into build/tools/NAME when missing
# or stale and prints its path.
need_tool() {
	local t=$REPO_ROOT/build/tools/$1
	if [ ! -x "$t" ] || [ "$REPO_ROOT/tests/tools/$1.c" -nt "$t" ]; then
		make -s -C "$REPO_ROOT" "build/tools/$1" >&2
	fi
	[ -x "$t" ] || {
		echo "no $1 at $t" >&2
		return 1
	}
	echo "$t"
}

# start_recvtty SOCKET OUTFILE [RECVTTY OPTIONS...]: a recvtty --once
# listening on SOCKET, writing the terminal's output to OUTFILE; returns
# when the socket accepts connections. $RECVTTY_PID is its pid.
start_recvtty() {
	local sock=$1 out=$2
	shift 2
	need_recvtty
	timeout "$WAIT_TIMEOUT" "$RECVTTY" --once "$@" "$sock" \
		</dev/null >"$out" 2>"$out.err" 3>&- &
	RECVTTY_PID=$!
	echo "$RECVTTY_PID" >>"$WORK/.tools"
	wait_until 10 test -S "$sock" || {
		echo "recvtty did not listen on $sock:" >&2
		cat "$out.err" >&2
		return 1
	}
}

# wait_recvtty: waits for the recvtty of start_recvtty to end (the
# terminal's slave side closed) and returns its exit status.
wait_recvtty() {
	local rc=0
	wait "$RECVTTY_PID" || rc=$?
	sed -i "/^$RECVTTY_PID\$/d" "$WORK/.tools"
	return $rc
}

# ---------------------------------------------------------------------------
# cgroups

# container_cgroup_value ID FILE: the value of the cgroup v2 interface file
# FILE (memory.max, cpu.max, cpu.weight, pids.max, cpuset.cpus, cpuset.mems)
# for the container, in v2
# syntax. Where it is read depends on CGROUP_CHECK:
#   host   (default for runc)  the container's cgroup on this host, found
#          from /proc/PID/cgroup of the state's pid; on a cgroup v1 or
#          hybrid host the v1 file is read and converted to v2 syntax
#   guest  (default for husk)  inside the container: `rt exec ID cat
#          /sys/fs/cgroup/FILE`, since husk applies the resources to the
#          guest's cgroup (the host cgroup only bounds the VMM)
container_cgroup_value() {
	local id=$1 file=$2 mode
	if [ "$RUNTIME" = husk ]; then mode=${CGROUP_CHECK:-guest}; else mode=${CGROUP_CHECK:-host}; fi
	case $mode in
	guest) rt exec "$id" cat "/sys/fs/cgroup/$file" </dev/null ;;
	host) host_cgroup_value "$(ct_state "$id" pid)" "$file" ;;
	*)
		echo "CGROUP_CHECK must be host or guest, not '$mode'" >&2
		return 1
		;;
	esac
}

# host_cgroup_value PID FILE: as container_cgroup_value, for the host
# cgroup PID is in.
host_cgroup_value() {
	local pid=$1 file=$2 ctl path line v q p
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
		cat "/sys/fs/cgroup$path/$file"
		return
	fi
	ctl=${file%%.*}
	while IFS=: read -r _ line path; do
		case ",$line," in *",$ctl,"*) break ;; esac
		path=
	done <"/proc/$pid/cgroup"
	[ -n "$path" ] || {
		echo "pid $pid is in no v1 $ctl cgroup" >&2
		return 1
	}
	local dir=/sys/fs/cgroup/$ctl$path
	case $file in
	memory.max)
		v=$(cat "$dir/memory.limit_in_bytes")
		# v1 reports "unlimited" as the largest page-aligned long.
		if [ "$v" -ge 9223372036854771712 ]; then echo max; else echo "$v"; fi
		;;
	cpu.max)
		q=$(cat "$dir/cpu.cfs_quota_us")
		p=$(cat "$dir/cpu.cfs_period_us")
		if [ "$q" = -1 ]; then echo "max $p"; else echo "$q $p"; fi
		;;
	cpu.weight)
		# runc's and crun's shares-to-weight conversion.
		v=$(cat "$dir/cpu.shares")
		echo $((1 + ((v - 2) * 9999) / 262142))
		;;
	pids.max | cpuset.cpus | cpuset.mems) cat "$dir/$file" ;;
	*)
		echo "host_cgroup_value: no v1 translation for $file" >&2
		return 1
		;;
	esac
}

# ---------------------------------------------------------------------------
# Cleanup and leak checks

# cleanup_containers: `rt delete --force` for every container the runtime
# lists or has a state directory for, so one failure does not cascade.
cleanup_containers() {
	local id
	for id in $({
		rt list -q 2>/dev/null
		ls -1 "$WORK/root" 2>/dev/null
	} | sort -u); do
		rt delete --force "$id" </dev/null >/dev/null 2>&1 3>&- || true
	done
}

# leak_check: after cleanup, nothing of the test's containers may remain:
# no state directory under $WORK/root, no cgroup named after $TEST_ID
# (container ids and the fixture's cgroupsPath start with it), no process
# whose command line names $TEST_ID or $WORK (the bundles live there), no
# mount under $WORK. Retries for $LEAK_WAIT seconds, then prints what is
# left and fails.
leak_check() {
	local left
	if wait_until "$LEAK_WAIT" _no_leaks; then
		return 0
	fi
	left=$(_leaks)
	echo "leak check failed after ${LEAK_WAIT}s:" >&2
	echo "$left" >&2
	return 1
}
_no_leaks() {
	[ -z "$(_leaks)" ]
}
_leaks() {
	local d f pid args
	if [ -d "$WORK/root" ]; then
		for d in "$WORK/root"/*/; do
			[ -d "$d" ] && echo "state directory: $d"
		done
	fi
	find /sys/fs/cgroup -type d -name "*$TEST_ID*" -printf 'cgroup: %p\n' 2>/dev/null
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
		mapfile -d '' -t args <"$f" 2>/dev/null || continue
		case "${args[*]}" in
		*"$TEST_ID"* | *"$WORK"*) echo "process $pid: ${args[*]}" ;;
		esac
	done
	grep -F -- "$WORK" /proc/self/mountinfo | sed 's/^/mount: /'
	return 0
}
