# The unix target: Haze as a plain Linux process.
#
# The unix platform is an archive of its own, $(O)/unix/libhaze-unix.a;
# an application defines hz_main() and links it with the libraries'
# archives (mk/layers.mk). $(O)/unix/libhaze.a holds all of them in one,
# for applications built outside the tree (README.md).
# platform/unix/main.c owns the process's main(): it binds devices from the
# command line, then starts the runtime.

UNIX_PLATFORM_SRCS := $(filter-out platform/unix/main.c,\
	$(sort $(wildcard platform/unix/*.c))) platform/host/tap.c \
	platform/host/options.c platform/host/notify.c
UNIX_LIB_SRCS := $(CORE_SRCS) $(UNIX_PLATFORM_SRCS) platform/unix/main.c
UNIX_LIB := $(O)/unix/libhaze.a
UNIX_PLATFORM_LIB := $(O)/unix/libhaze-unix.a
UNIX_LIBS := $(UNIX_PLATFORM_LIB) $(call hz_lib_archives,unix)

$(eval $(call compile_rules,unix))

$(UNIX_LIB): $(call objs,unix,$(UNIX_LIB_SRCS))
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(UNIX_PLATFORM_LIB): $(call objs,unix,$(UNIX_PLATFORM_SRCS) \
		platform/unix/main.c)
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

EXAMPLES := $(notdir $(patsubst %/,%,$(wildcard examples/*/)))
# Small applications that tests run as whole unikernels.
TEST_APPS := $(notdir $(patsubst %/,%,$(wildcard tests/apps/*/)))

# unix_app_rule(DIR): $(O)/unix/DIR/NAME from DIR/*.c, NAME = last of DIR.
define unix_app_rule
$(O)/unix/$(1)/$(notdir $(1)): $(call objs,unix,$(wildcard $(1)/*.c)) $(UNIX_LIBS)
	$$(MSG) LD $$@
	$$(Q)$$(CC) $$(FLAGS_unix) -o $$@ $$(filter %.o,$$^) \
		$$(call hz_link,$$(filter %.a,$$^)) $$(LIBOS_LIBS)
endef
$(foreach e,$(EXAMPLES),$(eval $(call unix_app_rule,examples/$(e))))
$(foreach a,$(TEST_APPS),$(eval $(call unix_app_rule,tests/apps/$(a))))

# The guest test programs of tests/kvm/guests build for unix too, from the
# same source (tests/kvm/unix_guests.sh runs them), except those that test
# the tender itself: bad hypercalls and the fault reports of CPU
# exceptions.
KVM_ONLY_GUESTS := badcall divzero nullptr rowrite smash
PORTABLE_GUESTS := $(filter-out $(KVM_ONLY_GUESTS),\
	$(notdir $(patsubst %/,%,$(wildcard tests/kvm/guests/*/))))
$(foreach g,$(PORTABLE_GUESTS),\
	$(eval $(call unix_app_rule,tests/kvm/guests/$(g))))

UNIX_EXAMPLES := $(foreach e,$(EXAMPLES),$(O)/unix/examples/$(e)/$(e))
UNIX_TEST_APPS := $(foreach a,$(TEST_APPS),$(O)/unix/tests/apps/$(a)/$(a))
UNIX_TEST_GUESTS := $(foreach g,$(PORTABLE_GUESTS),\
	$(O)/unix/tests/kvm/guests/$(g)/$(g))

.PHONY: unix
unix: $(UNIX_LIB) $(UNIX_EXAMPLES) $(UNIX_TEST_GUESTS)

# --notify and inherited taps (tapfd:FD) on the unix target (docs/notify.md).
TEST_SUITES += tests/notify/unix.sh tests/notify/tapfd.sh

-include $(shell find $(O)/unix -name '*.d' 2>/dev/null)
