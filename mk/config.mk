# Build configuration shared by every target.
#
# Out-of-tree: objects of target T go to $(O)/T/. `make CC=clang` works;
# `make O=build/clang CC=clang` keeps the two compilers' objects apart.
# Every object depends on a stamp holding its variant's flags, so changing
# CC or flags rebuilds what it must.

O ?= build
V ?= 0
ifeq ($(V),0)
Q := @
MSG = @printf '  %-6s %s\n'
else
Q :=
MSG = @true
endif

# Which compiler family, for the few flags that differ.
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wpointer-arith -Wundef \
	-Wno-unused-parameter
BASE_CFLAGS := -std=c11 $(WARN) -g -fno-strict-aliasing \
	-include include/haze/banned.h
# A frame larger than a page touches each page it spans, in order, so a
# stack overflow cannot step over a fiber's guard page (docs/decisions.md).
BASE_CFLAGS += -fstack-clash-protection
# Include paths are not flags of a target but of the code compiled: the
# libraries and the platforms see only what the layer rule lets them
# (mk/layers.mk sets INCLUDES for their objects); other code (tests, fuzz
# harnesses, the tender) is white-box and sees the whole tree.
APP_INCLUDES := -Iinclude -Isrc -I.
INCLUDES = $(APP_INCLUDES)

# unix: a Linux process, system libc.
FLAGS_unix := $(BASE_CFLAGS) -O2 -D_GNU_SOURCE
# test: the unix target under ASan and UBSan, for unit tests.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
FLAGS_test := $(BASE_CFLAGS) -O1 -D_GNU_SOURCE $(SAN)
LDFLAGS_test := $(SAN)

FORCE:
.PHONY: FORCE
.PRECIOUS: $(O)/%/.flags
# Objects are kept, never treated as intermediate files.
.SECONDARY:

# $(O)/T/.flags holds the flags of variant T; rewritten only on change.
# (With the white-box include paths: tests/compile/run.sh compiles with it.)
$(O)/%/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(FLAGS_$*) $(APP_INCLUDES)' | cmp -s - $@ || \
		echo '$(CC) $(FLAGS_$*) $(APP_INCLUDES)' > $@

# DEPFLAGS: the compiler writes each object's header dependencies (x.d)
# naming the object both as an absolute path and relative to the tree, so
# a build with O=build and one with O=$$PWD/build (some suites build that
# way) each see the other's dependencies: a header changed after either
# rebuilds the object.
DEPFLAGS = -MMD -MP -MT $(abspath $@) -MT $(patsubst $(CURDIR)/%,%,$(abspath $@))

# compile_rules(T): pattern rules building $(O)/T/x.o from x.c and x.S.
# Objects also depend on the layers' views ($(O)/inc, mk/layers.mk).
define compile_rules
$(O)/$(1)/%.o: %.c $(O)/$(1)/.flags $(O)/inc/.views
	$$(MSG) CC $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(FLAGS_$(1)) $$(INCLUDES) $$(DEPFLAGS) -c $$< -o $$@
$(O)/$(1)/%.o: %.S $(O)/$(1)/.flags $(O)/inc/.views
	$$(MSG) AS $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(filter-out -include include/haze/banned.h,$$(FLAGS_$(1))) \
		$$(INCLUDES) $$(DEPFLAGS) -c $$< -o $$@
endef

# objs(T, sources): the objects of @sources in variant T.
objs = $(patsubst %.c,$(O)/$(1)/%.o,$(patsubst %.S,$(O)/$(1)/%.o,$(2)))
