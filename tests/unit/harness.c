/* The unit-test harness: heap per test, leak check after (harness.h). */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/sched.h"

static void *heap;
static const char *fiber_failure;
static int fiber_failure_line;

int harness_setup(void **state)
{
	(void)state;
	if (heap == NULL) {
		heap = mmap(NULL, HARNESS_HEAP_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (heap == MAP_FAILED)
			return -1;
	}
	hz_mem_fail_nth(0);
	fiber_failure = NULL;
	return hz_mem_init((uintptr_t)heap, HARNESS_HEAP_SIZE) == 0 ? 0 : -1;
}

int harness_teardown(void **state)
{
	struct hz_mem_stats st;
	struct hz_sched_stats ss;

	(void)state;
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
		return -1;
	}
	return 0;
}

int harness_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

void harness_check(bool ok, const char *expr, int line)
{
	if (!ok && fiber_failure == NULL) {
		fiber_failure = expr;
		fiber_failure_line = line;
	}
}

const char *harness_fiber_failure(void)
{
	return fiber_failure;
}

int harness_run_fibers(int (*fn)(void *arg), void *arg)
{
	int r;

	fiber_failure = NULL;
	r = hz_sched_run(fn, arg);
	if (fiber_failure != NULL)
		fail_msg("in a fiber, line %d: %s", fiber_failure_line,
			 fiber_failure);
	return r;
}

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
