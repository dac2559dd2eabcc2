/*
 * TCP internals shared by src/net/tcp*.c: the connection (a FLOW and its
 * RFC 9293 variables), the listener, the per-segment context that input
 * passes from step to step, and the helpers each file offers the others.
 * Nothing here is visible outside src/net/tcp*.c.
 */
#ifndef HAZE_NET_TCP_INT_H
#define HAZE_NET_TCP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/log.h"
#include "haze/sched.h"
#include "net/tcp.h"

/* Sequence-number comparisons modulo 2^32 (RFC 9293 section 3.4). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* Header flags. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define TCP_HLEN 20
#define TCP_OPT_MAX 40
#define TCP_SACK_MAX 4	  /* blocks a segment can carry */
#define TCP_SCORE_MAX 16  /* SACKed ranges the sender remembers */
#define TCP_WSCALE_MAX 14 /* RFC 7323 section 2.3 */
#define TCP_MAX_WIN 65535u
#define TCP_REXMT_MAX 12    /* data retransmissions before giving up */
#define TCP_SYN_REXMT_MAX 6 /* SYN or SYN-ACK retransmissions */
#define TCP_RTO_MAX_NS (60 * HZ_NS_PER_S)
#define TCP_PERSIST_MIN_NS (200 * HZ_NS_PER_MS)

#define TCP_PTO_MIN_NS (10 * HZ_NS_PER_MS)    /* a loss probe waits at least */
#define TCP_WC_DELACK_NS (200 * HZ_NS_PER_MS) /* RFC 8985 WCDelAckT */
#define TCP_HASH_BUCKETS 1024u
#define TCP_CHALLENGE_PER_S 1000u /* RFC 5961 section 7, on average */
#define TCP_EPHEMERAL_LO 49152u

enum tcp_state {
	TCPS_CLOSED,
	TCPS_LISTEN,
	TCPS_SYN_SENT,
	TCPS_SYN_RECEIVED,
	TCPS_ESTABLISHED,
	TCPS_FIN_WAIT_1,
	TCPS_FIN_WAIT_2,
	TCPS_CLOSE_WAIT,
	TCPS_CLOSING,
	TCPS_LAST_ACK,
	TCPS_TIME_WAIT,
};

/* Whether the state is one of RFC 9293's synchronized states. */
static inline bool tcp_state_synced(enum tcp_state s)
{
	return s >= TCPS_ESTABLISHED;
}

/* Options parsed from, or to put in, a segment. */
struct tcp_opts {
	bool mss_ok, ws_ok, sack_perm, ts_ok;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[TCP_SACK_MAX][2]; /* [left, right) */
};

/* A received segment (or part of one) held in a receive queue. */
struct tcp_rseg {
	struct tcp_rseg *next;
	uint32_t seq;	 /* of the first byte of v */
	uint32_t charge; /* bytes charged to the budget for it */
	struct hz_view v;
};

struct hz_tcp;
struct hz_listener;

struct tcp_conn {
	struct hz_flow flow;	  /* first: the FLOW the application holds */
	struct hz_tcp *tcp;	  /* NULL once the TCP was destroyed */
	struct hz_budget *budget; /* charged for this object and buffers */
	struct tcp_conn *hnext;	  /* hash chain */
	struct tcp_conn *all_prev, *all_next;
	struct hz_listener *listener; /* while embryonic or unaccepted */
	struct tcp_conn *aq_next;     /* accept queue link */
	hz_ipv4_t laddr, raddr;
	uint16_t lport, rport;
	enum tcp_state state;
	bool user_holds;  /* the application has the flow (not yet freed) */
	bool user_closed; /* close was called: every call gives ECLOSED */
	bool hashed;

	/* Send sequence space (RFC 9293 section 3.3.1). */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_snd_wnd;
	uint16_t snd_mss; /* largest payload we send */
	uint8_t snd_wscale, rcv_wscale;
	bool ws_ok, ts_ok, sack_ok;

	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent;
	uint32_t ts_recent, ts_offset;
	uint64_t ts_recent_age;

	/* Send buffer: a ring of bytes from sequence sb_seq. */
	uint8_t *sb;
	uint32_t sb_cap, sb_head, sb_len, sb_seq;
	bool fin_queued, fin_sent;

