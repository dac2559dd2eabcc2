# --- the tender against a hostile guest, without /dev/kvm -------------------
# tests/tender drives the tender's code in-process through a fake VM
# (tests/tender/fakevm.c), under ASan and UBSan, so it runs on every
# machine; fakevm.c stands in for tender/exit.c. pread is wrapped to count
# what the ELF loader reads.

TENDER_TEST_SRCS := $(filter-out tender/main.c tender/exit.c,\
	$(sort $(wildcard tender/*.c))) tests/tender/fakevm.c platform/kvm/report.c
TENDER_TEST := $(O)/test/tests/tender/test_tender
$(O)/test/tender/slirp.o: private FLAGS_test += $(SLIRP_CFLAGS)
$(O)/fuzz/tender/slirp.o: private FLAGS_fuzz += $(SLIRP_CFLAGS)

$(TENDER_TEST): $(call objs,test,tests/tender/test_tender.c \
		$(TENDER_TEST_SRCS) src/net/inet.c) $(TEST_LIB)
	$(MSG) LD $@
	$(Q)$(CC) $(LDFLAGS_test) -Wl,--wrap=pread -o $@ $^ -lcmocka \
		-lseccomp -ldl $(LIBOS_LIBS)

TEST_SUITES += $(TENDER_TEST)
TEST_DEPS += $(TENDER_TEST)

# haze-kvm --gdb's stub on the fake VM, the debuggee image loaded in it,
# and real gdb -batch sessions against it (tests/tender/test_gdb.c); ioctl
# is wrapped so that the vCPU's calls reach a toy vCPU in the test.
TENDER_GDB_TEST := $(O)/test/tests/tender/test_gdb
$(TENDER_GDB_TEST): $(call objs,test,tests/tender/test_gdb.c \
		$(TENDER_TEST_SRCS) src/net/inet.c) $(TEST_LIB)
	$(MSG) LD $@
	$(Q)$(CC) $(LDFLAGS_test) -Wl,--wrap=ioctl -o $@ $^ -lcmocka \
		-lseccomp -ldl $(LIBOS_LIBS)

TEST_SUITES += $(TENDER_GDB_TEST)
TEST_DEPS += $(TENDER_GDB_TEST) $(O)/kvm/tests/kvm/guests/debuggee/debuggee.hz
