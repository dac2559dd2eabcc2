/*
 * stdlib.h: string to integer conversions and integer helpers.
 *
 * The four strto* functions share one parser that reads the magnitude as
 * unsigned long long and notes overflow; each then clamps to its own type
 * and sets ERANGE, as C11 7.22.1.4 asks.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

struct parsed {
	unsigned long long mag; /* the magnitude, when !overflow */
	bool negative;
	bool overflow; /* the magnitude exceeds ULLONG_MAX */
};

/* The value of @c as a digit, or 36 (too large for any base) if none. */
static unsigned digit_value(int c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'z')
		return (unsigned)(c - 'a' + 10);
	if (c >= 'A' && c <= 'Z')
		return (unsigned)(c - 'A' + 10);
	return 36;
}

/*
 * Parses [space][sign][0x]digits. Returns false, with *end = s, when there
 * are no digits or @base is invalid (then errno is EINVAL).
 */
static bool parse_integer(const char *s, char **end, int base, struct parsed *p)
{
	const char *c = s, *digits;

	p->mag = 0;
	p->negative = false;
	p->overflow = false;
	if (base < 0 || base == 1 || base > 36) {
		errno = EINVAL;
		goto no_digits;
	}

	while (isspace((unsigned char)*c))
		c++;
	if (*c == '+' || *c == '-')
		p->negative = *c++ == '-';
	/* "0x" is a prefix only when a hex digit follows: "0xg" reads "0". */
	if ((base == 0 || base == 16) && c[0] == '0' &&
	    (c[1] == 'x' || c[1] == 'X') && digit_value(c[2]) < 16) {
		c += 2;
		base = 16;
	} else if (base == 0) {
		base = c[0] == '0' ? 8 : 10;
	}

	for (digits = c; digit_value(*c) < (unsigned)base; c++) {
		unsigned d = digit_value(*c);

		if (p->mag > (ULLONG_MAX - d) / (unsigned)base)
			p->overflow = true;
		else
			p->mag = p->mag * (unsigned)base + d;
	}
	if (c == digits)
		goto no_digits;
	if (end)
		*end = (char *)c;
	return true;

no_digits:
	if (end)
		*end = (char *)s;
	return false;
}

/* Clamps to 0..@max; a negative input wraps, as C says for strtoul. */
static unsigned long long to_unsigned(const struct parsed *p,
				      unsigned long long max)
{
	if (p->overflow || p->mag > max) {
		errno = ERANGE;
		return max;
	}
	return p->negative ? (0 - p->mag) & max : p->mag;
}

/* Clamps to -@max-1..@max. */
static long long to_signed(const struct parsed *p, long long max)
{
	unsigned long long limit = (unsigned long long)max + p->negative;

	if (p->overflow || p->mag > limit) {
		errno = ERANGE;
		return p->negative ? -max - 1 : max;
	}
	if (!p->negative)
		return (long long)p->mag;
	/* mag may be max + 1, which has no positive long long. */
	return -(long long)(p->mag - 1) - 1;
}

/* Converts the integer at the start of @s; see C11 7.22.1.4. */
long strtol(const char *restrict s, char **restrict end, int base)
{
	struct parsed p;

	if (!parse_integer(s, end, base, &p))
		return 0;
	return (long)to_signed(&p, LONG_MAX);
}

/* Converts the integer at the start of @s; see C11 7.22.1.4. */
long long strtoll(const char *restrict s, char **restrict end, int base)
{
	struct parsed p;

	if (!parse_integer(s, end, base, &p))
		return 0;
	return to_signed(&p, LLONG_MAX);
}

/* Converts the integer at the start of @s; see C11 7.22.1.4. */
unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	struct parsed p;

	if (!parse_integer(s, end, base, &p))
		return 0;
	return (unsigned long)to_unsigned(&p, ULONG_MAX);
}

/* Converts the integer at the start of @s; see C11 7.22.1.4. */
unsigned long long strtoull(const char *restrict s, char **restrict end,
			    int base)
{
	struct parsed p;

	if (!parse_integer(s, end, base, &p))
		return 0;
	return to_unsigned(&p, ULLONG_MAX);
}

/* Converts a decimal integer; no error report (use strtol for that). */
int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

/* Converts a decimal integer; no error report (use strtol for that). */
long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

/* Returns the absolute value of @x (undefined for INT_MIN, as in C). */
int abs(int x)
{
	return x < 0 ? -x : x;
}

/* Returns the absolute value of @x. */
long labs(long x)
{
	return x < 0 ? -x : x;
}

/* Returns the absolute value of @x. */
long long llabs(long long x)
{
	return x < 0 ? -x : x;
}
