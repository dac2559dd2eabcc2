/*
 * Guest test: writes a pattern over several sectors of block device
 * "disk" in one call, flushes, reads them back and verifies; exits 0 on
 * success. Also checks that a misaligned or out-of-range request is
 * refused with -HZ_EINVAL, not carried out.
 */
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_BLOCK("disk"));

static uint8_t out[8 * 512], in[8 * 512];

int hz_main(int argc, char **argv)
{
	hz_handle_t h;
	struct hz_block_info bi;
	int r;

	if ((r = hz_platform_block_acquire("disk", &h, &bi)) < 0) {
		hz_printf("acquire: %s\n", hz_strerror(r));
		return 1;
	}
	hz_printf("disk: %llu bytes, %u-byte sectors\n",
		  (unsigned long long)bi.capacity, bi.sector_size);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + i / 512);
	memcpy(out, "HAZE-BLOCK-TEST", 15);
	if ((r = hz_platform_block_write(h, 512, out, sizeof(out))) < 0 ||
	    (r = hz_platform_block_flush(h)) < 0 ||
	    (r = hz_platform_block_read(h, 512, in, sizeof(in))) < 0) {
		hz_printf("block I/O: %s\n", hz_strerror(r));
		return 1;
	}
	if (memcmp(in, out, sizeof(in)) != 0) {
		hz_printf("read back differs\n");
		return 1;
	}
	if (hz_platform_block_read(h, 100, in, 512) != -HZ_EINVAL ||
	    hz_platform_block_read(h, bi.capacity, in, 512) != -HZ_EINVAL) {
		hz_printf("bad requests were not refused\n");
		return 1;
	}
	hz_printf("block write-read-verify ok\n");
	return 0;
}
