/*
 * TCP, the module: creation and destruction, the connection table, the
 * lifecycle of a connection object, RFC 6528 initial sequence numbers and
 * the RFC 5961 challenge-ACK limit. Input, output, timers, the FLOW side
 * and SYN cookies live in the other tcp_*.c files (see docs/tcp.md).
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/mem.h"
#include "net/tcp_int.h"

HZ_LOG_SOURCE(hz_tcp_log, "tcp");
static HZ_COUNTER(conn_alloc_fail, "tcp", "conn_alloc_fail");

static void conn_unhash(struct tcp_conn *c);

static const char *const state_names[] = {
    [TCPS_CLOSED] = "CLOSED",		[TCPS_LISTEN] = "LISTEN",
    [TCPS_SYN_SENT] = "SYN_SENT",	[TCPS_SYN_RECEIVED] = "SYN_RECEIVED",
    [TCPS_ESTABLISHED] = "ESTABLISHED", [TCPS_FIN_WAIT_1] = "FIN_WAIT_1",
    [TCPS_FIN_WAIT_2] = "FIN_WAIT_2",	[TCPS_CLOSE_WAIT] = "CLOSE_WAIT",
    [TCPS_CLOSING] = "CLOSING",		[TCPS_LAST_ACK] = "LAST_ACK",
    [TCPS_TIME_WAIT] = "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return state_names[s];
}

void hz_tcp_tuning_default(struct hz_tcp_tuning *tu)
{
	*tu = (struct hz_tcp_tuning){
	    .msl_ns = 30 * HZ_NS_PER_S,
	    .rto_min_ns = 200 * HZ_NS_PER_MS,
	    .rto_init_ns = HZ_NS_PER_S,
	    .delack_ns = 40 * HZ_NS_PER_MS,
	    .keepalive_unit_ns = HZ_NS_PER_S,
	    .keep_intvl_ns = 75 * HZ_NS_PER_S,
	    .fin_wait_2_ns = 60 * HZ_NS_PER_S,
	    .keep_probes = 9,
	    .orphan_probes = 8,
	    .sndbuf = 4096u << 10,
	    .rcvbuf = 256u << 10,
	    .tso = true,
	    .autocork = true,
	};
}

void hz_tcp_tune(struct hz_tcp *t, const struct hz_tcp_tuning *tu)
{
	HZ_ASSERT(tu->sndbuf >= 4096 && tu->rcvbuf >= 4096);
	HZ_ASSERT(tu->rcvbuf <= (1u << 30));
	t->tune = *tu;
}

int hz_tcp_create(const struct hz_tcp_env *env, struct hz_tcp **out)
{
	struct hz_tcp *t = hz_calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return -HZ_ENOMEM;
	t->table = hz_calloc(TCP_HASH_BUCKETS, sizeof(*t->table));
	if (t->table == NULL) {
		hz_free(t);
		return -HZ_ENOMEM;
	}
	t->env = *env;
	t->challenge_epoch = UINT64_MAX; /* the first second draws a budget */
	hz_tcp_tuning_default(&t->tune);
	t->next_port = (uint16_t)(TCP_EPHEMERAL_LO +
				  tcp_siphash(env->secret, "port", 4) % 16384u);
	*out = t;
	return 0;
}

void hz_tcp_destroy(struct hz_tcp *t)
{
	while (t->listeners != NULL)
		hz_tcp_unlisten_on(t->listeners);
	while (t->all != NULL) {
		struct tcp_conn *c = t->all;

		if (tcp_state_synced(c->state) && c->state != TCPS_TIME_WAIT)
			tcp_send_rst_conn(c);
		if (c->user_holds) {
			/* The application still holds the flow: detach it. */
			tcp_conn_fail(c, -HZ_ECLOSED, "stack destroyed");
			tcp_timers_cancel(c);
			tcp_rcv_purge(c);
			conn_unhash(c);
			t->all = c->all_next;
			if (t->all != NULL)
				t->all->all_prev = NULL;
			c->all_next = c->all_prev = NULL;
			c->hashed = false;
			c->state = TCPS_CLOSED;
			c->tcp = NULL;
			continue;
		}
		tcp_conn_destroy(c);
	}
	hz_free(t->table);
	hz_free(t);
}

void hz_tcp_set_local(struct hz_tcp *t, hz_ipv4_t local)
{
	t->env.local = local;
}

size_t hz_tcp_conn_count(const struct hz_tcp *t)
{
	size_t n = 0;

	for (const struct tcp_conn *c = t->all; c != NULL; c = c->all_next)
		n += c->state != TCPS_CLOSED;
	return n;
}

uint64_t hz_tcp_drops(const struct hz_tcp *t)
{
	return t->drops;
}

const char *hz_tcp_error(const struct hz_tcp *t)
{
	return hz_errmsg_text(&t->err);
}

const char *hz_tcp_flow_state(const struct hz_flow *f)
{
	return tcp_state_name(((const struct tcp_conn *)f)->state);
}

