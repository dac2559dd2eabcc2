/*
 * TCP output: building segments (header, options, checksum) and deciding
 * what to send: SYN and SYN-ACK, new data within the send and congestion
 * windows (Nagle unless no-delay), SACK-driven retransmission of holes in
 * fast recovery (RFC 6675 style, NewReno when the peer has no SACK), FIN,
 * ACKs, window probes and resets.
 */
#include <string.h>

#include "haze/mem.h"
#include "net/tcp_int.h"

static HZ_COUNTER(out_segs, "tcp", "out_segments");
static HZ_COUNTER(out_nomem, "tcp", "out_no_memory");
static HZ_COUNTER(out_fail, "tcp", "out_errors");
static HZ_COUNTER(cwnd_restarts, "tcp", "cwnd_restarts");
static HZ_COUNTER(out_rexmt, "tcp", "out_retransmits");
static HZ_COUNTER(out_rst, "tcp", "out_resets");
static HZ_COUNTER(out_probe, "tcp", "out_window_probes");
static HZ_COUNTER(out_tso, "tcp", "out_tso_segments");

/* What one outgoing segment carries, before it is built. */
struct tcp_out {
	hz_ipv4_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint8_t opts[TCP_OPT_MAX];
	uint8_t olen;
	uint32_t gso; /* payload per segment the device cuts it into, or 0 */
};

/* Builds and sends @o with @len payload bytes copied from @c's buffer. */
static void emit(struct hz_tcp *t, const struct tcp_out *o,
		 const struct tcp_conn *c, uint32_t len)
{
	struct hz_view v;
	uint32_t hlen = TCP_HLEN + o->olen;
	uint8_t *h;
	uint32_t sum;

	if (hz_pbuf_alloc(NULL, hlen + len, &v) != 0) {
		hz_counter_inc(&out_nomem);
		return;
	}
	h = hz_view_data(&v);
	hz_put16(h, o->sport);
	hz_put16(h + 2, o->dport);
	hz_put32(h + 4, o->seq);
	hz_put32(h + 8, o->ack);
	h[12] = (uint8_t)((hlen / 4) << 4);
	h[13] = o->flags;
	hz_put16(h + 14, o->wnd);
	hz_put16(h + 16, 0);
	hz_put16(h + 18, 0);
	memcpy(h + TCP_HLEN, o->opts, o->olen);
	if (len > 0)
		tcp_sb_copy(c, o->seq, h + hlen, len);
	sum = hz_inet_pseudo_sum(o->src, o->dst, HZ_IPPROTO_TCP,
				 (uint16_t)(hlen + len));
	if (o->gso > 0) {
		/* The device sums each segment from the pseudo-header's. */
		hz_put16(h + 16, (uint16_t)~hz_inet_fold(sum));
		v.pb->gso_size = o->gso;
		hz_counter_inc(&out_tso);
	} else {
		hz_put16(h + 16, hz_inet_fold(hz_inet_sum(h, hlen + len, sum)));
	}
	hz_counter_inc(&out_segs);
	/* Output consumes the view, whatever it returns; a failure there
	 * is the lower layer's to count, and retransmission covers it. */
	if (t->env.output(t->env.ctx, o->src, o->dst, &v) != 0)
		hz_counter_inc(&out_fail);
}

/* --- options ------------------------------------------------------------ */

/* MSS (RFC 9293). */
static uint8_t *put_mss(uint8_t *p, uint16_t mss)
{
	p[0] = 2;
	p[1] = 4;
	hz_put16(p + 2, mss);
	return p + 4;
}

/* NOP, window scale @shift (RFC 7323). */
static uint8_t *put_wscale(uint8_t *p, uint8_t shift)
{
	p[0] = 1;
	p[1] = 3;
	p[2] = 3;
	p[3] = shift;
	return p + 4;
}

/* NOP, NOP, SACK permitted (RFC 2018). */
static uint8_t *put_sack_perm(uint8_t *p)
{
	p[0] = 1;
	p[1] = 1;
	p[2] = 4;
	p[3] = 2;
	return p + 4;
}

/* NOP, NOP, timestamps @val and @ecr (RFC 7323). */
static uint8_t *put_tsopt(uint8_t *p, uint32_t val, uint32_t ecr)
{
	p[0] = 1;
	p[1] = 1;
	p[2] = 8;
	p[3] = 10;
	hz_put32(p + 4, val);
	hz_put32(p + 8, ecr);
	return p + 12;
}

