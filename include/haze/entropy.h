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
 * seed. Called once by the runtime before hz_main. 0, or -HZ_EIO if no
 * source yields entropy.
 */
HZ_MUST_CHECK
int hz_entropy_init(void);

/* Returns whether the generator has been seeded. */
bool hz_entropy_seeded(void);

/*
 * Fills @buf with @len random bytes. 0, or -HZ_EAGAIN before the first
 * seed, or -HZ_EINVAL for a request over 1 MiB (ask again).
 */
HZ_MUST_CHECK
int hz_random_bytes(void *buf, size_t len);

/* Returns a uniformly distributed value below @bound (> 0), or error. */
HZ_MUST_CHECK
int hz_random_below(uint32_t bound, uint32_t *out);

/* Adds an event's timing or content to the pools (cheap; may be called
 * from hot paths such as packet arrival). */
void hz_entropy_add_event(uint32_t source_id, uint64_t sample);

#endif
