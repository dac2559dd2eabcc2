/*
 * The direct stack over the simulated link, two or three stacks in one
 * process (and a raw "probe" port for crafted frames): ARP resolution,
 * expiry, the pending queue's flush and timeout, gratuitous ARP; ping;
 * UDP echo with and without fragmentation; port unreachable; malformed
 * packets of every layer dropped under the right counter; and corrupted
 * frames on an impaired link rejected by the checksums.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "haze/stack.h"
#include "net/ipstack_impl.h"

#define NET_A HZ_IPV4(10, 0, 0, 1)
#define NET_B HZ_IPV4(10, 0, 0, 2)
#define NET_C HZ_IPV4(10, 0, 0, 3)
#define PROBE_IP HZ_IPV4(10, 0, 0, 99)
#define SECOND (HZ_NS_PER_S)

/* --- fixture -------------------------------------------------------------- */

struct fixture {
	struct hz_simlink *link;
	struct hz_ipstack *st[3];
	unsigned nstacks;
	struct hz_net *probe; /* the last port, raw, or NULL */
};

/* A link with @n stacks (10.0.0.1, .2, ...) and, if @probe, a raw port. */
static void fixture_up(struct fixture *f, unsigned n, bool probe,
		       const struct hz_ipstack_config *tmpl)
{
	struct hz_simlink_config lc = {.ports = n + (probe ? 1 : 0),
				       .seed = 99};
	static const char *const names[] = {"a", "b", "c"};

	memset(f, 0, sizeof(*f));
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &f->link), 0);
	f->nstacks = n;
	for (unsigned i = 0; i < n; i++) {
		struct hz_ipstack_config c = {0};

		if (tmpl != NULL)
			c = *tmpl;
		c.addr = HZ_IPV4(10, 0, 0, i + 1);
		c.prefix_len = 24;
		c.name = names[i];
		c.seed = i + 1;
		HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(f->link, i),
						   &c, &f->st[i]),
				 0);
	}
	if (probe)
		f->probe = hz_simlink_port(f->link, n);
}

/* Drops what waits on the probe port; returns how many frames. */
static size_t probe_drain(struct fixture *f)
{
	struct hz_view v[16];
	size_t total = 0;
	int k;

	while ((k = hz_net_read(f->probe, v, 16)) > 0) {
		for (int i = 0; i < k; i++)
			hz_view_release(&v[i]);
		total += (size_t)k;
	}
	return total;
}

/* Drains the probe port; returns how many ARP requests it had seen. */
static size_t probe_arp_requests(struct fixture *f)
{
	struct hz_view v;
	size_t n = 0;

	while (hz_net_read(f->probe, &v, 1) == 1) {
		const uint8_t *p = hz_view_data(&v);

		if (v.len >= 14 + 8 && hz_get16(p + 12) == HZ_ETHERTYPE_ARP &&
		    hz_get16(p + 14 + 6) == 1)
			n++;
		hz_view_release(&v);
	}
	return n;
}

static void fixture_down(struct fixture *f)
{
	for (unsigned i = 0; i < f->nstacks; i++)
		hz_ipstack_destroy(f->st[i]);
	if (f->probe != NULL)
		probe_drain(f);
	hz_simlink_destroy(f->link);
}

static struct hz_stack *stk(struct fixture *f, unsigned i)
{
	return hz_ipstack_stack(f->st[i]);
}

/* fixture_up, then a UDP socket on stack 0 bound to @local (NULL: any). */
static struct hz_udp_sock *udp_fixture_up(struct fixture *f, unsigned n,
					  bool probe,
					  const struct hz_ipstack_config *tmpl,
					  const struct hz_sockaddr *local)
{
	struct hz_udp_sock *u = NULL;

	fixture_up(f, n, probe, tmpl);
	HARNESS_CHECK_EQ(hz_udp_open(stk(f, 0), local, &u), 0);
	return u;
}

/* Closes @u, from udp_fixture_up, then takes the fixture down. */
static void udp_fixture_down(struct fixture *f, struct hz_udp_sock *u)
{
	hz_udp_close(stk(f, 0), u);
	fixture_down(f);
}

/*
 * Hands @frame of @len bytes to stack 0 as its driver would, with no link
 * between; @csum_ok says the device has checked the checksums.
 */
static void input_frame(struct fixture *f, const uint8_t *frame, size_t len,
			bool csum_ok)
{
	struct hz_view v;

	if (!HARNESS_CHECK_EQ(hz_pbuf_alloc(NULL, len, &v), 0))
		return;
	memcpy(hz_view_data(&v), frame, len);
	if (csum_ok)
		v.pb->csum_ok = true;
	hz_ipstack_input(f->st[0], &v);
}

static uint64_t counter(const char *source, const char *name)
{
	struct hz_counter *c = hz_counter_find(source, name);

	return c != NULL ? c->value : 0;
}

/* --- crafted frames ------------------------------------------------------- */

