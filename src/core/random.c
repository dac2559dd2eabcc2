/*
 * The RANDOM seam (haze/random.h): the core asks the source in use and
 * makes none itself, so an image without a random source links no
 * generator. The default "none" sits alone in random_none.c.
 */
#include "haze/random.h"

static struct hz_random *current;

void hz_random_use(struct hz_random *r)
{
	current = r;
}

struct hz_random *hz_random_current(void)
{
	return current;
}

int hz_random_bytes(void *buf, size_t len)
{
	if (current == NULL)
		return -HZ_ENOTSUP;
	return current->ops->read(current, buf, len);
}

bool hz_random_reduce(uint32_t v, uint32_t bound, uint32_t *out)
{
	/* 2^32 mod bound: values below it would make the low ones likelier. */
	uint32_t min = -bound % bound;

	if (v < min)
		return false;
	*out = v % bound;
	return true;
}

int hz_random_below(uint32_t bound, uint32_t *out)
{
	uint32_t v;

	if (bound == 0)
		return -HZ_EINVAL;
	do {
		int r = hz_random_bytes(&v, sizeof(v));

		if (r < 0)
			return r;
	} while (!hz_random_reduce(v, bound, out));
	return 0;
}

void hz_random_event(uint32_t source_id, uint64_t sample)
{
	if (current != NULL && current->ops->event != NULL)
		current->ops->event(current, source_id, sample);
}
