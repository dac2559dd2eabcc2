/*
 * The heap: a binary buddy allocator for pages, slab pages for small
 * objects, budgets, and an allocation-failure injector for tests.
 *
 * The heap region starts with a table of struct page_meta, one per page,
 * followed by the managed pages. Free runs of 2^order pages sit on one
 * doubly linked list per order, linked by page index through the table, so
 * free pages are never written (and stay poisoned under ASan).
 *
 * The table is never cleared: each entry carries the cookie of the
 * hz_mem_init that wrote it, and an entry with another cookie reads as an
 * unused page. Start-up therefore touches a handful of pages whatever the
 * heap's size (on a hypervisor, every first touch of a page is a fault).
 */
#include "haze/mem.h"

#include <string.h>

#include "core/asan.h"
#include "haze/assert.h"

#define MAX_ORDER 24 /* 2^24 pages = 64 GiB, more than any guest */
#define NONE UINT32_MAX
#define SLAB_CLASSES 8 /* 16, 32, ... 2048 */
#define SLAB_MIN_SHIFT 4

enum page_state {
	PAGE_UNUSED = 0, /* inside a run, not its head */
	PAGE_FREE,	 /* head of a free run */
	PAGE_PAGES,	 /* head of a run from hz_pages_alloc */
	PAGE_LARGE,	 /* head of a run serving one large hz_malloc */
	PAGE_SLAB,	 /* a slab page of one size class */
};

struct page_meta {
	uint64_t cookie; /* heap.cookie when written, else stale */
	uint8_t state;	 /* enum page_state */
	uint8_t order;	 /* run order, or slab class */
	uint16_t inuse;	 /* slab: objects handed out */
	uint32_t prev;	 /* free run or partial slab list links */
	uint32_t next;
	void *freelist; /* slab: first free object */
	size_t size;	/* large: bytes requested */
};

struct heap {
	uint64_t cookie; /* of this hz_mem_init */
	uintptr_t base;	 /* first managed page */
	uint32_t npages; /* managed pages */
	struct page_meta *meta;
	uint32_t free_head[MAX_ORDER + 1];
	uint32_t free_runs[MAX_ORDER + 1];   /* runs on each free list */
	uint32_t slab_partial[SLAB_CLASSES]; /* slabs with a free object */
	size_t free_pages;
	size_t peak_pages; /* most pages allocated at once */
	size_t live_objects;
	size_t live_bytes;
	uint64_t failures;
	uint64_t fail_countdown; /* 0: no injection */
};

static struct heap heap;
static uint64_t inits; /* how many hz_mem_init calls, for cookies */

/* Page @i's entry, claimed for this heap (reset) if it is stale. */
static struct page_meta *meta(uint32_t i)
{
	struct page_meta *m = &heap.meta[i];

	if (m->cookie != heap.cookie)
		*m = (struct page_meta){.cookie = heap.cookie};
	return m;
}

static void *page_addr(uint32_t i)
{
	return (void *)(heap.base + ((uintptr_t)i << HZ_PAGE_SHIFT));
}

/* The absolute page number of page @i (its address / page size). */
static uint64_t page_pfn(uint32_t i)
{
	return (heap.base >> HZ_PAGE_SHIFT) + i;
}

static uint32_t page_index(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	HZ_ASSERT(a >= heap.base);
	a = (a - heap.base) >> HZ_PAGE_SHIFT;
	HZ_ASSERT(a < heap.npages);
	return (uint32_t)a;
}

/* --- intrusive lists through the page table ------------------------------ */

static void list_push(uint32_t *head, uint32_t i)
{
	meta(i)->prev = NONE;
	meta(i)->next = *head;
	if (*head != NONE)
		meta(*head)->prev = i;
	*head = i;
}

static void list_remove(uint32_t *head, uint32_t i)
{
	struct page_meta *m = meta(i);

	if (m->prev != NONE)
		meta(m->prev)->next = m->next;
	else
		*head = m->next;
	if (m->next != NONE)
		meta(m->next)->prev = m->prev;
	m->prev = m->next = NONE;
}

