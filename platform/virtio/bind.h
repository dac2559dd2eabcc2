/*
 * Binding the manifest's devices to the virtio devices the transports
 * found (docs/virtio.md, "Binding order"): one rule for every kind, a pure
 * function of its inputs so that fuzz/fuzz_virtio_bind.c can test it on
 * the host.
 */
#ifndef HAZE_VIRTIO_BIND_H
#define HAZE_VIRTIO_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/manifest.h"

/*
 * Gives each device of @kind in manifest @m its device: bound[i], for
 * entry i, the index of its device among the @found devices of that kind
 * in registration order, or -1. With @names (the value of `haze.block=`
 * or `haze.net=`, comma-separated), device j goes to the jth name; with
 * NULL, to the manifest's devices of @kind in manifest order. 0; or
 * -HZ_EINVAL with a one-line reason in @why: a malformed list, a name
 * that is no device of @kind, a name given twice, a required device left
 * without one.
 */
HZ_MUST_CHECK
int hz_virtio_bind(const struct hz_manifest *m, uint32_t kind,
		   const char *names, unsigned found,
		   int bound[HZ_MANIFEST_MAX], char *why, size_t why_len);

/* The manifest index of device @name (@len bytes) of @kind, or -1. */
int hz_virtio_manifest_find(const struct hz_manifest *m, uint32_t kind,
			    const char *name, size_t len);

/* A `haze.block=` or `haze.net=` option: the names, in device order. */
struct hz_virtio_names {
	char names[HZ_MANIFEST_MAX * HZ_DEVICE_NAME_MAX];
	bool given;
};

/* Keeps option value @value in @n; false if it does not fit. */
HZ_MUST_CHECK
bool hz_virtio_names_set(struct hz_virtio_names *n, const char *value);

#endif