/* Writes Ethernet + IPv4 headers for @len bytes of payload to @buf. */
static size_t craft_ip(uint8_t *buf, const struct hz_mac *dst_mac,
		       const struct hz_mac *src_mac, hz_ipv4_t src,
		       hz_ipv4_t dst, uint8_t proto, uint16_t id, uint16_t frag,
		       const void *payload, size_t len)
{
	uint8_t *ip = buf + 14;

	memcpy(buf, dst_mac->b, 6);
	memcpy(buf + 6, src_mac->b, 6);
	hz_put16(buf + 12, HZ_ETHERTYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	hz_put16(ip + 2, (uint16_t)(20 + len));
	hz_put16(ip + 4, id);
	hz_put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	hz_put32(ip + 12, src);
	hz_put32(ip + 16, dst);
	hz_put16(ip + 10, hz_inet_fold(hz_inet_sum(ip, 20, 0)));
	memcpy(ip + 20, payload, len);
	return 14 + 20 + len;
}

/* Writes a UDP datagram (checksummed) of @len bytes of @data to @out. */
static size_t craft_udp(uint8_t *out, hz_ipv4_t src, hz_ipv4_t dst,
			uint16_t sport, uint16_t dport, const void *data,
			size_t len)
{
	uint16_t ulen = (uint16_t)(8 + len);

	hz_put16(out, sport);
	hz_put16(out + 2, dport);
	hz_put16(out + 4, ulen);
	hz_put16(out + 6, 0);
	memcpy(out + 8, data, len);
	hz_put16(out + 6,
		 hz_inet_fold(hz_inet_sum(
		     out, ulen,
		     hz_inet_pseudo_sum(src, dst, HZ_IPPROTO_UDP, ulen))));
	return ulen;
}

static void probe_send(struct fixture *f, const uint8_t *frame, size_t len)
{
	struct hz_view v;

	if (!HARNESS_CHECK_EQ(hz_pbuf_alloc(NULL, len, &v), 0))
		return;
	memcpy(hz_view_data(&v), frame, len);
	HARNESS_CHECK_EQ(hz_net_write(f->probe, &v, 1), 1);
}

/* Lets the link and the stacks run for @ms milliseconds. */
static void run_for(uint64_t ms)
{
	hz_sleep_ns(ms * HZ_NS_PER_MS);
}

/* --- ARP and ping --------------------------------------------------------- */

static int ping_main(void *arg)
{
	struct fixture f;
	struct hz_mac mac;
	uint64_t replies = counter("icmp", "tx_echo_replies");

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), -HZ_ENOENT);
	for (int i = 0; i < 10; i++)
		HARNESS_CHECK_EQ(
		    hz_ipstack_ping(f.st[0], NET_B, 56, hz_now() + SECOND), 0);
	HARNESS_CHECK_EQ(
	    hz_ipstack_ping(f.st[1], NET_A, 1400, hz_now() + SECOND), 0);
	HARNESS_CHECK_EQ(counter("icmp", "tx_echo_replies") - replies, 11);
	/* Each learned the other's MAC on the way. */
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), 0);
	HARNESS_CHECK_MEM_EQ(mac.b, hz_simlink_port(f.link, 1)->mac.b, 6);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[1], NET_A, &mac), 0);
	HARNESS_CHECK_MEM_EQ(mac.b, hz_simlink_port(f.link, 0)->mac.b, 6);
	/* Nobody at .7: the ping times out. */
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], HZ_IPV4(10, 0, 0, 7), 8,
					 hz_now() + 50 * HZ_NS_PER_MS),
			 -HZ_ETIMEDOUT);
	HARNESS_CHECK_STR_HAS(hz_ipstack_error(f.st[0]), "10.0.0.7");
	fixture_down(&f);
	return 0;
}

static void arp_resolves_and_ping_answers(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(ping_main, NULL), 0);
}

static int arp_expiry_main(void *arg)
{
	/* Long enough that a descheduled test (a loaded machine) does not
	 * outlive the refresh window, the last quarter of the TTL (a pause
	 * of 30 ms under a 120 ms TTL was seen in a loaded make test). */
	struct hz_ipstack_config c = {.arp_ttl_ns = 300 * HZ_NS_PER_MS};
	struct fixture f;
	struct hz_mac mac;
	uint64_t requests;

	(void)arg;
	fixture_up(&f, 2, true, &c);
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], NET_B, 8, hz_now() + SECOND),
			 0);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), 0);
	run_for(350);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), -HZ_ENOENT);
	/* Resolves again when needed. */
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], NET_B, 8, hz_now() + SECOND),
			 0);
	/*
	 * In use, it is refreshed before it expires, by unicast requests:
	 * the probe port, which sees every broadcast but no frame addressed
	 * to A or B, sees none of them.
	 */
	run_for(5);
	HARNESS_CHECK_GT(probe_arp_requests(&f),
			 0); /* it does see broadcasts */
	requests = counter("arp", "requests_sent");
	for (int i = 0; i < 240; i++) { /* 1.2 s: three refreshes */
		HARNESS_CHECK_EQ(
		    hz_ipstack_ping(f.st[0], NET_B, 8, hz_now() + SECOND), 0);
		run_for(5);
		HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), 0);
	}
	HARNESS_CHECK_GE(counter("arp", "requests_sent") - requests, 3);
	HARNESS_CHECK_EQ(probe_arp_requests(&f), 0);
	fixture_down(&f);
	return 0;
}

static void arp_entries_expire(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(arp_expiry_main, NULL), 0);
}

static int arp_pending_main(void *arg)
{
	struct hz_ipstack_config c = {.arp_retry_ns = 10 * HZ_NS_PER_MS,
				      .arp_probes = 3};
	struct fixture f;
	struct hz_udp_sock *tx, *rx;
	struct hz_sockaddr b = {NET_B, 5000},
			   nobody = {HZ_IPV4(10, 0, 0, 9), 5000};
	uint64_t unresolved, full, requests;
	struct hz_view v;

	(void)arg;
	fixture_up(&f, 2, false, &c);
	unresolved = counter("arp", "drop_unresolved");
	full = counter("arp", "drop_pending_full");
	requests = counter("arp", "requests_sent");
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 1), &b, &rx), 0);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &tx), 0);
	/* Three datagrams wait for B's address, then all go. */
	for (int i = 0; i < 3; i++)
		HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), tx, &b, "abc", 3),
				 0);
	for (int i = 0; i < 3; i++) {
		if (HARNESS_CHECK_EQ(hz_udp_recvfrom(stk(&f, 1), rx, &v, NULL,
						     hz_now() + SECOND),
				     3))
			hz_view_release(&v);
	}
	/* Ten to nobody: eight wait (two overflow), then time out. */
	for (int i = 0; i < 10; i++) {
		int r = hz_udp_sendto(stk(&f, 0), tx, &nobody, "x", 1);

		HARNESS_CHECK(r == 0 || r == -HZ_ENOSPC);
	}
	HARNESS_CHECK_EQ(counter("arp", "drop_pending_full") - full, 2);
	run_for(60);
	HARNESS_CHECK_EQ(counter("arp", "drop_unresolved") - unresolved,
			 ARP_PENDING_MAX);
	/* One request for B, three probes for nobody. */
	HARNESS_CHECK_EQ(counter("arp", "requests_sent") - requests, 4);
	hz_udp_close(stk(&f, 0), tx);
	hz_udp_close(stk(&f, 1), rx);
	fixture_down(&f);
	return 0;
}

