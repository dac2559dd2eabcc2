/*
 * Fibers, wait queues and the event loop (see haze/sched.h).
 *
 * The loop runs on the stack the target started on; each fiber has its own
 * stack from the page allocator, with a guard page below it where the
 * target can protect pages (hz_platform_guard) and a canary above that. A
 * fiber that parks switches back to the loop, which runs the next runnable
 * fiber or, when none is left, blocks in hz_platform_yield until the
 * earliest timer or a device.
 */
#include <stddef.h>
#include <string.h>

#include "core/asan.h"
#include "haze/assert.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/random.h"
#include "haze/sched.h"

struct hz_ctx {
	void *sp;
};

/* From arch/x86_64/switch.S. */
void hz_ctx_switch(struct hz_ctx *from, struct hz_ctx *to);
void hz_ctx_start(void);

#define STACK_CANARY 0x487a5374616b21aaull /* checked at each switch */

enum fiber_state { FIBER_RUNNABLE, FIBER_PARKED, FIBER_DONE };

/*
 * Ended fibers' guarded stacks kept for reuse, while the loop runs: a
 * server spawning a fiber per connection then changes no page tables per
 * connection (setting and clearing a guard page is two mprotects on unix,
 * two page-table edits and TLB flushes at CPL 0 on kvm, which a PVM host
 * emulates). At most this many, 16 x 64 KiB for default stacks.
 */
#define STACK_CACHE_MAX 16

/*
 * While fibers are runnable the loop polls the devices between rounds, but
 * not more often than this: a poll is a system call on unix and a VM exit
 * on kvm (~15 us under PVM), and a round is often much shorter (a receive
 * fiber that yields after each batch makes every round busy). Input then
 * waits at most this long behind busy fibers.
 */
#define POLL_INTERVAL_NS 50000ull

struct hz_fiber {
	struct hz_ctx ctx;
	const char *name;
	void (*fn)(void *arg);
	void *arg;
	uint8_t *run;	   /* the stack's page run; its first page the guard */
	uint8_t *stack;	   /* lowest usable address; holds the canary */
	size_t stack_size; /* usable bytes */
	bool guarded;	   /* run's first page is inaccessible */
	enum fiber_state state;
	bool woken;	       /* queued by a wake or a spawn, not a yield */
	struct hz_fiber *next; /* run queue or wait queue link */
	struct hz_fiber *all_next;
	struct hz_waitq *waiting_on;
	struct hz_timer timer; /* sleep and wait deadlines */
	int wake_result;       /* 0 woken, -HZ_ETIMEDOUT */
	void *asan_fake_stack;
};

static struct {
	struct hz_ctx loop_ctx;
	struct hz_fiber *current; /* NULL while the loop itself runs */
	struct hz_fiber *runq_head;
	struct hz_fiber *runq_tail;
	struct hz_fiber *all;
	struct hz_defer *deferred;	/* to run when this round ends */
	struct hz_defer *deferred_last; /* then these (hz_defer_init_last) */
	unsigned woken; /* fibers woken or spawned in this pass */
	struct hz_waitq device_waiters[HZ_HANDLE_MAX];
	hz_ready_set_t device_waited;
	struct hz_sched_stats stats;
	/* ASan bookkeeping for the loop's own stack. */
	const void *loop_stack_bottom;
	size_t loop_stack_size;
	void *loop_fake_stack;
	/* Guarded stacks of ended fibers, kept for the next spawns. */
	struct stack_run {
		uint8_t *run;
		unsigned order;
	} stack_cache[STACK_CACHE_MAX];
	unsigned nstack_cache;
	uint64_t last_check; /* the last yield or poll of the devices */
} S;

HZ_LOG_SOURCE(sched_log, "sched");
/* Spawns refused because the target would not guard the stack. */
static HZ_COUNTER(guard_refused, "sched", "guard_refused");
/* Spawns given a cached guarded stack (no page-table change). */
static HZ_COUNTER(stack_reused, "sched", "stack_reused");

uint64_t hz_now(void)
{
	return hz_platform_clock_monotonic();
}

/* --- switching ----------------------------------------------------------- */

