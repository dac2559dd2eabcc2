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
	-Iinclude -Isrc -I. -include include/haze/banned.h

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
$(O)/%/.flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(FLAGS_$*)' | cmp -s - $@ || echo '$(CC) $(FLAGS_$*)' > $@

# compile_rules(T): pattern rules building $(O)/T/x.o from x.c and x.S.
define compile_rules
$(O)/$(1)/%.o: %.c $(O)/$(1)/.flags
	$$(MSG) CC $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(FLAGS_$(1)) -MMD -MP -c $$< -o $$@
$(O)/$(1)/%.o: %.S $(O)/$(1)/.flags
	$$(MSG) AS $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(filter-out -include include/haze/banned.h,$$(FLAGS_$(1))) \
		-MMD -MP -c $$< -o $$@
endef

# objs(T, sources): the objects of @sources in variant T.
objs = $(patsubst %.c,$(O)/$(1)/%.o,$(patsubst %.S,$(O)/$(1)/%.o,$(2)))