static void arp_pending_queue_flushes_and_times_out(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(arp_pending_main, NULL), 0);
}

static int gratuitous_main(void *arg)
{
	struct hz_sched_stats before, after;
	struct fixture f;
	struct hz_view v;
	bool seen = false;

	(void)arg;
	fixture_up(&f, 1, true, NULL);
	run_for(5);
	while (hz_net_read(f.probe, &v, 1) == 1) {
		const uint8_t *p = hz_view_data(&v);

		if (v.len >= 42 && hz_get16(p + 12) == HZ_ETHERTYPE_ARP &&
		    hz_get32(p + 14 + 14) == NET_A &&
		    hz_get32(p + 14 + 24) == NET_A && p[0] == 0xff)
			seen = true;
		hz_view_release(&v);
	}
	HARNESS_CHECK(seen);
	/* Then, idle, the stack sleeps: its receive fiber parks until a
	 * frame comes or it is told to stop (no polling). */
	probe_drain(&f);
	hz_sched_stats(&before);
	run_for(300);
	hz_sched_stats(&after);
	print_message("# idle for 300 ms: %llu fiber switches\n",
		      (unsigned long long)(after.switches - before.switches));
	HARNESS_CHECK_LE(after.switches - before.switches, 2);
	fixture_down(&f);
	return 0;
}

static void announces_with_gratuitous_arp(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(gratuitous_main, NULL), 0);
}

/* --- UDP ------------------------------------------------------------------ */

struct echo_server {
	struct hz_stack *stack;
	struct hz_udp_sock *sock;
	int served;
	bool stop;
};

static void udp_echo_fiber(void *arg)
{
	struct echo_server *e = arg;
	struct hz_view v;
	struct hz_sockaddr from;

	while (!e->stop) {
		int n = hz_udp_recvfrom(e->stack, e->sock, &v, &from,
					hz_now() + 20 * HZ_NS_PER_MS);

		if (n < 0)
			continue;
		if (hz_udp_sendto(e->stack, e->sock, &from, hz_view_data(&v),
				  v.len) == 0)
			e->served++;
		hz_view_release(&v);
	}
	e->stop = false;
}

/* Sends @len patterned bytes to the echo server and checks the echo. */
static void echo_once(struct fixture *f, struct hz_udp_sock *u, size_t len)
{
	static uint8_t buf[8000];
	struct hz_sockaddr dst = {NET_B, 7}, from;
	struct hz_view v;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + len);
	HARNESS_CHECK_EQ(hz_udp_sendto(stk(f, 0), u, &dst, buf, len), 0);
	if (!HARNESS_CHECK_EQ(
		hz_udp_recvfrom(stk(f, 0), u, &v, &from, hz_now() + SECOND),
		(int)len))
		return;
	HARNESS_CHECK_EQ(from.addr, NET_B);
	HARNESS_CHECK_EQ(from.port, 7);
	HARNESS_CHECK_MEM_EQ(hz_view_data(&v), buf, len);
	hz_view_release(&v);
}

/* Stops echo server @e, closes its socket and @u, and takes @f down. */
static void echo_fixture_down(struct fixture *f, struct echo_server *e,
			      struct hz_udp_sock *u)
{
	e->stop = true;
	while (e->stop)
		run_for(5);
	hz_udp_close(stk(f, 0), u);
	hz_udp_close(e->stack, e->sock);
	fixture_down(f);
}

static int udp_echo_main(void *arg)
{
	struct fixture f;
	struct echo_server e = {0};
	struct hz_sockaddr local = {0, 7};
	struct hz_udp_sock *u;
	uint64_t done = counter("ipv4", "reasm_done");
	struct hz_ipstack_stats st;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	e.stack = stk(&f, 1);
	HARNESS_CHECK_EQ(hz_udp_open(e.stack, &local, &e.sock), 0);
	HARNESS_CHECK_EQ(hz_udp_open(e.stack, &local, &u), -HZ_EEXIST);
	HARNESS_CHECK_EQ(hz_fiber_spawn("echo", udp_echo_fiber, &e, 0), 0);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &u), 0);
	echo_once(&f, u, 1);
	echo_once(&f, u, 0);
	echo_once(&f, u, 1472); /* the largest unfragmented */
	echo_once(&f, u, 1473);
	echo_once(&f, u, 4000);
	echo_once(&f, u, 8000);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_done") - done, 6);
	HARNESS_CHECK_EQ(e.served, 6);
	hz_ipstack_stats(f.st[0], &st);
	HARNESS_CHECK_EQ(st.reasm_used, 0);
	HARNESS_CHECK_EQ(st.rx_drops, 0);
	echo_fixture_down(&f, &e, u);
	return 0;
}

static void udp_echo_with_fragmentation(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(udp_echo_main, NULL), 0);
}

static int unreachable_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *u;
	struct hz_sockaddr closed = {NET_B, 9999};
	uint64_t rx = counter("icmp", "rx_dest_unreachable");
	uint64_t nosock = counter("udp", "drop_no_socket");

	(void)arg;
	u = udp_fixture_up(&f, 2, false, NULL, NULL);
	HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), u, &closed, "hi", 2), 0);
	run_for(20);
	HARNESS_CHECK_EQ(counter("udp", "drop_no_socket") - nosock, 1);
	HARNESS_CHECK_EQ(counter("icmp", "rx_dest_unreachable") - rx, 1);
	/* Not to a broadcast: silence. */
	closed.addr = HZ_IPV4(10, 0, 0, 255);
	HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), u, &closed, "hi", 2), 0);
	run_for(20);
	HARNESS_CHECK_EQ(counter("udp", "drop_no_socket") - nosock, 2);
	HARNESS_CHECK_EQ(counter("icmp", "rx_dest_unreachable") - rx, 1);
	udp_fixture_down(&f, u);
	return 0;
}

