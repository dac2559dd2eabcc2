/*
 * A small DNS server for the unit tests that resolve names over the
 * simulated link: it answers every A question with 10.0.0.2, except for
 * names whose first label starts with "nx", which get NXDOMAIN. Runs as a
 * fiber on the server's stack, UDP port 53.
 */
#ifndef HAZE_TESTS_DNS_STUB_H
#define HAZE_TESTS_DNS_STUB_H

#include <stdbool.h>

#include "haze/ipstack.h"

struct dns_stub {
	struct hz_stack *s;
	struct hz_udp_sock *u;
	bool stop, done; /* set stop; the fiber sets done as it returns */
};

/* Opens port 53 on @s and spawns the fiber that answers there (in a fiber). */
void dns_stub_start(struct dns_stub *d, struct hz_stack *s);

/* Answers until @arg's stop is set, then sets its done. */
void dns_stub_fiber(void *arg);

#endif
