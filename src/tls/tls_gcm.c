/*
 * AES-CTR and GHASH on 256-bit vectors (VAES, VPCLMULQDQ) for BearSSL's
 * AES-GCM records.
 *
 * BearSSL 0.6 computes a GCM record with its AES-NI CTR (four blocks at
 * a time, 128-bit) and its PCLMUL GHASH (four blocks per reduction,
 * H^2..H^4 recomputed on every call). On a TLS echo through the tap they
 * took 42 % of the server's CPU (docs/perf.md). BearSSL lets an engine
 * take other implementations of both pieces (br_ssl_engine_set_aes_ctr,
 * br_ssl_engine_set_ghash) and keeps the record layer, its nonces and its
 * tag checks; this file gives it ones that work on two blocks per
 * 256-bit register:
 *
 * - CTR: eight counter blocks per round, built by a vector add on the
 *   byte-swapped block (the 32-bit counter wraps, as GCM's does), ten to
 *   fourteen VAESENC rounds, one XOR into the data;
 * - GHASH: each run of sixteen blocks multiplied by H^16..H^1 (schoolbook
 *   carry-less products, summed unreduced) and reduced once, in the
 *   bit-reflected form of Intel's white paper (Gueron and Kounavis,
 *   "Intel Carry-Less Multiplication Instruction and its Usage for
 *   Computing the GCM Mode", algorithm 5 with H multiplied by x ahead).
 *
 * Both are constant time: no table, no branch on a secret. Each is used
 * where the processor has AVX2 and its instruction (VAES, VPCLMULQDQ)
 * and the system has enabled the AVX state (OSXSAVE, XCR0: Linux does;
 * haze-kvm and the virtio guest do where CPUID offers XSAVE and AVX),
 * and only once it has given BearSSL's answers on a first run: an
 * emulator may offer an instruction and get it wrong (QEMU 7.2's TCG
 * offers VAES and computes a 256-bit VAESENC's upper lane wrong).
 * Otherwise the engine keeps BearSSL's own. tests/unit/test_tls_gcm.c
 * and fuzz/fuzz_tls_gcm.c check both against BearSSL's.
 */
#include <string.h>

#include "tls/tls_gcm.h"
#include "tls/tls_int.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_include)
#if __has_include(<immintrin.h>) && __has_include(<cpuid.h>)
#define TLS_GCM_VEC 1
#endif
#endif

#ifdef TLS_GCM_VEC
#include <cpuid.h>
#include <immintrin.h>

#define VEC __attribute__((target("avx2,aes,pclmul,vaes,vpclmulqdq")))

/* AES's largest schedule: 14 rounds, 15 round keys. */
#define AES_ROUND_KEYS_MAX 15

/* The CTR context: laid out as BearSSL's AES-NI one, so it fits the
 * record layer's br_aes_gen_ctr_keys. */
struct vaes_ctr_keys {
	const br_block_ctr_class *vtable;
	unsigned char rk[AES_ROUND_KEYS_MAX * 16];
	unsigned rounds;
};

_Static_assert(sizeof(struct vaes_ctr_keys) <= sizeof(br_aes_gen_ctr_keys),
	       "the CTR context must fit BearSSL's record layer");

/* Reverses the bytes of each 128-bit lane. */
#define BSWAP_BYTES 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0

/* Which of the vector pieces the processor and system offer. */
static unsigned vec_usable(void)
{
	unsigned a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	if (!(c & bit_OSXSAVE) || !(c & bit_AVX) || !(c & bit_AES) ||
	    !(c & bit_PCLMUL))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6) /* SSE and AVX state saved by the system */
		return 0;
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	if (!(b & bit_AVX2))
		return 0;
	return ((c & bit_VAES) ? TLS_GCM_VAES : 0) |
	       ((c & bit_VPCLMULQDQ) ? TLS_GCM_VPCLMUL : 0);
}

/* AES's SubWord on one little-endian word, by AESKEYGENASSIST. */
__attribute__((target("aes"))) static uint32_t sub_word(uint32_t w)
{
	return (uint32_t)_mm_cvtsi128_si32(
	    _mm_aeskeygenassist_si128(_mm_set1_epi32((int)w), 0));
}

