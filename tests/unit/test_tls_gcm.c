/*
 * TLS's vector AES-CTR and GHASH (src/tls/tls_gcm.c), checked against
 * BearSSL's portable ones (ct64, ctmul64) on random keys, counters and
 * lengths (a seeded HMAC-DRBG), across the 32-bit counter's wrap and on
 * partial blocks; then as a whole AES-GCM through BearSSL's br_gcm, by
 * the known answers of the GCM specification (McGrew and Viega, test
 * cases 4 and 16) and against BearSSL's on long messages; and in the
 * engines TLS makes. Where the processor lacks AVX2 and VAES (or
 * VPCLMULQDQ) the tests of that piece skip, the whole-GCM tests run the
 * other piece with BearSSL's, and the engines keep BearSSL's.
 */
#include "tests/unit/harness.h"

#include <cpuid.h>
#include <string.h>

#include "src/tls/tls_gcm.h"

#define ROUNDS 2000
#define DATA_MAX (16384 + 300) /* a whole record, and then some */

static br_hmac_drbg_context drbg;

static void rnd(void *out, size_t len)
{
	br_hmac_drbg_generate(&drbg, out, len);
}

static size_t rnd_below(size_t n)
{
	uint32_t v;

	rnd(&v, sizeof(v));
	return v % n;
}

/* A length that is small, a whole record, or anything up to DATA_MAX. */
static size_t rnd_len(void)
{
	switch (rnd_below(4)) {
	case 0:
		return rnd_below(48);
	case 1:
		return 16384;
	default:
		return rnd_below(DATA_MAX + 1);
	}
}

/* Skips the test where the processor lacks @what (VAES, VPCLMULQDQ). */
static void need(const void *impl, const char *what)
{
	if (impl == NULL) {
		print_message("# no AVX2 and %s here: skipped\n", what);
		skip();
	}
}

/* The vector CTR, or BearSSL's portable one where it cannot run. */
static const br_block_ctr_class *ctr_impl(void)
{
	const br_block_ctr_class *c = tls_gcm_ctr_get();

	return c != NULL ? c : &br_aes_ct64_ctr_vtable;
}

/* The vector GHASH, or BearSSL's portable one where it cannot run. */
static br_ghash ghash_impl(void)
{
	br_ghash g = tls_gcm_ghash_get();

	return g != NULL ? g : br_ghash_ctmul64;
}

/* Skips an AES-GCM test where neither vector piece can run. */
static void need_either(void)
{
	if (tls_gcm_ctr_get() == NULL)
		need((const void *)tls_gcm_ghash_get(), "VAES or VPCLMULQDQ");
}

static void ctr_matches_bearssl(void **state)
{
	static unsigned char a[DATA_MAX], b[DATA_MAX];
	static const size_t key_lens[] = {16, 24, 32};

	(void)state;
	need(tls_gcm_ctr_get(), "VAES");
	for (int i = 0; i < ROUNDS; i++) {
		const br_block_ctr_class *vec = tls_gcm_ctr_get();
		br_aes_gen_ctr_keys ref_ctx, vec_ctx;
		unsigned char key[32], iv[12];
		size_t klen = key_lens[i % 3], len = rnd_len();
		uint32_t cc, r_ref, r_vec;

		rnd(key, sizeof(key));
		rnd(iv, sizeof(iv));
		rnd(&cc, sizeof(cc));
		if (i % 4 == 0) /* the counter wraps within the run */
			cc = 0xffffffffu - (uint32_t)rnd_below(40);
		rnd(a, len);
		memcpy(b, a, len);
		br_aes_ct64_ctr_vtable.init(&ref_ctx.vtable, key, klen);
		vec->init(&vec_ctx.vtable, key, klen);
		assert_ptr_equal(vec_ctx.vtable, vec);
		r_ref =
		    br_aes_ct64_ctr_vtable.run(&ref_ctx.vtable, iv, cc, a, len);
		r_vec = vec->run(&vec_ctx.vtable, iv, cc, b, len);
		assert_memory_equal(a, b, len);
		assert_int_equal(r_ref, r_vec);
	}
}

static void ghash_matches_bearssl(void **state)
{
	static unsigned char data[DATA_MAX];

	(void)state;
	need((const void *)tls_gcm_ghash_get(), "VPCLMULQDQ");
	for (int i = 0; i < ROUNDS; i++) {
		br_ghash vec = tls_gcm_ghash_get();
		unsigned char y_ref[16], y_vec[16], h[16];
		size_t len = rnd_len();

		rnd(y_ref, sizeof(y_ref));
		memcpy(y_vec, y_ref, sizeof(y_ref));
		rnd(h, sizeof(h));
		if (i % 50 == 0) /* H zero, H all ones: the edges */
			memset(h, i % 100 == 0 ? 0x00 : 0xff, sizeof(h));
		rnd(data, len);
		br_ghash_ctmul64(y_ref, h, data, len);
		vec(y_vec, h, data, len);
		assert_memory_equal(y_ref, y_vec, 16);
	}
}

/*
 * AES-GCM of @p (@plen) under @key with @iv (12) and @aad, by br_gcm on
 * @ctr and @gh; the result in @out, the tag in @tag.
 */
static void gcm_seal(const br_block_ctr_class *ctr, br_ghash gh,
		     const unsigned char *key, size_t klen,
		     const unsigned char *iv, const unsigned char *aad,
		     size_t alen, const unsigned char *p, size_t plen,
		     unsigned char *out, unsigned char tag[16])
{
	br_aes_gen_ctr_keys kc;
	br_gcm_context gc;

	ctr->init(&kc.vtable, key, klen);
	br_gcm_init(&gc, &kc.vtable, gh);
	br_gcm_reset(&gc, iv, 12);
	br_gcm_aad_inject(&gc, aad, alen);
	br_gcm_flip(&gc);
	memcpy(out, p, plen);
	br_gcm_run(&gc, 1, out, plen);
	br_gcm_get_tag(&gc, tag);
}

