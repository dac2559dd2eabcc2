/*
 * TCP reliable transfer over a hostile path: bulk data each way at once
 * with seeded loss, duplication, reordering and corruption, arriving
 * intact (every byte checked against the generator, and a checksum of
 * each stream compared). TCP_BULK_MIB sets the size, 64 MiB each way by
 * default: about 4-5 s for the hostile path under ASan.
 */
#include "tests/unit/certs.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "haze/log.h"
#include "haze/tls.h"
#include "tests/unit/test_tcp_sim.h"

/* Byte @i of a test stream seeded @seed. */
static uint8_t stream_byte(uint64_t seed, uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ull ^ seed;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (uint8_t)(x >> ((i & 7) * 8));
}

struct xfer {
	struct hz_flow *f;
	uint64_t seed, size, done;
	uint64_t sum; /* Fletcher-style checksum of the bytes */
	bool ok, finished;
	/* TLS: a close_notify ends both directions (TLS 1.2), so the
	 * writer does not shut down and the reader stops at size. */
	bool tls;
	const char *err;
};

static void sum_add(uint64_t *sum, const uint8_t *p, size_t n)
{
	uint64_t a = *sum & 0xffffffffu, b = *sum >> 32;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	*sum = b << 32 | a;
}

static void writer(void *arg)
{
	struct xfer *x = arg;
	static uint8_t bufs[2][16384];
	uint8_t *buf = bufs[x->seed & 1];

	x->ok = true;
	while (x->done < x->size) {
		size_t n =
		    x->size - x->done < 16384 ? x->size - x->done : 16384;
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(x->seed, x->done + i);
		w = hz_flow_write(x->f, buf, n, sim_in_ms(30000));
		if (w != (ssize_t)n) {
			x->ok = false;
			x->err = hz_flow_error(x->f);
			break;
		}
		sum_add(&x->sum, buf, n);
		x->done += n;
	}
	if (x->ok && !x->tls && hz_flow_shutdown(x->f) != 0)
		x->ok = false;
	x->finished = true;
}

static void reader(void *arg)
{
	struct xfer *x = arg;
	struct hz_view v;
	int n;

	x->ok = true;
	for (;;) {
		if (x->tls && x->done == x->size) {
			n = 0;
			break;
		}
		n = hz_flow_read(x->f, &v, sim_in_ms(30000));
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (hz_view_data(&v)[i] !=
			    stream_byte(x->seed, x->done + (uint64_t)i))
				x->ok = false;
		sum_add(&x->sum, hz_view_data(&v), (size_t)n);
		x->done += (uint64_t)n;
		hz_view_release(&v);
	}
	if (n < 0) {
		x->ok = false;
		x->err = hz_flow_error(x->f);
	}
	x->finished = true;
}

struct bulk_cfg {
	unsigned loss, dup, reorder, corrupt; /* per mille */
	unsigned strip;			      /* sim.strip_syn_opts */
	uint64_t mib;
	uint64_t seed;
	bool tls; /* TLS over the connection, records sealed in the ring */
};

/* Wraps the connection's two ends in a TLS client and server. */
static bool tls_wrap(struct hz_flow **client, struct hz_flow **server,
		     struct hz_tls_config *ccfg, struct hz_tls_config *scfg)
{
	struct hz_flow *c, *s;

	if (!HARNESS_CHECK(hz_tls_server(*server, scfg, &s) == 0))
		return false;
	*server = s;
	if (!HARNESS_CHECK(hz_tls_client(*client, ccfg, "localhost", &c) == 0))
		return false;
	*client = c;
	return true;
}

/* A TLS server configuration (the EC chain) or a client's (the CA). */
static struct hz_tls_config *tls_config(enum hz_tls_role role)
{
	struct hz_tls_config *cfg = NULL;
	struct pem a = pem_load(role == HZ_TLS_SERVER ? "ec.pem" : "ca.pem");
	struct pem k = pem_load("ec.key");

	if (HARNESS_CHECK(hz_tls_config_new(role, &cfg) == 0))
		HARNESS_CHECK(
		    role == HZ_TLS_SERVER
			? hz_tls_config_add_chain(cfg, a.data, a.len, k.data,
						  k.len) == 0
			: hz_tls_config_add_anchors(cfg, a.data, a.len) == 1);
	pem_drop(&a);
	pem_drop(&k);
	return cfg;
}

