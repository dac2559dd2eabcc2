/*
 * The stub resolver (src/dns/dns_resolve.c) over the simulated link: a
 * client stack (10.0.0.1) asks a tiny DNS server written here, on a
 * second stack (10.0.0.2), which behaves by the first label of the name:
 * plain answers, forged answers arriving first (wrong ID, wrong question,
 * wrong source port, wrong server), garbage and truncated answers, a lost
 * query, a CNAME chain, NXDOMAIN, SERVFAIL, silence, EDNS (OPT in the
 * answer, BADVERS, a server refusing EDNS with FORMERR or NOTIMP). A
 * third stack (10.0.0.3) forges answers from a server never asked. The
 * same server listens on TCP port 53 for the answers it truncates over
 * UDP: whole ones written in pieces, and broken ones (closed early, a
 * length longer or shorter than what follows, a length below a header),
 * and it can stop listening (refused). Also the cache: hits, TTL expiry,
 * its bound and LRU replacement.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "haze/dns.h"
#include "haze/entropy.h"
#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/platform.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "haze/stack.h"

#define CLIENT HZ_IPV4(10, 0, 0, 1)
#define SERVER HZ_IPV4(10, 0, 0, 2)
#define FORGER HZ_IPV4(10, 0, 0, 3)
#define MS HZ_NS_PER_MS
#define SECOND HZ_NS_PER_S

/* --- the test's DNS server ------------------------------------------------ */

struct server {
	struct hz_stack *s, *forger;
	struct hz_udp_sock *u;	 /* 10.0.0.2:53, answers */
	struct hz_udp_sock *alt; /* 10.0.0.2:5353, forges */
	struct hz_udp_sock *fu;	 /* 10.0.0.3:53, forges */
	struct hz_listener *l;	 /* 10.0.0.2:53 over TCP */
	bool stop, done;
	bool tcp_stop, tcp_done;
	unsigned queries;    /* received, any name */
	unsigned lossy_seen; /* queries for lossy.* */
	int opt_size;	     /* of the last UDP query's OPT; -1: none */
	unsigned no_opt;     /* UDP queries without an OPT */
	unsigned tcp_queries;
	int tcp_opt_size; /* of the last TCP query's OPT; -1: none */
	size_t tcp_len;	  /* the last TCP answer: its length */
	size_t tcp_sent;  /* and the bytes of it sent */
};

struct reply {
	uint8_t b[4096];
	size_t n;
};

static void rput(struct reply *r, const void *p, size_t n)
{
	HARNESS_CHECK(r->n + n <= sizeof(r->b));
	if (r->n + n <= sizeof(r->b)) {
		memcpy(r->b + r->n, p, n);
		r->n += n;
	}
}

static void rput16(struct reply *r, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	rput(r, b, 2);
}

/* A record: owner (raw bytes), type, TTL, RDATA. */
static void rr(struct reply *r, const void *owner, size_t olen, unsigned type,
	       uint32_t ttl, const void *rdata, size_t rdlen)
{
	rput(r, owner, olen);
	rput16(r, type);
	rput16(r, HZ_DNS_CLASS_IN);
	rput16(r, ttl >> 16);
	rput16(r, ttl & 0xffff);
	rput16(r, (unsigned)rdlen);
	rput(r, rdata, rdlen);
}

static void rr_a(struct reply *r, uint32_t ttl, hz_ipv4_t a)
{
	static const uint8_t owner[] = {0xc0, 0x0c};
	uint8_t ip[4] = {a >> 24, a >> 16, a >> 8, a};

	rr(r, owner, 2, HZ_DNS_TYPE_A, ttl, ip, 4);
}

/* Starts the reply to @q (question ends at @qend) with @rcode, @an. */
static void reply_start(struct reply *r, const uint8_t *q, size_t qend,
			unsigned rcode, unsigned an)
{
	r->n = 0;
	rput(r, q, qend);
	r->b[2] = 0x81;
	r->b[3] = (uint8_t)(0x80 | rcode);
	r->b[6] = (uint8_t)(an >> 8);
	r->b[7] = (uint8_t)an;
	r->b[10] = r->b[11] = 0; /* the query's OPT is not echoed */
}

/* Appends an OPT offering @size, with the upper RCODE bits @ext. */
static void reply_opt(struct reply *r, unsigned size, unsigned ext)
{
	static const uint8_t root[] = {0};

	rput(r, root, 1);
	rput16(r, 41);
	rput16(r, size);
	rput16(r, ext << 8);
	rput16(r, 0);
	rput16(r, 0);
	r->b[11]++;
}

