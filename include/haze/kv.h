/*
 * KV: a read-only store of files by key, for serving a site's content.
 * Like every Haze interface it is a struct whose first field is its
 * operations, with two implementations behind it:
 *
 * - the compiled store: tools/crunch/crunch.py turns a directory into C
 *   data compiled into the image (struct hz_kv_image); its bytes can be
 *   sent without a copy (hz_kv_bytes);
 * - the tar store: a ustar archive on a block device, indexed at open, so
 *   one image serves new content without a rebuild (--block site=x.tar).
 *
 * A key is a relative path with '/' between components, "index.html" or
 * "css/site.css": no leading '/', no "." or ".." component, no control
 * character, at most HZ_KV_KEY_MAX bytes. Keys are ordered bytewise
 * (strcmp), which is the order of hz_kv_entry_at.
 *
 * An entry has one or two representations (codings): its bytes as they
 * are, and a gzip variant where the store has one that is smaller. Each
 * has its size and a quoted ETag: strong ("..."), the first 128 bits of
 * the SHA-256 of its bytes, in both stores unless a tar store is opened
 * with HZ_KV_TAR_WEAK_ETAGS (then W/"size-mtime"). The same file has the
 * same strong ETag in either store.
 *
 * Errors are values: every call that can fail returns a negative HZ_E*
 * code, and hz_kv_error gives the message of the store's last failure,
 * naming the store ("kv site: no key 'x.html'"). Reads never block on
 * anything but the device itself, and never yield to other fibers.
 * Docs: docs/kv.md.
 */
#ifndef HAZE_KV_H
#define HAZE_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "haze/error.h"

/* The longest key, in bytes. */
#define HZ_KV_KEY_MAX 255

/* A representation of an entry: its bytes as stored, or their gzip. */
enum hz_kv_coding {
	HZ_KV_IDENTITY = 0,
	HZ_KV_GZIP = 1,
};

/*
 * What a lookup gives: a copy the caller keeps. Its strings belong to the
 * store and live as long as it does.
 */
struct hz_kv_entry {
	const char *key;
	const char *content_type; /* by extension: "text/css; charset=utf-8" */
	int64_t mtime;		  /* seconds since the epoch */
	uint64_t size;		  /* bytes of the identity coding */
	const char *etag;	  /* quoted, as sent in an ETag header */
	bool has_gzip;		  /* a gzip variant exists (and is smaller) */
	uint64_t gzip_size;	  /* its bytes; 0 when there is none */
	const char *gzip_etag;	  /* its own ETag; NULL when there is none */
	uint32_t index;		  /* position in key order (hz_kv_entry_at) */
};

struct hz_kv;

struct hz_kv_ops {
	int (*lookup)(struct hz_kv *kv, const char *key, size_t len,
		      struct hz_kv_entry *out);
	size_t (*count)(const struct hz_kv *kv);
	int (*entry_at)(struct hz_kv *kv, size_t index,
			struct hz_kv_entry *out);
	ssize_t (*read)(struct hz_kv *kv, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, uint64_t offset, void *buf,
			size_t len);
	int (*bytes)(struct hz_kv *kv, const struct hz_kv_entry *e,
		     enum hz_kv_coding coding, const void **out);
	const char *(*error_message)(const struct hz_kv *kv);
	void (*free)(struct hz_kv *kv);
};

/* Implementations embed this first. */
struct hz_kv {
	const struct hz_kv_ops *ops;
};

/*
 * Finds @key (@len bytes, not necessarily NUL-terminated) and fills *out.
 * 0, or -HZ_ENOENT with a message naming the key.
 */
HZ_MUST_CHECK
static inline int hz_kv_lookup_n(struct hz_kv *kv, const char *key, size_t len,
				 struct hz_kv_entry *out)
{
	return kv->ops->lookup(kv, key, len, out);
}

/* Finds the NUL-terminated @key; as hz_kv_lookup_n. */
HZ_MUST_CHECK
int hz_kv_lookup(struct hz_kv *kv, const char *key, struct hz_kv_entry *out);

/* Returns the number of entries of @kv. */
static inline size_t hz_kv_count(const struct hz_kv *kv)
{
	return kv->ops->count(kv);
}

/*
 * Fills *out with the entry at @index of key order, for listing every
 * key: 0, or -HZ_ENOENT past the last one.
 */
HZ_MUST_CHECK
static inline int hz_kv_entry_at(struct hz_kv *kv, size_t index,
				 struct hz_kv_entry *out)
{
	return kv->ops->entry_at(kv, index, out);
}