/* --- buddy allocator ----------------------------------------------------- */

static void free_run_add(uint32_t i, unsigned order)
{
	meta(i)->state = PAGE_FREE;
	meta(i)->order = (uint8_t)order;
	list_push(&heap.free_head[order], i);
	heap.free_runs[order]++;
	heap.free_pages += (size_t)1 << order;
}

static void free_run_take(uint32_t i, unsigned order)
{
	list_remove(&heap.free_head[order], i);
	heap.free_runs[order]--;
	meta(i)->state = PAGE_UNUSED;
	heap.free_pages -= (size_t)1 << order;
}

int hz_mem_init(uintptr_t start, size_t size)
{
	size_t total, meta_pages, meta_bytes;

	if (start % HZ_PAGE_SIZE || size % HZ_PAGE_SIZE ||
	    size < 4 * HZ_PAGE_SIZE)
		return -HZ_EINVAL;
	total = size >> HZ_PAGE_SHIFT;
	if (total > UINT32_MAX - 1)
		return -HZ_EINVAL;
	meta_bytes = total * sizeof(struct page_meta);
	meta_pages = (meta_bytes + HZ_PAGE_SIZE - 1) >> HZ_PAGE_SHIFT;

	memset(&heap, 0, sizeof(heap));
	/* An odd multiplier: distinct, non-zero, unlikely in stale data. */
	heap.cookie = ++inits * 0x9e3779b97f4a7c15ull;
	heap.meta = (struct page_meta *)start;
	heap.base = start + (meta_pages << HZ_PAGE_SHIFT);
	heap.npages = (uint32_t)(total - meta_pages);
	for (unsigned o = 0; o <= MAX_ORDER; o++)
		heap.free_head[o] = NONE; /* free_runs: zeroed above */
	for (unsigned c = 0; c < SLAB_CLASSES; c++)
		heap.slab_partial[c] = NONE;

	/*
	 * Carve the managed pages into the largest runs that fit and are
	 * aligned to their size in the address space (buddies are found by
	 * absolute page number, so every run stays naturally aligned).
	 */
	for (uint32_t i = 0; i < heap.npages;) {
		uint64_t pfn = page_pfn(i);
		unsigned o = MAX_ORDER;

		while (o > 0 && ((pfn & ((1ull << o) - 1)) != 0 ||
				 (uint64_t)i + (1u << o) > heap.npages))
			o--;
		free_run_add(i, o);
		i += 1u << o;
	}
	hz_asan_poison((void *)heap.base, (size_t)heap.npages << HZ_PAGE_SHIFT);
	return 0;
}

/* Whether an injected failure is due; counts down one allocation. */
static bool inject_failure(void)
{
	if (heap.fail_countdown == 0)
		return false;
	return --heap.fail_countdown == 0;
}

static void *pages_take(unsigned order)
{
	unsigned o = order;
	uint32_t i;

	while (o <= MAX_ORDER && heap.free_head[o] == NONE)
		o++;
	if (o > MAX_ORDER)
		return NULL;
	i = heap.free_head[o];
	free_run_take(i, o);
	/* Split, returning upper halves to the free lists. */
	while (o > order) {
		o--;
		free_run_add(i + (1u << o), o);
	}
	meta(i)->order = (uint8_t)order;
	/* Here, not in free_run_take: a split takes a whole run before it
	 * gives the halves back, and the peak must not count them. */
	if (heap.npages - heap.free_pages > heap.peak_pages)
		heap.peak_pages = heap.npages - heap.free_pages;
	hz_asan_unpoison(page_addr(i), (size_t)HZ_PAGE_SIZE << order);
	return page_addr(i);
}

