/*
 * The DNS wire format (src/dns/dns_wire.c): the query encoder against
 * hand-assembled bytes; the response decoder on responses captured from
 * dnsmasq 2.90 (an A record, the same with 0x20 case, a CNAME, NXDOMAIN,
 * REFUSED) and built by hand (CNAME chains, every malformation the
 * decoder must refuse: compression loops, forward pointers, pointers into
 * the header or off the end, reserved label types, names over 255 bytes,
 * RDLENGTH past the end, A records of the wrong size, chains too long);
 * EDNS0: the OPT a query carries, and OPTs in responses (the extended
 * RCODE, after many answers or an authority record, broken ones refused,
 * a cut additional section tolerated); answers as large as TCP brings;
 * every prefix of every valid response, and every byte of one changed to
 * every value, decoded without a crash and with promises kept.
 */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>

#include "haze/dns.h"

/* --- messages ------------------------------------------------------------- */

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put8(struct msg *m, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(m, &b, 1);
}

static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

/* Labels of a dotted name, then a root label unless @ptr: a pointer. */
static void put_name(struct msg *m, const char *name, int ptr)
{
	while (*name != '\0') {
		size_t l = strcspn(name, ".");

		put8(m, (unsigned)l);
		put(m, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	if (ptr >= 0)
		put16(m, 0xc000u | (unsigned)ptr);
	else
		put8(m, 0);
}

/* A record header: type, class IN, TTL, RDLENGTH. */
static void put_rr(struct msg *m, unsigned type, uint32_t ttl, unsigned rdlen)
{
	put16(m, type);
	put16(m, HZ_DNS_CLASS_IN);
	put32(m, ttl);
	put16(m, rdlen);
}

/* Starts a response to @q (@qlen) with @an answers and @rcode. */
static void response(struct msg *m, const uint8_t *q, size_t qlen, unsigned an,
		     unsigned rcode)
{
	m->n = 0;
	put(m, q, qlen);
	m->b[2] = 0x81;
	m->b[3] = (uint8_t)(0x80 | rcode);
	m->b[7] = (uint8_t)an;
}

static size_t query(uint8_t *q, const char *name, uint16_t id)
{
	int n = hz_dns_query_encode(q, HZ_DNS_QUERY_MAX, id, name,
				    HZ_DNS_TYPE_A, 0);

	assert_true(n > 0);
	return (size_t)n;
}

static int decode(const uint8_t *q, size_t qlen, const struct msg *m,
		  struct hz_dns_answer *a, const char **why)
{
	return hz_dns_response_decode(q, qlen, m->b, m->n, a, why);
}

/* Decodes @m, expecting a refusal for @reason. */
static void refused(const uint8_t *q, size_t qlen, const struct msg *m,
		    const char *reason)
{
	struct hz_dns_answer a;
	const char *why;

	assert_int_equal(decode(q, qlen, m, &a, &why), -HZ_EPROTO);
	assert_string_equal(why, reason);
}

/* --- the encoder ---------------------------------------------------------- */

static void query_bytes_known_answer(void **state)
{
	static const uint8_t want[] = {
	    0xbe, 0xef, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 3,	'w',  'w',  'w',  4,	'h',  'a',  'z',  'e',	4,
	    't',  'e',	's',  't',  0,	  0x00, 0x01, 0x00, 0x01,
	};
	uint8_t q[HZ_DNS_QUERY_MAX];

	(void)state;
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 0xbeef,
					     "www.haze.test", HZ_DNS_TYPE_A, 0),
			 sizeof(want));
	assert_memory_equal(q, want, sizeof(want));
	/* A trailing dot is the same name. */
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 0xbeef,
					     "www.haze.test.", HZ_DNS_TYPE_A,
					     0),
			 sizeof(want));
	assert_memory_equal(q, want, sizeof(want));
	/* 0x20: bit i flips the i-th letter; digits and '-' have none. */
	assert_int_equal(
	    hz_dns_query_encode(q, sizeof(q), 1, "a-1b.Cd", HZ_DNS_TYPE_A, 0x7),
	    12 + 9 + 4);
	assert_memory_equal(q + 12, "\4A-1B\2cd", 9);
	assert_int_equal(
	    hz_dns_query_encode(q, sizeof(q), 1, "a.b", HZ_DNS_TYPE_AAAA, 0),
	    12 + 5 + 4);
	assert_int_equal(q[12 + 5 + 1], HZ_DNS_TYPE_AAAA);
}

