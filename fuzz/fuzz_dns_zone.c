/*
 * libFuzzer harness for the DNS server's zone parser (src/dns/dns_zone.c):
 * the input is master-file text, parsed with the origin fuzz.test. into a
 * fixed block and again into a heap zone with a budget; both must agree.
 * A refusal must name its line; a zone that loads must keep its promises
 * (one SOA at the apex, every owner under it, every offset inside the
 * memory), and each of its first records, asked for, must be answered
 * with a well-formed response.
 */
#include <stdlib.h>
#include <string.h>

#include "dns/dns_server_impl.h"
#include "fuzz/fuzz_dns_check.h"
#include "fuzz/fuzz_heap.h"
#include "haze/dns_server.h"

#define FUZZ_HEAP (8u << 20)
#define ZONE_MEM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_HEAP_INITIALIZE(FUZZ_HEAP)

static void check_zone(const struct hz_dns_zone *z)
{
	const struct hz_dns_rr *rr = hz_dns_zone_rrs(z);

	if (z->nrr == 0 || z->soa >= z->nrr ||
	    rr[z->soa].type != HZ_DNS_TYPE_SOA ||
	    z->nrr * sizeof(*rr) + z->data_len > z->cap)
		abort();
	for (size_t i = 0; i < z->nrr; i++) {
		if (rr[i].owner > z->data_len || rr[i].rdata > z->data_len ||
		    rr[i].owner < rr[i].owner_len ||
		    rr[i].rdata < rr[i].rdlen ||
		    rr[i].rdlen > HZ_DNS_ZONE_RDATA_MAX)
			abort();
		if (!hz_dns_name_under(hz_dns_zone_at(z, rr[i].owner),
				       rr[i].owner_len, z->apex, z->apex_len))
			abort();
	}
}

/* Asks for the first records of @z, each by its owner and type. */
static void ask(const struct hz_dns_zone *z)
{
	const struct hz_dns_server s = {z, NULL};
	static uint8_t q[12 + HZ_DNS_NAME_MAX + 4], out[4096];

	for (size_t i = 0; i < z->nrr && i < 16; i++) {
		const struct hz_dns_rr *rr = &hz_dns_zone_rrs(z)[i];
		int n;

		memset(q, 0, 12);
		q[5] = 1;
		memcpy(q + 12, hz_dns_zone_at(z, rr->owner), rr->owner_len);
		hz_put16(q + 12 + rr->owner_len, rr->type);
		hz_put16(q + 14 + rr->owner_len, HZ_DNS_CLASS_IN);
		n = hz_dns_server_answer(&s, q, 16 + rr->owner_len, 1,
					 i & 1 ? HZ_DNS_TCP : HZ_DNS_UDP, 0,
					 out, sizeof(out));
		if (n <= 0)
			abort();
		fuzz_dns_check(out, (size_t)n, i & 1 ? sizeof(out) : 512);
		/* The record asked for exists: an authoritative answer. */
		if ((out[3] & 0xf) != 0 || !(out[2] & 0x04))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t mem[ZONE_MEM / 8];
	struct hz_errmsg err = {0}, herr = {0};
	struct hz_dns_zone z, hz;
	int rc, hrc;

	rc = hz_dns_zone_parse(&z, mem, sizeof(mem), "fuzz.test.",
			       (const char *)data, size, &err);
	hrc = hz_dns_zone_load(&hz, ZONE_MEM, "fuzz.test.", (const char *)data,
			       size, &herr);
	if (rc != hrc)
		abort();
	if (rc < 0) {
		if (strncmp(err.text, "zone", 4) != 0 ||
		    strcmp(err.text, herr.text) != 0)
			abort();
		return 0;
	}
	if (z.nrr != hz.nrr)
		abort();
	check_zone(&z);
	check_zone(&hz);
	ask(&z);
	hz_dns_zone_release(&hz);
	return 0;
}
