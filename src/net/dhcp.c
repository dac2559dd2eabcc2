/*
 * The DHCP client (RFC 2131, options from RFC 2132), as one fiber that
 * walks the client state machine: SELECTING (DISCOVER, wait for an OFFER),
 * REQUESTING (REQUEST, wait for ACK or NAK), BOUND until T1, RENEWING
 * (unicast REQUEST to the server) until T2, REBINDING (broadcast) until
 * the lease ends. Retransmissions back off exponentially (RFC 2131 4.1).
 * A NAK, or a lease that ends, sends the client back to SELECTING.
 *
 * The parser trusts nothing: every option length is checked against the
 * message and against what the option must hold; anything malformed
 * drops the whole message, counted.
 */
#include <string.h>

#include "haze/assert.h"
#include "net/ipstack_impl.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236
#define DHCP_MAGIC 0x63825363u
#define DHCP_MIN_LEN 300 /* BOOTP's size, which some servers insist on */
#define DHCP_MAX_LEN 576

#define BOOTREQUEST 1
#define BOOTREPLY 2

enum {
	DHCPDISCOVER = 1,
	DHCPOFFER = 2,
	DHCPREQUEST = 3,
	DHCPDECLINE = 4,
	DHCPACK = 5,
	DHCPNAK = 6,
};

enum {
	OPT_PAD = 0,
	OPT_SUBNET_MASK = 1,
	OPT_ROUTER = 3,
	OPT_DNS = 6,
	OPT_REQUESTED_IP = 50,
	OPT_LEASE_TIME = 51,
	OPT_MSG_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAM_LIST = 55,
	OPT_T1 = 58,
	OPT_T2 = 59,
	OPT_CLIENT_ID = 61,
	OPT_END = 255,
};

#define DEFAULT_RETRY_NS (4 * HZ_NS_PER_S)
#define MAX_RETRY_NS (64 * HZ_NS_PER_S)
#define DEFAULT_TRIES 4

HZ_LOG_SOURCE(dhcp_log, "dhcp");
HZ_COUNTER(dhcp_drop_malformed, "dhcp", "drop_malformed");
HZ_COUNTER(dhcp_drop_unexpected, "dhcp", "drop_unexpected");
HZ_COUNTER(dhcp_naks, "dhcp", "rx_nak");
HZ_COUNTER(dhcp_tx_fail, "dhcp", "tx_fail");
HZ_COUNTER(dhcp_retransmits, "dhcp", "retransmits");
HZ_COUNTER(dhcp_leases, "dhcp", "leases");
HZ_COUNTER(dhcp_expired, "dhcp", "leases_expired");

/* --- parsing -------------------------------------------------------------- */

/* Checks @len against what option @code must hold; false if wrong. */
static bool option_len_ok(uint8_t code, size_t len)
{
	switch (code) {
	case OPT_MSG_TYPE:
		return len == 1;
	case OPT_SUBNET_MASK:
	case OPT_SERVER_ID:
	case OPT_LEASE_TIME:
	case OPT_T1:
	case OPT_T2:
	case OPT_REQUESTED_IP:
		return len == 4;
	case OPT_ROUTER:
	case OPT_DNS:
		return len >= 4 && len % 4 == 0;
	default:
		return true;
	}
}

/* Stores one well-formed option's value in @m. */
static void option_apply(struct dhcp_msg *m, uint8_t code, const uint8_t *v,
			 size_t len)
{
	switch (code) {
	case OPT_MSG_TYPE:
		m->type = v[0];
		break;
	case OPT_SUBNET_MASK:
		m->mask = hz_get32(v);
		m->have_mask = true;
		break;
	case OPT_ROUTER:
		m->router = hz_get32(v);
		break;
	case OPT_DNS:
		for (size_t i = 0; i < HZ_IPSTACK_MAX_DNS && i * 4 < len; i++)
			m->dns[i] = hz_get32(v + i * 4);
		break;
	case OPT_SERVER_ID:
		m->server_id = hz_get32(v);
		break;
	case OPT_LEASE_TIME:
		m->lease_s = hz_get32(v);
		break;
	case OPT_T1:
		m->t1_s = hz_get32(v);
		break;
	case OPT_T2:
		m->t2_s = hz_get32(v);
		break;
	default:
		break; /* options we do not use */
	}
}

/* Walks the options at [@p, @p + @len). 0 or -HZ_EPROTO. */
static int options_parse(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
	size_t i = 0;

	while (i < len) {
		uint8_t code = p[i++], olen;

		if (code == OPT_END)
			return 0;
		if (code == OPT_PAD)
			continue;
		if (i >= len)
			return -HZ_EPROTO;
		olen = p[i++];
		if (olen > len - i || !option_len_ok(code, olen))
			return -HZ_EPROTO;
		option_apply(m, code, p + i, olen);
		i += olen;
	}
	return -HZ_EPROTO; /* no end option */
}

