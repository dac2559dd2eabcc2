/*
 * The authoritative DNS server (src/dns/dns_zone.c, dns_server.c): the
 * zone parser on every record type, the directives and its errors with
 * their lines; every kind of answer (AA, NXDOMAIN and NODATA with the SOA,
 * CNAME chains, EDNS sizes, TC, REFUSED, ANY, FORMERR, NOTIMP, BADVERS),
 * each response walked back by a strict parser here (every compression
 * pointer must point backwards inside the message) and, for address
 * queries, decoded by the stub resolver's hz_dns_response_decode; the rate
 * limiter's buckets, slip and eviction; the TCP framing helpers.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "haze/dns.h"
#include "haze/dns_server.h"
#include "haze/log.h"
#include "haze/wire.h"

static const char zone_text[] =
    "; the test zone\n"
    "$ORIGIN haze.test.\n"
    "$TTL 3600\n"
    "@   IN SOA ns1 hostmaster ( 2026120401 ; serial\n"
    "        7200 3600\n"
    "        2w 300 )\n"
    "    IN NS ns1\n"
    "    NS ns2.haze.test.\n"
    "ns1 IN A 10.0.0.1\n"
    "ns2 600 A 10.0.0.2\n"
    "www 1h IN A 10.0.0.80\n"
    "WWW A 10.0.0.81\n"
    "www AAAA 2001:db8::80\n"
    "mail MX 10 mx1\n"
    "mx1 A 10.0.0.25\n"
    "txt TXT \"hello world\" \"say \\\"hi\\\"\" bare\n"
    "_http._tcp SRV 10 5 80 www\n"
    "ptr PTR www.haze.test.\n"
    "px PTR x.x.haze.test.\n"
    "alias CNAME www\n"
    "alias2 CNAME alias\n"
    "ext CNAME www.example.org.\n"
    "dangling CNAME nothere\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "a.b.c A 10.0.0.3\n"
    "*.wild A 10.0.0.99\n"
    "sub.wild A 10.0.0.7\n"
    "*.wc CNAME www\n"
    "$ORIGIN sub.haze.test.\n"
    "deep A 10.0.0.4\n";

/* Records of zone_text. */
#define ZONE_RRS 25

static uint64_t zone_mem[8192];

static void load(struct hz_dns_zone *z)
{
	struct hz_errmsg err = {0};
	int rc = hz_dns_zone_parse(z, zone_mem, sizeof(zone_mem), NULL,
				   zone_text, strlen(zone_text), &err);

	if (rc != 0)
		fail_msg("%s", hz_errmsg_text(&err));
}

/* The first record of @type owned by @name (wire format, lower case). */
static const struct hz_dns_rr *find(const struct hz_dns_zone *z,
				    const char *name, uint16_t type)
{
	uint8_t w[HZ_DNS_NAME_MAX];
	size_t n = 0, lab = 0;

	w[n++] = 0;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			lab = n;
			w[n++] = 0;
			continue;
		}
		w[lab]++;
		w[n++] = (uint8_t)*p;
	}
	if (w[lab] != 0)
		w[n++] = 0;
	for (size_t i = 0; i < z->nrr; i++) {
		const struct hz_dns_rr *rr = &hz_dns_zone_rrs(z)[i];

		if (rr->type == type && rr->owner_len == n &&
		    memcmp(z->mem + z->cap - rr->owner, w, n) == 0)
			return rr;
	}
	return NULL;
}

static const uint8_t *rdata(const struct hz_dns_zone *z,
			    const struct hz_dns_rr *rr)
{
	return z->mem + z->cap - rr->rdata;
}

/* --- the parser ----------------------------------------------------------- */

