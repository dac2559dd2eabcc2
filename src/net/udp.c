/*
 * UDP (RFC 768): checksums verified when present and always generated,
 * sockets bound to a port (and optionally an address), a bounded queue of
 * received datagrams per socket (full: drop and count), ephemeral ports
 * from the IANA range (RFC 6335), port unreachable for closed ports.
 * Received payload reaches the application as a view of the frame's pbuf.
 */
#include <string.h>

#include "haze/assert.h"
#include "net/ipstack_impl.h"

#define EPHEMERAL_FIRST 49152u
#define EPHEMERAL_COUNT 16384u
#define UDP_MAX_PAYLOAD (0xffff - HZ_IPV4_HLEN - HZ_UDP_HLEN)
#define ICMP_PORT_UNREACH 3

HZ_COUNTER(udp_drop_short, "udp", "drop_short");
HZ_COUNTER(udp_drop_length, "udp", "drop_bad_length");
HZ_COUNTER(udp_drop_checksum, "udp", "drop_bad_checksum");
HZ_COUNTER(udp_drop_port_zero, "udp", "drop_port_zero");
HZ_COUNTER(udp_drop_no_socket, "udp", "drop_no_socket");
HZ_COUNTER(udp_drop_queue_full, "udp", "drop_queue_full");
HZ_COUNTER(udp_tx_nomem, "udp", "tx_drop_nomem");

/* --- input ---------------------------------------------------------------- */

/* Whether the checksum is right, absent, or one the device verified or
 * vouches for (hz_frame.csum_ok: the field may be partial). */
static bool checksum_ok(const struct ip_rx *rx, const struct hz_view *d)
{
	const uint8_t *p = hz_view_data(d);
	uint32_t sum;

	if (hz_get16(p + 6) == 0 || d->pb->csum_ok)
		return true;
	sum = hz_inet_pseudo_sum(rx->meta.src, rx->meta.dst, HZ_IPPROTO_UDP,
				 (uint16_t)d->len);
	return hz_inet_fold(hz_inet_sum(p, d->len, sum)) == 0;
}

static struct hz_udp_sock *sock_find(struct hz_ipstack *s, hz_ipv4_t dst,
				     uint16_t port)
{
	for (struct hz_udp_sock *u = s->udp_socks; u != NULL; u = u->next)
		if (u->local.port == port &&
		    (u->local.addr == 0 || u->local.addr == dst))
			return u;
	return NULL;
}

/* Queues the datagram's payload on @u; consumes @d. */
static void sock_deliver(struct hz_ipstack *s, struct hz_udp_sock *u,
			 const struct ip_rx *rx, struct hz_view *d)
{
	struct udp_dgram *q;
	uint16_t sport = hz_get16(hz_view_data(d));

	if (u->qcount == UDP_QUEUE_LEN) {
		hz_ipstack_drop(s, &udp_drop_queue_full);
		hz_view_release(d);
		return;
	}
	if (hz_view_pull(d, HZ_UDP_HLEN) < 0) {
		/* hz_udp_input checked the length: a short datagram. */
		hz_ipstack_drop(s, &udp_drop_short);
		hz_view_release(d);
		return;
	}
	q = &u->q[(u->qhead + u->qcount) % UDP_QUEUE_LEN];
	q->v = *d;
	q->from.addr = rx->meta.src;
	q->from.port = sport;
	*d = (struct hz_view){0};
	u->qcount++;
	hz_waitq_wake_one(&u->readers);
}

void hz_udp_input(struct hz_ipstack *s, const struct ip_rx *rx,
		  struct hz_view *d)
{
	struct hz_udp_sock *u;
	size_t ulen;

