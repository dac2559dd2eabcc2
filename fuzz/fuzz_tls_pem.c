/*
 * libFuzzer harness for the TLS configuration parsers (src/tls/
 * tls_config.c): PEM decoding, certificates, private keys (RSA and EC,
 * PKCS#8 and raw), trust anchors, ALPN names. The input is split at its
 * first NUL byte: what comes before is given as a certificate chain, what
 * comes after as its private key; the whole input is also given as trust
 * anchors, and its first bytes as ALPN names. Anything may fail, nothing
 * may crash or leak.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz/fuzz_heap.h"
#include "haze/mem.h"
#include "haze/tls.h"

#define FUZZ_HEAP (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_HEAP_INITIALIZE(FUZZ_HEAP)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t chain_len = nul != NULL ? (size_t)(nul - data) : size;
	const uint8_t *key = nul != NULL ? nul + 1 : data + size;
	size_t key_len = size - chain_len - (nul != NULL ? 1 : 0);
	struct hz_tls_config *s, *c;
	char names[4][16];
	const char *alpn[4];
	struct hz_mem_stats st;
	int r;

	if (hz_tls_config_new(HZ_TLS_SERVER, &s) != 0 ||
	    hz_tls_config_new(HZ_TLS_CLIENT, &c) != 0)
		abort();
	r = hz_tls_config_add_chain(s, data, chain_len, key, key_len);
	if (r != 0 && strncmp(hz_tls_config_error(s), "TLS: ", 5) != 0)
		abort(); /* every refusal is named */
	r = hz_tls_config_add_anchors(c, data, size);
	if (r < 0 && strncmp(hz_tls_config_error(c), "TLS: ", 5) != 0)
		abort();
	for (size_t i = 0; i < 4; i++) {
		size_t n = size > i * 8 ? size - i * 8 : 0;

		n = n < 8 ? n : 8;
		memcpy(names[i], data + (n > 0 ? i * 8 : 0), n);
		names[i][n] = '\0';
		alpn[i] = names[i];
	}
	r = hz_tls_config_set_alpn(c, alpn, size % 5);
	if (r != 0 && strncmp(hz_tls_config_error(c), "TLS: ", 5) != 0)
		abort();
	hz_tls_config_free(s);
	hz_tls_config_free(c);
	hz_mem_stats(&st);
	if (st.live_objects != 0)
		abort();
	return 0;
}
