/*
 * strings.h for Haze's freestanding libc: the POSIX case-insensitive
 * comparisons, in the C locale (ASCII letters only), as HTTP field names
 * and host names need them.
 */
#ifndef _HZ_LIBC_STRINGS_H
#define _HZ_LIBC_STRINGS_H

#include <stddef.h>

int strcasecmp(const char *a, const char *b);
int strncasecmp(const char *a, const char *b, size_t n);

#endif
