/*
 * TCP connection state machine between two TCPs over the test path
 * simulator: active and passive open, every transition of the close
 * sequences, simultaneous open and close, RST in every state, TIME_WAIT
 * and its reuse, keepalive, RTO backoff, zero window and recovery, and a
 * SYN flood answered with cookies while an established connection works.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "haze/mem.h"
#include "tests/unit/test_tcp_sim.h"

/* --- helpers -------------------------------------------------------------- */

struct pair {
	struct sim sim;
	struct hz_listener *l;
	struct hz_flow *a, *b; /* a: A's connecting flow; b: B's accepted */
	int accept_rc;
	bool accepted;
	uint16_t lport; /* A's port */
};

static void accept_fiber(void *arg)
{
	struct pair *p = arg;

	p->accept_rc = hz_tcp_accept_on(p->l, sim_in_ms(2000), &p->b);
	p->accepted = true;
}

/*
 * Opens A -> B:80 with B listening; both flows established. Returns
 * false, the checks having said why, if either flow is missing.
 */
static bool pair_open_tuned(struct pair *p, uint64_t seed,
			    const struct hz_tcp_tuning *ta,
			    const struct hz_tcp_tuning *tb);

static bool pair_open(struct pair *p, uint64_t seed)
{
	return pair_open_tuned(p, seed, NULL, NULL);
}

/* As pair_open, A's and B's TCP tuned as @ta and @tb (NULL: as made). */
static bool pair_open_tuned(struct pair *p, uint64_t seed,
			    const struct hz_tcp_tuning *ta,
			    const struct hz_tcp_tuning *tb)
{
	struct hz_sockaddr la = {0, 80}, dst = {SIM_B, 80};

	memset(p, 0, sizeof(*p));
	sim_init(&p->sim, seed);
	if (ta != NULL)
		hz_tcp_tune(p->sim.tcp[0], ta);
	if (tb != NULL)
		hz_tcp_tune(p->sim.tcp[1], tb);
	HARNESS_CHECK_EQ(hz_tcp_listen_on(p->sim.tcp[1], &la, 8, &p->l), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_fiber, p, 0), 0);
	p->lport = (uint16_t)(40000 + seed);
	HARNESS_CHECK_EQ(hz_tcp_connect_port(p->sim.tcp[0], p->lport, &dst,
					     sim_in_ms(2000), &p->a),
			 0);
	while (!p->accepted)
		hz_fiber_yield();
	HARNESS_CHECK_EQ(p->accept_rc, 0);
	if (p->a == NULL || p->b == NULL)
		return false;
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p->a), "ESTABLISHED");
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p->b), "ESTABLISHED");
	return true;
}

static void pair_close(struct pair *p)
{
	if (p->a != NULL)
		hz_flow_free(p->a);
	if (p->b != NULL)
		hz_flow_free(p->b);
	if (p->l != NULL)
		hz_tcp_unlisten_on(p->l);
	sim_fini(&p->sim);
}

/* Ends a test that cannot go on (a check failed): frees what it holds. */
static int pair_abandon(struct pair *p)
{
	pair_close(p);
	return -1;
}

/* Waits up to @ms for flow @f to reach @state. */
static bool wait_state(struct hz_flow *f, const char *state, uint64_t ms)
{
	uint64_t end = sim_in_ms(ms);

	while (strcmp(hz_tcp_flow_state(f), state) != 0) {
		if (hz_now() > end)
			return false;
		sim_sleep_ms(1);
	}
	return true;
}

/* Runs @fn as the main fiber; asserts it returned 0. */
static void run(int (*fn)(void *), void *arg)
{
	HARNESS_CHECK_EQ(harness_run_fibers(fn, arg), 0);
}

/* --- open, data, close ---------------------------------------------------- */

static int do_open_echo_close(void *arg)
{
	struct pair p;
	char buf[64];
	ssize_t n;

	(void)arg;
	if (!pair_open(&p, 1))
		return pair_abandon(&p);
	n = hz_flow_write(p.a, "hello", 5, sim_in_ms(1000));
	HARNESS_CHECK_EQ(n, 5);
	n = hz_flow_read_copy(p.b, buf, sizeof(buf), sim_in_ms(1000));
	HARNESS_CHECK_EQ(n, 5);
	HARNESS_CHECK_MEM_EQ(buf, "hello", 5);
	n = hz_flow_write(p.b, "world!", 6, sim_in_ms(1000));
	HARNESS_CHECK_EQ(n, 6);
	n = hz_flow_read_copy(p.a, buf, sizeof(buf), sim_in_ms(1000));
	HARNESS_CHECK_EQ(n, 6);

	/* A closes first: FIN_WAIT_1 -> FIN_WAIT_2; B: CLOSE_WAIT. */
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.a), 0);
	HARNESS_CHECK(wait_state(p.a, "FIN_WAIT_2", 500));
	HARNESS_CHECK(wait_state(p.b, "CLOSE_WAIT", 500));
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(p.b, buf, sizeof(buf), sim_in_ms(500)), 0);
	/* B may still send after A's FIN. */
	HARNESS_CHECK_EQ(hz_flow_write(p.b, "late", 4, sim_in_ms(500)), 4);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(p.a, buf, sizeof(buf), sim_in_ms(500)), 4);
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.b), 0);
	/* B: LAST_ACK -> CLOSED; A: TIME_WAIT -> CLOSED after 2 MSL. */
	HARNESS_CHECK(wait_state(p.a, "TIME_WAIT", 500));
	HARNESS_CHECK(wait_state(p.b, "CLOSED", 500));
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(p.a, buf, sizeof(buf), sim_in_ms(500)), 0);
	HARNESS_CHECK(wait_state(p.a, "CLOSED", 500));
	/* Writes after shutdown fail with a message. */
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "x", 1, sim_in_ms(10)),
			 -HZ_ECLOSED);
	HARNESS_CHECK_STR_HAS(hz_flow_error(p.a), "shutdown");
	hz_flow_close(p.a);
	hz_flow_close(p.a); /* idempotent */
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "x", 1, sim_in_ms(10)),
			 -HZ_ECLOSED);
	pair_close(&p);
	return 0;
}

