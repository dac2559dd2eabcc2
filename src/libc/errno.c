/*
 * errno: one plain global, since the guest runs one vCPU and no threads.
 * __errno_location() is glibc's name for its address, which code compiled
 * against glibc's headers (Debian's BearSSL) calls.
 */
#include <errno.h>

#include "libc.h"

int errno;

/* Returns the address of errno. */
int *__errno_location(void)
{
	return &errno;
}