static void query_refuses_bad_names(void **state)
{
	static const char *const bad[] = {
	    "",	   ".",	  "a..b", ".a", "a b", "a\\b", "exa\x80mple.org",
	    "a:b", "a/b",
	};
	uint8_t q[HZ_DNS_QUERY_MAX], small[20];
	char name[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hz_dns_query_encode(q, sizeof(q), 1, bad[i],
						     HZ_DNS_TYPE_A, 0),
				 -HZ_EINVAL);
	/* A label of 63 passes, 64 does not. */
	memset(name, 'a', 64);
	name[63] = '\0';
	assert_true(hz_dns_query_encode(q, sizeof(q), 1, name, 1, 0) > 0);
	name[63] = 'a';
	name[64] = '\0';
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 1, name, 1, 0),
			 -HZ_EINVAL);
	/* 253 characters (255 bytes of wire) pass, 254 do not. */
	for (size_t i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'x';
	name[253] = '\0';
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 1, name, 1, 0),
			 12 + 255 + 4);
	name[253] = 'y';
	name[254] = '\0';
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 1, name, 1, 0),
			 -HZ_EINVAL);
	assert_int_equal(
	    hz_dns_query_encode(small, sizeof(small), 1, "www.haze.test", 1, 0),
	    -HZ_ENOSPC);
}

/* --- captured from dnsmasq ------------------------------------------------ */

static void dnsmasq_answers_known(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	struct hz_dns_answer a;
	struct msg m;
	const char *why;
	char text[HZ_DNS_TEXT_MAX];
	size_t qlen;

	(void)state;
	/* dig-style: www.haze.test A -> 127.0.0.1, TTL 300. */
	qlen = query(q, "www.haze.test", 0xbeef);
	m.n = harness_unhex(
	    "beef85800001000100000000037777770468617a65047465737400"
	    "00010001c00c000100010000012c00047f000001",
	    m.b);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.rcode, HZ_DNS_NOERROR);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.addrs[0], HZ_IPV4(127, 0, 0, 1));
	assert_int_equal(a.ttl, 300);
	assert_int_equal(a.cnames, 0);
	assert_string_equal(
	    hz_dns_name_text(a.canon, a.canon_len, text, sizeof(text)),
	    "www.haze.test");

	/* The same with 0x20 case: dnsmasq echoes it. */
	assert_int_equal(hz_dns_query_encode(q, sizeof(q), 0x1234,
					     "www.haze.test", 1, 0x02ad),
			 (int)qlen);
	assert_memory_equal(q + 12, "\3WwW\4HaZe\4TeSt", 14);
	m.n = harness_unhex(
	    "123485800001000100000000035777570448615a65045465537400"
	    "00010001c00c000100010000012c00047f000001",
	    m.b);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.addrs[0], HZ_IPV4(127, 0, 0, 1));
	/* The answer to the lower-case question is not ours. */
	m.b[13] = 'w';
	refused(q, qlen, &m, "question mismatch");

	/* alias.example.test CNAME real.example.test A 10.1.2.3. */
	qlen = query(q, "alias.example.test", 0x4242);
	m.n = harness_unhex(
	    "42428580000100020000000005616c696173076578616d706c6504"
	    "746573740000010001c00c000500010000012c0013047265616c07"
	    "6578616d706c65047465737400c030000100010000012c00040a01"
	    "0203",
	    m.b);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.addrs[0], HZ_IPV4(10, 1, 2, 3));
	assert_int_equal(a.cnames, 1);
	assert_string_equal(
	    hz_dns_name_text(a.canon, a.canon_len, text, sizeof(text)),
	    "real.example.test");

	/* host.nx.test: NXDOMAIN; unknown.other: REFUSED. */
	qlen = query(q, "host.nx.test", 0x0707);
	m.n = harness_unhex(
	    "07078183000100000000000004686f7374026e7804746573740000"
	    "010001",
	    m.b);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.rcode, HZ_DNS_NXDOMAIN);
	assert_int_equal(a.naddrs, 0);
	assert_string_equal(hz_dns_rcode_name(a.rcode), "NXDOMAIN");
	qlen = query(q, "unknown.other", 0x0909);
	m.n = harness_unhex(
	    "09098185000100000000000007756e6b6e6f776e056f7468657200"
	    "00010001",
	    m.b);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.rcode, HZ_DNS_REFUSED);
	assert_string_equal(hz_dns_rcode_name(a.rcode), "REFUSED");
	assert_string_equal(hz_dns_rcode_name(11), "RCODE?");
}

