/*
 * What the direct stack's layers share: protocol numbers, the IPv4
 * pseudo-header sum, and what IPv4 input tells a transport about a
 * packet. Byte order and the checksum itself are haze/wire.h's.
 */
#ifndef HAZE_NET_INET_H
#define HAZE_NET_INET_H

#include <stddef.h>
#include <stdint.h>

#include "haze/net.h"
#include "haze/wire.h"

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

/* The running sum of the IPv4 pseudo-header for a transport checksum. */
uint32_t hz_inet_pseudo_sum(hz_ipv4_t src, hz_ipv4_t dst, uint8_t proto,
			    uint16_t len);

#endif