static void parses_every_type(void **state)
{
	static const uint8_t aaaa[16] = {0x20, 0x01,	 0x0d,
					 0xb8, [14] = 0, [15] = 0x80};
	static const uint8_t txt[] = "\x0bhello world\x08say \"hi\"\x04"
				     "bare";
	static const uint8_t srv[] = {0,   10,	0,   5,	  0,   80,  3,
				      'w', 'w', 'w', 4,	  'h', 'a', 'z',
				      'e', 4,	't', 'e', 's', 't', 0};
	struct hz_dns_zone z;
	const struct hz_dns_rr *rr;
	const uint8_t *rd;

	(void)state;
	load(&z);
	assert_int_equal(z.nrr, ZONE_RRS);
	assert_int_equal(z.apex_len, 11);
	assert_memory_equal(z.apex, "\4haze\4test", 11);
	/* min(SOA TTL 3600, minimum 300): RFC 2308. */
	assert_int_equal(z.neg_ttl, 300);

	rr = find(&z, "haze.test", HZ_DNS_TYPE_SOA);
	assert_non_null(rr);
	rd = rdata(&z, rr);
	assert_memory_equal(rd, "\3ns1\4haze\4test\0", 15);
	assert_memory_equal(rd + 15, "\12hostmaster\4haze\4test\0", 22);
	assert_int_equal(hz_get32(rd + 37), 2026120401u);
	assert_int_equal(hz_get32(rd + 41), 7200);
	assert_int_equal(hz_get32(rd + 45), 3600);
	assert_int_equal(hz_get32(rd + 49), 14 * 86400);
	assert_int_equal(hz_get32(rd + 53), 300);
	assert_int_equal(rr->line, 4);

	/* Lines starting blank belong to the last owner. */
	rr = find(&z, "haze.test", HZ_DNS_TYPE_NS);
	assert_non_null(rr);
	assert_memory_equal(rdata(&z, rr), "\3ns1\4haze\4test\0", 15);
	assert_int_equal(rr[1].type, HZ_DNS_TYPE_NS);
	assert_int_equal(rr[1].owner, rr->owner);

	rr = find(&z, "ns2.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(rr->ttl, 600);
	assert_memory_equal(rdata(&z, rr), "\12\0\0\2", 4);
	rr = find(&z, "www.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(rr->ttl, 3600);
	assert_int_equal(rr->rdlen, 4);
	assert_memory_equal(rdata(&z, rr), "\12\0\0\120", 4);
	/* Owners are stored in lower case: WWW is www. */
	assert_int_equal(rr[1].owner, rr->owner);
	assert_memory_equal(rdata(&z, &rr[1]), "\12\0\0\121", 4);

	rr = find(&z, "www.haze.test", HZ_DNS_TYPE_AAAA);
	assert_int_equal(rr->rdlen, 16);
	assert_memory_equal(rdata(&z, rr), aaaa, 16);

	rr = find(&z, "mail.haze.test", HZ_DNS_TYPE_MX);
	assert_memory_equal(rdata(&z, rr), "\0\12\3mx1\4haze\4test\0", 17);

	rr = find(&z, "txt.haze.test", HZ_DNS_TYPE_TXT);
	assert_int_equal(rr->rdlen, sizeof(txt) - 1);
	assert_memory_equal(rdata(&z, rr), txt, sizeof(txt) - 1);

	rr = find(&z, "_http._tcp.haze.test", HZ_DNS_TYPE_SRV);
	assert_int_equal(rr->rdlen, sizeof(srv));
	assert_memory_equal(rdata(&z, rr), srv, sizeof(srv));

	rr = find(&z, "ptr.haze.test", HZ_DNS_TYPE_PTR);
	assert_memory_equal(rdata(&z, rr), "\3www\4haze\4test\0", 15);
	rr = find(&z, "ext.haze.test", HZ_DNS_TYPE_CNAME);
	assert_memory_equal(rdata(&z, rr), "\3www\7example\3org\0", 17);
	assert_non_null(find(&z, "a.b.c.haze.test", HZ_DNS_TYPE_A));
	assert_non_null(find(&z, "deep.sub.haze.test", HZ_DNS_TYPE_A));
}

static void ipv6_forms(void **state)
{
	static const struct {
		const char *text;
		uint8_t last;
		bool ok;
	} cases[] = {
	    {"::1", 1, true},
	    {"1::", 0, true},
	    {"1:2:3:4:5:6:7:8", 8, true},
	    {"1:2:3:4:5:6:7", 0, false},
	    {"1::2::3", 0, false},
	    {"12345::", 0, false},
	    {"1:2:3:4:5:6:7:8:9", 0, false},
	    {":1::", 0, false},
	    {"1:", 0, false},
	    {"g::", 0, false},
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hz_errmsg err = {0};
		struct hz_dns_zone z;
		int rc;

		snprintf(text, sizeof(text),
			 "@ 60 SOA a b 1 2 3 4 5\nx AAAA %s\n", cases[i].text);
		rc = hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), "t.",
				       text, strlen(text), &err);
		if (!cases[i].ok) {
			assert_int_equal(rc, -HZ_EINVAL);
			assert_non_null(strstr(err.text, "line 2: bad IPv6"));
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(rdata(&z, &hz_dns_zone_rrs(&z)[1])[15],
				 cases[i].last);
	}
}

static void errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"@ SOA a b 1 2 3 4 5\n", "line 1: no TTL"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx A 10.0.0\n",
	     "line 3: bad IPv4 address '10.0.0'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx A 10.0.0.256\n",
	     "line 3: bad IPv4"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx HINFO a b\n",
	     "line 3: unknown or unsupported type 'HINFO'"},
	    {"$TTL 60\n@ SOA a b ( 1 2\n3 4 5\n", "line 2: '(' not closed"},
	    {"$TTL 60\n\n@ SOA a b 1 2 3 4 5 )\n", "line 3: ')' without"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx TXT \"open\n",
	     "line 3: string not closed"},
	    {"$TTL 60\nx A 10.0.0.1\n", "no SOA record"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\n@ SOA a b 1 2 3 4 5\n",
	     "line 3: a second SOA"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx CNAME y\nx A 1.2.3.4\n",
	     "line 3: CNAME at 'x.t' beside other data (line 4)"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nexample.org. A 1.2.3.4\n",
	     "line 3: 'example.org' is outside the zone 't'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nsub NS ns.sub\n",
	     "line 3: NS at 'sub.t': delegations are not supported"},
	    {"$TTL 60\n$INCLUDE other\n", "line 2: $INCLUDE is not"},
	    {"$TTL 60\n$FOO\n", "line 2: unknown directive '$FOO'"},
	    {"$TTL 1x\n", "line 1: $TTL needs one TTL"},
	    {"$TTL 60\n@ CH SOA a b 1 2 3 4 5\n", "line 2: class CH"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4\n", "line 2: SOA needs 7 fields"},
	    {"$TTL 60\n@ SOA a b 1 2 x 4 5\n", "line 2: bad SOA number 'x'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nm MX 70000 x\n",
	     "line 3: bad MX preference '70000'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\ns SRV 1 2 x y\n",
	     "line 3: bad SRV port 'x'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx..y A 1.2.3.4\n",
	     "line 3: empty label in 'x..y'"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\n"
	     "0123456789012345678901234567890123456789012345678901234567890123"
	     " A 1.2.3.4\n",
	     "line 3: label over 63 bytes"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\n  ; nothing\nx A\n",
	     "line 4: A needs 1 field, not 0"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx TXT\n",
	     "line 3: TXT without a string"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx TXT \"\\999\"\n",
	     "line 3: bad escape in TXT"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx 99999999999 A 1.2.3.4\n",
	     "line 3: bad TTL"},
	    {"$TTL 60\n@ SOA a b 1 2 3 4 5\nx IN\n", "line 3: no record type"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hz_errmsg err = {0};
		struct hz_dns_zone z;
		int rc = hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), "t.",
					   cases[i].text, strlen(cases[i].text),
					   &err);

		if (rc != -HZ_EINVAL || !strstr(err.text, cases[i].want))
			fail_msg("case %zu: rc %d, '%s', wanted '%s'", i, rc,
				 err.text, cases[i].want);
	}
}

static void names_need_an_origin(void **state)
{
	static const char text[] = "$TTL 60\nx.test. SOA a b 1 2 3 4 5\n";
	static const char txt[] =
	    "$TTL 60\n$ORIGIN test.\n@ SOA a. b. 1 2 3 4 5\n"
	    "long TXT \"";
	struct hz_errmsg err = {0};
	struct hz_dns_zone z;
	char big[600];

	(void)state;
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), NULL,
					   text, strlen(text), &err),
			 -HZ_EINVAL);
	assert_non_null(strstr(err.text, "line 2: relative name 'a' with no"));
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), "x",
					   text, strlen(text), &err),
			 -HZ_EINVAL);
	assert_non_null(strstr(err.text, "must end in '.'"));
	/* A string of 256 bytes is one too many. */
	memcpy(big, txt, sizeof(txt) - 1);
	memset(big + sizeof(txt) - 1, 'a', 256);
	memcpy(big + sizeof(txt) - 1 + 256, "\"\n", 3);
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), NULL,
					   big, strlen(big), &err),
			 -HZ_EINVAL);
	assert_non_null(strstr(err.text, "line 4: TXT string over 255"));
	big[sizeof(txt) - 1 + 255] = '"';
	big[sizeof(txt) - 1 + 256] = '\n';
	big[sizeof(txt) - 1 + 257] = '\0';
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), NULL,
					   big, strlen(big), &err),
			 0);
}