int hz_dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len < DHCP_FIXED_LEN + 4)
		return -HZ_EPROTO;
	if (p[1] != 1 || p[2] != HZ_ETH_ALEN ||
	    hz_get32(p + DHCP_FIXED_LEN) != DHCP_MAGIC)
		return -HZ_EPROTO;
	m->op = p[0];
	m->xid = hz_get32(p + 4);
	m->yiaddr = hz_get32(p + 16);
	m->siaddr = hz_get32(p + 20);
	memcpy(m->chaddr, p + 28, HZ_ETH_ALEN);
	if (options_parse(p + DHCP_FIXED_LEN + 4, len - DHCP_FIXED_LEN - 4, m) <
	    0)
		return -HZ_EPROTO;
	return m->type != 0 ? 0 : -HZ_EPROTO;
}

/* --- building ------------------------------------------------------------- */

struct dhcp_out {
	uint8_t b[DHCP_MAX_LEN];
	size_t len;
};

static void put_option(struct dhcp_out *o, uint8_t code, const void *v,
		       uint8_t len)
{
	HZ_ASSERT(o->len + 2u + len < sizeof(o->b));
	o->b[o->len++] = code;
	o->b[o->len++] = len;
	memcpy(o->b + o->len, v, len);
	o->len += len;
}

static void put_option32(struct dhcp_out *o, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	hz_put32(b, v);
	put_option(o, code, b, 4);
}

/* The fixed part, the cookie, and the options every message carries. */
static void build_head(struct hz_ipstack *s, struct dhcp_out *o, uint8_t type,
		       hz_ipv4_t ciaddr)
{
	static const uint8_t params[] = {
	    OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_LEASE_TIME,
	    OPT_SERVER_ID,   OPT_T1,	 OPT_T2};
	uint8_t client_id[1 + HZ_ETH_ALEN];

	memset(o, 0, sizeof(*o));
	o->b[0] = BOOTREQUEST;
	o->b[1] = 1; /* Ethernet */
	o->b[2] = HZ_ETH_ALEN;
	hz_put32(o->b + 4, s->dhcp.xid);
	hz_put32(o->b + 12, ciaddr);
	memcpy(o->b + 28, s->net->mac.b, HZ_ETH_ALEN);
	hz_put32(o->b + DHCP_FIXED_LEN, DHCP_MAGIC);
	o->len = DHCP_FIXED_LEN + 4;
	put_option(o, OPT_MSG_TYPE, &type, 1);
	client_id[0] = 1;
	memcpy(client_id + 1, s->net->mac.b, HZ_ETH_ALEN);
	put_option(o, OPT_CLIENT_ID, client_id, sizeof(client_id));
	put_option(o, OPT_PARAM_LIST, params, sizeof(params));
}

static void build_end(struct dhcp_out *o)
{
	o->b[o->len++] = OPT_END;
	if (o->len < DHCP_MIN_LEN)
		o->len = DHCP_MIN_LEN; /* zero padding */
}

static int dhcp_send(struct hz_ipstack *s, struct dhcp_out *o, hz_ipv4_t dst)
{
	struct hz_sockaddr to = {dst, DHCP_SERVER_PORT};
	int r;

	build_end(o);
	r = hz_udp_sendto_on(s->dhcp.sock, &to, o->b, o->len);
	if (r < 0)
		hz_counter_inc(&dhcp_tx_fail);
	return r;
}

static int send_discover(struct hz_ipstack *s)
{
	struct dhcp_out o;

	build_head(s, &o, DHCPDISCOVER, 0);
	return dhcp_send(s, &o, HZ_IPV4_BROADCAST);
}

/* A REQUEST: selecting (server and address named) or renewing/rebinding. */
static int send_request(struct hz_ipstack *s)
{
	struct dhcp_client *c = &s->dhcp;
	struct dhcp_out o;

	if (c->state == DHCP_REQUESTING) {
		build_head(s, &o, DHCPREQUEST, 0);
		put_option32(&o, OPT_REQUESTED_IP, c->offered);
		put_option32(&o, OPT_SERVER_ID, c->server);
		return dhcp_send(s, &o, HZ_IPV4_BROADCAST);
	}
	build_head(s, &o, DHCPREQUEST, s->addr);
	return dhcp_send(
	    s, &o, c->state == DHCP_RENEWING ? c->server : HZ_IPV4_BROADCAST);
}

/* --- receiving ------------------------------------------------------------ */