void hz_tcp_flow_info(const struct hz_flow *f, struct hz_tcp_info *out)
{
	const struct tcp_conn *c = (const struct tcp_conn *)f;

	*out = (struct hz_tcp_info){
	    .state = tcp_state_name(c->state),
	    .snd_mss = c->snd_mss,
	    .cwnd = c->cwnd,
	    .ssthresh = c->ssthresh,
	    .flight = c->snd_max - c->snd_una,
	    .dupacks = c->dupacks,
	    .in_recovery = c->in_recovery,
	    .rto_ns = c->rto,
	    .snd_wnd = c->snd_wnd,
	    .ts_ok = c->ts_ok,
	    .sack_ok = c->sack_ok,
	    .snd_wscale = c->snd_wscale,
	};
}

uint16_t tcp_local_mss(const struct hz_tcp *t)
{
	unsigned mtu = t->env.mtu != 0 ? t->env.mtu : 1500;

	return (uint16_t)(mtu > 40 + 64 ? mtu - 40 : 64);
}

const char *tcp_peer_name(const struct tcp_conn *c, char *buf)
{
	char a[HZ_IPV4_STRLEN];
	size_t n;

	hz_ipv4_format(c->raddr, a);
	n = strlen(a);
	memcpy(buf, a, n);
	buf[n++] = ':';
	/* The port, without snprintf's cost on the hot path. */
	{
		char d[6];
		int k = 0;
		unsigned p = c->rport;

		do {
			d[k++] = (char)('0' + p % 10);
			p /= 10;
		} while (p != 0);
		while (k > 0)
			buf[n++] = d[--k];
	}
	buf[n] = '\0';
	return buf;
}

/* --- the connection table ------------------------------------------------ */

/*
 * SipHash under @key of a 4-tuple, and of @tag after it (0: none): the
 * connection table, ISNs and timestamp offsets each use their own.
 */
static uint64_t tuple_siphash(const uint8_t *key, hz_ipv4_t laddr,
			      uint16_t lport, hz_ipv4_t raddr, uint16_t rport,
			      uint8_t tag)
{
	uint8_t b[13];

	hz_put32(b, laddr);
	hz_put32(b + 4, raddr);
	hz_put16(b + 8, lport);
	hz_put16(b + 10, rport);
	b[12] = tag;
	return tcp_siphash(key, b, tag != 0 ? 13 : 12);
}

static uint32_t tuple_hash(const struct hz_tcp *t, hz_ipv4_t laddr,
			   uint16_t lport, hz_ipv4_t raddr, uint16_t rport)
{
	return (uint32_t)tuple_siphash(t->env.secret + 16, laddr, lport, raddr,
				       rport, 0) %
	       TCP_HASH_BUCKETS;
}

void tcp_conn_hash(struct tcp_conn *c)
{
	struct hz_tcp *t = c->tcp;
	uint32_t h = tuple_hash(t, c->laddr, c->lport, c->raddr, c->rport);

	HZ_ASSERT(!c->hashed);
	c->hnext = t->table[h];
	t->table[h] = c;
	c->hashed = true;
}

static void conn_unhash(struct tcp_conn *c)
{
	struct hz_tcp *t = c->tcp;
	struct tcp_conn **pp;

	if (!c->hashed)
		return;
	pp = &t->table[tuple_hash(t, c->laddr, c->lport, c->raddr, c->rport)];
	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	c->hashed = false;
}

struct tcp_conn *tcp_conn_lookup(struct hz_tcp *t, hz_ipv4_t laddr,
				 uint16_t lport, hz_ipv4_t raddr,
				 uint16_t rport)
{
	struct tcp_conn *c =
	    t->table[tuple_hash(t, laddr, lport, raddr, rport)];

	for (; c != NULL; c = c->hnext)
		if (c->lport == lport && c->rport == rport &&
		    c->raddr == raddr && c->laddr == laddr)
			return c;
	return NULL;
}

struct hz_listener *tcp_listener_lookup(struct hz_tcp *t, hz_ipv4_t addr,
					uint16_t port)
{
	for (struct hz_listener *l = t->listeners; l != NULL; l = l->next)
		if (l->port == port && (l->addr == 0 || l->addr == addr))
			return l;
	return NULL;
}

/* --- connection lifecycle ----------------------------------------------- */

struct tcp_conn *tcp_conn_alloc(struct hz_tcp *t)
{
	struct tcp_conn *c;

