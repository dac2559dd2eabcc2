/*
 * The entropy engine (haze/entropy.h, docs/entropy.md): sources behind
 * health tests, feeding one Fortuna accumulator.
 *
 * At boot every source is probed, then asked in rounds until sources of
 * two origins (CPU, host, timing) have each given HZ_ENTROPY_SEED_BITS of
 * assumed min-entropy on their own: the first seed never rests on one
 * piece of hardware when there is a choice, and a slow source is not
 * waited for when two fast ones of other origins are there. All boot
 * samples go to pool 0: nothing has been output before the first seed,
 * so the pool schedule has no state to protect yet, and the first seed
 * gets everything. Afterwards each source feeds the pools round-robin, as
 * the book says: sources are polled again (at most every 100 ms) when
 * random bytes are asked for, and hz_entropy_add_event adds event timing
 * as it comes. Started, the engine makes itself the random source in use
 * (haze/random.h), so hz_random_bytes draws from it.
 *
 * A sample that fails a health test disables its source for good; the
 * others carry on, and a seeded generator needs none of them to keep
 * answering.
 */
#include <stdio.h>
#include <string.h>

#include "entropy/entropy_int.h"
#include "haze/assert.h"
#include "haze/log.h"
#include "haze/platform.h"

HZ_LOG_SOURCE(entropy_log, "entropy");

/* Fortuna's source number of the event timing (sources take 0..7). */
#define EVENT_SOURCE_ID HZ_ENTROPY_SOURCES_MAX

struct slot {
	const struct hz_entropy_source *src;
	struct hz_health health;
	enum hz_entropy_state state;
	enum hz_health_result why; /* which test, if one failed */
	unsigned next_pool;
	uint32_t misses;  /* -HZ_EAGAIN in a row */
	uint64_t credit8; /* eighths of a bit given before the first seed */
};

static struct {
	bool started;
	struct hz_fortuna f;
	struct slot src[HZ_ENTROPY_SOURCES_MAX];
	size_t nsrc;
	uint64_t last_poll_ns;
	/* Event timing: a source of its own, batched into 32-byte events. */
	struct hz_health ev_health;
	enum hz_entropy_state ev_state;
	uint64_t ev_last_ns;
	uint8_t ev_buf[HZ_FORTUNA_EVENT_MAX];
	size_t ev_len;
	unsigned ev_pool;
	struct hz_entropy_stats stats;
} E;

static void disable(struct slot *s, enum hz_health_result why,
		    const char *detail)
{
	s->state = HZ_ENTROPY_FAILED;
	s->why = why;
	E.stats.failed++;
	if (why != HZ_HEALTH_OK)
		HZ_WARN(&entropy_log,
			"%s failed its %s after %llu samples (H = %u/8 bit, "
			"cutoffs %u and %u): disabled",
			s->src->name, hz_health_name(why),
			(unsigned long long)s->health.samples, s->health.h8,
			s->health.rct_cutoff, s->health.apt_cutoff);
	else
		HZ_WARN(&entropy_log, "%s %s: disabled", s->src->name, detail);
}

/*
 * Takes up to HZ_ENTROPY_EVENT_SAMPLES samples from @s, health-tests
 * them, and adds what passed to @pool as one event. Returns the samples
 * added; 0 when the source had none, broke, or failed a test (then the
 * whole batch is dropped).
 */
static size_t feed(struct slot *s, unsigned pool)
{
	uint64_t batch[HZ_ENTROPY_EVENT_SAMPLES];
	size_t n = 0;

	while (n < HZ_ENTROPY_EVENT_SAMPLES) {
		enum hz_health_result h;
		int r = s->src->sample(s->src->ctx, &batch[n]);

		if (r == -HZ_EAGAIN) {
			if (++s->misses >= HZ_ENTROPY_MAX_MISSES)
				disable(s, HZ_HEALTH_OK,
					"gave nothing many times in a row");
			break;
		}
		if (r < 0) {
			disable(s, HZ_HEALTH_OK, "broke");
			n = 0;
			break;
		}
		s->misses = 0;
		h = hz_health_check(&s->health, batch[n]);
		if (h != HZ_HEALTH_OK) {
			disable(s, h, NULL);
			n = 0;
			break;
		}
		n++;
	}
	if (n > 0)
		hz_fortuna_add(&E.f, (uint8_t)(s - E.src), pool, batch,
			       n * sizeof(batch[0]));
	hz_entropy_wipe(batch, sizeof(batch));
	return n;
}

static bool gave_its_share(const struct slot *s)
{
	return s->credit8 >= HZ_ENTROPY_SEED_BITS * 8;
}

/*
 * Whether the first seed may be made: sources of two origins, or of
 * every origin still healthy, have each given HZ_ENTROPY_SEED_BITS, and
 * pool 0 has its minimum.
 */
