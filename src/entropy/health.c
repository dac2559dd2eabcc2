/*
 * Continuous health tests of NIST SP 800-90B, section 4.4, over 64-bit
 * samples: the repetition count test (a stuck source repeats one value)
 * and the adaptive proportion test (a biased source repeats one value too
 * often within a window of 512). Both cutoffs follow from the min-entropy
 * H assumed per sample and a false-positive probability alpha = 2^-30:
 *
 *   RCT: C = 1 + ceil(30 / H)
 *   APT: C = 1 + CRITBINOM(512, 2^-H, 1 - 2^-30)
 *
 * The binomial quantile is computed here rather than tabulated, so any
 * source (the tests' fakes too) gets cutoffs that match its claim. It
 * needs no libm: the kvm target has none.
 */
#include "entropy/entropy_int.h"
#include "haze/assert.h"

/* 2^(-1/8), the probability factor of one eighth of a bit. */
#define TWO_POW_MINUS_EIGHTH 0.91700404320467123175

/* Largest claim a 64-bit sample can make, in eighths of a bit. */
#define H8_MAX (64 * 8)

uint32_t hz_health_rct_cutoff(uint32_t h8)
{
	uint32_t a8 = HZ_HEALTH_ALPHA_LOG2 * 8;

	HZ_ASSERT(h8 > 0 && h8 <= H8_MAX);
	return 1 + (a8 + h8 - 1) / h8;
}

uint32_t hz_health_apt_cutoff(uint32_t h8)
{
	enum { N = HZ_HEALTH_APT_WINDOW };
	double w[N + 1], p = 1.0, alpha = 1.0, odds, total = 0, tail = 0;
	int mode, c;

	HZ_ASSERT(h8 > 0 && h8 <= H8_MAX);
	for (uint32_t i = 0; i < h8; i++)
		p *= TWO_POW_MINUS_EIGHTH;
	for (int i = 0; i < HZ_HEALTH_ALPHA_LOG2; i++)
		alpha *= 0.5;
	/*
	 * Binomial weights relative to the mode, so that neither end
	 * underflows the part that matters: w[k] = P(X = k) / P(X = mode).
	 */
	odds = p / (1.0 - p);
	mode = (int)((N + 1) * p);
	if (mode > N)
		mode = N;
	w[mode] = 1.0;
	for (int k = mode + 1; k <= N; k++)
		w[k] = w[k - 1] * (double)(N - k + 1) / k * odds;
	for (int k = mode - 1; k >= 0; k--)
		w[k] = w[k + 1] * (double)(k + 1) / (N - k) / odds;
	for (int k = 0; k <= N; k++)
		total += w[k];
	/* The smallest c with P(X >= c) <= alpha is 1 + CRITBINOM. */
	for (c = N; c > 0; c--) {
		tail += w[c];
		if (tail > alpha * total)
			break;
	}
	c++;
	/* The window's first sample counts itself: a cutoff of 1 fails all. */
	return c < 2 ? 2 : (uint32_t)c;
}

void hz_health_init(struct hz_health *h, uint32_t h8)
{
	*h = (struct hz_health){
	    .h8 = h8,
	    .rct_cutoff = hz_health_rct_cutoff(h8),
	    .apt_cutoff = hz_health_apt_cutoff(h8),
	};
}

enum hz_health_result hz_health_check(struct hz_health *h, uint64_t sample)
{
	if (h->failed != HZ_HEALTH_OK)
		return h->failed;
	/* Repetition count: runs of one value. */
	if (h->samples > 0 && sample == h->rct_value) {
		if (++h->rct_count >= h->rct_cutoff)
			return h->failed = HZ_HEALTH_RCT;
	} else {
		h->rct_value = sample;
		h->rct_count = 1;
	}
	/* Adaptive proportion: the window's first value, counted. */
	if (h->apt_seen == 0) {
		h->apt_value = sample;
		h->apt_count = 1;
	} else if (sample == h->apt_value) {
		if (++h->apt_count >= h->apt_cutoff)
			return h->failed = HZ_HEALTH_APT;
	}
	if (++h->apt_seen == HZ_HEALTH_APT_WINDOW)
		h->apt_seen = 0;
	h->samples++;
	return HZ_HEALTH_OK;
}

const char *hz_health_name(enum hz_health_result r)
{
	switch (r) {
	case HZ_HEALTH_RCT:
		return "repetition count test";
	case HZ_HEALTH_APT:
		return "adaptive proportion test";
	case HZ_HEALTH_OK:
		break;
	}
	return "no test";
}
