/*
 * What every unit test shares: a fresh Haze heap before each test and a
 * leak check after it (every page back, every object and pbuf freed).
 */
#ifndef HAZE_TESTS_HARNESS_H
#define HAZE_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define HARNESS_HEAP_SIZE (16u << 20)

/* Gives the runtime a fresh heap of HARNESS_HEAP_SIZE bytes. */
int harness_setup(void **state);

/* Fails the test if it leaked heap pages, objects or pbufs. */
int harness_teardown(void **state);

/* Runs @tests with the harness around each, printing TAP. */
int harness_run(const char *group, const struct CMUnitTest *tests, size_t n);

#define HARNESS_TEST(f) \
	cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)
#define HARNESS_RUN(group, tests) \
	harness_run(group, tests, sizeof(tests) / sizeof(tests[0]))

#endif
