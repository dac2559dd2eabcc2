/*
 * The TLS flow, server and client against each other in two fibers over
 * an in-process pipe FLOW pair: handshake, bulk data both ways intact,
 * ALPN and SNI (a chain picked by name), close_notify; an expired
 * certificate, a wrong host name and an untrusted issuer each refused
 * with a message naming the reason; a
 * reset of the lower flow surfacing as -HZ_ECONNRESET naming both layers;
 * handshake timeouts; PEM refusals; no entropy; allocation failures.
 * After the handshake the flow reads records itself: data intact however
 * the lower flow cuts them, decrypted in place when a record arrives
 * whole; a tampered record and a bad header end the session, named; a
 * record buffer refused is a read's -HZ_ENOMEM, and the next read goes on.
 *
 * Certificates are made fresh by tests/tls/mkcerts.sh (openssl) in a
 * temporary directory when the suite starts.
 */
#include "tests/unit/certs.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "haze/entropy.h"
#include "haze/flow.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/tls.h"
#include "src/entropy/entropy_int.h"
#include "src/tls/tls_int.h"

/* --- certificates --------------------------------------------------------- */

/* A server configuration with chain NAME.pem / NAME.key (and @more). */
static struct hz_tls_config *server_config(const char *name, const char *more)
{
	struct hz_tls_config *cfg;
	const char *names[2] = {name, more};

	assert_int_equal(hz_tls_config_new(HZ_TLS_SERVER, &cfg), 0);
	for (int i = 0; i < 2 && names[i] != NULL; i++) {
		char cert[64], key[64];
		struct pem c, k;

		snprintf(cert, sizeof(cert), "%s.pem", names[i]);
		snprintf(key, sizeof(key), "%s.key", names[i]);
		c = pem_load(cert);
		k = pem_load(key);
		if (hz_tls_config_add_chain(cfg, c.data, c.len, k.data, k.len))
			fail_msg("%s", hz_tls_config_error(cfg));
		pem_drop(&c);
		pem_drop(&k);
	}
	return cfg;
}

/* A client configuration trusting ca.pem. */
static struct hz_tls_config *client_config(void)
{
	struct hz_tls_config *cfg;
	struct pem ca = pem_load("ca.pem");

	assert_int_equal(hz_tls_config_new(HZ_TLS_CLIENT, &cfg), 0);
	assert_int_equal(hz_tls_config_add_anchors(cfg, ca.data, ca.len), 1);
	pem_drop(&ca);
	return cfg;
}

/* --- a pipe: two FLOWs joined in memory ----------------------------------- */

#define PIPE_CAP (64u * 1024)

struct pipe_dir {
	uint8_t buf[PIPE_CAP];
	size_t head, len;
	uint64_t written; /* bytes ever written */
	uint64_t flip_at; /* if not 0: byte flip_at - 1 arrives inverted */
	bool shut;	  /* the writer shut down: EOF after the data */
	struct hz_waitq readers; /* wait for data */
	struct hz_waitq writers; /* wait for room */
};

struct pipe;

struct pipe_end {
	struct hz_flow flow;
	struct pipe *p;
	struct pipe_dir *in, *out;
	const struct hz_pbuf *last_pb; /* of the last read (not a reference) */
	bool closed;
	struct hz_errmsg err;
};

struct pipe {
	struct pipe_dir dir[2];
	struct pipe_end end[2];
	bool reset;
	size_t chunk; /* most bytes a read gives; 0: 4096 */
	int ends_alive;
	unsigned partial_writes; /* writes cut short by their deadline */
	unsigned lent;		 /* rooms lent by hz_flow_reserve */
	size_t lent_room;	 /* the last one's bytes, until commit */
};

static int pipe_check(struct pipe_end *e)
{
	if (e->closed)
		return -HZ_ECLOSED;
	if (e->p->reset)
		return hz_errmsg_set(&e->err, -HZ_ECONNRESET,
				     "TCP 10.0.0.2:443: reset by peer in "
				     "ESTABLISHED");
	return 0;
}

static int pipe_read(struct hz_flow *f, struct hz_view *out, uint64_t deadline)
{
	struct pipe_end *e = (struct pipe_end *)f;
	struct pipe_dir *d = e->in;
	size_t n, first;
	int r;

	*out = (struct hz_view){0};
	for (;;) {
		r = pipe_check(e);
		if (r < 0)
			return r;
		if (d->len > 0)
			break;
		if (d->shut)
			return 0;
		r = hz_waitq_wait(&d->readers, deadline);
		if (r < 0)
			return r;
	}
	n = e->p->chunk != 0 ? e->p->chunk : 4096;
	n = d->len < n ? d->len : n;
	r = hz_pbuf_alloc(NULL, n, out);
	if (r < 0)
		return r;
	e->last_pb = out->pb;
	first = PIPE_CAP - d->head < n ? PIPE_CAP - d->head : n;
	memcpy(hz_view_data(out), d->buf + d->head, first);
	memcpy(hz_view_data(out) + first, d->buf, n - first);
	d->head = (d->head + n) % PIPE_CAP;
	d->len -= n;
	hz_waitq_wake_all(&d->writers);
	return (int)n;
}

/* Takes in the @k bytes just put after @d's data (inverting the byte
 * flip_at names, if among them) and wakes the readers. */
static void pipe_landed(struct pipe_dir *d, size_t k)
{
	if (d->flip_at > d->written && d->flip_at <= d->written + k)
		d->buf[(d->head + d->len + (d->flip_at - d->written - 1)) %
		       PIPE_CAP] ^= 0xff;
	d->written += k;
	d->len += k;
	if (k > 0)
		hz_waitq_wake_all(&d->readers);
}

static ssize_t pipe_writev(struct hz_flow *f, const struct hz_iov *iov,
			   size_t n, uint64_t deadline)
{
	struct pipe_end *e = (struct pipe_end *)f;
	struct pipe_dir *d = e->out;
	size_t total = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = iov[i].base;
		size_t left = iov[i].len;

		while (left > 0) {
			size_t room, tail, first, k;

			r = pipe_check(e);
			if (r < 0)
				return r;
			if (d->shut)
				return hz_errmsg_set(&e->err, -HZ_ECLOSED,
						     "pipe: write after "
						     "shutdown");
			room = PIPE_CAP - d->len;
			if (room == 0) {
				r = hz_waitq_wait(&d->writers, deadline);
				if (r == -HZ_ETIMEDOUT && total > 0) {
					e->p->partial_writes++;
					return (ssize_t)total;
				}
				if (r < 0)
					return r;
				continue;
			}
			k = left < room ? left : room;
			tail = (d->head + d->len) % PIPE_CAP;
			first = PIPE_CAP - tail < k ? PIPE_CAP - tail : k;
			memcpy(d->buf + tail, p, first);
			memcpy(d->buf, p + first, k - first);
			pipe_landed(d, k);
			p += k;
			left -= k;
			total += k;
		}
	}
	return (ssize_t)total;
}

/*
 * A lending pipe (hz_flow_reserve): once @min bytes are free, the room
 * after the data up to the end of the buffer, where it wraps.
 */
static ssize_t pipe_reserve(struct hz_flow *f, size_t min, uint8_t **buf,
			    uint64_t deadline)
{
	struct pipe_end *e = (struct pipe_end *)f;
	struct pipe_dir *d = e->out;
	size_t tail;
	int r;

	for (;;) {
		r = pipe_check(e);
		if (r < 0)
			return r;
		if (d->shut)
			return hz_errmsg_set(&e->err, -HZ_ECLOSED,
					     "pipe: write after shutdown");
		if (PIPE_CAP - d->len >= min || d->len == 0)
			break;
		r = hz_waitq_wait(&d->writers, deadline);
		if (r < 0)
			return r;
	}
	tail = (d->head + d->len) % PIPE_CAP;
	*buf = d->buf + tail;
	e->p->lent++;
	e->p->lent_room =
	    d->head + d->len < PIPE_CAP ? PIPE_CAP - tail : d->head - tail;
	return (ssize_t)e->p->lent_room;
}

static void pipe_commit(struct hz_flow *f, size_t len)
{
	struct pipe_end *e = (struct pipe_end *)f;

	HARNESS_CHECK(len <= e->p->lent_room);
	e->p->lent_room = 0;
	pipe_landed(e->out, len);
}

static int pipe_shutdown(struct hz_flow *f)
{
	struct pipe_end *e = (struct pipe_end *)f;
	int r = pipe_check(e);

	if (r < 0)
		return r;
	e->out->shut = true;
	hz_waitq_wake_all(&e->out->readers);
	return 0;
}

static void pipe_close(struct hz_flow *f)
{
	struct pipe_end *e = (struct pipe_end *)f;

	if (e->closed)
		return;
	e->closed = true;
	e->out->shut = true;
	e->in->shut = true;
	hz_waitq_wake_all(&e->out->readers);
	hz_waitq_wake_all(&e->in->writers);
}

static void pipe_free(struct hz_flow *f)
{
	struct pipe_end *e = (struct pipe_end *)f;
	struct pipe *p = e->p;

	pipe_close(f);
	if (--p->ends_alive == 0)
		hz_free(p);
}

