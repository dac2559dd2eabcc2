/*
 * TCP timers, all intrusive (struct hz_timer inside the connection, so
 * arming never allocates): retransmission with the RFC 6298 RTO and
 * exponential backoff, the persist timer (zero-window probes), delayed
 * ACK, and one timer for keepalive, orphaned FIN_WAIT_2 and TIME_WAIT.
 */
#include <stddef.h>

#include "net/tcp_int.h"

static HZ_COUNTER(rexmt_timeouts, "tcp", "rexmt_timeouts");
static HZ_COUNTER(conn_timeouts, "tcp", "conn_timeouts");
static HZ_COUNTER(keep_probes, "tcp", "keepalive_probes");
static HZ_COUNTER(keep_drops, "tcp", "keepalive_drops");
static HZ_COUNTER(persist_probes, "tcp", "persist_probes");
static HZ_COUNTER(orphans_shut_out, "tcp", "orphans_window_shut_aborted");
static HZ_COUNTER(delacks, "tcp", "delayed_acks");
static HZ_COUNTER(loss_probes, "tcp", "loss_probes");

#define CONN_OF(t, field) \
	((struct tcp_conn *)((char *)(t)-offsetof(struct tcp_conn, field)))

static uint64_t after(uint64_t ns)
{
	return hz_now() + ns;
}

void tcp_rtt_sample(struct tcp_conn *c, uint64_t r)
{
	uint64_t rto, min = c->tcp != NULL ? c->tcp->tune.rto_min_ns : 0;

	if (r == 0)
		r = 1000; /* 1 µs: keep srtt non-zero once measured */
	if (c->srtt == 0) {
		c->srtt = r;
		c->rttvar = r / 2;
	} else {
		uint64_t d = c->srtt > r ? c->srtt - r : r - c->srtt;

		c->rttvar = (3 * c->rttvar + d) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
	}
	rto = c->srtt + (4 * c->rttvar > 1000 ? 4 * c->rttvar : 1000);
	c->rto = rto < min ? min : rto > TCP_RTO_MAX_NS ? TCP_RTO_MAX_NS : rto;
}

/*
 * The probe timeout (RFC 8985 7.2), or 0 where no tail loss probe is
 * due: a synchronized connection with SACK and an RTT sample, data in
 * flight, not in recovery, not backed off, no probe outstanding. Two
 * SRTTs, at least TCP_PTO_MIN_NS (the peer and this host are scheduled
 * too), and with one segment in flight the peer's delayed ACK besides.
 */
static uint64_t probe_timeout(const struct tcp_conn *c)
{
	uint64_t pto;

	if (!c->sack_ok || c->srtt == 0 || c->in_recovery || c->tlp_out ||
	    c->rexmt_count != 0 || c->snd_una == c->snd_max ||
	    c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RECEIVED)
		return 0;
	pto = 2 * c->srtt;
	if (c->snd_max - c->snd_una <= c->snd_mss)
		pto += TCP_WC_DELACK_NS;
	return pto < TCP_PTO_MIN_NS ? TCP_PTO_MIN_NS : pto;
}

/*
 * Arms t_rexmt for the RTO, from now if @restart or it is not armed,
 * else keeping its time; and where a tail loss probe is due before that,
 * for the probe (re-timed on every call, as RFC 8985 7.2 asks after new
 * data and ACKs), never past the RTO.
 */
void tcp_rexmt_arm(struct tcp_conn *c, bool restart)
{
	uint64_t now = hz_now(), pto;
	bool armed = hz_timer_armed(&c->t_rexmt);

	if (c->persisting && armed && !restart)
		return; /* the persist timer runs on */
	if (restart || !armed)
		c->rto_at = now + c->rto;
	pto = c->persisting ? 0 : probe_timeout(c);
	if (armed && !restart && !c->pto_armed && pto == 0)
		return; /* the RTO runs on, at rto_at */
	c->pto_armed = pto != 0 && now + pto < c->rto_at;
	hz_timer_arm(&c->t_rexmt, c->pto_armed ? now + pto : c->rto_at);
}

