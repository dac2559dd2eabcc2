/* libFuzzer harness: ARP packets (after a broadcast Ethernet header). */
#include "fuzz/fuzz_net_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + 2048];

	fuzz_env_init();
	if (size > sizeof(frame) - HZ_ETH_HLEN)
		size = sizeof(frame) - HZ_ETH_HLEN;
	fuzz_env_eth(frame, HZ_ETHERTYPE_ARP, size > 0 && (data[0] & 1));
	memcpy(frame + HZ_ETH_HLEN, data, size);
	fuzz_env_input(frame, HZ_ETH_HLEN + size);
	fuzz_env_reset();
	return 0;
}