/* The UDP size of the OPT after the question of @q (ends at @qend), or -1. */
static int query_opt(const uint8_t *q, size_t len, size_t qend)
{
	if (q[10] != 0 || q[11] != 1 || len != qend + 11 || q[qend] != 0 ||
	    q[qend + 1] != 0 || q[qend + 2] != 41)
		return -1;
	return q[qend + 3] << 8 | q[qend + 4];
}

/* Where the question of @q ends, and its first label, lower case. */
static bool query_read(const uint8_t *q, size_t len, char label[64],
		       size_t *haze, size_t *qend)
{
	size_t l;

	if (len < 12 + 1 + 5 || q[12] == 0 || q[12] > 63 ||
	    13 + (size_t)q[12] >= len)
		return false;
	l = q[12];
	for (size_t i = 0; i < l; i++)
		label[i] = (char)(q[13 + i] | 0x20);
	label[l] = '\0';
	*haze = 13 + l; /* the rest of the name: haze.test */
	*qend = *haze;
	while (*qend < len && q[*qend] != 0)
		*qend += 1 + q[*qend];
	*qend += 5;
	return *qend <= len;
}

/* Names whose UDP answer is cut short (TC) and that TCP answers. */
static bool over_tcp(const char *label)
{
	static const char *const names[] = {
	    "many", "early", "liar", "cutlen", "shortlen", "tcpgone", "tcp",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(label, names[i]) == 0)
			return true;
	return false;
}

static void send_on(struct hz_stack *s, struct hz_udp_sock *u,
		    const struct hz_sockaddr *to, const void *p, size_t n)
{
	HARNESS_CHECK(hz_udp_sendto(s, u, to, p, n) == 0);
}

/* Answers one query by its first label. */
static void serve(struct server *sv, const uint8_t *q, size_t len,
		  const struct hz_sockaddr *from)
{
	char label[64] = "";
	size_t qend, haze;
	struct reply r;
	unsigned num;

	sv->queries++;
	if (!query_read(q, len, label, &haze, &qend))
		return;
	sv->opt_size = query_opt(q, len, qend);
	if (sv->opt_size < 0)
		sv->no_opt++;

	if (over_tcp(label)) {
		/* The start of the answer that did not fit. */
		reply_start(&r, q, qend, 0, strcmp(label, "many") == 0);
		if (strcmp(label, "many") == 0)
			rr_a(&r, 300, HZ_IPV4(6, 6, 6, 6));
		r.b[2] |= 0x02;
	} else if (strcmp(label, "noedns") == 0 ||
		   strcmp(label, "notimp") == 0) {
		/* An old server: an OPT is beyond it. */
		bool notimp = label[1] == 'o' && label[2] == 't';

		if (sv->opt_size >= 0) {
			reply_start(&r, q, qend,
				    notimp ? HZ_DNS_NOTIMP : HZ_DNS_FORMERR, 0);
		} else {
			reply_start(&r, q, qend, 0, 1);
			rr_a(&r, 300, HZ_IPV4(10, 0, 0, notimp ? 88 : 87));
		}
	} else if (strcmp(label, "formerr") == 0) {
		/* It reads EDNS: the FORMERR is about something else. */
		reply_start(&r, q, qend, HZ_DNS_FORMERR, 0);
		reply_opt(&r, 1232, 0);
	} else if (strcmp(label, "edns") == 0) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 89));
		reply_opt(&r, 4096, 0);
	} else if (strcmp(label, "badvers") == 0) {
		reply_start(&r, q, qend, 0, 0);
		reply_opt(&r, 1232, 1); /* 1 << 4: 16, BADVERS */
	} else if (strcmp(label, "www") == 0) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 80));
	} else if (strcmp(label, "spoof") == 0) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(6, 6, 6, 6));
		r.b[1] ^= 1; /* wrong ID */
		send_on(sv->s, sv->u, from, r.b, r.n);
		r.b[1] ^= 1;
		r.b[13] ^= 0x20; /* the question in another case */
		send_on(sv->s, sv->u, from, r.b, r.n);
		hz_sleep_ns(20 * MS);
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 81));
	} else if (strcmp(label, "garbage") == 0) {
		static const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3};
		uint8_t self[2] = {0xc0, 0};

		send_on(sv->s, sv->u, from, junk, 0); /* empty */
		send_on(sv->s, sv->u, from, junk, sizeof(junk));
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(6, 6, 6, 6));
		send_on(sv->s, sv->u, from, r.b, 20); /* cut short */
		reply_start(&r, q, qend, 0, 1);
		self[1] = (uint8_t)r.n; /* an owner name pointing at itself */
		rr(&r, self, 2, HZ_DNS_TYPE_A, 300, "\6\6\6\6", 4);
		send_on(sv->s, sv->u, from, r.b, r.n); /* pointer loop */
		hz_sleep_ns(20 * MS);
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 82));
	} else if (strcmp(label, "forged") == 0) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(6, 6, 6, 6));
		send_on(sv->s, sv->alt, from, r.b, r.n);     /* wrong port */
		send_on(sv->forger, sv->fu, from, r.b, r.n); /* not asked */
		hz_sleep_ns(30 * MS);
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 83));
	} else if (strcmp(label, "lossy") == 0) {
		if (sv->lossy_seen++ % 2 == 0)
			return;
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 84));
	} else if (strcmp(label, "alias") == 0) {
		/* alias -> mid.haze.test -> www2.haze.test -> A */
		uint8_t mid[6] = {3, 'm', 'i', 'd', 0xc0, (uint8_t)haze};
		uint8_t www2[7] = {4, 'w', 'w', 'w', '2', 0xc0, (uint8_t)haze};
		static const uint8_t top[] = {0xc0, 0x0c};
		uint8_t ip[4] = {10, 0, 0, 85};

		reply_start(&r, q, qend, 0, 3);
		rr(&r, top, 2, HZ_DNS_TYPE_CNAME, 300, mid, sizeof(mid));
		rr(&r, mid, sizeof(mid), HZ_DNS_TYPE_CNAME, 300, www2,
		   sizeof(www2));
		rr(&r, www2, sizeof(www2), HZ_DNS_TYPE_A, 300, ip, 4);
	} else if (strcmp(label, "short") == 0) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 1, HZ_IPV4(10, 0, 0, 86));
	} else if (sscanf(label, "n%u", &num) == 1) {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 1, num & 0xff));
	} else if (strcmp(label, "mute") == 0) {
		return;
	} else if (strcmp(label, "servfail") == 0) {
		reply_start(&r, q, qend, HZ_DNS_SERVFAIL, 0);
	} else if (strcmp(label, "nodata") == 0) {
		reply_start(&r, q, qend, 0, 0);
	} else {
		reply_start(&r, q, qend, HZ_DNS_NXDOMAIN, 0);
	}
	send_on(sv->s, sv->u, from, r.b, r.n);
}

