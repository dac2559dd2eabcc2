# make install / make uninstall: Haze for applications outside this tree
# (docs/using.md; the layout is in docs/decisions.md).
#
#   make install PREFIX=/usr/local DESTDIR=      (the defaults)
#   make uninstall PREFIX=... DESTDIR=...
#
# PREFIX is where Haze will live (it is written into the pkg-config
# files); DESTDIR stages the install elsewhere, for packaging.
#
#   PREFIX/bin/haze, haze-kvm, haze-qemu  the haze command, the runners
#   PREFIX/share/man/man1/haze.1        its manual page
#   PREFIX/include/haze/*.h             the public headers
#   PREFIX/lib/haze/unix/libhaze.a      the unix target, one archive
#   PREFIX/lib/haze/kvm/                the kvm target: libhaze.a, libc.a,
#                                       haze-kvm-start.o, guest.ld, include/
#   PREFIX/lib/haze/virtio/             the virtio target: haze-virtio-start.o,
#                                       guest.ld (the rest is kvm's)
#   PREFIX/lib/pkgconfig/haze-T.pc      one per target, every flag in it
#   PREFIX/share/haze/                  templates of haze new; crunch
#
# Another target installs by adding to HZ_INSTALL_PCS (its .pc file, made
# by a rule of its own), HZ_INSTALL_BINS (its runner, e.g. haze-qemu) and
# its files to HZ_INSTALL_LIBS_T under lib/haze/T/ (HZ_INSTALL_TARGETS).

PREFIX ?= /usr/local
DESTDIR ?=
HZ_VERSION := 0.1

# The kvm target in two files besides libc.a: every library in one
# archive, and the platform's objects (_start, the notes, the hypercalls),
# linked whole into every image, as one relocatable object.
KVM_ALL_LIB := $(O)/kvm/libhaze.a
KVM_START := $(O)/kvm/haze-kvm-start.o

$(KVM_ALL_LIB): $(call objs,kvm,$(CORE_SRCS))
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(KVM_START): $(KVM_PLATFORM_OBJS)
	$(MSG) LD $@
	$(Q)ld -r -o $@ $^

# The virtio target compiles and archives as the kvm target does; only its
# platform's objects (the PVH entry, virtio devices) and linker script
# are its own.
VIRTIO_START := $(O)/virtio/haze-virtio-start.o

$(VIRTIO_START): $(VIRTIO_PLATFORM_OBJS)
	$(MSG) LD $@
	$(Q)ld -r -o $@ $^

# --- pkg-config files -------------------------------------------------------

HZ_PC_DIR := $(O)/pkgconfig
# The guest's code generation flags, as the tree compiles its own: the
# kvm flags without warnings, optimisation, debug info, the language
# standard (the application's choice) and the tree's include paths.
HZ_PC_KVM_CFLAGS := -I$${includedir} -ffreestanding -nostdinc \
	-isystem $${kvmdir}/include $(BEARSSL_CFLAGS) \
	$(filter-out $(WARN) -g -O2 -std=c11 -ffreestanding -nostdinc \
	-include include/haze/banned.h -isystem $(LIBC_INCLUDE) \
	$(BEARSSL_CFLAGS),$(FLAGS_kvm))
HZ_PC_KVM_LIBS := $(subst $(KVM_LDSCRIPT),$${kvmdir}/guest.ld,$(KVM_LDFLAGS)) \
	$${kvmdir}/haze-kvm-start.o -Wl,--start-group $${kvmdir}/libhaze.a \
	$(CRYPTO_LIBS) $${kvmdir}/libc.a -Wl,--end-group -lgcc

HZ_PC_VIRTIO_CFLAGS := $(subst $${kvmdir},$${prefix}/lib/haze/kvm,\
	$(HZ_PC_KVM_CFLAGS))
HZ_PC_VIRTIO_LIBS := $(subst $(VIRTIO_LDSCRIPT),$${virtiodir}/guest.ld,\
	$(VIRTIO_LDFLAGS)) $${virtiodir}/haze-virtio-start.o -Wl,--start-group \
	$${prefix}/lib/haze/kvm/libhaze.a $(CRYPTO_LIBS) \
	$${prefix}/lib/haze/kvm/libc.a -Wl,--end-group -lgcc

# hz_pc(TARGET, DESCRIPTION, DIRVAR, CFLAGS, LIBS): the lines of one file.
hz_pc = prefix=$(PREFIX)\nincludedir=$${prefix}/include\n$(3)=$${prefix}/lib/haze/$(1)\n\nName: haze-$(1)\nDescription: $(2)\nVersion: $(HZ_VERSION)\nCflags: $(strip $(4))\nLibs: $(strip $(5))\n

HZ_PC_unix := $(call hz_pc,unix,Haze unikernels as Linux processes (the \
	unix target),libdir,-I$${includedir},-L$${libdir} -lhaze \
	$(LIBOS_LIBS))
HZ_PC_kvm := $(call hz_pc,kvm,Haze unikernels as KVM guests for haze-kvm \
	(the kvm target),kvmdir,$(HZ_PC_KVM_CFLAGS),$(HZ_PC_KVM_LIBS))
HZ_PC_virtio := $(call hz_pc,virtio,Haze unikernels as PVH guests for \
	haze-qemu (the virtio target),virtiodir,$(HZ_PC_VIRTIO_CFLAGS),\
	$(HZ_PC_VIRTIO_LIBS))

