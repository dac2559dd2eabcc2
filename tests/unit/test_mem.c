/*
 * Memory: the buddy page allocator (split, coalesce, alignment, exhaustion,
 * the high-water mark), hz_malloc size classes, calloc and realloc
 * contracts, budgets, and the fault-injection loop every allocating path
 * must survive without a leak.
 */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "haze/mem.h"
#include "haze/pbuf.h"

static struct hz_mem_stats stats(void)
{
	struct hz_mem_stats st;

	hz_mem_stats(&st);
	return st;
}

static void assert_heap_whole(void)
{
	struct hz_mem_stats st = stats();

	assert_int_equal(st.live_objects, 0);
	assert_int_equal(st.free_pages, st.heap_pages);
}

/* --- pages ---------------------------------------------------------------- */

#define MAXRUNS 4096 /* more than the test heap has pages */

/* The orders of the largest aligned runs that tile @pages pages. */
static size_t tiling(size_t pages, unsigned *orders)
{
	size_t n = 0;

	for (unsigned o = 31; o-- > 0;)
		if (pages & ((size_t)1 << o))
			orders[n++] = o;
	return n;
}

static void pages_split_and_coalesce(void **state)
{
	static void *run[MAXRUNS];
	static unsigned order[MAXRUNS];
	static size_t perm[MAXRUNS];
	size_t heap_pages = stats().heap_pages, used = 0, n = 0, ntile;
	unsigned tile[32];

	(void)state;
	srand(7);
	/* Random orders until the heap is full, so every run gets split. */
	for (unsigned max = 4;;) {
		unsigned o = (unsigned)rand() % (max + 1);
		void *p = hz_pages_alloc(o);

		if (p == NULL) {
			if (max == 0)
				break;
			max--;
			continue;
		}
		assert_true(n < MAXRUNS);
		run[n] = p;
		order[n] = o;
		/* Naturally aligned to the run, hence page-aligned. */
		assert_int_equal((uintptr_t)p % ((uintptr_t)HZ_PAGE_SIZE << o),
				 0);
		/* Writable end to end, and tagged to catch overlaps. */
		memset(p, (int)(n & 0xff), (size_t)HZ_PAGE_SIZE << o);
		used += (size_t)1 << o;
		assert_int_equal(stats().free_pages, heap_pages - used);
		perm[n] = n;
		n++;
	}
	assert_int_equal(used, heap_pages);
	assert_int_equal(stats().free_pages, 0);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = run[i];
		size_t len = (size_t)HZ_PAGE_SIZE << order[i];

		for (size_t k = 0; k < len; k += 512)
			if (p[k] != (i & 0xff))
				fail_msg("run %zu overwritten at %zu", i, k);
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		hz_pages_free(run[perm[i]]);
	assert_int_equal(stats().free_pages, heap_pages);

	/* Only full coalescing gives back the largest runs, all of them. */
	ntile = tiling(heap_pages, tile);
	for (size_t i = 0; i < ntile; i++) {
		run[i] = hz_pages_alloc(tile[i]);
		if (run[i] == NULL)
			fail_msg("no run of order %u after freeing", tile[i]);
	}
	assert_int_equal(stats().free_pages, 0);
	for (size_t i = 0; i < ntile; i++)
		hz_pages_free(run[i]);
	hz_pages_free(NULL);
	assert_heap_whole();
}

/*
 * A run shrunk keeps its first pages, contents and all, and gives the
 * rest back: the heap has them free at once, a run of their size can be
 * taken from them, and freeing the kept part coalesces the whole again.
 */