/*
 * FIPS 197's key expansion for 16-, 24- and 32-byte keys into @rk; the
 * number of rounds, or 0 for another length. Words are little-endian,
 * so RotWord is a right rotation and Rcon goes in the low byte.
 */
static unsigned expand_key(unsigned char *rk, const void *key, size_t len)
{
	static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10,
					 0x20, 0x40, 0x80, 0x1b, 0x36};
	uint32_t w[AES_ROUND_KEYS_MAX * 4];
	unsigned nk, rounds, i;

	if (len != 16 && len != 24 && len != 32)
		return 0;
	nk = (unsigned)len / 4;
	rounds = nk + 6;
	memcpy(w, key, len);
	for (i = nk; i < 4 * (rounds + 1); i++) {
		uint32_t t = w[i - 1];

		if (i % nk == 0)
			t = sub_word((t >> 8) | (t << 24)) ^ rcon[i / nk - 1];
		else if (nk > 6 && i % nk == 4)
			t = sub_word(t);
		w[i] = w[i - nk] ^ t;
	}
	memcpy(rk, w, 16 * (rounds + 1));
	tls_wipe(w, sizeof(w));
	return rounds;
}

static const br_block_ctr_class vaes_ctr_vtable;

/* br_block_ctr_class.init: the key schedule (a bad length: no rounds). */
static void vaes_ctr_init(const br_block_ctr_class **ctx, const void *key,
			  size_t len)
{
	struct vaes_ctr_keys *kc = (struct vaes_ctr_keys *)(void *)ctx;

	kc->vtable = &vaes_ctr_vtable;
	kc->rounds = expand_key(kc->rk, key, len);
}

/* One 128-bit block's key stream for @ctr (byte-swapped counter block). */
VEC static __m128i ctr_block(const __m128i *rk, unsigned rounds, __m128i ctr)
{
	const __m128i bswap = _mm_setr_epi8(BSWAP_BYTES);
	__m128i x = _mm_xor_si128(_mm_shuffle_epi8(ctr, bswap), rk[0]);
	unsigned r;

	for (r = 1; r < rounds; r++)
		x = _mm_aesenc_si128(x, rk[r]);
	return _mm_aesenclast_si128(x, rk[rounds]);
}

/*
 * br_block_ctr_class.run: XORs @len bytes at @data with the key stream
 * of @iv (12 bytes) and counters from @cc; the next counter.
 */