static void memory_bounds(void **state)
{
	static char many[1024];
	struct hz_errmsg err = {0};
	struct hz_dns_zone z;
	size_t n;

	(void)state;
	/* One field too many in a record (owner, type and 127 strings). */
	n = (size_t)snprintf(many, sizeof(many),
			     "$TTL 60\n@ SOA a b 1 2 3 4 5\nx TXT");
	for (int i = 0; i < HZ_DNS_ZONE_FIELDS_MAX - 1; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, " s");
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), "t.",
					   many, n, &err),
			 -HZ_EINVAL);
	assert_non_null(strstr(err.text, "line 3: more than 128 fields"));
	/* One fewer is a TXT of 126 strings. */
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, sizeof(zone_mem), "t.",
					   many, n - 2, &err),
			 0);
	assert_int_equal(hz_dns_zone_rrs(&z)[1].rdlen, 2 * 126);
	/* Too small a block: ENOMEM, with the line it ran out on. */
	assert_int_equal(hz_dns_zone_parse(&z, zone_mem, 600, NULL, zone_text,
					   strlen(zone_text), &err),
			 -HZ_ENOMEM);
	assert_non_null(strstr(err.text, "zone over its memory (600 bytes)"));
	assert_int_equal(hz_dns_zone_parse(&z, (uint8_t *)zone_mem + 1, 600,
					   NULL, zone_text, strlen(zone_text),
					   &err),
			 -HZ_EINVAL);
	/* From the heap: grown past the first block, freed on failure. */
	assert_int_equal(hz_dns_zone_load(&z, 1024, NULL, zone_text,
					  strlen(zone_text), &err),
			 -HZ_ENOMEM);
	assert_null(z.mem);
	assert_int_equal(hz_dns_zone_load(&z, 1u << 20, NULL, zone_text,
					  strlen(zone_text), &err),
			 0);
	assert_int_equal(z.nrr, ZONE_RRS);
	assert_non_null(find(&z, "deep.sub.haze.test", HZ_DNS_TYPE_A));
	hz_dns_zone_release(&z);
	assert_null(z.mem);
}

/* A zone larger than the heap zone's first block, to make it grow. */
static void heap_zone_grows(void **state)
{
	static char text[64 * 1024];
	struct hz_errmsg err = {0};
	struct hz_dns_zone z;
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
			     "$TTL 60\n@ SOA a b 1 2 3 4 5\n");
	for (int i = 0; i < 1000; i++)
		n +=
		    (size_t)snprintf(text + n, sizeof(text) - n,
				     "h%d A 10.0.%d.%d\n", i, i / 256, i % 256);
	assert_int_equal(
	    hz_dns_zone_load(&z, 1u << 20, "big.test.", text, n, &err), 0);
	assert_int_equal(z.nrr, 1001);
	assert_true(z.cap > 4096);
	assert_memory_equal(rdata(&z, find(&z, "h999.big.test", HZ_DNS_TYPE_A)),
			    "\12\0\3\347", 4);
	hz_dns_zone_release(&z);
}

/* --- responses ------------------------------------------------------------ */

struct rrv {
	uint8_t name[HZ_DNS_NAME_MAX];
	size_t name_len;
	uint16_t type, class, rdlen;
	uint32_t ttl;
	size_t rd; /* offset in the message */
};

struct parsed {
	uint16_t id, flags, qd, an, ns, ar;
	uint8_t qname[HZ_DNS_NAME_MAX];
	size_t qname_len;
	uint16_t qtype;
	struct rrv rr[80];
	size_t nrr;
	unsigned pointers;
};

/* Expands the name at *off, checking every pointer goes backwards. */
static void expand(const uint8_t *m, size_t len, size_t *off, uint8_t *out,
		   size_t *out_len, unsigned *pointers)
{
	size_t at = *off, n = 0;
	bool jumped = false;

	for (;;) {
		assert_true(at < len);
		if ((m[at] & 0xc0) == 0xc0) {
			size_t to;

			assert_true(at + 1 < len);
			to = (size_t)(m[at] & 0x3f) << 8 | m[at + 1];
			assert_true(to >= 12 && to < at);
			if (!jumped)
				*off = at + 2;
			jumped = true;
			(*pointers)++;
			at = to;
			continue;
		}
		assert_true(m[at] <= 63);
		assert_true(n + 1 + m[at] <= HZ_DNS_NAME_MAX);
		assert_true(at + 1 + m[at] <= len);
		memcpy(out + n, m + at, 1 + (size_t)m[at]);
		n += 1 + (size_t)m[at];
		if (m[at] == 0)
			break;
		at += 1 + (size_t)m[at];
	}
	if (!jumped)
		*off = at + 1;
	*out_len = n;
}

static void parse_msg(const uint8_t *m, size_t len, struct parsed *p)
{
	size_t off = 12;

	memset(p, 0, sizeof(*p));
	assert_true(len >= 12);
	p->id = hz_get16(m);
	p->flags = hz_get16(m + 2);
	p->qd = hz_get16(m + 4);
	p->an = hz_get16(m + 6);
	p->ns = hz_get16(m + 8);
	p->ar = hz_get16(m + 10);
	if (p->qd == 1) {
		expand(m, len, &off, p->qname, &p->qname_len, &p->pointers);
		assert_true(off + 4 <= len);
		p->qtype = hz_get16(m + off);
		off += 4;
	}
	assert_true((size_t)p->an + p->ns + p->ar <= 80);
	for (size_t i = 0; i < (size_t)p->an + p->ns + p->ar; i++) {
		struct rrv *r = &p->rr[i];

		expand(m, len, &off, r->name, &r->name_len, &p->pointers);
		assert_true(off + 10 <= len);
		r->type = hz_get16(m + off);
		r->class = hz_get16(m + off + 2);
		r->ttl = hz_get32(m + off + 4);
		r->rdlen = hz_get16(m + off + 8);
		r->rd = off + 10;
		off += 10 + (size_t)r->rdlen;
		assert_true(off <= len);
		p->nrr++;
	}
	assert_int_equal(off, len);
}

/* Expands a name in the RDATA of @r at @at past its start. */
static void rd_name(const uint8_t *m, size_t len, const struct rrv *r,
		    size_t at, uint8_t *out, size_t *out_len)
{
	size_t off = r->rd + at;
	unsigned ptrs = 0;

	expand(m, len, &off, out, out_len, &ptrs);
	assert_true(off <= r->rd + r->rdlen);
}

struct fixture {
	struct hz_dns_zone zone;
	struct hz_dns_server srv;
	uint8_t q[600], out[4096];
	size_t qlen;
	int n;
	struct parsed p;
};

/* Appends an OPT of @size, version @version, to the query. */
static void add_opt(struct fixture *f, uint16_t size, uint8_t version)
{
	uint8_t *o = f->q + f->qlen;

	o[0] = 0;
	hz_put16(o + 1, HZ_DNS_TYPE_OPT);
	hz_put16(o + 3, size);
	o[5] = 0;
	o[6] = version;
	hz_put16(o + 7, 0x8000);
	hz_put16(o + 9, 0);
	f->qlen += 11;
	hz_put16(f->q + 10, (uint16_t)(hz_get16(f->q + 10) + 1));
}

static void query(struct fixture *f, const char *name, uint16_t qtype,
		  uint64_t case_bits)
{
	int n = hz_dns_query_encode(f->q, sizeof(f->q), 0x1234, name, qtype,
				    case_bits);

	assert_true(n > 0);
	f->qlen = (size_t)n;
}

/* Sends the query as it is; parses what comes back. */
static void ask_over(struct fixture *f, enum hz_dns_transport tr)
{
	f->n =
	    hz_dns_server_answer(&f->srv, f->q, f->qlen, HZ_IPV4(10, 9, 9, 9),
				 tr, 0, f->out, sizeof(f->out));
	assert_true(f->n > 0);
	parse_msg(f->out, (size_t)f->n, &f->p);
	assert_int_equal(f->p.id, 0x1234);
	assert_true(f->p.flags & 0x8000);
	/* The question comes back as it was asked, case included. */
	if (f->p.qd == 1)
		assert_memory_equal(f->out + 12, f->q + 12, f->p.qname_len + 4);
}

