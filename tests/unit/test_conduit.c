/*
 * Conduit (src/conduit) over the simulated link: a client stack
 * (10.0.0.1) connects by name to tcp: and tls: endpoints a server stack
 * (10.0.0.2) listens on through its own conduit, names resolved by a
 * small DNS server on the server stack; data echoed both ways. Failures
 * name the endpoint and the layer: NXDOMAIN, a certificate for another
 * name, a refused connection, missing TLS configurations, listening on a
 * name, an accept deadline. The endpoint parser: what it accepts and
 * what it refuses, and every prefix of valid endpoints.
 *
 * Certificates are made by tests/tls/mkcerts.sh in a temporary directory,
 * as for the TLS suite (ec.pem names *.haze.test).
 */
#include "tests/unit/certs.h"
#include "tests/unit/dns_stub.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "haze/conduit.h"
#include "haze/entropy.h"
#include "haze/ipstack.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "haze/tls.h"

#define SERVER HZ_IPV4(10, 0, 0, 2)
#define MS HZ_NS_PER_MS
#define SECOND HZ_NS_PER_S
#define TLS_STACK (256u * 1024)

/* --- certificates --------------------------------------------------------- */

static struct hz_tls_config *tls_server_config(void)
{
	struct pem c = pem_load("ec.pem"), k = pem_load("ec.key");
	struct hz_tls_config *cfg;

	HARNESS_CHECK_EQ(hz_tls_config_new(HZ_TLS_SERVER, &cfg), 0);
	HARNESS_CHECK_EQ(
	    hz_tls_config_add_chain(cfg, c.data, c.len, k.data, k.len), 0);
	free(c.data);
	free(k.data);
	return cfg;
}

static struct hz_tls_config *tls_client_config(void)
{
	struct pem ca = pem_load("ca.pem");
	struct hz_tls_config *cfg;

	HARNESS_CHECK_EQ(hz_tls_config_new(HZ_TLS_CLIENT, &cfg), 0);
	HARNESS_CHECK_EQ(hz_tls_config_add_anchors(cfg, ca.data, ca.len), 1);
	free(ca.data);
	return cfg;
}

/* --- an echo server over a conduit listener ------------------------------- */

struct echo {
	struct hz_conduit_listener *l;
	bool stop, done;
	unsigned served;
	char last_err[HZ_ERRMSG_MAX];
};

static void echo_one(struct echo *e, struct hz_flow *f)
{
	struct hz_view v;
	int n;

	while ((n = hz_flow_read(f, &v, hz_now() + 5 * SECOND)) > 0) {
		ssize_t w = hz_flow_write(f, hz_view_data(&v), v.len,
					  hz_now() + 5 * SECOND);

		hz_view_release(&v);
		if (w < 0)
			break;
	}
	if (n < 0)
		snprintf(e->last_err, sizeof(e->last_err), "%s",
			 hz_flow_error(f));
	hz_flow_free(f);
}

static void echo_fiber(void *arg)
{
	struct echo *e = arg;

	while (!e->stop) {
		struct hz_flow *f;

		if (hz_conduit_accept(e->l, hz_now() + 10 * MS, &f) < 0)
			continue;
		e->served++;
		echo_one(e, f);
	}
	e->done = true;
}

/* --- fixture -------------------------------------------------------------- */

struct fixture {
	struct hz_simlink *link;
	struct hz_ipstack *st[2];
	struct hz_tls_config *tls_client, *tls_server;
	struct hz_conduit server, client;
	struct dns_stub dns;
	struct echo tcp_echo, tls_echo;
};