	/* Receive queues: in order (for read) and out of order. */
	struct tcp_rseg *rq_head, *rq_tail, *ofo;
	uint32_t rq_bytes, ofo_bytes, rcv_mem, rcv_cap;
	uint32_t last_rcvd_seq; /* of the latest segment, first SACK block */
	bool fin_rcvd;		/* the peer's FIN was taken in order */

	/* Congestion control: NewReno (RFC 5681, 6582) with SACK. */
	uint32_t cwnd, ssthresh, recover, high_rxt, dupacks;
	uint32_t rxt_fence; /* SND.MAX at the latest retransmission */
	bool in_recovery;
	uint64_t last_data_sent; /* ns: when a data segment last left */
	uint32_t score[TCP_SCORE_MAX][2]; /* SACKed ranges, sorted */
	uint8_t nscore;

	/* Tail loss probe (RFC 8985 section 7, tcp_timer.c). */
	bool pto_armed;		   /* t_rexmt times a probe, not the RTO */
	bool tlp_out;		   /* a probe is unacknowledged */
	bool tlp_rexmt;		   /* ... and it resent old data */
	bool tlp_dsack;		   /* ... which the peer got twice (D-SACK) */
	uint32_t tlp_seq, tlp_end; /* the probe's sequence range */
	uint64_t rto_at;	   /* ns: when the RTO fires, probe or not */

	/* Retransmission timer (RFC 6298). */
	uint64_t srtt, rttvar, rto; /* ns; srtt 0 until measured */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	bool rtt_timing;
	uint8_t rexmt_count, persist_shift;
	/* Probes into a zero window since the peer last took data. */
	uint16_t zero_probes;

	/* Delayed ACK and what output must send. */
	uint8_t unacked_segs;
	bool ack_now, ack_delayed;
	bool ack_round; /* an ACK owed when the round ends (tcp_ack_soon) */

	/* Options set by the application. */
	bool nodelay;
	uint32_t keepalive_s;
	uint8_t keep_probes;
	uint64_t last_heard;

	struct hz_timer t_rexmt; /* retransmission or persist */
	struct hz_timer t_delack;
	struct hz_timer t_keep;	  /* keepalive, connection timeout, TIME_WAIT */
	struct hz_defer d_output; /* autocork: output when the round ends */
	bool persisting;
	bool force_send; /* the persist timer overrides SWS avoidance */

	struct hz_waitq rwait, wwait, cwait; /* readers, writers, connect */
	struct hz_errmsg err;
	int fatal; /* sticky error, or 0 */
};

struct hz_listener {
	struct hz_tcp *tcp;
	struct hz_listener *next;
	hz_ipv4_t addr;
	uint16_t port;
	unsigned backlog;
	unsigned pending; /* embryonic connections */
	unsigned aq_len;  /* established, not yet accepted */
	struct tcp_conn *aq_head, *aq_tail;
	struct hz_waitq await;
	unsigned waiters; /* fibers parked in accept */
	bool closed;	  /* unlistened; the last waiter frees it */
};

struct hz_tcp {
	struct hz_tcp_env env;
	struct hz_tcp_tuning tune;
	struct tcp_conn **table;
	struct tcp_conn *all;
	struct hz_listener *listeners;
	uint16_t next_port;
	struct hz_errmsg err;	  /* the last failure of connect or listen */
	uint64_t challenge_epoch; /* the second challenge_left is for */
	uint32_t challenge_left;  /* challenge ACKs still allowed in it */
	uint64_t random_count;	  /* tcp_random without env.random */
	uint64_t drops;		  /* received segments (or data) dropped */
};

/* Counts a drop on @c and in @t's total (hz_tcp_drops). */
static inline void tcp_drop(struct hz_tcp *t, struct hz_counter *c)
{
	hz_counter_inc(c);
	if (t != NULL)
		t->drops++;
}

/* The per-segment context input passes from step to step. */
struct tcp_seg {
	struct hz_tcp *tcp;
	struct tcp_conn *c;
	struct hz_view v; /* the whole segment; released by the exit */
	hz_ipv4_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack, wnd, len; /* len: payload bytes */
	uint8_t flags;
	uint16_t hlen;
	uint32_t poff; /* where the (trimmed) payload starts in v */
	struct tcp_opts opt;
};

