/*
 * Guest test: exchanges frames with the host over a tap, offloads
 * included. Sends a broadcast frame of ethertype 0x88b5 carrying
 * "haze-ping", and waits up to 5 s for frames of that type carrying
 * "host-pong", counting them in batches. With each ping it also sends
 * 3000 bytes of TCP/IPv4 (10.99.0.2:7777 to 10.99.0.1:7778) as one frame
 * for the host to segment (gso_size 1000), which the host answers with
 * 8000 bytes of TCP to port 7777 behind a coalescing virtio-net header:
 * that must arrive as one frame larger than the MTU, its checksum vouched
 * for. Exits 0 once it has 3 pongs and the coalesced frame.
 *
 * Before that it checks what a tap offers (gso_max 65535, rx_max 14 +
 * 65535) and that a segmented write of a frame that is not TCP is
 * refused whole (-HZ_EINVAL). The same program runs on the unix target,
 * whose taps offer the same.
 */
#include <string.h>

#include <haze/haze.h>
#include <haze/wire.h>

HZ_MANIFEST(HZ_DEVICE_NET("service"));

#define RX_MAX (14u + 65535u)
#define GSO_PAYLOAD 3000u
#define GSO_SEGMENT 1000u

static uint8_t bufs[8][RX_MAX];

/*
 * Fills @f with a TCP/IPv4 frame from @mac carrying GSO_PAYLOAD bytes,
 * its TCP checksum the pseudo-header's sum (hz_frame.gso_size); length.
 */
static size_t gso_frame(uint8_t *f, const uint8_t *mac)
{
	static const uint8_t src[4] = {10, 99, 0, 2}, dst[4] = {10, 99, 0, 1};
	size_t tcp_len = 20 + GSO_PAYLOAD;
	uint8_t pseudo[12];

	memset(f, 0, 14 + 20 + tcp_len);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	hz_put16(f + 12, 0x0800);
	f[14] = 0x45;
	hz_put16(f + 16, (uint16_t)(20 + tcp_len));
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, src, 4);
	memcpy(f + 30, dst, 4);
	hz_put16(f + 24, hz_inet_fold(hz_inet_sum(f + 14, 20, 0)));
	hz_put16(f + 34, 7777);
	hz_put16(f + 36, 7778);
	f[46] = 5 << 4;
	f[47] = 0x18; /* PSH, ACK */
	hz_put16(f + 48, 65535);
	for (size_t i = 0; i < GSO_PAYLOAD; i++)
		f[54 + i] = (uint8_t)("haze-gso"[i % 8]);
	memcpy(pseudo, src, 4);
	memcpy(pseudo + 4, dst, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	hz_put16(pseudo + 10, (uint16_t)tcp_len);
	hz_put16(f + 50, (uint16_t)~hz_inet_fold(hz_inet_sum(pseudo, 12, 0)));
	return 14 + 20 + tcp_len;
}

/* Whether @f is the host's coalesced TCP frame to port 7777. */
static bool coalesced(const struct hz_frame *f)
{
	const uint8_t *b = f->buf;

	return f->len > 1514 && hz_get16(b + 12) == 0x0800 && b[23] == 6 &&
	       hz_get16(b + 36) == 7777;
}

int hz_main(int argc, char **argv)
{
	hz_handle_t h;
	struct hz_net_info info;
	static uint8_t ping[64], tcp[14 + 40 + GSO_PAYLOAD];
	size_t big = 0;
	bool big_csum_ok = false;
	int r, got = 0;

	(void)argc;
	(void)argv;
	if ((r = hz_platform_net_acquire("service", &h, &info)) < 0)
		return 1;
	if (info.gso_max != 65535 || info.rx_max != RX_MAX) {
		hz_printf("offloads: gso_max %u rx_max %u, not 65535 and %u\n",
			  (unsigned)info.gso_max, (unsigned)info.rx_max,
			  RX_MAX);
		return 1;
	}
	memset(ping, 0xff, 6);
	memcpy(ping + 6, info.mac, 6);
	ping[12] = 0x88;
	ping[13] = 0xb5;
	memcpy(ping + 14, "haze-ping", 9);
	struct hz_frame bad = {
	    .buf = ping, .len = sizeof(ping), .gso_size = GSO_SEGMENT};
	r = hz_platform_net_write(h, &bad, 1);
	if (r != -HZ_EINVAL) {
		hz_printf("a segmented write of a ping gave %d, not %d\n", r,
			  -HZ_EINVAL);
		return 1;
	}
	size_t tcp_len = gso_frame(tcp, info.mac);
	uint64_t deadline = hz_platform_clock_monotonic() + 5000000000ull;
	uint64_t next_ping = 0;
	while ((got < 3 || !big) && hz_platform_clock_monotonic() < deadline) {
		if (hz_platform_clock_monotonic() >= next_ping) {
			struct hz_frame f[2] = {
			    {.buf = ping, .len = sizeof(ping)},
			    {.buf = tcp,
			     .len = tcp_len,
			     .gso_size = GSO_SEGMENT},
			};
			r = hz_platform_net_write(h, f, big ? 1 : 2);
			if (r != (big ? 1 : 2)) {
				hz_printf("net write gave %d\n", r);
				return 1;
			}
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
		for (int i = 0; i < r; i++) {
			if (coalesced(&fr[i]) && !big) {
				big = fr[i].len;
				big_csum_ok = fr[i].csum_ok;
			}
			if (fr[i].len >= 23 &&
			    memcmp((uint8_t *)fr[i].buf + 12, "\x88\xb5", 2) ==
				0 &&
			    memcmp((uint8_t *)fr[i].buf + 14, "host-pong", 9) ==
				0)
				got++;
		}
	}
	hz_printf("received %d pong frames, a coalesced frame of %u bytes "
		  "(checksum vouched for: %s)\n",
		  got, (unsigned)big, big_csum_ok ? "yes" : "no");
	return got >= 3 && big > 1514 && big_csum_ok ? 0 : 1;
}
