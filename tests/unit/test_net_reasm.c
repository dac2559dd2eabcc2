/*
 * IPv4 reassembly against crafted fragments from a raw port: out of
 * order, duplicated, overlapping (the first bytes win), never completed
 * (dropped at the timeout, budget back to zero), a flood of incomplete
 * datagrams (held within the budget), inconsistent, tiny and
 * oversized fragments, and fragments to the subnet broadcast.
 */
#include "tests/unit/harness.h"

#include <string.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "net/ipstack_impl.h"

#define NET_A HZ_IPV4(10, 0, 0, 1)
#define NET_BCAST HZ_IPV4(10, 0, 0, 255) /* the /24's directed broadcast */
#define PROBE_IP HZ_IPV4(10, 0, 0, 99)
#define PORT 7
#define DGRAM_DATA 3000
#define LIMIT (64u * 1024)
#define TIMEOUT_MS 40

struct rfix {
	struct hz_simlink *link;
	struct hz_ipstack *a;
	struct hz_net *probe;
	struct hz_udp_sock *sock;
	uint8_t dgram[8 + DGRAM_DATA]; /* the UDP datagram to split */
	uint16_t id;
	hz_ipv4_t dst; /* where the fragments go (NET_A) */
	uint8_t proto; /* what dgram holds (UDP) */
};

static uint64_t counter(const char *source, const char *name)
{
	struct hz_counter *c = hz_counter_find(source, name);

	return c != NULL ? c->value : 0;
}

/* Makes f->dgram a UDP datagram to @dst:@port, sent to @dst. */
static void udp_fill(struct rfix *f, hz_ipv4_t dst, uint16_t port)
{
	uint16_t ulen = sizeof(f->dgram);

	f->dst = dst;
	f->proto = HZ_IPPROTO_UDP;
	hz_put16(f->dgram, 1000);
	hz_put16(f->dgram + 2, port);
	hz_put16(f->dgram + 4, ulen);
	hz_put16(f->dgram + 6, 0);
	for (size_t i = 8; i < sizeof(f->dgram); i++)
		f->dgram[i] = (uint8_t)(i * 13);
	hz_put16(f->dgram + 6,
		 hz_inet_fold(hz_inet_sum(
		     f->dgram, ulen,
		     hz_inet_pseudo_sum(PROBE_IP, dst, HZ_IPPROTO_UDP, ulen))));
}

/* Makes f->dgram an ICMP echo request, sent to @dst. */
static void echo_fill(struct rfix *f, hz_ipv4_t dst)
{
	f->dst = dst;
	f->proto = HZ_IPPROTO_ICMP;
	memset(f->dgram, 0, 8);
	f->dgram[0] = 8; /* echo request */
	hz_put16(f->dgram + 4, 77);
	for (size_t i = 8; i < sizeof(f->dgram); i++)
		f->dgram[i] = (uint8_t)i;
	hz_put16(f->dgram + 2,
		 hz_inet_fold(hz_inet_sum(f->dgram, sizeof(f->dgram), 0)));
}

static void rfix_up_limit(struct rfix *f, size_t limit)
{
	struct hz_simlink_config lc = {.ports = 2, .seed = 5};
	struct hz_ipstack_config c = {
	    .addr = NET_A,
	    .prefix_len = 24,
	    .name = "a",
	    .seed = 1,
	    .reasm_limit = limit,
	    .reasm_timeout_ns = TIMEOUT_MS * HZ_NS_PER_MS,
	};
	struct hz_sockaddr local = {0, PORT};

	memset(f, 0, sizeof(*f));
	HARNESS_CHECK_EQ(hz_simlink_create(&lc, &f->link), 0);
	HARNESS_CHECK_EQ(
	    hz_ipstack_create(hz_simlink_port(f->link, 0), &c, &f->a), 0);
	f->probe = hz_simlink_port(f->link, 1);
	HARNESS_CHECK_EQ(hz_udp_open(hz_ipstack_stack(f->a), &local, &f->sock),
			 0);
	f->id = 100;
	udp_fill(f, NET_A, PORT);
}

static void rfix_up(struct rfix *f)
{
	rfix_up_limit(f, LIMIT);
}

static void rfix_down(struct rfix *f)
{
	struct hz_view v;

	hz_udp_close(hz_ipstack_stack(f->a), f->sock);
	hz_ipstack_destroy(f->a);
	while (hz_net_read(f->probe, &v, 1) == 1)
		hz_view_release(&v);
	hz_simlink_destroy(f->link);
}

