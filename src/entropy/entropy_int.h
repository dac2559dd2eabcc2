/*
 * Inside the entropy subsystem (docs/entropy.md): the Fortuna accumulator
 * and generator, the NIST SP 800-90B health tests, the sources, and the
 * engine that ties them together. Public for the unit tests, which run the
 * accumulator with fake sources and check the generator against
 * known-answer vectors; nothing outside src/entropy and tests includes it.
 */
#ifndef HAZE_ENTROPY_ENTROPY_INT_H
#define HAZE_ENTROPY_ENTROPY_INT_H

#include <bearssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/entropy.h"
#include "haze/error.h"

/* --- Fortuna (Ferguson, Schneier, Kohno: Cryptography Engineering, ch. 9) */

#define HZ_FORTUNA_POOLS 32
/* Bytes pool 0 must have received since the last reseed (MinPoolSize). */
#define HZ_FORTUNA_MIN_POOL0 64
/* Reseeds are at least this far apart. */
#define HZ_FORTUNA_RESEED_NS (100ull * 1000 * 1000)
/* The largest single request; bigger ones are refused, not split. */
#define HZ_FORTUNA_MAX_REQUEST ((size_t)1 << 20)
/* The most data one event may carry (the book's 32 bytes). */
#define HZ_FORTUNA_EVENT_MAX 32

/*
 * Accumulator and generator in one context; no allocation. The counter is
 * a 128-bit big-endian integer, the plaintext of each AES block, so the
 * generator's output is exactly AES-256-CTR with the standard incrementing
 * function over all 16 bytes (what `openssl enc -aes-256-ctr` computes).
 */
struct hz_fortuna {
	const br_block_ctr_class *aes; /* AES-NI if the CPU has it, else ct64 */
	br_sha256_context pool[HZ_FORTUNA_POOLS];
	uint64_t pool_bytes[HZ_FORTUNA_POOLS]; /* appended since last used */
	uint64_t reseeds;		       /* 0: never seeded */
	uint64_t last_reseed_ns;
	uint32_t last_pools; /* bit i: pool i went into the last reseed */
	uint8_t key[32];
	uint8_t ctr[16];
};

/*
 * Empties every pool and forgets the generator's key: unseeded. AES is
 * BearSSL's AES-NI code where CPUID reports AES-NI, else aes_ct64: both
 * constant-time, same output; a test may set f->aes to either.
 */
void hz_fortuna_init(struct hz_fortuna *f);

/* Wipes every secret in @f; it must be initialised again before use. */
void hz_fortuna_wipe(struct hz_fortuna *f);

/*
 * Appends event @data (1..32 bytes) from source number @source to pool
 * @pool (0..31), as the book's AddRandomEvent: source || length || data.
 */
void hz_fortuna_add(struct hz_fortuna *f, uint8_t source, unsigned pool,
		    const void *data, size_t len);

/*
 * Reseeds from the pools if pool 0 holds HZ_FORTUNA_MIN_POOL0 bytes and
 * the last reseed is HZ_FORTUNA_RESEED_NS before @now_ns (or there was
 * none). Pool i takes part in reseed number r when 2^i divides r. Returns
 * whether it reseeded.
 */
bool hz_fortuna_reseed_if_due(struct hz_fortuna *f, uint64_t now_ns);

/*
 * The book's RandomData: reseeds if due, then fills @buf with @len bytes.
 * 0, -HZ_EAGAIN if never seeded, -HZ_EINVAL over HZ_FORTUNA_MAX_REQUEST.
 */
HZ_MUST_CHECK
int hz_fortuna_read(struct hz_fortuna *f, uint64_t now_ns, void *buf,
		    size_t len);

/* The generator's Reseed: key = SHA-256d(key || @seed), counter + 1. */
void hz_fortuna_generator_reseed(struct hz_fortuna *f, const void *seed,
				 size_t len);