static void pages_shrink_gives_back_the_rest(void **state)
{
	size_t heap_pages = stats().heap_pages, runs4, runs3;
	unsigned char *p, *q;

	(void)state;
	p = hz_pages_alloc(4);
	assert_non_null(p);
	memset(p, 0x5a, 16 * HZ_PAGE_SIZE);
	assert_int_equal(stats().free_pages, heap_pages - 16);
	runs4 = hz_pages_free_at(4);
	runs3 = hz_pages_free_at(3);
	hz_pages_shrink(p, 1);
	assert_int_equal(stats().free_pages, heap_pages - 2);
	/* The halves given back are free, but not a 64 KiB run again while
	 * the kept pages are held: one more run of 8 pages, none of 16. */
	assert_int_equal(hz_pages_free_at(4), runs4);
	assert_int_equal(hz_pages_free_at(3), runs3 + 1);
	for (size_t k = 0; k < 2 * HZ_PAGE_SIZE; k++)
		if (p[k] != 0x5a)
			fail_msg("kept byte %zu changed", k);
	/* The largest half given back is a run of 8 pages again. */
	q = hz_pages_alloc(3);
	assert_true(q == p + 8 * HZ_PAGE_SIZE);
	hz_pages_free(q);
	hz_pages_shrink(p, 1); /* the same order: nothing changes */
	assert_int_equal(stats().free_pages, heap_pages - 2);
	hz_pages_shrink(p, 0);
	assert_int_equal(stats().free_pages, heap_pages - 1);
	hz_pages_free(p);
	assert_heap_whole();
	/* And the 16 pages are one run of order 4 again. */
	q = hz_pages_alloc(4);
	assert_true(q == p);
	hz_pages_free(q);
	assert_heap_whole();
}

/* The pages a shrink gives back are poisoned for ASan like any freed
 * pages: a read of one, in a child, ends it with ASan's report. */
static void pages_given_back_are_poisoned(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		volatile uint8_t *p = hz_pages_alloc(2);
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) /* ASan's report, expected, unprinted */
			dup2(null, STDERR_FILENO);

		hz_pages_shrink((void *)p, 0);
		(void)p[HZ_PAGE_SIZE];
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void pages_order_rounds_up(void **state)
{
	(void)state;
	assert_int_equal(hz_pages_order(0), 0);
	assert_int_equal(hz_pages_order(1), 0);
	assert_int_equal(hz_pages_order(HZ_PAGE_SIZE), 0);
	assert_int_equal(hz_pages_order(HZ_PAGE_SIZE + 1), 1);
	assert_int_equal(hz_pages_order(2 * HZ_PAGE_SIZE), 1);
	assert_int_equal(hz_pages_order(3 * HZ_PAGE_SIZE), 2);
	assert_int_equal(hz_pages_order(64 * HZ_PAGE_SIZE), 6);
	assert_int_equal(hz_pages_order(64 * HZ_PAGE_SIZE + 1), 7);
}

/* The high-water mark: the most pages in use at once, never the transient
 * drop while a large free run is split, and it stays after frees. */
static void peak_pages_is_the_high_water(void **state)
{
	size_t used, peak;
	void *a, *b, *c;

	(void)state;
	used = stats().heap_pages - stats().free_pages;
	peak = stats().peak_pages;
	assert_true(peak >= used);
	/* 1 MiB: far above anything the harness had in use. */
	a = hz_pages_alloc(8);
	assert_non_null(a);
	assert_true(used + 256 > peak);
	assert_int_equal(stats().peak_pages, used + 256);
	hz_pages_free(a);
	assert_int_equal(stats().peak_pages, used + 256);
	/* One page cut from a large run: in use grows by one, not by the
	 * run split on the way. */
	b = hz_pages_alloc(0);
	assert_non_null(b);
	assert_int_equal(stats().peak_pages, used + 256);
	/* A large hz_malloc (a run of 4 pages) counts as well. */
	a = hz_pages_alloc(8);
	c = hz_malloc(3 * HZ_PAGE_SIZE);
	assert_non_null(a);
	assert_non_null(c);
	assert_int_equal(stats().peak_pages, used + 261);
	hz_free(c);
	hz_pages_free(a);
	hz_pages_free(b);
	assert_int_equal(stats().heap_pages - stats().free_pages, used);
	assert_int_equal(stats().peak_pages, used + 261);
}

static void pages_exhaustion_returns_null(void **state)
{
	struct hz_mem_stats before = stats();
	void *list = NULL, *p;
	size_t n = 0;

	(void)state;
	/* An order far beyond the heap, and beyond any order at all. */
	assert_null(hz_pages_alloc(20));
	assert_null(hz_pages_alloc(200));
	assert_int_equal(stats().failures, before.failures + 2);

	/* Take every page, one at a time, chaining them through themselves. */
	while ((p = hz_pages_alloc(0)) != NULL) {
		*(void **)p = list;
		list = p;
		n++;
	}
	assert_int_equal(n, before.heap_pages);
	assert_int_equal(stats().free_pages, 0);
	assert_int_equal(stats().failures, before.failures + 3);
	assert_null(hz_malloc(16));
	assert_null(hz_malloc(10000));
	assert_int_equal(stats().failures, before.failures + 5);
	while (list != NULL) {
		p = list;
		list = *(void **)p;
		hz_pages_free(p);
	}
	assert_heap_whole();
}