static void check_stack(const struct hz_fiber *f)
{
	uint64_t canary;

	memcpy(&canary, f->stack, sizeof(canary));
	if (canary != STACK_CANARY) {
		HZ_ERROR(&sched_log, "fiber %s overflowed its %zu-byte stack",
			 f->name, f->stack_size);
		hz_assert_fail("fiber stack canary intact", __FILE__, __LINE__);
	}
}

/* Leaves the loop for fiber @f until it parks or ends. */
static void switch_to_fiber(struct hz_fiber *f)
{
	S.current = f;
	S.stats.switches++;
#ifdef HZ_ASAN
	__sanitizer_start_switch_fiber(&S.loop_fake_stack, f->stack,
				       f->stack_size);
#endif
	hz_ctx_switch(&S.loop_ctx, &f->ctx);
#ifdef HZ_ASAN
	__sanitizer_finish_switch_fiber(S.loop_fake_stack, NULL, NULL);
#endif
	S.current = NULL;
	check_stack(f);
}

/* Called on a fiber's stack right after it gains the CPU. */
static void fiber_resumed(struct hz_fiber *f)
{
#ifdef HZ_ASAN
	__sanitizer_finish_switch_fiber(
	    f->asan_fake_stack, &S.loop_stack_bottom, &S.loop_stack_size);
#else
	(void)f;
#endif
}

/* Returns from the running fiber to the loop. */
static void switch_to_loop(struct hz_fiber *f)
{
#ifdef HZ_ASAN
	__sanitizer_start_switch_fiber(
	    f->state == FIBER_DONE ? NULL : &f->asan_fake_stack,
	    S.loop_stack_bottom, S.loop_stack_size);
#endif
	hz_ctx_switch(&f->ctx, &S.loop_ctx);
	fiber_resumed(f);
}

/* --- fibers -------------------------------------------------------------- */

static void runq_push(struct hz_fiber *f)
{
	f->state = FIBER_RUNNABLE;
	f->next = NULL;
	if (S.runq_tail != NULL)
		S.runq_tail->next = f;
	else
		S.runq_head = f;
	S.runq_tail = f;
}

static struct hz_fiber *runq_pop(void)
{
	struct hz_fiber *f = S.runq_head;

	if (f != NULL) {
		S.runq_head = f->next;
		if (S.runq_head == NULL)
			S.runq_tail = NULL;
		f->next = NULL;
	}
	return f;
}

static void fiber_entry(void *arg)
{
	struct hz_fiber *f = arg;

	fiber_resumed(f);
	f->fn(f->arg);
	f->state = FIBER_DONE;
	switch_to_loop(f);
	HZ_ASSERT(!"a finished fiber was resumed");
}

/* Unguards a page run of a stack and frees it; leaks it if it stays
 * guarded (a protected page would fault whoever gets it next). */
static void stack_run_free(uint8_t *run, const char *name)
{
	int r = hz_platform_guard(run, false);

	if (r < 0) {
		HZ_ERROR(&sched_log,
			 "fiber %s: cannot unprotect its guard page: %s; "
			 "its stack is not reused",
			 name, hz_strerror(r));
		return;
	}
	hz_pages_free(run);
}

/* Frees every cached stack: when the loop ends, or memory is short. */
static void stack_cache_drain(void)
{
	while (S.nstack_cache > 0)
		stack_run_free(S.stack_cache[--S.nstack_cache].run, "(ended)");
}

/* A kept guarded stack of @order for a new fiber, or NULL. */
static uint8_t *stack_cache_take(unsigned order)
{
	for (unsigned i = S.nstack_cache; i-- > 0;) {
		uint8_t *run = S.stack_cache[i].run;
		if (S.stack_cache[i].order != order)
			continue;
		S.stack_cache[i] = S.stack_cache[--S.nstack_cache];
		hz_counter_inc(&stack_reused);
		return run;
	}
	return NULL;
}

/*
 * Gives @f a new page run of @order, its first page made a guard page
 * where the target can: 0 guarded, -HZ_ENOTSUP unguarded, -HZ_ENOMEM.
 */