static void udp_to_closed_port_gets_port_unreachable(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(unreachable_main, NULL), 0);
}

static int rate_limit_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *u;
	struct hz_sockaddr closed = {NET_B, 9999};
	uint64_t sent, limited;

	(void)arg;
	u = udp_fixture_up(&f, 2, false, NULL, NULL);
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], NET_B, 8, hz_now() + SECOND),
			 0);
	sent = counter("icmp", "tx_dest_unreachable");
	limited = counter("icmp", "tx_rate_limited");
	for (int i = 0; i < 40; i++)
		HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), u, &closed, "x", 1),
				 0);
	run_for(5);
	/* A burst of ICMP_BURST, then one per ICMP_INTERVAL_NS. */
	sent = counter("icmp", "tx_dest_unreachable") - sent;
	limited = counter("icmp", "tx_rate_limited") - limited;
	HARNESS_CHECK_GE(sent, ICMP_BURST);
	HARNESS_CHECK_LE(sent, ICMP_BURST + 2);
	HARNESS_CHECK_EQ(sent + limited, 40);
	udp_fixture_down(&f, u);
	return 0;
}

static void icmp_errors_are_rate_limited(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(rate_limit_main, NULL), 0);
}

static int routing_main(void *arg)
{
	struct hz_ipstack_config gw = {0};
	struct fixture f;
	struct hz_udp_sock *u;
	struct hz_sockaddr far = {HZ_IPV4(192, 0, 2, 1), 53};
	struct hz_mac mac;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	/* No gateway: no route. */
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &u), 0);
	HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), u, &far, "q", 1),
			 -HZ_ENOENT);
	HARNESS_CHECK_STR_HAS(hz_stack_error(stk(&f, 0)), "192.0.2.1");
	udp_fixture_down(&f, u);

	/* With B as gateway, the packet goes to B's MAC. */
	gw.gateway = NET_B;
	u = udp_fixture_up(&f, 2, false, &gw, NULL);
	HARNESS_CHECK_EQ(hz_udp_sendto(stk(&f, 0), u, &far, "q", 1), 0);
	run_for(10);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], NET_B, &mac), 0);
	HARNESS_CHECK_EQ(hz_arp_lookup(f.st[0], far.addr, &mac), -HZ_ENOENT);
	udp_fixture_down(&f, u);
	return 0;
}

static void routes_on_link_or_by_gateway(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(routing_main, NULL), 0);
}

/* --- malformed input ------------------------------------------------------ */

struct bad_case {
	const char *what;
	const char *source, *counter;
	void (*mutate)(uint8_t *frame, size_t *len);
};

/* The base frame: a valid UDP datagram from the probe to A's port 7. */
static size_t base_frame(struct fixture *f, uint8_t *frame)
{
	uint8_t udp[64];
	size_t ulen = craft_udp(udp, PROBE_IP, NET_A, 1000, 7, "payload", 7);

	return craft_ip(frame, &hz_simlink_port(f->link, 0)->mac,
			&f->probe->mac, PROBE_IP, NET_A, HZ_IPPROTO_UDP, 1, 0,
			udp, ulen);
}

/* Recomputes the IP header checksum after a header mutation. */
static void fix_ip_sum(uint8_t *frame)
{
	hz_put16(frame + 24, 0);
	hz_put16(frame + 24, hz_inet_fold(hz_inet_sum(frame + 14, 20, 0)));
}

static void m_eth_short(uint8_t *p, size_t *len)
{
	(void)p;
	*len = 10;
}
static void m_eth_type(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 12, 0x86dd);
}
static void m_eth_not_ours(uint8_t *p, size_t *len)
{
	(void)len;
	p[5] ^= 0x40;
}
static void m_ip_short(uint8_t *p, size_t *len)
{
	(void)p;
	*len = 14 + 19;
}
static void m_ip_version(uint8_t *p, size_t *len)
{
	(void)len;
	p[14] = 0x65;
	fix_ip_sum(p);
}
static void m_ip_ihl(uint8_t *p, size_t *len)
{
	(void)len;
	p[14] = 0x44;
	fix_ip_sum(p);
}
static void m_ip_length(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 16, 1000);
	fix_ip_sum(p);
}
static void m_ip_checksum(uint8_t *p, size_t *len)
{
	(void)len;
	p[24] ^= 1;
}
static void m_ip_ttl(uint8_t *p, size_t *len)
{
	(void)len;
	p[22] = 0;
	fix_ip_sum(p);
}
static void m_ip_not_ours(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put32(p + 30, NET_C);
	fix_ip_sum(p);
}
static void m_ip_source(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put32(p + 26, HZ_IPV4(224, 0, 0, 1));
	fix_ip_sum(p);
}
static void m_ip_proto(uint8_t *p, size_t *len)
{
	(void)len;
	p[23] = 47;
	fix_ip_sum(p);
}
static void m_udp_short(uint8_t *p, size_t *len)
{
	hz_put16(p + 16, 20 + 6);
	fix_ip_sum(p);
	*len = 14 + 26;
}
static void m_udp_length(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 34 + 4, 200);
}
static void m_udp_checksum(uint8_t *p, size_t *len)
{
	(void)len;
	p[34 + 8] ^= 0x10;
}
static void m_udp_port_zero(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 34 + 2, 0);
	hz_put16(p + 34 + 6, 0); /* no checksum, so it is not the reason */
}
static void m_icmp_short(uint8_t *p, size_t *len)
{
	p[23] = HZ_IPPROTO_ICMP;
	hz_put16(p + 16, 20 + 4);
	fix_ip_sum(p);
	*len = 14 + 24;
}
static void m_icmp_checksum(uint8_t *p, size_t *len)
{
	(void)len;
	p[23] = HZ_IPPROTO_ICMP;
	fix_ip_sum(p);
	p[34] = 8; /* an echo request with a wrong checksum */
}
static void m_arp_short(uint8_t *p, size_t *len)
{
	hz_put16(p + 12, HZ_ETHERTYPE_ARP);
	*len = 14 + 20;
}
static void m_arp_format(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 12, HZ_ETHERTYPE_ARP);
	hz_put16(p + 14, 6); /* hardware type IEEE 802 */
	hz_put16(p + 16, 0x0800);
	p[18] = 6;
	p[19] = 4;
}
static void m_arp_op(uint8_t *p, size_t *len)
{
	(void)len;
	hz_put16(p + 12, HZ_ETHERTYPE_ARP);
	hz_put16(p + 14, 1);
	hz_put16(p + 16, 0x0800);
	p[18] = 6;
	p[19] = 4;
	hz_put16(p + 20, 9);
}