/*
 * The generator's PseudoRandomData: @len bytes of AES-256-CTR, then two
 * more blocks become the new key. 0, -HZ_EAGAIN if never seeded (counter
 * zero), -HZ_EINVAL over HZ_FORTUNA_MAX_REQUEST.
 */
HZ_MUST_CHECK
int hz_fortuna_generate(struct hz_fortuna *f, void *buf, size_t len);

/* Overwrites @len bytes at @p in a way the compiler keeps. */
void hz_entropy_wipe(void *p, size_t len);

/* --- health tests (NIST SP 800-90B, section 4.4) -------------------------- */

/* False-positive probability of each test: alpha = 2^-30 per sample. */
#define HZ_HEALTH_ALPHA_LOG2 30
/* Adaptive proportion test window, for non-binary samples. */
#define HZ_HEALTH_APT_WINDOW 512

enum hz_health_result {
	HZ_HEALTH_OK = 0,
	HZ_HEALTH_RCT, /* repetition count test failed */
	HZ_HEALTH_APT, /* adaptive proportion test failed */
};

/* Both tests' state for one source, over 64-bit samples. */
struct hz_health {
	uint32_t h8;	     /* assumed min-entropy per sample, 1/8 bits */
	uint32_t rct_cutoff; /* C of the repetition count test */
	uint32_t apt_cutoff; /* C of the adaptive proportion test */
	uint64_t rct_value;
	uint32_t rct_count;
	uint64_t apt_value;
	uint32_t apt_count; /* occurrences of apt_value in this window */
	uint32_t apt_seen;  /* samples of this window so far */
	uint64_t samples;
	enum hz_health_result failed; /* sticky */
};

/* Repetition count cutoff for @h8 eighths of a bit: 1 + ceil(30 / H). */
uint32_t hz_health_rct_cutoff(uint32_t h8);

/* Adaptive proportion cutoff: 1 + CRITBINOM(512, 2^-H, 1 - 2^-30). */
uint32_t hz_health_apt_cutoff(uint32_t h8);

/* Prepares @h for a source of @h8 (> 0) eighths of a bit per sample. */
void hz_health_init(struct hz_health *h, uint32_t h8);

/* Feeds @sample to both tests; HZ_HEALTH_OK, or the (sticky) failure. */
enum hz_health_result hz_health_check(struct hz_health *h, uint64_t sample);

/* Returns "repetition count test" or "adaptive proportion test". */
const char *hz_health_name(enum hz_health_result r);

/* --- sources -------------------------------------------------------------- */

/*
 * A noise source: 64-bit raw samples, each assumed to carry h8 / 8 bits of
 * min-entropy (that figure sets its health-test cutoffs and how much it
 * counts towards the first seed). Sources are const tables; their
 * mutable state lives behind ctx.
 */
struct hz_entropy_source {
	const char *name; /* "rdseed", for the log */
	uint32_t h8;	  /* assumed min-entropy per sample, 1/8 bits */
	unsigned origin;  /* what it rests on: HZ_ENTROPY_ORIGIN_* */
	/* Readies the source: 0, or -HZ_ENOTSUP when it is absent here. */
	int (*probe)(void *ctx);
	/* One raw sample: 0, -HZ_EAGAIN (none now), or -HZ_EIO (broken). */
	int (*sample)(void *ctx, uint64_t *out);
	void *ctx;
};

/*
 * Where a source's randomness comes from. Sources of one origin can fail
 * together (RDSEED and RDRAND are one piece of hardware), so the first
 * seed waits for two origins, not two sources. Below 32.
 */
enum hz_entropy_origin {
	HZ_ENTROPY_ORIGIN_CPU,
	HZ_ENTROPY_ORIGIN_HOST,
	HZ_ENTROPY_ORIGIN_TIMING,
	HZ_ENTROPY_ORIGIN_OTHER, /* and up: tests' fakes */
};

