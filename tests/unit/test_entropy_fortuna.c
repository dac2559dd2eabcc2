/*
 * Fortuna: known answers for the generator and the accumulator, and the
 * reseed rules (pool schedule, 100 ms spacing, pool 0 threshold).
 *
 * The expected bytes were computed independently of Haze and BearSSL, with
 * Python's hashlib for SHA-256 and the openssl command line for
 * AES-256-CTR (whose counter is the whole block, big-endian):
 *
 *   import hashlib, subprocess
 *   def sha256d(b): return hashlib.sha256(hashlib.sha256(b).digest()).digest()
 *   def keystream(key, ctr, nblocks):
 *       return subprocess.run(['openssl', 'enc', '-aes-256-ctr', '-K',
 *           key.hex(), '-iv', ctr.to_bytes(16, 'big').hex(), '-nosalt',
 *           '-nopad'], input=bytes(16 * nblocks), capture_output=True,
 *           check=True).stdout
 *   class Fortuna:
 *       def __init__(s): s.key = bytes(32); s.ctr = 0; s.pools = [b''] * 32
 *                        s.reseeds = 0
 *       def reseed_gen(s, seed): s.key = sha256d(s.key + seed); s.ctr += 1
 *       def gen(s, n):
 *           nb = (n + 15) // 16
 *           ks = keystream(s.key, s.ctr, nb + 2)
 *           s.key = ks[nb * 16:nb * 16 + 32]; s.ctr += nb + 2
 *           return ks[:n]
 *       def add(s, src, pool, data):
 *           s.pools[pool] += bytes([src, len(data)]) + data
 *       def reseed(s):
 *           s.reseeds += 1; seed = b''
 *           for i in range(32):
 *               if s.reseeds % 2 ** i: break
 *               seed += sha256d(s.pools[i]); s.pools[i] = b''
 *           s.reseed_gen(seed)
 *
 * Each test below quotes the script's lines that made its vector.
 */
#include "tests/unit/harness.h"

#include <string.h>

#include "entropy/entropy_int.h"
#include "haze/mem.h"

#define MS (1000ull * 1000)

static struct hz_fortuna F;

/* Both AES implementations the generator may use: same answers. */
static const br_block_ctr_class *aes_impl[2];

/* Fills aes_impl: ct64 always, AES-NI when this CPU has it. */
static size_t aes_impls(void)
{
	aes_impl[0] = &br_aes_ct64_ctr_vtable;
	aes_impl[1] = br_aes_x86ni_ctr_get_vtable();
	return aes_impl[1] != NULL ? 2 : 1;
}

/* Returns the counter as a 64-bit number (its high 64 bits must be zero). */
static uint64_t counter_low64(const struct hz_fortuna *f)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		assert_int_equal(f->ctr[i], 0);
	for (int i = 8; i < 16; i++)
		v = v << 8 | f->ctr[i];
	return v;
}