/* Makes the frame a 20-byte TCP SYN to port 80 with data offset @off
 * (in words) and a checksum that is right or @wrong. */
static void to_tcp(uint8_t *p, size_t *len, uint8_t off, bool wrong)
{
	uint8_t *t = p + 34;
	uint16_t sum;

	memset(t, 0, 20);
	hz_put16(t, 1000);
	hz_put16(t + 2, 80);
	hz_put32(t + 4, 1);
	t[12] = (uint8_t)(off << 4);
	t[13] = 0x02;
	hz_put16(t + 14, 1000);
	sum = hz_inet_fold(hz_inet_sum(
	    t, 20, hz_inet_pseudo_sum(PROBE_IP, NET_A, HZ_IPPROTO_TCP, 20)));
	hz_put16(t + 16, wrong ? (uint16_t)(sum + 1) : sum);
	p[23] = HZ_IPPROTO_TCP;
	hz_put16(p + 16, 20 + 20);
	fix_ip_sum(p);
	*len = 14 + 40;
}
static void m_tcp_short(uint8_t *p, size_t *len)
{
	to_tcp(p, len, 5, false);
	hz_put16(p + 16, 20 + 12);
	fix_ip_sum(p);
	*len = 14 + 32;
}
static void m_tcp_offset(uint8_t *p, size_t *len)
{
	to_tcp(p, len, 4, false);
}
static void m_tcp_checksum(uint8_t *p, size_t *len)
{
	to_tcp(p, len, 5, true);
}

static const struct bad_case bad_cases[] = {
    {"runt frame", "eth", "drop_short", m_eth_short},
    {"IPv6 frame", "eth", "drop_unknown_type", m_eth_type},
    {"someone else's MAC", "eth", "drop_not_ours", m_eth_not_ours},
    {"runt IP", "ipv4", "drop_short", m_ip_short},
    {"IP version 6", "ipv4", "drop_bad_version", m_ip_version},
    {"IHL 4", "ipv4", "drop_bad_ihl", m_ip_ihl},
    {"total length past the frame", "ipv4", "drop_bad_length", m_ip_length},
    {"header checksum", "ipv4", "drop_bad_checksum", m_ip_checksum},
    {"TTL 0", "ipv4", "drop_ttl_zero", m_ip_ttl},
    {"someone else's address", "ipv4", "drop_not_ours", m_ip_not_ours},
    {"multicast source", "ipv4", "drop_bad_source", m_ip_source},
    {"unknown protocol", "ipv4", "drop_unknown_proto", m_ip_proto},
    {"runt UDP", "udp", "drop_short", m_udp_short},
    {"UDP length past the packet", "udp", "drop_bad_length", m_udp_length},
    {"UDP checksum", "udp", "drop_bad_checksum", m_udp_checksum},
    {"UDP port 0", "udp", "drop_port_zero", m_udp_port_zero},
    {"runt ICMP", "icmp", "drop_short", m_icmp_short},
    {"ICMP checksum", "icmp", "drop_bad_checksum", m_icmp_checksum},
    {"runt ARP", "arp", "drop_short", m_arp_short},
    {"ARP for IEEE 802", "arp", "drop_bad_format", m_arp_format},
    {"ARP op 9", "arp", "drop_bad_op", m_arp_op},
    {"runt TCP", "tcp", "drop_short", m_tcp_short},
    {"TCP data offset 4", "tcp", "drop_bad_offset", m_tcp_offset},
    {"TCP checksum", "tcp", "drop_bad_checksum", m_tcp_checksum},
};

static int malformed_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *u;
	struct hz_sockaddr local = {0, 7};
	uint8_t frame[256];
	struct hz_ipstack_stats before, after;

	(void)arg;
	u = udp_fixture_up(&f, 1, true, NULL, &local);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint64_t n = counter(c->source, c->counter);
		size_t len = base_frame(&f, frame);

		hz_ipstack_stats(f.st[0], &before);
		c->mutate(frame, &len);
		if (len >= HZ_ETH_HLEN) {
			probe_send(&f, frame, len);
		} else {
			/* No link carries a runt: hand it in directly. */
			input_frame(&f, frame, len, false);
		}
		run_for(2);
		hz_ipstack_stats(f.st[0], &after);
		if (counter(c->source, c->counter) != n + 1)
			HARNESS_FAIL("%s: %s.%s did not count it", c->what,
				     c->source, c->counter);
		HARNESS_CHECK_EQ(after.rx_drops, before.rx_drops + 1);
	}
	/* The unmutated frame arrives. */
	{
		size_t len = base_frame(&f, frame);
		struct hz_view v;

		probe_send(&f, frame, len);
		if (HARNESS_CHECK_EQ(hz_udp_recvfrom(stk(&f, 0), u, &v, NULL,
						     hz_now() + SECOND),
				     7)) {
			HARNESS_CHECK_MEM_EQ(hz_view_data(&v), "payload", 7);
			hz_view_release(&v);
		}
	}
	/* A wrong checksum the NIC vouches for (receive offload: the field
	 * left partial) is not verified: the datagram arrives. */
	{
		uint64_t n = counter("udp", "drop_bad_checksum");
		size_t len = base_frame(&f, frame);
		struct hz_view v;

		m_udp_checksum(frame, &len);
		input_frame(&f, frame, len, true);
		if (HARNESS_CHECK_EQ(hz_udp_recvfrom(stk(&f, 0), u, &v, NULL,
						     hz_now() + SECOND),
				     7))
			hz_view_release(&v);
		HARNESS_CHECK_EQ(counter("udp", "drop_bad_checksum"), n);
	}
	udp_fixture_down(&f, u);
	return 0;
}