	if (d->len < HZ_UDP_HLEN) {
		hz_ipstack_drop(s, &udp_drop_short);
		goto release;
	}
	ulen = hz_get16(hz_view_data(d) + 4);
	if (ulen < HZ_UDP_HLEN || ulen > d->len || hz_view_trim(d, ulen) < 0) {
		hz_ipstack_drop(s, &udp_drop_length);
		goto release;
	}
	if (!checksum_ok(rx, d)) {
		hz_ipstack_drop(s, &udp_drop_checksum);
		goto release;
	}
	if (hz_get16(hz_view_data(d) + 2) == 0) {
		hz_ipstack_drop(s, &udp_drop_port_zero);
		goto release;
	}
	u = sock_find(s, rx->meta.dst, hz_get16(hz_view_data(d) + 2));
	if (u == NULL) {
		hz_icmp_unreachable(s, rx, d, ICMP_PORT_UNREACH);
		hz_ipstack_drop(s, &udp_drop_no_socket);
		goto release;
	}
	sock_deliver(s, u, rx, d);
	return;
release:
	hz_view_release(d);
}

/* --- sockets -------------------------------------------------------------- */

static bool port_in_use(const struct hz_ipstack *s, uint16_t port)
{
	for (const struct hz_udp_sock *u = s->udp_socks; u != NULL; u = u->next)
		if (u->local.port == port)
			return true;
	return false;
}

/* A free ephemeral port, or 0 when every one is taken. */
static uint16_t ephemeral_port(struct hz_ipstack *s)
{
	for (unsigned i = 0; i < EPHEMERAL_COUNT; i++) {
		uint16_t p = (uint16_t)(EPHEMERAL_FIRST +
					(s->next_port + i) % EPHEMERAL_COUNT);

		if (!port_in_use(s, p)) {
			s->next_port = (uint16_t)((s->next_port + i + 1) %
						  EPHEMERAL_COUNT);
			return p;
		}
	}
	return 0;
}

int hz_udp_open_on(struct hz_ipstack *s, const struct hz_sockaddr *local,
		   struct hz_udp_sock **out)
{
	struct hz_udp_sock *u;
	uint16_t port = local != NULL ? local->port : 0;

	*out = NULL;
	if (port == 0)
		port = ephemeral_port(s);
	else if (port_in_use(s, port))
		return hz_errmsg_set(&s->err, -HZ_EEXIST,
				     "%s: UDP port %u is in use", s->name,
				     port);
	if (port == 0)
		return hz_errmsg_set(&s->err, -HZ_ENOSPC,
				     "%s: no free UDP port", s->name);
	u = hz_calloc(1, sizeof(*u));
	if (u == NULL)
		return hz_errmsg_set(&s->err, -HZ_ENOMEM,
				     "%s: no memory for a UDP socket", s->name);
	u->s = s;
	u->local.addr = local != NULL ? local->addr : 0;
	u->local.port = port;
	u->next = s->udp_socks;
	s->udp_socks = u;
	*out = u;
	return 0;
}

/* Builds the UDP datagram (header, checksum) around @len bytes of @buf. */
static int build_datagram(struct hz_udp_sock *u, hz_ipv4_t dst, uint16_t dport,
			  const void *buf, size_t len, struct hz_view *out)
{
	struct hz_ipstack *s = u->s;
	uint16_t ulen = (uint16_t)(len + HZ_UDP_HLEN);
	uint16_t sum;
	uint8_t *p;

	if (hz_pbuf_alloc(NULL, ulen, out) < 0) {
		hz_ipstack_tx_drop(s, &udp_tx_nomem);
		return hz_errmsg_set(&s->err, -HZ_ENOMEM,
				     "%s: no memory for a datagram", s->name);
	}
	p = hz_view_data(out);
	hz_put16(p, u->local.port);
	hz_put16(p + 2, dport);
	hz_put16(p + 4, ulen);
	hz_put16(p + 6, 0);
	if (len > 0)
		memcpy(p + HZ_UDP_HLEN, buf, len);
	sum = hz_inet_fold(hz_inet_sum(
	    p, ulen, hz_inet_pseudo_sum(s->addr, dst, HZ_IPPROTO_UDP, ulen)));
	hz_put16(p + 6, sum == 0 ? 0xffff : sum);
	return 0;
}

