/*
 * A tiny path simulator for the TCP tests: two hz_tcp instances whose
 * output callbacks queue segments for the other side, delivered by a
 * fiber after a delay, with seeded loss, duplication, reordering and
 * corruption. A test may also watch or drop segments with a filter.
 * Included by tests/unit/test_tcp_*.c; everything is static.
 */
#ifndef HAZE_TESTS_TCP_SIM_H
#define HAZE_TESTS_TCP_SIM_H

#include <string.h>

#include "haze/log.h"
#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/sched.h"
#include "net/tcp.h"

#define SIM_A HZ_IPV4(10, 0, 0, 1)
#define SIM_B HZ_IPV4(10, 0, 0, 2)

struct sim;

struct sim_pkt {
	struct sim_pkt *next;
	uint64_t due;
	int to;
	hz_ipv4_t src, dst;
	struct hz_view v;
};

struct sim_side {
	struct sim *sim;
	int idx;
};

/* Returns false to drop the segment (the filter does not own @v). */
typedef bool (*sim_filter_fn)(struct sim *s, int from, hz_ipv4_t dst,
			      const struct hz_view *v, void *arg);

struct sim {
	struct hz_tcp *tcp[2];
	struct sim_side side[2];
	struct sim_pkt *q; /* sorted by due */
	struct hz_waitq wq;
	bool stop, running;
	uint64_t rng;
	/* Path properties, in per-mille, and delays. */
	unsigned loss, dup, reorder, corrupt;
	uint64_t delay_ns, reorder_ns;
	sim_filter_fn filter;
	void *filter_arg;
	uint64_t sent[2], lost, duped, reordered, corrupted, delivered;
	bool blackhole[2]; /* drop everything from this side */
	/* Option kinds (bit per kind: 3 WS, 4 SACK-permitted, 8 TS) that
	 * the path removes from SYNs, so they are never negotiated. */
	unsigned strip_syn_opts;
};

static inline uint64_t sim_rand(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 2685821657736338717ull;
}

static inline bool sim_chance(struct sim *s, unsigned permille)
{
	return permille > 0 && sim_rand(s) % 1000 < permille;
}

static inline void sim_enqueue(struct sim *s, int to, hz_ipv4_t src,
			       hz_ipv4_t dst, struct hz_view *v, uint64_t due)
{
	struct sim_pkt *p = malloc(sizeof(*p)), **pp = &s->q;

	if (!HARNESS_CHECK(p != NULL)) {
		hz_view_release(v);
		return;
	}
	p->due = due;
	p->to = to;
	p->src = src;
	p->dst = dst;
	p->v = *v;
	*v = (struct hz_view){0};
	while (*pp != NULL && (*pp)->due <= due)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
	hz_waitq_wake_all(&s->wq);
}

/* A private copy of @v, so corrupting it touches nothing else. */
static inline bool sim_copy(const struct hz_view *v, struct hz_view *out)
{
	if (hz_pbuf_alloc(NULL, v->len, out) != 0)
		return false;
	memcpy(hz_view_data(out), hz_view_data(v), v->len);
	return true;
}

/* Overwrites the SYN options of kinds in @mask with NOPs. */
static inline void sim_strip(struct hz_view *seg, hz_ipv4_t src, hz_ipv4_t dst,
			     unsigned mask)
{
	uint8_t *h = hz_view_data(seg);
	size_t hlen = (size_t)(h[12] >> 4) * 4, i = 20;
	uint32_t sum;

	if (!(h[13] & 0x02) || hlen > seg->len)
		return;
	while (i < hlen && h[i] != 0) {
		size_t n = h[i] == 1 ? 1 : h[i + 1];

		if (n < 1 || i + n > hlen)
			return;
		if (h[i] < 32 && (mask & (1u << h[i])))
			memset(h + i, 1, n);
		i += n;
	}
	hz_put16(h + 16, 0);
	sum = hz_inet_pseudo_sum(src, dst, HZ_IPPROTO_TCP, (uint16_t)seg->len);
	hz_put16(h + 16, hz_inet_fold(hz_inet_sum(h, seg->len, sum)));
}