/* f = Fortuna(); f.reseed_gen(bytes(range(64))); f.gen(40); f.gen(16) */
static void generator_known_answer(void **state)
{
	static const uint8_t out1[40] = {
	    0xbe, 0xdc, 0xe9, 0x58, 0x6f, 0x13, 0x14, 0x47, 0xe0, 0xb5,
	    0x60, 0x88, 0x35, 0xc9, 0x13, 0x0c, 0xa9, 0xdc, 0x11, 0x38,
	    0xf0, 0x9f, 0xaa, 0xe1, 0x60, 0x0e, 0xa4, 0xa9, 0x07, 0xe6,
	    0xa1, 0xd2, 0x49, 0x21, 0x7c, 0xa8, 0xf6, 0x88, 0xf5, 0x37};
	static const uint8_t out2[16] = {0x6c, 0x74, 0x8e, 0x02, 0x45, 0x47,
					 0x08, 0xf5, 0x06, 0x75, 0xad, 0x6f,
					 0x88, 0xad, 0xaf, 0x14};
	static const uint8_t key3[32] = {
	    0xaf, 0x48, 0xc4, 0x58, 0xb3, 0x69, 0xa5, 0x1e, 0x45, 0x4b, 0x93,
	    0xcb, 0x83, 0x77, 0x5a, 0x31, 0x78, 0x35, 0x62, 0x26, 0x49, 0x59,
	    0x01, 0x1f, 0x6c, 0xb2, 0x0f, 0x9f, 0x12, 0x9c, 0x8c, 0x89};
	uint8_t seed[64], buf[40];

	(void)state;
	for (int i = 0; i < 64; i++)
		seed[i] = (uint8_t)i;
	for (size_t a = 0; a < aes_impls(); a++) {
		hz_fortuna_init(&F);
		F.aes = aes_impl[a];
		hz_fortuna_generator_reseed(&F, seed, sizeof(seed));
		assert_int_equal(counter_low64(&F), 1);
		assert_int_equal(hz_fortuna_generate(&F, buf, 40), 0);
		assert_memory_equal(buf, out1, 40);
		/* 3 blocks of output (the last partial) and 2 of new key. */
		assert_int_equal(counter_low64(&F), 6);
		assert_int_equal(hz_fortuna_generate(&F, buf, 16), 0);
		assert_memory_equal(buf, out2, 16);
		assert_memory_equal(F.key, key3, 32);
		assert_int_equal(counter_low64(&F), 9);
		hz_fortuna_wipe(&F);
	}
}

/*
 * f = Fortuna(); f.key = bytes(range(32, 64)); f.ctr = 0xfffffffe;
 * f.gen(48): the third block's counter carries out of the low 32 bits,
 * which BearSSL's CTR does not do by itself.
 */
static void generator_counter_carries(void **state)
{
	static const uint8_t out[48] = {
	    0x71, 0xdd, 0x79, 0x84, 0x07, 0x46, 0xb9, 0xe2, 0x7e, 0xc5,
	    0xfb, 0x85, 0x26, 0x8d, 0x28, 0x79, 0x54, 0x6d, 0xcf, 0x6a,
	    0x5a, 0x4e, 0xf1, 0xd7, 0x51, 0xc9, 0x60, 0x7d, 0x61, 0x6d,
	    0x9a, 0x9f, 0xa1, 0xb2, 0x8a, 0xb6, 0xe9, 0x1f, 0xc1, 0xbe,
	    0x63, 0xe3, 0x4c, 0x99, 0xea, 0x2b, 0x93, 0xa3};
	uint8_t buf[48];

	(void)state;
	for (size_t a = 0; a < aes_impls(); a++) {
		hz_fortuna_init(&F);
		F.aes = aes_impl[a];
		for (int i = 0; i < 32; i++)
			F.key[i] = (uint8_t)(32 + i);
		memset(F.ctr + 12, 0xff, 4);
		F.ctr[15] = 0xfe;
		assert_int_equal(hz_fortuna_generate(&F, buf, sizeof(buf)), 0);
		assert_memory_equal(buf, out, sizeof(out));
		assert_int_equal(counter_low64(&F), 0x100000003ull);
		hz_fortuna_wipe(&F);
	}
}

static void generator_refuses_unseeded_and_oversized(void **state)
{
	uint8_t *big, seed[1] = {1};

	(void)state;
	big = hz_malloc(HZ_FORTUNA_MAX_REQUEST + 1);
	assert_non_null(big);
	hz_fortuna_init(&F);
	assert_int_equal(hz_fortuna_generate(&F, big, 16), -HZ_EAGAIN);
	hz_fortuna_generator_reseed(&F, seed, sizeof(seed));
	assert_int_equal(
	    hz_fortuna_generate(&F, big, HZ_FORTUNA_MAX_REQUEST + 1),
	    -HZ_EINVAL);
	assert_int_equal(hz_fortuna_generate(&F, big, HZ_FORTUNA_MAX_REQUEST),
			 0);
	/* 65536 blocks of output, 2 of key, after the reseed's 1. */
	assert_int_equal(counter_low64(&F), 1 + 65536 + 2);
	assert_int_equal(hz_fortuna_generate(&F, big, 0), 0);
	assert_int_equal(counter_low64(&F), 1 + 65536 + 2 + 2);
	hz_free(big);
	hz_fortuna_wipe(&F);
}

