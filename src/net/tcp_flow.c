/*
 * The application side of TCP: connections as FLOWs (read gives received
 * segments' payload as views, without a copy; writev copies into the send
 * ring), connect, listen, accept, options, and the two buffers behind
 * them: the send ring and the receive queues (in order, and out of order
 * within a bounded budget).
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/mem.h"
#include "net/tcp_int.h"

static HZ_COUNTER(rcv_nomem, "tcp", "drop_receive_no_memory");
static HZ_COUNTER(aborted_by_user, "tcp", "aborted_by_application");
static HZ_COUNTER(rcv_dup, "tcp", "receive_duplicate_bytes");
static HZ_COUNTER(ofo_segs, "tcp", "receive_out_of_order");
static HZ_COUNTER(ofo_pruned, "tcp", "receive_out_of_order_pruned");

/* --- the send ring ------------------------------------------------------- */

uint32_t tcp_sb_end(const struct tcp_conn *c)
{
	return c->sb_seq + c->sb_len;
}

void tcp_sb_drop(struct tcp_conn *c, uint32_t n)
{
	HZ_ASSERT(n <= c->sb_len);
	c->sb_seq += n;
	c->sb_len -= n;
	/* An empty ring starts again at its base: all of it contiguous. */
	c->sb_head =
	    c->sb_cap != 0 && c->sb_len != 0 ? (c->sb_head + n) % c->sb_cap : 0;
}

void tcp_sb_copy(const struct tcp_conn *c, uint32_t seq, uint8_t *dst,
		 uint32_t len)
{
	uint32_t off = seq - c->sb_seq;
	uint32_t pos, first;

	HZ_ASSERT(off <= c->sb_len && len <= c->sb_len - off);
	pos = (c->sb_head + off) % c->sb_cap;
	first = c->sb_cap - pos < len ? c->sb_cap - pos : len;
	memcpy(dst, c->sb + pos, first);
	memcpy(dst + first, c->sb, len - first);
}

/* Where the ring's next byte goes. */
static uint32_t sb_tail(const struct tcp_conn *c)
{
	return (c->sb_head + c->sb_len) % c->sb_cap;
}

/* Appends up to @len bytes of @p to the ring; how many fit. */
static uint32_t sb_append(struct tcp_conn *c, const uint8_t *p, size_t len)
{
	uint32_t room = c->sb_cap - c->sb_len;
	uint32_t n = len < room ? (uint32_t)len : room;
	uint32_t pos = sb_tail(c);
	uint32_t first = c->sb_cap - pos < n ? c->sb_cap - pos : n;

	memcpy(c->sb + pos, p, first);
	memcpy(c->sb, p + first, n - first);
	c->sb_len += n;
	return n;
}

/* The free room that follows the ring's data without wrapping. */
static uint32_t sb_contiguous(const struct tcp_conn *c)
{
	uint32_t end = c->sb_head + c->sb_len;

	return end < c->sb_cap ? c->sb_cap - end
			       : c->sb_head - (end - c->sb_cap);
}

/* The send ring starts small and doubles, up to the tuned send buffer. */
#define SB_INITIAL (16u * 1024)
/* Up to this, it doubles whenever full; beyond, only for a wide window. */
#define SB_UNCONDITIONAL (256u * 1024)

static uint8_t *sb_alloc(struct tcp_conn *c, uint32_t cap)
{
	return c->budget != NULL ? hz_budget_alloc(c->budget, cap)
				 : hz_malloc(cap);
}

static void sb_release(struct tcp_conn *c, uint8_t *p, uint32_t cap)
{
	if (c->budget != NULL)
		hz_budget_free(c->budget, p, cap);
	else
		hz_free(p);
}

void tcp_sb_free(struct tcp_conn *c)
{
	if (c->sb == NULL || c->sb_len != 0)
		return;
	sb_release(c, c->sb, c->sb_cap);
	c->sb = NULL;
	c->sb_cap = 0;
	c->sb_head = 0;
}