static void gcm_known_answers(void **state)
{
	static const struct {
		const char *key, *c, *tag;
	} cases[] = {
	    /* Test case 4: AES-128. */
	    {"feffe9928665731c6d6a8f9467308308",
	     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e23"
	     "29aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac97"
	     "3d58e091",
	     "5bc94fbc3221a5db94fae95ae7121a47"},
	    /* Test case 16: AES-256. */
	    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f94"
	     "67308308",
	     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd"
	     "2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0a"
	     "bcc9f662",
	     "76fc6ece0f4e1768cddf8853bb2d551b"},
	};
	unsigned char key[32], p[64], aad[32], iv[12], want[64], want_tag[16];
	unsigned char out[64], tag[16];
	size_t plen, alen;

	(void)state;
	need_either();
	plen =
	    harness_unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c"
			  "303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5"
			  "aa0de657ba637b39",
			  p);
	alen = harness_unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad);
	assert_int_equal(harness_unhex("cafebabefacedbaddecaf888", iv), 12);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t klen = harness_unhex(cases[i].key, key);

		assert_int_equal(harness_unhex(cases[i].c, want), plen);
		assert_int_equal(harness_unhex(cases[i].tag, want_tag), 16);
		gcm_seal(ctr_impl(), ghash_impl(), key, klen, iv, aad, alen, p,
			 plen, out, tag);
		assert_memory_equal(out, want, plen);
		assert_memory_equal(tag, want_tag, 16);
	}
}

static void gcm_matches_bearssl(void **state)
{
	static unsigned char p[DATA_MAX], c_ref[DATA_MAX], c_vec[DATA_MAX];

	(void)state;
	need_either();
	for (int i = 0; i < ROUNDS / 10; i++) {
		unsigned char key[32], iv[12], aad[13], t_ref[16], t_vec[16];
		size_t klen = 16 + 8 * (size_t)(i % 3), len = rnd_len();

		rnd(key, sizeof(key));
		rnd(iv, sizeof(iv));
		rnd(aad, sizeof(aad));
		rnd(p, len);
		gcm_seal(&br_aes_ct64_ctr_vtable, br_ghash_ctmul64, key, klen,
			 iv, aad, sizeof(aad), p, len, c_ref, t_ref);
		gcm_seal(ctr_impl(), ghash_impl(), key, klen, iv, aad,
			 sizeof(aad), p, len, c_vec, t_vec);
		assert_memory_equal(c_ref, c_vec, len);
		assert_memory_equal(t_ref, t_vec, 16);
	}
}

static void engines_take_them_where_they_run(void **state)
{
	static br_ssl_server_context sc;
	const br_block_ctr_class *ctr = tls_gcm_ctr_get();
	br_ghash gh = tls_gcm_ghash_get();

	(void)state;
	br_ssl_server_init_full_ec(&sc, NULL, 0, BR_KEYTYPE_EC, NULL);
	const br_block_ctr_class *bear_ctr = sc.eng.iaes_ctr;
	br_ghash bear_gh = sc.eng.ighash;

	assert_non_null(bear_ctr);
	assert_non_null(bear_gh);
	tls_gcm_install(&sc.eng);
	assert_ptr_equal(sc.eng.iaes_ctr, ctr != NULL ? ctr : bear_ctr);
	assert_ptr_equal(sc.eng.ighash, gh != NULL ? gh : bear_gh);
	print_message("# records: CTR on %s, GHASH on %s\n",
		      ctr != NULL ? "VAES" : "BearSSL's",
		      gh != NULL ? "VPCLMULQDQ" : "BearSSL's");
}

/* Whether CPUID names QEMU's TCG as the hypervisor (an emulated CPU). */
static bool emulated(void)
{
	unsigned a, b, c, d;
	char sig[13];

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 31)))
		return false; /* no hypervisor */
	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	return strcmp(sig, "TCGTCGTCGTCG") == 0;
}

/*
 * A piece the processor offers runs: on real hardware its first-run
 * check against BearSSL never refuses it, or the check (or the piece)
 * is wrong, and the tests above would have skipped what they test.
 */
static void offered_pieces_pass_their_check(void **state)
{
	unsigned offered = tls_gcm_offered();

	(void)state;
	print_message("# offered: VAES %s, VPCLMULQDQ %s\n",
		      (offered & TLS_GCM_VAES) ? "yes" : "no",
		      (offered & TLS_GCM_VPCLMUL) ? "yes" : "no");
	if (offered == 0 || emulated()) {
		print_message("# nothing offered, or an emulator: skipped\n");
		skip();
	}
	if (offered & TLS_GCM_VAES)
		assert_non_null(tls_gcm_ctr_get());
	if (offered & TLS_GCM_VPCLMUL)
		assert_non_null((const void *)tls_gcm_ghash_get());
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(ctr_matches_bearssl),
	    HARNESS_TEST(ghash_matches_bearssl),
	    HARNESS_TEST(gcm_known_answers),
	    HARNESS_TEST(gcm_matches_bearssl),
	    HARNESS_TEST(engines_take_them_where_they_run),
	    HARNESS_TEST(offered_pieces_pass_their_check),
	};
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, "haze tls_gcm", 12);
	return HARNESS_RUN("tls_gcm", tests);
}