static void fixture_up(struct fixture *f)
{
	struct hz_simlink_config lc = {
	    .ports = 2, .seed = 5, .delay_ns = 100000};
	struct hz_conduit_config cc = {0};

	memset(f, 0, sizeof(*f));
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &f->link), 0);
	for (unsigned i = 0; i < 2; i++) {
		struct hz_ipstack_config c = {
		    .addr = HZ_IPV4(10, 0, 0, i + 1),
		    .prefix_len = 24,
		    .seed = i + 21,
		};

		HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(f->link, i),
						   &c, &f->st[i]),
				 0);
	}
	f->tls_client = tls_client_config();
	f->tls_server = tls_server_config();
	dns_stub_start(&f->dns, hz_ipstack_stack(f->st[1]));

	cc.stack = hz_ipstack_stack(f->st[1]);
	cc.tls_server = f->tls_server;
	hz_conduit_init(&f->server, &cc);
	HARNESS_CHECK_EQ(
	    hz_conduit_listen(&f->server, "tcp:0.0.0.0:7", &f->tcp_echo.l), 0);
	HARNESS_CHECK_EQ(
	    hz_conduit_listen(&f->server, "tls:10.0.0.2:443", &f->tls_echo.l),
	    0);
	HARNESS_CHECK_EQ(
	    hz_fiber_spawn("tcp-echo", echo_fiber, &f->tcp_echo, TLS_STACK), 0);
	HARNESS_CHECK_EQ(
	    hz_fiber_spawn("tls-echo", echo_fiber, &f->tls_echo, TLS_STACK), 0);

	cc = (struct hz_conduit_config){0};
	cc.stack = hz_ipstack_stack(f->st[0]);
	cc.tls_client = f->tls_client;
	cc.dns.servers[0] = SERVER;
	cc.dns.timeout_ns = 200 * MS;
	hz_conduit_init(&f->client, &cc);
}

static void fixture_down(struct fixture *f)
{
	f->dns.stop = f->tcp_echo.stop = f->tls_echo.stop = true;
	while (!f->dns.done || !f->tcp_echo.done || !f->tls_echo.done)
		hz_sleep_ns(5 * MS);
	hz_conduit_unlisten(f->tcp_echo.l);
	hz_conduit_unlisten(f->tls_echo.l);
	hz_udp_close(f->dns.s, f->dns.u);
	for (unsigned i = 0; i < 2; i++)
		hz_ipstack_destroy(f->st[i]);
	hz_simlink_destroy(f->link);
	hz_tls_config_free(f->tls_client);
	hz_tls_config_free(f->tls_server);
}

/* Sends @text on @flow and checks it comes back. */
static void echoes(struct hz_flow *flow, const char *text)
{
	size_t len = strlen(text), got = 0;
	char buf[256];

	HARNESS_CHECK_EQ(hz_flow_write(flow, text, len, hz_now() + SECOND),
			 (ssize_t)len);
	while (got < len) {
		ssize_t n = hz_flow_read_copy(
		    flow, buf + got, sizeof(buf) - got, hz_now() + 5 * SECOND);

		if (n <= 0) {
			HARNESS_FAIL("read: %s", hz_flow_error(flow));
			return;
		}
		got += (size_t)n;
	}
	HARNESS_CHECK_MEM_EQ(buf, text, len);
}

/* Connects to @ep; false, having said why, if that failed. */
static bool connects(struct hz_conduit *c, const char *ep,
		     struct hz_flow **flow)
{
	if (hz_conduit_connect(c, ep, hz_now() + 5 * SECOND, flow) == 0)
		return true;
	HARNESS_FAIL("%s", hz_conduit_error(c));
	return false;
}

/* Connects to @ep expecting @code and a message beginning with @msg. */
static void refused(struct hz_conduit *c, const char *ep, int code,
		    const char *msg)
{
	struct hz_flow *flow = (struct hz_flow *)1;

	HARNESS_CHECK_EQ(
	    hz_conduit_connect(c, ep, hz_now() + 5 * SECOND, &flow), code);
	HARNESS_CHECK(flow == NULL);
	if (strncmp(hz_conduit_error(c), msg, strlen(msg)) != 0)
		HARNESS_FAIL("'%s' does not begin with '%s'",
			     hz_conduit_error(c), msg);
	print_message("# %s\n", hz_conduit_error(c));
}

/* --- tests ---------------------------------------------------------------- */

