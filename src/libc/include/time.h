/*
 * time.h for Haze's freestanding libc: only time(), which BearSSL's X.509
 * validation calls when the application set no time. Applications use the
 * platform's clocks (haze/platform.h). The broken-down time functions are
 * absent (asctime, ctime, gmtime, localtime are banned in Haze anyway).
 */
#ifndef _HZ_LIBC_TIME_H
#define _HZ_LIBC_TIME_H

#include <stddef.h>

typedef long time_t;

struct timespec {
	time_t tv_sec;
	long tv_nsec;
};

time_t time(time_t *t);

#endif
