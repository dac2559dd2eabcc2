/*
 * Entropy: the health tests' cutoffs and verdicts, the engine over fake
 * sources (stuck, biased, absent, broken, silent), the built-in sources of
 * this machine, random bytes and unbiased bounded draws.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "entropy/entropy_int.h"
#include "haze/entropy.h"
#include "haze/platform.h"

/* --- fake sources -------------------------------------------------------- */

/* What a fake source does; xorshift stands in for noise. */
struct fake {
	enum {
		FAKE_GOOD,
		FAKE_STUCK,
		FAKE_BIASED,
		FAKE_SILENT,
		FAKE_BROKEN,
		FAKE_PREEMPTED, /* good, but the first sample takes 600 ms */
	} kind;
	uint64_t x;
	uint64_t n; /* samples given */
};

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int fake_probe(void *ctx)
{
	(void)ctx;
	return 0;
}

static int absent_probe(void *ctx)
{
	(void)ctx;
	return -HZ_ENOTSUP;
}

static int fake_sample(void *ctx, uint64_t *out)
{
	struct fake *f = ctx;

	switch (f->kind) {
	case FAKE_GOOD:
		*out = xorshift(&f->x);
		break;
	case FAKE_STUCK:
		*out = 0x4242;
		break;
	case FAKE_BIASED:
		/* Three samples in four are one value, never 31 in a row. */
		*out = f->n % 4 != 3 ? 0x5555 : xorshift(&f->x);
		break;
	case FAKE_SILENT:
		return -HZ_EAGAIN;
	case FAKE_BROKEN:
		return -HZ_EIO;
	case FAKE_PREEMPTED:
		if (f->n == 0) {
			/* As if the host took the CPU away mid-boot. */
			struct timespec ts = {0, 600 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		*out = xorshift(&f->x);
		break;
	}
	f->n++;
	return 0;
}

static struct fake good_ctx, stuck_ctx, biased_ctx, silent_ctx, broken_ctx,
    preempted_ctx;

/* Each fake its own origin, so that boot waits for all of them. */
#define FAKE(var, name_, h8_, origin_, probe_, ctx_)     \
	static const struct hz_entropy_source var = {    \
	    .name = name_,                               \
	    .h8 = h8_,                                   \
	    .origin = HZ_ENTROPY_ORIGIN_OTHER + origin_, \
	    .probe = probe_,                             \
	    .sample = fake_sample,                       \
	    .ctx = ctx_,                                 \
	}
FAKE(good, "good", 32 * 8, 0, fake_probe, &good_ctx);
FAKE(stuck, "stuck", 32 * 8, 1, fake_probe, &stuck_ctx);
FAKE(stuck_slow, "stuck-jitter", 1, 2, fake_probe, &stuck_ctx);
FAKE(biased, "biased", 1 * 8, 3, fake_probe, &biased_ctx);
FAKE(silent, "silent", 32 * 8, 4, fake_probe, &silent_ctx);
FAKE(broken, "broken", 32 * 8, 5, fake_probe, &broken_ctx);
FAKE(preempted, "preempted", 32 * 8, 6, fake_probe, &preempted_ctx);
/* The host source of a target without host entropy. */
static const struct hz_entropy_source no_host = {
    .name = "host",
    .h8 = HZ_ENTROPY_H8_HOST,
    .origin = HZ_ENTROPY_ORIGIN_HOST,
    .probe = absent_probe,
    .sample = fake_sample,
    .ctx = &good_ctx,
};

static void fakes_reset(void)
{
	good_ctx = (struct fake){FAKE_GOOD, 0x9e3779b97f4a7c15ull, 0};
	stuck_ctx = (struct fake){FAKE_STUCK, 1, 0};
	biased_ctx = (struct fake){FAKE_BIASED, 0x1234567, 0};
	silent_ctx = (struct fake){FAKE_SILENT, 1, 0};
	broken_ctx = (struct fake){FAKE_BROKEN, 1, 0};
	preempted_ctx = (struct fake){FAKE_PREEMPTED, 0x2545f4914f6cdd1dull, 0};
}

#define START(...)                                                           \
	hz_entropy_start(                                                    \
	    (const struct hz_entropy_source *const[]){__VA_ARGS__},          \
	    sizeof((const struct hz_entropy_source *const[]){__VA_ARGS__}) / \
		sizeof(const struct hz_entropy_source *))

/* --- health tests --------------------------------------------------------- */

/*
 * The cutoffs against values computed independently in Python (exact
 * binomial tail with math.lgamma; alpha = 2^-30, W = 512):
 *   rct = 1 + ceil(30 / H); apt = 1 + CRITBINOM(512, 2^-H, 1 - 2^-30)
 */
static void health_cutoffs_match_sp800_90b(void **state)
{
	static const struct {
		uint32_t h8, rct, apt;
	} want[] = {
	    {32 * 8, 2, 2}, {8 * 8, 5, 16}, {1 * 8, 31, 325},
	    {4, 61, 422},   {2, 121, 477},  {1, 241, 502},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(hz_health_rct_cutoff(want[i].h8), want[i].rct);
		assert_int_equal(hz_health_apt_cutoff(want[i].h8), want[i].apt);
	}
}

static void health_rct_catches_a_stuck_value(void **state)
{
	struct hz_health h;
	uint32_t i;

	(void)state;
	hz_health_init(&h, 1); /* 1/8 bit: cutoff 241 */
	for (i = 1; i < 241; i++)
		assert_int_equal(hz_health_check(&h, 1000), HZ_HEALTH_OK);
	assert_int_equal(hz_health_check(&h, 1000), HZ_HEALTH_RCT);
	/* Sticky, whatever comes next. */
	assert_int_equal(hz_health_check(&h, 7), HZ_HEALTH_RCT);

	/* Runs one short of the cutoff (31 at H = 1 bit) pass. */
	hz_health_init(&h, 8);
	for (int run = 0; run < 4; run++) {
		for (i = 1; i < 31; i++)
			assert_int_equal(hz_health_check(&h, 5), HZ_HEALTH_OK);
		assert_int_equal(hz_health_check(&h, 6 + run), HZ_HEALTH_OK);
	}
	for (i = 1; i < 31; i++)
		assert_int_equal(hz_health_check(&h, 5), HZ_HEALTH_OK);
	assert_int_equal(hz_health_check(&h, 5), HZ_HEALTH_RCT);
}

static void health_apt_catches_a_biased_source(void **state)
{
	struct hz_health h;
	uint64_t x = 99;
	int i;

	(void)state;
	/* H = 1 bit: cutoff 325 of 512. 3 in 4 equal fails in the window. */
	hz_health_init(&h, 8);
	for (i = 0; i < 512; i++) {
		uint64_t v = i % 4 != 3 ? 0x5555 : xorshift(&x);

		if (hz_health_check(&h, v) != HZ_HEALTH_OK)
			break;
	}
	assert_int_equal(h.failed, HZ_HEALTH_APT);
	/* The 325th 0x5555 of the window: sample 433 (index 432). */
	assert_int_equal(i, 432);

	/* Half equal stays under the cutoff, window after window. */
	hz_health_init(&h, 8);
	for (i = 0; i < 100 * 512; i++)
		assert_int_equal(
		    hz_health_check(&h, i % 2 ? 0x5555 : xorshift(&x)),
		    HZ_HEALTH_OK);
}

/* --- the engine over fake sources ----------------------------------------- */

static void reading_before_the_first_seed_is_an_error(void **state)
{
	uint8_t buf[16];
	uint32_t v;

	(void)state;
	hz_entropy_stop();
	assert_false(hz_entropy_seeded());
	assert_int_equal(hz_entropy_read(buf, sizeof(buf)), -HZ_EAGAIN);
	/* The same through RANDOM, the engine being the source in use. */
	hz_random_use(&hz_entropy_random);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), -HZ_EAGAIN);
	assert_int_equal(hz_random_below(10, &v), -HZ_EAGAIN);
	/* Events before the start are ignored, not an error. */
	hz_entropy_add_event(HZ_RANDOM_EV_APP, 1);
	hz_random_event(HZ_RANDOM_EV_APP, 1);
	assert_false(hz_entropy_seeded());
	hz_random_use(NULL);
}