/* Fills @len bytes with (@base + @k + j) & 0xff, as the script does. */
static void pattern(uint8_t *p, size_t len, unsigned base, unsigned k)
{
	for (size_t j = 0; j < len; j++)
		p[j] = (uint8_t)(base + k + j);
}

/*
 * f = Fortuna()
 * for i in range(4):
 *     for k in range(2):
 *         f.add(7, i, bytes((i * 32 + k + j) & 0xff for j in range(32)))
 * f.reseed(); f.gen(32)
 * for k in range(2):
 *     f.add(9, 0, bytes((0xa0 + k + j) & 0xff for j in range(32)))
 * f.reseed(); f.gen(32)
 */
static void accumulator_known_answer(void **state)
{
	static const uint8_t acc1[32] = {
	    0xc8, 0xf2, 0x74, 0x3b, 0xc5, 0xef, 0xdd, 0x0d, 0xa4, 0x32, 0xd0,
	    0xc2, 0x85, 0xe5, 0x19, 0x8b, 0x65, 0x37, 0x2e, 0x9d, 0x63, 0x4a,
	    0x64, 0x8f, 0x83, 0xcd, 0x29, 0xe7, 0x83, 0x90, 0x3b, 0xf4};
	static const uint8_t acc2[32] = {
	    0x7e, 0x3b, 0xd1, 0xe2, 0x14, 0x0e, 0xef, 0xef, 0xe4, 0xe1, 0x00,
	    0x6a, 0x72, 0x8f, 0x68, 0x67, 0x65, 0x7a, 0x6b, 0x7f, 0xc8, 0xd7,
	    0x66, 0xc0, 0x4f, 0xa2, 0xc0, 0x9a, 0xe5, 0x5d, 0x9e, 0x7f};
	uint8_t ev[32], buf[32];

	(void)state;
	hz_fortuna_init(&F);
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned k = 0; k < 2; k++) {
			pattern(ev, sizeof(ev), i * 32, k);
			hz_fortuna_add(&F, 7, i, ev, sizeof(ev));
		}
	}
	assert_int_equal(hz_fortuna_read(&F, 1000 * MS, buf, 32), 0);
	assert_memory_equal(buf, acc1, 32);
	assert_int_equal(F.reseeds, 1);
	assert_int_equal(F.last_pools, 0x1);
	for (unsigned k = 0; k < 2; k++) {
		pattern(ev, sizeof(ev), 0xa0, k);
		hz_fortuna_add(&F, 9, 0, ev, sizeof(ev));
	}
	assert_int_equal(hz_fortuna_read(&F, 1100 * MS, buf, 32), 0);
	assert_memory_equal(buf, acc2, 32);
	assert_int_equal(F.reseeds, 2);
	assert_int_equal(F.last_pools, 0x3);
	/* Pools 2 and 3 still hold their two events (34 bytes each). */
	assert_int_equal(F.pool_bytes[2], 68);
	assert_int_equal(F.pool_bytes[3], 68);
	hz_fortuna_wipe(&F);
}

/* Pool i goes into reseed r exactly when 2^i divides r. */
static void reseed_uses_pool_i_every_2_to_the_i(void **state)
{
	uint8_t ev[32] = {0};
	uint64_t now = 5000 * MS;

	(void)state;
	hz_fortuna_init(&F);
	for (uint64_t r = 1; r <= 1024; r++) {
		uint32_t expect = 0;

		/* One event per pool, two in pool 0 to pass its threshold. */
		for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++) {
			ev[0] = (uint8_t)r;
			hz_fortuna_add(&F, 1, i, ev, sizeof(ev));
		}
		hz_fortuna_add(&F, 1, 0, ev, sizeof(ev));
		for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
			if (r % ((uint64_t)1 << i) == 0)
				expect |= (uint32_t)1 << i;
		assert_true(hz_fortuna_reseed_if_due(&F, now));
		assert_int_equal(F.reseeds, r);
		assert_int_equal(F.last_pools, expect);
		for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++) {
			/* A pool used is empty; one not used kept everything
			 * since it was last used, every 2^i reseeds. */
			uint64_t held = (r % ((uint64_t)1 << i)) * 34;

			assert_int_equal(F.pool_bytes[i],
					 (expect >> i) & 1 ? 0 : held);
		}
		now += HZ_FORTUNA_RESEED_NS;
	}
	hz_fortuna_wipe(&F);
}