/* Input steps return one of these; the caller takes the exit it names. */
enum tcp_verdict {
	TCP_CONTINUE,	     /* go on to the next step */
	TCP_DONE,	     /* consumed; nothing more to do */
	TCP_DROP,	     /* drop silently (already counted) */
	TCP_DROP_AFTER_ACK,  /* drop, answering with an ACK */
	TCP_DROP_WITH_RESET, /* drop, answering with a RST */
};

/* --- tcp.c: the module, connections, tables --------------------------- */

extern struct hz_log_source hz_tcp_log;

/* Returns the RFC name of a state ("ESTABLISHED"). */
const char *tcp_state_name(enum tcp_state s);

/* Allocates a connection in CLOSED charged to the budget, or NULL. */
struct tcp_conn *tcp_conn_alloc(struct hz_tcp *t);

/* Moves @c to @s (logs; TIME_WAIT and CLOSED arm or free). */
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);

/* Puts @c in the lookup table. */
void tcp_conn_hash(struct tcp_conn *c);

/* Finds the connection of a segment's 4-tuple, or NULL. */
struct tcp_conn *tcp_conn_lookup(struct hz_tcp *t, hz_ipv4_t laddr,
				 uint16_t lport, hz_ipv4_t raddr,
				 uint16_t rport);

/* Finds the listener for @addr:@port, or NULL. */
struct hz_listener *tcp_listener_lookup(struct hz_tcp *t, hz_ipv4_t addr,
					uint16_t port);

/* Ends @c with sticky error @code and message; wakes everyone. */
void tcp_conn_fail(struct tcp_conn *c, int code, const char *why);

/* Moves @c to CLOSED and frees it if nobody holds it any more. */
void tcp_conn_closed(struct tcp_conn *c);

/* Frees @c's memory (buffers, timers, table entry). */
void tcp_conn_destroy(struct tcp_conn *c);

/* The RFC 6528 initial sequence number for a 4-tuple. */
uint32_t tcp_isn(struct hz_tcp *t, hz_ipv4_t laddr, uint16_t lport,
		 hz_ipv4_t raddr, uint16_t rport);

/* The timestamp clock offset of a 4-tuple (RFC 7323 section 5.4). */
uint32_t tcp_ts_offset(struct hz_tcp *t, hz_ipv4_t laddr, uint16_t lport,
		       hz_ipv4_t raddr, uint16_t rport);

/* SipHash-2-4 of @len bytes under a 16-byte key. */
uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len);

/* A random number from the environment's source. */
uint64_t tcp_random(struct hz_tcp *t);

/* Returns whether a challenge ACK may be sent now (RFC 5961 limit). */
bool tcp_challenge_allowed(struct hz_tcp *t);

/* Our MSS for the environment's MTU. */
uint16_t tcp_local_mss(const struct hz_tcp *t);

/* Formats "a.b.c.d:port" of the remote end into @buf (24 bytes). */
const char *tcp_peer_name(const struct tcp_conn *c, char *buf);

/* --- tcp_input.c --------------------------------------------------------- */

/* Parses TCP options from @p[0..len) into @o; false if malformed. */
bool tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o);

/* --- tcp_output.c -------------------------------------------------------- */

/* Sends what the connection's state, windows and timers allow. */
void tcp_output(struct tcp_conn *c);

/* Sends a bare ACK now (also the challenge ACK and window update). */
void tcp_send_ack(struct tcp_conn *c);

/* Sends a RST for connection @c (abort). */
void tcp_send_rst_conn(struct tcp_conn *c);

/* Answers segment @s with a RST (RFC 9293 reset generation). */
void tcp_send_rst_reply(struct hz_tcp *t, const struct tcp_seg *s);

/* Sends a SYN-ACK for a SYN-cookie answer, without a connection. */
void tcp_send_cookie_synack(struct hz_tcp *t, const struct tcp_seg *s,
			    uint32_t iss);

/* Sends a keepalive probe (SEG.SEQ = SND.UNA - 1). */
void tcp_send_keepalive(struct tcp_conn *c);

/* The window we advertise, already scaled for the header. */
uint16_t tcp_rcv_window_field(struct tcp_conn *c, bool syn);

/* Retransmits from SND.UNA after a timeout. */
void tcp_retransmit_timeout(struct tcp_conn *c);

/* Sends the tail loss probe (RFC 8985 7.3); the caller arms the RTO. */
void tcp_loss_probe(struct tcp_conn *c);