/* --- built by hand -------------------------------------------------------- */

static void chains_ttls_and_other_records(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	struct hz_dns_answer a;
	struct msg m;
	const char *why;
	size_t qlen = query(q, "www.haze.test", 7);

	(void)state;
	/*
	 * www CNAME a.haze.test (TTL 100), an AAAA and a CH-class A for it,
	 * a CNAME for another name, a CNAME a -> B.HAZE.TEST (case differs),
	 * b A 10.0.0.9 TTL 50 and 10.0.0.10 TTL 70, an A of another name.
	 */
	response(&m, q, qlen, 8, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 100, 4);
	put_name(&m, "a", 16);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_AAAA, 5, 16);
	put(&m, "0123456789abcdef", 16);
	put16(&m, 0xc00c);
	put16(&m, HZ_DNS_TYPE_A);
	put16(&m, 3); /* CH */
	put32(&m, 5);
	put16(&m, 4);
	put32(&m, 0x01010101);
	put_name(&m, "other", 16);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 5, 4);
	put_name(&m, "x", 16);
	put_name(&m, "A", 16);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 200, 4);
	put_name(&m, "B", 16);
	put_name(&m, "b", 16);
	put_rr(&m, HZ_DNS_TYPE_A, 50, 4);
	put32(&m, HZ_IPV4(10, 0, 0, 9));
	put_name(&m, "b", 16);
	put_rr(&m, HZ_DNS_TYPE_A, 70, 4);
	put32(&m, HZ_IPV4(10, 0, 0, 10));
	put_name(&m, "c", 16);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, HZ_IPV4(10, 0, 0, 11));
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.cnames, 2);
	assert_int_equal(a.naddrs, 2);
	assert_int_equal(a.addrs[0], HZ_IPV4(10, 0, 0, 9));
	assert_int_equal(a.addrs[1], HZ_IPV4(10, 0, 0, 10));
	assert_int_equal(a.ttl, 50);

	/* A TTL with its top bit set counts as 0; addresses stop at 8. */
	response(&m, q, qlen, 10, 0);
	for (unsigned i = 0; i < 10; i++) {
		put16(&m, 0xc00c);
		put_rr(&m, HZ_DNS_TYPE_A, i == 3 ? 0x80000000u : 60, 4);
		put32(&m, HZ_IPV4(10, 0, 1, i));
	}
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.naddrs, HZ_DNS_ADDRS_MAX);
	assert_int_equal(a.ttl, 0);

	/* A CNAME to nowhere: no address, the alias named. */
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 100, 4);
	put_name(&m, "z", 16);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_int_equal(a.naddrs, 0);
	assert_int_equal(a.cnames, 1);
	assert_int_equal(a.canon_len, 2 + 11);

	/* Truncated (TC) with half a record: what came whole counts. */
	response(&m, q, qlen, 2, 0);
	m.b[2] |= 0x02;
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 60, 4);
	put32(&m, HZ_IPV4(10, 0, 2, 1));
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 60, 4);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_true(a.truncated);
	assert_int_equal(a.naddrs, 1);
	/* Without TC, the same is malformed. */
	m.b[2] &= (uint8_t)~0x02;
	refused(q, qlen, &m, "RDLENGTH runs past the message");
}

