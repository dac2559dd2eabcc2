/*
 * netecho: a unikernel with one NIC, "net", that answers raw Ethernet
 * frames of the local experimental EtherType 0x88b5 by sending them back
 * with source and destination swapped, reading and writing in batches.
 * Ends with status 0 after echoing the number of frames given as its
 * argument, or 1 if no frame comes for five seconds.
 */
#include <stdlib.h>
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_NET("net"));

#define BATCH 8
#define FRAME_CAP 2048
#define IDLE_NS (5 * HZ_NS_PER_S)

static uint8_t bufs[BATCH][FRAME_CAP];

/* Turns an experimental frame around in place; false for other frames. */
static bool turn_around(uint8_t *f, size_t len)
{
	uint8_t mac[6];

	if (len < 14 || f[12] != 0x88 || f[13] != 0xb5)
		return false;
	memcpy(mac, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	return true;
}

int hz_main(int argc, char **argv)
{
	struct hz_frame in[BATCH], out[BATCH];
	struct hz_net_info info;
	long want = argc > 1 ? strtol(argv[1], NULL, 10) : 1, echoed = 0;
	hz_handle_t h;
	int r;

	r = hz_platform_net_acquire("net", &h, &info);
	if (r < 0) {
		hz_printf("netecho: acquire: %s\n", hz_strerror(r));
		return 1;
	}
	hz_printf("netecho: mtu %u mac %02x:%02x:%02x:%02x:%02x:%02x\n",
		  info.mtu, info.mac[0], info.mac[1], info.mac[2], info.mac[3],
		  info.mac[4], info.mac[5]);
	while (echoed < want) {
		int n, m = 0, sent;

		for (int i = 0; i < BATCH; i++)
			in[i] =
			    (struct hz_frame){.buf = bufs[i], .cap = FRAME_CAP};
		n = hz_platform_net_read(h, in, BATCH);
		if (n == -HZ_EAGAIN) {
			r = hz_device_wait(h, hz_now() + IDLE_NS);
			if (r < 0) {
				hz_printf("netecho: waiting: %s after %ld\n",
					  hz_strerror(r), echoed);
				return 1;
			}
			continue;
		}
		if (n < 0) {
			hz_printf("netecho: read: %s\n", hz_strerror(n));
			return 1;
		}
		for (int i = 0; i < n; i++)
			if (turn_around(in[i].buf, in[i].len))
				out[m++] = in[i];
		sent = hz_platform_net_write(h, out, (size_t)m);
		if (sent < 0) {
			hz_printf("netecho: write: %s\n", hz_strerror(sent));
			return 1;
		}
		echoed += sent;
	}
	hz_printf("netecho: echoed %ld\n", echoed);
	return 0;
}