static int connect_listen_main(void *arg)
{
	struct fixture f;
	struct hz_flow *flow;

	(void)arg;
	fixture_up(&f);
	if (connects(&f.client, "tcp:echo.haze.test:7", &flow)) {
		echoes(flow, "hello over tcp");
		hz_flow_free(flow);
	}
	if (connects(&f.client, "tcp:10.0.0.2:7", &flow)) {
		echoes(flow, "hello to a literal address");
		hz_flow_free(flow);
	}
	if (connects(&f.client, "tls:www.haze.test:443", &flow)) {
		HARNESS_CHECK_STR_EQ(hz_tls_server_name(flow), "www.haze.test");
		HARNESS_CHECK(hz_tls_suite(flow) != NULL);
		echoes(flow, "hello over tls");
		echoes(flow, "and once more");
		hz_flow_free(flow);
	}
	/* The second connection by name came from the cache. */
	HARNESS_CHECK_EQ(f.client.cache.hits, 0);
	if (connects(&f.client, "tls:www.haze.test:443", &flow)) {
		HARNESS_CHECK_EQ(f.client.cache.hits, 1);
		echoes(flow, "cached");
		hz_flow_free(flow);
	}
	/* (Not served, after a failure: no point waiting.) */
	while ((f.tls_echo.served < 2 || f.tcp_echo.served < 2) &&
	       harness_fiber_failure() == NULL)
		hz_sleep_ns(5 * MS);
	fixture_down(&f);
	return 0;
}

static void connect_and_listen_tcp_and_tls(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(connect_listen_main, NULL), 0);
}

/* A configuration of @role from certificate @cert (anchor or chain). */
static struct hz_tls_config *tls_config_from(enum hz_tls_role role,
					     const char *cert)
{
	struct hz_tls_config *cfg;
	char name[64];
	struct pem c, k;

	HARNESS_CHECK_EQ(hz_tls_config_new(role, &cfg), 0);
	snprintf(name, sizeof(name), "%s.pem", cert);
	c = pem_load(name);
	if (role == HZ_TLS_CLIENT) {
		HARNESS_CHECK_EQ(hz_tls_config_add_anchors(cfg, c.data, c.len),
				 1);
	} else {
		snprintf(name, sizeof(name), "%s.key", cert);
		k = pem_load(name);
		HARNESS_CHECK_EQ(
		    hz_tls_config_add_chain(cfg, c.data, c.len, k.data, k.len),
		    0);
		free(k.data);
	}
	free(c.data);
	return cfg;
}

/*
 * Endpoints with TLS configurations of their own: a listener on 8443
 * serves the rogue CA's certificate; the client's default refuses it, its
 * configuration for that endpoint trusts it; other endpoints keep the
 * defaults.
 */
static int per_endpoint_main(void *arg)
{
	struct hz_tls_config *rogue = tls_config_from(HZ_TLS_SERVER, "rogue");
	struct hz_tls_config *trust_rogue =
	    tls_config_from(HZ_TLS_CLIENT, "rogue-ca");
	struct echo e = {0};
	struct fixture f;
	struct hz_flow *flow;

	(void)arg;
	fixture_up(&f);
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.server, "tls:10.0.0.2:8443", rogue), 0);
	HARNESS_CHECK_EQ(
	    hz_conduit_listen(&f.server, "tls:10.0.0.2:8443", &e.l), 0);
	HARNESS_CHECK_EQ(
	    hz_fiber_spawn("rogue-echo", echo_fiber, &e, TLS_STACK), 0);
	refused(&f.client, "tls:localhost:8443", -HZ_ETLS,
		"conduit tls:localhost:8443: TLS: certificate rejected: "
		"untrusted issuer");
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.client, "tls:LocalHost:8443", trust_rogue),
	    0);
	if (connects(&f.client, "tls:localhost:8443", &flow)) {
		echoes(flow, "hello with a configuration of its own");
		hz_flow_free(flow);
	}
	/* The defaults still serve every other endpoint. */
	if (connects(&f.client, "tls:www.haze.test:443", &flow)) {
		echoes(flow, "hello with the default");
		hz_flow_free(flow);
	}
	/* Only tls: endpoints take one, and only a real one; the table is
	 * bounded. */
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.client, "tls:a.haze.test:1", NULL),
	    -HZ_EINVAL);
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.client, "tcp:localhost:7", trust_rogue),
	    -HZ_EINVAL);
	HARNESS_CHECK_STR_EQ(hz_conduit_error(&f.client),
			     "conduit tcp:localhost:7: a TLS configuration is "
			     "for tls: endpoints");
	for (int port = 1; port < HZ_CONDUIT_TLS_RULES; port++) {
		char ep[32];

		snprintf(ep, sizeof(ep), "tls:h.haze.test:%d", port);
		HARNESS_CHECK_EQ(hz_conduit_set_tls(&f.client, ep, trust_rogue),
				 0);
	}
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.client, "tls:one.too.many:1", trust_rogue),
	    -HZ_ENOSPC);
	/* Setting an endpoint again replaces its configuration. */
	HARNESS_CHECK_EQ(
	    hz_conduit_set_tls(&f.client, "tls:localhost:8443", f.tls_client),
	    0);
	refused(&f.client, "tls:localhost:8443", -HZ_ETLS,
		"conduit tls:localhost:8443: TLS: certificate rejected: "
		"untrusted issuer");
	e.stop = true;
	while (!e.done)
		hz_sleep_ns(5 * MS);
	hz_conduit_unlisten(e.l);
	fixture_down(&f);
	hz_tls_config_free(rogue);
	hz_tls_config_free(trust_rogue);
	return 0;
}

