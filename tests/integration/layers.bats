#!/usr/bin/env bats
# hack/check-layers.sh, the layering check `make test` runs: it must catch
# a lower layer including a higher one, and an include relative to its file.

load helpers

@test "check-layers: this tree keeps its layers" {
	run hack/check-layers.sh
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* ]]
}

@test "check-layers: base/ including runtime/, vmm/ including oci/ and a relative include fail, naming the file" {
	local t=$WORK/tree
	mkdir -p "$t"/{base,proto,oci,vmm,rootfs,runtime,tests/unit,tests/fuzz}
	printf '#include "runtime/container.h"\n' >"$t/base/error.c"
	printf '#include <stdio.h>\n#include "base/error.h"\n#include "oci/config.h"\n' >"$t/vmm/vm.c"
	printf '#include "oci/config.h"\n#include "vmm/vm.h"\n' >"$t/runtime/ok.c"
	printf '#include "local.h"\n' >"$t/oci/config.c"
	run hack/check-layers.sh "$t"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not ok 1 base/ includes from a layer above it"* ]]
	[[ "$output" == *"# base/error.c:1: includes runtime/container.h"* ]]
	[[ "$output" == *"not ok 4 vmm/ includes from a layer above it"* ]]
	[[ "$output" == *"vmm/vm.c:3:"* ]]
	[[ "$output" != *"vmm/vm.c:2:"* ]]
	[[ "$output" == *"ok 6 runtime/"* ]]
	[[ "$output" == *"not ok 7 includes relative"*"oci/config.c:1:"* ]]
}

@test "check-layers: a folder's *_internal.h included from outside it fails, naming the file; unit tests and fuzzers may" {
	local t=$WORK/tree
	mkdir -p "$t"/{base,proto,oci,vmm/virtio,rootfs,runtime,tests/unit,tests/fuzz}
	printf '#include "vmm/vm.h"\n#include "vmm/vm_internal.h"\n' >"$t/runtime/vmm_process.c"
	printf '#include "vmm/vm_internal.h"\n' >"$t/vmm/virtio/blk.c"
	printf '#include "vmm/virtio/fuse_internal.h"\n' >"$t/vmm/vm.c"
	printf '#include "vmm/vm_internal.h"\n' >"$t/tests/unit/test_vmm.c"
	printf '#include "vmm/virtio/fuse_internal.h"\n' >"$t/tests/fuzz/fuzz_fuse.c"
	run hack/check-layers.sh "$t"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ok 7 every include"* ]]
	[[ "$output" == *"not ok 8 a folder's *_internal.h included from outside it"* ]]
	[[ "$output" == *"# runtime/vmm_process.c:2: includes vmm/vm_internal.h, private to vmm/"* ]]
	[[ "$output" == *"# vmm/vm.c:1: includes vmm/virtio/fuse_internal.h, private to vmm/virtio/"* ]]
	[[ "$output" != *"blk.c"* ]]
	[[ "$output" != *"tests/"* ]]
}