static void ask(struct fixture *f, const char *name, uint16_t qtype)
{
	query(f, name, qtype, 0);
	ask_over(f, HZ_DNS_UDP);
}

static void setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	load(&f->zone);
	f->srv.zone = &f->zone;
}

#define RCODE(f) ((f)->p.flags & 0xf)
#define AA(f) (((f)->p.flags & 0x0400) != 0)
#define TC(f) (((f)->p.flags & 0x0200) != 0)

static void answers_addresses(void **state)
{
	static struct fixture f;
	struct hz_dns_answer a;
	const char *why = NULL;

	(void)state;
	setup(&f);
	/* Mixed case: the question keeps it, the answers match it. */
	query(&f, "wWw.HaZe.tEsT", HZ_DNS_TYPE_A, 0x155);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_true(AA(&f));
	assert_false(TC(&f));
	assert_int_equal(f.p.an, 2);
	assert_int_equal(f.p.ns, 0);
	assert_int_equal(f.p.ar, 0);
	assert_int_equal(f.p.rr[0].ttl, 3600);
	/* Both owners are pointers to the question. */
	assert_int_equal(hz_get16(f.out + 12 + f.p.qname_len + 4), 0xc00c);
	assert_int_equal(f.p.pointers, 2);
	assert_int_equal(
	    hz_dns_response_decode(f.q, f.qlen, f.out, (size_t)f.n, &a, &why),
	    0);
	assert_int_equal(a.rcode, HZ_DNS_NOERROR);
	assert_int_equal(a.naddrs, 2);
	assert_int_equal(a.addrs[0], HZ_IPV4(10, 0, 0, 80));
	assert_int_equal(a.addrs[1], HZ_IPV4(10, 0, 0, 81));

	ask(&f, "www.haze.test", HZ_DNS_TYPE_AAAA);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.rr[0].rdlen, 16);
	assert_int_equal(f.out[f.p.rr[0].rd + 15], 0x80);
}

static void answers_names_compressed(void **state)
{
	static struct fixture f;
	uint8_t name[HZ_DNS_NAME_MAX];
	size_t len;

	(void)state;
	setup(&f);
	ask(&f, "mail.haze.test", HZ_DNS_TYPE_MX);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(hz_get16(f.out + f.p.rr[0].rd), 10);
	rd_name(f.out, (size_t)f.n, &f.p.rr[0], 2, name, &len);
	assert_memory_equal(name, "\3mx1\4haze\4test\0", 15);
	/* mx1 then a pointer to haze.test inside the question. */
	assert_int_equal(f.p.rr[0].rdlen, 2 + 4 + 2);

	ask(&f, "haze.test", HZ_DNS_TYPE_NS);
	assert_int_equal(f.p.an, 2);
	rd_name(f.out, (size_t)f.n, &f.p.rr[1], 0, name, &len);
	assert_memory_equal(name, "\3ns2\4haze\4test\0", 15);
	assert_int_equal(f.p.rr[1].rdlen, 6);

	ask(&f, "haze.test", HZ_DNS_TYPE_SOA);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.rr[0].ttl, 3600);
	rd_name(f.out, (size_t)f.n, &f.p.rr[0], 6, name, &len);
	assert_memory_equal(name, "\12hostmaster\4haze\4test\0", 22);
	assert_int_equal(f.p.rr[0].rdlen, 6 + 13 + 20);
	assert_int_equal(hz_get32(f.out + f.p.rr[0].rd + 19 + 16), 300);

	/* SRV targets are never compressed (RFC 2782). */
	ask(&f, "_http._tcp.haze.test", HZ_DNS_TYPE_SRV);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.rr[0].rdlen, 6 + 15);
	assert_memory_equal(f.out + f.p.rr[0].rd + 6, "\3www\4haze\4test\0",
			    15);

	ask(&f, "ptr.haze.test", HZ_DNS_TYPE_PTR);
	rd_name(f.out, (size_t)f.n, &f.p.rr[0], 0, name, &len);
	assert_memory_equal(name, "\3www\4haze\4test\0", 15);

	/* A name repeating its own label, written over stale bytes that
	 * look like the rest of it: the first x must not be a pointer
	 * target before the name is whole (the fuzzer found this). */
	for (size_t i = 0; i + 11 <= sizeof(f.out); i += 11)
		memcpy(f.out + i, "\4haze\4test\0", 11);
	ask(&f, "px.haze.test", HZ_DNS_TYPE_PTR);
	rd_name(f.out, (size_t)f.n, &f.p.rr[0], 0, name, &len);
	assert_memory_equal(name, "\1x\1x\4haze\4test\0", 15);
	assert_int_equal(f.p.rr[0].rdlen, 2 + 2 + 2);

	ask(&f, "txt.haze.test", HZ_DNS_TYPE_TXT);
	assert_int_equal(f.p.rr[0].rdlen, 12 + 9 + 5);
	assert_memory_equal(f.out + f.p.rr[0].rd, "\x0bhello world", 12);
}

/* The SOA of a negative answer: in authority, with the negative TTL. */
static void check_negative(struct fixture *f, unsigned rcode)
{
	assert_int_equal(RCODE(f), rcode);
	assert_true(AA(f));
	assert_int_equal(f->p.an, 0);
	assert_int_equal(f->p.ns, 1);
	assert_int_equal(f->p.rr[0].type, HZ_DNS_TYPE_SOA);
	assert_int_equal(f->p.rr[0].ttl, 300);
	assert_memory_equal(f->p.rr[0].name, "\4haze\4test\0", 11);
}

