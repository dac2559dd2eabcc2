/*
 * The direct stack's wire helpers: the Internet checksum against RFC
 * 1071's worked example and a naive reference, the pseudo-header sum,
 * and the text forms of IPv4 and MAC addresses.
 */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>

#include "net/inet.h"

static void checksum_rfc1071_example(void **state)
{
	/* RFC 1071 section 3: the sum of these bytes is ddf2. */
	static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03,
				    0xf4, 0xf5, 0xf6, 0xf7};

	(void)state;
	assert_int_equal(hz_inet_fold(hz_inet_sum(b, sizeof(b), 0)),
			 (uint16_t)~0xddf2);
}

/* One's-complement sum, the slow obvious way. */
static uint16_t naive_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++) {
		sum += i % 2 == 0 ? (uint32_t)p[i] << 8 : p[i];
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return (uint16_t)~sum;
}

static void checksum_matches_reference(void **state)
{
	uint8_t buf[300];

	(void)state;
	srand(7);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)rand() % sizeof(buf);
		uint32_t split;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand();
		assert_int_equal(hz_inet_fold(hz_inet_sum(buf, len, 0)),
				 naive_checksum(buf, len));
		/* Summing in two even-length parts gives the same. */
		split = (uint32_t)(len / 2) & ~1u;
		assert_int_equal(
		    hz_inet_fold(hz_inet_sum(buf + split, len - split,
					     hz_inet_sum(buf, split, 0))),
		    naive_checksum(buf, len));
	}
}

static void checksum_verifies_to_zero(void **state)
{
	uint8_t h[20] = {0x45, 0, 0,  20, 0, 1, 0,  0, 64, 17,
			 0,    0, 10, 0,  0, 1, 10, 0, 0,  2};
	uint16_t c = hz_inet_fold(hz_inet_sum(h, sizeof(h), 0));

	(void)state;
	hz_put16(h + 10, c);
	assert_int_equal(hz_inet_fold(hz_inet_sum(h, sizeof(h), 0)), 0);
}

static void pseudo_sum_is_the_header_sum(void **state)
{
	uint8_t ph[12];

	(void)state;
	hz_put32(ph, HZ_IPV4(10, 0, 0, 1));
	hz_put32(ph + 4, HZ_IPV4(192, 168, 200, 254));
	ph[8] = 0;
	ph[9] = HZ_IPPROTO_UDP;
	hz_put16(ph + 10, 1234);
	assert_int_equal(hz_inet_fold(hz_inet_pseudo_sum(
			     HZ_IPV4(10, 0, 0, 1), HZ_IPV4(192, 168, 200, 254),
			     HZ_IPPROTO_UDP, 1234)),
			 hz_inet_fold(hz_inet_sum(ph, sizeof(ph), 0)));
}

static void ipv4_text_round_trip(void **state)
{
	char buf[HZ_IPV4_STRLEN];
	hz_ipv4_t a;

	(void)state;
	assert_string_equal(hz_ipv4_format(HZ_IPV4(10, 0, 2, 15), buf),
			    "10.0.2.15");
	assert_string_equal(hz_ipv4_format(0xffffffffu, buf),
			    "255.255.255.255");
	assert_int_equal(hz_ipv4_parse("192.168.1.254", &a), 0);
	assert_int_equal(a, HZ_IPV4(192, 168, 1, 254));
	assert_int_equal(hz_ipv4_parse("0.0.0.0", &a), 0);
	assert_int_equal(a, 0);
}

static void ipv4_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",		"1.2.3",    "1.2.3.4.5",  "256.1.1.1",
	    "1.2.3.4 ", "01.2.3.4", "1..2.3",	  "a.b.c.d",
	    "1.2.3.-4", "1.2.3.4.", "1234.1.1.1",
	};
	hz_ipv4_t a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hz_ipv4_parse(bad[i], &a), -HZ_EINVAL);
}

static void mac_format(void **state)
{
	struct hz_mac m = {{0x02, 0x48, 0x5a, 0x00, 0xab, 0xff}};
	char buf[HZ_MAC_STRLEN];

	(void)state;
	assert_string_equal(hz_mac_format(&m, buf), "02:48:5a:00:ab:ff");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(checksum_rfc1071_example),
	    HARNESS_TEST(checksum_matches_reference),
	    HARNESS_TEST(checksum_verifies_to_zero),
	    HARNESS_TEST(pseudo_sum_is_the_header_sum),
	    HARNESS_TEST(ipv4_text_round_trip),
	    HARNESS_TEST(ipv4_parse_rejects),
	    HARNESS_TEST(mac_format),
	};

	return HARNESS_RUN("net_inet", tests);
}
