/*
 * The HTTP/1.1 server and client (src/http server.c, client.c) over the
 * simulated link: a server stack (10.0.0.2) serves http: on port 80 and
 * https: on 443 through conduit listeners; a client stack (10.0.0.1)
 * talks to it through the HTTP client and through raw TCP flows, for
 * what a well-behaved client would never send. Names resolve through a
 * small DNS server on the server stack (tests/unit/dns_stub.h).
 *
 * Keep-alive, HEAD, pipelined requests answered in order, 405 with
 * Allow, 100-continue (sent only when the handler reads the body),
 * chunked bodies both ways, HTTP/1.0, a slow client's 408, idle
 * timeouts, the connection limit (idle connections reclaimed, or
 * accepting paused), graceful stop (and its deadline), refusals on the
 * wire, the access hook's figures, and HTTPS through a TLS flow.
 */
#include "tests/unit/certs.h"
#include "tests/unit/dns_stub.h"
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haze/conduit.h"
#include "haze/http.h"
#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/simlink.h"
#include "haze/tls.h"

#define SERVER HZ_IPV4(10, 0, 0, 2)
#define MS HZ_NS_PER_MS
#define SECOND HZ_NS_PER_S
#define FIBER_STACK (256u * 1024)
#define BIG_SIZE (1u << 20)

/* A body served from where it lies (GET /big). */
static uint8_t big[BIG_SIZE];

/* Checks @e once; on failure goes to the function's cleanup (out:). */
#define REQUIRE(e)                     \
	do {                           \
		if (!HARNESS_CHECK(e)) \
			goto out;      \
	} while (0)

/* --- the fixture ---------------------------------------------------------- */

#define ACCESS_MAX 64

struct access_record {
	char method[16], target[64];
	int status;
	uint64_t start_ns, end_ns, start_wall;
	uint64_t bytes_sent, body_sent, body_received;
	bool keep_alive;
};

struct runner {
	struct hz_http_server *srv;
	struct hz_conduit_listener *l;
	int result;
	bool done;
};

struct fixture {
	struct hz_simlink *link;
	struct hz_ipstack *st[2];
	struct hz_stack *cs; /* the client's stack */
	struct hz_tls_config *tls_client, *tls_server;
	struct hz_conduit server, client;
	struct dns_stub dns;
	struct hz_http_server srv;
	struct runner http, https;
	uint64_t slow_ns; /* GET /slow sleeps this long */
	unsigned handled;
	struct access_record access[ACCESS_MAX];
	unsigned naccess;
};

static void access_hook(const struct hz_http_access *a, void *arg)
{
	struct fixture *f = arg;
	struct access_record *r;

	if (f->naccess >= ACCESS_MAX)
		return;
	r = &f->access[f->naccess++];
	snprintf(r->method, sizeof(r->method), "%s", a->method);
	snprintf(r->target, sizeof(r->target), "%s", a->target);
	r->status = a->status;
	r->start_ns = a->start_ns;
	r->end_ns = a->end_ns;
	r->start_wall = a->start_wall;
	r->bytes_sent = a->bytes_sent;
	r->body_sent = a->body_sent;
	r->body_received = a->body_received;
	r->keep_alive = a->keep_alive;
}

static bool get_or_head(struct hz_http_request *r)
{
	if (r->method == HZ_HTTP_GET || r->method == HZ_HTTP_HEAD)
		return true;
	HARNESS_CHECK(hz_http_respond_405(r, "GET, HEAD") == 0);
	return false;
}

static void echo(struct hz_http_request *r)
{
	static const struct hz_http_header h[] = {
	    {"Content-Type", "application/octet-stream"}};
	char *buf = hz_malloc(64 * 1024);
	size_t len = 0;
	ssize_t n;

	if (buf == NULL)
		return;
	while ((n = hz_http_request_read(r, buf + len, 64 * 1024 - len)) > 0)
		len += (size_t)n;
	if (n == 0)
		HARNESS_CHECK(hz_http_respond(r, 200, h, 1, buf, len) == 0);
	hz_free(buf);
}

static void stream(struct hz_http_request *r, int64_t length,
		   const char *const *pieces)
{
	static const struct hz_http_header h[] = {
	    {"Content-Type", "text/plain"}};

	HARNESS_CHECK(hz_http_stream_begin(r, 200, h, 1, length) == 0);
	for (; *pieces != NULL; pieces++)
		HARNESS_CHECK(
		    hz_http_stream_write(r, *pieces, strlen(*pieces)) == 0);
}

static void handler(struct hz_http_request *r, void *arg)
{
	static const struct hz_http_header text[] = {
	    {"Content-Type", "text/plain"}};
	static const char *const words[] = {"one ", "two ", "three", NULL};
	static const char *const letters[] = {"abc", "defghi", NULL};
	struct fixture *f = arg;
	const char *p = r->path;

	f->handled++;
	if (strcmp(p, "/hello") == 0) {
		if (get_or_head(r))
			HARNESS_CHECK(hz_http_respond(r, 200, text, 1,
						      "hello world", 11) == 0);
	} else if (strcmp(p, "/echo") == 0) {
		if (r->method != HZ_HTTP_POST)
			HARNESS_CHECK(hz_http_respond_405(r, "POST") == 0);
		else
			echo(r);
	} else if (strcmp(p, "/stream") == 0) {
		stream(r, HZ_HTTP_LENGTH_UNKNOWN, words);
		HARNESS_CHECK(hz_http_stream_end(r) == 0);
	} else if (strcmp(p, "/length") == 0) {
		stream(r, 9, letters);
		HARNESS_CHECK(hz_http_stream_end(r) == 0);
	} else if (strcmp(p, "/short") == 0) {
		stream(r, 20, letters);
		HARNESS_CHECK(hz_http_stream_end(r) == -HZ_EINVAL);
	} else if (strcmp(p, "/big") == 0) {
		HARNESS_CHECK(hz_http_respond(r, 200, NULL, 0, big, BIG_SIZE) ==
			      0);
	} else if (strcmp(p, "/slow") == 0) {
		hz_sleep_ns(f->slow_ns);
		/* Cut short by the stop's deadline, this fails. */
		if (hz_http_respond(r, 200, text, 1, "slow", 4) < 0)
			f->handled += 1000;
	} else if (strcmp(p, "/close") == 0) {
		r->keep_alive = false;
		HARNESS_CHECK(hz_http_respond(r, 200, text, 1, "bye", 3) == 0);
	} else if (strcmp(p, "/reserved") == 0) {
		static const struct hz_http_header cl[] = {
		    {"content-length", "3"}};

		HARNESS_CHECK(hz_http_respond(r, 200, cl, 1, "abc", 3) ==
			      -HZ_EINVAL);
		HARNESS_CHECK(hz_http_respond_status(r, 404) == 0);
	} else if (strcmp(p, "/noreply") != 0) {
		HARNESS_CHECK(hz_http_respond_status(r, 404) == 0);
	}
}

