/*
 * Haze's libc as the differential test sees it: every symbol src/libc
 * defines, renamed hzlibc_* when the test build links it (mk/libc.mk), so
 * it can sit next to glibc in one program. Host types stand in for the
 * libc's own; both libcs follow the same LP64 ABI.
 */
#ifndef HAZE_TESTS_HZLIBC_H
#define HAZE_TESTS_HZLIBC_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

int hzlibc_snprintf(char *buf, size_t size, const char *fmt, ...);
int hzlibc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hzlibc_printf(const char *fmt, ...);
int hzlibc_fprintf(void *f, const char *fmt, ...);
int hzlibc_puts(const char *s);
int hzlibc_putchar(int c);
int hzlibc_fputs(const char *s, void *f);
size_t hzlibc_fwrite(const void *p, size_t size, size_t n, void *f);
extern void *const hzlibc_stdout;
extern void *const hzlibc_stderr;

long hzlibc_strtol(const char *s, char **end, int base);
unsigned long hzlibc_strtoul(const char *s, char **end, int base);
long long hzlibc_strtoll(const char *s, char **end, int base);
unsigned long long hzlibc_strtoull(const char *s, char **end, int base);
int hzlibc_atoi(const char *s);
long hzlibc_atol(const char *s);
int hzlibc_abs(int x);
long hzlibc_labs(long x);
long long hzlibc_llabs(long long x);
void hzlibc_qsort(void *base, size_t n, size_t size,
		  int (*cmp)(const void *, const void *));
void *hzlibc_bsearch(const void *key, const void *base, size_t n, size_t size,
		     int (*cmp)(const void *, const void *));
void hzlibc_abort(void);

void *hzlibc_memcpy(void *dst, const void *src, size_t n);
void *hzlibc_memmove(void *dst, const void *src, size_t n);
void *hzlibc_memset(void *dst, int c, size_t n);
int hzlibc_memcmp(const void *a, const void *b, size_t n);
void *hzlibc_memchr(const void *s, int c, size_t n);
size_t hzlibc_strlen(const char *s);
size_t hzlibc_strnlen(const char *s, size_t maxlen);
int hzlibc_strcmp(const char *a, const char *b);
int hzlibc_strncmp(const char *a, const char *b, size_t n);
int hzlibc_strcasecmp(const char *a, const char *b);
int hzlibc_strncasecmp(const char *a, const char *b, size_t n);
char *hzlibc_strchr(const char *s, int c);
char *hzlibc_strrchr(const char *s, int c);
char *hzlibc_strstr(const char *haystack, const char *needle);
size_t hzlibc_strspn(const char *s, const char *accept);
size_t hzlibc_strcspn(const char *s, const char *reject);

int hzlibc_isalnum(int c);
int hzlibc_isalpha(int c);
int hzlibc_isblank(int c);
int hzlibc_iscntrl(int c);
int hzlibc_isdigit(int c);
int hzlibc_isgraph(int c);
int hzlibc_islower(int c);
int hzlibc_isprint(int c);
int hzlibc_ispunct(int c);
int hzlibc_isspace(int c);
int hzlibc_isupper(int c);
int hzlibc_isxdigit(int c);
int hzlibc_tolower(int c);
int hzlibc_toupper(int c);

extern int hzlibc_errno;
int *hzlibc___errno_location(void);
time_t hzlibc_time(time_t *t);
int hzlibc_open(const char *path, int flags, ...);
ssize_t hzlibc_read(int fd, void *buf, size_t n);
int hzlibc_close(int fd);

void hzlibc___hz_assert_fail(const char *expr, const char *file, int line,
			     const char *func);
void *hzlibc_malloc(size_t size);
void *hzlibc_calloc(size_t n, size_t size);
void *hzlibc_realloc(void *p, size_t size);
void hzlibc_free(void *p);
void hzlibc___assert_fail(const char *expr, const char *file, unsigned int line,
			  const char *func);
int hzlibc___fprintf_chk(void *f, int flag, const char *fmt, ...);
void hzlibc___stack_chk_fail(void);
void *hzlibc___memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *hzlibc___memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
void *hzlibc___memset_chk(void *dst, int c, size_t n, size_t dstlen);
int hzlibc___snprintf_chk(char *buf, size_t size, int flag, size_t buflen,
			  const char *fmt, ...);

#endif