static const char *pipe_error(const struct hz_flow *f)
{
	return hz_errmsg_text(&((const struct pipe_end *)f)->err);
}

static const struct hz_flow_ops pipe_ops = {
    .read = pipe_read,
    .writev = pipe_writev,
    .shutdown = pipe_shutdown,
    .close = pipe_close,
    .free = pipe_free,
    .error_message = pipe_error,
};

static const struct hz_flow_ops pipe_lending_ops = {
    .read = pipe_read,
    .writev = pipe_writev,
    .reserve = pipe_reserve,
    .commit = pipe_commit,
    .shutdown = pipe_shutdown,
    .close = pipe_close,
    .free = pipe_free,
    .error_message = pipe_error,
};

/* Makes two joined flows; each is freed with hz_flow_free. */
static struct pipe *pipe_new(struct hz_flow **a, struct hz_flow **b)
{
	struct pipe *p = hz_calloc(1, sizeof(*p));

	assert_non_null(p);
	for (int i = 0; i < 2; i++) {
		p->end[i].flow.ops = &pipe_ops;
		p->end[i].p = p;
		p->end[i].in = &p->dir[i];
		p->end[i].out = &p->dir[1 - i];
	}
	p->ends_alive = 2;
	*a = &p->end[0].flow;
	*b = &p->end[1].flow;
	return p;
}

/* Resets the pipe: every later call on either end fails. */
static void pipe_reset(struct pipe *p)
{
	p->reset = true;
	for (int i = 0; i < 2; i++) {
		hz_waitq_wake_all(&p->dir[i].readers);
		hz_waitq_wake_all(&p->dir[i].writers);
	}
}

/* --- fibers --------------------------------------------------------------- */

#define TLS_STACK (256u * 1024)

/* Byte @i of test stream @seed. */
static uint8_t stream_byte(uint32_t seed, uint64_t i)
{
	uint64_t x = (i * 0x9e3779b97f4a7c15ull) ^ seed;

	x ^= x >> 29;
	return (uint8_t)(x * 0xbf58476d1ce4e5b9ull >> 56);
}

/*
 * Reads @size bytes of stream @seed from @f, napping 3 ms after every
 * @nap_every reads (0: never). Whether all came, intact.
 */
static bool read_stream(struct hz_flow *f, uint32_t seed, uint64_t size,
			unsigned nap_every)
{
	uint64_t got = 0;
	bool intact = true;
	unsigned reads = 0;

	while (got < size) {
		struct hz_view v;
		int n = hz_flow_read(f, &v, hz_now() + 30 * HZ_NS_PER_S);

		if (n <= 0)
			return false;
		for (int i = 0; i < n; i++)
			if (hz_view_data(&v)[i] != stream_byte(seed, got + i))
				intact = false;
		got += (uint64_t)n;
		hz_view_release(&v);
		if (nap_every != 0 && ++reads % nap_every == 0)
			hz_sleep_ns(3 * HZ_NS_PER_MS);
	}
	return got == size && intact;
}

/* One side of a session: what it does and what happened. */
struct side {
	struct hz_flow *flow;
	const char *name;  /* client: SNI name */
	int handshake;	   /* hz_tls_handshake's result */
	char err[200];	   /* its error message */
	char alpn[32];	   /* ALPN agreed */
	char sni[64];	   /* SNI seen */
	char suite[64];	   /* cipher suite */
	bool resumed;	   /* the handshake resumed a session */
	uint64_t bytes;	   /* bytes moved */
	bool done;	   /* the fiber ended */
	struct hz_waitq q; /* woken when done */
};

static void side_record(struct side *s)
{
	const char *a = hz_tls_alpn(s->flow), *n = hz_tls_server_name(s->flow);
	const char *c = hz_tls_suite(s->flow);

	snprintf(s->alpn, sizeof(s->alpn), "%s", a != NULL ? a : "");
	snprintf(s->sni, sizeof(s->sni), "%s", n != NULL ? n : "");
	snprintf(s->suite, sizeof(s->suite), "%s", c != NULL ? c : "");
	s->resumed = hz_tls_resumed(s->flow);
}

static void side_finish(struct side *s)
{
	s->done = true;
	hz_waitq_wake_all(&s->q);
}

static void side_join(struct side *s)
{
	while (!s->done)
		HARNESS_CHECK(
		    hz_waitq_wait(&s->q, hz_now() + 30 * HZ_NS_PER_S) == 0);
}

/* Server fiber: handshake, then echo everything until close_notify. */
static void echo_server(void *arg)
{
	struct side *s = arg;
	struct hz_view v;
	int n;

	s->handshake = hz_tls_handshake(s->flow, HZ_DEADLINE_NEVER);
	side_record(s);
	if (s->handshake < 0) {
		snprintf(s->err, sizeof(s->err), "%s", hz_flow_error(s->flow));
		/* A client whose handshake ended first sees the end. */
		hz_flow_close(s->flow);
		side_finish(s);
		return;
	}
	while ((n = hz_flow_read(s->flow, &v, HZ_DEADLINE_NEVER)) > 0) {
		ssize_t w = hz_flow_write(s->flow, hz_view_data(&v), v.len,
					  HZ_DEADLINE_NEVER);

		hz_view_release(&v);
		HARNESS_CHECK(w == n);
		if (w < 0)
			break;
		s->bytes += (uint64_t)n;
	}
	if (n < 0)
		snprintf(s->err, sizeof(s->err), "%s", hz_flow_error(s->flow));
	else
		HARNESS_CHECK(hz_flow_shutdown(s->flow) == 0);
	side_finish(s);
}

/* A session: server and client flows over one pipe. */
struct session {
	struct hz_tls_config *scfg, *ccfg;
	struct pipe *pipe;
	struct side server, client;
	uint64_t size; /* bytes each way */
	bool alpn;     /* configure ALPN names */
	bool implicit; /* the client's first write does the handshake */
	bool lends;    /* the pipe lends room: records sealed in place */
};

static void session_open(struct session *ss, const char *server_chain,
			 const char *more, const char *sni)
{
	static const char *const calpn[] = {"h2", "http/1.1"};
	static const char *const salpn[] = {"http/1.1", "haze/1"};
	struct hz_flow *a, *b;

	ss->scfg = server_config(server_chain, more);
	ss->ccfg = client_config();
	if (ss->alpn) {
		assert_int_equal(hz_tls_config_set_alpn(ss->ccfg, calpn, 2), 0);
		assert_int_equal(hz_tls_config_set_alpn(ss->scfg, salpn, 2), 0);
	}
	ss->pipe = pipe_new(&a, &b);
	if (ss->lends)
		a->ops = b->ops = &pipe_lending_ops;
	assert_int_equal(hz_tls_server(a, ss->scfg, &ss->server.flow), 0);
	assert_int_equal(hz_tls_client(b, ss->ccfg, sni, &ss->client.flow), 0);
	ss->client.name = sni;
}

static void session_close(struct session *ss)
{
	hz_flow_free(ss->server.flow);
	hz_flow_free(ss->client.flow);
	hz_tls_config_free(ss->scfg);
	hz_tls_config_free(ss->ccfg);
}

/*
 * The client writes ss->size bytes of stream @seed, in writes of the
 * @n sizes in turn (at most 40,000 bytes), then says it is done.
 */
static void write_stream(struct session *ss, uint32_t seed, const size_t *sizes,
			 size_t n)
{
	static uint8_t buf[40000];
	uint64_t off = 0;

	for (size_t k = 0; off < ss->size; k++) {
		size_t len = sizes[k % n];
		ssize_t w;

		len = ss->size - off < len ? ss->size - off : len;
		for (size_t i = 0; i < len; i++)
			buf[i] = stream_byte(seed, off + i);
		w = hz_flow_write(ss->client.flow, buf, len, HZ_DEADLINE_NEVER);
		HARNESS_CHECK(w == (ssize_t)len);
		if (w < 0)
			break;
		off += len;
	}
	ss->client.bytes = off;
	side_finish(&ss->client);
}

/* Client writer fiber: ss->size bytes of stream 7. */
static void bulk_writer(void *arg)
{
	static const size_t size = 10000;

	write_stream(arg, 7, &size, 1);
}

/* --- tests ---------------------------------------------------------------- */

static int bulk_main(void *arg)
{
	struct session *ss = arg;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	side_record(&ss->client);
	HARNESS_CHECK(hz_fiber_spawn("writer", bulk_writer, ss, TLS_STACK) ==
		      0);
	HARNESS_CHECK(read_stream(ss->client.flow, 7, ss->size, 0));
	side_join(&ss->client);
	/* close_notify: ours ends the server's reads, its answer ends ours. */
	HARNESS_CHECK(hz_flow_shutdown(ss->client.flow) == 0);
	side_join(&ss->server);
	{
		struct hz_view v;

		HARNESS_CHECK(
		    hz_flow_read(ss->client.flow, &v, HZ_DEADLINE_NEVER) == 0);
	}
	return 0;
}

