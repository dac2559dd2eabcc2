/*
 * The unit-test harness (harness.h): a heap per test and a leak check
 * after it; checks that record a failure inside the event loop, where a
 * cmocka failure would jump off a fiber's stack, and fail the test once
 * the loop has returned; and the guard that keeps cmocka's own assertions
 * out of the loop.
 */
#include "tests/unit/harness.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "haze/log.h"
#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/sched.h"

/* Failures printed as they happen, per test; later ones are counted. */
#define SHOWN_MAX 10

static void *heap;
static bool loop_running; /* inside harness_run_fibers' hz_sched_run */
static char broken[256];  /* why no later test can run, or "" */

/* The failures the loop recorded in this test. */
static struct {
	unsigned count;
	bool reported; /* harness_run_fibers failed the test with them */
	const char *file;
	int line;
	char first[1024];
} failed;

/* --- where a check runs --------------------------------------------------- */

/* Whether code runs inside the event loop: in a fiber, or a callback. */
static bool in_loop(void)
{
	return loop_running || strcmp(hz_fiber_name(), "loop") != 0;
}

/* Records a failure inside the loop, printing the first few at once (a
 * test that then hangs or crashes has still said what went wrong). */
static void record(const char *file, int line, const char *msg)
{
	const char *name = hz_fiber_name();
	char where[96];

	if (strcmp(name, "loop") == 0)
		snprintf(where, sizeof(where), "in a callback of the loop");
	else
		snprintf(where, sizeof(where), "in fiber \"%s\"", name);
	if (++failed.count == 1) {
		failed.file = file;
		failed.line = line;
		snprintf(failed.first, sizeof(failed.first), "%s:%d: %s: %s",
			 file, line, where, msg);
	}
	if (failed.count <= SHOWN_MAX)
		fprintf(stderr, "harness: %s:%d: %s: %s\n", file, line, where,
			msg);
	else if (failed.count == SHOWN_MAX + 1)
		fprintf(stderr, "harness: later failures of this test are "
				"counted, not shown\n");
}

/* A failed check: recorded inside the loop, failing the test outside. */
static void report(const char *file, int line, const char *msg)
{
	if (in_loop()) {
		record(file, line, msg);
		return;
	}
	print_error("%s:%d: %s\n", file, line, msg);
	_fail(file, line);
}

/* --- the checks ----------------------------------------------------------- */

/* @v in decimal, and in hex too when that is not the same digits. */
static const char *int_text(harness_int v, char *buf, size_t size)
{
	if (v >= -9 && v <= 9)
		snprintf(buf, size, "%lld", (long long)v);
	else if (v < 0 && v >= LLONG_MIN)
		snprintf(buf, size, "%lld", (long long)v);
	else if (v > 0 && v <= ULLONG_MAX)
		snprintf(buf, size, "%llu (%#llx)", (unsigned long long)v,
			 (unsigned long long)v);
	else
		snprintf(buf, size, "(beyond 64 bits)");
	return buf;
}

bool harness_check(bool ok, const char *expr, const char *file, int line)
{
	char msg[512];

	if (!ok) {
		snprintf(msg, sizeof(msg), "%s: does not hold", expr);
		report(file, line, msg);
	}
	return ok;
}

bool harness_check_int(harness_int a, enum harness_op op, harness_int b,
		       const char *a_expr, const char *b_expr, const char *file,
		       int line)
{
	static const char *const op_text[] = {"==", "!=", "<", "<=", ">", ">="};
	char msg[768], at[64], bt[64], bare[32];
	bool ok = false;

	switch (op) {
	case HARNESS_EQ:
		ok = a == b;
		break;
	case HARNESS_NE:
		ok = a != b;
		break;
	case HARNESS_LT:
		ok = a < b;
		break;
	case HARNESS_LE:
		ok = a <= b;
		break;
	case HARNESS_GT:
		ok = a > b;
		break;
	case HARNESS_GE:
		ok = a >= b;
		break;
	}
	if (ok)
		return true;
	int_text(a, at, sizeof(at));
	int_text(b, bt, sizeof(bt));
	/* "expected == 1001", not "== 1001, which is 1001". */
	snprintf(bare, sizeof(bare), "%lld", (long long)b);
	if (strcmp(b_expr, bare) == 0)
		snprintf(msg, sizeof(msg), "%s is %s; expected %s %s", a_expr,
			 at, op_text[op], b_expr);
	else
		snprintf(msg, sizeof(msg),
			 "%s is %s; expected %s %s, which is %s", a_expr, at,
			 op_text[op], b_expr, bt);
	report(file, line, msg);
	return false;
}

