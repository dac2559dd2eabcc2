/*
 * Internals shared by the pieces of the TLS library: the configuration's
 * layout (tls_config.c builds it from PEM, tls_flow.c reads it) and the
 * messages naming BearSSL's error and alert codes (tls_msg.c).
 */
#ifndef HAZE_SRC_TLS_TLS_INT_H
#define HAZE_SRC_TLS_TLS_INT_H

#include <bearssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/tls.h"

/* Most certificates in one chain, and names taken from one leaf. */
#define TLS_CHAIN_CERTS_MAX 8
#define TLS_LEAF_NAMES_MAX 8

/* A server's certificate chain, its private key and its leaf's names. */
struct tls_chain {
	br_x509_certificate certs[TLS_CHAIN_CERTS_MAX];
	size_t ncerts;
	int key_type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	union {
		br_rsa_private_key rsa;
		br_ec_private_key ec;
	} key;
	void *key_mem; /* the key's integers, wiped when freed */
	size_t key_mem_len;
	char names[TLS_LEAF_NAMES_MAX][HZ_TLS_NAME_MAX + 1];
	size_t nnames;
};

struct hz_tls_config {
	enum hz_tls_role role;
	struct tls_chain *chains[HZ_TLS_CHAINS_MAX];
	size_t nchains;
	br_x509_trust_anchor *anchors; /* hz_realloc'd array */
	size_t nanchors;
	char *alpn[HZ_TLS_ALPN_MAX];
	size_t nalpn;
	uint64_t handshake_timeout; /* ns */
	uint64_t fixed_time;	    /* validation time (s), or 0: wall clock */
	struct tls_sessions *sessions; /* for resumption, or NULL: none */
	struct hz_errmsg err;
};

/*
 * BearSSL's EC interface with P-256, P-384, P-521 and Curve25519
 * computed by Nettle (tls_ec.c); every server and client engine uses it.
 */
extern const br_ec_impl tls_ec;

/*
 * An ECDSA signature in ASN.1 (br_ecdsa_sign): Nettle's for keys on the
 * NIST curves, BearSSL's i31 for others; 0 on a bad key.
 */
HZ_MUST_CHECK
size_t tls_ecdsa_sign(const br_ec_impl *impl, const br_hash_class *hf,
		      const void *hash, const br_ec_private_key *sk, void *sig);

/*
 * Verifies an ECDSA signature in ASN.1 (br_ecdsa_vrfy): Nettle's for
 * keys on the NIST curves, BearSSL's i31 for others; 1 if it holds.
 */
HZ_MUST_CHECK
uint32_t tls_ecdsa_vrfy(const br_ec_impl *impl, const void *hash,
			size_t hash_len, const br_ec_public_key *pk,
			const void *sig, size_t sig_len);

/* The most bytes one EC operation took from its arena (tests). */
size_t tls_ec_arena_peak(void);

/* Whether the EC arena is empty and wiped, between operations (tests). */
bool tls_ec_arena_wiped(void);

/* Zeroes @len bytes at @p in a way the compiler cannot drop. */
void tls_wipe(void *p, size_t len);

/* --- session caches (tls_session.c) -------------------------------------- */

struct tls_sessions;

/* Makes a cache of @n sessions kept @lifetime ns (*out NULL when @n is 0). */
HZ_MUST_CHECK
int tls_sessions_new(size_t n, uint64_t lifetime, struct tls_sessions **out);

/* Frees @s (NULL is ignored), wiping every secret in it. */
void tls_sessions_free(struct tls_sessions *s);

/* Returns @s as BearSSL's server cache interface (NULL for NULL). */
const br_ssl_session_cache_class **tls_sessions_server(struct tls_sessions *s);

/* Client: copies the live session with server @name to @params. */
bool tls_sessions_client_load(struct tls_sessions *s, const char *name,
			      br_ssl_session_parameters *params);

/* Client: keeps @params as the session with server @name. */
void tls_sessions_client_save(struct tls_sessions *s, const char *name,
			      const br_ssl_session_parameters *params,
			      bool resumed);

/* Client: forgets the session with server @name. */
void tls_sessions_client_forget(struct tls_sessions *s, const char *name);

/*
 * Server: marks the flow of @sc as resuming a session made for the SNI
 * name whose digest is @bind.
 */
void tls_server_resuming(br_ssl_server_context *sc, uint64_t bind);

/*
 * Server, at the end of a resumed handshake: whether SNI name @name is the
 * one the session (@params) was made for (@bind); if not, counts it and
 * forgets the session.
 */
bool tls_sessions_check_name(struct tls_sessions *s,
			     const br_ssl_session_parameters *params,
			     uint64_t bind, const char *name);

/* Describes a BearSSL error code (BR_ERR_*, alerts, X.509) in words. */
const char *tls_br_error_text(int err);

/* Returns the RFC name of TLS alert @alert ("bad_certificate"). */
const char *tls_alert_name(unsigned alert);

/* Returns the IANA name of cipher suite @suite, or NULL. */
const char *tls_suite_name(uint16_t suite);

/* Returns whether host name @name matches certificate name @pattern. */
bool tls_name_matches(const char *pattern, const char *name);

#endif
