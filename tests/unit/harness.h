/*
 * What every unit test shares: a fresh Haze heap before each test and a
 * leak check after it (every page back, every object and pbuf freed).
 */
#ifndef HAZE_TESTS_HARNESS_H
#define HAZE_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define HARNESS_HEAP_SIZE (16u << 20)

/* Gives the runtime a fresh heap of HARNESS_HEAP_SIZE bytes. */
int harness_setup(void **state);

/* Fails the test if it leaked heap pages, objects or pbufs. */
int harness_teardown(void **state);

/* Runs @tests with the harness around each, printing TAP. */
int harness_run(const char *group, const struct CMUnitTest *tests, size_t n);

/*
 * Checks inside fibers record the first failure instead of asserting: a
 * cmocka failure would longjmp off a fiber's stack and wreck the loop.
 * harness_run_fibers fails the test once the loop has returned.
 */
#define HARNESS_CHECK(e) harness_check((e), #e, __LINE__)

/* Records a failed HARNESS_CHECK (the first one wins). */
void harness_check(bool ok, const char *expr, int line);

/* Returns the first failed HARNESS_CHECK of this test, or NULL. */
const char *harness_fiber_failure(void);

/* Runs @fn as the main fiber; fails the test if a check in a fiber failed. */
int harness_run_fibers(int (*fn)(void *arg), void *arg);

/* Stdout (the console) redirected into a file, for checking output. */
struct harness_capture {
	FILE *file;
	int saved;
};

/* Starts capturing what is written to stdout. */
void harness_capture_begin(struct harness_capture *c);

/* Stops capturing; copies the output into @buf and returns its length. */
size_t harness_capture_end(struct harness_capture *c, char *buf, size_t size);

#define HARNESS_TEST(f) \
	cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)
#define HARNESS_RUN(group, tests) \
	harness_run(group, tests, sizeof(tests) / sizeof(tests[0]))

#endif
