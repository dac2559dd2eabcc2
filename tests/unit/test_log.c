/*
 * Errors, logging and counters: error names and texts for every code,
 * hz_errmsg formatting and truncation, level specs accepted and rejected,
 * per-source levels, console output, and the counter registry.
 */
#include "tests/unit/harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "haze/error.h"
#include "haze/log.h"

/* --- error codes ---------------------------------------------------------- */

static void every_code_has_name_and_text(void **state)
{
	(void)state;
	for (int c = 0; c < HZ_ERROR_COUNT_; c++) {
		const char *name = hz_errname(c), *text = hz_strerror(c);

		assert_non_null(name);
		assert_non_null(text);
		assert_string_equal(hz_errname(-c), name);
		assert_string_equal(hz_strerror(-c), text);
		assert_true(strlen(text) > 0);
		assert_string_not_equal(text, "unknown error");
		if (c != HZ_OK)
			assert_int_equal(strncmp(name, "HZ_E", 4), 0);
		for (int d = 0; d < c; d++) {
			assert_string_not_equal(hz_errname(d), name);
			assert_string_not_equal(hz_strerror(d), text);
		}
	}
	assert_string_equal(hz_errname(HZ_OK), "HZ_OK");
	assert_string_equal(hz_errname(-HZ_ETIMEDOUT), "HZ_ETIMEDOUT");
	assert_string_equal(hz_errname(HZ_ECANCELED), "HZ_ECANCELED");
	assert_string_equal(hz_errname(-HZ_EAGAIN), "HZ_EAGAIN");
	assert_string_equal(hz_strerror(-HZ_ENOMEM), "out of memory");
}

static void unknown_codes_are_named_unknown(void **state)
{
	static const int unknown[] = {
	    HZ_ERROR_COUNT_, -HZ_ERROR_COUNT_, 1000, -1000, INT_MAX, -INT_MAX};

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_string_equal(hz_strerror(unknown[i]), "unknown error");
		assert_string_equal(hz_errname(unknown[i]), "HZ_E?");
	}
}

/*
 * INT_MIN is a code like any other to a caller; negating it is undefined.
 * Run in a child so a UBSan report fails this test, not the suite.
 */