/* At most one reseed per 100 ms, however full pool 0 is. */
static void reseed_refused_within_100_ms(void **state)
{
	uint8_t ev[32] = {0}, buf[16];
	uint64_t t0 = 7000 * MS;

	(void)state;
	hz_fortuna_init(&F);
	for (int i = 0; i < 2; i++)
		hz_fortuna_add(&F, 1, 0, ev, sizeof(ev));
	assert_true(hz_fortuna_reseed_if_due(&F, t0));
	for (int i = 0; i < 8; i++)
		hz_fortuna_add(&F, 1, 0, ev, sizeof(ev));
	assert_false(hz_fortuna_reseed_if_due(&F, t0));
	assert_false(hz_fortuna_reseed_if_due(&F, t0 + 50 * MS));
	/* Reading within the 100 ms still answers, without reseeding. */
	assert_int_equal(hz_fortuna_read(&F, t0 + HZ_FORTUNA_RESEED_NS - 1, buf,
					 sizeof(buf)),
			 0);
	assert_int_equal(F.reseeds, 1);
	/* A clock behind the last reseed is refused too. */
	assert_false(hz_fortuna_reseed_if_due(&F, t0 - 1));
	assert_int_equal(
	    hz_fortuna_read(&F, t0 + HZ_FORTUNA_RESEED_NS, buf, sizeof(buf)),
	    0);
	assert_int_equal(F.reseeds, 2);
	hz_fortuna_wipe(&F);
}

/* Pool 0 needs 64 bytes (events count with their 2-byte header). */
static void reseed_waits_for_pool_0(void **state)
{
	uint8_t ev[32] = {0}, buf[16];

	(void)state;
	hz_fortuna_init(&F);
	/* Other pools being full does not matter. */
	for (unsigned i = 1; i < HZ_FORTUNA_POOLS; i++)
		hz_fortuna_add(&F, 1, i, ev, sizeof(ev));
	hz_fortuna_add(&F, 1, 0, ev, 31); /* 33 bytes */
	hz_fortuna_add(&F, 1, 0, ev, 28); /* 63 */
	assert_int_equal(F.pool_bytes[0], 63);
	assert_int_equal(hz_fortuna_read(&F, 1000 * MS, buf, sizeof(buf)),
			 -HZ_EAGAIN);
	assert_false(hz_fortuna_reseed_if_due(&F, 2000 * MS));
	assert_int_equal(F.reseeds, 0);
	hz_fortuna_add(&F, 1, 0, ev, 1); /* 66 */
	assert_int_equal(hz_fortuna_read(&F, 2000 * MS, buf, sizeof(buf)), 0);
	assert_int_equal(F.reseeds, 1);
	assert_int_equal(F.pool_bytes[0], 0);
	hz_fortuna_wipe(&F);
}

/* Requests over 1 MiB are refused before anything else. */
static void read_refuses_oversized(void **state)
{
	(void)state;
	hz_fortuna_init(&F);
	assert_int_equal(
	    hz_fortuna_read(&F, 0, NULL, HZ_FORTUNA_MAX_REQUEST + 1),
	    -HZ_EINVAL);
	hz_fortuna_wipe(&F);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(generator_known_answer),
	    HARNESS_TEST(generator_counter_carries),
	    HARNESS_TEST(generator_refuses_unseeded_and_oversized),
	    HARNESS_TEST(accumulator_known_answer),
	    HARNESS_TEST(reseed_uses_pool_i_every_2_to_the_i),
	    HARNESS_TEST(reseed_refused_within_100_ms),
	    HARNESS_TEST(reseed_waits_for_pool_0),
	    HARNESS_TEST(read_refuses_oversized),
	};

	return HARNESS_RUN("entropy_fortuna", tests);
}
