/*
 * Inside the KV library (src/kv): what both stores share (messages,
 * ETags, key checks), and the tar store's reader of sectors, which the
 * platform's block device implements in the library and a buffer in
 * memory implements for the unit tests and the fuzz harness.
 */
#ifndef HAZE_SRC_KV_INT_H
#define HAZE_SRC_KV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/kv.h"

/* Room for a quoted ETag: W/"<16 hex>-<16 hex>" or "<32 hex>", and NUL. */
#define KV_ETAG_MAX 40
/* Bytes of the SHA-256 that a strong ETag shows (as twice as many hex). */
#define KV_ETAG_HASH_BYTES 16
/* Room for a key shown in a message, made printable and maybe cut. */
#define KV_SHOWN_MAX 72

/* Writes "<32 hex>", quoted, of the SHA-256 @hash into @out. */
void kv_etag_strong(char out[KV_ETAG_MAX], const uint8_t hash[32]);

/* Writes W/"<size hex>-<mtime hex>" into @out. */
void kv_etag_weak(char out[KV_ETAG_MAX], uint64_t size, int64_t mtime);

/* Copies @len bytes of @s into @buf for a message: printable, cut at 64. */
const char *kv_show(char buf[KV_SHOWN_MAX], const char *s, size_t len);

/*
 * Checks that @key (@len bytes) is a key as kv.h defines it: non-empty,
 * relative, no empty, "." or ".." component, no control character, at
 * most HZ_KV_KEY_MAX. Returns NULL, or why not.
 */
const char *kv_key_check(const char *key, size_t len);

/* Compares @a (@alen bytes) with NUL-terminated @b in strcmp order. */
int kv_key_cmp(const char *a, size_t alen, const char *b);

/* Records "kv NAME: no key 'KEY'" in @err; returns -HZ_ENOENT. */
int kv_no_key(struct hz_errmsg *err, const char *store, const char *key,
	      size_t len);

/* --- the tar store's sectors ---------------------------------------------- */

/*
 * Where a tar store reads from: @capacity bytes in sectors of
 * @sector_size; read takes sector-aligned offsets and lengths only.
 */
struct kv_src {
	int (*read)(const struct kv_src *s, uint64_t offset, void *buf,
		    size_t len);
	uint64_t capacity;
	uint32_t sector_size;
	int handle;	 /* platform block device, for read */
	const void *mem; /* or bytes in memory, for read */
};

/*
 * Makes @s read @len bytes at @mem in sectors of @sector_size (a power of
 * two, at least 512): capacity is @len rounded down to a sector, and
 * unaligned reads give -HZ_EINVAL, as a device would.
 */
void kv_src_mem(struct kv_src *s, const void *mem, size_t len,
		uint32_t sector_size);

/* hz_kv_tar_open over any source; @name names the store in messages. */
HZ_MUST_CHECK
int kv_tar_open_src(const char *name, const struct kv_src *src,
		    const struct hz_kv_tar_params *p, struct hz_kv **out,
		    struct hz_errmsg *err);

/* Returns where the data of tar entry @index starts in the archive. */
uint64_t kv_tar_data_offset(const struct hz_kv *kv, size_t index);

#endif
