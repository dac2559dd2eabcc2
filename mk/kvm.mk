# The kvm target: Haze guests under the haze-kvm tender.
#
#   $(O)/host/tender/haze-kvm           the tender, a Linux program
#   $(O)/kvm/examples/NAME/NAME.hz      every example as a guest image
#   $(O)/kvm/tests/kvm/guests/NAME/NAME.hz   guest test programs
#
# Guests are freestanding static ELF64 images linked at 1 MiB
# (platform/kvm/guest.ld), not position independent: the tender loads
# them at their link address, so -fno-pic -mcmodel=small costs nothing
# and keeps the image small. See docs/kvm.md.

# --- the tender -----------------------------------------------------------
# libslirp is dlopen'ed only when a `user` NIC is asked for (tender/slirp.c):
# only its header is needed at build time.

SLIRP_CFLAGS := $(shell pkg-config --cflags slirp 2>/dev/null || \
	echo -I/usr/include/slirp)
FLAGS_host := $(BASE_CFLAGS) -O2 -D_GNU_SOURCE -Iplatform/kvm $(SLIRP_CFLAGS)
$(eval $(call compile_rules,host))

# The manifest checks are the core's, built for the host.
TENDER_SRCS := $(sort $(wildcard tender/*.c)) src/core/manifest.c \
	platform/host/tap.c platform/host/options.c platform/host/notify.c \
	platform/kvm/report.c \
	src/core/error.c src/net/inet.c \
	src/core/wire.c
TENDER := $(O)/host/tender/haze-kvm

$(TENDER): $(call objs,host,$(TENDER_SRCS))
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^ -lseccomp -ldl -lpthread

# The real sandbox for a made-up VM, for tests/kvm/run.py to try refused
# system calls against (tests/kvm/sandbox_probe.c).
SANDBOX_PROBE := $(O)/host/tests/kvm/sandbox-probe
SANDBOX_PROBE_SRCS := tests/kvm/sandbox_probe.c tender/sandbox.c tender/log.c \
	tender/exit.c

$(SANDBOX_PROBE): $(call objs,host,$(SANDBOX_PROBE_SRCS))
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^ -lseccomp

# --- guests ---------------------------------------------------------------

# The libc helper's fragment defines LIBC_INCLUDE; fall back to its path.
LIBC_INCLUDE ?= src/libc/include
KVM_LIBC := $(O)/kvm/libc.a

FLAGS_kvm := $(filter-out -std=c11,$(BASE_CFLAGS)) -std=c11 -O2 \
	-ffreestanding -nostdinc -isystem $(LIBC_INCLUDE) \
	-mno-red-zone -fno-pic -fno-pie -mcmodel=small \
	-fstack-protector-strong -fno-omit-frame-pointer \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-ffunction-sections -fdata-sections $(BEARSSL_CFLAGS)
$(eval $(call compile_rules,kvm))
$(O)/kvm/src/tls/%.o: private FLAGS_kvm += $(NETTLE_CFLAGS)
# TLS's vector AES-GCM (src/tls/tls_gcm.c) takes the compiler's own
# intrinsics headers (immintrin.h, cpuid.h), searched after the libc's.
$(O)/kvm/src/tls/tls_gcm.o: private FLAGS_kvm += \
	-isystem $(shell $(CC) -print-file-name=include)

# report.c is the fault report's text, printed by haze-kvm and the virtio
# guest; a kvm guest hands its faults to haze-kvm.
KVM_PLATFORM_SRCS := $(filter-out platform/kvm/report.c,\
	$(sort $(wildcard platform/kvm/*.c platform/kvm/*.S)))
KVM_LDSCRIPT := platform/kvm/guest.ld
# The platform's objects are linked whole (they hold _start and the notes);
# the libraries are archives (mk/layers.mk), so the core's default
# manifest and random source are only pulled in when the application
# declares none, and an image takes only the libraries it reaches.
KVM_LIBS := $(call hz_lib_archives,kvm)
KVM_PLATFORM_OBJS := $(call objs,kvm,$(KVM_PLATFORM_SRCS))
KVM_LDFLAGS := -nostdlib -static -Wl,-T,$(KVM_LDSCRIPT) \
	-Wl,--gc-sections -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack \
	-Wl,--no-undefined -Wl,--build-id=sha1
LIBGCC_kvm := $(if $(CC_IS_CLANG),,-lgcc)

# kvm_image(OUT, SOURCES): links guest image OUT from SOURCES.
define kvm_image
$(1): $(call objs,kvm,$(2)) $(KVM_PLATFORM_OBJS) $(KVM_LIBS) $(KVM_LIBC) $(KVM_LDSCRIPT)
	$$(MSG) LD $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(KVM_LDFLAGS) -o $$@ \
		$(call objs,kvm,$(2)) $$(KVM_PLATFORM_OBJS) \
		-Wl,--start-group $$(KVM_LIBS) $$(CRYPTO_LIBS) $$(KVM_LIBC) \
		-Wl,--end-group \
		$$(LIBGCC_kvm)
endef

KVM_EXAMPLES := $(foreach e,$(EXAMPLES),$(O)/kvm/examples/$(e)/$(e).hz)
$(foreach e,$(EXAMPLES),$(eval $(call kvm_image,$(O)/kvm/examples/$(e)/$(e).hz,$(wildcard examples/$(e)/*.c))))

# The test applications of tests/apps, for interop tests on this target.
KVM_TEST_APPS := $(foreach a,$(TEST_APPS),$(O)/kvm/tests/apps/$(a)/$(a).hz)
$(foreach a,$(TEST_APPS),$(eval $(call kvm_image,$(O)/kvm/tests/apps/$(a)/$(a).hz,$(wildcard tests/apps/$(a)/*.c))))

KVM_TEST_GUESTS := $(notdir $(wildcard tests/kvm/guests/*))
KVM_TEST_IMAGES := $(foreach g,$(KVM_TEST_GUESTS),$(O)/kvm/tests/kvm/guests/$(g)/$(g).hz)
$(foreach g,$(KVM_TEST_GUESTS),$(eval $(call kvm_image,$(O)/kvm/tests/kvm/guests/$(g)/$(g).hz,$(wildcard tests/kvm/guests/$(g)/*.c))))

.PHONY: kvm
kvm: $(TENDER) $(SANDBOX_PROBE) $(KVM_EXAMPLES) $(KVM_TEST_IMAGES) $(KVM_TEST_APPS)
all: kvm

-include $(shell find $(O)/kvm $(O)/host -name '*.d' 2>/dev/null)

# --- tests ------------------------------------------------------------------

TEST_SUITES += tests/kvm/run.py tests/kvm/emulated.sh
TEST_DEPS += $(TENDER) $(SANDBOX_PROBE) $(KVM_TEST_IMAGES) $(KVM_EXAMPLES) $(KVM_TEST_APPS)