static struct hz_flow *accepted;
static bool accept_done;

static void accept_one(void *arg)
{
	struct hz_listener *l = arg;

	if (hz_tcp_accept_on(l, sim_in_ms(5000), &accepted) != 0)
		accepted = NULL;
	accept_done = true;
}

static int do_bulk(void *arg)
{
	const struct bulk_cfg *cfg = arg;
	struct sim s;
	struct hz_listener *l;
	struct hz_flow *a = NULL;
	struct hz_sockaddr la = {0, 9}, dst = {SIM_B, 9};
	struct xfer w[2], r[2];
	uint64_t size = cfg->mib << 20;
	struct hz_tls_config *ccfg = NULL, *scfg = NULL;
	uint64_t sealed = 0, engine = 0;
	size_t stack = cfg->tls ? 256u * 1024 : 0; /* TLS: the handshake */
	struct timespec t0, t1;

	if (getenv("TCP_BULK_LOG") != NULL) {
		const char *why;

		HARNESS_CHECK_EQ(hz_log_configure(getenv("TCP_BULK_LOG"), &why),
				 0);
	}
	sim_init(&s, cfg->seed);
	s.strip_syn_opts = cfg->strip;
	s.delay_ns = 50 * 1000; /* 50 µs one way */
	s.reorder_ns = 250 * 1000;
	HARNESS_CHECK_EQ(hz_tcp_listen_on(s.tcp[1], &la, 4, &l), 0);
	accepted = NULL;
	accept_done = false;
	HARNESS_CHECK_EQ(hz_fiber_spawn("accept", accept_one, l, 0), 0);
	HARNESS_CHECK_EQ(hz_tcp_connect_on(s.tcp[0], &dst, sim_in_ms(5000), &a),
			 0);
	while (!accept_done)
		hz_fiber_yield();
	if (!HARNESS_CHECK(accepted != NULL) || a == NULL) {
		if (a != NULL)
			hz_flow_free(a);
		if (accepted != NULL)
			hz_flow_free(accepted);
		hz_tcp_unlisten_on(l);
		sim_fini(&s);
		return -1;
	}
	if (cfg->tls) {
		ccfg = tls_config(HZ_TLS_CLIENT);
		scfg = tls_config(HZ_TLS_SERVER);
		if (!tls_wrap(&a, &accepted, ccfg, scfg)) {
			hz_flow_free(a);
			hz_flow_free(accepted);
			hz_tcp_unlisten_on(l);
			sim_fini(&s);
			return -1;
		}
		sealed = harness_counter("tls", "records_sealed_in_place");
		engine = harness_counter("tls", "records_sealed_by_engine");
	}
	s.loss = cfg->loss;
	s.dup = cfg->dup;
	s.reorder = cfg->reorder;
	s.corrupt = cfg->corrupt;

	memset(w, 0, sizeof(w));
	memset(r, 0, sizeof(r));
	w[0] = (struct xfer){.f = a, .seed = 11, .size = size, .tls = cfg->tls};
	r[0] = (struct xfer){
	    .f = accepted, .seed = 11, .size = size, .tls = cfg->tls};
	w[1] = (struct xfer){
	    .f = accepted, .seed = 22, .size = size, .tls = cfg->tls};
	r[1] = (struct xfer){.f = a, .seed = 22, .size = size, .tls = cfg->tls};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2; i++) {
		HARNESS_CHECK_EQ(hz_fiber_spawn("w", writer, &w[i], stack), 0);
		HARNESS_CHECK_EQ(hz_fiber_spawn("r", reader, &r[i], stack), 0);
	}
	while (
	    !(w[0].finished && w[1].finished && r[0].finished && r[1].finished))
		hz_sleep_ns(HZ_NS_PER_MS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# bulk %llu MiB each way%s, loss %u dup %u reorder %u corrupt "
	       "%u (per mille): %.2f s; path: %llu lost, %llu duplicated, "
	       "%llu reordered, %llu corrupted\n",
	       (unsigned long long)cfg->mib,
	       cfg->strip ? " (no SACK, timestamps or scaling)" : "", cfg->loss,
	       cfg->dup, cfg->reorder, cfg->corrupt,
	       (double)(t1.tv_sec - t0.tv_sec) +
		   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)s.lost, (unsigned long long)s.duped,
	       (unsigned long long)s.reordered,
	       (unsigned long long)s.corrupted);
	if (getenv("TCP_BULK_COUNTERS") != NULL)
		hz_counters_dump();
	for (int i = 0; i < 2; i++) {
		if (!w[i].ok || !r[i].ok)
			printf("# dir %d: writer %s, reader %s\n", i,
			       w[i].err ? w[i].err : "-",
			       r[i].err ? r[i].err : "-");
		HARNESS_CHECK(w[i].ok);
		HARNESS_CHECK(r[i].ok);
		HARNESS_CHECK_EQ(r[i].done, size);
		HARNESS_CHECK_EQ(r[i].sum, w[i].sum);
	}
	if (cfg->tls) { /* the records sealed where TCP sends them */
		sealed =
		    harness_counter("tls", "records_sealed_in_place") - sealed;
		engine =
		    harness_counter("tls", "records_sealed_by_engine") - engine;
		printf("# TLS records: %llu sealed in place, %llu by the "
		       "engine\n",
		       (unsigned long long)sealed, (unsigned long long)engine);
		HARNESS_CHECK(sealed >= size / 16384);
		HARNESS_CHECK(sealed > 10 * engine);
	}
	hz_flow_free(a);
	hz_flow_free(accepted);
	hz_tls_config_free(ccfg);
	hz_tls_config_free(scfg);
	hz_tcp_unlisten_on(l);
	sim_fini(&s);
	return 0;
}