static void tls_configuration_per_endpoint(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(per_endpoint_main, NULL), 0);
}

static int failures_main(void *arg)
{
	struct hz_conduit_config cc = {0};
	struct hz_conduit_listener *l;
	struct hz_conduit bare;
	struct fixture f;

	(void)arg;
	fixture_up(&f);
	refused(&f.client, "tls:nx.haze.test:443", -HZ_ENOENT,
		"conduit tls:nx.haze.test:443: DNS nx.haze.test: NXDOMAIN "
		"from 10.0.0.2");
	/* Resolves to the server, whose certificate does not name it. */
	refused(&f.client, "tls:wrong.example:443", -HZ_ETLS,
		"conduit tls:wrong.example:443: TLS: certificate rejected: "
		"wrong host name");
	refused(&f.client, "tls:10.0.0.2:443", -HZ_EINVAL,
		"conduit tls:10.0.0.2:443: TLS needs the server's name");
	refused(&f.client, "tcp:10.0.0.2:9", -HZ_ECONNREFUSED,
		"conduit tcp:10.0.0.2:9: ");
	HARNESS_CHECK_STR_HAS(hz_conduit_error(&f.client), "refused");
	refused(&f.client, "tcp:www.haze.test:http", -HZ_EINVAL,
		"conduit tcp:www.haze.test:http: bad port (a decimal number, "
		"1..65535)");
	/* No TLS configurations. */
	cc.stack = hz_ipstack_stack(f.st[0]);
	cc.dns.servers[0] = SERVER;
	hz_conduit_init(&bare, &cc);
	refused(&bare, "tls:www.haze.test:443", -HZ_EINVAL,
		"conduit tls:www.haze.test:443: no TLS client configuration");
	HARNESS_CHECK_EQ(hz_conduit_listen(&bare, "tls:0.0.0.0:443", &l),
			 -HZ_EINVAL);
	HARNESS_CHECK_STR_EQ(hz_conduit_error(&bare),
			     "conduit tls:0.0.0.0:443: no TLS server "
			     "configuration");
	HARNESS_CHECK_EQ(hz_conduit_listen(&bare, "tcp:www.haze.test:80", &l),
			 -HZ_EINVAL);
	HARNESS_CHECK_STR_EQ(hz_conduit_error(&bare),
			     "conduit tcp:www.haze.test:80: listening needs an "
			     "address (A.B.C.D, or 0.0.0.0 for any)");
	/* The port is taken (by the fixture's echo server). */
	HARNESS_CHECK_LT(hz_conduit_listen(&f.server, "tcp:0.0.0.0:7", &l), 0);
	HARNESS_CHECK_STR_HAS(hz_conduit_error(&f.server),
			      "conduit tcp:0.0.0.0:7: ");
	/* Accept gives up at its deadline, saying so. */
	if (HARNESS_CHECK_EQ(hz_conduit_listen(&bare, "tcp:0.0.0.0:8080", &l),
			     0)) {
		struct hz_flow *flow;

		HARNESS_CHECK_EQ(
		    hz_conduit_accept(l, hz_now() + 20 * MS, &flow),
		    -HZ_ETIMEDOUT);
		HARNESS_CHECK_STR_EQ(hz_conduit_listener_error(l),
				     "conduit tcp:0.0.0.0:8080: no connection "
				     "before the deadline");
		hz_conduit_unlisten(l);
	}
	/* Allocation failures: refused cleanly, with a message, no leak. */
	for (uint64_t n = 1;; n++) {
		int r;

		hz_mem_fail_nth(n);
		r = hz_conduit_listen(&bare, "tcp:10.0.0.1:8081", &l);
		hz_mem_fail_nth(0);
		if (r == 0)
			break;
		HARNESS_CHECK_EQ(r, -HZ_ENOMEM);
		HARNESS_CHECK_STR_HAS(hz_conduit_error(&bare),
				      "conduit tcp:10.0.0.1:8081: ");
		if (!HARNESS_CHECK_LT(n, 10)) {
			l = NULL;
			break;
		}
	}
	if (l != NULL)
		hz_conduit_unlisten(l);
	/* The TLS server saw the client give up. */
	while (f.tls_echo.served < 1 && harness_fiber_failure() == NULL)
		hz_sleep_ns(5 * MS);
	fixture_down(&f);
	return 0;
}

