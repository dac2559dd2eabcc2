# DNS (src/dns: wire format, stub resolver) and conduit (src/conduit:
# endpoints as strings, giving FLOWs). Target-independent libraries of
# their own (mk/layers.mk). See docs/conduit.md.

# conduitcheck, the interop client (tests/conduit/interop.sh), compiles in
# the build's test CA (mk/tls.mk) as tlsclient does; every target builds
# the test applications.
CONDUIT_CHECK := $(O)/unix/tests/apps/conduitcheck/conduitcheck

$(O)/unix/tests/apps/conduitcheck/conduitcheck.o \
$(O)/kvm/tests/apps/conduitcheck/conduitcheck.o: $(TLS_CERTS_H)
$(O)/unix/tests/apps/conduitcheck/%.o: private FLAGS_unix += -I$(TLS_GEN)
$(O)/kvm/tests/apps/conduitcheck/%.o: private FLAGS_kvm += -I$(TLS_GEN)

TEST_SUITES += tests/conduit/interop.sh
TEST_DEPS += $(CONDUIT_CHECK) $(TLS_CERTS_H)