static void open_echo_close(void **state)
{
	(void)state;
	run(do_open_echo_close, NULL);
}

/* --- simultaneous open and close ------------------------------------------ */

struct side_open {
	struct hz_tcp *t;
	uint16_t lport;
	struct hz_sockaddr dst;
	struct hz_flow *f;
	int rc;
	bool done;
};

static void connect_fiber(void *arg)
{
	struct side_open *o = arg;

	o->rc = hz_tcp_connect_port(o->t, o->lport, &o->dst, sim_in_ms(2000),
				    &o->f);
	o->done = true;
}

static int do_simultaneous_open(void *arg)
{
	struct sim s;
	struct side_open a, b;
	char buf[8];

	(void)arg;
	sim_init(&s, 3);
	s.delay_ns = 10 * HZ_NS_PER_MS; /* the SYNs cross on the path */
	a = (struct side_open){s.tcp[0], 5000, {SIM_B, 6000}, NULL, 0, false};
	b = (struct side_open){s.tcp[1], 6000, {SIM_A, 5000}, NULL, 0, false};
	HARNESS_CHECK_EQ(hz_fiber_spawn("a", connect_fiber, &a, 0), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("b", connect_fiber, &b, 0), 0);
	while (!a.done || !b.done)
		sim_sleep_ms(1);
	HARNESS_CHECK_EQ(a.rc, 0);
	HARNESS_CHECK_EQ(b.rc, 0);
	if (a.f == NULL || b.f == NULL) {
		if (a.f != NULL)
			hz_flow_free(a.f);
		if (b.f != NULL)
			hz_flow_free(b.f);
		sim_fini(&s);
		return -1;
	}
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(a.f), "ESTABLISHED");
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(b.f), "ESTABLISHED");
	HARNESS_CHECK_EQ(hz_flow_write(a.f, "ab", 2, sim_in_ms(500)), 2);
	HARNESS_CHECK_EQ(hz_flow_read_copy(b.f, buf, 8, sim_in_ms(500)), 2);

	/* Simultaneous close: FIN_WAIT_1 -> CLOSING -> TIME_WAIT, both. */
	HARNESS_CHECK_EQ(hz_flow_shutdown(a.f), 0);
	HARNESS_CHECK_EQ(hz_flow_shutdown(b.f), 0);
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(a.f), "FIN_WAIT_1");
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(b.f), "FIN_WAIT_1");
	HARNESS_CHECK(wait_state(a.f, "CLOSING", 100));
	HARNESS_CHECK(wait_state(b.f, "CLOSING", 100));
	HARNESS_CHECK(wait_state(a.f, "TIME_WAIT", 100));
	HARNESS_CHECK(wait_state(b.f, "TIME_WAIT", 100));
	HARNESS_CHECK(wait_state(a.f, "CLOSED", 500));
	HARNESS_CHECK(wait_state(b.f, "CLOSED", 500));
	hz_flow_free(a.f);
	hz_flow_free(b.f);
	sim_fini(&s);
	return 0;
}

static void simultaneous_open_and_close(void **state)
{
	(void)state;
	run(do_simultaneous_open, NULL);
}

/* --- refused, reset, abort ------------------------------------------------ */

static int do_refused(void *arg)
{
	struct sim s;
	struct hz_sockaddr dst = {SIM_B, 81};
	struct hz_flow *f;

	(void)arg;
	sim_init(&s, 4);
	HARNESS_CHECK_EQ(hz_tcp_connect_on(s.tcp[0], &dst, sim_in_ms(500), &f),
			 -HZ_ECONNREFUSED);
	HARNESS_CHECK(f == NULL);
	HARNESS_CHECK_STR_HAS(hz_tcp_error(s.tcp[0]),
			      "connection refused in SYN_SENT");
	HARNESS_CHECK_EQ(hz_tcp_conn_count(s.tcp[0]), 0);
	sim_fini(&s);
	return 0;
}

static void connect_refused(void **state)
{
	(void)state;
	run(do_refused, NULL);
}

static int do_connect_timeout(void *arg)
{
	struct sim s;
	struct hz_sockaddr dst = {SIM_B, 80};
	struct hz_flow *f;

	(void)arg;
	sim_init(&s, 5);
	s.blackhole[0] = true;
	HARNESS_CHECK_EQ(hz_tcp_connect_on(s.tcp[0], &dst, sim_in_ms(100), &f),
			 -HZ_ETIMEDOUT);
	HARNESS_CHECK_EQ(hz_tcp_conn_count(s.tcp[0]), 0);
	sim_fini(&s);
	return 0;
}