static void failures_name_endpoint_and_layer(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(failures_main, NULL), 0);
}

/* --- the parser ----------------------------------------------------------- */

static void endpoints_accepted(void **state)
{
	struct hz_endpoint ep;
	const char *why;
	char name[300];

	(void)state;
	assert_int_equal(hz_endpoint_parse("tcp:10.0.0.2:80", &ep, &why), 0);
	assert_int_equal(ep.scheme, HZ_ENDPOINT_TCP);
	assert_true(ep.literal);
	assert_int_equal(ep.addr, HZ_IPV4(10, 0, 0, 2));
	assert_int_equal(ep.port, 80);
	assert_int_equal(
	    hz_endpoint_parse("tls:Example-1.org.:65535", &ep, &why), 0);
	assert_int_equal(ep.scheme, HZ_ENDPOINT_TLS);
	assert_false(ep.literal);
	assert_string_equal(ep.host, "Example-1.org.");
	assert_int_equal(ep.port, 65535);
	assert_int_equal(hz_endpoint_parse("tls:0.0.0.0:1", &ep, &why), 0);
	assert_true(ep.literal);
	assert_int_equal(ep.addr, 0);
	assert_int_equal(hz_endpoint_parse("tcp:_srv.x1:00443", &ep, &why), 0);
	assert_int_equal(ep.port, 443);
	/* 253 characters of name pass. */
	memcpy(name, "tcp:", 4);
	for (size_t i = 0; i < 253; i++)
		name[4 + i] = i % 2 ? '.' : 'a';
	memcpy(name + 4 + 253, ":1", 3);
	assert_int_equal(hz_endpoint_parse(name, &ep, &why), 0);
	assert_int_equal(strlen(ep.host), 253);
}