/* Allocates the ring on the first write. 0 or -HZ_ENOMEM. */
static int sb_ensure(struct tcp_conn *c)
{
	uint32_t cap = c->tcp->tune.sndbuf;

	if (c->sb != NULL)
		return 0;
	if (cap > SB_INITIAL)
		cap = SB_INITIAL;
	c->sb = sb_alloc(c, cap);
	if (c->sb == NULL)
		return -HZ_ENOMEM;
	c->sb_cap = cap;
	c->sb_head = 0;
	return 0;
}

/*
 * Doubles a full ring, up to the send buffer size, so that memory follows
 * what a connection really has in flight. Past SB_UNCONDITIONAL it grows
 * only while the window (the smaller of cwnd and the peer's) is more than
 * half the ring: a sender needs about two windows of data buffered to
 * keep the path full while ACKs come back, and a reader that is slow, or
 * a path that loses, keeps its window and so its memory small (Linux's
 * send-buffer autotuning does the same). Whether it grew: a refusal just
 * means the writer waits for the peer to acknowledge.
 */
static bool sb_grow(struct tcp_conn *c)
{
	uint32_t cap = c->sb_cap * 2;
	uint32_t wnd = c->cwnd < c->snd_wnd ? c->cwnd : c->snd_wnd;
	uint8_t *p;

	if (c->sb_cap >= c->tcp->tune.sndbuf)
		return false;
	if (c->sb_cap >= SB_UNCONDITIONAL && (uint64_t)wnd * 2 <= c->sb_cap)
		return false;
	if (cap > c->tcp->tune.sndbuf)
		cap = c->tcp->tune.sndbuf;
	p = sb_alloc(c, cap);
	if (p == NULL)
		return false;
	tcp_sb_copy(c, c->sb_seq, p, c->sb_len);
	sb_release(c, c->sb, c->sb_cap);
	c->sb = p;
	c->sb_cap = cap;
	c->sb_head = 0;
	return true;
}

/* --- the receive queues --------------------------------------------------- */

static void rseg_free(struct tcp_conn *c, struct tcp_rseg *r)
{
	hz_view_release(&r->v);
	c->rcv_mem -= r->charge;
	if (c->budget != NULL)
		hz_budget_release(c->budget, r->charge);
	hz_free(r);
}

/* Charges @charge for received data. 0 or -HZ_ENOMEM. */
static int rcv_charge(struct tcp_conn *c, uint32_t charge)
{
	/* Tiny segments cannot pin more than 4 windows of memory. */
	if (c->rcv_mem + charge > 4 * c->rcv_cap + 65536)
		return -HZ_ENOMEM;
	if (c->budget != NULL && hz_budget_charge(c->budget, charge) != 0)
		return -HZ_ENOMEM;
	return 0;
}

/* Drops the highest out-of-order segment (reneging, RFC 2018 section 8). */
static bool ofo_prune_one(struct tcp_conn *c)
{
	struct tcp_rseg **pp = &c->ofo;

	if (*pp == NULL)
		return false;
	while ((*pp)->next != NULL)
		pp = &(*pp)->next;
	c->ofo_bytes -= (*pp)->v.len;
	rseg_free(c, *pp);
	*pp = NULL;
	hz_counter_inc(&ofo_pruned);
	return true;
}

/*
 * A queue node for @v (consumed) at @seq, charged; NULL if refused.
 * In-order data may push out out-of-order data to make room, so that
 * a full reassembly queue cannot starve the byte that fills the hole.
 */
static struct tcp_rseg *rseg_new(struct tcp_conn *c, uint32_t seq,
				 struct hz_view *v)
{
	uint32_t charge = v->pb->cap + (uint32_t)sizeof(struct tcp_rseg);
	struct tcp_rseg *r;

