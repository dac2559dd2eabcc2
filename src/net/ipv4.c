/*
 * IPv4 (RFC 791, with RFC 1122's host rules): header validation, our
 * address and broadcast filtering, dispatch to the transports, and on
 * output routing (on-link or the default gateway) and fragmentation.
 * Reassembly lives in reasm.c.
 */
#include <string.h>

#include "net/ipstack_impl.h"

#define IP_FLAG_DF 0x4000
#define IP_FLAG_MF 0x2000
#define IP_OFFSET_MASK 0x1fff

HZ_COUNTER(ip_drop_short, "ipv4", "drop_short");
HZ_COUNTER(ip_drop_version, "ipv4", "drop_bad_version");
HZ_COUNTER(ip_drop_ihl, "ipv4", "drop_bad_ihl");
HZ_COUNTER(ip_drop_length, "ipv4", "drop_bad_length");
HZ_COUNTER(ip_drop_checksum, "ipv4", "drop_bad_checksum");
HZ_COUNTER(ip_drop_ttl, "ipv4", "drop_ttl_zero");
HZ_COUNTER(ip_drop_source, "ipv4", "drop_bad_source");
HZ_COUNTER(ip_drop_not_ours, "ipv4", "drop_not_ours");
HZ_COUNTER(ip_drop_proto, "ipv4", "drop_unknown_proto");
HZ_COUNTER(ip_tx_no_route, "ipv4", "tx_no_route");
HZ_COUNTER(ip_tx_nomem, "ipv4", "tx_drop_nomem");
HZ_COUNTER(ip_tx_too_big, "ipv4", "tx_too_big");
HZ_COUNTER(ip_tx_fragments, "ipv4", "tx_fragments");

/* --- input ---------------------------------------------------------------- */

static bool is_multicast(hz_ipv4_t a)
{
	return (a >> 28) == 0xe;
}

/* The directed broadcast of our subnet (never for /31 and /32). */
static bool is_subnet_broadcast(const struct hz_ipstack *s, hz_ipv4_t a)
{
	return s->configured && s->prefix_len < 31 && a == (s->addr | ~s->mask);
}

/* Checks the header; the header length or 0 (dropped, counted). */
static size_t header_check(struct hz_ipstack *s, const struct hz_view *v)
{
	const uint8_t *h = hz_view_data(v);
	size_t hlen, total;

	if (v->len < HZ_IPV4_HLEN)
		return hz_ipstack_drop(s, &ip_drop_short), 0;
	if ((h[0] >> 4) != 4)
		return hz_ipstack_drop(s, &ip_drop_version), 0;
	hlen = (size_t)(h[0] & 0xf) * 4;
	if (hlen < HZ_IPV4_HLEN || hlen > v->len)
		return hz_ipstack_drop(s, &ip_drop_ihl), 0;
	total = hz_get16(h + 2);
	if (total < hlen || total > v->len)
		return hz_ipstack_drop(s, &ip_drop_length), 0;
	if (hz_inet_fold(hz_inet_sum(h, hlen, 0)) != 0)
		return hz_ipstack_drop(s, &ip_drop_checksum), 0;
	if (h[8] == 0)
		return hz_ipstack_drop(s, &ip_drop_ttl), 0;
	return hlen;
}

/* Whether we accept a packet to @dst; sets *bcast for broadcasts. */
static bool dst_accepted(const struct hz_ipstack *s, hz_ipv4_t dst,
			 uint8_t proto, bool *bcast)
{
	*bcast = dst == HZ_IPV4_BROADCAST || is_subnet_broadcast(s, dst);
	if (*bcast)
		return true;
	if (s->configured)
		return dst == s->addr;
	/* Unconfigured, a DHCP offer may come to the address it offers. */
	return proto == HZ_IPPROTO_UDP && !is_multicast(dst);
}

