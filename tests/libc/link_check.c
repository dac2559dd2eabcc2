/*
 * The BearSSL link check (mk/libc.mk): a freestanding program that hashes
 * with BearSSL and formats with the libc, linked statically against every
 * member of Debian's libbearssl.a and of libc.a with no host libc, and
 * makes every call of Nettle and GMP that TLS makes (src/tls/tls_ec.c),
 * linked against their archives. If the libc lacks a symbol BearSSL,
 * Nettle, GMP (or the libc itself) needs, the link fails. It is never
 * run: the platform and allocator calls below are empty stand-ins.
 */
#include <assert.h>
#include <bearssl.h>
#include <gmp.h>
#include <nettle/curve25519.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <stdio.h>
#include <string.h>

#include "haze/mem.h"
#include "haze/platform.h"

/* What malloc needs from Haze's allocator. */
void *hz_malloc(size_t size)
{
	(void)size;
	return NULL;
}

void *hz_calloc(size_t n, size_t size)
{
	(void)n;
	(void)size;
	return NULL;
}

void *hz_realloc(void *p, size_t size)
{
	(void)p;
	(void)size;
	return NULL;
}

void hz_free(void *p)
{
	(void)p;
}

static void *no_alloc(size_t n)
{
	(void)n;
	return NULL;
}

static void *no_realloc(void *p, size_t old, size_t n)
{
	(void)p;
	(void)old;
	(void)n;
	return NULL;
}

static void no_free(void *p, size_t n)
{
	(void)p;
	(void)n;
}

static void no_random(void *ctx, size_t n, uint8_t *dst)
{
	(void)ctx;
	memset(dst, 1, n);
}

/* Every Nettle and GMP call of src/tls/tls_ec.c. */
static void nettle_calls(void)
{
	const struct ecc_curve *c = nettle_get_secp_256r1();
	unsigned char buf[32] = {9};
	struct ecc_point p;
	struct ecc_scalar s;
	void *(*a)(size_t);
	void *(*r)(void *, size_t, size_t);
	void (*f)(void *, size_t);
	mpz_t x;

	mp_get_memory_functions(&a, &r, &f);
	mp_set_memory_functions(no_alloc, no_realloc, no_free);
	mpz_init(x);
	mpz_import(x, sizeof(buf), 1, 1, 1, 0, buf);
	ecc_point_init(&p, c);
	ecc_scalar_init(&s, c);
	if (ecc_scalar_set(&s, x) && ecc_point_set(&p, x, x))
		ecc_point_mul(&p, &s, &p);
	ecc_point_mul_g(&p, &s);
	ecc_point_get(&p, x, x);
	if (mpz_sgn(x) != 0 && mpz_sizeinbase(x, 2) <= 256)
		mpz_export(buf, NULL, 1, 1, 1, 0, x);
	{
		struct dsa_signature ds;

		dsa_signature_init(&ds);
		ecdsa_sign(&s, NULL, no_random, sizeof(buf), buf, &ds);
		if (ecdsa_verify(&p, sizeof(buf), buf, &ds))
			buf[0] = 1;
		dsa_signature_clear(&ds);
	}
	curve25519_mul_g(buf, buf);
	curve25519_mul(buf, buf, buf);
	ecc_scalar_clear(&s);
	ecc_point_clear(&p);
	mpz_clear(x);
	mp_set_memory_functions(a, r, f);
}

/* What the libc needs from the platform, and nothing more. */
void hz_platform_console_write(const char *buf, size_t len)
{
	(void)buf;
	(void)len;
}

uint64_t hz_platform_clock_wall(void)
{
	return 0;
}

_Noreturn void hz_platform_abort(void)
{
	for (;;)
		;
}

void link_check_start(void);

/* The entry point: SHA-256 of "abc", printed. */
void link_check_start(void)
{
	br_sha256_context ctx;
	unsigned char out[br_sha256_SIZE];
	char hex[2 * sizeof(out) + 1];
	size_t i;

	nettle_calls();
	br_sha256_init(&ctx);
	br_sha256_update(&ctx, "abc", 3);
	br_sha256_out(&ctx, out);
	for (i = 0; i < sizeof(out); i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	assert(strlen(hex) == 64);
	printf("%s\n", hex);
	hz_platform_abort();
}
