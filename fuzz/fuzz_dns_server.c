/*
 * libFuzzer harness for the DNS server's answer path (src/dns/
 * dns_server.c): the input is a query, answered from a fixed zone over
 * UDP in a 512-byte buffer, over UDP in a large one (the client's EDNS
 * size decides), and over TCP, with a rate limiter whose clock the input
 * moves. Every response must be well formed (fuzz_dns_check.h), within
 * its size, and carry the query's ID.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_dns_check.h"
#include "fuzz/fuzz_heap.h"
#include "haze/dns_server.h"

#define FUZZ_HEAP (4u << 20)

static const char zone_text[] =
    "$ORIGIN fuzz.test.\n$TTL 300\n"
    "@ SOA ns1 hm ( 1 7200 3600 1209600 60 )\n"
    "  NS ns1\n  MX 10 mail\n"
    "ns1 A 10.0.0.1\nmail A 10.0.0.2\nmail AAAA 2001:db8::2\n"
    "www A 10.0.0.3\nwww A 10.0.0.4\nwww TXT \"a\" \"b c\"\n"
    "alias CNAME www\nalias2 CNAME alias\nloop CNAME loop\n"
    "ext CNAME www.example.org.\n_x._tcp SRV 0 1 80 www\n"
    "ptr PTR www\nx.y.z A 10.0.0.5\n"
    "*.w A 10.0.0.6\n*.w MX 1 www\nsub.w TXT \"s\"\n*.wc CNAME www\n";

static uint64_t zone_mem[2048];
static struct hz_dns_zone zone;
static struct hz_dns_rrl rrl;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hz_errmsg err = {0};

	(void)argc;
	(void)argv;
	fuzz_heap_init(FUZZ_HEAP);
	if (hz_dns_zone_parse(&zone, zone_mem, sizeof(zone_mem), NULL,
			      zone_text, sizeof(zone_text) - 1, &err) != 0)
		abort();
	hz_dns_rrl_init(&rrl, 5, 3, 2);
	return 0;
}

static void answer(const struct hz_dns_server *s, const uint8_t *q, size_t len,
		   enum hz_dns_transport tr, uint64_t now, size_t cap,
		   size_t max)
{
	static uint8_t out[65536];
	int n =
	    hz_dns_server_answer(s, q, len, (hz_ipv4_t)now, tr, now, out, cap);

	if (n < 0)
		abort();
	if (n == 0)
		return;
	fuzz_dns_check(out, (size_t)n, max);
	if (memcmp(out, q, 2) != 0)
		abort();
}

/* The question as a router of queries reads it (haze-jitsu). */
static void question(const uint8_t *q, size_t len)
{
	struct hz_dns_question qn;

	if (hz_dns_question_read(q, len, &qn) != 0)
		return;
	if (qn.name_len == 0 || qn.name_len > HZ_DNS_NAME_MAX ||
	    qn.name[qn.name_len - 1] != 0 || len < 12 + qn.name_len + 4)
		abort();
	for (size_t i = 0; i < qn.name_len; i++)
		if (qn.name[i] >= 'A' && qn.name[i] <= 'Z')
			abort();
	/* A name in the zone ends with its apex. */
	if (hz_dns_zone_contains(&zone, qn.name, qn.name_len) &&
	    (qn.name_len < zone.apex_len ||
	     memcmp(qn.name + qn.name_len - zone.apex_len, zone.apex,
		    zone.apex_len) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now;
	struct hz_dns_server s = {&zone, NULL};

	question(data, size);

	answer(&s, data, size, HZ_DNS_UDP, now, 512, 512);
	answer(&s, data, size, HZ_DNS_UDP, now, 4096, HZ_DNS_EDNS_UDP_MAX);
	answer(&s, data, size, HZ_DNS_TCP, now, 65536, 65535);
	s.rrl = &rrl;
	now += size > 0 ? (uint64_t)data[0] << 20 : 1;
	answer(&s, data, size, HZ_DNS_UDP, now, 1500, HZ_DNS_EDNS_UDP_MAX);
	return 0;
}