	while (rcv_charge(c, charge) != 0)
		if (seq != c->rcv_nxt || !ofo_prune_one(c))
			goto refuse;
	r = hz_malloc(sizeof(*r));
	if (r == NULL) {
		if (c->budget != NULL)
			hz_budget_release(c->budget, charge);
		goto refuse;
	}
	r->next = NULL;
	r->seq = seq;
	r->charge = charge;
	r->v = *v;
	*v = (struct hz_view){0};
	c->rcv_mem += charge;
	return r;

refuse:
	tcp_drop(c->tcp, &rcv_nomem);
	hz_view_release(v);
	return NULL;
}

static void rq_append(struct tcp_conn *c, struct tcp_rseg *r)
{
	if (c->rq_tail != NULL)
		c->rq_tail->next = r;
	else
		c->rq_head = r;
	c->rq_tail = r;
	c->rq_bytes += r->v.len;
	c->rcv_nxt += r->v.len;
}

/* Moves what the out-of-order queue now continues to the read queue. */
static void ofo_drain(struct tcp_conn *c)
{
	while (c->ofo != NULL && SEQ_LEQ(c->ofo->seq, c->rcv_nxt)) {
		struct tcp_rseg *r = c->ofo;
		uint32_t skip = c->rcv_nxt - r->seq;

		c->ofo = r->next;
		c->ofo_bytes -= r->v.len;
		r->next = NULL;
		if (skip >= r->v.len) {
			rseg_free(c, r);
			continue;
		}
		if (hz_view_pull(&r->v, skip) != 0) {
			rseg_free(c, r);
			continue;
		}
		r->seq += skip;
		rq_append(c, r);
	}
}

/* Trims @v at @seq so it does not overlap the queue; false if nothing left. */
static bool ofo_trim(struct tcp_conn *c, uint32_t *seq, struct hz_view *v,
		     struct tcp_rseg ***at)
{
	struct tcp_rseg **pp = &c->ofo;

	while (*pp != NULL && SEQ_LEQ((*pp)->seq + (*pp)->v.len, *seq))
		pp = &(*pp)->next;
	/* *pp ends after seq: it may overlap our front. */
	if (*pp != NULL && SEQ_LEQ((*pp)->seq, *seq)) {
		uint32_t cut = (*pp)->seq + (*pp)->v.len - *seq;

		if (cut >= v->len)
			return false;
		if (hz_view_pull(v, cut) != 0)
			return false;
		*seq += cut;
		pp = &(*pp)->next;
	}
	/* Drop queued segments that we cover entirely; trim our tail. */
	while (*pp != NULL && SEQ_LT((*pp)->seq, *seq + v->len)) {
		struct tcp_rseg *r = *pp;

		if (SEQ_LEQ(r->seq + r->v.len, *seq + v->len)) {
			*pp = r->next;
			c->ofo_bytes -= r->v.len;
			rseg_free(c, r);
			continue;
		}
		if (hz_view_trim(v, r->seq - *seq) != 0)
			return false;
		break;
	}
	*at = pp;
	return v->len > 0;
}

/* Queues an out-of-order segment, sorted and without overlap. */
static void ofo_insert(struct tcp_conn *c, uint32_t seq, struct hz_view *v)
{
	struct tcp_rseg **at, *r;

	hz_counter_inc(&ofo_segs);
	if (!ofo_trim(c, &seq, v, &at)) {
		hz_counter_add(&rcv_dup, v->len);
		hz_view_release(v);
		return;
	}
	r = rseg_new(c, seq, v);
	if (r == NULL)
		return;
	r->next = *at;
	*at = r;
	c->ofo_bytes += r->v.len;
}

void tcp_rcv_data(struct tcp_conn *c, uint32_t seq, struct hz_view *v)
{
	struct tcp_rseg *r;

	if (seq != c->rcv_nxt) {
		ofo_insert(c, seq, v);
		return;
	}
	r = rseg_new(c, seq, v);
	if (r == NULL)
		return;
	rq_append(c, r);
	ofo_drain(c);
	hz_waitq_wake_all(&c->rwait);
}

