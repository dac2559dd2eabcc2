/*
 * The formatting engine under snprintf, printf and the rest of the family.
 *
 * It walks the format once, converting each argument into at most three
 * pieces (sign or prefix, zeros, digits or text) plus padding, and hands
 * them to a sink: a bounded buffer for snprintf, the console for printf.
 * It never allocates and needs only a small, fixed amount of stack.
 *
 * Supported: conversions d i u o x X c s p % f F e E g G, flags - + space
 * # 0, width and precision (digits or *), lengths hh h l ll z j t L.
 * Floating point is exact, rounded to nearest with ties to even, as glibc
 * prints it; a long double is printed at double precision. %a, %A and %n
 * are not supported: their specification is copied to the output as is,
 * so the omission is visible, and their argument is still consumed so
 * the ones after it stay in place.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "libc.h"

enum {
	F_LEFT = 1 << 0,  /* '-': pad on the right */
	F_PLUS = 1 << 1,  /* '+': a sign even when positive */
	F_SPACE = 1 << 2, /* ' ': a space where a '+' would be */
	F_ALT = 1 << 3,	  /* '#': 0x before hex, a leading 0 for octal */
	F_ZERO = 1 << 4,  /* '0': pad with zeros after the sign or prefix */
};

enum length {
	LEN_NONE,
	LEN_HH,
	LEN_H,
	LEN_L,
	LEN_LL,
	LEN_Z,
	LEN_J,
	LEN_T,
	LEN_BIG_L, /* long double: only consumed, never printed */
};

/* One conversion specification, "%-08.3lx" and the like. */
struct spec {
	unsigned flags;
	int width; /* minimum field width; 0 when none */
	int prec;  /* precision; -1 when none */
	enum length len;
	char conv; /* the conversion character; '\0' if cut short */
};

struct out {
	struct hz_libc_sink *sink;
	size_t count;
};

static void emit(struct out *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	o->sink->put(o->sink, s, n);
	o->count += n;
}

static void pad(struct out *o, char c, size_t n)
{
	char chunk[32];

	memset(chunk, c, sizeof(chunk));
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		emit(o, chunk, k);
		n -= k;
	}
}

/* Reads the decimal number at *p; false if it does not fit an int. */
static bool parse_decimal(const char **p, int *value)
{
	bool fits = true;
	int v = 0;

	for (; **p >= '0' && **p <= '9'; (*p)++) {
		int d = **p - '0';

		if (v > (INT_MAX - d) / 10)
			fits = false;
		else
			v = v * 10 + d;
	}
	*value = v;
	return fits;
}

static void parse_flags(const char **p, unsigned *flags)
{
	for (;; (*p)++) {
		switch (**p) {
		case '-':
			*flags |= F_LEFT;
			break;
		case '+':
			*flags |= F_PLUS;
			break;
		case ' ':
			*flags |= F_SPACE;
			break;
		case '#':
			*flags |= F_ALT;
			break;
		case '0':
			*flags |= F_ZERO;
			break;
		default:
			return;
		}
	}
}

static enum length parse_length(const char **p)
{
	const char *s = *p;
	enum length len = LEN_NONE;

	switch (*s) {
	case 'h':
		len = s[1] == 'h' ? LEN_HH : LEN_H;
		break;
	case 'l':
		len = s[1] == 'l' ? LEN_LL : LEN_L;
		break;
	case 'z':
		len = LEN_Z;
		break;
	case 'j':
		len = LEN_J;
		break;
	case 't':
		len = LEN_T;
		break;
	case 'L':
		len = LEN_BIG_L;
		break;
	default:
		return LEN_NONE;
	}
	*p += (len == LEN_HH || len == LEN_LL) ? 2 : 1;
	return len;
}

/*
 * Parses the specification after a '%' at *p, taking * arguments from @ap,
 * and leaves *p after it. False when a width or precision overflows int.
 */
static bool parse_spec(const char **p, va_list *ap, struct spec *sp)
{
	sp->flags = 0;
	sp->width = 0;
	sp->prec = -1;
	parse_flags(p, &sp->flags);

	if (**p == '*') {
		int w = va_arg(*ap, int);

		(*p)++;
		if (w < 0) {
			if (w == INT_MIN)
				return false;
			sp->flags |= F_LEFT;
			w = -w;
		}
		sp->width = w;
	} else if (!parse_decimal(p, &sp->width)) {
		return false;
	}

	if (**p == '.') {
		(*p)++;
		if (**p == '*') {
			int prec = va_arg(*ap, int);

			(*p)++;
			sp->prec = prec < 0 ? -1 : prec; /* negative: none */
		} else if (!parse_decimal(p, &sp->prec)) {
			return false;
		}
	}

	sp->len = parse_length(p);
	sp->conv = **p;
	if (sp->conv != '\0')
		(*p)++;
	return true;
}

