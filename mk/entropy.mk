# Entropy (src/entropy, docs/entropy.md): sources, health tests, Fortuna.
#
# Its sources join the library OS, so they build into the unix library,
# the unit-test library and every kvm image. It uses BearSSL's SHA-256 and
# AES: every link of the library OS adds $(LIBOS_LIBS) (unix and tests);
# kvm guests link $(BEARSSL_LIB) and compile with $(BEARSSL_CFLAGS)
# (mk/kvm.mk, mk/libc.mk).

CORE_SRCS += $(sort $(wildcard src/entropy/*.c))
LIBOS_LIBS := -lbearssl
