/* Host name comparison (haze/hostname.h). */
#include <stdint.h>

#include "haze/hostname.h"

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool hz_hostname_equal(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower((uint8_t)*a) != lower((uint8_t)*b))
			return false;
	return *a == *b;
}