int hz_udp_sendto_on(struct hz_udp_sock *u, const struct hz_sockaddr *dst,
		     const void *buf, size_t len)
{
	struct hz_ipstack *s = u->s;
	struct hz_view v;
	int r;

	if (len > UDP_MAX_PAYLOAD)
		return hz_errmsg_set(&s->err, -HZ_EMSGSIZE,
				     "%s: UDP datagram of %zu bytes is too "
				     "large",
				     s->name, len);
	if (dst->port == 0)
		return hz_errmsg_set(&s->err, -HZ_EINVAL, "%s: UDP to port 0",
				     s->name);
	r = build_datagram(u, dst->addr, dst->port, buf, len, &v);
	if (r < 0)
		return r;
	return hz_ipv4_output(s, dst->addr, HZ_IPPROTO_UDP, &v);
}

int hz_udp_recvfrom_on(struct hz_udp_sock *u, struct hz_view *out,
		       struct hz_sockaddr *from, uint64_t deadline)
{
	struct udp_dgram *q;

	while (u->qcount == 0) {
		if (u->s->stopping)
			return -HZ_ECLOSED;
		if (hz_waitq_wait(&u->readers, deadline) < 0)
			return -HZ_ETIMEDOUT;
	}
	q = &u->q[u->qhead];
	*out = q->v;
	if (from != NULL)
		*from = q->from;
	q->v = (struct hz_view){0};
	u->qhead = (u->qhead + 1) % UDP_QUEUE_LEN;
	u->qcount--;
	return (int)out->len;
}

int hz_udp_recv_batch_on(struct hz_udp_sock *u, struct hz_udp_msg *msgs,
			 size_t n, uint64_t deadline)
{
	size_t got = 0;

	HZ_ASSERT(n > 0 && "an empty UDP batch");
	if (n > HZ_UDP_BATCH_MAX)
		n = HZ_UDP_BATCH_MAX;
	while (u->qcount == 0) {
		if (u->s->stopping)
			return -HZ_ECLOSED;
		if (hz_waitq_wait(&u->readers, deadline) < 0)
			return -HZ_ETIMEDOUT;
	}
	/* The datagrams are queued already: copying them out is the batch. */
	for (; got < n && u->qcount > 0; got++) {
		struct udp_dgram *q = &u->q[u->qhead];
		struct hz_udp_msg *m = &msgs[got];
		size_t len = q->v.len;

		memcpy(m->buf, hz_view_data(&q->v),
		       len < m->cap ? len : m->cap);
		m->len = len;
		m->peer = q->from;
		hz_view_release(&q->v);
		u->qhead = (u->qhead + 1) % UDP_QUEUE_LEN;
		u->qcount--;
	}
	return (int)got;
}

int hz_udp_send_batch_on(struct hz_udp_sock *u, const struct hz_udp_msg *msgs,
			 size_t n)
{
	size_t sent = 0;

	HZ_ASSERT(n > 0 && "an empty UDP batch");
	if (n > HZ_UDP_BATCH_MAX)
		n = HZ_UDP_BATCH_MAX;
	/* Each datagram is its own frame here, so a loop costs nothing. */
	for (; sent < n; sent++) {
		int r = hz_udp_sendto_on(u, &msgs[sent].peer, msgs[sent].buf,
					 msgs[sent].len);

		if (r < 0)
			return sent > 0 ? (int)sent : r;
	}
	return (int)sent;
}

void hz_udp_close_on(struct hz_udp_sock *u)
{
	struct hz_ipstack *s = u->s;
	struct hz_udp_sock **pp = &s->udp_socks;

	HZ_ASSERT(u->readers.head == NULL && "UDP socket closed while read");
	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	while (u->qcount > 0) {
		hz_view_release(&u->q[u->qhead].v);
		u->qhead = (u->qhead + 1) % UDP_QUEUE_LEN;
		u->qcount--;
	}
	hz_free(u);
}