static void runner_fiber(void *arg)
{
	struct runner *r = arg;

	r->result = hz_http_server_run_conduit(r->srv, r->l);
	r->done = true;
}

static struct hz_tls_config *tls_server_config(void)
{
	struct pem c = pem_load("ec.pem"), k = pem_load("ec.key");
	struct hz_tls_config *cfg = NULL;

	if (hz_tls_config_new(HZ_TLS_SERVER, &cfg) == 0)
		HARNESS_CHECK(hz_tls_config_add_chain(cfg, c.data, c.len,
						      k.data, k.len) == 0);
	pem_drop(&c);
	pem_drop(&k);
	return cfg;
}

static struct hz_tls_config *tls_client_config(void)
{
	struct pem ca = pem_load("ca.pem");
	struct hz_tls_config *cfg = NULL;

	if (hz_tls_config_new(HZ_TLS_CLIENT, &cfg) == 0)
		HARNESS_CHECK(hz_tls_config_add_anchors(cfg, ca.data, ca.len) ==
			      1);
	pem_drop(&ca);
	return cfg;
}

/* Sets up both stacks and a server configured as @cfg says (handler,
 * access hook and stack size filled in). */
static struct fixture *fixture_up(const struct hz_http_server_config *cfg)
{
	struct hz_simlink_config lc = {
	    .ports = 2, .seed = 7, .delay_ns = 100000};
	struct hz_conduit_config cc = {0};
	struct hz_http_server_config sc =
	    cfg != NULL ? *cfg : (struct hz_http_server_config){0};
	struct fixture *f = calloc(1, sizeof(*f));

	HARNESS_CHECK(f != NULL);
	HARNESS_CHECK(hz_simlink_create(&lc, &f->link) == 0);
	for (unsigned i = 0; i < 2; i++) {
		struct hz_ipstack_config c = {
		    .addr = HZ_IPV4(10, 0, 0, i + 1),
		    .prefix_len = 24,
		    .seed = i + 31,
		};

		HARNESS_CHECK(hz_ipstack_create(hz_simlink_port(f->link, i), &c,
						&f->st[i]) == 0);
	}
	f->cs = hz_ipstack_stack(f->st[0]);
	f->tls_client = tls_client_config();
	f->tls_server = tls_server_config();
	dns_stub_start(&f->dns, hz_ipstack_stack(f->st[1]));

	cc.stack = hz_ipstack_stack(f->st[1]);
	cc.tls_server = f->tls_server;
	hz_conduit_init(&f->server, &cc);
	HARNESS_CHECK(
	    hz_conduit_listen(&f->server, "tcp:0.0.0.0:80", &f->http.l) == 0);
	HARNESS_CHECK(hz_conduit_listen(&f->server, "tls:10.0.0.2:443",
					&f->https.l) == 0);
	cc = (struct hz_conduit_config){0};
	cc.stack = f->cs;
	cc.tls_client = f->tls_client;
	cc.dns.servers[0] = SERVER;
	cc.dns.timeout_ns = 200 * MS;
	hz_conduit_init(&f->client, &cc);

	sc.handler = handler;
	sc.arg = f;
	sc.access = access_hook;
	sc.access_arg = f;
	sc.fiber_stack = FIBER_STACK;
	hz_http_server_init(&f->srv, &sc);
	f->http.srv = f->https.srv = &f->srv;
	HARNESS_CHECK(hz_fiber_spawn("http-run", runner_fiber, &f->http, 0) ==
		      0);
	HARNESS_CHECK(hz_fiber_spawn("https-run", runner_fiber, &f->https, 0) ==
		      0);
	return f;
}

