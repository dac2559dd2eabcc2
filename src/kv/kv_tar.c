/*
 * The tar KV store: a ustar archive on a block device, so an image
 * serves new content without a rebuild. hz_kv_tar_open reads every
 * header once, checks it (checksum, magic, numbers, names, sizes against
 * the device) and builds a sorted index in the heap under a budget;
 * afterwards a read is a few sector reads at the entry's offset.
 *
 * The archive is hostile input. Every header's checksum is verified,
 * every number parsed strictly, every offset checked against the
 * device's capacity before use, every name checked as a key (no '/'
 * at the start, no '.' or '..' component, no control character), and
 * the count, the names and the memory are capped. Anything else is
 * refused at open with one line naming the device, the offset and the
 * fault: a store that opened serves only what it checked.
 *
 * Formats: POSIX ustar and pax (path, size and mtime records of 'x'
 * headers; 'g' headers skipped), GNU tar's ustar variant with 'L' long
 * names and base-256 numbers. Directories are skipped; links, devices,
 * FIFOs and sparse files are refused. A file "x.gz" next to "x" is x's
 * gzip variant when it is smaller (and stays a key of its own).
 *
 * ETags: the SHA-256 of every file is computed at open (one pass over
 * the whole archive), unless HZ_KV_TAR_WEAK_ETAGS asks for W/"size-mtime"
 * and an open that reads headers only.
 *
 * A small device (hz_kv_tar_params.cache_max) is read into memory whole
 * at open, before the scan; the store then checks and serves those bytes
 * (hz_kv_bytes gives them without a copy), and never reads the device
 * again.
 */
#include <bearssl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/kv.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "kv/kv_int.h"

#define BLOCK 512
/* Bytes read ahead per device call, for headers and small reads. */
#define WINDOW (64u << 10)
/* The largest pax extended header read. */
#define PAX_MAX (16u << 10)
/* The longest name before it is normalised (pax path, GNU long name). */
#define RAW_NAME_MAX 1024
#define NO_GZIP UINT32_MAX
#define INDEX_MIN 16

/* Offsets and sizes of the fields of a ustar header. */
#define H_NAME 0
#define H_NAME_LEN 100
#define H_SIZE 124
#define H_MTIME 136
#define H_CHKSUM 148
#define H_TYPE 156
#define H_MAGIC 257
#define H_VERSION 263
#define H_PREFIX 345
#define H_PREFIX_LEN 155

struct tar_entry {
	const char *key;	  /* into names, once the index is complete */
	const char *content_type; /* likewise */
	uint32_t key_off;	  /* into names, while it grows */
	uint32_t gzip;		  /* entry of the gzip variant, or NO_GZIP */
	uint64_t offset;	  /* of the data in the archive */
	uint64_t size;
	int64_t mtime;
	char etag[KV_ETAG_MAX];
};

struct kv_tar {
	struct hz_kv kv;
	char name[HZ_DEVICE_NAME_MAX];
	struct kv_src src;
	struct hz_budget budget;
	struct tar_entry *entries;
	size_t count, entries_cap, max_entries;
	char *names;
	size_t names_len, names_cap;
	uint8_t *win; /* sectors read ahead: win_len bytes from win_off */
	size_t win_cap, win_len;
	uint64_t win_off;
	uint8_t *cache; /* the whole device, when held in memory, or NULL */
	bool weak;
	struct hz_errmsg err;
};

/* Attributes that pax and GNU headers give the entry after them. */
struct pending {
	char path[RAW_NAME_MAX + 1]; /* pax path */
	size_t path_len;
	bool has_path;
	char longname[RAW_NAME_MAX + 1]; /* GNU 'L' */
	size_t longname_len;
	bool has_longname;
	uint64_t size;
	bool has_size;
	int64_t mtime;
	bool has_mtime;
};

/* What the scan of the archive needs only while it runs. */
struct scan {
	uint8_t hdr[BLOCK];
	struct pending pend;
	char name[RAW_NAME_MAX + H_PREFIX_LEN + 2];
	uint8_t *pax; /* PAX_MAX bytes, allocated at the first pax header */
};

static struct kv_tar *to_tar(const struct hz_kv *kv)
{
	return (struct kv_tar *)kv;
}

/* --- memory --------------------------------------------------------------- */