/* A started engine is the source hz_random_bytes draws from. */
static void starting_makes_the_engine_the_random_source(void **state)
{
	uint8_t buf[16];

	(void)state;
	fakes_reset();
	hz_random_use(NULL);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), -HZ_ENOTSUP);
	assert_int_equal(START(&good), 0);
	assert_ptr_equal(hz_random_current(), &hz_entropy_random);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), 0);
	hz_entropy_stop();
	/* Stopped, it is unseeded again: an error, never a weak answer. */
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), -HZ_EAGAIN);
	hz_random_use(NULL);
}

static void a_stuck_source_is_disabled_and_the_rest_carry_on(void **state)
{
	struct hz_entropy_stats st;
	uint8_t a[32], b[32];

	(void)state;
	fakes_reset();
	assert_int_equal(START(&stuck, &good, &stuck_slow), 0);
	assert_true(hz_entropy_seeded());
	assert_int_equal(hz_entropy_source_state(0), HZ_ENTROPY_FAILED);
	assert_int_equal(hz_entropy_source_failure(0), HZ_HEALTH_RCT);
	assert_int_equal(hz_entropy_source_state(1), HZ_ENTROPY_HEALTHY);
	/* The slow claim needs 241 repeats: caught at boot all the same. */
	assert_int_equal(hz_entropy_source_state(2), HZ_ENTROPY_FAILED);
	assert_int_equal(hz_entropy_source_failure(2), HZ_HEALTH_RCT);
	assert_int_equal(hz_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(hz_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	hz_entropy_stats(&st);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.healthy, 2); /* good, event timing */
	assert_int_equal(st.reseeds, 1);
	hz_entropy_stop();
}

static void a_biased_source_is_caught_by_the_proportion_test(void **state)
{
	int polls;

	(void)state;
	fakes_reset();
	assert_int_equal(START(&biased, &good), 0);
	/* Boot takes 256 samples of it (1 bit each): not yet a window. */
	for (polls = 0; polls < 1000; polls++) {
		if (hz_entropy_source_state(0) != HZ_ENTROPY_HEALTHY)
			break;
		hz_entropy_poll();
	}
	assert_int_equal(hz_entropy_source_state(0), HZ_ENTROPY_FAILED);
	assert_int_equal(hz_entropy_source_failure(0), HZ_HEALTH_APT);
	assert_true(biased_ctx.n <= 2 * HZ_HEALTH_APT_WINDOW);
	assert_int_equal(hz_entropy_source_state(1), HZ_ENTROPY_HEALTHY);
	assert_true(hz_entropy_seeded());
	hz_entropy_stop();
}

/* Silent and broken sources are given up; absent ones are only named. */
static void silent_broken_and_absent_sources(void **state)
{
	(void)state;
	fakes_reset();
	assert_int_equal(START(&silent, &broken, &no_host, &good), 0);
	assert_int_equal(hz_entropy_source_state(0), HZ_ENTROPY_FAILED);
	assert_int_equal(hz_entropy_source_failure(0), HZ_HEALTH_OK);
	assert_int_equal(hz_entropy_source_state(1), HZ_ENTROPY_FAILED);
	assert_int_equal(hz_entropy_source_state(2), HZ_ENTROPY_ABSENT);
	assert_int_equal(hz_entropy_source_state(3), HZ_ENTROPY_HEALTHY);
	hz_entropy_stop();
}

static void no_usable_source_means_no_seed(void **state)
{
	uint8_t buf[8];

	(void)state;
	fakes_reset();
	assert_int_equal(START(&no_host, &stuck, &broken), -HZ_EIO);
	assert_false(hz_entropy_seeded());
	assert_int_equal(hz_entropy_read(buf, sizeof(buf)), -HZ_EAGAIN);
	assert_int_equal(START(&no_host), -HZ_EIO);
	assert_int_equal(hz_entropy_start(NULL, 0), -HZ_EIO);
}

/*
 * A boot descheduled for longer than the hard limit between two rounds
 * (found by fuzz_tls_record under load) still seeds: the limit ends the
 * gathering only after a few rounds past it, not on the clock alone.
 */
static void a_preempted_boot_still_seeds(void **state)
{
	(void)state;
	fakes_reset();
	assert_int_equal(START(&preempted), 0);
	assert_true(hz_entropy_seeded());
	assert_true(preempted_ctx.n >= 8); /* 256 bits at 32 a sample */
	hz_entropy_stop();
}

/*
 * After the first seed each source feeds the pools round-robin, and a
 * reseed comes once pool 0 is full again and 100 ms have passed.
 */
static void sources_feed_every_pool_then_reseed(void **state)
{
	const struct hz_fortuna *f;
	struct timespec nap = {0, 110 * 1000 * 1000};
	uint8_t buf[16];

	(void)state;
	fakes_reset();
	assert_int_equal(START(&good), 0);
	f = hz_entropy_fortuna();
	assert_int_equal(f->pool_bytes[0], 0); /* all went into the seed */
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
		hz_entropy_poll();
	/* One 4-sample event (2 + 32 bytes) in each pool. */
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
		assert_int_equal(f->pool_bytes[i], 34);
	hz_entropy_poll();
	assert_int_equal(f->pool_bytes[0], 68);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), 0);
	assert_int_equal(f->reseeds, 1); /* within 100 ms of the first */
	nanosleep(&nap, NULL);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), 0);
	assert_int_equal(f->reseeds, 2);
	assert_int_equal(f->last_pools, 0x3);
	hz_entropy_stop();
}