/* --- hz_malloc ------------------------------------------------------------ */

#define MAXSZ 5000
#define BATCH 1000 /* sizes alive at once: all 5001 exceed the test heap */

static void malloc_every_size_usable_and_distinct(void **state)
{
	static unsigned char *blk[MAXSZ + 1];
	static size_t usable[MAXSZ + 1];

	(void)state;
	for (size_t lo = 0; lo <= MAXSZ; lo += BATCH) {
		size_t hi = lo + BATCH <= MAXSZ + 1 ? lo + BATCH : MAXSZ + 1;

		for (size_t sz = lo; sz < hi; sz++) {
			blk[sz] = hz_malloc(sz);
			assert_non_null(blk[sz]);
			assert_int_equal((uintptr_t)blk[sz] % 16, 0);
			usable[sz] = hz_malloc_usable_size(blk[sz]);
			assert_true(usable[sz] >= sz);
			/* Above the slab sizes an object is a page run. */
			if (sz > HZ_SLAB_MAX)
				assert_int_equal(
				    (uintptr_t)blk[sz] % HZ_PAGE_SIZE, 0);
			/* All of the usable size is ours (ASan checks). */
			memset(blk[sz], (int)(sz & 0xff), usable[sz]);
		}
		assert_int_equal(stats().live_objects, hi - lo);
		/* Nobody's memset ran over another block. */
		for (size_t sz = lo; sz < hi; sz++)
			for (size_t k = 0; k < usable[sz]; k++)
				if (blk[sz][k] != (sz & 0xff))
					fail_msg(
					    "block of %zu bytes overwritten "
					    "at %zu",
					    sz, k);
		for (size_t sz = lo; sz < hi; sz += 2)
			hz_free(blk[sz]);
		for (size_t sz = lo + 1; sz < hi; sz += 2)
			hz_free(blk[sz]);
		assert_heap_whole();
	}
	hz_free(NULL);
}

static void malloc_live_bytes_counts_usable_sizes(void **state)
{
	void *a, *b;

	(void)state;
	/* mem.h: live_bytes counts usable sizes: 128 + 2 pages here. */
	a = hz_malloc(100);
	b = hz_malloc(5000);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(hz_malloc_usable_size(a), 128);
	assert_int_equal(hz_malloc_usable_size(b), 2 * HZ_PAGE_SIZE);
	assert_int_equal(stats().live_bytes, 128 + 2 * HZ_PAGE_SIZE);
	hz_free(a);
	hz_free(b);
	assert_int_equal(stats().live_bytes, 0);
}

static void calloc_zeroes_and_checks_overflow(void **state)
{
	struct hz_mem_stats before;
	unsigned char *p;

	(void)state;
	/* Dirty a slab object and a page run, free them, calloc them back. */
	p = hz_malloc(64);
	assert_non_null(p);
	memset(p, 0xa5, 64);
	hz_free(p);
	p = hz_calloc(8, 8);
	assert_non_null(p);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	hz_free(p);
	p = hz_malloc(3 * HZ_PAGE_SIZE);
	assert_non_null(p);
	memset(p, 0xa5, 3 * HZ_PAGE_SIZE);
	hz_free(p);
	p = hz_calloc(3, HZ_PAGE_SIZE);
	assert_non_null(p);
	for (size_t i = 0; i < 3 * HZ_PAGE_SIZE; i++)
		assert_int_equal(p[i], 0);
	hz_free(p);

	before = stats();
	assert_null(hz_calloc(SIZE_MAX / 2 + 1, 2));
	assert_null(hz_calloc(2, SIZE_MAX / 2 + 1));
	assert_null(hz_calloc((size_t)1 << 33, (size_t)1 << 33));
	assert_int_equal(stats().failures, before.failures + 3);
	p = hz_calloc(0, 10);
	assert_non_null(p);
	hz_free(p);
	assert_heap_whole();
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static void check_fill(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			fail_msg("byte %zu of %zu lost", i, n);
}

static void realloc_keeps_contents(void **state)
{
	static const size_t sizes[] = {10,    100,  2048, 2049, 9000, 70000,
				       40000, 5000, 3000, 2000, 17,   1};
	unsigned char *p;
	size_t have;

	(void)state;
	p = hz_realloc(NULL, 5);
	assert_non_null(p);
	fill(p, 5, 3);
	have = 5;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t keep = have < sizes[i] ? have : sizes[i];

		p = hz_realloc(p, sizes[i]);
		assert_non_null(p);
		assert_true(hz_malloc_usable_size(p) >= sizes[i]);
		check_fill(p, keep, 3);
		fill(p, sizes[i], 3);
		have = sizes[i];
		assert_int_equal(stats().live_objects, 1);
	}
	hz_free(p);
	assert_heap_whole();
}