static uint64_t bulk_mib(uint64_t dflt)
{
	const char *e = getenv("TCP_BULK_MIB");

	return e != NULL ? strtoull(e, NULL, 10) : dflt;
}

/* The seed of the path: TCP_BULK_SEED, or @dflt. */
static uint64_t bulk_seed(uint64_t dflt)
{
	const char *e = getenv("TCP_BULK_SEED");

	return e != NULL ? strtoull(e, NULL, 10) : dflt;
}

static void bulk_clean_path(void **state)
{
	struct bulk_cfg cfg = {.mib = bulk_mib(64), .seed = 1};

	(void)state;
	assert_int_equal(harness_run_fibers(do_bulk, &cfg), 0);
}

static void bulk_hostile_path(void **state)
{
	struct bulk_cfg cfg = {.loss = 50,
			       .dup = 10,
			       .reorder = 50,
			       .corrupt = 10,
			       .mib = bulk_mib(64),
			       .seed = bulk_seed(2)};

	(void)state;
	/* TCP_BULK_PATH=loss,dup,reorder,corrupt (per mille) overrides. */
	if (getenv("TCP_BULK_PATH") != NULL &&
	    sscanf(getenv("TCP_BULK_PATH"), "%u,%u,%u,%u", &cfg.loss, &cfg.dup,
		   &cfg.reorder, &cfg.corrupt) != 4)
		fail_msg("TCP_BULK_PATH: want four numbers");
	assert_int_equal(harness_run_fibers(do_bulk, &cfg), 0);
}

static void bulk_hostile_newreno(void **state)
{
	/* No SACK, timestamps or window scaling: NewReno recovery, RTT
	 * from timed segments, a 64 KiB window. */
	struct bulk_cfg cfg = {.loss = 50,
			       .dup = 10,
			       .reorder = 50,
			       .corrupt = 10,
			       .strip = 1u << 3 | 1u << 4 | 1u << 8,
			       .mib = bulk_mib(64) / 4,
			       .seed = bulk_seed(3)};

	(void)state;
	assert_int_equal(harness_run_fibers(do_bulk, &cfg), 0);
}

/*
 * TLS both ways over the hostile path: records sealed in TCP's send ring
 * are sent, lost and sent again from it, and every byte arrives intact.
 */
static void bulk_tls_hostile_path(void **state)
{
	struct bulk_cfg cfg = {.loss = 50,
			       .dup = 10,
			       .reorder = 50,
			       .corrupt = 10,
			       .mib = bulk_mib(64) / 8,
			       .seed = bulk_seed(4),
			       .tls = true};

	(void)state;
	assert_int_equal(harness_run_fibers(do_bulk, &cfg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(bulk_clean_path),
	    HARNESS_TEST(bulk_hostile_path),
	    HARNESS_TEST(bulk_hostile_newreno),
	    HARNESS_TEST(bulk_tls_hostile_path),
	};

	return CERTS_RUN("tcp_bulk", tests);
}
