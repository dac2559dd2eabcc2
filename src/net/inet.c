/*
 * Wire-format helpers the direct stack's layers share: the Internet
 * checksum (RFC 1071) and the text forms of IPv4 and MAC addresses.
 */
#include <stdio.h>
#include <string.h>

#include "net/inet.h"

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

uint32_t hz_inet_pseudo_sum(hz_ipv4_t src, hz_ipv4_t dst, uint8_t proto,
			    uint16_t len)
{
	uint64_t acc = 0;

	acc += src >> 16;
	acc += src & 0xffffu;
	acc += dst >> 16;
	acc += dst & 0xffffu;
	acc += proto;
	acc += len;
	return (uint32_t)acc;
}

char *hz_ipv4_format(hz_ipv4_t a, char *buf)
{
	snprintf(buf, HZ_IPV4_STRLEN, "%u.%u.%u.%u", (unsigned)(a >> 24),
		 (unsigned)(a >> 16) & 0xffu, (unsigned)(a >> 8) & 0xffu,
		 (unsigned)a & 0xffu);
	return buf;
}

/* Parses one decimal part (0..255, no leading zeros, 1-3 digits). */
static const char *parse_octet(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (digits == 3 || (digits == 1 && v == 0))
			return NULL;
		v = v * 10 + (uint32_t)(*s - '0');
		digits++;
		s++;
	}
	if (digits == 0 || v > 255)
		return NULL;
	*out = v;
	return s;
}

int hz_ipv4_parse(const char *s, hz_ipv4_t *out)
{
	uint32_t a = 0, part;

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return -HZ_EINVAL;
		s = parse_octet(s, &part);
		if (s == NULL)
			return -HZ_EINVAL;
		a = a << 8 | part;
	}
	if (*s != '\0')
		return -HZ_EINVAL;
	*out = a;
	return 0;
}

char *hz_mac_format(const struct hz_mac *m, char *buf)
{
	snprintf(buf, HZ_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0],
		 m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
	return buf;
}

int hz_port_parse(const char *s, size_t len, uint16_t *out)
{
	uint32_t v = 0;

	if (len == 0 || len > 5)
		return -HZ_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -HZ_EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -HZ_EINVAL;
	*out = (uint16_t)v;
	return 0;
}