static void fixture_down(struct fixture *f)
{
	HARNESS_CHECK(hz_http_server_stop(&f->srv, hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(f->http.done && f->https.done);
	HARNESS_CHECK(f->http.result == 0 && f->https.result == 0);
	HARNESS_CHECK(hz_http_server_connections(&f->srv) == 0);
	f->dns.stop = true;
	while (!f->dns.done)
		hz_sleep_ns(5 * MS);
	hz_conduit_unlisten(f->http.l);
	hz_conduit_unlisten(f->https.l);
	hz_udp_close(f->dns.s, f->dns.u);
	for (unsigned i = 0; i < 2; i++)
		hz_ipstack_destroy(f->st[i]);
	hz_simlink_destroy(f->link);
	hz_tls_config_free(f->tls_client);
	hz_tls_config_free(f->tls_server);
	free(f);
}

/* --- helpers -------------------------------------------------------------- */

/* A TCP flow to the server's port 80. */
static struct hz_flow *raw_connect(struct fixture *f)
{
	struct hz_sockaddr dst = {SERVER, 80};
	struct hz_flow *flow = NULL;

	HARNESS_CHECK(
	    hz_tcp_connect(f->cs, &dst, hz_now() + 5 * SECOND, &flow) == 0);
	return flow;
}

static bool raw_send(struct hz_flow *flow, const char *s)
{
	size_t len = strlen(s);

	return hz_flow_write(flow, s, len, hz_now() + 5 * SECOND) ==
	       (ssize_t)len;
}

/*
 * Reads until the peer's end or @deadline into @buf (NUL-terminated);
 * the length, with *@eof saying whether the end came.
 */
static size_t raw_read(struct hz_flow *flow, char *buf, size_t cap,
		       uint64_t deadline, bool *eof)
{
	size_t len = 0;

	*eof = false;
	while (len + 1 < cap) {
		ssize_t n =
		    hz_flow_read_copy(flow, buf + len, cap - 1 - len, deadline);

		if (n <= 0) {
			*eof = n == 0 || n == -HZ_ECONNRESET;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* Reads exactly strlen(@want) bytes and compares them. */
static bool raw_expect(struct hz_flow *flow, const char *want)
{
	size_t len = strlen(want), got = 0;
	char buf[256];

	while (got < len && got < sizeof(buf)) {
		ssize_t n = hz_flow_read_copy(flow, buf + got, len - got,
					      hz_now() + 5 * SECOND);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return got == len && memcmp(buf, want, len) == 0;
}

/* Sends a request and reads its response into @res (body in @body). */
static int fetch(struct hz_http_client *c, const char *method,
		 const char *target, const void *body, size_t len,
		 struct hz_http_client_response *res, char *out, size_t cap)
{
	int r;

	res->body = out;
	res->body_cap = cap;
	r = hz_http_client_send(c, method, target, NULL, 0, body, len,
				hz_now() + 5 * SECOND);
	if (r == 0)
		r = hz_http_client_recv(c, strcmp(method, "HEAD") == 0, res,
					hz_now() + 10 * SECOND);
	if (r == 0 && out != NULL && res->body_len < cap)
		out[res->body_len] = '\0';
	return r;
}

/*
 * Reads a response on @c into @res, its body into @body (of @size bytes,
 * NUL-terminated when the read succeeds); returns what the read returned.
 */
static int receive(struct hz_http_client *c, bool head,
		   struct hz_http_client_response *res, char *body, size_t size,
		   uint64_t deadline)
{
	int r;

	res->body = body;
	res->body_cap = size - 1;
	r = hz_http_client_recv(c, head, res, deadline);
	if (r == 0)
		body[res->body_len] = '\0';
	return r;
}

static struct hz_http_client *client_new(void)
{
	struct hz_http_client *c = hz_calloc(1, sizeof(*c));

	HARNESS_CHECK(c != NULL);
	return c;
}

/* Closes and frees a client from client_new (NULL is ignored). */
static void client_free(struct hz_http_client *c)
{
	if (c == NULL)
		return;
	hz_http_client_close(c);
	hz_free(c);
}

/* Frees a raw flow (NULL is ignored). */
static void flow_free(struct hz_flow *flow)
{
	if (flow != NULL)
		hz_flow_free(flow);
}

/* Frees raw @flow unless client @c took it, then @c, then the fixture. */
static void raw_client_down(struct fixture *f, struct hz_http_client *c,
			    struct hz_flow *flow)
{
	if (c->flow == NULL)
		flow_free(flow);
	client_free(c);
	fixture_down(f);
}

/* Waits (a little at a time) until @cond holds or 5 s pass. */
#define WAIT_FOR(cond)                                   \
	do {                                             \
		uint64_t until_ = hz_now() + 5 * SECOND; \
		while (!(cond) && hz_now() < until_)     \
			hz_sleep_ns(2 * MS);             \
	} while (0)

/* --- keep-alive, HEAD, the access hook ------------------------------------ */

static int keep_alive_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	uint64_t accepted = harness_counter("http", "conn_accepted"), t;
	const char *date;
	char body[64];

	(void)arg;
	REQUIRE(hz_http_client_open(c, &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE(fetch(c, "GET", "/hello", NULL, 0, &res, body,
			      sizeof(body)) == 0);
		HARNESS_CHECK(res.status == 200);
		HARNESS_CHECK(strcmp(body, "hello world") == 0);
		HARNESS_CHECK(res.keep_alive);
		HARNESS_CHECK(
		    strcmp(hz_http_head_get(res.head, "content-length"),
			   "11") == 0);
		HARNESS_CHECK(strcmp(hz_http_head_get(res.head, "Content-Type"),
				     "text/plain") == 0);
		date = hz_http_head_get(res.head, "Date");
		HARNESS_CHECK(date != NULL &&
			      hz_http_date_parse(date, &t) == 0 &&
			      t > 1600000000);
		HARNESS_CHECK(hz_http_head_get(res.head, "Connection") == NULL);
	}
	/* HEAD: the length of the GET, no body, and the connection still
	 * in step. */
	REQUIRE(fetch(c, "HEAD", "/hello", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(res.status == 200 && res.body_total == 0);
	HARNESS_CHECK(
	    strcmp(hz_http_head_get(res.head, "Content-Length"), "11") == 0);
	REQUIRE(fetch(c, "GET", "/nothing", NULL, 0, &res, body,
		      sizeof(body)) == 0);
	HARNESS_CHECK(res.status == 404 &&
		      strcmp(body, "404 Not Found\n") == 0);
	REQUIRE(fetch(c, "GET", "/big", NULL, 0, &res, NULL, 0) == 0);
	HARNESS_CHECK(res.status == 200 && res.body_total == BIG_SIZE);
	/* One connection served all of it. */
	HARNESS_CHECK(harness_counter("http", "conn_accepted") == accepted + 1);
	HARNESS_CHECK(hz_http_server_connections(&f->srv) == 1);
	/* The access hook saw each, timed and sized. */
	HARNESS_CHECK(f->naccess == 6);
	for (unsigned i = 0; i < 3; i++) {
		struct access_record *a = &f->access[i];

		HARNESS_CHECK(strcmp(a->method, "GET") == 0 &&
			      strcmp(a->target, "/hello") == 0);
		HARNESS_CHECK(a->status == 200 && a->keep_alive);
		HARNESS_CHECK(a->body_sent == 11);
		/* Status line, Date, Content-Type, Content-Length. */
		HARNESS_CHECK(a->bytes_sent == 17 + 37 + 26 + 20 + 2 + 11);
		HARNESS_CHECK(a->end_ns >= a->start_ns &&
			      a->end_ns - a->start_ns < SECOND);
		HARNESS_CHECK(a->start_wall > 1600000000ull * SECOND);
		if (i > 0)
			HARNESS_CHECK(a->start_ns >= f->access[i - 1].end_ns);
	}
	HARNESS_CHECK(f->access[3].body_sent == 0 &&
		      f->access[3].bytes_sent == 17 + 37 + 26 + 20 + 2);
	HARNESS_CHECK(f->access[5].body_sent == BIG_SIZE);
out:
	client_free(c);
	fixture_down(f);
	return 0;
}

static void keep_alive_head_and_access(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(keep_alive_main, NULL), 0);
}

/* --- pipelining ----------------------------------------------------------- */

static int pipelining_main(void *arg)
{
	static const char requests[] =
	    "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"
	    "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
	    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n"
	    "DELETE /hello HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /length HTTP/1.1\r\nHost: a\r\n\r\n";
	static const struct {
		bool head;
		int status;
		const char *body;
	} want[] = {
	    {false, 200, "hello world"},
	    {false, 200, "one two three"},
	    {true, 200, ""},
	    {false, 200, "abc"},
	    {false, 404, "404 Not Found\n"},
	    {false, 405, "405 Method Not Allowed\n"},
	    {false, 200, "abcdefghi"},
	};
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	struct hz_flow *flow = raw_connect(f);
	char body[64];

	(void)arg;
	REQUIRE(flow != NULL);
	/* All at once, in one write: answered one by one, in order. */
	REQUIRE(raw_send(flow, requests));
	hz_http_client_attach(c, flow, "a");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		REQUIRE(receive(c, want[i].head, &res, body, sizeof(body),
				hz_now() + 5 * SECOND) == 0);
		HARNESS_CHECK(res.status == want[i].status);
		HARNESS_CHECK(strcmp(body, want[i].body) == 0);
		HARNESS_CHECK(res.keep_alive);
		if (i == 1)
			HARNESS_CHECK(strcmp(hz_http_head_get(
						 res.head, "Transfer-Encoding"),
					     "chunked") == 0);
		if (i == 5)
			HARNESS_CHECK(
			    strcmp(hz_http_head_get(res.head, "Allow"),
				   "GET, HEAD") == 0);
		if (i == 6)
			HARNESS_CHECK(
			    strcmp(hz_http_head_get(res.head, "Content-Length"),
				   "9") == 0);
	}
	HARNESS_CHECK(f->naccess == 7);
	HARNESS_CHECK(strcmp(f->access[3].target, "/echo") == 0 &&
		      f->access[3].body_received == 3);
out:
	raw_client_down(f, c, flow);
	return 0;
}

static void pipelined_requests_in_order(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(pipelining_main, NULL), 0);
}

/* --- 100-continue, chunked, HTTP/1.0, bodies left unread ------------------ */

static int continue_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	struct hz_flow *flow = raw_connect(f);
	char body[64], buf[512];
	bool eof;

	(void)arg;
	REQUIRE(flow != NULL);
	/* The handler reads the body: 100 first, then the answer. */
	REQUIRE(raw_send(flow, "POST /echo HTTP/1.1\r\nHost: a\r\n"
			       "Content-Length: 5\r\nExpect: 100-continue\r\n"
			       "\r\n"));
	HARNESS_CHECK(raw_expect(flow, "HTTP/1.1 100 Continue\r\n\r\n"));
	REQUIRE(raw_send(flow, "hello"));
	hz_http_client_attach(c, flow, "a");
	REQUIRE(receive(c, false, &res, body, sizeof(body),
			hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "hello") == 0);
	HARNESS_CHECK(res.keep_alive);
	hz_http_client_close(c);
	flow = NULL;
	/* The handler answers without reading: no 100, and the
	 * connection closes, since the body may or may not come. */
	flow = raw_connect(f);
	REQUIRE(flow != NULL);
	REQUIRE(raw_send(flow, "PUT /hello HTTP/1.1\r\nHost: a\r\n"
			       "Content-Length: 5\r\nExpect: 100-continue\r\n"
			       "\r\n"));
	raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	HARNESS_CHECK(strncmp(buf, "HTTP/1.1 405 Method Not Allowed\r\n", 33) ==
		      0);
	HARNESS_CHECK(strstr(buf, "\r\nConnection: close\r\n") != NULL);
	HARNESS_CHECK(strstr(buf, "100 Continue") == NULL);
	HARNESS_CHECK(eof);
out:
	raw_client_down(f, c, flow);
	return 0;
}

static void expect_100_continue(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(continue_main, NULL), 0);
}

static int chunked_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	struct hz_flow *flow = raw_connect(f);
	char body[64];

	(void)arg;
	REQUIRE(flow != NULL);
	/* A chunked request body, with extensions and a trailer, reaches
	 * the handler de-chunked. */
	REQUIRE(raw_send(flow, "POST /echo HTTP/1.1\r\nHost: a\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n"
			       "5;a=b\r\nhello\r\n6\r\n world\r\n"
			       "0\r\nX-Trailer: 1\r\n\r\n"));
	hz_http_client_attach(c, flow, "a");
	REQUIRE(receive(c, false, &res, body, sizeof(body),
			hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "hello world") == 0);
	/* A streamed response of unknown length goes chunked. */
	REQUIRE(fetch(c, "GET", "/stream", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(strcmp(body, "one two three") == 0);
	HARNESS_CHECK(hz_http_head_get(res.head, "Content-Length") == NULL);
	/* One whose length was promised and not kept is cut: the client
	 * sees the connection end inside the body. */
	HARNESS_CHECK(
	    fetch(c, "GET", "/short", NULL, 0, &res, body, sizeof(body)) < 0);
	HARNESS_CHECK(strstr(hz_http_client_error(c),
			     "the stream ended inside a message") != NULL);
out:
	raw_client_down(f, c, flow);
	return 0;
}

static void chunked_both_ways(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(chunked_main, NULL), 0);
}

static int http10_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_flow *flow = raw_connect(f);
	char buf[1024];
	bool eof;

	(void)arg;
	REQUIRE(flow != NULL);
	/* HTTP/1.0 closes unless asked. */
	REQUIRE(raw_send(flow, "GET /hello HTTP/1.0\r\n\r\n"));
	raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	HARNESS_CHECK(eof);
	HARNESS_CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	HARNESS_CHECK(strstr(buf, "Connection: close\r\n") != NULL);
	HARNESS_CHECK(strstr(buf, "\r\n\r\nhello world") != NULL);
	hz_flow_free(flow);
	flow = NULL;
	/* With keep-alive, it stays, saying so; a body of unknown length
	 * then ends with the connection (no chunks in HTTP/1.0). */
	flow = raw_connect(f);
	REQUIRE(flow != NULL);
	REQUIRE(raw_send(flow, "GET /hello HTTP/1.0\r\n"
			       "Connection: keep-alive\r\n\r\n"));
	HARNESS_CHECK(raw_expect(flow, "HTTP/1.1 200 OK\r\n"));
	raw_read(flow, buf, sizeof(buf), hz_now() + 300 * MS, &eof);
	HARNESS_CHECK(!eof);
	HARNESS_CHECK(strstr(buf, "Connection: keep-alive\r\n") != NULL);
	REQUIRE(raw_send(flow, "GET /stream HTTP/1.0\r\n"
			       "Connection: keep-alive\r\n\r\n"));
	raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	HARNESS_CHECK(eof);
	HARNESS_CHECK(strstr(buf, "Transfer-Encoding") == NULL);
	HARNESS_CHECK(strstr(buf, "Connection: close\r\n\r\none two three") !=
		      NULL);
out:
	flow_free(flow);
	fixture_down(f);
	return 0;
}

static void http_1_0(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(http10_main, NULL), 0);
}

/* Writes @len zero bytes of body, in a fiber of its own. */
struct body_writer {
	struct hz_flow *flow;
	size_t len;
	bool ok, done;
};

static void body_writer_fiber(void *arg)
{
	static const char zeros[4096];
	struct body_writer *w = arg;
	size_t n = w->len;

	w->ok = true;
	while (n > 0 && w->ok) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		w->ok = hz_flow_write(w->flow, zeros, k,
				      hz_now() + 5 * SECOND) == (ssize_t)k;
		n -= k;
	}
	w->done = true;
}

