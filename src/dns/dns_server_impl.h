/*
 * What the zone parser and the answer path of the DNS server share: name
 * helpers on wire-format names (uncompressed, at most 255 bytes) and the
 * zone's memory layout. Private to src/dns.
 */
#ifndef HAZE_DNS_SERVER_IMPL_H
#define HAZE_DNS_SERVER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "haze/dns_server.h"

static inline uint8_t hz_dns_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* The bytes at offset @off from the end of @z's memory. */
static inline const uint8_t *hz_dns_zone_at(const struct hz_dns_zone *z,
					    uint32_t off)
{
	return z->mem + z->cap - off;
}

/* Copies @name (@len bytes) to @out in lower case. */
static inline void hz_dns_name_lower(const uint8_t *name, size_t len,
				     uint8_t *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = hz_dns_lower(name[i]);
}

/* FNV-1a of @name in lower case. */
static inline uint32_t hz_dns_name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ hz_dns_lower(name[i])) * 16777619u;
	return h;
}

/* Whether @name equals or is below @apex (both lower case, label-wise). */
static inline bool hz_dns_name_under(const uint8_t *name, size_t len,
				     const uint8_t *apex, size_t apex_len)
{
	size_t off = 0;

	while (len - off > apex_len && name[off] != 0)
		off += 1 + (size_t)name[off];
	return len - off == apex_len && memcmp(name + off, apex, apex_len) == 0;
}

/*
 * The first record owned by @name (@len bytes, lower case) in @z, or
 * NULL; the others follow along hz_dns_rr.next.
 */
const struct hz_dns_rr *hz_dns_zone_owner(const struct hz_dns_zone *z,
					  const uint8_t *name, size_t len);

/* Whether some record of @z is owned by a name strictly below @name. */
bool hz_dns_zone_below(const struct hz_dns_zone *z, const uint8_t *name,
		       size_t len);

/* The record after @rr with the same owner, or NULL. */
static inline const struct hz_dns_rr *
hz_dns_rr_next(const struct hz_dns_zone *z, const struct hz_dns_rr *rr)
{
	return rr->next ? &hz_dns_zone_rrs(z)[rr->next - 1] : NULL;
}

#endif