static void cname_chain_bounds(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	struct hz_dns_answer a;
	struct msg m;
	const char *why;
	size_t qlen = query(q, "n.test", 9);
	char owner[8], target[8];

	(void)state;
	/* n -> c1 -> ... -> c8 -> A: 8 links pass. */
	for (unsigned links = 8; links <= 9; links++) {
		response(&m, q, qlen, links + 1, 0);
		for (unsigned i = 0; i < links; i++) {
			snprintf(owner, sizeof(owner), i ? "c%u" : "n", i);
			snprintf(target, sizeof(target), "c%u", i + 1);
			put_name(&m, owner, 14);
			put_rr(&m, HZ_DNS_TYPE_CNAME, 60, 2 + 2 + 1);
			put_name(&m, target, 14);
		}
		snprintf(owner, sizeof(owner), "c%u", links);
		put_name(&m, owner, 14);
		put_rr(&m, HZ_DNS_TYPE_A, 60, 4);
		put32(&m, HZ_IPV4(10, 0, 0, 8));
		if (links == 8) {
			assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
			assert_int_equal(a.cnames, 8);
			assert_int_equal(a.addrs[0], HZ_IPV4(10, 0, 0, 8));
		} else {
			refused(q, qlen, &m, "CNAME chain too long");
		}
	}
	/* A loop n -> m -> n ends at the bound too. */
	response(&m, q, qlen, 2, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 60, 4);
	put_name(&m, "m", 14);
	put_name(&m, "m", 14);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 60, 2);
	put16(&m, 0xc00c);
	refused(q, qlen, &m, "CNAME chain too long");
	/* A CNAME whose name overruns its RDLENGTH. */
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 60, 2);
	put_name(&m, "m", 14);
	refused(q, qlen, &m, "name runs past the message");
	/* ... or stops short of it. */
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_CNAME, 60, 6);
	put_name(&m, "m", 14);
	put16(&m, 0);
	refused(q, qlen, &m, "CNAME RDLENGTH does not match its name");
}

static void malformed_responses_refused(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	struct msg m;
	size_t qlen = query(q, "www.haze.test", 0x5151), at;

	(void)state;
	response(&m, q, 11, 0, 0);
	refused(q, qlen, &m, "shorter than a header");
	response(&m, q, qlen, 0, 0);
	m.b[1] ^= 1;
	refused(q, qlen, &m, "ID mismatch");
	response(&m, q, qlen, 0, 0);
	m.b[2] &= 0x7f;
	refused(q, qlen, &m, "not a response");
	response(&m, q, qlen, 0, 0);
	m.b[2] |= 0x10;
	refused(q, qlen, &m, "opcode is not QUERY");
	response(&m, q, qlen, 0, 0);
	m.b[5] = 2;
	refused(q, qlen, &m, "question count is not 1");
	response(&m, q, qlen - 1, 0, 0);
	refused(q, qlen, &m, "question runs past the message");
	response(&m, q, qlen, 0, 0);
	m.b[qlen - 3] = 28; /* AAAA */
	refused(q, qlen, &m, "question mismatch");

	/* An owner name pointing at itself, or forward, or at the header. */
	response(&m, q, qlen, 1, 0);
	at = m.n;
	put16(&m, 0xc000u | (unsigned)at);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	refused(q, qlen, &m, "compression pointer forward or in a loop");
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc000u | (unsigned)(m.n + 2));
	put8(&m, 0);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	refused(q, qlen, &m, "compression pointer forward or in a loop");
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc002);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	refused(q, qlen, &m, "compression pointer into the header");
	/* Two names pointing at each other: A -> B's labels -> A. */
	response(&m, q, qlen, 2, 0);
	at = m.n;
	put_name(&m, "x", (int)(at + 18));
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	put_name(&m, "y", (int)at);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	refused(q, qlen, &m, "compression pointer forward or in a loop");
	/* A pointer cut in half, a label off the end, a reserved type. */
	response(&m, q, qlen, 1, 0);
	put8(&m, 0xc0);
	refused(q, qlen, &m, "name runs past the message");
	response(&m, q, qlen, 1, 0);
	put8(&m, 10);
	put(&m, "abc", 3);
	refused(q, qlen, &m, "label runs past the message");
	response(&m, q, qlen, 1, 0);
	put8(&m, 0x41);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
	put32(&m, 1);
	refused(q, qlen, &m, "reserved label type");
	/* No room for the fixed part; RDLENGTH past the end; A of 5 bytes. */
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put16(&m, 1);
	refused(q, qlen, &m, "record runs past the message");
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 200);
	put32(&m, 1);
	refused(q, qlen, &m, "RDLENGTH runs past the message");
	response(&m, q, qlen, 1, 0);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 1, 5);
	put32(&m, 1);
	put8(&m, 1);
	refused(q, qlen, &m, "A record RDLENGTH is not 4");
}

