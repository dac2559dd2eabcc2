/*
 * Assertions for programming errors (API misuse, broken invariants).
 * Nothing a peer sends may reach one: network input is dropped and
 * counted, never asserted on. Assertions stay on in every build.
 */
#ifndef HAZE_ASSERT_H
#define HAZE_ASSERT_H

#include "haze/error.h"

/* Prints "file:line: assertion `expr' failed" and aborts the unikernel. */
HZ_NORETURN void hz_assert_fail(const char *expr, const char *file, int line);

#define HZ_ASSERT(e) ((e) ? (void)0 : hz_assert_fail(#e, __FILE__, __LINE__))

#endif
