/*
 * TLS: a FLOW (haze/flow.h) over any other FLOW, server or client, built on
 * BearSSL's engine, which does no I/O: the TLS flow moves records between
 * the engine's buffers and the flow below it.
 *
 * Only TLS 1.2 with ECDHE key exchange and AEAD suites (AES-GCM,
 * ChaCha20-Poly1305), ECDSA or RSA certificates. SNI (the client sends it,
 * the server picks a certificate chain by it) and ALPN.
 *
 * A configuration (struct hz_tls_config) holds what many flows share:
 * certificate chains and private keys (server), trust anchors (client),
 * ALPN names, the handshake timeout. It is built from PEM bytes in memory
 * (a KV store hands over bytes too). Build it completely before making
 * flows from it, leave it unchanged while they live, and free it after
 * them: flows point into it.
 *
 * A TLS flow owns the flow below it: closing the TLS flow closes it,
 * freeing the TLS flow frees it. Its failures name both layers:
 * "TLS: peer sent alert bad_certificate", "TLS: certificate rejected:
 * expired", "TLS: TCP 10.0.0.2:443: reset by peer in ESTABLISHED" (the
 * code is then the lower flow's, -HZ_ECONNRESET). TLS 1.2 has no
 * half-close: after hz_flow_shutdown (close_notify sent), data the peer
 * still sends is discarded and reads end at its close_notify.
 *
 * Random bytes come from the image's random source (haze/random.h) only,
 * never from a system seeder: an image that uses TLS declares one,
 * normally HZ_RANDOM_SOURCE(&hz_entropy_random) (haze/entropy.h).
 */
#ifndef HAZE_TLS_H
#define HAZE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/flow.h"

/* Most ALPN protocol names a configuration holds. */
#define HZ_TLS_ALPN_MAX 8
/* Most certificate chains a server configuration holds. */
#define HZ_TLS_CHAINS_MAX 8
/* Largest PEM object (a certificate, a key) accepted, in bytes of DER. */
#define HZ_TLS_PEM_OBJECT_MAX (64u * 1024)
/* Longest host name (SNI, certificate names). */
#define HZ_TLS_NAME_MAX 255
/* Sessions a new configuration remembers for resumption. */
#define HZ_TLS_SESSIONS_DEFAULT 256u
/* Most sessions a configuration can remember. */
#define HZ_TLS_SESSIONS_MAX (1u << 20)
/* How long a remembered session can be resumed, by default (5 minutes). */
#define HZ_TLS_SESSION_LIFETIME_DEFAULT (300ull * 1000000000ull)
/* Handshake timeout of a new configuration. */
#define HZ_TLS_HANDSHAKE_TIMEOUT_DEFAULT (10ull * 1000000000ull)

enum hz_tls_role {
	HZ_TLS_SERVER,
	HZ_TLS_CLIENT,
};

struct hz_tls_config;

/* Creates an empty configuration for @role in *out. 0 or -HZ_ENOMEM. */
HZ_MUST_CHECK
int hz_tls_config_new(enum hz_tls_role role, struct hz_tls_config **out);

/* Returns the role @cfg was created for. */
enum hz_tls_role hz_tls_config_role(const struct hz_tls_config *cfg);

/* Frees @cfg (NULL is ignored); every flow made from it must be gone. */
void hz_tls_config_free(struct hz_tls_config *cfg);

/*
 * Server: adds a certificate chain (PEM, leaf first) and its private key
 * (PEM: PKCS#8, or RSA or EC private key). The first chain added is the
 * default; a client's SNI name picks the chain whose leaf certificate
 * names it (subject alternative DNS names, or the common name; wildcards
 * "*.example.org" match one label). 0, or -HZ_EINVAL (bad or mismatched
 * input, named by hz_tls_config_error), -HZ_ENOSPC, -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_tls_config_add_chain(struct hz_tls_config *cfg, const void *chain_pem,
			    size_t chain_len, const void *key_pem,
			    size_t key_len);

/*
 * Client: adds every certificate of @pem as a trust anchor (a CA
 * certificate, or a server's own certificate to trust directly).
 * Returns how many were added (> 0), or -HZ_EINVAL, -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_tls_config_add_anchors(struct hz_tls_config *cfg, const void *pem,
			      size_t len);

/*
 * Sets the ALPN protocol names, most preferred first (the client offers
 * them, the server picks from them). Copied. 0 or -HZ_EINVAL.
 */