static void malformed_packets_are_dropped_and_counted(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(malformed_main, NULL), 0);
}

static int queue_full_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *u;
	struct hz_sockaddr local = {0, 7};
	uint8_t frame[256];
	uint64_t full = counter("udp", "drop_queue_full");

	(void)arg;
	u = udp_fixture_up(&f, 1, true, NULL, &local);
	for (int i = 0; i < UDP_QUEUE_LEN + 5; i++) {
		size_t len = base_frame(&f, frame);

		probe_send(&f, frame, len);
	}
	run_for(5);
	HARNESS_CHECK_EQ(counter("udp", "drop_queue_full") - full, 5);
	/* Closing frees what is queued. */
	udp_fixture_down(&f, u);
	return 0;
}

static void udp_queue_is_bounded(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(queue_full_main, NULL), 0);
}

/*
 * The direct stack's UDP batches: a send of three, taken in one receive
 * in order with their sender, one cut to a short buffer and saying so;
 * a batch whose first datagram cannot go fails with that reason, one
 * whose second cannot go sends the first.
 */
static int batch_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *tx, *rx;
	struct hz_sockaddr b = {NET_B, 9}, port0 = {NET_B, 0};
	static const char *const text[] = {"one", "three", "a longer one"};
	struct hz_udp_msg out[3], in[4];
	uint8_t buf[4][32];
	int got = 0;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 1), &b, &rx), 0);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &tx), 0);
	for (int i = 0; i < 3; i++)
		out[i] = (struct hz_udp_msg){
		    .buf = (void *)text[i], .len = strlen(text[i]), .peer = b};
	HARNESS_CHECK_EQ(hz_udp_send_batch(stk(&f, 0), tx, out, 3), 3);
	/* They wait for B's address, then arrive together. */
	run_for(20);
	for (int i = 0; i < 4; i++)
		in[i] = (struct hz_udp_msg){.buf = buf[i], .cap = 32};
	in[2].cap = 4;
	got = hz_udp_recv_batch(stk(&f, 1), rx, in, 4, hz_now() + SECOND);
	if (HARNESS_CHECK_EQ(got, 3)) {
		for (int i = 0; i < 2; i++) {
			HARNESS_CHECK_EQ(in[i].len, strlen(text[i]));
			HARNESS_CHECK_MEM_EQ(buf[i], text[i], in[i].len);
			HARNESS_CHECK_EQ(in[i].peer.addr, NET_A);
		}
		HARNESS_CHECK_EQ(in[2].len, strlen(text[2]));
		HARNESS_CHECK_MEM_EQ(buf[2], "a lo", 4);
	}
	/* Nothing waits: the deadline passes. */
	HARNESS_CHECK_EQ(
	    hz_udp_recv_batch(stk(&f, 1), rx, in, 4, hz_now() + SECOND / 100),
	    -HZ_ETIMEDOUT);
	out[1].peer = port0;
	HARNESS_CHECK_EQ(hz_udp_send_batch(stk(&f, 0), tx, out, 3), 1);
	HARNESS_CHECK_EQ(hz_udp_send_batch(stk(&f, 0), tx, out + 1, 2),
			 -HZ_EINVAL);
	HARNESS_CHECK(strstr(hz_stack_error(stk(&f, 0)), "port 0") != NULL);
	run_for(1);
	HARNESS_CHECK_EQ(
	    hz_udp_recv_batch(stk(&f, 1), rx, in, 4, hz_now() + SECOND), 1);
	hz_udp_close(stk(&f, 0), tx);
	hz_udp_close(stk(&f, 1), rx);
	fixture_down(&f);
	return 0;
}

static void udp_batches_both_ways(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(batch_main, NULL), 0);
}

/* --- an impaired link ----------------------------------------------------- */

#define LOSSY_DATAGRAMS 400

static int corrupt_main(void *arg)
{
	struct fixture f;
	struct hz_udp_sock *tx, *rx;
	struct hz_sockaddr b = {NET_B, 9};
	struct hz_ipstack_stats before, after;
	struct hz_simlink_stats ls0, ls1;
	uint8_t buf[300];
	size_t got = 0;
	struct hz_view v;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 1), &b, &rx), 0);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &tx), 0);
	/* Resolve first: ARP has no checksum to catch corruption. */
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], NET_B, 8, hz_now() + SECOND),
			 0);
	hz_ipstack_stats(f.st[1], &before);
	hz_simlink_stats(f.link, &ls0);
	hz_simlink_set_rates(f.link, 0, 0, 0, 100000);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	for (int i = 0; i < LOSSY_DATAGRAMS; i++) {
		HARNESS_CHECK_EQ(
		    hz_udp_sendto(stk(&f, 0), tx, &b, buf, sizeof(buf)), 0);
		if (i % 50 == 0)
			run_for(1);
		while (hz_udp_recvfrom(stk(&f, 1), rx, &v, NULL, 0) >= 0) {
			HARNESS_CHECK_EQ(v.len, sizeof(buf));
			HARNESS_CHECK_MEM_EQ(hz_view_data(&v), buf,
					     sizeof(buf));
			hz_view_release(&v);
			got++;
		}
	}
	run_for(5);
	while (hz_udp_recvfrom(stk(&f, 1), rx, &v, NULL, 0) >= 0) {
		HARNESS_CHECK_MEM_EQ(hz_view_data(&v), buf, sizeof(buf));
		hz_view_release(&v);
		got++;
	}
	hz_simlink_set_rates(f.link, 0, 0, 0, 0);
	hz_ipstack_stats(f.st[1], &after);
	hz_simlink_stats(f.link, &ls1);
	/* Every damaged frame was rejected, every clean one arrived. */
	HARNESS_CHECK_GT(ls1.corrupted - ls0.corrupted, LOSSY_DATAGRAMS / 20);
	HARNESS_CHECK_EQ(after.rx_drops - before.rx_drops,
			 ls1.corrupted - ls0.corrupted);
	HARNESS_CHECK_EQ(got,
			 LOSSY_DATAGRAMS - (ls1.corrupted - ls0.corrupted));
	hz_udp_close(stk(&f, 0), tx);
	hz_udp_close(stk(&f, 1), rx);
	fixture_down(&f);
	return 0;
}