static void realloc_failure_leaves_original(void **state)
{
	unsigned char *p, *q;
	uint64_t failures;

	(void)state;
	p = hz_malloc(100);
	assert_non_null(p);
	fill(p, 100, 9);
	failures = stats().failures;
	hz_mem_fail_nth(1);
	q = hz_realloc(p, 10000);
	assert_null(q);
	assert_int_equal(stats().failures, failures + 1);
	assert_int_equal(stats().live_objects, 1);
	check_fill(p, 100, 9);
	/* The injection is spent: the same call now succeeds. */
	q = hz_realloc(p, 10000);
	assert_non_null(q);
	check_fill(q, 100, 9);
	hz_free(q);
	assert_heap_whole();
}

static void fail_nth_counts_down(void **state)
{
	void *a, *b, *c;

	(void)state;
	hz_mem_fail_nth(3);
	a = hz_malloc(8);
	b = hz_pages_alloc(0);
	c = hz_malloc(8);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(c);
	/* Only the n-th fails, not every one after it. */
	c = hz_malloc(8);
	assert_non_null(c);
	hz_free(a);
	hz_free(c);
	hz_pages_free(b);
	/* 0 turns injection off. */
	hz_mem_fail_nth(1);
	hz_mem_fail_nth(0);
	a = hz_malloc(8);
	assert_non_null(a);
	hz_free(a);
}

/* --- budgets -------------------------------------------------------------- */

static void budget_charge_release_refuse(void **state)
{
	struct hz_budget b = HZ_BUDGET_INIT("test", 1000);

	(void)state;
	assert_int_equal(hz_budget_charge(&b, 600), 0);
	assert_int_equal(hz_budget_charge(&b, 400), 0);
	assert_int_equal(b.used, 1000);
	assert_int_equal(hz_budget_charge(&b, 1), -HZ_ENOMEM);
	assert_int_equal(b.used, 1000);
	assert_int_equal(b.refused, 1);
	hz_budget_release(&b, 400);
	assert_int_equal(b.used, 600);
	assert_int_equal(hz_budget_charge(&b, 401), -HZ_ENOMEM);
	/* A charge so large that used + bytes would wrap. */
	assert_int_equal(hz_budget_charge(&b, SIZE_MAX), -HZ_ENOMEM);
	assert_int_equal(b.refused, 3);
	assert_int_equal(hz_budget_charge(&b, 400), 0);
	assert_int_equal(hz_budget_charge(&b, 0), 0);
	hz_budget_release(&b, 1000);
	assert_int_equal(b.used, 0);
}

static void budget_alloc_refuses_and_releases(void **state)
{
	struct hz_budget b = HZ_BUDGET_INIT("test", 3000);
	void *p, *q;

	(void)state;
	p = hz_budget_alloc(&b, 2000);
	assert_non_null(p);
	assert_int_equal(b.used, 2000);
	memset(p, 1, 2000);
	/* Over budget: refused without touching the heap. */
	q = hz_budget_alloc(&b, 1001);
	assert_null(q);
	assert_int_equal(b.refused, 1);
	assert_int_equal(b.used, 2000);
	assert_int_equal(stats().live_objects, 1);
	/* The heap refuses: the charge is given back. */
	hz_mem_fail_nth(1);
	q = hz_budget_alloc(&b, 1000);
	assert_null(q);
	assert_int_equal(b.used, 2000);
	assert_int_equal(b.refused, 1);
	q = hz_budget_alloc(&b, 1000);
	assert_non_null(q);
	assert_int_equal(b.used, 3000);
	hz_budget_free(&b, p, 2000);
	hz_budget_free(&b, q, 1000);
	hz_budget_free(&b, NULL, 5);
	assert_int_equal(b.used, 0);
	assert_heap_whole();
}