static void rq_purge_list(struct tcp_conn *c, struct tcp_rseg *r)
{
	while (r != NULL) {
		struct tcp_rseg *next = r->next;

		rseg_free(c, r);
		r = next;
	}
}

void tcp_rcv_purge(struct tcp_conn *c)
{
	rq_purge_list(c, c->rq_head);
	rq_purge_list(c, c->ofo);
	c->rq_head = c->rq_tail = c->ofo = NULL;
	c->rq_bytes = c->ofo_bytes = 0;
}

void tcp_wake_all(struct tcp_conn *c)
{
	hz_waitq_wake_all(&c->rwait);
	hz_waitq_wake_all(&c->wwait);
	hz_waitq_wake_all(&c->cwait);
}

/* --- the FLOW ------------------------------------------------------------ */

static struct tcp_conn *conn_of(struct hz_flow *f)
{
	return (struct tcp_conn *)f;
}

/* Parks on @q until woken or @deadline; -HZ_ETIMEDOUT if it passed. */
static int park(struct hz_waitq *q, uint64_t deadline)
{
	if (deadline != HZ_DEADLINE_NEVER && hz_now() >= deadline)
		return -HZ_ETIMEDOUT;
	return hz_waitq_wait(q, deadline);
}

/*
 * After the application took data: advertise the opened window when the
 * peer may be held back by the one it has. As Linux does, that is when
 * the advertised window is under half the buffer and would at least
 * double; and the increase must be worth a segment (RFC 9293 3.8.6.2.2,
 * receiver SWS avoidance). Otherwise the next ACK or reply carries the
 * window: a pure ACK every two segments read would add half again to the
 * frames of a reader that keeps up but replies late (TLS waits for whole
 * records).
 */
static void window_update_after_read(struct tcp_conn *c)
{
	uint32_t space = c->rcv_cap - c->rq_bytes;
	uint32_t adv =
	    SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t mss = tcp_local_mss(c->tcp);
	uint32_t half = c->rcv_cap / 2;

	if (!tcp_state_synced(c->state) || c->state == TCPS_TIME_WAIT)
		return;
	if (adv < half && space / 2 >= adv &&
	    space - adv >= (mss < half ? mss : half))
		tcp_ack_soon(c); /* with the reader's reply, if it makes one */
}

static int flow_read(struct hz_flow *f, struct hz_view *out, uint64_t deadline)
{
	struct tcp_conn *c = conn_of(f);
	int r;

	*out = (struct hz_view){0};
	for (;;) {
		if (c->user_closed)
			return -HZ_ECLOSED;
		if (c->rq_head != NULL) {
			struct tcp_rseg *q = c->rq_head;

			c->rq_head = q->next;
			if (c->rq_head == NULL)
				c->rq_tail = NULL;
			c->rq_bytes -= q->v.len;
			*out = q->v;
			q->v = (struct hz_view){0};
			rseg_free(c, q);
			if (c->tcp != NULL)
				window_update_after_read(c);
			return (int)out->len;
		}
		if (c->fatal != 0)
			return c->fatal;
		if (c->fin_rcvd || c->state == TCPS_CLOSED)
			return 0;
		r = park(&c->rwait, deadline);
		if (r != 0)
			return r;
	}
}

/*
 * Whether writes wait for the end of the round (autocork): the small
 * writes one round of fibers makes (a header, then a body; an echo of
 * several segments read) leave as one burst, as Nagle would group them
 * without its wait for an ACK. The round ends before the loop polls, so
 * nothing waits for more than the fibers that are ready to run.
 */
static bool autocork(const struct tcp_conn *c)
{
	return c->tcp != NULL && c->tcp->tune.autocork;
}