static void names_over_255_refused(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	char label[64];
	struct msg m;
	size_t qlen = query(q, "www.haze.test", 3), prev;

	(void)state;
	memset(label, 'l', 63);
	label[63] = '\0';
	/*
	 * Names chained backwards by pointers, each adding a 63-byte label:
	 * 4 x 64 + the 15 of www.haze.test is over 255.
	 */
	response(&m, q, qlen, 4, 0);
	prev = 12;
	for (int i = 0; i < 4; i++) {
		size_t here = m.n;

		put_name(&m, label, (int)prev);
		put_rr(&m, HZ_DNS_TYPE_A, 1, 4);
		put32(&m, 1);
		prev = here;
	}
	refused(q, qlen, &m, "name longer than 255 bytes");
}

/* --- EDNS0 ---------------------------------------------------------------- */

/* An OPT record offering @size, extended RCODE bits @ext, owner @root. */
static void put_opt(struct msg *m, unsigned size, unsigned ext, bool root)
{
	if (root)
		put8(m, 0);
	else
		put_name(m, "haze", -1);
	put16(m, HZ_DNS_TYPE_OPT);
	put16(m, size);
	put32(m, (uint32_t)ext << 24);
	put16(m, 0);
}

/* The query of @name with an OPT offering 1232 bytes, in @eq. */
static size_t query_edns(uint8_t *eq, const char *name, uint16_t id)
{
	size_t n = query(eq, name, id);
	int r = hz_dns_query_add_edns(eq, n, HZ_DNS_QUERY_MAX,
				      HZ_DNS_EDNS_UDP_OFFER);

	assert_int_equal(r, (int)(n + HZ_DNS_EDNS_OPT_LEN));
	return (size_t)r;
}

static void edns_query_known_answer(void **state)
{
	static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
	uint8_t q[HZ_DNS_QUERY_MAX], small[40];
	size_t qlen = query(q, "www.haze.test", 0xbeef);
	int r;

	(void)state;
	memcpy(small, q, qlen);
	/* One byte short of room: refused, the query untouched. */
	assert_int_equal(hz_dns_query_add_edns(small, qlen, qlen + 10, 1232),
			 -HZ_ENOSPC);
	assert_int_equal(small[11], 0);
	r = hz_dns_query_add_edns(q, qlen, sizeof(q), 1232);
	assert_int_equal(r, (int)(qlen + 11));
	assert_int_equal(q[10], 0);
	assert_int_equal(q[11], 1); /* ARCOUNT */
	assert_memory_equal(q + qlen, opt, sizeof(opt));
	/* The longest name still fits in HZ_DNS_QUERY_MAX with its OPT. */
	{
		char name[HZ_DNS_TEXT_MAX];
		uint8_t big[HZ_DNS_QUERY_MAX];
		size_t n;

		memset(name, 'a', sizeof(name) - 1);
		for (size_t i = 63; i < sizeof(name) - 1; i += 64)
			name[i] = '.';
		name[sizeof(name) - 1] = '\0';
		n = query(big, name, 1);
		assert_int_equal(
		    hz_dns_query_add_edns(big, n, sizeof(big), 512),
		    (int)(n + 11));
	}
}

