/*
 * TLS's elliptic curves (src/tls/tls_ec.c): Nettle's P-256 and
 * Curve25519 behind BearSSL's br_ec_impl, checked against BearSSL's own
 * m31 code on the same inputs (random, from a seeded HMAC-DRBG), both
 * sides of a key agreement, ECDSA signatures (BearSSL's signer on this
 * table, and Nettle's) that BearSSL verifies, and each
 * refusal: points off the curve or badly encoded, scalars out of range,
 * small-order Curve25519 points. GMP's memory during an operation comes
 * from the arena and nowhere else, and GMP outside one is untouched.
 */
#include "tests/unit/harness.h"

#include <gmp.h>
#include <string.h>

#include "haze/random.h"
#include "src/tls/tls_int.h"

#define REF (&br_ec_all_m31)
#define ROUNDS 64

static br_hmac_drbg_context drbg;

static void rnd(void *out, size_t len)
{
	br_hmac_drbg_generate(&drbg, out, len);
}

static int seed(void **state)
{
	(void)state;
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, "haze tls_ec", 11);
	return 0;
}

/* A random P-256 scalar in [1, n-1]: the top bit cleared, never zero. */
static void p256_scalar(unsigned char k[32])
{
	do {
		rnd(k, 32);
		k[0] &= 0x7f;
	} while (k[0] == 0 && k[31] == 0);
}

static void supported_curves_are_bearssls(void **state)
{
	(void)state;
	assert_int_equal(tls_ec.supported_curves, REF->supported_curves);
}

static void p256_matches_bearssl(void **state)
{
	unsigned char k[32], j[32], a[65], b[65], p[65], q[65];

	(void)state;
	for (int i = 0; i < ROUNDS; i++) {
		p256_scalar(k);
		p256_scalar(j);
		assert_int_equal(tls_ec.mulgen(a, k, 32, BR_EC_secp256r1), 65);
		assert_int_equal(REF->mulgen(b, k, 32, BR_EC_secp256r1), 65);
		assert_memory_equal(a, b, 65);
		memcpy(p, a, 65);
		memcpy(q, a, 65);
		assert_int_equal(tls_ec.mul(p, 65, j, 32, BR_EC_secp256r1), 1);
		assert_int_equal(REF->mul(q, 65, j, 32, BR_EC_secp256r1), 1);
		assert_memory_equal(p, q, 65);
	}
	/* Short scalars (leading zero bytes left off) are the same numbers. */
	memset(k, 0, sizeof(k));
	k[31] = 3;
	assert_int_equal(tls_ec.mulgen(a, k + 31, 1, BR_EC_secp256r1), 65);
	assert_int_equal(REF->mulgen(b, k, 32, BR_EC_secp256r1), 65);
	assert_memory_equal(a, b, 65);
}

static void p256_key_agreement_and_ecdsa(void **state)
{
	unsigned char ka[32], kb[32], pa[65], pb[65], hash[32], sig[80];
	br_ec_private_key sk = {BR_EC_secp256r1, ka, 32};
	br_ec_public_key pk = {BR_EC_secp256r1, pa, 65};
	size_t n;

	(void)state;
	for (int i = 0; i < 16; i++) {
		p256_scalar(ka);
		p256_scalar(kb);
		assert_int_equal(tls_ec.mulgen(pa, ka, 32, BR_EC_secp256r1),
				 65);
		assert_int_equal(tls_ec.mulgen(pb, kb, 32, BR_EC_secp256r1),
				 65);
		memcpy(pk.q, pa, 65);
		assert_int_equal(tls_ec.mul(pa, 65, kb, 32, BR_EC_secp256r1),
				 1);
		assert_int_equal(tls_ec.mul(pb, 65, ka, 32, BR_EC_secp256r1),
				 1);
		assert_memory_equal(pa + 1, pb + 1, 32); /* the shared X */

		/* Signatures made with this table, verified by BearSSL's. */
		assert_int_equal(REF->mulgen(pa, ka, 32, BR_EC_secp256r1), 65);
		rnd(hash, sizeof(hash));
		n = br_ecdsa_i31_sign_asn1(&tls_ec, &br_sha256_vtable, hash,
					   &sk, sig);
		assert_true(n > 0);
		assert_int_equal(
		    br_ecdsa_i31_vrfy_asn1(REF, hash, 32, &pk, sig, n), 1);
		n = tls_ecdsa_sign(&tls_ec, &br_sha256_vtable, hash, &sk, sig);
		assert_true(n > 0 && n <= 72);
		assert_int_equal(
		    br_ecdsa_i31_vrfy_asn1(REF, hash, 32, &pk, sig, n), 1);
		hash[0] ^= 1;
		assert_int_equal(
		    br_ecdsa_i31_vrfy_asn1(REF, hash, 32, &pk, sig, n), 0);
	}
}

/* A random source over the test's DRBG. */
static int drbg_read(struct hz_random *r, void *buf, size_t len)
{
	(void)r;
	rnd(buf, len);
	return 0;
}

static const struct hz_random_ops drbg_ops = {.read = drbg_read};
static struct hz_random drbg_source = {&drbg_ops};