/*
 * Sends bytes [@off, @off + @len) of the datagram as a fragment with id
 * @id; @last clears MF. The first @junk bytes are garbage instead.
 */
static void frag_send(struct rfix *f, uint16_t id, size_t off, size_t len,
		      bool last, size_t junk)
{
	struct hz_view v;
	uint8_t *p, *ip;

	if (!HARNESS_CHECK_EQ(hz_pbuf_alloc(NULL, 14 + 20 + len, &v), 0))
		return;
	p = hz_view_data(&v);
	ip = p + 14;
	memcpy(p, hz_simlink_port(f->link, 0)->mac.b, 6);
	memcpy(p + 6, f->probe->mac.b, 6);
	hz_put16(p + 12, HZ_ETHERTYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	hz_put16(ip + 2, (uint16_t)(20 + len));
	hz_put16(ip + 4, id);
	hz_put16(ip + 6, (uint16_t)((off / 8) | (last ? 0 : 0x2000)));
	ip[8] = 64;
	ip[9] = f->proto;
	hz_put32(ip + 12, PROBE_IP);
	hz_put32(ip + 16, f->dst);
	hz_put16(ip + 10, hz_inet_fold(hz_inet_sum(ip, 20, 0)));
	if (off + len <= sizeof(f->dgram)) {
		memcpy(ip + 20, f->dgram + off, len);
		memset(ip + 20, 0xee, junk < len ? junk : len);
	} else {
		memset(ip + 20, 0, len);
	}
	HARNESS_CHECK_EQ(hz_net_write(f->probe, &v, 1), 1);
}

/* Expects the whole datagram on the socket, intact, within a second. */
static void expect_datagram(struct rfix *f)
{
	struct hz_view v;

	if (!HARNESS_CHECK_EQ(hz_udp_recvfrom(hz_ipstack_stack(f->a), f->sock,
					      &v, NULL, hz_now() + HZ_NS_PER_S),
			      DGRAM_DATA))
		return;
	HARNESS_CHECK_MEM_EQ(hz_view_data(&v), f->dgram + 8, DGRAM_DATA);
	hz_view_release(&v);
}

static void expect_nothing(struct rfix *f)
{
	struct hz_view v;

	HARNESS_CHECK_EQ(hz_udp_recvfrom(hz_ipstack_stack(f->a), f->sock, &v,
					 NULL, hz_now() + 5 * HZ_NS_PER_MS),
			 -HZ_ETIMEDOUT);
}

static size_t reasm_used(struct rfix *f)
{
	struct hz_ipstack_stats st;

	hz_ipstack_stats(f->a, &st);
	return st.reasm_used;
}

/* --- tests ---------------------------------------------------------------- */

static int order_main(void *arg)
{
	struct rfix f;
	uint64_t dup = counter("ipv4", "reasm_drop_duplicate");

	(void)arg;
	rfix_up(&f);
	/* Reverse order. */
	frag_send(&f, 1, 2400, sizeof(f.dgram) - 2400, true, false);
	frag_send(&f, 1, 1200, 1200, false, false);
	frag_send(&f, 1, 0, 1200, false, false);
	expect_datagram(&f);
	/* Every fragment twice, the last one three times. */
	for (int k = 0; k < 2; k++) {
		frag_send(&f, 2, 0, 1200, false, false);
		frag_send(&f, 2, 1200, 1200, false, false);
	}
	frag_send(&f, 2, 2400, sizeof(f.dgram) - 2400, true, false);
	expect_datagram(&f);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_drop_duplicate") - dup, 2);
	/* Late copies after completion start a new datagram that times out. */
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	rfix_down(&f);
	return 0;
}

static void reassembles_out_of_order_and_duplicates(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(order_main, NULL), 0);
}

/*
 * The policy (reasm.c, docs/net.md): overlapping bytes keep what came
 * first. A later fragment only fills holes, whatever it says about bytes
 * already held; one that adds nothing is dropped as a duplicate.
 */
