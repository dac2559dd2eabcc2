# The library OS, target-independent, built once per target: the runtime
# core (src/core) and the libraries above it (src/net, ...).

CORE_SRCS := $(sort $(wildcard src/core/*.c)) \
	src/core/arch/x86_64/switch.S \
	$(sort $(wildcard src/net/*.c))
