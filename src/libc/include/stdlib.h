/*
 * stdlib.h for Haze's freestanding libc. malloc, calloc, realloc and free
 * are only declared here: Haze's runtime (src/core) provides them over its
 * heap, so the libc itself never allocates.
 */
#ifndef _HZ_LIBC_STDLIB_H
#define _HZ_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

typedef struct {
	int quot;
	int rem;
} div_t;

long strtol(const char *restrict s, char **restrict end, int base);
unsigned long strtoul(const char *restrict s, char **restrict end, int base);
long long strtoll(const char *restrict s, char **restrict end, int base);
unsigned long long strtoull(const char *restrict s, char **restrict end,
			    int base);
int atoi(const char *s);
long atol(const char *s);

int abs(int x);
long labs(long x);
long long llabs(long long x);

void qsort(void *base, size_t n, size_t size,
	   int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *));

_Noreturn void abort(void);

/* Provided by Haze's runtime, not by the libc. */
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);

#endif
