# KV (src/kv, include/haze/kv.h, docs/kv.md): read-only stores of files,
# compiled into the image by crunch or read from a tar on a block device.
#
# src/kv is a library of its own, kv in mk/layers.mk (it uses the core,
# and BearSSL's SHA-256 for the tar store's ETags).
#
# Compiled stores. An application directory (examples/NAME/ or
# tests/apps/NAME/) with a site/ subdirectory gets it crunched into
# $(O)/gen/kv/<app dir>/site_kv.h, on the include path of the application's
# objects on every target. One of its sources includes it once:
#
#     #include "site_kv.h"   /* defines static const hz_kv_image site_kv */
#     ...
#     r = hz_kv_static_open(&site_kv, &kv);
#
# Other directories (or more stores for one application) take one line in
# a fragment: $(eval $(call kv_app_store,APPDIR,NAME,DIR)) gives NAME_kv.h
# defining NAME_kv from DIR (which may be a generated directory).

PYTHON ?= python3
CRUNCH := tools/crunch/crunch.py
KV_GEN := $(O)/gen/kv

# kv_crunch(HEADER, NAME, DIR): HEADER holds DIR crunched as store NAME.
# Crunch runs on every make, since make cannot see a file added to or
# removed from a directory tree, and replaces HEADER only when its content
# changes, so objects are rebuilt only then.
define kv_crunch
$(1): FORCE $(CRUNCH) src/kv/content_types.def
	@mkdir -p $$(@D)
	$$(Q)$$(PYTHON) $(CRUNCH) -n $(2) -o $$@ $(3)
endef

# kv_app_store(APPDIR, NAME, DIR): store NAME from DIR for the
# application of APPDIR, on the unix and kvm targets.
define kv_app_store
$(call kv_crunch,$(KV_GEN)/$(1)/$(2)_kv.h,$(2),$(3))
$(call objs,unix,$(wildcard $(1)/*.c)) $(call objs,kvm,$(wildcard $(1)/*.c)): \
	$(KV_GEN)/$(1)/$(2)_kv.h
$(O)/unix/$(1)/%.o: private FLAGS_unix += -I$(KV_GEN)/$(1)
$(O)/kvm/$(1)/%.o: private FLAGS_kvm += -I$(KV_GEN)/$(1)
endef

KV_SITE_APPS := $(patsubst %/site/,%,$(wildcard examples/*/site/ \
	tests/apps/*/site/))
$(foreach a,$(KV_SITE_APPS),$(eval $(call kv_app_store,$(a),site,$(a)/site)))

# --- tests ----------------------------------------------------------------

# The unit tests' fixture, crunched as store "fixture" (tests/kv/fixture).
KV_FIXTURE_H := $(KV_GEN)/tests/unit/fixture_kv.h
$(eval $(call kv_crunch,$(KV_FIXTURE_H),fixture,tests/kv/fixture))
$(O)/test/tests/unit/test_kv.o: $(KV_FIXTURE_H)
$(O)/test/tests/unit/test_kv.o: private FLAGS_test += -I$(KV_GEN)/tests/unit

# crunch.sh: crunch's refusals and deterministic output; apps.sh: the
# kvcheck unikernel over both stores, with archives made by GNU tar.
TEST_SUITES += tests/kv/crunch.sh tests/kv/apps.sh
TEST_DEPS += $(KV_FIXTURE_H) $(O)/unix/tests/apps/kvcheck/kvcheck
