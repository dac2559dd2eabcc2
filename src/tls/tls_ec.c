/*
 * BearSSL's elliptic-curve interface (br_ec_impl) with P-256, P-384,
 * P-521 and Curve25519 computed by Nettle.
 *
 * Debian's BearSSL 0.6 has only its portable 15- and 31-bit EC code:
 * a P-256 point multiplication costs it 280-430 us, where Nettle's
 * (64-bit limbs, GMP's mpn and its own reduction in assembly, constant
 * time) costs 25-80 us (P-384, P-521: 2.5-4.7 ms against 0.1-0.6). A
 * full TLS handshake makes three: the ephemeral key (mulgen), the shared
 * secret (mul) and the ECDSA signature. So TLS gives BearSSL this table,
 * and for NIST keys Nettle's ECDSA signer (tls_ecdsa_sign: BearSSL's
 * spent twice its kG inverting the nonce) and verifier (tls_ecdsa_vrfy);
 * BearSSL keeps the protocol and the curves' constants.
 *
 * Nettle works on GMP integers, and GMP allocates through functions it
 * calls and never checks: on failure GMP aborts. So while an operation
 * here runs, GMP allocates from an arena of this file's; each operation
 * needs a fixed amount for its curve (no input changes it), far below
 * the arena, and frees it all before returning. Outside those operations
 * GMP's functions are the ones it had, so any other GMP user in the
 * program is not affected. The unikernel is one thread: the operations
 * never run concurrently.
 */
#include <gmp.h>
#include <nettle/curve25519.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/log.h"
#include "haze/random.h"
#include "tls_int.h"

#define X25519_LEN 32
/* The longest coordinate: P-521's 66 bytes. */
#define COORD_MAX 66

/* The NIST curves Nettle computes here: BearSSL's id, Nettle's curve. */
struct nist {
	int id;
	size_t len; /* bytes of a coordinate, of a scalar */
	const struct ecc_curve *(*curve)(void);
};

static const struct nist nists[] = {
    {BR_EC_secp256r1, 32, nettle_get_secp_256r1},
    {BR_EC_secp384r1, 48, nettle_get_secp_384r1},
    {BR_EC_secp521r1, 66, nettle_get_secp_521r1},
};

/* The NIST curve @id, or NULL. */
static const struct nist *nist_of(int id)
{
	for (size_t i = 0; i < sizeof(nists) / sizeof(nists[0]); i++)
		if (nists[i].id == id)
			return &nists[i];
	return NULL;
}

/* Peers' points refused: off a NIST curve, or of small order on X25519. */
static HZ_COUNTER(c_off_curve, "tls", "ec_point_off_curve");
static HZ_COUNTER(c_zero_secret, "tls", "x25519_zero_secret");

/* --- GMP's memory during an operation --------------------------------- */

/*
 * P-521's heaviest operation takes about 5.2 KiB (P-256's 2.3); the
 * arena is three times that (the unit test measures the peak).
 */
#define ARENA_SIZE (16 * 1024)
#define ARENA_ALIGN 16

static struct {
	unsigned char mem[ARENA_SIZE] __attribute__((aligned(ARENA_ALIGN)));
	size_t top;  /* bytes in use */
	size_t peak; /* most ever in use */
	bool open;   /* an operation runs: GMP allocates from mem */
	void *(*prev_alloc)(size_t);
	void *(*prev_realloc)(void *, size_t, size_t);
	void (*prev_free)(void *, size_t);
} arena;

static bool in_arena(const void *p)
{
	const unsigned char *c = p;

	return c >= arena.mem && c < arena.mem + ARENA_SIZE;
}