/* Whether @m answers our current transaction. */
static bool reply_is_ours(const struct hz_ipstack *s, const struct dhcp_msg *m)
{
	return m->op == BOOTREPLY && m->xid == s->dhcp.xid &&
	       memcmp(m->chaddr, s->net->mac.b, HZ_ETH_ALEN) == 0;
}

/*
 * Waits until @deadline for a reply to our transaction of one of the
 * types in @want (a bit mask of 1 << type). 0 with it in @m,
 * -HZ_ETIMEDOUT, or -HZ_ECLOSED when the stack stops.
 */
static int await_reply(struct hz_ipstack *s, unsigned want, uint64_t deadline,
		       struct dhcp_msg *m)
{
	for (;;) {
		struct hz_view v;
		int r = hz_udp_recvfrom_on(s->dhcp.sock, &v, NULL, deadline);

		if (r < 0)
			return s->stopping ? -HZ_ECLOSED : r;
		r = hz_dhcp_parse(hz_view_data(&v), v.len, m);
		hz_view_release(&v);
		if (r < 0) {
			hz_ipstack_drop(s, &dhcp_drop_malformed);
			continue;
		}
		if (!reply_is_ours(s, m) || m->type >= 32 ||
		    !(want & (1u << m->type))) {
			hz_ipstack_drop(s, &dhcp_drop_unexpected);
			continue;
		}
		return 0;
	}
}

/* The retransmission delay after @attempt sends: 4, 8, 16, ... 64 s. */
static uint64_t retry_delay(const struct hz_ipstack *s, unsigned attempt)
{
	uint64_t d =
	    s->cfg.dhcp_retry_ns ? s->cfg.dhcp_retry_ns : DEFAULT_RETRY_NS;

	while (attempt-- > 0 && d < MAX_RETRY_NS)
		d *= 2;
	return d;
}

/* @d randomized by +-1 s (RFC 2131 4.1) when it is long enough. */
static uint64_t jitter(struct hz_ipstack *s, uint64_t d)
{
	if (d < 2 * HZ_NS_PER_S)
		return d;
	return d - HZ_NS_PER_S + hz_ipstack_random(s) % (2 * HZ_NS_PER_S);
}

static unsigned max_tries(const struct hz_ipstack *s)
{
	return s->cfg.dhcp_tries ? s->cfg.dhcp_tries : DEFAULT_TRIES;
}

/*
 * Sends with @send and waits for a reply in @want, retransmitting with
 * backoff, at most @tries times and never past @until. 0, -HZ_ETIMEDOUT
 * or -HZ_ECLOSED.
 */
static int exchange(struct hz_ipstack *s, int (*send)(struct hz_ipstack *),
		    unsigned want, unsigned tries, uint64_t until,
		    struct dhcp_msg *m)
{
	for (unsigned i = 0; i < tries && !s->stopping; i++) {
		uint64_t deadline = hz_now() + jitter(s, retry_delay(s, i));
		int r;

		if (deadline > until)
			deadline = until;
		if (i > 0)
			hz_counter_inc(&dhcp_retransmits);
		if (send(s) < 0)
			HZ_DEBUG(&dhcp_log, "%s: send failed", s->name);
		r = await_reply(s, want, deadline, m);
		if (r != -HZ_ETIMEDOUT)
			return r;
		if (hz_now() >= until)
			break;
	}
	return s->stopping ? -HZ_ECLOSED : -HZ_ETIMEDOUT;
}

/* --- the state machine ---------------------------------------------------- */

static uint8_t mask_prefix(hz_ipv4_t mask)
{
	uint8_t n = 0;

	while (n < 32 && (mask & (0x80000000u >> n)))
		n++;
	return n;
}

/* Installs the lease an ACK gave and computes T1, T2 (RFC 2131 4.4.5). */
static void lease_apply(struct hz_ipstack *s, const struct dhcp_msg *m)
{
	struct dhcp_client *c = &s->dhcp;
	uint8_t prefix = m->have_mask ? mask_prefix(m->mask) : 24;
	uint32_t lease = m->lease_s != 0 ? m->lease_s : 3600;

	c->lease_s = lease;
	c->t1_s = m->t1_s != 0 && m->t1_s < lease ? m->t1_s : lease / 2;
	c->t2_s = m->t2_s != 0 && m->t2_s < lease && m->t2_s >= c->t1_s
		      ? m->t2_s
		      : (uint32_t)((uint64_t)lease * 7 / 8);
	c->lease_start = hz_now();
	c->state = DHCP_BOUND;
	memcpy(s->dns, m->dns, sizeof(s->dns));
	hz_counter_inc(&dhcp_leases);
	if (!s->configured || s->addr != m->yiaddr || s->prefix_len != prefix ||
	    s->gateway != m->router)
		hz_ipstack_set_address(s, m->yiaddr, prefix, m->router);
}

