/*
 * DNS wire format (RFC 1035): the query encoder, its EDNS0 OPT record
 * (RFC 6891), and the hardened response decoder of haze/dns.h. No I/O
 * and no allocation: both work on caller buffers, and every offset read
 * from a message is checked against its length before use. Compression
 * pointers must point before the start of the part of the name being
 * read, so a chain of them strictly moves backwards and cannot loop.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/dns.h"
#include "haze/wire.h"

#define DNS_HLEN 12
#define FLAG_QR 0x8000u
#define FLAG_OPCODE 0x7800u
#define FLAG_TC 0x0200u
#define FLAG_RD 0x0100u
#define FLAG_RCODE 0x000fu
/* Bound on pointers followed in one name (each one moves backwards). */
#define POINTERS_MAX 64
/* TTLs with the top bit set count as 0 (RFC 2181 8). */
#define TTL_MAX 0x7fffffffu
/* The extended RCODE of an EDNS version the server does not speak. */
#define RCODE_BADVERS 16u

const char *hz_dns_rcode_name(unsigned rcode)
{
	static const char *const names[] = {
	    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	};

	if (rcode == RCODE_BADVERS)
		return "BADVERS";
	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode]
							: "RCODE?";
}

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool is_letter(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* --- the encoder ---------------------------------------------------------- */

/* Writes @name as wire-format labels to @out (HZ_DNS_NAME_MAX bytes). */
static int name_encode(const char *name, uint64_t case_bits, uint8_t *out,
		       size_t *out_len)
{
	size_t len = strlen(name), n = 0;
	unsigned letter = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > HZ_DNS_TEXT_MAX - 1)
		return -HZ_EINVAL;
	for (size_t i = 0; i <= len;) {
		size_t j = i;

		while (j < len && name[j] != '.')
			j++;
		if (j == i || j - i > 63)
			return -HZ_EINVAL;
		out[n++] = (uint8_t)(j - i);
		for (; i < j; i++) {
			uint8_t c = (uint8_t)name[i];

			if (!host_char(c))
				return -HZ_EINVAL;
			if (is_letter(c)) {
				if (letter < 64 && (case_bits >> letter & 1))
					c ^= 0x20;
				letter++;
			}
			out[n++] = c;
		}
		i = j + 1;
	}
	out[n++] = 0;
	*out_len = n;
	return n <= HZ_DNS_NAME_MAX ? 0 : -HZ_EINVAL;
}

int hz_dns_query_encode(uint8_t *buf, size_t cap, uint16_t id, const char *name,
			uint16_t qtype, uint64_t case_bits)
{
	uint8_t wire[HZ_DNS_NAME_MAX + 2];
	size_t wlen;
	int r = name_encode(name, case_bits, wire, &wlen);

	if (r < 0)
		return r;
	if (cap < DNS_HLEN + wlen + 4)
		return -HZ_ENOSPC;
	memset(buf, 0, DNS_HLEN);
	hz_put16(buf, id);
	hz_put16(buf + 2, FLAG_RD);
	hz_put16(buf + 4, 1);
	memcpy(buf + DNS_HLEN, wire, wlen);
	hz_put16(buf + DNS_HLEN + wlen, qtype);
	hz_put16(buf + DNS_HLEN + wlen + 2, HZ_DNS_CLASS_IN);
	return (int)(DNS_HLEN + wlen + 4);
}

int hz_dns_query_add_edns(uint8_t *buf, size_t len, size_t cap,
			  uint16_t udp_size)
{
	uint8_t *o = buf + len;

	HZ_ASSERT(len >= DNS_HLEN && hz_get16(buf + 10) == 0);
	if (cap < len || cap - len < HZ_DNS_EDNS_OPT_LEN)
		return -HZ_ENOSPC;
	/* Owner the root; CLASS the payload size; TTL 0: no extended
	 * RCODE, version 0, DO clear (we check no DNSSEC); no options. */
	memset(o, 0, HZ_DNS_EDNS_OPT_LEN);
	hz_put16(o + 1, HZ_DNS_TYPE_OPT);
	hz_put16(o + 3, udp_size);
	hz_put16(buf + 10, 1);
	return (int)(len + HZ_DNS_EDNS_OPT_LEN);
}

