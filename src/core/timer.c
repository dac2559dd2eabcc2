/*
 * Timers: an intrusive pairing heap ordered by (deadline, arming order).
 * Arm, cancel and re-arm cost O(1) amortised except removal of the minimum
 * (O(log n) amortised), and no operation allocates.
 */
#include <stddef.h>

#include "haze/assert.h"
#include "haze/sched.h"

static struct {
	struct hz_timer *root;
	uint64_t seq;
} timers;

static bool before(const struct hz_timer *a, const struct hz_timer *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->seq < b->seq);
}

/* Melds two detached heaps; the loser becomes the winner's first child. */
static struct hz_timer *meld(struct hz_timer *a, struct hz_timer *b)
{
	if (before(b, a)) {
		struct hz_timer *t = a;

		a = b;
		b = t;
	}
	b->prev = a;
	b->sibling = a->child;
	if (a->child != NULL)
		a->child->prev = b;
	a->child = b;
	return a;
}

/* Two-pass pairing of a sibling list into one detached heap. */
static struct hz_timer *merge_pairs(struct hz_timer *first)
{
	struct hz_timer *pairs = NULL, *heap = NULL;

	while (first != NULL) {
		struct hz_timer *a = first, *b = first->sibling;

		first = b != NULL ? b->sibling : NULL;
		a->sibling = a->prev = NULL;
		if (b != NULL) {
			b->sibling = b->prev = NULL;
			a = meld(a, b);
		}
		a->sibling = pairs;
		pairs = a;
	}
	while (pairs != NULL) {
		struct hz_timer *next = pairs->sibling;

		pairs->sibling = NULL;
		heap = heap != NULL ? meld(heap, pairs) : pairs;
		pairs = next;
	}
	return heap;
}

static void detach(struct hz_timer *t)
{
	struct hz_timer *sub;

	if (t == timers.root) {
		timers.root = merge_pairs(t->child);
	} else {
		if (t->prev->child == t)
			t->prev->child = t->sibling;
		else
			t->prev->sibling = t->sibling;
		if (t->sibling != NULL)
			t->sibling->prev = t->prev;
		sub = merge_pairs(t->child);
		if (sub != NULL)
			timers.root = meld(timers.root, sub);
	}
	t->child = t->sibling = t->prev = NULL;
	t->armed = false;
}

void hz_timer_init(struct hz_timer *t, void (*fn)(struct hz_timer *t))
{
	*t = (struct hz_timer){.fn = fn};
}

void hz_timer_arm(struct hz_timer *t, uint64_t deadline)
{
	HZ_ASSERT(t->fn != NULL);
	if (t->armed)
		detach(t);
	t->deadline = deadline;
	t->seq = timers.seq++;
	t->armed = true;
	timers.root = timers.root != NULL ? meld(timers.root, t) : t;
}

void hz_timer_cancel(struct hz_timer *t)
{
	if (t->armed)
		detach(t);
}

uint64_t hz_timers_next(void)
{
	return timers.root != NULL ? timers.root->deadline : HZ_DEADLINE_NEVER;
}

size_t hz_timers_run(uint64_t now)
{
	/* Timers armed by the callbacks below wait for the next run. */
	uint64_t seq_limit = timers.seq;
	size_t fired = 0;

	while (timers.root != NULL && timers.root->deadline <= now &&
	       timers.root->seq < seq_limit) {
		struct hz_timer *t = timers.root;

		detach(t);
		fired++;
		t->fn(t);
	}
	return fired;
}