static int overlap_main(void *arg)
{
	struct rfix f;
	uint64_t overlap = counter("ipv4", "reasm_overlap");
	uint64_t dup = counter("ipv4", "reasm_drop_duplicate");
	uint64_t done = counter("ipv4", "reasm_done");
	uint64_t bad_sum = counter("udp", "drop_bad_checksum");

	(void)arg;
	rfix_up(&f);
	/* [800, 2000) whose held part [800, 1200) differs: that part is
	 * ignored, the hole [1200, 2000) is taken, the datagram is intact. */
	frag_send(&f, 3, 0, 1200, false, 0);
	frag_send(&f, 3, 800, 1200, false, 400);
	frag_send(&f, 3, 2000, sizeof(f.dgram) - 2000, true, 0);
	expect_datagram(&f);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_overlap") - overlap, 1);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_drop_duplicate") - dup, 0);
	/* Garbage wholly inside held bytes changes nothing: a duplicate. */
	frag_send(&f, 4, 0, 1200, false, 0);
	frag_send(&f, 4, 400, 400, false, 400);
	frag_send(&f, 4, 1200, 1200, false, 0);
	frag_send(&f, 4, 2400, sizeof(f.dgram) - 2400, true, 0);
	expect_datagram(&f);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_overlap") - overlap, 1);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_drop_duplicate") - dup, 1);
	/* A fragment spanning two held pieces fills only the hole. */
	frag_send(&f, 5, 0, 400, false, 0);
	frag_send(&f, 5, 800, 400, false, 400);
	frag_send(&f, 5, 0, 1200, false, 0); /* fills [400, 800) */
	frag_send(&f, 5, 1200, 1200, false, 0);
	frag_send(&f, 5, 2400, sizeof(f.dgram) - 2400, true, 0);
	expect_nothing(&f); /* [800, 1200) came first as junk and stays */
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_overlap") - overlap, 2);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_done") - done, 3);
	HARNESS_CHECK_EQ(counter("udp", "drop_bad_checksum") - bad_sum, 1);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	rfix_down(&f);
	return 0;
}

static void overlapping_fragments_keep_the_first_bytes(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(overlap_main, NULL), 0);
}

