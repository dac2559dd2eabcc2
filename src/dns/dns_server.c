/*
 * The answer path of the authoritative DNS server (haze/dns_server.h):
 * one query in, one response out, in the caller's buffer. The query is
 * parsed with every length checked; the response is built forwards with a
 * small table of names already written, for compression, and when a
 * record does not fit the UDP size the answer is cut back to the question
 * with TC set (RFC 2181 9). The rate limiter and the TCP framing helpers
 * are here too. Why it answers as it does: docs/dns.md.
 */
#include <string.h>

#include "dns_server_impl.h"
#include "haze/log.h"
#include "haze/wire.h"

#define HLEN 12
#define FLAG_QR 0x8000u
#define FLAG_AA 0x0400u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define OPT_LEN 11
#define EDNS_DO 0x8000u
#define TYPE_IXFR 251
#define TYPE_AXFR 252
#define TYPE_MAILB 253
#define TYPE_MAILA 254
/* Names the compression table remembers; later ones are written whole. */
#define PTRS_MAX 64
/* Pointers followed comparing one name already in the response. */
#define HOPS_MAX 32

HZ_COUNTER(c_short, "dns_server", "drop_short");
HZ_COUNTER(c_response, "dns_server", "drop_not_query");
HZ_COUNTER(c_formerr, "dns_server", "formerr");
HZ_COUNTER(c_badvers, "dns_server", "badvers");
HZ_COUNTER(c_notimp, "dns_server", "notimp");
HZ_COUNTER(c_xfr, "dns_server", "notimp_xfr");
HZ_COUNTER(c_class, "dns_server", "refused_class");
HZ_COUNTER(c_zone, "dns_server", "refused_out_of_zone");
HZ_COUNTER(c_tc, "dns_server", "truncated");
HZ_COUNTER(c_chain, "dns_server", "cname_chain_cut");
HZ_COUNTER(c_rrl_drop, "dns_server", "rrl_drop");
HZ_COUNTER(c_rrl_slip, "dns_server", "rrl_slip");
HZ_COUNTER(c_rrl_evict, "dns_server", "rrl_evict");

/* --- the query ------------------------------------------------------------ */

struct query {
	uint16_t id, flags;
	const uint8_t *qname; /* in the query, case kept */
	size_t qname_len;
	uint8_t low[HZ_DNS_NAME_MAX]; /* qname in lower case */
	uint16_t qtype, qclass;
	size_t qend; /* end of the question */
	bool edns;
	uint16_t udp_size;
	uint8_t version;
	bool dnssec_ok;
};

/* Skips a possibly compressed name at *off; false if it runs off @len. */
static bool skip_name(const uint8_t *m, size_t len, size_t *off)
{
	size_t total = 0;

	for (;;) {
		if (*off >= len)
			return false;
		uint8_t l = m[*off];

		if ((l & 0xc0) == 0xc0) {
			*off += 2;
			return *off <= len;
		}
		if (l & 0xc0)
			return false;
		*off += 1 + (size_t)l;
		total += 1 + (size_t)l;
		if (total > HZ_DNS_NAME_MAX)
			return false;
		if (l == 0)
			return true;
	}
}

/* Parses the question; false if it is malformed (FORMERR). */
static bool parse_question(const uint8_t *m, size_t len, struct query *q)
{
	size_t off = HLEN;

	for (;;) {
		if (off >= len)
			return false;
		uint8_t l = m[off];

		/* A query's one name has nothing to point back to. */
		if (l & 0xc0)
			return false;
		if (off - HLEN + 1 + l > HZ_DNS_NAME_MAX)
			return false;
		off += 1 + (size_t)l;
		if (l == 0)
			break;
	}
	if (off + 4 > len)
		return false;
	q->qname = m + HLEN;
	q->qname_len = off - HLEN;
	hz_dns_name_lower(q->qname, q->qname_len, q->low);
	q->qtype = hz_get16(m + off);
	q->qclass = hz_get16(m + off + 2);
	q->qend = off + 4;
	return true;
}

