/*
 * malloc and its kin, for code built against a hosted libc (Debian's GMP
 * and Nettle archives among them): Haze's allocator (haze/mem.h) under
 * the standard names. Haze's own code calls hz_malloc and friends.
 */
#include <stdlib.h>

#include "haze/mem.h"

/* Allocates @size bytes from the unikernel's heap; NULL when it is full. */
void *malloc(size_t size)
{
	return hz_malloc(size);
}

/* Allocates @n zeroed elements of @size bytes; NULL on overflow or full. */
void *calloc(size_t n, size_t size)
{
	return hz_calloc(n, size);
}

/* Resizes @p to @size bytes, keeping its contents; NULL leaves @p as is. */
void *realloc(void *p, size_t size)
{
	return hz_realloc(p, size);
}

/* Gives @p back to the heap (NULL is ignored). */
void free(void *p)
{
	hz_free(p);
}
