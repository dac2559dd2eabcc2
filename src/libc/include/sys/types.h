/* sys/types.h for Haze's freestanding libc: ssize_t for byte counts. */
#ifndef _HZ_LIBC_SYS_TYPES_H
#define _HZ_LIBC_SYS_TYPES_H

#include <stddef.h>

typedef long ssize_t;
typedef long off_t;

#endif
