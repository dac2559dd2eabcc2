# The layer rule of Haze (docs/architecture.md): which code may include
# and link which. It is written here once. The build reads it to compile
# each library seeing only the headers it may include, and
# tests/check-layers.py reads it to fail `make lint` on any #include that
# crosses a layer the wrong way.
#
# Code may include its own headers and the interface of each layer it
# USES. A library's interface is its public headers, include/haze/NAME.h
# (or those HEADERS_NAME lists); the headers in its directory, src/NAME/,
# are private to it. Code outside src/ has no public headers: the headers
# in its directory are its interface. `bearssl` stands for <bearssl*.h>,
# `nettle` for <nettle/*.h> and <gmp.h>.
# Tests, fuzz harnesses and benchmarks are white-box and may include
# anything; applications (examples/) any public header.
#
# A new library src/NAME: add NAME to HZ_LIBS, after every library it
# uses, and a USES_NAME line; its public header is include/haze/NAME.h.
# That is all the build needs; docs/architecture.md's table gets the same
# row (docs/building.md).

# --- the rule -----------------------------------------------------------------

# The libraries of the library OS, src/NAME, lowest layer first.
HZ_LIBS := core entropy net tls dns conduit kv http

USES_core :=
USES_entropy := core bearssl
USES_net := core
USES_tls := core bearssl nettle
USES_dns := core net
USES_conduit := core net tls dns
USES_kv := core bearssl
USES_http := core net tls dns conduit

# Public headers of a library, where they are not just NAME.h.
HEADERS_core := assert banned error flow haze hostname log manifest mem \
	pbuf platform random sched wire
HEADERS_net := net ipstack simlink stack
HEADERS_dns := dns dns_server

# Code outside the libraries that is held to the rule, by directory.
# Host-side code (the tap, the option parsers, the tender) speaks net's
# addresses and ports; the unix target implements net's STACK over the
# host's sockets.
HZ_CODE := src/libc platform/host platform/unix platform/kvm platform/virtio \
	tender
USES_src/libc := core
USES_platform/host := core net
USES_platform/unix := core net platform/host
USES_platform/kvm := core
# The virtio target shares the kvm target's exception entry and guard pages.
USES_platform/virtio := core platform/kvm
USES_tender := core net platform/host platform/kvm

# --- the libraries, built -------------------------------------------------------

