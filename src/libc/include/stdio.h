/*
 * stdio.h for Haze's freestanding libc: formatting into buffers, and
 * printing to the console through hz_platform_console_write(). stdout and
 * stderr exist only so that fprintf(stderr, ...) works; both are the
 * console, unbuffered. There is no file I/O, no scanf, and no sprintf or
 * vsprintf (banned in Haze: use snprintf).
 *
 * Conversions: d i u o x X c s p % f F e E g G, flags - + space # 0, width
 * and precision (also *), lengths hh h l ll z j t L. No %a and no %n.
 */
#ifndef _HZ_LIBC_STDIO_H
#define _HZ_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct __hz_file FILE;

extern FILE *const stdout;
extern FILE *const stderr;
#define stdout stdout
#define stderr stderr

#define __HZ_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

__HZ_PRINTF(3, 4)
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...);
__HZ_PRINTF(3, 0)
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
	      va_list ap);

__HZ_PRINTF(1, 2) int printf(const char *restrict fmt, ...);
__HZ_PRINTF(1, 0) int vprintf(const char *restrict fmt, va_list ap);
__HZ_PRINTF(2, 3)
int fprintf(FILE *restrict f, const char *restrict fmt, ...);
__HZ_PRINTF(2, 0)
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap);

int puts(const char *s);
int putchar(int c);
int fputs(const char *restrict s, FILE *restrict f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
size_t fwrite(const void *restrict p, size_t size, size_t n, FILE *restrict f);
int fflush(FILE *f);

#endif