static void pages_give(uint32_t i, unsigned order)
{
	hz_asan_poison(page_addr(i), (size_t)HZ_PAGE_SIZE << order);
	while (order < MAX_ORDER) {
		/* Below the heap, the subtraction wraps and fails the test. */
		uint64_t buddy = (page_pfn(i) ^ (1ull << order)) - page_pfn(0);

		if (buddy >= heap.npages ||
		    meta((uint32_t)buddy)->state != PAGE_FREE ||
		    meta((uint32_t)buddy)->order != order)
			break;
		free_run_take((uint32_t)buddy, order);
		if (buddy < i)
			i = (uint32_t)buddy;
		order++;
	}
	free_run_add(i, order);
}

unsigned hz_pages_order(size_t bytes)
{
	size_t pages = (bytes + HZ_PAGE_SIZE - 1) >> HZ_PAGE_SHIFT;
	unsigned o = 0;

	while (((size_t)1 << o) < pages)
		o++;
	return o;
}

void *hz_pages_alloc(unsigned order)
{
	void *p = NULL;

	if (order <= MAX_ORDER && !inject_failure())
		p = pages_take(order);
	if (p == NULL) {
		heap.failures++;
		return NULL;
	}
	meta(page_index(p))->state = PAGE_PAGES;
	return p;
}

void hz_pages_free(void *p)
{
	uint32_t i;

	if (p == NULL)
		return;
	i = page_index(p);
	HZ_ASSERT(meta(i)->state == PAGE_PAGES);
	HZ_ASSERT(((uintptr_t)p & (HZ_PAGE_SIZE - 1)) == 0);
	pages_give(i, meta(i)->order);
}

size_t hz_pages_free_at(unsigned order)
{
	size_t n = 0;

	for (unsigned o = order; o <= MAX_ORDER; o++)
		n += (size_t)heap.free_runs[o] << (o - order);
	return n;
}

void hz_pages_shrink(void *p, unsigned order)
{
	uint32_t i = page_index(p);
	unsigned o = meta(i)->order;

	HZ_ASSERT(meta(i)->state == PAGE_PAGES && order <= o);
	/* Undoes pages_take's splits: the upper halves go back, largest
	 * first; their buddies (the kept run) are in use, so none merges. */
	while (o > order) {
		o--;
		pages_give(i + (1u << o), o);
	}
	meta(i)->order = (uint8_t)order;
}

/* --- slabs and hz_malloc -------------------------------------------------- */

static unsigned slab_class(size_t size)
{
	unsigned c = 0;

	while (((size_t)1 << (c + SLAB_MIN_SHIFT)) < size)
		c++;
	return c;
}

static size_t class_size(unsigned c)
{
	return (size_t)1 << (c + SLAB_MIN_SHIFT);
}

static bool slab_grow(unsigned c)
{
	size_t sz = class_size(c);
	char *page = pages_take(0);
	struct page_meta *m;
	void *list = NULL;
	uint32_t i;

	if (page == NULL)
		return false;
	/* The list is built in a local: a slab of 16-byte objects has 256,
	 * and an empty slab goes back, so this runs often. */
	for (size_t off = HZ_PAGE_SIZE; off >= sz; off -= sz) {
		void **obj = (void **)(page + off - sz);

		*obj = list;
		list = obj;
	}
	i = page_index(page);
	m = meta(i);
	m->state = PAGE_SLAB;
	m->order = (uint8_t)c;
	m->inuse = 0;
	m->freelist = list;
	hz_asan_poison(page, HZ_PAGE_SIZE);
	list_push(&heap.slab_partial[c], i);
	return true;
}

static void *slab_alloc(unsigned c)
{
	struct page_meta *m;
	uint32_t i;
	void **obj;

	if (heap.slab_partial[c] == NONE && !slab_grow(c))
		return NULL;
	i = heap.slab_partial[c];
	m = meta(i);
	obj = m->freelist;
	hz_asan_unpoison(obj, class_size(c));
	m->freelist = *obj;
	m->inuse++;
	if (m->freelist == NULL)
		list_remove(&heap.slab_partial[c], i);
	return obj;
}