static void int_min_is_unknown_without_overflow(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		volatile int code = INT_MIN;
		bool ok = strcmp(hz_strerror(code), "unknown error") == 0 &&
			  strcmp(hz_errname(code), "HZ_E?") == 0;

		_exit(ok ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- hz_errmsg ------------------------------------------------------------ */

static void errmsg_set_formats_and_returns_code(void **state)
{
	struct hz_errmsg m = {0};

	(void)state;
	assert_string_equal(hz_errmsg_text(&m), "no error");
	assert_int_equal(hz_errmsg_set(&m, -HZ_ECONNRESET, "TCP %s:%d: %s",
				       "10.0.0.2", 80, "reset"),
			 -HZ_ECONNRESET);
	assert_int_equal(m.code, -HZ_ECONNRESET);
	assert_string_equal(m.text, "TCP 10.0.0.2:80: reset");
	assert_string_equal(hz_errmsg_text(&m), "TCP 10.0.0.2:80: reset");

	/* No text: the code's description stands in. */
	assert_int_equal(hz_errmsg_set(&m, -HZ_EIO, "%s", ""), -HZ_EIO);
	assert_string_equal(hz_errmsg_text(&m), "I/O error");

	hz_errmsg_clear(&m);
	assert_int_equal(m.code, 0);
	assert_string_equal(m.text, "");
	assert_string_equal(hz_errmsg_text(&m), "no error");
}

struct guarded_errmsg {
	struct hz_errmsg m;
	unsigned char guard[64];
};

static void errmsg_truncates_long_messages(void **state)
{
	struct guarded_errmsg g;
	char longs[1000];

	(void)state;
	memset(&g, 0x77, sizeof(g));
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	longs[0] = 'A';
	assert_int_equal(hz_errmsg_set(&g.m, -HZ_EPROTO, "%s!", longs),
			 -HZ_EPROTO);
	assert_int_equal(strlen(g.m.text), HZ_ERRMSG_MAX - 1);
	assert_int_equal(g.m.text[0], 'A');
	assert_int_equal(g.m.text[HZ_ERRMSG_MAX - 2], 'x');
	for (size_t i = 0; i < sizeof(g.guard); i++)
		assert_int_equal(g.guard[i], 0x77);
	assert_ptr_equal(hz_errmsg_text(&g.m), g.m.text);
}

/* --- level specs ---------------------------------------------------------- */

static void configure_accepts_good_specs(void **state)
{
	static const char *const good[] = {
	    "debug", "tcp:debug,arp:warn", "warn,tcp:debug", "error", "info,",
	    "",
	};
	const char *why = "unset";

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why = "unset";
		if (hz_log_configure(good[i], &why) != 0)
			fail_msg("'%s' refused at '%s'", good[i],
				 why != NULL ? why : "(null)");
		assert_null(why);
	}
	assert_int_equal(hz_log_configure("info", &why), 0);
}

static void configure_rejects_bad_specs(void **state)
{
	static const struct {
		const char *spec;
		size_t bad_at;
	} bad[] = {
	    {"loud", 0},
	    {"tcp:", 0},
	    {":debug", 0},
	    {"tcp:loud", 0},
	    {"info,loud", 5},
	    {"tcp:debug,arp:", 10},
	    {"tcp:debug,:warn", 10},
	    {",debug", 0},
	    {"DEBUG", 0},
	    {"debugx", 0},
	    {"tcp:debu", 0},
	    {"a_source_name_far_too_long_to_keep:debug", 0},
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (hz_log_configure(bad[i].spec, &why) != -HZ_EINVAL)
			fail_msg("'%s' accepted", bad[i].spec);
		/* why points into the spec, at the offending part. */
		assert_ptr_equal(why, bad[i].spec + bad[i].bad_at);
	}
	assert_int_equal(hz_log_configure("info", &why), 0);
}

static HZ_LOG_SOURCE(src_early, "lt_early");
static HZ_LOG_SOURCE(src_late, "lt_late");
static HZ_LOG_SOURCE(src_plain, "lt_plain");

static void levels_apply_before_and_after_configure(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(hz_log_configure("info", &why), 0);
	/* Registered (first used) before the spec names it. */
	assert_true(hz_log_enabled(&src_early, HZ_LOG_INFO));
	assert_false(hz_log_enabled(&src_early, HZ_LOG_DEBUG));

	assert_int_equal(hz_log_configure("lt_early:debug,lt_late:error", &why),
			 0);
	assert_true(hz_log_enabled(&src_early, HZ_LOG_DEBUG));
	/* First used after. */
	assert_true(hz_log_enabled(&src_late, HZ_LOG_ERROR));
	assert_false(hz_log_enabled(&src_late, HZ_LOG_WARN));
	/* Sources the spec does not name follow the default. */
	assert_true(hz_log_enabled(&src_plain, HZ_LOG_INFO));
	assert_false(hz_log_enabled(&src_plain, HZ_LOG_DEBUG));

	assert_int_equal(hz_log_configure("warn", &why), 0);
	assert_false(hz_log_enabled(&src_plain, HZ_LOG_INFO));
	assert_true(hz_log_enabled(&src_plain, HZ_LOG_WARN));
	assert_true(hz_log_enabled(&src_early, HZ_LOG_DEBUG));

	/* A later spec for a source overrides the earlier one. */
	assert_int_equal(hz_log_configure("debug,lt_early:error", &why), 0);
	assert_false(hz_log_enabled(&src_early, HZ_LOG_WARN));
	assert_true(hz_log_enabled(&src_plain, HZ_LOG_DEBUG));
	assert_int_equal(hz_log_configure("info", &why), 0);
}

static HZ_LOG_SOURCE(src_out, "lt_out");
static int evaluated;

static int side_effect(void)
{
	return ++evaluated;
}

static void log_writes_enabled_messages_only(void **state)
{
	struct harness_capture cap;
	char out[2048];
	const char *why;
	size_t n;

	(void)state;
	assert_int_equal(hz_log_configure("lt_out:info", &why), 0);
	evaluated = 0;
	harness_capture_begin(&cap);
	HZ_INFO(&src_out, "hello %d", 42);
	HZ_WARN(&src_out, "careful");
	HZ_DEBUG(&src_out, "hidden %d", side_effect());
	hz_printf("plain %s\n", "text");
	n = harness_capture_end(&cap, out, sizeof(out));
	/* A message below the level is not even formatted. */
	assert_int_equal(evaluated, 0);
	assert_non_null(strstr(out, "lt_out: hello 42\n"));
	assert_non_null(strstr(out, "warn lt_out: careful\n"));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "\nplain text\n"));
	assert_int_equal(out[0], '[');
	assert_int_equal(out[n - 1], '\n');
}