static void connect_timeout(void **state)
{
	(void)state;
	run(do_connect_timeout, NULL);
}

static int do_abort(void *arg)
{
	struct pair p;
	char buf[8];

	(void)arg;
	if (!pair_open(&p, 6))
		return pair_abandon(&p);
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "unread", 6, sim_in_ms(500)), 6);
	sim_sleep_ms(20); /* B holds unread data: its close resets */
	hz_flow_close(p.b);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.a, buf, 8, sim_in_ms(500)),
			 -HZ_ECONNRESET);
	HARNESS_CHECK_STR_EQ(hz_flow_error(p.a),
			     "TCP 10.0.0.2:80: reset by peer in ESTABLISHED");
	/* Sticky. */
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "x", 1, sim_in_ms(10)),
			 -HZ_ECONNRESET);
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.a), -HZ_ECONNRESET);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, buf, 8, sim_in_ms(10)),
			 -HZ_ECLOSED);
	pair_close(&p);
	return 0;
}

static void abort_resets_peer(void **state)
{
	(void)state;
	run(do_abort, NULL);
}

/* --- TIME_WAIT ----------------------------------------------------------- */

static int do_time_wait_reuse(void *arg)
{
	struct pair p;
	struct hz_sockaddr dst = {SIM_B, 80};
	struct hz_flow *again = NULL;
	struct hz_counter *reused;
	uint64_t before;
	char buf[4];

	(void)arg;
	if (!pair_open(&p, 7))
		return pair_abandon(&p);
	/* B closes first, so B (the server) holds the TIME_WAIT. */
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.b), 0);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.a, buf, 4, sim_in_ms(500)), 0);
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.a), 0);
	HARNESS_CHECK(wait_state(p.b, "TIME_WAIT", 200));
	HARNESS_CHECK(wait_state(p.a, "CLOSED", 200));
	hz_flow_free(p.b);
	p.b = NULL;
	/* The same 4-tuple again, while B is in TIME_WAIT. */
	reused = hz_counter_find("tcp", "time_wait_reused");
	before = reused != NULL ? reused->value : 0;
	p.accepted = false;
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_fiber, &p, 0), 0);
	hz_flow_free(p.a);
	p.a = NULL;
	HARNESS_CHECK_EQ(hz_tcp_connect_port(p.sim.tcp[0], p.lport, &dst,
					     sim_in_ms(500), &again),
			 0);
	while (!p.accepted)
		hz_fiber_yield();
	HARNESS_CHECK_EQ(p.accept_rc, 0);
	if (again == NULL || p.b == NULL)
		return pair_abandon(&p);
	reused = hz_counter_find("tcp", "time_wait_reused");
	if (HARNESS_CHECK(reused != NULL))
		HARNESS_CHECK_EQ(reused->value, before + 1);
	HARNESS_CHECK_EQ(hz_flow_write(again, "ok", 2, sim_in_ms(500)), 2);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, buf, 4, sim_in_ms(500)), 2);
	hz_flow_free(again);
	pair_close(&p);
	return 0;
}

static void time_wait_reuse(void **state)
{
	(void)state;
	run(do_time_wait_reuse, NULL);
}

/*
 * A connection in TIME_WAIT keeps its record, not its send ring: a client
 * closing connections quickly must not fill TCP's memory with the rings
 * of finished connections for 2 MSL.
 */
static int do_time_wait_frees_ring(void *arg)
{
	static char data[64 * 1024], sink[16 * 1024];
	struct hz_mem_stats st;
	struct pair p;
	size_t got = 0, before;
	char buf[4];

	(void)arg;
	if (!pair_open(&p, 7))
		return pair_abandon(&p);
	HARNESS_CHECK_EQ(
	    hz_flow_write(p.a, data, sizeof(data), sim_in_ms(2000)),
	    (ssize_t)sizeof(data));
	while (got < sizeof(data)) {
		ssize_t n =
		    hz_flow_read_copy(p.b, sink, sizeof(sink), sim_in_ms(2000));
		if (!HARNESS_CHECK_GT(n, 0))
			break;
		got += (size_t)n;
	}
	/* A closes first, so A holds the TIME_WAIT. */
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.a), 0);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, buf, 4, sim_in_ms(500)), 0);
	HARNESS_CHECK(wait_state(p.a, "FIN_WAIT_2", 500));
	hz_mem_stats(&st);
	before = st.live_bytes;
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.b), 0);
	HARNESS_CHECK(wait_state(p.a, "TIME_WAIT", 500));
	hz_mem_stats(&st);
	/* At least the ring's first 16 KiB came back. */
	HARNESS_CHECK_GE(before - st.live_bytes, 16 * 1024);
	pair_close(&p);
	return 0;
}

static void time_wait_frees_ring(void **state)
{
	(void)state;
	run(do_time_wait_frees_ring, NULL);
}

/* --- timers: RTO backoff, keepalive --------------------------------------- */

struct rto_watch {
	uint64_t t[8];
	int n;
};