static int unread_body_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	struct hz_flow *flow = raw_connect(f);
	struct body_writer w = {.done = true};
	char body[64];

	(void)arg;
	REQUIRE(flow != NULL);
	hz_http_client_attach(c, flow, "a");
	/* 100 KB the handler does not read: discarded, the connection
	 * stays and the next request parses. */
	REQUIRE(raw_send(flow, "PUT /hello HTTP/1.1\r\nHost: a\r\n"
			       "Content-Length: 100000\r\n\r\n"));
	w = (struct body_writer){flow, 100000, false, false};
	REQUIRE(hz_fiber_spawn("body", body_writer_fiber, &w, 0) == 0);
	REQUIRE(receive(c, false, &res, body, sizeof(body),
			hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(res.status == 405 && res.keep_alive);
	WAIT_FOR(w.done);
	HARNESS_CHECK(w.ok);
	REQUIRE(fetch(c, "GET", "/hello", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "hello world") == 0);
	/* 600 KB is more than worth reading: the connection closes (and
	 * the rest of the body may not go). */
	REQUIRE(raw_send(flow, "PUT /hello HTTP/1.1\r\nHost: a\r\n"
			       "Content-Length: 600000\r\n\r\n"));
	w = (struct body_writer){flow, 600000, false, false};
	REQUIRE(hz_fiber_spawn("body", body_writer_fiber, &w, 0) == 0);
	REQUIRE(hz_http_client_recv(c, false, &res, hz_now() + 5 * SECOND) ==
		0);
	HARNESS_CHECK(res.status == 405);
	WAIT_FOR(w.done);
	HARNESS_CHECK(
	    fetch(c, "GET", "/hello", NULL, 0, &res, body, sizeof(body)) < 0);
out:
	WAIT_FOR(w.done);
	raw_client_down(f, c, flow);
	return 0;
}

static void unread_bodies_drained_or_closed(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(unread_body_main, NULL), 0);
}

