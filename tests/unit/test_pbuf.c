/*
 * Packet buffers: page-aligned data, headroom and the bounds of push, pull,
 * trim and sub-views, shared bytes and reference counts, large buffers,
 * budgets, and leak-free failure under fault injection.
 */
#include "tests/unit/harness.h"

#include <string.h>

#include "haze/pbuf.h"

static size_t free_pages(void)
{
	struct hz_mem_stats st;

	hz_mem_stats(&st);
	return st.free_pages;
}

static size_t heap_pages(void)
{
	struct hz_mem_stats st;

	hz_mem_stats(&st);
	return st.heap_pages;
}

static void data_is_page_aligned_after_headroom(void **state)
{
	struct hz_view v;

	(void)state;
	assert_int_equal(hz_pbuf_alloc(NULL, 100, &v), 0);
	assert_non_null(v.pb);
	assert_int_equal((uintptr_t)v.pb->data % HZ_PAGE_SIZE, 0);
	assert_int_equal(v.pb->cap % HZ_PAGE_SIZE, 0);
	assert_int_equal(v.off, HZ_PBUF_HEADROOM);
	assert_int_equal(v.len, 100);
	assert_ptr_equal(hz_view_data(&v), v.pb->data + HZ_PBUF_HEADROOM);
	assert_int_equal(v.pb->refs, 1);
	assert_int_equal(hz_pbuf_live(), 1);
	/* The whole capacity is writable (ASan would object otherwise). */
	memset(v.pb->data, 0x5a, v.pb->cap);
	hz_view_release(&v);
	assert_null(v.pb);
	assert_int_equal(hz_pbuf_live(), 0);
}

static void push_uses_exactly_the_headroom(void **state)
{
	struct hz_view v, w;
	uint8_t *payload;

	(void)state;
	assert_int_equal(hz_pbuf_alloc(NULL, 64, &v), 0);
	payload = hz_view_data(&v);
	memset(payload, 0xee, 64);
	assert_int_equal(hz_view_push(&v, 14), 0);
	assert_int_equal(v.len, 78);
	assert_ptr_equal(hz_view_data(&v) + 14, payload);
	assert_int_equal(hz_view_push(&v, HZ_PBUF_HEADROOM - 14), 0);
	assert_int_equal(v.off, 0);
	assert_int_equal(v.len, HZ_PBUF_HEADROOM + 64);
	assert_ptr_equal(hz_view_data(&v), v.pb->data);
	w = v;
	assert_int_equal(hz_view_push(&v, 1), -HZ_ENOSPC);
	assert_memory_equal(&v, &w, sizeof(v));
	hz_view_release(&v);

	/* One byte more than the headroom, in one go, changes nothing. */
	assert_int_equal(hz_pbuf_alloc(NULL, 64, &v), 0);
	w = v;
	assert_int_equal(hz_view_push(&v, HZ_PBUF_HEADROOM + 1), -HZ_ENOSPC);
	assert_int_equal(hz_view_push(&v, SIZE_MAX), -HZ_ENOSPC);
	assert_memory_equal(&v, &w, sizeof(v));
	assert_int_equal(hz_view_push(&v, HZ_PBUF_HEADROOM), 0);
	hz_view_release(&v);
}