/* Drops A's data segments, noting when each was sent. */
static bool drop_a_data(struct sim *s, int from, hz_ipv4_t dst,
			const struct hz_view *v, void *arg)
{
	struct rto_watch *w = arg;

	(void)s;
	(void)dst;
	if (from != 0 || sim_payload_len(v) == 0)
		return true;
	if (w->n < 8)
		w->t[w->n++] = hz_now();
	return false;
}

static int do_rto_backoff(void *arg)
{
	struct pair p;
	struct rto_watch w = {0};
	uint64_t gap[6];

	(void)arg;
	if (!pair_open(&p, 8))
		return pair_abandon(&p);
	p.sim.filter = drop_a_data;
	p.sim.filter_arg = &w;
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "lost", 4, sim_in_ms(100)), 4);
	while (w.n < 6)
		sim_sleep_ms(5);
	/* The RTO is at its 20 ms floor here, then doubles each time.
	 * Timers never fire early; a loaded machine may make them late
	 * (one fired 70 ms late in a run beside fuzzers), but each is armed
	 * from when the previous one fired, so lateness does not add up.
	 * The bound above still catches a doubling too many from the
	 * fourth retransmission on (160 + 150 < 320). */
	for (int i = 0; i < 5; i++) {
		uint64_t want = 20u << i;

		gap[i] = (w.t[i + 1] - w.t[i]) / HZ_NS_PER_MS;
		printf("# retransmission %d after %llu ms (RTO %llu ms)\n",
		       i + 1, (unsigned long long)gap[i],
		       (unsigned long long)want);
		HARNESS_CHECK_GE(gap[i], want - 1);
		HARNESS_CHECK_LE(gap[i], want + 150);
	}
	p.sim.filter = NULL;
	pair_close(&p);
	return 0;
}

static void rto_backoff(void **state)
{
	(void)state;
	run(do_rto_backoff, NULL);
}

static int do_keepalive(void *arg)
{
	struct pair p;
	char buf[4];
	uint64_t probes = sim_counter("keepalive_probes");

	(void)arg;
	if (!pair_open(&p, 9))
		return pair_abandon(&p);
	/* 5 units of 10 ms idle, then probes every 10 ms, 3 unanswered. */
	HARNESS_CHECK_EQ(hz_tcp_set_on(p.a, HZ_TCP_KEEPALIVE, 5), 0);
	HARNESS_CHECK_EQ(hz_tcp_set_on(p.a, HZ_TCP_KEEPALIVE, -1), -HZ_EINVAL);
	sim_sleep_ms(300);
	HARNESS_CHECK_GE(sim_counter("keepalive_probes"), probes + 3);
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p.a), "ESTABLISHED");
	/* The peer goes silent: the probes go unanswered. */
	p.sim.blackhole[1] = true;
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.a, buf, 4, sim_in_ms(1000)),
			 -HZ_ECONNABORTED);
	HARNESS_CHECK_STR_EQ(hz_flow_error(p.a),
			     "TCP 10.0.0.2:80: keepalive timed out in "
			     "ESTABLISHED");
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p.a), "CLOSED");
	p.sim.blackhole[1] = false;
	pair_close(&p);
	return 0;
}

static void keepalive(void **state)
{
	(void)state;
	run(do_keepalive, NULL);
}

/* --- zero window ---------------------------------------------------------- */

struct zw {
	struct hz_flow *f;
	size_t size;
	bool done;
	ssize_t rc;
	unsigned zero_windows;
};

/* Byte @i of the zero-window tests' stream. */
static uint8_t zw_byte(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void zw_writer(void *arg)
{
	struct zw *z = arg;
	static uint8_t buf[400000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = zw_byte(i);
	z->rc = hz_flow_write(z->f, buf, z->size, sim_in_ms(5000));
	z->done = true;
}

/*
 * Reads @size bytes of the zero-window stream from @f, checking each
 * (@nap: a 1 ms nap now and then, a slow reader); how many came.
 */
static size_t zw_read(struct hz_flow *f, size_t size, bool nap)
{
	uint8_t buf[4096];
	size_t got = 0;

	while (got < size) {
		ssize_t n =
		    hz_flow_read_copy(f, buf, sizeof(buf), sim_in_ms(2000));

		if (!HARNESS_CHECK_GT(n, 0))
			break;
		for (ssize_t i = 0; i < n; i++)
			HARNESS_CHECK_EQ(buf[i], zw_byte(got + (size_t)i));
		got += (size_t)n;
		if (nap && got % 7 == 0)
			sim_sleep_ms(1);
	}
	return got;
}

static bool count_zero_windows(struct sim *s, int from, hz_ipv4_t dst,
			       const struct hz_view *v, void *arg)
{
	struct zw *z = arg;

	(void)s;
	(void)dst;
	if (from == 1 && hz_get16(hz_view_data(v) + 14) == 0)
		z->zero_windows++;
	return true;
}

/*
 * With a deadline, a write that meets a shut window takes what fits and
 * returns short (a partial write); exactly those bytes arrive.
 */
static void check_partial_write(struct pair *p)
{
	static uint8_t big[400000];
	uint8_t buf[4096];
	ssize_t w, n;
	size_t got = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = zw_byte(i);
	w = hz_flow_write(p->a, big, sizeof(big), sim_in_ms(300));
	HARNESS_CHECK_GT(w, 0);
	HARNESS_CHECK_LT(w, (ssize_t)sizeof(big));
	while (got < (size_t)w) {
		n = hz_flow_read_copy(p->b, buf, sizeof(buf), sim_in_ms(2000));
		HARNESS_CHECK_GT(n, 0);
		for (ssize_t i = 0; i < n; i++)
			HARNESS_CHECK_EQ(buf[i], zw_byte(got + (size_t)i));
		got += (size_t)n;
	}
	HARNESS_CHECK_EQ(got, (size_t)w);
	n = hz_flow_read_copy(p->b, buf, sizeof(buf), sim_in_ms(300));
	HARNESS_CHECK_EQ(n, -HZ_ETIMEDOUT);

	/* Bytes a copying read left over die with close. */
	HARNESS_CHECK_EQ(hz_flow_write(p->a, big, 10, sim_in_ms(300)), 10);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p->b, buf, 4, sim_in_ms(2000)), 4);
	hz_flow_close(p->b);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p->b, buf, 4, sim_in_ms(300)),
			 -HZ_ECLOSED);
}

