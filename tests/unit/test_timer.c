/* Timers: deadline order under randomized arming, re-arming and cancelling. */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "haze/sched.h"

#define NTIMERS 2000

struct probe {
	struct hz_timer t;
	int id;
};

static uint64_t fired_deadline[NTIMERS];
static int fired_id[NTIMERS];
static size_t nfired;

static void on_fire(struct hz_timer *t)
{
	struct probe *p = (struct probe *)t;

	fired_deadline[nfired] = t->deadline;
	fired_id[nfired++] = p->id;
}

static void fires_in_deadline_order(void **state)
{
	static struct probe p[NTIMERS];
	static bool cancelled[NTIMERS];
	size_t expect = 0;

	(void)state;
	srand(42);
	nfired = 0;
	for (int i = 0; i < NTIMERS; i++) {
		p[i].id = i;
		cancelled[i] = false;
		hz_timer_init(&p[i].t, on_fire);
		hz_timer_arm(&p[i].t, 1000 + (uint64_t)(rand() % 500));
	}
	/* Cancel a third, re-arm a third (some to the past, some later). */
	for (int i = 0; i < NTIMERS; i++) {
		int r = rand() % 3;

		if (r == 0) {
			hz_timer_cancel(&p[i].t);
			cancelled[i] = true;
		} else if (r == 1) {
			hz_timer_arm(&p[i].t, 900 + (uint64_t)(rand() % 700));
		}
	}
	for (int i = 0; i < NTIMERS; i++)
		expect += !cancelled[i];
	assert_true(hz_timers_next() >= 900);
	assert_int_equal(hz_timers_run(899), 0);
	assert_int_equal(hz_timers_run(2000), expect);
	assert_int_equal(nfired, expect);
	for (size_t i = 1; i < nfired; i++)
		assert_true(fired_deadline[i - 1] <= fired_deadline[i]);
	for (size_t i = 0; i < nfired; i++) {
		assert_false(cancelled[fired_id[i]]);
		assert_false(hz_timer_armed(&p[fired_id[i]].t));
	}
	assert_int_equal(hz_timers_next(), HZ_DEADLINE_NEVER);
}

static void runs_only_what_is_due(void **state)
{
	struct probe a = {.id = 1}, b = {.id = 2};

	(void)state;
	nfired = 0;
	hz_timer_init(&a.t, on_fire);
	hz_timer_init(&b.t, on_fire);
	hz_timer_arm(&a.t, 50);
	hz_timer_arm(&b.t, 10);
	assert_int_equal(hz_timers_next(), 10);
	assert_int_equal(hz_timers_run(20), 1);
	assert_int_equal(fired_id[0], 2);
	assert_true(hz_timer_armed(&a.t));
	hz_timer_cancel(&a.t);
	hz_timer_cancel(&a.t); /* twice is harmless */
	assert_int_equal(hz_timers_run(100), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(fires_in_deadline_order),
	    HARNESS_TEST(runs_only_what_is_due),
	};

	return HARNESS_RUN("timer", tests);
}