/* Allocates *@out of @size bytes of the index's budget: 0 or -HZ_ENOMEM. */
static int index_alloc(struct kv_tar *t, size_t size, void **out)
{
	*out = hz_budget_alloc(&t->budget, size);
	if (*out != NULL)
		return 0;
	if (size > t->budget.limit - t->budget.used)
		return hz_errmsg_set(&t->err, -HZ_ENOMEM,
				     "kv %s: the index needs more than its "
				     "%zu bytes of memory",
				     t->name, t->budget.limit);
	return hz_errmsg_set(&t->err, -HZ_ENOMEM,
			     "kv %s: out of memory for the index", t->name);
}

/*
 * Grows the array @p of *@cap elements of @elem bytes to hold at least
 * @need: *@out is the array (moved, or @p if it had room). 0 or error.
 */
static int index_grow(struct kv_tar *t, void *p, size_t *cap, size_t need,
		      size_t elem, void **out)
{
	size_t ncap = *cap < INDEX_MIN ? INDEX_MIN : *cap;
	int r;

	*out = p;
	if (p != NULL && need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return hz_errmsg_set(&t->err, -HZ_ENOMEM,
					     "kv %s: index too large", t->name);
		ncap *= 2;
	}
	r = index_alloc(t, ncap * elem, out);
	if (r < 0) {
		*out = p;
		return r;
	}
	if (p != NULL) {
		memcpy(*out, p, *cap * elem);
		hz_budget_free(&t->budget, p, *cap * elem);
	}
	*cap = ncap;
	return 0;
}

/* --- reading the device --------------------------------------------------- */

/* Reads the window's worth of sectors around @off (below capacity). */
static int window_fill(struct kv_tar *t, uint64_t off)
{
	uint64_t start = off - off % t->src.sector_size;
	uint64_t n = t->src.capacity - start;
	int r;

	if (n > t->win_cap)
		n = t->win_cap;
	t->win_len = 0;
	r = t->src.read(&t->src, start, t->win, (size_t)n);
	if (r < 0)
		return hz_errmsg_set(&t->err, r,
				     "kv %s: reading the device at offset "
				     "%llu failed: %s",
				     t->name, (unsigned long long)start,
				     hz_strerror(r));
	t->win_off = start;
	t->win_len = (size_t)n;
	return 0;
}

/*
 * Copies @len bytes at archive offset @off (within capacity) into @buf:
 * through the window, except whole sectors of a long read, which go
 * straight into @buf.
 */
static int read_at(struct kv_tar *t, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	int r;

	HZ_ASSERT(off <= t->src.capacity && len <= t->src.capacity - off);
	if (t->cache != NULL) {
		memcpy(buf, t->cache + off, len);
		return 0;
	}
	while (len > 0) {
		if (off >= t->win_off && off - t->win_off < t->win_len) {
			size_t at = (size_t)(off - t->win_off);
			size_t n =
			    t->win_len - at < len ? t->win_len - at : len;

			memcpy(p, t->win + at, n);
			p += n;
			off += n;
			len -= n;
			continue;
		}
		if (off % t->src.sector_size == 0 && len >= t->win_cap) {
			size_t n = len - len % t->src.sector_size;

			r = t->src.read(&t->src, off, p, n);
			if (r < 0)
				return hz_errmsg_set(
				    &t->err, r,
				    "kv %s: reading the device at offset "
				    "%llu failed: %s",
				    t->name, (unsigned long long)off,
				    hz_strerror(r));
			p += n;
			off += n;
			len -= n;
			continue;
		}
		r = window_fill(t, off);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Feeds @len bytes at @off (within capacity) to @h, a window at a time. */
static int hash_range(struct kv_tar *t, uint64_t off, uint64_t len,
		      br_sha256_context *h)
{
	if (t->cache != NULL) {
		br_sha256_update(h, t->cache + off, (size_t)len);
		return 0;
	}
	while (len > 0) {
		size_t at, n;
		int r;

		if (off < t->win_off || off - t->win_off >= t->win_len) {
			r = window_fill(t, off);
			if (r < 0)
				return r;
		}
		at = (size_t)(off - t->win_off);
		n = t->win_len - at;
		if (n > len)
			n = (size_t)len;
		br_sha256_update(h, t->win + at, n);
		off += n;
		len -= n;
	}
	return 0;
}

/* Bytes per device read when the whole device is read into memory. */
#define CACHE_READ (1u << 20)

/*
 * Reads the whole device into memory when it is at most @max bytes and
 * a quarter of the free heap holds it; otherwise, or if a read fails
 * (the scan then meets the fault and names it), the store stays on the
 * device. Nothing here fails the open.
 */
static void cache_device(struct kv_tar *t, size_t max)
{
	uint64_t cap = t->src.capacity;
	struct hz_mem_stats st;
	uint8_t *c;

	if (cap == 0 || cap > max)
		return;
	hz_mem_stats(&st);
	if (cap > (uint64_t)st.free_pages * HZ_PAGE_SIZE / 4)
		return;
	c = hz_malloc((size_t)cap);
	if (c == NULL)
		return;
	for (uint64_t off = 0; off < cap;) {
		/* CACHE_READ and the capacity are whole sectors. */
		size_t n =
		    cap - off < CACHE_READ ? (size_t)(cap - off) : CACHE_READ;

		if (t->src.read(&t->src, off, c + off, n) < 0) {
			hz_free(c);
			return;
		}
		off += n;
	}
	t->cache = c;
}

/* --- parsing headers ------------------------------------------------------ */

/*
 * Parses the numeric field @f of @n bytes: octal digits after optional
 * spaces, ended by NUL or space (or the field's end), or GNU base-256
 * (first byte 0x80 positive, 0xff negative). 0, or -1 if malformed or
 * outside int64.
 */
static int parse_number(const uint8_t *f, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] == 0x80 || f[0] == 0xff) {
		bool neg = f[0] == 0xff;

		/* Two's complement over the other bytes; the top three must
		 * only extend the sign, so the value fits in 64 bits. */
		for (i = 1; i < n; i++) {
			if (i < n - 8 && f[i] != (neg ? 0xff : 0))
				return -1;
			if (i >= n - 8)
				v = v << 8 | f[i];
		}
		if (!neg && v > INT64_MAX)
			return -1;
		if (neg && v <= INT64_MAX)
			return -1;
		*out = (int64_t)v; /* two's complement, as the archive has it */
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	if (i == n || f[i] < '0' || f[i] > '7')
		return -1;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v > (uint64_t)INT64_MAX >> 3)
			return -1;
		v = v << 3 | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = (int64_t)v;
	return 0;
}