static int stack_run_new(struct hz_fiber *f, unsigned order)
{
	int r;

	f->run = hz_pages_alloc(order);
	if (f->run == NULL && S.nstack_cache > 0) {
		stack_cache_drain(); /* memory is short: the cache goes first */
		f->run = hz_pages_alloc(order);
	}
	if (f->run == NULL)
		return -HZ_ENOMEM;
	r = hz_platform_guard(f->run, true);
	if (r < 0 && r != -HZ_ENOTSUP) {
		/* Said once: a server at the limit would say it per spawn. */
		if (guard_refused.value == 0)
			HZ_ERROR(&sched_log,
				 "fiber %s: cannot guard its stack: %s (this "
				 "and later refusals: sched/guard_refused)",
				 f->name, hz_strerror(r));
		hz_counter_inc(&guard_refused);
		hz_pages_free(f->run);
		return -HZ_ENOMEM;
	}
	return r;
}

/*
 * Gives @f a stack of at least two pages holding @stack_size bytes (a
 * power-of-two run), whose first page is made a guard page where the
 * target can protect pages: an overflow then faults at once, and the
 * usable stack is one page less. Without a guard, the canary at the
 * lowest usable address is all there is. 0 or -HZ_ENOMEM.
 */
static int stack_alloc(struct hz_fiber *f, size_t stack_size)
{
	unsigned order = hz_pages_order(stack_size);
	int r;

	if (order == 0)
		order = 1; /* room for a guard page and a stack */
	f->run = stack_cache_take(order);
	r = f->run != NULL ? 0 : stack_run_new(f, order); /* kept: guarded */
	if (r < 0 && r != -HZ_ENOTSUP)
		return r;
	f->guarded = r == 0;
	f->stack = f->run + (f->guarded ? HZ_PAGE_SIZE : 0);
	f->stack_size =
	    ((size_t)HZ_PAGE_SIZE << order) - (f->guarded ? HZ_PAGE_SIZE : 0);
	return 0;
}

/*
 * Keeps @f's guarded stack for the next spawn while there is room, or
 * returns it to the allocator, accessible again.
 */
static void stack_free(struct hz_fiber *f)
{
	if (!f->guarded) {
		hz_pages_free(f->run);
	} else if (S.nstack_cache < STACK_CACHE_MAX) {
		S.stack_cache[S.nstack_cache++] = (struct stack_run){
		    .run = f->run,
		    .order = hz_pages_order(f->stack_size + HZ_PAGE_SIZE)};
	} else {
		stack_run_free(f->run, f->name);
	}
}

static struct hz_fiber *fiber_create(const char *name, void (*fn)(void *arg),
				     void *arg, size_t stack_size)
{
	struct hz_fiber *f;
	uint64_t *sp, canary = STACK_CANARY;

	if (stack_size == 0)
		stack_size = HZ_FIBER_STACK_DEFAULT;
	f = hz_calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->name = name;
	if (stack_alloc(f, stack_size) < 0) {
		hz_free(f);
		return NULL;
	}
	f->fn = fn;
	f->arg = arg;
	memcpy(f->stack, &canary, sizeof(canary));

	/*
	 * The frame hz_ctx_switch pops: x87 and SSE control words, r15..r12,
	 * rbx, rbp, then hz_ctx_start as return address. After the ret the
	 * stack pointer is 16-byte aligned, as a call site needs.
	 */
	sp = (uint64_t *)(f->stack + f->stack_size - 16) - 9;
	sp[0] = 0x037f; /* x87 control word: default */
	sp[1] = 0x1f80; /* MXCSR: default, all exceptions masked */
	sp[2] = 0;	/* r15 */
	sp[3] = 0;	/* r14 */
	sp[4] = 0;	/* r13 */
	sp[5] = (uintptr_t)fiber_entry; /* r12: entry */
	sp[6] = (uintptr_t)f;		/* rbx: its argument */
	sp[7] = 0;			/* rbp: ends frame-pointer backtraces */
	sp[8] = (uintptr_t)hz_ctx_start;
	f->ctx.sp = sp;

	f->all_next = S.all;
	S.all = f;
	S.stats.fibers++;
	return f;
}

