# Fuzz harnesses: fuzz/fuzz_NAME.c defines LLVMFuzzerTestOneInput; its
# corpus is fuzz/corpus/NAME/.
#
#   make test   replays every corpus through fuzz/driver.c (any compiler,
#               ASan and UBSan): build/test/fuzz/fuzz_NAME
#   make fuzz   runs each harness under libFuzzer (clang) for FUZZ_SECONDS
#               (or FUZZ_RUNS executions), merging into the corpus only the
#               inputs that reach new coverage (fuzz/campaign.sh)

FUZZ_NAMES := $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
FUZZ_REPLAYERS := $(foreach n,$(FUZZ_NAMES),$(O)/test/fuzz/fuzz_$(n))
FUZZ_SECONDS ?= 60

# A harness of code outside the library OS links that code's sources too,
# named in FUZZ_SRCS_NAME: fuzz_elf tests haze-kvm's ELF loader.
FUZZ_SRCS_elf := tender/elf.c tender/log.c tender/exit.c
# fuzz_hypercall drives the tender's dispatch through tests/tender/fakevm.c.
FUZZ_SRCS_hypercall := $(filter-out tender/main.c tender/exit.c \
	tender/sandbox.c,$(sort $(wildcard tender/*.c))) tests/tender/fakevm.c \
	src/net/inet.c platform/kvm/report.c
# fuzz_gdb tests haze-kvm --gdb's protocol engine.
FUZZ_SRCS_gdb := tender/gdb.c
# fuzz_jitsu_config tests haze-jitsu's configuration parser.
FUZZ_SRCS_jitsu_config := jitsu/config.c
# fuzz_virtio_bind tests the virtio target's binding of manifest devices.
FUZZ_SRCS_virtio_bind := platform/virtio/bind.c
# fuzz_virtio_mmio tests its parser of virtio_mmio.device= (mmio_arg.c).
FUZZ_SRCS_virtio_mmio := platform/virtio/mmio_arg.c
$(foreach n,$(FUZZ_NAMES),$(eval $(O)/test/fuzz/fuzz_$(n): \
	$(call objs,test,$(FUZZ_SRCS_$(n)))))
$(foreach n,$(FUZZ_NAMES),$(eval $(O)/fuzz/fuzz/fuzz_$(n): \
	$(call objs,fuzz,$(FUZZ_SRCS_$(n)))))

$(O)/test/fuzz/fuzz_%: $(O)/test/fuzz/fuzz_%.o $(O)/test/fuzz/driver.o $(TEST_LIB)
	$(MSG) LD $@
	$(Q)$(CC) $(LDFLAGS_test) -o $@ $(filter %.o,$^) $(filter %.a,$^) \
		$(LIBOS_LIBS)

ifneq ($(FUZZ_NAMES),)
TEST_SUITES += fuzz/replay.sh
TEST_DEPS += $(FUZZ_REPLAYERS)
endif

# libFuzzer builds: clang only, variant "fuzz" in $(O)/fuzz.
FLAGS_fuzz := $(BASE_CFLAGS) -O1 -D_GNU_SOURCE \
	-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
$(eval $(call compile_rules,fuzz))
FUZZ_LIB := $(O)/fuzz/libhaze-fuzz.a

$(FUZZ_LIB): $(call objs,fuzz,$(CORE_SRCS) $(UNIX_PLATFORM_SRCS))
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/fuzz/fuzz/fuzz_%: $(O)/fuzz/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(MSG) LD $@
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined -o $@ \
		$(filter %.o,$^) $(filter %.a,$^) $(LIBOS_LIBS)

.PHONY: fuzz fuzz-run
fuzz: deps
	$(Q)$(MAKE) --no-print-directory CC=clang fuzz-run

# Each harness for FUZZ_SECONDS (or FUZZ_RUNS executions); only inputs
# that reach new coverage join the corpus (fuzz/campaign.sh).
fuzz-run: $(foreach n,$(FUZZ_NAMES),$(O)/fuzz/fuzz/fuzz_$(n))
	$(Q)O=$(O) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(or $(FUZZ_RUNS),-1) \
		fuzz/campaign.sh $(FUZZ_NAMES)

-include $(shell find $(O)/fuzz -name '*.d' 2>/dev/null)