static uintmax_t arg_unsigned(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_HH:
		return (unsigned char)va_arg(*ap, unsigned int);
	case LEN_H:
		return (unsigned short)va_arg(*ap, unsigned int);
	case LEN_L:
		return va_arg(*ap, unsigned long);
	case LEN_LL:
		return va_arg(*ap, unsigned long long);
	case LEN_Z:
		return va_arg(*ap, size_t);
	case LEN_J:
		return va_arg(*ap, uintmax_t);
	case LEN_T:
		return (size_t)va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static intmax_t arg_signed(va_list *ap, enum length len)
{
	switch (len) {
	case LEN_HH:
		return (signed char)va_arg(*ap, int);
	case LEN_H:
		return (short)va_arg(*ap, int);
	case LEN_L:
		return va_arg(*ap, long);
	case LEN_LL:
		return va_arg(*ap, long long);
	case LEN_Z:
		return va_arg(*ap, ptrdiff_t); /* signed size_t */
	case LEN_J:
		return va_arg(*ap, intmax_t);
	case LEN_T:
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

/* Pads @n bytes of @s to the field width: %s, %c and the like. */
static void format_text(struct out *o, const struct spec *sp, const char *s,
			size_t n)
{
	size_t fill = (size_t)sp->width > n ? (size_t)sp->width - n : 0;

	if (!(sp->flags & F_LEFT))
		pad(o, ' ', fill);
	emit(o, s, n);
	if (sp->flags & F_LEFT)
		pad(o, ' ', fill);
}

/*
 * Formats an integer of magnitude @mag for d i u o x X p: the sign or
 * prefix, the zeros the precision (or the 0 flag) asks for, the digits.
 */
static void format_int(struct out *o, const struct spec *sp, uintmax_t mag,
		       bool negative)
{
	const char *xdigits =
	    sp->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = 10;
	char digits[sizeof(uintmax_t) * CHAR_BIT / 3 + 1];
	char *end = digits + sizeof(digits), *d = end;
	char prefix[2];
	size_t nprefix = 0, ndigits, prec, zeros, body, fill;

	if (sp->conv == 'o')
		base = 8;
	else if (sp->conv == 'x' || sp->conv == 'X' || sp->conv == 'p')
		base = 16;
	for (; mag != 0; mag /= base)
		*--d = xdigits[mag % base];
	ndigits = (size_t)(end - d);

	if (sp->conv == 'd' || sp->conv == 'i') {
		if (negative)
			prefix[nprefix++] = '-';
		else if (sp->flags & F_PLUS)
			prefix[nprefix++] = '+';
		else if (sp->flags & F_SPACE)
			prefix[nprefix++] = ' ';
	} else if (sp->conv == 'p' ||
		   ((sp->flags & F_ALT) && base == 16 && ndigits > 0)) {
		prefix[nprefix++] = '0';
		prefix[nprefix++] = sp->conv == 'X' ? 'X' : 'x';
	}

	/* The default precision is 1: zero prints as "0", unless ".0". */
	prec = sp->prec < 0 ? 1 : (size_t)sp->prec;
	if ((sp->flags & F_ALT) && base == 8 && prec <= ndigits)
		prec = ndigits + 1; /* the first digit must be a 0 */
	zeros = prec > ndigits ? prec - ndigits : 0;
	body = nprefix + zeros + ndigits;
	fill = (size_t)sp->width > body ? (size_t)sp->width - body : 0;
	if ((sp->flags & (F_ZERO | F_LEFT)) == F_ZERO && sp->prec < 0) {
		zeros += fill;
		fill = 0;
	}

	if (!(sp->flags & F_LEFT))
		pad(o, ' ', fill);
	emit(o, prefix, nprefix);
	pad(o, '0', zeros);
	emit(o, d, ndigits);
	if (sp->flags & F_LEFT)
		pad(o, ' ', fill);
}

/* --- floating point ------------------------------------------------------ */

/*
 * A finite double, exactly, in decimal: value = 0.d1 d2 d3... x 10^exp10,
 * digits[0..n-1], no trailing zeros (n == 0: the value is zero). Doubles
 * are integers times a power of two, so every one has a finite decimal
 * expansion: 2^1024 has 309 digits, 2^53 x 5^1074 (the subnormals scaled
 * to an integer) 767. Printing from it rounds exactly, as glibc does.
 */
#define DEC_LIMBS 90 /* base 10^9, enough for 767 digits */
#define DEC_DIGITS (DEC_LIMBS * 9)

struct decimal {
	char buf[DEC_DIGITS + 1]; /* buf[0]: room for a carry in rounding */
	char *digits;
	int n;
	int exp10;
};

/* limb[0..*n) *= @f, in base 10^9, little-endian. */
static void limbs_mul(uint32_t *limb, int *n, uint32_t f)
{
	uint64_t carry = 0;
	int i;

	for (i = 0; i < *n; i++) {
		uint64_t t = (uint64_t)limb[i] * f + carry;

		limb[i] = (uint32_t)(t % 1000000000u);
		carry = t / 1000000000u;
	}
	for (; carry != 0; carry /= 1000000000u)
		limb[(*n)++] = (uint32_t)(carry % 1000000000u);
}

static void decimal_strip(struct decimal *dec)
{
	while (dec->n > 0 && dec->digits[dec->n - 1] == '0')
		dec->n--;
}

/* Writes the finite @x (its sign ignored) exactly into @dec. */
static void decimal_from_double(struct decimal *dec, double x)
{
	union {
		double d;
		uint64_t u;
	} v = {.d = x};
	int biased = (int)(v.u >> 52 & 0x7ff);
	uint64_t m = v.u & ((UINT64_C(1) << 52) - 1);
	int e = -1074, k = 0, nl = 2, total, i;
	uint32_t limb[DEC_LIMBS];
	char *p;

	if (biased != 0) { /* normal: the implicit leading 1 */
		m |= UINT64_C(1) << 52;
		e = biased - 1075;
	}
	/* x = m * 2^e = N * 10^-k, with N = m * 2^e or m * 5^-e. */
	limb[0] = (uint32_t)(m % 1000000000u);
	limb[1] = (uint32_t)(m / 1000000000u);
	if (e >= 0) {
		for (; e >= 29; e -= 29)
			limbs_mul(limb, &nl, UINT32_C(1) << 29);
		limbs_mul(limb, &nl, UINT32_C(1) << e);
	} else {
		static const uint32_t pow5[] = {
		    1,	     5,	       25,	  125,	     625,
		    3125,    15625,    78125,	  390625,    1953125,
		    9765625, 48828125, 244140625, 1220703125};

		for (k = -e; e < 0; e += i) {
			i = -e < 13 ? -e : 13;
			limbs_mul(limb, &nl, pow5[i]);
		}
	}
	while (nl > 1 && limb[nl - 1] == 0)
		nl--;

	/* The top limb without leading zeros, then nine digits per limb. */
	dec->digits = dec->buf + 1;
	p = dec->digits + DEC_DIGITS;
	for (i = 0; i < nl; i++) {
		uint32_t l = limb[i];
		int j;

		for (j = 0; j < 9 && (i < nl - 1 || l != 0); j++, l /= 10)
			*--p = (char)('0' + l % 10);
	}
	total = (int)(dec->digits + DEC_DIGITS - p);
	memmove(dec->digits, p, (size_t)total);
	dec->n = total;
	dec->exp10 = total - k;
	decimal_strip(dec);
	if (dec->n == 0)
		dec->exp10 = 1; /* zero: its first digit is the units */
}

/*
 * Rounds @dec to its first @keep digits (0 or less: to a place before
 * the first digit), to nearest with ties to even: the exact digits make a
 * tie a real one.
 */
static void decimal_round(struct decimal *dec, long long keep)
{
	char *d = dec->digits;
	bool up;
	int i;

	if (keep >= dec->n)
		return;
	if (keep < 0) { /* below half of the rounding unit */
		dec->n = 0;
		return;
	}
	if (d[keep] != '5')
		up = d[keep] > '5';
	else if (keep + 1 < dec->n) /* more nonzero digits follow */
		up = true;
	else
		up = keep > 0 && (d[keep - 1] - '0') % 2 == 1;
	dec->n = (int)keep;
	if (up) {
		for (i = dec->n - 1; i >= 0 && d[i] == '9'; i--)
			d[i] = '0';
		if (i >= 0) {
			d[i]++;
		} else {
			*--dec->digits = '1';
			dec->n++;
			dec->exp10++;
		}
	}
	decimal_strip(dec);
}

/* Emits @count digits from index @from: zeros outside 0..n-1. */
static void emit_digits(struct out *o, const struct decimal *dec,
			long long from, size_t count)
{
	if (from < 0) {
		size_t z =
		    (unsigned long long)-from < count ? (size_t)-from : count;

		pad(o, '0', z);
		count -= z;
		from = 0;
	}
	if (from < dec->n && count > 0) {
		size_t k = (size_t)(dec->n - from);

		k = k < count ? k : count;
		emit(o, dec->digits + from, k);
		count -= k;
	}
	pad(o, '0', count);
}

/*
 * Emits @sign and the padding around a number of @body bytes; returns
 * the padding still owed after it (for '-').
 */
static size_t float_begin(struct out *o, const struct spec *sp, char sign,
			  size_t body)
{
	size_t len = body + (sign != 0);
	size_t fill = (size_t)sp->width > len ? (size_t)sp->width - len : 0;

	if (sp->flags & F_LEFT) {
		if (sign)
			emit(o, &sign, 1);
		return fill;
	}
	if (!(sp->flags & F_ZERO))
		pad(o, ' ', fill);
	if (sign)
		emit(o, &sign, 1);
	if (sp->flags & F_ZERO)
		pad(o, '0', fill);
	return 0;
}

/* %f: the integer digits, then @prec fraction digits. */
static void format_fixed(struct out *o, const struct spec *sp, char sign,
			 const struct decimal *dec, size_t prec)
{
	size_t int_digits = dec->exp10 > 0 ? (size_t)dec->exp10 : 1;
	bool point = prec > 0 || (sp->flags & F_ALT);
	size_t fill;

	fill = float_begin(o, sp, sign, int_digits + point + prec);
	if (dec->exp10 > 0)
		emit_digits(o, dec, 0, int_digits);
	else
		emit(o, "0", 1);
	if (point)
		emit(o, ".", 1);
	emit_digits(o, dec, dec->exp10, prec);
	pad(o, ' ', fill);
}

/* %e: one digit, @prec fraction digits, the exponent (two digits or more). */
static void format_exp(struct out *o, const struct spec *sp, char sign,
		       const struct decimal *dec, size_t prec, char e)
{
	int x = dec->n > 0 ? dec->exp10 - 1 : 0;
	unsigned ux = (unsigned)(x < 0 ? -x : x);
	char exp[8], *p = exp + sizeof(exp);
	bool point = prec > 0 || (sp->flags & F_ALT);
	size_t nexp, fill;

	do {
		*--p = (char)('0' + ux % 10);
		ux /= 10;
	} while (ux != 0 || exp + sizeof(exp) - p < 2);
	*--p = x < 0 ? '-' : '+';
	*--p = e;
	nexp = (size_t)(exp + sizeof(exp) - p);

	fill = float_begin(o, sp, sign, 1 + point + prec + nexp);
	emit_digits(o, dec, 0, 1);
	if (point)
		emit(o, ".", 1);
	emit_digits(o, dec, 1, prec);
	emit(o, p, nexp);
	pad(o, ' ', fill);
}

/* f F e E g G: exact decimal conversion of a double. */
static void format_float(struct out *o, const struct spec *sp, double x)
{
	union {
		double d;
		uint64_t u;
	} v = {.d = x};
	bool upper = sp->conv == 'F' || sp->conv == 'E' || sp->conv == 'G';
	char sign = 0;
	struct decimal dec;
	size_t prec = sp->prec < 0 ? 6 : (size_t)sp->prec;

	if (v.u >> 63)
		sign = '-';
	else if (sp->flags & F_PLUS)
		sign = '+';
	else if (sp->flags & F_SPACE)
		sign = ' ';

	if ((v.u >> 52 & 0x7ff) == 0x7ff) { /* inf, nan: never zero-padded */
		struct spec text = *sp;
		bool nan = (v.u & ((UINT64_C(1) << 52) - 1)) != 0;
		size_t fill;

		text.flags &= ~(unsigned)F_ZERO;
		fill = float_begin(o, &text, sign, 3);
		emit(o, nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"),
		     3);
		pad(o, ' ', fill);
		return;
	}

	decimal_from_double(&dec, x);
	switch (sp->conv) {
	case 'f':
	case 'F':
		decimal_round(&dec, (long long)dec.exp10 + (long long)prec);
		format_fixed(o, sp, sign, &dec, prec);
		return;
	case 'e':
	case 'E':
		decimal_round(&dec, (long long)prec + 1);
		format_exp(o, sp, sign, &dec, prec, upper ? 'E' : 'e');
		return;
	default: { /* g, G: P significant digits, then the shorter style */
		long long p = prec == 0 ? 1 : (long long)prec, x10;
		bool alt = sp->flags & F_ALT;
		size_t frac;

		decimal_round(&dec, p);
		x10 = dec.n > 0 ? dec.exp10 - 1 : 0;
		if (p > x10 && x10 >= -4) {
			frac = (size_t)(p - 1 - x10);
			if (!alt && (long long)frac > dec.n - dec.exp10)
				frac = dec.n > dec.exp10
					   ? (size_t)(dec.n - dec.exp10)
					   : 0;
			format_fixed(o, sp, sign, &dec, frac);
		} else {
			frac = (size_t)(p - 1);
			if (!alt && (long long)frac > dec.n - 1)
				frac = dec.n > 1 ? (size_t)(dec.n - 1) : 0;
			format_exp(o, sp, sign, &dec, frac, upper ? 'E' : 'e');
		}
		return;
	}
	}
}

/* Converts one argument; @start..@end is the specification's text. */
static void convert(struct out *o, const struct spec *sp, va_list *ap,
		    const char *start, const char *end)
{
	switch (sp->conv) {
	case 'd':
	case 'i': {
		intmax_t v = arg_signed(ap, sp->len);
		uintmax_t mag = v < 0 ? -(uintmax_t)v : (uintmax_t)v;

		format_int(o, sp, mag, v < 0);
		break;
	}
	case 'u':
	case 'o':
	case 'x':
	case 'X':
		format_int(o, sp, arg_unsigned(ap, sp->len), false);
		break;
	case 'p': {
		uintptr_t v = (uintptr_t)va_arg(*ap, void *);

		if (v == 0)
			format_text(o, sp, "(nil)", 5); /* as glibc prints it */
		else
			format_int(o, sp, v, false);
		break;
	}
	case 'c': {
		char c = (char)(unsigned char)va_arg(*ap, int);

		format_text(o, sp, &c, 1);
		break;
	}
	case 's': {
		const char *s = va_arg(*ap, const char *);

		if (s == NULL)
			s = "(null)";
		/* With a precision, s need not be terminated: never read on. */
		format_text(o, sp, s,
			    sp->prec < 0 ? strlen(s)
					 : strnlen(s, (size_t)sp->prec));
		break;
	}
	case '%':
		emit(o, "%", 1);
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		/* A long double is printed at double precision. */
		if (sp->len == LEN_BIG_L)
			format_float(o, sp, (double)va_arg(*ap, long double));
		else
			format_float(o, sp, va_arg(*ap, double));
		break;
	case 'a':
	case 'A':
		if (sp->len == LEN_BIG_L)
			(void)va_arg(*ap, long double);
		else
			(void)va_arg(*ap, double);
		emit(o, start, (size_t)(end - start));
		break;
	default: /* %n, an unknown letter, or a format cut short */
		emit(o, start, (size_t)(end - start));
		break;
	}
}

/* Formats @fmt with @ap into @sink; the byte count, or -1 (EOVERFLOW). */
int hz_libc_format(struct hz_libc_sink *sink, const char *fmt, va_list ap)
{
	struct out o = {.sink = sink, .count = 0};
	const char *p = fmt;
	va_list args;
	int ret = 0;

	/* A va_list parameter may be an array: work on an addressable copy. */
	va_copy(args, ap);
	while (*p != '\0') {
		const char *start = p;
		struct spec sp;

		if (*p != '%') {
			const char *pct = strchr(p, '%');
			size_t n = pct ? (size_t)(pct - p) : strlen(p);

			emit(&o, p, n);
			p += n;
			continue;
		}
		p++;
		if (!parse_spec(&p, &args, &sp)) {
			ret = -1;
			break;
		}
		convert(&o, &sp, &args, start, p);
	}
	va_end(args);

	if (ret < 0 || o.count > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.count;
}
