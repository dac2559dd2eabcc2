/*
 * Timers: deadline order under randomized arming, re-arming and cancelling,
 * checked step by step against a reference model, for several seeds.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "haze/sched.h"

#define NTIMERS 400
#define NSTEPS 6000

struct probe {
	struct hz_timer t;
	int id;
};

static int fired_id[NTIMERS];
static size_t nfired;

static void on_fire(struct hz_timer *t)
{
	struct probe *p = (struct probe *)t;

	fired_id[nfired++] = p->id;
}

/*
 * The reference model: what hz_timer promises. Each armed timer has a
 * deadline and an arming order (re-arming counts as arming anew); a run at
 * @now fires the earliest (deadline, order) while it is due and was armed
 * before the run began, so timers armed by callbacks wait for the next run.
 */
static struct model {
	struct probe p[NTIMERS];
	bool armed[NTIMERS];
	uint64_t deadline[NTIMERS];
	uint64_t order[NTIMERS];
	uint64_t next_order; /* order of the next arm */
	uint64_t run_limit;  /* orders below this may fire in this run */
	uint64_t now;
	uint64_t rng;
	size_t fired; /* in this run */
	int bad;      /* id fired out of model order, or -1 */
} m;

static uint32_t rnd(uint32_t n)
{
	m.rng ^= m.rng << 13;
	m.rng ^= m.rng >> 7;
	m.rng ^= m.rng << 17;
	return (uint32_t)(m.rng % n);
}

static void model_arm(int i, uint64_t deadline)
{
	hz_timer_arm(&m.p[i].t, deadline);
	m.armed[i] = true;
	m.deadline[i] = deadline;
	m.order[i] = m.next_order++;
}

static void model_cancel(int i)
{
	hz_timer_cancel(&m.p[i].t);
	m.armed[i] = false;
}

/* Returns the timer the model fires next at m.now, or -1. */
static int model_next_due(void)
{
	int best = -1;

	for (int i = 0; i < NTIMERS; i++)
		if (m.armed[i] &&
		    (best < 0 || m.deadline[i] < m.deadline[best] ||
		     (m.deadline[i] == m.deadline[best] &&
		      m.order[i] < m.order[best])))
			best = i;
	if (best < 0 || m.deadline[best] > m.now ||
	    m.order[best] >= m.run_limit)
		return -1;
	return best;
}

static uint64_t model_earliest(void)
{
	uint64_t d = HZ_DEADLINE_NEVER;

	for (int i = 0; i < NTIMERS; i++)
		if (m.armed[i] && m.deadline[i] < d)
			d = m.deadline[i];
	return d;
}

/* A deadline from 100 in the past to 400 ahead, often a tie. */
static uint64_t random_deadline(void)
{
	return m.now - 100 + rnd(50) * 10;
}

/* Fires in lockstep with the model, then arms and cancels timers. */
static void on_fire_checked(struct hz_timer *t)
{
	int id = ((struct probe *)t)->id;

	if (id != model_next_due() && m.bad < 0)
		m.bad = id;
	m.armed[id] = false;
	m.fired++;
	if (hz_timer_armed(t) && m.bad < 0)
		m.bad = id;
	switch (rnd(8)) {
	case 0: /* re-arm itself, possibly in the past */
		model_arm(id, random_deadline());
		break;
	case 1: /* cancel another, armed or not, maybe due in this run */
		model_cancel((int)rnd(NTIMERS));
		break;
	case 2: /* arm or re-arm another */
		model_arm((int)rnd(NTIMERS), random_deadline());
		break;
	default:
		break;
	}
}

static void check_against_model(uint64_t seed)
{
	m = (struct model){.now = 1000, .rng = seed, .bad = -1};
	for (int i = 0; i < NTIMERS; i++) {
		m.p[i].id = i;
		hz_timer_init(&m.p[i].t, on_fire_checked);
	}
	for (int step = 0; step < NSTEPS; step++) {
		int i = (int)rnd(NTIMERS);
		size_t n;

		switch (rnd(4)) {
		case 0:
		case 1:
			model_arm(i, random_deadline());
			break;
		case 2:
			model_cancel(i);
			break;
		default: /* time passes, sometimes not at all */
			m.now += rnd(4) == 0 ? 0 : rnd(60);
			m.run_limit = m.next_order;
			m.fired = 0;
			n = hz_timers_run(m.now);
			if (m.bad >= 0)
				fail_msg("seed %llu step %d: timer %d fired "
					 "out of order",
					 (unsigned long long)seed, step, m.bad);
			assert_int_equal(n, m.fired);
			/* Nothing the model would still fire was left. */
			assert_int_equal(model_next_due(), -1);
			for (int j = 0; j < NTIMERS; j++)
				assert_int_equal(hz_timer_armed(&m.p[j].t),
						 m.armed[j]);
			break;
		}
		assert_int_equal(hz_timers_next(), model_earliest());
		assert_int_equal(hz_timer_armed(&m.p[i].t), m.armed[i]);
	}
	/* Drain: what is armed fires, in model order, until nothing is. */
	for (int run = 0; model_earliest() != HZ_DEADLINE_NEVER; run++) {
		size_t n;

		assert_true(run < 1000);
		m.now += 1000;
		m.run_limit = m.next_order;
		m.fired = 0;
		n = hz_timers_run(m.now);
		assert_int_equal(n, m.fired);
		assert_int_equal(m.bad, -1);
	}
	assert_int_equal(hz_timers_next(), HZ_DEADLINE_NEVER);
}

static void fires_like_the_model(void **state)
{
	uint64_t seeds[] = {1, 42, 0x9e3779b97f4a7c15ull, 20240601,
			    (uint64_t)time(NULL) | 1};

	(void)state;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		printf("# timer model seed %llu\n",
		       (unsigned long long)seeds[i]);
		check_against_model(seeds[i]);
	}
}

/* Equal deadlines fire in the order they were (last) armed. */
static void ties_fire_in_arming_order(void **state)
{
	static struct probe p[8];

	(void)state;
	nfired = 0;
	for (int i = 0; i < 8; i++) {
		p[i].id = i;
		hz_timer_init(&p[i].t, on_fire);
		hz_timer_arm(&p[i].t, 500);
	}
	hz_timer_arm(&p[2].t, 500); /* re-armed: now last among the ties */
	hz_timer_arm(&p[5].t, 499);
	assert_int_equal(hz_timers_run(500), 8);
	assert_int_equal(fired_id[0], 5);
	assert_int_equal(fired_id[1], 0);
	assert_int_equal(fired_id[2], 1);
	assert_int_equal(fired_id[3], 3);
	assert_int_equal(fired_id[7], 2);
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
	    HARNESS_TEST(fires_like_the_model),
	    HARNESS_TEST(ties_fire_in_arming_order),
	    HARNESS_TEST(runs_only_what_is_due),
	};

	return HARNESS_RUN("timer", tests);
}