/* --- timeouts ------------------------------------------------------------- */

static int slowloris_main(void *arg)
{
	struct hz_http_server_config sc = {.header_timeout_ns = 300 * MS};
	struct fixture *f = fixture_up(&sc);
	uint64_t timeouts = harness_counter("http", "conn_header_timeout");
	uint64_t idle = harness_counter("http", "conn_idle_timeout"), t0, t1;
	static const char dribble[] = "st: a\r\nX-Slow: 0123456789\r\n";
	struct hz_flow *flow = raw_connect(f);
	char buf[512];
	bool eof;

	(void)arg;
	REQUIRE(flow != NULL);
	/* A byte every 20 ms keeps coming, but the head as a whole is
	 * late: 408, then the close. */
	t0 = hz_now();
	REQUIRE(raw_send(flow, "GET /hello HTTP/1.1\r\nHo"));
	for (size_t i = 0; i < sizeof(dribble) - 1; i++) {
		char b[2] = {dribble[i], '\0'};

		hz_sleep_ns(20 * MS);
		if (!raw_send(flow, b))
			break;
	}
	raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	t1 = hz_now();
	HARNESS_CHECK(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) ==
		      0);
	HARNESS_CHECK(strstr(buf, "Connection: close\r\n") != NULL);
	HARNESS_CHECK(eof);
	/* The deadline runs from the first byte, which t0 precedes. */
	HARNESS_CHECK_GE(t1 - t0, 300 * MS);
	HARNESS_CHECK_LT(t1 - t0, 3 * SECOND);
	HARNESS_CHECK(harness_counter("http", "conn_header_timeout") ==
		      timeouts + 1);
	HARNESS_CHECK(f->naccess == 1 && f->access[0].status == 408);
	hz_flow_free(flow);
	flow = NULL;
	/* A connection that never says anything is closed, silently. */
	t0 = hz_now();
	flow = raw_connect(f);
	REQUIRE(flow != NULL);
	HARNESS_CHECK(
	    raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof) == 0);
	HARNESS_CHECK(eof);
	HARNESS_CHECK_GE(hz_now() - t0, 300 * MS);
	HARNESS_CHECK(harness_counter("http", "conn_idle_timeout") == idle + 1);
out:
	flow_free(flow);
	fixture_down(f);
	return 0;
}

static void slowloris_gets_408(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(slowloris_main, NULL), 0);
}

/*
 * A body that keeps coming, a byte at a time, each well within
 * io_timeout, but slower than body_min_rate: 408 once the body's own
 * deadline (io_timeout, plus 1 s per body_min_rate bytes) passes. A body
 * at the rate or faster is read whole (the other tests' bodies).
 */
static int slow_body_main(void *arg)
{
	struct hz_http_server_config sc = {.io_timeout_ns = 300 * MS,
					   .body_min_rate = 100};
	struct fixture *f = fixture_up(&sc);
	uint64_t timeouts = harness_counter("http", "conn_io_timeout"), t0;
	struct hz_flow *flow = raw_connect(f);
	char buf[512];
	bool eof;

	(void)arg;
	REQUIRE(flow != NULL);
	t0 = hz_now();
	REQUIRE(raw_send(flow, "POST /echo HTTP/1.1\r\nHost: a\r\n"
			       "Content-Length: 1000\r\n\r\n"));
	/* 25 bytes/s against 100: each byte buys 10 ms and costs 40, so
	 * the body is late after about 400 ms; the reads stay within
	 * io_timeout for ever, and without the body's deadline the 408
	 * would come only 300 ms after the last byte (3.3 s). */
	buf[0] = '\0';
	for (unsigned i = 0; i < 75 && buf[0] == '\0'; i++) {
		if (!raw_send(flow, "x"))
			break;
		raw_read(flow, buf, sizeof(buf), hz_now() + 40 * MS, &eof);
	}
	if (buf[0] == '\0')
		raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	HARNESS_CHECK(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) ==
		      0);
	HARNESS_CHECK_GE(hz_now() - t0, 300 * MS);
	HARNESS_CHECK_LT(hz_now() - t0, 2 * SECOND);
	HARNESS_CHECK(harness_counter("http", "conn_io_timeout") ==
		      timeouts + 1);
out:
	flow_free(flow);
	fixture_down(f);
	return 0;
}

static void slow_body_gets_408(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(slow_body_main, NULL), 0);
}

