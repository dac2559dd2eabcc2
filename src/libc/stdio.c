/*
 * The printf family over the formatting engine (format.c): snprintf into
 * a bounded buffer, printf and friends to the console. stdout and stderr
 * are both the console; output is unbuffered across calls, so a message
 * is out before an abort that follows it.
 */
#include <stdio.h>
#include <string.h>

#include "haze/platform.h"
#include "libc.h"

struct __hz_file {
	int unused;
};

static struct __hz_file console_file;

FILE *const stdout = &console_file;
FILE *const stderr = &console_file;

/* A bounded buffer: keeps the first @cap bytes, counts the rest. */
struct buffer_sink {
	struct hz_libc_sink sink; /* first: put() casts back */
	char *buf;
	size_t cap;
	size_t len;
};

static void buffer_put(struct hz_libc_sink *sink, const char *s, size_t n)
{
	struct buffer_sink *b = (struct buffer_sink *)sink;

	if (b->len < b->cap) {
		size_t room = b->cap - b->len;

		memcpy(b->buf + b->len, s, n < room ? n : room);
	}
	b->len += n;
}

/* Formats into @buf (@size bytes with the NUL); returns the full length. */
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt,
	      va_list ap)
{
	struct buffer_sink b = {
	    .sink = {.put = buffer_put},
	    .buf = buf,
	    .cap = size > 0 ? size - 1 : 0,
	    .len = 0,
	};
	int ret = hz_libc_format(&b.sink, fmt, ap);

	if (size > 0)
		buf[b.len < b.cap ? b.len : b.cap] = '\0';
	return ret;
}

/* Formats into @buf (@size bytes with the NUL); returns the full length. */
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return ret;
}

/* The console, in chunks: one platform call per chunk, not per piece. */
struct console_sink {
	struct hz_libc_sink sink; /* first: put() casts back */
	size_t len;
	char buf[128];
};

static void console_flush(struct console_sink *c)
{
	if (c->len > 0)
		hz_platform_console_write(c->buf, c->len);
	c->len = 0;
}

static void console_put(struct hz_libc_sink *sink, const char *s, size_t n)
{
	struct console_sink *c = (struct console_sink *)sink;

	if (n >= sizeof(c->buf)) {
		console_flush(c);
		hz_platform_console_write(s, n);
		return;
	}
	if (n > sizeof(c->buf) - c->len)
		console_flush(c);
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

/* Formats to the console (@f is stdout or stderr: both are it). */
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	struct console_sink c = {.sink = {.put = console_put}, .len = 0};
	int ret = hz_libc_format(&c.sink, fmt, ap);

	(void)f;
	console_flush(&c);
	return ret;
}

/* Formats to the console. */
int fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfprintf(f, fmt, ap);
	va_end(ap);
	return ret;
}

/* Formats to the console. */
int vprintf(const char *restrict fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

/* Formats to the console. */
int printf(const char *restrict fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return ret;
}

/* Writes @n items of @size bytes to the console; returns @n. */
size_t fwrite(const void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	(void)f;
	if (size == 0 || n == 0)
		return 0;
	/* An overflowing product is more than any buffer can hold. */
	if (n > (size_t)-1 / size)
		return 0;
	hz_platform_console_write(p, size * n);
	return n;
}

/* Writes @s to the console, without a newline. */
int fputs(const char *restrict s, FILE *restrict f)
{
	(void)f;
	hz_platform_console_write(s, strlen(s));
	return 0;
}

/* Writes the byte @c to the console; returns it. */
int fputc(int c, FILE *f)
{
	char b = (char)(unsigned char)c;

	(void)f;
	hz_platform_console_write(&b, 1);
	return (unsigned char)c;
}

/* Same as fputc(). */
int putc(int c, FILE *f)
{
	return fputc(c, f);
}

/* Writes the byte @c to the console; returns it. */
int putchar(int c)
{
	return fputc(c, stdout);
}

/* Writes @s and a newline to the console, in one platform call if short. */
int puts(const char *s)
{
	size_t n = strlen(s);
	char line[128];

	if (n < sizeof(line)) {
		memcpy(line, s, n);
		line[n] = '\n';
		hz_platform_console_write(line, n + 1);
	} else {
		hz_platform_console_write(s, n);
		hz_platform_console_write("\n", 1);
	}
	return 0;
}

/* Nothing is buffered between calls: succeeds at once. */
int fflush(FILE *f)
{
	(void)f;
	return 0;
}
