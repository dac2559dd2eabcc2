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

#include "haze/log.h"
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

/* Makes @sk and @pk a random P-384 key pair in @k (48) and @q (97). */
static void p384_key(unsigned char *k, unsigned char *q, br_ec_private_key *sk,
		     br_ec_public_key *pk)
{
	rnd(k, 48);
	k[0] &= 0x7f;
	*sk = (br_ec_private_key){BR_EC_secp384r1, k, 48};
	*pk = (br_ec_public_key){BR_EC_secp384r1, q, 97};
	assert_int_equal(REF->mulgen(q, k, 48, BR_EC_secp384r1), 97);
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
	/* Every hash BearSSL signs with, and keys of 31 and 33 bytes. */
	{
		const br_hash_class *hf[] = {&br_sha1_vtable, &br_sha224_vtable,
					     &br_sha256_vtable,
					     &br_sha512_vtable};
		unsigned char h64[64], k33[33];

		rnd(h64, sizeof(h64));
		for (size_t i = 0; i < 4; i++) {
			size_t hl = (hf[i]->desc >> BR_HASHDESC_OUT_OFF) &
				    BR_HASHDESC_OUT_MASK;

			memset(s1, 0xa5, sizeof(s1));
			n1 = tls_ecdsa_sign(&tls_ec, hf[i], h64, &sk, s1);
			assert_true(n1 > 0 && n1 <= 72);
			assert_int_equal(s1[n1], 0xa5); /* nothing past it */
			assert_int_equal(
			    br_ecdsa_i31_vrfy_asn1(REF, h64, hl, &pk, s1, n1),
			    1);
		}
		/* 31 bytes: the same key with its leading zero left off. */
		k[0] = 0;
		assert_int_equal(REF->mulgen(q, k, 32, BR_EC_secp256r1), 65);
		sk.x = k + 1;
		sk.xlen = 31;
		n1 = tls_ecdsa_sign(&tls_ec, &br_sha256_vtable, h64, &sk, s1);
		assert_int_equal(
		    br_ecdsa_i31_vrfy_asn1(REF, h64, 32, &pk, s1, n1), 1);
		/* 33 bytes (a zero first): BearSSL's signer. */
		k33[0] = 0;
		memcpy(k33 + 1, k, 32);
		sk.x = k33;
		sk.xlen = 33;
		n1 = tls_ecdsa_sign(&tls_ec, &br_sha256_vtable, h64, &sk, s1);
		assert_int_equal(
		    br_ecdsa_i31_vrfy_asn1(REF, h64, 32, &pk, s1, n1), 1);
		sk.x = k;
		sk.xlen = 32;
	}
	assert_true(tls_ec_arena_wiped());
	/* A P-384 key: Nettle signs, BearSSL verifies. */
	p384_key(k, q, &sk, &pk);
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

/* Nettle's verifier agrees with BearSSL's, and refuses what it should. */
static void ecdsa_verification(void **state)
{
	static const br_hash_class *const hf[] = {
	    &br_sha1_vtable, &br_sha256_vtable, &br_sha384_vtable};
	unsigned char k[48], q[97], hash[64], sig[139];
	br_ec_private_key sk = {BR_EC_secp256r1, k, 32};
	br_ec_public_key pk = {BR_EC_secp256r1, q, 65};
	size_t n;

	(void)state;
	for (int i = 0; i < ROUNDS; i++) {
		size_t hl = (hf[i % 3]->desc >> BR_HASHDESC_OUT_OFF) &
			    BR_HASHDESC_OUT_MASK;

		p256_scalar(k);
		assert_int_equal(REF->mulgen(q, k, 32, BR_EC_secp256r1), 65);
		rnd(hash, sizeof(hash));
		n = br_ecdsa_i31_sign_asn1(REF, &br_sha256_vtable, hash, &sk,
					   sig);
		assert_true(n > 0);
		assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, n),
				 1);
		/* Another hash, a changed signature, another key: no. */
		hash[5] ^= 0x10;
		assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, n),
				 0);
		hash[5] ^= 0x10;
		sig[n - 1] ^= 1;
		assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, n),
				 0);
		sig[n - 1] ^= 1;
		q[40] ^= 1; /* off the curve */
		assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, n),
				 0);
		q[40] ^= 1;
		/* Hashes shorter and longer than the curve, as BearSSL. */
		n = tls_ecdsa_sign(&tls_ec, hf[i % 3], hash, &sk, sig);
		assert_int_equal(
		    tls_ecdsa_vrfy(&tls_ec, hash, hl, &pk, sig, n),
		    br_ecdsa_i31_vrfy_asn1(REF, hash, hl, &pk, sig, n));
		assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, hl, &pk, sig, n),
				 1);
	}
	/* Garbage and truncated encodings: both refuse. */
	assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, 3), 0);
	memset(sig, 0x30, 72);
	assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, 72), 0);
	assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 32, &pk, sig, 200), 0);
	/* A P-384 key: BearSSL signs, Nettle verifies. */
	p384_key(k, q, &sk, &pk);
	n = br_ecdsa_i31_sign_asn1(REF, &br_sha384_vtable, hash, &sk, sig);
	assert_int_equal(tls_ecdsa_vrfy(&tls_ec, hash, 48, &pk, sig, n), 1);
	assert_true(tls_ec_arena_wiped());
}

