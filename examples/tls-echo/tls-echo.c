/*
 * tls-echo: a TLS echo server. Every connection is a TLS flow over a TCP
 * flow of the chosen stack, served by its own fiber: what the client
 * sends comes back. A client that agrees on ALPN "http/1.1" (curl, a
 * browser) gets HTTP instead: each request is answered with a 200 whose
 * body is the request itself.
 *
 * The certificate chains (EC for localhost, RSA for rsa.haze.test, picked
 * by SNI) are test certificates compiled into the image at build time
 * (tests/tls/mkcerts.sh, examples/tls-echo/pem2c.sh): a unikernel has no
 * files. A real deployment reads them from a KV store.
 *
 *   tls-echo [--stack SPEC] [--port P] [--quiet]
 */
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/stack.h>
#include <haze/tls.h>

#include "tls_certs.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* Fortuna, seeded before hz_main: TLS and TCP draw from it. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define CONN_STACK (64u * 1024)
#define HANDSHAKE_WAIT (10ull * HZ_NS_PER_S)
#define REQUEST_MAX 8192

struct server {
	struct hz_stack *stack;
	struct hz_listener *listener;
	struct hz_tls_config *tls;
	bool quiet;
};

struct conn {
	struct server *srv;
	struct hz_flow *flow;
};

HZ_LOG_SOURCE(tls_echo_log, "tls-echo");

/* Echoes every byte until the client's close_notify. */
static int serve_echo(struct hz_flow *f)
{
	struct hz_view v;
	int n;

	while ((n = hz_flow_read(f, &v, HZ_DEADLINE_NEVER)) > 0) {
		ssize_t w = hz_flow_write(f, hz_view_data(&v), v.len,
					  HZ_DEADLINE_NEVER);

		hz_view_release(&v);
		if (w < 0)
			return (int)w;
	}
	return n;
}