/* @s quoted, escaped and cut short enough for one line. */
static const char *str_text(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	if (s == NULL) {
		snprintf(buf, size, "NULL");
		return buf;
	}
	buf[n++] = '"';
	for (; *s != '\0' && n + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n')
			n += (size_t)snprintf(buf + n, size - n, "\\n");
		else if (c == '"' || c == '\\')
			n += (size_t)snprintf(buf + n, size - n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	snprintf(buf + n, size - n, *s != '\0' ? "\"..." : "\"");
	return buf;
}

bool harness_check_str(const char *a, const char *b, const char *a_expr,
		       const char *b_expr, const char *file, int line)
{
	char msg[768], at[200], bt[200];

	if (a == b || (a != NULL && b != NULL && strcmp(a, b) == 0))
		return true;
	str_text(a, at, sizeof(at));
	str_text(b, bt, sizeof(bt));
	if (b_expr[0] == '"')
		snprintf(msg, sizeof(msg), "%s is %s; expected %s", a_expr, at,
			 bt);
	else
		snprintf(msg, sizeof(msg), "%s is %s; expected %s, which is %s",
			 a_expr, at, b_expr, bt);
	report(file, line, msg);
	return false;
}

bool harness_check_has(const char *s, const char *part, const char *s_expr,
		       const char *file, int line)
{
	char msg[768], st[300], pt[200];

	if (s != NULL && part != NULL && strstr(s, part) != NULL)
		return true;
	snprintf(msg, sizeof(msg), "%s is %s; expected it to contain %s",
		 s_expr, str_text(s, st, sizeof(st)),
		 str_text(part, pt, sizeof(pt)));
	report(file, line, msg);
	return false;
}

/* Up to 8 bytes of @p from @off, in hex. */
static const char *bytes_text(const uint8_t *p, size_t off, size_t n, char *buf,
			      size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = off; i < n && i < off + 8; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%02x",
					i > off ? " " : "", p[i]);
	if (off + 8 < n)
		snprintf(buf + len, size - len, " ...");
	return buf;
}

bool harness_check_mem(const void *a, const void *b, size_t n,
		       const char *a_expr, const char *b_expr, const char *file,
		       int line)
{
	const uint8_t *pa = a, *pb = b;
	char msg[768], at[40], bt[40];
	size_t i = 0;

	if (n == 0 || a == b)
		return true;
	if (a == NULL || b == NULL) {
		snprintf(msg, sizeof(msg), "%s (%s) or %s (%s) is NULL", a_expr,
			 a == NULL ? "NULL" : "set", b_expr,
			 b == NULL ? "NULL" : "set");
		report(file, line, msg);
		return false;
	}
	while (i < n && pa[i] == pb[i])
		i++;
	if (i == n)
		return true;
	snprintf(msg, sizeof(msg),
		 "%s and %s differ from byte %zu of %zu: %s; expected %s",
		 a_expr, b_expr, i, n, bytes_text(pa, i, n, at, sizeof(at)),
		 bytes_text(pb, i, n, bt, sizeof(bt)));
	report(file, line, msg);
	return false;
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(file, line, msg);
}

const char *harness_fiber_failure(void)
{
	return failed.count > 0 ? failed.first : NULL;
}

/* --- cmocka's assertions inside the loop ---------------------------------- */

/* Records the use of cmocka's @what inside the loop; @how says how it
 * failed, or is NULL if it held (it is refused all the same: whether it
 * would fail is chance, and the next failure would wreck the binary). */
static void cmocka_inside(const char *what, const char *file, int line,
			  const char *how)
{
	char msg[768];

	snprintf(msg, sizeof(msg),
		 "cmocka %s inside the event loop, where a failure would "
		 "longjmp off the fiber's stack: use HARNESS_CHECK*%s%s%s",
		 what, how != NULL ? " (and it failed: " : "",
		 how != NULL ? how : "", how != NULL ? ")" : "");
	record(file, line, msg);
}

void harness_cm_true(LargestIntegralType result, const char *name,
		     const char *expr, const char *file, int line)
{
	char what[256];

	if (!in_loop()) {
		_assert_true(result, expr, file, line);
		return;
	}
	snprintf(what, sizeof(what), "%s(%s)", name, expr);
	cmocka_inside(what, file, line, result ? NULL : "false");
}

void harness_cm_int(bool equal, LargestIntegralType a, LargestIntegralType b,
		    const char *name, const char *file, int line)
{
	char how[128];

	if (!in_loop()) {
		if (equal)
			_assert_int_equal(a, b, file, line);
		else
			_assert_int_not_equal(a, b, file, line);
		return;
	}
	snprintf(how, sizeof(how), "%lld %s %lld", (long long)a,
		 equal ? "!=" : "==", (long long)b);
	cmocka_inside(name, file, line, (a == b) == equal ? NULL : how);
}

void harness_cm_str(bool equal, const char *a, const char *b, const char *file,
		    int line)
{
	char how[420], at[200], bt[200];
	bool same = a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);

	if (!in_loop()) {
		if (equal)
			_assert_string_equal(a, b, file, line);
		else
			_assert_string_not_equal(a, b, file, line);
		return;
	}
	snprintf(how, sizeof(how), "%s %s %s", str_text(a, at, sizeof(at)),
		 equal ? "!=" : "==", str_text(b, bt, sizeof(bt)));
	cmocka_inside(equal ? "assert_string_equal" : "assert_string_not_equal",
		      file, line, same == equal ? NULL : how);
}