# Rewritten only when their text changes (a new PREFIX, a new flag).
$(HZ_PC_DIR)/haze-%.pc: FORCE
	@mkdir -p $(@D)
	$(Q)printf '$(HZ_PC_$*)' | cmp -s - $@ || printf '$(HZ_PC_$*)' > $@

# --- what is installed ----------------------------------------------------

HZ_INSTALL_TARGETS := unix kvm virtio
HZ_INSTALL_PCS := $(HZ_PC_DIR)/haze-unix.pc $(HZ_PC_DIR)/haze-kvm.pc \
	$(HZ_PC_DIR)/haze-virtio.pc
HZ_INSTALL_BINS := $(TENDER) $(HAZE_QEMU)
HZ_INSTALL_LIBS_unix := $(UNIX_LIB)
HZ_INSTALL_LIBS_kvm := $(KVM_ALL_LIB) $(KVM_LIBC) $(KVM_START) $(KVM_LDSCRIPT)
HZ_INSTALL_LIBS_virtio := $(VIRTIO_START) $(VIRTIO_LDSCRIPT)
HZ_INSTALL_HEADERS := $(sort $(wildcard include/haze/*.h))
HZ_TEMPLATES := $(shell find tools/haze/templates -type f 2>/dev/null)

hz_dest = $(DESTDIR)$(PREFIX)

.PHONY: install uninstall
# A relative PREFIX or DESTDIR is refused before anything is built.
hz_install_goal := $(filter install uninstall,$(MAKECMDGOALS))
ifneq ($(hz_install_goal),)
ifneq ($(words $(PREFIX)),1)
$(error make $(hz_install_goal): PREFIX=$(PREFIX): not one absolute path)
endif
ifeq ($(filter /%,$(PREFIX)),)
$(error make $(hz_install_goal): PREFIX=$(PREFIX): not an absolute path)
endif
ifneq ($(filter-out /%,$(DESTDIR)),)
$(error make $(hz_install_goal): DESTDIR=$(DESTDIR): not an absolute path)
endif
endif

install: $(HZ_INSTALL_PCS) $(HZ_INSTALL_BINS) \
		$(foreach t,$(HZ_INSTALL_TARGETS),$(HZ_INSTALL_LIBS_$(t)))
	$(MSG) INSTALL $(hz_dest)
	$(Q)install -d $(hz_dest)/bin $(hz_dest)/include/haze \
		$(hz_dest)/lib/pkgconfig $(hz_dest)/share/man/man1 \
		$(hz_dest)/lib/haze/kvm/include \
		$(hz_dest)/share/haze/tools/crunch $(hz_dest)/share/haze/src/kv \
		$(foreach t,$(HZ_INSTALL_TARGETS),$(hz_dest)/lib/haze/$(t))
	$(Q)sed 's/@HZ_VERSION@/$(HZ_VERSION)/' tools/haze/haze.py \
		>$(hz_dest)/bin/haze && chmod 755 $(hz_dest)/bin/haze
	$(Q)install -m 755 $(HZ_INSTALL_BINS) $(hz_dest)/bin/
	$(Q)install -m 644 tools/haze/haze.1 $(hz_dest)/share/man/man1/haze.1
	$(Q)install -m 644 $(HZ_INSTALL_HEADERS) $(hz_dest)/include/haze/
	$(Q)rm -rf $(hz_dest)/lib/haze/kvm/include
	$(Q)cp -R $(LIBC_INCLUDE) $(hz_dest)/lib/haze/kvm/include
	$(Q)$(foreach t,$(HZ_INSTALL_TARGETS),install -m 644 \
		$(HZ_INSTALL_LIBS_$(t)) $(hz_dest)/lib/haze/$(t)/ &&) true
	$(Q)install -m 644 $(HZ_INSTALL_PCS) $(hz_dest)/lib/pkgconfig/
	$(Q)rm -rf $(hz_dest)/share/haze/templates
	$(Q)cp -R tools/haze/templates $(hz_dest)/share/haze/templates
	$(Q)install -m 644 $(CRUNCH) $(hz_dest)/share/haze/tools/crunch/
	$(Q)install -m 644 src/kv/content_types.def $(hz_dest)/share/haze/src/kv/

# Removes what install put there, and the directories that were only
# Haze's; a directory shared with others (bin, lib/pkgconfig) stays.
uninstall:
	$(MSG) UNINSTALL $(hz_dest)
	$(Q)rm -f $(hz_dest)/bin/haze \
		$(addprefix $(hz_dest)/bin/,$(notdir $(HZ_INSTALL_BINS))) \
		$(hz_dest)/share/man/man1/haze.1 \
		$(addprefix $(hz_dest)/include/haze/,$(notdir \
		$(HZ_INSTALL_HEADERS))) \
		$(addprefix $(hz_dest)/lib/pkgconfig/,$(notdir $(HZ_INSTALL_PCS)))
	$(Q)rm -rf $(hz_dest)/lib/haze $(hz_dest)/share/haze
	$(Q)rmdir $(hz_dest)/include/haze 2>/dev/null || true

# --- tests ----------------------------------------------------------------------

TEST_SUITES += tests/install/run.sh
TEST_DEPS += $(HZ_INSTALL_PCS) $(KVM_ALL_LIB) $(KVM_START) $(UNIX_LIB) \
	$(TENDER) $(KVM_EXAMPLES) $(UNIX_EXAMPLES) $(VIRTIO_START) \
	$(VIRTIO_EXAMPLES)
