/*
 * Every way the libc ends the unikernel: abort(), a failed assert(), a
 * smashed stack canary and a fortify check. Each prints what happened on
 * the console, then calls hz_platform_abort(). None of this may itself be
 * built with the stack protector: __stack_chk_fail runs on a broken stack.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haze/platform.h"
#include "libc.h"

/* Prints @msg and a newline on the console, then aborts. */
_Noreturn void hz_libc_die(const char *msg)
{
	hz_platform_console_write(msg, strlen(msg));
	hz_platform_console_write("\n", 1);
	hz_platform_abort();
}

/* Ends the unikernel abnormally; the platform reports it. */
_Noreturn void abort(void)
{
	hz_platform_abort();
}

/* The failure path of assert(): reports @expr's place, then aborts. */
_Noreturn void __hz_assert_fail(const char *expr, const char *file, int line,
				const char *func)
{
	fprintf(stderr, "%s:%d: %s: assertion `%s' failed\n", file, line, func,
		expr);
	abort();
}

/* glibc's assert() failure, which Debian's GMP and Nettle archives call. */
_Noreturn void __assert_fail(const char *expr, const char *file,
			     unsigned int line, const char *func)
{
	__hz_assert_fail(expr, file, (int)line, func);
}

/* Called by -fstack-protector code when a canary was overwritten. */
_Noreturn void __stack_chk_fail(void)
{
	hz_libc_die("stack smashing detected");
}

static void check_fits(size_t n, size_t room)
{
	if (n > room)
		hz_libc_die("buffer overflow detected");
}

/* memcpy with the destination's size known (-D_FORTIFY_SOURCE). */
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	check_fits(n, dstlen);
	return memcpy(dst, src, n);
}

/* memmove with the destination's size known (-D_FORTIFY_SOURCE). */
void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen)
{
	check_fits(n, dstlen);
	return memmove(dst, src, n);
}

/* memset with the destination's size known (-D_FORTIFY_SOURCE). */
void *__memset_chk(void *dst, int c, size_t n, size_t dstlen)
{
	check_fits(n, dstlen);
	return memset(dst, c, n);
}

/* vsnprintf with the buffer's real size known (-D_FORTIFY_SOURCE). */
int __vsnprintf_chk(char *buf, size_t size, int flag, size_t buflen,
		    const char *fmt, va_list ap)
{
	(void)flag;
	check_fits(size, buflen);
	return vsnprintf(buf, size, fmt, ap);
}

/* fprintf with format checks (-D_FORTIFY_SOURCE): plain fprintf here. */
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	va_list ap;
	int ret;

	(void)flag;
	va_start(ap, fmt);
	ret = vfprintf(f, fmt, ap);
	va_end(ap);
	return ret;
}

/* snprintf with the buffer's real size known (-D_FORTIFY_SOURCE). */
int __snprintf_chk(char *buf, size_t size, int flag, size_t buflen,
		   const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = __vsnprintf_chk(buf, size, flag, buflen, fmt, ap);
	va_end(ap);
	return ret;
}