/* Whether an ACK carries an address we can use. */
static bool ack_usable(const struct dhcp_msg *m)
{
	hz_ipv4_t a = m->yiaddr;

	return a != 0 && a != HZ_IPV4_BROADCAST && (a >> 28) != 0xe &&
	       (a >> 24) != 127;
}

/* SELECTING then REQUESTING; returns 0 when bound. */
static int acquire(struct hz_ipstack *s)
{
	struct dhcp_client *c = &s->dhcp;
	struct dhcp_msg m;
	int r;

	c->state = DHCP_SELECTING;
	c->xid = (uint32_t)hz_ipstack_random(s);
	r = exchange(s, send_discover, 1u << DHCPOFFER, UINT32_MAX,
		     HZ_DEADLINE_NEVER, &m);
	if (r < 0)
		return r;
	c->offered = m.yiaddr;
	c->server = m.server_id != 0 ? m.server_id : m.siaddr;
	c->state = DHCP_REQUESTING;
	r = exchange(s, send_request, 1u << DHCPACK | 1u << DHCPNAK,
		     max_tries(s), HZ_DEADLINE_NEVER, &m);
	if (r < 0)
		return r;
	if (m.type == DHCPNAK || !ack_usable(&m)) {
		hz_counter_inc(&dhcp_naks);
		return -HZ_EAGAIN;
	}
	lease_apply(s, &m);
	return 0;
}

/* Time at @seconds into the lease. */
static uint64_t lease_time(const struct dhcp_client *c, uint32_t seconds)
{
	return c->lease_start + (uint64_t)seconds * HZ_NS_PER_S;
}

/* Sleeps until @deadline unless the stack stops; drops stray messages. */
static void idle_until(struct hz_ipstack *s, uint64_t deadline)
{
	struct dhcp_msg m;

	while (!s->stopping && hz_now() < deadline)
		if (await_reply(s, 0, deadline, &m) < 0)
			break;
}

/* BOUND, RENEWING, REBINDING; returns when the lease is lost. */
static void keep_lease(struct hz_ipstack *s)
{
	struct dhcp_client *c = &s->dhcp;
	struct dhcp_msg m;
	int r;

	while (!s->stopping) {
		idle_until(s, lease_time(c, c->t1_s));
		c->state = DHCP_RENEWING;
		c->xid = (uint32_t)hz_ipstack_random(s);
		r = exchange(s, send_request, 1u << DHCPACK | 1u << DHCPNAK,
			     UINT32_MAX, lease_time(c, c->t2_s), &m);
		if (r == -HZ_ETIMEDOUT) {
			c->state = DHCP_REBINDING;
			r = exchange(s, send_request,
				     1u << DHCPACK | 1u << DHCPNAK, UINT32_MAX,
				     lease_time(c, c->lease_s), &m);
		}
		if (r < 0 || m.type == DHCPNAK || !ack_usable(&m)) {
			if (r == 0)
				hz_counter_inc(&dhcp_naks);
			else if (r == -HZ_ETIMEDOUT)
				hz_counter_inc(&dhcp_expired);
			return;
		}
		lease_apply(s, &m);
	}
}

static void dhcp_fiber(void *arg)
{
	struct hz_ipstack *s = arg;

	while (!s->stopping) {
		int r = acquire(s);

		if (r == 0) {
			keep_lease(s);
			if (!s->stopping)
				hz_ipstack_clear_address(s);
		} else if (r == -HZ_EAGAIN) {
			/* After a NAK, pause before starting over. */
			idle_until(s, hz_now() + retry_delay(s, 0));
		}
	}
	s->dhcp.state = DHCP_OFF;
	hz_udp_close_on(s->dhcp.sock);
	s->dhcp.sock = NULL;
	s->dhcp.running = false;
	hz_waitq_wake_all(&s->joins);
}

int hz_dhcp_start(struct hz_ipstack *s)
{
	struct hz_sockaddr local = {0, DHCP_CLIENT_PORT};
	int r = hz_udp_open_on(s, &local, &s->dhcp.sock);

	if (r < 0)
		return r;
	r = hz_fiber_spawn("dhcp", dhcp_fiber, s, 0);
	if (r < 0) {
		hz_udp_close_on(s->dhcp.sock);
		s->dhcp.sock = NULL;
		return r;
	}
	s->dhcp.running = true;
	s->dhcp.state = DHCP_SELECTING;
	return 0;
}

void hz_dhcp_stop(struct hz_ipstack *s)
{
	if (s->dhcp.running && s->dhcp.sock != NULL)
		hz_waitq_wake_all(&s->dhcp.sock->readers);
}
