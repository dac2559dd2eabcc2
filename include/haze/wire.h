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

/*
 * Segmentation offload (hz_frame's gso_size): the one rule for a frame a
 * host may cut into TCP segments, shared by the tap, which hands it to
 * the kernel, and the kvm guest, which refuses a bad one before it goes
 * onto a net ring.
 */
/* Where a segmentable frame's headers end and its TCP header starts. */
struct hz_gso_layout {
	uint16_t hdr_len;    /* Ethernet, IPv4 and TCP headers */
	uint16_t csum_start; /* the TCP header */
};

/*
 * Checks that @f (@len bytes, at most 14 + @gso_max) is an unfragmented
 * IPv4 packet filling the frame, carrying TCP with more than @gso_size
 * (1 to 65535) bytes of payload, and fills @out. 0, or -1.
 */
static inline int hz_gso_layout(const uint8_t *f, size_t len, size_t gso_size,
				size_t gso_max, struct hz_gso_layout *out)
{
	size_t ihl, doff, hdr;

	if (len < 14 + 40 || len > 14 + gso_max || hz_get16(f + 12) != 0x0800 ||
	    (f[14] >> 4) != 4)
		return -1;
	ihl = (size_t)(f[14] & 15) * 4;
	if (ihl < 20 || hz_get16(f + 16) != len - 14 || f[23] != 6 ||
	    (hz_get16(f + 20) & 0x3fff) != 0 || 14 + ihl + 20 > len)
		return -1;
	doff = (size_t)(f[14 + ihl + 12] >> 4) * 4;
	hdr = 14 + ihl + doff;
	if (doff < 20 || hdr > len || gso_size == 0 || gso_size > 0xffff ||
	    len - hdr <= gso_size)
		return -1;
	out->hdr_len = (uint16_t)hdr;
	out->csum_start = (uint16_t)(14 + ihl);
	return 0;
}

#endif
