/*
 * ARP (RFC 826) for IPv4 over Ethernet: a fixed cache of entries that
 * expire, requests retried a bounded number of times (probes) while a
 * bounded queue of packets waits per unresolved address, replies to
 * requests for our address, and a gratuitous ARP (RFC 5227 announcement)
 * when an address is installed. A queue flushes on resolution and is
 * dropped, counted, when the probes run out.
 */
#include <string.h>

#include "haze/assert.h"
#include "net/ipstack_impl.h"

#define ARP_HTYPE_ETHERNET 1
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
#define ARP_LEN 28

#define DEFAULT_TTL_NS (60 * HZ_NS_PER_S)
#define DEFAULT_RETRY_NS (1 * HZ_NS_PER_S)
#define DEFAULT_PROBES 3

HZ_COUNTER(arp_drop_short, "arp", "drop_short");
HZ_COUNTER(arp_drop_format, "arp", "drop_bad_format");
HZ_COUNTER(arp_drop_op, "arp", "drop_bad_op");
HZ_COUNTER(arp_drop_source, "arp", "drop_bad_source");
HZ_COUNTER(arp_drop_not_ours, "arp", "drop_not_for_us");
HZ_COUNTER(arp_drop_pending_full, "arp", "drop_pending_full");
HZ_COUNTER(arp_drop_unresolved, "arp", "drop_unresolved");
HZ_COUNTER(arp_drop_evicted, "arp", "drop_evicted");
HZ_COUNTER(arp_drop_nomem, "arp", "drop_nomem");
HZ_COUNTER(arp_requests_sent, "arp", "requests_sent");
HZ_COUNTER(arp_replies_sent, "arp", "replies_sent");

/* The ARP packet fields we use, in host order. */
struct arp_pkt {
	uint16_t op;
	struct hz_mac sha, tha;
	hz_ipv4_t spa, tpa;
};

static uint64_t ttl_ns(const struct hz_ipstack *s)
{
	return s->cfg.arp_ttl_ns ? s->cfg.arp_ttl_ns : DEFAULT_TTL_NS;
}

static uint64_t retry_ns(const struct hz_ipstack *s)
{
	return s->cfg.arp_retry_ns ? s->cfg.arp_retry_ns : DEFAULT_RETRY_NS;
}

static unsigned max_probes(const struct hz_ipstack *s)
{
	return s->cfg.arp_probes ? s->cfg.arp_probes : DEFAULT_PROBES;
}

/* --- sending -------------------------------------------------------------- */

/* Sends one ARP packet; @tha NULL means all zeros, @dst NULL broadcast. */
static void arp_send(struct hz_ipstack *s, uint16_t op,
		     const struct hz_mac *dst, const struct hz_mac *tha,
		     hz_ipv4_t tpa)
{
	struct hz_view v;
	uint8_t *p;

	if (hz_pbuf_alloc(NULL, ARP_LEN, &v) < 0) {
		hz_ipstack_tx_drop(s, &arp_drop_nomem);
		return;
	}
	p = hz_view_data(&v);
	hz_put16(p, ARP_HTYPE_ETHERNET);
	hz_put16(p + 2, HZ_ETHERTYPE_IPV4);
	p[4] = HZ_ETH_ALEN;
	p[5] = 4;
	hz_put16(p + 6, op);
	memcpy(p + 8, s->net->mac.b, HZ_ETH_ALEN);
	hz_put32(p + 14, s->addr);
	if (tha != NULL)
		memcpy(p + 18, tha->b, HZ_ETH_ALEN);
	else
		memset(p + 18, 0, HZ_ETH_ALEN);
	hz_put32(p + 24, tpa);
	if (hz_eth_output(s, dst, HZ_ETHERTYPE_ARP, &v) < 0)
		return;
	hz_counter_inc(op == ARP_OP_REQUEST ? &arp_requests_sent
					    : &arp_replies_sent);
}

void hz_arp_announce(struct hz_ipstack *s)
{
	if (s->addr != 0)
		arp_send(s, ARP_OP_REQUEST, NULL, NULL, s->addr);
}

/* --- the cache ------------------------------------------------------------ */

