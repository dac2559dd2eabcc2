/*
 * What the KV stores share (haze/kv.h): the calls that are not one
 * store's operation, content types by extension (from content_types.def,
 * which crunch reads too), ETags, key checks and the messages that name a
 * key.
 */
#include <stdio.h>
#include <string.h>

#include "haze/kv.h"
#include "kv/kv_int.h"

struct content_type {
	const char *ext;
	const char *type;
};

#define HZ_KV_TYPE(ext, type) {ext, type},
#define HZ_KV_TYPE_DEFAULT(type)
static const struct content_type content_types[] = {
#include "kv/content_types.def"
};
#undef HZ_KV_TYPE
#undef HZ_KV_TYPE_DEFAULT

#define HZ_KV_TYPE(ext, type)
#define HZ_KV_TYPE_DEFAULT(type) type
static const char default_type[] =
#include "kv/content_types.def"
    ;
#undef HZ_KV_TYPE
#undef HZ_KV_TYPE_DEFAULT

/* The longest extension of the table, and then some. */
#define EXT_MAX 16

int hz_kv_lookup(struct hz_kv *kv, const char *key, struct hz_kv_entry *out)
{
	return kv->ops->lookup(kv, key, strlen(key), out);
}

void hz_kv_free(struct hz_kv *kv)
{
	if (kv != NULL)
		kv->ops->free(kv);
}

const char *hz_kv_content_type(const char *key)
{
	const char *slash = strrchr(key, '/');
	const char *base = slash != NULL ? slash + 1 : key;
	const char *dot = strrchr(base, '.');
	char ext[EXT_MAX + 1];
	size_t n;

	/* ".htaccess" is a name, not an extension. */
	if (dot == NULL || dot == base)
		return default_type;
	n = strlen(dot + 1);
	if (n == 0 || n > EXT_MAX)
		return default_type;
	for (size_t i = 0; i < n; i++) {
		char c = dot[1 + i];
		ext[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	ext[n] = '\0';
	for (size_t i = 0; i < sizeof(content_types) / sizeof(*content_types);
	     i++)
		if (strcmp(ext, content_types[i].ext) == 0)
			return content_types[i].type;
	return default_type;
}

void kv_etag_strong(char out[KV_ETAG_MAX], const uint8_t hash[32])
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	out[n++] = '"';
	for (size_t i = 0; i < KV_ETAG_HASH_BYTES; i++) {
		out[n++] = hex[hash[i] >> 4];
		out[n++] = hex[hash[i] & 15];
	}
	out[n++] = '"';
	out[n] = '\0';
}

void kv_etag_weak(char out[KV_ETAG_MAX], uint64_t size, int64_t mtime)
{
	snprintf(out, KV_ETAG_MAX, "W/\"%llx-%llx\"", (unsigned long long)size,
		 (unsigned long long)(uint64_t)mtime);
}

const char *kv_show(char buf[KV_SHOWN_MAX], const char *s, size_t len)
{
	size_t n = 0;

	for (; n < len && n < 64; n++)
		buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

const char *kv_key_check(const char *key, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return "empty name";
	if (len > HZ_KV_KEY_MAX)
		return "name longer than 255 bytes";
	if (key[0] == '/')
		return "absolute path";
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)key[i] : '/';

		if (c < 0x20 || c == 0x7f)
			return "control character in name";
		if (c != '/')
			continue;
		if (i == start)
			return "empty path component";
		if (i - start == 2 && key[start] == '.' &&
		    key[start + 1] == '.')
			return "'..' in path";
		if (i - start == 1 && key[start] == '.')
			return "'.' in path";
		start = i + 1;
	}
	return NULL;
}

int kv_key_cmp(const char *a, size_t alen, const char *b)
{
	for (size_t i = 0; i < alen; i++) {
		unsigned char ca = (unsigned char)a[i];
		unsigned char cb = (unsigned char)b[i];

		if (cb == '\0')
			return 1; /* @b ended first */
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return b[alen] == '\0' ? 0 : -1;
}

int kv_no_key(struct hz_errmsg *err, const char *store, const char *key,
	      size_t len)
{
	char shown[KV_SHOWN_MAX];

	return hz_errmsg_set(err, -HZ_ENOENT, "kv %s: no key '%s'", store,
			     kv_show(shown, key, len));
}