static void events_reach_the_pools(void **state)
{
	const struct hz_fortuna *f;
	uint64_t before = 0, after = 0;
	struct hz_entropy_stats st;

	(void)state;
	fakes_reset();
	assert_int_equal(START(&good), 0);
	f = hz_entropy_fortuna();
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
		before += f->pool_bytes[i];
	for (int i = 0; i < 4 * 64; i++)
		hz_entropy_add_event(HZ_RANDOM_EV_NET, (uint64_t)i * 977);
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
		after += f->pool_bytes[i];
	/* 64 events of 32 bytes (plus header), two per pool. */
	assert_int_equal(after - before, 64 * 34);
	assert_int_equal(f->pool_bytes[5], 68);
	hz_entropy_stats(&st);
	assert_int_equal(st.events, 4 * 64);
	assert_int_equal(hz_entropy_event_state(), HZ_ENTROPY_HEALTHY);
	/* The event loop's wake-ups arrive through RANDOM. */
	hz_random_event(HZ_RANDOM_EV_LOOP, 1);
	hz_entropy_stats(&st);
	assert_int_equal(st.events, 4 * 64 + 1);
	hz_entropy_stop();
	/* Stopped: ignored again. */
	hz_entropy_add_event(HZ_RANDOM_EV_NET, 1);
	hz_entropy_stats(&st);
	assert_int_equal(st.events, 0);
}

