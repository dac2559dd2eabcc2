/*
 * The simulated link: delivery after the configured delay to a parked
 * reader, unicast and broadcast forwarding between ports, seeded
 * impairments (rates close to what was asked, identical for the same
 * seed), the bound on frames in flight and on a port's queue.
 */
#include "tests/unit/harness.h"

#include <string.h>

#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/simlink.h"

#define FRAME_LEN 100

/* Writes one frame from @from to @dst_mac carrying @seq. */
static void send_frame(struct hz_net *from, const struct hz_mac *dst,
		       uint32_t seq)
{
	struct hz_view v;
	uint8_t *p;

	if (!HARNESS_CHECK_EQ(hz_pbuf_alloc(NULL, FRAME_LEN, &v), 0))
		return;
	p = hz_view_data(&v);
	memset(p, 0, FRAME_LEN);
	memcpy(p, dst->b, 6);
	memcpy(p + 6, from->mac.b, 6);
	p[12] = 0x88;
	p[13] = 0xb5;
	memcpy(p + 20, &seq, sizeof(seq));
	HARNESS_CHECK_EQ(hz_net_write(from, &v, 1), 1);
}

static const struct hz_mac bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

/* Drains @port, returning how many frames it held. */
static size_t drain(struct hz_net *port)
{
	struct hz_view v[16];
	size_t total = 0;
	int n;

	while ((n = hz_net_read(port, v, 16)) > 0) {
		for (int i = 0; i < n; i++)
			hz_view_release(&v[i]);
		total += (size_t)n;
	}
	HARNESS_CHECK_EQ(n, -HZ_EAGAIN);
	return total;
}

struct delay_ctx {
	struct hz_simlink *link;
	uint64_t sent_at, got_at;
};

static void delayed_sender(void *arg)
{
	struct delay_ctx *c = arg;
	struct hz_net *p1 = hz_simlink_port(c->link, 1);

	c->sent_at = hz_now();
	send_frame(hz_simlink_port(c->link, 0), &p1->mac, 1);
}

static int delay_main(void *arg)
{
	struct delay_ctx *c = arg;
	struct hz_simlink_config cfg = {.ports = 2,
					.delay_ns = 20 * HZ_NS_PER_MS};
	struct hz_net *p1;
	struct hz_view v;

	HARNESS_CHECK_EQ(hz_simlink_create(&cfg, &c->link), 0);
	p1 = hz_simlink_port(c->link, 1);
	HARNESS_CHECK_EQ(hz_net_read(p1, &v, 1), -HZ_EAGAIN);
	HARNESS_CHECK_EQ(hz_fiber_spawn("tx", delayed_sender, c, 0), 0);
	HARNESS_CHECK_EQ(hz_net_wait(p1, hz_now() + HZ_NS_PER_S), 0);
	c->got_at = hz_now();
	if (HARNESS_CHECK_EQ(hz_net_read(p1, &v, 1), 1)) {
		HARNESS_CHECK_EQ(v.len, FRAME_LEN);
		hz_view_release(&v);
	}
	/* Nothing more: a wait times out. */
	HARNESS_CHECK_EQ(hz_net_wait(p1, hz_now() + 5 * HZ_NS_PER_MS),
			 -HZ_ETIMEDOUT);
	hz_simlink_destroy(c->link);
	return 0;
}

static void delivers_after_delay_to_parked_reader(void **state)
{
	struct delay_ctx c = {0};

	(void)state;
	assert_int_equal(harness_run_fibers(delay_main, &c), 0);
	assert_true(c.got_at - c.sent_at >= 20 * HZ_NS_PER_MS);
	assert_true(c.got_at - c.sent_at < 200 * HZ_NS_PER_MS);
}

static int forwarding_main(void *arg)
{
	struct hz_simlink_config cfg = {.ports = 3};
	struct hz_simlink *l;
	struct hz_net *p[3];
	struct hz_simlink_stats st;

	(void)arg;
	HARNESS_CHECK_EQ(hz_simlink_create(&cfg, &l), 0);
	for (int i = 0; i < 3; i++)
		p[i] = hz_simlink_port(l, (unsigned)i);
	HARNESS_CHECK(memcmp(p[0]->mac.b, p[1]->mac.b, 6) != 0);
	HARNESS_CHECK_EQ(p[0]->mtu, 1500);
	send_frame(p[0], &p[2]->mac, 1); /* unicast: port 2 only */
	send_frame(p[1], &bcast, 2);	 /* broadcast: ports 0 and 2 */
	hz_sleep_ns(HZ_NS_PER_MS);
	HARNESS_CHECK_EQ(drain(p[0]), 1);
	HARNESS_CHECK_EQ(drain(p[1]), 0);
	HARNESS_CHECK_EQ(drain(p[2]), 2);
	hz_simlink_stats(l, &st);
	HARNESS_CHECK_EQ(st.written, 2);
	HARNESS_CHECK_EQ(st.delivered, 3);
	hz_simlink_destroy(l);
	return 0;
}

static void forwards_unicast_and_broadcast(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(forwarding_main, NULL), 0);
}

#define IMPAIR_FRAMES 20000

struct impair_ctx {
	uint64_t seed;
	struct hz_simlink_stats st;
	size_t received;
	uint32_t out_of_order;
	uint32_t damaged;
};

/* Reads what port 1 holds, checking order and payload. */
static void check_received(struct impair_ctx *c, struct hz_net *p1,
			   uint32_t *last)
{
	struct hz_view v[16];
	int n;

	while ((n = hz_net_read(p1, v, 16)) > 0) {
		for (int i = 0; i < n; i++) {
			const uint8_t *d = hz_view_data(&v[i]);
			uint32_t seq;
			bool clean = true;

			memcpy(&seq, d + 20, sizeof(seq));
			/* A flip in the sequence number cannot be seen. */
			for (size_t k = 14; k < FRAME_LEN; k++)
				clean &= (k >= 20 && k < 24) || d[k] == 0;
			c->damaged += !clean;
			c->out_of_order += seq < *last;
			*last = seq;
			c->received++;
			hz_view_release(&v[i]);
		}
	}
}