/* Whether @hdr's checksum matches its bytes, summed unsigned or signed. */
static bool checksum_ok(const uint8_t *hdr)
{
	int64_t stored, sum_unsigned = 0, sum_signed = 0;

	if (parse_number(hdr + H_CHKSUM, 8, &stored) < 0)
		return false;
	for (size_t i = 0; i < BLOCK; i++) {
		uint8_t b = i >= H_CHKSUM && i < H_CHKSUM + 8 ? ' ' : hdr[i];

		sum_unsigned += b;
		sum_signed += (int8_t)b;
	}
	return stored == sum_unsigned || stored == sum_signed;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* Whether @hdr is a POSIX ustar header (else GNU's, or refused). */
static bool magic_posix(const uint8_t *hdr)
{
	return memcmp(hdr + H_MAGIC, "ustar\0", 6) == 0;
}

static bool magic_gnu(const uint8_t *hdr)
{
	return memcmp(hdr + H_MAGIC, "ustar ", 6) == 0 &&
	       memcmp(hdr + H_VERSION, " \0", 2) == 0;
}

/* Parses a decimal of @p[0..n), with a sign if @sign; 0 or -1. */
static int parse_decimal(const char *p, size_t n, bool sign, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	size_t i = 0;

	if (sign && n > 0 && p[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (uint64_t)INT64_MAX / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > (uint64_t)INT64_MAX)
			return -1;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Refuses the archive at @off for @why, naming the device. */
HZ_PRINTF(3, 4)
static int refuse(struct kv_tar *t, uint64_t off, const char *fmt, ...)
{
	char why[HZ_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return hz_errmsg_set(&t->err, -HZ_EINVAL, "kv %s: %s at offset %llu",
			     t->name, why, (unsigned long long)off);
}

/*
 * Applies the records of a pax extended header (@n bytes at @p, read
 * from the header at @off) to @pend: "LEN KEY=VALUE\n" each.
 */
static int pax_parse(struct kv_tar *t, uint64_t off, const char *p, size_t n,
		     struct pending *pend)
{
	while (n > 0) {
		const char *sp = memchr(p, ' ', n < 24 ? n : 24);
		const char *key, *eq, *val;
		size_t klen, vlen;
		int64_t len, v;

		if (sp == NULL ||
		    parse_decimal(p, (size_t)(sp - p), false, &len) < 0 ||
		    (uint64_t)len > n || len < (sp - p) + 4 ||
		    p[len - 1] != '\n')
			return refuse(t, off, "bad pax record");
		key = sp + 1;
		eq = memchr(key, '=', (size_t)(p + len - 1 - key));
		if (eq == NULL || eq == key)
			return refuse(t, off, "bad pax record");
		klen = (size_t)(eq - key);
		val = eq + 1;
		vlen = (size_t)(p + len - 1 - val);
		if (klen == 4 && memcmp(key, "path", 4) == 0) {
			if (vlen > RAW_NAME_MAX)
				return refuse(t, off, "pax path too long");
			memcpy(pend->path, val, vlen);
			pend->path[vlen] = '\0';
			pend->path_len = vlen;
			pend->has_path = true;
		} else if (klen == 4 && memcmp(key, "size", 4) == 0) {
			if (parse_decimal(val, vlen, false, &v) < 0)
				return refuse(t, off, "bad pax size");
			pend->size = (uint64_t)v;
			pend->has_size = true;
		} else if (klen == 5 && memcmp(key, "mtime", 5) == 0) {
			const char *dot = memchr(val, '.', vlen);
			size_t ilen = dot != NULL ? (size_t)(dot - val) : vlen;

			/* Seconds; the fraction is dropped. */
			if (parse_decimal(val, ilen, true, &v) < 0)
				return refuse(t, off, "bad pax mtime");
			for (size_t i = ilen + 1; dot != NULL && i < vlen; i++)
				if (val[i] < '0' || val[i] > '9')
					return refuse(t, off, "bad pax mtime");
			pend->mtime = v;
			pend->has_mtime = true;
		} else if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
			return refuse(t, off, "sparse file (not supported)");
		}
		p += len;
		n -= (size_t)len;
	}
	return 0;
}

/* Reads the @size data bytes of a metadata header at @off into s->pax. */
static int meta_read(struct kv_tar *t, struct scan *s, uint64_t off,
		     uint64_t size, size_t max, const char *what)
{
	if (size > max)
		return refuse(t, off, "%s of %llu bytes (the limit is %zu)",
			      what, (unsigned long long)size, max);
	if (s->pax == NULL) {
		void *p;
		int r = index_alloc(t, PAX_MAX, &p);

		if (r < 0)
			return r;
		s->pax = p;
	}
	return read_at(t, off + BLOCK, s->pax, (size_t)size);
}

/*
 * Makes the key of the entry at @off from its raw name (pending pax
 * path, GNU long name, or ustar prefix and name) into s->name: leading
 * "./" dropped, and for a directory its trailing '/'. Gives its length,
 * 0 for the archive's root directory, or a refusal.
 */
static int entry_name(struct kv_tar *t, struct scan *s, uint64_t off, bool dir,
		      size_t *len)
{
	const uint8_t *h = s->hdr;
	char shown[KV_SHOWN_MAX];
	const char *why;
	char *name = s->name;
	size_t n;

	if (s->pend.has_path) {
		n = s->pend.path_len;
		memcpy(name, s->pend.path, n);
	} else if (s->pend.has_longname) {
		n = s->pend.longname_len;
		memcpy(name, s->pend.longname, n);
	} else {
		size_t pl = 0,
		       nl = strnlen((const char *)h + H_NAME, H_NAME_LEN);

		n = 0;
		if (magic_posix(h) && h[H_PREFIX] != '\0') {
			pl = strnlen((const char *)h + H_PREFIX, H_PREFIX_LEN);
			memcpy(name, h + H_PREFIX, pl);
			name[pl] = '/';
			n = pl + 1;
		}
		memcpy(name + n, h + H_NAME, nl);
		n += nl;
	}
	if (memchr(name, '\0', n) != NULL)
		return refuse(t, off, "name with a NUL byte");
	while (n >= 2 && name[0] == '.' && name[1] == '/') {
		memmove(name, name + 2, n - 2);
		n -= 2;
	}
	if (dir && n > 0 && name[n - 1] == '/')
		n--;
	if (dir && n == 1 && name[0] == '.')
		n = 0;
	name[n] = '\0';
	if (dir && n == 0) {
		*len = 0;
		return 0;
	}
	why = kv_key_check(name, n);
	if (why != NULL)
		return refuse(t, off, "refused name '%s' (%s)",
			      kv_show(shown, name, n), why);
	*len = n;
	return 0;
}

/* Adds the file at header @off, @size bytes, to the index. */
static int index_add(struct kv_tar *t, struct scan *s, uint64_t off,
		     size_t name_len, uint64_t size, int64_t mtime)
{
	struct tar_entry *e;
	void *p;
	int r;

	if (t->count >= t->max_entries)
		return hz_errmsg_set(&t->err, -HZ_ENOMEM,
				     "kv %s: over the limit of %zu files in "
				     "the archive",
				     t->name, t->max_entries);
	if (t->names_len + name_len + 1 > UINT32_MAX)
		return hz_errmsg_set(&t->err, -HZ_ENOMEM,
				     "kv %s: names too long", t->name);
	r = index_grow(t, t->entries, &t->entries_cap, t->count + 1,
		       sizeof(*t->entries), &p);
	t->entries = p;
	if (r == 0)
		r = index_grow(t, t->names, &t->names_cap,
			       t->names_len + name_len + 1, 1, &p);
	if (r < 0)
		return r;
	t->names = p;
	e = &t->entries[t->count];
	memset(e, 0, sizeof(*e));
	e->key_off = (uint32_t)t->names_len;
	e->gzip = NO_GZIP;
	e->offset = off + BLOCK;
	e->size = size;
	e->mtime = mtime;
	memcpy(t->names + t->names_len, s->name, name_len + 1);
	t->names_len += name_len + 1;
	if (t->weak) {
		kv_etag_weak(e->etag, size, mtime);
	} else {
		br_sha256_context h;
		uint8_t hash[32];

		br_sha256_init(&h);
		r = hash_range(t, e->offset, size, &h);
		if (r < 0)
			return r;
		br_sha256_out(&h, hash);
		kv_etag_strong(e->etag, hash);
	}
	t->count++;
	return 0;
}

/*
 * Takes the header at @off (already read into s->hdr, not the end) and
 * its data; sets @next to the offset of the header after it.
 */
static int scan_header(struct kv_tar *t, struct scan *s, uint64_t off,
		       uint64_t *next)
{
	const uint8_t *h = s->hdr;
	uint64_t data = off + BLOCK, avail = t->src.capacity - data;
	uint64_t size, padded;
	int64_t v, mtime;
	char type = (char)h[H_TYPE];
	char shown[KV_SHOWN_MAX];
	size_t name_len;
	bool meta;
	int r;

	if (!checksum_ok(h)) {
		if (off == 0 && h[0] == 0x1f && h[1] == 0x8b)
			return refuse(t, off,
				      "a gzip-compressed file, not a tar "
				      "archive (uncompress it first)");
		return refuse(t, off, "bad tar header checksum");
	}
	if (!magic_posix(h) && !magic_gnu(h))
		return refuse(t, off, "not a ustar header (bad magic)");
	if (parse_number(h + H_SIZE, 12, &v) < 0 || v < 0)
		return refuse(t, off, "bad size field");
	if (parse_number(h + H_MTIME, 12, &mtime) < 0)
		return refuse(t, off, "bad mtime field");
	/* pax records describe the next entry, not another header of
	 * metadata. */
	meta = type == 'x' || type == 'g' || type == 'L' || type == 'K';
	size = s->pend.has_size && !meta ? s->pend.size : (uint64_t)v;
	if (s->pend.has_mtime && !meta)
		mtime = s->pend.mtime;
	/* Directories and links have no data, whatever their size says. */
	if (type == '5' || type == '1' || type == '2')
		size = 0;
	if (size > avail)
		return refuse(t, off,
			      "entry of %llu bytes runs past the end of the "
			      "device (%llu bytes)",
			      (unsigned long long)size,
			      (unsigned long long)t->src.capacity);
	padded = size + (BLOCK - size % BLOCK) % BLOCK;
	*next = padded <= avail ? data + padded : t->src.capacity;

	switch (type) {
	case 'x':
		r = meta_read(t, s, off, size, PAX_MAX, "pax header");
		if (r == 0)
			r = pax_parse(t, off, (const char *)s->pax,
				      (size_t)size, &s->pend);
		return r;
	case 'g': /* global pax records: nothing this store uses */
		return 0;
	case 'L':
		r = meta_read(t, s, off, size, RAW_NAME_MAX, "GNU long name");
		if (r < 0)
			return r;
		/* The name is NUL-terminated inside its data. */
		s->pend.longname_len = strnlen((const char *)s->pax, size);
		memcpy(s->pend.longname, s->pax, s->pend.longname_len);
		s->pend.has_longname = true;
		return 0;
	case 'K': /* the target of the link after it, refused there */
		return 0;
	case '5':
		r = entry_name(t, s, off, true, &name_len);
		break;
	case '0':
	case '\0':
	case '7':
		r = entry_name(t, s, off, false, &name_len);
		if (r == 0)
			r = index_add(t, s, off, name_len, size, mtime);
		break;
	case '1':
	case '2':
		r = entry_name(t, s, off, false, &name_len);
		if (r == 0)
			r = refuse(t, off,
				   "'%s' is a %s link; only files and "
				   "directories are served (tar -h "
				   "--hard-dereference stores files, not "
				   "links)",
				   kv_show(shown, s->name, name_len),
				   type == '1' ? "hard" : "symbolic");
		break;
	default:
		if (type >= 0x20 && type < 0x7f)
			r = refuse(t, off, "entry of type '%c' (not a file)",
				   type);
		else
			r = refuse(t, off, "entry of type 0x%02x (not a file)",
				   (unsigned)(uint8_t)type);
		break;
	}
	/* What the headers before it said applies to this entry only. */
	s->pend.has_path = false;
	s->pend.has_longname = false;
	s->pend.has_size = false;
	s->pend.has_mtime = false;
	return r;
}

/* Reads every header from offset 0 to the end-of-archive block. */
static int scan(struct kv_tar *t, struct scan *s)
{
	uint64_t off = 0;
	int r;

	if (t->src.capacity == 0)
		return hz_errmsg_set(&t->err, -HZ_EINVAL,
				     "kv %s: the device is empty or shorter "
				     "than one sector (%u bytes): no tar "
				     "archive on it",
				     t->name, (unsigned)t->src.sector_size);
	for (;;) {
		if (t->src.capacity - off < BLOCK)
			return refuse(t, off,
				      "truncated archive: the device ends "
				      "with no end-of-archive block");
		r = read_at(t, off, s->hdr, BLOCK);
		if (r < 0)
			return r;
		/* One zero block ends the archive (tar writes two). */
		if (all_zero(s->hdr, BLOCK))
			return 0;
		r = scan_header(t, s, off, &off);
		if (r < 0)
			return r;
	}
}

/* --- the index ------------------------------------------------------------ */

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tar_entry *)a)->key,
		      ((const struct tar_entry *)b)->key);
}

