/*
 * libFuzzer harness for the record path of the TLS flow (src/tls/
 * tls_flow.c and BearSSL's engine behind it): fuzzed bytes arrive at a
 * server TLS flow as its lower flow's input. Two modes, by the first byte:
 *
 *   0x00-0xfe  raw: the rest is what a client sent, handed out in reads
 *              of (first byte + 1) bytes; seeds are real ClientHellos
 *              (openssl s_client, curl, Haze's client).
 *   0xff       established: a real Haze client and the server complete a
 *              handshake in memory, the client sends application data,
 *              and the rest of the input is XORed over those records
 *              (bytes beyond them are appended): corrupted, cut and
 *              injected records after the handshake. The server's
 *              reads are cut by the input's length (its remainder
 *              modulo 8 picks 1-16,413 bytes, or all at once), so
 *              records arrive whole, several to a read, or in pieces;
 *              its next bit has the server's lower flow lend room, so
 *              the server's answers (a "bye" to each read) are sealed
 *              in place (hz_flow_reserve). What the client reads back
 *              must be those answers.
 *
 * The server reads until the end or a failure, then writes, shuts down
 * and is freed. Nothing may crash or leak, and every failure is named.
 *
 * Every input starts the entropy engine afresh over one fake source with
 * a fixed sequence, so the handshake, its keys and the records are the
 * same on every run: a crash found in established mode replays. The
 * session caches are emptied after each input for the same reason.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "haze/entropy.h"
#include "haze/flow.h"
#include "fuzz/fuzz_heap.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/sched.h"
#include "entropy/entropy_int.h"
#include "haze/log.h"
#include "haze/tls.h"
#include "tls_certs.h"

#define FUZZ_HEAP (32u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUEUE_CAP (256u * 1024)

/*
 * A lower flow that hands out bytes (the fuzz input, or a queue filled by
 * the other side) and either swallows writes or queues them for a peer.
 * With @pending set, running dry means "nothing yet" (-HZ_ETIMEDOUT), not
 * the end.
 */
struct replay {
	struct hz_flow flow;
	const uint8_t *data;
	size_t left, chunk;
	bool closed;
	bool pending;
	struct replay *peer; /* writes go to its queue, or nowhere */
	uint8_t *queue;	     /* what the peer wrote to us */
	size_t qlen, qoff;
};

static int replay_read(struct hz_flow *f, struct hz_view *out,
		       uint64_t deadline)
{
	struct replay *r = (struct replay *)f;
	size_t n;

	(void)deadline;
	*out = (struct hz_view){0};
	if (r->closed)
		return -HZ_ECLOSED;
	if (r->queue != NULL) {
		r->data = r->queue + r->qoff;
		r->left = r->qlen - r->qoff;
	}
	n = r->left < r->chunk ? r->left : r->chunk;
	if (n == 0)
		return r->pending ? -HZ_ETIMEDOUT : 0;
	if (hz_pbuf_alloc(NULL, n, out) != 0)
		return -HZ_ENOMEM;
	memcpy(hz_view_data(out), r->data, n);
	r->data += n;
	r->left -= n;
	r->qoff += r->queue != NULL ? n : 0;
	return (int)n;
}

static ssize_t replay_writev(struct hz_flow *f, const struct hz_iov *iov,
			     size_t n, uint64_t deadline)
{
	struct replay *r = (struct replay *)f, *p = r->peer;
	size_t total = 0;

	(void)deadline;
	if (r->closed)
		return -HZ_ECLOSED;
	for (size_t i = 0; i < n; i++) {
		if (p != NULL && iov[i].len > QUEUE_CAP - p->qlen)
			return -HZ_EIO; /* full: never a record dropped */
		if (p != NULL && iov[i].len > 0) {
			memcpy(p->queue + p->qlen, iov[i].base, iov[i].len);
			p->qlen += iov[i].len;
		}
		total += iov[i].len;
	}
	return (ssize_t)total;
}

/* Lends the room after the peer's queue (or a scratch page when there is
 * no peer): records are sealed there. */
static ssize_t replay_reserve(struct hz_flow *f, size_t min, uint8_t **buf,
			      uint64_t deadline)
{
	static uint8_t scratch[QUEUE_CAP];
	struct replay *r = (struct replay *)f, *p = r->peer;

	(void)deadline;
	if (r->closed)
		return -HZ_ECLOSED;
	if (p == NULL) {
		*buf = scratch;
		return QUEUE_CAP;
	}
	if (QUEUE_CAP - p->qlen < min)
		return -HZ_EIO; /* full: never a record dropped */
	*buf = p->queue + p->qlen;
	return (ssize_t)(QUEUE_CAP - p->qlen);
}

