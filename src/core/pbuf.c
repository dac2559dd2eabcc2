/*
 * Packet buffers: the data area comes from the page allocator (so it is
 * page-aligned); the small header lives in the general allocator.
 */
#include "haze/pbuf.h"

#include "haze/assert.h"

static size_t live_pbufs;

int hz_pbuf_alloc(struct hz_budget *budget, size_t len, struct hz_view *out)
{
	struct hz_pbuf *pb;
	unsigned order;
	size_t cap;

	*out = (struct hz_view){0};
	/* cap is a power of two that must fit the 32-bit view fields. */
	if (len > UINT32_MAX / 2 - HZ_PBUF_HEADROOM)
		return -HZ_ENOMEM;
	order = hz_pages_order(HZ_PBUF_HEADROOM + len);
	cap = (size_t)HZ_PAGE_SIZE << order;
	if (budget != NULL && hz_budget_charge(budget, cap) < 0)
		return -HZ_ENOMEM;
	pb = hz_malloc(sizeof(*pb));
	if (pb == NULL)
		goto undo_charge;
	pb->data = hz_pages_alloc(order);
	if (pb->data == NULL)
		goto free_header;
	pb->cap = (uint32_t)cap;
	pb->refs = 1;
	pb->budget = budget;
	pb->gso_size = 0;
	pb->csum_ok = false;
	live_pbufs++;
	*out = (struct hz_view){pb, HZ_PBUF_HEADROOM, (uint32_t)len};
	return 0;

free_header:
	hz_free(pb);
undo_charge:
	if (budget != NULL)
		hz_budget_release(budget, cap);
	return -HZ_ENOMEM;
}

void hz_pbuf_shrink(struct hz_view *v)
{
	struct hz_pbuf *pb = v->pb;
	unsigned order = hz_pages_order((size_t)v->off + v->len);
	size_t cap = (size_t)HZ_PAGE_SIZE << order;

	HZ_ASSERT(pb != NULL && pb->refs == 1);
	if (cap >= pb->cap)
		return;
	hz_pages_shrink(pb->data, order);
	if (pb->budget != NULL)
		hz_budget_release(pb->budget, pb->cap - cap);
	pb->cap = (uint32_t)cap;
}

void hz_view_clone(const struct hz_view *v, struct hz_view *out)
{
	HZ_ASSERT(v->pb != NULL && v->pb->refs > 0);
	v->pb->refs++;
	*out = *v;
}

int hz_view_sub(const struct hz_view *v, size_t off, size_t len,
		struct hz_view *out)
{
	if (off > v->len || len > v->len - off)
		return -HZ_EINVAL;
	hz_view_clone(v, out);
	out->off += (uint32_t)off;
	out->len = (uint32_t)len;
	return 0;
}

void hz_view_release(struct hz_view *v)
{
	struct hz_pbuf *pb = v->pb;

	*v = (struct hz_view){0};
	if (pb == NULL)
		return;
	HZ_ASSERT(pb->refs > 0);
	if (--pb->refs > 0)
		return;
	if (pb->budget != NULL)
		hz_budget_release(pb->budget, pb->cap);
	hz_pages_free(pb->data);
	hz_free(pb);
	live_pbufs--;
}

int hz_view_push(struct hz_view *v, size_t n)
{
	if (n > v->off)
		return -HZ_ENOSPC;
	v->off -= (uint32_t)n;
	v->len += (uint32_t)n;
	return 0;
}

int hz_view_pull(struct hz_view *v, size_t n)
{
	if (n > v->len)
		return -HZ_EINVAL;
	v->off += (uint32_t)n;
	v->len -= (uint32_t)n;
	return 0;
}

int hz_view_trim(struct hz_view *v, size_t len)
{
	if (len > v->len)
		return -HZ_EINVAL;
	v->len = (uint32_t)len;
	return 0;
}

size_t hz_pbuf_live(void)
{
	return live_pbufs;
}
