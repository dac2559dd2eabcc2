# haze-jitsu, the host daemon that boots unikernels when DNS names them
# (jitsu/, docs/jitsu.md). A Linux program built like haze-kvm, in the
# "host" variant; the DNS server, zone and log code of the library OS are
# linked in as sources, over jitsu/libos.c's heap, clock and console.
#
#   $(O)/host/jitsu/haze-jitsu

JITSU_SRCS := $(sort $(wildcard jitsu/*.c)) src/dns/dns_zone.c \
	src/dns/dns_server.c src/dns/dns_wire.c src/core/wire.c \
	src/core/error.c src/core/log.c src/core/assert.c platform/host/tap.c \
	src/net/inet.c
JITSU := $(O)/host/jitsu/haze-jitsu

$(JITSU): $(call objs,host,$(JITSU_SRCS))
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^

.PHONY: jitsu
jitsu: $(JITSU)
all: jitsu
TEST_DEPS += $(JITSU)

# tests/jitsu/jitsu.py: configuration refusals everywhere; as root, a
# daemon of 50 website services asked with dig, curl and hand-made DNS.
TEST_SUITES += tests/jitsu/jitsu.py
TEST_DEPS += $(O)/unix/examples/website/website