static void log_truncates_long_lines(void **state)
{
	static char longs[3000];
	struct harness_capture cap;
	char out[4096];
	size_t n;

	(void)state;
	memset(longs, 'y', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	harness_capture_begin(&cap);
	HZ_ERROR(&src_out, "%s", longs);
	n = harness_capture_end(&cap, out, sizeof(out));
	assert_true(n > 400 && n < 1024);
	assert_int_equal(out[n - 1], '\n');
	assert_memory_equal(out + n - 4, "...\n", 4);
	assert_null(memchr(out, '\0', n));

	harness_capture_begin(&cap);
	hz_printf("%s", longs);
	n = harness_capture_end(&cap, out, sizeof(out));
	assert_true(n > 400 && n < 1024);
	assert_int_equal(out[0], 'y');
	assert_int_equal(out[n - 1], 'y');
}

/* --- counters ------------------------------------------------------------- */

static HZ_COUNTER(c_zero, "lt", "zero");
static HZ_COUNTER(c_one, "lt", "one");
static HZ_COUNTER(c_two, "lt", "two");
static HZ_COUNTER(c_three, "lt", "three");

struct seen {
	const struct hz_counter *c[16];
	int n;
};

static void collect(const struct hz_counter *c, void *arg)
{
	struct seen *s = arg;

	if (strcmp(c->source, "lt") == 0 && s->n < 16)
		s->c[s->n++] = c;
}

static void counters_register_once_in_order(void **state)
{
	struct seen s = {0};
	struct harness_capture cap;
	char out[4096];

	(void)state;
	/* Nothing is registered until first touched. */
	assert_null(hz_counter_find("lt", "two"));
	assert_false(c_two.registered);
	hz_counter_inc(&c_two);
	hz_counter_inc(&c_one);
	hz_counter_register(&c_zero);
	hz_counter_add(&c_three, 5);
	hz_counter_inc(&c_two);
	/* Registering again changes nothing. */
	hz_counter_register(&c_one);
	hz_counter_register(&c_two);

	assert_ptr_equal(hz_counter_find("lt", "one"), &c_one);
	assert_ptr_equal(hz_counter_find("lt", "two"), &c_two);
	assert_ptr_equal(hz_counter_find("lt", "zero"), &c_zero);
	assert_null(hz_counter_find("lt", "four"));
	assert_null(hz_counter_find("other", "one"));
	assert_int_equal(c_two.value, 2);
	assert_int_equal(c_three.value, 5);

	hz_counters_foreach(collect, &s);
	assert_int_equal(s.n, 4);
	assert_ptr_equal(s.c[0], &c_two);
	assert_ptr_equal(s.c[1], &c_one);
	assert_ptr_equal(s.c[2], &c_zero);
	assert_ptr_equal(s.c[3], &c_three);

	/* The dump lists the counters that moved. */
	harness_capture_begin(&cap);
	hz_counters_dump();
	harness_capture_end(&cap, out, sizeof(out));
	assert_non_null(strstr(out, "lt.two 2\n"));
	assert_non_null(strstr(out, "lt.one 1\n"));
	assert_non_null(strstr(out, "lt.three 5\n"));
	assert_null(strstr(out, "lt.zero"));
}

/* --- spec state ----------------------------------------------------------- */

static HZ_LOG_SOURCE(src_atomic, "lt_atomic");
static HZ_LOG_SOURCE(src_atomic2, "lt_atomic2");
static HZ_LOG_SOURCE(src_atomic3, "lt_atomic3");

static void rejected_spec_changes_nothing(void **state)
{
	bool early_debug, late_debug, named_debug;
	const char *why;

	(void)state;
	assert_int_equal(hz_log_configure("info", &why), 0);
	assert_false(hz_log_enabled(&src_atomic, HZ_LOG_DEBUG));
	/* The good parts before the bad one must not be half applied. */
	assert_int_equal(hz_log_configure("debug,loud", &why), -HZ_EINVAL);
	assert_int_equal(hz_log_configure("lt_atomic2:debug,loud", &why),
			 -HZ_EINVAL);
	early_debug = hz_log_enabled(&src_atomic, HZ_LOG_DEBUG);
	late_debug = hz_log_enabled(&src_atomic3, HZ_LOG_DEBUG);
	named_debug = hz_log_enabled(&src_atomic2, HZ_LOG_DEBUG);
	assert_int_equal(hz_log_configure("info", &why), 0);
	assert_false(early_debug);
	assert_false(late_debug);
	assert_false(named_debug);
}

static void configure_can_be_repeated(void **state)
{
	const char *why = NULL;

	(void)state;
	/* Each call applies its spec; earlier calls must not use up room. */
	for (int i = 0; i < 40; i++)
		if (hz_log_configure("lt_repeat:debug", &why) != 0)
			fail_msg("call %d refused at '%s'", i + 1, why);
	assert_int_equal(hz_log_configure("info", &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(every_code_has_name_and_text),
	    HARNESS_TEST(unknown_codes_are_named_unknown),
	    HARNESS_TEST(int_min_is_unknown_without_overflow),
	    HARNESS_TEST(errmsg_set_formats_and_returns_code),
	    HARNESS_TEST(errmsg_truncates_long_messages),
	    HARNESS_TEST(configure_accepts_good_specs),
	    HARNESS_TEST(configure_rejects_bad_specs),
	    HARNESS_TEST(levels_apply_before_and_after_configure),
	    HARNESS_TEST(log_writes_enabled_messages_only),
	    HARNESS_TEST(log_truncates_long_lines),
	    HARNESS_TEST(counters_register_once_in_order),
	    HARNESS_TEST(rejected_spec_changes_nothing),
	    HARNESS_TEST(configure_can_be_repeated),
	};

	return HARNESS_RUN("log", tests);
}