HZ_MUST_CHECK
int hz_tls_config_set_alpn(struct hz_tls_config *cfg, const char *const *names,
			   size_t n);

/*
 * Sets how many sessions @cfg remembers for resumption (the abbreviated
 * handshake: no key exchange, no signature, one round trip less) and for
 * how long, in nanoseconds. A server remembers the sessions it made, each
 * bound to the SNI name it was made for; a client remembers its last
 * session with each server name and offers it to the next flow to that
 * name. New configurations remember HZ_TLS_SESSIONS_DEFAULT for
 * HZ_TLS_SESSION_LIFETIME_DEFAULT; @n 0 turns resumption off. Forgets
 * what was remembered: call it before making flows. 0, -HZ_EINVAL (@n
 * above HZ_TLS_SESSIONS_MAX, or a zero lifetime), -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_tls_config_set_sessions(struct hz_tls_config *cfg, size_t n,
			       uint64_t lifetime_ns);
/* Sets how long a handshake may take, from its start, in nanoseconds. */
void hz_tls_config_set_handshake_timeout(struct hz_tls_config *cfg,
					 uint64_t ns);

/*
 * Client: sets the validation time, in seconds since the epoch, instead
 * of the platform's wall clock (tests). 0 returns to the wall clock.
 */
void hz_tls_config_set_time(struct hz_tls_config *cfg, uint64_t unix_seconds);

/* Returns the message of the configuration's last failure. */
const char *hz_tls_config_error(const struct hz_tls_config *cfg);

/*
 * Wraps @lower in a server TLS flow (*out), which owns @lower from now,
 * also on failure. 0, -HZ_EINVAL (no chain in @cfg), -HZ_ENOMEM. A flow
 * that cannot start (no entropy yet) is still given, carrying that
 * failure as its sticky error for the first call to report.
 */
HZ_MUST_CHECK
int hz_tls_server(struct hz_flow *lower, const struct hz_tls_config *cfg,
		  struct hz_flow **out);

/*
 * Wraps @lower in a client TLS flow (*out) that sends @server_name as SNI
 * and checks the server's certificate names it as a DNS name (NULL:
 * neither, for tests only; IP-address names are not checked). @lower is
 * owned from now, also on failure. 0, -HZ_EINVAL (no trust anchor, or a
 * name too long), -HZ_ENOMEM; a start failure is the flow's sticky error,
 * as for hz_tls_server.
 */
HZ_MUST_CHECK
int hz_tls_client(struct hz_flow *lower, const struct hz_tls_config *cfg,
		  const char *server_name, struct hz_flow **out);

/*
 * Runs the handshake to its end (the first read or write does it
 * implicitly otherwise). Gives up at @deadline or at the configuration's
 * handshake timeout, whichever comes first; the timeout is fatal, an
 * earlier @deadline is not. 0 or a negative code.
 */
HZ_MUST_CHECK
int hz_tls_handshake(struct hz_flow *f, uint64_t deadline);

/* Returns the ALPN protocol agreed on, or NULL (none, or no handshake). */
const char *hz_tls_alpn(struct hz_flow *f);

/* Returns the SNI name (received by a server, sent by a client), or NULL. */
const char *hz_tls_server_name(struct hz_flow *f);

/* Returns whether @f's handshake resumed a remembered session. */
bool hz_tls_resumed(struct hz_flow *f);
/* Returns the name of the cipher suite agreed on, or NULL before that. */
const char *hz_tls_suite(struct hz_flow *f);

#endif