static int idle_main(void *arg)
{
	struct hz_http_server_config sc = {.idle_timeout_ns = 300 * MS};
	struct fixture *f = fixture_up(&sc);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	uint64_t idle = harness_counter("http", "conn_idle_timeout"), t0, t1;
	char body[64];
	bool eof;

	(void)arg;
	REQUIRE(hz_http_client_open(c, &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	/* The idle time starts after the response, which t0 precedes. */
	t0 = hz_now();
	REQUIRE(fetch(c, "GET", "/hello", NULL, 0, &res, body, sizeof(body)) ==
		0);
	t1 = hz_now();
	/* Nothing more to say: the server ends the connection. */
	HARNESS_CHECK(raw_read(c->flow, body, sizeof(body),
			       hz_now() + 5 * SECOND, &eof) == 0);
	HARNESS_CHECK(eof);
	HARNESS_CHECK_GE(hz_now() - t0, 300 * MS);
	HARNESS_CHECK_LT(hz_now() - t1, 3 * SECOND);
	HARNESS_CHECK(harness_counter("http", "conn_idle_timeout") == idle + 1);
out:
	client_free(c);
	fixture_down(f);
	return 0;
}

static void idle_keep_alive_times_out(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(idle_main, NULL), 0);
}

/* --- the connection limit ------------------------------------------------- */

static int limit_main(void *arg)
{
	struct hz_http_server_config sc = {.max_conns = 2};
	struct fixture *f = fixture_up(&sc);
	struct hz_http_client *c[3] = {client_new(), client_new(),
				       client_new()};
	struct hz_http_client_response res;
	uint64_t reclaimed = harness_counter("http", "conn_reclaimed_idle");
	uint64_t waits = harness_counter("http", "conn_limit_waits");
	struct hz_flow *quiet[2] = {NULL, NULL};
	char body[64];

	(void)arg;
	/* Two connections served and idle; a third reclaims the older. */
	for (int i = 0; i < 2; i++) {
		REQUIRE(hz_http_client_open(c[i], &f->client,
					    "http://10.0.0.2/",
					    hz_now() + 5 * SECOND) == 0);
		REQUIRE(fetch(c[i], "GET", "/hello", NULL, 0, &res, body,
			      sizeof(body)) == 0);
	}
	HARNESS_CHECK(hz_http_server_connections(&f->srv) == 2);
	REQUIRE(hz_http_client_open(c[2], &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	REQUIRE(fetch(c[2], "GET", "/hello", NULL, 0, &res, body,
		      sizeof(body)) == 0);
	HARNESS_CHECK(res.status == 200);
	HARNESS_CHECK(harness_counter("http", "conn_reclaimed_idle") ==
		      reclaimed + 1);
	HARNESS_CHECK(fetch(c[0], "GET", "/hello", NULL, 0, &res, body,
			    sizeof(body)) < 0);
	HARNESS_CHECK(fetch(c[1], "GET", "/hello", NULL, 0, &res, body,
			    sizeof(body)) == 0);
	for (int i = 0; i < 3; i++)
		hz_http_client_close(c[i]);
	WAIT_FOR(hz_http_server_connections(&f->srv) == 0);
	/* Two that have not asked anything are not reclaimed: the third
	 * waits until one of them goes. */
	quiet[0] = raw_connect(f);
	quiet[1] = raw_connect(f);
	REQUIRE(quiet[0] != NULL && quiet[1] != NULL);
	WAIT_FOR(hz_http_server_connections(&f->srv) == 2);
	REQUIRE(hz_http_client_open(c[2], &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	REQUIRE(hz_http_client_send(c[2], "GET", "/hello", NULL, 0, NULL, 0,
				    hz_now() + SECOND) == 0);
	HARNESS_CHECK(receive(c[2], false, &res, body, sizeof(body),
			      hz_now() + 300 * MS) == -HZ_ETIMEDOUT);
	HARNESS_CHECK(harness_counter("http", "conn_limit_waits") > waits);
	hz_flow_free(quiet[0]);
	quiet[0] = NULL;
	HARNESS_CHECK(
	    hz_http_client_recv(c[2], false, &res, hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(res.status == 200);
out:
	flow_free(quiet[0]);
	flow_free(quiet[1]);
	for (int i = 0; i < 3; i++)
		client_free(c[i]);
	fixture_down(f);
	return 0;
}

static void connection_limit(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(limit_main, NULL), 0);
}

/* The heap held by hog(), freed by unhog(). */
static void *hog_blocks[4096];
static unsigned hog_count;

/*
 * Takes the heap in 16 KiB blocks, then pages, then gives back every
 * other one of the last 24 blocks: room for a TCP connection's rings and
 * a request, none for an HTTP connection's 64 KiB fiber stack.
 */
static void hog(void)
{
	unsigned blocks;

	hog_count = 0;
	while (hog_count < 4096 &&
	       (hog_blocks[hog_count] = hz_malloc(16 * 1024)) != NULL)
		hog_count++;
	blocks = hog_count;
	while (hog_count < 4096 &&
	       (hog_blocks[hog_count] = hz_malloc(4096)) != NULL)
		hog_count++;
	for (unsigned i = blocks > 24 ? blocks - 24 : 0; i < blocks; i += 2) {
		hz_free(hog_blocks[i]);
		hog_blocks[i] = NULL;
	}
}

static void unhog(void)
{
	for (unsigned i = 0; i < hog_count; i++)
		hz_free(hog_blocks[i]);
	hog_count = 0;
}

/*
 * When the heap, not max_conns, is the limit, a new connection is not
 * accepted and dropped: the longest-idle served connection makes room,
 * else one that has said nothing for a second (such connections held a
 * site: ~300 of them filled a 32 MiB heap and every new client was
 * dropped at once), and the new one is served.
 */
static int memory_limit_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c[3] = {client_new(), client_new(),
				       client_new()};
	struct hz_http_client_response res;
	uint64_t reclaimed = harness_counter("http", "conn_reclaimed_idle");
	uint64_t waits = harness_counter("http", "conn_memory_waits");
	uint64_t dropped = harness_counter("http", "conn_no_memory");
	struct hz_flow *quiet = NULL;
	char body[64];
	bool eof;

	(void)arg;
	REQUIRE(hz_http_client_open(c[0], &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	REQUIRE(fetch(c[0], "GET", "/hello", NULL, 0, &res, body,
		      sizeof(body)) == 0);
	hog();
	REQUIRE(hz_http_client_open(c[1], &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(fetch(c[1], "GET", "/hello", NULL, 0, &res, body,
			    sizeof(body)) == 0);
	HARNESS_CHECK(res.status == 200);
	HARNESS_CHECK(harness_counter("http", "conn_memory_waits") > waits);
	HARNESS_CHECK(harness_counter("http", "conn_reclaimed_idle") ==
		      reclaimed + 1);
	HARNESS_CHECK(fetch(c[0], "GET", "/hello", NULL, 0, &res, body,
			    sizeof(body)) < 0);
	unhog();
	hz_http_client_close(c[1]);
	WAIT_FOR(hz_http_server_connections(&f->srv) == 0);

	/* A connection that never asks anything, a second on: it goes. */
	quiet = raw_connect(f);
	REQUIRE(quiet != NULL);
	WAIT_FOR(hz_http_server_connections(&f->srv) == 1);
	hz_sleep_ns(1100 * MS);
	hog();
	REQUIRE(hz_http_client_open(c[2], &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(fetch(c[2], "GET", "/hello", NULL, 0, &res, body,
			    sizeof(body)) == 0);
	HARNESS_CHECK(res.status == 200);
	HARNESS_CHECK(
	    raw_read(quiet, body, sizeof(body), hz_now() + SECOND, &eof) == 0);
	HARNESS_CHECK(eof);
	HARNESS_CHECK(harness_counter("http", "conn_reclaimed_idle") ==
		      reclaimed + 2);
	HARNESS_CHECK(harness_counter("http", "conn_no_memory") == dropped);
out:
	unhog();
	flow_free(quiet);
	for (int i = 0; i < 3; i++)
		client_free(c[i]);
	fixture_down(f);
	return 0;
}

static void memory_limit_reclaims(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(memory_limit_main, NULL), 0);
}

/* --- graceful stop -------------------------------------------------------- */

struct stopper {
	struct hz_http_server *srv;
	uint64_t after, deadline_in;
	int result;
	uint64_t at; /* when stop returned */
	bool done;
};

static void stopper_fiber(void *arg)
{
	struct stopper *s = arg;

	hz_sleep_ns(s->after);
	s->result = hz_http_server_stop(s->srv, hz_now() + s->deadline_in);
	s->at = hz_now();
	s->done = true;
}

/*
 * Opens @busy, sends it GET /slow, notes the time in @t0 and starts @st's
 * stopper; false, the failure recorded, if a step failed.
 */
static bool slow_request_then_stop(struct fixture *f,
				   struct hz_http_client *busy,
				   struct stopper *st, uint64_t *t0)
{
	if (!HARNESS_CHECK(hz_http_client_open(busy, &f->client,
					       "http://10.0.0.2/",
					       hz_now() + 5 * SECOND) == 0))
		return false;
	if (!HARNESS_CHECK(hz_http_client_send(busy, "GET", "/slow", NULL, 0,
					       NULL, 0,
					       hz_now() + SECOND) == 0))
		return false;
	*t0 = hz_now();
	st->done = false;
	return HARNESS_CHECK(hz_fiber_spawn("stopper", stopper_fiber, st, 0) ==
			     0);
}

static int stop_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *idle = client_new(), *busy = client_new();
	struct hz_http_client_response res;
	struct stopper st = {&f->srv, 50 * MS, 5 * SECOND, 0, 0, true};
	uint64_t stopped = harness_counter("http", "conn_closed_by_stop"), t0;
	char body[64];
	bool eof;

	(void)arg;
	f->slow_ns = 400 * MS;
	REQUIRE(hz_http_client_open(idle, &f->client, "http://10.0.0.2/",
				    hz_now() + 5 * SECOND) == 0);
	REQUIRE(fetch(idle, "GET", "/hello", NULL, 0, &res, body,
		      sizeof(body)) == 0);
	if (!slow_request_then_stop(f, busy, &st, &t0))
		goto out;
	/* The idle connection goes at once, while the slow request is
	 * still in its handler... */
	HARNESS_CHECK(raw_read(idle->flow, body, sizeof(body),
			       hz_now() + 5 * SECOND, &eof) == 0);
	HARNESS_CHECK(eof);
	HARNESS_CHECK_EQ(f->naccess, 1);
	HARNESS_CHECK_LT(hz_now() - t0, SECOND);
	/* ...the request in flight is answered, closing... */
	REQUIRE(receive(busy, false, &res, body, sizeof(body),
			hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "slow") == 0);
	HARNESS_CHECK(!res.keep_alive);
	HARNESS_CHECK(
	    strcmp(hz_http_head_get(res.head, "Connection"), "close") == 0);
	/* ...and then stop returns, the accept loops with it. */
	WAIT_FOR(st.done);
	HARNESS_CHECK(st.result == 0);
	HARNESS_CHECK(f->http.done && f->https.done);
	HARNESS_CHECK(hz_http_server_connections(&f->srv) == 0);
	HARNESS_CHECK(harness_counter("http", "conn_closed_by_stop") ==
		      stopped + 1);
out:
	WAIT_FOR(st.done);
	client_free(idle);
	client_free(busy);
	fixture_down(f);
	return 0;
}

static void graceful_stop(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(stop_main, NULL), 0);
}

static int stop_deadline_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *busy = client_new();
	struct hz_http_client_response res;
	struct stopper st = {&f->srv, 50 * MS, 200 * MS, 0, 0, true};
	uint64_t aborted = harness_counter("http", "conn_aborted_by_stop"), t0;
	char body[64];

	(void)arg;
	f->slow_ns = 1 * SECOND;
	if (!slow_request_then_stop(f, busy, &st, &t0))
		goto out;
	/* The deadline passes with the request in flight: it is cut. */
	HARNESS_CHECK(receive(busy, false, &res, body, sizeof(body),
			      hz_now() + 5 * SECOND) < 0);
	HARNESS_CHECK_LT(f->handled, 1000); /* before the handler woke */
	/* Stop returns once the handler has given up, saying it cut. */
	WAIT_FOR(st.done);
	HARNESS_CHECK(st.result == -HZ_ETIMEDOUT);
	HARNESS_CHECK(st.at - t0 >= SECOND);
	HARNESS_CHECK(f->handled >= 1000); /* its response failed */
	HARNESS_CHECK(harness_counter("http", "conn_aborted_by_stop") ==
		      aborted + 1);
out:
	WAIT_FOR(st.done);
	client_free(busy);
	fixture_down(f);
	return 0;
}

static void stop_deadline_cuts(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(stop_deadline_main, NULL), 0);
}

/* --- refusals on the wire ------------------------------------------------- */

struct big_writer {
	struct hz_flow *flow;
	size_t len;
	bool done;
};

static void big_writer_fiber(void *arg)
{
	struct big_writer *w = arg;
	char *line = hz_malloc(w->len);

	if (line != NULL) {
		memset(line, 'a', w->len);
		memcpy(line, "GET / HTTP/1.1\r\nX-Big: ", 23);
		/* The server stops reading: this may fail, or not. */
		if (hz_flow_write(w->flow, line, w->len,
				  hz_now() + 3 * SECOND) < 0)
			w->len = 0;
		hz_free(line);
	}
	w->done = true;
}

/* Sends @req on a fresh connection; the response, which must close. */
static bool refused_with(struct fixture *f, const char *req, const char *line)
{
	struct hz_flow *flow = raw_connect(f);
	char buf[1024];
	bool eof, ok;

	if (flow == NULL || !raw_send(flow, req)) {
		if (flow != NULL)
			hz_flow_free(flow);
		return false;
	}
	raw_read(flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	ok = eof && strncmp(buf, line, strlen(line)) == 0 &&
	     strstr(buf, "\r\nConnection: close\r\n") != NULL;
	if (!ok)
		print_message("# got: %s\n", buf);
	hz_flow_free(flow);
	return ok;
}

static int refusals_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	uint64_t smuggling = harness_counter("http", "err_smuggling");
	uint64_t line = harness_counter("http", "err_line_too_long");
	uint64_t header = harness_counter("http", "err_header_too_large");
	uint64_t body = harness_counter("http", "err_body_too_large");
	uint64_t version = harness_counter("http", "err_version");
	struct big_writer w = {.len = 1u << 20, .done = true};
	char buf[1024], req[9000];
	bool eof;

	(void)arg;
	HARNESS_CHECK(refused_with(f,
				   "POST /echo HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 4\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "0\r\n\r\n",
				   "HTTP/1.1 400 Bad Request\r\n"));
	HARNESS_CHECK(refused_with(f,
				   "POST /echo HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 4\r\nContent-Length: 5\r\n"
				   "\r\n",
				   "HTTP/1.1 400 Bad Request\r\n"));
	HARNESS_CHECK(refused_with(f,
				   "POST /echo HTTP/1.1\r\nHost: a\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "1g\r\n",
				   "HTTP/1.1 400 Bad Request\r\n"));
	HARNESS_CHECK(harness_counter("http", "err_smuggling") ==
		      smuggling + 3);
	snprintf(req, sizeof(req), "GET /%08190d HTTP/1.1\r\nHost: a\r\n\r\n",
		 0);
	HARNESS_CHECK(refused_with(f, req, "HTTP/1.1 414 URI Too Long\r\n"));
	HARNESS_CHECK(harness_counter("http", "err_line_too_long") == line + 1);
	HARNESS_CHECK(refused_with(f,
				   "POST /echo HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 2000000\r\n\r\n",
				   "HTTP/1.1 413 Content Too Large\r\n"));
	HARNESS_CHECK(harness_counter("http", "err_body_too_large") ==
		      body + 1);
	HARNESS_CHECK(refused_with(f, "GET / HTTP/2.0\r\n\r\n",
				   "HTTP/1.1 505 HTTP Version Not "
				   "Supported\r\n"));
	HARNESS_CHECK(harness_counter("http", "err_version") == version + 1);
	HARNESS_CHECK(refused_with(f,
				   "GET /noreply HTTP/1.1\r\nHost: a\r\n\r\n",
				   "HTTP/1.1 500 Internal Server Error\r\n"));
	HARNESS_CHECK(refused_with(f,
				   "GET /reserved HTTP/1.1\r\nHost: a\r\n"
				   "Connection: close\r\n\r\n",
				   "HTTP/1.1 404 Not Found\r\n"));
	HARNESS_CHECK(refused_with(f, "GET /close HTTP/1.1\r\nHost: a\r\n\r\n",
				   "HTTP/1.1 200 OK\r\n"));
	/* A megabyte of header line: 431 after the limit, and closed. */
	w.flow = raw_connect(f);
	REQUIRE(w.flow != NULL);
	w.done = false;
	REQUIRE(hz_fiber_spawn("big", big_writer_fiber, &w, 0) == 0);
	raw_read(w.flow, buf, sizeof(buf), hz_now() + 5 * SECOND, &eof);
	HARNESS_CHECK(
	    strncmp(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
		    46) == 0);
	HARNESS_CHECK(eof);
	HARNESS_CHECK(harness_counter("http", "err_header_too_large") ==
		      header + 1);
out:
	WAIT_FOR(w.done);
	flow_free(w.flow);
	fixture_down(f);
	return 0;
}

static void refusals_on_the_wire(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(refusals_main, NULL), 0);
}

/* --- HTTPS ---------------------------------------------------------------- */

static int https_main(void *arg)
{
	struct fixture *f = fixture_up(NULL);
	struct hz_http_client *c = client_new();
	struct hz_http_client_response res;
	uint8_t *got = hz_malloc(BIG_SIZE);
	char body[64];

	(void)arg;
	REQUIRE(got != NULL);
	if (hz_http_client_open(c, &f->client, "https://www.haze.test/",
				hz_now() + 5 * SECOND) != 0) {
		HARNESS_FAIL("%s", hz_http_client_error(c));
		goto out;
	}
	REQUIRE(fetch(c, "GET", "/hello", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "hello world") == 0);
	REQUIRE(fetch(c, "POST", "/echo", "over tls", 8, &res, body,
		      sizeof(body)) == 0);
	HARNESS_CHECK(res.status == 200 && strcmp(body, "over tls") == 0);
	REQUIRE(fetch(c, "GET", "/big", NULL, 0, &res, (char *)got, BIG_SIZE) ==
		0);
	HARNESS_CHECK(res.body_len == BIG_SIZE &&
		      memcmp(got, big, BIG_SIZE) == 0);
	REQUIRE(fetch(c, "GET", "/stream", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(strcmp(body, "one two three") == 0);
	HARNESS_CHECK(strcmp(c->host, "www.haze.test") == 0);
	hz_http_client_close(c);
	/* The client by name over plain HTTP, with its port. */
	REQUIRE(hz_http_client_open(c, &f->client, "http://www.haze.test:80/",
				    hz_now() + 5 * SECOND) == 0);
	HARNESS_CHECK(strcmp(c->host, "www.haze.test") == 0);
	REQUIRE(fetch(c, "GET", "/hello", NULL, 0, &res, body, sizeof(body)) ==
		0);
	HARNESS_CHECK(res.status == 200);
	hz_http_client_close(c);
	/* Refusals name the layer. */
	HARNESS_CHECK(hz_http_client_open(c, &f->client, "gopher://x/",
					  hz_now() + SECOND) == -HZ_EINVAL);
	HARNESS_CHECK(strcmp(hz_http_client_error(c),
			     "HTTP: not an http: or https: URL") == 0);
	HARNESS_CHECK(hz_http_client_open(c, &f->client, "http://10.0.0.2:81/",
					  hz_now() + 5 * SECOND) ==
		      -HZ_ECONNREFUSED);
	HARNESS_CHECK(strncmp(hz_http_client_error(c),
			      "HTTP: conduit tcp:10.0.0.2:81: ", 31) == 0);
out:
	hz_free(got);
	client_free(c);
	fixture_down(f);
	return 0;
}

static void https_through_tls(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(https_main, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(keep_alive_head_and_access),
	    HARNESS_TEST(pipelined_requests_in_order),
	    HARNESS_TEST(expect_100_continue),
	    HARNESS_TEST(chunked_both_ways),
	    HARNESS_TEST(http_1_0),
	    HARNESS_TEST(unread_bodies_drained_or_closed),
	    HARNESS_TEST(slowloris_gets_408),
	    HARNESS_TEST(slow_body_gets_408),
	    HARNESS_TEST(idle_keep_alive_times_out),
	    HARNESS_TEST(connection_limit),
	    HARNESS_TEST(memory_limit_reclaims),
	    HARNESS_TEST(graceful_stop),
	    HARNESS_TEST(stop_deadline_cuts),
	    HARNESS_TEST(refusals_on_the_wire),
	    HARNESS_TEST(https_through_tls),
	};

	for (size_t i = 0; i < BIG_SIZE; i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	return CERTS_RUN("http_server", tests);
}