static void handshake_bulk_alpn_close_notify(void **state)
{
	struct session ss = {.size = 4u << 20, .alpn = true};

	(void)state;
	session_open(&ss, "ec", "rsa", "localhost");
	assert_int_equal(harness_run_fibers(bulk_main, &ss), 0);
	assert_int_equal(ss.server.handshake, 0);
	assert_string_equal(ss.server.err, "");
	assert_int_equal(ss.server.bytes, ss.size);
	assert_string_equal(ss.client.alpn, "http/1.1");
	assert_string_equal(ss.server.alpn, "http/1.1");
	assert_string_equal(ss.server.sni, "localhost");
	assert_string_equal(ss.client.sni, "localhost");
	assert_string_equal(ss.client.suite,
			    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	assert_string_equal(ss.server.suite, ss.client.suite);
	session_close(&ss);
}

static int sni_main(void *arg)
{
	struct session *ss = arg;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	if (!ss->implicit)
		ss->client.handshake =
		    hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER);
	else
		HARNESS_CHECK(hz_tls_suite(ss->client.flow) == NULL);
	HARNESS_CHECK(
	    hz_flow_write(ss->client.flow, "ping", 4, HZ_DEADLINE_NEVER) == 4);
	side_record(&ss->client);
	{
		char buf[8];

		HARNESS_CHECK(hz_flow_read_copy(ss->client.flow, buf,
						sizeof(buf),
						HZ_DEADLINE_NEVER) == 4);
		HARNESS_CHECK(memcmp(buf, "ping", 4) == 0);
	}
	hz_flow_close(ss->client.flow);
	side_join(&ss->server);
	return 0;
}

static void sni_picks_the_rsa_chain(void **state)
{
	struct session ss = {0};

	(void)state;
	session_open(&ss, "ec", "rsa", "rsa.haze.test");
	assert_int_equal(harness_run_fibers(sni_main, &ss), 0);
	assert_int_equal(ss.client.handshake, 0);
	assert_string_equal(ss.server.sni, "rsa.haze.test");
	assert_string_equal(ss.client.suite,
			    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	/* close() sent close_notify: the server's read ended cleanly. */
	assert_string_equal(ss.server.err, "");
	assert_string_equal(ss.client.alpn, "");
	session_close(&ss);
}

static void wildcard_name_implicit_handshake(void **state)
{
	struct session ss = {.implicit = true};

	(void)state;
	session_open(&ss, "ec", "rsa", "www.haze.test");
	assert_int_equal(harness_run_fibers(sni_main, &ss), 0);
	assert_int_equal(ss.client.handshake, 0);
	assert_string_equal(ss.client.suite,
			    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
	session_close(&ss);
}

static int refused_main(void *arg)
{
	struct session *ss = arg;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	ss->client.handshake =
	    hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER);
	snprintf(ss->client.err, sizeof(ss->client.err), "%s",
		 hz_flow_error(ss->client.flow));
	/* Sticky: a later write fails the same way. */
	HARNESS_CHECK(hz_flow_write(ss->client.flow, "x", 1,
				    HZ_DEADLINE_NEVER) == ss->client.handshake);
	hz_flow_close(ss->client.flow);
	side_join(&ss->server);
	return 0;
}

/* Runs a handshake against chain @chain that the client must refuse. */
static void refused(const char *chain, const char *why)
{
	struct session ss = {0};

	session_open(&ss, chain, NULL, "localhost");
	assert_int_equal(harness_run_fibers(refused_main, &ss), 0);
	assert_int_equal(ss.client.handshake, -HZ_ETLS);
	if (strstr(ss.client.err, why) == NULL)
		fail_msg("client message '%s' lacks '%s'", ss.client.err, why);
	/* BearSSL sends no alert when it refuses; the server sees the end. */
	assert_int_equal(ss.server.handshake, -HZ_ECONNRESET);
	assert_string_equal(ss.server.err, "TLS: the peer closed the "
					   "connection during the handshake");
	print_message("# client: %s\n# server: %s\n", ss.client.err,
		      ss.server.err);
	session_close(&ss);
}

static void expired_certificate_refused(void **state)
{
	(void)state;
	refused("expired", "TLS: certificate rejected: expired");
}

static void wrong_host_name_refused(void **state)
{
	(void)state;
	refused("wrongname", "TLS: certificate rejected: wrong host name");
}

static void untrusted_issuer_refused(void **state)
{
	(void)state;
	refused("rogue", "TLS: certificate rejected: untrusted issuer");
}

static int reset_main(void *arg)
{
	struct session *ss = arg;
	struct hz_view v;
	int r;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	pipe_reset(ss->pipe);
	r = hz_flow_read(ss->client.flow, &v, HZ_DEADLINE_NEVER);
	ss->client.handshake = r;
	snprintf(ss->client.err, sizeof(ss->client.err), "%s",
		 hz_flow_error(ss->client.flow));
	/* Sticky, also for writes. */
	HARNESS_CHECK(hz_flow_write(ss->client.flow, "x", 1,
				    HZ_DEADLINE_NEVER) == -HZ_ECONNRESET);
	HARNESS_CHECK(hz_flow_shutdown(ss->client.flow) == -HZ_ECONNRESET);
	hz_flow_close(ss->client.flow);
	HARNESS_CHECK(hz_flow_read(ss->client.flow, &v, 0) == -HZ_ECLOSED);
	hz_flow_close(ss->client.flow); /* idempotent */
	side_join(&ss->server);
	return 0;
}

static void lower_reset_names_both_layers(void **state)
{
	struct session ss = {0};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(reset_main, &ss), 0);
	assert_int_equal(ss.client.handshake, -HZ_ECONNRESET);
	assert_string_equal(ss.client.err, "TLS: TCP 10.0.0.2:443: reset by "
					   "peer in ESTABLISHED");
	assert_string_equal(ss.server.err, "TLS: TCP 10.0.0.2:443: reset by "
					   "peer in ESTABLISHED");
	session_close(&ss);
}

static int abort_main(void *arg)
{
	struct session *ss = arg;
	struct hz_view v;
	uint64_t written;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(
	    hz_flow_write(ss->client.flow, "ping", 4, HZ_DEADLINE_NEVER) == 4);
	HARNESS_CHECK(hz_flow_read(ss->client.flow, &v, HZ_DEADLINE_NEVER) ==
		      4);
	hz_view_release(&v);
	/* The client writes into dir[0]: nothing more after the abort (a
	 * close would write its close_notify there). */
	written = ss->pipe->dir[0].written;
	hz_flow_abort(ss->client.flow);
	HARNESS_CHECK(ss->pipe->dir[0].written == written);
	HARNESS_CHECK(hz_flow_read(ss->client.flow, &v, 0) == -HZ_ECLOSED);
	HARNESS_CHECK(hz_flow_write(ss->client.flow, "x", 1,
				    HZ_DEADLINE_NEVER) == -HZ_ECLOSED);
	side_join(&ss->server);
	return 0;
}

/* An aborted session ends with no close_notify: the peer says so. */
static void abort_sends_no_close_notify(void **state)
{
	struct session ss = {0};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(abort_main, &ss), 0);
	assert_int_equal(ss.server.bytes, 4);
	assert_string_equal(ss.server.err,
			    "TLS: the peer closed the connection without "
			    "close_notify (the data may be truncated)");
	session_close(&ss);
}

/* --- session resumption -------------------------------------------------- */

static int resume_main(void *arg)
{
	struct session *ss = arg;
	char buf[8];

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	ss->client.handshake =
	    hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER);
	side_record(&ss->client);
	snprintf(ss->client.err, sizeof(ss->client.err), "%s",
		 hz_flow_error(ss->client.flow));
	/* The caller checks the echo: a server may refuse after this. */
	if (ss->client.handshake == 0 &&
	    hz_flow_write(ss->client.flow, "ping", 4, HZ_DEADLINE_NEVER) == 4 &&
	    hz_flow_read_copy(ss->client.flow, buf, sizeof(buf),
			      HZ_DEADLINE_NEVER) == 4 &&
	    memcmp(buf, "ping", 4) == 0)
		ss->client.bytes = 4;
	hz_flow_close(ss->client.flow);
	side_join(&ss->server);
	return 0;
}

/*
 * One connection from @ccfg to @scfg with SNI @sni, which echoes "ping"
 * when the handshake succeeds; the configurations stay the caller's.
 */
static struct session connect_with(struct hz_tls_config *scfg,
				   struct hz_tls_config *ccfg, const char *sni)
{
	struct session ss = {.scfg = scfg, .ccfg = ccfg};
	struct hz_flow *a, *b;

	ss.pipe = pipe_new(&a, &b);
	assert_int_equal(hz_tls_server(a, scfg, &ss.server.flow), 0);
	assert_int_equal(hz_tls_client(b, ccfg, sni, &ss.client.flow), 0);
	ss.client.name = sni;
	assert_int_equal(harness_run_fibers(resume_main, &ss), 0);
	hz_flow_free(ss.server.flow);
	hz_flow_free(ss.client.flow);
	return ss;
}

