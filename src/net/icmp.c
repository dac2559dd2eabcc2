/*
 * ICMP (RFC 792, RFC 1122 3.2.2): we answer echo requests, match echo
 * replies to hz_ipstack_ping, count destination-unreachable messages, and
 * ignore the rest. We send port unreachable for UDP to a closed port,
 * never about a broadcast, rate-limited as RFC 1812 4.3.2.8 suggests.
 */
#include <string.h>

#include "net/ipstack_impl.h"

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8
#define ICMP_HLEN 8

HZ_COUNTER(icmp_drop_short, "icmp", "drop_short");
HZ_COUNTER(icmp_drop_checksum, "icmp", "drop_bad_checksum");
HZ_COUNTER(icmp_drop_bcast_echo, "icmp", "drop_broadcast_echo");
HZ_COUNTER(icmp_drop_unmatched, "icmp", "drop_unmatched_reply");
HZ_COUNTER(icmp_drop_type, "icmp", "drop_ignored_type");
HZ_COUNTER(icmp_rx_unreach, "icmp", "rx_dest_unreachable");
HZ_COUNTER(icmp_tx_nomem, "icmp", "tx_drop_nomem");
HZ_COUNTER(icmp_tx_limited, "icmp", "tx_rate_limited");
HZ_COUNTER(icmp_tx_echo_replies, "icmp", "tx_echo_replies");
HZ_COUNTER(icmp_tx_unreach, "icmp", "tx_dest_unreachable");

/* Fills in the checksum of the ICMP message in @v. */
static void icmp_checksum(struct hz_view *v)
{
	uint8_t *p = hz_view_data(v);

	hz_put16(p + 2, 0);
	hz_put16(p + 2, hz_inet_fold(hz_inet_sum(p, v->len, 0)));
}

/* Sends a copy of @req with type echo reply back to its sender. */
static void echo_reply(struct hz_ipstack *s, const struct ip_rx *rx,
		       const struct hz_view *req)
{
	struct hz_view v;

	if (rx->broadcast) {
		/* RFC 1122 allows silence; it also stops smurf floods. */
		hz_ipstack_drop(s, &icmp_drop_bcast_echo);
		return;
	}
	if (hz_pbuf_alloc(NULL, req->len, &v) < 0) {
		hz_ipstack_tx_drop(s, &icmp_tx_nomem);
		return;
	}
	memcpy(hz_view_data(&v), hz_view_data(req), req->len);
	hz_view_data(&v)[0] = ICMP_ECHO_REPLY;
	hz_view_data(&v)[1] = 0;
	icmp_checksum(&v);
	if (hz_ipv4_output(s, rx->meta.src, HZ_IPPROTO_ICMP, &v) == 0)
		hz_counter_inc(&icmp_tx_echo_replies);
}

/* Wakes the hz_ipstack_ping waiting for this reply, if any. */
static void echo_matched(struct hz_ipstack *s, const struct hz_view *msg)
{
	const uint8_t *p = hz_view_data(msg);
	uint16_t id = hz_get16(p + 4), seq = hz_get16(p + 6);

	for (struct ping_wait *w = s->pings; w != NULL; w = w->next) {
		if (w->id == id && w->seq == seq && !w->answered) {
			w->answered = true;
			hz_waitq_wake_all(&w->wq);
			return;
		}
	}
	hz_ipstack_drop(s, &icmp_drop_unmatched);
}

void hz_icmp_input(struct hz_ipstack *s, const struct ip_rx *rx,
		   struct hz_view *msg)
{
	if (msg->len < ICMP_HLEN) {
		hz_ipstack_drop(s, &icmp_drop_short);
		goto release;
	}
	if (hz_inet_fold(hz_inet_sum(hz_view_data(msg), msg->len, 0)) != 0) {
		hz_ipstack_drop(s, &icmp_drop_checksum);
		goto release;
	}
	switch (hz_view_data(msg)[0]) {
	case ICMP_ECHO_REQUEST:
		echo_reply(s, rx, msg);
		break;
	case ICMP_ECHO_REPLY:
		echo_matched(s, msg);
		break;
	case ICMP_DEST_UNREACH:
		hz_counter_inc(&icmp_rx_unreach);
		break;
	default:
		hz_ipstack_drop(s, &icmp_drop_type);
	}
release:
	hz_view_release(msg);
}