/* --- the built-in sources of this machine --------------------------------- */

static const char *state_name(enum hz_entropy_state s)
{
	return s == HZ_ENTROPY_HEALTHY	? "healthy"
	       : s == HZ_ENTROPY_FAILED ? "FAILED"
					: "absent";
}

/* Without the host, the CPU and jitter sources seed on their own. */
static void seeds_without_host_entropy(void **state)
{
	struct hz_entropy_stats st;
	uint8_t buf[64];

	(void)state;
	fakes_reset();
	assert_int_equal(START(&hz_entropy_source_rdseed,
			       &hz_entropy_source_rdrand,
			       &hz_entropy_source_jitter, &no_host),
			 0);
	hz_entropy_stats(&st);
	print_message("# no host: rdseed %s, rdrand %s, jitter %s; seeded in "
		      "%llu us\n",
		      state_name(hz_entropy_source_state(0)),
		      state_name(hz_entropy_source_state(1)),
		      state_name(hz_entropy_source_state(2)),
		      (unsigned long long)st.seed_ns / 1000);
	assert_true(hz_entropy_seeded());
	assert_int_equal(hz_entropy_source_state(2), HZ_ENTROPY_HEALTHY);
	assert_int_equal(hz_entropy_source_state(3), HZ_ENTROPY_ABSENT);
	assert_int_equal(hz_random_bytes(buf, sizeof(buf)), 0);
	hz_entropy_stop();
}

/* Timing jitter alone (no CPU generator, no host) seeds too. */
static void seeds_from_jitter_alone(void **state)
{
	struct hz_entropy_stats st;

	(void)state;
	assert_int_equal(START(&hz_entropy_source_jitter), 0);
	hz_entropy_stats(&st);
	print_message("# jitter alone: seeded in %llu us\n",
		      (unsigned long long)st.seed_ns / 1000);
	assert_int_equal(hz_entropy_source_state(0), HZ_ENTROPY_HEALTHY);
	hz_entropy_stop();
}

