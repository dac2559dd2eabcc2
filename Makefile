# Haze: a library operating system for building unikernels in C.
#
#   make          build every target's library and examples
#   make run      install what is missing, build, serve the demo site
#   make test     install what is missing, build, run every test tier
#   make lint     check formatting (part of make test)
#   make format   reformat the tree with clang-format
#   make install  install headers, libraries, pkg-config files, haze-kvm
#                 and the haze command (PREFIX, DESTDIR; docs/using.md)
#
# See docs/building.md for the layout of build/ and the variables.

.DEFAULT_GOAL := all

include mk/config.mk
include mk/layers.mk
include mk/entropy.mk
include mk/tls.mk
include mk/conduit.mk
include mk/kv.mk
include mk/http.mk
include mk/unix.mk
-include mk/libc.mk
-include mk/kvm.mk
-include mk/virtio.mk
include mk/tests.mk
-include mk/tender-test.mk
include mk/fuzz.mk
include mk/website.mk
include mk/dns.mk
include mk/jitsu.mk
include mk/install.mk
include mk/bench.mk

.PHONY: all deps run clean format lint

all: unix

deps:
	@scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) scripts/run-site.sh

clean:
	rm -rf $(O)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

lint:
	@tests/lint.sh

$(call hz_check_strays)

# Last, once every fragment has added its suites and what they need.
.PHONY: test test-build
test-build: $(TEST_DEPS)

test: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)O=$(O) CC=$(CC) tests/run $(TEST_SUITES)

# The suites that run guests under haze-kvm, inside the emulated machine
# of tests/kvm/nested.sh (which has a /dev/kvm where this one may not):
# slower than make test's share, some minutes. Not tests/gdb/run.py:
# QEMU's emulated SVM does not give KVM's guest debugging (a single step
# or breakpoint there ends the guest), so only real KVM tests gdb's stub.
KVM_SUITES := tests/kvm/run.py tests/net/interop_kvm.sh \
	tests/website/interop_kvm.sh tests/kv/apps.sh tests/layers/images.sh \
	tests/jitsu/jitsu.py
.PHONY: test-kvm-emulated
test-kvm-emulated: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)O=$(O) tests/kvm/nested.sh env CC=$(CC) tests/run $(KVM_SUITES)
