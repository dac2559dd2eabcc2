/*
 * Fortuna, as in Ferguson, Schneier and Kohno, Cryptography Engineering,
 * chapter 9: 32 pools of SHA-256 that collect events, and a generator
 * that is AES-256 in counter mode, rekeyed after every request.
 *
 * The accumulator reseeds the generator when pool 0 has collected
 * HZ_FORTUNA_MIN_POOL0 bytes and the last reseed is at least 100 ms old;
 * reseed number r uses every pool i for which 2^i divides r, so pool i is
 * drained half as often as pool i-1 and an attacker who can inject or
 * observe some events cannot keep the generator from recovering.
 *
 * SHA-256d (SHA-256 applied twice) is the book's SHA_d-256. AES is one
 * of BearSSL's constant-time implementations: AES-NI where the CPU has
 * it (about ten times faster), aes_ct64 elsewhere.
 */
#include <string.h>

#include "entropy/entropy_int.h"
#include "haze/assert.h"

void hz_entropy_wipe(void *p, size_t len)
{
	memset(p, 0, len);
	/* The compiler must assume the zeroes are read: it keeps the store. */
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* SHA-256d of what @ctx holds so far, into @out. */
static void sha256d_out(const br_sha256_context *ctx, uint8_t out[32])
{
	br_sha256_context again;
	uint8_t inner[32];

	br_sha256_out(ctx, inner);
	br_sha256_init(&again);
	br_sha256_update(&again, inner, sizeof(inner));
	br_sha256_out(&again, out);
	hz_entropy_wipe(inner, sizeof(inner));
	hz_entropy_wipe(&again, sizeof(again));
}

void hz_fortuna_init(struct hz_fortuna *f)
{
	memset(f, 0, sizeof(*f));
	f->aes = br_aes_x86ni_ctr_get_vtable();
	if (f->aes == NULL)
		f->aes = &br_aes_ct64_ctr_vtable;
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++)
		br_sha256_init(&f->pool[i]);
}

void hz_fortuna_wipe(struct hz_fortuna *f)
{
	hz_entropy_wipe(f, sizeof(*f));
}

void hz_fortuna_add(struct hz_fortuna *f, uint8_t source, unsigned pool,
		    const void *data, size_t len)
{
	uint8_t head[2] = {source, (uint8_t)len};

	HZ_ASSERT(pool < HZ_FORTUNA_POOLS);
	HZ_ASSERT(len >= 1 && len <= HZ_FORTUNA_EVENT_MAX);
	br_sha256_update(&f->pool[pool], head, sizeof(head));
	br_sha256_update(&f->pool[pool], data, len);
	f->pool_bytes[pool] += sizeof(head) + len;
}

/* --- the generator -------------------------------------------------------- */

static bool counter_is_zero(const uint8_t ctr[16])
{
	uint8_t any = 0;

	for (int i = 0; i < 16; i++)
		any |= ctr[i];
	return any == 0;
}

/* Adds @n to the 128-bit big-endian counter @ctr. */
static void counter_add(uint8_t ctr[16], uint64_t n)
{
	for (int i = 15; i >= 0 && n != 0; i--) {
		uint64_t sum = (uint64_t)ctr[i] + (n & 0xff);

		ctr[i] = (uint8_t)sum;
		n = (n >> 8) + (sum >> 8);
	}
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Writes @len bytes of keystream for counter @ctr onward to @out and
 * advances @ctr by the blocks used (a partial last block counts whole).
 * BearSSL's CTR carries only within the low 32 bits; the carry into the
 * upper 96 is done here, so the counter is a true 128-bit integer.
 */
static void generate_blocks(const br_block_ctr_class *const *keys,
			    uint8_t ctr[16], uint8_t *out, size_t len)
{
	memset(out, 0, len);
	while (len > 0) {
		uint32_t cc = load_be32(ctr + 12);
		uint64_t room =
		    ((uint64_t)1 << 32) - cc; /* blocks to the wrap */
		size_t chunk = len;

		if ((chunk + 15) / 16 > room)
			chunk = (size_t)(room * 16);
		/* The counter it returns wraps at 2^32: counter_add carries. */
		(void)(*keys)->run(keys, ctr, cc, out, chunk);
		counter_add(ctr, (chunk + 15) / 16);
		out += chunk;
		len -= chunk;
	}
}

void hz_fortuna_generator_reseed(struct hz_fortuna *f, const void *seed,
				 size_t len)
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, f->key, sizeof(f->key));
	br_sha256_update(&h, seed, len);
	sha256d_out(&h, f->key);
	hz_entropy_wipe(&h, sizeof(h));
	counter_add(f->ctr, 1);
}

int hz_fortuna_generate(struct hz_fortuna *f, void *buf, size_t len)
{
	br_aes_gen_ctr_keys keys;

	if (len > HZ_FORTUNA_MAX_REQUEST)
		return -HZ_EINVAL;
	if (counter_is_zero(f->ctr))
		return -HZ_EAGAIN;
	f->aes->init(&keys.vtable, f->key, sizeof(f->key));
	generate_blocks(&keys.vtable, f->ctr, buf, len);
	/* Rekey: the key that made this output is gone once it returns. */
	generate_blocks(&keys.vtable, f->ctr, f->key, sizeof(f->key));
	hz_entropy_wipe(&keys, sizeof(keys));
	return 0;
}

/* --- the accumulator ------------------------------------------------------ */

bool hz_fortuna_reseed_if_due(struct hz_fortuna *f, uint64_t now_ns)
{
	uint8_t seed[HZ_FORTUNA_POOLS * 32];
	size_t n = 0;
	uint64_t r;
	uint32_t used = 0;

	if (f->pool_bytes[0] < HZ_FORTUNA_MIN_POOL0)
		return false;
	if (f->reseeds != 0 &&
	    (now_ns < f->last_reseed_ns ||
	     now_ns - f->last_reseed_ns < HZ_FORTUNA_RESEED_NS))
		return false;
	r = f->reseeds + 1;
	for (unsigned i = 0; i < HZ_FORTUNA_POOLS; i++) {
		if ((r & (((uint64_t)1 << i) - 1)) != 0)
			break; /* 2^i does not divide r, nor does any 2^(i+k) */
		sha256d_out(&f->pool[i], seed + n);
		br_sha256_init(&f->pool[i]);
		f->pool_bytes[i] = 0;
		n += 32;
		used |= (uint32_t)1 << i;
	}
	hz_fortuna_generator_reseed(f, seed, n);
	hz_entropy_wipe(seed, n);
	f->reseeds = r;
	f->last_reseed_ns = now_ns;
	f->last_pools = used;
	return true;
}

int hz_fortuna_read(struct hz_fortuna *f, uint64_t now_ns, void *buf,
		    size_t len)
{
	if (len > HZ_FORTUNA_MAX_REQUEST)
		return -HZ_EINVAL;
	/* Whether it reseeded now matters not; whether it ever did, below. */
	(void)hz_fortuna_reseed_if_due(f, now_ns);
	if (f->reseeds == 0)
		return -HZ_EAGAIN;
	return hz_fortuna_generate(f, buf, len);
}
