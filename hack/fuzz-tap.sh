#!/usr/bin/env bash
# The libFuzzer targets as a test suite (TAP): each runs for FUZZ_SECONDS
# (default 20) from its seed corpus; a crash, leak or sanitizer report is a
# failure, with the reproducer's path. What they feed: the agent protocol's
# decoders on the host side and the guest side (every frame a peer can
# send), and the virtio-fs FUSE server (raw requests over a scratch share,
# directly or as chains of a virtqueue whose driver misbehaves meanwhile),
# and the OCI config parser (config.json, process.json, linux.resources as
# a hostile bundle writes them).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
seconds=${FUZZ_SECONDS:-20}
targets=(fuzz_agent_host fuzz_agent_guest fuzz_fuse fuzz_config)
corpus=(tests/fuzz/corpus/agent tests/fuzz/corpus/agent tests/fuzz/corpus/fuse tests/fuzz/corpus/config)
maxlen=(4096 4096 65536 65536)

echo "1..${#targets[@]}"
for i in "${!targets[@]}"; do
	t=${targets[$i]}
	n=$((i + 1))
	if ! make -s "$build/fuzz/$t" >"$build/fuzz-$t.build.log" 2>&1; then
		echo "not ok $n $t: does not build (see $build/fuzz-$t.build.log)"
		continue
	fi
	work=$(mktemp -d)
	log=$build/fuzz-$t.log
	if (cd "$work" && "$top/$build/fuzz/$t" -max_total_time="$seconds" -max_len="${maxlen[$i]}" \
		-artifact_prefix="$top/$build/fuzz-$t-" "$work" "$top/${corpus[$i]}") >"$log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
		echo "ok $n $t: ${seconds} s without a crash (${runs:-no count})"
	else
		echo "not ok $n $t: crashed; log $log, reproducer $build/fuzz-$t-*"
		grep -m3 -E 'ERROR|SUMMARY' "$log" | sed 's/^/# /'
	fi
	rm -rf "$work"
done
