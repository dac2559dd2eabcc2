/*
 * string.h: memory and string functions.
 *
 * memcpy, memmove and memset move a machine word at a time through an
 * unaligned, may_alias type (safe on any architecture, plain loads and
 * stores on x86_64), then finish bytewise. The string functions are
 * bytewise: they never read past the terminator, which keeps them simple
 * and clean under AddressSanitizer. The build compiles this file so that
 * the compiler cannot turn these loops back into calls to themselves.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef uint64_t __attribute__((may_alias, aligned(1))) word_t;

/*
 * Copies forward a word at a time. No restrict: memmove relies on each
 * word being loaded before the store that may overwrite it, in order.
 */
static void copy_forward(unsigned char *d, const unsigned char *s, size_t n)
{
	for (; n >= sizeof(word_t); n -= sizeof(word_t)) {
		*(word_t *)d = *(const word_t *)s;
		d += sizeof(word_t);
		s += sizeof(word_t);
	}
	while (n-- > 0)
		*d++ = *s++;
}

/* Copies backward from the ends, the mirror of copy_forward(). */
static void copy_backward(unsigned char *d, const unsigned char *s, size_t n)
{
	d += n;
	s += n;
	for (; n >= sizeof(word_t); n -= sizeof(word_t)) {
		d -= sizeof(word_t);
		s -= sizeof(word_t);
		*(word_t *)d = *(const word_t *)s;
	}
	while (n-- > 0)
		*--d = *--s;
}

/* Copies @n bytes; the areas must not overlap. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	copy_forward(dst, src, n);
	return dst;
}

/* Copies @n bytes between areas that may overlap. */
void *memmove(void *dst, const void *src, size_t n)
{
	/* Forward is safe when dst is below src or the areas are apart. */
	if ((uintptr_t)dst - (uintptr_t)src >= n)
		copy_forward(dst, src, n);
	else
		copy_backward(dst, src, n);
	return dst;
}

/* Fills @n bytes with the byte @c. */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	word_t w = (unsigned char)c * (UINT64_MAX / 0xff);

	for (; n >= sizeof(word_t); n -= sizeof(word_t)) {
		*(word_t *)d = w;
		d += sizeof(word_t);
	}
	while (n-- > 0)
		*d++ = (unsigned char)c;
	return dst;
}

/* Compares @n bytes as unsigned chars: <0, 0 or >0. */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n > 0; n--, x++, y++) {
		if (*x != *y)
			return *x - *y;
	}
	return 0;
}

/* Finds the first byte @c in @n bytes of @s, or NULL. */
void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (; n > 0; n--, p++) {
		if (*p == (unsigned char)c)
			return (void *)p;
	}
	return NULL;
}

/* Returns the length of @s. */
size_t strlen(const char *s)
{
	const char *p = s;

	while (*p != '\0')
		p++;
	return (size_t)(p - s);
}

/* Returns the length of @s, at most @maxlen; reads no further. */
size_t strnlen(const char *s, size_t maxlen)
{
	size_t n = 0;

	while (n < maxlen && s[n] != '\0')
		n++;
	return n;
}

/* Compares two strings as unsigned chars: <0, 0 or >0. */
int strcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	while (*x != '\0' && *x == *y) {
		x++;
		y++;
	}
	return *x - *y;
}

/* Compares at most @n bytes of two strings: <0, 0 or >0. */
int strncmp(const char *a, const char *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	for (; n > 0; n--, x++, y++) {
		if (*x != *y || *x == '\0')
			return *x - *y;
	}
	return 0;
}

/* @c lowered if it is an ASCII capital (the C locale). */
static int lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Compares two strings ignoring ASCII case: <0, 0 or >0. */
int strcasecmp(const char *a, const char *b)
{
	return strncasecmp(a, b, (size_t)-1);
}

/* Compares at most @n bytes of two strings ignoring ASCII case. */
int strncasecmp(const char *a, const char *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	for (; n > 0; n--, x++, y++) {
		if (lower(*x) != lower(*y) || *x == '\0')
			return lower(*x) - lower(*y);
	}
	return 0;
}

/* Finds the first @c in @s (the terminator if @c is 0), or NULL. */
char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == '\0')
			return NULL;
	}
}

/* Finds the last @c in @s (the terminator if @c is 0), or NULL. */
char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (*s == '\0')
			return (char *)last;
	}
}

/*
 * Finds the first @needle in @haystack, or NULL; an empty needle matches
 * at once. Quadratic in the worst case: Haze searches short strings.
 */
char *strstr(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return (char *)haystack;
	for (; (haystack = strchr(haystack, *needle)) != NULL; haystack++) {
		if (strncmp(haystack, needle, n) == 0)
			return (char *)haystack;
	}
	return NULL;
}

/* Returns the length of the prefix of @s made only of bytes in @accept. */
size_t strspn(const char *s, const char *accept)
{
	size_t n = 0;

	while (s[n] != '\0' && strchr(accept, s[n]) != NULL)
		n++;
	return n;
}

/* Returns the length of the prefix of @s with no byte of @reject. */
size_t strcspn(const char *s, const char *reject)
{
	size_t n = 0;

	while (s[n] != '\0' && strchr(reject, s[n]) == NULL)
		n++;
	return n;
}