/* Nettle's signer: SHA-384 hashes, fresh nonces, other curves, bad keys. */
static void ecdsa_signatures(void **state)
{
	unsigned char k[48], q[97], hash[48], s1[139], s2[139];
	br_ec_private_key sk = {BR_EC_secp256r1, k, 32};
	br_ec_public_key pk = {BR_EC_secp256r1, q, 65};
	size_t n1, n2;

	(void)state;
	p256_scalar(k);
	assert_int_equal(REF->mulgen(q, k, 32, BR_EC_secp256r1), 65);
	rnd(hash, sizeof(hash));
	/* A hash longer than the curve: its leftmost 256 bits count. */
	n1 = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash, &sk, s1);
	assert_int_equal(br_ecdsa_i31_vrfy_asn1(REF, hash, 48, &pk, s1, n1), 1);
	/* Without a random source the nonce is RFC 6979's: the same. */
	n2 = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash, &sk, s2);
	assert_true(n1 == n2 && memcmp(s1, s2, n1) == 0);
	/* With one, two signatures of one hash differ (fresh bytes). */
	hz_random_use(&drbg_source);
	n1 = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash, &sk, s1);
	n2 = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash, &sk, s2);
	hz_random_use(NULL);
	assert_int_equal(br_ecdsa_i31_vrfy_asn1(REF, hash, 48, &pk, s1, n1), 1);
	assert_int_equal(br_ecdsa_i31_vrfy_asn1(REF, hash, 48, &pk, s2, n2), 1);
	assert_false(n1 == n2 && memcmp(s1, s2, n1) == 0);
	/* A P-384 key is BearSSL's to sign with. */
	rnd(k, sizeof(k));
	k[0] &= 0x7f;
	sk.curve = pk.curve = BR_EC_secp384r1;
	sk.xlen = 48;
	pk.qlen = 97;
	assert_int_equal(REF->mulgen(q, k, 48, BR_EC_secp384r1), 97);
	n1 = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash, &sk, s1);
	assert_int_equal(br_ecdsa_i31_vrfy_asn1(REF, hash, 48, &pk, s1, n1), 1);
	/* A P-256 key of zero, or not below n, signs nothing. */
	sk.curve = BR_EC_secp256r1;
	sk.xlen = 32;
	memset(k, 0, 32);
	assert_int_equal(
	    tls_ecdsa_sign(&tls_ec, &br_sha256_vtable, hash, &sk, s1), 0);
	memset(k, 0xff, 32);
	assert_int_equal(
	    tls_ecdsa_sign(&tls_ec, &br_sha256_vtable, hash, &sk, s1), 0);
}

static void p256_refusals(void **state)
{
	unsigned char k[32], p[65], zero[32] = {0};
	size_t olen;
	const unsigned char *order = REF->order(BR_EC_secp256r1, &olen);

	(void)state;
	p256_scalar(k);
	assert_int_equal(tls_ec.mulgen(p, k, 32, BR_EC_secp256r1), 65);

	/* Off the curve: Y changed. */
	p[64] ^= 1;
	assert_int_equal(tls_ec.mul(p, 65, k, 32, BR_EC_secp256r1), 0);
	p[64] ^= 1;
	/* Compressed or unknown encodings, wrong lengths. */
	p[0] = 0x02;
	assert_int_equal(tls_ec.mul(p, 65, k, 32, BR_EC_secp256r1), 0);
	p[0] = 0x04;
	assert_int_equal(tls_ec.mul(p, 64, k, 32, BR_EC_secp256r1), 0);
	assert_int_equal(tls_ec.mul(p, 33, k, 32, BR_EC_secp256r1), 0);
	/* Scalars out of [1, n-1]: zero, n itself, too long. */
	assert_int_equal(tls_ec.mul(p, 65, zero, 32, BR_EC_secp256r1), 0);
	assert_int_equal(tls_ec.mulgen(p, zero, 32, BR_EC_secp256r1), 0);
	assert_int_equal(olen, 32);
	assert_int_equal(tls_ec.mulgen(p, order, olen, BR_EC_secp256r1), 0);
	memset(k, 0xff, sizeof(k));
	assert_int_equal(tls_ec.mulgen(p, k, 32, BR_EC_secp256r1), 0);
	/* The point at X = 0 is not on P-256 (b is not a square). */
	memset(p, 0, sizeof(p));
	p[0] = 0x04;
	p256_scalar(k);
	assert_int_equal(tls_ec.mul(p, 65, k, 32, BR_EC_secp256r1), 0);
}