static void fiber_destroy(struct hz_fiber *f)
{
	struct hz_fiber **pp = &S.all;

	while (*pp != f)
		pp = &(*pp)->all_next;
	*pp = f->all_next;
	hz_timer_cancel(&f->timer);
	stack_free(f);
	hz_free(f);
	S.stats.fibers--;
}

int hz_fiber_spawn(const char *name, void (*fn)(void *arg), void *arg,
		   size_t stack_size)
{
	struct hz_fiber *f = fiber_create(name, fn, arg, stack_size);

	if (f == NULL)
		return -HZ_ENOMEM;
	runq_push(f);
	f->woken = true;
	S.woken++;
	return 0;
}

/* Appends @s to @buf of @size bytes holding @n; returns the new length. */
static size_t append(char *buf, size_t size, size_t n, const char *s)
{
	while (*s != '\0' && n < size)
		buf[n++] = *s++;
	return n;
}

/* Appends @v in hexadecimal, with 0x; returns the new length. */
static size_t append_hex(char *buf, size_t size, size_t n, uintptr_t v)
{
	char digits[2 * sizeof(v) + 3];
	size_t i = sizeof(digits) - 1;

	digits[i] = '\0';
	do {
		digits[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0);
	digits[--i] = 'x';
	digits[--i] = '0';
	return append(buf, size, n, &digits[i]);
}

bool hz_runtime_fault(uintptr_t addr)
{
	for (const struct hz_fiber *f = S.all; f != NULL; f = f->all_next) {
		char line[160];
		size_t n = 0, room = sizeof(line) - 1;

		if (!f->guarded || addr - (uintptr_t)f->run >= HZ_PAGE_SIZE)
			continue;
		/* By hand, no printf: this runs in a signal handler on unix. */
		n = append(line, room, n, "fiber ");
		n = append(line, room, n, f->name);
		n = append(line, room, n,
			   " overflowed its stack (guard page at ");
		n = append_hex(line, room, n, (uintptr_t)f->run);
		n = append(line, room, n, ")");
		line[n++] = '\n';
		hz_platform_console_write(line, n);
		return true;
	}
	return false;
}

const char *hz_fiber_name(void)
{
	return S.current != NULL ? S.current->name : "loop";
}

static struct hz_fiber *running_fiber(void)
{
	HZ_ASSERT(S.current != NULL && "blocking call outside a fiber");
	return S.current;
}

void hz_fiber_yield(void)
{
	struct hz_fiber *f = running_fiber();

	runq_push(f);
	switch_to_loop(f);
}

/* --- wait queues ---------------------------------------------------------- */

static void waitq_remove(struct hz_waitq *q, struct hz_fiber *f)
{
	struct hz_fiber **pp = &q->head, *prev = NULL;

	while (*pp != NULL && *pp != f) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	HZ_ASSERT(*pp == f);
	*pp = f->next;
	if (q->tail == f)
		q->tail = prev;
	f->next = NULL;
}

static void wait_timed_out(struct hz_timer *t)
{
	struct hz_fiber *f =
	    (struct hz_fiber *)((char *)t - offsetof(struct hz_fiber, timer));

	if (f->waiting_on != NULL) {
		waitq_remove(f->waiting_on, f);
		f->waiting_on = NULL;
	}
	f->wake_result = -HZ_ETIMEDOUT;
	runq_push(f);
}

int hz_waitq_wait(struct hz_waitq *q, uint64_t deadline)
{
	struct hz_fiber *f = running_fiber();

	f->next = NULL;
	if (q->tail != NULL)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	f->waiting_on = q;
	f->wake_result = 0;
	if (deadline != HZ_DEADLINE_NEVER) {
		hz_timer_init(&f->timer, wait_timed_out);
		hz_timer_arm(&f->timer, deadline);
	}
	f->state = FIBER_PARKED;
	switch_to_loop(f);
	hz_timer_cancel(&f->timer);
	return f->wake_result;
}

bool hz_waitq_wake_one(struct hz_waitq *q)
{
	struct hz_fiber *f = q->head;

	if (f == NULL)
		return false;
	q->head = f->next;
	if (q->head == NULL)
		q->tail = NULL;
	f->waiting_on = NULL;
	f->wake_result = 0;
	hz_timer_cancel(&f->timer);
	runq_push(f);
	f->woken = true;
	S.woken++;
	return true;
}

size_t hz_waitq_wake_all(struct hz_waitq *q)
{
	size_t n = 0;

	while (hz_waitq_wake_one(q))
		n++;
	return n;
}

void hz_sleep_until(uint64_t deadline)
{
	struct hz_waitq alone = {0};
	int r = hz_waitq_wait(&alone, deadline);

	HZ_ASSERT(r == -HZ_ETIMEDOUT);
}

void hz_sleep_ns(uint64_t ns)
{
	uint64_t now = hz_now();

	hz_sleep_until(ns > HZ_DEADLINE_NEVER - 1 - now ? HZ_DEADLINE_NEVER - 1
							: now + ns);
}

int hz_device_wait(hz_handle_t h, uint64_t deadline)
{
	if (h < 0 || h >= HZ_HANDLE_MAX)
		return -HZ_EINVAL;
	S.device_waited |= (hz_ready_set_t)1 << h;
	return hz_waitq_wait(&S.device_waiters[h], deadline);
}

void hz_device_wake(hz_handle_t h)
{
	if (h < 0 || h >= HZ_HANDLE_MAX)
		return;
	hz_waitq_wake_all(&S.device_waiters[h]);
	S.device_waited &= ~((hz_ready_set_t)1 << h);
}

/* Wakes the fibers waiting on each ready device. */
static void wake_devices(hz_ready_set_t ready)
{
	ready &= S.device_waited;
	while (ready != 0) {
		int h = __builtin_ctzll(ready);

		ready &= ready - 1;
		hz_waitq_wake_all(&S.device_waiters[h]);
		S.device_waited &= ~((hz_ready_set_t)1 << h);
	}
}

/* --- deferred work -------------------------------------------------------- */

void hz_defer_init(struct hz_defer *d, void (*fn)(struct hz_defer *d))
{
	*d = (struct hz_defer){.fn = fn};
}

void hz_defer_init_last(struct hz_defer *d, void (*fn)(struct hz_defer *d))
{
	*d = (struct hz_defer){.fn = fn, .last = true};
}

/* The list @d is queued on. */
static struct hz_defer **defer_list(const struct hz_defer *d)
{
	return d->last ? &S.deferred_last : &S.deferred;
}

void hz_defer_queue(struct hz_defer *d)
{
	struct hz_defer **list = defer_list(d);

	HZ_ASSERT(d->fn != NULL);
	if (d->queued)
		return;
	d->queued = true;
	d->next = *list;
	*list = d;
}

void hz_defer_cancel(struct hz_defer *d)
{
	struct hz_defer **pp = defer_list(d);

	if (!d->queued)
		return;
	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	d->queued = false;
}

/*
 * Runs the work deferred during the round that just ended: the ordinary
 * kind first, all of it (what it queues too), then the last kind, one at
 * a time, going back to the ordinary kind whenever that queued more.
 */
static void run_deferred(void)
{
	for (;;) {
		struct hz_defer **list =
		    S.deferred != NULL ? &S.deferred : &S.deferred_last;
		struct hz_defer *d = *list;

		if (d == NULL)
			return;
		*list = d->next;
		d->queued = false;
		d->fn(d);
	}
}

/* --- the loop ------------------------------------------------------------- */

struct main_call {
	int (*fn)(void *arg);
	void *arg;
	int status;
	bool done;
};

static void main_fiber(void *arg)
{
	struct main_call *mc = arg;

	mc->status = mc->fn(mc->arg);
	mc->done = true;
}

/*
 * A round of fibers: each runnable fiber runs once; then, at most
 * ROUND_PASSES - 1 times, the fibers the last pass woke or spawned (a
 * reader given data, a connection's new fiber), so that what they do in
 * answer (a reply, a close) joins the round's deferred output; then the
 * deferred work. Fibers that yielded wait for the next round, and the
 * limit keeps fibers that wake each other from holding the output back.
 */
#define ROUND_PASSES 3

/*
 * Runs once each fiber that is runnable now, or with @woken_only only
 * those a wake or a spawn queued; the others keep their place, ahead of
 * fibers queued meanwhile.
 */
static void run_runnable(bool woken_only)
{
	struct hz_fiber *last = S.runq_tail, *f;
	struct hz_fiber *kept = NULL, *kept_tail = NULL;
	bool was_last = false;

	while (!was_last && (f = runq_pop()) != NULL) {
		was_last = f == last;
		if (woken_only && !f->woken) {
			f->next = NULL;
			if (kept_tail != NULL)
				kept_tail->next = f;
			else
				kept = f;
			kept_tail = f;
			continue;
		}
		f->woken = false;
		switch_to_fiber(f);
		if (f->state == FIBER_DONE)
			fiber_destroy(f);
	}
	if (kept != NULL) {
		kept_tail->next = S.runq_head;
		S.runq_head = kept;
		if (S.runq_tail == NULL)
			S.runq_tail = kept_tail;
	}
}

static bool nothing_can_wake(void)
{
	if (S.runq_head != NULL || hz_timers_next() != HZ_DEADLINE_NEVER)
		return false;
	for (int h = 0; h < HZ_HANDLE_MAX; h++)
		if (S.device_waiters[h].head != NULL)
			return false;
	return true;
}

/*
 * Frees every fiber left when the main fiber ends. A wait queue may live
 * on another fiber's stack, so every fiber leaves its queue before any
 * stack is freed.
 */
static void abandon_fibers(void)
{
	for (struct hz_fiber *f = S.all; f != NULL; f = f->all_next) {
		if (f->waiting_on != NULL) {
			waitq_remove(f->waiting_on, f);
			f->waiting_on = NULL;
		}
	}
	while (S.all != NULL)
		fiber_destroy(S.all);
	stack_cache_drain();
	S.runq_head = S.runq_tail = NULL;
	S.device_waited = 0;
}

int hz_sched_run(int (*fn)(void *arg), void *arg)
{
	struct main_call mc = {fn, arg, 0, false};
	hz_ready_set_t ready;
	bool told_ready = false;
	int result;

	HZ_ASSERT(S.current == NULL && "hz_sched_run inside a fiber");
	if (hz_fiber_spawn("main", main_fiber, &mc, HZ_FIBER_STACK_MAIN) < 0)
		return -HZ_ENOMEM;
	for (;;) {
		hz_timers_run(hz_now());
		for (int pass = 0; pass < ROUND_PASSES; pass++) {
			S.woken = 0;
			run_runnable(pass > 0);
			if (S.woken == 0)
				break;
		}
		run_deferred();
		if (mc.done)
			break;
		if (S.runq_head != NULL) {
			/* Busy fibers: poll devices without blocking, at most
			 * every POLL_INTERVAL_NS. */
			uint64_t now = hz_now();
			if (S.device_waited != 0 &&
			    now - S.last_check >= POLL_INTERVAL_NS) {
				S.last_check = now;
				hz_platform_yield(0, S.device_waited, &ready);
				hz_random_event(HZ_RANDOM_EV_LOOP, ready);
				S.stats.polls++;
				wake_devices(ready);
			}
			continue;
		}
		if (nothing_can_wake()) {
			HZ_ERROR(&sched_log,
				 "deadlock: every fiber waits and nothing can "
				 "wake one");
			mc.status = -HZ_ECANCELED;
			break;
		}
		/* Idle for the first time: whatever the application set up
		 * before its first wait (its listeners) exists now. */
		if (!told_ready) {
			told_ready = true;
			hz_platform_ready();
		}
		hz_platform_yield(hz_timers_next(), S.device_waited, &ready);
		S.last_check = hz_now();
		hz_random_event(HZ_RANDOM_EV_LOOP, ready);
		S.stats.yields++;
		wake_devices(ready);
	}
	/* hz_main returned without ever waiting: it was ready, and done;
	 * unless it failed, which it did before it could take any work
	 * (a bad option): no ready, so a host waiting for one (haze-jitsu)
	 * sees a failed start, not a service that came up and went. */
	if (!told_ready && mc.done && mc.status == 0)
		hz_platform_ready();
	result = mc.status;
	abandon_fibers();
	return result;
}

void hz_sched_stats(struct hz_sched_stats *st)
{
	*st = S.stats;
}