static int incomplete_main(void *arg)
{
	struct rfix f;
	uint64_t timeouts = counter("ipv4", "reasm_drop_timeout");

	(void)arg;
	rfix_up(&f);
	frag_send(&f, 5, 0, 1200, false, false);
	frag_send(&f, 5, 2400, sizeof(f.dgram) - 2400, true, false);
	hz_sleep_ns(5 * HZ_NS_PER_MS);
	HARNESS_CHECK_GT(reasm_used(&f), 0);
	hz_sleep_ns(2 * TIMEOUT_MS * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_drop_timeout") - timeouts, 1);
	/* The missing piece alone, later, completes nothing. */
	frag_send(&f, 5, 1200, 1200, false, false);
	expect_nothing(&f);
	hz_sleep_ns(2 * TIMEOUT_MS * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	rfix_down(&f);
	return 0;
}

static void never_completed_datagrams_time_out(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(incomplete_main, NULL), 0);
}

static int flood_main(void *arg)
{
	struct rfix f;
	uint64_t refused = counter("ipv4", "reasm_drop_budget");
	size_t peak = 0;

	(void)arg;
	rfix_up(&f);
	for (uint16_t id = 1000; id < 1200; id++) {
		frag_send(&f, id, 0, 8, false, false);
		if (id % 10 == 0) {
			hz_sleep_ns(HZ_NS_PER_MS);
			if (reasm_used(&f) > peak)
				peak = reasm_used(&f);
		}
	}
	hz_sleep_ns(HZ_NS_PER_MS);
	HARNESS_CHECK_GT(peak, LIMIT / 2);
	HARNESS_CHECK_LE(peak, LIMIT);
	HARNESS_CHECK_GT(counter("ipv4", "reasm_drop_budget") - refused, 100);
	/* A datagram still gets through once the flood has timed out. */
	hz_sleep_ns(2 * TIMEOUT_MS * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	frag_send(&f, 1, 0, 1200, false, false);
	frag_send(&f, 1, 1200, 1200, false, false);
	frag_send(&f, 1, 2400, sizeof(f.dgram) - 2400, true, false);
	expect_datagram(&f);
	rfix_down(&f);
	return 0;
}

static void a_flood_stays_within_the_budget(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(flood_main, NULL), 0);
}

static int hostile_main(void *arg)
{
	struct rfix f;
	uint64_t inconsistent = counter("ipv4", "reasm_drop_inconsistent");
	uint64_t pieces = counter("ipv4", "reasm_drop_too_many_pieces");
	uint64_t oversize = counter("ipv4", "reasm_drop_oversize");

	(void)arg;
	/* Room for more pieces than a datagram may have. */
	rfix_up_limit(&f, 1u << 20);
	/* Two different ends. */
	frag_send(&f, 6, 1600, 400, true, false);
	frag_send(&f, 6, 2400, 400, true, false);
	/* Data past the end. */
	frag_send(&f, 7, 400, 400, true, false);
	frag_send(&f, 7, 800, 400, false, false);
	hz_sleep_ns(2 * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(
	    counter("ipv4", "reasm_drop_inconsistent") - inconsistent, 2);
	/* Eight-byte pieces with gaps, past the piece limit. */
	for (size_t off = 0; off < 16 * (REASM_MAX_PIECES + 4); off += 16)
		frag_send(&f, 8, off, 8, false, false);
	hz_sleep_ns(2 * HZ_NS_PER_MS);
	HARNESS_CHECK_GE(counter("ipv4", "reasm_drop_too_many_pieces") - pieces,
			 1);
	/* Past 64 KiB, and a non-final fragment not a multiple of 8. */
	frag_send(&f, 9, 65528, 16, true, false);
	frag_send(&f, 10, 0, 12, false, false);
	hz_sleep_ns(2 * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_drop_oversize") - oversize, 2);
	hz_sleep_ns(2 * TIMEOUT_MS * HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	rfix_down(&f);
	return 0;
}

static void hostile_fragments_are_dropped(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(hostile_main, NULL), 0);
}

/* The three fragments of f->dgram, with id @id. */
static void frag_send_all(struct rfix *f, uint16_t id)
{
	frag_send(f, id, 0, 1200, false, false);
	frag_send(f, id, 1200, 1200, false, false);
	frag_send(f, id, 2400, sizeof(f->dgram) - 2400, true, false);
	hz_sleep_ns(2 * HZ_NS_PER_MS);
}

static int broadcast_main(void *arg)
{
	struct rfix f;
	uint64_t replies = counter("icmp", "tx_echo_replies");
	uint64_t bcast_echo = counter("icmp", "drop_broadcast_echo");
	uint64_t unreach = counter("icmp", "tx_dest_unreachable");
	uint64_t no_socket = counter("udp", "drop_no_socket");

	(void)arg;
	rfix_up(&f);
	/* Unicast, the reassembled echo is answered... */
	echo_fill(&f, NET_A);
	frag_send_all(&f, 20);
	HARNESS_CHECK_EQ(counter("icmp", "tx_echo_replies") - replies, 1);
	/* ...to the subnet's broadcast it is not: the fragments' flag. */
	echo_fill(&f, NET_BCAST);
	frag_send_all(&f, 21);
	HARNESS_CHECK_EQ(counter("icmp", "tx_echo_replies") - replies, 1);
	HARNESS_CHECK_EQ(counter("icmp", "drop_broadcast_echo") - bcast_echo,
			 1);
	/* A closed port: unreachable for unicast, silence for broadcast. */
	udp_fill(&f, NET_A, 9);
	frag_send_all(&f, 22);
	HARNESS_CHECK_EQ(counter("icmp", "tx_dest_unreachable") - unreach, 1);
	udp_fill(&f, NET_BCAST, 9);
	frag_send_all(&f, 23);
	HARNESS_CHECK_EQ(counter("icmp", "tx_dest_unreachable") - unreach, 1);
	HARNESS_CHECK_EQ(counter("udp", "drop_no_socket") - no_socket, 2);
	HARNESS_CHECK_EQ(counter("ipv4", "reasm_done") > 0, true);
	HARNESS_CHECK_EQ(reasm_used(&f), 0);
	rfix_down(&f);
	return 0;
}

static void fragments_to_the_subnet_broadcast_stay_broadcast(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(broadcast_main, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(reassembles_out_of_order_and_duplicates),
	    HARNESS_TEST(overlapping_fragments_keep_the_first_bytes),
	    HARNESS_TEST(never_completed_datagrams_time_out),
	    HARNESS_TEST(a_flood_stays_within_the_budget),
	    HARNESS_TEST(hostile_fragments_are_dropped),
	    HARNESS_TEST(fragments_to_the_subnet_broadcast_stay_broadcast),
	};

	return HARNESS_RUN("net_reasm", tests);
}
