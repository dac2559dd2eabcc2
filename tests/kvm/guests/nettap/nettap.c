/*
 * Guest test: exchanges frames with the host over a tap. Sends a
 * broadcast frame of ethertype 0x88b5 carrying "haze-ping", then waits up
 * to 5 s for frames of that type carrying "host-pong" and counts them in
 * batches; exits 0 once it has received 3.
 */
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_NET("service"));

static uint8_t bufs[8][1536];

int hz_main(int argc, char **argv)
{
	hz_handle_t h;
	struct hz_net_info info;
	static uint8_t ping[64];
	int r, got = 0;

	if ((r = hz_platform_net_acquire("service", &h, &info)) < 0)
		return 1;
	memset(ping, 0xff, 6);
	memcpy(ping + 6, info.mac, 6);
	ping[12] = 0x88;
	ping[13] = 0xb5;
	memcpy(ping + 14, "haze-ping", 9);
	uint64_t deadline = hz_platform_clock_monotonic() + 5000000000ull;
	uint64_t next_ping = 0;
	while (got < 3 && hz_platform_clock_monotonic() < deadline) {
		if (hz_platform_clock_monotonic() >= next_ping) {
			struct hz_frame f = {.buf = ping, .len = sizeof(ping)};
			if (hz_platform_net_write(h, &f, 1) != 1)
				return 1;
			next_ping = hz_platform_clock_monotonic() + 100000000;
		}
		hz_ready_set_t ready;
		hz_platform_yield(next_ping, (hz_ready_set_t)1 << h, &ready);
		if (!(ready & (1ull << h)))
			continue;
		struct hz_frame fr[8];
		for (int i = 0; i < 8; i++)
			fr[i] = (struct hz_frame){.buf = bufs[i],
						  .cap = sizeof(bufs[i])};
		r = hz_platform_net_read(h, fr, 8);
		for (int i = 0; i < r; i++)
			if (fr[i].len >= 23 && fr[i].buf &&
			    memcmp((uint8_t *)fr[i].buf + 12, "\x88\xb5", 2) ==
				0 &&
			    memcmp((uint8_t *)fr[i].buf + 14, "host-pong", 9) ==
				0)
				got++;
	}
	hz_printf("received %d pong frames\n", got);
	return got >= 3 ? 0 : 1;
}
