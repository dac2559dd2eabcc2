/*
 * DNS: the wire format (RFC 1035) and a stub resolver for A records.
 *
 * The wire format is sans-I/O: hz_dns_query_encode writes a query into a
 * caller's buffer and hz_dns_response_decode checks a response against
 * the query it answers (ID, question echoed byte for byte, so a randomized
 * letter case is checked too) and walks its answers, following a CNAME
 * chain inside the response, with every name, pointer and length checked:
 * nothing a server sends can read outside the message or loop.
 *
 * hz_dns_resolve asks the configured servers over UDP through any STACK
 * (haze/stack.h): a random ID and source port per resolution, the query
 * retransmitted with exponential backoff, answers from elsewhere or for
 * another question ignored and counted, a small caller-owned cache that
 * honours TTLs. Queries carry EDNS0 (RFC 6891); a truncated answer is
 * asked again over TCP (RFC 7766). Literal addresses ("10.0.0.1") are
 * returned as they are. See docs/conduit.md and docs/dns.md.
 */
#ifndef HAZE_DNS_H
#define HAZE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/net.h"
#include "haze/stack.h"

#define HZ_DNS_PORT 53
/* Longest name in wire format, the final root label included. */
#define HZ_DNS_NAME_MAX 255
/* Room for a name as text: 253 characters and the NUL. */
#define HZ_DNS_TEXT_MAX 254
/* Bytes of the OPT record hz_dns_query_add_edns appends. */
#define HZ_DNS_EDNS_OPT_LEN 11
/* Largest query: hz_dns_query_encode's, with an OPT record. */
#define HZ_DNS_QUERY_MAX (12 + HZ_DNS_NAME_MAX + 4 + HZ_DNS_EDNS_OPT_LEN)
/* Largest response read over UDP without EDNS (RFC 1035 4.2.1). */
#define HZ_DNS_UDP_MAX 512
/* Most addresses a decoded answer keeps. */
#define HZ_DNS_ADDRS_MAX 8
/* Most CNAME links followed inside one response. */
#define HZ_DNS_CNAME_MAX 8
/* Most answer records looked at in one response. */
#define HZ_DNS_RR_MAX 64
/* UDP payload size the resolver offers in its OPT (as the server does). */
#define HZ_DNS_EDNS_UDP_OFFER 1232
/* Largest message over TCP: what a two-byte length can say. */
#define HZ_DNS_TCP_MAX 65535

#define HZ_DNS_TYPE_A 1
#define HZ_DNS_TYPE_CNAME 5
#define HZ_DNS_TYPE_SOA 6
#define HZ_DNS_TYPE_AAAA 28
#define HZ_DNS_TYPE_OPT 41
#define HZ_DNS_CLASS_IN 1

/* Response codes (RCODE) of the header. */
enum hz_dns_rcode {
	HZ_DNS_NOERROR = 0,
	HZ_DNS_FORMERR = 1,
	HZ_DNS_SERVFAIL = 2,
	HZ_DNS_NXDOMAIN = 3,
	HZ_DNS_NOTIMP = 4,
	HZ_DNS_REFUSED = 5,
};

/*
 * Returns the name of an RCODE ("NXDOMAIN"), extended ones included
 * ("BADVERS", 16), or "RCODE?" if unknown.
 */
const char *hz_dns_rcode_name(unsigned rcode);

/* What a response says about the question it answers. */
struct hz_dns_answer {
	uint16_t rcode;	   /* enum hz_dns_rcode, or another value; 12 bits */
	bool truncated;	   /* TC: the server cut the answer short */
	bool edns;	   /* the response carried an OPT record */
	uint16_t edns_udp; /* the server's UDP payload size, if edns */
	size_t naddrs;	   /* A records of the final name (at most ADDRS_MAX) */
	hz_ipv4_t addrs[HZ_DNS_ADDRS_MAX];
	uint32_t ttl;	 /* least TTL of the addresses and CNAMEs used */
	unsigned cnames; /* CNAME links followed */
	uint8_t canon[HZ_DNS_NAME_MAX]; /* final name, wire format */
	size_t canon_len;
};

/*
 * Writes a query for @name (text, "example.org" or "example.org.") of
 * @qtype, class IN, recursion desired, with @id, into @buf. Bit i of
 * @case_bits flips the case of the i-th letter of the name (0x20
 * randomization; 0 keeps it). Returns the length, or -HZ_EINVAL (not a
 * host name: empty label, label over 63 bytes, name over 255, a byte
 * other than letters, digits, '-' and '_'), or -HZ_ENOSPC.
 */
HZ_MUST_CHECK
int hz_dns_query_encode(uint8_t *buf, size_t cap, uint16_t id, const char *name,
			uint16_t qtype, uint64_t case_bits);

/*
 * Appends an OPT record (EDNS0, RFC 6891: version 0, no flags, no
 * options) offering @udp_size bytes to the query of @len bytes in @buf,
 * which must have no additional record yet. Returns the new length, or
 * -HZ_ENOSPC if @cap is too small.
 */
HZ_MUST_CHECK
int hz_dns_query_add_edns(uint8_t *buf, size_t len, size_t cap,
			  uint16_t udp_size);