/* Whether an OPT's RDATA (@len bytes) is whole options, none running
 * past it (RFC 6891, 6.1.2: code, length, then that many bytes). */
static bool options_fit(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < 4 || hz_get16(p + off + 2) > len - off - 4)
			return false;
		off += 4 + hz_get16(p + off + 2);
	}
	return true;
}

/* Walks the other sections for an OPT; false if malformed (FORMERR). */
static bool parse_rest(const uint8_t *m, size_t len, struct query *q)
{
	size_t n = (size_t)hz_get16(m + 6) + hz_get16(m + 8) + hz_get16(m + 10);
	size_t off = q->qend, ar_first = n - hz_get16(m + 10);

	for (size_t i = 0; i < n; i++) {
		size_t name = off;
		uint16_t type, rdlen;

		if (!skip_name(m, len, &off) || off + 10 > len)
			return false;
		type = hz_get16(m + off);
		rdlen = hz_get16(m + off + 8);
		if (type == HZ_DNS_TYPE_OPT) {
			/* One OPT, owned by the root, additional only. */
			if (q->edns || i < ar_first || m[name] != 0)
				return false;
			q->edns = true;
			q->udp_size = hz_get16(m + off + 2);
			q->version = m[off + 5];
			q->dnssec_ok = hz_get16(m + off + 6) & EDNS_DO;
		}
		off += 10;
		if (off + rdlen > len)
			return false;
		if (type == HZ_DNS_TYPE_OPT && !options_fit(m + off, rdlen))
			return false;
		off += rdlen;
	}
	return true;
}

/* --- the response --------------------------------------------------------- */

struct resp {
	uint8_t *b;
	size_t cap; /* room for records; the OPT is reserved beyond it */
	size_t n;
	bool full;
	uint16_t ptr[PTRS_MAX];
	size_t nptr;
	uint16_t counts[3]; /* answer, authority, additional */
	unsigned rcode;	    /* as finish set it: 12 bits, with EDNS's */
	bool aa;
};

/* Whether the name at @off of the response equals @name (any case). */
static bool name_at_eq(const struct resp *r, size_t off, const uint8_t *name)
{
	size_t j = 0;
	unsigned hops = 0;

	for (;;) {
		/* Targets are whole names already written; checked anyway. */
		if (off >= r->n)
			return false;
		uint8_t l = r->b[off];

		if ((l & 0xc0) == 0xc0) {
			if (++hops > HOPS_MAX || off + 1 >= r->n)
				return false;
			off = (size_t)(l & 0x3f) << 8 | r->b[off + 1];
			continue;
		}
		if (off + 1 + l > r->n)
			return false;
		if (l != name[j])
			return false;
		if (l == 0)
			return true;
		for (size_t k = 1; k <= l; k++)
			if (hz_dns_lower(r->b[off + k]) !=
			    hz_dns_lower(name[j + k]))
				return false;
		off += 1 + (size_t)l;
		j += 1 + (size_t)l;
	}
}

static bool room(struct resp *r, size_t n)
{
	if (r->full || r->n + n > r->cap) {
		r->full = true;
		return false;
	}
	return true;
}

/*
 * Writes @name, pointing to an earlier copy of its longest suffix. The
 * labels written become pointer targets only once the name is whole: a
 * target must never lead into a name still being written.
 */
