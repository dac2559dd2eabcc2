# Programs the benchmarks need that are no part of Haze, in their own
# variant, $(O)/bench/. Built on demand by the bench that runs them, never
# by `make` or `make test`.
#
#   make bench-lwip    $(O)/bench/bench/tcp/lwip/lwip-echo: echo, discard
#                      and chargen on Debian's lwIP over its tap driver,
#                      bench/tcp's third column (docs/tcp.md, "Measured")
#   make bench-client  $(O)/bench/bench/client/client: the load generator
#                      of bench/tcp and bench/tls (send, recv, rate, and
#                      echo, plain or over TLS with Debian's BearSSL)
#   make bench-gcm     $(O)/bench/bench/gcm/gcm: BearSSL's AES-CTR and GHASH
#                      against TLS's vector ones on 16 KiB records
#
# lwIP comes from Debian's liblwip-dev (scripts/deps.sh installs it). Its
# headers are system headers here (-isystem): they are lwIP's code, not
# held to Haze's warnings; the program itself is.

LWIP_PC := $(shell pkg-config --exists lwip 2>/dev/null && echo y)
LWIP_CFLAGS := $(patsubst -I%,-isystem %,\
	$(shell pkg-config --cflags lwip 2>/dev/null))
LWIP_LIBS := $(shell pkg-config --libs lwip 2>/dev/null) -lpthread

FLAGS_bench := $(BASE_CFLAGS) -O2 -D_GNU_SOURCE $(LWIP_CFLAGS)
$(eval $(call compile_rules,bench))

LWIP_ECHO := $(O)/bench/bench/tcp/lwip/lwip-echo

$(LWIP_ECHO): $(call objs,bench,bench/tcp/lwip/lwip-echo.c)
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^ $(LWIP_LIBS)

BENCH_CLIENT := $(O)/bench/bench/client/client

$(BENCH_CLIENT): $(call objs,bench,bench/client/client.c \
		src/tls/tls_gcm.c src/tls/tls_wipe.c)
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^ -lbearssl

.PHONY: bench-client
bench-client: $(BENCH_CLIENT)

BENCH_GCM := $(O)/bench/bench/gcm/gcm

$(BENCH_GCM): $(call objs,bench,bench/gcm/gcm.c src/tls/tls_gcm.c \
		src/tls/tls_wipe.c)
	$(MSG) LD $@
	$(Q)$(CC) -o $@ $^ -lbearssl

.PHONY: bench-gcm
bench-gcm: $(BENCH_GCM)

.PHONY: bench-lwip
ifeq ($(LWIP_PC),y)
bench-lwip: $(LWIP_ECHO)
else
bench-lwip:
	@echo "bench-lwip: lwIP is not installed (Debian's liblwip-dev:" \
		"make deps installs it)" >&2; exit 1
endif

# tests/bench/lwip.sh: the lwIP server serves what examples/echo serves
# (root: a tap in a namespace), and refuses bad command lines.
TEST_SUITES += tests/bench/lwip.sh
TEST_DEPS += $(LWIP_ECHO)

# tests/bench/client.sh: the client prints one figure in each mode against
# examples/echo and tls-echo (root: a namespace), and fails loudly.
TEST_SUITES += tests/bench/client.sh
TEST_DEPS += $(BENCH_CLIENT) $(O)/unix/examples/echo/echo \
	$(O)/unix/examples/tls-echo/tls-echo $(TLS_CERTS)/ca.pem
