/*
 * The few calls outside this libc's headers that Debian's BearSSL makes.
 *
 * open, read and close serve only br_prng_seeder_system(), which reads
 * /dev/urandom: here they always fail, so that seeder reports failure and
 * BearSSL's PRNG is seeded from Haze's entropy alone (docs/libc.md).
 * time() serves X.509 validation when the application set no time.
 */
#include <errno.h>
#include <time.h>

#include "haze/platform.h"
#include "libc.h"

/* There are no files: fails with ENOENT. */
int open(const char *path, int flags, ...)
{
	(void)path;
	(void)flags;
	errno = ENOENT;
	return -1;
}

/* There are no file descriptors: fails with EBADF. */
ssize_t read(int fd, void *buf, size_t n)
{
	(void)fd;
	(void)buf;
	(void)n;
	errno = EBADF;
	return -1;
}

/* There are no file descriptors: fails with EBADF. */
int close(int fd)
{
	(void)fd;
	errno = EBADF;
	return -1;
}

/* Returns the wall-clock time in seconds since the epoch. */
time_t time(time_t *t)
{
	time_t now = (time_t)(hz_platform_clock_wall() / 1000000000u);

	if (t != NULL)
		*t = now;
	return now;
}