/*
 * Copies bytes of entry @e (from this store) in @coding, starting at
 * @offset, into @buf: min(@len, size - @offset) bytes, 0 at or past the
 * end, so a short count means the end was reached. Any offset and length
 * may be asked for. Negative: -HZ_ENOENT (no gzip variant), -HZ_EIO (the
 * device failed), with a message.
 */
HZ_MUST_CHECK
static inline ssize_t hz_kv_read(struct hz_kv *kv, const struct hz_kv_entry *e,
				 enum hz_kv_coding coding, uint64_t offset,
				 void *buf, size_t len)
{
	return kv->ops->read(kv, e, coding, offset, buf, len);
}

/*
 * Gives the address of all the bytes of entry @e in @coding, without a
 * copy: valid as long as the image (the compiled store) or the store (a
 * tar store held in memory). 0, or -HZ_ENOTSUP from a store whose bytes
 * are not in memory (a tar store on its device: use hz_kv_read), or
 * -HZ_ENOENT (no gzip variant).
 */
HZ_MUST_CHECK
static inline int hz_kv_bytes(struct hz_kv *kv, const struct hz_kv_entry *e,
			      enum hz_kv_coding coding, const void **out)
{
	return kv->ops->bytes(kv, e, coding, out);
}

/* Returns the message of the store's last failure. */
static inline const char *hz_kv_error(const struct hz_kv *kv)
{
	return kv->ops->error_message(kv);
}

/* Releases the store (and its device's index); exactly once. */
void hz_kv_free(struct hz_kv *kv);

/*
 * Returns the content type of @key by its extension (case-insensitive),
 * "application/octet-stream" when it has none or an unknown one. Text
 * types carry "; charset=utf-8".
 */
const char *hz_kv_content_type(const char *key);

/* --- the compiled store --------------------------------------------------- */

/* One file of a compiled store, as tools/crunch/crunch.py writes it. */
struct hz_kv_file {
	const char *key;
	const char *content_type;
	int64_t mtime;
	const uint8_t *data; /* size bytes */
	uint64_t size;
	const char *etag;
	const uint8_t *gzip; /* gzip_size bytes, or NULL */
	uint64_t gzip_size;
	const char *gzip_etag;
};

/* A directory crunched into the image: files in key order. */
struct hz_kv_image {
	const char *name; /* for messages: "kv NAME: ..." */
	const struct hz_kv_file *files;
	size_t count;
};

/*
 * Opens the compiled store of @image (which must outlive it) as a KV in
 * *out. 0 or -HZ_ENOMEM. An image out of key order is a programming
 * error (assert): crunch writes them sorted.
 */
HZ_MUST_CHECK
int hz_kv_static_open(const struct hz_kv_image *image, struct hz_kv **out);

/* --- the tar store -------------------------------------------------------- */

/* Flags of struct hz_kv_tar_params. */
#define HZ_KV_TAR_WEAK_ETAGS 1u /* skip hashing at open: W/"size-mtime" */

/* Defaults of struct hz_kv_tar_params, used for its zero fields. */
#define HZ_KV_TAR_MAX_ENTRIES 8192
#define HZ_KV_TAR_MAX_MEMORY (4u << 20)

/*
 * Limits of a tar store; a NULL params or zero field takes the default.
 * @cache_max: a device of at most this many bytes is read into memory
 * at open, when a quarter of the free heap holds it, and served from
 * there (hz_kv_bytes then gives its bytes without a copy); 0, the
 * default, never. It is not counted in @max_memory, and a device too
 * large or memory too short just leaves the store on the device.
 */
struct hz_kv_tar_params {
	size_t max_entries; /* files (not directories) the index may hold */
	size_t max_memory;  /* bytes of heap for the index and buffers */
	size_t cache_max;   /* devices this small are held in memory */
	unsigned flags;	    /* HZ_KV_TAR_WEAK_ETAGS */
};

/* Whether the tar store @kv serves from memory (hz_kv_tar_params). */
bool hz_kv_tar_in_memory(const struct hz_kv *kv);

/*
 * Opens the tar archive on block device @device (a name of the manifest)
 * as a KV in *out: reads every header (and, for strong ETags, all the
 * data, to hash it) and builds the index in the heap. On failure *out is
 * untouched and @err holds one line naming the device and what is wrong,
 * "kv site: bad tar header checksum at offset 1536". Codes: -HZ_ENOENT
 * (no such device), -HZ_EINVAL (not a valid archive, or one this store
 * refuses), -HZ_ENOMEM (over a limit of @p or the heap), -HZ_EIO.
 */
HZ_MUST_CHECK
int hz_kv_tar_open(const char *device, const struct hz_kv_tar_params *p,
		   struct hz_kv **out, struct hz_errmsg *err);

#endif