static int impair_main(void *arg)
{
	struct impair_ctx *c = arg;
	struct hz_simlink_config cfg = {.ports = 2,
					.loss_ppm = 50000,
					.dup_ppm = 10000,
					.reorder_ppm = 50000,
					.corrupt_ppm = 10000,
					.reorder_ns = 50 * 1000,
					.seed = c->seed,
					.max_in_flight = 4096,
					.rx_queue = 4096};
	struct hz_simlink *l;
	struct hz_net *p0, *p1;
	uint32_t last = 0;

	HARNESS_CHECK_EQ(hz_simlink_create(&cfg, &l), 0);
	p0 = hz_simlink_port(l, 0);
	p1 = hz_simlink_port(l, 1);
	for (uint32_t i = 1; i <= IMPAIR_FRAMES; i++) {
		send_frame(p0, &p1->mac, i);
		if (i % 100 == 0) {
			hz_sleep_ns(10 * 1000);
			check_received(c, p1, &last);
		}
	}
	hz_sleep_ns(2 * HZ_NS_PER_MS);
	check_received(c, p1, &last);
	hz_simlink_stats(l, &c->st);
	hz_simlink_destroy(l);
	return 0;
}

/* Whether @x is within 25% of @expect. */
static bool near(uint64_t x, uint64_t expect)
{
	return x * 4 >= expect * 3 && x * 4 <= expect * 5;
}

static void impairments_follow_rates_and_seed(void **state)
{
	struct impair_ctx a = {.seed = 1234}, b = {.seed = 1234};

	(void)state;
	assert_int_equal(harness_run_fibers(impair_main, &a), 0);
	assert_int_equal(a.st.written, IMPAIR_FRAMES);
	assert_true(near(a.st.lost, IMPAIR_FRAMES / 20));
	assert_true(near(a.st.duplicated, IMPAIR_FRAMES / 100));
	assert_true(near(a.st.corrupted, IMPAIR_FRAMES / 100));
	assert_true(a.st.reordered > IMPAIR_FRAMES / 40);
	assert_int_equal(a.st.drop_full + a.st.drop_rxq, 0);
	assert_int_equal(a.received, a.st.delivered);
	assert_int_equal(a.received,
			 IMPAIR_FRAMES - a.st.lost + a.st.duplicated);
	assert_true(a.damaged <= a.st.corrupted);
	assert_true(a.damaged * 10 >= a.st.corrupted * 8);
	assert_true(a.out_of_order > 0);
	/* The same seed decides the same fates. */
	assert_int_equal(harness_run_fibers(impair_main, &b), 0);
	assert_memory_equal(&a.st.lost, &b.st.lost,
			    sizeof(a.st) -
				offsetof(struct hz_simlink_stats, lost));
}

static int bounds_main(void *arg)
{
	struct hz_simlink_config cfg = {.ports = 2,
					.delay_ns = HZ_NS_PER_MS,
					.max_in_flight = 8,
					.rx_queue = 4};
	struct hz_simlink *l;
	struct hz_net *p1;
	struct hz_simlink_stats st;

	(void)arg;
	HARNESS_CHECK_EQ(hz_simlink_create(&cfg, &l), 0);
	p1 = hz_simlink_port(l, 1);
	for (uint32_t i = 0; i < 20; i++)
		send_frame(hz_simlink_port(l, 0), &p1->mac, i);
	hz_sleep_ns(5 * HZ_NS_PER_MS);
	hz_simlink_stats(l, &st);
	HARNESS_CHECK_EQ(st.drop_full, 12);
	HARNESS_CHECK_EQ(st.delivered, 4);
	HARNESS_CHECK_EQ(st.drop_rxq, 4);
	HARNESS_CHECK_EQ(drain(p1), 4);
	/* Frames still in flight or queued are freed with the link. */
	send_frame(hz_simlink_port(l, 0), &p1->mac, 99);
	hz_simlink_destroy(l);
	return 0;
}

static void bounds_frames_in_flight_and_queued(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(bounds_main, NULL), 0);
}

static void rejects_bad_config(void **state)
{
	struct hz_simlink_config cfg = {.ports = 1};
	struct hz_simlink *l;

	(void)state;
	assert_int_equal(hz_simlink_create(&cfg, &l), -HZ_EINVAL);
	cfg.ports = HZ_SIMLINK_MAX_PORTS + 1;
	assert_int_equal(hz_simlink_create(&cfg, &l), -HZ_EINVAL);
	cfg = (struct hz_simlink_config){.ports = 2, .loss_ppm = 2000000};
	assert_int_equal(hz_simlink_create(&cfg, &l), -HZ_EINVAL);
	cfg = (struct hz_simlink_config){.ports = 2};
	for (uint64_t n = 1;; n++) {
		int r;

		hz_mem_fail_nth(n);
		r = hz_simlink_create(&cfg, &l);
		hz_mem_fail_nth(0);
		if (r == 0) {
			hz_simlink_destroy(l);
			break;
		}
		assert_int_equal(r, -HZ_ENOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(delivers_after_delay_to_parked_reader),
	    HARNESS_TEST(forwards_unicast_and_broadcast),
	    HARNESS_TEST(impairments_follow_rates_and_seed),
	    HARNESS_TEST(bounds_frames_in_flight_and_queued),
	    HARNESS_TEST(rejects_bad_config),
	};

	return HARNESS_RUN("net_simlink", tests);
}
