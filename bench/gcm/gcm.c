/*
 * gcm: AES-CTR and GHASH on one TLS record's worth of data (16 KiB), in a
 * loop: BearSSL's AES-NI CTR and PCLMUL GHASH (what its engine picks on
 * x86) against TLS's vector pieces (src/tls/tls_gcm.c), in the same run.
 * Prints GB/s for each, medians of 5 rounds of 0.5 s, and the ratios.
 *
 *   make bench-gcm && $(O)/bench/bench/gcm/gcm
 *
 * Exits 2 where the processor has neither VAES nor VPCLMULQDQ (nothing to
 * compare), 1 if an implementation is missing or the two disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "tls/tls_gcm.h"

#define RECORD 16384
#define ROUNDS 5

static unsigned char buf[RECORD];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GB/s of @ctr (or, when NULL, of @gh) over 0.5 s; the median of ROUNDS. */
static double rate(const br_block_ctr_class *ctr, br_ghash gh)
{
	static const unsigned char key[16] = {1, 2, 3}, iv[12] = {4};
	unsigned char y[16] = {0}, h[16] = {5, 6, 7};
	br_aes_gen_ctr_keys kc;
	double r[ROUNDS];

	if (ctr != NULL)
		ctr->init(&kc.vtable, key, sizeof(key));
	for (int i = 0; i < ROUNDS; i++) {
		double t0 = now(), t;
		long n = 0;

		do {
			for (int j = 0; j < 64; j++, n++) {
				if (ctr != NULL)
					ctr->run(&kc.vtable, iv, 2, buf,
						 RECORD);
				else
					gh(y, h, buf, RECORD);
			}
			t = now() - t0;
		} while (t < 0.5);
		r[i] = (double)n * RECORD / t / 1e9;
	}
	qsort(r, ROUNDS, sizeof(r[0]), cmp);
	return r[ROUNDS / 2];
}

/* Whether @a and @b give the same bytes on the same record. */
static int agree(const br_block_ctr_class *a, const br_block_ctr_class *b,
		 br_ghash ga, br_ghash gb)
{
	static unsigned char x[RECORD], z[RECORD];
	unsigned char ya[16] = {0}, yb[16] = {0}, key[16] = {9};
	br_aes_gen_ctr_keys ka, kb;

	for (size_t i = 0; i < RECORD; i++)
		x[i] = z[i] = (unsigned char)(i * 13);
	if (a != NULL && b != NULL) {
		a->init(&ka.vtable, key, sizeof(key));
		b->init(&kb.vtable, key, sizeof(key));
		a->run(&ka.vtable, key, 7, x, RECORD);
		b->run(&kb.vtable, key, 7, z, RECORD);
	}
	if (ga != NULL && gb != NULL) {
		ga(ya, key, x, RECORD);
		gb(yb, key, z, RECORD);
	}
	return memcmp(x, z, RECORD) == 0 && memcmp(ya, yb, 16) == 0;
}

int main(void)
{
	const br_block_ctr_class *bear_ctr = br_aes_x86ni_ctr_get_vtable();
	const br_block_ctr_class *vec_ctr = tls_gcm_ctr_get();
	br_ghash bear_gh = br_ghash_pclmul_get(), vec_gh = tls_gcm_ghash_get();

	if (vec_ctr == NULL && vec_gh == NULL) {
		fprintf(stderr, "gcm: no VAES or VPCLMULQDQ here: nothing to "
				"compare\n");
		return 2;
	}
	if (bear_ctr == NULL || bear_gh == NULL) {
		fprintf(stderr, "gcm: BearSSL has no AES-NI or PCLMUL here\n");
		return 1;
	}
	if (!agree(bear_ctr, vec_ctr, bear_gh, vec_gh)) {
		fprintf(stderr, "gcm: the implementations disagree\n");
		return 1;
	}
	printf("bench/gcm (16 KiB records, median of %d, GB/s)\n", ROUNDS);
	if (vec_gh != NULL) {
		double b = rate(NULL, bear_gh), v = rate(NULL, vec_gh);

		printf("%-36s %8.2f\n", "GHASH, BearSSL pclmul", b);
		printf("%-36s %8.2f\n", "GHASH, Haze vpclmulqdq", v);
		printf("%-36s %8.2f\n", "GHASH, Haze / BearSSL", v / b);
	}
	if (vec_ctr != NULL) {
		double b = rate(bear_ctr, NULL), v = rate(vec_ctr, NULL);

		printf("%-36s %8.2f\n", "AES-128-CTR, BearSSL x86ni", b);
		printf("%-36s %8.2f\n", "AES-128-CTR, Haze vaes", v);
		printf("%-36s %8.2f\n", "AES-128-CTR, Haze / BearSSL", v / b);
	}
	return 0;
}