/* ssthresh after a loss: max(FlightSize / 2, 2 SMSS) (RFC 5681 (4)). */
uint32_t tcp_loss_ssthresh(const struct tcp_conn *c);

/* Bytes in flight that the peer has not SACKed. */
uint32_t tcp_sacked_bytes(const struct tcp_conn *c);

/* --- tcp_timer.c --------------------------------------------------------- */

/* Initialises the connection's timers and deferred output. */
void tcp_timers_init(struct tcp_conn *c);

/* Cancels every timer of the connection, and its deferred output. */
void tcp_timers_cancel(struct tcp_conn *c);

/* Arms the retransmission timer at the current RTO if it is not armed. */
void tcp_rexmt_arm(struct tcp_conn *c, bool restart);

/* Arms the persist timer (zero window probing). */
void tcp_persist_arm(struct tcp_conn *c);

/* Takes an RTT sample of @rtt_ns (RFC 6298 section 2). */
void tcp_rtt_sample(struct tcp_conn *c, uint64_t rtt_ns);

/* Arms the delayed-ACK timer. */
void tcp_delack_arm(struct tcp_conn *c);

/*
 * Owes the peer an ACK by the end of this round of fibers, not at once:
 * what the application answers in the round (data, a FIN) carries it.
 */
void tcp_ack_soon(struct tcp_conn *c);

/* Re-arms the keepalive (or idle) timer after traffic. */
void tcp_keep_rearm(struct tcp_conn *c);

/* Arms TIME_WAIT's 2*MSL timer. */
void tcp_timewait_arm(struct tcp_conn *c);

/* --- tcp_flow.c: buffers and the application side ---------------------- */

/* Drops @n acknowledged bytes from the send buffer. */
void tcp_sb_drop(struct tcp_conn *c, uint32_t n);

/*
 * Frees the send ring of @c if it holds nothing unacknowledged: a
 * connection that can send no more (TIME_WAIT) keeps no buffer.
 */
void tcp_sb_free(struct tcp_conn *c);

/* Copies @len bytes at sequence @seq from the send buffer into @dst. */
void tcp_sb_copy(const struct tcp_conn *c, uint32_t seq, uint8_t *dst,
		 uint32_t len);

/* The sequence number after the last byte the application gave us. */
uint32_t tcp_sb_end(const struct tcp_conn *c);

/* Takes payload @v (consumed) at @seq into the receive queues. */
void tcp_rcv_data(struct tcp_conn *c, uint32_t seq, struct hz_view *v);

/* Frees every queued received segment. */
void tcp_rcv_purge(struct tcp_conn *c);

/* Wakes readers, writers and connect waiters of @c. */
void tcp_wake_all(struct tcp_conn *c);

/* Hands an established passive connection to its listener. */
void tcp_listener_established(struct tcp_conn *c);

/* Forgets @c's place in its listener (embryonic or queued). */
void tcp_listener_detach(struct tcp_conn *c);

/* The window scale that lets a receive buffer of @rcvbuf be advertised. */
uint8_t tcp_wscale_for(uint32_t rcvbuf);

/* --- tcp_cookie.c: SYN cookies ------------------------------------------ */

/* The ISS of a SYN-cookie SYN-ACK for @s (the peer's MSS encoded). */
uint32_t tcp_cookie_make(struct hz_tcp *t, const struct tcp_seg *s);

/* Checks the ACK of a cookie handshake; the MSS it encoded, or 0. */
uint16_t tcp_cookie_check(struct hz_tcp *t, const struct tcp_seg *s);

/* What a cookie SYN-ACK's timestamp carries of the peer's SYN. */
struct tcp_cookie_opts {
	bool ws_ok;
	uint8_t ws; /* the peer's window scale */
	bool sack_ok;
};

/* Our timestamp for a cookie SYN-ACK to SYN @s, its options encoded. */
uint32_t tcp_cookie_tsval(struct hz_tcp *t, const struct tcp_seg *s);

/*
 * Decodes the options of a cookie handshake from the timestamp the
 * final ACK @s echoes. False if it echoes none we could have sent (then
 * the connection goes without window scale, SACK and timestamps).
 */
bool tcp_cookie_opts(struct hz_tcp *t, const struct tcp_seg *s,
		     struct tcp_cookie_opts *out);

#endif