static void server_fiber(void *arg)
{
	struct server *sv = arg;

	while (!sv->stop) {
		struct hz_sockaddr from;
		struct hz_view v;

		if (hz_udp_recvfrom(sv->s, sv->u, &v, &from,
				    hz_now() + 10 * MS) < 0)
			continue;
		serve(sv, hz_view_data(&v), v.len, &from);
		hz_view_release(&v);
	}
	sv->done = true;
}

/* Reads exactly @n bytes of @f into @buf; whether they came. */
static bool read_all(struct hz_flow *f, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k =
		    hz_flow_read_copy(f, buf + got, n - got, hz_now() + SECOND);

		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/* Writes @n bytes of @p, then lets the link carry them alone. */
static void write_piece(struct hz_flow *f, const void *p, size_t n)
{
	HARNESS_CHECK_EQ(hz_flow_write(f, p, n, hz_now() + SECOND), (ssize_t)n);
	hz_sleep_ns(2 * MS);
}

/* The TCP answer to one query, by its first label. */
static void tcp_serve(struct server *sv, struct hz_flow *f)
{
	uint8_t prefix[2], q[HZ_DNS_QUERY_MAX], len[2];
	char label[64];
	size_t qlen, qend, haze, say;
	struct reply r;

	if (!HARNESS_CHECK(read_all(f, prefix, 2)))
		return;
	qlen = (size_t)prefix[0] << 8 | prefix[1];
	if (!HARNESS_CHECK(qlen <= sizeof(q) && read_all(f, q, qlen)) ||
	    !HARNESS_CHECK(query_read(q, qlen, label, &haze, &qend)))
		return;
	sv->tcp_queries++;
	sv->tcp_opt_size = query_opt(q, qlen, qend);
	if (strcmp(label, "many") == 0) {
		/* Too many for 512 bytes, or 1232: 100 A records. */
		reply_start(&r, q, qend, 0, 100);
		for (unsigned i = 1; i <= 100; i++)
			rr_a(&r, 300, HZ_IPV4(10, 0, 3, i));
		reply_opt(&r, 1232, 0);
	} else {
		reply_start(&r, q, qend, 0, 1);
		rr_a(&r, 300, HZ_IPV4(10, 0, 0, 90));
	}
	sv->tcp_len = r.n;
	say = r.n;
	if (strcmp(label, "liar") == 0)
		say = r.n + 1000;
	else if (strcmp(label, "cutlen") == 0)
		say = r.n - 3;
	else if (strcmp(label, "shortlen") == 0)
		say = 11;
	len[0] = (uint8_t)(say >> 8);
	len[1] = (uint8_t)say;
	sv->tcp_sent = 0;
	if (strcmp(label, "tcpgone") == 0)
		return;
	/* The length a byte at a time, the answer in three pieces. */
	write_piece(f, len, 1);
	write_piece(f, len + 1, 1);
	if (strcmp(label, "early") == 0) {
		sv->tcp_sent = r.n / 2;
		write_piece(f, r.b, r.n / 2);
		return;
	}
	if (say < r.n)
		r.n = say;
	sv->tcp_sent = r.n;
	write_piece(f, r.b, r.n / 3);
	write_piece(f, r.b + r.n / 3, r.n / 3);
	write_piece(f, r.b + 2 * (r.n / 3), r.n - 2 * (r.n / 3));
	/* Open past the resolver's TCP time (200 ms), then closed, so the
	 * next connection waits little in the backlog. */
	if (strcmp(label, "liar") == 0)
		hz_sleep_ns(250 * MS);
}

static void tcp_fiber(void *arg)
{
	struct server *sv = arg;

	while (!sv->tcp_stop) {
		struct hz_flow *f;

		if (hz_tcp_accept(sv->s, sv->l, hz_now() + 10 * MS, &f) < 0)
			continue;
		HARNESS_CHECK_EQ(hz_tcp_set(sv->s, f, HZ_TCP_NODELAY, 1), 0);
		tcp_serve(sv, f);
		hz_flow_free(f);
	}
	hz_tcp_unlisten(sv->s, sv->l);
	sv->tcp_done = true;
}

/* Stops the TCP server: connections to it are refused from now on. */
static void tcp_stop(struct server *sv)
{
	sv->tcp_stop = true;
	while (!sv->tcp_done)
		hz_sleep_ns(5 * MS);
}

/* --- fixture -------------------------------------------------------------- */

struct fixture {
	struct hz_simlink *link;
	struct hz_ipstack *st[3];
	struct server sv;
	struct hz_dns_cache cache;
	struct hz_dns_config cfg;
};

static void fixture_up(struct fixture *f)
{
	struct hz_simlink_config lc = {
	    .ports = 3, .seed = 7, .delay_ns = 100000};
	struct hz_sockaddr dns = {0, 53}, alt = {0, 5353};

	memset(f, 0, sizeof(*f));
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &f->link), 0);
	for (unsigned i = 0; i < 3; i++) {
		struct hz_ipstack_config c = {
		    .addr = HZ_IPV4(10, 0, 0, i + 1),
		    .prefix_len = 24,
		    .seed = i + 11,
		};

		HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(f->link, i),
						   &c, &f->st[i]),
				 0);
	}
	f->sv.s = hz_ipstack_stack(f->st[1]);
	f->sv.forger = hz_ipstack_stack(f->st[2]);
	HARNESS_CHECK_EQ(hz_udp_open(f->sv.s, &dns, &f->sv.u), 0);
	HARNESS_CHECK_EQ(hz_udp_open(f->sv.s, &alt, &f->sv.alt), 0);
	HARNESS_CHECK_EQ(hz_udp_open(f->sv.forger, &dns, &f->sv.fu), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("dns-server", server_fiber, &f->sv, 0),
			 0);
	HARNESS_CHECK_EQ(hz_tcp_listen(f->sv.s, &dns, 4, &f->sv.l), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("dns-tcp", tcp_fiber, &f->sv, 0), 0);
	hz_dns_cache_init(&f->cache);
	f->cfg.servers[0] = SERVER;
	f->cfg.timeout_ns = 50 * MS;
	f->cfg.tries = 3;
	f->cfg.cache = &f->cache;
}