/* Connects and checks whether both sides resumed (@resumed) or neither. */
static void expect_resumed(struct hz_tls_config *scfg,
			   struct hz_tls_config *ccfg, const char *sni,
			   bool resumed, const char *suite)
{
	struct session ss = connect_with(scfg, ccfg, sni);

	assert_int_equal(ss.client.handshake, 0);
	assert_int_equal(ss.server.handshake, 0);
	assert_string_equal(ss.server.err, "");
	assert_int_equal(ss.client.bytes, 4);
	if (ss.client.resumed != resumed || ss.server.resumed != resumed)
		fail_msg("%s: client resumed %d, server resumed %d, want %d",
			 sni, ss.client.resumed, ss.server.resumed, resumed);
	assert_string_equal(ss.client.suite, suite);
	assert_string_equal(ss.server.sni, sni);
}

#define EC_SUITE "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
#define RSA_SUITE "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"

static void sessions_resume_per_name(void **state)
{
	struct hz_tls_config *scfg = server_config("ec", "rsa");
	struct hz_tls_config *ccfg = client_config();
	uint64_t before = harness_counter("tls", "sessions_resumed");

	(void)state;
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	expect_resumed(scfg, ccfg, "localhost", true, EC_SUITE);
	expect_resumed(scfg, ccfg, "localhost", true, EC_SUITE);
	/* Another name: a session of its own, with its own chain. */
	expect_resumed(scfg, ccfg, "rsa.haze.test", false, RSA_SUITE);
	expect_resumed(scfg, ccfg, "rsa.haze.test", true, RSA_SUITE);
	expect_resumed(scfg, ccfg, "localhost", true, EC_SUITE);
	/* Client and server each count a resumption. */
	assert_int_equal(harness_counter("tls", "sessions_resumed") - before,
			 2 * 4);
	/* A client without a cache of its own never offers one. */
	{
		struct hz_tls_config *other = client_config();

		expect_resumed(scfg, other, "localhost", false, EC_SUITE);
		expect_resumed(scfg, other, "localhost", true, EC_SUITE);
		assert_int_equal(hz_tls_config_set_sessions(other, 0, 0), 0);
		expect_resumed(scfg, other, "localhost", false, EC_SUITE);
		expect_resumed(scfg, other, "localhost", false, EC_SUITE);
		hz_tls_config_free(other);
	}
	hz_tls_config_free(scfg);
	hz_tls_config_free(ccfg);
}

static void session_is_bound_to_its_name(void **state)
{
	struct hz_tls_config *scfg = server_config("ec", "rsa");
	struct hz_tls_config *ccfg = client_config();
	br_ssl_session_parameters sp;
	uint64_t before = harness_counter("tls", "session_name_mismatch");

	(void)state;
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	/* A client offers the session made for localhost under another name
	 * of the same chain: the server refuses the session when the
	 * handshake ends (RFC 6066 3) and forgets it. */
	assert_true(tls_sessions_client_load(ccfg->sessions, "localhost", &sp));
	tls_sessions_client_save(ccfg->sessions, "www.haze.test", &sp, false);
	{
		struct session ss = connect_with(scfg, ccfg, "www.haze.test");

		assert_int_equal(ss.server.handshake, -HZ_ETLS);
		assert_string_equal(ss.server.err,
				    "TLS: the client resumed a session made "
				    "for another server name");
		assert_int_equal(ss.client.bytes, 0);
	}
	assert_int_equal(
	    harness_counter("tls", "session_name_mismatch") - before, 1);
	/* Forgotten: the same offer now gets a full handshake. */
	expect_resumed(scfg, ccfg, "www.haze.test", false, EC_SUITE);
	expect_resumed(scfg, ccfg, "www.haze.test", true, EC_SUITE);
	/* Names compare without case. */
	expect_resumed(scfg, ccfg, "WWW.Haze.Test", true, EC_SUITE);
	hz_tls_config_free(scfg);
	hz_tls_config_free(ccfg);
}

static void sessions_expire(void **state)
{
	struct hz_tls_config *scfg = server_config("ec", NULL);
	struct hz_tls_config *ccfg = client_config();
	const struct timespec nap = {0, 80 * 1000 * 1000};

	(void)state;
	assert_int_equal(
	    hz_tls_config_set_sessions(scfg, 16, 50 * HZ_NS_PER_MS), 0);
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	expect_resumed(scfg, ccfg, "localhost", true, EC_SUITE);
	nanosleep(&nap, NULL);
	/* The client still offers it; the server has let it go. */
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	expect_resumed(scfg, ccfg, "localhost", true, EC_SUITE);
	/* And a client whose sessions expire does not offer one. */
	assert_int_equal(
	    hz_tls_config_set_sessions(scfg, 16, 3600 * HZ_NS_PER_S), 0);
	assert_int_equal(
	    hz_tls_config_set_sessions(ccfg, 16, 50 * HZ_NS_PER_MS), 0);
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	nanosleep(&nap, NULL);
	assert_false(tls_sessions_client_load(ccfg->sessions, "localhost",
					      &(br_ssl_session_parameters){0}));
	expect_resumed(scfg, ccfg, "localhost", false, EC_SUITE);
	hz_tls_config_free(scfg);
	hz_tls_config_free(ccfg);
}

static void full_cache_evicts_the_oldest(void **state)
{
	struct hz_tls_config *scfg = server_config("ec", NULL);
	struct hz_tls_config *clients[5];
	uint64_t before = harness_counter("tls", "sessions_evicted");

	(void)state;
	/* One set of four: the fifth session takes the oldest's place. */
	assert_int_equal(
	    hz_tls_config_set_sessions(scfg, 4, 3600 * HZ_NS_PER_S), 0);
	for (int i = 0; i < 5; i++) {
		clients[i] = client_config();
		expect_resumed(scfg, clients[i], "localhost", false, EC_SUITE);
	}
	assert_int_equal(harness_counter("tls", "sessions_evicted") - before,
			 1);
	for (int i = 4; i >= 1; i--)
		expect_resumed(scfg, clients[i], "localhost", true, EC_SUITE);
	expect_resumed(scfg, clients[0], "localhost", false, EC_SUITE);
	for (int i = 0; i < 5; i++)
		hz_tls_config_free(clients[i]);
	hz_tls_config_free(scfg);
}

static void failed_handshake_forgets_the_session(void **state)
{
	struct hz_tls_config *good = server_config("ec", NULL);
	struct hz_tls_config *bad = server_config("expired", NULL);
	struct hz_tls_config *ccfg = client_config();
	struct session ss;

	(void)state;
	expect_resumed(good, ccfg, "localhost", false, EC_SUITE);
	/* Another server under the same name does not know the session,
	 * makes a new one, and its certificate is refused. */
	ss = connect_with(bad, ccfg, "localhost");
	assert_int_equal(ss.client.handshake, -HZ_ETLS);
	assert_false(ss.client.resumed);
	assert_false(tls_sessions_client_load(ccfg->sessions, "localhost",
					      &(br_ssl_session_parameters){0}));
	expect_resumed(good, ccfg, "localhost", false, EC_SUITE);
	expect_resumed(good, ccfg, "localhost", true, EC_SUITE);
	hz_tls_config_free(good);
	hz_tls_config_free(bad);
	hz_tls_config_free(ccfg);
}

static void session_settings_are_checked(void **state)
{
	struct hz_tls_config *cfg = client_config();

	(void)state;
	assert_int_equal(hz_tls_config_set_sessions(cfg, 8, 0), -HZ_EINVAL);
	assert_non_null(strstr(hz_tls_config_error(cfg), "lifetime"));
	assert_int_equal(
	    hz_tls_config_set_sessions(cfg, HZ_TLS_SESSIONS_MAX + 1, 1),
	    -HZ_EINVAL);
	assert_int_equal(hz_tls_config_set_sessions(cfg, 0, 0), 0);
	assert_int_equal(
	    hz_tls_config_set_sessions(cfg, HZ_TLS_SESSIONS_MAX, 1), 0);
	hz_tls_config_free(cfg);
}

/* --- writes with deadlines ------------------------------------------------ */

#define DL_CHUNK_MAX 40000

/* The deadline test's writes: their size, and what they met. */
struct deadline_writes {
	size_t size;  /* bytes in all */
	size_t chunk; /* bytes per write */
	unsigned short_writes;
	/* Once a deadline cut a lower write (small records gathered and
	 * sent in one write: the stage), the pipe starts lending room. */
	bool lend_after_cut;
	bool lent; /* it did */
};

static struct deadline_writes dl;

/* Client writer: dl.size bytes of stream 9 in writes with 1 ms deadlines,
 * then a write of nothing without one, which sends what they left. */
static void deadline_writer(void *arg)
{
	struct session *ss = arg;
	static uint8_t buf[DL_CHUNK_MAX];
	uint64_t off = 0, give_up = hz_now() + 20 * HZ_NS_PER_S;

	while (off < dl.size) {
		if (hz_now() > give_up) {
			HARNESS_CHECK(!"the writes never got through");
			break;
		}
		size_t n = dl.size - off < dl.chunk ? dl.size - off : dl.chunk;
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(9, off + i);
		w = hz_flow_write(ss->client.flow, buf, n,
				  hz_now() + HZ_NS_PER_MS);
		if (w == -HZ_ETIMEDOUT)
			continue; /* nothing taken: write it again */
		HARNESS_CHECK(w > 0 && (size_t)w <= n);
		if (w <= 0)
			break;
		dl.short_writes += (size_t)w < n;
		off += (uint64_t)w; /* a short count: the rest goes again */
		if (dl.lend_after_cut && !dl.lent &&
		    ss->pipe->partial_writes > 0) {
			ss->pipe->end[0].flow.ops = &pipe_lending_ops;
			ss->pipe->end[1].flow.ops = &pipe_lending_ops;
			dl.lent = true;
		}
	}
	HARNESS_CHECK(
	    hz_flow_write(ss->client.flow, buf, 0, HZ_DEADLINE_NEVER) == 0);
	ss->client.bytes = off;
	side_finish(&ss->client);
}

