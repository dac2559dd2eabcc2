/*
 * Wire-format helpers the direct stack's layers share: the IPv4
 * pseudo-header's share of a transport checksum (the checksum itself is
 * the core's, haze/wire.h) and the text forms of IPv4 and MAC addresses.
 */
#include <stdio.h>

#include "net/inet.h"

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