static void negative_answers(void **state)
{
	static struct fixture f;
	struct hz_dns_answer a;
	const char *why = NULL;

	(void)state;
	setup(&f);
	ask(&f, "nope.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NXDOMAIN);
	assert_int_equal(
	    hz_dns_response_decode(f.q, f.qlen, f.out, (size_t)f.n, &a, &why),
	    0);
	assert_int_equal(a.rcode, HZ_DNS_NXDOMAIN);
	/* Below a name that exists is still NXDOMAIN. */
	ask(&f, "x.www.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NXDOMAIN);

	ask(&f, "www.haze.test", HZ_DNS_TYPE_TXT);
	check_negative(&f, HZ_DNS_NOERROR);
	ask(&f, "mx1.haze.test", HZ_DNS_TYPE_MX);
	check_negative(&f, HZ_DNS_NOERROR);
	/* Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN. */
	ask(&f, "b.c.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NOERROR);
	ask(&f, "sub.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NOERROR);
	ask(&f, "deep.SUB.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(f.p.an, 1);
}

/*
 * A zone of 10,000 owners, each owning an A record near the start of the
 * file and a TXT near its end (so one owner's records are far apart),
 * under 100 empty non-terminals: every answer comes through the name
 * index, right.
 */
static void large_zone_by_index(void **state)
{
	enum { NAMES = 10000 };
	static char text[1 << 20];
	static struct fixture f;
	struct hz_errmsg err = {0};
	char name[64];
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	n = (size_t)snprintf(text, sizeof(text),
			     "$TTL 60\n@ SOA a b 1 2 3 4 5\n");
	for (int i = 0; i < NAMES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "h%d.e%d A 10.%d.%d.%d\n", i, i % 100,
				      i >> 16, (i >> 8) & 255, i & 255);
	for (int i = NAMES - 1; i >= 0; i--)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "h%d.e%d TXT \"t%d\"\n", i, i % 100, i);
	if (hz_dns_zone_load(&f.zone, 4u << 20, "big.test.", text, n, &err) !=
	    0)
		fail_msg("%s", hz_errmsg_text(&err));
	assert_int_equal(f.zone.nrr, 2 * NAMES + 1);
	/* Owners, their parents e0..e99, the apex and up: at most 2/3 full. */
	assert_true((f.zone.index_mask + 1) * 2 >= (NAMES + 100 + 3) * 3);
	f.srv.zone = &f.zone;
	for (int i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "H%d.e%d.big.test", i, i % 100);
		ask(&f, name, HZ_DNS_TYPE_A);
		assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
		assert_int_equal(f.p.an, 1);
		assert_int_equal(f.out[f.p.rr[0].rd + 3], i & 255);
		assert_int_equal(f.out[f.p.rr[0].rd + 2], (i >> 8) & 255);
		ask(&f, name, HZ_DNS_TYPE_TXT);
		assert_int_equal(f.p.an, 1);
		assert_int_equal(f.p.rr[0].rdlen,
				 1 + snprintf(name, sizeof(name), "t%d", i));
	}
	ask(&f, "h1.e2.big.test", HZ_DNS_TYPE_A); /* h1 is under e1 */
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	ask(&f, "e42.big.test", HZ_DNS_TYPE_A); /* an empty non-terminal */
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_int_equal(f.p.an, 0);
	ask(&f, "e100.big.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	hz_dns_zone_release(&f.zone);
}

static void cname_chains(void **state)
{
	static struct fixture f;
	struct hz_dns_answer a;
	const char *why = NULL;
	uint8_t name[HZ_DNS_NAME_MAX];
	size_t len;
	uint64_t cut = harness_counter("dns_server", "cname_chain_cut");

	(void)state;
	setup(&f);
	ask(&f, "alias2.haze.test", HZ_DNS_TYPE_A);
	assert_true(AA(&f));
	assert_int_equal(f.p.an, 4);
	assert_int_equal(f.p.rr[0].type, HZ_DNS_TYPE_CNAME);
	assert_int_equal(f.p.rr[1].type, HZ_DNS_TYPE_CNAME);
	assert_memory_equal(f.p.rr[1].name, "\5alias\4haze\4test\0", 17);
	assert_int_equal(f.p.rr[2].type, HZ_DNS_TYPE_A);
	assert_memory_equal(f.p.rr[2].name, "\3www\4haze\4test\0", 15);
	assert_int_equal(
	    hz_dns_response_decode(f.q, f.qlen, f.out, (size_t)f.n, &a, &why),
	    0);
	assert_int_equal(a.cnames, 2);
	assert_int_equal(a.naddrs, 2);

	/* Asked for the CNAME itself: not followed. */
	ask(&f, "alias2.haze.test", HZ_DNS_TYPE_CNAME);
	assert_int_equal(f.p.an, 1);

	/* A chain ending in NODATA: the SOA after the CNAMEs. */
	ask(&f, "alias.haze.test", HZ_DNS_TYPE_MX);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.ns, 1);

	/* Out of the zone: the CNAME only, the client goes on. */
	ask(&f, "ext.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.ns, 0);
	rd_name(f.out, (size_t)f.n, &f.p.rr[0], 0, name, &len);
	assert_memory_equal(name, "\3www\7example\3org\0", 17);

	/* Into a missing name: NXDOMAIN, the CNAME and the SOA (RFC 6604). */
	ask(&f, "dangling.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	assert_true(AA(&f));
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.ns, 1);
	assert_int_equal(f.p.rr[1].type, HZ_DNS_TYPE_SOA);

	/* A loop is cut after HZ_DNS_SERVER_CNAME_MAX links. */
	ask(&f, "loop1.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_int_equal(f.p.an, HZ_DNS_SERVER_CNAME_MAX);
	assert_int_equal(harness_counter("dns_server", "cname_chain_cut"),
			 cut + 1);
}

static void wildcards(void **state)
{
	static struct fixture f;

	(void)state;
	setup(&f);
	/* Synthesized under the name asked, case kept (RFC 4592). */
	query(&f, "X.wild.haze.test", HZ_DNS_TYPE_A, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_true(AA(&f));
	assert_int_equal(f.p.an, 1);
	assert_memory_equal(f.p.rr[0].name, "\1X\4wild\4haze\4test\0", 18);
	assert_memory_equal(f.out + f.p.rr[0].rd, "\12\0\0\143", 4);
	/* Deeper names too: the closest encloser is still wild. */
	ask(&f, "a.b.wild.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(f.p.an, 1);
	assert_memory_equal(f.out + f.p.rr[0].rd, "\12\0\0\143", 4);
	/* Another type at the wildcard: NODATA. */
	ask(&f, "x.wild.haze.test", HZ_DNS_TYPE_MX);
	check_negative(&f, HZ_DNS_NOERROR);
	/* A name that exists is not synthesized... */
	ask(&f, "sub.wild.haze.test", HZ_DNS_TYPE_A);
	assert_memory_equal(f.out + f.p.rr[0].rd, "\12\0\0\7", 4);
	/* ...nor is anything below it: its closest encloser is sub.wild,
	 * which has no wildcard. */
	ask(&f, "b.sub.wild.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NXDOMAIN);
	/* The parent of the wildcard exists, with no data. */
	ask(&f, "wild.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NOERROR);
	/* A wildcard CNAME, followed. */
	ask(&f, "y.wc.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(f.p.an, 3);
	assert_int_equal(f.p.rr[0].type, HZ_DNS_TYPE_CNAME);
	assert_memory_equal(f.p.rr[0].name, "\1y\2wc\4haze\4test\0", 16);
	assert_int_equal(f.p.rr[1].type, HZ_DNS_TYPE_A);
	/* No wildcard above: still NXDOMAIN. */
	ask(&f, "x.nope.haze.test", HZ_DNS_TYPE_A);
	check_negative(&f, HZ_DNS_NXDOMAIN);
}

static void refusals(void **state)
{
	static struct fixture f;
	uint64_t zone = harness_counter("dns_server", "refused_out_of_zone");
	uint64_t cls = harness_counter("dns_server", "refused_class");

	(void)state;
	setup(&f);
	ask(&f, "www.example.org", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_REFUSED);
	assert_false(AA(&f));
	assert_int_equal(f.p.an + f.p.ns + f.p.ar, 0);
	/* A suffix that is not a label boundary is not the zone. */
	ask(&f, "xhaze.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_REFUSED);
	ask(&f, "test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_REFUSED);
	assert_int_equal(harness_counter("dns_server", "refused_out_of_zone"),
			 zone + 3);

	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	hz_put16(f.q + f.qlen - 2, 3); /* CH */
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_REFUSED);
	assert_int_equal(harness_counter("dns_server", "refused_class"),
			 cls + 1);

	/* No zone at all: everything refused. */
	f.srv.zone = NULL;
	ask(&f, "www.haze.test", HZ_DNS_TYPE_A);
	assert_int_equal(RCODE(&f), HZ_DNS_REFUSED);
}

static void any_is_one_hinfo(void **state)
{
	static struct fixture f;

	(void)state;
	setup(&f);
	ask(&f, "www.haze.test", HZ_DNS_TYPE_ANY);
	assert_int_equal(RCODE(&f), HZ_DNS_NOERROR);
	assert_true(AA(&f));
	assert_int_equal(f.p.an, 1);
	assert_int_equal(f.p.rr[0].type, HZ_DNS_TYPE_HINFO);
	assert_int_equal(f.p.rr[0].ttl, 3600);
	assert_int_equal(f.p.rr[0].rdlen, 9);
	assert_memory_equal(f.out + f.p.rr[0].rd, "\7RFC8482\0", 9);
	ask(&f, "nope.haze.test", HZ_DNS_TYPE_ANY);
	check_negative(&f, HZ_DNS_NXDOMAIN);
	/* ANY at a CNAME: the CNAME, then HINFO at its target. */
	ask(&f, "alias.haze.test", HZ_DNS_TYPE_ANY);
	assert_int_equal(f.p.an, 2);
	assert_int_equal(f.p.rr[0].type, HZ_DNS_TYPE_CNAME);
	assert_int_equal(f.p.rr[1].type, HZ_DNS_TYPE_HINFO);
}

static void malformed_and_unsupported(void **state)
{
	static struct fixture f;
	uint64_t formerr = harness_counter("dns_server", "formerr");
	uint64_t xfr = harness_counter("dns_server", "notimp_xfr");
	uint64_t shorts = harness_counter("dns_server", "drop_short");
	uint64_t resp = harness_counter("dns_server", "drop_not_query");

	(void)state;
	setup(&f);
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	/* Too short to answer, or a response: nothing. */
	assert_int_equal(hz_dns_server_answer(&f.srv, f.q, 11, 0, HZ_DNS_UDP, 0,
					      f.out, sizeof(f.out)),
			 0);
	assert_int_equal(harness_counter("dns_server", "drop_short"),
			 shorts + 1);
	f.q[2] |= 0x80;
	assert_int_equal(hz_dns_server_answer(&f.srv, f.q, f.qlen, 0,
					      HZ_DNS_UDP, 0, f.out,
					      sizeof(f.out)),
			 0);
	assert_int_equal(harness_counter("dns_server", "drop_not_query"),
			 resp + 1);
	f.q[2] &= 0x7f;
	assert_int_equal(hz_dns_server_answer(&f.srv, f.q, f.qlen, 0,
					      HZ_DNS_UDP, 0, f.out, 511),
			 -HZ_EINVAL);

	/* Two questions, a cut question, a pointer in it: FORMERR. */
	hz_put16(f.q + 4, 2);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	assert_int_equal(f.p.qd, 0);
	hz_put16(f.q + 4, 1);
	f.qlen -= 3;
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	f.qlen += 3;
	f.q[12] = 0xc0;
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	/* An additional record running off the end. */
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	hz_put16(f.q + 10, 1);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	assert_int_equal(f.p.qd, 1);
	assert_int_equal(harness_counter("dns_server", "formerr"), formerr + 4);

	/* Zone transfers and other opcodes are not implemented. */
	ask(&f, "haze.test", 252);
	assert_int_equal(RCODE(&f), HZ_DNS_NOTIMP);
	assert_false(AA(&f));
	assert_int_equal(harness_counter("dns_server", "notimp_xfr"), xfr + 1);
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	f.q[2] |= 2 << 3; /* opcode STATUS */
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_NOTIMP);
	assert_int_equal((f.p.flags >> 11) & 0xf, 2);
}

/* A zone with a name of 60 addresses: 16 * 60 bytes of answer. */
static const char wide_text[] = "$TTL 60\n@ SOA ns hm 1 2 3 4 5\n";

static void load_wide(struct fixture *f)
{
	static char text[4096];
	struct hz_errmsg err = {0};
	size_t n = strlen(wide_text);

	memset(f, 0, sizeof(*f));
	memcpy(text, wide_text, n);
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "many A 10.1.0.%d\n", i);
	assert_int_equal(hz_dns_zone_parse(&f->zone, zone_mem, sizeof(zone_mem),
					   "w.test.", text, n, &err),
			 0);
	f->srv.zone = &f->zone;
}

static void edns_and_truncation(void **state)
{
	static struct fixture f;
	uint64_t tc = harness_counter("dns_server", "truncated");
	const struct rrv *opt;

	(void)state;
	load_wide(&f);
	/* No EDNS: 512 bytes, so TC and nothing but the question. */
	ask(&f, "many.w.test", HZ_DNS_TYPE_A);
	assert_true(TC(&f));
	assert_true(AA(&f));
	assert_int_equal(f.p.an + f.p.ns + f.p.ar, 0);
	assert_true(f.n <= 512);
	assert_int_equal(harness_counter("dns_server", "truncated"), tc + 1);

	/* EDNS 4096: capped at 1232, which 60 * 16 + 40 fits. */
	query(&f, "many.w.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 4096, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_false(TC(&f));
	assert_int_equal(f.p.an, 60);
	assert_int_equal(f.p.ar, 1);
	assert_true(f.n <= HZ_DNS_EDNS_UDP_MAX);
	opt = &f.p.rr[60];
	assert_int_equal(opt->type, HZ_DNS_TYPE_OPT);
	assert_int_equal(opt->name_len, 1);
	assert_int_equal(opt->class, HZ_DNS_EDNS_UDP_MAX);
	/* Extended RCODE 0, version 0, DO copied (RFC 3225). */
	assert_int_equal(opt->ttl, 0x8000);

	/* EDNS 700: TC, but the OPT still there. */
	query(&f, "many.w.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 700, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_true(TC(&f));
	assert_int_equal(f.p.an, 0);
	assert_int_equal(f.p.ar, 1);
	assert_int_equal(f.p.rr[0].type, HZ_DNS_TYPE_OPT);

	/* Below 512 counts as 512: a small answer still fits. */
	query(&f, "w.test", HZ_DNS_TYPE_SOA, 0);
	add_opt(&f, 100, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_false(TC(&f));
	assert_int_equal(f.p.an, 1);

	/* Over TCP the whole answer, whatever the EDNS size. */
	query(&f, "many.w.test", HZ_DNS_TYPE_A, 0);
	ask_over(&f, HZ_DNS_TCP);
	assert_false(TC(&f));
	assert_int_equal(f.p.an, 60);
	assert_true(f.n > HZ_DNS_EDNS_UDP_MAX - 300);
}

/* A chain of long CNAMEs into a missing name: TC keeps the NXDOMAIN. */
static void truncation_keeps_rcode(void **state)
{
	static struct fixture f;
	static char text[2048];
	struct hz_errmsg err = {0};
	char label[64];
	size_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(label, 'l', 60);
	label[60] = '\0';
	n = (size_t)snprintf(text, sizeof(text),
			     "$TTL 60\n@ SOA ns hm 1 2 3 4 5\nc0 CNAME c1%s\n",
			     label);
	for (int i = 1; i < 7; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "c%d%s CNAME c%d%s\n", i, label, i + 1,
				      label);
	assert_int_equal(hz_dns_zone_parse(&f.zone, zone_mem, sizeof(zone_mem),
					   "t.test.", text, n, &err),
			 0);
	f.srv.zone = &f.zone;
	ask(&f, "c0.t.test", HZ_DNS_TYPE_A);
	assert_true(TC(&f));
	assert_true(AA(&f));
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	assert_int_equal(f.p.an + f.p.ns, 0);
	query(&f, "c0.t.test", HZ_DNS_TYPE_A, 0);
	ask_over(&f, HZ_DNS_TCP);
	assert_false(TC(&f));
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	assert_int_equal(f.p.an, 7);
	assert_int_equal(f.p.ns, 1);
}

static void edns_errors(void **state)
{
	static struct fixture f;
	uint64_t badvers = harness_counter("dns_server", "badvers");

	(void)state;
	setup(&f);
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 1232, 1);
	ask_over(&f, HZ_DNS_UDP);
	/* BADVERS is 16: 0 in the header, 1 in the OPT's top bits. */
	assert_int_equal(RCODE(&f), 0);
	assert_int_equal(f.p.an, 0);
	assert_int_equal(f.p.ar, 1);
	assert_int_equal(f.p.rr[0].ttl >> 24, HZ_DNS_BADVERS >> 4);
	assert_int_equal(harness_counter("dns_server", "badvers"), badvers + 1);

	/* Two OPTs: FORMERR, without an OPT (RFC 6891 6.1.1). */
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 1232, 0);
	add_opt(&f, 1232, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	assert_int_equal(f.p.ar, 0);
	/* An OPT not owned by the root. */
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 1232, 0);
	memmove(f.q + f.qlen - 10, f.q + f.qlen - 11, 11);
	f.q[f.qlen - 11] = 0xc0;
	f.q[f.qlen - 10] = 12;
	f.qlen++;
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
	/* Options in the OPT's RDATA: whole ones answer (a cookie, a
	 * padding of none), one whose length runs past the RDATA is
	 * FORMERR (RFC 6891 6.1.2), as is a stray byte after the last. */
	for (int k = 0; k < 3; k++) {
		static const uint8_t whole[] = {0, 10, 0, 8, 1, 2,  3, 4,
						5, 6,  7, 8, 0, 12, 0, 0};
		static const uint8_t past[] = {0, 12, 0, 9, 0, 0, 0, 0};
		static const uint8_t stray[] = {0, 12, 0, 0, 7};
		const uint8_t *rd = k == 0 ? whole : k == 1 ? past : stray;
		size_t rdlen = k == 0	? sizeof(whole)
			       : k == 1 ? sizeof(past)
					: sizeof(stray);
		query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
		add_opt(&f, 1232, 0);
		hz_put16(f.q + f.qlen - 2, (uint16_t)rdlen);
		memcpy(f.q + f.qlen, rd, rdlen);
		f.qlen += rdlen;
		ask_over(&f, HZ_DNS_UDP);
		assert_int_equal(RCODE(&f), k == 0 ? 0 : HZ_DNS_FORMERR);
		if (k == 0)
			assert_int_equal(f.p.an, 2); /* www has two A records */
	}
	/* A question of 120 labels (more than the compression table). */
	memset(f.q, 0, 12);
	hz_put16(f.q, 0x1234);
	f.q[5] = 1;
	f.qlen = 12;
	for (int i = 0; i < 120; i++) {
		f.q[f.qlen++] = 1;
		f.q[f.qlen++] = 'x';
	}
	memcpy(f.q + f.qlen, "\4haze\4test\0\0\1\0\1", 15);
	f.qlen += 15;
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_NXDOMAIN);
	assert_int_equal(f.p.ns, 1);
	/* A query for type OPT. */
	query(&f, "www.haze.test", HZ_DNS_TYPE_OPT, 0);
	ask_over(&f, HZ_DNS_UDP);
	assert_int_equal(RCODE(&f), HZ_DNS_FORMERR);
}

/* --- the rate limiter ----------------------------------------------------- */

static void rrl_buckets(void **state)
{
	static struct hz_dns_rrl r;
	const uint64_t s = 1000000000ull;
	unsigned pass = 0, slip = 0, drop = 0;

	(void)state;
	hz_dns_rrl_init(&r, 10, 5, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 1), 0),
				 HZ_DNS_RRL_PASS);
	/* The same /24 shares the bucket; every 3rd over the limit slips. */
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 200), 0),
			 HZ_DNS_RRL_DROP);
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 1), 0),
			 HZ_DNS_RRL_DROP);
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 1), 0),
			 HZ_DNS_RRL_SLIP);
	/* Another /24 has its own. */
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 3, 1), 0),
			 HZ_DNS_RRL_PASS);
	/* 100 ms later, one more token at 10 per second. */
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 1), s / 10),
			 HZ_DNS_RRL_PASS);
	assert_int_equal(hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 1), s / 10),
			 HZ_DNS_RRL_DROP);
	/* Ten seconds at 1000 queries per second: about 10 per second. */
	for (uint64_t t = s; t < 11 * s; t += s / 1000) {
		switch (hz_dns_rrl_take(&r, HZ_IPV4(192, 0, 2, 7), t)) {
		case HZ_DNS_RRL_PASS:
			pass++;
			break;
		case HZ_DNS_RRL_SLIP:
			slip++;
			break;
		case HZ_DNS_RRL_DROP:
			drop++;
			break;
		}
	}
	assert_true(pass >= 100 && pass <= 106);
	assert_true(slip >= (10000 - pass) / 3 - 1 &&
		    slip <= (10000 - pass) / 3 + 1);
	assert_int_equal(pass + slip + drop, 10000);

	/* No limit at all. */
	hz_dns_rrl_init(&r, UINT32_MAX, 1, 1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(hz_dns_rrl_take(&r, 1, 0), HZ_DNS_RRL_PASS);
}

