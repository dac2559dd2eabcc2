/*
 * Guest test of the virtio target's receive path under a flood
 * (tests/virtio/run.py): acquires "service", says "rxfull: ready", then
 * reads nothing for 3 s while the host sends numbered frames (ethertype
 * 0x88b5, "haze-flood", a 32-bit sequence number), more than the receive
 * queue holds. Then it drains them into 1000-byte buffers, so the
 * frames the host made larger are dropped by the platform and counted,
 * and prints how many arrived, whether in order without duplicates, and
 * the counters. Exits 0 when it read at least one frame.
 */
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_NET("service"));

#define BATCH 16
#define CAP 1000

static uint8_t bufs[BATCH][CAP];

/* Waits until @ns have passed, reading nothing. */
static void idle(uint64_t ns)
{
	uint64_t until = hz_platform_clock_monotonic() + ns;
	hz_ready_set_t ready;

	while (hz_platform_clock_monotonic() < until)
		hz_platform_yield(until, 0, &ready);
}

int hz_main(int argc, char **argv)
{
	hz_handle_t h;
	struct hz_net_info info;
	uint32_t got = 0, next = 0, disorder = 0;
	uint64_t quiet_until;
	int r;

	(void)argc, (void)argv;
	if ((r = hz_platform_net_acquire("service", &h, &info)) < 0) {
		hz_printf("rxfull: acquire: %s\n", hz_strerror(r));
		return 1;
	}
	hz_printf("rxfull: ready\n");
	idle(3000000000ull);
	quiet_until = hz_platform_clock_monotonic() + 1000000000ull;
	while (hz_platform_clock_monotonic() < quiet_until) {
		struct hz_frame fr[BATCH];
		hz_ready_set_t ready;

		for (int i = 0; i < BATCH; i++)
			fr[i] = (struct hz_frame){.buf = bufs[i], .cap = CAP};
		r = hz_platform_net_read(h, fr, BATCH);
		if (r == -HZ_EAGAIN) {
			hz_platform_yield(quiet_until, (hz_ready_set_t)1 << h,
					  &ready);
			continue;
		}
		if (r < 0) {
			hz_printf("rxfull: read: %s\n", hz_strerror(r));
			return 1;
		}
		for (int i = 0; i < r; i++) {
			const uint8_t *b = fr[i].buf;
			uint32_t seq;

			if (fr[i].len < 28 || b[12] != 0x88 || b[13] != 0xb5 ||
			    memcmp(b + 14, "haze-flood", 10) != 0)
				continue;
			memcpy(&seq, b + 24, 4);
			if (seq < next)
				disorder++;
			next = seq + 1;
			got++;
		}
		quiet_until = hz_platform_clock_monotonic() + 1000000000ull;
	}
	hz_printf("rxfull: received %u frames, %u out of order\n",
		  (unsigned)got, (unsigned)disorder);
	hz_counters_dump();
	return got > 0 ? 0 : 1;
}
