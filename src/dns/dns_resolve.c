/*
 * The stub resolver of haze/dns.h: A queries over UDP through any STACK,
 * with EDNS0 and a fallback to TCP, and its bounded, caller-owned cache.
 *
 * One resolution uses one UDP socket on a random port and one random ID,
 * with the letters of the name in random case (0x20): an answer counts
 * only if it comes from a server we asked, from its port, with our ID and
 * our question byte for byte. Anything else is dropped and counted, and
 * the wait goes on, so a forged or broken datagram cannot end a
 * resolution early. The query goes to each server in turn; the wait for
 * an answer doubles with every round.
 *
 * Queries offer a 1232-byte UDP payload in an OPT record (RFC 6891); a
 * server that answers FORMERR or NOTIMP without an OPT of its own does
 * not speak EDNS and gets the query again without it (section 7). A
 * truncated answer (TC) is not used: the same server is asked over TCP,
 * one query on one connection, framed by a two-byte length (RFC 7766),
 * read whole however the bytes arrive, within a bounded time.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/dns.h"
#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/random.h"
#include "haze/sched.h"
#include "haze/wire.h"

static HZ_LOG_SOURCE(dns_log, "dns");
static HZ_COUNTER(c_queries, "dns", "queries_sent");
static HZ_COUNTER(c_cache_hits, "dns", "cache_hits");
static HZ_COUNTER(c_drop_stranger, "dns", "drop_unexpected_source");
static HZ_COUNTER(c_drop_spoof, "dns", "drop_id_or_question_mismatch");
static HZ_COUNTER(c_drop_malformed, "dns", "drop_malformed");
static HZ_COUNTER(c_edns_fallback, "dns", "edns_fallback");
static HZ_COUNTER(c_tcp_queries, "dns", "tcp_queries");
static HZ_COUNTER(c_tcp_failed, "dns", "tcp_failed");

/* Random source ports come from the dynamic range (RFC 6335). */
#define PORT_FIRST 49152u
#define PORT_COUNT 16384u
#define PORT_ATTEMPTS 4
/* Cap of the doubling wait, as a shift of the first one. */
#define BACKOFF_SHIFT_MAX 6
/* A TCP exchange may take this many first waits (connect, send, read). */
#define TCP_TIMEOUT_SHIFT 2

/* --- the cache ------------------------------------------------------------ */

void hz_dns_cache_init(struct hz_dns_cache *c)
{
	memset(c, 0, sizeof(*c));
}

/* Writes the lower-case wire form of @name to @key; its length or error. */
static int cache_key(const char *name, uint8_t *key)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	int n = hz_dns_query_encode(q, sizeof(q), 0, name, HZ_DNS_TYPE_A, 0);

	if (n < 0)
		return n;
	n -= 12 + 4;
	for (int i = 0; i < n; i++) {
		uint8_t ch = q[12 + i];

		key[i] = ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
	}
	return n;
}

static bool cache_lookup(struct hz_dns_cache *c, const uint8_t *key,
			 size_t klen, hz_ipv4_t *out)
{
	uint64_t now = hz_now();

	for (size_t i = 0; i < HZ_DNS_CACHE_ENTRIES; i++) {
		struct hz_dns_cache_entry *e = &c->e[i];

		if (e->name_len != klen || memcmp(e->name, key, klen) != 0)
			continue;
		if (now >= e->expires) {
			e->name_len = 0;
			c->expired++;
			break;
		}
		e->used = now;
		*out = e->addrs[0];
		c->hits++;
		return true;
	}
	c->misses++;
	return false;
}