static void replay_commit(struct hz_flow *f, size_t len)
{
	struct replay *p = ((struct replay *)f)->peer;

	if (p != NULL)
		p->qlen += len;
}

static int replay_shutdown(struct hz_flow *f)
{
	return ((struct replay *)f)->closed ? -HZ_ECLOSED : 0;
}

static void replay_close(struct hz_flow *f)
{
	((struct replay *)f)->closed = true;
}

static void replay_free(struct hz_flow *f)
{
	struct replay *r = (struct replay *)f;

	if (r->peer != NULL)
		r->peer->peer = NULL;
	hz_free(r->queue);
	hz_free(r);
}

static const char *replay_error(const struct hz_flow *f)
{
	(void)f;
	return "replay: no error";
}

static const struct hz_flow_ops replay_ops = {
    .read = replay_read,
    .writev = replay_writev,
    .shutdown = replay_shutdown,
    .close = replay_close,
    .free = replay_free,
    .error_message = replay_error,
};

/* The same, lending room: the server's records sealed in place. */
static const struct hz_flow_ops replay_lending_ops = {
    .read = replay_read,
    .writev = replay_writev,
    .reserve = replay_reserve,
    .commit = replay_commit,
    .shutdown = replay_shutdown,
    .close = replay_close,
    .free = replay_free,
    .error_message = replay_error,
};

static struct hz_tls_config *cfg, *client_cfg;
static size_t base_objects;

/* --- a fixed entropy source ---------------------------------------------- */

static uint64_t fixed_state;

static int fixed_probe(void *ctx)
{
	(void)ctx;
	return 0;
}

/* xorshift64: never repeats within the health tests' windows. */
static int fixed_sample(void *ctx, uint64_t *out)
{
	(void)ctx;
	fixed_state ^= fixed_state << 13;
	fixed_state ^= fixed_state >> 7;
	fixed_state ^= fixed_state << 17;
	*out = fixed_state;
	return 0;
}

static const struct hz_entropy_source fixed_source = {
    .name = "fuzz-fixed",
    .h8 = 32 * 8,
    .origin = HZ_ENTROPY_ORIGIN_OTHER,
    .probe = fixed_probe,
    .sample = fixed_sample,
};

