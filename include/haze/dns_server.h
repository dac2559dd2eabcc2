/*
 * An authoritative DNS server, sans-I/O: a zone is parsed from master-file
 * text (a subset of RFC 1035 section 5) into memory the caller gives or
 * into a budgeted allocation from the Haze heap, and hz_dns_server_answer
 * turns one query's bytes into one response's bytes in a caller buffer,
 * with no allocation. The caller owns the sockets: UDP datagrams as they
 * are, TCP with the two-byte length framing of RFC 7766 (hz_dns_tcp_frame
 * helps). A per-prefix token bucket keeps the server from being used to
 * amplify. Design, limits and what is missing: docs/dns.md.
 */
#ifndef HAZE_DNS_SERVER_H
#define HAZE_DNS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/dns.h"
#include "haze/error.h"
#include "haze/net.h"

#define HZ_DNS_TYPE_NS 2
#define HZ_DNS_TYPE_PTR 12
#define HZ_DNS_TYPE_HINFO 13
#define HZ_DNS_TYPE_MX 15
#define HZ_DNS_TYPE_TXT 16
#define HZ_DNS_TYPE_SRV 33
#define HZ_DNS_TYPE_OPT 41
#define HZ_DNS_TYPE_ANY 255

/* Most records in a zone. */
#define HZ_DNS_ZONE_RR_MAX 65535
/* Largest RDATA of one record (a TXT of several strings, say). */
#define HZ_DNS_ZONE_RDATA_MAX 2048
/* Most fields (names, numbers, strings) in one record. */
#define HZ_DNS_ZONE_FIELDS_MAX 128
/* Most CNAME links an answer follows inside the zone. */
#define HZ_DNS_SERVER_CNAME_MAX 8
/* EDNS UDP size the server offers and never exceeds (DNS flag day 2020). */
#define HZ_DNS_EDNS_UDP_MAX 1232
/* BADVERS, the extended RCODE of an unknown EDNS version (RFC 6891). */
#define HZ_DNS_BADVERS 16

/* One record of a zone; names and RDATA live in the zone's memory. */
struct hz_dns_rr {
	uint32_t owner; /* offset of the owner name, wire format, lower case */
	uint32_t rdata; /* offset of the RDATA, names uncompressed */
	uint32_t ttl;
	uint32_t hash; /* of the owner, to skip most compares */
	uint32_t line; /* in the master file, for messages */
	uint16_t type;
	uint16_t rdlen;
	uint16_t next; /* 1 + the next record of this owner, 0: the last */
	uint8_t owner_len;
};

/* A slot of a zone's name index: a name's hash, and which name. */
struct hz_dns_slot {
	uint32_t hash;
	/* 0: empty; else 1 + (record << 8 | offset): the name is that
	 * record's owner from byte @offset on. Offset 0: the name owns
	 * records (the first in master-file order); above 0: some owner
	 * lies strictly below the name. */
	uint32_t ref;
};

/*
 * A zone: a table of records growing from the start of its memory and
 * names and RDATA growing from the end. Records are kept in master-file
 * order. Once parsed, a hash index of its names lies between the two,
 * so an answer costs the same in a zone of ten records or of 65,535.
 */
struct hz_dns_zone {
	uint8_t *mem;
	size_t cap;
	size_t budget;	 /* heap zones: the most @cap may grow to; 0 fixed */
	size_t nrr;	 /* records in use */
	size_t data_len; /* bytes used at the end of @mem */
	uint8_t apex[HZ_DNS_NAME_MAX]; /* owner of the SOA, lower case */
	uint8_t apex_len;
	size_t soa;		   /* index of the SOA record */
	uint32_t neg_ttl;	   /* min(SOA TTL, SOA minimum): RFC 2308 */
	struct hz_dns_slot *index; /* open addressing, mask + 1 slots */
	uint32_t index_mask;
};

/* The record table of @z. */
static inline struct hz_dns_rr *hz_dns_zone_rrs(const struct hz_dns_zone *z)
{
	return (struct hz_dns_rr *)(void *)z->mem;
}

/*
 * Parses master-file @text (@len bytes) into @z, in @mem (@cap bytes,
 * aligned for struct hz_dns_rr), which the caller keeps while the zone is
 * used. @origin (text, may be NULL) is the origin until a $ORIGIN. 0, or
 * -HZ_EINVAL (a syntax or consistency error) or -HZ_ENOMEM (@mem too
 * small), @err naming the line and the fault: "zone line 7: bad IPv4
 * address '10.0.0'".
 */
HZ_MUST_CHECK
int hz_dns_zone_parse(struct hz_dns_zone *z, void *mem, size_t cap,
		      const char *origin, const char *text, size_t len,
		      struct hz_errmsg *err);

/*
 * Like hz_dns_zone_parse, the memory taken from the Haze heap and grown
 * as needed up to @budget bytes (-HZ_ENOMEM past it). Release with
 * hz_dns_zone_release.
 */
HZ_MUST_CHECK
int hz_dns_zone_load(struct hz_dns_zone *z, size_t budget, const char *origin,
		     const char *text, size_t len, struct hz_errmsg *err);