/* Answers one HTTP/1.1 request with its own head as the body. */
static int serve_http(struct hz_flow *f)
{
	static const char too_big[] = "HTTP/1.1 431 Request Header Fields "
				      "Too Large\r\nContent-Length: 0\r\n"
				      "Connection: close\r\n\r\n";
	char *req = hz_malloc(REQUEST_MAX + 1), head[160];
	struct hz_iov iov[2];
	size_t len = 0;
	ssize_t n = 0;
	int hl;

	if (req == NULL)
		return -HZ_ENOMEM;
	while (len < REQUEST_MAX) {
		n = hz_flow_read_copy(f, req + len, REQUEST_MAX - len,
				      HZ_DEADLINE_NEVER);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (n < 0) {
		hz_free(req);
		return (int)n;
	}
	if (len == REQUEST_MAX) {
		n = hz_flow_write(f, too_big, sizeof(too_big) - 1,
				  HZ_DEADLINE_NEVER);
	} else {
		hl =
		    snprintf(head, sizeof(head),
			     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     len);
		iov[0] = (struct hz_iov){head, (size_t)hl};
		iov[1] = (struct hz_iov){req, len};
		n = hz_flow_writev(f, iov, 2, HZ_DEADLINE_NEVER);
	}
	hz_free(req);
	return n < 0 ? (int)n : 0;
}

static void serve(void *arg)
{
	struct conn *c = arg;
	const char *alpn, *sni, *suite;
	int r = hz_tls_handshake(c->flow, hz_now() + HANDSHAKE_WAIT);

	if (r < 0) {
		HZ_WARN(&tls_echo_log, "handshake failed: %s",
			hz_flow_error(c->flow));
		goto out;
	}
	alpn = hz_tls_alpn(c->flow);
	sni = hz_tls_server_name(c->flow);
	suite = hz_tls_suite(c->flow);
	if (!c->srv->quiet)
		HZ_INFO(&tls_echo_log, "handshake done: %s, SNI %s, ALPN %s",
			suite, sni != NULL ? sni : "-",
			alpn != NULL ? alpn : "-");
	if (alpn != NULL && strcmp(alpn, "http/1.1") == 0)
		r = serve_http(c->flow);
	else
		r = serve_echo(c->flow);
	if (r < 0)
		HZ_WARN(&tls_echo_log, "connection ended: %s",
			hz_flow_error(c->flow));
	else if (hz_flow_shutdown(c->flow) < 0)
		HZ_DEBUG(&tls_echo_log, "shutdown: %s", hz_flow_error(c->flow));
out:
	hz_flow_free(c->flow);
	hz_free(c);
}

static int accept_loop(struct server *srv)
{
	for (;;) {
		struct hz_flow *tcp, *tls;
		struct conn *c;
		int r = hz_tcp_accept(srv->stack, srv->listener,
				      HZ_DEADLINE_NEVER, &tcp);

		if (r < 0) {
			HZ_ERROR(&tls_echo_log, "accept: %s",
				 hz_stack_error(srv->stack));
			return r;
		}
		r = hz_tls_server(tcp, srv->tls, &tls);
		if (r < 0) {
			HZ_WARN(&tls_echo_log, "no TLS flow: %s",
				hz_strerror(r));
			continue;
		}
		c = hz_malloc(sizeof(*c));
		if (c == NULL) {
			hz_flow_free(tls);
			continue;
		}
		*c = (struct conn){srv, tls};
		if (hz_fiber_spawn("tls-echo", serve, c, CONN_STACK) < 0) {
			HZ_WARN(&tls_echo_log, "no memory for a fiber");
			hz_flow_free(tls);
			hz_free(c);
		}
	}
}

/* Builds the server's TLS configuration from the compiled-in PEM. */
static int tls_setup(struct server *srv)
{
	static const char *const alpn[] = {"http/1.1", "echo"};
	int r = hz_tls_config_new(HZ_TLS_SERVER, &srv->tls);

	if (r == 0)
		r = hz_tls_config_add_chain(srv->tls, ec_pem, ec_pem_len,
					    ec_key, ec_key_len);
	if (r == 0)
		r = hz_tls_config_add_chain(srv->tls, rsa_pem, rsa_pem_len,
					    rsa_key, rsa_key_len);
	if (r == 0)
		r = hz_tls_config_set_alpn(srv->tls, alpn, 2);
	if (r < 0)
		hz_printf("tls-echo: %s\n", srv->tls != NULL
						? hz_tls_config_error(srv->tls)
						: hz_strerror(r));
	return r;
}

static int usage(void)
{
	hz_printf("usage: tls-echo [--stack SPEC] [--port P] [--quiet]\n");
	return 2;
}

int hz_main(int argc, char **argv)
{
	struct server srv = {0};
	struct hz_sockaddr addr = {0, 4433};
	const char *spec = "direct:service";
	struct hz_errmsg err = {0};
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quiet") == 0) {
			srv.quiet = true;
			continue;
		}
		if (i + 1 == argc)
			return usage();
		if (strcmp(argv[i], "--stack") == 0) {
			spec = argv[++i];
		} else if (strcmp(argv[i], "--port") == 0) {
			i++;
			if (hz_port_parse(argv[i], strlen(argv[i]),
					  &addr.port) < 0) {
				hz_printf("tls-echo: --port %s: not a port "
					  "(1..65535)\n",
					  argv[i]);
				return 1;
			}
		} else {
			return usage();
		}
	}
	r = hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &srv.stack, &err);
	if (r < 0) {
		hz_printf("tls-echo: %s\n", hz_errmsg_text(&err));
		return 1;
	}
	if (tls_setup(&srv) < 0)
		return 1;
	if (hz_tcp_listen(srv.stack, &addr, 1024, &srv.listener) < 0) {
		hz_printf("tls-echo: %s\n", hz_stack_error(srv.stack));
		return 1;
	}
	hz_printf("tls-echo: serving TLS echo on %u\n", addr.port);
	return accept_loop(&srv);
}
