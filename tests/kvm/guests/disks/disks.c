/*
 * Guest test: two block devices and an optional third. Each bound one
 * gets "haze disk NAME" in its first sector, so the host can tell which
 * file each name was bound to; "first" also takes 1.5 MiB from the heap
 * at byte 4096 in one call (more than one request of the virtio target)
 * and gives it back intact. The optional "spare" may be left unbound
 * (acquire gives -HZ_ENOENT). Misaligned and out-of-range writes are
 * refused with -HZ_EINVAL. Exits 0 when all holds, after printing how
 * many device interrupts the target counted.
 */
#include <stdio.h>
#include <string.h>

#include <haze/haze.h>

HZ_MANIFEST(HZ_DEVICE_BLOCK("first"),
	    {.kind = HZ_DEVICE_KIND_BLOCK,
	     .flags = HZ_DEVICE_OPTIONAL,
	     .name = "spare"},
	    HZ_DEVICE_BLOCK("second"));

#define BIG (1536u * 1024u)

static uint8_t sector[512];

/* Writes "haze disk @name" to the first sector of @name; 0 or 1. */
static int label(const char *name, bool optional)
{
	hz_handle_t h;
	struct hz_block_info bi;
	int r = hz_platform_block_acquire(name, &h, &bi);

	if (r == -HZ_ENOENT && optional) {
		hz_printf("%s: unbound\n", name);
		return 0;
	}
	if (r < 0) {
		hz_printf("%s: acquire: %s\n", name, hz_strerror(r));
		return 1;
	}
	memset(sector, 0, sizeof(sector));
	snprintf((char *)sector, sizeof(sector), "haze disk %s", name);
	if ((r = hz_platform_block_write(h, 0, sector, sizeof(sector))) < 0 ||
	    (r = hz_platform_block_flush(h)) < 0) {
		hz_printf("%s: write: %s\n", name, hz_strerror(r));
		return 1;
	}
	if (hz_platform_block_write(h, 256, sector, 512) != -HZ_EINVAL ||
	    hz_platform_block_write(h, 0, sector, 100) != -HZ_EINVAL ||
	    hz_platform_block_write(h, bi.capacity - 512, sector, 1024) !=
		-HZ_EINVAL) {
		hz_printf("%s: bad writes were not refused\n", name);
		return 1;
	}
	hz_printf("%s: %llu bytes, labelled\n", name,
		  (unsigned long long)bi.capacity);
	return 0;
}

/* Writes and reads back BIG bytes of "first" in one call each; 0 or 1. */
static int big_transfer(void)
{
	hz_handle_t h;
	struct hz_block_info bi;
	uint8_t *buf = hz_malloc(BIG);
	int r;

	if (buf == NULL || hz_platform_block_acquire("first", &h, &bi) < 0 ||
	    bi.capacity < 4096 + BIG) {
		hz_printf("big: no buffer or a disk too small\n");
		return 1;
	}
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (uint8_t)(i * 13 + i / 4096);
	if ((r = hz_platform_block_write(h, 4096, buf, BIG)) < 0) {
		hz_printf("big: write: %s\n", hz_strerror(r));
		return 1;
	}
	memset(buf, 0, BIG);
	if ((r = hz_platform_block_read(h, 4096, buf, BIG)) < 0) {
		hz_printf("big: read: %s\n", hz_strerror(r));
		return 1;
	}
	for (size_t i = 0; i < BIG; i++) {
		if (buf[i] != (uint8_t)(i * 13 + i / 4096)) {
			hz_printf("big: byte %zu differs\n", i);
			return 1;
		}
	}
	hz_free(buf);
	hz_printf("big: %u bytes written and read back in one call each\n",
		  BIG);
	return 0;
}

int hz_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (label("first", false) || label("spare", true) ||
	    label("second", false) || big_transfer())
		return 1;
	/* The virtio target counts the device interrupts it takes (irq.c):
	 * a request completes by interrupt, not by the halt's timeout. */
	const struct hz_counter *irqs = hz_counter_find("virtio", "irq");
	hz_printf("device interrupts: %llu\n",
		  irqs ? (unsigned long long)irqs->value : 0ull);
	hz_printf("disks ok\n");
	return 0;
}
