/*
 * virtio-rng (virtio 1.2, 5.4) as hz_platform_entropy on the virtio
 * target: the host's entropy, one source of the library OS's composition
 * (src/entropy) next to RDRAND/RDSEED and jitter. The first virtio-rng
 * device found is set up on the first call; without one the call answers
 * -HZ_ENOTSUP and the composition does without it.
 *
 * A request is one device-writable buffer, the caller's own (the guest is
 * identity-mapped); the device may fill less than asked, so the call
 * repeats until the buffer is full, waiting for each used entry with the
 * interrupt asked for (hz_virtq_wait), as blk.c does.
 */
#include <stdint.h>
#include <string.h>

#include "haze/log.h"
#include "haze/platform.h"
#include "vdev.h"
#include "virtio.h"

#define QUEUE_MAX 4
#define REQ_MAX 4096u
#define REQ_TIMEOUT_NS 10000000000ull

static struct {
	enum { RNG_UNSET, RNG_READY, RNG_NONE } state;
	struct hz_vdev *dev;
	struct hz_virtq q;
} rng;

static HZ_LOG_SOURCE(log_rng, "virtio-rng");
static HZ_COUNTER(count_bytes, "virtio-rng", "bytes");
static HZ_COUNTER(count_timeout, "virtio-rng", "timeout");

/* Sets up the first virtio-rng device; false when there is none usable. */
static bool rng_setup(void)
{
	struct hz_vdev *d = hz_vdev_claim(HZ_VDEV_RNG);
	uint64_t got;
	int r;

	if (d == NULL)
		return false;
	if (hz_vdev_negotiate(d, 0, &got) < 0) {
		HZ_WARN(&log_rng, "%s refuses virtio 1.x: not used", d->where);
		return false;
	}
	r = hz_virtq_init(&rng.q, d, 0, QUEUE_MAX, false);
	if (r < 0) {
		HZ_WARN(&log_rng, "%s: no request queue (%s): not used",
			d->where, hz_strerror(r));
		d->ops->set_status(d, HZ_VDEV_S_FAILED);
		return false;
	}
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE | HZ_VDEV_S_DRIVER |
				  HZ_VDEV_S_FEATURES_OK | HZ_VDEV_S_DRIVER_OK);
	rng.dev = d;
	HZ_INFO(&log_rng, "entropy from %s", d->where);
	return true;
}

/* Asks for @len bytes into @p; the count the device gave, or -HZ_EIO. */
static int rng_request(uint8_t *p, uint32_t len)
{
	struct hz_virtq_buf buf = {p, len, true};
	uint32_t got;

	if (hz_virtq_add(&rng.q, &buf, 1, &rng) < 0)
		return -HZ_EIO; /* a broken device: one request at a time */
	hz_virtq_kick(&rng.q);
	if (hz_virtq_wait(&rng.q, REQ_TIMEOUT_NS, &got) == NULL) {
		/* A broken device (virtq.c) has been reported already. */
		if (!rng.dev->broken) {
			hz_counter_inc(&count_timeout);
			HZ_ERROR(&log_rng,
				 "%s gave nothing in %llu s: no longer used",
				 rng.dev->where,
				 (unsigned long long)(REQ_TIMEOUT_NS /
						      1000000000ull));
		}
		rng.state = RNG_NONE;
		return -HZ_EIO;
	}
	return (int)(got < len ? got : len);
}

int hz_platform_entropy(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t left = len;
	unsigned empty = 0;

	if (rng.state == RNG_UNSET)
		rng.state = rng_setup() ? RNG_READY : RNG_NONE;
	if (rng.state != RNG_READY)
		return -HZ_ENOTSUP;
	if (len > INT32_MAX)
		return -HZ_EINVAL;
	while (left) {
		uint32_t k = left < REQ_MAX ? (uint32_t)left : REQ_MAX;
		int r = rng_request(p, k);
		if (r < 0)
			return r;
		/* A device that keeps answering nothing is not a source. */
		if (r == 0 && ++empty == 16) {
			HZ_ERROR(&log_rng, "%s gives no bytes: no longer used",
				 rng.dev->where);
			rng.state = RNG_NONE;
			return -HZ_EIO;
		}
		hz_counter_add(&count_bytes, (uint64_t)r);
		p += r;
		left -= (size_t)r;
	}
	return (int)len;
}