/* Starts the engine over the fixed source from its first sample. */
static void entropy_restart(void)
{
	static const struct hz_entropy_source *const srcs[] = {&fixed_source};

	fixed_state = 0x9e3779b97f4a7c15ull;
	if (hz_entropy_start(srcs, 1) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const alpn[] = {"http/1.1", "echo"};
	struct hz_mem_stats st;
	const char *why;

	(void)argc;
	(void)argv;
	fuzz_heap_init(FUZZ_HEAP);
	/* Not a line per input about the sources. */
	if (hz_log_configure("entropy:warn", &why) != 0)
		abort();
	entropy_restart();
	if (hz_tls_config_new(HZ_TLS_SERVER, &cfg) != 0 ||
	    hz_tls_config_add_chain(cfg, ec_pem, ec_pem_len, ec_key,
				    ec_key_len) != 0 ||
	    hz_tls_config_add_chain(cfg, rsa_pem, rsa_pem_len, rsa_key,
				    rsa_key_len) != 0 ||
	    hz_tls_config_set_alpn(cfg, alpn, 2) != 0 ||
	    hz_tls_config_new(HZ_TLS_CLIENT, &client_cfg) != 0 ||
	    hz_tls_config_add_anchors(client_cfg, ca_pem, ca_pem_len) != 1)
		abort();
	hz_mem_stats(&st);
	base_objects = st.live_objects;
	return 0;
}

/* Reads the server until the end or a failure, then answers and ends. */
static void serve(struct hz_flow *tls, bool answer)
{
	struct hz_view v;
	int n;

	while ((n = hz_flow_read(tls, &v, 0)) > 0) {
		hz_view_release(&v);
		/* @answer: each read answered with a "bye" at once. */
		if (answer && hz_flow_write(tls, "bye", 3, 0) != 3)
			break;
	}
	if (n < 0 && n != -HZ_ETIMEDOUT &&
	    strncmp(hz_flow_error(tls), "TLS: ", 5) != 0)
		abort(); /* every failure is named */
	if (hz_flow_write(tls, "bye", 3, 0) == 3 &&
	    hz_flow_shutdown(tls) != 0 && n == 0)
		abort();
}

static struct replay *replay_new(void)
{
	struct replay *r = hz_calloc(1, sizeof(*r));

	if (r != NULL)
		r->flow.ops = &replay_ops;
	return r;
}

/* Raw mode: the input is all the server hears. */
static void raw(const uint8_t *data, size_t size)
{
	struct replay *lower = replay_new();
	struct hz_flow *tls;

	if (lower == NULL)
		abort();
	lower->chunk = (size_t)data[0] + 1;
	lower->data = data + 1;
	lower->left = size - 1;
	if (hz_tls_server(&lower->flow, cfg, &tls) != 0)
		abort();
	serve(tls, false);
	hz_flow_free(tls);
}

/* Established mode: a real session, then the input over its records. */
static void established(const uint8_t *data, size_t size)
{
	struct replay *cs = replay_new(), *sc = replay_new();
	struct hz_flow *server, *client;
	static const char hello[] = "hello from the client, twice: "
				    "hello from the client";
	int rs = 1, rc = 1;

	if (cs == NULL || sc == NULL)
		abort();
	/* cs: the server's lower end, fed by sc (the client's). */
	cs->queue = hz_malloc(QUEUE_CAP);
	sc->queue = hz_malloc(QUEUE_CAP);
	if (cs->queue == NULL || sc->queue == NULL)
		abort();
	cs->peer = sc;
	sc->peer = cs;
	cs->pending = sc->pending = true;
	cs->chunk = sc->chunk = QUEUE_CAP;
	if (hz_tls_server(&cs->flow, cfg, &server) != 0 ||
	    hz_tls_client(&sc->flow, client_cfg, "localhost", &client) != 0)
		abort();
	for (int i = 0; i < 16 && (rs != 0 || rc != 0); i++) {
		rc = hz_tls_handshake(client, 0);
		rs = hz_tls_handshake(server, 0);
	}
	if (rs != 0 || rc != 0)
		abort(); /* an honest handshake in memory must work */
	if (hz_flow_write(client, hello, sizeof(hello) - 1, 0) !=
	    (ssize_t)sizeof(hello) - 1)
		abort();
	/* The fuzz bytes over the client's records, the rest appended. */
	for (size_t i = 0; i < size; i++) {
		size_t at = cs->qoff + i;

		if (at < cs->qlen)
			cs->queue[at] ^= data[i];
		else if (cs->qlen < QUEUE_CAP)
			cs->queue[cs->qlen++] = data[i];
	}
	cs->pending = false; /* then the end */
	{
		static const size_t cuts[] = {QUEUE_CAP, 1,   5,    7,
					      29,	 100, 4096, 16413};

		cs->chunk = cuts[size % 8];
	}
	/* The next bit of the length: the server seals its records where
	 * its lower flow lends room, or the engine does. */
	if ((size / 8) % 2 == 1)
		cs->flow.ops = &replay_lending_ops;
	serve(server, true);
	{
		struct hz_view v;
		size_t got = 0;
		int n;

		/* What the client reads is the server's answers, intact. */
		while ((n = hz_flow_read(client, &v, 0)) > 0) {
			for (int i = 0; i < n; i++)
				if (hz_view_data(&v)[i] != "bye"[(got + i) % 3])
					abort();
			got += (size_t)n;
			hz_view_release(&v);
		}
		if (n < 0 && n != -HZ_ETIMEDOUT &&
		    strncmp(hz_flow_error(client), "TLS: ", 5) != 0)
			abort();
		/* The client hears only the server, untouched: a record
		 * that fails there was sealed wrong. */
		if (n < 0 && strstr(hz_flow_error(client), "authentication"))
			abort();
	}
	hz_flow_free(server);
	hz_flow_free(client);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hz_mem_stats st;

	if (size == 0)
		return 0;
	entropy_restart();
	if (data[0] == 0xff)
		established(data + 1, size - 1);
	else
		raw(data, size);
	/* Each input starts with empty session caches (and leaves none). */
	if (hz_tls_config_set_sessions(cfg, 16, HZ_NS_PER_S) != 0 ||
	    hz_tls_config_set_sessions(client_cfg, 16, HZ_NS_PER_S) != 0)
		abort();
	hz_mem_stats(&st);
	if (st.live_objects != base_objects || hz_pbuf_live() != 0)
		abort();
	return 0;
}