static void put_name(struct resp *r, const uint8_t *name, bool compress)
{
	uint16_t fresh[HZ_DNS_NAME_MAX / 2];
	size_t i = 0, nfresh = 0;

	while (!r->full) {
		if (name[i] == 0) {
			if (room(r, 1))
				r->b[r->n++] = 0;
			break;
		}
		size_t k;

		for (k = 0; compress && k < r->nptr; k++)
			if (name_at_eq(r, r->ptr[k], name + i))
				break;
		if (compress && k < r->nptr) {
			if (room(r, 2)) {
				hz_put16(r->b + r->n,
					 (uint16_t)(0xc000u | r->ptr[k]));
				r->n += 2;
			}
			break;
		}
		if (!room(r, 1 + (size_t)name[i]))
			return;
		if (r->n < 0x3fff)
			fresh[nfresh++] = (uint16_t)r->n;
		memcpy(r->b + r->n, name + i, 1 + (size_t)name[i]);
		r->n += 1 + (size_t)name[i];
		i += 1 + (size_t)name[i];
	}
	for (size_t k = 0; !r->full && k < nfresh && r->nptr < PTRS_MAX; k++)
		r->ptr[r->nptr++] = fresh[k];
}

static void put_bytes(struct resp *r, const void *p, size_t n)
{
	if (room(r, n)) {
		memcpy(r->b + r->n, p, n);
		r->n += n;
	}
}

static size_t name_len(const uint8_t *name)
{
	size_t i = 0;

	while (name[i] != 0)
		i += 1 + (size_t)name[i];
	return i + 1;
}

/* Writes one record of section @sec; the RDATA's names compressed. */
static void put_rr(struct resp *r, int sec, const uint8_t *owner, uint16_t type,
		   uint32_t ttl, const uint8_t *rd, uint16_t rdlen)
{
	uint8_t fixed[10];
	size_t at;

	put_name(r, owner, true);
	hz_put16(fixed, type);
	hz_put16(fixed + 2, HZ_DNS_CLASS_IN);
	hz_put32(fixed + 4, ttl);
	hz_put16(fixed + 8, 0);
	put_bytes(r, fixed, sizeof(fixed));
	at = r->n;
	switch (type) {
	case HZ_DNS_TYPE_NS:
	case HZ_DNS_TYPE_CNAME:
	case HZ_DNS_TYPE_PTR:
		put_name(r, rd, true);
		break;
	case HZ_DNS_TYPE_MX:
		put_bytes(r, rd, 2);
		put_name(r, rd + 2, true);
		break;
	case HZ_DNS_TYPE_SOA: {
		size_t m = name_len(rd);

		put_name(r, rd, true);
		put_name(r, rd + m, true);
		put_bytes(r, rd + m + name_len(rd + m), 20);
		break;
	}
	case HZ_DNS_TYPE_SRV:
		/* RFC 2782: the target is never compressed. */
		put_bytes(r, rd, rdlen);
		break;
	default:
		put_bytes(r, rd, rdlen);
		break;
	}
	if (r->full)
		return;
	hz_put16(r->b + at - 2, (uint16_t)(r->n - at));
	r->counts[sec]++;
}

static void put_zone_rr(struct resp *r, const struct hz_dns_zone *z, int sec,
			const uint8_t *owner, const struct hz_dns_rr *rr,
			uint32_t ttl)
{
	put_rr(r, sec, owner, rr->type, ttl, hz_dns_zone_at(z, rr->rdata),
	       rr->rdlen);
}

/* --- the answer ----------------------------------------------------------- */

static void put_soa(struct resp *r, const struct hz_dns_zone *z)
{
	const struct hz_dns_rr *soa = &hz_dns_zone_rrs(z)[z->soa];

	put_zone_rr(r, z, 1, z->apex, soa, z->neg_ttl);
}

/*
 * Whether records are owned by @name (lower case); *cname set to its
 * CNAME, if any.
 */
static bool owned(const struct hz_dns_zone *z, const uint8_t *name, size_t len,
		  const struct hz_dns_rr **cname)
{
	const struct hz_dns_rr *rr = hz_dns_zone_owner(z, name, len);

	for (const struct hz_dns_rr *i = rr; i != NULL;
	     i = hz_dns_rr_next(z, i))
		if (i->type == HZ_DNS_TYPE_CNAME && cname != NULL)
			*cname = i;
	return rr != NULL;
}