void hz_ipv4_deliver(struct hz_ipstack *s, const struct ip_rx *rx,
		     struct hz_view *payload)
{
	switch (rx->meta.proto) {
	case HZ_IPPROTO_ICMP:
		hz_icmp_input(s, rx, payload);
		return;
	case HZ_IPPROTO_UDP:
		hz_udp_input(s, rx, payload);
		return;
	case HZ_IPPROTO_TCP:
		hz_ipstack_tcp_input(s, rx, payload);
		return;
	default:
		hz_ipstack_drop(s, &ip_drop_proto);
		hz_view_release(payload);
	}
}

void hz_ipv4_input(struct hz_ipstack *s, struct hz_view *pkt,
		   bool link_broadcast)
{
	struct ip_rx rx = {0};
	const uint8_t *h;
	uint16_t frag;
	bool bcast;
	size_t hlen = header_check(s, pkt);

	if (hlen == 0)
		goto release;
	h = hz_view_data(pkt);
	rx.meta.src = hz_get32(h + 12);
	rx.meta.dst = hz_get32(h + 16);
	rx.meta.proto = h[9];
	rx.meta.ttl = h[8];
	rx.meta.tos = h[1];
	if (rx.meta.src == HZ_IPV4_BROADCAST || is_multicast(rx.meta.src) ||
	    (s->configured && rx.meta.src == s->addr)) {
		hz_ipstack_drop(s, &ip_drop_source);
		goto release;
	}
	if (!dst_accepted(s, rx.meta.dst, rx.meta.proto, &bcast)) {
		hz_ipstack_drop(s, &ip_drop_not_ours);
		goto release;
	}
	rx.broadcast = bcast || link_broadcast;
	/* Drop the Ethernet padding, then the header. */
	if (hz_view_trim(pkt, hz_get16(h + 2)) < 0 ||
	    hz_view_pull(pkt, hlen) < 0) {
		hz_ipstack_drop(s, &ip_drop_length); /* checked above */
		goto release;
	}
	rx.hdr = h;
	rx.hlen = hlen;
	frag = hz_get16(h + 6);
	if ((frag & (IP_FLAG_MF | IP_OFFSET_MASK)) != 0) {
		hz_reasm_input(s, &rx, (uint32_t)(frag & IP_OFFSET_MASK) * 8,
			       (frag & IP_FLAG_MF) != 0, pkt);
		return;
	}
	hz_ipv4_deliver(s, &rx, pkt);
	return;
release:
	hz_view_release(pkt);
}

/* --- output --------------------------------------------------------------- */

/* Writes a 20-byte header in front of a packet of @len bytes. */
static void header_fill(struct hz_ipstack *s, uint8_t *h, size_t len,
			uint16_t id, uint16_t frag, uint8_t proto,
			hz_ipv4_t dst)
{
	h[0] = 0x45;
	h[1] = 0;
	hz_put16(h + 2, (uint16_t)len);
	hz_put16(h + 4, id);
	hz_put16(h + 6, frag);
	h[8] = HZ_IP_DEFAULT_TTL;
	h[9] = proto;
	hz_put16(h + 10, 0);
	hz_put32(h + 12, s->addr);
	hz_put32(h + 16, dst);
	hz_put16(h + 10, hz_inet_fold(hz_inet_sum(h, HZ_IPV4_HLEN, 0)));
}

/*
 * The next hop for @dst: *next_hop = 0 means broadcast on the link.
 * 0, or -HZ_ENOENT when there is no route.
 */
static int route(const struct hz_ipstack *s, hz_ipv4_t dst, hz_ipv4_t *next_hop)
{
	if (dst == HZ_IPV4_BROADCAST || is_subnet_broadcast(s, dst)) {
		*next_hop = 0;
		return 0;
	}
	if (!s->configured || dst == 0 || is_multicast(dst))
		return -HZ_ENOENT;
	if ((dst & s->mask) == (s->addr & s->mask)) {
		*next_hop = dst;
		return 0;
	}
	if (s->gateway == 0)
		return -HZ_ENOENT;
	*next_hop = s->gateway;
	return 0;
}

