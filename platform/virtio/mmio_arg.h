/*
 * The virtio-mmio transports a hypervisor names on the kernel command
 * line, `virtio_mmio.device=SIZE@BASE:IRQ` (mmio.c, docs/virtio.md): the
 * parser alone, a pure function, so that fuzz/fuzz_virtio_mmio.c can test
 * it on the host.
 */
#ifndef HAZE_VIRTIO_MMIO_ARG_H
#define HAZE_VIRTIO_MMIO_ARG_H

#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

/* One transport's register window and the I/O APIC input of its
 * interrupt. */
struct hz_virtio_mmio_arg {
	uint64_t base, size;
	unsigned gsi;
};

/*
 * Parses @value, the text after `virtio_mmio.device=`: SIZE with an
 * optional K, M or G; '@' BASE; ':' IRQ (0 to 255); optionally ':' a
 * device id, which is ignored. Numbers are decimal or 0x-hexadecimal.
 * The window must hold at least 512 bytes and end at or below 4 GiB.
 * 0, or -HZ_EINVAL with a one-line reason in @why.
 */
HZ_MUST_CHECK
int hz_virtio_mmio_parse(const char *value, struct hz_virtio_mmio_arg *out,
			 char *why, size_t why_len);

#endif
