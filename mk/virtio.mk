# The virtio target: Haze images that boot through PVH on standard
# hypervisors (QEMU's -kernel, under KVM or TCG), docs/virtio.md.
#
#   $(O)/virtio/examples/NAME/NAME.virtio          every example
#   $(O)/virtio/tests/kvm/guests/NAME/NAME.virtio  the guest test programs
#   $(O)/virtio/tests/virtio/guests/NAME/NAME.virtio  this target's own
#   $(O)/virtio/tests/apps/NAME/NAME.virtio        the interop test apps
#   platform/virtio/haze-qemu                      the runner (Python)
#
# A virtio image is a kvm image with another platform: the application's
# objects, the libraries' archives and the libc are the kvm target's
# (same flags, same freestanding code), linked with platform/virtio and
# the parts of platform/kvm it shares (exception stubs, guard pages),
# which are built again here with HZ_TRAPS_CPL0: the guest runs at CPL 0.

FLAGS_virtio := $(FLAGS_kvm) -DHZ_TRAPS_CPL0
$(eval $(call compile_rules,virtio))

VIRTIO_PLATFORM_SRCS := $(sort $(wildcard platform/virtio/*.c \
	platform/virtio/*.S)) platform/kvm/traps.S platform/kvm/guard.c \
	platform/kvm/sockets.c platform/kvm/report.c
VIRTIO_PLATFORM_OBJS := $(call objs,virtio,$(VIRTIO_PLATFORM_SRCS))
VIRTIO_LDSCRIPT := platform/virtio/guest.ld
VIRTIO_LDFLAGS := $(subst $(KVM_LDSCRIPT),$(VIRTIO_LDSCRIPT),$(KVM_LDFLAGS))
HAZE_QEMU := platform/virtio/haze-qemu

# virtio_image(OUT, SOURCES): links virtio image OUT from SOURCES, built
# as for the kvm target.
define virtio_image
$(1): $(call objs,kvm,$(2)) $(VIRTIO_PLATFORM_OBJS) $(KVM_LIBS) $(KVM_LIBC) $(VIRTIO_LDSCRIPT)
	$$(MSG) LD $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(VIRTIO_LDFLAGS) -o $$@ \
		$(call objs,kvm,$(2)) $$(VIRTIO_PLATFORM_OBJS) \
		-Wl,--start-group $$(KVM_LIBS) $$(CRYPTO_LIBS) $$(KVM_LIBC) \
		-Wl,--end-group \
		$$(LIBGCC_kvm)
endef

VIRTIO_EXAMPLES := $(foreach e,$(EXAMPLES),$(O)/virtio/examples/$(e)/$(e).virtio)
$(foreach e,$(EXAMPLES),$(eval $(call virtio_image,$(O)/virtio/examples/$(e)/$(e).virtio,$(wildcard examples/$(e)/*.c))))

# badcall makes malformed haze-kvm hypercalls: it tests the tender only.
VIRTIO_TEST_GUESTS := $(filter-out badcall,$(KVM_TEST_GUESTS))
VIRTIO_TEST_IMAGES := $(foreach g,$(VIRTIO_TEST_GUESTS),$(O)/virtio/tests/kvm/guests/$(g)/$(g).virtio)
$(foreach g,$(VIRTIO_TEST_GUESTS),$(eval $(call virtio_image,$(O)/virtio/tests/kvm/guests/$(g)/$(g).virtio,$(wildcard tests/kvm/guests/$(g)/*.c))))

# Guest test programs of this target alone (tests/virtio/guests), built
# with the kvm target's flags like every image here.
VIRTIO_OWN_GUESTS := $(notdir $(wildcard tests/virtio/guests/*))
VIRTIO_OWN_IMAGES := $(foreach g,$(VIRTIO_OWN_GUESTS),$(O)/virtio/tests/virtio/guests/$(g)/$(g).virtio)
$(foreach g,$(VIRTIO_OWN_GUESTS),$(eval $(call virtio_image,$(O)/virtio/tests/virtio/guests/$(g)/$(g).virtio,$(wildcard tests/virtio/guests/$(g)/*.c))))

# The test applications of tests/apps, for interop tests on this target
# (tests/net/interop_virtio.sh downloads with fetch).
VIRTIO_TEST_APPS := $(foreach a,$(TEST_APPS),$(O)/virtio/tests/apps/$(a)/$(a).virtio)
$(foreach a,$(TEST_APPS),$(eval $(call virtio_image,$(O)/virtio/tests/apps/$(a)/$(a).virtio,$(wildcard tests/apps/$(a)/*.c))))

.PHONY: virtio
virtio: $(VIRTIO_EXAMPLES) $(VIRTIO_TEST_IMAGES) $(VIRTIO_TEST_APPS) \
	$(VIRTIO_OWN_IMAGES)
all: virtio

-include $(shell find $(O)/virtio -name '*.d' 2>/dev/null)

# --- tests ------------------------------------------------------------------

# The split virtqueues, driven on the host by a fake device
# (tests/unit/test_virtq.c): virtq.c built as the unit tests are.
$(O)/test/tests/unit/test_virtq: $(call objs,test,platform/virtio/virtq.c)

# QEMU comes with make deps (scripts/deps.sh); building needs no QEMU.
TEST_SUITES += tests/virtio/run.py tests/net/interop_virtio.sh
TEST_DEPS += $(VIRTIO_TEST_IMAGES) $(VIRTIO_EXAMPLES) $(VIRTIO_TEST_APPS) \
	$(VIRTIO_OWN_IMAGES)
# gdb through haze-qemu --gdb, and haze-kvm --gdb where /dev/kvm is usable.
TEST_SUITES += tests/gdb/run.py
TEST_DEPS += $(TENDER) $(O)/kvm/tests/kvm/guests/debuggee/debuggee.hz \
	$(O)/kvm/tests/kvm/guests/nullptr/nullptr.hz