/* Sends a finished IP packet to @next_hop (0: broadcast). Consumes @pkt. */
static int link_output(struct hz_ipstack *s, hz_ipv4_t next_hop,
		       struct hz_view *pkt)
{
	if (next_hop == 0)
		return hz_eth_output(s, NULL, HZ_ETHERTYPE_IPV4, pkt);
	return hz_arp_output(s, next_hop, pkt);
}

/* Sends one unfragmented packet. Consumes @payload. */
static int output_whole(struct hz_ipstack *s, hz_ipv4_t next_hop, hz_ipv4_t dst,
			uint8_t proto, uint16_t id, struct hz_view *payload)
{
	size_t len = payload->len + HZ_IPV4_HLEN;

	if (hz_view_push(payload, HZ_IPV4_HLEN) < 0) {
		hz_view_release(payload);
		hz_ipstack_tx_drop(s, &ip_tx_nomem);
		return -HZ_ENOSPC;
	}
	header_fill(s, hz_view_data(payload), len, id, 0, proto, dst);
	return link_output(s, next_hop, payload);
}

/* Sends @payload in fragments of at most the MTU. Borrows @payload. */
static int output_fragments(struct hz_ipstack *s, hz_ipv4_t next_hop,
			    hz_ipv4_t dst, uint8_t proto, uint16_t id,
			    const struct hz_view *payload)
{
	size_t chunk = ((size_t)s->net->mtu - HZ_IPV4_HLEN) & ~(size_t)7;
	size_t off = 0;
	int r = 0;

	while (off < payload->len && r == 0) {
		size_t n =
		    payload->len - off < chunk ? payload->len - off : chunk;
		bool last = off + n == payload->len;
		uint16_t frag = (uint16_t)((off / 8) | (last ? 0 : IP_FLAG_MF));
		struct hz_view f;

		if (hz_pbuf_alloc(NULL, HZ_IPV4_HLEN + n, &f) < 0) {
			hz_ipstack_tx_drop(s, &ip_tx_nomem);
			return -HZ_ENOMEM;
		}
		header_fill(s, hz_view_data(&f), HZ_IPV4_HLEN + n, id, frag,
			    proto, dst);
		memcpy(hz_view_data(&f) + HZ_IPV4_HLEN,
		       hz_view_data(payload) + off, n);
		hz_counter_inc(&ip_tx_fragments);
		r = link_output(s, next_hop, &f);
		off += n;
	}
	return r;
}

int hz_ipv4_output(struct hz_ipstack *s, hz_ipv4_t dst, uint8_t proto,
		   struct hz_view *payload)
{
	hz_ipv4_t next_hop;
	uint16_t id = s->ip_id++;
	char a[HZ_IPV4_STRLEN];
	int r;

	if (route(s, dst, &next_hop) < 0) {
		hz_view_release(payload);
		hz_ipstack_tx_drop(s, &ip_tx_no_route);
		return hz_errmsg_set(&s->err, -HZ_ENOENT, "%s: no route to %s",
				     s->name, hz_ipv4_format(dst, a));
	}
	if (payload->len > 0xffff - HZ_IPV4_HLEN) {
		hz_view_release(payload);
		hz_ipstack_tx_drop(s, &ip_tx_too_big);
		return -HZ_EMSGSIZE;
	}
	/* A TCP packet the device segments (TSO) goes whole. */
	if (payload->len + HZ_IPV4_HLEN <= s->net->mtu ||
	    (payload->pb->gso_size > 0 &&
	     payload->len + HZ_IPV4_HLEN <= s->net->gso_max))
		return output_whole(s, next_hop, dst, proto, id, payload);
	r = output_fragments(s, next_hop, dst, proto, id, payload);
	hz_view_release(payload);
	return r;
}