static void pull_and_trim_bounds(void **state)
{
	struct hz_view v, w;

	(void)state;
	assert_int_equal(hz_pbuf_alloc(NULL, 100, &v), 0);
	for (int i = 0; i < 100; i++)
		hz_view_data(&v)[i] = (uint8_t)i;
	assert_int_equal(hz_view_pull(&v, 10), 0);
	assert_int_equal(v.len, 90);
	assert_int_equal(hz_view_data(&v)[0], 10);
	w = v;
	assert_int_equal(hz_view_pull(&v, 91), -HZ_EINVAL);
	assert_int_equal(hz_view_pull(&v, SIZE_MAX), -HZ_EINVAL);
	assert_memory_equal(&v, &w, sizeof(v));
	/* Pulled bytes can be pushed back. */
	assert_int_equal(hz_view_push(&v, 10), 0);
	assert_int_equal(hz_view_data(&v)[0], 0);
	assert_int_equal(hz_view_pull(&v, 10), 0);

	assert_int_equal(hz_view_trim(&v, 91), -HZ_EINVAL);
	assert_int_equal(hz_view_trim(&v, SIZE_MAX), -HZ_EINVAL);
	assert_memory_equal(&v, &w, sizeof(v));
	assert_int_equal(hz_view_trim(&v, 90), 0);
	assert_int_equal(hz_view_trim(&v, 50), 0);
	assert_int_equal(v.len, 50);
	assert_int_equal(hz_view_data(&v)[49], 59);
	assert_int_equal(hz_view_trim(&v, 51), -HZ_EINVAL);
	assert_int_equal(hz_view_pull(&v, 50), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(hz_view_pull(&v, 1), -HZ_EINVAL);
	assert_int_equal(hz_view_trim(&v, 0), 0);
	hz_view_release(&v);
}

static void sub_checks_range_and_shares_bytes(void **state)
{
	struct hz_view v, s, s2, empty = {0};

	(void)state;
	assert_int_equal(hz_pbuf_alloc(NULL, 100, &v), 0);
	memset(hz_view_data(&v), 0, 100);
	s = empty;
	assert_int_equal(hz_view_sub(&v, 101, 0, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, 0, 101, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, 50, 51, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, 1, SIZE_MAX, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, SIZE_MAX, 1, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, SIZE_MAX, SIZE_MAX, &s), -HZ_EINVAL);
	/* An offset that truncates to a small uint32_t is still refused. */
	assert_int_equal(hz_view_sub(&v, (size_t)1 << 32, 1, &s), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&v, 1, ((size_t)1 << 32) + 1, &s),
			 -HZ_EINVAL);
	assert_int_equal(v.pb->refs, 1);

	assert_int_equal(hz_view_sub(&v, 100, 0, &s), 0);
	assert_int_equal(s.len, 0);
	hz_view_release(&s);
	assert_int_equal(hz_view_sub(&v, 20, 30, &s), 0);
	assert_int_equal(s.len, 30);
	assert_int_equal(v.pb->refs, 2);
	assert_ptr_equal(hz_view_data(&s), hz_view_data(&v) + 20);
	hz_view_data(&s)[0] = 0xab;
	assert_int_equal(hz_view_data(&v)[20], 0xab);
	hz_view_data(&v)[49] = 0xcd;
	assert_int_equal(hz_view_data(&s)[29], 0xcd);
	/* A sub-view of a sub-view is bounded by the inner one. */
	assert_int_equal(hz_view_sub(&s, 0, 31, &s2), -HZ_EINVAL);
	assert_int_equal(hz_view_sub(&s, 29, 1, &s2), 0);
	assert_int_equal(hz_view_data(&s2)[0], 0xcd);
	assert_int_equal(v.pb->refs, 3);
	hz_view_release(&v);
	hz_view_release(&s);
	assert_int_equal(hz_pbuf_live(), 1);
	assert_int_equal(hz_view_data(&s2)[0], 0xcd);
	hz_view_release(&s2);
	assert_int_equal(hz_pbuf_live(), 0);
}

static void clone_frees_on_last_release(void **state)
{
	struct hz_view v, c1, c2, empty = {0};
	size_t pages = free_pages();

	(void)state;
	assert_int_equal(hz_pbuf_alloc(NULL, 10, &v), 0);
	hz_view_clone(&v, &c1);
	hz_view_clone(&c1, &c2);
	assert_ptr_equal(c2.pb, v.pb);
	assert_int_equal(v.pb->refs, 3);
	hz_view_release(&v);
	assert_null(v.pb);
	/* A second release of an emptied view is harmless. */
	hz_view_release(&v);
	hz_view_release(&empty);
	assert_int_equal(hz_pbuf_live(), 1);
	assert_int_equal(c1.pb->refs, 2);
	hz_view_release(&c2);
	assert_int_equal(hz_pbuf_live(), 1);
	assert_true(free_pages() < pages);
	hz_view_data(&c1)[9] = 1; /* still ours */
	hz_view_release(&c1);
	assert_int_equal(hz_pbuf_live(), 0);
	assert_int_equal(free_pages(), pages);
}

static void large_pbufs_span_pages(void **state)
{
	static const size_t lens[] = {HZ_PAGE_SIZE - HZ_PBUF_HEADROOM,
				      HZ_PAGE_SIZE - HZ_PBUF_HEADROOM + 1, 9000,
				      65536};
	struct hz_budget b = HZ_BUDGET_INIT("pbuf", 1 << 20);

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct hz_view v;
		uint8_t *d;

		assert_int_equal(hz_pbuf_alloc(&b, lens[i], &v), 0);
		assert_true(v.pb->cap >= HZ_PBUF_HEADROOM + lens[i]);
		/* The smallest power-of-two run of pages that fits. */
		assert_true(v.pb->cap / 2 < HZ_PBUF_HEADROOM + lens[i]);
		assert_int_equal(v.pb->cap % HZ_PAGE_SIZE, 0);
		assert_int_equal(b.used, v.pb->cap);
		assert_int_equal(v.len, lens[i]);
		d = hz_view_data(&v);
		for (size_t k = 0; k < lens[i]; k++)
			d[k] = (uint8_t)(k * 7);
		for (size_t k = 0; k < lens[i]; k++)
			assert_int_equal(d[k], (uint8_t)(k * 7));
		hz_view_release(&v);
		assert_int_equal(b.used, 0);
	}
}

/*
 * A pbuf shrunk to its view keeps the smallest run of pages that holds
 * the view's end, its bytes intact, and the budget is credited the rest;
 * one already that small is left alone.
 */
