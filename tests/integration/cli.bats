#!/usr/bin/env bats
# The command line: version, help, global flags, usage errors, logging.

load helpers

@test "--version prints version, commit, spec and libseccomp like runc" {
	run husk --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^husk\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	[[ "${lines[1]}" =~ ^commit:\ . ]]
	[[ "${lines[2]}" =~ ^spec:\ 1\.[0-9]+\.[0-9]+$ ]]
	[[ "${lines[3]}" =~ ^libseccomp:\ [0-9]+\. ]]
}

@test "version command and -v print the same as --version" {
	expected=$(husk --version)
	run husk version
	[ "$status" -eq 0 ]
	[ "$output" = "$expected" ]
	run husk -v
	[ "$output" = "$expected" ]
}

@test "--help lists runc's commands and husk's own" {
	run husk --help
	[ "$status" -eq 0 ]
	for c in create start run state kill delete exec ps list pause resume \
		update events spec features check; do
		echo "$output" | grep -qE "^   $c " || { echo "missing $c"; false; }
	done
}

@test "help COMMAND and COMMAND --help show that command's flags" {
	run husk help spec
	[ "$status" -eq 0 ]
	[[ "$output" == *"--bundle value, -b value"* ]]
	run husk spec --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--rootless"* ]]
}

@test "unknown command: exit 1 and a message naming it" {
	run_split husk frobnicate
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"unknown command 'frobnicate'"* ]]
}

@test "unknown global flag: exit 1, runc's message and usage" {
	run_split husk --bogus list
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"flag provided but not defined: --bogus"* ]]
	[[ "$stderr" == *"Incorrect Usage"* ]]
}

@test "unknown command flag: exit 1 naming the flag" {
	run_split husk spec --nope
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"flag provided but not defined: --nope"* ]]
	[ ! -e config.json ]
}

@test "flag without its value: exit 1" {
	run_split husk spec --bundle
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"flag needs an argument"* ]]
}

@test "too many arguments: runc's message" {
	run_split husk features extra
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'"features" requires exactly 0 argument(s)'* ]]
}

@test "errors go to stderr as a logrus text line without --log" {
	run_split husk --log-format text frobnicate
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ ^time=\"[0-9T:-]+(Z|[+-][0-9:]+)\"\ level=error\ msg=\" ]]
}

@test "--log FILE --log-format json: a JSON line in the file, bare message on stderr" {
	run_split husk --log "$WORK/log.json" --log-format json frobnicate
	[ "$status" -eq 1 ]
	[ "$stderr" = "unknown command 'frobnicate' (see 'husk --help')" ]
	[ "$(wc -l <"$WORK/log.json")" -eq 1 ]
	jq -e '.level == "error" and (.msg | test("frobnicate")) and (.time | test("^[0-9]{4}-"))' "$WORK/log.json"
}

@test "--log appends, never truncates" {
	echo '{"level":"info","msg":"earlier","time":"x"}' >"$WORK/log.json"
	run husk --log "$WORK/log.json" --log-format json frobnicate
	[ "$(wc -l <"$WORK/log.json")" -eq 2 ]
	head -1 "$WORK/log.json" | grep -q earlier
}

@test "invalid --log-format: exit 1, named" {
	run_split husk --log-format xml features
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"invalid log-format: xml"* ]]
}

@test "unwritable --log: exit 1 naming the file" {
	run_split husk --log /nonexistent/dir/log.json features
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"/nonexistent/dir/log.json"* ]]
}

@test "global flags clients pass are accepted" {
	run husk --root "$WORK/root" --debug --systemd-cgroup --rootless auto \
		--log "$WORK/l" --log-format json features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e .ociVersionMax
}

@test "--rootless takes only true, false or auto" {
	run_split husk --rootless maybe features
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--rootless"* ]]
}

@test "checkpoint and restore say they are not supported and leave nothing behind" {
	for c in checkpoint restore; do
		run_split husk --root "$WORK/root" "$c" some-id
		[ "$status" -eq 1 ] || { echo "$c exited $status"; false; }
		[[ "$stderr" == *"not supported"* ]] || { echo "$c: $stderr"; false; }
	done
	[ ! -e "$WORK/root" ]
}

@test "commands on a container that does not exist fail clearly and leave nothing behind" {
	for c in start state kill delete ps pause resume update events; do
		run_split husk --root "$WORK/root" "$c" some-id
		[ "$status" -eq 1 ] || { echo "$c exited $status"; false; }
		[[ "$stderr" == *"container does not exist"* ]] || { echo "$c: $stderr"; false; }
	done
	run_split husk --root "$WORK/root" create --bundle "$WORK/none" some-id
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no such file or directory"* ]]
	[ ! -e "$WORK/root/some-id" ]
}