static void endpoints_refused(void **state)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
	    {"", "expected tcp:HOST:PORT or tls:HOST:PORT"},
	    {"example.org", "expected tcp:HOST:PORT or tls:HOST:PORT"},
	    {"udp:example.org:53", "unknown scheme (tcp:, tls:)"},
	    {"TCP:example.org:80", "unknown scheme (tcp:, tls:)"},
	    {"tcp:example.org", "missing :PORT"},
	    {"tcp::80", "empty host"},
	    {"tcp:example.org:", "bad port (a decimal number, 1..65535)"},
	    {"tcp:example.org:0", "bad port (a decimal number, 1..65535)"},
	    {"tcp:example.org:65536", "bad port (a decimal number, 1..65535)"},
	    {"tcp:example.org:+80", "bad port (a decimal number, 1..65535)"},
	    {"tcp:example.org:8 0", "bad port (a decimal number, 1..65535)"},
	    {"tcp:example.org:123456", "bad port (a decimal number, 1..65535)"},
	    {"tcp:[::1]:80", "IPv6 addresses are not supported"},
	    {"tcp:::1:80", "IPv6 addresses are not supported"},
	    {"tcp:a..b:80", "host name has an empty label"},
	    {"tcp:.a:80", "host name has an empty label"},
	    {"tcp:.:80", "empty host name"},
	    {"tcp:a b:80", "host name has a character other than letters, "
			   "digits, '-', '_' and '.'"},
	    {"tcp:ex\xc3\xa9.org:80", "host name has a character other than "
				      "letters, digits, '-', '_' and '.'"},
	    {"tcp:-a.org:80", "host name label starts or ends with '-'"},
	    {"tcp:a-.org:80", "host name label starts or ends with '-'"},
	    {"tcp:1.2.3.256:80", "not a valid IPv4 address"},
	    {"tcp:1.2.3:80", "not a valid IPv4 address"},
	    {"tcp:10.0.0.01.5:80", "not a valid IPv4 address"},
	};
	struct hz_endpoint ep;
	const char *why;
	char s[400];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hz_endpoint_parse(bad[i].s, &ep, &why) != -HZ_EINVAL)
			fail_msg("'%s' accepted", bad[i].s);
		if (strcmp(why, bad[i].why) != 0)
			fail_msg("'%s': '%s', not '%s'", bad[i].s, why,
				 bad[i].why);
	}
	/* A label of 64, a name of 254, an endpoint over 300. */
	snprintf(s, sizeof(s), "tcp:%064d.org:1", 0);
	memset(s + 4, 'a', 64);
	assert_int_equal(hz_endpoint_parse(s, &ep, &why), -HZ_EINVAL);
	assert_string_equal(why, "host name has a label over 63 bytes");
	memcpy(s, "tcp:", 4);
	memset(s + 4, 'a', 254);
	for (size_t i = 5; i < 4 + 254; i += 2)
		s[i] = '.';
	memcpy(s + 4 + 254, ":1", 3);
	assert_int_equal(hz_endpoint_parse(s, &ep, &why), -HZ_EINVAL);
	assert_string_equal(why, "host name longer than 253 bytes");
	memset(s, 'a', 350);
	s[350] = '\0';
	assert_int_equal(hz_endpoint_parse(s, &ep, &why), -HZ_EINVAL);
	assert_string_equal(why, "endpoint too long");
}

static void endpoint_prefixes(void **state)
{
	static const char *const good[] = {
	    "tcp:10.0.0.2:80",
	    "tls:www.haze.test:443",
	    "tcp:a-b_c.d.:65535",
	};
	struct hz_endpoint ep;
	const char *why;
	char s[64];

	(void)state;
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
		size_t n = strlen(good[g]);

		for (size_t k = 0; k <= n; k++) {
			memcpy(s, good[g], k);
			s[k] = '\0';
			if (hz_endpoint_parse(s, &ep, &why) == 0) {
				assert_true(ep.port > 0);
				assert_true(ep.host[0] != '\0');
			} else {
				assert_true(why[0] != '\0');
			}
		}
		assert_int_equal(hz_endpoint_parse(s, &ep, &why), 0);
	}
}

/* Messages repeat at most 64 bytes of an endpoint, printable only. */
static void messages_quote_endpoints_safely(void **state)
{
	static const struct hz_stack_ops none = {0};
	struct hz_stack dummy = {&none};
	struct hz_conduit_config cc = {.stack = &dummy};
	char s[200], want[HZ_ERRMSG_MAX];
	struct hz_conduit c;
	struct hz_flow *flow;

	(void)state;
	hz_conduit_init(&c, &cc);
	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	memcpy(s, "tcp:\x01", 5);
	assert_int_equal(hz_conduit_connect(&c, s, hz_now() + SECOND, &flow),
			 -HZ_EINVAL);
	snprintf(want, sizeof(want), "conduit tcp:?%.59s...: missing :PORT",
		 s + 5);
	assert_string_equal(hz_conduit_error(&c), want);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(connect_and_listen_tcp_and_tls),
	    HARNESS_TEST(failures_name_endpoint_and_layer),
	    HARNESS_TEST(tls_configuration_per_endpoint),
	    HARNESS_TEST(endpoints_accepted),
	    HARNESS_TEST(endpoints_refused),
	    HARNESS_TEST(endpoint_prefixes),
	    HARNESS_TEST(messages_quote_endpoints_safely),
	};
	return CERTS_RUN("conduit", tests);
}