static void cache_store(struct hz_dns_cache *c, const uint8_t *key, size_t klen,
			const struct hz_dns_answer *a)
{
	uint32_t ttl =
	    a->ttl < HZ_DNS_CACHE_TTL_MAX ? a->ttl : HZ_DNS_CACHE_TTL_MAX;
	struct hz_dns_cache_entry *e = &c->e[0];
	uint64_t now = hz_now();

	if (ttl == 0 || a->naddrs == 0)
		return;
	/* The same name, else a free entry, else the least recently used. */
	for (size_t i = 0; i < HZ_DNS_CACHE_ENTRIES; i++) {
		struct hz_dns_cache_entry *x = &c->e[i];

		if (x->name_len == klen && memcmp(x->name, key, klen) == 0) {
			e = x;
			break;
		}
		if (e->name_len != 0 && (x->name_len == 0 || x->used < e->used))
			e = x;
	}
	memcpy(e->name, key, klen);
	e->name_len = (uint8_t)klen;
	e->naddrs =
	    (uint8_t)(a->naddrs < HZ_DNS_CACHE_ADDRS ? a->naddrs
						     : HZ_DNS_CACHE_ADDRS);
	memcpy(e->addrs, a->addrs, e->naddrs * sizeof(hz_ipv4_t));
	e->expires = now + (uint64_t)ttl * HZ_NS_PER_S;
	e->used = now;
}

/* --- servers -------------------------------------------------------------- */

size_t hz_dns_ipstack_servers(void *ipstack, hz_ipv4_t *out, size_t max)
{
	struct hz_ipstack_info info;
	size_t n = 0;

	hz_ipstack_info(ipstack, &info);
	for (size_t i = 0; i < HZ_IPSTACK_MAX_DNS && n < max; i++)
		if (info.dns[i] != 0)
			out[n++] = info.dns[i];
	return n;
}

static size_t servers_get(const struct hz_dns_config *cfg, hz_ipv4_t *out)
{
	size_t n = 0;

	if (cfg->servers_fn != NULL) {
		n = cfg->servers_fn(cfg->servers_arg, out, HZ_DNS_SERVERS_MAX);
		return n < HZ_DNS_SERVERS_MAX ? n : HZ_DNS_SERVERS_MAX;
	}
	while (n < HZ_DNS_SERVERS_MAX && cfg->servers[n] != 0) {
		out[n] = cfg->servers[n];
		n++;
	}
	return n;
}

/* --- one resolution ------------------------------------------------------- */

struct resolution {
	struct hz_stack *s;
	const char *name;
	uint16_t port; /* of the servers */
	hz_ipv4_t servers[HZ_DNS_SERVERS_MAX];
	size_t nservers;
	bool asked[HZ_DNS_SERVERS_MAX];
	bool failed[HZ_DNS_SERVERS_MAX];  /* gave SERVFAIL, REFUSED, ... */
	bool no_edns[HZ_DNS_SERVERS_MAX]; /* refused our OPT */
	uint8_t query[HZ_DNS_QUERY_MAX];  /* with the OPT */
	size_t qlen;
	size_t plain_len; /* of the query without it */
	uint8_t plain[HZ_DNS_QUERY_MAX];
	struct hz_udp_sock *u;
	uint64_t tcp_timeout; /* longest TCP exchange */
	unsigned sent;	      /* queries sent */
	bool out_of_time;     /* the caller's deadline ended it */
	unsigned dropped;     /* datagrams ignored */
	const char *last_why; /* reason of the last one ignored */
	char fail_what[96];   /* what the last failing server gave */
	int fail_code;	      /* its error code */
	bool fail_tcp;	      /* it failed over TCP */
	hz_ipv4_t fail_server;
	size_t at; /* index of the server the last verdict is about */
	struct hz_dns_answer ans;
	hz_ipv4_t from; /* who gave ans */
};

/* What a received datagram turned out to be. */
enum verdict {
	V_IGNORED,   /* not a usable answer to us: keep waiting */
	V_ANSWER,    /* res->ans holds the final answer */
	V_FAILED,    /* the server failed (SERVFAIL, ...): ask the next */
	V_NO_EDNS,   /* the server refused EDNS: ask it without */
	V_TRUNCATED, /* TC: ask the server over TCP */
};

static int server_index(const struct resolution *res, hz_ipv4_t a)
{
	for (size_t i = 0; i < res->nservers; i++)
		if (res->servers[i] == a)
			return (int)i;
	return -1;
}

/* The query as server @i is asked it: with the OPT, unless it refused. */
static const uint8_t *query_for(const struct resolution *res, size_t i,
				size_t *len)
{
	if (res->no_edns[i]) {
		*len = res->plain_len;
		return res->plain;
	}
	*len = res->qlen;
	return res->query;
}

