/*
 * RANDOM: where the library OS gets its random bytes.
 *
 * The core does not make random numbers; it asks the image's random
 * source, an interface like any other (a struct whose first field is its
 * operations). An image chooses its source at link time, as it declares
 * its devices:
 *
 *     HZ_RANDOM_SOURCE(&hz_entropy_random);    (haze/entropy.h)
 *
 * The runtime seeds that source before hz_main (a failure to seed stops
 * the unikernel with the reason) and feeds it the timing of every
 * event-loop wake-up. An image that declares none links no random
 * generator at all (hello links no cryptography); it gets -HZ_ENOTSUP
 * from hz_random_bytes, and the libraries that need random bytes (TCP's
 * keys, DNS query ids, TLS) say so when they are used.
 *
 * Asking for random bytes before the source's first seed is an error
 * (-HZ_EAGAIN), never a weak answer.
 */
#ifndef HAZE_RANDOM_H
#define HAZE_RANDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

struct hz_random;

struct hz_random_ops {
	/*
	 * Gathers until the first seed; called once by the runtime before
	 * hz_main. 0 or a negative HZ_E code. May be NULL.
	 */
	int (*seed)(struct hz_random *r);
	/*
	 * Fills @buf with @len random bytes: 0, -HZ_EAGAIN before the first
	 * seed, or the source's own error.
	 */
	int (*read)(struct hz_random *r, void *buf, size_t len);
	/* Takes the timing of an event (see hz_random_event). May be NULL. */
	void (*event)(struct hz_random *r, uint32_t source_id, uint64_t sample);
};

/* A random source: embed it first in the implementation's state. */
struct hz_random {
	const struct hz_random_ops *ops;
};

/*
 * The image's random source, chosen at link time: NULL (the core's
 * default, picked only when the application defines none) or what
 * HZ_RANDOM_SOURCE names.
 */
extern struct hz_random *const hz_random_source;

/* Declares the image's random source (once, at file scope). */
#define HZ_RANDOM_SOURCE(src) struct hz_random *const hz_random_source = (src)

/*
 * Makes @r the source hz_random_bytes asks from now on (NULL: none). The
 * runtime does this with hz_random_source once it is seeded; a source
 * that is seeded by other means (a test, a fuzz harness) does it itself.
 */
void hz_random_use(struct hz_random *r);

/* Returns the source in use, or NULL. */
struct hz_random *hz_random_current(void);

/*
 * Fills @buf with @len random bytes from the source in use. 0,
 * -HZ_ENOTSUP if the image has no random source, -HZ_EAGAIN before its
 * first seed, or its own error (Fortuna: -HZ_EINVAL over 1 MiB).
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

/*
 * Maps a 32-bit draw @v onto [0, @bound) without bias: false when @v
 * falls in the short top slice that must be drawn again.
 */
bool hz_random_reduce(uint32_t v, uint32_t bound, uint32_t *out);

/* Callers of hz_random_event name themselves with one of these. */
enum hz_random_event_source {
	HZ_RANDOM_EV_LOOP = 1, /* an event-loop wake-up (sample: ready set) */
	HZ_RANDOM_EV_NET,      /* a frame arrived (sample: some of it) */
	HZ_RANDOM_EV_BLOCK,    /* a block request completed */
	HZ_RANDOM_EV_APP = 64, /* applications: from here up */
};

/*
 * Hands the source in use an event: the time of the call is its entropy,
 * @sample is mixed in but trusted for nothing. Cheap enough for hot paths;
 * does nothing without a source or before its seed.
 */
void hz_random_event(uint32_t source_id, uint64_t sample);

#endif