/*
 * The wildcard that answers for @name, which does not exist (RFC 4592
 * 3.3.1): "*." and @name's closest encloser, its longest ancestor that
 * exists, if records own that. Its length in @wild, or 0.
 */
static size_t wildcard(const struct hz_dns_zone *z, const uint8_t *name,
		       size_t len, uint8_t *wild)
{
	/* The apex exists, so the walk ends there at the latest. */
	for (size_t off = 1 + (size_t)name[0]; name[off] != 0;
	     off += 1 + (size_t)name[off]) {
		const uint8_t *up = name + off;
		size_t n = len - off;

		if (!owned(z, up, n, NULL) && !hz_dns_zone_below(z, up, n))
			continue;
		if (2 + n > HZ_DNS_NAME_MAX)
			return 0;
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, up, n);
		return owned(z, wild, 2 + n, NULL) ? 2 + n : 0;
	}
	return 0;
}

/*
 * The answer for @q from the zone, CNAMEs and wildcards followed: writes
 * the records and returns the RCODE. @look is the name whose records
 * answer, @owner the name they are written under (they differ for a
 * wildcard).
 */
static unsigned answer(struct resp *r, const struct hz_dns_zone *z,
		       const struct query *q)
{
	const struct hz_dns_rr *rr = hz_dns_zone_rrs(z);
	uint8_t cur[HZ_DNS_NAME_MAX], wild[HZ_DNS_NAME_MAX];
	const uint8_t *owner = q->qname; /* as written: the query's case */
	size_t len = q->qname_len;

	memcpy(cur, q->low, len);
	for (unsigned chain = 0;; chain++) {
		const struct hz_dns_rr *cname = NULL;
		const uint8_t *look = cur;
		size_t look_len = len;
		bool found = false;

		if (!owned(z, cur, len, &cname)) {
			if (hz_dns_zone_below(z, cur, len)) {
				put_soa(r, z);
				return HZ_DNS_NOERROR;
			}
			look_len = wildcard(z, cur, len, wild);
			if (look_len == 0) {
				put_soa(r, z);
				return HZ_DNS_NXDOMAIN;
			}
			look = wild;
			owned(z, look, look_len, &cname);
		}
		if (cname != NULL && q->qtype != HZ_DNS_TYPE_CNAME) {
			const uint8_t *target = hz_dns_zone_at(z, cname->rdata);

			put_zone_rr(r, z, 0, owner, cname, cname->ttl);
			if (chain + 1 >= HZ_DNS_SERVER_CNAME_MAX) {
				hz_counter_inc(&c_chain);
				return HZ_DNS_NOERROR;
			}
			/* Out of the zone, the client follows it itself. */
			if (!hz_dns_name_under(target, cname->rdlen, z->apex,
					       z->apex_len))
				return HZ_DNS_NOERROR;
			len = cname->rdlen;
			hz_dns_name_lower(target, len, cur);
			owner = target;
			continue;
		}
		if (q->qtype == HZ_DNS_TYPE_ANY) {
			/* RFC 8482 4.2: one synthesized HINFO, not the lot. */
			static const uint8_t hinfo[] = {7,   'R', 'F', 'C', '8',
							'4', '8', '2', 0};

			put_rr(r, 0, owner, HZ_DNS_TYPE_HINFO, rr[z->soa].ttl,
			       hinfo, sizeof(hinfo));
			return HZ_DNS_NOERROR;
		}
		for (const struct hz_dns_rr *i =
			 hz_dns_zone_owner(z, look, look_len);
		     i != NULL; i = hz_dns_rr_next(z, i)) {
			if (i->type != q->qtype)
				continue;
			put_zone_rr(r, z, 0, owner, i, i->ttl);
			found = true;
		}
		if (!found)
			put_soa(r, z);
		return HZ_DNS_NOERROR;
	}
}