/* Records that server @i failed, in words, with @code. */
static enum verdict server_failed(struct resolution *res, size_t i, int code,
				  bool tcp, const char *what)
{
	snprintf(res->fail_what, sizeof(res->fail_what), "%s", what);
	res->fail_code = code;
	res->fail_tcp = tcp;
	res->fail_server = res->servers[i];
	res->failed[i] = true;
	return V_FAILED;
}

/* What a decoded answer (res->ans) from server @i means. */
static enum verdict rcode_verdict(struct resolution *res, size_t i)
{
	uint16_t rc = res->ans.rcode;

	if (rc == HZ_DNS_NOERROR || rc == HZ_DNS_NXDOMAIN)
		return V_ANSWER;
	/* An OPT in the FORMERR means the server read ours: a real one. */
	if ((rc == HZ_DNS_FORMERR || rc == HZ_DNS_NOTIMP) && !res->ans.edns &&
	    !res->no_edns[i])
		return V_NO_EDNS;
	return server_failed(res, i, -HZ_EIO, false, hz_dns_rcode_name(rc));
}

static enum verdict judge(struct resolution *res, const uint8_t *msg,
			  size_t len, const struct hz_sockaddr *from)
{
	int i = server_index(res, from->addr);
	const char *why;

	if (i < 0 || !res->asked[i] || from->port != res->port) {
		hz_counter_inc(&c_drop_stranger);
		res->last_why = "from an address we did not ask";
		res->dropped++;
		return V_IGNORED;
	}
	if (hz_dns_response_decode(res->query, res->qlen, msg, len, &res->ans,
				   &why) < 0) {
		if (strcmp(why, "ID mismatch") == 0 ||
		    strcmp(why, "question mismatch") == 0)
			hz_counter_inc(&c_drop_spoof);
		else
			hz_counter_inc(&c_drop_malformed);
		HZ_DEBUG(&dns_log, "%s: ignored a response: %s", res->name,
			 why);
		res->last_why = why;
		res->dropped++;
		return V_IGNORED;
	}
	res->from = from->addr;
	res->at = (size_t)i;
	/* A cut answer is not used, even with addresses (RFC 2181 9). */
	if (res->ans.truncated && res->ans.rcode == HZ_DNS_NOERROR) {
		/* Another copy, from a retransmission: TCP was tried. */
		if (res->failed[i]) {
			res->last_why = "truncated, from a server that failed";
			res->dropped++;
			return V_IGNORED;
		}
		return V_TRUNCATED;
	}
	return rcode_verdict(res, (size_t)i);
}

/* --- TCP (RFC 7766) ------------------------------------------------------- */

/* Records a TCP failure of server @i: "TCP to SERVER: @fmt". */
HZ_PRINTF(4, 5)
static enum verdict tcp_failed(struct resolution *res, size_t i, int code,
			       const char *fmt, ...)
{
	char what[sizeof(res->fail_what)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	hz_counter_inc(&c_tcp_failed);
	HZ_DEBUG(&dns_log, "%s: TCP: %s", res->name, what);
	return server_failed(res, i, code, true, what);
}

/*
 * Reads exactly @want bytes into @buf however the stream cuts them;
 * *got says how many came. 0, -HZ_ECLOSED at the end of the stream, or
 * the flow's error (-HZ_ETIMEDOUT at @until).
 */
static int read_exact(struct hz_flow *f, uint8_t *buf, size_t want,
		      uint64_t until, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t n =
		    hz_flow_read_copy(f, buf + *got, want - *got, until);

		if (n == 0)
			return -HZ_ECLOSED;
		if (n < 0)
			return (int)n;
		*got += (size_t)n;
	}
	return 0;
}

/* Why a read of @got of @want bytes of @what stopped, for a message. */
static enum verdict tcp_read_failed(struct resolution *res, size_t i, int r,
				    const char *what, size_t got, size_t want)
{
	if (r == -HZ_ECLOSED)
		return tcp_failed(res, i, -HZ_EPROTO,
				  "connection closed after %zu of the %zu "
				  "bytes of %s",
				  got, want, what);
	return tcp_failed(res, i, r, "%s after %zu of the %zu bytes of %s",
			  hz_strerror(r), got, want, what);
}

