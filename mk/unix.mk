# The unix target: Haze as a plain Linux process.
#
# $(O)/unix/libhaze.a holds the core and the unix platform; an application
# links it and defines hz_main(). platform/unix/main.c owns the process's
# main(): it binds devices from the command line, then starts the runtime.

UNIX_PLATFORM_SRCS := $(filter-out platform/unix/main.c,\
	$(sort $(wildcard platform/unix/*.c)))
UNIX_LIB_SRCS := $(CORE_SRCS) $(UNIX_PLATFORM_SRCS) platform/unix/main.c
UNIX_LIB := $(O)/unix/libhaze.a

$(eval $(call compile_rules,unix))

$(UNIX_LIB): $(call objs,unix,$(UNIX_LIB_SRCS))
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

EXAMPLES := $(notdir $(wildcard examples/*))

# example_rule(NAME): $(O)/unix/examples/NAME/NAME from examples/NAME/*.c.
define example_rule
$(O)/unix/examples/$(1)/$(1): $(call objs,unix,$(wildcard examples/$(1)/*.c)) $(UNIX_LIB)
	$$(MSG) LD $$@
	$$(Q)$$(CC) $$(FLAGS_unix) -o $$@ $$^
endef
$(foreach e,$(EXAMPLES),$(eval $(call example_rule,$(e))))

UNIX_EXAMPLES := $(foreach e,$(EXAMPLES),$(O)/unix/examples/$(e)/$(e))

.PHONY: unix
unix: $(UNIX_LIB) $(UNIX_EXAMPLES)

-include $(shell find $(O)/unix -name '*.d' 2>/dev/null)