void tcp_persist_arm(struct tcp_conn *c)
{
	uint64_t base = c->srtt != 0 ? c->rto : c->tcp->tune.rto_init_ns;
	uint64_t d = base << (c->persist_shift < 16 ? c->persist_shift : 16);

	if (d < TCP_PERSIST_MIN_NS)
		d = TCP_PERSIST_MIN_NS;
	if (d > TCP_RTO_MAX_NS)
		d = TCP_RTO_MAX_NS;
	c->persisting = true;
	c->pto_armed = false;
	hz_timer_arm(&c->t_rexmt, after(d));
}

static void conn_timed_out(struct tcp_conn *c, const char *why);

/* The persist timer fired: probe the zero window and back off. */
static void persist_fire(struct tcp_conn *c)
{
	if (!c->user_holds && c->snd_wnd == 0 &&
	    c->zero_probes >= c->tcp->tune.orphan_probes) {
		hz_counter_inc(&orphans_shut_out);
		conn_timed_out(c, "the peer kept its window shut after the "
				  "application closed");
		return;
	}
	hz_counter_inc(&persist_probes);
	if (c->persist_shift < 16)
		c->persist_shift++;
	if (c->snd_wnd != 0) {
		/* A window too small for a full segment: send what fits
		 * (RFC 9293 3.8.6.2.1, the override timeout). */
		c->zero_probes = 0; /* the peer takes data */
		c->persisting = false;
		c->force_send = true;
		tcp_output(c);
		c->force_send = false;
		return;
	}
	if (c->zero_probes < UINT16_MAX)
		c->zero_probes++;
	tcp_send_keepalive(c); /* SND.UNA - 1 makes the peer answer */
	tcp_persist_arm(c);
}

/*
 * Gives up on a connection whose peer stopped answering: a connect ends
 * with -HZ_ETIMEDOUT, an established flow with -HZ_ECONNABORTED (sticky;
 * -HZ_ETIMEDOUT on a flow means only that a call's deadline passed).
 */
static void conn_timed_out(struct tcp_conn *c, const char *why)
{
	bool synced = tcp_state_synced(c->state);

	hz_counter_inc(&conn_timeouts);
	if (synced)
		tcp_send_rst_conn(c);
	tcp_conn_fail(c, synced ? -HZ_ECONNABORTED : -HZ_ETIMEDOUT, why);
	tcp_conn_closed(c);
}