static int deadline_main(void *arg)
{
	struct session *ss = arg;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(
	    hz_fiber_spawn("writer", deadline_writer, ss, TLS_STACK) == 0);
	/* A slow reader: the pipes fill and writes meet deadlines. */
	HARNESS_CHECK(read_stream(ss->client.flow, 9, dl.size, 8));
	side_join(&ss->client);
	HARNESS_CHECK(hz_flow_shutdown(ss->client.flow) == 0);
	side_join(&ss->server);
	return 0;
}

/* Runs the deadline test with writes of @chunk; partial lower writes. */
static unsigned deadline_run(size_t size, size_t chunk, bool lends)
{
	struct session ss = {.lends = lends};
	unsigned partial;
	bool after_cut = dl.lend_after_cut;

	dl = (struct deadline_writes){
	    .size = size, .chunk = chunk, .lend_after_cut = after_cut};
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(deadline_main, &ss), 0);
	partial = ss.pipe->partial_writes;
	session_close(&ss);
	return partial;
}

/*
 * Writes whose deadline passes while the lower flow is full leave records
 * half sent; the rest goes with the next call and the stream stays
 * intact. Large writes (several records each) come back short; small
 * ones are gathered into one lower write (the stage), which is cut too.
 */
static void write_deadlines_keep_the_stream_intact(void **state)
{
	(void)state;
	assert_true(deadline_run(3u << 20, 40000, false) > 1);
	assert_true(dl.short_writes > 0);
	assert_true(deadline_run(1u << 20, 200, false) > 1);
}

/*
 * The same over a pipe that lends room: records sealed in place go whole
 * (a deadline cuts a write between records), and the stream stays intact.
 */
static void sealed_writes_meet_deadlines_intact(void **state)
{
	uint64_t sealed = harness_counter("tls", "records_sealed_in_place");

	(void)state;
	dl.lend_after_cut = false;
	deadline_run(3u << 20, 40000, true);
	assert_true(dl.short_writes > 0);
	deadline_run(1u << 20, 200, true);
	assert_true(harness_counter("tls", "records_sealed_in_place") >
		    sealed + 1000);
	/* Small records the engine sealed, half sent when a deadline cut
	 * their write, go before the first record sealed in place. */
	dl.lend_after_cut = true;
	deadline_run(1u << 20, 200, false);
	assert_true(dl.lent);
	dl.lend_after_cut = false;
}

struct silent {
	struct hz_flow *tls;
	int first, second, early;
	uint64_t took;
	char err[200];
};

static int timeout_main(void *arg)
{
	struct silent *s = arg;
	uint64_t t0 = hz_now();

	/* A read deadline before the handshake timeout is not fatal. */
	s->early = hz_tls_handshake(s->tls, t0 + 20 * HZ_NS_PER_MS);
	s->first = hz_tls_handshake(s->tls, HZ_DEADLINE_NEVER);
	s->took = hz_now() - t0;
	snprintf(s->err, sizeof(s->err), "%s", hz_flow_error(s->tls));
	s->second = hz_tls_handshake(s->tls, HZ_DEADLINE_NEVER);
	return 0;
}

static void handshake_timeout(void **state)
{
	struct hz_tls_config *cfg = server_config("ec", NULL);
	struct hz_flow *a, *b;
	struct silent s = {0};

	(void)state;
	hz_tls_config_set_handshake_timeout(cfg, 150 * HZ_NS_PER_MS);
	(void)pipe_new(&a, &b); /* the two flows own it */
	assert_int_equal(hz_tls_server(a, cfg, &s.tls), 0);
	assert_int_equal(harness_run_fibers(timeout_main, &s), 0);
	assert_int_equal(s.early, -HZ_ETIMEDOUT);
	assert_int_equal(s.first, -HZ_ETIMEDOUT);
	assert_int_equal(s.second, -HZ_ETIMEDOUT);
	assert_string_equal(s.err, "TLS: handshake timed out after 150 ms");
	assert_true(s.took >= 150 * HZ_NS_PER_MS);
	assert_true(s.took < 1000 * HZ_NS_PER_MS);
	hz_flow_free(s.tls);
	hz_flow_free(b);
	hz_tls_config_free(cfg);
}

static int garbage_main(void *arg)
{
	struct silent *s = arg;

	s->first = hz_tls_handshake(s->tls, HZ_DEADLINE_NEVER);
	return 0;
}

static void garbage_from_the_peer_is_refused(void **state)
{
	struct hz_tls_config *cfg = server_config("ec", NULL);
	struct hz_flow *a, *b;
	struct silent s = {0};
	static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	(void)pipe_new(&a, &b); /* the two flows own it */
	assert_int_equal(hz_tls_server(a, cfg, &s.tls), 0);
	assert_int_equal(hz_flow_write(b, junk, sizeof(junk) - 1, 0),
			 (ssize_t)sizeof(junk) - 1);
	assert_int_equal(hz_flow_shutdown(b), 0);
	assert_int_equal(harness_run_fibers(garbage_main, &s), 0);
	assert_true(s.first < 0);
	assert_non_null(strstr(hz_flow_error(s.tls), "TLS: "));
	print_message("# %s\n", hz_flow_error(s.tls));
	hz_flow_free(s.tls);
	hz_flow_free(b);
	hz_tls_config_free(cfg);
}

static void no_entropy_no_session(void **state)
{
	struct hz_tls_config *cfg = server_config("ec", NULL);
	struct hz_flow *a, *b, *tls;
	struct hz_view v;

	(void)state;
	(void)pipe_new(&a, &b); /* the two flows own it */
	hz_entropy_stop();	/* as before the first seed */
	assert_int_equal(hz_tls_server(a, cfg, &tls), 0);
	assert_int_equal(hz_entropy_init(), 0);
	assert_int_equal(hz_flow_read(tls, &v, 0), -HZ_EAGAIN);
	assert_string_equal(hz_flow_error(tls),
			    "TLS: no random bytes to seed the engine (try "
			    "again)");
	hz_flow_free(tls);
	hz_flow_free(b);
	hz_tls_config_free(cfg);
}

/* An image that declared no random source is told so, by name. */
static void no_random_source_no_session(void **state)
{
	struct hz_tls_config *cfg = server_config("ec", NULL);
	struct hz_flow *a, *b, *tls;
	struct hz_view v;

	(void)state;
	(void)pipe_new(&a, &b); /* the two flows own it */
	hz_random_use(NULL);
	assert_int_equal(hz_tls_server(a, cfg, &tls), 0);
	hz_random_use(&hz_entropy_random);
	assert_int_equal(hz_flow_read(tls, &v, 0), -HZ_ENOTSUP);
	assert_string_equal(hz_flow_error(tls),
			    "TLS: the image has no random source to seed the "
			    "engine (HZ_RANDOM_SOURCE, haze/random.h)");
	hz_flow_free(tls);
	hz_flow_free(b);
	hz_tls_config_free(cfg);
}

/* Adds chain @cert with key @key to server config @s: refused, saying @why. */
static void key_refused(struct hz_tls_config *s, const char *cert,
			const char *key, const char *why)
{
	struct pem c = pem_load(cert), k = pem_load(key);

	assert_int_equal(
	    hz_tls_config_add_chain(s, c.data, c.len, k.data, k.len),
	    -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(s), why);
	pem_drop(&c);
	pem_drop(&k);
}