static inline int sim_output(void *ctx, hz_ipv4_t src, hz_ipv4_t dst,
			     struct hz_view *seg)
{
	struct sim_side *side = ctx;
	struct sim *s = side->sim;
	int to = 1 - side->idx;
	uint64_t due = hz_now() + s->delay_ns;
	struct hz_view extra = {0};

	s->sent[side->idx]++;
	if (s->strip_syn_opts != 0)
		sim_strip(seg, src, dst, s->strip_syn_opts);
	if (s->blackhole[side->idx] ||
	    (s->filter != NULL &&
	     !s->filter(s, side->idx, dst, seg, s->filter_arg)) ||
	    sim_chance(s, s->loss)) {
		s->lost++;
		hz_view_release(seg);
		return 0;
	}
	if (sim_chance(s, s->dup) && sim_copy(seg, &extra)) {
		s->duped++;
		sim_enqueue(s, to, src, dst, &extra,
			    due + sim_rand(s) % (s->reorder_ns + 1));
	}
	if (sim_chance(s, s->corrupt) && seg->len > 0) {
		struct hz_view c;

		if (sim_copy(seg, &c)) {
			hz_view_release(seg);
			*seg = c;
			hz_view_data(seg)[sim_rand(s) % seg->len] ^=
			    (uint8_t)(1u << (sim_rand(s) % 8));
			s->corrupted++;
		}
	}
	if (sim_chance(s, s->reorder)) {
		s->reordered++;
		due += s->reorder_ns;
	}
	sim_enqueue(s, to, src, dst, seg, due);
	return 0;
}

static inline void sim_deliver_fiber(void *arg)
{
	struct sim *s = arg;

	while (!s->stop) {
		uint64_t now = hz_now();

		while (s->q != NULL && s->q->due <= now && !s->stop) {
			struct sim_pkt *p = s->q;
			struct hz_ip_meta ip = {.src = p->src,
						.dst = p->dst,
						.proto = HZ_IPPROTO_TCP,
						.ttl = 64};

			s->q = p->next;
			s->delivered++;
			hz_tcp_input(s->tcp[p->to], &ip, &p->v);
			free(p);
		}
		if (s->stop)
			break;
		if (hz_waitq_wait(&s->wq, s->q != NULL
					      ? s->q->due
					      : HZ_DEADLINE_NEVER) != 0)
			continue; /* the deadline: something is due */
	}
	s->running = false;
}

/* Short clocks, so tests run in milliseconds. */
static inline void sim_fast_tuning(struct hz_tcp_tuning *tu)
{
	hz_tcp_tuning_default(tu);
	tu->msl_ns = 50 * HZ_NS_PER_MS;
	tu->rto_min_ns = 20 * HZ_NS_PER_MS;
	tu->rto_init_ns = 50 * HZ_NS_PER_MS;
	tu->delack_ns = 5 * HZ_NS_PER_MS;
	tu->keepalive_unit_ns = 10 * HZ_NS_PER_MS;
	tu->keep_intvl_ns = 10 * HZ_NS_PER_MS;
	tu->fin_wait_2_ns = 200 * HZ_NS_PER_MS;
	tu->keep_probes = 3;
}

/* Sets up two TCPs (A = 10.0.0.1, B = 10.0.0.2) joined by @s. */
static inline void sim_init(struct sim *s, uint64_t seed)
{
	struct hz_tcp_tuning tu;

	memset(s, 0, sizeof(*s));
	s->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	sim_fast_tuning(&tu);
	for (int i = 0; i < 2; i++) {
		struct hz_tcp_env env = {
		    .output = sim_output,
		    .ctx = &s->side[i],
		    .local = i == 0 ? SIM_A : SIM_B,
		    .mtu = 1500,
		};

		for (int k = 0; k < 32; k++)
			env.secret[k] = (uint8_t)(seed + (uint64_t)i * 77 + k);
		s->side[i].sim = s;
		s->side[i].idx = i;
		HARNESS_CHECK_EQ(hz_tcp_create(&env, &s->tcp[i]), 0);
		hz_tcp_tune(s->tcp[i], &tu);
	}
	s->running =
	    HARNESS_CHECK_EQ(hz_fiber_spawn("sim", sim_deliver_fiber, s, 0), 0);
}