VEC static uint32_t vaes_ctr_run(const br_block_ctr_class *const *ctx,
				 const void *iv, uint32_t cc, void *data,
				 size_t len)
{
	const struct vaes_ctr_keys *kc = (const void *)ctx;
	const __m256i bswap = _mm256_setr_epi8(BSWAP_BYTES, BSWAP_BYTES);
	__m128i rk[AES_ROUND_KEYS_MAX];
	__m256i rk2[AES_ROUND_KEYS_MAX];
	unsigned char blk[16], *p = data;
	unsigned rounds = kc->rounds, r;
	__m128i base;
	__m256i ctr;

	if (rounds == 0) {
		/* A key of a length AES has not (BearSSL's callers never
		 * give one): nothing leaves in the clear. */
		memset(data, 0, len);
		return cc;
	}
	for (r = 0; r <= rounds; r++) {
		rk[r] = _mm_loadu_si128((const void *)(kc->rk + 16 * r));
		rk2[r] = _mm256_broadcastsi128_si256(rk[r]);
	}
	/* The block IV || counter, byte-swapped: the counter is lane 0. */
	memcpy(blk, iv, 12);
	memset(blk + 12, 0, 4);
	base = _mm_shuffle_epi8(_mm_loadu_si128((const void *)blk),
				_mm256_castsi256_si128(bswap));
	base = _mm_add_epi32(base, _mm_cvtsi32_si128((int)cc));
	ctr = _mm256_add_epi32(_mm256_broadcastsi128_si256(base),
			       _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 0));
	while (len >= 128) {
		const __m256i two = _mm256_setr_epi32(2, 0, 0, 0, 2, 0, 0, 0);
		__m256i c1 = _mm256_add_epi32(ctr, two);
		__m256i c2 = _mm256_add_epi32(c1, two);
		__m256i c3 = _mm256_add_epi32(c2, two);
		__m256i x0 = _mm256_shuffle_epi8(ctr, bswap);
		__m256i x1 = _mm256_shuffle_epi8(c1, bswap);
		__m256i x2 = _mm256_shuffle_epi8(c2, bswap);
		__m256i x3 = _mm256_shuffle_epi8(c3, bswap);

		ctr = _mm256_add_epi32(c3, two);
		x0 = _mm256_xor_si256(x0, rk2[0]);
		x1 = _mm256_xor_si256(x1, rk2[0]);
		x2 = _mm256_xor_si256(x2, rk2[0]);
		x3 = _mm256_xor_si256(x3, rk2[0]);
		for (r = 1; r < rounds; r++) {
			x0 = _mm256_aesenc_epi128(x0, rk2[r]);
			x1 = _mm256_aesenc_epi128(x1, rk2[r]);
			x2 = _mm256_aesenc_epi128(x2, rk2[r]);
			x3 = _mm256_aesenc_epi128(x3, rk2[r]);
		}
		x0 = _mm256_aesenclast_epi128(x0, rk2[rounds]);
		x1 = _mm256_aesenclast_epi128(x1, rk2[rounds]);
		x2 = _mm256_aesenclast_epi128(x2, rk2[rounds]);
		x3 = _mm256_aesenclast_epi128(x3, rk2[rounds]);
		_mm256_storeu_si256(
		    (void *)p,
		    _mm256_xor_si256(x0, _mm256_loadu_si256((const void *)p)));
		_mm256_storeu_si256(
		    (void *)(p + 32),
		    _mm256_xor_si256(
			x1, _mm256_loadu_si256((const void *)(p + 32))));
		_mm256_storeu_si256(
		    (void *)(p + 64),
		    _mm256_xor_si256(
			x2, _mm256_loadu_si256((const void *)(p + 64))));
		_mm256_storeu_si256(
		    (void *)(p + 96),
		    _mm256_xor_si256(
			x3, _mm256_loadu_si256((const void *)(p + 96))));
		p += 128;
		len -= 128;
		cc += 8;
	}
	base = _mm256_castsi256_si128(ctr);
	while (len > 0) {
		__m128i ks = ctr_block(rk, rounds, base);
		size_t n = len < 16 ? len : 16, i;

		base = _mm_add_epi32(base, _mm_cvtsi32_si128(1));
		if (n == 16) {
			_mm_storeu_si128(
			    (void *)p, _mm_xor_si128(ks, _mm_loadu_si128(
							     (const void *)p)));
		} else {
			_mm_storeu_si128((void *)blk, ks);
			for (i = 0; i < n; i++)
				p[i] ^= blk[i];
		}
		p += n;
		len -= n;
		if (n == 16)
			cc++; /* as BearSSL's: a partial block is not counted */
	}
	tls_wipe(blk, sizeof(blk));
	tls_wipe(rk, sizeof(rk));
	tls_wipe(rk2, sizeof(rk2));
	return cc;
}

static const br_block_ctr_class vaes_ctr_vtable = {
    sizeof(struct vaes_ctr_keys), 16, 4, vaes_ctr_init, vaes_ctr_run};

/*
 * H (byte-swapped) multiplied by x in the reflected field: the left
 * shift by one that the reflected carry-less product lacks, reduced.
 */
VEC static __m128i ghash_key(__m128i h)
{
	uint64_t lo = (uint64_t)_mm_cvtsi128_si64(h);
	uint64_t hi = (uint64_t)_mm_extract_epi64(h, 1);
	uint64_t top = 0 - (hi >> 63);

	return _mm_set_epi64x(
	    (long long)(((hi << 1) | (lo >> 63)) ^ (top & 0xc200000000000000)),
	    (long long)((lo << 1) | (hi >> 63)));
}

/* Reduces the 256-bit product @hi:@lo modulo GCM's polynomial. */
VEC static __m128i ghash_reduce(__m128i lo, __m128i hi)
{
	__m128i t = _mm_xor_si128(_mm_slli_epi64(lo, 1), lo);

	t = _mm_xor_si128(_mm_slli_epi64(t, 5), lo);
	t = _mm_slli_epi64(t, 57);
	lo = _mm_xor_si128(lo, _mm_slli_si128(t, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(t, 8));
	t = _mm_xor_si128(_mm_srli_epi64(lo, 5), lo);
	t = _mm_xor_si128(_mm_srli_epi64(t, 1), lo);
	t = _mm_srli_epi64(t, 1);
	return _mm_xor_si128(_mm_xor_si128(hi, t), lo);
}

/* @a times @k (a key power from ghash_key), reduced. */
VEC static __m128i ghash_mul(__m128i a, __m128i k)
{
	__m128i lo = _mm_clmulepi64_si128(a, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(a, k, 0x11);
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x01),
				    _mm_clmulepi64_si128(a, k, 0x10));

	lo = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
	hi = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));
	return ghash_reduce(lo, hi);
}

