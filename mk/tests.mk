# Test tiers. Every suite is a command that prints TAP on stdout
# ("ok N - what", "not ok N - what", "ok N # SKIP why"); tests/run runs them
# all and prints one totals line. Fragments add suites with
# TEST_SUITES += path and what the suites need built with TEST_DEPS += files.

TEST_SUITES ?=
TEST_DEPS ?=

# The runner's own tests run first: if tests/run misjudges a broken suite,
# no totals line after it can be trusted (tests/runner/run.sh).
TEST_SUITES := tests/runner/run.sh $(TEST_SUITES)

# Unit tests: tests/unit/test_*.c, each linked with the harness, the
# libraries' archives and the unix platform's, built under ASan and UBSan
# (variant "test").
$(eval $(call compile_rules,test))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(O)/test/tests/unit/%,\
	$(sort $(wildcard tests/unit/test_*.c)))
UNIT_HARNESS := $(call objs,test,tests/unit/harness.c tests/unit/certs.c \
	tests/unit/dns_stub.c)
UNIT_HARNESS_LIB := $(O)/test/tests/unit/libharness.a
TEST_PLATFORM_LIB := $(O)/test/libhaze-unix.a
TEST_LIBS := $(TEST_PLATFORM_LIB) $(call hz_lib_archives,test)
# All of it in one archive, for programs that take one (fuzz replayers,
# the tender's test).
TEST_LIB := $(O)/test/libhaze-test.a

$(TEST_PLATFORM_LIB): $(call objs,test,$(UNIX_PLATFORM_SRCS))
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(UNIT_HARNESS_LIB): $(UNIT_HARNESS)
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(TEST_LIB): $(call objs,test,$(CORE_SRCS) $(UNIX_PLATFORM_SRCS)) \
		$(UNIT_HARNESS)
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/test/tests/unit/%: $(O)/test/tests/unit/%.o $(UNIT_HARNESS_LIB) \
		$(TEST_LIBS)
	$(MSG) LD $@
	$(Q)$(CC) $(LDFLAGS_test) -o $@ $(filter %.o,$^) \
		$(call hz_link,$(filter %.a,$^)) -lcmocka $(LIBOS_LIBS)

-include $(shell find $(O)/test -name '*.d' 2>/dev/null)

TEST_SUITES += tests/lint.sh tests/compile/run.sh $(UNIT_TESTS) \
	tests/examples/hello.sh tests/examples/echo_socket.sh tests/apps/run.sh \
	tests/kvm/unix_guests.sh \
	tests/net/interop_unix.sh tests/net/interop_kvm.sh tests/net/conn10k.sh \
	tests/build-clang.sh
TEST_DEPS += $(UNIT_TESTS) unix $(UNIX_TEST_APPS)
