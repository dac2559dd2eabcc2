/*
 * Faster AES-CTR and GHASH for BearSSL's AES-GCM records, where the
 * processor has them (tls_gcm.c). Shared by TLS and the bench client.
 */
#ifndef HAZE_SRC_TLS_TLS_GCM_H
#define HAZE_SRC_TLS_TLS_GCM_H

#include <bearssl.h>

/* AES-CTR on 256-bit VAES, or NULL where it cannot run. */
const br_block_ctr_class *tls_gcm_ctr_get(void);

/* GHASH on 256-bit VPCLMULQDQ, or NULL where it cannot run. */
br_ghash tls_gcm_ghash_get(void);

/* The vector pieces: AES-CTR on VAES, GHASH on VPCLMULQDQ. */
#define TLS_GCM_VAES 1u
#define TLS_GCM_VPCLMUL 2u

/*
 * The pieces (TLS_GCM_* bits) the processor and system offer, before
 * the first-run check that the two getters above add (tests: a piece
 * offered and refused is an emulator's fault, or a bug).
 */
unsigned tls_gcm_offered(void);

/* Gives @eng the two above where they run; BearSSL's stay otherwise. */
void tls_gcm_install(br_ssl_engine_context *eng);

#endif