static void shrink_keeps_what_the_view_needs(void **state)
{
	static const struct {
		size_t len, cap; /* the view's length; cap after */
	} cases[] = {{20000, 32768},
		     {8192 - HZ_PBUF_HEADROOM, 8192},
		     {100, 4096},
		     {40000, 65536},
		     /* The view starts past the headroom: its end, 8,228,
		      * needs a third page; one byte into a third page
		      * keeps it too. */
		     {8100, 16384},
		     {8193 - HZ_PBUF_HEADROOM, 16384}};
	struct hz_budget b = HZ_BUDGET_INIT("pbuf", 1 << 20);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hz_view v;
		uint8_t *d;

		assert_int_equal(
		    hz_pbuf_alloc(&b, 65536 - HZ_PBUF_HEADROOM, &v), 0);
		assert_int_equal(v.pb->cap, 65536);
		d = hz_view_data(&v);
		for (size_t k = 0; k < cases[i].len; k++)
			d[k] = (uint8_t)(k * 13);
		assert_int_equal(hz_view_trim(&v, cases[i].len), 0);
		hz_pbuf_shrink(&v);
		assert_int_equal(v.pb->cap, cases[i].cap);
		assert_int_equal(b.used, cases[i].cap);
		for (size_t k = 0; k < cases[i].len; k++)
			assert_int_equal(d[k], (uint8_t)(k * 13));
		hz_view_release(&v);
		assert_int_equal(b.used, 0);
	}
}

static void budget_charged_until_last_release(void **state)
{
	/* Room for exactly two one-page pbufs. */
	struct hz_budget b = HZ_BUDGET_INIT("pbuf", 2 * HZ_PAGE_SIZE);
	struct hz_view a, c, d, clone;

	(void)state;
	assert_int_equal(hz_pbuf_alloc(&b, 100, &a), 0);
	assert_int_equal(b.used, HZ_PAGE_SIZE);
	assert_ptr_equal(a.pb->budget, &b);
	hz_view_clone(&a, &clone);
	assert_int_equal(b.used, HZ_PAGE_SIZE);
	assert_int_equal(hz_pbuf_alloc(&b, 100, &c), 0);
	assert_int_equal(b.used, 2 * HZ_PAGE_SIZE);

	d.pb = (struct hz_pbuf *)&d; /* garbage the call must clear */
	d.len = 7;
	assert_int_equal(hz_pbuf_alloc(&b, 1, &d), -HZ_ENOMEM);
	assert_null(d.pb);
	assert_int_equal(d.len, 0);
	assert_int_equal(b.refused, 1);
	assert_int_equal(hz_pbuf_live(), 2);

	hz_view_release(&a);
	assert_int_equal(b.used, 2 * HZ_PAGE_SIZE);
	hz_view_release(&clone);
	assert_int_equal(b.used, HZ_PAGE_SIZE);
	assert_int_equal(hz_pbuf_alloc(&b, 1, &d), 0);
	hz_view_release(&c);
	hz_view_release(&d);
	assert_int_equal(b.used, 0);
}

static void absurd_length_refused(void **state)
{
	struct hz_budget b = HZ_BUDGET_INIT("pbuf", SIZE_MAX);
	struct hz_view v;

	(void)state;
	assert_int_equal(hz_pbuf_alloc(&b, SIZE_MAX, &v), -HZ_ENOMEM);
	assert_null(v.pb);
	assert_int_equal(hz_pbuf_alloc(&b, UINT32_MAX, &v), -HZ_ENOMEM);
	assert_null(v.pb);
	/* Larger than the heap: the heap refuses, the charge is undone. */
	assert_int_equal(hz_pbuf_alloc(&b, 64u << 20, &v), -HZ_ENOMEM);
	assert_null(v.pb);
	assert_int_equal(b.used, 0);
	assert_int_equal(hz_pbuf_live(), 0);
}

static void fault_injection_no_leak(void **state)
{
	struct hz_budget b = HZ_BUDGET_INIT("pbuf", 1 << 20);
	struct hz_view v;
	uint64_t n;
	int r;

	(void)state;
	for (n = 1;; n++) {
		hz_mem_fail_nth(n);
		r = hz_pbuf_alloc(&b, 3000, &v);
		hz_mem_fail_nth(0);
		if (r == 0)
			break;
		assert_int_equal(r, -HZ_ENOMEM);
		assert_null(v.pb);
		assert_int_equal(v.len, 0);
		assert_int_equal(hz_pbuf_live(), 0);
		assert_int_equal(b.used, 0);
		assert_int_equal(b.refused, 0);
		assert_int_equal(free_pages(), heap_pages());
	}
	/* Two allocations: the header and the data pages. */
	assert_int_equal(n, 3);
	hz_view_release(&v);
	assert_int_equal(b.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(data_is_page_aligned_after_headroom),
	    HARNESS_TEST(shrink_keeps_what_the_view_needs),
	    HARNESS_TEST(push_uses_exactly_the_headroom),
	    HARNESS_TEST(pull_and_trim_bounds),
	    HARNESS_TEST(sub_checks_range_and_shares_bytes),
	    HARNESS_TEST(clone_frees_on_last_release),
	    HARNESS_TEST(large_pbufs_span_pages),
	    HARNESS_TEST(budget_charged_until_last_release),
	    HARNESS_TEST(absurd_length_refused),
	    HARNESS_TEST(fault_injection_no_leak),
	};

	return HARNESS_RUN("pbuf", tests);
}
