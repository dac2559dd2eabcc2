/*
 * The few services of the library OS that the DNS server, zone and log
 * code need, given by the host: haze-jitsu links those sources as a plain
 * Linux program, with the C library's heap and clock beneath them.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/sched.h"

void *hz_malloc(size_t size)
{
	return malloc(size);
}

void *hz_realloc(void *p, size_t size)
{
	return realloc(p, size);
}

void hz_free(void *p)
{
	free(p);
}

void hz_platform_abort(void)
{
	abort();
}

uint64_t hz_platform_clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hz_platform_console_write(const char *buf, size_t len)
{
	(void)!write(2, buf, len);
}

const char *hz_fiber_name(void)
{
	return "haze-jitsu";
}
