/*
 * The harness itself (harness.h): a check that fails inside the event
 * loop, in a fiber or a callback, fails only its own test, saying what
 * was expected, what was found and where; the tests after it in the same
 * binary still run and report; cmocka's assertions inside the loop are
 * refused, passing or failing, and never jump off a fiber's stack.
 *
 * The failing tests are real: a "demo" group of them runs in a child (this
 * binary again, with --demo), and the test here reads the child's TAP and
 * stderr. Were a cmocka assertion inside a fiber to jump again, the
 * child's later tests would go unreported and this test would fail.
 */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "haze/sched.h"

/* --- the demo group: each test but two fails, on purpose ------------------ */

static bool checker_done;

static void checker(void *arg)
{
	int answer = 41;
	const char *word = "fibre";

	(void)arg;
	HARNESS_CHECK_EQ(answer, 42);
	HARNESS_CHECK_STR_EQ(word, "fiber");
	HARNESS_CHECK_MEM_EQ("abcdef", "abcxef", 6);
	checker_done = true; /* a failed check does not stop the fiber */
}

static int checker_main(void *arg)
{
	(void)arg;
	checker_done = false;
	if (hz_fiber_spawn("checker", checker, NULL, 0) < 0)
		return -HZ_ENOMEM;
	while (!checker_done)
		hz_fiber_yield();
	HARNESS_CHECK_LE(hz_now(), 0);
	return 0;
}

static void fiber_check_fails(void **state)
{
	(void)state;
	harness_run_fibers(checker_main, NULL);
	print_message("# not reached: the run above fails the test\n");
}

static void ticker(void *arg)
{
	int *n = arg;

	for (int i = 0; i < 3; i++) {
		(*n)++;
		hz_fiber_yield();
	}
}

static int ticker_main(void *arg)
{
	if (hz_fiber_spawn("ticker", ticker, arg, 0) < 0)
		return -HZ_ENOMEM;
	hz_sleep_ns(HZ_NS_PER_MS);
	return 0;
}

static void fibers_run_after_a_failure(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(harness_run_fibers(ticker_main, &n), 0);
	assert_int_equal(n, 3);
}

static int passing_cmocka_main(void *arg)
{
	(void)arg;
	assert_int_equal(1, 1);
	return 0;
}

static void cmocka_assert_in_fiber_is_refused(void **state)
{
	(void)state;
	harness_run_fibers(passing_cmocka_main, NULL);
}

static bool went_on;

static void failing_cmocka(void *arg)
{
	int answer = 41;

	(void)arg;
	assert_true(answer == 42);
	went_on = true;
}

static int failing_cmocka_main(void *arg)
{
	(void)arg;
	went_on = false;
	if (hz_fiber_spawn("asserter", failing_cmocka, NULL, 0) < 0)
		return -HZ_ENOMEM;
	while (!went_on)
		hz_fiber_yield();
	return 0;
}

static void failing_cmocka_assert_does_not_jump(void **state)
{
	(void)state;
	harness_run_fibers(failing_cmocka_main, NULL);
}

static void from_a_timer(struct hz_timer *t)
{
	(void)t;
	fail_msg("from a timer callback");
}

static int timer_main(void *arg)
{
	struct hz_timer t;

	(void)arg;
	hz_timer_init(&t, from_a_timer);
	hz_timer_arm(&t, hz_now());
	hz_sleep_ns(2 * HZ_NS_PER_MS);
	hz_timer_cancel(&t);
	return 0;
}

static void cmocka_in_a_callback_is_refused(void **state)
{
	(void)state;
	harness_run_fibers(timer_main, NULL);
}

static void check_outside_the_loop_fails_at_once(void **state)
{
	(void)state;
	HARNESS_CHECK_EQ(2 + 2, 5);
	print_message("# not reached: a check outside the loop stops there\n");
}

static int failing_main(void *arg)
{
	(void)arg;
	HARNESS_CHECK(!"seen by the teardown");
	return 0;
}

static void unreported_failure_fails_the_teardown(void **state)
{
	(void)state;
	/* Not harness_run_fibers, and the test does not look. */
	assert_int_equal(hz_sched_run(failing_main, NULL), 0);
}

static void last_test_still_runs(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(harness_run_fibers(ticker_main, &n), 0);
	assert_int_equal(n, 3);
}

static int run_demo(void)
{
	const struct CMUnitTest demo[] = {
	    HARNESS_TEST(fiber_check_fails),
	    HARNESS_TEST(fibers_run_after_a_failure),
	    HARNESS_TEST(cmocka_assert_in_fiber_is_refused),
	    HARNESS_TEST(failing_cmocka_assert_does_not_jump),
	    HARNESS_TEST(cmocka_in_a_callback_is_refused),
	    HARNESS_TEST(check_outside_the_loop_fails_at_once),
	    HARNESS_TEST(unreported_failure_fails_the_teardown),
	    HARNESS_TEST(last_test_still_runs),
	};

	return HARNESS_RUN("harness-demo", demo);
}

/* --- the tests ------------------------------------------------------------ */

/* What the demo child printed, and how it ended. */
struct demo {
	char out[16384];
	char err[16384];
	int status;
};

/* Reads what was written to @f into @buf. */
static void slurp(FILE *f, char *buf, size_t size)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs this binary's demo group in a child. */
static void run_child(struct demo *d)
{
	FILE *out = tmpfile(), *err = tmpfile();
	pid_t pid;

	assert_non_null(out);
	assert_non_null(err);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {"test_harness", "--demo", NULL};

		if (dup2(fileno(out), STDOUT_FILENO) < 0 ||
		    dup2(fileno(err), STDERR_FILENO) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &d->status, 0), pid);
	slurp(out, d->out, sizeof(d->out));
	slurp(err, d->err, sizeof(d->err));
}

