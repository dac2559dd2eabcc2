/*
 * conduitcheck: a conduit client as a whole unikernel, for the interop
 * tests (tests/conduit/interop.sh): resolves the endpoint's host through
 * a given DNS server, connects (tls: validates against the test CA
 * compiled in, tests/tls/mkcerts.sh), sends a request and prints what
 * comes back.
 *
 *   conduitcheck [--stack SPEC | --dhcp NET] [--dns A.B.C.D[:PORT]]
 *                [--timeout-ms N] [--tries N] [--send TEXT] ENDPOINT
 * --dhcp NET runs Haze's direct stack on NIC NET, configured by DHCP,
 * and asks the DNS servers the lease names (hz_dns_ipstack_servers)
 * unless --dns names one.
 * Prints "conduitcheck: connected ENDPOINT" (and the TLS suite), the
 * reply and "conduitcheck: done N bytes"; on failure "conduitcheck:
 * error: MESSAGE" and exits 1.
 */
#include <stdlib.h>
#include <string.h>

#include <haze/conduit.h>
#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/ipstack.h>
#include <haze/stack.h>
#include <haze/tls.h>

#include "tls_certs.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* DNS query ids, TCP's keys and TLS draw from Fortuna. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define WAIT (10ull * HZ_NS_PER_S)

static int fail(const char *msg)
{
	hz_printf("conduitcheck: error: %s\n", msg);
	return 1;
}

/* Parses "A.B.C.D[:PORT]" into the configuration's first server. */
static int dns_server(const char *s, struct hz_dns_config *dns)
{
	char addr[HZ_IPV4_STRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon != NULL ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(addr))
		return -HZ_EINVAL;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (colon != NULL)
		dns->port = (uint16_t)atoi(colon + 1);
	return hz_ipv4_parse(addr, &dns->servers[0]);
}

/* Opens the direct stack on NIC @net by DHCP; its lease's DNS servers. */
static int open_dhcp(const char *net, struct hz_conduit_config *cc)
{
	struct hz_ipstack_config ic = {.dhcp = true, .owns_net = true};
	struct hz_ipstack_info info;
	char a[HZ_IPV4_STRLEN], d[HZ_IPV4_STRLEN];
	struct hz_ipstack *ip;
	struct hz_net *n;
	int r;

	r = hz_netdev_open(net, NULL, &n);
	if (r < 0)
		return fail(hz_strerror(r));
	ic.name = net;
	if (hz_ipstack_create(n, &ic, &ip) < 0) {
		hz_netdev_close(n);
		return fail("no memory for the stack");
	}
	if (hz_ipstack_wait_configured(ip, hz_now() + WAIT) < 0)
		return fail(hz_ipstack_error(ip));
	hz_ipstack_info(ip, &info);
	hz_printf("conduitcheck: DHCP gave %s, DNS server %s\n",
		  hz_ipv4_format(info.addr, a), hz_ipv4_format(info.dns[0], d));
	cc->stack = hz_ipstack_stack(ip);
	if (cc->dns.servers[0] == 0) {
		cc->dns.servers_fn = hz_dns_ipstack_servers;
		cc->dns.servers_arg = ip;
	}
	return 0;
}

int hz_main(int argc, char **argv)
{
	const char *spec = "socket", *endpoint = NULL, *dhcp = NULL;
	const char *send = "GET / HTTP/1.0\r\n\r\n";
	struct hz_conduit_config cc = {0};
	struct hz_errmsg err = {0};
	struct hz_tls_config *tls;
	struct hz_conduit *c;
	struct hz_flow *flow;
	uint64_t total = 0;
	struct hz_view v;
	int i, n;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--stack") == 0)
			spec = argv[i + 1];
		else if (strcmp(argv[i], "--dhcp") == 0)
			dhcp = argv[i + 1];
		else if (strcmp(argv[i], "--dns") == 0) {
			if (dns_server(argv[i + 1], &cc.dns) < 0)
				return fail("--dns A.B.C.D[:PORT]");
		} else if (strcmp(argv[i], "--timeout-ms") == 0)
			cc.dns.timeout_ns =
			    strtoull(argv[i + 1], NULL, 10) * HZ_NS_PER_MS;
		else if (strcmp(argv[i], "--tries") == 0)
			cc.dns.tries = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--send") == 0)
			send = argv[i + 1];
		else
			break;
	}
	if (i != argc - 1)
		return fail("usage: conduitcheck [--stack SPEC | --dhcp NET] "
			    "[--dns A.B.C.D[:PORT]] [--timeout-ms N] "
			    "[--tries N] [--send TEXT] ENDPOINT");
	endpoint = argv[i];
	if (hz_tls_config_new(HZ_TLS_CLIENT, &tls) < 0)
		return fail("no memory");
	if (hz_tls_config_add_anchors(tls, ca_pem, ca_pem_len) < 0)
		return fail(hz_tls_config_error(tls));
	if (dhcp != NULL) {
		if (open_dhcp(dhcp, &cc) != 0)
			return 1;
	} else if (hz_stack_open(spec, hz_now() + WAIT, &cc.stack, &err) < 0) {
		return fail(hz_errmsg_text(&err));
	}
	cc.tls_client = tls;
	c = hz_malloc(sizeof(*c));
	if (c == NULL)
		return fail("no memory");
	hz_conduit_init(c, &cc);
	if (hz_conduit_connect(c, endpoint, hz_now() + WAIT, &flow) < 0)
		return fail(hz_conduit_error(c));
	hz_printf("conduitcheck: connected %s%s%s\n", endpoint,
		  hz_tls_suite(flow) != NULL ? " " : "",
		  hz_tls_suite(flow) != NULL ? hz_tls_suite(flow) : "");
	if (hz_flow_write(flow, send, strlen(send), hz_now() + WAIT) < 0)
		return fail(hz_flow_error(flow));
	while ((n = hz_flow_read(flow, &v, hz_now() + WAIT)) > 0) {
		hz_printf("%.*s", (int)v.len, (const char *)hz_view_data(&v));
		total += v.len;
		hz_view_release(&v);
	}
	if (n < 0)
		return fail(hz_flow_error(flow));
	hz_printf("\nconduitcheck: done %llu bytes\n",
		  (unsigned long long)total);
	hz_flow_free(flow);
	hz_free(c);
	hz_tls_config_free(tls);
	hz_stack_destroy(cc.stack);
	return 0;
}
