# Shared set-up for the client suites (containerd.bats, podman.bats): real
# clients drive husk as they drive runc. They boot guests, so
# hack/run-tests.sh runs them where guests boot (inside hack/kvmbox here).
#
# Each file starts what it needs once (setup_file: a private containerd, or
# podman's private storage), with every path under $BATS_FILE_TMPDIR or
# /run: inside the box unix sockets must not live on the 9p share. Each test
# names its containers after $TEST_ID, so the leak check can look for that
# name in state directories, cgroups and process command lines.

load ../integration/helpers

# The images (tests/clients/make-images.sh), built once per file.
client_images() {
	local d=$BATS_FILE_TMPDIR/images
	[ -e "$d/busybox.oci" ] || "$REPO_ROOT/tests/clients/make-images.sh" "$d" >&2
	echo "$d"
}

# require_clients CMD...: skips unless husk can run containers here and
# every CMD is installed.
require_clients() {
	local c
	[ "$(id -u)" = 0 ] || skip "clients need root"
	[ -x "$HUSK" ] || skip "no husk binary at $HUSK"
	local env
	env=$("$REPO_ROOT/hack/vm-env")
	[ "$env" = direct ] || skip "husk needs a KVM that boots guests ($env); run inside hack/kvmbox"
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed (hack/install-deps.sh)"
	done
}

# with_tty CMD...: runs CMD with a pty as its stdin, stdout and stderr (via
# util-linux script), for clients that insist on a terminal. Output comes
# back with \r\n line ends turned into \n, and without the "^@" the
# terminal echoes for the NUL podman writes when it attaches (crun gives the
# same); the status is CMD's. A `timeout` in CMD needs --foreground to let CMD use the terminal.
with_tty() {
	local cmd
	cmd=$(printf '%q ' "$@")
	script -qefc "$cmd" /dev/null </dev/null | tr -d '\r' | sed 's/\^@//g'
	return "${PIPESTATUS[0]}"
}

# client_leaks ROOT [NAME...]: what is left of this test's containers: husk
# state directories under ROOT (the runtime --root the client passes) and
# cgroups whose name has $TEST_ID or a NAME (clients name state and cgroups
# after their own container ids), and processes whose command line has one.
client_leaks() {
	local root=$1 d f pid args
	shift
	local names=("$TEST_ID") n
	# An empty name would match everything.
	for n in "$@"; do [ -z "$n" ] || names+=("$n"); done
	for n in "${names[@]}"; do
		for d in "$root"/*"$n"*/; do
			[ -d "$d" ] && echo "state directory: $d"
		done
		find /sys/fs/cgroup -type d -name "*$n*" -printf 'cgroup: %p\n' 2>/dev/null
	done
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
		mapfile -d '' -t args <"$f" 2>/dev/null || continue
		for n in "${names[@]}"; do
			case "${args[*]}" in
			*"$n"*)
				echo "process $pid: ${args[*]}"
				break
				;;
			esac
		done
	done
	return 0
}

# assert_no_leaks ROOT [NAME...]: client_leaks is empty within $LEAK_WAIT
# seconds.
assert_no_leaks() {
	local left
	wait_until "$LEAK_WAIT" _client_clean "$@" && return 0
	left=$(client_leaks "$@")
	echo "left behind after removal:" >&2
	echo "$left" >&2
	return 1
}
_client_clean() {
	[ -z "$(client_leaks "$@")" ]
}