static int do_zero_window(void *arg)
{
	struct pair p;
	struct hz_tcp_tuning tu;
	struct zw z = {.size = 400000};
	uint64_t probes = sim_counter("persist_probes");
	size_t got;

	(void)arg;
	/* B's window: 16 KiB, so it fills at once. */
	sim_fast_tuning(&tu);
	tu.rcvbuf = 16384;
	if (!pair_open_tuned(&p, 10, NULL, &tu))
		return pair_abandon(&p);
	p.sim.filter = count_zero_windows;
	p.sim.filter_arg = &z;
	z.f = p.a;
	HARNESS_CHECK_EQ(hz_fiber_spawn("writer", zw_writer, &z, 0), 0);
	sim_sleep_ms(400);
	HARNESS_CHECK(!z.done);
	HARNESS_CHECK_GT(z.zero_windows, 0);
	HARNESS_CHECK_GT(sim_counter("persist_probes"), probes);
	/* The application reads: the window opens, the transfer ends. */
	got = zw_read(p.b, z.size, false);
	while (!z.done && got == z.size)
		sim_sleep_ms(1);
	HARNESS_CHECK_EQ(z.rc, (ssize_t)z.size);
	p.sim.filter = NULL;
	check_partial_write(&p);
	pair_close(&p);
	return 0;
}

static void zero_window(void **state)
{
	(void)state;
	run(do_zero_window, NULL);
}

/*
 * A connection the application closed with data unsent, whose peer keeps
 * its window shut (answering every probe): reset after orphan_probes
 * probes, not kept for ever with its send buffer.
 */
static int do_orphan_zero_window(void *arg)
{
	struct pair p;
	struct hz_tcp_tuning ta, tb;
	static uint8_t big[100000];
	uint64_t aborted = sim_counter("orphans_window_shut_aborted");
	uint64_t probes = sim_counter("persist_probes");
	ssize_t w;

	(void)arg;
	sim_fast_tuning(&ta);
	ta.orphan_probes = 2;
	sim_fast_tuning(&tb);
	tb.rcvbuf = 16384; /* B's window fills at once; B never reads */
	if (!pair_open_tuned(&p, 11, &ta, &tb))
		return pair_abandon(&p);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = zw_byte(i);
	w = hz_flow_write(p.a, big, sizeof(big), sim_in_ms(300));
	HARNESS_CHECK_GT(w, 16384);
	/* A's application goes: its FIN waits behind the unsent data. */
	hz_flow_free(p.a);
	p.a = NULL;
	sim_sleep_ms(100);
	HARNESS_CHECK_EQ(sim_counter("orphans_window_shut_aborted"), aborted);
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p.b), "ESTABLISHED");
	/* Probes at 200 ms, 200 ms and more, each answered: then the
	 * reset. */
	HARNESS_CHECK(wait_state(p.b, "CLOSED", 5000));
	HARNESS_CHECK_EQ(sim_counter("orphans_window_shut_aborted"),
			 aborted + 1);
	HARNESS_CHECK_GE(sim_counter("persist_probes") - probes, 2);
	pair_close(&p);
	return 0;
}

static void orphan_zero_window(void **state)
{
	(void)state;
	run(do_orphan_zero_window, NULL);
}

/*
 * hz_flow_abort with data unsent (the peer's window shut): a reset at
 * once, the peer's flow ended by it, later calls -HZ_ECLOSED; where
 * hz_flow_close would have waited for the peer to read it all.
 */