/* --- the decoder ---------------------------------------------------------- */

/* Records @reason and returns -HZ_EPROTO. */
static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -HZ_EPROTO;
}

/*
 * Reads the possibly compressed name at *off of @m into @out, uncompressed
 * (HZ_DNS_NAME_MAX bytes), and moves *off past it as it lies in @m.
 */
static int name_read(const uint8_t *m, size_t len, size_t *off, uint8_t *out,
		     size_t *out_len, const char **why)
{
	size_t pos = *off, seg = *off, n = 0, end = 0;
	unsigned pointers = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return bad(why, "name runs past the message");
		c = m[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return bad(why, "name runs past the message");
			target = (size_t)(c & 0x3f) << 8 | m[pos + 1];
			if (target >= seg)
				return bad(why, "compression pointer forward "
						"or in a loop");
			if (target < DNS_HLEN)
				return bad(why, "compression pointer into the "
						"header");
			if (++pointers > POINTERS_MAX)
				return bad(why, "too many compression "
						"pointers");
			if (end == 0)
				end = pos + 2;
			pos = seg = target;
			continue;
		}
		if (c & 0xc0)
			return bad(why, "reserved label type");
		if (n + 1 + c > HZ_DNS_NAME_MAX)
			return bad(why, "name longer than 255 bytes");
		if (c == 0) {
			out[n++] = 0;
			if (end == 0)
				end = pos + 1;
			break;
		}
		if (pos + 1 + c > len)
			return bad(why, "label runs past the message");
		memcpy(out + n, m + pos, 1 + (size_t)c);
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	*off = end;
	*out_len = n;
	return 0;
}