/* Whether the rate limit lets one more error out now (a GCRA bucket). */
static bool rate_allows(struct hz_ipstack *s)
{
	uint64_t now = hz_now();
	uint64_t slack = (uint64_t)(ICMP_BURST - 1) * ICMP_INTERVAL_NS;
	uint64_t tat = s->icmp_tokens_at > now ? s->icmp_tokens_at : now;

	if (tat - now > slack)
		return false;
	s->icmp_tokens_at = tat + ICMP_INTERVAL_NS;
	return true;
}

void hz_icmp_unreachable(struct hz_ipstack *s, const struct ip_rx *rx,
			 const struct hz_view *l4, uint8_t code)
{
	size_t quote = l4->len < 8 ? l4->len : 8;
	struct hz_view v;
	uint8_t *p;

	if (rx->broadcast || rx->meta.src == 0 || !s->configured)
		return;
	if (!rate_allows(s)) {
		hz_counter_inc(&icmp_tx_limited);
		return;
	}
	if (hz_pbuf_alloc(NULL, ICMP_HLEN + rx->hlen + quote, &v) < 0) {
		hz_ipstack_tx_drop(s, &icmp_tx_nomem);
		return;
	}
	p = hz_view_data(&v);
	memset(p, 0, ICMP_HLEN);
	p[0] = ICMP_DEST_UNREACH;
	p[1] = code;
	memcpy(p + ICMP_HLEN, rx->hdr, rx->hlen);
	memcpy(p + ICMP_HLEN + rx->hlen, hz_view_data(l4), quote);
	icmp_checksum(&v);
	if (hz_ipv4_output(s, rx->meta.src, HZ_IPPROTO_ICMP, &v) == 0)
		hz_counter_inc(&icmp_tx_unreach);
}

/* Sends echo request @w->id/@w->seq with @len bytes of payload. */
static int echo_send(struct hz_ipstack *s, hz_ipv4_t dst,
		     const struct ping_wait *w, size_t len)
{
	struct hz_view v;
	uint8_t *p;

	if (len > 0xffff - HZ_IPV4_HLEN - ICMP_HLEN)
		return hz_errmsg_set(&s->err, -HZ_EMSGSIZE,
				     "%s: ping of %zu bytes is too large",
				     s->name, len);
	if (hz_pbuf_alloc(NULL, ICMP_HLEN + len, &v) < 0)
		return hz_errmsg_set(&s->err, -HZ_ENOMEM,
				     "%s: no memory for a ping", s->name);
	p = hz_view_data(&v);
	p[0] = ICMP_ECHO_REQUEST;
	p[1] = 0;
	hz_put16(p + 4, w->id);
	hz_put16(p + 6, w->seq);
	for (size_t i = 0; i < len; i++)
		p[ICMP_HLEN + i] = (uint8_t)i;
	icmp_checksum(&v);
	return hz_ipv4_output(s, dst, HZ_IPPROTO_ICMP, &v);
}

static void ping_unlink(struct hz_ipstack *s, struct ping_wait *w)
{
	struct ping_wait **pp = &s->pings;

	while (*pp != w)
		pp = &(*pp)->next;
	*pp = w->next;
}

int hz_ipstack_ping(struct hz_ipstack *s, hz_ipv4_t dst, size_t len,
		    uint64_t deadline)
{
	struct ping_wait w = {0};
	char a[HZ_IPV4_STRLEN];
	int r;

	w.id = s->ping_id;
	w.seq = (uint16_t)hz_ipstack_random(s);
	s->ping_id++;
	w.next = s->pings;
	s->pings = &w;
	r = echo_send(s, dst, &w, len);
	while (r == 0 && !w.answered)
		r = hz_waitq_wait(&w.wq, deadline);
	ping_unlink(s, &w);
	if (r == -HZ_ETIMEDOUT)
		return hz_errmsg_set(&s->err, r, "%s: no echo reply from %s",
				     s->name, hz_ipv4_format(dst, a));
	return r;
}
