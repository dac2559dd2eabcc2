/*
 * The built-in noise sources, each giving 64-bit raw samples:
 *
 *   rdseed, rdrand  the CPU's generator, when CPUID reports it; x86_64
 *                   inline assembly, the only architecture-specific code
 *                   here (a port to another CPU replaces these two)
 *   jitter          how long a little memory-bound work takes, on the
 *                   platform's monotonic clock
 *   host            hz_platform_entropy (getrandom on unix, the tender's
 *                   on kvm), which may be absent
 *
 * What each sample is assumed to carry, and why, is in docs/entropy.md;
 * the engine (entropy.c) runs every sample through the health tests.
 */
#include <string.h>

#include "entropy/entropy_int.h"
#include "haze/platform.h"

/* --- CPUID, RDRAND, RDSEED --------------------------------------------- */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* CPUID.1:ECX bit 30. */
static bool cpu_has_rdrand(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] < 1)
		return false;
	cpuid(1, 0, r);
	return (r[2] >> 30) & 1;
}

/* CPUID.(7,0):EBX bit 18. */
static bool cpu_has_rdseed(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] < 7)
		return false;
	cpuid(7, 0, r);
	return (r[1] >> 18) & 1;
}

/* One RDRAND; the carry flag says whether @v holds a value. */
static bool rdrand64(uint64_t *v)
{
	bool ok;

	__asm__ volatile("rdrand %0" : "=r"(*v), "=@ccc"(ok));
	return ok;
}

/* One RDSEED; the carry flag says whether @v holds a value. */
static bool rdseed64(uint64_t *v)
{
	bool ok;

	__asm__ volatile("rdseed %0" : "=r"(*v), "=@ccc"(ok));
	return ok;
}

static int rdrand_probe(void *ctx)
{
	(void)ctx;
	return cpu_has_rdrand() ? 0 : -HZ_ENOTSUP;
}

static int rdseed_probe(void *ctx)
{
	(void)ctx;
	return cpu_has_rdseed() ? 0 : -HZ_ENOTSUP;
}

/* RDRAND rarely fails; when it does, it is busy: retry a few times. */
static int rdrand_sample(void *ctx, uint64_t *out)
{
	(void)ctx;
	for (int i = 0; i < HZ_ENTROPY_RDRAND_RETRIES; i++)
		if (rdrand64(out))
			return 0;
	return -HZ_EAGAIN;
}

/* RDSEED fails whenever its conditioner runs dry: pause and retry. */
static int rdseed_sample(void *ctx, uint64_t *out)
{
	(void)ctx;
	for (int i = 0; i < HZ_ENTROPY_RDSEED_RETRIES; i++) {
		if (rdseed64(out))
			return 0;
		__asm__ volatile("pause");
	}
	return -HZ_EAGAIN;
}

const struct hz_entropy_source hz_entropy_source_rdseed = {
    .name = "rdseed",
    .h8 = HZ_ENTROPY_H8_CPU,
    .origin = HZ_ENTROPY_ORIGIN_CPU,
    .probe = rdseed_probe,
    .sample = rdseed_sample,
};

const struct hz_entropy_source hz_entropy_source_rdrand = {
    .name = "rdrand",
    .h8 = HZ_ENTROPY_H8_CPU,
    .origin = HZ_ENTROPY_ORIGIN_CPU,
    .probe = rdrand_probe,
    .sample = rdrand_sample,
};

/* --- timing jitter ----------------------------------------------------- */

/*
 * 16 KiB (four pages, under most L1 caches) walked at addresses that
 * depend on the clock: cache and TLB state, interrupts, frequency changes
 * and the host's scheduling make the time this takes vary.
 */
#define JITTER_MEM 16384
#define JITTER_STEPS 48

static struct jitter {
	uint8_t mem[JITTER_MEM];
	uint64_t x;
} jitter;

static int jitter_probe(void *ctx)
{
	(void)ctx;
	return 0; /* a clock too coarse to jitter fails the health tests */
}

static int jitter_sample(void *ctx, uint64_t *out)
{
	struct jitter *j = ctx;
	uint64_t t0 = hz_platform_clock_monotonic();
	uint64_t x = j->x ^ t0;

	for (int i = 0; i < JITTER_STEPS; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		j->mem[(x >> 33) % JITTER_MEM] += (uint8_t)(x >> 56);
	}
	j->x = x;
	*out = hz_platform_clock_monotonic() - t0;
	return 0;
}

const struct hz_entropy_source hz_entropy_source_jitter = {
    .name = "jitter",
    .h8 = HZ_ENTROPY_H8_JITTER,
    .origin = HZ_ENTROPY_ORIGIN_TIMING,
    .probe = jitter_probe,
    .sample = jitter_sample,
    .ctx = &jitter,
};

/* --- the host ---------------------------------------------------------- */

/* One platform call fills 64 bytes, eight samples: few VM exits. */
static struct host {
	uint8_t buf[64];
	size_t used;
} host;

static int host_fill(struct host *h)
{
	int r = hz_platform_entropy(h->buf, sizeof(h->buf));

	if (r == -HZ_ENOTSUP)
		return r;
	if (r != (int)sizeof(h->buf))
		return -HZ_EIO;
	h->used = 0;
	return 0;
}

static int host_probe(void *ctx)
{
	return host_fill(ctx);
}

static int host_sample(void *ctx, uint64_t *out)
{
	struct host *h = ctx;

	if (h->used == sizeof(h->buf) && host_fill(h) < 0)
		return -HZ_EIO;
	memcpy(out, h->buf + h->used, sizeof(*out));
	hz_entropy_wipe(h->buf + h->used, sizeof(*out));
	h->used += sizeof(*out);
	return 0;
}

const struct hz_entropy_source hz_entropy_source_host = {
    .name = "host",
    .h8 = HZ_ENTROPY_H8_HOST,
    .origin = HZ_ENTROPY_ORIGIN_HOST,
    .probe = host_probe,
    .sample = host_sample,
    .ctx = &host,
};