/* Blocks, and bytes, that GHASH reduces once. */
#define GHASH_BLOCKS 16
#define GHASH_RUN (16 * GHASH_BLOCKS)

/* Adds the unreduced products of two blocks by two key powers. */
#define GHASH_PAIR(d, k)                                                     \
	do {                                                                 \
		lo = _mm256_xor_si256(lo,                                    \
				      _mm256_clmulepi64_epi128(d, k, 0x00)); \
		hi = _mm256_xor_si256(hi,                                    \
				      _mm256_clmulepi64_epi128(d, k, 0x11)); \
		mid = _mm256_xor_si256(                                      \
		    mid,                                                     \
		    _mm256_xor_si256(_mm256_clmulepi64_epi128(d, k, 0x01),   \
				     _mm256_clmulepi64_epi128(d, k, 0x10))); \
	} while (0)

/*
 * br_ghash: folds @len bytes of @data (the last block zero-padded) into
 * the GHASH state @y under the key @h.
 */
VEC static void vpclmul_ghash(void *y, const void *h, const void *data,
			      size_t len)
{
	const __m256i bswap = _mm256_setr_epi8(BSWAP_BYTES, BSWAP_BYTES);
	const __m128i bswap1 = _mm256_castsi256_si128(bswap);
	const unsigned char *p = data;
	__m128i acc, k1;

	acc = _mm_shuffle_epi8(_mm_loadu_si128(y), bswap1);
	k1 = ghash_key(_mm_shuffle_epi8(_mm_loadu_si128(h), bswap1));
	if (len >= GHASH_RUN) {
		__m128i pw[GHASH_BLOCKS]; /* pw[i]: H^(i+1) */
		__m256i kp[GHASH_BLOCKS / 2];
		unsigned i;

		/* Pair j multiplies blocks 2j, 2j+1 by H^(16-2j), H^(15-2j). */
		pw[0] = k1;
		for (i = 1; i < GHASH_BLOCKS; i++)
			pw[i] = ghash_mul(pw[i - 1], k1);
		for (i = 0; i < GHASH_BLOCKS / 2; i++)
			kp[i] = _mm256_setr_m128i(pw[GHASH_BLOCKS - 1 - 2 * i],
						  pw[GHASH_BLOCKS - 2 - 2 * i]);
		while (len >= GHASH_RUN) {
			__m256i lo = _mm256_setzero_si256();
			__m256i hi = lo, mid = lo, d;
			__m128i l, m, u;

			/* The pairs without the state first: they need not
			 * wait for the last run's reduction. */
			for (i = GHASH_BLOCKS / 2 - 1; i > 0; i--) {
				d = _mm256_shuffle_epi8(
				    _mm256_loadu_si256(
					(const void *)(p + 32 * i)),
				    bswap);
				GHASH_PAIR(d, kp[i]);
			}
			d = _mm256_shuffle_epi8(
			    _mm256_loadu_si256((const void *)p), bswap);
			d = _mm256_xor_si256(d, _mm256_zextsi128_si256(acc));
			GHASH_PAIR(d, kp[0]);
			l = _mm_xor_si128(_mm256_castsi256_si128(lo),
					  _mm256_extracti128_si256(lo, 1));
			u = _mm_xor_si128(_mm256_castsi256_si128(hi),
					  _mm256_extracti128_si256(hi, 1));
			m = _mm_xor_si128(_mm256_castsi256_si128(mid),
					  _mm256_extracti128_si256(mid, 1));
			l = _mm_xor_si128(l, _mm_slli_si128(m, 8));
			u = _mm_xor_si128(u, _mm_srli_si128(m, 8));
			acc = ghash_reduce(l, u);
			p += GHASH_RUN;
			len -= GHASH_RUN;
		}
		tls_wipe(pw, sizeof(pw));
		tls_wipe(kp, sizeof(kp));
	}
	for (; len >= 16; p += 16, len -= 16)
		acc = ghash_mul(
		    _mm_xor_si128(
			acc, _mm_shuffle_epi8(_mm_loadu_si128((const void *)p),
					      bswap1)),
		    k1);
	if (len > 0) {
		unsigned char last[16] = {0};

		memcpy(last, p, len);
		acc = ghash_mul(
		    _mm_xor_si128(
			acc, _mm_shuffle_epi8(_mm_loadu_si128((void *)last),
					      bswap1)),
		    k1);
	}
	_mm_storeu_si128(y, _mm_shuffle_epi8(acc, bswap1));
}