/* Frees what is still queued. */
static inline void sim_flush(struct sim *s)
{
	while (s->q != NULL) {
		struct sim_pkt *p = s->q;

		s->q = p->next;
		hz_view_release(&p->v);
		free(p);
	}
}

/* Destroys both TCPs and stops the delivery fiber. */
static inline void sim_fini(struct sim *s)
{
	s->stop = true;
	hz_waitq_wake_all(&s->wq);
	while (s->running)
		hz_fiber_yield();
	sim_flush(s);
	hz_tcp_destroy(s->tcp[0]);
	hz_tcp_destroy(s->tcp[1]);
	sim_flush(s);
}

/* Sleeps @ms milliseconds of wall time. */
static inline void sim_sleep_ms(uint64_t ms)
{
	hz_sleep_ns(ms * HZ_NS_PER_MS);
}

/* A deadline @ms from now. */
static inline uint64_t sim_in_ms(uint64_t ms)
{
	return hz_now() + ms * HZ_NS_PER_MS;
}

/* The flags byte of a segment view. */
static inline uint8_t sim_flags(const struct hz_view *v)
{
	return v->len >= 14 ? hz_view_data(v)[13] : 0;
}

/* The payload length of a segment view. */
static inline uint32_t sim_payload_len(const struct hz_view *v)
{
	uint32_t hlen = (uint32_t)(hz_view_data(v)[12] >> 4) * 4;

	return v->len > hlen ? v->len - hlen : 0;
}

/* A segment as a test writes it. */
struct sim_seg {
	hz_ipv4_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts; /* padded to 4 bytes by the caller */
	size_t olen;
	const void *data;
	size_t len;
};

/* Builds @g with a correct checksum into a new view; false without memory. */
static inline bool sim_try_craft(const struct sim_seg *g, struct hz_view *out)
{
	size_t hlen = 20 + g->olen;
	uint8_t *h;
	uint32_t sum;

	if (hz_pbuf_alloc(NULL, hlen + g->len, out) != 0)
		return false;
	h = hz_view_data(out);
	memset(h, 0, hlen);
	hz_put16(h, g->sport);
	hz_put16(h + 2, g->dport);
	hz_put32(h + 4, g->seq);
	hz_put32(h + 8, g->ack);
	h[12] = (uint8_t)((hlen / 4) << 4);
	h[13] = g->flags;
	hz_put16(h + 14, g->wnd);
	if (g->olen > 0)
		memcpy(h + 20, g->opts, g->olen);
	if (g->len > 0)
		memcpy(h + hlen, g->data, g->len);
	sum = hz_inet_pseudo_sum(g->src, g->dst, HZ_IPPROTO_TCP,
				 (uint16_t)(hlen + g->len));
	hz_put16(h + 16, hz_inet_fold(hz_inet_sum(h, hlen + g->len, sum)));
	return true;
}

/* Builds @g with a correct checksum into a new view. */
static inline void sim_craft(const struct sim_seg *g, struct hz_view *out)
{
	HARNESS_CHECK(sim_try_craft(g, out));
}

/* Crafts @g and hands it to @t. */
static inline void sim_inject(struct hz_tcp *t, const struct sim_seg *g)
{
	struct hz_view v;
	struct hz_ip_meta ip = {
	    .src = g->src, .dst = g->dst, .proto = HZ_IPPROTO_TCP, .ttl = 64};

	if (sim_try_craft(g, &v)) /* fault injection may refuse it */
		hz_tcp_input(t, &ip, &v);
}

/* The value of counter tcp/@name, 0 if it never moved. */
static inline uint64_t sim_counter(const char *name)
{
	struct hz_counter *c = hz_counter_find("tcp", name);

	return c != NULL ? c->value : 0;
}

#endif