# Each library is an archive per target, $(O)/T/libhaze-NAME.a, of
# src/NAME/*.c. An image links all of them: the linker takes from each
# only what the image reaches, so hello takes no TLS, no entropy and no
# BearSSL.
$(foreach l,$(HZ_LIBS),\
	$(eval LIB_SRCS_$(l) := $(sort $(wildcard src/$(l)/*.c))))
LIB_SRCS_core += src/core/arch/x86_64/switch.S

# Every library's sources: the library OS.
CORE_SRCS := $(foreach l,$(HZ_LIBS),$(LIB_SRCS_$(l)))

hz_reverse = $(if $(1),$(call hz_reverse,$(wordlist 2,$(words $(1)),$(1))) \
	$(firstword $(1)))
# hz_lib_archives(T): the libraries' archives of target T, highest first.
hz_lib_archives = $(foreach l,$(strip $(call hz_reverse,$(HZ_LIBS))),\
	$(O)/$(1)/libhaze-$(l).a)
# hz_link(ARCHIVES): a link line's archives, which call each other both
# ways (the core calls the platform, the platform the core).
hz_link = -Wl,--start-group $(1) -Wl,--end-group

# hz_lib_rule(T, NAME): the archive of library NAME for target T.
define hz_lib_rule
$(O)/$(1)/libhaze-$(2).a: $(call objs,$(1),$(LIB_SRCS_$(2)))
	$$(MSG) AR $$@
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
HZ_LIB_TARGETS := unix kvm test
$(foreach t,$(HZ_LIB_TARGETS),$(foreach l,$(HZ_LIBS),\
	$(eval $(call hz_lib_rule,$(t),$(l)))))

# --- what each layer sees -----------------------------------------------------

# $(O)/inc/LAYER/ holds links to exactly the headers LAYER may include,
# spelled as it includes them (haze/mem.h, net/tcp.h, platform/host/tap.h);
# it is the only include path of LAYER's objects, so an include across
# layers the wrong way does not compile. (src/libc has its own flags, in
# mk/libc.mk; the tender is a host program and only linted.)
HZ_VIEWED := $(HZ_LIBS) platform/host platform/unix platform/kvm \
	platform/virtio

hz_dir = $(if $(filter $(1),$(HZ_CODE)),$(1),src/$(1))
hz_spelled = $(patsubst src/%,%,$(1))
hz_headers = $(or $(HEADERS_$(1)),$(1))
# hz_view(LAYER): LINK=TARGET pairs, LINK relative to the view.
hz_view = $(foreach l,$(filter $(HZ_LIBS),$(1) $(USES_$(1))),\
		$(foreach h,$(call hz_headers,$(l)),\
			haze/$(h).h=include/haze/$(h).h)) \
	$(foreach c,$(call hz_dir,$(1)) $(filter $(HZ_CODE),$(USES_$(1))),\
		$(call hz_spelled,$(c))=$(c))
hz_view_name = $(subst /,-,$(1))

HZ_VIEWS := $(foreach x,$(HZ_VIEWED),$(call hz_view_name,$(x)):$(strip \
	$(call hz_view,$(x))))
HZ_VIEW_STAMP := $(O)/inc/.views

# hz_view_link(VIEW, LINK, TARGET): the shell commands making one link.
hz_view_link = mkdir -p $(dir $(O)/inc/$(1)/$(2)) && \
	ln -s $(CURDIR)/$(3) $(O)/inc/$(1)/$(2) &&
# hz_view_links(LAYER): those making all of LAYER's links.
hz_view_links = $(foreach e,$(call hz_view,$(1)),$(call hz_view_link,$(strip \
	$(call hz_view_name,$(1))),$(word 1,$(subst =, ,$(e))),$(word 2,$(subst \
	=, ,$(e)))))

# Rewritten (and the links remade) only when the rule or the set of public
# headers changes; every object depends on it.
$(HZ_VIEW_STAMP): FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(HZ_VIEWS)' | cmp -s - $@ || { \
		rm -rf $(foreach x,$(HZ_VIEWED),$(@D)/$(call hz_view_name,$(x))) && \
		$(foreach x,$(HZ_VIEWED),$(call hz_view_links,$(x))) \
		echo '$(HZ_VIEWS)' > $@; }
	@mkdir -p $(@D)/external
	$(Q)ln -sfn /usr/include/nettle $(@D)/external/nettle && \
		ln -sfn /usr/include/$(shell gcc -print-multiarch)/gmp.h \
		$(@D)/external/gmp.h

HZ_VIEW_TARGETS := unix kvm test fuzz host virtio
$(foreach t,$(HZ_VIEW_TARGETS),$(foreach x,$(HZ_VIEWED),$(eval \
$(O)/$(t)/$(call hz_dir,$(x))/%.o: private INCLUDES = \
	-I$(O)/inc/$(call hz_view_name,$(x)))))
# Applications see the public headers only.
$(foreach t,$(HZ_VIEW_TARGETS),$(eval \
$(O)/$(t)/examples/%.o: private INCLUDES = -Iinclude))

# hz_check_strays: run once every fragment is read. A source that a
# fragment added to CORE_SRCS by hand belongs to no library's archive, so
# no image would link it: say how to declare its library instead.
hz_check_strays = $(foreach f,$(filter-out \
	$(foreach l,$(HZ_LIBS),$(LIB_SRCS_$(l))),$(CORE_SRCS)),$(error \
	$(f) is in no library: add its directory's name to HZ_LIBS in \
	mk/layers.mk, with a USES_ line (docs/building.md)))

# --- tests ----------------------------------------------------------------------

# tests/layers/images.sh: hello links no BearSSL and no entropy on either
# target; tls-echo links both.
TEST_SUITES += tests/layers/images.sh
TEST_DEPS += $(O)/unix/examples/hello/hello $(O)/kvm/examples/hello/hello.hz \
	$(O)/unix/examples/tls-echo/tls-echo $(O)/kvm/examples/tls-echo/tls-echo.hz
