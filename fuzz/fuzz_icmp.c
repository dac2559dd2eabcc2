/* libFuzzer harness: ICMP messages in a valid IPv4 packet to the stack. */
#include "net/fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + HZ_IPV4_HLEN + 1480];
	size_t off;

	fuzz_env_init();
	if (size > 1480)
		size = 1480;
	off = fuzz_env_eth(frame, HZ_ETHERTYPE_IPV4, 0);
	off += fuzz_env_ip(frame + off, HZ_IPPROTO_ICMP, size);
	memcpy(frame + off, data, size);
	fuzz_env_input(frame, off + size);
	fuzz_env_reset();
	return 0;
}