/* --- the whole message ---------------------------------------------------- */

/* Writes the header, the question if @with_q, and sets up @r after it. */
static void start(struct resp *r, const uint8_t *m, const struct query *q,
		  bool with_q)
{
	uint16_t flags =
	    (uint16_t)(FLAG_QR | (q->flags & 0x7800u) | (q->flags & FLAG_RD));

	hz_put16(r->b, q->id);
	hz_put16(r->b + 2, flags);
	memset(r->b + 4, 0, 8);
	r->n = HLEN;
	r->nptr = 0;
	r->full = false;
	memset(r->counts, 0, sizeof(r->counts));
	if (with_q) {
		memcpy(r->b + HLEN, m + HLEN, q->qend - HLEN);
		r->n = q->qend;
		hz_put16(r->b + 4, 1);
		/* Every suffix of the question can be pointed to. */
		for (size_t i = HLEN; r->b[i] != 0 && r->nptr < PTRS_MAX;
		     i += 1 + (size_t)r->b[i])
			r->ptr[r->nptr++] = (uint16_t)i;
	}
}

/* Sets RCODE and counts, then the OPT; returns the length. */
static size_t finish(struct resp *r, const struct query *q, unsigned rcode,
		     bool aa)
{
	uint16_t flags = hz_get16(r->b + 2);

	r->rcode = rcode;
	r->aa = aa;
	flags = (uint16_t)((flags & ~0x000fu) | (rcode & 0xf));
	if (aa)
		flags |= FLAG_AA;
	hz_put16(r->b + 2, flags);
	hz_put16(r->b + 6, r->counts[0]);
	hz_put16(r->b + 8, r->counts[1]);
	if (q->edns) {
		uint8_t *o = r->b + r->n;

		/* The room was kept: r->cap is OPT_LEN short of the buffer. */
		o[0] = 0;
		hz_put16(o + 1, HZ_DNS_TYPE_OPT);
		hz_put16(o + 3, HZ_DNS_EDNS_UDP_MAX);
		o[5] = (uint8_t)(rcode >> 4);
		o[6] = 0;
		hz_put16(o + 7, q->dnssec_ok ? EDNS_DO : 0);
		hz_put16(o + 9, 0);
		r->n += OPT_LEN;
		r->counts[2]++;
	}
	hz_put16(r->b + 10, r->counts[2]);
	return r->n;
}

/* Cuts @r back to its question, TC set: what did not fit is for TCP. */
static size_t truncated(struct resp *r, const uint8_t *m, const struct query *q,
			unsigned rcode, bool aa)
{
	start(r, m, q, true);
	hz_put16(r->b + 2, (uint16_t)(hz_get16(r->b + 2) | FLAG_TC));
	return finish(r, q, rcode, aa);
}

/* The response to a well-formed question; its length. */
static size_t respond(const struct hz_dns_server *s, const uint8_t *m,
		      bool rest_ok, struct query *q, struct resp *r)
{
	const struct hz_dns_zone *z = s->zone;
	unsigned rcode;

	if (!rest_ok) {
		hz_counter_inc(&c_formerr);
		q->edns = false;
		start(r, m, q, true);
		return finish(r, q, HZ_DNS_FORMERR, false);
	}
	if (q->edns)
		r->cap -= OPT_LEN;
	start(r, m, q, true);
	if (q->edns && q->version != 0) {
		hz_counter_inc(&c_badvers);
		return finish(r, q, HZ_DNS_BADVERS, false);
	}
	if ((q->flags >> 11 & 0xf) != 0) {
		hz_counter_inc(&c_notimp);
		return finish(r, q, HZ_DNS_NOTIMP, false);
	}
	if (q->qtype == HZ_DNS_TYPE_OPT) {
		hz_counter_inc(&c_formerr);
		return finish(r, q, HZ_DNS_FORMERR, false);
	}
	if (q->qclass != HZ_DNS_CLASS_IN) {
		hz_counter_inc(&c_class);
		return finish(r, q, HZ_DNS_REFUSED, false);
	}
	if (z == NULL || z->nrr == 0 ||
	    !hz_dns_name_under(q->low, q->qname_len, z->apex, z->apex_len)) {
		hz_counter_inc(&c_zone);
		return finish(r, q, HZ_DNS_REFUSED, false);
	}
	if (q->qtype >= TYPE_IXFR && q->qtype <= TYPE_MAILA) {
		hz_counter_inc(&c_xfr);
		return finish(r, q, HZ_DNS_NOTIMP, false);
	}
	rcode = answer(r, z, q);
	if (r->full) {
		hz_counter_inc(&c_tc);
		return truncated(r, m, q, rcode, true);
	}
	return finish(r, q, rcode, true);
}

