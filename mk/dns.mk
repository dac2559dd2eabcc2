# examples/dns, the authoritative DNS unikernel, and its suites
# (tests/dns/, docs/dns.md "examples/dns").
#
# The example's default zone, examples/dns/haze.test.zone, is compiled
# into the image: a C array in $(O)/gen/dns/zone_text.h (made by
# examples/tls-echo/pem2c.sh, which turns any text file into one), on
# the include path of the example's objects on every target.

DNS_GEN := $(O)/gen/dns
DNS_ZONE_H := $(DNS_GEN)/zone_text.h

$(DNS_ZONE_H): examples/dns/haze.test.zone examples/tls-echo/pem2c.sh
	@mkdir -p $(@D)
	$(MSG) GEN $@
	$(Q)sh examples/tls-echo/pem2c.sh examples/dns haze.test.zone \
		> $@.tmp && mv $@.tmp $@

$(call objs,unix,examples/dns/dns.c) $(call objs,kvm,examples/dns/dns.c): \
	$(DNS_ZONE_H)
$(O)/unix/examples/dns/%.o: private FLAGS_unix += -I$(DNS_GEN)
$(O)/kvm/examples/dns/%.o: private FLAGS_kvm += -I$(DNS_GEN)

# interop.sh: answers compared with NSD's for the same zone, with dig;
# malformed.sh: hand-made bad queries, the server answering good ones
# after each; zone.sh: the zone from the image or a block device, and
# bad zones refused at start.
TEST_SUITES += tests/dns/interop.sh tests/dns/malformed.sh tests/dns/zone.sh
# The kvm image is in TEST_DEPS through mk/kvm.mk (every example).
TEST_DEPS += $(O)/unix/examples/dns/dns
