/*
 * What every unit test shares: a fresh Haze heap before each test and a
 * leak check after it (every page back, every object and pbuf freed), and
 * checks that are safe inside fibers.
 *
 * A cmocka assertion that fails longjmps to cmocka's test runner. From a
 * fiber, or from a callback the event loop runs, that jump leaves the
 * fiber's stack with the scheduler still in the middle of a switch: the
 * next hz_sched_run in that binary aborts and every later test goes
 * unreported. So code that runs inside the loop checks with HARNESS_CHECK*:
 * a failure is printed and recorded, the code goes on, and
 * harness_run_fibers fails the test once the loop has returned. Outside
 * the loop the same checks fail the test at once, as cmocka's do, so
 * helpers can use them wherever they are called from.
 *
 * This header also reroutes cmocka's own assertions: outside the loop they
 * are cmocka's; inside it, any of them, passing or failing, fails the test
 * with "cmocka assert_... inside the event loop" and does not jump.
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

/* Gives the runtime a fresh heap of HARNESS_HEAP_SIZE bytes; fails if an
 * earlier test left the event loop unusable (saying how). */
int harness_setup(void **state);

/* Fails the test if it leaked pages, objects, pbufs, fibers or timers, or
 * left a failure recorded in the loop unreported. */
int harness_teardown(void **state);

/* Runs @tests with the harness around each, printing TAP. */
int harness_run(const char *group, const struct CMUnitTest *tests, size_t n);

/* Runs @fn as the main fiber; fails the test if a check in the loop failed. */
int harness_run_fibers(int (*fn)(void *arg), void *arg);

/* The value of counter @source.@name (haze/log.h); 0 if it never counted. */
uint64_t harness_counter(const char *source, const char *name);

/* Decodes the hex string @hex (whole bytes) into @out; the byte count. */
size_t harness_unhex(const char *hex, void *out);

/*
 * Checks for any context. Each returns whether it held, so code that
 * cannot go on after a failure says where to go instead:
 *	if (!HARNESS_CHECK_EQ(hz_tcp_accept_on(l, 0, &f), 0))
 *		goto out;
 * The _EQ, _NE, _LT, _LE, _GT and _GE forms compare integers of any type
 * (up to 64 bits, signed or unsigned) by value, exactly, and print both
 * sides; pointers go through HARNESS_CHECK(p == q).
 */