int hz_dns_server_answer(const struct hz_dns_server *s, const uint8_t *query,
			 size_t qlen, hz_ipv4_t src, enum hz_dns_transport tr,
			 uint64_t now, uint8_t *out, size_t cap)
{
	struct query q;
	struct resp r;
	size_t n, limit;

	if (cap < HZ_DNS_UDP_MAX)
		return -HZ_EINVAL;
	if (qlen < HLEN) {
		hz_counter_inc(&c_short);
		return 0;
	}
	memset(&q, 0, sizeof(q));
	q.id = hz_get16(query);
	q.flags = hz_get16(query + 2);
	if (q.flags & FLAG_QR) {
		hz_counter_inc(&c_response);
		return 0;
	}
	r.b = out;
	limit = tr == HZ_DNS_TCP ? 65535 : HZ_DNS_UDP_MAX;
	r.cap = limit < cap ? limit : cap;
	if (hz_get16(query + 4) != 1 || !parse_question(query, qlen, &q)) {
		hz_counter_inc(&c_formerr);
		start(&r, query, &q, false);
		n = finish(&r, &q, HZ_DNS_FORMERR, false);
	} else {
		bool ok = parse_rest(query, qlen, &q);

		/* Over UDP the client's EDNS size, within bounds. */
		if (tr == HZ_DNS_UDP && ok && q.edns) {
			limit = q.udp_size;
			if (limit < HZ_DNS_UDP_MAX)
				limit = HZ_DNS_UDP_MAX;
			if (limit > HZ_DNS_EDNS_UDP_MAX)
				limit = HZ_DNS_EDNS_UDP_MAX;
			r.cap = limit < cap ? limit : cap;
		}
		n = respond(s, query, ok, &q, &r);
	}
	if (tr == HZ_DNS_UDP && s->rrl != NULL) {
		enum hz_dns_rrl_verdict v = hz_dns_rrl_take(s->rrl, src, now);

		if (v == HZ_DNS_RRL_PASS)
			return (int)n;
		/* A slip needs a question: the client retries it over TCP. */
		if (v == HZ_DNS_RRL_SLIP && q.qend != 0) {
			hz_counter_inc(&c_rrl_slip);
			/* The answer's whole rcode: BADVERS is 16, its
			 * upper bits in the OPT. */
			return (int)truncated(&r, query, &q, r.rcode, false);
		}
		hz_counter_inc(&c_rrl_drop);
		return 0;
	}
	return (int)n;
}

/* --- the rate limiter ----------------------------------------------------- */

#define RRL_SETS (HZ_DNS_RRL_SLOTS / HZ_DNS_RRL_WAYS)
#define TOKEN 1000000ull

void hz_dns_rrl_init(struct hz_dns_rrl *r, uint32_t rate, uint32_t burst,
		     uint32_t slip)
{
	memset(r, 0, sizeof(*r));
	r->rate = rate ? rate : HZ_DNS_RRL_RATE_DEFAULT;
	r->burst = burst ? burst : HZ_DNS_RRL_BURST_DEFAULT;
	r->slip = slip ? slip : HZ_DNS_RRL_SLIP_DEFAULT;
}