static struct arp_entry *entry_find(struct hz_ipstack *s, hz_ipv4_t ip)
{
	for (size_t i = 0; i < ARP_CACHE_SIZE; i++)
		if (s->arp[i].state != ARP_FREE && s->arp[i].ip == ip)
			return &s->arp[i];
	return NULL;
}

/* Drops an entry's queued packets, counting each on @c. */
static void entry_drop_pending(struct arp_entry *e, struct hz_counter *c)
{
	for (unsigned i = 0; i < e->npending; i++) {
		hz_view_release(&e->pending[i]);
		hz_ipstack_tx_drop(e->s, c);
	}
	e->npending = 0;
}

static void entry_free(struct arp_entry *e, struct hz_counter *why)
{
	hz_timer_cancel(&e->timer);
	entry_drop_pending(e, why);
	e->state = ARP_FREE;
}

/* Picks a free entry, evicting the one closest to expiry if none is. */
static struct arp_entry *entry_take(struct hz_ipstack *s)
{
	struct arp_entry *victim = NULL;

	for (size_t i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &s->arp[i];

		if (e->state == ARP_FREE)
			return e;
		if (victim == NULL ||
		    e->timer.deadline < victim->timer.deadline)
			victim = e;
	}
	entry_free(victim, &arp_drop_evicted);
	return victim;
}

static void entry_timeout(struct hz_timer *t)
{
	struct arp_entry *e =
	    (struct arp_entry *)((char *)t - offsetof(struct arp_entry, timer));
	struct hz_ipstack *s = e->s;

	if (e->state == ARP_RESOLVED) {
		entry_free(e, &arp_drop_evicted);
		return;
	}
	if (e->probes >= max_probes(s)) {
		entry_free(e, &arp_drop_unresolved);
		return;
	}
	e->probes++;
	arp_send(s, ARP_OP_REQUEST, NULL, NULL, e->ip);
	hz_timer_arm(&e->timer, hz_now() + retry_ns(s));
}

/* Sends the packets that waited for @e's address. */
static void entry_flush(struct arp_entry *e)
{
	unsigned n = e->npending;

	e->npending = 0;
	for (unsigned i = 0; i < n; i++)
		if (hz_eth_output(e->s, &e->mac, HZ_ETHERTYPE_IPV4,
				  &e->pending[i]) < 0)
			continue;
}

/* Records @ip at @mac, resolving a waiting entry or refreshing one. */
static void entry_update(struct arp_entry *e, const struct hz_mac *mac)
{
	e->mac = *mac;
	e->state = ARP_RESOLVED;
	e->refreshing = false;
	e->expires = hz_now() + ttl_ns(e->s);
	hz_timer_arm(&e->timer, e->expires);
	entry_flush(e);
}

static void entry_create(struct hz_ipstack *s, hz_ipv4_t ip,
			 const struct hz_mac *mac)
{
	struct arp_entry *e = entry_take(s);

	e->s = s;
	e->ip = ip;
	e->probes = 0;
	e->npending = 0;
	hz_timer_init(&e->timer, entry_timeout);
	entry_update(e, mac);
}

int hz_arp_lookup(const struct hz_ipstack *s, hz_ipv4_t ip, struct hz_mac *mac)
{
	for (size_t i = 0; i < ARP_CACHE_SIZE; i++) {
		const struct arp_entry *e = &s->arp[i];

		if (e->state == ARP_RESOLVED && e->ip == ip) {
			*mac = e->mac;
			return 0;
		}
	}
	return -HZ_ENOENT;
}

void hz_arp_flush(struct hz_ipstack *s)
{
	for (size_t i = 0; i < ARP_CACHE_SIZE; i++)
		if (s->arp[i].state != ARP_FREE)
			entry_free(&s->arp[i], &arp_drop_evicted);
}

/* --- input ---------------------------------------------------------------- */

/* Parses and checks the fixed part; false (counted) if unusable. */
static bool arp_parse(struct hz_ipstack *s, const struct hz_view *v,
		      struct arp_pkt *a)
{
	const uint8_t *p = hz_view_data(v);

