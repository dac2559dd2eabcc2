/*
 * libFuzzer harness: IPv4 packets, several per input so fragments can
 * meet in reassembly. The input is a sequence of records, each a 16-bit
 * big-endian length and that many bytes (the last takes what is left);
 * each record goes in as one packet after an Ethernet header.
 */
#include "net/fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + 65536];

	fuzz_env_init();
	while (size > 0) {
		size_t n = size;

		if (size >= 2) {
			n = hz_get16(data);
			data += 2;
			size -= 2;
			if (n > size)
				n = size;
		}
		fuzz_env_eth(frame, HZ_ETHERTYPE_IPV4, 0);
		memcpy(frame + HZ_ETH_HLEN, data, n);
		fuzz_env_input(frame, HZ_ETH_HLEN + n);
		data += n;
		size -= n;
	}
	fuzz_env_reset();
	return 0;
}
