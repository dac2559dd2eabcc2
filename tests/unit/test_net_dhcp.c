/*
 * The DHCP client against a tiny DHCP server written here, over the
 * simulated link: a plain lease, a lost OFFER (retransmission), a NAK,
 * renewal at T1 and a NAK on renewal; and the parser against hostile
 * messages.
 */
#include "tests/unit/harness.h"

#include <stdlib.h>
#include <string.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "net/ipstack_impl.h"

#define SERVER_IP HZ_IPV4(10, 0, 0, 1)
#define LEASED_IP HZ_IPV4(10, 0, 0, 50)
#define DNS1 HZ_IPV4(10, 0, 0, 53)
#define DNS2 HZ_IPV4(10, 0, 0, 54)

static uint64_t counter(const char *source, const char *name)
{
	struct hz_counter *c = hz_counter_find(source, name);

	return c != NULL ? c->value : 0;
}

/* --- the test's DHCP server ----------------------------------------------- */

struct server {
	struct hz_stack *stack;
	struct hz_udp_sock *sock;
	int discovers, requests, renewals;
	int ignore_discovers; /* lose this many OFFERs */
	int nak_requests;     /* NAK this many REQUESTs */
	uint32_t lease, t1, t2;
	bool silent; /* answers nothing */
	bool stop, stopped;
};

static size_t put_opt32(uint8_t *p, uint8_t code, uint32_t v)
{
	p[0] = code;
	p[1] = 4;
	hz_put32(p + 2, v);
	return 6;
}

/* Builds a reply of @type to the request @req into @out; its length. */
static size_t build_reply(const struct server *sv, const uint8_t *req,
			  uint8_t type, uint8_t *out)
{
	size_t n = 240;

	memset(out, 0, 400);
	out[0] = 2;
	out[1] = 1;
	out[2] = 6;
	memcpy(out + 4, req + 4, 4); /* xid */
	if (type != 6)
		hz_put32(out + 16, LEASED_IP);
	hz_put32(out + 20, SERVER_IP);
	memcpy(out + 28, req + 28, 16); /* chaddr */
	hz_put32(out + 236, 0x63825363u);
	out[n++] = 53;
	out[n++] = 1;
	out[n++] = type;
	n += put_opt32(out + n, 54, SERVER_IP);
	if (type != 6) {
		n += put_opt32(out + n, 1, 0xffffff00u);
		n += put_opt32(out + n, 3, SERVER_IP);
		out[n++] = 6;
		out[n++] = 8;
		hz_put32(out + n, DNS1);
		hz_put32(out + n + 4, DNS2);
		n += 8;
		n += put_opt32(out + n, 51, sv->lease);
		if (sv->t1 != 0)
			n += put_opt32(out + n, 58, sv->t1);
		if (sv->t2 != 0)
			n += put_opt32(out + n, 59, sv->t2);
	}
	out[n++] = 255;
	return n < 300 ? 300 : n;
}

/* Answers one client message (a view of its UDP payload). */
static void serve_one(struct server *sv, const struct hz_view *v)
{
	struct hz_sockaddr bcast = {0xffffffffu, 68};
	struct dhcp_msg m;
	uint8_t out[400];
	uint8_t type;
	size_t n;

	if (hz_dhcp_parse(hz_view_data(v), v->len, &m) < 0 || m.op != 1 ||
	    sv->silent)
		return;
	if (m.type == 1) {
		sv->discovers++;
		if (sv->ignore_discovers > 0) {
			sv->ignore_discovers--;
			return;
		}
		type = 2;
	} else if (m.type == 3) {
		sv->requests++;
		if (hz_get32(hz_view_data(v) + 12) == LEASED_IP)
			sv->renewals++;
		type = 5;
		if (sv->nak_requests > 0) {
			sv->nak_requests--;
			type = 6;
		}
	} else {
		return;
	}
	n = build_reply(sv, hz_view_data(v), type, out);
	HARNESS_CHECK_EQ(hz_udp_sendto(sv->stack, sv->sock, &bcast, out, n), 0);
}

static void server_fiber(void *arg)
{
	struct server *sv = arg;

	while (!sv->stop) {
		struct hz_view v;

		if (hz_udp_recvfrom(sv->stack, sv->sock, &v, NULL,
				    hz_now() + 10 * HZ_NS_PER_MS) < 0)
			continue;
		serve_one(sv, &v);
		hz_view_release(&v);
	}
	sv->stopped = true;
}

/* --- fixture -------------------------------------------------------------- */

struct dfix {
	struct hz_simlink *link;
	struct hz_ipstack *server_stack, *client;
	struct server sv;
};