static void fixture_down(struct fixture *f)
{
	f->sv.stop = true;
	while (!f->sv.done)
		hz_sleep_ns(5 * MS);
	if (!f->sv.tcp_done)
		tcp_stop(&f->sv);
	hz_udp_close(f->sv.s, f->sv.u);
	hz_udp_close(f->sv.s, f->sv.alt);
	hz_udp_close(f->sv.forger, f->sv.fu);
	for (unsigned i = 0; i < 3; i++)
		hz_ipstack_destroy(f->st[i]);
	hz_simlink_destroy(f->link);
}

static struct hz_stack *client(struct fixture *f)
{
	return hz_ipstack_stack(f->st[0]);
}

/* Resolves @name, expecting @want. */
static void resolves(struct fixture *f, const char *name, hz_ipv4_t want)
{
	struct hz_errmsg err = {0};
	hz_ipv4_t a = 0;
	int r = hz_dns_resolve(client(f), &f->cfg, name, hz_now() + 5 * SECOND,
			       &a, &err);

	if (r != 0)
		HARNESS_FAIL("%s: %s", name, hz_errmsg_text(&err));
	HARNESS_CHECK_EQ(a, want);
}

/* Resolves @name, expecting @code and the message @msg. */
static void fails(struct fixture *f, const char *name, uint64_t deadline,
		  int code, const char *msg)
{
	struct hz_errmsg err = {0};
	hz_ipv4_t a = 0;

	HARNESS_CHECK_EQ(
	    hz_dns_resolve(client(f), &f->cfg, name, deadline, &a, &err), code);
	HARNESS_CHECK_STR_EQ(hz_errmsg_text(&err), msg);
}

