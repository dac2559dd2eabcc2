# Entropy (src/entropy, docs/entropy.md): sources, health tests, Fortuna.
#
# A library of its own (mk/layers.mk), linked by the images that make it
# their random source. It uses BearSSL's SHA-256 and AES: every link of
# the library OS adds $(LIBOS_LIBS) (unix and tests), as needed only, so
# an image that takes neither entropy nor TLS does not depend on BearSSL
# (nor on Nettle and GMP, which TLS adds: mk/libc.mk); kvm guests link
# $(CRYPTO_LIBS), archives, and compile with $(BEARSSL_CFLAGS) (mk/kvm.mk,
# mk/libc.mk).

LIBOS_LIBS := -Wl,--as-needed -lbearssl -lhogweed -lnettle -lgmp \
	-Wl,--no-as-needed