static void x25519_matches_bearssl(void **state)
{
	unsigned char k[32], j[32], a[32], b[32], p[32], q[32];
	size_t len;

	(void)state;
	for (int i = 0; i < ROUNDS; i++) {
		rnd(k, sizeof(k));
		rnd(j, sizeof(j));
		len = tls_ec.mulgen(a, k, 32, BR_EC_curve25519);
		assert_int_equal(len, 32);
		assert_int_equal(REF->mulgen(b, k, 32, BR_EC_curve25519), 32);
		assert_memory_equal(a, b, 32);
		/* u's top bit is not u's: set, the result is the same. */
		memcpy(p, a, 32);
		memcpy(q, a, 32);
		p[31] |= 0x80;
		assert_int_equal(tls_ec.mul(p, 32, j, 32, BR_EC_curve25519), 1);
		assert_int_equal(REF->mul(q, 32, j, 32, BR_EC_curve25519), 1);
		assert_memory_equal(p, q, 32);
		/* Agreement: j(kG) = k(jG). */
		assert_int_equal(tls_ec.mulgen(b, j, 32, BR_EC_curve25519), 32);
		assert_int_equal(tls_ec.mul(b, 32, k, 32, BR_EC_curve25519), 1);
		assert_memory_equal(p, b, 32);
	}
	/* A short multiplier is BearSSL's number too. */
	assert_int_equal(tls_ec.mulgen(a, k, 16, BR_EC_curve25519), 32);
	assert_int_equal(REF->mulgen(b, k, 16, BR_EC_curve25519), 32);
	assert_memory_equal(a, b, 32);
}

static void x25519_refusals(void **state)
{
	unsigned char k[32], u[32], big[33];

	(void)state;
	rnd(k, sizeof(k));
	/* Points of small order give an all-zero secret (RFC 8422 5.11). */
	memset(u, 0, sizeof(u));
	assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 0);
	memset(u, 0, sizeof(u));
	u[0] = 1;
	assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 0);
	/* Wrong lengths. */
	assert_int_equal(tls_ec.mul(u, 31, k, 32, BR_EC_curve25519), 0);
	memset(big, 1, sizeof(big));
	assert_int_equal(tls_ec.mulgen(u, big, 33, BR_EC_curve25519), 0);
}

static void other_curves_are_bearssls(void **state)
{
	unsigned char k[48], a[97], b[97];
	size_t glen, alen, blen;
	const unsigned char *g = tls_ec.generator(BR_EC_secp384r1, &glen);

	(void)state;
	assert_ptr_equal(g, REF->generator(BR_EC_secp384r1, &glen));
	rnd(k, sizeof(k));
	k[0] &= 0x7f;
	alen = tls_ec.mulgen(a, k, 48, BR_EC_secp384r1);
	blen = REF->mulgen(b, k, 48, BR_EC_secp384r1);
	assert_int_equal(alen, 97);
	assert_int_equal(blen, 97);
	assert_memory_equal(a, b, 97);
}

/*
 * GMP's functions as the program had them before TLS's first operation
 * (main sets them): they count every call that reaches them.
 */
static unsigned gmp_calls;
static void *(*real_alloc)(size_t);
static void *(*real_realloc)(void *, size_t, size_t);
static void (*real_free)(void *, size_t);

static void *count_alloc(size_t n)
{
	gmp_calls++;
	return real_alloc(n);
}

static void *count_realloc(void *p, size_t old, size_t n)
{
	gmp_calls++;
	return real_realloc(p, old, n);
}

static void count_free(void *p, size_t n)
{
	gmp_calls++;
	real_free(p, n);
}

static void gmp_memory_stays_in_the_arena(void **state)
{
	unsigned char k[32], p[65], u[32];
	mpz_t big;

	(void)state;
	/* During operations nothing reaches the program's functions. */
	gmp_calls = 0;
	for (int i = 0; i < 8; i++) {
		p256_scalar(k);
		assert_int_equal(tls_ec.mulgen(p, k, 32, BR_EC_secp256r1), 65);
		assert_int_equal(tls_ec.mul(p, 65, k, 32, BR_EC_secp256r1), 1);
		assert_int_equal(tls_ec.mulgen(u, k, 32, BR_EC_curve25519), 32);
		assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 1);
	}
	assert_int_equal(gmp_calls, 0);

	/* Outside them the arena passes GMP's calls on, however large. */
	mpz_init_set_ui(big, 1);
	mpz_mul_2exp(big, big, 1 << 20);
	assert_int_equal(mpz_sizeinbase(big, 2), (1 << 20) + 1);
	mpz_clear(big);
	assert_true(gmp_calls >= 2);

	/* Every operation fits with room to spare (a quarter). */
	print_message("# arena peak %zu bytes\n", tls_ec_arena_peak());
	assert_true(tls_ec_arena_peak() > 0);
	assert_true(tls_ec_arena_peak() <= 4 * 1024);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(supported_curves_are_bearssls),
	    HARNESS_TEST(p256_matches_bearssl),
	    HARNESS_TEST(p256_key_agreement_and_ecdsa),
	    HARNESS_TEST(ecdsa_signatures),
	    HARNESS_TEST(p256_refusals),
	    HARNESS_TEST(x25519_matches_bearssl),
	    HARNESS_TEST(x25519_refusals),
	    HARNESS_TEST(other_curves_are_bearssls),
	    HARNESS_TEST(gmp_memory_stays_in_the_arena),
	};
	seed(NULL);
	mp_get_memory_functions(&real_alloc, &real_realloc, &real_free);
	mp_set_memory_functions(count_alloc, count_realloc, count_free);
	return HARNESS_RUN("tls_ec", tests);
}