	if (v->len < ARP_LEN) {
		hz_ipstack_drop(s, &arp_drop_short);
		return false;
	}
	if (hz_get16(p) != ARP_HTYPE_ETHERNET ||
	    hz_get16(p + 2) != HZ_ETHERTYPE_IPV4 || p[4] != HZ_ETH_ALEN ||
	    p[5] != 4) {
		hz_ipstack_drop(s, &arp_drop_format);
		return false;
	}
	a->op = hz_get16(p + 6);
	memcpy(a->sha.b, p + 8, HZ_ETH_ALEN);
	a->spa = hz_get32(p + 14);
	memcpy(a->tha.b, p + 18, HZ_ETH_ALEN);
	a->tpa = hz_get32(p + 24);
	if (a->op != ARP_OP_REQUEST && a->op != ARP_OP_REPLY) {
		hz_ipstack_drop(s, &arp_drop_op);
		return false;
	}
	/* A broadcast or multicast sender would poison the cache. */
	if ((a->sha.b[0] & 1) || a->spa == HZ_IPV4_BROADCAST ||
	    (a->spa >> 28) == 0xe) {
		hz_ipstack_drop(s, &arp_drop_source);
		return false;
	}
	return true;
}

/* RFC 826's reception algorithm, after the packet was checked. */
static void arp_process(struct hz_ipstack *s, const struct arp_pkt *a)
{
	struct arp_entry *e = a->spa != 0 ? entry_find(s, a->spa) : NULL;
	bool merged = false;

	if (e != NULL) {
		entry_update(e, &a->sha);
		merged = true;
	}
	if (s->addr == 0 || a->tpa != s->addr) {
		if (!merged)
			hz_ipstack_drop(s, &arp_drop_not_ours);
		return;
	}
	if (!merged && a->spa != 0)
		entry_create(s, a->spa, &a->sha);
	if (a->op == ARP_OP_REQUEST) {
		/* Answer directly; a probe (sender 0.0.0.0) too (RFC 5227). */
		arp_send(s, ARP_OP_REPLY, &a->sha, &a->sha, a->spa);
	}
}

void hz_arp_input(struct hz_ipstack *s, struct hz_view *pkt)
{
	struct arp_pkt a;

	if (arp_parse(s, pkt, &a))
		arp_process(s, &a);
	hz_view_release(pkt);
}

/* --- output --------------------------------------------------------------- */

/* Starts resolving @ip with @pkt as the first packet waiting. */
static void resolve_start(struct hz_ipstack *s, hz_ipv4_t ip,
			  struct hz_view *pkt)
{
	struct arp_entry *e = entry_take(s);

	e->s = s;
	e->ip = ip;
	e->state = ARP_INCOMPLETE;
	e->probes = 1;
	e->pending[0] = *pkt;
	e->npending = 1;
	*pkt = (struct hz_view){0};
	hz_timer_init(&e->timer, entry_timeout);
	hz_timer_arm(&e->timer, hz_now() + retry_ns(s));
	arp_send(s, ARP_OP_REQUEST, NULL, NULL, ip);
}

/*
 * An entry in use in the last quarter of its life is confirmed with a
 * unicast request (RFC 1122 2.3.2.1), so a busy flow never sees it
 * expire and its packets queue.
 */
static void refresh_if_old(struct arp_entry *e)
{
	uint64_t quarter = ttl_ns(e->s) / 4;

	if (e->refreshing || hz_now() + quarter < e->expires)
		return;
	e->refreshing = true;
	arp_send(e->s, ARP_OP_REQUEST, &e->mac, &e->mac, e->ip);
}

int hz_arp_output(struct hz_ipstack *s, hz_ipv4_t next_hop, struct hz_view *pkt)
{
	struct arp_entry *e = entry_find(s, next_hop);

	if (e == NULL) {
		resolve_start(s, next_hop, pkt);
		return 0;
	}
	if (e->state == ARP_RESOLVED) {
		refresh_if_old(e);
		return hz_eth_output(s, &e->mac, HZ_ETHERTYPE_IPV4, pkt);
	}
	if (e->npending == ARP_PENDING_MAX) {
		hz_view_release(pkt);
		hz_ipstack_tx_drop(s, &arp_drop_pending_full);
		return -HZ_ENOSPC;
	}
	e->pending[e->npending++] = *pkt;
	*pkt = (struct hz_view){0};
	return 0;
}
