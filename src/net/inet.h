/*
 * What the direct stack's layers share: wire-format helpers, the Internet
 * checksum, and what IPv4 input tells a transport about a packet.
 */
#ifndef HAZE_NET_INET_H
#define HAZE_NET_INET_H

#include <stddef.h>
#include <stdint.h>

#include "haze/net.h"

#define HZ_IPPROTO_ICMP 1
#define HZ_IPPROTO_TCP 6
#define HZ_IPPROTO_UDP 17

/* What IPv4 input knows of a packet it hands to a transport. */
struct hz_ip_meta {
	hz_ipv4_t src;
	hz_ipv4_t dst;
	uint8_t proto;
	uint8_t ttl;
	uint8_t tos;
};

/* Reads a big-endian 16-bit value. */
static inline uint16_t hz_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads a big-endian 32-bit value. */
static inline uint32_t hz_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Writes a big-endian 16-bit value. */
static inline void hz_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Writes a big-endian 32-bit value. */
static inline void hz_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Adds @len bytes at @p to a one's-complement running sum. */
uint32_t hz_inet_sum(const void *p, size_t len, uint32_t sum);

/* Folds a running sum into the 16-bit checksum (complemented). */
uint16_t hz_inet_fold(uint32_t sum);

/* The running sum of the IPv4 pseudo-header for a transport checksum. */
uint32_t hz_inet_pseudo_sum(hz_ipv4_t src, hz_ipv4_t dst, uint8_t proto,
			    uint16_t len);

#endif