/* RDSEED, RDRAND: present when CPUID says so. */
extern const struct hz_entropy_source hz_entropy_source_rdseed;
extern const struct hz_entropy_source hz_entropy_source_rdrand;
/* Timing of small memory-bound work on the monotonic clock. */
extern const struct hz_entropy_source hz_entropy_source_jitter;
/* hz_platform_entropy, absent when the target says -HZ_ENOTSUP. */
extern const struct hz_entropy_source hz_entropy_source_host;

/* Assumed min-entropy per sample, in eighths of a bit (docs/entropy.md). */
#define HZ_ENTROPY_H8_CPU (32 * 8)  /* RDSEED, RDRAND: 32 of 64 bits */
#define HZ_ENTROPY_H8_HOST (32 * 8) /* host: 32 of 64 bits */
#define HZ_ENTROPY_H8_JITTER 1	    /* timing: 1/8 bit per delta */
#define HZ_ENTROPY_H8_EVENT 1	    /* event timing: 1/8 bit per delta */

/* Retries of one RDRAND (Intel's advice: 10) and one RDSEED. */
#define HZ_ENTROPY_RDRAND_RETRIES 10
#define HZ_ENTROPY_RDSEED_RETRIES 100

/* --- the engine ----------------------------------------------------------- */

#define HZ_ENTROPY_SOURCES_MAX 8
/*
 * The first seed waits until sources of two origins (or of every origin
 * present, if fewer) have each given this much on their own.
 */
#define HZ_ENTROPY_SEED_BITS 256
/* Samples per Fortuna event: 4 x 8 bytes = HZ_FORTUNA_EVENT_MAX. */
#define HZ_ENTROPY_EVENT_SAMPLES 4
/* Past this, boot stops waiting for slow sources once it has enough. */
#define HZ_ENTROPY_BOOT_SOFT_NS (5ull * 1000 * 1000)
/* Past this, boot gives up if it still has too little. */
#define HZ_ENTROPY_BOOT_HARD_NS (500ull * 1000 * 1000)
/* ... but only after this many rounds past it, so that a boot preempted
 * for longer than the limit is not taken for sources that give nothing. */
#define HZ_ENTROPY_BOOT_MIN_ROUNDS 16
/* Sources are polled again at most this often, when bytes are asked for. */
#define HZ_ENTROPY_POLL_NS (100ull * 1000 * 1000)
/* A source that has nothing this many times in a row is given up. */
#define HZ_ENTROPY_MAX_MISSES 64

enum hz_entropy_state {
	HZ_ENTROPY_ABSENT = 0, /* probe said -HZ_ENOTSUP */
	HZ_ENTROPY_HEALTHY,
	HZ_ENTROPY_FAILED, /* failed a health test or broke; disabled */
};

/*
 * Starts the engine over @srcs (@n <= HZ_ENTROPY_SOURCES_MAX) instead of
 * the built-in sources, forgetting any earlier state: probes each, gathers
 * until the first seed, logs one line naming the sources, and makes the
 * engine the random source in use. 0, or -HZ_EIO. hz_entropy_init is this
 * over rdseed, rdrand, jitter and host.
 */
HZ_MUST_CHECK
int hz_entropy_start(const struct hz_entropy_source *const *srcs, size_t n);

/* Stops the engine and wipes its state: unseeded, events ignored. */
void hz_entropy_stop(void);

/* Polls every healthy source once now, ignoring HZ_ENTROPY_POLL_NS. */
void hz_entropy_poll(void);

/* Returns the state of source @i of the last start (absent past the end). */
enum hz_entropy_state hz_entropy_source_state(size_t i);

/* Returns the state of the event timing source. */
enum hz_entropy_state hz_entropy_event_state(void);

/* Returns why source @i failed (HZ_HEALTH_OK if it did not, or broke). */
enum hz_health_result hz_entropy_source_failure(size_t i);

/* Returns the engine's accumulator, for tests that inspect the pools. */
const struct hz_fortuna *hz_entropy_fortuna(void);

#endif
