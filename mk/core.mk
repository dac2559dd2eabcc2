# The runtime core (src/core): target-independent, built once per target.

CORE_SRCS := $(sort $(wildcard src/core/*.c)) \
	src/core/arch/x86_64/switch.S
