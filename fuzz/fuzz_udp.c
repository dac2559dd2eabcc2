/*
 * libFuzzer harness: UDP datagrams in a valid IPv4 packet to the stack.
 * The first input byte is a flag (bit 0: fix the UDP checksum, so the
 * fuzzer gets past it); the rest is the datagram, header first.
 */
#include "fuzz/fuzz_net_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + HZ_IPV4_HLEN + 1480];
	uint8_t flags;
	size_t off;
	uint8_t *u;

	fuzz_env_init();
	if (!fuzz_env_flags(&data, &size, &flags))
		return 0;
	if (size > 1480)
		size = 1480;
	off = fuzz_env_eth(frame, HZ_ETHERTYPE_IPV4, 0);
	off += fuzz_env_ip(frame + off, HZ_IPPROTO_UDP, size);
	u = frame + off;
	memcpy(u, data, size);
	if ((flags & 1) && size >= HZ_UDP_HLEN)
		fuzz_env_checksum(u, size, 6,
				  hz_inet_pseudo_sum(FUZZ_PEER, FUZZ_ADDR,
						     HZ_IPPROTO_UDP,
						     (uint16_t)size));
	fuzz_env_input(frame, off + size);
	fuzz_env_reset();
	return 0;
}