/*
 * Whether the vector CTR gives BearSSL's portable answer on two rounds
 * of eight blocks and a partial one. An emulator may offer VAES and get
 * it wrong: QEMU 7.2's TCG computes 256-bit VAESENC's upper lane wrong.
 */
static bool vaes_right(void)
{
	unsigned char key[16], iv[12], a[2 * 128 + 5], b[sizeof(a)];
	br_aes_gen_ctr_keys ref, vec;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 29 + 1);
	memcpy(key, a + 3, sizeof(key));
	memcpy(iv, a + 40, sizeof(iv));
	br_aes_ct64_ctr_vtable.init(&ref.vtable, key, sizeof(key));
	vaes_ctr_init(&vec.vtable, key, sizeof(key));
	return br_aes_ct64_ctr_vtable.run(&ref.vtable, iv, 0xfffffffe, a,
					  sizeof(a)) ==
		   vaes_ctr_run(&vec.vtable, iv, 0xfffffffe, b, sizeof(b)) &&
	       memcmp(a, b, sizeof(a)) == 0;
}

/* Whether the vector GHASH gives BearSSL's portable answer from a state
 * not zero, on two runs of sixteen blocks and a partial one. */
static bool vpclmul_right(void)
{
	unsigned char data[2 * GHASH_RUN + 21], y_ref[16], y_vec[16];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 53 + 7);
	memcpy(y_ref, data + 200, sizeof(y_ref));
	memcpy(y_vec, data + 200, sizeof(y_vec));
	br_ghash_ctmul64(y_ref, data + 100, data, sizeof(data));
	vpclmul_ghash(y_vec, data + 100, data, sizeof(data));
	return memcmp(y_ref, y_vec, sizeof(y_ref)) == 0;
}

/*
 * The vector pieces that run, and run right, here (checked once; the
 * check is idempotent, so two threads racing to it would agree).
 */
static unsigned vec_ready(void)
{
	static int ready = -1;
	int have = __atomic_load_n(&ready, __ATOMIC_RELAXED);

	if (have < 0) {
		unsigned v = vec_usable();

		if ((v & TLS_GCM_VAES) && !vaes_right())
			v &= ~(unsigned)TLS_GCM_VAES;
		if ((v & TLS_GCM_VPCLMUL) && !vpclmul_right())
			v &= ~(unsigned)TLS_GCM_VPCLMUL;
		have = (int)v;
		__atomic_store_n(&ready, have, __ATOMIC_RELAXED);
	}
	return (unsigned)have;
}

unsigned tls_gcm_offered(void)
{
	return vec_usable();
}

const br_block_ctr_class *tls_gcm_ctr_get(void)
{
	return (vec_ready() & TLS_GCM_VAES) ? &vaes_ctr_vtable : NULL;
}

br_ghash tls_gcm_ghash_get(void)
{
	return (vec_ready() & TLS_GCM_VPCLMUL) ? vpclmul_ghash : NULL;
}

#else /* no vector build */

unsigned tls_gcm_offered(void)
{
	return 0;
}

const br_block_ctr_class *tls_gcm_ctr_get(void)
{
	return NULL;
}

br_ghash tls_gcm_ghash_get(void)
{
	return NULL;
}

#endif

void tls_gcm_install(br_ssl_engine_context *eng)
{
	const br_block_ctr_class *ctr = tls_gcm_ctr_get();
	br_ghash gh = tls_gcm_ghash_get();

	if (ctr != NULL)
		br_ssl_engine_set_aes_ctr(eng, ctr);
	if (gh != NULL)
		br_ssl_engine_set_ghash(eng, gh);
}
