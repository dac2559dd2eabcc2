# TLS (src/tls): a FLOW over any FLOW, on BearSSL (docs/tls.md).
#
# A library of its own (mk/layers.mk). Its objects include <bearssl.h>:
# on unix and test it is in /usr/include; the kvm target is built with
# -nostdinc, so its TLS objects get the directory that holds only
# BearSSL's headers.
#
# Programs that use TLS link BearSSL: the unix and test link lines carry
# $(LIBOS_LIBS) and kvm images libbearssl.a (mk/entropy.mk, which needs it
# too).

TLS_BEARSSL_INC := /usr/include/bearssl


$(O)/fuzz/src/tls/%.o: private FLAGS_fuzz += -isystem $(TLS_BEARSSL_INC)

# --- programs that use TLS ----------------------------------------------------

# Test certificates (tests/tls/mkcerts.sh) made once per build tree, and a
# header carrying them, for the programs that compile them in.
TLS_GEN := $(O)/gen/tls
TLS_CERTS := $(TLS_GEN)/certs
TLS_CERTS_H := $(TLS_GEN)/tls_certs.h

$(TLS_CERTS)/ca.pem: tests/tls/mkcerts.sh
	$(MSG) CERTS $(TLS_CERTS)
	$(Q)rm -rf $(TLS_CERTS) && sh tests/tls/mkcerts.sh $(TLS_CERTS)

$(TLS_CERTS_H): $(TLS_CERTS)/ca.pem examples/tls-echo/pem2c.sh
	$(MSG) GEN $@
	$(Q)sh examples/tls-echo/pem2c.sh $(TLS_CERTS) ca.pem ec.pem ec.key \
		rsa.pem rsa.key > $@.tmp && mv $@.tmp $@

TLS_ECHO_UNIX := $(O)/unix/examples/tls-echo/tls-echo
TLS_CLIENT := $(O)/unix/tests/tls/tlsclient/tlsclient

$(O)/unix/examples/tls-echo/tls-echo.o $(O)/kvm/examples/tls-echo/tls-echo.o \
$(O)/unix/tests/tls/tlsclient/tlsclient.o: $(TLS_CERTS_H)
$(O)/unix/examples/tls-echo/%.o $(O)/unix/tests/tls/tlsclient/%.o: \
	private FLAGS_unix += -I$(TLS_GEN)
$(O)/kvm/examples/tls-echo/%.o: private FLAGS_kvm += -I$(TLS_GEN)

# The interop client, a unix unikernel.
$(TLS_CLIENT): $(O)/unix/tests/tls/tlsclient/tlsclient.o $(O)/unix/libhaze.a
	$(MSG) LD $@
	$(Q)$(CC) $(FLAGS_unix) -o $@ $^ $(LIBOS_LIBS)

TEST_SUITES += tests/tls/interop.sh
TEST_DEPS += $(TLS_ECHO_UNIX) $(TLS_CLIENT) $(TLS_CERTS_H)

# --- fuzz harnesses -------------------------------------------------------------

# fuzz_tls_record serves with the build's test certificates.
$(O)/test/fuzz/fuzz_tls_record.o $(O)/fuzz/fuzz/fuzz_tls_record.o: \
	$(TLS_CERTS_H)
$(O)/test/fuzz/fuzz_tls_record.o: private FLAGS_test += -I$(TLS_GEN)
$(O)/fuzz/fuzz/fuzz_tls_record.o: private FLAGS_fuzz += -I$(TLS_GEN)
