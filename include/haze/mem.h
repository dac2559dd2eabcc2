/*
 * Memory: a page allocator and a general allocator over the heap region the
 * target hands the runtime, per-subsystem budgets, and fault injection.
 *
 * Pages come from a binary buddy allocator (runs of 2^order pages, naturally
 * aligned). Small objects (up to HZ_SLAB_MAX bytes) come from per-size-class
 * slab pages; larger ones are page runs. Nothing here aborts on exhaustion:
 * every allocator returns NULL and the caller drops and counts.
 *
 * A budget caps what one subsystem may hold (TCP buffers, reassembly,
 * connections) so that no flood can take the whole heap.
 */
#ifndef HAZE_MEM_H
#define HAZE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

#define HZ_PAGE_SIZE 4096u
#define HZ_PAGE_SHIFT 12
#define HZ_SLAB_MAX 2048u
#define HZ_MALLOC __attribute__((malloc, warn_unused_result))

/* Takes over [start, start + size) as the heap; page-aligned, once. */
HZ_MUST_CHECK
int hz_mem_init(uintptr_t start, size_t size);

/* Returns 2^@order contiguous pages aligned to their size, or NULL. */
HZ_MALLOC void *hz_pages_alloc(unsigned order);

/* Returns pages from hz_pages_alloc to the heap. NULL is ignored. */
void hz_pages_free(void *p);

/*
 * Keeps the first 2^@order pages of run @p (from hz_pages_alloc, of order
 * @order or more) and returns the rest of it to the heap.
 */
void hz_pages_shrink(void *p, unsigned order);

/*
 * How many runs of 2^@order pages the heap could give now: its free runs
 * of that order or larger, in runs of that size. (Free pages in smaller
 * runs, which a fragmented heap holds, do not count.)
 */
size_t hz_pages_free_at(unsigned order);

/* Returns the smallest order whose run holds @bytes. */
unsigned hz_pages_order(size_t bytes);

/* Allocates @size bytes aligned to 16 (to the page above HZ_SLAB_MAX). */
HZ_MALLOC void *hz_malloc(size_t size);

/* Allocates @n * @size zeroed bytes; NULL on overflow or exhaustion. */
HZ_MALLOC void *hz_calloc(size_t n, size_t size);

/* Resizes @p; on failure returns NULL and leaves @p untouched. */
HZ_MUST_CHECK void *hz_realloc(void *p, size_t size);

/* Frees memory from hz_malloc, hz_calloc or hz_realloc. NULL is ignored. */
void hz_free(void *p);

/* Returns the usable size of an allocation from hz_malloc. */
size_t hz_malloc_usable_size(const void *p);

struct hz_mem_stats {
	size_t heap_pages;   /* pages under management */
	size_t free_pages;   /* pages free in the buddy allocator */
	size_t peak_pages;   /* most pages in use at once (the high-water) */
	size_t live_objects; /* hz_malloc allocations not yet freed */
	size_t live_bytes;   /* their usable sizes (hz_malloc_usable_size) */
	uint64_t failures;   /* allocations refused (exhaustion or injected) */
};

/* Fills @st with the allocator's current figures. */
void hz_mem_stats(struct hz_mem_stats *st);

/*
 * Fault injection: makes the @n-th allocation from now (1 = the next) fail,
 * whichever allocator serves it; 0 turns it off. Used by tests that loop
 * n = 1, 2, 3, ... until the code under test succeeds.
 */
void hz_mem_fail_nth(uint64_t n);

/* --- budgets ------------------------------------------------------------ */

struct hz_budget {
	const char *name;
	size_t limit; /* bytes */
	size_t used;
	uint64_t refused; /* charges refused for want of room */
};

/* A budget named @n that may hold @limit bytes. */
#define HZ_BUDGET_INIT(n, limit_)              \
	{                                      \
		.name = (n), .limit = (limit_) \
	}

/* Charges @bytes to @b. 0, or -HZ_ENOMEM (counted) if it would overflow. */
HZ_MUST_CHECK
int hz_budget_charge(struct hz_budget *b, size_t bytes);

/* Returns @bytes to @b; releasing more than was charged is a bug. */
void hz_budget_release(struct hz_budget *b, size_t bytes);

/* Allocates @size bytes charged to @b, or NULL (budget or heap). */
HZ_MALLOC void *hz_budget_alloc(struct hz_budget *b, size_t size);

/* Frees an allocation of @size bytes made by hz_budget_alloc. */
void hz_budget_free(struct hz_budget *b, void *p, size_t size);

#endif