/* Whether the connection takes application data now. 0 or an error. */
static int can_write(struct tcp_conn *c)
{
	char peer[24];

	if (c->user_closed)
		return -HZ_ECLOSED;
	if (c->fatal != 0)
		return c->fatal;
	if (c->fin_queued ||
	    (c->state != TCPS_ESTABLISHED && c->state != TCPS_CLOSE_WAIT))
		return hz_errmsg_set(
		    &c->err, -HZ_ECLOSED, "TCP %s: write after shutdown in %s",
		    tcp_peer_name(c, peer), tcp_state_name(c->state));
	return 0;
}

/* Whether the connection takes data now, its send ring allocated. */
static int writable(struct tcp_conn *c)
{
	int r = can_write(c);

	if (r == 0 && sb_ensure(c) != 0)
		r = hz_errmsg_set(&c->err, -HZ_ENOMEM,
				  "TCP: no memory for the send buffer");
	return r;
}

/* Sends what a write put in the ring: now, or with the round's end. */
static void output_written(struct tcp_conn *c)
{
	if (autocork(c))
		hz_defer_queue(&c->d_output);
	else
		tcp_output(c);
}

static ssize_t flow_writev(struct hz_flow *f, const struct hz_iov *iov,
			   size_t n, uint64_t deadline)
{
	struct tcp_conn *c = conn_of(f);
	size_t total = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		size_t done = 0;

		while (done < iov[i].len) {
			uint32_t k;

			r = writable(c);
			if (r != 0)
				return r;
			k = sb_append(c, (const uint8_t *)iov[i].base + done,
				      iov[i].len - done);
			done += k;
			total += k;
			if (k > 0) {
				if (!autocork(c))
					tcp_output(c);
				continue;
			}
			if (sb_grow(c))
				continue;
			tcp_output(c); /* the room comes back as it is ACKed */
			r = park(&c->wwait, deadline);
			if (r == -HZ_ETIMEDOUT && total > 0)
				goto out; /* a partial write */
			if (r != 0)
				return r;
		}
	}
out:
	output_written(c);
	return (ssize_t)total;
}

/*
 * Lends the free room after the ring's data for bytes built in place
 * (TLS seals records there), once @min bytes are free in all (at most
 * half the send buffer, so a small buffer is refilled as ACKs come, as
 * writev does), or the ring is empty and cannot grow: as writev, it
 * grows the ring or waits for ACKs meanwhile. The room lent is
 * contiguous, so it may be less than @min where the ring wraps.
 */
static ssize_t flow_reserve(struct hz_flow *f, size_t min, uint8_t **buf,
			    uint64_t deadline)
{
	struct tcp_conn *c = conn_of(f);

	for (;;) {
		int r = writable(c);

		if (r != 0)
			return r;
		if (min > c->tcp->tune.sndbuf / 2)
			min = c->tcp->tune.sndbuf / 2;
		if (min == 0)
			min = 1;
		if (c->sb_cap - c->sb_len < min && sb_grow(c))
			continue;
		if (c->sb_cap - c->sb_len >= min || c->sb_len == 0) {
			*buf = c->sb + sb_tail(c);
			return (ssize_t)sb_contiguous(c);
		}
		tcp_output(c); /* the room comes back as it is ACKed */
		r = park(&c->wwait, deadline);
		if (r != 0)
			return r;
	}
}

/* Sends the first @len bytes of the room flow_reserve lent. */
static void flow_commit(struct hz_flow *f, size_t len)
{
	struct tcp_conn *c = conn_of(f);

	/* Nothing came between: no write, shutdown or close (flow.h). */
	HZ_ASSERT(len <= sb_contiguous(c) && !c->fin_queued && !c->user_closed);
	if (len == 0)
		return;
	c->sb_len += (uint32_t)len;
	output_written(c);
}

static int flow_shutdown(struct hz_flow *f)
{
	struct tcp_conn *c = conn_of(f);
	int r = can_write(c);

	if (r != 0)
		return c->fin_queued && r == -HZ_ECLOSED && !c->user_closed ? 0
									    : r;
	c->fin_queued = true;
	tcp_set_state(c, c->state == TCPS_ESTABLISHED ? TCPS_FIN_WAIT_1
						      : TCPS_LAST_ACK);
	tcp_output(c);
	return 0;
}

