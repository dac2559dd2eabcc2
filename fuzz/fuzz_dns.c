/*
 * libFuzzer harness: DNS responses through hz_dns_response_decode, as the
 * answer to a fixed query (www.haze.test, the message's ID) with and
 * without an EDNS OPT, and as the answer to a query made of the message's
 * own question, again with and without an OPT, so mutations get past the
 * question check and reach the answer, authority and additional sections.
 * The input is decoded as a UDP datagram and, if its first two bytes
 * frame a message as TCP does (RFC 7766), that message too, copied to a
 * buffer of exactly its length as the resolver reads it. The input as a
 * name goes through hz_dns_query_encode too: what it encodes must decode
 * back as the question of the query.
 */
#include <stdlib.h>
#include <string.h>

#include "haze/dns.h"
#include "haze/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks what a successful decode promises. */
static void check(const struct hz_dns_answer *a)
{
	char text[HZ_DNS_TEXT_MAX];

	if (a->naddrs > HZ_DNS_ADDRS_MAX || a->cnames > HZ_DNS_CNAME_MAX ||
	    a->canon_len == 0 || a->canon_len > HZ_DNS_NAME_MAX)
		abort();
	/* 12 bits of RCODE; without an OPT, only the header's 4. */
	if (a->rcode > 0xfff || (!a->edns && (a->rcode > 15 || a->edns_udp)))
		abort();
	hz_dns_name_text(a->canon, a->canon_len, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
}

/* Decodes @msg as the answer to @q, then to @q with an OPT. */
static void decode_both(uint8_t *q, size_t qlen, const uint8_t *msg, size_t len)
{
	struct hz_dns_answer a;
	const char *why;
	int n;

	for (int edns = 0; edns < 2; edns++) {
		if (hz_dns_response_decode(q, qlen, msg, len, &a, &why) == 0)
			check(&a);
		else if (why == NULL || why[0] == '\0')
			abort();
		if (edns)
			break;
		n = hz_dns_query_add_edns(q, qlen, HZ_DNS_QUERY_MAX,
					  HZ_DNS_EDNS_UDP_OFFER);
		if (n != (int)(qlen + HZ_DNS_EDNS_OPT_LEN))
			abort();
		qlen = (size_t)n;
	}
}

/* Copies the input's header and uncompressed question into @q. */
static size_t own_query(const uint8_t *data, size_t size, uint8_t *q)
{
	size_t off = 12;

	if (size < 12)
		return 0;
	while (off < size && data[off] != 0) {
		if (data[off] > 63)
			return 0;
		off += 1 + (size_t)data[off];
	}
	off += 1 + 4;
	/* A name of at most 255 bytes, as our own queries have. */
	if (off > size || off > 12 + HZ_DNS_NAME_MAX + 4 || off <= 12 + 4 + 1)
		return 0;
	memcpy(q, data, off);
	q[10] = q[11] = 0; /* no additional record: room for our OPT */
	return off;
}

/* Every decode of @msg (@len bytes). */
static void decode_all(const uint8_t *msg, size_t len)
{
	uint8_t q[HZ_DNS_QUERY_MAX];
	int n;

	n = hz_dns_query_encode(q, sizeof(q),
				len >= 2 ? (uint16_t)(msg[0] << 8 | msg[1]) : 0,
				"www.haze.test", HZ_DNS_TYPE_A, 0);
	if (n <= 0)
		abort();
	decode_both(q, (size_t)n, msg, len);
	n = (int)own_query(msg, len, q);
	if (n > 0)
		decode_both(q, (size_t)n, msg, len);
}

/* Encodes the input as a name; a query made must be well formed. */
static void encode(const uint8_t *data, size_t size)
{
	uint8_t q[HZ_DNS_QUERY_MAX], back[HZ_DNS_QUERY_MAX];
	char name[HZ_DNS_TEXT_MAX + 8];
	int n;

	if (size >= sizeof(name))
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	n = hz_dns_query_encode(q, sizeof(q), 1, name, HZ_DNS_TYPE_A,
				size > 0 ? data[0] : 0);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(q) || own_query(q, (size_t)n, back) != (size_t)n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_all(data, size);
	/* As a TCP stream: the length, then the message (the resolver
	 * refuses lengths below a header before decoding). */
	if (size >= 2 && hz_get16(data) >= 12 && hz_get16(data) <= size - 2) {
		size_t len = hz_get16(data);
		uint8_t *msg = malloc(len);

		if (msg == NULL)
			abort();
		memcpy(msg, data + 2, len);
		decode_all(msg, len);
		free(msg);
	}
	encode(data, size);
	return 0;
}
