/*
 * The event loop: timers, fibers and wait queues over one blocking point.
 *
 * One vCPU, cooperative, no locks. Fibers give blocking-style code: a fiber
 * that sleeps or waits for a device parks itself and the loop runs another;
 * when none can run, the loop asks the platform to block (hz_platform_yield)
 * until the earliest timer or a device becomes ready. That is the only place
 * the unikernel blocks.
 *
 * Timers are intrusive (no allocation): embed a struct hz_timer, arm it with
 * a deadline on the monotonic clock; its callback runs from the loop, never
 * inside another fiber. Callbacks must not block.
 */
#ifndef HAZE_SCHED_H
#define HAZE_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/platform.h"

#define HZ_NS_PER_MS 1000000ull
#define HZ_NS_PER_S 1000000000ull

/* Returns the monotonic time in nanoseconds. */
uint64_t hz_now(void);

/* --- timers -------------------------------------------------------------- */

struct hz_timer {
	uint64_t deadline;
	uint64_t seq; /* insertion order, breaks deadline ties */
	void (*fn)(struct hz_timer *t);
	struct hz_timer *child; /* pairing heap links */
	struct hz_timer *sibling;
	struct hz_timer *prev; /* previous sibling, or parent if first */
	bool armed;
};

/* Prepares @t to call @fn when it fires; @t starts disarmed. */
void hz_timer_init(struct hz_timer *t, void (*fn)(struct hz_timer *t));

/* Arms (or re-arms) @t to fire at monotonic time @deadline. */
void hz_timer_arm(struct hz_timer *t, uint64_t deadline);

/* Disarms @t; harmless if it is not armed. */
void hz_timer_cancel(struct hz_timer *t);

/* Returns whether @t is armed. */
static inline bool hz_timer_armed(const struct hz_timer *t)
{
	return t->armed;
}

/* Returns the earliest armed deadline, or HZ_DEADLINE_NEVER. */
uint64_t hz_timers_next(void);

/*
 * Fires, in deadline order, the timers due at @now that were armed before
 * the call; returns how many. A timer its callbacks arm already due (and
 * any due timer ordered after it) waits for the next call, so a callback
 * that re-arms itself at @now cannot hold the loop for ever.
 */
size_t hz_timers_run(uint64_t now);

/* --- fibers -------------------------------------------------------------- */

struct hz_fiber;

#define HZ_FIBER_STACK_DEFAULT (64u * 1024)
/* hz_main gets more: applications keep larger things on its stack. */
#define HZ_FIBER_STACK_MAIN (256u * 1024)

/*
 * Starts a fiber running @fn(@arg) on a stack of @stack_size bytes (0 for
 * the default), rounded up to a power-of-two number of pages, at least
 * two. Where the target can protect pages, the lowest of them is a guard
 * page that faults, naming the fiber, when the stack overflows; the fiber
 * can use the rest. It runs when the loop next schedules it; it ends when
 * @fn returns. 0, or -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_fiber_spawn(const char *name, void (*fn)(void *arg), void *arg,
		   size_t stack_size);

/* Returns the name of the running fiber ("main", or as spawned). */
const char *hz_fiber_name(void);

/* Lets every other runnable fiber run once before this one continues. */
void hz_fiber_yield(void);

/* Parks the running fiber until monotonic time @deadline. */
void hz_sleep_until(uint64_t deadline);

/* Parks the running fiber for @ns nanoseconds. */
void hz_sleep_ns(uint64_t ns);

/* --- wait queues ---------------------------------------------------------- */

/* Fibers parked until someone wakes them: the base of every blocking call. */
struct hz_waitq {
	struct hz_fiber *head;
	struct hz_fiber *tail;
};

/*
 * Parks the running fiber on @q until woken or until @deadline
 * (HZ_DEADLINE_NEVER for none). 0 when woken, -HZ_ETIMEDOUT otherwise.
 */
HZ_MUST_CHECK
int hz_waitq_wait(struct hz_waitq *q, uint64_t deadline);

/* Makes the first fiber parked on @q runnable; returns whether it found one. */
bool hz_waitq_wake_one(struct hz_waitq *q);

/* Makes every fiber parked on @q runnable; returns how many. */
size_t hz_waitq_wake_all(struct hz_waitq *q);

/*
 * Parks the running fiber until device @h is ready to read or @deadline
 * passes. 0 when ready, -HZ_ETIMEDOUT, or -HZ_EINVAL for a handle out of
 * range. @h must come from an acquire call: waiting on a handle never
 * acquired is a programming error the loop cannot always detect (with no
 * deadline it waits for ever).
 */
HZ_MUST_CHECK
int hz_device_wait(hz_handle_t h, uint64_t deadline);

/*
 * Wakes the fibers waiting on device @h now, ready or not: their wait
 * returns 0 and they recheck what they wait for (how a reader parked
 * without a deadline is told to stop). Harmless for a bad handle.
 */
void hz_device_wake(hz_handle_t h);

/* --- deferred work ------------------------------------------------------- */

/*
 * Work that runs once, at the end of the current round of fibers, before
 * the loop polls or blocks: how devices batch. A NIC queues the frames a
 * round produces and sends them with one call (one VM exit) when the
 * round ends. Embed a struct hz_defer; queueing it never allocates.
 *
 * A round runs each runnable fiber once; then, at most twice more, the
 * fibers the last pass woke or spawned (not those that yielded), so what
 * they do in answer (a reply to data just read, a close at its end)
 * joins the round's deferred work.
 */
struct hz_defer {
	void (*fn)(struct hz_defer *d);
	struct hz_defer *next;
	bool queued;
	bool last; /* hz_defer_init_last */
};

/* Prepares @d to call @fn when it runs. */
void hz_defer_init(struct hz_defer *d, void (*fn)(struct hz_defer *d));

/*
 * Prepares @d, which sends what other deferred work makes (a NIC's
 * flush), to run after all of it, whatever the order of queueing.
 */
void hz_defer_init_last(struct hz_defer *d, void (*fn)(struct hz_defer *d));

/* Queues @d to run at the end of this round; harmless if already queued. */
void hz_defer_queue(struct hz_defer *d);

/* Unqueues @d; harmless if it is not queued. */
void hz_defer_cancel(struct hz_defer *d);

/* --- the loop ------------------------------------------------------------- */

struct hz_sched_stats {
	uint64_t switches; /* fiber context switches */
	uint64_t yields;   /* blocking calls into the platform */
	uint64_t polls;	   /* non-blocking device polls */
	size_t fibers;	   /* fibers alive */
};

/* Fills @st with the loop's figures. */
void hz_sched_stats(struct hz_sched_stats *st);

/*
 * Runs @fn(@arg) as fiber "main" and the loop around it until it returns;
 * other fibers still alive then are abandoned (freed). Returns @fn's
 * status, or -HZ_ENOMEM if the main fiber cannot be created. If every
 * fiber is parked with nothing that could wake one (no timer, no device
 * wait), reports a deadlock and returns -HZ_ECANCELED.
 */
HZ_MUST_CHECK
int hz_sched_run(int (*fn)(void *arg), void *arg);

#endif