static void rrl_table_bounded(void **state)
{
	static struct hz_dns_rrl r;
	uint64_t evict = harness_counter("dns_server", "rrl_evict");
	size_t used = 0;

	(void)state;
	hz_dns_rrl_init(&r, 1, 1, 1);
	/* Twice as many prefixes as slots: each set keeps its newest. */
	for (uint32_t i = 0; i < 2 * HZ_DNS_RRL_SLOTS; i++)
		assert_int_equal(
		    hz_dns_rrl_take(&r, HZ_IPV4(10, 0, 0, 0) + (i << 8), i),
		    HZ_DNS_RRL_PASS);
	for (size_t i = 0; i < HZ_DNS_RRL_SLOTS; i++)
		used += r.slot[i].used;
	assert_true(used > HZ_DNS_RRL_SLOTS / 2);
	assert_int_equal(harness_counter("dns_server", "rrl_evict") - evict,
			 2 * HZ_DNS_RRL_SLOTS - used);
	/* The last prefix is still there, its bucket empty. */
	assert_int_equal(hz_dns_rrl_take(&r,
					 HZ_IPV4(10, 0, 0, 0) +
					     ((2 * HZ_DNS_RRL_SLOTS - 1) << 8),
					 2 * HZ_DNS_RRL_SLOTS),
			 HZ_DNS_RRL_SLIP);
}

