/*
 * SYN cookies: when a listener's backlog is full, its SYN-ACK carries the
 * whole embryonic state in the ISS, and the final ACK is accepted without
 * any state kept in between. The ISS is
 *
 *   bits 31..27  a 64-second time counter, mod 32
 *   bits 26..24  an index into mss_table (the peer's MSS, rounded down)
 *   bits 23..0   SipHash(secret, 4-tuple, peer's ISN, counter)
 *
 * The ISS has no room for the other options. When the SYN offers
 * timestamps, the SYN-ACK offers them back and its timestamp carries the
 * rest in its low 6 bits (bits 3..0 the peer's window scale, 15 for none;
 * bit 4 SACK permitted), rounded down so it never runs ahead of our
 * clock; the final ACK echoes it and the connection gets window scaling,
 * SACK and timestamps as if it had never been a cookie. Without
 * timestamps a cookie connection goes without all three, as in Linux.
 */
#include "net/tcp_int.h"

static HZ_COUNTER(cookie_bad, "tcp", "syncookies_rejected");

static const uint16_t mss_table[8] = {536,  1024, 1220, 1340,
				      1400, 1440, 1460, 8960};

/* The time counter: 2^36 ns, about 69 s, per step. */
static uint32_t cookie_clock(void)
{
	return (uint32_t)(hz_now() >> 36);
}

static uint32_t cookie_hash(struct hz_tcp *t, const struct tcp_seg *s,
			    uint32_t irs, uint32_t counter)
{
	uint8_t b[20];

	hz_put32(b, s->dst);
	hz_put32(b + 4, s->src);
	hz_put16(b + 8, s->dport);
	hz_put16(b + 10, s->sport);
	hz_put32(b + 12, irs);
	hz_put32(b + 16, counter);
	return (uint32_t)tcp_siphash(t->env.secret + 16, b, sizeof(b)) &
	       0xffffffu;
}

uint32_t tcp_cookie_make(struct hz_tcp *t, const struct tcp_seg *s)
{
	uint16_t want = s->opt.mss_ok ? s->opt.mss : 536;
	uint16_t ours = tcp_local_mss(t);
	uint32_t counter = cookie_clock();
	unsigned idx = 0;

	if (want > ours)
		want = ours;
	while (idx + 1 < 8 && mss_table[idx + 1] <= want)
		idx++;
	return (counter & 31u) << 27 | (uint32_t)idx << 24 |
	       cookie_hash(t, s, s->seq, counter);
}

#define COOKIE_TS_MASK 0x3fu
#define COOKIE_NO_WS 0xfu
#define COOKIE_SACK 0x10u
/* How old an echoed cookie timestamp may be: two clock steps, in ms. */
#define COOKIE_TS_MAX_AGE (2u * 68720u)

/* Our timestamp clock (ms) for the connection @s belongs to, as seen by
 * the segment's receiver (us). */
static uint32_t our_ts(struct hz_tcp *t, const struct tcp_seg *s)
{
	return (uint32_t)(hz_now() / HZ_NS_PER_MS) +
	       tcp_ts_offset(t, s->dst, s->dport, s->src, s->sport);
}

uint32_t tcp_cookie_tsval(struct hz_tcp *t, const struct tcp_seg *s)
{
	uint32_t now = our_ts(t, s);
	uint8_t ws = s->opt.ws < TCP_WSCALE_MAX ? s->opt.ws : TCP_WSCALE_MAX;
	uint32_t ts = (now & ~COOKIE_TS_MASK) |
		      (s->opt.ws_ok ? ws : COOKIE_NO_WS) |
		      (s->opt.sack_perm ? COOKIE_SACK : 0);

	if ((int32_t)(ts - now) > 0)
		ts -= COOKIE_TS_MASK + 1; /* never ahead of our clock */
	return ts;
}

bool tcp_cookie_opts(struct hz_tcp *t, const struct tcp_seg *s,
		     struct tcp_cookie_opts *out)
{
	uint32_t ecr = s->opt.tsecr;
	uint8_t ws = ecr & COOKIE_NO_WS;

	if (!s->opt.ts_ok || our_ts(t, s) - ecr > COOKIE_TS_MAX_AGE)
		return false;
	if (ws != COOKIE_NO_WS && ws > TCP_WSCALE_MAX)
		return false;
	*out = (struct tcp_cookie_opts){
	    .ws_ok = ws != COOKIE_NO_WS,
	    .ws = ws != COOKIE_NO_WS ? ws : 0,
	    .sack_ok = (ecr & COOKIE_SACK) != 0,
	};
	return true;
}

uint16_t tcp_cookie_check(struct hz_tcp *t, const struct tcp_seg *s)
{
	uint32_t iss = s->ack - 1, irs = s->seq - 1;
	uint32_t now = cookie_clock();

	if ((s->flags & (TH_SYN | TH_RST | TH_ACK)) != TH_ACK)
		goto bad;
	/* This step or the one before: a cookie lives 1 to 2 steps. */
	for (uint32_t back = 0; back < 2; back++) {
		uint32_t counter = now - back;

		if ((iss >> 27) != (counter & 31u))
			continue;
		if ((iss & 0xffffffu) == cookie_hash(t, s, irs, counter))
			return mss_table[(iss >> 24) & 7u];
	}
bad:
	hz_counter_inc(&cookie_bad);
	return 0;
}