void harness_cm_mem(bool equal, const void *a, const void *b, size_t size,
		    const char *file, int line)
{
	bool same = size == 0 || a == b ||
		    (a != NULL && b != NULL && memcmp(a, b, size) == 0);

	if (!in_loop()) {
		if (equal)
			_assert_memory_equal(a, b, size, file, line);
		else
			_assert_memory_not_equal(a, b, size, file, line);
		return;
	}
	cmocka_inside(equal ? "assert_memory_equal" : "assert_memory_not_equal",
		      file, line,
		      same == equal ? NULL : "the bytes compare the other way");
}

void harness_cm_rc(LargestIntegralType rc, size_t size,
		   LargestIntegralType error, const char *expr,
		   const char *file, int line)
{
	char what[256];

	if (!in_loop()) {
		_assert_return_code(rc, size, error, expr, file, line);
		return;
	}
	snprintf(what, sizeof(what), "assert_return_code(%s)", expr);
	cmocka_inside(what, file, line, NULL);
}

void harness_cm_range(bool in, LargestIntegralType value,
		      LargestIntegralType min, LargestIntegralType max,
		      const char *file, int line)
{
	bool inside = value >= min && value <= max;

	if (!in_loop()) {
		if (in)
			_assert_in_range(value, min, max, file, line);
		else
			_assert_not_in_range(value, min, max, file, line);
		return;
	}
	cmocka_inside(in ? "assert_in_range" : "assert_not_in_range", file,
		      line, inside == in ? NULL : "out of range");
}

void harness_cm_set(bool in, LargestIntegralType value,
		    const LargestIntegralType values[], size_t n,
		    const char *file, int line)
{
	if (!in_loop()) {
		if (in)
			_assert_in_set(value, values, n, file, line);
		else
			_assert_not_in_set(value, values, n, file, line);
		return;
	}
	cmocka_inside(in ? "assert_in_set" : "assert_not_in_set", file, line,
		      NULL);
}

void harness_cm_float(bool equal, float a, float b, float epsilon,
		      const char *file, int line)
{
	if (!in_loop()) {
		if (equal)
			_assert_float_equal(a, b, epsilon, file, line);
		else
			_assert_float_not_equal(a, b, epsilon, file, line);
		return;
	}
	cmocka_inside(equal ? "assert_float_equal" : "assert_float_not_equal",
		      file, line, NULL);
}

void harness_cm_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!in_loop()) {
		if (msg[0] != '\0')
			print_error("ERROR: %s\n", msg);
		_fail(file, line);
		return;
	}
	cmocka_inside(msg[0] != '\0' ? "fail_msg" : "fail()", file, line,
		      msg[0] != '\0' ? msg : "fail()");
}

void harness_cm_skip(const char *file, int line)
{
	if (!in_loop()) {
		_skip(file, line);
		return;
	}
	cmocka_inside("skip()", file, line, "a test cannot skip from there");
}

/* --- around each test ----------------------------------------------------- */

/* Whether the loop is left in a state no later test can run in; says why
 * in @broken. Heap, fibers and timers outlive a test that leaks them. */
static bool loop_unusable(void)
{
	if (broken[0] != '\0')
		return true;
	if (loop_running || strcmp(hz_fiber_name(), "loop") != 0)
		snprintf(broken, sizeof(broken),
			 "a test left the event loop by a jump (fiber \"%s\" "
			 "still current): no later test can run the loop",
			 hz_fiber_name());
	else if (hz_timers_next() != HZ_DEADLINE_NEVER)
		snprintf(broken, sizeof(broken),
			 "a test left timers armed in objects of its heap, "
			 "which the next test would reuse: no later test can "
			 "run safely");
	return broken[0] != '\0';
}