/* Frees the heap memory of a zone from hz_dns_zone_load; a no-op else. */
void hz_dns_zone_release(struct hz_dns_zone *z);

/* --- the rate limiter ----------------------------------------------------- */

/* Prefixes the limiter tracks; a new one evicts the stalest of its set. */
#define HZ_DNS_RRL_SLOTS 256
/* Slots a prefix may occupy (its set in the table). */
#define HZ_DNS_RRL_WAYS 4
/* Defaults of a zeroed configuration. */
#define HZ_DNS_RRL_RATE_DEFAULT 20  /* responses per second per /24 */
#define HZ_DNS_RRL_BURST_DEFAULT 40 /* responses a bucket holds */
#define HZ_DNS_RRL_SLIP_DEFAULT 2   /* every 2nd limited query gets TC=1 */

struct hz_dns_rrl_slot {
	uint32_t prefix; /* source address & 0xffffff00 */
	bool used;
	uint32_t limited; /* queries over the limit, for the slip */
	uint64_t tokens;  /* in millionths of a response */
	uint64_t last;	  /* monotonic ns of the last refill */
};

/*
 * Response rate limiting per source /24 (UDP only: TCP needs a handshake,
 * so cannot be spoofed). Over the limit, a query is dropped, but every
 * @slip-th one (0: the default; 1: all) is answered with an empty TC=1
 * response so that a real client behind the prefix retries over TCP.
 */
struct hz_dns_rrl {
	uint32_t rate;	/* 0: default; UINT32_MAX: no limit */
	uint32_t burst; /* 0: default */
	uint32_t slip;	/* 0: default */
	struct hz_dns_rrl_slot slot[HZ_DNS_RRL_SLOTS];
};

/* What the limiter says of one response. */
enum hz_dns_rrl_verdict {
	HZ_DNS_RRL_PASS,
	HZ_DNS_RRL_SLIP, /* answer with TC=1 and nothing else */
	HZ_DNS_RRL_DROP,
};

/* Sets @r up with @rate, @burst and @slip (0 for each default). */
void hz_dns_rrl_init(struct hz_dns_rrl *r, uint32_t rate, uint32_t burst,
		     uint32_t slip);

/* Takes one response from @src's bucket at time @now (ns); the verdict. */
enum hz_dns_rrl_verdict hz_dns_rrl_take(struct hz_dns_rrl *r, hz_ipv4_t src,
					uint64_t now);

/* --- the server ----------------------------------------------------------- */

/* A server: one zone and, optionally, a rate limiter, both the caller's. */
struct hz_dns_server {
	const struct hz_dns_zone *zone;
	struct hz_dns_rrl *rrl; /* NULL: no rate limiting */
};

enum hz_dns_transport {
	HZ_DNS_UDP,
	HZ_DNS_TCP,
};

/*
 * Answers @query (@qlen bytes, one DNS message without TCP framing) from
 * @src over @tr at time @now (ns) into @out (@cap bytes, at least 512;
 * over UDP only the client's EDNS size, at most HZ_DNS_EDNS_UDP_MAX, or
 * 512 without EDNS, is used). Returns the response length, 0 when nothing
 * is to be sent (not a query, too short to answer, or rate limited), or
 * -HZ_EINVAL if @cap is below 512. Every refusal and drop is counted
 * ("dns_server/...").
 */
HZ_MUST_CHECK
int hz_dns_server_answer(const struct hz_dns_server *s, const uint8_t *query,
			 size_t qlen, hz_ipv4_t src, enum hz_dns_transport tr,
			 uint64_t now, uint8_t *out, size_t cap);

/*
 * RFC 7766 framing: given the first @have bytes of a TCP stream in @buf,
 * returns the length of the first whole message (its two-byte prefix
 * excluded) and sets *start to its offset (2), or 0 if more bytes are
 * needed. A zero-length message is -HZ_EPROTO.
 */
HZ_MUST_CHECK
int hz_dns_tcp_frame(const uint8_t *buf, size_t have, size_t *start);

/* Writes the two-byte length prefix of a @len-byte message to @hdr. */
void hz_dns_tcp_prefix(uint8_t hdr[2], size_t len);

/* The one question of a query, as the server reads it. */
struct hz_dns_question {
	uint8_t name[HZ_DNS_NAME_MAX]; /* wire format, lower case */
	size_t name_len;
	uint16_t qtype, qclass;
};

/*
 * Reads the question of @query (@qlen bytes) into @q, for a caller that
 * routes a query before it is answered (haze-jitsu). 0, or -HZ_EINVAL
 * when @query is not a query with exactly one well-formed question.
 */
HZ_MUST_CHECK
int hz_dns_question_read(const uint8_t *query, size_t qlen,
			 struct hz_dns_question *q);

/* Whether @name (wire format, lower case) is @z's apex or below it. */
bool hz_dns_zone_contains(const struct hz_dns_zone *z, const uint8_t *name,
			  size_t len);

#endif
