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
 * It is one implementation of the RANDOM interface (haze/random.h); an
 * image makes it its random source with
 *
 *     HZ_RANDOM_SOURCE(&hz_entropy_random);
 *
 * and then the runtime seeds it before hz_main, feeds it the timing of
 * event-loop wake-ups, and hz_random_bytes draws from it. Asking for
 * random bytes before the generator's first seed is an error
 * (-HZ_EAGAIN), never a weak answer.
 */
#ifndef HAZE_ENTROPY_H
#define HAZE_ENTROPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/random.h"

/*
 * Starts the sources and the accumulator and gathers until the first
 * seed (well under a millisecond on common machines; see docs/entropy.md),
 * then logs which sources it has and makes the generator the random
 * source in use (hz_random_use). The runtime calls it before hz_main in an
 * image whose random source is hz_entropy_random; later calls return 0.
 * 0, or -HZ_EIO if the sources together could not give a first seed.
 */
HZ_MUST_CHECK
int hz_entropy_init(void);

/* Returns whether the generator has been seeded. */
bool hz_entropy_seeded(void);

/*
 * Fills @buf with @len random bytes from the generator, whether or not it
 * is the source in use. 0, or -HZ_EAGAIN before the first seed, or
 * -HZ_EINVAL for a request over 1 MiB (split it: each request rekeys the
 * generator).
 */
HZ_MUST_CHECK
int hz_entropy_read(void *buf, size_t len);

/* The generator as a random source (haze/random.h), for HZ_RANDOM_SOURCE. */
extern struct hz_random hz_entropy_random;

/*
 * Adds an event to the pools: the time of the call and @sample, tagged
 * with @source_id (an HZ_RANDOM_EV_* value). Cheap (a clock read and a
 * few stores; one SHA-256 update every fourth call), so it may be called
 * from hot paths such as packet arrival. Its timing is health-tested;
 * @sample is mixed in but trusted for nothing. Ignored before
 * hz_entropy_init.
 */
void hz_entropy_add_event(uint32_t source_id, uint64_t sample);

struct hz_entropy_stats {
	uint64_t seed_ns;  /* how long hz_entropy_init took to seed */
	uint64_t reseeds;  /* generator reseeds, the first included */
	uint64_t requests; /* random byte requests answered */
	uint64_t events;   /* events added to the pools */
	unsigned healthy;  /* sources in use, event timing included */
	unsigned failed;   /* sources disabled by a health test or a fault */
};

/* Fills @st with the entropy subsystem's figures. */
void hz_entropy_stats(struct hz_entropy_stats *st);

#endif
