/*
 * The stub resolver (src/dns/dns_resolve.c) over the simulated link: a
 * client stack (10.0.0.1) asks a tiny DNS server written here, on a
 * second stack (10.0.0.2), which behaves by the first label of the name:
 * plain answers, forged answers arriving first (wrong ID, wrong question,
 * wrong source port, wrong server), garbage and truncated answers, a lost
 * query, a CNAME chain, NXDOMAIN, SERVFAIL, silence. A third stack
 * (10.0.0.3) forges answers from a server never asked. Also the cache:
 * hits, TTL expiry, its bound and LRU replacement.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "haze/dns.h"
#include "haze/entropy.h"
#include "haze/ipstack.h"
#include "haze/log.h"
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
	bool stop, done;
	unsigned queries;    /* received, any name */
	unsigned lossy_seen; /* queries for lossy.* */
};

struct reply {
	uint8_t b[512];
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
	r->b[6] = 0;
	r->b[7] = (uint8_t)an;
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
	size_t l, qend, haze;
	struct reply r;
	unsigned num;

	sv->queries++;
	if (len < 12 + 1 + 5 || q[12] == 0 || q[12] > 63 ||
	    13 + (size_t)q[12] >= len)
		return;
	l = q[12];
	for (size_t i = 0; i < l; i++)
		label[i] = (char)(q[13 + i] | 0x20);
	label[l] = '\0';
	haze = 13 + l; /* the rest of the name: haze.test */
	qend = haze;
	while (qend < len && q[qend] != 0)
		qend += 1 + q[qend];
	qend += 5;
	if (qend > len)
		return;

	if (strcmp(label, "www") == 0) {
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
	} else if (strcmp(label, "tc") == 0) {
		reply_start(&r, q, qend, 0, 0);
		r.b[2] |= 0x02;
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

static uint64_t counter(const char *name)
{
	struct hz_counter *c = hz_counter_find("dns", name);

	return c != NULL ? c->value : 0;
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
	uint64_t spoof = counter("drop_id_or_question_mismatch");
	uint64_t malformed = counter("drop_malformed");
	uint64_t stranger = counter("drop_unexpected_source");
	struct fixture f;

	(void)arg;
	fixture_up(&f);
	/* Wrong ID and wrong question arrive first, and are ignored. */
	resolves(&f, "spoof.haze.test", HZ_IPV4(10, 0, 0, 81));
	HARNESS_CHECK_EQ(counter("drop_id_or_question_mismatch") - spoof, 2);
	/* Empty, garbage, cut short, a compression loop: ignored. */
	resolves(&f, "garbage.haze.test", HZ_IPV4(10, 0, 0, 82));
	HARNESS_CHECK_EQ(counter("drop_malformed") - malformed, 4);
	/* From the server's other port, from a server never asked. */
	resolves(&f, "forged.haze.test", HZ_IPV4(10, 0, 0, 83));
	HARNESS_CHECK_EQ(counter("drop_unexpected_source") - stranger, 2);
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
	fails(&f, "tc.haze.test", hz_now() + 5 * SECOND, -HZ_EIO,
	      "DNS tc.haze.test: a truncated answer (no TCP fallback) from "
	      "10.0.0.2");
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
	};

	if (hz_entropy_init() != 0) {
		printf("not ok 1 - the entropy generator seeds\n1..1\n");
		return 1;
	}
	return HARNESS_RUN("dns_resolve", tests);
}