/*
 * Decodes @msg (@len bytes, up to HZ_DNS_TCP_MAX: a UDP datagram or a TCP
 * message without its length prefix) as the response to @query (@qlen
 * bytes, as hz_dns_query_encode wrote it, with or without an OPT). 0 with
 * *out filled (look at out->rcode first: it includes the extended RCODE
 * of an OPT), or -HZ_EPROTO when it is not a well-formed response to that
 * query, the reason in *why (a fixed string: "ID mismatch", "question
 * mismatch", "compression pointer loop", ...). The answer section must be
 * whole (unless TC); the records after it are read only to find the OPT,
 * and the walk stops quietly at one that does not fit. Never reads
 * outside @msg.
 */
HZ_MUST_CHECK
int hz_dns_response_decode(const uint8_t *query, size_t qlen,
			   const uint8_t *msg, size_t len,
			   struct hz_dns_answer *out, const char **why);

/*
 * Writes the wire-format name @name (@len bytes, uncompressed) as text
 * into @buf (@cap bytes, at least 1), without the final dot; bytes that
 * are not letters, digits, '-' or '_' are written \DDD. Truncates to fit.
 * Returns @buf.
 */
char *hz_dns_name_text(const uint8_t *name, size_t len, char *buf, size_t cap);

/* --- the cache ------------------------------------------------------------ */

/* Entries a cache holds; the least recently used is replaced. */
#define HZ_DNS_CACHE_ENTRIES 32
/* Longest time an answer is kept, whatever its TTL says. */
#define HZ_DNS_CACHE_TTL_MAX (24u * 3600u)
/* Addresses kept per name. */
#define HZ_DNS_CACHE_ADDRS 4

struct hz_dns_cache_entry {
	uint8_t name[HZ_DNS_NAME_MAX]; /* wire format, lower case */
	uint8_t name_len;	       /* 0: a free entry */
	uint8_t naddrs;
	hz_ipv4_t addrs[HZ_DNS_CACHE_ADDRS];
	uint64_t expires; /* monotonic ns */
	uint64_t used;	  /* monotonic ns of the last hit, for LRU */
};

/* A bounded cache of answers, owned by the caller (no allocation). */
struct hz_dns_cache {
	struct hz_dns_cache_entry e[HZ_DNS_CACHE_ENTRIES];
	uint64_t hits, misses, expired;
};

/* Empties @c. */
void hz_dns_cache_init(struct hz_dns_cache *c);

/* --- the stub resolver ---------------------------------------------------- */

/* Most servers a configuration names. */
#define HZ_DNS_SERVERS_MAX 4
/* Defaults of a zeroed configuration. */
#define HZ_DNS_TIMEOUT_DEFAULT (1000ull * 1000000ull) /* 1 s, then doubles */
#define HZ_DNS_TRIES_DEFAULT 3

/*
 * Where and how to ask. Servers are the static list, or, if @servers_fn
 * is set, what it gives at each resolution: that is how a direct stack's
 * DHCP lease feeds the resolver (hz_dns_ipstack_servers) while the
 * resolver itself only knows a STACK.
 */
struct hz_dns_config {
	hz_ipv4_t servers[HZ_DNS_SERVERS_MAX]; /* 0 ends the list */
	uint16_t port;			       /* of the servers; 0: 53 */
	uint64_t timeout_ns; /* first wait for an answer; 0: 1 s */
	unsigned tries;	     /* queries sent to each server; 0: 3 */
	/* Fills @out with up to @max servers; returns how many. */
	size_t (*servers_fn)(void *arg, hz_ipv4_t *out, size_t max);
	void *servers_arg;
	struct hz_dns_cache *cache; /* NULL: no caching */
};

/*
 * A servers_fn giving the DNS servers a direct stack learned by DHCP (or
 * none): set servers_fn to it and servers_arg to the struct hz_ipstack.
 */
size_t hz_dns_ipstack_servers(void *ipstack, hz_ipv4_t *out, size_t max);

/*
 * Resolves @name to an IPv4 address in *out over UDP on @s, asking the
 * servers of @cfg in turn, each up to cfg->tries times with the wait
 * doubling from cfg->timeout_ns, until @deadline. Queries carry an OPT;
 * a server answering FORMERR or NOTIMP without one is asked again
 * without it. A truncated answer (TC) is asked again of the same server
 * over TCP on @s, for at most 4 times cfg->timeout_ns. A literal address
 * is returned as it is; a cached answer without a query. 0, or:
 * -HZ_ENOENT (NXDOMAIN, or no address for the name), -HZ_ETIMEDOUT (no
 * usable answer), -HZ_EIO (every server failed: SERVFAIL, REFUSED, ...),
 * -HZ_EINVAL (not a host name, no server), -HZ_EAGAIN (no entropy yet),
 * the stack's error, or, when the last server failed over TCP, that
 * failure (-HZ_ECONNREFUSED, -HZ_EPROTO for a broken TCP answer, ...);
 * @err says which, naming the name and the server: "DNS example.org:
 * NXDOMAIN from 10.0.0.1", "DNS example.org: TCP to 10.0.0.1: connection
 * refused".
 */
HZ_MUST_CHECK
int hz_dns_resolve(struct hz_stack *s, const struct hz_dns_config *cfg,
		   const char *name, uint64_t deadline, hz_ipv4_t *out,
		   struct hz_errmsg *err);

#endif