static void pem_refusals_are_named(void **state)
{
	struct hz_tls_config *s, *c;
	struct pem ec = pem_load("ec.pem"), rsakey = pem_load("rsa.key");
	struct pem eckey = pem_load("ec.key");
	static const char bad[] = "-----BEGIN CERTIFICATE-----\n@@@@\n"
				  "-----END CERTIFICATE-----\n";
	static const char cut[] = "-----BEGIN CERTIFICATE-----\nMIIB\n";

	(void)state;
	assert_int_equal(hz_tls_config_new(HZ_TLS_SERVER, &s), 0);
	assert_int_equal(hz_tls_config_new(HZ_TLS_CLIENT, &c), 0);
	assert_int_equal(hz_tls_config_add_chain(s, ec.data, ec.len,
						 rsakey.data, rsakey.len),
			 -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(s),
			    "TLS: the certificate's key is EC but the private "
			    "key is RSA");
	key_refused(s, "ec.pem", "expired.key",
		    "TLS: the private key does not match the certificate (its "
		    "public key is another)");
	key_refused(s, "rsa.pem", "other-rsa.key",
		    "TLS: the private key does not match the certificate (its "
		    "public key is another)");
	key_refused(s, "ec.pem", "p384.key",
		    "TLS: the certificate's key is on P-256 but the private "
		    "key on P-384");
	assert_int_equal(hz_tls_config_add_chain(s, bad, sizeof(bad) - 1,
						 eckey.data, eckey.len),
			 -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(s),
			    "TLS: certificate chain: malformed PEM");
	assert_int_equal(hz_tls_config_add_anchors(c, cut, sizeof(cut) - 1),
			 -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(c),
			    "TLS: trust anchors: PEM object 'CERTIFICATE' has "
			    "no END line");
	assert_int_equal(hz_tls_config_add_anchors(c, "", 0), -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(c),
			    "TLS: trust anchors: no CERTIFICATE in the PEM");
	assert_int_equal(
	    hz_tls_config_add_chain(s, ec.data, ec.len, ec.data, ec.len),
	    -HZ_EINVAL);
	assert_string_equal(hz_tls_config_error(s),
			    "TLS: private key: no PRIVATE KEY, RSA PRIVATE KEY "
			    "or EC PRIVATE KEY in the PEM");
	assert_int_equal(
	    hz_tls_config_add_chain(c, ec.data, ec.len, eckey.data, eckey.len),
	    -HZ_EINVAL);
	/* Certificates and keys are not for the other role. */
	assert_int_equal(hz_tls_config_add_anchors(s, ec.data, ec.len),
			 -HZ_EINVAL);
	assert_int_equal(
	    hz_tls_config_add_chain(s, ec.data, ec.len, eckey.data, eckey.len),
	    0);
	hz_tls_config_free(s);
	hz_tls_config_free(c);
	pem_drop(&ec);
	pem_drop(&eckey);
	pem_drop(&rsakey);
}

static void config_survives_allocation_failures(void **state)
{
	struct pem rsa = pem_load("rsa.pem"), key = pem_load("rsa.key");
	struct pem ca = pem_load("ca.pem");
	int r = -1;

	(void)state;
	for (uint64_t n = 1; r != 0 && n < 200; n++) {
		struct hz_tls_config *s = NULL, *c = NULL;
		struct hz_mem_stats st;

		hz_mem_fail_nth(n);
		r = hz_tls_config_new(HZ_TLS_SERVER, &s);
		if (r == 0)
			r = hz_tls_config_add_chain(s, rsa.data, rsa.len,
						    key.data, key.len);
		if (r == 0)
			r = hz_tls_config_new(HZ_TLS_CLIENT, &c);
		if (r == 0)
			r = hz_tls_config_add_anchors(c, ca.data, ca.len) == 1
				? 0
				: -HZ_ENOMEM;
		hz_mem_fail_nth(0);
		if (r != 0)
			assert_int_equal(r, -HZ_ENOMEM);
		hz_tls_config_free(s);
		hz_tls_config_free(c);
		hz_mem_stats(&st);
		assert_int_equal(st.live_objects, 0);
	}
	assert_int_equal(r, 0);
	pem_drop(&rsa);
	pem_drop(&key);
	pem_drop(&ca);
}

struct faulty {
	struct session ss;
	int ping; /* what the client's exchange gave: 4, or an error */
};

static int faulty_main(void *arg)
{
	struct faulty *f = arg;
	struct session *ss = &f->ss;
	char buf[8];

	if (hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) != 0)
		side_finish(&ss->server);
	f->ping = (int)hz_flow_write(ss->client.flow, "ping", 4,
				     hz_now() + 300 * HZ_NS_PER_MS);
	if (f->ping == 4)
		f->ping =
		    (int)hz_flow_read_copy(ss->client.flow, buf, sizeof(buf),
					   hz_now() + 300 * HZ_NS_PER_MS);
	if (f->ping < 0)
		HARNESS_CHECK(
		    strncmp(hz_flow_error(ss->client.flow), "TLS: ", 5) == 0 ||
		    f->ping == -HZ_ETIMEDOUT);
	hz_flow_close(ss->client.flow);
	side_join(&ss->server);
	return 0;
}

/* --- records read by the flow itself, after the handshake ---------------- */

/* Client writer fiber: ss->size bytes of stream 9 in writes of many sizes. */
static void varied_writer(void *arg)
{
	static const size_t sizes[] = {1, 7, 1000, 16384, 16385, 40000, 3};

	write_stream(arg, 9, sizes, sizeof(sizes) / sizeof(sizes[0]));
}

/* What cut_main saw: reads, and those whose bytes were where they came. */
struct cut_result {
	struct session *ss;
	uint64_t got, reads, in_place;
	bool intact;
};

/* Echoes stream 9 through the server and reads it back, counting. */
static int cut_main(void *arg)
{
	struct cut_result *cr = arg;
	struct session *ss = cr->ss;
	struct hz_view v;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	HARNESS_CHECK(hz_fiber_spawn("writer", varied_writer, ss, TLS_STACK) ==
		      0);
	cr->intact = true;
	while (cr->got < ss->size) {
		int n = hz_flow_read(ss->client.flow, &v,
				     hz_now() + 30 * HZ_NS_PER_S);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (hz_view_data(&v)[i] != stream_byte(9, cr->got + i))
				cr->intact = false;
		cr->reads++;
		/* The pipe's last buffer: decrypted where it arrived. */
		if (v.pb == ss->pipe->end[1].last_pb)
			cr->in_place++;
		cr->got += (uint64_t)n;
		hz_view_release(&v);
	}
	side_join(&ss->client);
	HARNESS_CHECK(hz_flow_shutdown(ss->client.flow) == 0);
	side_join(&ss->server);
	HARNESS_CHECK(hz_flow_read(ss->client.flow, &v, HZ_DEADLINE_NEVER) ==
		      0);
	return 0;
}

/*
 * However the lower flow cuts the records (a byte at a time, through the
 * header, whole records several to a read), the data arrives intact; a
 * record that arrives whole in one buffer is decrypted there and read
 * from there, with no copy. @lends: over a pipe that lends room, where
 * records are sealed.
 */
static void cut_run(bool lends)
{
	static const size_t chunks[] = {1, 3, 5, 29, 4096, 16413, 65536};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct session ss = {.size = 300000, .lends = lends};
		struct cut_result cr = {.ss = &ss};

		session_open(&ss, "ec", NULL, "localhost");
		ss.pipe->chunk = chunks[i];
		assert_int_equal(harness_run_fibers(cut_main, &cr), 0);
		assert_string_equal(ss.server.err, "");
		assert_int_equal(ss.server.bytes, ss.size);
		assert_int_equal(cr.got, ss.size);
		assert_true(cr.intact);
		print_message("# reads of %zu bytes: %llu of %llu reads in "
			      "place\n",
			      chunks[i], (unsigned long long)cr.in_place,
			      (unsigned long long)cr.reads);
		/* The smallest record (1 byte of data) takes 30 bytes. */
		if (chunks[i] < 30)
			assert_int_equal(cr.in_place, 0);
		if (chunks[i] == 65536)
			assert_true(cr.in_place * 2 > cr.reads);
		session_close(&ss);
	}
}

static void records_arrive_intact_however_cut(void **state)
{
	uint64_t sealed = harness_counter("tls", "records_sealed_in_place");

	(void)state;
	cut_run(false);
	/* The pipe lends no room: the engine sealed every record. */
	assert_int_equal(harness_counter("tls", "records_sealed_in_place"),
			 sealed);
}

/* Records sealed where the lower flow lends room (most of them; the engine
 * seals one where the room before the buffer's wrap is short): read back
 * intact however cut. */
static void records_sealed_where_they_are_sent(void **state)
{
	uint64_t sealed = harness_counter("tls", "records_sealed_in_place");
	uint64_t engine = harness_counter("tls", "records_sealed_by_engine");

	(void)state;
	cut_run(true);
	sealed = harness_counter("tls", "records_sealed_in_place") - sealed;
	engine = harness_counter("tls", "records_sealed_by_engine") - engine;
	print_message("# %llu records sealed in place, %llu by the engine\n",
		      (unsigned long long)sealed, (unsigned long long)engine);
	assert_true(sealed > 0);
	/* A record is cut to end at the wrap where 2 KiB fit (none in
	 * these runs went to the engine; always, it would be about 60). */
	assert_true(sealed > 20 * engine);
}

/* A server writer that meets the client's close_notify, and the client. */
struct closing {
	struct session *ss;
	uint64_t wrote; /* bytes the server's writes took */
	ssize_t last;	/* its last write */
	char err[200];	/* and its message */
	bool writing;	/* the writer has not ended */
	uint64_t got;	/* bytes the client read */
	bool intact;	/* all of them as written */
	int end;	/* the client's last read (0: a clean end) */
	char end_err[200];
	uint64_t write_ns; /* each write's deadline, from its start (10 s) */
	uint64_t quiet_ns; /* the client's wait before its close (20 ms) */
	bool timed_out;	   /* a write of the server's timed out */
	bool read_late;	   /* the client reads once the writer has ended */
};

/* Server: writes stream 5 until a write fails. */
static void closing_writer(void *arg)
{
	struct closing *c = arg;
	static uint8_t buf[40000];
	struct hz_flow *f = c->ss->server.flow;

	for (;;) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = stream_byte(5, c->wrote + i);
		c->last = hz_flow_write(f, buf, sizeof(buf),
					hz_now() + (c->write_ns != 0
							? c->write_ns
							: 10 * HZ_NS_PER_S));
		if (c->last == -HZ_ETIMEDOUT)
			c->timed_out = true;
		if (c->last <= 0)
			break;
		c->wrote += (uint64_t)c->last;
	}
	snprintf(c->err, sizeof(c->err), "%s", hz_flow_error(f));
	c->writing = false;
}

