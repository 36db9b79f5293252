# husk: one plain Makefile. `make` builds build/husk; `make test` runs every
# test and ends with "N passed, N failed"; `make asan` builds and runs the
# tests with AddressSanitizer and UndefinedBehaviorSanitizer.

BUILD   ?= build
CC      ?= gcc
# libmnl: host side only (runtime/network.c); Debian ships no static one,
# and the guest's husk-init speaks netlink by hand.
PKGS    := libseccomp libcap libcgroup json-c libmnl

VERSION := $(shell cat VERSION)
COMMIT  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) $(CFLAGS) -I. $(PKG_CFLAGS) \
	-DHUSK_VERSION='"$(VERSION)"' -DHUSK_COMMIT='"$(COMMIT)"' -MMD -MP
LDFLAGS ?=
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)

# Everything else built from C: the guest's static programs (husk-init, the
# VM tests' init and tools) and the host test tools. The same warnings and
# hardening as husk (but PIE: the guest programs are static), and
# dependency files, so a changed header rebuilds them too.
GUEST_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	-O2 -I. -MMD -MP
GUEST_LDFLAGS = -static -Wl,-z,relro,-z,now
TOOL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) -O2 -I. -MMD -MP

# Everything but main() goes into one archive, linked by husk and the tests.
LIB_SRCS  := $(wildcard base/*.c proto/*.c runtime/*.c oci/*.c vmm/*.c vmm/virtio/*.c)
LIB_SRCS  := $(filter-out runtime/main.c,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)

# $(call objs,DIR,SOURCES)
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

.PHONY: guest-init fuzz-agent
.PHONY: fuzz-fuse fuzz-config bench-fs bench-run bench-clients
.PHONY: bench-boot all husk test unit integration asan demo deps clean format guest kernel vm-assets
.PHONY: test-tools test-faults bench-load

all: husk
husk: $(BUILD)/husk

define variant
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@

$(1)/libhusk.a: $$(call objs,$(1),$$(LIB_SRCS))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/husk: $(1)/obj/runtime/main.o $(1)/libhusk.a
	$$(CC) $(2) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)

$(1)/unit-tests: $$(call objs,$(1),$$(UNIT_SRCS)) $(1)/libhusk.a
	$$(CC) $(2) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)

-include $$(patsubst %.o,%.d,$$(call objs,$(1),$$(LIB_SRCS) $$(UNIT_SRCS) runtime/main.c))
endef

SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

$(eval $(call variant,$(BUILD),))
$(eval $(call variant,$(BUILD)/asan,$(SANITIZE)))

# The dependency files of what is built outside the two variants.
-include $(wildcard $(BUILD)/guest/obj/*/*.d $(BUILD)/guest/obj/*/*/*.d $(BUILD)/guest-test/*.d \
	$(BUILD)/tools/*.d $(BUILD)/fuzz/*.d)

# The guest kernel (cached: hack/build-kernel.sh rebuilds only when its
# inputs change) and the VM tests' initramfs, whose /init is a static
# stand-in for husk-init (tests/guest/test-init.c).
kernel:
	hack/build-kernel.sh

$(BUILD)/guest-test/test-init: tests/guest/test-init.c proto/guest_ports.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

# A guest init that fails as a broken husk-init would (faults.bats).
$(BUILD)/guest-test/fault-init: tests/guest/fault-init.c proto/agent_proto.h
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

# Guest-side virtio-fs tools: the conformance program the VM tests run and
# the guest half of bench-fs.
GUEST_FS_TOOLS := $(BUILD)/guest-test/fs-conformance $(BUILD)/guest-test/fs-bench
$(BUILD)/guest-test/fs-%: tests/guest/fs-%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

$(BUILD)/guest-test/initramfs.cpio: $(BUILD)/guest-test/test-init tests/guest/build-initramfs.sh $(GUEST_FS_TOOLS)
	tests/guest/build-initramfs.sh $@ $< $(GUEST_FS_TOOLS)

vm-assets: kernel $(BUILD)/guest-test/initramfs.cpio $(BUILD)/guest-test/fault-init guest-init

# husk-init, the guest's PID 1 (rootfs/husk-init/), static, and the real
# guest initramfs holding only it.
# The config parser, which husk-init and the fuzzer link too.
CONFIG_SRCS := oci/config.c oci/config_json.c oci/config_linux.c oci/tables.c
INIT_SRCS := $(wildcard rootfs/husk-init/*.c) proto/agent_proto.c $(CONFIG_SRCS) \
	base/error.c base/fileio.c base/fdpass.c base/iov.c
INIT_OBJS := $(call objs,$(BUILD)/guest,$(INIT_SRCS))
$(BUILD)/guest/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(shell pkg-config --cflags json-c) -c $< -o $@

$(BUILD)/guest/husk-init: $(INIT_OBJS)
	$(CC) $(GUEST_LDFLAGS) -o $@ $^ -l:libjson-c.a -l:libseccomp.a -l:libcap.a

$(BUILD)/guest/initramfs.cpio: $(BUILD)/guest/husk-init rootfs/husk-init/build-initramfs.sh
	rootfs/husk-init/build-initramfs.sh $@ $<

guest-init: $(BUILD)/guest/initramfs.cpio

# libFuzzer targets for the agent protocol's decoders, one per side.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined -MMD -MP
$(BUILD)/fuzz/fuzz_agent_%: tests/fuzz/fuzz_agent_%.c tests/fuzz/fuzz_agent_common.h proto/agent_proto.c proto/agent_proto.h base/iov.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< proto/agent_proto.c base/iov.c

fuzz-agent: $(BUILD)/fuzz/fuzz_agent_host $(BUILD)/fuzz/fuzz_agent_guest
	@for side in host guest; do \
		mkdir -p $(BUILD)/fuzz/corpus-$$side && \
		$(BUILD)/fuzz/fuzz_agent_$$side -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
			$(BUILD)/fuzz/corpus-$$side tests/fuzz/corpus/agent || exit 1; \
	done

# libFuzzer target for the virtio-fs FUSE server: raw bytes as a run of
# requests over a scratch share (tests/fuzz/fuzz_fuse.c).
FUSE_FUZZ_SRCS := $(wildcard vmm/virtio/fuse_*.c) vmm/virtio/queue.c vmm/virtio/mmio.c vmm/memory.c \
	vmm/event_loop.c base/error.c base/log.c base/iov.c base/slot_table.c
$(BUILD)/fuzz/fuzz_fuse: tests/fuzz/fuzz_fuse.c $(FUSE_FUZZ_SRCS) vmm/virtio/fuse_server.h \
		vmm/virtio/fuse_internal.h vmm/virtio/mmio.h vmm/virtio/queue.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUSE_FUZZ_SRCS)

fuzz-fuse: $(BUILD)/fuzz/fuzz_fuse
	mkdir -p $(BUILD)/fuzz/corpus-fuse
	$(BUILD)/fuzz/fuzz_fuse -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(BUILD)/fuzz/corpus-fuse tests/fuzz/corpus/fuse

# libFuzzer target for the OCI config parser: config.json, process.json and
# linux.resources as a hostile bundle or client writes them
# (tests/fuzz/fuzz_config.c).
CONFIG_FUZZ_SRCS := $(CONFIG_SRCS) base/error.c
$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(CONFIG_FUZZ_SRCS) oci/config.h oci/config_internal.h \
		oci/tables.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(shell pkg-config --cflags json-c) -o $@ $< $(CONFIG_FUZZ_SRCS) \
		$(shell pkg-config --libs json-c)

fuzz-config: $(BUILD)/fuzz/fuzz_config
	mkdir -p $(BUILD)/fuzz/corpus-config
	$(BUILD)/fuzz/fuzz_config -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(BUILD)/fuzz/corpus-config tests/fuzz/corpus/config

# Helpers the integration tests run (tests/tools/): recvtty receives a
# container's console over --console-socket; reaper waits for a container's
# process as a subreaper and says how it ended. jail-probe confines itself
# as the VMM does (it links husk's own confinement) and tries to escape.
TEST_TOOLS := $(BUILD)/tools/recvtty $(BUILD)/tools/reaper $(BUILD)/tools/jail-probe
$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) -pie -o $@ $<

$(BUILD)/tools/jail-probe: tests/tools/jail-probe.c $(BUILD)/libhusk.a
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $(PKG_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libhusk.a $(PKG_LIBS)

test-tools: $(TEST_TOOLS)

# The C unit tests always run sanitized: they feed hostile input to parsers.
test: vm-assets $(BUILD)/husk $(BUILD)/asan/unit-tests $(BUILD)/asan/husk $(TEST_TOOLS)
	HUSK=$(abspath $(BUILD)/husk) UNIT=$(abspath $(BUILD)/asan/unit-tests) \
		hack/run-tests.sh

# The faults of issue 15 alone (make test runs them too): create killed
# mid-way and a full state directory on this host, the VMM and exec killed
# and a flooded stdout where guests boot.
FAULT_FILES := tests/integration/create-host.bats tests/integration/faults.bats
test-faults: vm-assets $(BUILD)/husk $(TEST_TOOLS)
	HUSK=$(abspath $(BUILD)/husk) SUITES="integration vm" TEST_FILES="$(FAULT_FILES)" \
		hack/run-tests.sh

unit: $(BUILD)/asan/unit-tests
	$(BUILD)/asan/unit-tests

asan: vm-assets $(BUILD)/asan/husk $(BUILD)/asan/unit-tests $(TEST_TOOLS)
	HUSK=$(abspath $(BUILD)/asan/husk) UNIT=$(abspath $(BUILD)/asan/unit-tests) \
		hack/run-tests.sh

deps:
	@hack/install-deps.sh

# Benchmarks print figures; they never fail for being slow. BENCH_RUNS sets
# how many boots of each kind.
BENCH_RUNS ?= 10
bench-boot: deps vm-assets $(BUILD)/husk
	hack/vm-run hack/bench-boot.sh $(BENCH_RUNS)

# virtio-fs against the guest's tmpfs: sequential read and write of a
# 256 MiB file, create/stat/unlink of 10,000 files; prints ratios.
bench-fs: deps vm-assets $(BUILD)/husk
	hack/vm-run hack/bench-fs.sh

# `husk run` of `true` against crun and runc in the same session: medians
# and ratios.
bench-run: deps vm-assets $(BUILD)/husk
	hack/vm-run hack/bench-run.sh $(BENCH_RUNS)

# 50 containers (BENCH_LOAD_N) run, exec'd into and deleted, each phase
# all at once: wall times, host memory, the VMMs' RSS.
BENCH_LOAD_N ?= 50
BENCH_LOAD_BOOT_TIMEOUT ?= 900
bench-load: deps vm-assets $(BUILD)/husk
	hack/vm-run env HUSK_BOOT_TIMEOUT=$(BENCH_LOAD_BOOT_TIMEOUT) hack/bench-load.sh $(BENCH_LOAD_N)

# podman run --rm with husk versus crun, and TCP over podman's bridge.
bench-clients: deps vm-assets $(BUILD)/husk
	hack/vm-run hack/bench-clients.sh $(BENCH_RUNS)

demo: deps vm-assets $(BUILD)/husk
	hack/demo.sh

# Every C file of the tree in the style of .clang-format (the format suite
# of make test checks it).
format:
	hack/c-files.sh | xargs clang-format -i --style=file

# Everything make built, the cached guest kernel included.
clean:
	rm -rf $(BUILD)