/* Reads the length-prefixed response on @f and decodes it. */
static enum verdict tcp_response(struct resolution *res, size_t i,
				 struct hz_flow *f, const uint8_t *q,
				 size_t qlen, uint64_t until)
{
	uint8_t prefix[2], *msg;
	const char *why;
	size_t got, mlen;
	enum verdict vd;
	int r = read_exact(f, prefix, sizeof(prefix), until, &got);

	if (r < 0)
		return tcp_read_failed(res, i, r, "the length", got, 2);
	mlen = hz_get16(prefix);
	if (mlen < 12)
		return tcp_failed(res, i, -HZ_EPROTO,
				  "length %zu is shorter than a DNS header",
				  mlen);
	/* At most HZ_DNS_TCP_MAX, as the prefix has two bytes. */
	msg = hz_malloc(mlen);
	if (msg == NULL)
		return tcp_failed(res, i, -HZ_ENOMEM,
				  "no memory for a %zu-byte answer", mlen);
	r = read_exact(f, msg, mlen, until, &got);
	if (r < 0) {
		hz_free(msg);
		return tcp_read_failed(res, i, r, "the answer", got, mlen);
	}
	r = hz_dns_response_decode(q, qlen, msg, mlen, &res->ans, &why);
	hz_free(msg);
	if (r < 0)
		return tcp_failed(res, i, -HZ_EPROTO, "bad answer: %s", why);
	res->from = res->servers[i];
	if (res->ans.truncated)
		return tcp_failed(res, i, -HZ_EPROTO, "truncated answer");
	vd = rcode_verdict(res, i);
	/* Refusing over TCP the OPT it took over UDP: just a failure. */
	if (vd == V_NO_EDNS)
		vd = server_failed(res, i, -HZ_EIO, false,
				   hz_dns_rcode_name(res->ans.rcode));
	return vd;
}

/*
 * Asks server @i over TCP, until @deadline at the latest: connect, one
 * query, one response, close. V_ANSWER or V_FAILED.
 */
static enum verdict ask_tcp(struct resolution *res, size_t i, uint64_t deadline)
{
	struct hz_sockaddr dst = {res->servers[i], res->port};
	uint64_t now = hz_now(), until = now + res->tcp_timeout;
	struct hz_flow *f;
	uint8_t prefix[2];
	const uint8_t *q;
	size_t qlen;
	struct hz_iov iov[2];
	enum verdict vd;
	ssize_t n;
	int r;

	if (until > deadline || until < now)
		until = deadline;
	q = query_for(res, i, &qlen);
	hz_counter_inc(&c_tcp_queries);
	r = hz_tcp_connect(res->s, &dst, until, &f);
	if (r < 0)
		return tcp_failed(res, i, r, "%s", hz_strerror(r));
	hz_put16(prefix, (uint16_t)qlen);
	iov[0] = (struct hz_iov){prefix, sizeof(prefix)};
	iov[1] = (struct hz_iov){q, qlen};
	n = hz_flow_writev(f, iov, 2, until);
	if (n >= 0 && (size_t)n < sizeof(prefix) + qlen)
		n = -HZ_ETIMEDOUT;
	if (n < 0)
		vd = tcp_failed(res, i, (int)n, "sending the query: %s",
				hz_strerror((int)n));
	else
		vd = tcp_response(res, i, f, q, qlen, until);
	hz_flow_free(f);
	return vd;
}

/* Waits for an answer until @until; V_IGNORED if none came. */
static enum verdict wait_answer(struct resolution *res, uint64_t until,
				uint64_t deadline)
{
	for (;;) {
		struct hz_sockaddr from;
		struct hz_view v;
		enum verdict vd;
		int n = hz_udp_recvfrom(res->s, res->u, &v, &from, until);

		if (n < 0)
			return V_IGNORED;
		/* An empty datagram may come as a view of no buffer. */
		vd = judge(
		    res, v.pb != NULL ? hz_view_data(&v) : (const uint8_t *)"",
		    v.len, &from);
		hz_view_release(&v);
		if (vd == V_NO_EDNS) {
			struct hz_sockaddr dst = {res->servers[res->at],
						  res->port};

			hz_counter_inc(&c_edns_fallback);
			res->no_edns[res->at] = true;
			if (hz_udp_sendto(res->s, res->u, &dst, res->plain,
					  res->plain_len) == 0) {
				res->sent++;
				hz_counter_inc(&c_queries);
			}
			continue;
		}
		if (vd == V_TRUNCATED)
			vd = ask_tcp(res, res->at, deadline);
		if (vd != V_IGNORED)
			return vd;
	}
}

