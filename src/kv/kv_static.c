/*
 * The compiled KV store: files that tools/crunch/crunch.py turned into C
 * data in the image (struct hz_kv_image), already sorted, hashed and
 * gzipped at build time. Lookups are a binary search; reads are copies
 * out of the image, and hz_kv_bytes gives the image's own bytes so a
 * server can send them without copying.
 */
#include <limits.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/kv.h"
#include "haze/mem.h"
#include "kv/kv_int.h"

struct kv_static {
	struct hz_kv kv;
	const struct hz_kv_image *image;
	struct hz_errmsg err;
};

static struct kv_static *to_static(const struct hz_kv *kv)
{
	return (struct kv_static *)kv;
}

static void fill(const struct kv_static *s, size_t i, struct hz_kv_entry *out)
{
	const struct hz_kv_file *f = &s->image->files[i];

	out->key = f->key;
	out->content_type = f->content_type;
	out->mtime = f->mtime;
	out->size = f->size;
	out->etag = f->etag;
	out->has_gzip = f->gzip != NULL;
	out->gzip_size = f->gzip != NULL ? f->gzip_size : 0;
	out->gzip_etag = f->gzip != NULL ? f->gzip_etag : NULL;
	out->index = (uint32_t)i;
}

static int static_lookup(struct hz_kv *kv, const char *key, size_t len,
			 struct hz_kv_entry *out)
{
	struct kv_static *s = to_static(kv);
	size_t lo = 0, hi = s->image->count;

	if (len > HZ_KV_KEY_MAX)
		return kv_no_key(&s->err, s->image->name, key, len);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kv_key_cmp(key, len, s->image->files[mid].key);

		if (c == 0) {
			fill(s, mid, out);
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return kv_no_key(&s->err, s->image->name, key, len);
}

static size_t static_count(const struct hz_kv *kv)
{
	return to_static(kv)->image->count;
}

static int static_entry_at(struct hz_kv *kv, size_t index,
			   struct hz_kv_entry *out)
{
	struct kv_static *s = to_static(kv);

	if (index >= s->image->count)
		return hz_errmsg_set(&s->err, -HZ_ENOENT,
				     "kv %s: no entry %zu (of %zu)",
				     s->image->name, index, s->image->count);
	fill(s, index, out);
	return 0;
}

/* The file of @e; an entry from another store is a programming error. */
static const struct hz_kv_file *file_of(const struct kv_static *s,
					const struct hz_kv_entry *e)
{
	HZ_ASSERT(e->index < s->image->count);
	HZ_ASSERT(e->key == s->image->files[e->index].key);
	return &s->image->files[e->index];
}

/* The bytes of @f in @coding and their count, or -HZ_ENOENT. */
static int coding_bytes(struct kv_static *s, const struct hz_kv_file *f,
			enum hz_kv_coding coding, const uint8_t **p,
			uint64_t *size)
{
	if (coding == HZ_KV_IDENTITY) {
		*p = f->data;
		*size = f->size;
		return 0;
	}
	HZ_ASSERT(coding == HZ_KV_GZIP);
	if (f->gzip == NULL)
		return hz_errmsg_set(&s->err, -HZ_ENOENT,
				     "kv %s: '%s' has no gzip variant",
				     s->image->name, f->key);
	*p = f->gzip;
	*size = f->gzip_size;
	return 0;
}

static ssize_t static_read(struct hz_kv *kv, const struct hz_kv_entry *e,
			   enum hz_kv_coding coding, uint64_t offset, void *buf,
			   size_t len)
{
	struct kv_static *s = to_static(kv);
	const uint8_t *p = NULL;
	uint64_t size = 0;
	int r = coding_bytes(s, file_of(s, e), coding, &p, &size);

	if (r < 0)
		return r;
	if (offset >= size || len == 0)
		return 0;
	if (len > size - offset)
		len = (size_t)(size - offset);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	memcpy(buf, p + offset, len);
	return (ssize_t)len;
}

static int static_bytes(struct hz_kv *kv, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, const void **out)
{
	struct kv_static *s = to_static(kv);
	const uint8_t *p = NULL;
	uint64_t size = 0;
	int r = coding_bytes(s, file_of(s, e), coding, &p, &size);

	if (r < 0)
		return r;
	*out = p;
	return 0;
}

static const char *static_error(const struct hz_kv *kv)
{
	return hz_errmsg_text(&to_static(kv)->err);
}

static void static_free(struct hz_kv *kv)
{
	hz_free(kv);
}

static const struct hz_kv_ops static_ops = {
    .lookup = static_lookup,
    .count = static_count,
    .entry_at = static_entry_at,
    .read = static_read,
    .bytes = static_bytes,
    .error_message = static_error,
    .free = static_free,
};

int hz_kv_static_open(const struct hz_kv_image *image, struct hz_kv **out)
{
	struct kv_static *s;

	HZ_ASSERT(image->count == 0 || image->files != NULL);
	HZ_ASSERT(image->count <= UINT32_MAX);
	for (size_t i = 1; i < image->count; i++)
		HZ_ASSERT(strcmp(image->files[i - 1].key, image->files[i].key) <
			  0);
	s = hz_calloc(1, sizeof(*s));
	if (s == NULL)
		return -HZ_ENOMEM;
	s->kv.ops = &static_ops;
	s->image = image;
	*out = &s->kv;
	return 0;
}
