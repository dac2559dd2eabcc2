/*
 * libFuzzer harness: DHCP messages, through the parser directly and as
 * a UDP datagram to the client port of a stack.
 */
#include "fuzz/fuzz_net_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + HZ_IPV4_HLEN + 1480];
	struct dhcp_msg m;
	size_t off, ulen;
	uint8_t *u;

	fuzz_env_init();
	if (hz_dhcp_parse(data, size, &m) == 0 && m.type == 0)
		abort(); /* a parsed message always has a type */
	if (size > 1480 - HZ_UDP_HLEN)
		size = 1480 - HZ_UDP_HLEN;
	ulen = size + HZ_UDP_HLEN;
	off = fuzz_env_eth(frame, HZ_ETHERTYPE_IPV4, 1);
	off += fuzz_env_ip(frame + off, HZ_IPPROTO_UDP, ulen);
	u = frame + off;
	hz_put16(u, 67);
	hz_put16(u + 2, 68);
	hz_put16(u + 4, (uint16_t)ulen);
	hz_put16(u + 6, 0);
	memcpy(u + HZ_UDP_HLEN, data, size);
	fuzz_env_input(frame, off + ulen);
	fuzz_env_reset();
	return 0;
}