/* Server: reads (the client's close_notify) until the end. */
static void closing_reader(void *arg)
{
	struct closing *c = arg;
	struct hz_view v;

	while (hz_flow_read(c->ss->server.flow, &v,
			    hz_now() + 10 * HZ_NS_PER_S) > 0)
		hz_view_release(&v);
	side_finish(&c->ss->server);
}

static int closing_main(void *arg)
{
	struct closing *c = arg;
	struct session *ss = c->ss;
	struct hz_flow *f = ss->client.flow;
	struct hz_view v;

	c->writing = true;
	c->intact = true;
	HARNESS_CHECK(hz_fiber_spawn("writer", closing_writer, c, TLS_STACK) ==
		      0);
	HARNESS_CHECK(hz_tls_handshake(f, HZ_DEADLINE_NEVER) == 0);
	HARNESS_CHECK(hz_fiber_spawn("reader", closing_reader, c, TLS_STACK) ==
		      0);
	/* The pipe fills: the server's writer waits for room. */
	hz_sleep_ns(c->quiet_ns != 0 ? c->quiet_ns : 20 * HZ_NS_PER_MS);
	HARNESS_CHECK(hz_flow_shutdown(f) == 0);
	/* The server's reader gets the close_notify; the engine's answer
	 * waits for the writer's turn. */
	hz_sleep_ns(20 * HZ_NS_PER_MS);
	while (c->read_late && c->writing)
		hz_sleep_ns(HZ_NS_PER_MS);
	while ((c->end = hz_flow_read(f, &v, hz_now() + 10 * HZ_NS_PER_S)) >
	       0) {
		for (int i = 0; i < c->end; i++)
			if (hz_view_data(&v)[i] != stream_byte(5, c->got + i))
				c->intact = false;
		c->got += (uint64_t)c->end;
		hz_view_release(&v);
	}
	snprintf(c->end_err, sizeof(c->end_err), "%s", hz_flow_error(f));
	while (c->writing)
		hz_sleep_ns(HZ_NS_PER_MS);
	side_join(&ss->server);
	return 0;
}

/*
 * A record the engine makes while a writer waits for room to seal one
 * in (here the answer to the peer's close_notify) goes first: both use
 * the engine's sequence numbers. The client's session ends cleanly; the
 * server's writer learns the peer closed.
 */
static void engine_records_go_before_sealed_ones(void **state)
{
	struct session ss = {.lends = true};
	struct closing c = {.ss = &ss};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(closing_main, &c), 0);
	print_message("# the server wrote %llu bytes; the client read %llu, "
		      "then %d (%s); the writer: %zd (%s)\n",
		      (unsigned long long)c.wrote, (unsigned long long)c.got,
		      c.end, c.end_err, c.last, c.err);
	/* After its own close_notify the client's engine drops what data
	 * comes (BearSSL keeps no half-open session), but decrypts it: a
	 * record out of sequence would fail it, not end it cleanly. */
	assert_true(c.wrote > 0);
	assert_int_equal(c.end, 0);
	assert_true(c.intact);
	assert_int_equal(c.last, -HZ_ECLOSED);
	assert_non_null(strstr(c.err, "close_notify"));
	session_close(&ss);
}

/*
 * A writer whose wait for room ends at its deadline after the peer's
 * close_notify came is told the peer closed, not that time ran out (as
 * a writer is whose records the engine holds): the first write fills
 * the pipe and returns at its deadline with part taken, the second waits
 * with nothing taken, and the client closes during that wait and reads
 * only once the writer has ended.
 */
static void writer_timing_out_after_close_notify(void **state)
{
	struct session ss = {.lends = true};
	struct closing c = {.ss = &ss,
			    .write_ns = 300 * HZ_NS_PER_MS,
			    .quiet_ns = 450 * HZ_NS_PER_MS,
			    .read_late = true};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(closing_main, &c), 0);
	print_message("# the server wrote %llu bytes; the writer: %zd (%s)\n",
		      (unsigned long long)c.wrote, c.last, c.err);
	assert_true(c.wrote > 0);
	assert_false(c.timed_out);
	assert_int_equal(c.last, -HZ_ECLOSED);
	assert_non_null(strstr(c.err, "close_notify"));
	assert_int_equal(c.end, 0);
	assert_true(c.intact);
	session_close(&ss);
}

/* A header, an empty piece (no base), a body: one write. */
static const struct hz_iov pieces[3] = {
    {"HTTP/1.1 200 OK\r\n\r\n", 19}, {NULL, 0}, {"hello", 5}};

/*
 * Writes the pieces from the client and reads back the server's echo;
 * whether counter tls.@counter went up by one for the write, and the
 * echo came back intact.
 */
static bool echo_pieces(struct session *ss, const char *counter)
{
	uint64_t before = harness_counter("tls", counter);
	bool one;
	struct hz_view v;
	int n;

	HARNESS_CHECK(hz_flow_writev(ss->client.flow, pieces, 3,
				     HZ_DEADLINE_NEVER) == 24);
	one = harness_counter("tls", counter) == before + 1;
	n = hz_flow_read(ss->client.flow, &v, hz_now() + 10 * HZ_NS_PER_S);
	if (!HARNESS_CHECK(n == 24))
		return false;
	HARNESS_CHECK(
	    memcmp(hz_view_data(&v), "HTTP/1.1 200 OK\r\n\r\nhello", 24) == 0);
	hz_view_release(&v);
	return one;
}

static int two_pieces_main(void *arg)
{
	struct session *ss = arg;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	/* One record sealed in place (and the server's echo, one more). */
	HARNESS_CHECK(echo_pieces(ss, "records_sealed_in_place"));
	/* The client's pipe, empty, wraps 40 bytes on: too short a room
	 * for the record (53 bytes), so the engine seals it. */
	ss->pipe->dir[0].head = PIPE_CAP - 40;
	HARNESS_CHECK(echo_pieces(ss, "records_sealed_by_engine"));
	HARNESS_CHECK(hz_flow_shutdown(ss->client.flow) == 0);
	side_join(&ss->server);
	return 0;
}

/*
 * The pieces of one write go into one record sealed in place; where the
 * lower buffer wraps too soon, the engine seals the record instead.
 */
static void pieces_of_a_write_share_a_record(void **state)
{
	struct session ss = {.lends = true};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	assert_int_equal(harness_run_fibers(two_pieces_main, &ss), 0);
	session_close(&ss);
}

/* Client side of a tampered or oversized exchange: what each side saw. */
struct tamper {
	struct session *ss;
	uint64_t flip;	    /* byte of the client's next record to invert */
	const uint8_t *hdr; /* else: a record header sent raw */
	int client_read;
	char client_err[200];
};

static int tamper_main(void *arg)
{
	struct tamper *t = arg;
	struct session *ss = t->ss;
	struct pipe_dir *to_server = &ss->pipe->dir[0];
	struct hz_view v;

	HARNESS_CHECK(
	    hz_fiber_spawn("server", echo_server, &ss->server, TLS_STACK) == 0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	/* One good record first: the session works. */
	HARNESS_CHECK(
	    hz_flow_write(ss->client.flow, "ping", 4, HZ_DEADLINE_NEVER) == 4);
	HARNESS_CHECK(hz_flow_read(ss->client.flow, &v, HZ_DEADLINE_NEVER) ==
		      4);
	hz_view_release(&v);
	if (t->hdr != NULL) {
		/* Straight onto the wire, past the client's TLS. */
		HARNESS_CHECK(
		    hz_flow_write(&ss->pipe->end[1].flow, t->hdr, 5, 0) == 5);
	} else {
		static uint8_t big[1000];

		to_server->flip_at = to_server->written + t->flip;
		HARNESS_CHECK(hz_flow_write(ss->client.flow, big, sizeof(big),
					    HZ_DEADLINE_NEVER) == sizeof(big));
	}
	/* The server fails; closing its flow then drops the connection. */
	side_join(&ss->server);
	hz_flow_close(ss->server.flow);
	t->client_read =
	    hz_flow_read(ss->client.flow, &v, hz_now() + 5 * HZ_NS_PER_S);
	if (t->client_read > 0)
		hz_view_release(&v);
	snprintf(t->client_err, sizeof(t->client_err), "%s",
		 hz_flow_error(ss->client.flow));
	return 0;
}

/*
 * A record changed on the way (sealed by the engine, or in place where
 * the pipe lends room), whether it arrived whole in one buffer or in
 * pieces, fails the server's read with the engine's reason (BearSSL
 * sends no alert for a record that fails, and closing the flow then sends
 * no close_notify); the bytes before it were delivered.
 */
static void tampered_record_ends_the_session(void **state)
{
	static const size_t chunks[] = {7, 4096};
	/* In the explicit nonce, the ciphertext, the tag. */
	static const uint64_t flips[] = {6, 200, 1029};
	static const char truncated[] =
	    "TLS: the peer closed the connection without close_notify (the "
	    "data may be truncated)";

	(void)state;
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 3; j++) {
			struct session ss = {.lends = i >= 2};
			struct tamper t = {.ss = &ss, .flip = flips[j]};

			session_open(&ss, "ec", NULL, "localhost");
			ss.pipe->chunk = chunks[i % 2];
			assert_int_equal(harness_run_fibers(tamper_main, &t),
					 0);
			assert_int_equal(ss.server.bytes, 4);
			assert_string_equal(ss.server.err,
					    "TLS: record failed authentication "
					    "(bad MAC or tag)");
			assert_true(t.client_read < 0);
			assert_string_equal(t.client_err, truncated);
			session_close(&ss);
		}
}