/* The slot of @prefix, taken over from the stalest of its set if new. */
static struct hz_dns_rrl_slot *rrl_slot(struct hz_dns_rrl *r, uint32_t prefix,
					uint64_t now, uint64_t full)
{
	size_t set = (size_t)(((prefix >> 8) * 2654435761u) >> 16) % RRL_SETS;
	struct hz_dns_rrl_slot *s = &r->slot[set * HZ_DNS_RRL_WAYS], *pick = s;

	for (size_t w = 0; w < HZ_DNS_RRL_WAYS; w++) {
		if (s[w].used && s[w].prefix == prefix)
			return &s[w];
		if (!s[w].used || (pick->used && s[w].last < pick->last))
			pick = &s[w];
	}
	if (pick->used)
		hz_counter_inc(&c_rrl_evict);
	pick->used = true;
	pick->prefix = prefix;
	pick->tokens = full;
	pick->last = now;
	pick->limited = 0;
	return pick;
}

enum hz_dns_rrl_verdict hz_dns_rrl_take(struct hz_dns_rrl *r, hz_ipv4_t src,
					uint64_t now)
{
	uint32_t rate = r->rate ? r->rate : HZ_DNS_RRL_RATE_DEFAULT;
	uint32_t slip = r->slip ? r->slip : HZ_DNS_RRL_SLIP_DEFAULT;
	uint64_t full =
	    (uint64_t)(r->burst ? r->burst : HZ_DNS_RRL_BURST_DEFAULT) * TOKEN;
	struct hz_dns_rrl_slot *s;

	if (rate == UINT32_MAX)
		return HZ_DNS_RRL_PASS;
	s = rrl_slot(r, src & 0xffffff00u, now, full);
	if (now > s->last) {
		/* Capped so the product cannot overflow: 100 s refills any
		 * bucket a 32-bit burst allows at any rate of 1 or more. */
		uint64_t dt = now - s->last, add;

		if (dt > 100000000000ull)
			dt = 100000000000ull;
		/* rate per second is rate / 1000 millionths per ns. */
		add = dt / 1000 * rate + dt % 1000 * rate / 1000;
		s->tokens = s->tokens + add > full ? full : s->tokens + add;
		s->last = now;
	}
	if (s->tokens >= TOKEN) {
		s->tokens -= TOKEN;
		return HZ_DNS_RRL_PASS;
	}
	s->limited++;
	return s->limited % slip == 0 ? HZ_DNS_RRL_SLIP : HZ_DNS_RRL_DROP;
}

/* --- TCP framing ---------------------------------------------------------- */

int hz_dns_tcp_frame(const uint8_t *buf, size_t have, size_t *start)
{
	size_t len;

	if (have < 2)
		return 0;
	len = hz_get16(buf);
	if (len == 0)
		return -HZ_EPROTO;
	if (have < 2 + len)
		return 0;
	*start = 2;
	return (int)len;
}

void hz_dns_tcp_prefix(uint8_t hdr[2], size_t len)
{
	hz_put16(hdr, (uint16_t)len);
}

int hz_dns_question_read(const uint8_t *query, size_t qlen,
			 struct hz_dns_question *q)
{
	struct query x;

	if (qlen < HLEN || (hz_get16(query + 2) & FLAG_QR) ||
	    hz_get16(query + 4) != 1 || !parse_question(query, qlen, &x))
		return -HZ_EINVAL;
	memcpy(q->name, x.low, x.qname_len);
	q->name_len = x.qname_len;
	q->qtype = x.qtype;
	q->qclass = x.qclass;
	return 0;
}

bool hz_dns_zone_contains(const struct hz_dns_zone *z, const uint8_t *name,
			  size_t len)
{
	return hz_dns_name_under(name, len, z->apex, z->apex_len);
}
