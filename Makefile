# husk: one plain Makefile. `make` builds build/husk; `make test` runs every
# test and ends with "N passed, N failed"; `make asan` builds and runs the
# tests with AddressSanitizer and UndefinedBehaviorSanitizer.

BUILD   ?= build
CC      ?= gcc
PKGS    := libseccomp libcap libcgroup json-c

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

# Everything but main() goes into one archive, linked by husk and the tests.
LIB_SRCS  := $(wildcard runtime/*.c oci/*.c vmm/*.c vmm/virtio/*.c)
LIB_SRCS  := $(filter-out runtime/main.c,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)

# $(call objs,DIR,SOURCES)
objs = $(patsubst %.c,$(1)/obj/%.o,$(2))

.PHONY: bench-boot all husk test unit integration asan demo deps clean format guest kernel vm-assets

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

# The guest kernel (cached: hack/build-kernel.sh rebuilds only when its
# inputs change) and the VM tests' initramfs, whose /init is a static
# stand-in for husk-init (tests/guest/test-init.c).
kernel:
	hack/build-kernel.sh

$(BUILD)/guest-test/test-init: tests/guest/test-init.c vmm/guest_ports.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -D_GNU_SOURCE $(WARN) -O2 -I. -static -o $@ $<

$(BUILD)/guest-test/initramfs.cpio: $(BUILD)/guest-test/test-init tests/guest/build-initramfs.sh
	tests/guest/build-initramfs.sh $@ $<

vm-assets: kernel $(BUILD)/guest-test/initramfs.cpio

# The C unit tests always run sanitized: they feed hostile input to parsers.
test: deps vm-assets $(BUILD)/husk $(BUILD)/asan/unit-tests $(BUILD)/asan/husk
	HUSK=$(abspath $(BUILD)/husk) UNIT=$(abspath $(BUILD)/asan/unit-tests) \
		hack/run-tests.sh

unit: $(BUILD)/asan/unit-tests
	$(BUILD)/asan/unit-tests

asan: vm-assets $(BUILD)/asan/husk $(BUILD)/asan/unit-tests
	HUSK=$(abspath $(BUILD)/asan/husk) UNIT=$(abspath $(BUILD)/asan/unit-tests) \
		hack/run-tests.sh

deps:
	@hack/install-deps.sh

# Benchmarks print figures; they never fail for being slow. BENCH_RUNS sets
# how many boots of each kind.
BENCH_RUNS ?= 10
bench-boot: deps vm-assets $(BUILD)/husk
	hack/vm-run hack/bench-boot.sh $(BENCH_RUNS)

demo: deps $(BUILD)/husk
	hack/demo.sh

format:
	clang-format -i $(LIB_SRCS) runtime/main.c $(UNIT_SRCS) $(wildcard */*.h vmm/virtio/*.h tests/unit/*.h)

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/husk $(BUILD)/libhusk.a $(BUILD)/unit-tests
