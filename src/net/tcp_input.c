/*
 * TCP input, shaped after RFC 9293 section 3.10.7 ("SEGMENT ARRIVES"):
 * one small function per step, a per-segment context (struct tcp_seg)
 * passed from step to step, and a named, counted exit for every segment
 * that is dropped. A step returns a verdict; seg_exit takes it, like
 * OpenBSD's drop / dropafterack / dropwithreset labels.
 *
 * Nothing a peer sends reaches an assertion: malformed input is dropped
 * and counted.
 */
#include <string.h>

#include "haze/mem.h"
#include "net/tcp_int.h"

static HZ_COUNTER(in_segs, "tcp", "in_segments");
static HZ_COUNTER(drop_short, "tcp", "drop_short");
static HZ_COUNTER(drop_bad_offset, "tcp", "drop_bad_offset");
static HZ_COUNTER(drop_bad_checksum, "tcp", "drop_bad_checksum");
static HZ_COUNTER(drop_bad_options, "tcp", "drop_bad_options");
static HZ_COUNTER(drop_bad_addr, "tcp", "drop_bad_address");
static HZ_COUNTER(drop_closed_port, "tcp", "drop_closed_port");
static HZ_COUNTER(drop_listen_rst, "tcp", "drop_listen_rst");
static HZ_COUNTER(drop_listen_ack, "tcp", "drop_listen_bad_ack");
static HZ_COUNTER(drop_listen_noflags, "tcp", "drop_listen_no_syn");
static HZ_COUNTER(drop_listen_nomem, "tcp", "drop_listen_no_memory");
static HZ_COUNTER(drop_cookie_queue, "tcp", "drop_cookie_queue_full");
static HZ_COUNTER(cookies_sent, "tcp", "syncookies_sent");
static HZ_COUNTER(cookies_ok, "tcp", "syncookies_accepted");
static HZ_COUNTER(drop_synsent_ack, "tcp", "drop_syn_sent_bad_ack");
static HZ_COUNTER(drop_synsent_rst, "tcp", "drop_syn_sent_rst");
static HZ_COUNTER(drop_synsent_noflags, "tcp", "drop_syn_sent_no_syn");
static HZ_COUNTER(drop_paws, "tcp", "drop_paws");
static HZ_COUNTER(drop_no_ts, "tcp", "drop_no_timestamp");
static HZ_COUNTER(drop_rst_window, "tcp", "drop_rst_out_of_window");
static HZ_COUNTER(rst_challenge, "tcp", "drop_rst_challenged");
static HZ_COUNTER(syn_challenge, "tcp", "drop_syn_challenged");
static HZ_COUNTER(drop_out_of_window, "tcp", "drop_out_of_window");
static HZ_COUNTER(drop_no_ack, "tcp", "drop_no_ack");
static HZ_COUNTER(drop_synrcvd_ack, "tcp", "drop_syn_received_bad_ack");
static HZ_COUNTER(drop_ack_too_new, "tcp", "drop_ack_too_new");
static HZ_COUNTER(drop_ack_too_old, "tcp", "drop_ack_too_old");
static HZ_COUNTER(drop_timewait, "tcp", "drop_time_wait");
static HZ_COUNTER(timewait_reused, "tcp", "time_wait_reused");
static HZ_COUNTER(dup_segs, "tcp", "duplicate_segments");
static HZ_COUNTER(resets_rcvd, "tcp", "resets_received");
static HZ_COUNTER(data_after_close, "tcp", "drop_data_after_close");
static HZ_COUNTER(drop_bad_length, "tcp", "drop_bad_length");
static HZ_COUNTER(recoveries, "tcp", "fast_recoveries");
static HZ_COUNTER(lost_rexmts, "tcp", "lost_retransmits_detected");
static HZ_COUNTER(probe_repairs, "tcp", "loss_probe_repairs");

/* --- parsing -------------------------------------------------------------- */

/* Parses one option at @p (with @left bytes); its length, or 0 if bad. */
static size_t parse_option(const uint8_t *p, size_t left, bool syn,
			   struct tcp_opts *o)
{
	size_t n;

	if (p[0] == 0 || p[0] == 1)
		return 1;
	if (left < 2 || p[1] < 2 || p[1] > left)
		return 0;
	n = p[1];
	switch (p[0]) {
	case 2: /* MSS, SYN only (RFC 9293 section 3.7.1) */
		if (n != 4)
			return 0;
		if (syn) {
			o->mss_ok = true;
			o->mss = hz_get16(p + 2);
		}
		break;
	case 3: /* window scale, RFC 7323 */
		if (n != 3)
			return 0;
		if (syn) {
			o->ws_ok = true;
			o->ws = p[2] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : p[2];
		}
		break;
	case 4: /* SACK permitted, RFC 2018 */
		if (n != 2)
			return 0;
		o->sack_perm = syn;
		break;
	case 5: /* SACK blocks */
		if ((n - 2) % 8 != 0)
			return 0;
		for (size_t i = 2; i < n && o->nsack < TCP_SACK_MAX; i += 8) {
			o->sack[o->nsack][0] = hz_get32(p + i);
			o->sack[o->nsack][1] = hz_get32(p + i + 4);
			o->nsack++;
		}
		break;
	case 8: /* timestamps, RFC 7323 */
		if (n != 10)
			return 0;
		o->ts_ok = true;
		o->tsval = hz_get32(p + 2);
		o->tsecr = hz_get32(p + 6);
		break;
	default:
		break;
	}
	return n;
}

