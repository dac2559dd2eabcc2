/*
 * libFuzzer harness for TLS's elliptic curves (src/tls/tls_ec.c), the
 * code that decodes a peer's public point: every input is multiplied by
 * Haze's table and by BearSSL's m31 code, and the two must agree.
 *
 * Input: byte 0 picks the curve (even: P-256, odd: Curve25519) and the
 * operation (bit 1: mulgen, else mul); byte 1 is the point's length, byte
 * 2 the scalar's; the point's bytes, then the scalar's, follow. Where
 * BearSSL leaves the result undefined (a P-256 scalar outside [1, n-1])
 * only "no crash" is asked; elsewhere the same answer and the same point,
 * except that Haze refuses an all-zero Curve25519 result (RFC 8422 5.11)
 * that BearSSL returns.
 */
#include <stdlib.h>
#include <string.h>

#include "src/tls/tls_int.h"

#define REF (&br_ec_all_m31)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the big-endian @x of @len bytes is in [1, n-1] for P-256. */
static int p256_scalar_ok(const uint8_t *x, size_t len)
{
	size_t olen;
	const unsigned char *n = REF->order(BR_EC_secp256r1, &olen);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char a[256], b[256];
	int x25519, gen;
	size_t glen, xlen, ra, rb;
	const uint8_t *x;

	if (size < 3)
		return 0;
	x25519 = data[0] & 1;
	gen = (data[0] >> 1) & 1;
	glen = data[1] % 70;
	xlen = data[2] % 40;
	if (size < 3 + glen + xlen)
		return 0;
	memcpy(a, data + 3, glen);
	memcpy(b, data + 3, glen);
	x = data + 3 + glen;
	if (!x25519) {
		if (gen) {
			ra = tls_ec.mulgen(a, x, xlen, BR_EC_secp256r1);
			rb = REF->mulgen(b, x, xlen, BR_EC_secp256r1);
			glen = 65;
		} else {
			ra = tls_ec.mul(a, glen, x, xlen, BR_EC_secp256r1);
			rb = REF->mul(b, glen, x, xlen, BR_EC_secp256r1);
		}
		if (!p256_scalar_ok(x, xlen))
			return 0; /* BearSSL's answer is undefined */
		if (ra != rb || (ra && memcmp(a, b, glen) != 0))
			abort();
		return 0;
	}
	if (xlen > 32)
		return 0; /* BearSSL's answer is undefined */
	if (gen) {
		ra = tls_ec.mulgen(a, x, xlen, BR_EC_curve25519);
		rb = REF->mulgen(b, x, xlen, BR_EC_curve25519);
		glen = 32;
	} else {
		ra = tls_ec.mul(a, glen, x, xlen, BR_EC_curve25519);
		rb = REF->mul(b, glen, x, xlen, BR_EC_curve25519);
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
	return 0;
}