static void server_rate_limits(void **state)
{
	static struct fixture f;
	static struct hz_dns_rrl r;
	uint64_t drops = harness_counter("dns_server", "rrl_drop"),
		 slips = harness_counter("dns_server", "rrl_slip");
	hz_ipv4_t src = HZ_IPV4(198, 51, 100, 9);
	int n;

	(void)state;
	setup(&f);
	hz_dns_rrl_init(&r, 1, 2, 2);
	f.srv.rrl = &r;
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	for (int i = 0; i < 2; i++) {
		n = hz_dns_server_answer(&f.srv, f.q, f.qlen, src, HZ_DNS_UDP,
					 0, f.out, sizeof(f.out));
		assert_true(n > (int)f.qlen);
	}
	n = hz_dns_server_answer(&f.srv, f.q, f.qlen, src, HZ_DNS_UDP, 0, f.out,
				 sizeof(f.out));
	assert_int_equal(n, 0);
	assert_int_equal(harness_counter("dns_server", "rrl_drop"), drops + 1);
	/* The slip: the question and TC, not AA, smaller than the query's
	 * answer, so a spoofed victim gets nothing amplified. */
	n = hz_dns_server_answer(&f.srv, f.q, f.qlen, src, HZ_DNS_UDP, 0, f.out,
				 sizeof(f.out));
	assert_int_equal(n, (int)f.qlen);
	parse_msg(f.out, (size_t)n, &f.p);
	assert_true(TC(&f));
	assert_false(AA(&f));
	assert_int_equal(f.p.an, 0);
	assert_int_equal(harness_counter("dns_server", "rrl_slip"), slips + 1);
	/* A slipped answer keeps its whole rcode: BADVERS (16) has 1 in the
	 * OPT's top bits, not NOERROR. */
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 1232, 1);
	n = 0;
	for (int i = 0; i < 4 && !(n > 0 && TC(&f)); i++) {
		n = hz_dns_server_answer(&f.srv, f.q, f.qlen, src, HZ_DNS_UDP,
					 0, f.out, sizeof(f.out));
		if (n > 0)
			parse_msg(f.out, (size_t)n, &f.p);
	}
	assert_true(n > 0 && TC(&f));
	assert_int_equal(RCODE(&f), 0);
	assert_int_equal(f.p.ar, 1);
	assert_int_equal(f.p.rr[0].ttl >> 24, HZ_DNS_BADVERS >> 4);
	/* TCP is not limited. */
	query(&f, "www.haze.test", HZ_DNS_TYPE_A, 0);
	n = hz_dns_server_answer(&f.srv, f.q, f.qlen, src, HZ_DNS_TCP, 0, f.out,
				 sizeof(f.out));
	assert_true(n > (int)f.qlen);
}