int harness_setup(void **state)
{
	(void)state;
	if (loop_unusable()) {
		print_error("%s\n", broken);
		return -1;
	}
	if (heap == NULL) {
		heap = mmap(NULL, HARNESS_HEAP_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (heap == MAP_FAILED)
			return -1;
	}
	hz_mem_fail_nth(0);
	memset(&failed, 0, sizeof(failed));
	return hz_mem_init((uintptr_t)heap, HARNESS_HEAP_SIZE) == 0 ? 0 : -1;
}

int harness_teardown(void **state)
{
	struct hz_mem_stats st;
	struct hz_sched_stats ss;
	int r = 0;

	(void)state;
	if (failed.count > 0 && !failed.reported) {
		/* A test that ran hz_sched_run itself and did not look. */
		print_error("a check failed in the event loop and the test "
			    "did not report it: %s\n",
			    failed.first);
		r = -1;
	}
	if (loop_unusable()) {
		print_error("%s\n", broken);
		return -1;
	}
	hz_mem_fail_nth(0);
	hz_mem_stats(&st);
	hz_sched_stats(&ss);
	if (hz_pbuf_live() != 0 || st.live_objects != 0 ||
	    st.free_pages != st.heap_pages || ss.fibers != 0 ||
	    hz_timers_next() != HZ_DEADLINE_NEVER) {
		print_error(
		    "leak: %zu pbufs, %zu objects, %zu of %zu pages, "
		    "%zu fibers, timers %s\n",
		    hz_pbuf_live(), st.live_objects,
		    st.heap_pages - st.free_pages, st.heap_pages, ss.fibers,
		    hz_timers_next() != HZ_DEADLINE_NEVER ? "armed" : "none");
		r = -1;
	}
	return r;
}

static pid_t tap_filter_pid;

/* Ends the filter: what the tests printed is flushed to it first. */
static void tap_filter_end(void)
{
	fflush(stdout);
	close(1);
	while (waitpid(tap_filter_pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * cmocka 1.1 reports a skipped test as "not ok N # SKIP name", which TAP
 * and tests/run read as a failure: the test's output goes through a
 * filter process that makes that line "ok N # SKIP name" and passes
 * every other line as it is. Without a pipe or a process the output is
 * left alone (a skip then shows as a failure, never the reverse).
 */
static void tap_filter(void)
{
	char line[4096];
	int p[2];
	FILE *in;

	if (tap_filter_pid != 0 || pipe(p) < 0)
		return;
	fflush(stdout);
	tap_filter_pid = fork();
	if (tap_filter_pid < 0) {
		tap_filter_pid = 0;
		close(p[0]);
		close(p[1]);
		return;
	}
	if (tap_filter_pid > 0) {
		close(p[0]);
		dup2(p[1], 1);
		close(p[1]);
		atexit(tap_filter_end);
		return;
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		unsigned num;
		int end = 0;

		if (sscanf(line, "not ok %u # SKIP%n", &num, &end) == 1 &&
		    end > 0)
			fputs(line + strlen("not "), stdout);
		else
			fputs(line, stdout);
		fflush(stdout);
	}
	_exit(0);
}

int harness_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	tap_filter();
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

int harness_run_fibers(int (*fn)(void *arg), void *arg)
{
	int r;

	loop_running = true;
	r = hz_sched_run(fn, arg);
	loop_running = false;
	if (failed.count > 0 && !failed.reported) {
		failed.reported = true;
		print_error("%u check%s failed in the event loop; the first: "
			    "%s\n",
			    failed.count, failed.count == 1 ? "" : "s",
			    failed.first);
		_fail(failed.file, failed.line);
	}
	return r;
}

/* --- capturing stdout ----------------------------------------------------- */

void harness_capture_begin(struct harness_capture *c)
{
	fflush(stdout);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved = dup(STDOUT_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->file), STDOUT_FILENO) >= 0);
}

size_t harness_capture_end(struct harness_capture *c, char *buf, size_t size)
{
	size_t n;

	fflush(stdout);
	assert_true(dup2(c->saved, STDOUT_FILENO) >= 0);
	close(c->saved);
	rewind(c->file);
	n = fread(buf, 1, size - 1, c->file);
	buf[n] = '\0';
	fclose(c->file);
	return n;
}

uint64_t harness_counter(const char *source, const char *name)
{
	struct hz_counter *c = hz_counter_find(source, name);

	return c != NULL ? c->value : 0;
}

size_t harness_unhex(const char *hex, void *out)
{
	unsigned char *p = out;
	size_t n = 0;

	assert_int_equal(strlen(hex) % 2, 0);
	for (; hex[0] != '\0'; hex += 2) {
		unsigned v;

		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		p[n++] = (unsigned char)v;
	}
	return n;
}
