/*
 * The BearSSL link check (mk/libc.mk): a freestanding program that hashes
 * with BearSSL and formats with the libc, linked statically against every
 * member of Debian's libbearssl.a and of libc.a with no host libc. If the
 * libc lacks a symbol BearSSL (or the libc itself) needs, the link fails.
 * It is never run: the platform calls below are empty stand-ins.
 */
#include <assert.h>
#include <bearssl.h>
#include <stdio.h>
#include <string.h>

#include "haze/platform.h"

/* What the libc needs from the platform, and nothing more. */
void hz_platform_console_write(const char *buf, size_t len)
{
	(void)buf;
	(void)len;
}

uint64_t hz_platform_clock_wall(void)
{
	return 0;
}

_Noreturn void hz_platform_abort(void)
{
	for (;;)
		;
}

void link_check_start(void);

/* The entry point: SHA-256 of "abc", printed. */
void link_check_start(void)
{
	br_sha256_context ctx;
	unsigned char out[br_sha256_SIZE];
	char hex[2 * sizeof(out) + 1];
	size_t i;

	br_sha256_init(&ctx);
	br_sha256_update(&ctx, "abc", 3);
	br_sha256_out(&ctx, out);
	for (i = 0; i < sizeof(out); i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	assert(strlen(hex) == 64);
	printf("%s\n", hex);
	hz_platform_abort();
}