static void flow_close(struct hz_flow *f)
{
	struct tcp_conn *c = conn_of(f);

	if (c->user_closed)
		return;
	c->user_closed = true;
	if (c->tcp == NULL || c->state == TCPS_CLOSED) {
		tcp_wake_all(c);
		return;
	}
	if (c->rq_bytes > 0 || c->ofo != NULL || c->state == TCPS_SYN_SENT) {
		/* Unread data would be lost: abort (RFC 9293 3.10.4). */
		if (c->state != TCPS_SYN_SENT)
			tcp_send_rst_conn(c);
		tcp_conn_closed(c);
		return;
	}
	if (!c->fin_queued &&
	    (c->state == TCPS_ESTABLISHED || c->state == TCPS_CLOSE_WAIT)) {
		c->fin_queued = true;
		tcp_set_state(c, c->state == TCPS_ESTABLISHED ? TCPS_FIN_WAIT_1
							      : TCPS_LAST_ACK);
		tcp_output(c);
	}
	if (c->state == TCPS_FIN_WAIT_2)
		tcp_keep_rearm(c);
	tcp_wake_all(c);
}

static void flow_abort(struct hz_flow *f)
{
	struct tcp_conn *c = conn_of(f);

	c->user_closed = true;
	if (c->tcp == NULL || c->state == TCPS_CLOSED) {
		tcp_wake_all(c);
		return;
	}
	hz_counter_inc(&aborted_by_user);
	if (tcp_state_synced(c->state) && c->state != TCPS_TIME_WAIT)
		tcp_send_rst_conn(c); /* what it had unsent is dropped */
	tcp_conn_closed(c);
	if (c->user_holds) {
		/* The buffers go now, not when the flow is freed: abort is
		 * how memory is taken back from a connection. A fiber woken
		 * by the close sees user_closed before it looks at them. */
		c->sb_len = 0;
		tcp_sb_free(c);
		tcp_rcv_purge(c);
	}
}

static void flow_free(struct hz_flow *f)
{
	struct tcp_conn *c = conn_of(f);

	flow_close(f);
	c->user_holds = false;
	if (c->tcp == NULL || c->state == TCPS_CLOSED)
		tcp_conn_destroy(c);
}

static const char *flow_error(const struct hz_flow *f)
{
	return hz_errmsg_text(&((const struct tcp_conn *)f)->err);
}

static const struct hz_flow_ops tcp_flow_ops = {
    .read = flow_read,
    .writev = flow_writev,
    .reserve = flow_reserve,
    .commit = flow_commit,
    .shutdown = flow_shutdown,
    .close = flow_close,
    .abort = flow_abort,
    .free = flow_free,
    .error_message = flow_error,
};

/* Hands @c to the application as a flow. */
static struct hz_flow *give_flow(struct tcp_conn *c)
{
	c->flow.ops = &tcp_flow_ops;
	c->flow.unread = (struct hz_view){0};
	c->user_holds = true;
	return &c->flow;
}

int hz_tcp_set_on(struct hz_flow *f, enum hz_tcp_option opt, int value)
{
	struct tcp_conn *c = conn_of(f);

	switch (opt) {
	case HZ_TCP_NODELAY:
		c->nodelay = value != 0;
		if (c->tcp != NULL)
			tcp_output(c);
		return 0;
	case HZ_TCP_KEEPALIVE:
		if (value < 0)
			return -HZ_EINVAL;
		c->keepalive_s = (uint32_t)value;
		tcp_keep_rearm(c);
		return 0;
	}
	return -HZ_EINVAL;
}

/* --- active open ---------------------------------------------------------- */

