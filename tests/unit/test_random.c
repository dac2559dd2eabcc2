/*
 * The core's RANDOM seam (haze/random.h): with no source an image gets
 * -HZ_ENOTSUP, never bytes; with one, every call reaches it; bounded draws
 * reject the biased slice; events reach a source that takes them and are
 * dropped otherwise. A fake source stands in for entropy, so the core is
 * tested alone, as an image without entropy links it.
 */
#include "tests/unit/harness.h"

#include <string.h>

#include "haze/random.h"

struct fake {
	struct hz_random r; /* first: the interface */
	const uint32_t *draws;
	size_t ndraws, next;
	int error; /* returned by read when non-zero */
	unsigned reads, events;
	uint32_t last_id;
	uint64_t last_sample;
};

static int fake_read(struct hz_random *r, void *buf, size_t len)
{
	struct fake *f = (struct fake *)r;
	uint8_t *p = buf;

	f->reads++;
	if (f->error != 0)
		return f->error;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = f->draws[f->next++ % f->ndraws];

		memcpy(p + i, &v, len - i < 4 ? len - i : 4);
	}
	return 0;
}

static void fake_event(struct hz_random *r, uint32_t id, uint64_t sample)
{
	struct fake *f = (struct fake *)r;

	f->events++;
	f->last_id = id;
	f->last_sample = sample;
}

static const struct hz_random_ops fake_ops = {
    .read = fake_read,
    .event = fake_event,
};
static const struct hz_random_ops fake_ops_no_events = {
    .read = fake_read,
};

static void no_source_gives_no_bytes(void **state)
{
	uint8_t buf[8] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
	uint32_t v = 7;

	(void)state;
	hz_random_use(NULL);
	assert_null(hz_random_current());
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), -HZ_ENOTSUP);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(hz_random_below(10, &v), -HZ_ENOTSUP);
	assert_int_equal(v, 7);
	hz_random_event(HZ_RANDOM_EV_LOOP, 1); /* dropped, not a crash */
}

static void calls_reach_the_source_in_use(void **state)
{
	static const uint32_t draws[] = {0x01020304u};
	struct fake f = {{&fake_ops}, draws, 1, 0, 0, 0, 0, 0, 0};
	uint8_t buf[6];
	uint32_t want = 0x01020304u;

	(void)state;
	hz_random_use(&f.r);
	assert_ptr_equal(hz_random_current(), &f.r);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), 0);
	assert_memory_equal(buf, &want, 4);
	assert_int_equal(f.reads, 1);
	hz_random_event(HZ_RANDOM_EV_NET, 99);
	assert_int_equal(f.events, 1);
	assert_int_equal(f.last_id, HZ_RANDOM_EV_NET);
	assert_int_equal(f.last_sample, 99);
	/* Unseeded: its error, never bytes. */
	f.error = -HZ_EAGAIN;
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), -HZ_EAGAIN);
	hz_random_use(NULL);
}

static void events_skip_a_source_that_takes_none(void **state)
{
	static const uint32_t draws[] = {1};
	struct fake f = {{&fake_ops_no_events}, draws, 1, 0, 0, 0, 0, 0, 0};

	(void)state;
	hz_random_use(&f.r);
	hz_random_event(HZ_RANDOM_EV_LOOP, 1);
	assert_int_equal(f.events, 0);
	hz_random_use(NULL);
}

/* 2^32 mod 10 = 6: draws 0..5 are the biased slice and are drawn again. */
static void below_draws_again_in_the_biased_slice(void **state)
{
	static const uint32_t draws[] = {0, 5, 6, 0xffffffffu};
	struct fake f = {{&fake_ops}, draws, 4, 0, 0, 0, 0, 0, 0};
	uint32_t v = 99;

	(void)state;
	hz_random_use(&f.r);
	assert_int_equal(hz_random_below(0, &v), -HZ_EINVAL);
	assert_int_equal(f.reads, 0);
	assert_int_equal(hz_random_below(10, &v), 0);
	assert_int_equal(v, 6 % 10);
	assert_int_equal(f.reads, 3);
	assert_int_equal(hz_random_below(10, &v), 0);
	assert_int_equal(v, 0xffffffffu % 10);
	assert_false(hz_random_reduce(5, 10, &v));
	assert_true(hz_random_reduce(6, 10, &v));
	hz_random_use(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(no_source_gives_no_bytes),
	    HARNESS_TEST(calls_reach_the_source_in_use),
	    HARNESS_TEST(events_skip_a_source_that_takes_none),
	    HARNESS_TEST(below_draws_again_in_the_biased_slice),
	};

	return HARNESS_RUN("random", tests);
}
