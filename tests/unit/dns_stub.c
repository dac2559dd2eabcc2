/* A DNS server for the unit tests: every name is 10.0.0.2, but nx.*
 * (dns_stub.h). */
#include "tests/unit/dns_stub.h"

#include <string.h>

#include "haze/dns.h"
#include "haze/sched.h"
#include "tests/unit/harness.h"

/* Answers query @q of @len bytes from @from: 10.0.0.2, or NXDOMAIN. */
static void dns_stub_answer(struct dns_stub *d, const uint8_t *q, size_t len,
			    const struct hz_sockaddr *from)
{
	static const uint8_t a[] = {0xc0, 0x0c, 0, 1, 0,  1, 0, 0,
				    0,	  60,	0, 4, 10, 0, 0, 2};
	uint8_t r[HZ_DNS_QUERY_MAX + sizeof(a)];
	size_t qend = 12;

	while (qend < len && q[qend] != 0)
		qend += 1 + (size_t)q[qend];
	qend += 5;
	if (len < 14 || qend > len || qend > HZ_DNS_QUERY_MAX)
		return;
	memcpy(r, q, qend);
	r[2] = 0x81;
	if ((q[13] | 0x20) == 'n' && (q[14] | 0x20) == 'x') {
		r[3] = 0x80 | HZ_DNS_NXDOMAIN;
	} else {
		r[3] = 0x80;
		r[7] = 1;
		memcpy(r + qend, a, sizeof(a));
		qend += sizeof(a);
	}
	HARNESS_CHECK(hz_udp_sendto(d->s, d->u, from, r, qend) == 0);
}

void dns_stub_fiber(void *arg)
{
	struct dns_stub *d = arg;

	while (!d->stop) {
		struct hz_sockaddr from;
		struct hz_view v;

		if (hz_udp_recvfrom(d->s, d->u, &v, &from,
				    hz_now() + 10 * HZ_NS_PER_MS) < 0)
			continue;
		dns_stub_answer(d, hz_view_data(&v), v.len, &from);
		hz_view_release(&v);
	}
	d->done = true;
}

void dns_stub_start(struct dns_stub *d, struct hz_stack *s)
{
	struct hz_sockaddr dns = {0, 53};

	d->s = s;
	HARNESS_CHECK_EQ(hz_udp_open(d->s, &dns, &d->u), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("dns", dns_stub_fiber, d, 0), 0);
}
