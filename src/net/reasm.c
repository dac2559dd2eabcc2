/*
 * IPv4 reassembly in the manner of RFC 815: each datagram keeps a sorted
 * list of disjoint pieces (views into the received fragments, no copy
 * until the datagram is complete). Overlaps keep the bytes that came
 * first: a new fragment only fills holes, so overlapping and duplicate
 * fragments can neither grow memory nor rewrite accepted data. Everything
 * held is charged to the stack's reassembly budget (the fragment's whole
 * pbuf, since that is what it pins); a datagram that does not complete in
 * time is dropped and its budget returned.
 */
#include <string.h>

#include "net/ipstack_impl.h"

#define DEFAULT_TIMEOUT_NS (30 * HZ_NS_PER_S)
#define IP_MAX_PAYLOAD (0xffff - HZ_IPV4_HLEN)

HZ_COUNTER(rs_drop_budget, "ipv4", "reasm_drop_budget");
HZ_COUNTER(rs_drop_timeout, "ipv4", "reasm_drop_timeout");
HZ_COUNTER(rs_drop_oversize, "ipv4", "reasm_drop_oversize");
HZ_COUNTER(rs_drop_inconsistent, "ipv4", "reasm_drop_inconsistent");
HZ_COUNTER(rs_drop_pieces, "ipv4", "reasm_drop_too_many_pieces");
HZ_COUNTER(rs_drop_duplicate, "ipv4", "reasm_drop_duplicate");
HZ_COUNTER(rs_drop_nomem, "ipv4", "reasm_drop_nomem");
HZ_COUNTER(rs_overlap, "ipv4", "reasm_overlap");
HZ_COUNTER(rs_done, "ipv4", "reasm_done");

static uint64_t timeout_ns(const struct hz_ipstack *s)
{
	return s->cfg.reasm_timeout_ns ? s->cfg.reasm_timeout_ns
				       : DEFAULT_TIMEOUT_NS;
}

static void piece_free(struct hz_ipstack *s, struct reasm_piece *p)
{
	size_t charge = p->charge;

	hz_view_release(&p->v);
	hz_budget_free(&s->reasm_budget, p, charge);
}

/* Unlinks and frees @r with everything it holds. */
static void reasm_free(struct reasm *r)
{
	struct hz_ipstack *s = r->s;
	struct reasm **pp = &s->reasms;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	hz_timer_cancel(&r->timer);
	while (r->pieces != NULL) {
		struct reasm_piece *p = r->pieces;

		r->pieces = p->next;
		piece_free(s, p);
	}
	hz_budget_free(&s->reasm_budget, r, sizeof(*r));
}

/* Drops @r, counting one drop on @c. */
static void reasm_drop(struct reasm *r, struct hz_counter *c)
{
	struct hz_ipstack *s = r->s;

	reasm_free(r);
	hz_ipstack_drop(s, c);
}

static void reasm_timeout(struct hz_timer *t)
{
	struct reasm *r =
	    (struct reasm *)((char *)t - offsetof(struct reasm, timer));

	reasm_drop(r, &rs_drop_timeout);
}

static struct reasm *reasm_find(struct hz_ipstack *s, const struct ip_rx *rx,
				uint16_t id)
{
	for (struct reasm *r = s->reasms; r != NULL; r = r->next)
		if (r->id == id && r->src == rx->meta.src &&
		    r->dst == rx->meta.dst && r->proto == rx->meta.proto)
			return r;
	return NULL;
}

static struct reasm *reasm_create(struct hz_ipstack *s, const struct ip_rx *rx,
				  uint16_t id)
{
	struct reasm *r = hz_budget_alloc(&s->reasm_budget, sizeof(*r));

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->src = rx->meta.src;
	r->dst = rx->meta.dst;
	r->proto = rx->meta.proto;
	r->id = id;
	hz_timer_init(&r->timer, reasm_timeout);
	hz_timer_arm(&r->timer, hz_now() + timeout_ns(s));
	r->next = s->reasms;
	s->reasms = r;
	return r;
}

/* Links a new piece of [@off, @off + @len) taken from @frag at @at. */
static int piece_add(struct reasm *r, struct reasm_piece **pos,
		     const struct hz_view *frag, size_t at, uint32_t off,
		     uint32_t len)
{
	struct hz_ipstack *s = r->s;
	size_t charge = sizeof(struct reasm_piece) + frag->pb->cap;
	struct reasm_piece *p;

	if (r->npieces == REASM_MAX_PIECES)
		return -HZ_ENOSPC;
	p = hz_budget_alloc(&s->reasm_budget, charge);
	if (p == NULL)
		return -HZ_ENOMEM;
	if (hz_view_sub(frag, at, len, &p->v) < 0) {
		hz_budget_free(&s->reasm_budget, p, charge);
		return -HZ_EINVAL;
	}
	p->off = off;
	p->len = len;
	p->charge = charge;
	p->next = *pos;
	*pos = p;
	r->npieces++;
	r->have += len;
	return 0;
}

