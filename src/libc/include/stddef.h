/*
 * stddef.h for Haze's freestanding libc (kvm target, LP64).
 * Types come from the compiler's predefined macros, so they match the ABI
 * the compiler assumes without restating it.
 */
#ifndef _HZ_LIBC_STDDEF_H
#define _HZ_LIBC_STDDEF_H

typedef __SIZE_TYPE__ size_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef __WCHAR_TYPE__ wchar_t;

typedef struct {
	long long __ll __attribute__((aligned(__alignof__(long long))));
	long double __ld __attribute__((aligned(__alignof__(long double))));
} max_align_t;

#define NULL ((void *)0)
#define offsetof(type, member) __builtin_offsetof(type, member)

#endif
