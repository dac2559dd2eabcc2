/*
 * libFuzzer harness: DNS responses through hz_dns_response_decode, twice:
 * as the answer to a fixed query (www.haze.test, the input's ID), and as
 * the answer to a query made of the input's own question, so mutations
 * get past the question check and reach the answer section. The input as
 * a name goes through hz_dns_query_encode too: what it encodes must
 * decode back as the question of the query.
 */
#include <stdlib.h>
#include <string.h>

#include "haze/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks what a successful decode promises. */
static void check(const struct hz_dns_answer *a)
{
	char text[HZ_DNS_TEXT_MAX];

	if (a->naddrs > HZ_DNS_ADDRS_MAX || a->cnames > HZ_DNS_CNAME_MAX ||
	    a->canon_len == 0 || a->canon_len > HZ_DNS_NAME_MAX)
		abort();
	hz_dns_name_text(a->canon, a->canon_len, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();
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
	if (off > size || off > HZ_DNS_QUERY_MAX || off <= 12 + 4 + 1)
		return 0;
	memcpy(q, data, off);
	return off;
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
	uint8_t q[HZ_DNS_QUERY_MAX];
	struct hz_dns_answer a;
	const char *why;
	int n;

	n = hz_dns_query_encode(
	    q, sizeof(q), size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0,
	    "www.haze.test", HZ_DNS_TYPE_A, 0);
	if (n <= 0)
		abort();
	if (hz_dns_response_decode(q, (size_t)n, data, size, &a, &why) == 0)
		check(&a);
	else if (why == NULL || why[0] == '\0')
		abort();
	n = (int)own_query(data, size, q);
	if (n > 0 &&
	    hz_dns_response_decode(q, (size_t)n, data, size, &a, &why) == 0)
		check(&a);
	encode(data, size);
	return 0;
}