static bool boot_done(void)
{
	uint32_t present = 0, satisfied = 0;

	for (size_t i = 0; i < E.nsrc; i++) {
		const struct slot *s = &E.src[i];

		if (s->state != HZ_ENTROPY_HEALTHY)
			continue;
		present |= (uint32_t)1 << s->src->origin;
		if (gave_its_share(s))
			satisfied |= (uint32_t)1 << s->src->origin;
	}
	if (present == 0)
		return true; /* nothing left to ask */
	if (E.f.pool_bytes[0] < HZ_FORTUNA_MIN_POOL0)
		return false;
	return __builtin_popcount(satisfied) >= 2 || satisfied == present;
}

/*
 * Asks the sources in rounds until the first seed can be made; each
 * round asks every healthy source short of its share (or all of them, if
 * only pool 0 is short). Returns the credit gathered, in eighths of a bit.
 */
static uint64_t gather_first_seed(uint64_t start)
{
	uint64_t total8 = 0;
	unsigned rounds = 0;

	while (!boot_done()) {
		bool all = true;
		uint64_t spent;

		for (size_t i = 0; i < E.nsrc; i++)
			if (E.src[i].state == HZ_ENTROPY_HEALTHY &&
			    !gave_its_share(&E.src[i]))
				all = false;
		for (size_t i = 0; i < E.nsrc; i++) {
			struct slot *s = &E.src[i];
			size_t n;

			if (s->state != HZ_ENTROPY_HEALTHY ||
			    (!all && gave_its_share(s)))
				continue;
			n = feed(s, 0);
			s->credit8 += n * s->src->h8;
			total8 += n * s->src->h8;
		}
		spent = hz_platform_clock_monotonic() - start;
		/* Time alone never ends it: a guest descheduled past the
		 * limit between two rounds still asks a few more. */
		if (spent >= HZ_ENTROPY_BOOT_HARD_NS &&
		    ++rounds >= HZ_ENTROPY_BOOT_MIN_ROUNDS)
			break;
		if (spent >= HZ_ENTROPY_BOOT_SOFT_NS &&
		    total8 >= HZ_ENTROPY_SEED_BITS * 8 &&
		    E.f.pool_bytes[0] >= HZ_FORTUNA_MIN_POOL0)
			break;
	}
	return total8;
}

/* Appends "name, name" of sources in @state to @buf; returns the count. */
static unsigned list_sources(char *buf, size_t cap, enum hz_entropy_state st)
{
	size_t len = strlen(buf);
	unsigned n = 0;

	for (size_t i = 0; i < E.nsrc; i++) {
		if (E.src[i].state != st)
			continue;
		snprintf(buf + len, cap - len, "%s%s", n ? ", " : "",
			 E.src[i].src->name);
		len += strlen(buf + len);
		n++;
	}
	return n;
}

/* The one line at start: what this unikernel's randomness rests on. */
static void log_sources(void)
{
	char ok[128] = "", absent[128] = "", failed[128] = "";

	list_sources(ok, sizeof(ok), HZ_ENTROPY_HEALTHY);
	list_sources(absent, sizeof(absent), HZ_ENTROPY_ABSENT);
	list_sources(failed, sizeof(failed), HZ_ENTROPY_FAILED);
	HZ_INFO(&entropy_log,
		"sources: %s%sevent timing (absent: %s; failed: %s); "
		"seeded in %llu us",
		ok, ok[0] ? ", " : "", absent[0] ? absent : "none",
		failed[0] ? failed : "none",
		(unsigned long long)(E.stats.seed_ns / 1000));
}

void hz_entropy_stop(void)
{
	hz_entropy_wipe(&E, sizeof(E));
}

int hz_entropy_start(const struct hz_entropy_source *const *srcs, size_t n)
{
	uint64_t start = hz_platform_clock_monotonic(), total8;

	HZ_ASSERT(n <= HZ_ENTROPY_SOURCES_MAX);
	hz_entropy_stop();
	hz_fortuna_init(&E.f);
	E.nsrc = n;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &E.src[i];
		int r = srcs[i]->probe(srcs[i]->ctx);

		HZ_ASSERT(srcs[i]->origin < 32 && srcs[i]->h8 > 0);
		s->src = srcs[i];
		hz_health_init(&s->health, srcs[i]->h8);
		if (r == -HZ_ENOTSUP) {
			s->state = HZ_ENTROPY_ABSENT;
		} else if (r < 0) {
			s->state = HZ_ENTROPY_HEALTHY;
			disable(s, HZ_HEALTH_OK, "failed to start");
		} else {
			s->state = HZ_ENTROPY_HEALTHY;
		}
	}
	total8 = gather_first_seed(start);
	E.stats.seed_ns = hz_platform_clock_monotonic() - start;
	if (total8 < HZ_ENTROPY_SEED_BITS * 8 ||
	    !hz_fortuna_reseed_if_due(&E.f, hz_platform_clock_monotonic())) {
		HZ_ERROR(&entropy_log,
			 "no first seed: the sources gave %llu of %u bits "
			 "in %llu ms",
			 (unsigned long long)(total8 / 8), HZ_ENTROPY_SEED_BITS,
			 (unsigned long long)(E.stats.seed_ns / 1000000));
		hz_entropy_stop();
		return -HZ_EIO;
	}
	E.started = true;
	E.last_poll_ns = hz_platform_clock_monotonic();
	hz_health_init(&E.ev_health, HZ_ENTROPY_H8_EVENT);
	E.ev_state = HZ_ENTROPY_HEALTHY;
	E.ev_last_ns = E.last_poll_ns;
	log_sources();
	hz_random_use(&hz_entropy_random);
	return 0;
}

