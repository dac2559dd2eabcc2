/*
 * libFuzzer harness for TLS's elliptic curves (src/tls/tls_ec.c), the
 * code that decodes a peer's public point: every input is multiplied by
 * Haze's table and by BearSSL's m31 code, and the two must agree; or,
 * in the signing mode, signed by Haze's signer and verified by both
 * verifiers; or, in the verifying mode, any signature checked by both.
 *
 * Input: byte 0 picks the curve (bit 0: a NIST curve or Curve25519;
 * bits 5-7 modulo 3: P-256, P-384 or P-521), the
 * operation (bit 1: mulgen, else mul), where the point comes from (bit
 * 2: the input's bytes, else BearSSL's mulgen of them, a valid point),
 * bit 3 the signing mode and bit 4 the verifying mode; byte 1 is the
 * point's (or key's) length, byte 2 the scalar's (or hash's); their
 * bytes follow, then (verifying) the signature's. Where BearSSL
 * leaves the result undefined (a NIST scalar outside [1, n-1]) Haze
 * must refuse; elsewhere both give the same answer and the same point,
 * except that Haze refuses an all-zero Curve25519 result (RFC 8422 5.11)
 * that BearSSL returns. After every input the arena is empty and wiped.
 */
#include <stdlib.h>
#include <string.h>

#include "src/tls/tls_int.h"

#define REF (&br_ec_all_m31)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The NIST curve of the input at hand: P-256, P-384 or P-521. */
static int cur = BR_EC_secp256r1;

