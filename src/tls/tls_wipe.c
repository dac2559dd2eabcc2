/*
 * Wiping secrets, for every piece of TLS (and the bench client, which
 * links tls_gcm.c): a store the compiler may not drop.
 */
#include <string.h>

#include "tls/tls_int.h"

void tls_wipe(void *p, size_t len)
{
	memset(p, 0, len);
	/* The compiler must assume the asm reads the zeroes: kept. */
	__asm__ volatile("" : : "r"(p) : "memory");
}