/* The room a block of @n bytes (n below ARENA_SIZE) takes: aligned, not 0. */
static size_t block(size_t n)
{
	return n == 0 ? ARENA_ALIGN
		      : (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static void *arena_alloc(size_t n)
{
	size_t need;
	void *p;

	if (!arena.open)
		return arena.prev_alloc(n);
	/*
	 * A fixed need per curve (scalars and coordinates are at most the
	 * curve's length by the time GMP sees them): running out is a bug.
	 */
	HZ_ASSERT(n <= ARENA_SIZE - arena.top);
	need = block(n);
	HZ_ASSERT(need <= ARENA_SIZE - arena.top);
	p = arena.mem + arena.top;
	arena.top += need;
	if (arena.top > arena.peak)
		arena.peak = arena.top;
	return p;
}

static void arena_free(void *p, size_t n)
{
	if (!in_arena(p)) {
		arena.prev_free(p, n);
		return;
	}
	/* The last block gives its room back; others wait for the close. */
	if ((unsigned char *)p + block(n) == arena.mem + arena.top)
		arena.top = (size_t)((unsigned char *)p - arena.mem);
}

static void *arena_realloc(void *p, size_t old, size_t n)
{
	size_t at;
	void *q;

	if (!in_arena(p))
		return arena.prev_realloc(p, old, n);
	at = (size_t)((unsigned char *)p - arena.mem);
	/* The last block grows (or shrinks) where it is. */
	if (at + block(old) == arena.top && n <= ARENA_SIZE - at &&
	    block(n) <= ARENA_SIZE - at) {
		arena.top = at + block(n);
		if (arena.top > arena.peak)
			arena.peak = arena.top;
		return p;
	}
	q = arena_alloc(n);
	memcpy(q, p, old < n ? old : n);
	return q;
}

/*
 * Starts an operation: GMP allocates from the arena until arena_close.
 * GMP's functions are checked each time: code that replaced them since
 * the last operation becomes what the arena passes other calls on to.
 */
static void arena_open(void)
{
	void *(*a)(size_t);
	void *(*r)(void *, size_t, size_t);
	void (*f)(void *, size_t);

	mp_get_memory_functions(&a, &r, &f);
	if (a != arena_alloc) {
		arena.prev_alloc = a;
		arena.prev_realloc = r;
		arena.prev_free = f;
		mp_set_memory_functions(arena_alloc, arena_realloc, arena_free);
	}
	arena.open = true;
	arena.top = 0;
}

/*
 * Wipes the stack below the caller's frame, where Nettle's functions keep
 * scratch of their own (a clamped X25519 scalar, an ECDSA nonce) that
 * never passes through GMP's allocator. Nettle's deepest use is about
 * 1 KiB; 4 KiB is four times that, on fiber stacks of 64 KiB.
 */
static __attribute__((noinline)) void stack_scrub(void)
{
	unsigned char junk[4096];

	tls_wipe(junk, sizeof(junk));
}

/* Ends an operation: wipes what it left (intermediate secrets). */
static void arena_close(void)
{
	tls_wipe(arena.mem, arena.peak);
	arena.top = 0;
	arena.open = false;
	stack_scrub();
}

/* --- the NIST curves ---------------------------------------------------- */

static void get_coord(mpz_t v, const unsigned char *src, size_t len)
{
	mpz_import(v, len, 1, 1, 1, 0, src);
}

/*
 * Writes @v (below 2^(8 @len)) as @len big-endian bytes, in the same
 * time whatever its value (a shared secret's X must not show its
 * leading zeros).
 */
static void put_coord(unsigned char *dst, const mpz_t v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		mp_limb_t l = mpz_getlimbn(v, (mp_size_t)(i / sizeof(l)));

		dst[len - 1 - i] =
		    (unsigned char)(l >> (8 * (i % sizeof(mp_limb_t))));
	}
}

/*
 * Sets @s to the big-endian scalar @x of @xlen bytes; false unless it is
 * in [1, n-1] (leading zero bytes allowed; Nettle checks the range).
 */
static bool get_scalar(const struct nist *c, struct ecc_scalar *s, mpz_t tmp,
		       const unsigned char *x, size_t xlen)
{
	while (xlen > c->len && x[0] == 0) {
		x++;
		xlen--;
	}
	if (xlen > c->len)
		return false;
	mpz_import(tmp, xlen, 1, 1, 1, 0, x);
	return ecc_scalar_set(s, tmp) != 0;
}

/* out = x * G on NIST curve @c (G the generator when @G is NULL). */
static uint32_t nist_mul(const struct nist *c, unsigned char *out,
			 const unsigned char *G, const unsigned char *x,
			 size_t xlen)
{
	struct ecc_point p, r;
	struct ecc_scalar s;
	mpz_t px, py;
	uint32_t ok = 0;

	arena_open();
	mpz_init(px);
	mpz_init(py);
	ecc_point_init(&p, c->curve());
	ecc_point_init(&r, c->curve());
	ecc_scalar_init(&s, c->curve());
	if (!get_scalar(c, &s, px, x, xlen))
		goto out;
	if (G == NULL) {
		ecc_point_mul_g(&r, &s);
	} else {
		get_coord(px, G + 1, c->len);
		get_coord(py, G + 1 + c->len, c->len);
		if (!ecc_point_set(&p, px, py)) { /* on the curve? */
			hz_counter_inc(&c_off_curve);
			goto out;
		}
		ecc_point_mul(&r, &s, &p);
	}
	ecc_point_get(&r, px, py);
	out[0] = 0x04;
	put_coord(out + 1, px, c->len);
	put_coord(out + 1 + c->len, py, c->len);
	ok = 1;
out:
	ecc_scalar_clear(&s);
	ecc_point_clear(&r);
	ecc_point_clear(&p);
	mpz_clear(py);
	mpz_clear(px);
	arena_close();
	return ok;
}

/* --- Curve25519 ---------------------------------------------------------- */

/*
 * A Curve25519 multiplier is little-endian for both BearSSL and Nettle
 * (RFC 7748's way, clamped alike); BearSSL takes a shorter one as if
 * zero bytes followed it, so it is padded here the same way.
 */
static bool get_x25519_scalar(unsigned char k[X25519_LEN],
			      const unsigned char *x, size_t xlen)
{
	if (xlen > X25519_LEN)
		return false;
	memset(k, 0, X25519_LEN);
	memcpy(k, x, xlen);
	return true;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * out = x * u for Curve25519 (u the base point when @u is NULL); fails
 * on an all-zero result (a small-order peer point: RFC 8422 5.11 makes
 * TLS refuse that shared secret).
 */
static uint32_t x25519_mul(unsigned char *out, const unsigned char *u,
			   const unsigned char *x, size_t xlen)
{
	unsigned char k[X25519_LEN], p[X25519_LEN];
	uint32_t ok = 0;

	if (!get_x25519_scalar(k, x, xlen))
		return 0;
	arena_open();
	if (u == NULL) {
		curve25519_mul_g(out, k);
	} else {
		/* RFC 7748: the top bit is not u's. */
		memcpy(p, u, X25519_LEN);
		p[X25519_LEN - 1] &= 0x7f;
		curve25519_mul(out, k, p);
	}
	ok = !all_zero(out, X25519_LEN);
	if (!ok)
		hz_counter_inc(&c_zero_secret);
	arena_close();
	tls_wipe(k, sizeof(k));
	return ok;
}

/* --- the table ------------------------------------------------------------ */

#define FALLBACK (&br_ec_all_m31)

static const unsigned char *ec_generator(int curve, size_t *len)
{
	return FALLBACK->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
	return FALLBACK->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
	return FALLBACK->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *G, size_t Glen, const unsigned char *x,
		       size_t xlen, int curve)
{
	const struct nist *c = nist_of(curve);

	if (c != NULL)
		return Glen == 1 + 2 * c->len && G[0] == 0x04
			   ? nist_mul(c, G, G, x, xlen)
			   : 0;
	if (curve == BR_EC_curve25519)
		return Glen == X25519_LEN ? x25519_mul(G, G, x, xlen) : 0;
	return FALLBACK->mul(G, Glen, x, xlen, curve);
}

static size_t ec_mulgen(unsigned char *R, const unsigned char *x, size_t xlen,
			int curve)
{
	const struct nist *c = nist_of(curve);

	if (c != NULL)
		return nist_mul(c, R, NULL, x, xlen) ? 1 + 2 * c->len : 0;
	if (curve == BR_EC_curve25519)
		return x25519_mul(R, NULL, x, xlen) ? X25519_LEN : 0;
	return FALLBACK->mulgen(R, x, xlen, curve);
}

/*
 * x*A + y*B verifies ECDSA signatures (a client's view of a server's
 * chain, not the handshake a server makes): BearSSL's own.
 */
static uint32_t ec_muladd(unsigned char *A, const unsigned char *B, size_t len,
			  const unsigned char *x, size_t xlen,
			  const unsigned char *y, size_t ylen, int curve)
{
	return FALLBACK->muladd(A, B, len, x, xlen, y, ylen, curve);
}

const br_ec_impl tls_ec = {
    .supported_curves =
	(uint32_t)1 << BR_EC_secp256r1 | (uint32_t)1 << BR_EC_secp384r1 |
	(uint32_t)1 << BR_EC_secp521r1 | (uint32_t)1 << BR_EC_curve25519,
    .generator = ec_generator,
    .order = ec_order,
    .xoff = ec_xoff,
    .mul = ec_mul,
    .mulgen = ec_mulgen,
    .muladd = ec_muladd,
};

/* --- ECDSA signatures ---------------------------------------------------- */

static void nonce_bytes(void *ctx, size_t len, uint8_t *dst)
{
	br_hmac_drbg_generate(ctx, dst, len);
}

size_t tls_ecdsa_sign(const br_ec_impl *impl, const br_hash_class *hf,
		      const void *hash, const br_ec_private_key *sk, void *sig)
{
	size_t hlen = (hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	unsigned char seed[COORD_MAX + 64 + 32], rsig[2 * COORD_MAX + 16];
	const struct nist *c = nist_of(sk->curve);
	br_hmac_drbg_context drbg;
	struct dsa_signature ds;
	struct ecc_scalar key;
	mpz_t tmp;
	size_t n = 0;
	bool ok;

	if (c == NULL || sk->xlen > c->len || hlen > 64)
		return br_ecdsa_i31_sign_asn1(impl, hf, hash, sk, sig);
	/*
	 * The nonce: an HMAC-DRBG over the key, the hash and fresh random
	 * bytes (RFC 6979-style determinism, hedged). Without fresh bytes
	 * it is a deterministic nonce alone, which is still safe.
	 */
	memset(seed, 0, sizeof(seed));
	memcpy(seed + c->len - sk->xlen, sk->x, sk->xlen);
	memcpy(seed + c->len, hash, hlen);
	if (hz_random_bytes(seed + c->len + hlen, 32) != 0)
		memset(seed + c->len + hlen, 0, 32);
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, c->len + hlen + 32);

	arena_open();
	mpz_init(tmp);
	ecc_scalar_init(&key, c->curve());
	dsa_signature_init(&ds);
	ok = get_scalar(c, &key, tmp, sk->x, sk->xlen);
	if (ok) {
		ecdsa_sign(&key, &drbg, nonce_bytes, hlen, hash, &ds);
		put_coord(rsig, ds.r, c->len);
		put_coord(rsig + c->len, ds.s, c->len);
	}
	dsa_signature_clear(&ds);
	ecc_scalar_clear(&key);
	mpz_clear(tmp);
	arena_close();
	tls_wipe(seed, sizeof(seed));
	tls_wipe(&drbg, sizeof(drbg));
	if (ok) {
		n = br_ecdsa_raw_to_asn1(rsig, 2 * c->len);
		memcpy(sig, rsig, n);
	}
	return n;
}

uint32_t tls_ecdsa_vrfy(const br_ec_impl *impl, const void *hash,
			size_t hash_len, const br_ec_public_key *pk,
			const void *sig, size_t sig_len)
{
	unsigned char raw[2 * COORD_MAX + 16];
	const struct nist *c = nist_of(pk->curve);
	struct dsa_signature ds;
	struct ecc_point pub;
	mpz_t x, y;
	size_t n, half;
	uint32_t ok = 0;

	if (c == NULL)
		return br_ecdsa_i31_vrfy_asn1(impl, hash, hash_len, pk, sig,
					      sig_len);
	if (pk->qlen != 1 + 2 * c->len || pk->q[0] != 0x04 || hash_len == 0 ||
	    hash_len > 64 || sig_len > sizeof(raw))
		return 0;
	/* BearSSL's own decoding, so both accept the same encodings. */
	memcpy(raw, sig, sig_len);
	n = br_ecdsa_asn1_to_raw(raw, sig_len);
	half = n / 2;
	if (n == 0 || half > c->len)
		return 0;

	arena_open();
	mpz_init(x);
	mpz_init(y);
	ecc_point_init(&pub, c->curve());
	dsa_signature_init(&ds);
	get_coord(x, pk->q + 1, c->len);
	get_coord(y, pk->q + 1 + c->len, c->len);
	mpz_import(ds.r, half, 1, 1, 1, 0, raw);
	mpz_import(ds.s, half, 1, 1, 1, 0, raw + half);
	/* A point off the curve is refused; so are r, s outside [1, n-1]. */
	if (ecc_point_set(&pub, x, y))
		ok = ecdsa_verify(&pub, hash_len, hash, &ds) != 0;
	else
		hz_counter_inc(&c_off_curve);
	dsa_signature_clear(&ds);
	ecc_point_clear(&pub);
	mpz_clear(y);
	mpz_clear(x);
	arena_close();
	return ok;
}

/* The most bytes one operation took from the arena (for the tests). */
size_t tls_ec_arena_peak(void)
{
	return arena.peak;
}

/* Whether the arena is empty and all zero, as every operation leaves it. */
bool tls_ec_arena_wiped(void)
{
	unsigned char acc = 0;

	for (size_t i = 0; i < ARENA_SIZE; i++)
		acc |= arena.mem[i];
	return !arena.open && arena.top == 0 && acc == 0;
}
