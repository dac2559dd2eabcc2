/*
 * The stub resolver of haze/dns.h: A queries over UDP through any STACK,
 * and its bounded, caller-owned cache.
 *
 * One resolution uses one UDP socket on a random port and one random ID,
 * with the letters of the name in random case (0x20): an answer counts
 * only if it comes from a server we asked, from its port, with our ID and
 * our question byte for byte. Anything else is dropped and counted, and
 * the wait goes on, so a forged or broken datagram cannot end a
 * resolution early. The query goes to each server in turn; the wait for
 * an answer doubles with every round.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/dns.h"
#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/random.h"
#include "haze/sched.h"

static HZ_LOG_SOURCE(dns_log, "dns");
static HZ_COUNTER(c_queries, "dns", "queries_sent");
static HZ_COUNTER(c_cache_hits, "dns", "cache_hits");
static HZ_COUNTER(c_drop_stranger, "dns", "drop_unexpected_source");
static HZ_COUNTER(c_drop_spoof, "dns", "drop_id_or_question_mismatch");
static HZ_COUNTER(c_drop_malformed, "dns", "drop_malformed");

/* Random source ports come from the dynamic range (RFC 6335). */
#define PORT_FIRST 49152u
#define PORT_COUNT 16384u
#define PORT_ATTEMPTS 4
/* Cap of the doubling wait, as a shift of the first one. */
#define BACKOFF_SHIFT_MAX 6

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
	bool failed[HZ_DNS_SERVERS_MAX]; /* gave SERVFAIL, REFUSED, ... */
	uint8_t query[HZ_DNS_QUERY_MAX];
	size_t qlen;
	struct hz_udp_sock *u;
	unsigned sent;	       /* queries sent */
	bool out_of_time;      /* the caller's deadline ended it */
	unsigned dropped;      /* datagrams ignored */
	const char *last_why;  /* reason of the last one ignored */
	const char *fail_what; /* what the last failing server gave */
	hz_ipv4_t fail_server;
	struct hz_dns_answer ans;
	hz_ipv4_t from; /* who gave ans */
};

/* What a received datagram turned out to be. */
enum verdict {
	V_IGNORED, /* not a usable answer to us: keep waiting */
	V_ANSWER,  /* res->ans holds the final answer */
	V_FAILED,  /* the server failed (SERVFAIL, ...): ask the next */
};

static int server_index(const struct resolution *res, hz_ipv4_t a)
{
	for (size_t i = 0; i < res->nservers; i++)
		if (res->servers[i] == a)
			return (int)i;
	return -1;
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
	if (res->ans.rcode == HZ_DNS_NOERROR && res->ans.truncated &&
	    res->ans.naddrs == 0) {
		res->fail_what = "a truncated answer (no TCP fallback)";
		res->fail_server = from->addr;
		res->failed[i] = true;
		return V_FAILED;
	}
	if (res->ans.rcode == HZ_DNS_NOERROR ||
	    res->ans.rcode == HZ_DNS_NXDOMAIN)
		return V_ANSWER;
	res->fail_what = hz_dns_rcode_name(res->ans.rcode);
	res->fail_server = from->addr;
	res->failed[i] = true;
	return V_FAILED;
}

/* Waits for an answer until @until; V_IGNORED if none came. */
static enum verdict wait_answer(struct resolution *res, uint64_t until)
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
			enum verdict vd;

			if (res->failed[i])
				continue;
			if (now >= deadline) {
				res->out_of_time = true;
				return V_IGNORED;
			}
			if (hz_udp_sendto(res->s, res->u, &dst, res->query,
					  res->qlen) == 0) {
				res->asked[i] = true;
				res->sent++;
				hz_counter_inc(&c_queries);
			}
			until = now + (timeout << shift);
			if (until >= deadline || until < now) {
				until = deadline;
				res->out_of_time = true;
			}
			vd = wait_answer(res, until);
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
	if (vd == V_FAILED)
		return hz_errmsg_set(err, -HZ_EIO, "DNS %s: %s from %s",
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
	res.qlen = (size_t)r;
	r = socket_open(&res, rnd.ports);
	if (r < 0)
		return hz_errmsg_set(err, r, "DNS %s: UDP: %s", name,
				     hz_stack_error(s));
	vd = ask(&res, cfg, deadline);
	hz_udp_close(s, res.u);
	return conclude(&res, cfg, vd, key, (size_t)klen, out, err);
}