/* Whether two uncompressed wire names are equal, ignoring ASCII case. */
static bool name_equal(const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* One answer record, by offsets into the message. */
struct rr {
	size_t name_off;
	uint16_t type, class_;
	uint32_t ttl;
	size_t rdoff, rdlen;
};

/*
 * Reads the record at *off into @x (its owner is checked, not kept) and
 * moves *off past it.
 */
static int rr_read(const uint8_t *m, size_t len, size_t *off, struct rr *x,
		   size_t *owner_len, const char **why)
{
	uint8_t scratch[HZ_DNS_NAME_MAX];
	int r;

	x->name_off = *off;
	r = name_read(m, len, off, scratch, owner_len, why);
	if (r < 0)
		return r;
	if (*off + 10 > len)
		return bad(why, "record runs past the message");
	x->type = hz_get16(m + *off);
	x->class_ = hz_get16(m + *off + 2);
	x->ttl = hz_get32(m + *off + 4);
	x->rdlen = hz_get16(m + *off + 8);
	x->rdoff = *off + 10;
	if (x->rdoff + x->rdlen > len)
		return bad(why, "RDLENGTH runs past the message");
	*off = x->rdoff + x->rdlen;
	return 0;
}

/*
 * Reads up to HZ_DNS_RR_MAX answer records after the question; a message
 * cut short is an error unless the server said so (TC). *whole says
 * whether every answer record was read, and *off where they end.
 */
static int answers_read(const uint8_t *m, size_t len, size_t *off,
			unsigned ancount, bool tc, struct rr *rr, size_t *nrr,
			bool *whole, const char **why)
{
	size_t n = 0, olen;
	unsigned i;
	int r;

	*whole = false;
	for (i = 0; i < ancount && n < HZ_DNS_RR_MAX; i++) {
		struct rr *x = &rr[n];

		r = rr_read(m, len, off, x, &olen, why);
		if (r < 0) {
			if (tc)
				break;
			return r;
		}
		if (x->ttl > TTL_MAX)
			x->ttl = 0;
		n++;
	}
	*nrr = n;
	*whole = i == ancount;
	return 0;
}

/*
 * Walks the records after the first @skip from *off (the rest of the
 * answers, the authority and the additional section) for the OPT, which
 * may only be in the additional section (the last @arcount records).
 * Nothing else there is used, so a record that does not fit ends the
 * walk quietly; an OPT that breaks RFC 6891 6.1.1 (not owned by the root,
 * a second one) makes the response malformed.
 */
static int opt_find(const uint8_t *m, size_t len, size_t off, size_t skip,
		    size_t arcount, struct hz_dns_answer *out, const char **why)
{
	const char *ignored;
	struct rr x;
	size_t olen;

	for (size_t i = 0; i < skip + arcount; i++) {
		if (rr_read(m, len, &off, &x, &olen, &ignored) < 0)
			break;
		if (i < skip || x.type != HZ_DNS_TYPE_OPT)
			continue;
		if (olen != 1)
			return bad(why, "OPT record not owned by the root");
		if (out->edns)
			return bad(why, "more than one OPT record");
		out->edns = true;
		out->edns_udp = x.class_;
		/* The TTL's top byte holds the upper 8 bits of the RCODE. */
		out->rcode = (uint16_t)((x.ttl >> 24) << 4 | out->rcode);
	}
	return 0;
}

/* The length of @query's question (name, type, class): our own query. */
static size_t question_len(const uint8_t *query, size_t qlen)
{
	size_t off = DNS_HLEN;

	while (off < qlen && query[off] != 0)
		off += 1 + (size_t)query[off];
	HZ_ASSERT(off + 5 <= qlen);
	return off + 5 - DNS_HLEN;
}

/*
 * Whether record @x is an IN record of @type owned by the answer's
 * current name (out->canon).
 */
static int wanted(const uint8_t *m, size_t len, const struct rr *x,
		  uint16_t type, const struct hz_dns_answer *out, bool *yes,
		  const char **why)
{
	uint8_t owner[HZ_DNS_NAME_MAX];
	size_t off = x->name_off, olen;
	int r;

	*yes = false;
	if (x->type != type || x->class_ != HZ_DNS_CLASS_IN)
		return 0;
	r = name_read(m, len, &off, owner, &olen, why);
	if (r < 0)
		return r;
	*yes = name_equal(owner, olen, out->canon, out->canon_len);
	return 0;
}

/* Adds the A records of the current name to @out. */
static int collect_addrs(const uint8_t *m, size_t len, const struct rr *rr,
			 size_t nrr, struct hz_dns_answer *out,
			 const char **why)
{
	for (size_t i = 0; i < nrr; i++) {
		bool mine;
		int r = wanted(m, len, &rr[i], HZ_DNS_TYPE_A, out, &mine, why);

		if (r < 0)
			return r;
		if (!mine)
			continue;
		if (rr[i].rdlen != 4)
			return bad(why, "A record RDLENGTH is not 4");
		if (out->naddrs < HZ_DNS_ADDRS_MAX)
			out->addrs[out->naddrs++] = hz_get32(m + rr[i].rdoff);
		if (rr[i].ttl < out->ttl)
			out->ttl = rr[i].ttl;
	}
	return 0;
}

/* Moves out->canon along the CNAME it owns; *moved says whether it did. */
static int follow_cname(const uint8_t *m, size_t len, const struct rr *rr,
			size_t nrr, struct hz_dns_answer *out, bool *moved,
			const char **why)
{
	*moved = false;
	for (size_t i = 0; i < nrr; i++) {
		size_t off = rr[i].rdoff, tlen;
		uint8_t target[HZ_DNS_NAME_MAX];
		bool mine;
		int r =
		    wanted(m, len, &rr[i], HZ_DNS_TYPE_CNAME, out, &mine, why);

		if (r < 0)
			return r;
		if (!mine)
			continue;
		/* The target must lie inside the record's RDATA. */
		r = name_read(m, rr[i].rdoff + rr[i].rdlen, &off, target, &tlen,
			      why);
		if (r < 0)
			return r;
		if (off != rr[i].rdoff + rr[i].rdlen)
			return bad(why, "CNAME RDLENGTH does not match its "
					"name");
		if (out->cnames == HZ_DNS_CNAME_MAX)
			return bad(why, "CNAME chain too long");
		memcpy(out->canon, target, tlen);
		out->canon_len = tlen;
		out->cnames++;
		if (rr[i].ttl < out->ttl)
			out->ttl = rr[i].ttl;
		*moved = true;
		return 0;
	}
	return 0;
}

int hz_dns_response_decode(const uint8_t *query, size_t qlen,
			   const uint8_t *msg, size_t len,
			   struct hz_dns_answer *out, const char **why)
{
	struct rr rr[HZ_DNS_RR_MAX];
	size_t qsec, nrr, off;
	unsigned ancount;
	uint16_t flags;
	bool moved, whole;
	int r;

	memset(out, 0, sizeof(*out));
	*why = "";
	HZ_ASSERT(qlen > DNS_HLEN + 4 && qlen <= HZ_DNS_QUERY_MAX);
	qsec = question_len(query, qlen);
	if (len < DNS_HLEN)
		return bad(why, "shorter than a header");
	if (hz_get16(msg) != hz_get16(query))
		return bad(why, "ID mismatch");
	flags = hz_get16(msg + 2);
	if (!(flags & FLAG_QR))
		return bad(why, "not a response");
	if (flags & FLAG_OPCODE)
		return bad(why, "opcode is not QUERY");
	if (hz_get16(msg + 4) != 1)
		return bad(why, "question count is not 1");
	if (len < DNS_HLEN + qsec)
		return bad(why, "question runs past the message");
	/* Byte for byte: the letter case we randomized must come back. */
	if (memcmp(msg + DNS_HLEN, query + DNS_HLEN, qsec) != 0)
		return bad(why, "question mismatch");
	out->rcode = (uint8_t)(flags & FLAG_RCODE);
	out->truncated = (flags & FLAG_TC) != 0;
	out->ttl = TTL_MAX;
	off = 0;
	r = name_read(query + DNS_HLEN, qsec - 4, &off, out->canon,
		      &out->canon_len, why);
	HZ_ASSERT(r == 0); /* our own query */
	off = DNS_HLEN + qsec;
	ancount = hz_get16(msg + 6);
	r = answers_read(msg, len, &off, ancount, out->truncated, rr, &nrr,
			 &whole, why);
	if (r < 0)
		return r;
	/* Past a cut in a truncated answer the offsets mean nothing. */
	if (whole || nrr == HZ_DNS_RR_MAX) {
		r = opt_find(msg, len, off,
			     (size_t)(ancount - nrr) + hz_get16(msg + 8),
			     hz_get16(msg + 10), out, why);
		if (r < 0)
			return r;
	}
	for (;;) {
		r = collect_addrs(msg, len, rr, nrr, out, why);
		if (r < 0 || out->naddrs > 0)
			break;
		r = follow_cname(msg, len, rr, nrr, out, &moved, why);
		if (r < 0 || !moved)
			break;
	}
	if (r < 0)
		return r;
	if (out->naddrs == 0 && out->cnames == 0)
		out->ttl = 0;
	return 0;
}

char *hz_dns_name_text(const uint8_t *name, size_t len, char *buf, size_t cap)
{
	size_t i = 0, n = 0;

	HZ_ASSERT(cap > 0);
	while (i < len && name[i] != 0) {
		size_t l = name[i++];

		if (n > 0) {
			if (n + 1 >= cap)
				break;
			buf[n++] = '.';
		}
		for (size_t k = 0; k < l && i < len; k++, i++) {
			uint8_t c = name[i];

			if (n + (host_char(c) ? 1 : 4) >= cap)
				goto full;
			if (host_char(c)) {
				buf[n++] = (char)c;
				continue;
			}
			buf[n++] = '\\';
			buf[n++] = (char)('0' + c / 100);
			buf[n++] = (char)('0' + c / 10 % 10);
			buf[n++] = (char)('0' + c % 10);
		}
	}
full:
	buf[n] = '\0';
	return buf;
}