bool tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o)
{
	/* A SYN is recognised by the caller setting o->mss_ok beforehand. */
	bool syn = o->mss_ok;

	memset(o, 0, sizeof(*o));
	while (len > 0 && p[0] != 0) {
		size_t n = parse_option(p, len, syn, o);

		if (n == 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/*
 * Whether the checksum is right. A frame the device verified, or whose
 * data it vouches for with the field left partial (receive offload,
 * hz_frame.csum_ok), is not summed again: its field may not hold a sum.
 */
static bool checksum_ok(const struct tcp_seg *s)
{
	uint32_t sum;

	if (s->v.pb->csum_ok)
		return true;
	sum = hz_inet_pseudo_sum(s->src, s->dst, HZ_IPPROTO_TCP,
				 (uint16_t)s->v.len);
	sum = hz_inet_sum(hz_view_data(&s->v), s->v.len, sum);
	return hz_inet_fold(sum) == 0;
}

/* Step 0: header, checksum and options into the context. */
static enum tcp_verdict seg_parse(struct tcp_seg *s)
{
	const uint8_t *h;

	if (s->v.len < TCP_HLEN || s->v.len > 0xffff) {
		tcp_drop(s->tcp, &drop_short);
		return TCP_DROP;
	}
	h = hz_view_data(&s->v);
	s->hlen = (uint16_t)((h[12] >> 4) * 4);
	if (s->hlen < TCP_HLEN || s->hlen > s->v.len) {
		tcp_drop(s->tcp, &drop_bad_offset);
		return TCP_DROP;
	}
	if (!checksum_ok(s)) {
		tcp_drop(s->tcp, &drop_bad_checksum);
		return TCP_DROP;
	}
	s->sport = hz_get16(h);
	s->dport = hz_get16(h + 2);
	s->seq = hz_get32(h + 4);
	s->ack = hz_get32(h + 8);
	s->flags = h[13] & 0x3f;
	s->wnd = hz_get16(h + 14);
	s->len = s->v.len - s->hlen;
	s->poff = s->hlen;
	s->opt.mss_ok = (s->flags & TH_SYN) != 0;
	if (!tcp_parse_options(h + TCP_HLEN, s->hlen - TCP_HLEN, &s->opt)) {
		tcp_drop(s->tcp, &drop_bad_options);
		return TCP_DROP;
	}
	if (s->sport == 0 || s->dport == 0 ||
	    (s->src == s->dst && s->sport == s->dport)) {
		tcp_drop(s->tcp, &drop_bad_addr);
		return TCP_DROP;
	}
	return TCP_CONTINUE;
}

/* --- exits ------------------------------------------------------------- */

static void seg_exit(struct tcp_seg *s, enum tcp_verdict v)
{
	switch (v) {
	case TCP_DROP_AFTER_ACK:
		if (s->c != NULL && !(s->flags & TH_RST))
			tcp_send_ack(s->c);
		break;
	case TCP_DROP_WITH_RESET:
		if (!(s->flags & TH_RST))
			tcp_send_rst_reply(s->tcp, s);
		break;
	default:
		break;
	}
	hz_view_release(&s->v);
}

/* Counts @c, sends a challenge ACK (rate-limited), drops the segment. */
static enum tcp_verdict challenge(struct tcp_seg *s, struct hz_counter *c)
{
	tcp_drop(s->tcp, c);
	if (s->c != NULL && tcp_challenge_allowed(s->tcp))
		tcp_send_ack(s->c); /* even in answer to a RST */
	return TCP_DROP;
}

/* --- negotiation ------------------------------------------------------- */

/* Takes what the peer's SYN offers: MSS, window scale, SACK, timestamps. */
static void syn_options(struct tcp_conn *c, const struct tcp_seg *s,
			bool we_offered)
{
	uint16_t ours = tcp_local_mss(c->tcp);
	uint16_t theirs = s->opt.mss_ok ? s->opt.mss : 536;

	c->snd_mss = theirs < ours ? theirs : ours;
	if (c->snd_mss < 64)
		c->snd_mss = 64;
	c->ws_ok = s->opt.ws_ok && we_offered;
	c->snd_wscale = c->ws_ok ? s->opt.ws : 0;
	if (!c->ws_ok)
		c->rcv_wscale = 0;
	c->sack_ok = s->opt.sack_perm && we_offered;
	c->ts_ok = s->opt.ts_ok && we_offered;
	if (c->ts_ok) {
		c->ts_recent = s->opt.tsval;
		c->ts_recent_age = hz_now();
	}
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->snd_wnd = s->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->cwnd = 10u * c->snd_mss; /* RFC 6928 initial window */
	c->ssthresh = UINT32_MAX / 2;
}

/* --- LISTEN -------------------------------------------------------------- */

/*
 * A connection of listener @l to the sender of @s, counted as pending
 * until it is accepted; NULL (the drop counted) without memory.
 */
static struct tcp_conn *passive_conn(struct hz_listener *l,
				     const struct tcp_seg *s)
{
	struct tcp_conn *c = tcp_conn_alloc(s->tcp);

	if (c == NULL) {
		tcp_drop(s->tcp, &drop_listen_nomem);
		return NULL;
	}
	c->laddr = s->dst;
	c->lport = s->dport;
	c->raddr = s->src;
	c->rport = s->sport;
	c->listener = l;
	l->pending++;
	c->ts_offset =
	    tcp_ts_offset(s->tcp, c->laddr, c->lport, c->raddr, c->rport);
	return c;
}

/* A new embryonic connection from a SYN that the backlog has room for. */
static enum tcp_verdict listen_open(struct hz_listener *l, struct tcp_seg *s)
{
	struct tcp_conn *c = passive_conn(l, s);

	if (c == NULL)
		return TCP_DROP;
	c->rcv_wscale = tcp_wscale_for(c->rcv_cap);
	syn_options(c, s, true);
	c->iss = tcp_isn(s->tcp, c->laddr, c->lport, c->raddr, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sb_seq = c->iss + 1;
	c->recover = c->iss;
	c->state = TCPS_SYN_RECEIVED;
	tcp_conn_hash(c);
	tcp_output(c);
	return TCP_DONE;
}

/* The final ACK of a SYN-cookie handshake: an established connection. */
static enum tcp_verdict listen_cookie_ack(struct hz_listener *l,
					  struct tcp_seg *s)
{
	uint16_t mss = tcp_cookie_check(s->tcp, s);
	struct tcp_cookie_opts co;
	struct tcp_conn *c;

	if (mss == 0) {
		tcp_drop(s->tcp, &drop_listen_ack);
		return TCP_DROP_WITH_RESET;
	}
	if (l->aq_len >= l->backlog) {
		tcp_drop(s->tcp, &drop_cookie_queue);
		return TCP_DROP;
	}
	c = passive_conn(l, s);
	if (c == NULL)
		return TCP_DROP;
	hz_counter_inc(&cookies_ok);
	c->snd_mss = mss;
	c->iss = s->ack - 1;
	c->irs = s->seq - 1;
	c->snd_una = c->snd_nxt = c->snd_max = s->ack;
	c->sb_seq = s->ack;
	c->recover = c->iss;
	c->rcv_nxt = c->rcv_adv = s->seq;
	if (tcp_cookie_opts(s->tcp, s, &co)) {
		c->ts_ok = true;
		c->ts_recent = s->opt.tsval;
		c->ts_recent_age = hz_now();
		c->sack_ok = co.sack_ok;
		c->ws_ok = co.ws_ok;
		c->snd_wscale = co.ws;
		c->rcv_wscale = co.ws_ok ? tcp_wscale_for(c->rcv_cap) : 0;
	}
	c->snd_wnd = c->max_snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->cwnd = 10u * mss;
	c->ssthresh = UINT32_MAX / 2;
	c->state = TCPS_ESTABLISHED;
	tcp_conn_hash(c);
	tcp_listener_established(c);
	s->c = c;
	if (s->len > 0 || (s->flags & TH_FIN))
		return TCP_CONTINUE; /* data on the final ACK */
	return TCP_DONE;
}

static enum tcp_verdict listen_input(struct hz_listener *l, struct tcp_seg *s)
{
	uint32_t iss;

	if (s->flags & TH_RST) {
		tcp_drop(s->tcp, &drop_listen_rst);
		return TCP_DROP;
	}
	if (s->flags & TH_ACK)
		return listen_cookie_ack(l, s);
	if (!(s->flags & TH_SYN) || (s->flags & TH_FIN)) {
		tcp_drop(s->tcp, &drop_listen_noflags);
		return TCP_DROP;
	}
	if (l->pending + l->aq_len < l->backlog)
		return listen_open(l, s);
	/* Backlog full: answer statelessly (tcp_cookie.c). */
	iss = tcp_cookie_make(s->tcp, s);
	tcp_send_cookie_synack(s->tcp, s, iss);
	hz_counter_inc(&cookies_sent);
	return TCP_DONE;
}

/* No connection and no listener: RFC 9293's CLOSED state. */
static enum tcp_verdict closed_input(struct tcp_seg *s)
{
	tcp_drop(s->tcp, &drop_closed_port);
	return (s->flags & TH_RST) ? TCP_DROP : TCP_DROP_WITH_RESET;
}

/* --- SYN_SENT ------------------------------------------------------------ */

/* SYN_SENT, first and second checks: the ACK, then the RST bit. */
static enum tcp_verdict syn_sent_ack_rst(struct tcp_conn *c,
					 const struct tcp_seg *s)
{
	bool ack_ok = false;

	if (s->flags & TH_ACK) {
		if (SEQ_LEQ(s->ack, c->iss) || SEQ_GT(s->ack, c->snd_max)) {
			tcp_drop(s->tcp, &drop_synsent_ack);
			return (s->flags & TH_RST) ? TCP_DROP
						   : TCP_DROP_WITH_RESET;
		}
		ack_ok = true;
	}
	if (s->flags & TH_RST) {
		if (!ack_ok) {
			tcp_drop(s->tcp, &drop_synsent_rst);
			return TCP_DROP;
		}
		hz_counter_inc(&resets_rcvd);
		tcp_conn_fail(c, -HZ_ECONNREFUSED, "connection refused");
		tcp_conn_closed(c);
		return TCP_DROP;
	}
	if (!(s->flags & TH_SYN)) {
		tcp_drop(s->tcp, &drop_synsent_noflags);
		return TCP_DROP;
	}
	return TCP_CONTINUE;
}

static enum tcp_verdict syn_sent_input(struct tcp_conn *c, struct tcp_seg *s)
{
	enum tcp_verdict v = syn_sent_ack_rst(c, s);

	if (v != TCP_CONTINUE)
		return v;
	syn_options(c, s, true);
	if (s->flags & TH_ACK) {
		c->snd_una = s->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->rexmt_count = 0;
		hz_timer_cancel(&c->t_rexmt);
		if (c->rtt_timing) {
			tcp_rtt_sample(c, hz_now() - c->rtt_start);
			c->rtt_timing = false;
		}
		tcp_set_state(c, TCPS_ESTABLISHED);
		tcp_keep_rearm(c);
		c->ack_now = true;
	} else {
		/* Simultaneous open: answer with SYN-ACK from our ISS. */
		c->snd_nxt = c->iss;
		tcp_set_state(c, TCPS_SYN_RECEIVED);
	}
	s->seq++; /* the SYN is taken; data, if any, follows it */
	s->flags &= (uint8_t)~TH_SYN;
	/* Data on a SYN is dropped (we send no TFO); ask again for it. */
	if (s->len > 0) {
		s->len = 0;
		s->flags &= (uint8_t)~TH_FIN;
		c->ack_now = true;
	}
	if (s->flags & TH_FIN)
		return TCP_CONTINUE;
	tcp_output(c);
	return TCP_DONE;
}

/* --- synchronized states (and SYN_RECEIVED) ------------------------------ */

/* RFC 7323 section 5: PAWS, rejecting old duplicates by timestamp. */
static enum tcp_verdict step_paws(struct tcp_conn *c, struct tcp_seg *s)
{
	if (!c->ts_ok || (s->flags & TH_RST))
		return TCP_CONTINUE;
	if (!s->opt.ts_ok) {
		/* RFC 7323 3.2: once negotiated, every segment has one. */
		tcp_drop(s->tcp, &drop_no_ts);
		return TCP_DROP;
	}
	/* One tick of slack, as Linux: reordering by a millisecond. */
	if ((int32_t)(s->opt.tsval - c->ts_recent) >= -1)
		return TCP_CONTINUE;
	/* A ts_recent idle for over 24 days is invalid (section 5.5). */
	if (hz_now() - c->ts_recent_age > 24ull * 86400 * HZ_NS_PER_S) {
		c->ts_recent = 0;
		return TCP_CONTINUE;
	}
	tcp_drop(s->tcp, &drop_paws);
	return TCP_DROP_AFTER_ACK;
}

/* The receive window in sequence space (what we last advertised). */
static uint32_t rcv_wnd(const struct tcp_conn *c)
{
	return SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
}

/* RFC 5961 section 3: RST only if SEG.SEQ is exactly RCV.NXT. */
static enum tcp_verdict step_rst(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t wnd = rcv_wnd(c);

	if (!(s->flags & TH_RST))
		return TCP_CONTINUE;
	if (s->seq != c->rcv_nxt) {
		if (SEQ_GEQ(s->seq, c->rcv_nxt) &&
		    SEQ_LT(s->seq, c->rcv_nxt + (wnd > 0 ? wnd : 1)))
			return challenge(s, &rst_challenge);
		tcp_drop(s->tcp, &drop_rst_window);
		return TCP_DROP;
	}
	hz_counter_inc(&resets_rcvd);
	switch (c->state) {
	case TCPS_SYN_RECEIVED:
		if (c->listener != NULL) {
			/* Passive open: back to LISTEN, i.e. forget it. */
			tcp_conn_closed(c);
			return TCP_DROP;
		}
		tcp_conn_fail(c, -HZ_ECONNREFUSED, "connection refused");
		break;
	case TCPS_ESTABLISHED:
	case TCPS_FIN_WAIT_1:
	case TCPS_FIN_WAIT_2:
	case TCPS_CLOSE_WAIT:
		tcp_conn_fail(c, -HZ_ECONNRESET, "reset by peer");
		break;
	case TCPS_TIME_WAIT:
		/* RFC 1337: a RST must not assassinate TIME_WAIT. */
		tcp_drop(s->tcp, &drop_timewait);
		return TCP_DROP;
	default: /* CLOSING, LAST_ACK: just close */
		break;
	}
	tcp_conn_closed(c);
	return TCP_DROP;
}

/* RFC 5961 section 4: a SYN in a synchronized state gets a challenge. */
static enum tcp_verdict step_syn(struct tcp_conn *c, struct tcp_seg *s)
{
	if (!(s->flags & TH_SYN))
		return TCP_CONTINUE;
	if (c->state == TCPS_SYN_RECEIVED && s->seq == c->irs) {
		if (s->flags & TH_ACK) {
			/* Simultaneous open: the peer's SYN-ACK. Its SYN
			 * is the one we took; go on with its ACK. */
			s->flags &= (uint8_t)~TH_SYN;
			s->seq++;
			return TCP_CONTINUE;
		}
		/* The peer did not get our SYN-ACK: send it again. */
		hz_counter_inc(&dup_segs);
		c->snd_nxt = c->iss;
		tcp_output(c);
		return TCP_DROP;
	}
	return challenge(s, &syn_challenge);
}

/* Trims what precedes RCV.NXT; a full duplicate still carries its ACK. */
static void trim_front(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t todrop = c->rcv_nxt - s->seq;

	if (SEQ_LEQ(c->rcv_nxt, s->seq))
		return;
	if (todrop > s->len || (todrop == s->len && !(s->flags & TH_FIN))) {
		/* Entirely old: a duplicate, or a keepalive/window probe. */
		if ((s->flags & TH_FIN) && c->state == TCPS_TIME_WAIT &&
		    s->seq + s->len + 1 == c->rcv_nxt)
			/* The peer's FIN again (our ACK of it was lost):
			 * the ACK goes again and the 2 MSL start over
			 * (RFC 9293 3.10.7.4, as BSD's and Linux's). */
			tcp_timewait_arm(c);
		hz_counter_inc(&dup_segs);
		s->flags &= (uint8_t)~TH_FIN;
		c->ack_now = true;
		todrop = s->len;
	}
	s->seq += todrop;
	s->len -= todrop;
	s->poff += todrop;
}

/* Trims what lies beyond the window; 0 or an exit for "outside". */
static enum tcp_verdict trim_back(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t wnd = rcv_wnd(c);
	uint32_t end = s->seq + s->len;
	uint32_t todrop;

	if (SEQ_LEQ(end, c->rcv_nxt + wnd))
		return TCP_CONTINUE;
	todrop = end - (c->rcv_nxt + wnd);
	if (todrop >= s->len && s->len > 0) {
		if (wnd == 0 && s->seq == c->rcv_nxt) {
			/* A zero-window probe: keep its ACK, answer it. */
			c->ack_now = true;
		} else {
			tcp_drop(s->tcp, &drop_out_of_window);
			return TCP_DROP_AFTER_ACK;
		}
	}
	if (todrop > s->len)
		todrop = s->len;
	s->len -= todrop;
	s->flags &= (uint8_t)~TH_FIN;
	return TCP_CONTINUE;
}

/* RFC 9293 first check: sequence acceptability, by trimming. */
static enum tcp_verdict step_seq(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t wnd = rcv_wnd(c);

	/* Wholly beyond the window (not just a probe at RCV.NXT). */
	if (SEQ_GEQ(s->seq, c->rcv_nxt + (wnd > 0 ? wnd : 1)) &&
	    !(wnd == 0 && s->seq == c->rcv_nxt)) {
		tcp_drop(s->tcp, &drop_out_of_window);
		return TCP_DROP_AFTER_ACK;
	}
	trim_front(c, s);
	return trim_back(c, s);
}

/* SYN_RECEIVED: the ACK of our SYN-ACK establishes the connection. */
static enum tcp_verdict ack_syn_received(struct tcp_conn *c, struct tcp_seg *s)
{
	if (SEQ_LEQ(s->ack, c->snd_una) || SEQ_GT(s->ack, c->snd_max)) {
		tcp_drop(s->tcp, &drop_synrcvd_ack);
		return TCP_DROP_WITH_RESET;
	}
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	tcp_set_state(c, TCPS_ESTABLISHED);
	tcp_keep_rearm(c);
	if (c->listener != NULL)
		tcp_listener_established(c);
	return TCP_CONTINUE;
}

/* Adds a SACK block to the scoreboard, merging overlaps. */
static void score_add(struct tcp_conn *c, uint32_t l, uint32_t r)
{
	uint8_t i, j;

	for (i = 0; i < c->nscore; i++) {
		if (SEQ_LT(r, c->score[i][0]))
			break;
		if (SEQ_LEQ(l, c->score[i][1])) {
			/* Overlaps or touches range i: merge into it. */
			if (SEQ_LT(l, c->score[i][0]))
				c->score[i][0] = l;
			if (SEQ_GT(r, c->score[i][1]))
				c->score[i][1] = r;
			while (i + 1 < c->nscore &&
			       SEQ_GEQ(c->score[i][1], c->score[i + 1][0])) {
				if (SEQ_GT(c->score[i + 1][1], c->score[i][1]))
					c->score[i][1] = c->score[i + 1][1];
				for (j = i + 1; j + 1 < c->nscore; j++) {
					c->score[j][0] = c->score[j + 1][0];
					c->score[j][1] = c->score[j + 1][1];
				}
				c->nscore--;
			}
			return;
		}
	}
	if (c->nscore == TCP_SCORE_MAX)
		return; /* full: forget it, retransmission covers it */
	for (j = c->nscore; j > i; j--) {
		c->score[j][0] = c->score[j - 1][0];
		c->score[j][1] = c->score[j - 1][1];
	}
	c->score[i][0] = l;
	c->score[i][1] = r;
	c->nscore++;
}

/* Forgets scoreboard ranges below SND.UNA. */
static void score_prune(struct tcp_conn *c)
{
	uint8_t k = 0;

	for (uint8_t i = 0; i < c->nscore; i++) {
		if (SEQ_LEQ(c->score[i][1], c->snd_una))
			continue;
		if (SEQ_LT(c->score[i][0], c->snd_una))
			c->score[i][0] = c->snd_una;
		c->score[k][0] = c->score[i][0];
		c->score[k][1] = c->score[i][1];
		k++;
	}
	c->nscore = k;
}

/*
 * Whether the first SACK block of @s is a D-SACK (RFC 2883: below the
 * ACK, or inside the second block) for the loss probe: it came twice.
 */
static bool probe_dsack(const struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t l = s->opt.sack[0][0], r = s->opt.sack[0][1];

	if (!c->tlp_out || s->opt.nsack == 0 || SEQ_GT(c->tlp_seq, l) ||
	    SEQ_GEQ(l, r) || SEQ_GT(r, c->tlp_end))
		return false;
	return SEQ_LEQ(r, s->ack) ||
	       (s->opt.nsack > 1 && SEQ_LEQ(s->opt.sack[1][0], l) &&
		SEQ_LEQ(r, s->opt.sack[1][1]));
}

/* RFC 2018: records the peer's SACK blocks; whether any was new. */
static bool take_sack(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint32_t before = tcp_sacked_bytes(c);

	if (!c->sack_ok)
		return false;
	if (probe_dsack(c, s))
		c->tlp_dsack = true;
	for (uint8_t i = 0; i < s->opt.nsack; i++) {
		uint32_t l = s->opt.sack[i][0], r = s->opt.sack[i][1];

		if (SEQ_GEQ(l, r) || SEQ_LEQ(r, s->ack) ||
		    SEQ_GT(r, c->snd_max) || SEQ_LT(l, c->snd_una))
			continue; /* invalid or D-SACK: ignore */
		score_add(c, l, r);
	}
	return tcp_sacked_bytes(c) != before;
}

/* Enters fast recovery (RFC 5681 section 3.2, RFC 6582, RFC 6675). */
static void enter_recovery(struct tcp_conn *c)
{
	c->ssthresh = tcp_loss_ssthresh(c);
	c->cwnd = c->ssthresh;
	c->recover = c->snd_max;
	c->in_recovery = true;
	c->high_rxt = c->snd_una;
	c->rxt_fence = c->snd_max;
	c->rtt_timing = false;
	c->tlp_out = false; /* recovery takes the probe's episode over */
	hz_counter_inc(&recoveries);
}

/*
 * A retransmission is lost when data sent well after it is SACKed while
 * the hole stays: retransmit the holes again rather than wait for the
 * RTO (the idea of RFC 8985 RACK, in its simplest form).
 */
static void detect_lost_rexmt(struct tcp_conn *c)
{
	if (!c->in_recovery || c->nscore == 0 ||
	    !SEQ_LT(c->snd_una, c->high_rxt))
		return;
	if (SEQ_GT(c->score[c->nscore - 1][1],
		   c->rxt_fence + 3u * c->snd_mss)) {
		hz_counter_inc(&lost_rexmts);
		c->high_rxt = c->snd_una;
		c->rxt_fence = c->snd_max;
	}
}

/*
 * The SACKed bytes that declare a loss: three segments, or with fewer in
 * flight all but one (early retransmit, RFC 5827), so a small window does
 * not have to wait for the RTO.
 */
static uint32_t sack_threshold(const struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una;
	uint32_t three = 3u * c->snd_mss;

	if (flight < three + c->snd_mss)
		return flight > 2u * c->snd_mss ? flight - c->snd_mss
						: c->snd_mss;
	return three;
}

/* A duplicate ACK (or one that SACKs new data) while data is out. */
static void dup_ack(struct tcp_conn *c, bool new_sack)
{
	c->dupacks++;
	if (c->in_recovery)
		return;
	/* A loss probe SACKed above a hole: what was sent before it, a
	 * probe timeout earlier, is lost (RFC 8985's RACK in brief). */
	if ((c->dupacks >= 3 ||
	     (new_sack && tcp_sacked_bytes(c) >= sack_threshold(c)) ||
	     (new_sack && c->tlp_out &&
	      SEQ_GEQ(c->score[c->nscore - 1][1], c->tlp_end))) &&
	    SEQ_GEQ(c->snd_una, c->recover))
		enter_recovery(c);
	else if (c->dupacks >= 3 && c->nscore == 0 && !c->sack_ok &&
		 SEQ_LT(c->snd_una, c->recover))
		c->dupacks = 0; /* RFC 6582: no new recovery yet */
}

/* Counts @acked newly acknowledged bytes into the congestion window. */
static void cwnd_on_ack(struct tcp_conn *c, uint32_t acked)
{
	if (c->in_recovery) {
		if (SEQ_GEQ(c->snd_una, c->recover)) {
			/* Full ACK: leave recovery (RFC 6582 3.2 step 3,
			 * min(ssthresh, max(FlightSize, SMSS) + SMSS)). */
			uint32_t flight = c->snd_max - c->snd_una;
			uint32_t w =
			    (flight > c->snd_mss ? flight : c->snd_mss) +
			    c->snd_mss;

			c->in_recovery = false;
			c->cwnd = w < c->ssthresh ? w : c->ssthresh;
		} else if (SEQ_LT(c->high_rxt, c->snd_una)) {
			/* Partial ACK: the next hole starts at SND.UNA. */
			c->high_rxt = c->snd_una;
		}
		return;
	}
	if (c->cwnd < c->ssthresh)
		c->cwnd += acked < c->snd_mss ? acked : c->snd_mss;
	else
		c->cwnd +=
		    (uint32_t)((uint64_t)c->snd_mss * c->snd_mss / c->cwnd) + 1;
	if (c->cwnd > (1u << 30))
		c->cwnd = 1u << 30;
}

/* Takes an RTT sample from the timestamp echo or the timed segment. */
static void rtt_from_ack(struct tcp_conn *c, const struct tcp_seg *s)
{
	uint64_t now = hz_now();

	if (c->ts_ok && s->opt.ts_ok && s->opt.tsecr != 0) {
		uint32_t now_ts = (uint32_t)(now / HZ_NS_PER_MS) + c->ts_offset;
		uint32_t d = now_ts - s->opt.tsecr;

		if (d < 60000u)
			tcp_rtt_sample(c, (uint64_t)d * HZ_NS_PER_MS);
		c->rtt_timing = false;
		return;
	}
	if (c->rtt_timing && SEQ_GT(s->ack, c->rtt_seq)) {
		tcp_rtt_sample(c, now - c->rtt_start);
		c->rtt_timing = false;
	}
}

/* A new cumulative ACK: RFC 9293 "If SND.UNA < SEG.ACK =< SND.NXT". */
static void new_ack(struct tcp_conn *c, struct tcp_seg *s)
{
	uint32_t acked = s->ack - c->snd_una;
	uint32_t data_end = tcp_sb_end(c);
	uint32_t data_acked;

	rtt_from_ack(c, s);
	/* Bytes of the send buffer covered, excluding SYN and FIN. */
	if (SEQ_GT(s->ack, c->sb_seq))
		data_acked = SEQ_LT(s->ack, data_end) ? s->ack - c->sb_seq
						      : data_end - c->sb_seq;
	else
		data_acked = 0;
	tcp_sb_drop(c, data_acked);
	c->snd_una = s->ack;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	score_prune(c);
	cwnd_on_ack(c, acked);
	if (!c->in_recovery)
		c->dupacks = 0;
	c->rexmt_count = 0;
	if (c->srtt != 0) {
		/* Back-off ends with a new ACK (RFC 6298 5.7 keeps it). */
		uint64_t rto = c->srtt + 4 * c->rttvar;
		uint64_t min = c->tcp->tune.rto_min_ns;

		c->rto = rto < min		? min
			 : rto > TCP_RTO_MAX_NS ? TCP_RTO_MAX_NS
						: rto;
	}
	if (c->snd_una == c->snd_max)
		hz_timer_cancel(&c->t_rexmt);
	else if (!c->persisting)
		tcp_rexmt_arm(c, true);
	hz_waitq_wake_all(&c->wwait);
}

/* Updates SND.WND from the segment (RFC 9293 window update rule). */
static void window_update(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (SEQ_LT(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, s->ack))) {
		c->snd_wnd = s->wnd << c->snd_wscale;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (c->snd_wnd > c->max_snd_wnd)
			c->max_snd_wnd = c->snd_wnd;
		if (c->snd_wnd > 0 && c->persisting) {
			c->persisting = false;
			c->persist_shift = 0;
			c->zero_probes = 0;
			hz_timer_cancel(&c->t_rexmt);
		}
	}
}

/* The state changes that our FIN being acknowledged brings. */
static enum tcp_verdict fin_acked(struct tcp_conn *c)
{
	switch (c->state) {
	case TCPS_FIN_WAIT_1:
		tcp_set_state(c, TCPS_FIN_WAIT_2);
		tcp_keep_rearm(c);
		break;
	case TCPS_CLOSING:
		tcp_set_state(c, TCPS_TIME_WAIT);
		break;
	case TCPS_LAST_ACK:
		tcp_conn_closed(c);
		return TCP_DROP;
	default:
		break;
	}
	return TCP_CONTINUE;
}

/*
 * The loss probe is acknowledged (RFC 8985 7.4). A resent segment the
 * peer did not report twice (D-SACK) repaired a loss: halve the window,
 * as a recovery would have.
 */
static void probe_acked(struct tcp_conn *c)
{
	c->tlp_out = false;
	if (!c->tlp_rexmt || c->tlp_dsack)
		return;
	c->ssthresh =
	    c->cwnd / 2 > 2u * c->snd_mss ? c->cwnd / 2 : 2u * c->snd_mss;
	c->cwnd = c->ssthresh;
	hz_counter_inc(&probe_repairs);
}

/* RFC 9293 fifth check: the ACK field, with RFC 5961 section 5. */
static enum tcp_verdict step_ack(struct tcp_conn *c, struct tcp_seg *s)
{
	enum tcp_verdict v;
	bool new_sack, dup;

	if (!(s->flags & TH_ACK)) {
		tcp_drop(s->tcp, &drop_no_ack);
		return TCP_DROP;
	}
	if (c->state == TCPS_SYN_RECEIVED) {
		v = ack_syn_received(c, s);
		if (v != TCP_CONTINUE)
			return v;
	}
	if (SEQ_GT(s->ack, c->snd_max))
		return challenge(s, &drop_ack_too_new);
	if (SEQ_LT(s->ack, c->snd_una - c->max_snd_wnd))
		return challenge(s, &drop_ack_too_old);
	new_sack = take_sack(c, s);
	dup = s->ack == c->snd_una && s->len == 0 &&
	      !(s->flags & (TH_FIN | TH_SYN)) &&
	      (s->wnd << c->snd_wscale) == c->snd_wnd &&
	      c->snd_max != c->snd_una;
	if (SEQ_GT(s->ack, c->snd_una))
		new_ack(c, s);
	else if (dup || (new_sack && s->ack == c->snd_una))
		dup_ack(c, new_sack);
	if (c->tlp_out && SEQ_GEQ(c->snd_una, c->tlp_end))
		probe_acked(c);
	if (new_sack)
		detect_lost_rexmt(c);
	window_update(c, s);
	if (c->fin_sent && SEQ_GEQ(c->snd_una, tcp_sb_end(c) + 1))
		return fin_acked(c);
	return TCP_CONTINUE;
}

/* RFC 7323 section 4.3: remember the timestamp to echo. */
static void step_timestamp(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->ts_ok && s->opt.ts_ok && SEQ_LEQ(s->seq, c->last_ack_sent) &&
	    (int32_t)(s->opt.tsval - c->ts_recent) >= 0) {
		c->ts_recent = s->opt.tsval;
		c->ts_recent_age = hz_now();
	}
}

/* RFC 9293 seventh check: the segment text. */
static void step_data(struct tcp_conn *c, struct tcp_seg *s)
{
	struct hz_view payload;
	uint32_t before = c->rcv_nxt;
	bool in_order = s->seq == c->rcv_nxt;
	bool fills_gap = c->ofo != NULL;

	if (s->len == 0)
		return;
	if (c->state != TCPS_ESTABLISHED && c->state != TCPS_FIN_WAIT_1 &&
	    c->state != TCPS_FIN_WAIT_2) {
		tcp_drop(s->tcp, &data_after_close);
		return;
	}
	if (hz_view_sub(&s->v, s->poff, s->len, &payload) != 0) {
		/* Trimming keeps the payload inside the segment: never. */
		tcp_drop(c->tcp, &drop_bad_length);
		return;
	}
	c->last_rcvd_seq = s->seq;
	tcp_rcv_data(c, s->seq, &payload);
	if (!in_order || fills_gap || c->rcv_nxt == before) {
		/* RFC 5681 4.2: out of order, or filling a gap: ACK now. */
		c->ack_now = true;
		return;
	}
	/* A coalesced segment (receive offload) longer than one MSS stands
	 * for two full-sized ones or more: RFC 5681 4.2 asks an ACK now. */
	if (++c->unacked_segs >= 2 || s->len > tcp_local_mss(c->tcp))
		c->ack_now = true;
	else
		tcp_delack_arm(c);
}

/* RFC 9293 eighth check: the FIN bit, once everything before it arrived. */
static enum tcp_verdict step_fin(struct tcp_conn *c, struct tcp_seg *s)
{
	if (!(s->flags & TH_FIN) || s->seq + s->len != c->rcv_nxt)
		return TCP_CONTINUE;
	if (c->state == TCPS_SYN_RECEIVED || c->state == TCPS_SYN_SENT ||
	    c->state == TCPS_CLOSED)
		return TCP_CONTINUE;
	if (!c->fin_rcvd) {
		c->fin_rcvd = true;
		c->rcv_nxt++;
	}
	hz_waitq_wake_all(&c->rwait);
	switch (c->state) {
	case TCPS_ESTABLISHED:
		tcp_set_state(c, TCPS_CLOSE_WAIT);
		break;
	case TCPS_FIN_WAIT_1:
		tcp_set_state(c, TCPS_CLOSING);
		break;
	case TCPS_FIN_WAIT_2:
		tcp_set_state(c, TCPS_TIME_WAIT);
		break;
	case TCPS_TIME_WAIT:
		tcp_timewait_arm(c); /* restart the 2 MSL */
		break;
	default:
		break;
	}
	/* With the application's own FIN if it closes in this round. */
	tcp_ack_soon(c);
	return TCP_CONTINUE;
}

/* TIME_WAIT and a new SYN: reuse if it is clearly newer (RFC 6191). */
static bool timewait_reusable(const struct tcp_conn *c, const struct tcp_seg *s)
{
	if ((s->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN)
		return false;
	if (c->ts_ok && s->opt.ts_ok)
		return (int32_t)(s->opt.tsval - c->ts_recent) > 0;
	return SEQ_GT(s->seq, c->rcv_nxt);
}

/* Steps after the connection is known to be synchronized or SYN_RECEIVED. */
static enum tcp_verdict conn_steps(struct tcp_conn *c, struct tcp_seg *s)
{
	enum tcp_verdict v;

	if ((v = step_paws(c, s)) != TCP_CONTINUE)
		return v;
	if ((v = step_rst(c, s)) != TCP_CONTINUE)
		return v;
	if ((v = step_syn(c, s)) != TCP_CONTINUE)
		return v;
	if ((v = step_seq(c, s)) != TCP_CONTINUE)
		return v;
	if ((v = step_ack(c, s)) != TCP_CONTINUE)
		return v;
	step_timestamp(c, s);
	c->last_heard = hz_now();
	c->keep_probes = 0;
	step_data(c, s);
	return step_fin(c, s);
}

static enum tcp_verdict conn_input(struct tcp_conn *c, struct tcp_seg *s)
{
	enum tcp_verdict v;

	if (c->state == TCPS_SYN_SENT) {
		v = syn_sent_input(c, s);
		if (v != TCP_CONTINUE)
			return v;
		step_fin(c, s);
		tcp_output(c);
		return TCP_DONE;
	}
	v = conn_steps(c, s);
	if (v == TCP_CONTINUE && c->state != TCPS_CLOSED)
		tcp_output(c);
	return v == TCP_CONTINUE ? TCP_DONE : v;
}

/* Finds who takes the segment: a connection, a listener, or nobody. */
static enum tcp_verdict demux(struct tcp_seg *s)
{
	struct hz_listener *l;
	struct tcp_conn *c;
	enum tcp_verdict v;

	c = tcp_conn_lookup(s->tcp, s->dst, s->dport, s->src, s->sport);
	if (c != NULL && c->state == TCPS_TIME_WAIT && (s->flags & TH_SYN)) {
		if (!timewait_reusable(c, s)) {
			tcp_drop(s->tcp, &drop_timewait);
			s->c = c;
			return TCP_DROP_AFTER_ACK;
		}
		hz_counter_inc(&timewait_reused);
		tcp_conn_closed(c);
		c = NULL;
	}
	if (c != NULL) {
		s->c = c;
		return conn_input(c, s);
	}
	l = tcp_listener_lookup(s->tcp, s->dst, s->dport);
	if (l == NULL)
		return closed_input(s);
	v = listen_input(l, s);
	if (v == TCP_CONTINUE && s->c != NULL) {
		/* Data or FIN on the ACK that completed a cookie handshake. */
		v = conn_steps(s->c, s);
		if (v == TCP_CONTINUE && s->c->state != TCPS_CLOSED)
			tcp_output(s->c);
		if (v == TCP_CONTINUE)
			v = TCP_DONE;
	}
	return v;
}

void hz_tcp_input(struct hz_tcp *t, const struct hz_ip_meta *ip,
		  struct hz_view *seg)
{
	struct tcp_seg s = {
	    .tcp = t, .v = *seg, .src = ip->src, .dst = ip->dst};
	enum tcp_verdict v;

	*seg = (struct hz_view){0};
	hz_counter_inc(&in_segs);
	v = seg_parse(&s);
	if (v == TCP_CONTINUE)
		v = demux(&s);
	seg_exit(&s, v);
}
