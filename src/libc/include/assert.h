/*
 * assert.h for Haze's freestanding libc. A failed assertion prints
 * "file:line: func: assertion `expr' failed" to the console and calls
 * abort(). Like every assert.h it has no include guard: each inclusion
 * redefines assert() by the NDEBUG of that moment.
 */
#undef assert
#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
#define assert(expr)      \
	((expr) ? (void)0 \
		: __hz_assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif

#ifndef _HZ_LIBC_ASSERT_H
#define _HZ_LIBC_ASSERT_H

#define static_assert _Static_assert

_Noreturn void __hz_assert_fail(const char *expr, const char *file, int line,
				const char *func);

#endif