/* Opens the socket on a random port (or any, if those are taken). */
static int socket_open(struct resolution *res, const uint16_t *rnd)
{
	struct hz_sockaddr local = {0};

	for (unsigned i = 0; i < PORT_ATTEMPTS; i++) {
		local.port = (uint16_t)(PORT_FIRST + rnd[i] % PORT_COUNT);
		if (hz_udp_open(res->s, &local, &res->u) == 0)
			return 0;
	}
	local.port = 0;
	return hz_udp_open(res->s, &local, &res->u);
}

static bool all_failed(const struct resolution *res)
{
	for (size_t i = 0; i < res->nservers; i++)
		if (!res->failed[i])
			return false;
	return true;
}

/* Sends the query round by round until a verdict or the end. */
static enum verdict ask(struct resolution *res, const struct hz_dns_config *cfg,
			uint64_t deadline)
{
	uint64_t timeout =
	    cfg->timeout_ns ? cfg->timeout_ns : HZ_DNS_TIMEOUT_DEFAULT;
	unsigned tries = cfg->tries ? cfg->tries : HZ_DNS_TRIES_DEFAULT;

	for (unsigned t = 0; t < tries; t++) {
		unsigned shift = t < BACKOFF_SHIFT_MAX ? t : BACKOFF_SHIFT_MAX;

		for (size_t i = 0; i < res->nservers; i++) {
			struct hz_sockaddr dst = {res->servers[i], res->port};
			uint64_t now = hz_now(), until;
			const uint8_t *q;
			enum verdict vd;
			size_t qlen;

			if (res->failed[i])
				continue;
			if (now >= deadline) {
				res->out_of_time = true;
				return V_IGNORED;
			}
			q = query_for(res, i, &qlen);
			if (hz_udp_sendto(res->s, res->u, &dst, q, qlen) == 0) {
				res->asked[i] = true;
				res->sent++;
				hz_counter_inc(&c_queries);
			}
			until = now + (timeout << shift);
			if (until >= deadline || until < now) {
				until = deadline;
				res->out_of_time = true;
			}
			vd = wait_answer(res, until, deadline);
			if (vd == V_ANSWER)
				return vd;
			if (vd == V_FAILED && all_failed(res))
				return vd;
		}
	}
	return V_IGNORED;
}

/* The error of an unanswered resolution. */
static int no_answer(const struct resolution *res,
		     const struct hz_dns_config *cfg, struct hz_errmsg *err)
{
	char a[HZ_IPV4_STRLEN], more[16] = "", why[80] = "";
	unsigned tries = cfg->tries ? cfg->tries : HZ_DNS_TRIES_DEFAULT;

	if (res->nservers > 1)
		snprintf(more, sizeof(more), " and %u more",
			 (unsigned)(res->nservers - 1) & 7);
	if (res->dropped > 0)
		snprintf(why, sizeof(why), " (ignored %u: %s)", res->dropped,
			 res->last_why);
	if (res->out_of_time)
		tries = res->sent;
	return hz_errmsg_set(err, -HZ_ETIMEDOUT,
			     "DNS %s: no answer from %s%s after %u %s%s%s",
			     res->name, hz_ipv4_format(res->servers[0], a),
			     more, tries, tries == 1 ? "try" : "tries",
			     res->out_of_time ? " (deadline)" : "", why);
}

