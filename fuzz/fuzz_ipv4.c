/*
 * libFuzzer harness: IPv4 packets, several per input so fragments can
 * meet in reassembly. The first input byte is a flag byte, applied to
 * every packet:
 *
 *   bit 0: fill in a correct header checksum (else the bytes as given)
 *   bit 1: first set the total length to the record's length
 *   bit 2: fill in a correct ICMP checksum in an unfragmented ICMP packet
 *
 * so that mutations get past the checks and reach fragments, options and
 * the protocols above. The rest is a sequence of records, each a 16-bit
 * big-endian length and that many bytes (the last takes what is left);
 * each record goes in as one packet after an Ethernet header.
 */
#include "fuzz/fuzz_net_env.h"

#define FIX_HEADER_SUM 1
#define FIX_TOTAL_LEN 2
#define FIX_ICMP_SUM 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Applies @flags to the @len-byte packet at @p. */
static void fix_packet(uint8_t *p, size_t len, uint8_t flags)
{
	size_t hlen;

	if (len < HZ_IPV4_HLEN)
		return;
	hlen = (size_t)(p[0] & 0xf) * 4;
	if (hlen < HZ_IPV4_HLEN || hlen > len)
		return;
	if (flags & FIX_TOTAL_LEN)
		hz_put16(p + 2, (uint16_t)len);
	/* Unfragmented: no more-fragments bit, offset zero. */
	if ((flags & FIX_ICMP_SUM) && p[9] == HZ_IPPROTO_ICMP &&
	    (hz_get16(p + 6) & 0x3fff) == 0 && hz_get16(p + 2) <= len &&
	    hz_get16(p + 2) >= hlen + 4)
		fuzz_env_checksum(p + hlen, hz_get16(p + 2) - hlen, 2, 0);
	if (flags & FIX_HEADER_SUM)
		fuzz_env_checksum(p, hlen, 10, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[HZ_ETH_HLEN + 65536];
	uint8_t flags;

	fuzz_env_init();
	if (!fuzz_env_flags(&data, &size, &flags))
		return 0;
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
		fix_packet(frame + HZ_ETH_HLEN, n, flags);
		fuzz_env_input(frame, HZ_ETH_HLEN + n);
		data += n;
		size -= n;
	}
	fuzz_env_reset();
	return 0;
}
