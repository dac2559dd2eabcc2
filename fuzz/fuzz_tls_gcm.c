/*
 * libFuzzer harness for TLS's vector AES-CTR and GHASH
 * (src/tls/tls_gcm.c): every input is run through them and through
 * BearSSL's portable ones (ct64, ctmul64), and the two must agree on
 * every byte and on the returned counter.
 *
 * Input: byte 0 picks the key's length (modulo 3: 16, 24 or 32 bytes),
 * then 32 bytes of key, 12 of IV, 4 of counter (big-endian), 16 of H,
 * 16 of GHASH state; the rest is the data. A piece the processor cannot
 * run (no VAES, no VPCLMULQDQ) is not compared.
 */
#include <stdlib.h>
#include <string.h>

#include "src/tls/tls_gcm.h"

#define HEAD (1 + 32 + 12 + 4 + 16 + 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t key_lens[] = {16, 24, 32};
	const br_block_ctr_class *vec = tls_gcm_ctr_get();
	br_ghash gh = tls_gcm_ghash_get();
	br_aes_gen_ctr_keys ref_ctx, vec_ctx;
	unsigned char y_ref[16], y_vec[16], *a, *b;
	const uint8_t *key, *iv, *h, *msg;
	size_t klen, len;
	uint32_t cc;

	if ((vec == NULL && gh == NULL) || size < HEAD)
		return 0;
	klen = key_lens[data[0] % 3];
	key = data + 1;
	iv = key + 32;
	cc = (uint32_t)iv[12] << 24 | (uint32_t)iv[13] << 16 |
	     (uint32_t)iv[14] << 8 | iv[15];
	h = iv + 16;
	memcpy(y_ref, h + 16, 16);
	memcpy(y_vec, h + 16, 16);
	msg = data + HEAD;
	len = size - HEAD;

	a = malloc(len + 1);
	b = malloc(len + 1);
	if (a == NULL || b == NULL)
		abort();
	memcpy(a, msg, len);
	memcpy(b, msg, len);
	if (vec != NULL) {
		br_aes_ct64_ctr_vtable.init(&ref_ctx.vtable, key, klen);
		vec->init(&vec_ctx.vtable, key, klen);
		if (br_aes_ct64_ctr_vtable.run(&ref_ctx.vtable, iv, cc, a,
					       len) !=
			vec->run(&vec_ctx.vtable, iv, cc, b, len) ||
		    memcmp(a, b, len) != 0)
			abort(); /* the key streams differ */
	}
	if (gh != NULL) {
		br_ghash_ctmul64(y_ref, h, msg, len);
		gh(y_vec, h, msg, len);
		if (memcmp(y_ref, y_vec, 16) != 0)
			abort(); /* the hashes differ */
	}
	free(a);
	free(b);
	return 0;
}
