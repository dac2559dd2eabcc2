/*
 * blockcheck: a unikernel with one block device, "disk". Writes a pattern
 * over several sectors at a time, flushes, reads it back and compares.
 * Prints "blockcheck: ok SECTORS" and exits 0, or names what failed.
 */
#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_BLOCK("disk"));

#define CHUNK_SECTORS 8

static int fail(const char *what, int r)
{
	hz_printf("blockcheck: %s: %s\n", what, hz_strerror(r));
	return 1;
}

int hz_main(int argc, char **argv)
{
	struct hz_block_info info;
	hz_handle_t h;
	uint8_t *buf;
	size_t chunk;
	int r;

	(void)argc;
	(void)argv;
	r = hz_platform_block_acquire("disk", &h, &info);
	if (r < 0)
		return fail("acquire disk", r);
	chunk = (size_t)info.sector_size * CHUNK_SECTORS;
	buf = hz_malloc(chunk);
	if (buf == NULL)
		return fail("buffer", -HZ_ENOMEM);
	for (uint64_t off = 0; off + chunk <= info.capacity; off += chunk) {
		for (size_t i = 0; i < chunk; i++)
			buf[i] = (uint8_t)((off + i) * 7 + (off >> 9));
		r = hz_platform_block_write(h, off, buf, chunk);
		if (r < 0)
			return fail("write", r);
	}
	r = hz_platform_block_flush(h);
	if (r < 0)
		return fail("flush", r);
	for (uint64_t off = 0; off + chunk <= info.capacity; off += chunk) {
		r = hz_platform_block_read(h, off, buf, chunk);
		if (r < 0)
			return fail("read", r);
		for (size_t i = 0; i < chunk; i++)
			if (buf[i] != (uint8_t)((off + i) * 7 + (off >> 9))) {
				hz_printf("blockcheck: mismatch at byte %llu\n",
					  (unsigned long long)(off + i));
				return 1;
			}
	}
	r = hz_platform_block_read(h, 1, buf, info.sector_size);
	if (r != -HZ_EINVAL)
		return fail("misaligned read was not refused", r);
	hz_free(buf);
	hz_printf("blockcheck: ok %llu\n",
		  (unsigned long long)(info.capacity / info.sector_size));
	return 0;
}
