/*
 * string.h for Haze's freestanding libc. The unbounded copies (strcpy,
 * strcat, strncpy, strncat) and strtok are deliberately absent: Haze bans
 * them (haze/banned.h). There is no strdup either: the libc never
 * allocates.
 */
#ifndef _HZ_LIBC_STRING_H
#define _HZ_LIBC_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t maxlen);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *haystack, const char *needle);
size_t strspn(const char *s, const char *accept);
size_t strcspn(const char *s, const char *reject);

#endif