static void tcp_framing(void **state)
{
	uint8_t buf[600], hdr[2];
	size_t start = 0;

	(void)state;
	hz_dns_tcp_prefix(hdr, 300);
	assert_int_equal(hdr[0], 1);
	assert_int_equal(hdr[1], 44);
	memcpy(buf, hdr, 2);
	assert_int_equal(hz_dns_tcp_frame(buf, 1, &start), 0);
	assert_int_equal(hz_dns_tcp_frame(buf, 301, &start), 0);
	assert_int_equal(hz_dns_tcp_frame(buf, 302, &start), 300);
	assert_int_equal(start, 2);
	assert_int_equal(hz_dns_tcp_frame(buf, 600, &start), 300);
	buf[0] = buf[1] = 0;
	assert_int_equal(hz_dns_tcp_frame(buf, 2, &start), -HZ_EPROTO);
}

/* Every prefix of a valid query, and every byte changed, answered safely. */
static void queries_mangled(void **state)
{
	static struct fixture f;
	uint8_t q[HZ_DNS_QUERY_MAX + 11];
	size_t qlen;

	(void)state;
	setup(&f);
	query(&f, "alias2.haze.test", HZ_DNS_TYPE_A, 0);
	add_opt(&f, 1232, 0);
	memcpy(q, f.q, f.qlen);
	qlen = f.qlen;
	for (size_t len = 0; len <= qlen; len++) {
		int n = hz_dns_server_answer(&f.srv, q, len, 1, HZ_DNS_UDP, 0,
					     f.out, 512);

		assert_true(n >= 0 && n <= 512);
		if (n > 0)
			parse_msg(f.out, (size_t)n, &f.p);
	}
	for (size_t i = 0; i < qlen; i++) {
		for (unsigned v = 0; v < 256; v += 7) {
			int n;

			memcpy(f.q, q, qlen);
			f.q[i] = (uint8_t)v;
			n = hz_dns_server_answer(&f.srv, f.q, qlen, 1,
						 HZ_DNS_UDP, 0, f.out, 512);
			assert_true(n >= 0 && n <= 512);
			if (n > 0)
				parse_msg(f.out, (size_t)n, &f.p);
		}
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(parses_every_type),
	    HARNESS_TEST(ipv6_forms),
	    HARNESS_TEST(errors_name_the_line),
	    HARNESS_TEST(names_need_an_origin),
	    HARNESS_TEST(memory_bounds),
	    HARNESS_TEST(heap_zone_grows),
	    HARNESS_TEST(large_zone_by_index),
	    HARNESS_TEST(answers_addresses),
	    HARNESS_TEST(answers_names_compressed),
	    HARNESS_TEST(negative_answers),
	    HARNESS_TEST(cname_chains),
	    HARNESS_TEST(wildcards),
	    HARNESS_TEST(refusals),
	    HARNESS_TEST(any_is_one_hinfo),
	    HARNESS_TEST(malformed_and_unsupported),
	    HARNESS_TEST(edns_and_truncation),
	    HARNESS_TEST(truncation_keeps_rcode),
	    HARNESS_TEST(edns_errors),
	    HARNESS_TEST(rrl_buckets),
	    HARNESS_TEST(rrl_table_bounded),
	    HARNESS_TEST(server_rate_limits),
	    HARNESS_TEST(tcp_framing),
	    HARNESS_TEST(queries_mangled),
	};

	return HARNESS_RUN("dns_server", tests);
}
