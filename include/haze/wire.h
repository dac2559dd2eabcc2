/*
 * Wire formats: big-endian fields and the Internet checksum (RFC 1071),
 * for every layer that reads or writes packets: the network stack, DNS,
 * and host-side code such as the tap, which completes the checksums of
 * the segments the kernel cuts.
 */
#ifndef HAZE_WIRE_H
#define HAZE_WIRE_H

#include <stddef.h>
#include <stdint.h>

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

#endif