int hz_entropy_init(void)
{
	static const struct hz_entropy_source *const builtin[] = {
	    &hz_entropy_source_rdseed,
	    &hz_entropy_source_rdrand,
	    &hz_entropy_source_jitter,
	    &hz_entropy_source_host,
	};

	if (hz_entropy_seeded())
		return 0;
	return hz_entropy_start(builtin, sizeof(builtin) / sizeof(builtin[0]));
}

bool hz_entropy_seeded(void)
{
	return E.started && E.f.reseeds > 0;
}

void hz_entropy_poll(void)
{
	for (size_t i = 0; i < E.nsrc; i++) {
		struct slot *s = &E.src[i];

		if (s->state != HZ_ENTROPY_HEALTHY)
			continue;
		if (feed(s, s->next_pool) > 0)
			s->next_pool = (s->next_pool + 1) % HZ_FORTUNA_POOLS;
	}
}

int hz_entropy_read(void *buf, size_t len)
{
	uint64_t now;
	int r;

	if (len > HZ_FORTUNA_MAX_REQUEST)
		return -HZ_EINVAL;
	if (!E.started)
		return -HZ_EAGAIN;
	now = hz_platform_clock_monotonic();
	if (now - E.last_poll_ns >= HZ_ENTROPY_POLL_NS) {
		E.last_poll_ns = now;
		hz_entropy_poll();
	}
	r = hz_fortuna_read(&E.f, now, buf, len);
	if (r == 0)
		E.stats.requests++;
	return r;
}

void hz_entropy_add_event(uint32_t source_id, uint64_t sample)
{
	uint64_t t;
	uint32_t rec[2];

	if (E.ev_state != HZ_ENTROPY_HEALTHY)
		return; /* not started, or the clock failed its tests */
	t = hz_platform_clock_monotonic();
	if (hz_health_check(&E.ev_health, t - E.ev_last_ns) != HZ_HEALTH_OK) {
		E.ev_state = HZ_ENTROPY_FAILED;
		E.stats.failed++;
		HZ_WARN(&entropy_log, "event timing failed its %s: disabled",
			hz_health_name(E.ev_health.failed));
		return;
	}
	E.ev_last_ns = t;
	rec[0] = (uint32_t)t;
	rec[1] = (uint32_t)(sample ^ (sample >> 32)) ^ source_id * 0x9e3779b9u;
	memcpy(E.ev_buf + E.ev_len, rec, sizeof(rec));
	E.ev_len += sizeof(rec);
	if (E.ev_len == sizeof(E.ev_buf)) {
		hz_fortuna_add(&E.f, EVENT_SOURCE_ID, E.ev_pool, E.ev_buf,
			       E.ev_len);
		E.ev_pool = (E.ev_pool + 1) % HZ_FORTUNA_POOLS;
		E.ev_len = 0;
	}
	E.stats.events++;
}

/* --- the generator as the image's random source (haze/random.h) ------- */

static int random_seed(struct hz_random *r)
{
	return hz_entropy_init();
}

static int random_read(struct hz_random *r, void *buf, size_t len)
{
	return hz_entropy_read(buf, len);
}

static void random_event(struct hz_random *r, uint32_t source_id,
			 uint64_t sample)
{
	hz_entropy_add_event(source_id, sample);
}

static const struct hz_random_ops random_ops = {
    .seed = random_seed,
    .read = random_read,
    .event = random_event,
};

struct hz_random hz_entropy_random = {&random_ops};

void hz_entropy_stats(struct hz_entropy_stats *st)
{
	*st = E.stats;
	st->reseeds = E.f.reseeds;
	st->healthy = E.ev_state == HZ_ENTROPY_HEALTHY;
	for (size_t i = 0; i < E.nsrc; i++)
		st->healthy += E.src[i].state == HZ_ENTROPY_HEALTHY;
}

enum hz_entropy_state hz_entropy_source_state(size_t i)
{
	return i < E.nsrc ? E.src[i].state : HZ_ENTROPY_ABSENT;
}

enum hz_entropy_state hz_entropy_event_state(void)
{
	return E.ev_state;
}

enum hz_health_result hz_entropy_source_failure(size_t i)
{
	return i < E.nsrc ? E.src[i].why : HZ_HEALTH_OK;
}

const struct hz_fortuna *hz_entropy_fortuna(void)
{
	return &E.f;
}