/* Whether the big-endian @x of @len bytes is in [1, n-1] for cur. */
static int scalar_ok(const uint8_t *x, size_t len)
{
	size_t olen;
	const unsigned char *n = REF->order(cur, &olen);

	while (len > 0 && x[0] == 0) {
		x++;
		len--;
	}
	if (len == 0 || len > olen)
		return 0;
	if (len < olen)
		return 1;
	return memcmp(x, n, olen) < 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * Whether hash @h (@hlen bytes) is 0 modulo cur's n once cut to n's
 * length: BearSSL cannot verify such a signature (its muladd with a zero
 * multiplier), not even its own.
 */
static int hash_zero_mod_n(const uint8_t *h, size_t hlen)
{
	size_t olen;
	const unsigned char *n = REF->order(cur, &olen);

	if (hlen >= olen && memcmp(h, n, olen) == 0)
		return 1;
	return all_zero(h, hlen < olen ? hlen : olen);
}

/* Signs the hash @h (@hlen, picking the hash by length) with key @k. */
static void sign(const uint8_t *k, size_t klen, const uint8_t *h, size_t hlen)
{
	static const br_hash_class *const hf[] = {
	    &br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
	    &br_sha384_vtable, &br_sha512_vtable};
	const br_hash_class *f = hf[hlen % 5];
	size_t want = (f->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	unsigned char hash[64] = {0}, q[133], sig[160];
	br_ec_private_key sk = {cur, (unsigned char *)k, klen};
	size_t plen = REF->mulgen(q, k, klen, cur);
	br_ec_public_key pk = {cur, q, plen};
	size_t n;

	memcpy(hash, h, hlen < want ? hlen : want);
	n = tls_ecdsa_sign(&tls_ec, f, hash, &sk, sig);
	if (!scalar_ok(k, klen)) {
		size_t olen;

		REF->order(cur, &olen);
		if (n != 0 && klen <= olen)
			abort(); /* a key out of range signs nothing */
		return;
	}
	if (n == 0 || n > 139)
		abort();
	if (hash_zero_mod_n(hash, want))
		return;
	if (plen == 0 ||
	    br_ecdsa_i31_vrfy_asn1(REF, hash, want, &pk, sig, n) != 1 ||
	    tls_ecdsa_vrfy(&tls_ec, hash, want, &pk, sig, n) != 1)
		abort();
}

/*
 * Verifies the signature @sig (@slen, any bytes) of hash @h (@hlen) under
 * the key BearSSL makes from @k: Haze's verifier and BearSSL's agree.
 */
static void verify(const uint8_t *k, size_t klen, const uint8_t *h, size_t hlen,
		   const uint8_t *sig, size_t slen)
{
	unsigned char q[133];
	br_ec_public_key pk = {cur, q, 0};
	uint32_t a, b;

	if (hlen == 0 || hlen > 64 || !scalar_ok(k, klen) ||
	    (pk.qlen = REF->mulgen(q, k, klen, cur)) == 0)
		return;
	a = tls_ecdsa_vrfy(&tls_ec, h, hlen, &pk, sig, slen);
	b = br_ecdsa_i31_vrfy_asn1(REF, h, hlen, &pk, sig, slen);
	if (a != b && !hash_zero_mod_n(h, hlen))
		abort();
}

/*
 * Multiplies point @g (@glen) by @x (@xlen) on @curve (the generator
 * when @gen) with both tables, into @a and @b; returns the point's
 * length and sets *@ra, *@rb to their answers.
 */
static size_t both(int curve, int gen, const uint8_t *g, size_t glen,
		   const uint8_t *x, size_t xlen, unsigned char *a,
		   unsigned char *b, size_t *ra, size_t *rb)
{
	memcpy(a, g, glen);
	memcpy(b, g, glen);
	if (gen) {
		*ra = tls_ec.mulgen(a, x, xlen, curve);
		*rb = REF->mulgen(b, x, xlen, curve);
		REF->generator(curve, &glen); /* a point's length */
		return glen;
	}
	*ra = tls_ec.mul(a, glen, x, xlen, curve);
	*rb = REF->mul(b, glen, x, xlen, curve);
	return glen;
}

static void nist(int gen, const uint8_t *g, size_t glen, const uint8_t *x,
		 size_t xlen)
{
	unsigned char a[256], b[256];
	size_t ra, rb;

	glen = both(cur, gen, g, glen, x, xlen, a, b, &ra, &rb);
	if (!scalar_ok(x, xlen)) {
		if (ra != 0)
			abort(); /* BearSSL's answer is undefined; ours is no */
		return;
	}
	if (ra != rb || (ra && memcmp(a, b, glen) != 0))
		abort();
}

static void x25519(int gen, const uint8_t *g, size_t glen, const uint8_t *x,
		   size_t xlen)
{
	unsigned char a[256], b[256];
	size_t ra, rb;

	glen = both(BR_EC_curve25519, gen, g, glen, x, xlen, a, b, &ra, &rb);
	if (xlen > 32) {
		if (ra != 0)
			abort();
		return;
	}
	if (rb == 0) {
		if (ra != 0)
			abort();
	} else if (ra == 0) {
		if (!all_zero(b, 32))
			abort(); /* refused only the all-zero secret */
	} else if (ra != rb || memcmp(a, b, glen) != 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char point[256];
	int curve25519, gen, raw;
	size_t glen, xlen;
	const uint8_t *g, *x;

	if (size < 3)
		return 0;
	curve25519 = data[0] & 1;
	gen = (data[0] >> 1) & 1;
	raw = (data[0] >> 2) & 1;
	cur = (int[]){BR_EC_secp256r1, BR_EC_secp384r1,
		      BR_EC_secp521r1}[(data[0] >> 5) % 3];
	glen = data[1] % 140;
	xlen = data[2] % 72;
	if (size < 3 + glen + xlen)
		return 0;
	g = data + 3;
	x = data + 3 + glen;
	if (data[0] & 16) {
		verify(g, glen, x, xlen, x + xlen, size - 3 - glen - xlen);
	} else if (data[0] & 8) {
		sign(g, glen, x, xlen);
	} else {
		if (!raw) {
			/* A valid point: BearSSL's multiple of G by g. */
			int c = curve25519 ? BR_EC_curve25519 : cur;

			glen = REF->mulgen(point, g, glen, c);
			if (glen == 0)
				return 0;
			g = point;
		}
		if (curve25519)
			x25519(gen, g, glen, x, xlen);
		else
			nist(gen, g, glen, x, xlen);
	}
	if (!tls_ec_arena_wiped())
		abort();
	return 0;
}
