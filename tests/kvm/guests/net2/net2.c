/*
 * Guest test: acquires two NICs, checks they have distinct handles and
 * MACs, sends one frame on each; exits 0 on success.
 */
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_NET("net0"), HZ_DEVICE_NET("net1"));

int hz_main(int argc, char **argv)
{
	hz_handle_t h[2];
	struct hz_net_info info[2];
	const char *names[2] = {"net0", "net1"};
	static uint8_t frame[60];

	for (int i = 0; i < 2; i++) {
		int r = hz_platform_net_acquire(names[i], &h[i], &info[i]);
		if (r < 0) {
			hz_printf("acquire %s: %s\n", names[i], hz_strerror(r));
			return 1;
		}
		hz_printf("%s: handle %d mac %02x:%02x:%02x:%02x:%02x:%02x "
			  "mtu %u\n",
			  names[i], (int)h[i], info[i].mac[0], info[i].mac[1],
			  info[i].mac[2], info[i].mac[3], info[i].mac[4],
			  info[i].mac[5], info[i].mtu);
		memset(frame, 0xff, 6);
		memcpy(frame + 6, info[i].mac, 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		struct hz_frame f = {.buf = frame, .len = sizeof(frame)};
		if ((r = hz_platform_net_write(h[i], &f, 1)) != 1) {
			hz_printf("write %s: %d\n", names[i], r);
			return 1;
		}
	}
	if (h[0] == h[1] || memcmp(info[0].mac, info[1].mac, 6) == 0)
		return 1;
	hz_printf("two NICs ok\n");
	return 0;
}