/*
 * Fills the holes of @r within [@off, @end) from @frag; the bytes added,
 * or a negative code when a piece could not be kept.
 */
static long fill_holes(struct reasm *r, const struct hz_view *frag,
		       uint32_t off, uint32_t end)
{
	struct reasm_piece **pp = &r->pieces;
	uint32_t cur = off;
	long added = 0;

	while (cur < end) {
		uint32_t stop;
		int e;

		while (*pp != NULL && (*pp)->off + (*pp)->len <= cur)
			pp = &(*pp)->next;
		stop = *pp != NULL && (*pp)->off < end ? (*pp)->off : end;
		if (stop > cur) {
			e = piece_add(r, pp, frag, cur - off, cur, stop - cur);
			if (e < 0)
				return e;
			added += stop - cur;
			pp = &(*pp)->next;
		}
		if (*pp == NULL || (*pp)->off >= end)
			break;
		cur = (*pp)->off + (*pp)->len;
	}
	return added;
}

/* Whether the last fragment's end agrees with everything held. */
static bool end_consistent(const struct reasm *r, uint32_t end, bool more)
{
	if (r->have_last && end > r->total)
		return false;
	if (!more) {
		if (r->have_last && end != r->total)
			return false;
		for (const struct reasm_piece *p = r->pieces; p != NULL;
		     p = p->next)
			if (p->off + p->len > end)
				return false;
	}
	return true;
}

/* Copies the complete datagram into one pbuf and hands it up. */
static void reasm_complete(struct reasm *r)
{
	struct hz_ipstack *s = r->s;
	struct ip_rx rx = {0};
	uint8_t hdr[60];
	struct hz_view d;
	uint32_t total = r->total;

	rx.meta.src = r->src;
	rx.meta.dst = r->dst;
	rx.meta.proto = r->proto;
	rx.hlen = r->hlen;
	memcpy(hdr, r->hdr, r->hlen);
	rx.meta.ttl = hdr[8];
	rx.meta.tos = hdr[1];
	/* The fragments' flag, not the address: it covers the subnet's
	 * directed broadcast and broadcast frames too. */
	rx.broadcast = r->broadcast;
	rx.hdr = hdr;
	if (hz_pbuf_alloc(NULL, total, &d) < 0) {
		reasm_drop(r, &rs_drop_nomem);
		return;
	}
	for (const struct reasm_piece *p = r->pieces; p != NULL; p = p->next)
		memcpy(hz_view_data(&d) + p->off, hz_view_data(&p->v), p->len);
	reasm_free(r);
	hz_counter_inc(&rs_done);
	hz_ipv4_deliver(s, &rx, &d);
}

/* Records the first fragment's header, for ICMP errors about it. */
static void keep_header(struct reasm *r, const struct ip_rx *rx)
{
	if (rx->hlen > sizeof(r->hdr))
		return;
	memcpy(r->hdr, rx->hdr, rx->hlen);
	r->hlen = rx->hlen;
}

void hz_reasm_input(struct hz_ipstack *s, const struct ip_rx *rx,
		    uint32_t offset, bool more, struct hz_view *payload)
{
	uint16_t id = hz_get16(rx->hdr + 4);
	uint32_t end = offset + payload->len;
	struct reasm *r;
	long added;

	if (end > IP_MAX_PAYLOAD || (more && (payload->len & 7) != 0) ||
	    payload->len == 0) {
		hz_ipstack_drop(s, &rs_drop_oversize);
		goto release;
	}
	r = reasm_find(s, rx, id);
	if (r == NULL)
		r = reasm_create(s, rx, id);
	if (r == NULL) {
		hz_ipstack_drop(s, &rs_drop_budget);
		goto release;
	}
	r->broadcast |= rx->broadcast;
	if (!end_consistent(r, end, more)) {
		reasm_drop(r, &rs_drop_inconsistent);
		goto release;
	}
	added = fill_holes(r, payload, offset, end);
	if (added < 0) {
		reasm_drop(r, added == -HZ_ENOSPC ? &rs_drop_pieces
						  : &rs_drop_budget);
		goto release;
	}
	if (added == 0)
		hz_ipstack_drop(s, &rs_drop_duplicate);
	else if (added < (long)payload->len)
		hz_counter_inc(&rs_overlap);
	if (offset == 0 && r->hlen == 0)
		keep_header(r, rx);
	if (!more) {
		r->have_last = true;
		r->total = end;
	}
	if (r->have_last && r->have == r->total && r->hlen != 0)
		reasm_complete(r);
release:
	hz_view_release(payload);
}

void hz_reasm_flush(struct hz_ipstack *s)
{
	while (s->reasms != NULL)
		reasm_free(s->reasms);
}