/* The timestamps of @c, its clock now and the peer's latest. */
static uint8_t *put_ts(struct tcp_conn *c, uint8_t *p)
{
	return put_tsopt(p, (uint32_t)(hz_now() / HZ_NS_PER_MS) + c->ts_offset,
			 c->ts_recent);
}

/* Collects out-of-order ranges; the one with the latest segment first. */
static unsigned sack_blocks(const struct tcp_conn *c, uint32_t b[][2],
			    unsigned max)
{
	uint32_t r[TCP_SCORE_MAX][2];
	unsigned n = 0, out = 0, first = 0;

	for (const struct tcp_rseg *q = c->ofo; q != NULL; q = q->next) {
		uint32_t l = q->seq, e = q->seq + q->v.len;

		if (n > 0 && SEQ_LEQ(l, r[n - 1][1])) {
			if (SEQ_GT(e, r[n - 1][1]))
				r[n - 1][1] = e;
		} else if (n < TCP_SCORE_MAX) {
			r[n][0] = l;
			r[n][1] = e;
			n++;
		} else {
			break;
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (SEQ_GEQ(c->last_rcvd_seq, r[i][0]) &&
		    SEQ_LT(c->last_rcvd_seq, r[i][1]))
			first = i;
	if (n == 0)
		return 0;
	b[out][0] = r[first][0];
	b[out][1] = r[first][1];
	out++;
	for (unsigned i = 0; i < n && out < max; i++) {
		if (i == first)
			continue;
		b[out][0] = r[i][0];
		b[out][1] = r[i][1];
		out++;
	}
	return out;
}

static uint8_t *put_sack(struct tcp_conn *c, uint8_t *p, unsigned max)
{
	uint32_t b[TCP_SACK_MAX][2];
	unsigned n = sack_blocks(c, b, max);

	if (n == 0)
		return p;
	p[0] = 1;
	p[1] = 1;
	p[2] = 5;
	p[3] = (uint8_t)(2 + 8 * n);
	p += 4;
	for (unsigned i = 0; i < n; i++) {
		hz_put32(p, b[i][0]);
		hz_put32(p + 4, b[i][1]);
		p += 8;
	}
	return p;
}

/*
 * The payload a data segment may carry now: the send MSS less the options
 * the segment will have (RFC 6691), so that header, options and payload
 * together never exceed the MTU and no segment is fragmented.
 */
static uint32_t seg_payload_max(const struct tcp_conn *c)
{
	uint32_t b[TCP_SACK_MAX][2];
	uint32_t opts = c->ts_ok ? 12 : 0;

	if (c->sack_ok && c->ofo != NULL) {
		unsigned n = sack_blocks(c, b, c->ts_ok ? 3 : 4);

		if (n > 0)
			opts += 4 + 8 * n;
	}
	return c->snd_mss - opts;
}

/* The options of a SYN (active open) or SYN-ACK (what the peer offered). */
static uint8_t *put_syn_options(struct tcp_conn *c, uint8_t *p)
{
	bool active = c->state == TCPS_SYN_SENT;

	p = put_mss(p, tcp_local_mss(c->tcp));
	if (active || c->ws_ok)
		p = put_wscale(p, c->rcv_wscale);
	if (active || c->sack_ok)
		p = put_sack_perm(p);
	if (active || c->ts_ok)
		p = put_ts(c, p);
	return p;
}

static uint8_t build_options(struct tcp_conn *c, uint8_t flags, uint8_t *opts)
{
	uint8_t *p = opts;

	if (flags & TH_SYN)
		return (uint8_t)(put_syn_options(c, p) - opts);
	if (c->ts_ok)
		p = put_ts(c, p);
	if (c->sack_ok && c->ofo != NULL)
		p = put_sack(c, p, c->ts_ok ? 3 : 4);
	return (uint8_t)(p - opts);
}

/* --- the receive window ------------------------------------------------- */

/* The window we can offer: buffer space not yet held by the application. */
static uint32_t rcv_space(const struct tcp_conn *c)
{
	return c->rcv_cap > c->rq_bytes ? c->rcv_cap - c->rq_bytes : 0;
}

uint16_t tcp_rcv_window_field(struct tcp_conn *c, bool syn)
{
	uint32_t space = rcv_space(c);
	uint32_t edge = c->rcv_nxt + space;
	uint32_t mss = tcp_local_mss(c->tcp);
	uint32_t step = c->rcv_cap / 2 < mss ? c->rcv_cap / 2 : mss;
	uint32_t old = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv : c->rcv_nxt;
	uint32_t win, field;
	uint8_t shift = syn ? 0 : c->rcv_wscale;

	/* Receiver SWS avoidance (RFC 9293 3.8.6.2.2): move the right
	 * edge only by a full step; and never shrink the window. */
	if (SEQ_LT(edge, old) || edge - old < step)
		edge = old;
	win = edge - c->rcv_nxt;
	field = win >> shift;
	if (field > TCP_MAX_WIN)
		field = TCP_MAX_WIN;
	if (SEQ_GT(c->rcv_nxt + (field << shift), c->rcv_adv))
		c->rcv_adv = c->rcv_nxt + (field << shift);
	return (uint16_t)field;
}

/* --- sending for a connection ------------------------------------------ */

/* Sends one segment of @c: @len bytes at @seq with @flags. */
static void send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len,
			 uint8_t flags)
{
	struct tcp_out o = {
	    .src = c->laddr,
	    .dst = c->raddr,
	    .sport = c->lport,
	    .dport = c->rport,
	    .seq = seq,
	    .flags = flags,
	};

	if (c->state != TCPS_SYN_SENT)
		o.flags |= TH_ACK;
	if (o.flags & TH_ACK)
		o.ack = c->rcv_nxt;
	o.olen = build_options(c, o.flags, o.opts);
	if (len > 0 && len > seg_payload_max(c))
		o.gso = seg_payload_max(c); /* send_window's TSO burst */
	o.wnd = tcp_rcv_window_field(c, (flags & TH_SYN) != 0);
	c->last_ack_sent = c->rcv_nxt;
	c->ack_now = false;
	c->ack_round = false;
	c->unacked_segs = 0;
	hz_timer_cancel(&c->t_delack);
	if (c->tcp != NULL)
		emit(c->tcp, &o, c, len);
}

void tcp_send_ack(struct tcp_conn *c)
{
	send_segment(c, c->snd_nxt, 0, 0);
}

void tcp_send_keepalive(struct tcp_conn *c)
{
	hz_counter_inc(&out_probe);
	send_segment(c, c->snd_una - 1, 0, 0);
}

void tcp_send_rst_conn(struct tcp_conn *c)
{
	hz_counter_inc(&out_rst);
	send_segment(c, c->snd_nxt, 0, TH_RST);
}

void tcp_send_rst_reply(struct hz_tcp *t, const struct tcp_seg *s)
{
	struct tcp_out o = {
	    .src = s->dst,
	    .dst = s->src,
	    .sport = s->dport,
	    .dport = s->sport,
	};
	const uint8_t *h = hz_view_data(&s->v);
	uint8_t flags = h[13];
	uint32_t len = s->v.len - s->hlen;

	hz_counter_inc(&out_rst);
	if (flags & TH_ACK) {
		o.seq = s->ack;
		o.flags = TH_RST;
	} else {
		o.ack = s->seq + len + ((flags & TH_SYN) != 0) +
			((flags & TH_FIN) != 0);
		o.flags = TH_RST | TH_ACK;
	}
	emit(t, &o, NULL, 0);
}

void tcp_send_cookie_synack(struct hz_tcp *t, const struct tcp_seg *s,
			    uint32_t iss)
{
	struct tcp_out o = {
	    .src = s->dst,
	    .dst = s->src,
	    .sport = s->dport,
	    .dport = s->sport,
	    .seq = iss,
	    .ack = s->seq + 1,
	    .flags = TH_SYN | TH_ACK,
	};
	uint32_t win = t->tune.rcvbuf;
	uint8_t *p = put_mss(o.opts, tcp_local_mss(t));

	o.wnd = (uint16_t)(win > TCP_MAX_WIN ? TCP_MAX_WIN : win);
	if (s->opt.ts_ok) {
		/* The other options ride in the timestamp (tcp_cookie.c). */
		if (s->opt.ws_ok)
			p = put_wscale(p, tcp_wscale_for(t->tune.rcvbuf));
		if (s->opt.sack_perm)
			p = put_sack_perm(p);
		p = put_tsopt(p, tcp_cookie_tsval(t, s), s->opt.tsval);
	}
	o.olen = (uint8_t)(p - o.opts);
	emit(t, &o, NULL, 0);
}

/* --- SACK scoreboard ------------------------------------------------------ */

uint32_t tcp_sacked_bytes(const struct tcp_conn *c)
{
	uint32_t n = 0;

	for (uint8_t i = 0; i < c->nscore; i++)
		n += c->score[i][1] - c->score[i][0];
	return n;
}

/* Unsacked bytes in [from, to). */
static uint32_t unsacked_in(const struct tcp_conn *c, uint32_t from,
			    uint32_t to)
{
	uint32_t n, l, r;

	if (SEQ_GEQ(from, to))
		return 0;
	n = to - from;
	for (uint8_t i = 0; i < c->nscore; i++) {
		l = SEQ_GT(c->score[i][0], from) ? c->score[i][0] : from;
		r = SEQ_LT(c->score[i][1], to) ? c->score[i][1] : to;
		if (SEQ_LT(l, r))
			n -= r - l;
	}
	return n;
}

/* Where recovery considers data lost: below the highest SACKed byte. */
static uint32_t lost_end(const struct tcp_conn *c)
{
	if (c->nscore > 0)
		return c->score[c->nscore - 1][1];
	/* NewReno: only the first unacknowledged segment. */
	return c->snd_una + c->snd_mss;
}

/* RFC 6675 pipe: bytes believed to be in the network. */
static uint32_t pipe_estimate(const struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t sacked = tcp_sacked_bytes(c);
	uint32_t lost, from;

	if (!c->sack_ok || c->nscore == 0) {
		/* No SACK: each duplicate ACK is a segment that left. */
		uint64_t dup = (uint64_t)c->dupacks * c->snd_mss;

		sacked = dup < flight ? (uint32_t)dup : flight;
	}
	from = SEQ_GT(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
	lost = unsacked_in(c, from, lost_end(c));
	if (SEQ_GT(from + lost, c->snd_max))
		lost = 0;
	return flight > sacked + lost ? flight - sacked - lost : 0;
}

/* The next hole to retransmit at or after high_rxt; false if none. */
static bool next_hole(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
	uint32_t p = SEQ_GT(c->high_rxt, c->snd_una) ? c->high_rxt : c->snd_una;
	uint32_t end = lost_end(c);

	if (SEQ_GT(end, c->snd_max))
		end = c->snd_max;
	for (uint8_t i = 0; i < c->nscore && SEQ_LT(p, end); i++) {
		if (SEQ_LEQ(c->score[i][1], p))
			continue;
		if (SEQ_GEQ(p, c->score[i][0])) {
			p = c->score[i][1];
			continue;
		}
		end = SEQ_LT(c->score[i][0], end) ? c->score[i][0] : end;
		break;
	}
	if (SEQ_GEQ(p, end))
		return false;
	*seq = p;
	*len = end - p;
	if (*len > seg_payload_max(c))
		*len = seg_payload_max(c);
	return true;
}

/* Sends @len bytes at @seq, with FIN if @fin. */
static void send_data(struct tcp_conn *c, uint32_t seq, uint32_t len, bool fin)
{
	uint8_t flags = TH_PSH;

	if (fin)
		flags |= TH_FIN;
	if (SEQ_LT(seq, c->snd_max))
		hz_counter_inc(&out_rexmt);
	send_segment(c, seq, len, flags);
	c->last_data_sent = hz_now();
	if (flags & TH_FIN)
		c->fin_sent = true;
}

/*
 * RFC 5681 4.1: a connection that sent nothing for longer than an RTO
 * no longer knows the path; it starts again from the initial window
 * rather than send a whole old window in one burst.
 */
static void restart_after_idle(struct tcp_conn *c)
{
	uint32_t iw = 10u * c->snd_mss; /* RFC 6928 */

	if (c->snd_una != c->snd_max || c->last_data_sent == 0 ||
	    c->cwnd <= iw || hz_now() - c->last_data_sent <= c->rto)
		return;
	c->cwnd = iw;
	hz_counter_inc(&cwnd_restarts);
}

/* Fast recovery: retransmits holes while the pipe has room. */
static void recovery_send(struct tcp_conn *c)
{
	uint32_t seq, len;
	bool first = SEQ_LEQ(c->high_rxt, c->snd_una);

	while (next_hole(c, &seq, &len)) {
		uint32_t pipe = pipe_estimate(c);
		uint32_t end = tcp_sb_end(c);
		uint32_t data = SEQ_LT(seq, end) ? end - seq : 0;

		/* The first retransmission goes regardless (RFC 6675 4). */
		if (!first && pipe + len > c->cwnd)
			break;
		first = false;
		/* @len is sequence space: it may end with our FIN. */
		send_data(c, seq, len < data ? len : data,
			  SEQ_GT(seq + len, end) && SEQ_GT(c->snd_max, end));
		c->high_rxt = seq + len;
		c->rxt_fence = c->snd_max;
	}
}

/* Room the congestion window leaves for new data. */
static uint32_t cwnd_room(const struct tcp_conn *c)
{
	uint32_t used = c->snd_nxt - c->snd_una;
	uint32_t left;

	if (c->in_recovery) {
		used = pipe_estimate(c);
	} else {
		/* Limited transmit (RFC 3042): what the peer holds left. */
		left = c->nscore > 0 ? tcp_sacked_bytes(c)
				     : (c->dupacks < 2 ? c->dupacks : 2) *
					   (uint32_t)c->snd_mss;
		used = used > left ? used - left : 0;
	}

	return c->cwnd > used ? c->cwnd - used : 0;
}

/* Decides whether @len bytes (of @avail) at SND.NXT go now. */
static bool should_send(const struct tcp_conn *c, uint32_t len, uint32_t avail,
			bool fin)
{
	if (len == 0)
		return fin;
	if (len >= seg_payload_max(c) || SEQ_LT(c->snd_nxt, c->snd_max) ||
	    c->force_send)
		return true;
	if (len < avail)
		return false; /* more is waiting for window */
	/* Nagle (RFC 9293 3.7.4): small data waits for outstanding ACKs. */
	if (c->nodelay || c->snd_una == c->snd_max || fin)
		return true;
	return c->max_snd_wnd > 0 && len >= c->max_snd_wnd / 2;
}

/*
 * The most new data one segment of @c may carry, @seg being one MSS of
 * payload: @seg, or on a device that segments TCP itself (TSO) as many
 * whole @seg as its largest packet holds (within one 64 KiB pbuf), and
 * at most a quarter of the congestion window. A burst is lost whole, and
 * a window in one burst would leave no later segment to bring the
 * duplicate ACKs of fast recovery: only the retransmission timeout.
 */
static uint32_t burst_max(const struct tcp_conn *c, uint32_t seg)
{
	uint32_t hdr = HZ_PBUF_HEADROOM + HZ_ETH_HLEN + 20 /* IPv4 */ +
		       TCP_HLEN + TCP_OPT_MAX;
	uint32_t room = c->tcp->env.gso_max;

	if (room > 65536 - hdr)
		room = 65536 - hdr;
	if (room > c->cwnd / 4)
		room = c->cwnd / 4;
	if (!c->tcp->tune.tso || room < 2 * seg)
		return seg;
	return room / seg * seg;
}

/*
 * A burst of @len > one segment @seg cuts off its short tail where Nagle
 * would hold that tail after the full segments before it (RFC 9293
 * 3.7.4): unless it ends the data with no-delay or a FIN, or is resent.
 */
static uint32_t burst_trim(const struct tcp_conn *c, uint32_t len,
			   uint32_t avail, uint32_t seg)
{
	uint32_t tail = len % seg;
	bool end = len == avail;

	if (tail == 0 || SEQ_LT(c->snd_nxt, c->snd_max) || c->force_send ||
	    (end && (c->nodelay || c->fin_queued)))
		return len;
	return len - tail;
}

/* Sends new data (or go-back-N retransmission) within the windows. */
static bool send_window(struct tcp_conn *c)
{
	bool sent = false;

	restart_after_idle(c);
	for (;;) {
		uint32_t end = tcp_sb_end(c);
		uint32_t off = c->snd_nxt - c->snd_una;
		uint32_t avail = SEQ_LT(c->snd_nxt, end) ? end - c->snd_nxt : 0;
		uint32_t room = c->snd_wnd > off ? c->snd_wnd - off : 0;
		uint32_t croom = cwnd_room(c);
		uint32_t seg = seg_payload_max(c), burst = burst_max(c, seg);
		uint32_t len = avail;
		bool fin;

		if (room > croom)
			room = croom;
		if (len > room)
			len = room;
		if (len > burst)
			len = burst;
		if (len > seg)
			len = burst_trim(c, len, avail, seg);
		fin = c->fin_queued && c->snd_nxt + len == end;
		if (!should_send(c, len, avail, fin))
			break;
		if (!c->rtt_timing && !SEQ_LT(c->snd_nxt, c->snd_max) &&
		    !c->ts_ok) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start = hz_now();
		}
		send_data(c, c->snd_nxt, len, fin);
		sent = true;
		c->snd_nxt += len + (fin ? 1 : 0);
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		tcp_rexmt_arm(c, false);
		if (fin)
			break;
	}
	return sent;
}

/* SYN_SENT and SYN_RECEIVED: the SYN (or SYN-ACK) while it is unacked. */
static void output_handshake(struct tcp_conn *c)
{
	if (c->snd_nxt == c->iss) {
		if (c->snd_max == c->iss && !c->ts_ok) {
			c->rtt_timing = true;
			c->rtt_seq = c->iss;
			c->rtt_start = hz_now();
		}
		send_segment(c, c->iss, 0, TH_SYN);
		c->snd_nxt = c->iss + 1;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		tcp_rexmt_arm(c, false);
	} else if (c->ack_now) {
		tcp_send_ack(c);
	}
}

/*
 * Whether data or a FIN waits, nothing is in flight (so no ACK will come
 * to move things on), and the peer's window is closed or too small for
 * what waits: then the persist timer must probe or override.
 */
static bool window_blocked(const struct tcp_conn *c)
{
	uint32_t end = tcp_sb_end(c) + (c->fin_queued ? 1 : 0);
	uint32_t avail = end - c->snd_nxt;

	if (!SEQ_LT(c->snd_nxt, end) || c->snd_una != c->snd_max)
		return false;
	return c->snd_wnd == 0 ||
	       c->snd_wnd < (avail < c->snd_mss ? avail : c->snd_mss);
}

void tcp_output(struct tcp_conn *c)
{
	bool sent = false;

	if (c->tcp == NULL)
		return;
	switch (c->state) {
	case TCPS_CLOSED:
	case TCPS_LISTEN:
		return;
	case TCPS_SYN_SENT:
	case TCPS_SYN_RECEIVED:
		output_handshake(c);
		return;
	case TCPS_TIME_WAIT:
		if (c->ack_now)
			tcp_send_ack(c);
		return;
	default:
		break;
	}
	if (c->in_recovery)
		recovery_send(c);
	if (!c->persisting)
		sent = send_window(c);
	if (!sent && c->ack_now)
		tcp_send_ack(c);
	if (window_blocked(c) && !hz_timer_armed(&c->t_rexmt))
		tcp_persist_arm(c);
}

void tcp_loss_probe(struct tcp_conn *c)
{
	uint32_t end = tcp_sb_end(c), seg = seg_payload_max(c);
	uint32_t off = c->snd_nxt - c->snd_una;
	uint32_t room = c->snd_wnd > off ? c->snd_wnd - off : 0;
	uint32_t seq, len, data;

	c->tlp_out = true;
	c->tlp_dsack = false;
	if (c->snd_nxt == c->snd_max && SEQ_LT(c->snd_nxt, end)) {
		/* New data if the peer's window takes a segment of it. */
		len = end - c->snd_nxt < seg ? end - c->snd_nxt : seg;
		if (len <= room) {
			bool fin = c->fin_queued && c->snd_nxt + len == end;

			c->tlp_rexmt = false;
			c->tlp_seq = c->snd_nxt;
			send_data(c, c->snd_nxt, len, fin);
			c->snd_nxt += len + (fin ? 1 : 0);
			c->snd_max = c->snd_nxt;
			c->tlp_end = c->snd_max;
			return;
		}
	}
	/* Else the last segment again (@len is sequence space: it may end
	 * with our FIN). */
	len = c->snd_max - c->snd_una < seg ? c->snd_max - c->snd_una : seg;
	seq = c->snd_max - len;
	data = SEQ_LT(seq, end) ? end - seq : 0;
	c->tlp_rexmt = true;
	c->tlp_seq = seq;
	c->tlp_end = c->snd_max;
	send_data(c, seq, len < data ? len : data,
		  SEQ_GT(seq + len, end) && SEQ_GT(c->snd_max, end));
}

uint32_t tcp_loss_ssthresh(const struct tcp_conn *c)
{
	uint32_t half = (c->snd_max - c->snd_una) / 2;

	return half > 2u * c->snd_mss ? half : 2u * c->snd_mss;
}

void tcp_retransmit_timeout(struct tcp_conn *c)
{
	/* RFC 5681 (4), RFC 6582: collapse cwnd, remember recover. */
	c->ssthresh = tcp_loss_ssthresh(c);
	c->cwnd = c->snd_mss;
	c->recover = c->snd_max;
	c->in_recovery = false;
	c->dupacks = 0;
	c->nscore = 0; /* RFC 6675 5.1: the peer may have reneged */
	c->rtt_timing = false;
	c->snd_nxt = c->snd_una;
	if (c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RECEIVED)
		c->snd_nxt = c->iss;
	tcp_output(c);
}