/* Finds @key of @len bytes in the sorted index; its position or -1. */
static ssize_t index_find(const struct kv_tar *t, const char *key, size_t len)
{
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kv_key_cmp(key, len, t->entries[mid].key);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Sorts the index, refuses duplicates, pairs files with their ".gz". */
static int index_finish(struct kv_tar *t)
{
	char shown[KV_SHOWN_MAX];

	for (size_t i = 0; i < t->count; i++) {
		struct tar_entry *e = &t->entries[i];

		e->key = t->names + e->key_off;
		e->content_type = hz_kv_content_type(e->key);
	}
	if (t->count > 1)
		qsort(t->entries, t->count, sizeof(*t->entries), entry_cmp);
	for (size_t i = 1; i < t->count; i++) {
		const struct tar_entry *a = &t->entries[i - 1];
		const struct tar_entry *b = &t->entries[i];

		if (strcmp(a->key, b->key) == 0)
			return hz_errmsg_set(
			    &t->err, -HZ_EINVAL,
			    "kv %s: '%s' is in the archive twice (headers "
			    "at offsets %llu and %llu)",
			    t->name, kv_show(shown, a->key, strlen(a->key)),
			    (unsigned long long)(a->offset < b->offset
						     ? a->offset
						     : b->offset) -
				BLOCK,
			    (unsigned long long)(a->offset < b->offset
						     ? b->offset
						     : a->offset) -
				BLOCK);
	}
	for (size_t i = 0; i < t->count; i++) {
		const struct tar_entry *gz = &t->entries[i];
		size_t n = strlen(gz->key);
		ssize_t base;

		if (n <= 3 || memcmp(gz->key + n - 3, ".gz", 3) != 0)
			continue;
		base = index_find(t, gz->key, n - 3);
		if (base >= 0 && gz->size < t->entries[base].size)
			t->entries[base].gzip = (uint32_t)i;
	}
	return 0;
}

/* --- operations ----------------------------------------------------------- */

static void fill(const struct kv_tar *t, size_t i, struct hz_kv_entry *out)
{
	const struct tar_entry *e = &t->entries[i];
	const struct tar_entry *gz =
	    e->gzip != NO_GZIP ? &t->entries[e->gzip] : NULL;

	out->key = e->key;
	out->content_type = e->content_type;
	out->mtime = e->mtime;
	out->size = e->size;
	out->etag = e->etag;
	out->has_gzip = gz != NULL;
	out->gzip_size = gz != NULL ? gz->size : 0;
	out->gzip_etag = gz != NULL ? gz->etag : NULL;
	out->index = (uint32_t)i;
}

static int tar_lookup(struct hz_kv *kv, const char *key, size_t len,
		      struct hz_kv_entry *out)
{
	struct kv_tar *t = to_tar(kv);
	ssize_t i = len <= HZ_KV_KEY_MAX ? index_find(t, key, len) : -1;

	if (i < 0)
		return kv_no_key(&t->err, t->name, key, len);
	fill(t, (size_t)i, out);
	return 0;
}

static size_t tar_count(const struct hz_kv *kv)
{
	return to_tar(kv)->count;
}

static int tar_entry_at(struct hz_kv *kv, size_t index, struct hz_kv_entry *out)
{
	struct kv_tar *t = to_tar(kv);

	if (index >= t->count)
		return hz_errmsg_set(&t->err, -HZ_ENOENT,
				     "kv %s: no entry %zu (of %zu)", t->name,
				     index, t->count);
	fill(t, index, out);
	return 0;
}

/* The index entry of @e in @coding; another store's entry asserts. */
static int coding_entry(struct kv_tar *t, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, const struct tar_entry **out)
{
	const struct tar_entry *te;

	HZ_ASSERT(e->index < t->count);
	te = &t->entries[e->index];
	HZ_ASSERT(e->key == te->key);
	if (coding == HZ_KV_GZIP) {
		if (te->gzip == NO_GZIP)
			return hz_errmsg_set(&t->err, -HZ_ENOENT,
					     "kv %s: '%s' has no gzip variant",
					     t->name, te->key);
		te = &t->entries[te->gzip];
	} else {
		HZ_ASSERT(coding == HZ_KV_IDENTITY);
	}
	*out = te;
	return 0;
}

static ssize_t tar_read(struct hz_kv *kv, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, uint64_t offset, void *buf,
			size_t len)
{
	struct kv_tar *t = to_tar(kv);
	const struct tar_entry *te;
	int r = coding_entry(t, e, coding, &te);

	if (r < 0)
		return r;
	if (offset >= te->size || len == 0)
		return 0;
	if (len > te->size - offset)
		len = (size_t)(te->size - offset);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	r = read_at(t, te->offset + offset, buf, len);
	return r < 0 ? r : (ssize_t)len;
}

static int tar_bytes(struct hz_kv *kv, const struct hz_kv_entry *e,
		     enum hz_kv_coding coding, const void **out)
{
	struct kv_tar *t = to_tar(kv);
	const struct tar_entry *te;
	int r = coding_entry(t, e, coding, &te);

	if (r < 0)
		return r;
	if (t->cache != NULL) {
		*out = t->cache + te->offset;
		return 0;
	}
	return hz_errmsg_set(&t->err, -HZ_ENOTSUP,
			     "kv %s: the bytes of a tar store are on its "
			     "device, not in memory (use hz_kv_read)",
			     t->name);
}

static const char *tar_error(const struct hz_kv *kv)
{
	return hz_errmsg_text(&to_tar(kv)->err);
}

static void tar_free(struct hz_kv *kv)
{
	struct kv_tar *t = to_tar(kv);

	if (t->entries != NULL)
		hz_budget_free(&t->budget, t->entries,
			       t->entries_cap * sizeof(*t->entries));
	if (t->names != NULL)
		hz_budget_free(&t->budget, t->names, t->names_cap);
	if (t->win != NULL)
		hz_budget_free(&t->budget, t->win, t->win_cap);
	HZ_ASSERT(t->budget.used == 0);
	hz_free(t->cache);
	hz_free(t);
}

static const struct hz_kv_ops tar_ops = {
    .lookup = tar_lookup,
    .count = tar_count,
    .entry_at = tar_entry_at,
    .read = tar_read,
    .bytes = tar_bytes,
    .error_message = tar_error,
    .free = tar_free,
};

/* --- opening -------------------------------------------------------------- */

bool hz_kv_tar_in_memory(const struct hz_kv *kv)
{
	return kv->ops == &tar_ops && to_tar(kv)->cache != NULL;
}

uint64_t kv_tar_data_offset(const struct hz_kv *kv, size_t index)
{
	const struct kv_tar *t = to_tar(kv);

	HZ_ASSERT(kv->ops == &tar_ops && index < t->count);
	return t->entries[index].offset;
}

int kv_tar_open_src(const char *name, const struct kv_src *src,
		    const struct hz_kv_tar_params *p, struct hz_kv **out,
		    struct hz_errmsg *err)
{
	static const struct hz_kv_tar_params defaults = {0};
	uint32_t sector = src->sector_size;
	struct scan *s;
	struct kv_tar *t;
	void *mem;
	int r;

	if (p == NULL)
		p = &defaults;
	if (sector < BLOCK || sector > WINDOW || (sector & (sector - 1)) != 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "kv %s: sectors of %u bytes are not "
				     "supported",
				     name, sector);
	t = hz_calloc(1, sizeof(*t));
	if (t == NULL)
		return hz_errmsg_set(err, -HZ_ENOMEM, "kv %s: out of memory",
				     name);
	t->kv.ops = &tar_ops;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->src = *src;
	t->src.capacity -= t->src.capacity % sector;
	t->budget = (struct hz_budget)HZ_BUDGET_INIT(
	    "kv", p->max_memory != 0 ? p->max_memory : HZ_KV_TAR_MAX_MEMORY);
	t->max_entries =
	    p->max_entries != 0 ? p->max_entries : HZ_KV_TAR_MAX_ENTRIES;
	if (t->max_entries > UINT32_MAX - 1)
		t->max_entries = UINT32_MAX - 1;
	t->weak = (p->flags & HZ_KV_TAR_WEAK_ETAGS) != 0;
	if (p->cache_max != 0)
		cache_device(t, p->cache_max);
	if (t->cache == NULL) {
		t->win_cap = WINDOW;
		r = index_alloc(t, t->win_cap, &mem);
		if (r < 0)
			goto fail;
		t->win = mem;
	}
	r = index_alloc(t, sizeof(*s), &mem);
	if (r < 0)
		goto fail;
	s = mem;
	memset(s, 0, sizeof(*s));
	r = scan(t, s);
	if (r == 0)
		r = index_finish(t);
	if (s->pax != NULL)
		hz_budget_free(&t->budget, s->pax, PAX_MAX);
	hz_budget_free(&t->budget, s, sizeof(*s));
	if (r < 0)
		goto fail;
	*out = &t->kv;
	return 0;

fail:
	err->code = t->err.code;
	memcpy(err->text, t->err.text, sizeof(err->text));
	tar_free(&t->kv);
	return r;
}

/* --- sources -------------------------------------------------------------- */

static int mem_read(const struct kv_src *s, uint64_t offset, void *buf,
		    size_t len)
{
	if (offset % s->sector_size != 0 || len % s->sector_size != 0 ||
	    offset > s->capacity || len > s->capacity - offset)
		return -HZ_EINVAL;
	memcpy(buf, (const uint8_t *)s->mem + offset, len);
	return 0;
}

void kv_src_mem(struct kv_src *s, const void *mem, size_t len,
		uint32_t sector_size)
{
	memset(s, 0, sizeof(*s));
	s->read = mem_read;
	s->mem = mem;
	s->sector_size = sector_size;
	s->capacity = len - len % (sector_size != 0 ? sector_size : 1);
}

static int block_read(const struct kv_src *s, uint64_t offset, void *buf,
		      size_t len)
{
	return hz_platform_block_read(s->handle, offset, buf, len);
}

int hz_kv_tar_open(const char *device, const struct hz_kv_tar_params *p,
		   struct hz_kv **out, struct hz_errmsg *err)
{
	struct hz_block_info info;
	struct kv_src src = {.read = block_read};
	hz_handle_t h;
	int r;

	r = hz_platform_block_acquire(device, &h, &info);
	if (r < 0)
		return hz_errmsg_set(err, r,
				     "kv %s: no block device '%s' is bound "
				     "(declare it in the manifest and bind "
				     "it: --block %s=FILE)",
				     device, device, device);
	src.handle = h;
	src.capacity = info.capacity;
	src.sector_size = info.sector_size;
	return kv_tar_open_src(device, &src, p, out, err);
}