static void dfix_up(struct dfix *f, const struct server *sv)
{
	struct hz_simlink_config lc = {.ports = 2, .seed = 3};
	struct hz_ipstack_config sc = {
	    .addr = SERVER_IP, .prefix_len = 24, .name = "server", .seed = 1};
	struct hz_ipstack_config cc = {.dhcp = true,
				       .name = "client",
				       .seed = 2,
				       .dhcp_retry_ns = 30 * HZ_NS_PER_MS};
	struct hz_sockaddr port67 = {0, 67};

	memset(f, 0, sizeof(*f));
	f->sv = *sv;
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &f->link), 0);
	HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(f->link, 0), &sc,
					   &f->server_stack),
			 0);
	f->sv.stack = hz_ipstack_stack(f->server_stack);
	HARNESS_CHECK_EQ(hz_udp_open(f->sv.stack, &port67, &f->sv.sock), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("dhcpd", server_fiber, &f->sv, 0), 0);
	HARNESS_CHECK_EQ(
	    hz_ipstack_create(hz_simlink_port(f->link, 1), &cc, &f->client), 0);
}

static void dfix_down(struct dfix *f)
{
	hz_ipstack_destroy(f->client);
	f->sv.stop = true;
	while (!f->sv.stopped)
		hz_sleep_ns(HZ_NS_PER_MS);
	hz_udp_close(f->sv.stack, f->sv.sock);
	hz_ipstack_destroy(f->server_stack);
	hz_simlink_destroy(f->link);
}

static void expect_lease(struct dfix *f)
{
	struct hz_ipstack_info info;

	HARNESS_CHECK_EQ(
	    hz_ipstack_wait_configured(f->client, hz_now() + 2 * HZ_NS_PER_S),
	    0);
	hz_ipstack_info(f->client, &info);
	HARNESS_CHECK(info.configured);
	HARNESS_CHECK_EQ(info.addr, LEASED_IP);
	HARNESS_CHECK_EQ(info.prefix_len, 24);
	HARNESS_CHECK_EQ(info.gateway, SERVER_IP);
	HARNESS_CHECK_EQ(info.dns[0], DNS1);
	HARNESS_CHECK_EQ(info.dns[1], DNS2);
	HARNESS_CHECK_EQ(info.dhcp_server, SERVER_IP);
	HARNESS_CHECK_EQ(info.lease_s, f->sv.lease);
}

/* --- tests ---------------------------------------------------------------- */

static int lease_main(void *arg)
{
	struct server sv = {.lease = 3600};
	struct dfix f;

	(void)arg;
	dfix_up(&f, &sv);
	expect_lease(&f);
	HARNESS_CHECK_EQ(f.sv.discovers, 1);
	HARNESS_CHECK_EQ(f.sv.requests, 1);
	/* The address works both ways. */
	HARNESS_CHECK_EQ(
	    hz_ipstack_ping(f.client, SERVER_IP, 16, hz_now() + HZ_NS_PER_S),
	    0);
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.server_stack, LEASED_IP, 16,
					 hz_now() + HZ_NS_PER_S),
			 0);
	dfix_down(&f);
	return 0;
}

static void gets_a_lease(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(lease_main, NULL), 0);
}

static int lost_offer_main(void *arg)
{
	struct server sv = {.lease = 3600, .ignore_discovers = 2};
	uint64_t retransmits = counter("dhcp", "retransmits");
	struct dfix f;

	(void)arg;
	dfix_up(&f, &sv);
	expect_lease(&f);
	HARNESS_CHECK_EQ(f.sv.discovers, 3);
	HARNESS_CHECK_EQ(f.sv.requests, 1);
	HARNESS_CHECK_EQ(counter("dhcp", "retransmits") - retransmits, 2);
	dfix_down(&f);
	return 0;
}

static void retransmits_after_a_lost_offer(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(lost_offer_main, NULL), 0);
}

static int nak_main(void *arg)
{
	struct server sv = {.lease = 3600, .nak_requests = 1};
	uint64_t naks = counter("dhcp", "rx_nak");
	struct dfix f;

	(void)arg;
	dfix_up(&f, &sv);
	expect_lease(&f);
	HARNESS_CHECK_EQ(f.sv.discovers, 2);
	HARNESS_CHECK_EQ(f.sv.requests, 2);
	HARNESS_CHECK_EQ(counter("dhcp", "rx_nak") - naks, 1);
	dfix_down(&f);
	return 0;
}

static void starts_over_after_a_nak(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(nak_main, NULL), 0);
}