static int do_abort_unsent(void *arg)
{
	struct pair p;
	struct hz_tcp_tuning tb;
	static uint8_t big[100000];
	uint64_t aborted = sim_counter("aborted_by_application");
	struct hz_mem_stats before, after;
	uint8_t c;

	(void)arg;
	sim_fast_tuning(&tb);
	tb.rcvbuf = 16384;
	if (!pair_open_tuned(&p, 12, NULL, &tb))
		return pair_abandon(&p);
	HARNESS_CHECK_GT(hz_flow_write(p.a, big, sizeof(big), sim_in_ms(100)),
			 16384);
	hz_mem_stats(&before);
	hz_flow_abort(p.a);
	hz_mem_stats(&after);
	/* The send ring (64 KiB or more, most of it unsent) is freed at
	 * once, not when the flow is. */
	HARNESS_CHECK_GE(after.free_pages, before.free_pages + 16);
	HARNESS_CHECK_EQ(sim_counter("aborted_by_application"), aborted + 1);
	HARNESS_CHECK_STR_EQ(hz_tcp_flow_state(p.a), "CLOSED");
	HARNESS_CHECK_EQ(hz_flow_write(p.a, big, 1, sim_in_ms(10)),
			 -HZ_ECLOSED);
	/* B: what came before the reset, then the reset. */
	HARNESS_CHECK(wait_state(p.b, "CLOSED", 500));
	while (hz_flow_read_copy(p.b, &c, 1, sim_in_ms(100)) > 0)
		;
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, &c, 1, sim_in_ms(100)),
			 -HZ_ECONNRESET);
	hz_flow_abort(p.a); /* again: nothing more */
	HARNESS_CHECK_EQ(sim_counter("aborted_by_application"), aborted + 1);
	pair_close(&p);
	return 0;
}

static void abort_unsent(void **state)
{
	(void)state;
	run(do_abort_unsent, NULL);
}

/* --- the send ring lent to a writer that builds in place ------------------ */

/* The lending writer: size bytes of the zero-window stream, each piece
 * built where the ring lends room, asking for min bytes at a time, each
 * reservation given wait_ms. */
struct lender {
	struct hz_flow *f;
	size_t size, done, min;
	uint64_t wait_ms;
	unsigned lent;		/* rooms lent */
	unsigned short_rooms;	/* rooms less than asked: the ring wrapped */
	size_t cap;		/* if not 0: the ring's size, and */
	unsigned partial_rooms; /* rooms lent less than it (not empty) */
	ssize_t rc;
	bool finished;
};

static void lending_writer(void *arg)
{
	struct lender *l = arg;

	l->rc = 0;
	while (l->done < l->size) {
		uint8_t *buf;
		size_t want =
		    l->size - l->done < l->min ? l->size - l->done : l->min;
		ssize_t room =
		    hz_flow_reserve(l->f, want, &buf, sim_in_ms(l->wait_ms));

		if (room <= 0) {
			l->rc = room < 0 ? room : -HZ_EINVAL;
			break;
		}
		l->lent++;
		if ((size_t)room < want)
			l->short_rooms++;
		if ((size_t)room < l->cap)
			l->partial_rooms++;
		if ((size_t)room > want)
			room = (ssize_t)want;
		for (ssize_t i = 0; i < room; i++)
			buf[i] = zw_byte(l->done + (size_t)i);
		hz_flow_commit(l->f, (size_t)room);
		l->done += (size_t)room;
	}
	l->finished = true;
}

/* Runs @l from A in a fiber of its own while B reads the stream (@nap:
 * slowly); checks every byte was lent, sent and read. */
static void lend_stream(struct pair *p, struct lender *l, bool nap)
{
	l->f = p->a;
	HARNESS_CHECK_EQ(hz_fiber_spawn("lender", lending_writer, l, 0), 0);
	HARNESS_CHECK_EQ(zw_read(p->b, l->size, nap), l->size);
	while (!l->finished)
		sim_sleep_ms(1);
	HARNESS_CHECK_EQ(l->rc, 0);
	HARNESS_CHECK_EQ(l->done, l->size);
}

static int do_send_ring_lends(void *arg)
{
	struct pair p;
	struct lender l = {.size = 300000, .min = 5000, .wait_ms = 5000};
	uint8_t buf[4096], *room;
	ssize_t n;

	(void)arg;
	if (!pair_open(&p, 12))
		return pair_abandon(&p);
	/* A first piece: the empty ring (16 KiB at first) lends all of
	 * itself. */
	n = hz_flow_reserve(p.a, 100, &room, sim_in_ms(1000));
	HARNESS_CHECK_EQ(n, 16384);
	if (n < 100)
		return pair_abandon(&p);
	memcpy(room, "lent", 4);
	hz_flow_commit(p.a, 4);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(p.b, buf, sizeof(buf), sim_in_ms(1000)), 4);
	HARNESS_CHECK_MEM_EQ(buf, "lent", 4);
	/* Room lent back unused sends nothing. */
	HARNESS_CHECK_GE(hz_flow_reserve(p.a, 1, &room, sim_in_ms(1000)), 1);
	hz_flow_commit(p.a, 0);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(p.b, buf, sizeof(buf), sim_in_ms(100)),
	    -HZ_ETIMEDOUT);
	/* Its 4 bytes acknowledged, the ring starts again at its base and
	 * lends all of itself; asked for more than it holds, it grows. */
	HARNESS_CHECK_EQ(hz_flow_reserve(p.a, 100, &room, sim_in_ms(1000)),
			 16384);
	hz_flow_commit(p.a, 0);
	HARNESS_CHECK_GE(hz_flow_reserve(p.a, 20000, &room, sim_in_ms(1000)),
			 20000);
	hz_flow_commit(p.a, 0);

	/* A stream built in place, read slowly: the ring fills, wraps and
	 * grows; every byte arrives in order. */
	lend_stream(&p, &l, true);
	HARNESS_CHECK_GT(l.short_rooms, 0);

	/* No reader: the window and then the ring fill, and a reservation
	 * meets its deadline. */
	l = (struct lender){
	    .f = p.a, .size = 8u << 20, .min = 16384, .wait_ms = 300};
	lending_writer(&l);
	HARNESS_CHECK_EQ(l.rc, -HZ_ETIMEDOUT);
	HARNESS_CHECK_GT(l.done, 0);

	/* After shutdown, nothing is lent. */
	HARNESS_CHECK_EQ(hz_flow_shutdown(p.a), 0);
	HARNESS_CHECK_EQ(hz_flow_reserve(p.a, 1, &room, sim_in_ms(100)),
			 -HZ_ECLOSED);
	HARNESS_CHECK(strstr(hz_flow_error(p.a), "write after shutdown") !=
		      NULL);
	pair_close(&p);
	return 0;
}

