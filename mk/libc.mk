# The freestanding libc of the kvm target: src/libc (docs/libc.md).
#
# $(O)/kvm/libc.a is what the kvm fragment links into every guest image.
# It uses LIBC_CFLAGS for freestanding code built against these headers,
# and BEARSSL_CFLAGS to see bearssl.h without the host's libc headers.
#
# $(O)/libc-test/test_libc is the differential test: the same sources
# built for the host, under ASan and UBSan, with every symbol they define
# renamed hzlibc_*, so one binary calls both them and glibc and compares.
# $(O)/libc-test/link_check proves that libc.a satisfies every libc symbol
# Debian's libbearssl.a needs (the whole archive, not just what one call
# pulls in).

LIBC_SRCS := $(sort $(wildcard src/libc/*.c))
LIBC_INCLUDE := src/libc/include
LIBC_CFLAGS := -std=c11 -ffreestanding -fno-builtin -nostdinc \
	-isystem $(LIBC_INCLUDE) -Iinclude -O2 -g $(WARN) \
	-mno-red-zone -fno-pic -fno-pie -mcmodel=small -fno-stack-protector \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -ffunction-sections -fdata-sections
# (frame pointers: a guest fault's backtrace walks through libc frames;
# sections: the guest link drops the functions nobody calls.)
# Only bearssl*.h live there: nothing of the host's libc leaks in.
BEARSSL_CFLAGS := -isystem /usr/include/bearssl
BEARSSL_LIB := /usr/lib/x86_64-linux-gnu/libbearssl.a
# Nettle's elliptic curves, for TLS (src/tls/tls_ec.c), with the GMP they
# compute on. Their headers share directories with the host's libc's, so
# guests see them through $(NETTLE_INC), which holds links to only
# <nettle/> and <gmp.h> (made with the layer views, mk/layers.mk).
NETTLE_INC := $(O)/inc/external
NETTLE_CFLAGS := -isystem $(NETTLE_INC)
NETTLE_LIBS := /usr/lib/x86_64-linux-gnu/libhogweed.a \
	/usr/lib/x86_64-linux-gnu/libnettle.a /usr/lib/x86_64-linux-gnu/libgmp.a
# What a guest links besides Haze and the libc.
CRYPTO_LIBS := $(BEARSSL_LIB) $(NETTLE_LIBS)

# The libc's own sources also ban what Haze bans, and keep gcc from
# turning their loops into calls to memcpy or memset, that is, to
# themselves (clang does not under -ffreestanding).
LIBC_SELF_CFLAGS := -include include/haze/banned.h
ifneq ($(CC_IS_CLANG),1)
LIBC_SELF_CFLAGS += -fno-tree-loop-distribute-patterns
endif

LIBC_LIB := $(O)/kvm/libc.a
LIBC_OBJS := $(patsubst %.c,$(O)/kvm/%.o,$(LIBC_SRCS))
LIBC_KVM_FLAGS := $(CC) $(LIBC_CFLAGS) $(LIBC_SELF_CFLAGS)

# libc_write_flags(FLAGS): rewrites the stamp $@ when FLAGS changed.
libc_write_flags = @mkdir -p $(@D); \
	echo '$(1)' | cmp -s - $@ || echo '$(1)' > $@

# The more specific patterns win over a kvm fragment's $(O)/kvm/%.o.
$(O)/kvm/src/libc/.flags: FORCE
	$(call libc_write_flags,$(LIBC_KVM_FLAGS))

$(O)/kvm/src/libc/%.o: src/libc/%.c $(O)/kvm/src/libc/.flags
	$(MSG) CC $@
	@mkdir -p $(@D)
	$(Q)$(LIBC_KVM_FLAGS) $(DEPFLAGS) -c $< -o $@

$(LIBC_LIB): $(LIBC_OBJS)
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

# --- the differential test ------------------------------------------------

LIBC_TEST := $(O)/libc-test/test_libc
LIBC_LINK_CHECK := $(O)/libc-test/link_check
LIBC_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# Host objects: the kvm flags but position-independent, with sanitizers.
LIBC_HOST_FLAGS := $(CC) $(filter-out -mno-red-zone -fno-pic -fno-pie \
	-mcmodel=small -O2,$(LIBC_CFLAGS)) -O1 $(LIBC_SELF_CFLAGS) $(LIBC_SAN)
LIBC_HOST_OBJS := $(patsubst %.c,$(O)/libc-test/%.o,$(LIBC_SRCS))
LIBC_TEST_FLAGS := $(CC) -std=c11 -D_GNU_SOURCE -O1 -g $(WARN) -Iinclude \
	-Itests/libc $(LIBC_SAN)

$(O)/libc-test/src/libc/.flags: FORCE
	$(call libc_write_flags,$(LIBC_HOST_FLAGS))

$(O)/libc-test/tests/libc/.flags: FORCE
	$(call libc_write_flags,$(LIBC_TEST_FLAGS))

$(O)/libc-test/src/libc/%.o: src/libc/%.c $(O)/libc-test/src/libc/.flags
	$(MSG) CC $@
	@mkdir -p $(@D)
	$(Q)$(LIBC_HOST_FLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/libc-test/tests/libc/%.o: tests/libc/%.c \
		$(O)/libc-test/tests/libc/.flags
	$(MSG) CC $@
	@mkdir -p $(@D)
	$(Q)$(LIBC_TEST_FLAGS) $(DEPFLAGS) -c $< -o $@

# One relocatable object, every symbol it defines renamed hzlibc_*.
$(O)/libc-test/hzlibc.o: $(LIBC_HOST_OBJS)
	$(MSG) RENAME $@
	$(Q)$(CC) -r -nostdlib -o $@.tmp $^
	$(Q)nm -g --defined-only --format=posix $@.tmp | \
		awk '{ print $$1, "hzlibc_" $$1 }' > $@.syms
	$(Q)objcopy --redefine-syms=$@.syms $@.tmp $@
	$(Q)rm -f $@.tmp

$(LIBC_TEST): $(O)/libc-test/tests/libc/test_libc.o $(O)/libc-test/hzlibc.o
	$(MSG) LD $@
	$(Q)$(CC) $(LIBC_SAN) -o $@ $^

# --- the BearSSL link check -------------------------------------------------

$(O)/libc-test/link_check.o: tests/libc/link_check.c \
		$(O)/kvm/src/libc/.flags $(HZ_VIEW_STAMP)
	$(MSG) CC $@
	@mkdir -p $(@D)
	$(Q)$(LIBC_KVM_FLAGS) $(BEARSSL_CFLAGS) $(NETTLE_CFLAGS) $(DEPFLAGS) \
		-c $< -o $@

# Static, no host libc, every member of libbearssl.a and libc.a, and what
# TLS takes of Nettle's and GMP's archives: an undefined symbol fails the
# link. Linked, never run: no platform is under it.
$(LIBC_LINK_CHECK): $(O)/libc-test/link_check.o $(LIBC_LIB)
	$(MSG) LD $@
	$(Q)$(CC) -nostdlib -static -Wl,-e,link_check_start \
		-Wl,--no-undefined -o $@ $< \
		-Wl,--whole-archive $(BEARSSL_LIB) $(LIBC_LIB) \
		-Wl,--no-whole-archive $(NETTLE_LIBS) $(LIBC_LIB)

.PHONY: libc
libc: $(LIBC_LIB) $(LIBC_TEST) $(LIBC_LINK_CHECK)

TEST_SUITES += $(LIBC_TEST)
TEST_DEPS += $(LIBC_TEST) $(LIBC_LINK_CHECK)

-include $(shell find $(O)/kvm/src/libc $(O)/libc-test -name '*.d' \
	2>/dev/null)
