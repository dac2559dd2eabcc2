/*
 * The Internet checksum (RFC 1071, haze/wire.h), in the core because the
 * network stack, DNS and host-side code (the tap, the tender) all use it.
 */
#include <string.h>

#include "haze/wire.h"

/*
 * The one's-complement sum does not depend on byte order (RFC 1071 2(B)):
 * add native 64-bit words with end-around carry, fold to 16 bits, and
 * swap the bytes back on a little-endian machine.
 */
uint32_t hz_inet_sum(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	uint64_t acc = 0, w;
	uint16_t h;

	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		acc += w;
		acc += acc < w; /* end-around carry */
	}
	for (; len >= 2; b += 2, len -= 2) {
		memcpy(&h, b, 2);
		acc += h;
		acc += acc < h;
	}
	if (len == 1) {
		uint8_t last[2] = {b[0], 0};

		memcpy(&h, last, 2);
		acc += h;
		acc += acc < h;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
	acc += sum;
	return (uint32_t)((acc & 0xffffffffu) + (acc >> 32));
}

uint16_t hz_inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}