static void p256_refusals(void **state)
{
	unsigned char k[32], p[65], zero[32] = {0};
	uint64_t before;
	size_t olen;
	const unsigned char *order = REF->order(BR_EC_secp256r1, &olen);

	(void)state;
	p256_scalar(k);
	assert_int_equal(tls_ec.mulgen(p, k, 32, BR_EC_secp256r1), 65);

	/* Off the curve: Y changed. Refused, and counted. */
	p[64] ^= 1;
	before = harness_counter("tls", "ec_point_off_curve");
	assert_int_equal(tls_ec.mul(p, 65, k, 32, BR_EC_secp256r1), 0);
	assert_int_equal(harness_counter("tls", "ec_point_off_curve"),
			 before + 1);
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
	/* Zero bytes before a scalar are allowed; more than 32 others not. */
	{
		unsigned char big[40] = {0}, a[65], b[65];

		p256_scalar(big + 8);
		assert_int_equal(tls_ec.mulgen(a, big, 40, BR_EC_secp256r1),
				 65);
		assert_int_equal(REF->mulgen(b, big + 8, 32, BR_EC_secp256r1),
				 65);
		assert_memory_equal(a, b, 65);
		big[6] = 1;
		assert_int_equal(tls_ec.mulgen(a, big, 40, BR_EC_secp256r1), 0);
		assert_int_equal(tls_ec.mul(b, 65, big, 40, BR_EC_secp256r1),
				 0);
	}
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

/* Decodes the hex string @h into @out, which must be exactly @n bytes. */
static void unhex(unsigned char *out, const char *h, size_t n)
{
	assert_int_equal(harness_unhex(h, out), n);
}

/* Fails unless the 32 bytes at @got are the hex string @hex. */
static void assert_hex(const unsigned char *got, const char *hex)
{
	unsigned char want[32];

	unhex(want, hex, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
}

/* RFC 7748's own vectors (5.2, 6.1), so the byte order is not ours alone. */
static void x25519_rfc7748(void **state)
{
	unsigned char k[32], u[32], a[32], b[32], pa[32], pb[32];

	(void)state;
	unhex(
	    k,
	    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	    32);
	unhex(
	    u,
	    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	    32);
	assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 1);
	assert_hex(
	    u,
	    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");

	unhex(
	    a,
	    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    32);
	unhex(
	    b,
	    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	    32);
	assert_int_equal(tls_ec.mulgen(pa, a, 32, BR_EC_curve25519), 32);
	assert_hex(
	    pa,
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	assert_int_equal(tls_ec.mulgen(pb, b, 32, BR_EC_curve25519), 32);
	assert_hex(
	    pb,
	    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	assert_int_equal(tls_ec.mul(pb, 32, a, 32, BR_EC_curve25519), 1);
	assert_hex(
	    pb,
	    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	assert_true(tls_ec_arena_wiped());
}

static void x25519_refusals(void **state)
{
	unsigned char k[32], u[32], big[33];
	uint64_t before;

	(void)state;
	rnd(k, sizeof(k));
	/* Points of small order give an all-zero secret (RFC 8422 5.11). */
	memset(u, 0, sizeof(u));
	before = harness_counter("tls", "x25519_zero_secret");
	assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 0);
	assert_int_equal(harness_counter("tls", "x25519_zero_secret"),
			 before + 1);
	memset(u, 0, sizeof(u));
	u[0] = 1;
	assert_int_equal(tls_ec.mul(u, 32, k, 32, BR_EC_curve25519), 0);
	/* Wrong lengths. */
	assert_int_equal(tls_ec.mul(u, 31, k, 32, BR_EC_curve25519), 0);
	memset(big, 1, sizeof(big));
	assert_int_equal(tls_ec.mulgen(u, big, 33, BR_EC_curve25519), 0);
}

/* P-384 and P-521 (Nettle's too) against BearSSL's m31: mul, mulgen, ECDSA. */
static void nist_curves_match_bearssl(void **state)
{
	static const struct {
		int id;
		size_t len;
	} curves[] = {{BR_EC_secp384r1, 48}, {BR_EC_secp521r1, 66}};
	unsigned char k[66], j[66], a[133], b[133], q[133], hash[64];
	unsigned char sig[160];
	size_t glen, n;

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		int id = curves[c].id;
		size_t len = curves[c].len, plen = 1 + 2 * len;
		br_ec_private_key sk = {id, k, len};
		br_ec_public_key pk = {id, q, plen};

		assert_ptr_equal(tls_ec.generator(id, &glen),
				 REF->generator(id, &glen));
		for (int i = 0; i < 8; i++) {
			rnd(k, len);
			rnd(j, len);
			k[0] = j[0] = 0; /* below n, whatever the curve */
			assert_int_equal(tls_ec.mulgen(a, k, len, id), plen);
			assert_int_equal(REF->mulgen(b, k, len, id), plen);
			assert_memory_equal(a, b, plen);
			memcpy(q, a, plen);
			assert_int_equal(tls_ec.mul(a, plen, j, len, id), 1);
			assert_int_equal(REF->mul(b, plen, j, len, id), 1);
			assert_memory_equal(a, b, plen);
			/* Signed by Nettle, verified by both; and back. */
			rnd(hash, sizeof(hash));
			n = tls_ecdsa_sign(&tls_ec, &br_sha384_vtable, hash,
					   &sk, sig);
			assert_true(n > 0);
			assert_int_equal(
			    br_ecdsa_i31_vrfy_asn1(REF, hash, 48, &pk, sig, n),
			    1);
			assert_int_equal(
			    tls_ecdsa_vrfy(&tls_ec, hash, 48, &pk, sig, n), 1);
			n = br_ecdsa_i31_sign_asn1(REF, &br_sha512_vtable, hash,
						   &sk, sig);
			assert_int_equal(
			    tls_ecdsa_vrfy(&tls_ec, hash, 64, &pk, sig, n), 1);
			hash[1] ^= 4;
			assert_int_equal(
			    tls_ecdsa_vrfy(&tls_ec, hash, 64, &pk, sig, n), 0);
		}
		/* Off the curve. */
		q[plen - 1] ^= 1;
		assert_int_equal(tls_ec.mul(q, plen, j, len, id), 0);
	}
	assert_true(tls_ec_arena_wiped());
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
		{
			br_ec_private_key sk = {BR_EC_secp256r1, k, 32};
			unsigned char sig[139];

			assert_true(tls_ecdsa_sign(&tls_ec, &br_sha256_vtable,
						   u, &sk, sig) > 0);
		}
		assert_true(tls_ec_arena_wiped());
	}
	assert_int_equal(gmp_calls, 0);

	/* Outside them the arena passes GMP's calls on, however large. */
	mpz_init_set_ui(big, 1);
	mpz_mul_2exp(big, big, 1 << 20);
	assert_int_equal(mpz_sizeinbase(big, 2), (1 << 20) + 1);
	mpz_clear(big);
	assert_true(gmp_calls >= 2);

	/* Every operation (P-521's the largest) fits with room to spare. */
	print_message("# arena peak %zu bytes\n", tls_ec_arena_peak());
	assert_true(tls_ec_arena_peak() > 0);
	assert_true(tls_ec_arena_peak() <= 8 * 1024);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    HARNESS_TEST(supported_curves_are_bearssls),
	    HARNESS_TEST(p256_matches_bearssl),
	    HARNESS_TEST(p256_key_agreement_and_ecdsa),
	    HARNESS_TEST(ecdsa_signatures),
	    HARNESS_TEST(ecdsa_verification),
	    HARNESS_TEST(p256_refusals),
	    HARNESS_TEST(x25519_matches_bearssl),
	    HARNESS_TEST(x25519_rfc7748),
	    HARNESS_TEST(x25519_refusals),
	    HARNESS_TEST(nist_curves_match_bearssl),
	    HARNESS_TEST(gmp_memory_stays_in_the_arena),
	};
	seed(NULL);
	mp_get_memory_functions(&real_alloc, &real_realloc, &real_free);
	mp_set_memory_functions(count_alloc, count_realloc, count_free);
	return HARNESS_RUN("tls_ec", tests);
}