static void corrupted_frames_fail_checksums(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(corrupt_main, NULL), 0);
}

static int lossy_ping_main(void *arg)
{
	struct fixture f;
	int ok = 0;
	struct hz_simlink_stats ls;

	(void)arg;
	fixture_up(&f, 3, false, NULL);
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[0], NET_C, 8, hz_now() + SECOND),
			 0);
	HARNESS_CHECK_EQ(hz_ipstack_ping(f.st[1], NET_C, 8, hz_now() + SECOND),
			 0);
	hz_simlink_set_rates(f.link, 100000, 50000, 100000, 0);
	for (int i = 0; i < 200; i++)
		ok += hz_ipstack_ping(f.st[i % 2], NET_C, 32,
				      hz_now() + 20 * HZ_NS_PER_MS) == 0;
	hz_simlink_stats(f.link, &ls);
	/* About 81% make the round trip; duplicates change nothing. */
	HARNESS_CHECK_GT(ok, 130);
	HARNESS_CHECK_LT(ok, 195);
	HARNESS_CHECK_GT(ls.lost, 0);
	HARNESS_CHECK_GT(ls.duplicated, 0);
	HARNESS_CHECK_GT(ls.reordered, 0);
	hz_simlink_set_rates(f.link, 0, 0, 0, 0);
	fixture_down(&f);
	return 0;
}

static void ping_over_a_lossy_link(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(lossy_ping_main, NULL), 0);
}

/* --- allocation failure --------------------------------------------------- */

static int alloc_fail_main(void *arg)
{
	struct fixture f;
	struct echo_server e = {0};
	struct hz_sockaddr local = {0, 7}, dst = {NET_B, 7};
	struct hz_udp_sock *u;
	static uint8_t buf[4000];
	int echoed = 0;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	e.stack = stk(&f, 1);
	HARNESS_CHECK_EQ(hz_udp_open(e.stack, &local, &e.sock), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("echo", udp_echo_fiber, &e, 0), 0);
	HARNESS_CHECK_EQ(hz_udp_open(stk(&f, 0), NULL, &u), 0);
	memset(buf, 0x3c, sizeof(buf));
	echo_once(&f, u, 100);
	/* Fail the n-th allocation of a fragmented round trip, n = 1, 2, ... */
	for (uint64_t n = 1; n < 120; n++) {
		struct hz_view v;
		int r;

		hz_mem_fail_nth(n);
		r = hz_udp_sendto(stk(&f, 0), u, &dst, buf, sizeof(buf));
		/* ENOSPC: a full ARP queue, if a request failed to go. */
		if (r != 0 && r != -HZ_ENOMEM && r != -HZ_ENOSPC)
			HARNESS_FAIL("n %d: %s", (int)n, hz_errname(r));
		r = hz_udp_recvfrom(stk(&f, 0), u, &v, NULL,
				    hz_now() + 20 * HZ_NS_PER_MS);
		hz_mem_fail_nth(0);
		if (r >= 0) {
			HARNESS_CHECK_EQ(r, sizeof(buf));
			HARNESS_CHECK_MEM_EQ(hz_view_data(&v), buf,
					     sizeof(buf));
			hz_view_release(&v);
			echoed++;
		}
	}
	/* Some round trips failed somewhere, and all was dropped cleanly. */
	HARNESS_CHECK_GT(echoed, 0);
	HARNESS_CHECK_LT(echoed, 119);
	run_for(5);
	echo_once(&f, u, 4000);
	echo_fixture_down(&f, &e, u);
	return 0;
}

static void allocation_failure_drops_cleanly(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(alloc_fail_main, NULL), 0);
}

/* --- lifecycle ------------------------------------------------------------ */

static int create_fail_main(void *arg)
{
	struct hz_simlink_config lc = {.ports = 2};
	struct hz_ipstack_config c = {.addr = NET_A, .prefix_len = 24};
	struct hz_simlink *l;
	struct hz_ipstack *s;

	(void)arg;
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &l), 0);
	for (uint64_t n = 1;; n++) {
		int r;

		hz_mem_fail_nth(n);
		r = hz_ipstack_create(hz_simlink_port(l, 0), &c, &s);
		hz_mem_fail_nth(0);
		if (r == 0) {
			hz_ipstack_destroy(s);
			break;
		}
		if (!HARNESS_CHECK_EQ(r, -HZ_ENOMEM))
			break;
	}
	c.addr = 0;
	HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(l, 0), &c, &s),
			 -HZ_EINVAL);
	c.addr = NET_A;
	c.prefix_len = 33;
	HARNESS_CHECK_EQ(hz_ipstack_create(hz_simlink_port(l, 0), &c, &s),
			 -HZ_EINVAL);
	hz_simlink_destroy(l);
	return 0;
}

static void create_fails_cleanly(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(create_fail_main, NULL), 0);
}

/* --- TCP through the whole stack ------------------------------------------ */

struct tcp_echo {
	struct hz_stack *stack;
	struct hz_listener *l;
	bool done; /* the fiber ended */
	bool ok;   /* having echoed everything up to the peer's FIN */
};

/* Accepts one connection and echoes it until the peer's FIN. */
static void tcp_echo_fiber(void *arg)
{
	struct tcp_echo *e = arg;
	struct hz_flow *f;
	struct hz_view v;
	int n;

	if (!HARNESS_CHECK_EQ(
		hz_tcp_accept(e->stack, e->l, hz_now() + 5 * SECOND, &f), 0)) {
		e->done = true;
		return;
	}
	while ((n = hz_flow_read(f, &v, hz_now() + 10 * SECOND)) > 0) {
		ssize_t w = hz_flow_write(f, hz_view_data(&v), v.len,
					  hz_now() + 10 * SECOND);

		hz_view_release(&v);
		if (w < 0)
			break;
	}
	if (hz_flow_shutdown(f) < 0)
		n = -1;
	hz_flow_free(f);
	e->ok = n == 0;
	e->done = true;
}