	c = t->env.budget != NULL ? hz_budget_alloc(t->env.budget, sizeof(*c))
				  : hz_malloc(sizeof(*c));
	if (c == NULL) {
		hz_counter_inc(&conn_alloc_fail);
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->tcp = t;
	c->budget = t->env.budget;
	c->state = TCPS_CLOSED;
	c->snd_mss = 536;
	c->rto = t->tune.rto_init_ns;
	c->rcv_cap = t->tune.rcvbuf;
	c->last_heard = hz_now();
	tcp_timers_init(c);
	c->all_next = t->all;
	if (t->all != NULL)
		t->all->all_prev = c;
	t->all = c;
	return c;
}

void tcp_conn_destroy(struct tcp_conn *c)
{
	struct hz_tcp *t = c->tcp;

	tcp_timers_cancel(c);
	tcp_rcv_purge(c);
	if (t != NULL) {
		tcp_listener_detach(c);
		conn_unhash(c);
		if (c->all_prev != NULL)
			c->all_prev->all_next = c->all_next;
		else if (t->all == c)
			t->all = c->all_next;
		if (c->all_next != NULL)
			c->all_next->all_prev = c->all_prev;
	}
	if (c->sb != NULL) {
		if (c->budget != NULL)
			hz_budget_free(c->budget, c->sb, c->sb_cap);
		else
			hz_free(c->sb);
	}
	if (c->budget != NULL)
		hz_budget_free(c->budget, c, sizeof(*c));
	else
		hz_free(c);
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
	HZ_DEBUG(&hz_tcp_log, "%u->%u: %s -> %s", c->lport, c->rport,
		 tcp_state_name(c->state), tcp_state_name(s));
	c->state = s;
	if (s == TCPS_TIME_WAIT) {
		/*
		 * Everything sent is acknowledged and nothing more can be:
		 * 2 MSL of waiting keeps the connection's record, not its
		 * send ring, or a client closing connections quickly would
		 * fill TCP's budget with rings of finished connections. Unread
		 * data stays for the application to read, unless it closed.
		 */
		bool owed = c->ack_round;

		tcp_timers_cancel(c);
		if (owed) /* the ACK of a FIN, owed by this round's end */
			tcp_ack_soon(c);
		tcp_timewait_arm(c);
		tcp_sb_free(c);
		if (!c->user_holds)
			tcp_rcv_purge(c);
	}
	tcp_wake_all(c);
}

void tcp_conn_fail(struct tcp_conn *c, int code, const char *why)
{
	char peer[24];

	if (c->fatal == 0) {
		c->fatal = hz_errmsg_set(&c->err, code, "TCP %s: %s in %s",
					 tcp_peer_name(c, peer), why,
					 tcp_state_name(c->state));
	}
	tcp_wake_all(c);
}

void tcp_conn_closed(struct tcp_conn *c)
{
	tcp_timers_cancel(c);
	c->state = TCPS_CLOSED;
	tcp_wake_all(c);
	/* Embryonic, unaccepted or orphaned: nobody will ever see it. */
	if (!c->user_holds)
		tcp_conn_destroy(c);
	else
		conn_unhash(c);
}

/* --- ISN, keyed hashes, challenge ACKs -------------------------------- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
			 k0 ^ 0x6c7967656e657261ull,
			 k1 ^ 0x7465646279746573ull};
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(p + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint32_t tcp_isn(struct hz_tcp *t, hz_ipv4_t laddr, uint16_t lport,
		 hz_ipv4_t raddr, uint16_t rport)
{
	/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
	return (uint32_t)(hz_now() / 4000) +
	       (uint32_t)tuple_siphash(t->env.secret, laddr, lport, raddr,
				       rport, 0);
}

uint32_t tcp_ts_offset(struct hz_tcp *t, hz_ipv4_t laddr, uint16_t lport,
		       hz_ipv4_t raddr, uint16_t rport)
{
	/* Per 4-tuple, not per connection: a new incarnation's TSval then
	 * exceeds the old one's, which TIME_WAIT reuse relies on. */
	return (uint32_t)tuple_siphash(t->env.secret, laddr, lport, raddr,
				       rport, 't');
}

uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;

	while (ws < TCP_WSCALE_MAX && ((uint32_t)TCP_MAX_WIN << ws) < rcvbuf)
		ws++;
	return ws;
}

uint64_t tcp_random(struct hz_tcp *t)
{
	uint8_t b[12];

	if (t->env.random != NULL)
		return t->env.random(t->env.ctx);
	memcpy(b, "rand", 4);
	hz_put32(b + 4, (uint32_t)(t->random_count >> 32));
	hz_put32(b + 8, (uint32_t)t->random_count);
	t->random_count++;
	return tcp_siphash(t->env.secret, b, sizeof(b));
}

bool tcp_challenge_allowed(struct hz_tcp *t)
{
	uint64_t epoch = hz_now() / HZ_NS_PER_S;

	if (epoch != t->challenge_epoch) {
		/* A fixed budget shared by every connection is a side
		 * channel (CVE-2016-5696): an off-path host that exhausts
		 * it learns whether its guesses drew challenges. As Linux,
		 * draw each second's budget from [limit/2, 3 limit/2). */
		t->challenge_epoch = epoch;
		t->challenge_left =
		    TCP_CHALLENGE_PER_S / 2 +
		    (uint32_t)(tcp_random(t) % TCP_CHALLENGE_PER_S);
	}
	if (t->challenge_left == 0)
		return false;
	t->challenge_left--;
	return true;
}