/* --- tests ---------------------------------------------------------------- */

static int answers_and_cache_main(void *arg)
{
	struct fixture f;
	unsigned q;
	size_t used = 0;

	(void)arg;
	fixture_up(&f);
	resolves(&f, "www.haze.test", HZ_IPV4(10, 0, 0, 80));
	HARNESS_CHECK_EQ(f.sv.queries, 1);
	/* Cached, whatever the case and the final dot. */
	resolves(&f, "www.haze.test", HZ_IPV4(10, 0, 0, 80));
	resolves(&f, "WWW.Haze.TEST.", HZ_IPV4(10, 0, 0, 80));
	HARNESS_CHECK_EQ(f.sv.queries, 1);
	HARNESS_CHECK_EQ(f.cache.hits, 2);
	/* A literal address needs no query. */
	resolves(&f, "10.9.8.7", HZ_IPV4(10, 9, 8, 7));
	HARNESS_CHECK_EQ(f.sv.queries, 1);
	/* TTL 1: cached for a second, then asked again. */
	resolves(&f, "short.haze.test", HZ_IPV4(10, 0, 0, 86));
	resolves(&f, "short.haze.test", HZ_IPV4(10, 0, 0, 86));
	HARNESS_CHECK_EQ(f.sv.queries, 2);
	hz_sleep_ns(1100 * MS);
	resolves(&f, "short.haze.test", HZ_IPV4(10, 0, 0, 86));
	HARNESS_CHECK_EQ(f.sv.queries, 3);
	HARNESS_CHECK_EQ(f.cache.expired, 1);
	/* The cache holds 32 names; the least recently used goes. */
	for (unsigned i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "n%u.haze.test", i);
		resolves(&f, name, HZ_IPV4(10, 0, 1, i));
		hz_sleep_ns(1000); /* distinct times of use */
	}
	for (size_t i = 0; i < HZ_DNS_CACHE_ENTRIES; i++)
		used += f.cache.e[i].name_len != 0;
	HARNESS_CHECK_EQ(used, HZ_DNS_CACHE_ENTRIES);
	q = f.sv.queries;
	resolves(&f, "n39.haze.test", HZ_IPV4(10, 0, 1, 39));
	HARNESS_CHECK_EQ(f.sv.queries, q);
	resolves(&f, "n0.haze.test", HZ_IPV4(10, 0, 1, 0));
	HARNESS_CHECK_EQ(f.sv.queries, q + 1);
	fixture_down(&f);
	return 0;
}

static void answers_and_cache(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(answers_and_cache_main, NULL), 0);
}

static int forgeries_main(void *arg)
{
	uint64_t spoof = harness_counter("dns", "drop_id_or_question_mismatch");
	uint64_t malformed = harness_counter("dns", "drop_malformed");
	uint64_t stranger = harness_counter("dns", "drop_unexpected_source");
	struct fixture f;

	(void)arg;
	fixture_up(&f);
	/* Wrong ID and wrong question arrive first, and are ignored. */
	resolves(&f, "spoof.haze.test", HZ_IPV4(10, 0, 0, 81));
	HARNESS_CHECK_EQ(
	    harness_counter("dns", "drop_id_or_question_mismatch") - spoof, 2);
	/* Empty, garbage, cut short, a compression loop: ignored. */
	resolves(&f, "garbage.haze.test", HZ_IPV4(10, 0, 0, 82));
	HARNESS_CHECK_EQ(harness_counter("dns", "drop_malformed") - malformed,
			 4);
	/* From the server's other port, from a server never asked. */
	resolves(&f, "forged.haze.test", HZ_IPV4(10, 0, 0, 83));
	HARNESS_CHECK_EQ(
	    harness_counter("dns", "drop_unexpected_source") - stranger, 2);
	HARNESS_CHECK_EQ(f.sv.queries, 3);
	fixture_down(&f);
	return 0;
}

static void forged_and_broken_answers_ignored(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(forgeries_main, NULL), 0);
}

