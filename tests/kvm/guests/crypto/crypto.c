/*
 * crypto: Debian's libbearssl.a linked into a guest through Haze's libc,
 * checked with known answers: SHA-256 of "abc" (FIPS 180-2) and AES-128-GCM
 * test case 2 of the GCM specification (McGrew and Viega), with both the
 * portable constant-time AES and, where the CPU has it, AES-NI. Then two
 * draws of Haze's random generator, which must succeed and differ (run
 * with and without the host's entropy).
 */
#include <string.h>

#include <bearssl.h>
#include <haze/entropy.h>
#include <haze/haze.h>

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

/* Encrypts test case 2 with the CTR implementation @vt. */
static bool gcm_ok(const br_block_ctr_class *vt)
{
	union {
		const br_block_ctr_class *vtable;
		br_aes_ct_ctr_keys ct;
		br_aes_x86ni_ctr_keys ni;
	} aes;
	static const uint8_t zero[16];
	br_gcm_context gc;
	uint8_t data[16] = {0}, tag[16];

	vt->init(&aes.vtable, zero, sizeof(zero));
	br_gcm_init(&gc, &aes.vtable, br_ghash_ctmul64);
	br_gcm_reset(&gc, zero, 12);
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 1, data, sizeof(data));
	br_gcm_get_tag(&gc, tag);
	return memcmp(data, gcm_cipher, 16) == 0 &&
	       memcmp(tag, gcm_tag, 16) == 0;
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
	bool sha = sha256_ok(), ct = gcm_ok(&br_aes_ct_ctr_vtable);
	bool aesni = ni == NULL || gcm_ok(ni), rnd = random_ok();

	(void)argc;
	(void)argv;
	hz_printf("crypto: sha256 %s, aes-gcm (ct) %s, aes-gcm (aes-ni) %s\n",
		  sha ? "ok" : "WRONG", ct ? "ok" : "WRONG",
		  ni == NULL ? "absent"
		  : aesni    ? "ok"
			     : "WRONG");
	hz_printf("crypto: random %s\n", rnd ? "ok" : "WRONG");
	return sha && ct && aesni && rnd ? 0 : 1;
}