/* A small send buffer: a reservation asks at most half of it. */
static int do_send_ring_small(void *arg)
{
	struct pair p;
	struct hz_tcp_tuning tu;
	struct lender l = {
	    .size = 200000, .min = 16413, .wait_ms = 5000, .cap = 8192};
	uint8_t *room;

	(void)arg;
	if (!pair_open(&p, 13))
		return pair_abandon(&p);
	sim_fast_tuning(&tu);
	tu.sndbuf = 8192;
	hz_tcp_tune(p.sim.tcp[0], &tu);
	/* More than the buffer holds: the empty ring lends all of it. */
	HARNESS_CHECK_EQ(hz_flow_reserve(p.a, 16413, &room, sim_in_ms(1000)),
			 8192);
	hz_flow_commit(p.a, 0);
	/* A stream asking 16,413 bytes a time gets 4 KiB and more as ACKs
	 * come, never waiting for the whole ring to drain. */
	lend_stream(&p, &l, false);
	/* Most rooms came with data still in flight (47 of 47 here; a
	 * reservation that waited for the ring to drain gets 1 of 24). */
	printf("# 8 KiB send buffer: %u of %u rooms lent with data in "
	       "flight\n",
	       l.partial_rooms, l.lent);
	HARNESS_CHECK_GE(l.partial_rooms, 10);
	pair_close(&p);
	return 0;
}

/*
 * A writer that builds its bytes in the send ring (hz_flow_reserve, as
 * TLS seals records there) sends them as a write would: in order, the
 * ring wrapping (room short of what was asked) and growing; a full ring
 * keeps it waiting to its deadline; after shutdown nothing is lent.
 */
static void send_ring_lends_room(void **state)
{
	(void)state;
	run(do_send_ring_lends, NULL);
	run(do_send_ring_small, NULL);
}

/* --- SYN flood ------------------------------------------------------------ */

/* Drops what B sends to the flood's forged addresses. */
static bool drop_to_forged(struct sim *s, int from, hz_ipv4_t dst,
			   const struct hz_view *v, void *arg)
{
	(void)s;
	(void)v;
	(void)arg;
	return !(from == 1 && dst != SIM_A);
}

static int do_syn_flood(void *arg)
{
	struct pair p;
	struct hz_sockaddr dst = {SIM_B, 80};
	struct hz_flow *late = NULL;
	uint64_t cookies = sim_counter("syncookies_sent");
	uint64_t accepted = sim_counter("syncookies_accepted");
	uint8_t opt[4] = {2, 4, 0x05, 0xb4};
	char buf[16];

	(void)arg;
	if (!pair_open(&p, 11))
		return pair_abandon(&p);
	p.sim.filter = drop_to_forged;
	for (uint32_t i = 0; i < 3000; i++) {
		struct sim_seg g = {.src = HZ_IPV4(10, 9, 0, 0) + i,
				    .dst = SIM_B,
				    .sport = (uint16_t)(1024 + i),
				    .dport = 80,
				    .seq = i * 7919u,
				    .flags = 0x02,
				    .wnd = 65535,
				    .opts = opt,
				    .olen = 4};

		sim_inject(p.sim.tcp[1], &g);
		if (i % 100 == 0) {
			/* The established connection keeps working. */
			HARNESS_CHECK_EQ(
			    hz_flow_write(p.a, "ping", 4, sim_in_ms(500)), 4);
			HARNESS_CHECK_EQ(
			    hz_flow_read_copy(p.b, buf, 16, sim_in_ms(500)), 4);
		}
	}
	HARNESS_CHECK_GE(sim_counter("syncookies_sent"), cookies + 3000 - 8);
	/* Backlog 8: the flood holds at most 8 embryonic connections. */
	HARNESS_CHECK_LE(hz_tcp_conn_count(p.sim.tcp[1]), 1 + 8);
	/* A new client still gets in, through a cookie. */
	p.accepted = false;
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_fiber, &p, 0), 0);
	hz_flow_free(p.b);
	p.b = NULL;
	HARNESS_CHECK_EQ(hz_tcp_connect_port(p.sim.tcp[0], 45000, &dst,
					     sim_in_ms(1000), &late),
			 0);
	while (!p.accepted)
		hz_fiber_yield();
	HARNESS_CHECK_EQ(p.accept_rc, 0);
	if (late == NULL || p.b == NULL)
		return pair_abandon(&p);
	HARNESS_CHECK_EQ(sim_counter("syncookies_accepted"), accepted + 1);
	HARNESS_CHECK_EQ(hz_flow_write(late, "cookie", 6, sim_in_ms(500)), 6);
	HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, buf, 16, sim_in_ms(500)), 6);
	HARNESS_CHECK_EQ(hz_flow_write(p.b, "back", 4, sim_in_ms(500)), 4);
	HARNESS_CHECK_EQ(hz_flow_read_copy(late, buf, 16, sim_in_ms(500)), 4);
	hz_flow_free(late);
	p.sim.filter = NULL;
	pair_close(&p);
	return 0;
}