static void opt_in_responses(void **state)
{
	uint8_t q[HZ_DNS_QUERY_MAX], eq[HZ_DNS_QUERY_MAX];
	size_t qlen = query(q, "www.haze.test", 0xbeef);
	size_t eqlen = query_edns(eq, "www.haze.test", 0xbeef);
	struct hz_dns_answer a;
	const char *why;
	struct msg m;

	(void)state;
	/* An answer, then the OPT: read with either query. */
	response(&m, q, qlen, 1, 0);
	m.b[11] = 1;
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 300, 4);
	put32(&m, 0x0a000001);
	put_opt(&m, 4096, 0, true);
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_true(a.edns);
	assert_int_equal(a.edns_udp, 4096);
	assert_int_equal(a.rcode, HZ_DNS_NOERROR);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.addrs[0], 0x0a000001);
	assert_int_equal(decode(q, qlen, &m, &a, &why), 0);
	assert_true(a.edns);

	/* The OPT's extended RCODE joins the header's: 1 << 4 is BADVERS. */
	response(&m, q, qlen, 0, 0);
	m.b[11] = 1;
	put_opt(&m, 1232, 1, true);
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_int_equal(a.rcode, 16);
	assert_string_equal(hz_dns_rcode_name(a.rcode), "BADVERS");
	response(&m, q, qlen, 0, HZ_DNS_REFUSED);
	m.b[11] = 1;
	put_opt(&m, 1232, 0xff, true);
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_int_equal(a.rcode, 0xff5);

	/* Past an answer and an authority record, still found. */
	response(&m, q, qlen, 1, 0);
	m.b[9] = 1;
	m.b[11] = 1;
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 300, 4);
	put32(&m, 0x0a000002);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_SOA, 300, 0);
	put_opt(&m, 1400, 2, true);
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_true(a.edns);
	assert_int_equal(a.edns_udp, 1400);
	assert_int_equal(a.rcode, 32);
	/* The same OPT counted as an authority record is not the OPT. */
	m.b[9] = 2;
	m.b[11] = 0;
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_false(a.edns);
	assert_int_equal(a.rcode, 0);

	/* Broken OPTs make the response malformed. */
	response(&m, q, qlen, 0, 0);
	m.b[11] = 1;
	put_opt(&m, 1232, 0, false);
	refused(eq, eqlen, &m, "OPT record not owned by the root");
	response(&m, q, qlen, 0, 0);
	m.b[11] = 2;
	put_opt(&m, 1232, 0, true);
	put_opt(&m, 1232, 0, true);
	refused(eq, eqlen, &m, "more than one OPT record");

	/* Additional records that do not fit end the walk, not the decode:
	 * a stub needs nothing from them but the OPT. */
	response(&m, q, qlen, 0, 0);
	m.b[11] = 3;
	put_opt(&m, 1232, 0, true);
	put16(&m, 0xc00c);
	put_rr(&m, HZ_DNS_TYPE_A, 300, 40); /* RDATA missing */
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_true(a.edns);
	response(&m, q, qlen, 0, 0);
	m.b[11] = 1; /* a server echoing our ARCOUNT with no record */
	assert_int_equal(decode(eq, eqlen, &m, &a, &why), 0);
	assert_false(a.edns);
}

static void tcp_sized_answers(void **state)
{
	uint8_t eq[HZ_DNS_QUERY_MAX];
	size_t eqlen = query_edns(eq, "www.haze.test", 0x0102);
	struct hz_dns_answer a;
	const char *why;
	uint8_t *big;
	size_t n;

	(void)state;
	/*
	 * 100 A records (more than HZ_DNS_RR_MAX are looked at) and an OPT
	 * after them: 1.7 KB, as a TCP answer is. Built in a large buffer.
	 */
	big = malloc(HZ_DNS_TCP_MAX);
	assert_non_null(big);
	memcpy(big, eq, eqlen - HZ_DNS_EDNS_OPT_LEN);
	n = eqlen - HZ_DNS_EDNS_OPT_LEN;
	big[2] = 0x81;
	big[3] = 0x80;
	big[6] = 0;
	big[7] = 100;
	big[11] = 1;
	for (unsigned i = 0; i < 100; i++) {
		static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0,  1, 0, 0,
					     1,	   0,	 0, 4, 10, 0, 3};

		memcpy(big + n, rr, sizeof(rr));
		n += sizeof(rr);
		big[n++] = (uint8_t)(i + 1);
	}
	memcpy(big + n, "\0\0\x29\x10\0\0\0\0\0\0\0", 11);
	n += 11;
	assert_true(n > 1232);
	assert_int_equal(hz_dns_response_decode(eq, eqlen, big, n, &a, &why),
			 0);
	assert_int_equal(a.naddrs, HZ_DNS_ADDRS_MAX);
	assert_int_equal(a.addrs[7], 0x0a000308);
	assert_true(a.edns);
	assert_int_equal(a.edns_udp, 4096);
	/* TC over a cut answer: what came whole counts, no OPT is sought. */
	big[2] |= 0x02;
	assert_int_equal(
	    hz_dns_response_decode(eq, eqlen, big, n - 30, &a, &why), 0);
	assert_true(a.truncated);
	assert_false(a.edns);
	free(big);
}

