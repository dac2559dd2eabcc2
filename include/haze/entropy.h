/*
 * Entropy and random bytes for the library OS.
 *
 * Several sources feed one Fortuna accumulator (32 pools, SHA-256, an
 * AES-256-CTR generator): RDSEED/RDRAND where CPUID reports them, timer
 * jitter, the host through hz_platform_entropy, and the timing of
 * event-loop wake-ups. Each source passes health tests (repetition count
 * and adaptive proportion, NIST SP 800-90B) before its samples count; a
 * source that fails is disabled and reported. Any subset of sources
 * works, and the runtime says at start which ones it has.
 *
 * Asking for random bytes before the generator's first seed is an error
 * (-HZ_EAGAIN), never a weak answer.
 */
#ifndef HAZE_ENTROPY_H
#define HAZE_ENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

/*
 * Starts the sources and the accumulator and gathers until the first
 * seed (well under a millisecond on common machines; see docs/entropy.md),
 * then logs which sources it has. Called once by the runtime before
 * hz_main; later calls return 0. 0, or -HZ_EIO if the sources together
 * could not give a first seed.
 */
HZ_MUST_CHECK
int hz_entropy_init(void);

/* Returns whether the generator has been seeded. */
bool hz_entropy_seeded(void);

/*
 * Fills @buf with @len random bytes. 0, or -HZ_EAGAIN before the first
 * seed, or -HZ_EINVAL for a request over 1 MiB (split it: each request
 * rekeys the generator).
 */
HZ_MUST_CHECK
int hz_random_bytes(void *buf, size_t len);

/*
 * Sets *@out to a uniformly distributed value in [0, @bound), drawing
 * again rather than taking a biased modulo. 0, -HZ_EINVAL if @bound is 0,
 * or hz_random_bytes's error.
 */
HZ_MUST_CHECK
int hz_random_below(uint32_t bound, uint32_t *out);

/* Callers of hz_entropy_add_event name themselves with one of these. */
enum hz_entropy_event_source {
	HZ_ENTROPY_EV_LOOP = 1, /* an event-loop wake-up (sample: ready set) */
	HZ_ENTROPY_EV_NET,	/* a frame arrived (sample: some of it) */
	HZ_ENTROPY_EV_BLOCK,	/* a block request completed */
	HZ_ENTROPY_EV_APP = 64, /* applications: from here up */
};

/*
 * Adds an event to the pools: the time of the call and @sample, tagged
 * with @source_id. Cheap (a clock read and a few stores; one SHA-256
 * update every fourth call), so it may be called from hot paths such as
 * packet arrival. Its timing is health-tested; @sample is mixed in but
 * trusted for nothing. Ignored before hz_entropy_init.
 */
void hz_entropy_add_event(uint32_t source_id, uint64_t sample);

struct hz_entropy_stats {
	uint64_t seed_ns;  /* how long hz_entropy_init took to seed */
	uint64_t reseeds;  /* generator reseeds, the first included */
	uint64_t requests; /* hz_random_bytes calls answered */
	uint64_t events;   /* events added to the pools */
	unsigned healthy;  /* sources in use, event timing included */
	unsigned failed;   /* sources disabled by a health test or a fault */
};

/* Fills @st with the entropy subsystem's figures. */
void hz_entropy_stats(struct hz_entropy_stats *st);

#endif