static void syn_flood_cookies(void **state)
{
	(void)state;
	run(do_syn_flood, NULL);
}

/* --- lost handshake segments ---------------------------------------------- */

struct syn_loss {
	int syns, synacks; /* how many more to drop */
};

static bool drop_handshake(struct sim *s, int from, hz_ipv4_t dst,
			   const struct hz_view *v, void *arg)
{
	struct syn_loss *l = arg;
	uint8_t f = sim_flags(v);

	(void)s;
	(void)dst;
	if (from == 0 && f == 0x02 && l->syns > 0) {
		l->syns--;
		return false;
	}
	if (from == 1 && f == 0x12 && l->synacks > 0) {
		l->synacks--;
		return false;
	}
	return true;
}

static int do_lost_handshake(void *arg)
{
	struct pair p;
	struct syn_loss loss = {2, 2};
	struct hz_sockaddr la = {0, 80}, dst = {SIM_B, 80};
	uint64_t t0;

	(void)arg;
	memset(&p, 0, sizeof(p));
	sim_init(&p.sim, 13);
	p.sim.filter = drop_handshake;
	p.sim.filter_arg = &loss;
	HARNESS_CHECK_EQ(hz_tcp_listen_on(p.sim.tcp[1], &la, 8, &p.l), 0);
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_fiber, &p, 0), 0);
	t0 = hz_now();
	/* Two SYNs lost (RTO 50, 100 ms), then two SYN-ACKs: B resends
	 * its SYN-ACK on its own timer and on A's repeated SYNs. */
	HARNESS_CHECK_EQ(
	    hz_tcp_connect_on(p.sim.tcp[0], &dst, sim_in_ms(3000), &p.a), 0);
	HARNESS_CHECK_GE(hz_now() - t0, 150 * HZ_NS_PER_MS);
	while (!p.accepted)
		hz_fiber_yield();
	HARNESS_CHECK_EQ(p.accept_rc, 0);
	if (p.a == NULL || p.b == NULL)
		return pair_abandon(&p);
	HARNESS_CHECK_EQ(loss.syns, 0);
	HARNESS_CHECK_EQ(loss.synacks, 0);
	HARNESS_CHECK_EQ(hz_flow_write(p.a, "x", 1, sim_in_ms(500)), 1);
	{
		char c;

		HARNESS_CHECK_EQ(hz_flow_read_copy(p.b, &c, 1, sim_in_ms(500)),
				 1);
	}
	p.sim.filter = NULL;
	pair_close(&p);
	return 0;
}

static void lost_syn_and_syn_ack(void **state)
{
	(void)state;
	run(do_lost_handshake, NULL);
}

/* --- unlisten while accept waits ---------------------------------------- */

static int do_unlisten_wakes_accept(void *arg)
{
	struct pair p;
	struct hz_sockaddr la = {0, 99};
	struct hz_listener *dup;

	(void)arg;
	memset(&p, 0, sizeof(p));
	sim_init(&p.sim, 12);
	HARNESS_CHECK_EQ(hz_tcp_listen_on(p.sim.tcp[1], &la, 1, &p.l), 0);
	HARNESS_CHECK_EQ(hz_tcp_listen_on(p.sim.tcp[1], &la, 1, &dup),
			 -HZ_EEXIST);
	HARNESS_CHECK(dup == NULL);
	HARNESS_CHECK_STR_HAS(hz_tcp_error(p.sim.tcp[1]), "in use");
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_fiber, &p, 0), 0);
	hz_fiber_yield();
	HARNESS_CHECK(!p.accepted);
	hz_tcp_unlisten_on(p.l);
	p.l = NULL;
	while (!p.accepted)
		hz_fiber_yield();
	HARNESS_CHECK_EQ(p.accept_rc, -HZ_ECLOSED);
	pair_close(&p);
	return 0;
}

static void unlisten_wakes_accept(void **state)
{
	(void)state;
	run(do_unlisten_wakes_accept, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(open_echo_close),
	    HARNESS_TEST(simultaneous_open_and_close),
	    HARNESS_TEST(connect_refused),
	    HARNESS_TEST(connect_timeout),
	    HARNESS_TEST(abort_resets_peer),
	    HARNESS_TEST(time_wait_reuse),
	    HARNESS_TEST(time_wait_frees_ring),
	    HARNESS_TEST(rto_backoff),
	    HARNESS_TEST(keepalive),
	    HARNESS_TEST(zero_window),
	    HARNESS_TEST(orphan_zero_window),
	    HARNESS_TEST(abort_unsent),
	    HARNESS_TEST(send_ring_lends_room),
	    HARNESS_TEST(syn_flood_cookies),
	    HARNESS_TEST(unlisten_wakes_accept),
	    HARNESS_TEST(lost_syn_and_syn_ack),
	};

	return HARNESS_RUN("tcp_state", tests);
}