/* --- every prefix, every byte --------------------------------------------- */

/* What every successful decode promises. */
static void promises(const struct hz_dns_answer *a)
{
	char text[HZ_DNS_TEXT_MAX];

	assert_true(a->naddrs <= HZ_DNS_ADDRS_MAX);
	assert_true(a->cnames <= HZ_DNS_CNAME_MAX);
	assert_true(a->canon_len > 0 && a->canon_len <= HZ_DNS_NAME_MAX);
	hz_dns_name_text(a->canon, a->canon_len, text, sizeof(text));
	assert_true(strlen(text) < sizeof(text));
}

static void prefixes_and_byte_changes(void **state)
{
	static const char *const hex[] = {
	    "beef85800001000100000000037777770468617a6504746573740000010001"
	    "c00c000100010000012c00047f000001",
	    "beef8580000100020000000003777777046861"
	    "7a6504746573740000010001c00c000500010000012c0013047265616c0765"
	    "78616d706c65047465737400c02b000100010000012c00040a010203",
	};
	uint8_t q[HZ_DNS_QUERY_MAX], buf[512], *copy;
	struct hz_dns_answer a;
	const char *why;
	size_t qlen = query(q, "www.haze.test", 0xbeef);

	(void)state;
	for (size_t h = 0; h < 2; h++) {
		size_t n = harness_unhex(hex[h], buf);

		assert_int_equal(
		    hz_dns_response_decode(q, qlen, buf, n, &a, &why), 0);
		assert_int_equal(a.naddrs, 1);
		/*
		 * Every cut short is refused (each copy exactly as long as
		 * the prefix, so ASan sees a read past it).
		 */
		for (size_t k = 0; k < n; k++) {
			copy = malloc(k ? k : 1);
			assert_non_null(copy);
			memcpy(copy, buf, k);
			assert_int_equal(
			    hz_dns_response_decode(q, qlen, copy, k, &a, &why),
			    -HZ_EPROTO);
			free(copy);
		}
		/* Every byte, every value: a refusal or a kept promise. */
		copy = malloc(n);
		assert_non_null(copy);
		for (size_t k = 0; k < n; k++) {
			for (unsigned v = 0; v < 256; v++) {
				memcpy(copy, buf, n);
				copy[k] = (uint8_t)v;
				if (hz_dns_response_decode(q, qlen, copy, n, &a,
							   &why) == 0)
					promises(&a);
				else
					assert_true(why[0] != '\0');
			}
		}
		free(copy);
	}
}

static void name_text_escapes_and_truncates(void **state)
{
	static const uint8_t name[] = {3, 'a', '.', 0xff, 2, 'B', '-', 0};
	char buf[HZ_DNS_TEXT_MAX];

	(void)state;
	assert_string_equal(
	    hz_dns_name_text(name, sizeof(name), buf, sizeof(buf)),
	    "a\\046\\255.B-");
	assert_string_equal(hz_dns_name_text(name, sizeof(name), buf, 4), "a");
	assert_string_equal(hz_dns_name_text(name, sizeof(name), buf, 1), "");
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(query_bytes_known_answer),
	    HARNESS_TEST(query_refuses_bad_names),
	    HARNESS_TEST(dnsmasq_answers_known),
	    HARNESS_TEST(chains_ttls_and_other_records),
	    HARNESS_TEST(cname_chain_bounds),
	    HARNESS_TEST(malformed_responses_refused),
	    HARNESS_TEST(names_over_255_refused),
	    HARNESS_TEST(edns_query_known_answer),
	    HARNESS_TEST(opt_in_responses),
	    HARNESS_TEST(tcp_sized_answers),
	    HARNESS_TEST(prefixes_and_byte_changes),
	    HARNESS_TEST(name_text_escapes_and_truncates),
	};

	return HARNESS_RUN("dns", tests);
}