/* Turns the verdict into the result. */
static int conclude(struct resolution *res, const struct hz_dns_config *cfg,
		    enum verdict vd, const uint8_t *key, size_t klen,
		    hz_ipv4_t *out, struct hz_errmsg *err)
{
	char a[HZ_IPV4_STRLEN], canon[HZ_DNS_TEXT_MAX];

	if (vd == V_IGNORED)
		return no_answer(res, cfg, err);
	if (vd == V_FAILED && res->fail_tcp)
		return hz_errmsg_set(
		    err, res->fail_code, "DNS %s: TCP to %s: %s", res->name,
		    hz_ipv4_format(res->fail_server, a), res->fail_what);
	if (vd == V_FAILED)
		return hz_errmsg_set(err, res->fail_code, "DNS %s: %s from %s",
				     res->name, res->fail_what,
				     hz_ipv4_format(res->fail_server, a));
	hz_ipv4_format(res->from, a);
	if (res->ans.rcode == HZ_DNS_NXDOMAIN)
		return hz_errmsg_set(err, -HZ_ENOENT,
				     "DNS %s: NXDOMAIN from %s", res->name, a);
	if (res->ans.naddrs == 0) {
		if (res->ans.cnames > 0)
			return hz_errmsg_set(
			    err, -HZ_ENOENT,
			    "DNS %s: no address for its alias %s (from %s)",
			    res->name,
			    hz_dns_name_text(res->ans.canon, res->ans.canon_len,
					     canon, sizeof(canon)),
			    a);
		return hz_errmsg_set(
		    err, -HZ_ENOENT,
		    "DNS %s: no address for the name (from %s)", res->name, a);
	}
	if (cfg->cache != NULL)
		cache_store(cfg->cache, key, klen, &res->ans);
	*out = res->ans.addrs[0];
	return 0;
}

int hz_dns_resolve(struct hz_stack *s, const struct hz_dns_config *cfg,
		   const char *name, uint64_t deadline, hz_ipv4_t *out,
		   struct hz_errmsg *err)
{
	struct resolution res = {.s = s, .name = name};
	uint8_t key[HZ_DNS_NAME_MAX];
	struct {
		uint16_t id;
		uint16_t ports[PORT_ATTEMPTS];
		uint64_t case_bits;
	} rnd;
	enum verdict vd;
	int r, klen;

	HZ_ASSERT(s != NULL && cfg != NULL && name != NULL && out != NULL);
	if (hz_ipv4_parse(name, out) == 0)
		return 0;
	klen = cache_key(name, key);
	if (klen < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "DNS %.64s: not a valid host name", name);
	if (cfg->cache != NULL &&
	    cache_lookup(cfg->cache, key, (size_t)klen, out)) {
		hz_counter_inc(&c_cache_hits);
		return 0;
	}
	res.nservers = servers_get(cfg, res.servers);
	if (res.nservers == 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "DNS %s: no DNS server configured", name);
	res.port = cfg->port ? cfg->port : HZ_DNS_PORT;
	r = hz_random_bytes(&rnd, sizeof(rnd));
	if (r < 0)
		return hz_errmsg_set(err, r, "DNS %s: no random query ID: %s",
				     name, hz_strerror(r));
	r = hz_dns_query_encode(res.query, sizeof(res.query), rnd.id, name,
				HZ_DNS_TYPE_A, rnd.case_bits);
	HZ_ASSERT(r > 0); /* cache_key checked the name */
	res.plain_len = (size_t)r;
	memcpy(res.plain, res.query, res.plain_len);
	r = hz_dns_query_add_edns(res.query, res.plain_len, sizeof(res.query),
				  HZ_DNS_EDNS_UDP_OFFER);
	HZ_ASSERT(r > 0); /* HZ_DNS_QUERY_MAX leaves room for the OPT */
	res.qlen = (size_t)r;
	res.tcp_timeout =
	    (cfg->timeout_ns ? cfg->timeout_ns : HZ_DNS_TIMEOUT_DEFAULT)
	    << TCP_TIMEOUT_SHIFT;
	r = socket_open(&res, rnd.ports);
	if (r < 0)
		return hz_errmsg_set(err, r, "DNS %s: UDP: %s", name,
				     hz_stack_error(s));
	vd = ask(&res, cfg, deadline);
	hz_udp_close(s, res.u);
	return conclude(&res, cfg, vd, key, (size_t)klen, out, err);
}
