/*
 * libFuzzer harness: ICMP messages in a valid IPv4 packet to the stack.
 * The first input byte is a flag byte (bit 0: fill in a correct ICMP
 * checksum, so that mutations reach the types behind it; bit 1: send
 * the frame to the Ethernet broadcast address); the rest is the message,
 * header first.
 */
#include "fuzz/fuzz_net_env.h"

#define FIX_ICMP_SUM 1
#define LINK_BROADCAST 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + HZ_IPV4_HLEN + 1480];
	uint8_t flags;
	size_t off;
	uint8_t *m;

	fuzz_env_init();
	if (!fuzz_env_flags(&data, &size, &flags))
		return 0;
	if (size > 1480)
		size = 1480;
	off = fuzz_env_eth(frame, HZ_ETHERTYPE_IPV4,
			   (flags & LINK_BROADCAST) != 0);
	off += fuzz_env_ip(frame + off, HZ_IPPROTO_ICMP, size);
	m = frame + off;
	memcpy(m, data, size);
	if ((flags & FIX_ICMP_SUM) && size >= 4)
		fuzz_env_checksum(m, size, 2, 0);
	fuzz_env_input(frame, off + size);
	fuzz_env_reset();
	return 0;
}
