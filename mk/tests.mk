# Test tiers. Every suite is a command that prints TAP on stdout
# ("ok N - what", "not ok N - what", "ok N # SKIP why"); tests/run runs them
# all and prints one totals line. Fragments add suites with
# TEST_SUITES += path and what the suites need built with TEST_DEPS += files.

TEST_SUITES ?=
TEST_DEPS ?=

# Unit tests: tests/unit/test_*.c, each linked with the core and the unix
# platform built under ASan and UBSan (variant "test").
$(eval $(call compile_rules,test))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(O)/test/tests/unit/%,\
	$(sort $(wildcard tests/unit/test_*.c)))
TEST_LIB := $(O)/test/libhaze-test.a

$(TEST_LIB): $(call objs,test,$(CORE_SRCS) $(UNIX_PLATFORM_SRCS) \
		tests/unit/harness.c tests/unit/certs.c)
	$(MSG) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/test/tests/unit/%: $(O)/test/tests/unit/%.o $(TEST_LIB)
	$(MSG) LD $@
	$(Q)$(CC) $(LDFLAGS_test) -o $@ $^ -lcmocka $(LIBOS_LIBS)

-include $(shell find $(O)/test -name '*.d' 2>/dev/null)

TEST_SUITES += tests/lint.sh tests/compile/run.sh $(UNIT_TESTS) \
	tests/examples/hello.sh tests/examples/echo_socket.sh tests/apps/run.sh \
	tests/kvm/unix_guests.sh \
	tests/net/interop_unix.sh tests/net/interop_kvm.sh tests/build-clang.sh
TEST_DEPS += $(UNIT_TESTS) unix $(UNIX_TEST_APPS)