/* Picks a free ephemeral port towards @dst. 0, or -HZ_ENOSPC. */
static int pick_port(struct hz_tcp *t, const struct hz_sockaddr *dst,
		     uint16_t *port)
{
	for (unsigned i = 0; i < 16384; i++) {
		uint16_t p = t->next_port;

		t->next_port =
		    (uint16_t)(p == 65535 ? TCP_EPHEMERAL_LO : p + 1u);
		if (tcp_conn_lookup(t, t->env.local, p, dst->addr, dst->port) ==
			NULL &&
		    tcp_listener_lookup(t, t->env.local, p) == NULL) {
			*port = p;
			return 0;
		}
	}
	return -HZ_ENOSPC;
}

/* Waits for the handshake of @c; 0 when established, or an error. */
static int connect_wait(struct tcp_conn *c, uint64_t deadline)
{
	int r;

	while (c->state == TCPS_SYN_SENT || c->state == TCPS_SYN_RECEIVED) {
		r = park(&c->cwait, deadline);
		if (r != 0)
			return r;
	}
	if (c->fatal != 0)
		return c->fatal;
	return tcp_state_synced(c->state) ? 0 : -HZ_ECONNRESET;
}

/* A new connection in SYN_SENT from @port to @dst, SYN sent; or NULL. */
static struct tcp_conn *active_open(struct hz_tcp *t, uint16_t port,
				    const struct hz_sockaddr *dst)
{
	struct tcp_conn *c = tcp_conn_alloc(t);

	if (c == NULL)
		return NULL;
	c->laddr = t->env.local;
	c->lport = port;
	c->raddr = dst->addr;
	c->rport = dst->port;
	c->rcv_wscale = tcp_wscale_for(c->rcv_cap);
	c->iss = tcp_isn(t, c->laddr, c->lport, c->raddr, c->rport);
	c->ts_offset = tcp_ts_offset(t, c->laddr, c->lport, c->raddr, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->sb_seq = c->iss + 1;
	c->recover = c->iss;
	c->state = TCPS_SYN_SENT;
	c->user_holds = true; /* until connect gives it away or fails */
	tcp_conn_hash(c);
	tcp_output(c);
	return c;
}

int hz_tcp_connect_on(struct hz_tcp *t, const struct hz_sockaddr *dst,
		      uint64_t deadline, struct hz_flow **out)
{
	return hz_tcp_connect_port(t, 0, dst, deadline, out);
}

int hz_tcp_connect_port(struct hz_tcp *t, uint16_t lport,
			const struct hz_sockaddr *dst, uint64_t deadline,
			struct hz_flow **out)
{
	struct tcp_conn *c;
	char a[HZ_IPV4_STRLEN];
	uint16_t port = lport;
	int r;

	*out = NULL;
	if (t->env.local == 0 || dst->addr == 0 || dst->port == 0)
		return hz_errmsg_set(&t->err, -HZ_EINVAL,
				     "TCP connect: no local address, or "
				     "no destination");
	if (port == 0 && pick_port(t, dst, &port) != 0)
		return hz_errmsg_set(&t->err, -HZ_ENOSPC,
				     "TCP connect: no free local port");
	if (tcp_conn_lookup(t, t->env.local, port, dst->addr, dst->port) !=
	    NULL)
		return hz_errmsg_set(&t->err, -HZ_EEXIST,
				     "TCP connect: port %u in use", port);
	c = active_open(t, port, dst);
	if (c == NULL)
		return hz_errmsg_set(&t->err, -HZ_ENOMEM,
				     "TCP connect: no memory");
	r = connect_wait(c, deadline);
	if (r == 0) {
		*out = give_flow(c);
		return 0;
	}
	c->user_holds = false;
	if (c->tcp == NULL) {
		/* The TCP was destroyed under us; @t is gone. */
		tcp_conn_destroy(c);
		return r;
	}
	r = hz_errmsg_set(&t->err, r, "TCP connect to %s:%u: %s",
			  hz_ipv4_format(dst->addr, a), dst->port,
			  c->fatal != 0 ? hz_errmsg_text(&c->err)
					: hz_strerror(r));
	if (c->state == TCPS_CLOSED)
		tcp_conn_destroy(c);
	else
		tcp_conn_closed(c);
	return r;
}

/* --- passive open --------------------------------------------------------- */

int hz_tcp_listen_on(struct hz_tcp *t, const struct hz_sockaddr *local,
		     unsigned backlog, struct hz_listener **out)
{
	struct hz_listener *l;

	*out = NULL;
	if (local->port == 0)
		return hz_errmsg_set(&t->err, -HZ_EINVAL, "TCP listen: port 0");
	for (l = t->listeners; l != NULL; l = l->next)
		if (l->port == local->port &&
		    (l->addr == 0 || local->addr == 0 ||
		     l->addr == local->addr))
			return hz_errmsg_set(&t->err, -HZ_EEXIST,
					     "TCP listen: port %u in use",
					     local->port);
	l = hz_calloc(1, sizeof(*l));
	if (l == NULL)
		return hz_errmsg_set(&t->err, -HZ_ENOMEM,
				     "TCP listen: no memory");
	l->tcp = t;
	l->addr = local->addr;
	l->port = local->port;
	l->backlog = backlog > 0 ? backlog : 1u;
	l->next = t->listeners;
	t->listeners = l;
	*out = l;
	return 0;
}

void tcp_listener_established(struct tcp_conn *c)
{
	struct hz_listener *l = c->listener;

	HZ_ASSERT(l != NULL);
	l->pending--;
	l->aq_len++;
	c->aq_next = NULL;
	if (l->aq_tail != NULL)
		l->aq_tail->aq_next = c;
	else
		l->aq_head = c;
	l->aq_tail = c;
	hz_waitq_wake_one(&l->await);
}

void tcp_listener_detach(struct tcp_conn *c)
{
	struct hz_listener *l = c->listener;
	struct tcp_conn **pp, *prev = NULL;

	if (l == NULL)
		return;
	c->listener = NULL;
	for (pp = &l->aq_head; *pp != NULL; prev = *pp, pp = &(*pp)->aq_next) {
		if (*pp == c) {
			*pp = c->aq_next;
			if (l->aq_tail == c)
				l->aq_tail = prev;
			l->aq_len--;
			return;
		}
	}
	l->pending--;
}

int hz_tcp_accept_on(struct hz_listener *l, uint64_t deadline,
		     struct hz_flow **out)
{
	int r;

	*out = NULL;
	while (l->aq_head == NULL) {
		if (l->closed)
			return -HZ_ECLOSED;
		l->waiters++;
		r = park(&l->await, deadline);
		l->waiters--;
		if (l->closed) {
			/* Unlistened while we waited: the last one frees. */
			if (l->waiters == 0)
				hz_free(l);
			return -HZ_ECLOSED;
		}
		if (r != 0)
			return r;
	}
	{
		struct tcp_conn *c = l->aq_head;

		l->aq_head = c->aq_next;
		if (l->aq_head == NULL)
			l->aq_tail = NULL;
		l->aq_len--;
		c->aq_next = NULL;
		c->listener = NULL;
		*out = give_flow(c);
	}
	return 0;
}

void hz_tcp_unlisten_on(struct hz_listener *l)
{
	struct hz_tcp *t = l->tcp;
	struct hz_listener **pp = &t->listeners;
	struct tcp_conn *c, *next;

	for (c = t->all; c != NULL; c = next) {
		next = c->all_next;
		if (c->listener != l)
			continue;
		if (c->state != TCPS_SYN_SENT)
			tcp_send_rst_conn(c);
		tcp_conn_destroy(c);
	}
	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	l->closed = true;
	if (l->waiters == 0)
		hz_free(l);
	else
		hz_waitq_wake_all(&l->await); /* they free it */
}
