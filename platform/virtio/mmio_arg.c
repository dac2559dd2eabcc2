/*
 * The parser of `virtio_mmio.device=` (mmio_arg.h): Linux's syntax, as
 * QEMU's microvm and Firecracker write it.
 */
#include <stdbool.h>
#include <stdio.h>

#include "mmio_arg.h"

#define WINDOW_MIN 0x200u
#define MAP_LIMIT (4ull << 30)

/* Parses a number (0x hex or decimal) at *@s, moving past it; false when
 * there is none or it overflows. */
static bool parse_number(const char **s, uint64_t *v)
{
	const char *p = *s, *digits;
	unsigned base = 10;
	uint64_t n = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (digits = p;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (n > (UINT64_MAX - d) / base)
			return false;
		n = n * base + d;
	}
	if (p == digits)
		return false;
	*s = p;
	*v = n;
	return true;
}

/* The shift of size suffix @c (K, M, G in either case), or 0. */
static unsigned suffix_shift(char c)
{
	switch (c) {
	case 'K':
	case 'k':
		return 10;
	case 'M':
	case 'm':
		return 20;
	case 'G':
	case 'g':
		return 30;
	default:
		return 0;
	}
}

/* Puts @reason in @why; -HZ_EINVAL. */
static int refuse(char *why, size_t why_len, const char *reason)
{
	snprintf(why, why_len, "%s", reason);
	return -HZ_EINVAL;
}

int hz_virtio_mmio_parse(const char *value, struct hz_virtio_mmio_arg *out,
			 char *why, size_t why_len)
{
	const char *s = value;
	uint64_t size, base, gsi, id;
	unsigned shift;

	if (!parse_number(&s, &size))
		return refuse(why, why_len, "no size (SIZE@BASE:IRQ)");
	if ((shift = suffix_shift(*s)) != 0) {
		if (size > UINT64_MAX >> shift)
			return refuse(why, why_len, "size too large");
		size <<= shift;
		s++;
	}
	if (*s++ != '@' || !parse_number(&s, &base))
		return refuse(why, why_len, "no base address (SIZE@BASE:IRQ)");
	if (*s++ != ':' || !parse_number(&s, &gsi) || gsi > 255)
		return refuse(why, why_len,
			      "no interrupt 0 to 255 (SIZE@BASE:IRQ)");
	if (*s == ':') {
		s++;
		if (!parse_number(&s, &id))
			return refuse(why, why_len,
				      "a bad device id after the interrupt");
	}
	if (*s != '\0')
		return refuse(why, why_len, "trailing characters");
	if (size < WINDOW_MIN || base + size < base || base + size > MAP_LIMIT)
		return refuse(why, why_len,
			      "the window must be 512 bytes or more, below "
			      "4 GiB");
	out->base = base;
	out->size = size;
	out->gsi = (unsigned)gsi;
	return 0;
}
