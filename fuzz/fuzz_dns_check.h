/*
 * What the DNS server's fuzz harnesses check of every response: it walks
 * whole, every name's labels and every compression pointer inside it and
 * pointing backwards, every record inside its length. Aborts otherwise.
 */
#ifndef HAZE_FUZZ_DNS_CHECK_H
#define HAZE_FUZZ_DNS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "haze/wire.h"

static inline void fuzz_dns_name(const uint8_t *m, size_t len, size_t *off)
{
	size_t at = *off, total = 0;
	bool jumped = false;

	for (;;) {
		if (at >= len)
			abort();
		if ((m[at] & 0xc0) == 0xc0) {
			size_t to;

			if (at + 1 >= len)
				abort();
			to = (size_t)(m[at] & 0x3f) << 8 | m[at + 1];
			if (to < 12 || to >= at)
				abort();
			if (!jumped)
				*off = at + 2;
			jumped = true;
			at = to;
			continue;
		}
		if (m[at] > 63 || at + 1 + m[at] > len)
			abort();
		total += 1 + (size_t)m[at];
		if (total > 255)
			abort();
		if (m[at] == 0)
			break;
		at += 1 + (size_t)m[at];
	}
	if (!jumped)
		*off = at + 1;
}

/* Checks the response @m of @len bytes (at most @max). */
static inline void fuzz_dns_check(const uint8_t *m, size_t len, size_t max)
{
	size_t off = 12, n;

	if (len < 12 || len > max || !(m[2] & 0x80))
		abort();
	if (hz_get16(m + 4) > 1)
		abort();
	if (hz_get16(m + 4) == 1) {
		fuzz_dns_name(m, len, &off);
		off += 4;
	}
	n = (size_t)hz_get16(m + 6) + hz_get16(m + 8) + hz_get16(m + 10);
	for (size_t i = 0; i < n; i++) {
		fuzz_dns_name(m, len, &off);
		if (off + 10 > len)
			abort();
		off += 10 + (size_t)hz_get16(m + off + 8);
	}
	if (off != len)
		abort();
}

#endif
