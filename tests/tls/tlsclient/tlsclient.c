/*
 * tlsclient: Haze's TLS client as a whole unikernel, for the interop
 * tests (tests/tls/interop.sh) against `openssl s_server`. Connects over
 * the socket stack, validates the server against the test CA compiled
 * in (tests/tls/mkcerts.sh), sends a request and prints what comes back.
 *
 *   tlsclient --connect A.B.C.D:PORT [--name HOST] [--alpn PROTO]
 *             [--send TEXT]
 * Prints "tlsclient: handshake ok: SUITE ALPN" and the reply, then
 * "tlsclient: done N bytes"; on failure "tlsclient: error: MESSAGE" and
 * exits 1.
 */
#include <stdlib.h>
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/net.h>
#include <haze/stack.h>
#include <haze/tls.h>

#include "tls_certs.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* Fortuna, seeded before hz_main: TLS draws from it. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define WAIT (10ull * HZ_NS_PER_S)

/* Parses "a.b.c.d:port" into @a. 0 or -HZ_EINVAL. */
static int parse_addr(const char *s, struct hz_sockaddr *a)
{
	unsigned b[4], port;
	char tail;

	if (sscanf(s, "%u.%u.%u.%u:%u%c", &b[0], &b[1], &b[2], &b[3], &port,
		   &tail) != 5 ||
	    b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255 ||
	    port > 65535)
		return -HZ_EINVAL;
	a->addr = (hz_ipv4_t)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
	a->port = (uint16_t)port;
	return 0;
}

static int fail(const char *what, const char *msg)
{
	hz_printf("tlsclient: error: %s%s\n", what, msg);
	return 1;
}

int hz_main(int argc, char **argv)
{
	const char *connect = NULL, *name = NULL, *alpn = NULL;
	const char *send = "GET / HTTP/1.0\r\n\r\n";
	struct hz_tls_config *cfg;
	struct hz_stack *stack;
	struct hz_flow *tcp, *tls;
	struct hz_sockaddr dst;
	uint64_t total = 0;
	struct hz_view v;
	int r, n;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--connect") == 0)
			connect = argv[i + 1];
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--alpn") == 0)
			alpn = argv[i + 1];
		else if (strcmp(argv[i], "--send") == 0)
			send = argv[i + 1];
	}
	if (connect == NULL || parse_addr(connect, &dst) < 0)
		return fail("usage: ", "tlsclient --connect A.B.C.D:PORT "
				       "[--name HOST] [--alpn P] [--send T]");
	if (hz_tls_config_new(HZ_TLS_CLIENT, &cfg) < 0)
		return fail("", "no memory");
	if (hz_tls_config_add_anchors(cfg, ca_pem, ca_pem_len) < 0 ||
	    (alpn != NULL && hz_tls_config_set_alpn(cfg, &alpn, 1) < 0))
		return fail("", hz_tls_config_error(cfg));
	r = hz_platform_socket_stack(&stack);
	if (r < 0)
		return fail("socket stack: ", hz_strerror(r));
	r = hz_tcp_connect(stack, &dst, hz_now() + WAIT, &tcp);
	if (r < 0)
		return fail("", hz_stack_error(stack));
	r = hz_tls_client(tcp, cfg, name, &tls);
	if (r < 0)
		return fail("TLS client: ", hz_strerror(r));
	r = hz_tls_handshake(tls, hz_now() + WAIT);
	if (r < 0)
		return fail("", hz_flow_error(tls));
	hz_printf("tlsclient: handshake ok: %s %s\n", hz_tls_suite(tls),
		  hz_tls_alpn(tls) != NULL ? hz_tls_alpn(tls) : "-");
	if (hz_flow_write(tls, send, strlen(send), hz_now() + WAIT) < 0)
		return fail("", hz_flow_error(tls));
	while ((n = hz_flow_read(tls, &v, hz_now() + WAIT)) > 0) {
		hz_printf("%.*s", (int)v.len, (const char *)hz_view_data(&v));
		total += v.len;
		hz_view_release(&v);
	}
	if (n < 0)
		return fail("", hz_flow_error(tls));
	hz_printf("\ntlsclient: done %llu bytes\n", (unsigned long long)total);
	hz_flow_free(tls);
	hz_tls_config_free(cfg);
	return 0;
}