static void slab_free(uint32_t i, void *p)
{
	struct page_meta *m = meta(i);
	unsigned c = m->order;
	size_t sz = class_size(c);

	HZ_ASSERT(((uintptr_t)p - (uintptr_t)page_addr(i)) % sz == 0);
	if (m->freelist == NULL)
		list_push(&heap.slab_partial[c], i);
	*(void **)p = m->freelist;
	m->freelist = p;
	hz_asan_poison(p, sz);
	if (--m->inuse == 0) {
		/* An empty slab goes back to the page allocator. */
		list_remove(&heap.slab_partial[c], i);
		m->state = PAGE_UNUSED;
		pages_give(i, 0);
	}
}

void *hz_malloc(size_t size)
{
	void *p = NULL;

	if (inject_failure())
		goto refused;
	if (size <= HZ_SLAB_MAX) {
		p = slab_alloc(slab_class(size));
	} else if (size <= ((size_t)HZ_PAGE_SIZE << MAX_ORDER)) {
		unsigned order = hz_pages_order(size);

		p = pages_take(order);
		if (p != NULL) {
			struct page_meta *m = meta(page_index(p));

			m->state = PAGE_LARGE;
			m->size = size;
		}
	}
	if (p == NULL)
		goto refused;
	heap.live_objects++;
	heap.live_bytes += hz_malloc_usable_size(p);
	return p;
refused:
	heap.failures++;
	return NULL;
}

void *hz_calloc(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size) {
		heap.failures++;
		return NULL;
	}
	p = hz_malloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

size_t hz_malloc_usable_size(const void *p)
{
	const struct page_meta *m = meta(page_index(p));

	if (m->state == PAGE_SLAB)
		return class_size(m->order);
	HZ_ASSERT(m->state == PAGE_LARGE);
	return (size_t)HZ_PAGE_SIZE << m->order;
}

void *hz_realloc(void *p, size_t size)
{
	void *q;
	size_t old;

	if (p == NULL)
		return hz_malloc(size);
	old = hz_malloc_usable_size(p);
	if (size <= old && (old <= HZ_SLAB_MAX || size > old / 2))
		return p;
	q = hz_malloc(size);
	if (q == NULL)
		return NULL;
	memcpy(q, p, size < old ? size : old);
	hz_free(p);
	return q;
}

void hz_free(void *p)
{
	uint32_t i;
	struct page_meta *m;

	if (p == NULL)
		return;
	i = page_index(p);
	m = meta(i);
	heap.live_objects--;
	heap.live_bytes -= hz_malloc_usable_size(p);
	if (m->state == PAGE_SLAB) {
		slab_free(i, p);
		return;
	}
	HZ_ASSERT(m->state == PAGE_LARGE && p == page_addr(i));
	m->state = PAGE_UNUSED;
	pages_give(i, m->order);
}

void hz_mem_stats(struct hz_mem_stats *st)
{
	st->heap_pages = heap.npages;
	st->free_pages = heap.free_pages;
	st->peak_pages = heap.peak_pages;
	st->live_objects = heap.live_objects;
	st->live_bytes = heap.live_bytes;
	st->failures = heap.failures;
}

void hz_mem_fail_nth(uint64_t n)
{
	heap.fail_countdown = n;
}

/* --- budgets ------------------------------------------------------------- */

int hz_budget_charge(struct hz_budget *b, size_t bytes)
{
	if (bytes > b->limit - b->used) {
		b->refused++;
		return -HZ_ENOMEM;
	}
	b->used += bytes;
	return 0;
}

void hz_budget_release(struct hz_budget *b, size_t bytes)
{
	HZ_ASSERT(bytes <= b->used);
	b->used -= bytes;
}

void *hz_budget_alloc(struct hz_budget *b, size_t size)
{
	void *p;

	if (hz_budget_charge(b, size) < 0)
		return NULL;
	p = hz_malloc(size);
	if (p == NULL)
		hz_budget_release(b, size);
	return p;
}

void hz_budget_free(struct hz_budget *b, void *p, size_t size)
{
	if (p == NULL)
		return;
	hz_free(p);
	hz_budget_release(b, size);
}