static int lost_query_main(void *arg)
{
	struct fixture f;
	uint64_t t0;

	(void)arg;
	fixture_up(&f);
	t0 = hz_now();
	resolves(&f, "lossy.haze.test", HZ_IPV4(10, 0, 0, 84));
	HARNESS_CHECK_GE(hz_now() - t0, 50 * MS);
	HARNESS_CHECK_EQ(f.sv.lossy_seen, 2);
	/* A chain of two CNAMEs inside the answer. */
	resolves(&f, "alias.haze.test", HZ_IPV4(10, 0, 0, 85));
	/* A second server, silent, then the one that answers. */
	f.cfg.servers[0] = HZ_IPV4(10, 0, 0, 9);
	f.cfg.servers[1] = SERVER;
	hz_dns_cache_init(&f.cache);
	t0 = hz_now();
	resolves(&f, "www.haze.test", HZ_IPV4(10, 0, 0, 80));
	HARNESS_CHECK_GE(hz_now() - t0, 50 * MS);
	fixture_down(&f);
	return 0;
}

static void lost_query_retransmitted_cname_second_server(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(lost_query_main, NULL), 0);
}

static int failures_main(void *arg)
{
	struct fixture f;
	uint64_t t0;
	unsigned q;

	(void)arg;
	fixture_up(&f);
	fails(&f, "nx.haze.test", hz_now() + 5 * SECOND, -HZ_ENOENT,
	      "DNS nx.haze.test: NXDOMAIN from 10.0.0.2");
	fails(&f, "servfail.haze.test", hz_now() + 5 * SECOND, -HZ_EIO,
	      "DNS servfail.haze.test: SERVFAIL from 10.0.0.2");
	fails(&f, "nodata.haze.test", hz_now() + 5 * SECOND, -HZ_ENOENT,
	      "DNS nodata.haze.test: no address for the name (from "
	      "10.0.0.2)");
	/* Silence: 3 tries, waiting 50, 100, 200 ms. */
	q = f.sv.queries;
	t0 = hz_now();
	fails(&f, "mute.haze.test", hz_now() + 5 * SECOND, -HZ_ETIMEDOUT,
	      "DNS mute.haze.test: no answer from 10.0.0.2 after 3 tries");
	HARNESS_CHECK_GE(hz_now() - t0, 350 * MS);
	HARNESS_CHECK_EQ(f.sv.queries - q, 3);
	/* The caller's deadline comes first. */
	fails(&f, "mute.haze.test", hz_now() + 30 * MS, -HZ_ETIMEDOUT,
	      "DNS mute.haze.test: no answer from 10.0.0.2 after 1 try "
	      "(deadline)");
	/* Two silent servers. */
	f.cfg.servers[1] = HZ_IPV4(10, 0, 0, 9);
	f.cfg.tries = 1;
	fails(&f, "mute.haze.test", hz_now() + 5 * SECOND, -HZ_ETIMEDOUT,
	      "DNS mute.haze.test: no answer from 10.0.0.2 and 1 more after "
	      "1 try");
	/* Not a name; no server. */
	fails(&f, "bad name.test", hz_now() + SECOND, -HZ_EINVAL,
	      "DNS bad name.test: not a valid host name");
	memset(f.cfg.servers, 0, sizeof(f.cfg.servers));
	fails(&f, "www.haze.test", hz_now() + SECOND, -HZ_EINVAL,
	      "DNS www.haze.test: no DNS server configured");
	fixture_down(&f);
	return 0;
}

static void failures_named(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(failures_main, NULL), 0);
}

/*
 * Resolves @name, expecting @code and the TCP failure "TCP to ...: @fmt";
 * @fmt's arguments are the server's tcp_sent and tcp_len, read after the
 * resolution.
 */
static void fails_tcp(struct fixture *f, const char *name, int code,
		      const char *fmt, size_t extra)
{
	char what[128], msg[HZ_ERRMSG_MAX];
	struct hz_errmsg err = {0};
	hz_ipv4_t a = 0;

	HARNESS_CHECK_EQ(hz_dns_resolve(client(f), &f->cfg, name,
					hz_now() + 5 * SECOND, &a, &err),
			 code);
	snprintf(what, sizeof(what), fmt, f->sv.tcp_sent,
		 f->sv.tcp_len + extra);
	snprintf(msg, sizeof(msg), "DNS %s: TCP to 10.0.0.2: %s", name, what);
	HARNESS_CHECK_STR_EQ(hz_errmsg_text(&err), msg);
}