/* Shows the child's output whole (print_error would cut it short). */
static void show(const struct demo *d)
{
	fprintf(stderr, "--- the demo's stdout:\n%s--- its stderr:\n%s---\n",
		d->out, d->err);
}

/* Fails, showing the child's output, unless @text is in @where. */
static void has(const struct demo *d, const char *where, const char *text)
{
	if (strstr(where, text) != NULL)
		return;
	show(d);
	fail_msg("the demo's %s lacks: %s",
		 where == d->out ? "stdout" : "stderr", text);
}

/* Fails, showing the child's output, if @text is in @where. */
static void lacks(const struct demo *d, const char *where, const char *text)
{
	if (strstr(where, text) == NULL)
		return;
	show(d);
	fail_msg("the demo's %s has: %s", where == d->out ? "stdout" : "stderr",
		 text);
}

/* The line number after "@prefix" in @s, or -1. */
static int line_after(const char *s, const char *prefix)
{
	const char *p = strstr(s, prefix);

	return p != NULL ? atoi(p + strlen(prefix)) : -1;
}

static void failures_stay_in_their_test(void **state)
{
	static struct demo d;
	const char *me = "tests/unit/test_harness.c:";
	char where[64];
	int line;

	(void)state;
	run_child(&d);
	/* Every test reported, in order, each verdict the right one. */
	has(&d, d.out, "1..8\n");
	has(&d, d.out, "not ok 1 - fiber_check_fails\n");
	has(&d, d.out, "ok 2 - fibers_run_after_a_failure\n");
	has(&d, d.out, "not ok 3 - cmocka_assert_in_fiber_is_refused\n");
	has(&d, d.out, "not ok 4 - failing_cmocka_assert_does_not_jump\n");
	has(&d, d.out, "not ok 5 - cmocka_in_a_callback_is_refused\n");
	has(&d, d.out, "not ok 6 - check_outside_the_loop_fails_at_once\n");
	has(&d, d.out, "not ok 7 - unreported_failure_fails_the_teardown");
	has(&d, d.out, "ok 8 - last_test_still_runs\n");
	lacks(&d, d.out, "not reached");
	/* cmocka's exit status: the number of tests that failed. */
	assert_true(WIFEXITED(d.status));
	assert_int_equal(WEXITSTATUS(d.status), 6);

	/* Each check says where, in which fiber, what it expected and what
	 * it found; the test fails at the line of the first. */
	has(&d, d.err,
	    "in fiber \"checker\": answer is 41 (0x29); expected == 42\n");
	has(&d, d.err,
	    "in fiber \"checker\": word is \"fibre\"; expected \"fiber\"\n");
	has(&d, d.err,
	    "in fiber \"checker\": \"abcdef\" and \"abcxef\" differ from "
	    "byte 3 of 6: 64 65 66; expected 78 65 66\n");
	has(&d, d.err, "in fiber \"main\": hz_now() is ");
	has(&d, d.err, "; expected <= 0\n");
	has(&d, d.err, "4 checks failed in the event loop; the first: ");
	line = line_after(d.err, me);
	assert_true(line > 0);
	snprintf(where, sizeof(where), "# %s%d: error: Failure!", me, line);
	has(&d, d.out, where);

	/* cmocka inside the loop: refused whether it holds or not, in a
	 * fiber or a callback, and the code after it runs on. */
	has(&d, d.err,
	    "in fiber \"main\": cmocka assert_int_equal inside the event "
	    "loop, where a failure would longjmp off the fiber's stack: use "
	    "HARNESS_CHECK*\n");
	has(&d, d.err,
	    "in fiber \"asserter\": cmocka assert_true(answer == 42) inside "
	    "the event loop");
	has(&d, d.err, "(and it failed: false)\n");
	has(&d, d.err,
	    "in a callback of the loop: cmocka fail_msg inside the event "
	    "loop");
	has(&d, d.err, "(and it failed: from a timer callback)\n");

	/* Outside the loop a check fails at once, still saying what. */
	has(&d, d.err, "2 + 2 is 4; expected == 5\n");
	/* A failure nobody reported fails the test in its teardown. */
	has(&d, d.err, "the test did not report it: ");
	has(&d, d.err, "!\"seen by the teardown\": does not hold");
}

static int values_main(void *arg)
{
	const char *long_text = "0123456789";
	uint64_t never = HZ_DEADLINE_NEVER;
	int minus = -HZ_EIO;

	(void)arg;
	/* These hold: every integer type compares by value. */
	HARNESS_CHECK_EQ(never, UINT64_MAX);
	HARNESS_CHECK_LT(minus, never);
	HARNESS_CHECK_GT((uint8_t)200, (int8_t)-1);
	HARNESS_CHECK_NE(minus, (unsigned)minus);
	HARNESS_CHECK_GE(sizeof(long), 4);
	HARNESS_CHECK_STR_EQ(NULL, NULL);
	HARNESS_CHECK_STR_HAS(long_text, "345");
	HARNESS_CHECK_MEM_EQ(long_text, "0123", 4);
	return harness_fiber_failure() == NULL ? 0 : -1;
}

static void checks_compare_values_exactly(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(values_main, NULL), 0);
	/* A check's result says whether it held. */
	assert_true(HARNESS_CHECK(1 == 1));
	assert_true(HARNESS_CHECK_EQ(-1, -1));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(failures_stay_in_their_test),
	    HARNESS_TEST(checks_compare_values_exactly),
	};

	if (argc == 2 && strcmp(argv[1], "--demo") == 0)
		return run_demo();
	return HARNESS_RUN("harness", tests);
}
