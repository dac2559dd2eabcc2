/*
 * libFuzzer harness for the virtio target's parser of the command line's
 * `virtio_mmio.device=` (platform/virtio/mmio_arg.c). The input is the
 * option's value. The parser either refuses with a one-line reason or
 * gives a window of at least 512 bytes that ends within 4 GiB and an
 * interrupt of 0 to 255; a value it accepts is accepted again, with the
 * same result, when written back in hexadecimal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/virtio/mmio_arg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char value[256];
	struct hz_virtio_mmio_arg a, b;
	char why[120], again[80];

	if (size >= sizeof(value))
		size = sizeof(value) - 1;
	memcpy(value, data, size);
	value[size] = '\0';
	why[0] = '\0';
	if (hz_virtio_mmio_parse(value, &a, why, sizeof(why)) < 0) {
		if (why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		return 0;
	}
	if (a.size < 512 || a.base + a.size < a.base ||
	    a.base + a.size > (4ull << 30) || a.gsi > 255)
		abort();
	snprintf(again, sizeof(again), "0x%llx@0x%llx:%u",
		 (unsigned long long)a.size, (unsigned long long)a.base, a.gsi);
	if (hz_virtio_mmio_parse(again, &b, why, sizeof(why)) < 0 ||
	    b.base != a.base || b.size != a.size || b.gsi != a.gsi)
		abort();
	return 0;
}