static int tcp_fallback_main(void *arg)
{
	uint64_t tcp = harness_counter("dns", "tcp_queries"),
		 failed = harness_counter("dns", "tcp_failed");
	const struct hz_dns_cache_entry *e = NULL;
	struct fixture f;
	uint64_t t0;

	(void)arg;
	fixture_up(&f);
	/*
	 * 100 addresses: the UDP answer is cut to one (a decoy) with TC, and
	 * the whole answer comes over TCP, its length a byte at a time.
	 */
	resolves(&f, "many.haze.test", HZ_IPV4(10, 0, 3, 1));
	HARNESS_CHECK_EQ(f.sv.tcp_queries, 1);
	HARNESS_CHECK_EQ(f.sv.tcp_opt_size, HZ_DNS_EDNS_UDP_OFFER);
	HARNESS_CHECK_GT(f.sv.tcp_len, HZ_DNS_EDNS_UDP_OFFER);
	HARNESS_CHECK_EQ(f.sv.tcp_sent, f.sv.tcp_len);
	HARNESS_CHECK_EQ(harness_counter("dns", "tcp_queries") - tcp, 1);
	for (size_t i = 0; i < HZ_DNS_CACHE_ENTRIES; i++)
		if (f.cache.e[i].name_len != 0)
			e = &f.cache.e[i];
	if (HARNESS_CHECK(e != NULL)) {
		HARNESS_CHECK_EQ(e->naddrs, HZ_DNS_CACHE_ADDRS);
		HARNESS_CHECK_EQ(e->addrs[3], HZ_IPV4(10, 0, 3, 4));
	}
	/* Broken TCP answers, each named with the server and the layer. */
	fails_tcp(&f, "early.haze.test", -HZ_EPROTO,
		  "connection closed after %zu of the %zu bytes of the answer",
		  0);
	HARNESS_CHECK_GT(f.sv.tcp_sent, 0);
	t0 = hz_now();
	fails_tcp(&f, "liar.haze.test", -HZ_ETIMEDOUT,
		  "timed out after %zu of the %zu bytes of the answer", 1000);
	/* Bounded: four first waits (4 x 50 ms), not the caller's 5 s. */
	HARNESS_CHECK_GE(hz_now() - t0, 200 * MS);
	HARNESS_CHECK_LT(hz_now() - t0, 400 * MS);
	fails_tcp(&f, "cutlen.haze.test", -HZ_EPROTO,
		  "bad answer: RDLENGTH runs past the message", 0);
	fails_tcp(&f, "shortlen.haze.test", -HZ_EPROTO,
		  "length 11 is shorter than a DNS header", 0);
	fails_tcp(&f, "tcpgone.haze.test", -HZ_EPROTO,
		  "connection closed after 0 of the 2 bytes of the length", 0);
	HARNESS_CHECK_EQ(harness_counter("dns", "tcp_failed") - failed, 5);
	/* A cut answer with addresses is not used when TCP fails either. */
	tcp_stop(&f.sv);
	hz_dns_cache_init(&f.cache);
	fails_tcp(&f, "many.haze.test", -HZ_ECONNREFUSED, "connection refused",
		  0);
	fixture_down(&f);
	return 0;
}

static void truncated_answers_asked_again_over_tcp(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(tcp_fallback_main, NULL), 0);
}

static int edns_main(void *arg)
{
	uint64_t fallback = harness_counter("dns", "edns_fallback");
	struct fixture f;
	unsigned plain;

	(void)arg;
	fixture_up(&f);
	/* The query offers 1232 bytes; an OPT in the answer is read past. */
	resolves(&f, "edns.haze.test", HZ_IPV4(10, 0, 0, 89));
	HARNESS_CHECK_EQ(f.sv.opt_size, HZ_DNS_EDNS_UDP_OFFER);
	HARNESS_CHECK_EQ(f.sv.no_opt, 0);
	/* Servers without EDNS: asked again without the OPT. */
	resolves(&f, "noedns.haze.test", HZ_IPV4(10, 0, 0, 87));
	HARNESS_CHECK_EQ(f.sv.no_opt, 1);
	HARNESS_CHECK_EQ(f.sv.opt_size, -1);
	resolves(&f, "notimp.haze.test", HZ_IPV4(10, 0, 0, 88));
	HARNESS_CHECK_EQ(f.sv.no_opt, 2);
	HARNESS_CHECK_EQ(harness_counter("dns", "edns_fallback") - fallback, 2);
	/* A FORMERR with an OPT is a real one: no retry. */
	plain = f.sv.no_opt;
	fails(&f, "formerr.haze.test", hz_now() + 5 * SECOND, -HZ_EIO,
	      "DNS formerr.haze.test: FORMERR from 10.0.0.2");
	HARNESS_CHECK_EQ(f.sv.no_opt, plain);
	/* The extended RCODE of the OPT counts. */
	fails(&f, "badvers.haze.test", hz_now() + 5 * SECOND, -HZ_EIO,
	      "DNS badvers.haze.test: BADVERS from 10.0.0.2");
	fixture_down(&f);
	return 0;
}

static void edns_offered_read_and_dropped_for_old_servers(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(edns_main, NULL), 0);
}