/* Writes @total pattern bytes to @f from a fiber of its own. */
struct tcp_writer {
	struct hz_flow *f;
	size_t total;
	bool ok;
};

static void tcp_writer_fiber(void *arg)
{
	struct tcp_writer *w = arg;
	uint8_t buf[4096];

	for (size_t off = 0; off < w->total; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)((off + i) * 31 + ((off + i) >> 12));
		if (hz_flow_write(w->f, buf, sizeof(buf),
				  hz_now() + 10 * SECOND) < 0)
			return;
	}
	w->ok = hz_flow_shutdown(w->f) == 0;
}

/* Sends @total bytes through an echo on stack 1 and checks every byte. */
static void tcp_round_trip(struct fixture *f, size_t total)
{
	struct hz_sockaddr local = {0, 80}, dst = {NET_B, 80};
	struct tcp_echo e = {.stack = stk(f, 1)};
	struct tcp_writer w = {.total = total};
	size_t got = 0;
	struct hz_view v;
	int n;

	HARNESS_CHECK_EQ(hz_tcp_listen(e.stack, &local, 4, &e.l), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("tcp-echo", tcp_echo_fiber, &e, 0), 0);
	if (!HARNESS_CHECK_EQ(
		hz_tcp_connect(stk(f, 0), &dst, hz_now() + 5 * SECOND, &w.f),
		0)) {
		hz_tcp_unlisten(e.stack, e.l); /* wakes the echo fiber */
		while (!e.done)
			run_for(5);
		return;
	}
	HARNESS_CHECK_EQ(hz_fiber_spawn("tcp-writer", tcp_writer_fiber, &w, 0),
			 0);
	while ((n = hz_flow_read(w.f, &v, hz_now() + 10 * SECOND)) > 0) {
		const uint8_t *p = hz_view_data(&v);

		for (size_t i = 0; i < v.len; i++, got++)
			if (p[i] != (uint8_t)(got * 31 + (got >> 12)))
				HARNESS_FAIL("byte %zu is %#x; expected %#x",
					     got, p[i],
					     (uint8_t)(got * 31 + (got >> 12)));
		hz_view_release(&v);
	}
	HARNESS_CHECK_EQ(n, 0);
	HARNESS_CHECK_EQ(got, total);
	HARNESS_CHECK(w.ok);
	while (!e.done)
		run_for(5);
	HARNESS_CHECK(e.ok);
	hz_flow_free(w.f);
	hz_tcp_unlisten(e.stack, e.l);
}

static int tcp_whole_stack_main(void *arg)
{
	uint64_t frags = counter("ipv4", "tx_fragments");
	struct fixture f;

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	tcp_round_trip(&f, 4u << 20);
	/*
	 * Segments carry timestamps: their payload shrinks by the options
	 * (RFC 6691), so none is fragmented on the 1500-byte link.
	 */
	HARNESS_CHECK_EQ(counter("ipv4", "tx_fragments") - frags, 0);
	fixture_down(&f);
	return 0;
}

/*
 * 64 MiB each way (an echo: both directions at once) through two whole
 * stacks on a link that loses 5 %, duplicates 1 %, reorders 5 % and
 * corrupts 1 % of frames: every byte arrives, in order, in bounded time.
 */
static int tcp_hostile_link_main(void *arg)
{
	struct fixture f;
	struct hz_simlink_stats ls;
	uint64_t t0 = hz_now();

	(void)arg;
	fixture_up(&f, 2, false, NULL);
	hz_simlink_set_rates(f.link, 50000, 10000, 50000, 10000);
	tcp_round_trip(&f, 64u << 20);
	hz_simlink_stats(f.link, &ls);
	print_message(
	    "# 64 MiB each way in %.1f s over a link that lost %llu, "
	    "duplicated %llu, reordered %llu, corrupted %llu frames\n",
	    (double)(hz_now() - t0) / 1e9, (unsigned long long)ls.lost,
	    (unsigned long long)ls.duplicated, (unsigned long long)ls.reordered,
	    (unsigned long long)ls.corrupted);
	HARNESS_CHECK_GT(ls.lost, 0);
	HARNESS_CHECK_GT(ls.duplicated, 0);
	HARNESS_CHECK_GT(ls.reordered, 0);
	HARNESS_CHECK_GT(ls.corrupted, 0);
	HARNESS_CHECK_LT(hz_now() - t0, 120 * SECOND);
	fixture_down(&f);
	return 0;
}

static void tcp_survives_a_hostile_link(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(tcp_hostile_link_main, NULL), 0);
}

static void tcp_crosses_the_whole_stack_unfragmented(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(tcp_whole_stack_main, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(arp_resolves_and_ping_answers),
	    HARNESS_TEST(arp_entries_expire),
	    HARNESS_TEST(arp_pending_queue_flushes_and_times_out),
	    HARNESS_TEST(announces_with_gratuitous_arp),
	    HARNESS_TEST(udp_echo_with_fragmentation),
	    HARNESS_TEST(udp_to_closed_port_gets_port_unreachable),
	    HARNESS_TEST(icmp_errors_are_rate_limited),
	    HARNESS_TEST(routes_on_link_or_by_gateway),
	    HARNESS_TEST(malformed_packets_are_dropped_and_counted),
	    HARNESS_TEST(udp_queue_is_bounded),
	    HARNESS_TEST(udp_batches_both_ways),
	    HARNESS_TEST(corrupted_frames_fail_checksums),
	    HARNESS_TEST(ping_over_a_lossy_link),
	    HARNESS_TEST(allocation_failure_drops_cleanly),
	    HARNESS_TEST(create_fails_cleanly),
	    HARNESS_TEST(tcp_crosses_the_whole_stack_unfragmented),
	    HARNESS_TEST(tcp_survives_a_hostile_link),
	};

	return HARNESS_RUN("net_stack", tests);
}