static int renew_main(void *arg)
{
	struct server sv = {.lease = 10, .t1 = 1, .t2 = 8};
	uint64_t naks = counter("dhcp", "rx_nak");
	struct dfix f;
	struct hz_ipstack_info info;

	(void)arg;
	dfix_up(&f, &sv);
	expect_lease(&f);
	/* At T1 the client renews with the server, unicast. */
	hz_sleep_ns(1200 * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(f.sv.renewals, 1);
	hz_ipstack_info(f.client, &info);
	HARNESS_CHECK(info.configured);
	/* The next renewal is refused: the client starts over. */
	f.sv.nak_requests = 1;
	hz_sleep_ns(1200 * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(f.sv.renewals, 2);
	HARNESS_CHECK_EQ(counter("dhcp", "rx_nak") - naks, 1);
	expect_lease(&f);
	HARNESS_CHECK_EQ(f.sv.discovers, 2);
	dfix_down(&f);
	return 0;
}

static void renews_at_t1_and_handles_a_nak(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(renew_main, NULL), 0);
}

static int expiry_main(void *arg)
{
	struct server sv = {.lease = 2, .t1 = 1, .t2 = 1};
	uint64_t expired = counter("dhcp", "leases_expired");
	struct dfix f;
	struct hz_ipstack_info info;
	uint64_t t0;

	(void)arg;
	dfix_up(&f, &sv);
	expect_lease(&f);
	t0 = hz_now();
	/* The server goes quiet: renewing and rebinding fail. */
	f.sv.silent = true;
	hz_sleep_ns(1500 * HZ_NS_PER_MS);
	hz_ipstack_info(f.client, &info);
	HARNESS_CHECK(info.configured);
	while (info.configured && hz_now() - t0 < 3 * HZ_NS_PER_S) {
		hz_sleep_ns(20 * HZ_NS_PER_MS);
		hz_ipstack_info(f.client, &info);
	}
	HARNESS_CHECK(!info.configured);
	HARNESS_CHECK_GE(hz_now() - t0, 1900 * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(counter("dhcp", "leases_expired") - expired, 1);
	/* Without an address the stack cannot reach the server. */
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.client, SERVER_IP, 8,
					 hz_now() + 10 * HZ_NS_PER_MS),
			 -HZ_ENOENT);
	/* The server is back: the client finds it again. */
	f.sv.silent = false;
	expect_lease(&f);
	dfix_down(&f);
	return 0;
}

static void an_unrenewed_lease_expires(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(expiry_main, NULL), 0);
}

/* --- the parser ----------------------------------------------------------- */

/* A valid ACK of @len bytes in @b. */
static size_t valid_ack(uint8_t *b)
{
	struct server sv = {.lease = 60};
	uint8_t req[300] = {0};

	return build_reply(&sv, req, 5, b);
}

static void parser_accepts_a_valid_ack(void **state)
{
	uint8_t b[400];
	size_t n = valid_ack(b);
	struct dhcp_msg m;

	(void)state;
	assert_int_equal(hz_dhcp_parse(b, n, &m), 0);
	assert_int_equal(m.type, 5);
	assert_int_equal(m.yiaddr, LEASED_IP);
	assert_int_equal(m.server_id, SERVER_IP);
	assert_int_equal(m.mask, 0xffffff00u);
	assert_int_equal(m.router, SERVER_IP);
	assert_int_equal(m.dns[1], DNS2);
	assert_int_equal(m.lease_s, 60);
	/* Every truncation is refused, never read past. */
	for (size_t len = 0; len < 256; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, b, len);
		assert_int_equal(hz_dhcp_parse(copy, len, &m), -HZ_EPROTO);
		free(copy);
	}
}

static void parser_refuses_hostile_messages(void **state)
{
	uint8_t b[400];
	struct dhcp_msg m;
	size_t n;

	(void)state;
	n = valid_ack(b);
	b[236] ^= 1; /* magic cookie */
	assert_int_equal(hz_dhcp_parse(b, n, &m), -HZ_EPROTO);
	n = valid_ack(b);
	b[2] = 16; /* hardware address length */
	assert_int_equal(hz_dhcp_parse(b, n, &m), -HZ_EPROTO);
	n = valid_ack(b);
	b[241] = 2; /* message type of length 2 */
	assert_int_equal(hz_dhcp_parse(b, n, &m), -HZ_EPROTO);
	n = valid_ack(b);
	b[243 + 6 + 1] = 3; /* subnet mask of length 3 */
	assert_int_equal(hz_dhcp_parse(b, n, &m), -HZ_EPROTO);
	/* An option whose length runs past the message. */
	n = valid_ack(b);
	b[243] = 200;
	b[244] = 250;
	assert_int_equal(hz_dhcp_parse(b, 300, &m), -HZ_EPROTO);
	/* No end option. */
	n = valid_ack(b);
	memset(b + 240, 0, sizeof(b) - 240);
	b[240] = 53;
	b[241] = 1;
	b[242] = 5;
	assert_int_equal(hz_dhcp_parse(b, 243, &m), -HZ_EPROTO);
	/* No message type. */
	b[240] = 255;
	assert_int_equal(hz_dhcp_parse(b, 300, &m), -HZ_EPROTO);
	(void)n;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(gets_a_lease),
	    HARNESS_TEST(retransmits_after_a_lost_offer),
	    HARNESS_TEST(starts_over_after_a_nak),
	    HARNESS_TEST(renews_at_t1_and_handles_a_nak),
	    HARNESS_TEST(an_unrenewed_lease_expires),
	    HARNESS_TEST(parser_accepts_a_valid_ack),
	    HARNESS_TEST(parser_refuses_hostile_messages),
	};

	return HARNESS_RUN("net_dhcp", tests);
}