/*
 * The same over the socket stack (the host's UDP and TCP on 127.0.0.1),
 * the server on a free port of a range other tests leave alone: the
 * resolver knows only a STACK.
 */
static int socket_stack_main(void *arg)
{
	struct hz_dns_config cfg = {.timeout_ns = 200 * MS, .tries = 2};
	struct server sv = {0};
	struct hz_errmsg err = {0};
	hz_ipv4_t a = 0;
	int r = -HZ_EEXIST;

	(void)arg;
	if (!HARNESS_CHECK_EQ(hz_platform_socket_stack(&sv.s), 0))
		return 0;
	for (uint16_t p = 47400; r < 0 && p < 47500; p++) {
		struct hz_sockaddr la = {HZ_IPV4(127, 0, 0, 1), p};

		r = hz_udp_open(sv.s, &la, &sv.u);
		if (r == 0) {
			r = hz_tcp_listen(sv.s, &la, 4, &sv.l);
			if (r < 0)
				hz_udp_close(sv.s, sv.u);
		}
		cfg.port = p;
	}
	if (!HARNESS_CHECK_EQ(r, 0)) {
		hz_stack_destroy(sv.s);
		return 0;
	}
	HARNESS_CHECK_EQ(hz_fiber_spawn("dns-server", server_fiber, &sv, 0), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("dns-tcp", tcp_fiber, &sv, 0), 0);
	cfg.servers[0] = HZ_IPV4(127, 0, 0, 1);
	r = hz_dns_resolve(sv.s, &cfg, "many.haze.test", hz_now() + 5 * SECOND,
			   &a, &err);
	if (r != 0)
		HARNESS_FAIL("many.haze.test: %s", hz_errmsg_text(&err));
	HARNESS_CHECK_EQ(a, HZ_IPV4(10, 0, 3, 1));
	HARNESS_CHECK_EQ(sv.tcp_queries, 1);
	r = hz_dns_resolve(sv.s, &cfg, "noedns.haze.test",
			   hz_now() + 5 * SECOND, &a, &err);
	if (r != 0)
		HARNESS_FAIL("noedns.haze.test: %s", hz_errmsg_text(&err));
	HARNESS_CHECK_EQ(a, HZ_IPV4(10, 0, 0, 87));
	HARNESS_CHECK_EQ(sv.no_opt, 1);
	sv.stop = true;
	while (!sv.done)
		hz_sleep_ns(5 * MS);
	tcp_stop(&sv);
	hz_udp_close(sv.s, sv.u);
	hz_stack_destroy(sv.s);
	/* The stack's poller fiber frees it when it next runs. */
	hz_sleep_ns(20 * MS);
	return 0;
}

static void tcp_fallback_and_edns_on_the_socket_stack(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(socket_stack_main, NULL), 0);
}

static size_t the_server(void *arg, hz_ipv4_t *out, size_t max)
{
	(void)arg;
	HARNESS_CHECK(max >= 1);
	out[0] = SERVER;
	return 1;
}

static int servers_fn_main(void *arg)
{
	struct fixture f;
	hz_ipv4_t got[HZ_DNS_SERVERS_MAX];

	(void)arg;
	fixture_up(&f);
	memset(f.cfg.servers, 0, sizeof(f.cfg.servers));
	f.cfg.servers_fn = the_server;
	resolves(&f, "www.haze.test", HZ_IPV4(10, 0, 0, 80));
	/* A static direct stack learned no server from DHCP. */
	HARNESS_CHECK_EQ(
	    hz_dns_ipstack_servers(f.st[0], got, HZ_DNS_SERVERS_MAX), 0);
	f.cfg.servers_fn = hz_dns_ipstack_servers;
	f.cfg.servers_arg = f.st[0];
	fails(&f, "nx.haze.test", hz_now() + SECOND, -HZ_EINVAL,
	      "DNS nx.haze.test: no DNS server configured");
	fixture_down(&f);
	return 0;
}

static void servers_from_a_function(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(servers_fn_main, NULL), 0);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(answers_and_cache),
	    HARNESS_TEST(forged_and_broken_answers_ignored),
	    HARNESS_TEST(lost_query_retransmitted_cname_second_server),
	    HARNESS_TEST(failures_named),
	    HARNESS_TEST(servers_from_a_function),
	    HARNESS_TEST(truncated_answers_asked_again_over_tcp),
	    HARNESS_TEST(edns_offered_read_and_dropped_for_old_servers),
	    HARNESS_TEST(tcp_fallback_and_edns_on_the_socket_stack),
	};

	if (hz_entropy_init() != 0) {
		printf("not ok 1 - the entropy generator seeds\n1..1\n");
		return 1;
	}
	return HARNESS_RUN("dns_resolve", tests);
}
