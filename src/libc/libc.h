/*
 * Internals of Haze's freestanding libc, shared between its files: the
 * formatting engine under the printf family, and the prototypes of the
 * entry points that no public header declares (the ABI names compilers and
 * Debian's BearSSL call).
 */
#ifndef HZ_LIBC_INTERNAL_H
#define HZ_LIBC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Where formatted output goes. put() receives every piece in order;
 * hz_libc_format() itself counts the bytes.
 */
struct hz_libc_sink {
	void (*put)(struct hz_libc_sink *sink, const char *s, size_t n);
};

/*
 * Formats @fmt with @ap into @sink. Returns the number of bytes produced,
 * or -1 with errno EOVERFLOW when that count, a width or a precision does
 * not fit an int.
 */
int hz_libc_format(struct hz_libc_sink *sink, const char *fmt, va_list ap);

/* Prints @msg, then a newline, on the console and aborts. */
_Noreturn void hz_libc_die(const char *msg);

/* glibc's ABI for errno; BearSSL is compiled against it. */
int *__errno_location(void);

/* The checked forms gcc emits under -D_FORTIFY_SOURCE. */
void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);
int __snprintf_chk(char *buf, size_t size, int flag, size_t buflen,
		   const char *fmt, ...);
int __vsnprintf_chk(char *buf, size_t size, int flag, size_t buflen,
		    const char *fmt, va_list ap);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
_Noreturn void __assert_fail(const char *expr, const char *file,
			     unsigned int line, const char *func);
_Noreturn void __stack_chk_fail(void);

/* File access that always fails: BearSSL's system seeder must not work. */
int open(const char *path, int flags, ...);
ssize_t read(int fd, void *buf, size_t n);
int close(int fd);

#endif
