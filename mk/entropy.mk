# Entropy (src/entropy, docs/entropy.md): sources, health tests, Fortuna.
#
# Its sources join the library OS, so they build into the unix library,
# the unit-test library and every kvm image. It uses BearSSL's SHA-256 and
# AES: every link of the library OS adds $(LIBOS_LIBS) (unix and tests);
# kvm guests link $(BEARSSL_LIB) (mk/libc.mk) before their libc and
# compile with $(BEARSSL_CFLAGS).

CORE_SRCS += $(sort $(wildcard src/entropy/*.c))
LIBOS_LIBS := -lbearssl

# kvm objects are built with -nostdinc: give this subsystem's objects the
# directory that holds only BearSSL's headers (mk/libc.mk's BEARSSL_CFLAGS).
$(O)/kvm/src/entropy/%.o: FLAGS_kvm += -isystem /usr/include/bearssl

# Stopgap until mk/kvm.mk links BearSSL itself: the runtime seeds the
# generator at start, so every guest image needs libbearssl.a. The image
# recipe expands KVM_LIBC inside its --start-group/--end-group, so the
# archive joins the group there. Harmless once kvm.mk links it too.
$(O)/kvm/%.hz: KVM_LIBC += /usr/lib/x86_64-linux-gnu/libbearssl.a
