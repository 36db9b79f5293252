#!/usr/bin/env bats
# `husk spec` writes runc's starter config; `husk features` claims only what
# husk supports, and covers everything husk spec writes.

load helpers

@test "spec writes config.json in the current directory" {
	cd "$WORK"
	run husk spec
	[ "$status" -eq 0 ]
	jq -e '.process.args == ["sh"] and .process.terminal == true and .root.path == "rootfs"' config.json
}

@test "spec --bundle writes into the bundle, tab-indented like runc" {
	run husk spec --bundle "$WORK"
	[ "$status" -eq 0 ]
	grep -qP '^\t"ociVersion"' "$WORK/config.json"
	run husk spec -b "$WORK/sub" # missing bundle directory
	[ "$status" -eq 1 ]
	[[ "$output" == *"$WORK/sub"* ]]
}

@test "spec has every field runc spec writes, with runc's values" {
	husk spec -b "$WORK"
	# The fields, as paths, runc 1.1 writes (hostname and version differ).
	for p in .ociVersion .process.user.uid .process.user.gid .process.env \
		.process.cwd .process.capabilities.bounding \
		.process.capabilities.effective .process.capabilities.permitted \
		.process.capabilities.ambient .process.rlimits .process.noNewPrivileges \
		.root.readonly .hostname .mounts .linux.resources.devices \
		.linux.namespaces .linux.maskedPaths .linux.readonlyPaths; do
		jq -e "$p != null" "$WORK/config.json" >/dev/null || { echo "missing $p"; false; }
	done
	jq -e '[.mounts[].destination] == ["/proc","/dev","/dev/pts","/dev/shm","/dev/mqueue","/sys","/sys/fs/cgroup"]' "$WORK/config.json"
	jq -e '[.linux.namespaces[].type] == ["pid","network","ipc","uts","mount"]' "$WORK/config.json"
	jq -e '.process.rlimits == [{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]' "$WORK/config.json"
}

@test "spec equals runc spec but for version and hostname" {
	command -v runc >/dev/null || skip "runc is not installed"
	mkdir "$WORK/runc" "$WORK/husk"
	(cd "$WORK/runc" && runc spec)
	husk spec -b "$WORK/husk"
	diff <(jq -S 'del(.ociVersion, .hostname)' "$WORK/runc/config.json") \
		<(jq -S 'del(.ociVersion, .hostname)' "$WORK/husk/config.json")
}

@test "spec --rootless equals runc spec --rootless but for version and hostname" {
	command -v runc >/dev/null || skip "runc is not installed"
	mkdir "$WORK/runc" "$WORK/husk"
	(cd "$WORK/runc" && runc spec --rootless)
	husk spec --rootless -b "$WORK/husk"
	diff <(jq -S 'del(.ociVersion, .hostname)' "$WORK/runc/config.json") \
		<(jq -S 'del(.ociVersion, .hostname)' "$WORK/husk/config.json")
	jq -e ".linux.uidMappings[0].hostID == $(id -u)" "$WORK/husk/config.json"
}

@test "spec refuses to overwrite config.json and leaves it unchanged" {
	echo '{"mine":true}' >"$WORK/config.json"
	run_split husk spec -b "$WORK"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"File config.json exists. Remove it first"* ]]
	[ "$(cat "$WORK/config.json")" = '{"mine":true}' ]
}

@test "spec does not follow a config.json symlink" {
	ln -s "$WORK/target" "$WORK/config.json"
	run husk spec -b "$WORK"
	[ "$status" -eq 1 ]
	[ ! -e "$WORK/target" ]
}

@test "features is runtime-spec features JSON" {
	run husk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '
		.ociVersionMin == "1.0.0" and (.ociVersionMax | test("^1\\.")) and
		(.hooks | type == "array") and (.mountOptions | length > 0) and
		(.linux.namespaces | index("pid") != null) and
		(.linux.capabilities | index("CAP_SYS_ADMIN") != null) and
		(.linux.seccomp.enabled == true) and
		(.linux.seccomp.archs | index("SCMP_ARCH_X86_64") != null) and
		(.linux.apparmor.enabled == false) and (.linux.selinux.enabled == false) and
		(.linux.cgroup.systemd == false) and
		(.annotations["husk.version"] | length > 0) and
		(.annotations["io.github.seccomp.libseccomp.version"] | test("^[0-9]"))'
}

@test "features claims everything husk spec writes" {
	husk spec -b "$WORK"
	husk features >"$WORK/features.json"
	jq -e --slurpfile f "$WORK/features.json" '
		($f[0].linux.namespaces) as $ns | ($f[0].linux.capabilities) as $caps |
		($f[0].mountOptions) as $mo |
		([.linux.namespaces[].type] - $ns == []) and
		([.process.capabilities[][]] - $caps == []) and
		([.mounts[].options // [] | .[] | select(test("=") | not)
		  | select(. != "newinstance")] - $mo == [])' "$WORK/config.json"
}

@test "features does not claim a newer spec than husk spec writes" {
	husk spec -b "$WORK"
	[ "$(jq -r .ociVersion "$WORK/config.json")" = "$(husk features | jq -r .ociVersionMax)" ]
}