/*
 * A header the engine would refuse is refused as soon as it is whole,
 * with the engine's reason: a record longer than the suite allows, one
 * too short to hold its nonce and tag, another version, an unknown type.
 */
static void bad_headers_are_refused(void **state)
{
	static const struct {
		uint8_t hdr[5];
		const char *err;
	} cases[] = {
	    {{23, 3, 3, 0x42, 0x00}, "TLS: record with an impossible length"},
	    {{23, 3, 3, 0x00, 0x10}, "TLS: record with an impossible length"},
	    {{23, 3, 1, 0x00, 0x40},
	     "TLS: record with the wrong protocol "
	     "version"},
	    {{24, 3, 3, 0x00, 0x40}, "TLS: record of an unknown type"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct session ss = {0};
		struct tamper t = {.ss = &ss, .hdr = cases[i].hdr};

		session_open(&ss, "ec", NULL, "localhost");
		assert_int_equal(harness_run_fibers(tamper_main, &t), 0);
		assert_int_equal(ss.server.bytes, 4);
		assert_string_equal(ss.server.err, cases[i].err);
		assert_true(t.client_read < 0);
		assert_non_null(strstr(t.client_err, "without close_notify"));
		session_close(&ss);
	}
}

/* The server of nomem_main: what its reads gave. */
struct nomem {
	struct session *ss;
	int first;     /* the read with an allocation refused */
	char err[200]; /* its message */
	uint64_t got;  /* bytes the later reads gave */
	bool intact;
};

static void nomem_server(void *arg)
{
	struct nomem *nm = arg;
	struct session *ss = nm->ss;
	struct hz_view v;

	HARNESS_CHECK(hz_tls_handshake(ss->server.flow, HZ_DEADLINE_NEVER) ==
		      0);
	/* Until the client's 1,000 bytes (one record) wait in the pipe. */
	while (ss->pipe->dir[0].len < 1029)
		hz_sleep_ns(HZ_NS_PER_MS);
	/* A pbuf is two allocations (its record, its pages): the pipe's
	 * 7-byte read takes the first two, the record's buffer, once its
	 * header is whole, the next. */
	hz_mem_fail_nth(3);
	nm->first = hz_flow_read(ss->server.flow, &v, HZ_DEADLINE_NEVER);
	hz_mem_fail_nth(0);
	if (nm->first > 0)
		hz_view_release(&v);
	snprintf(nm->err, sizeof(nm->err), "%s",
		 hz_flow_error(ss->server.flow));
	nm->intact = true;
	while (nm->got < 1000) {
		int n = hz_flow_read(ss->server.flow, &v, HZ_DEADLINE_NEVER);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (hz_view_data(&v)[i] != stream_byte(3, nm->got + i))
				nm->intact = false;
		nm->got += (uint64_t)n;
		hz_view_release(&v);
	}
	side_finish(&ss->server);
}

static int nomem_main(void *arg)
{
	struct nomem *nm = arg;
	struct session *ss = nm->ss;
	uint8_t buf[1000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = stream_byte(3, i);
	HARNESS_CHECK(hz_fiber_spawn("server", nomem_server, nm, TLS_STACK) ==
		      0);
	HARNESS_CHECK(hz_tls_handshake(ss->client.flow, HZ_DEADLINE_NEVER) ==
		      0);
	HARNESS_CHECK(hz_flow_write(ss->client.flow, buf, sizeof(buf),
				    HZ_DEADLINE_NEVER) == sizeof(buf));
	side_join(&ss->server);
	return 0;
}

/*
 * No memory for a record arriving in pieces: the read says so, and the
 * next one takes the record up where it was, nothing lost.
 */
static void record_buffer_refused_then_resumed(void **state)
{
	struct session ss = {0};
	struct nomem nm = {.ss = &ss};

	(void)state;
	session_open(&ss, "ec", NULL, "localhost");
	ss.pipe->chunk = 7;
	assert_int_equal(harness_run_fibers(nomem_main, &nm), 0);
	assert_int_equal(nm.first, -HZ_ENOMEM);
	assert_string_equal(nm.err,
			    "TLS: no buffer for a record of 1029 bytes");
	assert_int_equal(nm.got, 1000);
	assert_true(nm.intact);
	session_close(&ss);
}

static void flows_survive_allocation_failures(void **state)
{
	bool whole = false;
	uint64_t n;

	(void)state;
	for (n = 1; !whole && n < 300; n++) {
		struct faulty f = {0};
		struct hz_flow *a, *b;
		struct hz_mem_stats before, after;
		int rs, rc;

		/* The configurations too: their session caches are made at
		 * the first handshake's end. */
		hz_mem_stats(&before);
		f.ss.scfg = server_config("ec", NULL);
		f.ss.ccfg = client_config();
		hz_tls_config_set_handshake_timeout(f.ss.scfg,
						    100 * HZ_NS_PER_MS);
		hz_tls_config_set_handshake_timeout(f.ss.ccfg,
						    100 * HZ_NS_PER_MS);
		f.ss.pipe = pipe_new(&a, &b);
		hz_mem_fail_nth(n);
		rs = hz_tls_server(a, f.ss.scfg, &f.ss.server.flow);
		rc =
		    hz_tls_client(b, f.ss.ccfg, "localhost", &f.ss.client.flow);
		if (rs == 0 && rc == 0) {
			int r = harness_run_fibers(faulty_main, &f);

			/* -HZ_ENOMEM: no main fiber, nothing ran. */
			assert_true(r == 0 || r == -HZ_ENOMEM);
			whole = r == 0 && f.ping == 4;
		} else {
			assert_true(rs == 0 || rs == -HZ_ENOMEM);
			assert_true(rc == 0 || rc == -HZ_ENOMEM);
		}
		hz_mem_fail_nth(0);
		if (f.ss.server.flow != NULL)
			hz_flow_free(f.ss.server.flow);
		if (f.ss.client.flow != NULL)
			hz_flow_free(f.ss.client.flow);
		hz_tls_config_free(f.ss.scfg);
		hz_tls_config_free(f.ss.ccfg);
		hz_mem_stats(&after);
		assert_int_equal(after.live_objects, before.live_objects);
		assert_int_equal(hz_pbuf_live(), 0);
	}
	assert_true(whole);
	print_message("# a session needs %llu allocations; each failing one "
		      "fails cleanly\n",
		      (unsigned long long)n - 1);
}

/* --- the suite ------------------------------------------------------------ */

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(handshake_bulk_alpn_close_notify),
	    HARNESS_TEST(sni_picks_the_rsa_chain),
	    HARNESS_TEST(wildcard_name_implicit_handshake),
	    HARNESS_TEST(expired_certificate_refused),
	    HARNESS_TEST(wrong_host_name_refused),
	    HARNESS_TEST(untrusted_issuer_refused),
	    HARNESS_TEST(lower_reset_names_both_layers),
	    HARNESS_TEST(sessions_resume_per_name),
	    HARNESS_TEST(session_is_bound_to_its_name),
	    HARNESS_TEST(sessions_expire),
	    HARNESS_TEST(full_cache_evicts_the_oldest),
	    HARNESS_TEST(failed_handshake_forgets_the_session),
	    HARNESS_TEST(session_settings_are_checked),
	    HARNESS_TEST(write_deadlines_keep_the_stream_intact),
	    HARNESS_TEST(handshake_timeout),
	    HARNESS_TEST(garbage_from_the_peer_is_refused),
	    HARNESS_TEST(no_entropy_no_session),
	    HARNESS_TEST(no_random_source_no_session),
	    HARNESS_TEST(pem_refusals_are_named),
	    HARNESS_TEST(config_survives_allocation_failures),
	    HARNESS_TEST(flows_survive_allocation_failures),
	    HARNESS_TEST(records_arrive_intact_however_cut),
	    HARNESS_TEST(tampered_record_ends_the_session),
	    HARNESS_TEST(bad_headers_are_refused),
	    HARNESS_TEST(record_buffer_refused_then_resumed),
	    HARNESS_TEST(records_sealed_where_they_are_sent),
	    HARNESS_TEST(sealed_writes_meet_deadlines_intact),
	    HARNESS_TEST(engine_records_go_before_sealed_ones),
	    HARNESS_TEST(abort_sends_no_close_notify),
	    HARNESS_TEST(writer_timing_out_after_close_notify),
	    HARNESS_TEST(pieces_of_a_write_share_a_record),
	};
	return CERTS_RUN("tls", tests);
}