static void init_with_the_builtin_sources(void **state)
{
	struct hz_entropy_stats st;
	uint8_t a[32], b[32];

	(void)state;
	hz_entropy_stop();
	assert_int_equal(hz_entropy_init(), 0);
	assert_int_equal(hz_entropy_init(), 0); /* again: nothing to do */
	hz_entropy_stats(&st);
	print_message("# built-in: rdseed %s, rdrand %s, jitter %s, host %s; "
		      "seeded in %llu us\n",
		      state_name(hz_entropy_source_state(0)),
		      state_name(hz_entropy_source_state(1)),
		      state_name(hz_entropy_source_state(2)),
		      state_name(hz_entropy_source_state(3)),
		      (unsigned long long)st.seed_ns / 1000);
	assert_int_equal(st.failed, 0);
	assert_int_equal(hz_entropy_source_state(2), HZ_ENTROPY_HEALTHY);
	assert_int_equal(hz_entropy_source_state(3), HZ_ENTROPY_HEALTHY);
	assert_int_equal(hz_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(hz_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(hz_random_bytes(a, HZ_FORTUNA_MAX_REQUEST + 1),
			 -HZ_EINVAL);
	hz_entropy_stop();
}

/* --- bounded draws -------------------------------------------------------- */

static void random_below_rejects_bound_zero(void **state)
{
	uint32_t v = 7;

	(void)state;
	fakes_reset();
	assert_int_equal(START(&good), 0);
	assert_int_equal(hz_random_below(0, &v), -HZ_EINVAL);
	assert_int_equal(v, 7);
	assert_int_equal(hz_random_below(1, &v), 0);
	assert_int_equal(v, 0);
	hz_entropy_stop();
}

/* The rejection leaves a multiple of @bound values: each residue alike. */
static void reduce_rejects_exactly_the_biased_slice(void **state)
{
	static const uint32_t bounds[] = {
	    1, 2, 3, 7, 1000, 65537, 0x80000001, 0xc0000000u, 0xffffffffu};
	uint32_t out;

	(void)state;
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		uint32_t b = bounds[i];
		uint64_t min = ((uint64_t)1 << 32) % b;

		assert_int_equal((((uint64_t)1 << 32) - min) % b, 0);
		if (min > 0)
			assert_false(
			    hz_random_reduce((uint32_t)min - 1, b, &out));
		assert_true(hz_random_reduce((uint32_t)min, b, &out));
		assert_int_equal(out, min % b);
		assert_true(hz_random_reduce(0xffffffffu, b, &out));
		assert_int_equal(out, 0xffffffffu % b);
	}
}

/*
 * With bound 3 * 2^30, a plain modulo would give [0, 2^30) half the
 * draws instead of a third: 20000 draws tell the two apart by far more
 * than ten standard deviations (sigma = 0.0033).
 */
static void random_below_is_unbiased(void **state)
{
	const uint32_t bound = 0xc0000000u;
	int low = 0, n = 20000;
	int hist[10] = {0};

	(void)state;
	fakes_reset();
	assert_int_equal(START(&good), 0);
	for (int i = 0; i < n; i++) {
		uint32_t v;

		assert_int_equal(hz_random_below(bound, &v), 0);
		assert_true(v < bound);
		low += v < 0x40000000u;
	}
	assert_true(low > n / 3 - 400 && low < n / 3 + 400);
	/* A small bound: every value comes up about equally often. */
	for (int i = 0; i < n; i++) {
		uint32_t v;

		assert_int_equal(hz_random_below(10, &v), 0);
		hist[v]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(hist[i] > n / 10 - 300 && hist[i] < n / 10 + 300);
	hz_entropy_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(health_cutoffs_match_sp800_90b),
	    HARNESS_TEST(health_rct_catches_a_stuck_value),
	    HARNESS_TEST(health_apt_catches_a_biased_source),
	    HARNESS_TEST(reading_before_the_first_seed_is_an_error),
	    HARNESS_TEST(starting_makes_the_engine_the_random_source),
	    HARNESS_TEST(a_stuck_source_is_disabled_and_the_rest_carry_on),
	    HARNESS_TEST(a_biased_source_is_caught_by_the_proportion_test),
	    HARNESS_TEST(silent_broken_and_absent_sources),
	    HARNESS_TEST(no_usable_source_means_no_seed),
	    HARNESS_TEST(a_preempted_boot_still_seeds),
	    HARNESS_TEST(sources_feed_every_pool_then_reseed),
	    HARNESS_TEST(events_reach_the_pools),
	    HARNESS_TEST(seeds_without_host_entropy),
	    HARNESS_TEST(seeds_from_jitter_alone),
	    HARNESS_TEST(init_with_the_builtin_sources),
	    HARNESS_TEST(random_below_rejects_bound_zero),
	    HARNESS_TEST(reduce_rejects_exactly_the_biased_slice),
	    HARNESS_TEST(random_below_is_unbiased),
	};

	return HARNESS_RUN("entropy", tests);
}
