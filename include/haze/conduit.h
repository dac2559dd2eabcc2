/*
 * Conduit: endpoints as strings, the way applications take them from a
 * command line, turned into FLOWs (haze/flow.h) over any STACK.
 *
 *   tcp:HOST:PORT   connect: a TCP flow to HOST (a name or A.B.C.D)
 *   tls:HOST:PORT   connect: a TLS client flow over TCP, SNI HOST, the
 *                   server's certificate checked against HOST (a name:
 *                   an address is refused, as it cannot be checked)
 *   tcp:ADDR:PORT   listen on ADDR (A.B.C.D; 0.0.0.0: every address)
 *   tls:ADDR:PORT   listen: every accepted flow is a TLS server flow
 *
 * TLS configurations come from the conduit's configuration, or per
 * endpoint from hz_conduit_set_tls.
 *
 * Host names go through the DNS stub resolver (haze/dns.h) with the
 * servers of the conduit's configuration, which may come from a direct
 * stack's DHCP lease (hz_dns_ipstack_servers), so conduit itself works on
 * any STACK. Every failure has a message naming the endpoint and the
 * layer that failed: "conduit tls:example.org:443: DNS example.org:
 * NXDOMAIN from 10.0.0.1". See docs/conduit.md.
 */
#ifndef HAZE_CONDUIT_H
#define HAZE_CONDUIT_H

#include <stddef.h>
#include <stdint.h>

#include "haze/dns.h"
#include "haze/error.h"
#include "haze/flow.h"
#include "haze/stack.h"
#include "haze/tls.h"

/* Longest endpoint string accepted. */
#define HZ_ENDPOINT_MAX 300

enum hz_endpoint_scheme {
	HZ_ENDPOINT_TCP,
	HZ_ENDPOINT_TLS,
};

/* An endpoint string, parsed. */
struct hz_endpoint {
	enum hz_endpoint_scheme scheme;
	char host[HZ_DNS_TEXT_MAX]; /* a host name or A.B.C.D, as written */
	hz_ipv4_t addr;		    /* the address if host is literal */
	bool literal;		    /* host is A.B.C.D */
	uint16_t port;		    /* 1..65535 */
};

/*
 * Parses @s ("tls:example.org:443"). 0, or -HZ_EINVAL with the reason in
 * *why (a fixed string: "unknown scheme (tcp:, tls:)", "bad port", ...).
 * Host names are checked as DNS host names (labels of letters, digits,
 * '-' and '_', at most 63 bytes each, 253 in all); a name whose last
 * label is all digits must be a valid IPv4 address.
 */
HZ_MUST_CHECK
int hz_endpoint_parse(const char *s, struct hz_endpoint *out, const char **why);

/* What a conduit works with. The TLS configurations must outlive it. */
struct hz_conduit_config {
	struct hz_stack *stack;
	const struct hz_tls_config *tls_client; /* tls: connect; NULL: none */
	const struct hz_tls_config *tls_server; /* tls: listen; NULL: none */
	struct hz_dns_config dns; /* copied; its cache pointer is ignored */
	uint16_t backlog;	  /* of listeners; 0: 16 */
};

/* How many endpoints may have a TLS configuration of their own. */
#define HZ_CONDUIT_TLS_RULES 8

/* A TLS configuration for one endpoint (hz_conduit_set_tls). */
struct hz_conduit_tls_rule {
	char host[HZ_DNS_TEXT_MAX]; /* as written in the endpoint */
	uint16_t port;
	const struct hz_tls_config *tls;
};

/*
 * A conduit, owned by the caller; it holds the DNS cache (and points at
 * it: do not copy a conduit after hz_conduit_init).
 */
struct hz_conduit {
	struct hz_conduit_config cfg;
	struct hz_conduit_tls_rule tls_rules[HZ_CONDUIT_TLS_RULES];
	size_t ntls_rules;
	struct hz_dns_cache cache;
	struct hz_errmsg err;
};

/* A listening endpoint (hz_conduit_listen). */
struct hz_conduit_listener;

/* Prepares @c to work as @cfg says (copied). */
void hz_conduit_init(struct hz_conduit *c, const struct hz_conduit_config *cfg);

/*
 * Uses @tls, not the configuration's default, for the tls: endpoint
 * @endpoint: a client configuration for connections to that host (as
 * written, letter case aside) and port, a server configuration for
 * listening on that address and port. Setting an endpoint again replaces
 * its configuration; @tls must outlive the conduit. 0, or -HZ_EINVAL
 * (not a tls: endpoint, or @tls NULL) or -HZ_ENOSPC (HZ_CONDUIT_TLS_RULES
 * endpoints have one already) with the message in hz_conduit_error.
 */
HZ_MUST_CHECK
int hz_conduit_set_tls(struct hz_conduit *c, const char *endpoint,
		       const struct hz_tls_config *tls);

/*
 * Connects to @endpoint: resolves its host, opens TCP and, for tls:,
 * wraps the flow in a TLS client flow and completes the handshake, all
 * before @deadline. The flow in *out. 0 or a negative code (the layer's:
 * -HZ_EINVAL for a bad endpoint, the resolver's, the stack's, the TLS
 * flow's), with the message in hz_conduit_error.
 */
HZ_MUST_CHECK
int hz_conduit_connect(struct hz_conduit *c, const char *endpoint,
		       uint64_t deadline, struct hz_flow **out);

/*
 * Listens on @endpoint ("tcp:0.0.0.0:7", "tls:10.0.0.2:443"). 0 or a
 * negative code with the message in hz_conduit_error.
 */
HZ_MUST_CHECK
int hz_conduit_listen(struct hz_conduit *c, const char *endpoint,
		      struct hz_conduit_listener **out);

/*
 * Takes the next connection of @l as a flow: TCP, or a TLS server flow
 * whose handshake runs on its first read or write (or hz_tls_handshake),
 * so a slow client cannot hold up the accept loop. 0 or a negative code
 * with the message in hz_conduit_listener_error.
 */
HZ_MUST_CHECK
int hz_conduit_accept(struct hz_conduit_listener *l, uint64_t deadline,
		      struct hz_flow **out);

/* Stops listening and frees @l. */
void hz_conduit_unlisten(struct hz_conduit_listener *l);

/* Returns the message of the conduit's last failure. */
const char *hz_conduit_error(const struct hz_conduit *c);

/* Returns the message of the listener's last failure. */
const char *hz_conduit_listener_error(const struct hz_conduit_listener *l);

#endif