static void rexmt_fire(struct hz_timer *t)
{
	struct tcp_conn *c = CONN_OF(t, t_rexmt);
	bool handshake =
	    c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RECEIVED;

	if (c->persisting) {
		persist_fire(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	if (c->pto_armed) {
		/* RFC 8985 7.3: probe, then wait the RTO from now. */
		hz_counter_inc(&loss_probes);
		c->pto_armed = false;
		tcp_loss_probe(c);
		tcp_rexmt_arm(c, true);
		return;
	}
	c->tlp_out = false;
	hz_counter_inc(&rexmt_timeouts);
	HZ_DEBUG(&hz_tcp_log,
		 "%u->%u RTO %llu us: una %u nxt %u max %u wnd %u cwnd %u "
		 "rec %d sacked %u/%u rxt %u",
		 c->lport, c->rport, (unsigned long long)(c->rto / 1000),
		 c->snd_una - c->iss, c->snd_nxt - c->iss, c->snd_max - c->iss,
		 c->snd_wnd, c->cwnd, c->in_recovery, tcp_sacked_bytes(c),
		 c->nscore, c->high_rxt - c->iss);
	if (++c->rexmt_count >
	    (handshake ? TCP_SYN_REXMT_MAX : TCP_REXMT_MAX)) {
		conn_timed_out(c, "connection timed out");
		return;
	}
	/* RFC 6298 5.5: back off. */
	c->rto = c->rto * 2 > TCP_RTO_MAX_NS ? TCP_RTO_MAX_NS : c->rto * 2;
	tcp_retransmit_timeout(c);
	tcp_rexmt_arm(c, true);
}

static void delack_fire(struct hz_timer *t)
{
	struct tcp_conn *c = CONN_OF(t, t_delack);

	hz_counter_inc(&delacks);
	c->ack_now = true;
	tcp_output(c);
}

/* The keepalive timer of an established connection. */
static void keepalive_fire(struct tcp_conn *c)
{
	const struct hz_tcp_tuning *tu = &c->tcp->tune;
	uint64_t idle = c->keepalive_s * tu->keepalive_unit_ns;
	uint64_t now = hz_now();

	if (c->keepalive_s == 0 || !tcp_state_synced(c->state))
		return;
	if (now - c->last_heard < idle && c->keep_probes == 0) {
		hz_timer_arm(&c->t_keep, c->last_heard + idle);
		return;
	}
	if (c->keep_probes >= tu->keep_probes) {
		hz_counter_inc(&keep_drops);
		conn_timed_out(c, "keepalive timed out");
		return;
	}
	c->keep_probes++;
	hz_counter_inc(&keep_probes);
	tcp_send_keepalive(c);
	hz_timer_arm(&c->t_keep, now + tu->keep_intvl_ns);
}

static void keep_fire(struct hz_timer *t)
{
	struct tcp_conn *c = CONN_OF(t, t_keep);

	switch (c->state) {
	case TCPS_TIME_WAIT:
		tcp_conn_closed(c);
		break;
	case TCPS_FIN_WAIT_2:
		if (c->user_closed) {
			conn_timed_out(c, "FIN_WAIT_2 timed out");
			break;
		}
		keepalive_fire(c);
		break;
	default:
		keepalive_fire(c);
		break;
	}
}

/* The round ends: what its writes queued goes out now, together, with
 * an ACK owed if nothing else carried one. */
static void output_deferred(struct hz_defer *d)
{
	struct tcp_conn *c = CONN_OF(d, d_output);

	if (c->ack_round)
		c->ack_now = true;
	tcp_output(c);
}

void tcp_ack_soon(struct tcp_conn *c)
{
	c->ack_round = true;
	hz_defer_queue(&c->d_output);
}

void tcp_timers_init(struct tcp_conn *c)
{
	hz_defer_init(&c->d_output, output_deferred);
	hz_timer_init(&c->t_rexmt, rexmt_fire);
	hz_timer_init(&c->t_delack, delack_fire);
	hz_timer_init(&c->t_keep, keep_fire);
}

void tcp_timers_cancel(struct tcp_conn *c)
{
	hz_timer_cancel(&c->t_rexmt);
	hz_timer_cancel(&c->t_delack);
	hz_timer_cancel(&c->t_keep);
	hz_defer_cancel(&c->d_output);
	c->persisting = false;
}

void tcp_delack_arm(struct tcp_conn *c)
{
	if (!hz_timer_armed(&c->t_delack))
		hz_timer_arm(&c->t_delack, after(c->tcp->tune.delack_ns));
}

void tcp_keep_rearm(struct tcp_conn *c)
{
	const struct hz_tcp_tuning *tu;

	if (c->tcp == NULL)
		return;
	tu = &c->tcp->tune;
	c->keep_probes = 0;
	if (c->state == TCPS_FIN_WAIT_2 && c->user_closed) {
		hz_timer_arm(&c->t_keep, after(tu->fin_wait_2_ns));
		return;
	}
	if (c->keepalive_s == 0 || !tcp_state_synced(c->state)) {
		hz_timer_cancel(&c->t_keep);
		return;
	}
	hz_timer_arm(&c->t_keep,
		     c->last_heard + c->keepalive_s * tu->keepalive_unit_ns);
}

void tcp_timewait_arm(struct tcp_conn *c)
{
	hz_timer_arm(&c->t_keep, after(2 * c->tcp->tune.msl_ns));
}
