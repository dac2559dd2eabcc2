/*
 * fetch: downloads everything a TCP server sends and reports how much,
 * its CRC-32 and the rate, for interop tests that compare with what the
 * server sent.
 *
 *   fetch [--stack SPEC] HOST PORT
 * prints "fetch: N bytes crc32 XXXXXXXX in T ms" and exits 0, or names
 * what failed and exits 1.
 */
#include <stdlib.h>
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/stack.h>

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* Fortuna, seeded before hz_main: TCP's keys on the direct stack. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

/* CRC-32 (IEEE 802.3, reflected), one byte at a time: fast enough here. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

int hz_main(int argc, char **argv)
{
	const char *spec = "direct:service";
	struct hz_errmsg err = {0};
	struct hz_sockaddr dst;
	struct hz_stack *stack;
	struct hz_flow *flow;
	uint64_t total = 0, t0;
	uint32_t crc = 0;
	struct hz_view v;
	int i = 1, n;

	if (argc > 2 && strcmp(argv[1], "--stack") == 0) {
		spec = argv[2];
		i = 3;
	}
	if (argc - i != 2 || hz_ipv4_parse(argv[i], &dst.addr) < 0) {
		hz_printf("usage: fetch [--stack SPEC] HOST PORT\n");
		return 2;
	}
	dst.port = (uint16_t)atoi(argv[i + 1]);
	if (hz_stack_open(spec, hz_now() + 20 * HZ_NS_PER_S, &stack, &err) <
	    0) {
		hz_printf("fetch: %s\n", hz_errmsg_text(&err));
		return 1;
	}
	t0 = hz_now();
	if (hz_tcp_connect(stack, &dst, hz_now() + 10 * HZ_NS_PER_S, &flow) <
	    0) {
		hz_printf("fetch: %s\n", hz_stack_error(stack));
		return 1;
	}
	while ((n = hz_flow_read(flow, &v, hz_now() + 30 * HZ_NS_PER_S)) > 0) {
		crc = crc32_update(crc, hz_view_data(&v), v.len);
		total += v.len;
		hz_view_release(&v);
	}
	if (n < 0) {
		hz_printf("fetch: after %llu bytes: %s\n",
			  (unsigned long long)total, hz_flow_error(flow));
		hz_flow_free(flow);
		return 1;
	}
	hz_printf("fetch: %llu bytes crc32 %08x in %llu ms\n",
		  (unsigned long long)total, crc,
		  (unsigned long long)((hz_now() - t0) / HZ_NS_PER_MS));
	hz_flow_free(flow);
	hz_stack_destroy(stack);
	return 0;
}
