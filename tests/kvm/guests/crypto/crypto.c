/*
 * crypto: Debian's libbearssl.a linked into a guest through Haze's libc,
 * checked with known answers: SHA-256 of "abc" (FIPS 180-2) and AES-128-GCM
 * test case 2 of the GCM specification (McGrew and Viega), with both the
 * portable constant-time AES and, where the CPU has it, AES-NI. Then
 * TLS's vector AES-CTR and GHASH (src/tls/tls_gcm.c), where the CPU has
 * VAES or VPCLMULQDQ and the platform turned the AVX state on: the same
 * known answer, and a 1 KiB run against BearSSL's portable code. Then
 * two draws of Haze's random generator, which must succeed and differ
 * (run with and without the host's entropy).
 */
#include <string.h>

#include <bearssl.h>
#include <haze/entropy.h>
#include <haze/haze.h>

#include "tls/tls_gcm.h"

/* Haze's Fortuna, seeded before hz_main: its log line names the sources. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

static const uint8_t sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

/* GCM test case 2: key, IV and plaintext all zero. */
static const uint8_t gcm_cipher[16] = {
    0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92,
    0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78,
};
static const uint8_t gcm_tag[16] = {
    0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd,
    0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf,
};

static bool sha256_ok(void)
{
	br_sha256_context sc;
	uint8_t out[32];

	br_sha256_init(&sc);
	br_sha256_update(&sc, "abc", 3);
	br_sha256_out(&sc, out);
	return memcmp(out, sha256_abc, sizeof(out)) == 0;
}

/* Encrypts test case 2 with the CTR implementation @vt and GHASH @gh. */
static bool gcm_ok(const br_block_ctr_class *vt, br_ghash gh)
{
	br_aes_gen_ctr_keys aes;
	static const uint8_t zero[16];
	br_gcm_context gc;
	uint8_t data[16] = {0}, tag[16];

	vt->init(&aes.vtable, zero, sizeof(zero));
	br_gcm_init(&gc, &aes.vtable, gh);
	br_gcm_reset(&gc, zero, 12);
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 1, data, sizeof(data));
	br_gcm_get_tag(&gc, tag);
	return memcmp(data, gcm_cipher, 16) == 0 &&
	       memcmp(tag, gcm_tag, 16) == 0;
}

/* A 1 KiB and 7 bytes run of @vt (or of @gh) against BearSSL's ct64
 * (ctmul64), and test case 2 through br_gcm. */
static bool vector_ok(const br_block_ctr_class *vt, br_ghash gh)
{
	static uint8_t a[1031], b[1031];
	br_aes_gen_ctr_keys ka, kb;
	uint8_t key[16], iv[12], ya[16] = {0}, yb[16] = {0};
	bool same;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7 + 3);
	memcpy(key, a, sizeof(key));
	memcpy(iv, a + 16, sizeof(iv));
	if (vt != NULL) {
		br_aes_ct64_ctr_vtable.init(&ka.vtable, key, sizeof(key));
		vt->init(&kb.vtable, key, sizeof(key));
		same = br_aes_ct64_ctr_vtable.run(&ka.vtable, iv, 1, a,
						  sizeof(a)) ==
			   vt->run(&kb.vtable, iv, 1, b, sizeof(b)) &&
		       memcmp(a, b, sizeof(a)) == 0;
		return same && gcm_ok(vt, br_ghash_ctmul64);
	}
	br_ghash_ctmul64(ya, key, a, sizeof(a));
	gh(yb, key, a, sizeof(a));
	return memcmp(ya, yb, 16) == 0 && gcm_ok(&br_aes_ct64_ctr_vtable, gh);
}

/* Whether the platform turned the AVX state on (CR4.OSXSAVE, XCR0). */
static bool avx_state_on(void)
{
	uint32_t a, b, c, d, lo, hi;

	__asm__ volatile("cpuid"
			 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			 : "a"(1), "c"(0));
	if (!(c & (1u << 27)))
		return false; /* OSXSAVE clear: XGETBV would fault */
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* "ok", "WRONG", or "absent" where @impl is NULL. */
static const char *verdict(const void *impl, bool ok)
{
	return impl == NULL ? "absent" : ok ? "ok" : "WRONG";
}

/* Two draws of 32 random bytes: both succeed, differ and are not zero. */
static bool random_ok(void)
{
	static const uint8_t zero[32];
	uint8_t a[32], b[32];

	return hz_random_bytes(a, sizeof(a)) == 0 &&
	       hz_random_bytes(b, sizeof(b)) == 0 &&
	       memcmp(a, b, sizeof(a)) != 0 && memcmp(a, zero, 32) != 0;
}

int hz_main(int argc, char **argv)
{
	const br_block_ctr_class *ni = br_aes_x86ni_ctr_get_vtable();
	const br_block_ctr_class *vaes = tls_gcm_ctr_get();
	br_ghash vpclmul = tls_gcm_ghash_get();
	bool sha = sha256_ok(),
	     ct = gcm_ok(&br_aes_ct_ctr_vtable, br_ghash_ctmul64);
	bool aesni = ni == NULL || gcm_ok(ni, br_ghash_ctmul64);
	bool vctr = vaes == NULL || vector_ok(vaes, NULL);
	bool vgh = vpclmul == NULL || vector_ok(NULL, vpclmul);
	bool rnd = random_ok();

	(void)argc;
	(void)argv;
	hz_printf("crypto: sha256 %s, aes-gcm (ct) %s, aes-gcm (aes-ni) %s\n",
		  sha ? "ok" : "WRONG", ct ? "ok" : "WRONG",
		  verdict(ni, aesni));
	hz_printf("crypto: avx state %s, aes-ctr (vaes) %s, ghash "
		  "(vpclmulqdq) %s\n",
		  avx_state_on() ? "on" : "off", verdict(vaes, vctr),
		  verdict((const void *)vpclmul, vgh));
	hz_printf("crypto: random %s\n", rnd ? "ok" : "WRONG");
	return sha && ct && aesni && vctr && vgh && rnd ? 0 : 1;
}