/* --- fault injection ------------------------------------------------------ */

#define CHAIN 5
#define NPAGES 3
#define NVIEWS 2
/* hz_malloc per node, hz_pages_alloc per run, header + data per pbuf. */
#define BUILD_ALLOCS (CHAIN + NPAGES + 2 * NVIEWS)

struct node {
	struct node *next;
	int value;
};

struct thing {
	struct node *chain;
	void *pages[NPAGES];
	struct hz_view views[NVIEWS];
};

static void thing_free(struct thing *t)
{
	while (t->chain != NULL) {
		struct node *n = t->chain;

		t->chain = n->next;
		hz_free(n);
	}
	for (int i = 0; i < NPAGES; i++) {
		hz_pages_free(t->pages[i]);
		t->pages[i] = NULL;
	}
	for (int i = 0; i < NVIEWS; i++)
		hz_view_release(&t->views[i]);
}

/* Builds @t with BUILD_ALLOCS allocations; on failure leaves nothing. */
static int thing_build(struct thing *t)
{
	int r;

	*t = (struct thing){0};
	for (int i = 0; i < CHAIN; i++) {
		struct node *n = hz_malloc(sizeof(*n));

		if (n == NULL)
			goto fail;
		n->value = i;
		n->next = t->chain;
		t->chain = n;
	}
	for (int i = 0; i < NPAGES; i++) {
		t->pages[i] = hz_pages_alloc((unsigned)i);
		if (t->pages[i] == NULL)
			goto fail;
	}
	for (int i = 0; i < NVIEWS; i++) {
		r = hz_pbuf_alloc(NULL, 1000u * (unsigned)(i + 1),
				  &t->views[i]);
		if (r < 0) {
			assert_int_equal(r, -HZ_ENOMEM);
			assert_null(t->views[i].pb);
			goto fail;
		}
	}
	return 0;
fail:
	thing_free(t);
	return -HZ_ENOMEM;
}

static void fault_injection_loop(void **state)
{
	struct thing t;
	uint64_t n;
	int r;

	(void)state;
	for (n = 1;; n++) {
		uint64_t failures = stats().failures;

		hz_mem_fail_nth(n);
		r = thing_build(&t);
		hz_mem_fail_nth(0);
		if (r == 0)
			break;
		assert_int_equal(r, -HZ_ENOMEM);
		assert_int_equal(stats().failures, failures + 1);
		assert_heap_whole();
		assert_int_equal(hz_pbuf_live(), 0);
		assert_true(n <= BUILD_ALLOCS);
	}
	/* It failed for every n up to the number of allocations, no more. */
	assert_int_equal(n, BUILD_ALLOCS + 1);
	assert_int_equal(hz_pbuf_live(), NVIEWS);
	thing_free(&t);
	assert_heap_whole();
	assert_int_equal(hz_pbuf_live(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(pages_split_and_coalesce),
	    HARNESS_TEST(pages_order_rounds_up),
	    HARNESS_TEST(pages_shrink_gives_back_the_rest),
	    HARNESS_TEST(pages_given_back_are_poisoned),
	    HARNESS_TEST(peak_pages_is_the_high_water),
	    HARNESS_TEST(pages_exhaustion_returns_null),
	    HARNESS_TEST(malloc_every_size_usable_and_distinct),
	    HARNESS_TEST(malloc_live_bytes_counts_usable_sizes),
	    HARNESS_TEST(calloc_zeroes_and_checks_overflow),
	    HARNESS_TEST(realloc_keeps_contents),
	    HARNESS_TEST(realloc_failure_leaves_original),
	    HARNESS_TEST(fail_nth_counts_down),
	    HARNESS_TEST(budget_charge_release_refuse),
	    HARNESS_TEST(budget_alloc_refuses_and_releases),
	    HARNESS_TEST(fault_injection_loop),
	};

	return HARNESS_RUN("mem", tests);
}