#define HARNESS_CHECK(e) harness_check(!!(e), #e, __FILE__, __LINE__)
#define HARNESS_CHECK_EQ(a, b) HARNESS_CMP_(a, HARNESS_EQ, b, #a, #b)
#define HARNESS_CHECK_NE(a, b) HARNESS_CMP_(a, HARNESS_NE, b, #a, #b)
#define HARNESS_CHECK_LT(a, b) HARNESS_CMP_(a, HARNESS_LT, b, #a, #b)
#define HARNESS_CHECK_LE(a, b) HARNESS_CMP_(a, HARNESS_LE, b, #a, #b)
#define HARNESS_CHECK_GT(a, b) HARNESS_CMP_(a, HARNESS_GT, b, #a, #b)
#define HARNESS_CHECK_GE(a, b) HARNESS_CMP_(a, HARNESS_GE, b, #a, #b)
/* NUL-terminated strings, either of which may be NULL. */
#define HARNESS_CHECK_STR_EQ(a, b) \
	harness_check_str((a), (b), #a, #b, __FILE__, __LINE__)
/* String @s contains @part. */
#define HARNESS_CHECK_STR_HAS(s, part) \
	harness_check_has((s), (part), #s, __FILE__, __LINE__)
/* @n bytes at @a and @b; a failure names the first byte that differs. */
#define HARNESS_CHECK_MEM_EQ(a, b, n) \
	harness_check_mem((a), (b), (n), #a, #b, __FILE__, __LINE__)
/* A failure described by a printf format and its arguments. */
#define HARNESS_FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)

enum harness_op {
	HARNESS_EQ,
	HARNESS_NE,
	HARNESS_LT,
	HARNESS_LE,
	HARNESS_GT,
	HARNESS_GE
};

/* Every integer of 64 bits or fewer converts to it exactly. */
typedef __int128 harness_int;

/* The text of @a and @b is taken where the check was written, unexpanded. */
#define HARNESS_CMP_(a, op, b, a_text, b_text)                            \
	harness_check_int((harness_int)(a), op, (harness_int)(b), a_text, \
			  b_text, __FILE__, __LINE__)

/* Checks @ok (HARNESS_CHECK); returns it. */
bool harness_check(bool ok, const char *expr, const char *file, int line);

/* Checks @a @op @b (HARNESS_CHECK_EQ and its kin); returns whether it held. */
bool harness_check_int(harness_int a, enum harness_op op, harness_int b,
		       const char *a_expr, const char *b_expr, const char *file,
		       int line);

/* Checks two strings are equal (HARNESS_CHECK_STR_EQ); returns it. */
bool harness_check_str(const char *a, const char *b, const char *a_expr,
		       const char *b_expr, const char *file, int line);

/* Checks @s contains @part (HARNESS_CHECK_STR_HAS); returns it. */
bool harness_check_has(const char *s, const char *part, const char *s_expr,
		       const char *file, int line);

/* Checks @n bytes are equal (HARNESS_CHECK_MEM_EQ); returns it. */
bool harness_check_mem(const void *a, const void *b, size_t n,
		       const char *a_expr, const char *b_expr, const char *file,
		       int line);

/* Fails a check described by @fmt (HARNESS_FAIL). */
void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Returns the first failure recorded inside the loop in this test
 * ("file:line: ..."), or NULL: for a test that runs hz_sched_run itself,
 * and for a loop that should stop waiting once something failed.
 */
const char *harness_fiber_failure(void);

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

/*
 * --- cmocka's assertions, guarded ------------------------------------------
 * Each macro of cmocka 1.1.5 that can fail a test is redefined to call the
 * harness, which hands it to cmocka outside the loop and, inside it,
 * records "in fiber F: cmocka NAME inside the event loop" and returns.
 * Arguments are evaluated once, as cmocka's are.
 */

/* cmocka's _assert_true, unless called inside the loop. */
void harness_cm_true(LargestIntegralType result, const char *name,
		     const char *expr, const char *file, int line);

/* cmocka's _assert_int_equal (or _not_equal), unless inside the loop. */
void harness_cm_int(bool equal, LargestIntegralType a, LargestIntegralType b,
		    const char *name, const char *file, int line);

/* cmocka's _assert_string_equal (or _not_equal), unless inside the loop. */
void harness_cm_str(bool equal, const char *a, const char *b, const char *file,
		    int line);

/* cmocka's _assert_memory_equal (or _not_equal), unless inside the loop. */
void harness_cm_mem(bool equal, const void *a, const void *b, size_t size,
		    const char *file, int line);

/* cmocka's _assert_return_code, unless inside the loop. */
void harness_cm_rc(LargestIntegralType rc, size_t size,
		   LargestIntegralType error, const char *expr,
		   const char *file, int line);

/* cmocka's _assert_in_range (or _not_in_range), unless inside the loop. */
void harness_cm_range(bool in, LargestIntegralType value,
		      LargestIntegralType min, LargestIntegralType max,
		      const char *file, int line);

/* cmocka's _assert_in_set (or _not_in_set), unless inside the loop. */
void harness_cm_set(bool in, LargestIntegralType value,
		    const LargestIntegralType values[], size_t n,
		    const char *file, int line);

/* cmocka's _assert_float_equal (or _not_equal), unless inside the loop. */
void harness_cm_float(bool equal, float a, float b, float epsilon,
		      const char *file, int line);

/* cmocka's fail_msg, unless inside the loop. */
void harness_cm_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cmocka's _skip, unless inside the loop (where skipping is refused). */
void harness_cm_skip(const char *file, int line);

#undef assert_true
#undef assert_false
#undef assert_non_null
#undef assert_null
#undef assert_return_code
#undef assert_int_equal
#undef assert_int_not_equal
#undef assert_ptr_equal
#undef assert_ptr_not_equal
#undef assert_string_equal
#undef assert_string_not_equal
#undef assert_memory_equal
#undef assert_memory_not_equal
#undef assert_in_range
#undef assert_not_in_range
#undef assert_in_set
#undef assert_not_in_set
#undef assert_float_equal
#undef assert_float_not_equal
#undef fail
#undef fail_msg
#undef skip

#define assert_true(c)                                                       \
	harness_cm_true(cast_to_largest_integral_type(c), "assert_true", #c, \
			__FILE__, __LINE__)
#define assert_false(c)                                                      \
	harness_cm_true(!(cast_to_largest_integral_type(c)), "assert_false", \
			#c, __FILE__, __LINE__)
#define assert_non_null(c)                                    \
	harness_cm_true(cast_ptr_to_largest_integral_type(c), \
			"assert_non_null", #c, __FILE__, __LINE__)
#define assert_null(c)                                           \
	harness_cm_true(!(cast_ptr_to_largest_integral_type(c)), \
			"assert_null", #c, __FILE__, __LINE__)
#define assert_return_code(rc, error)                                      \
	harness_cm_rc(cast_to_largest_integral_type(rc), sizeof(rc),       \
		      cast_to_largest_integral_type(error), #rc, __FILE__, \
		      __LINE__)
#define assert_int_equal(a, b)                                               \
	harness_cm_int(true, cast_to_largest_integral_type(a),               \
		       cast_to_largest_integral_type(b), "assert_int_equal", \
		       __FILE__, __LINE__)
#define assert_int_not_equal(a, b)                              \
	harness_cm_int(false, cast_to_largest_integral_type(a), \
		       cast_to_largest_integral_type(b),        \
		       "assert_int_not_equal", __FILE__, __LINE__)
#define assert_ptr_equal(a, b)                                     \
	harness_cm_int(true, cast_ptr_to_largest_integral_type(a), \
		       cast_ptr_to_largest_integral_type(b),       \
		       "assert_ptr_equal", __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b)                                  \
	harness_cm_int(false, cast_ptr_to_largest_integral_type(a), \
		       cast_ptr_to_largest_integral_type(b),        \
		       "assert_ptr_not_equal", __FILE__, __LINE__)
#define assert_string_equal(a, b)                                            \
	harness_cm_str(true, (const char *)(a), (const char *)(b), __FILE__, \
		       __LINE__)
#define assert_string_not_equal(a, b)                                         \
	harness_cm_str(false, (const char *)(a), (const char *)(b), __FILE__, \
		       __LINE__)
#define assert_memory_equal(a, b, size)                                    \
	harness_cm_mem(true, (const void *)(a), (const void *)(b), (size), \
		       __FILE__, __LINE__)
#define assert_memory_not_equal(a, b, size)                                 \
	harness_cm_mem(false, (const void *)(a), (const void *)(b), (size), \
		       __FILE__, __LINE__)
#define assert_in_range(value, minimum, maximum)                           \
	harness_cm_range(true, cast_to_largest_integral_type(value),       \
			 cast_to_largest_integral_type(minimum),           \
			 cast_to_largest_integral_type(maximum), __FILE__, \
			 __LINE__)
#define assert_not_in_range(value, minimum, maximum)                       \
	harness_cm_range(false, cast_to_largest_integral_type(value),      \
			 cast_to_largest_integral_type(minimum),           \
			 cast_to_largest_integral_type(maximum), __FILE__, \
			 __LINE__)
#define assert_in_set(value, values, number_of_values)                       \
	harness_cm_set(true, cast_to_largest_integral_type(value), (values), \
		       (number_of_values), __FILE__, __LINE__)
#define assert_not_in_set(value, values, number_of_values)                    \
	harness_cm_set(false, cast_to_largest_integral_type(value), (values), \
		       (number_of_values), __FILE__, __LINE__)
#define assert_float_equal(a, b, epsilon)                                \
	harness_cm_float(true, (float)(a), (float)(b), (float)(epsilon), \
			 __FILE__, __LINE__)
#define assert_float_not_equal(a, b, epsilon)                             \
	harness_cm_float(false, (float)(a), (float)(b), (float)(epsilon), \
			 __FILE__, __LINE__)
#define fail() harness_cm_fail(__FILE__, __LINE__, "%s", "")
#define fail_msg(...) harness_cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() harness_cm_skip(__FILE__, __LINE__)

#endif
