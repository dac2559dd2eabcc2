/*
 * The KV stores (haze/kv.h). The compiled store is tests/kv/fixture
 * crunched at build time: it must give back the files' bytes (compared
 * with the files on disk), sizes, times, types and SHA-256 ETags, and
 * gzip variants whose CRC and length match the content. The tar store
 * reads archives built here, header by header, over sectors in memory
 * (512 to 4096 bytes, unaligned reads refused as a device would) and over
 * a file-backed block device: it must agree with the compiled store,
 * ETags included, read correctly at every offset and across sectors, and
 * refuse every corrupt or hostile archive with a message naming it.
 */
#include "tests/unit/harness.h"

#include <bearssl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_kv.h"
#include "haze/kv.h"
#include "haze/mem.h"
#include "kv/kv_int.h"
#include "platform/unix/unix.h"

#define FIXTURE_DIR "tests/kv/fixture/"
#define FIXTURE_FILES 10

/* --- helpers -------------------------------------------------------------- */

/* Reads the fixture file @key from disk; its size in *n. Caller frees. */
static uint8_t *disk_file(const char *key, size_t *n, struct stat *st)
{
	char path[512];
	uint8_t *buf;
	FILE *f;

	snprintf(path, sizeof(path), FIXTURE_DIR "%s", key);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("%s: cannot open (run from the repository's root)",
			 path);
	assert_int_equal(fstat(fileno(f), st), 0);
	buf = malloc((size_t)st->st_size + 1);
	assert_non_null(buf);
	*n = fread(buf, 1, (size_t)st->st_size, f);
	assert_int_equal(*n, (size_t)st->st_size);
	fclose(f);
	return buf;
}

/* The strong ETag of @n bytes, as both stores make it. */
static void etag_of(const void *p, size_t n, char out[KV_ETAG_MAX])
{
	static const char hex[] = "0123456789abcdef";
	br_sha256_context h;
	uint8_t hash[32];

	br_sha256_init(&h);
	br_sha256_update(&h, p, n);
	br_sha256_out(&h, hash);
	out[0] = '"';
	for (size_t i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[hash[i] >> 4];
		out[2 + 2 * i] = hex[hash[i] & 15];
	}
	out[33] = '"';
	out[34] = '\0';
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c >> 1 ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Reads all of @e in @coding through hz_kv_read into a malloc'd buffer. */
static uint8_t *read_all(struct hz_kv *kv, const struct hz_kv_entry *e,
			 enum hz_kv_coding coding, uint64_t size)
{
	uint8_t *buf = malloc(size + 1);

	assert_non_null(buf);
	assert_int_equal(hz_kv_read(kv, e, coding, 0, buf, size + 1),
			 (ssize_t)size);
	return buf;
}

/*
 * Checks hz_kv_read of @e against @want (@n bytes) at every offset, for
 * lengths that end inside, at and past the end, and from past the end.
 */
static void check_reads(struct hz_kv *kv, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, const uint8_t *want, size_t n)
{
	static const size_t lens[] = {1, 2, 7, 511, 512, 513, 1000, 4096};
	uint8_t *buf = malloc(n + 4200);

	assert_non_null(buf);
	for (size_t off = 0; off <= n + 1; off++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
			size_t want_n = off >= n	    ? 0
					: lens[i] < n - off ? lens[i]
							    : n - off;
			ssize_t got =
			    hz_kv_read(kv, e, coding, off, buf, lens[i]);

			if (got != (ssize_t)want_n)
				fail_msg("%s at %zu, %zu bytes: got %zd, "
					 "want %zu",
					 e->key, off, lens[i], got, want_n);
			if (memcmp(buf, want + (off < n ? off : n), want_n))
				fail_msg("%s at %zu, %zu bytes: wrong bytes",
					 e->key, off, lens[i]);
		}
	}
	free(buf);
}

/* --- a tar writer, header by header --------------------------------------- */

struct tarb {
	uint8_t *buf;
	size_t len, cap;
};

/* Appends @n zero bytes; returns their offset. */
static size_t tb_grow(struct tarb *b, size_t n)
{
	size_t at = b->len;

	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->buf = realloc(b->buf, b->cap);
		assert_non_null(b->buf);
	}
	memset(b->buf + at, 0, n);
	b->len += n;
	return at;
}

static void tb_free(struct tarb *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* Writes @v in octal into the @n-byte field @f (n - 1 digits, NUL). */
static void tb_octal(uint8_t *f, size_t n, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(n - 1),
		 (unsigned long long)v);
	memcpy(f, tmp, n - 1);
	f[n - 1] = '\0';
}

/* Recomputes the checksum of the header at @at (after edits). */
static void tb_sum(struct tarb *b, size_t at)
{
	uint8_t *h = b->buf + at;
	unsigned sum = 0;
	char tmp[8];

	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	snprintf(tmp, sizeof(tmp), "%06o", sum);
	memcpy(h + 148, tmp, 6);
	h[154] = '\0';
	h[155] = ' ';
}

enum tb_format { POSIX, GNU };

/* Appends a header; returns its offset. @name goes whole into name[100]. */
static size_t tb_header(struct tarb *b, enum tb_format fmt, const char *name,
			char type, uint64_t size, int64_t mtime)
{
	size_t at = tb_grow(b, 512);
	uint8_t *h = b->buf + at;

	assert_true(strlen(name) <= 100);
	memcpy(h, name, strlen(name));
	tb_octal(h + 100, 8, 0644);
	tb_octal(h + 108, 8, 1000);
	tb_octal(h + 116, 8, 1000);
	tb_octal(h + 124, 12, size);
	if (mtime >= 0) {
		tb_octal(h + 136, 12, (uint64_t)mtime);
	} else { /* GNU base-256, two's complement */
		for (size_t i = 0; i < 12; i++)
			h[136 + 11 - i] =
			    i < 8 ? (uint8_t)((uint64_t)mtime >> (8 * i))
				  : 0xff;
	}
	h[156] = (uint8_t)type;
	if (fmt == POSIX)
		memcpy(h + 257,
		       "ustar\0"
		       "00",
		       8);
	else
		memcpy(h + 257, "ustar  \0", 8);
	memcpy(h + 265, "user", 4);
	memcpy(h + 297, "group", 5);
	tb_sum(b, at);
	return at;
}

/* Appends @n bytes of data, padded to a block. */
static void tb_data(struct tarb *b, const void *p, size_t n)
{
	size_t at = tb_grow(b, (n + 511) / 512 * 512);

	if (n > 0)
		memcpy(b->buf + at, p, n);
}

/* Appends a regular file; returns its header's offset. */
static size_t tb_file(struct tarb *b, const char *name, const void *p, size_t n,
		      int64_t mtime)
{
	size_t at = tb_header(b, POSIX, name, '0', n, mtime);

	tb_data(b, p, n);
	return at;
}

/* Appends the pax record "LEN KEY=VALUE\n" to @out (of @cap bytes). */
static void pax_record(char *out, size_t cap, const char *key,
		       const char *value)
{
	size_t body = 1 + strlen(key) + 1 + strlen(value) + 1, len = body;
	size_t used = strlen(out);

	/* LEN counts its own digits. */
	while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
		len = (size_t)snprintf(NULL, 0, "%zu", len) + body;
	snprintf(out + used, cap - used, "%zu %s=%s\n", len, key, value);
}

/* Appends a pax extended header ('x', or 'g') of @records. */
static void tb_pax(struct tarb *b, char type, const char *records)
{
	tb_header(b, POSIX, "PaxHeaders/x", type, strlen(records), 0);
	tb_data(b, records, strlen(records));
}

/* Appends the two zero blocks that end an archive. */
static void tb_end(struct tarb *b)
{
	tb_grow(b, 1024);
}

/* Pads the archive with zeros to whole sectors of 4 KiB, as tar -b 8. */
static void tb_pad(struct tarb *b)
{
	tb_grow(b, (4096 - b->len % 4096) % 4096);
}

/* --- sources -------------------------------------------------------------- */

/* Sectors in memory that count reads and can be made to fail. */
struct test_src {
	const uint8_t *data;
	uint64_t reads, bytes;
	bool fail;
	uint64_t fail_read; /* this read (1: the first) fails; 0: none */
};

static int test_src_read(const struct kv_src *s, uint64_t off, void *buf,
			 size_t len)
{
	struct test_src *t = (struct test_src *)s->mem;

	if (off % s->sector_size != 0 || len % s->sector_size != 0 ||
	    off > s->capacity || len > s->capacity - off || len == 0)
		fail_msg("bad device read: %llu bytes at %llu",
			 (unsigned long long)len, (unsigned long long)off);
	if (t->fail)
		return -HZ_EIO;
	t->reads++;
	if (t->reads == t->fail_read)
		return -HZ_EIO;
	t->bytes += len;
	memcpy(buf, t->data + off, len);
	return 0;
}

/* Opens @b as a tar store "t" with sectors of @sector bytes. */
static int open_tar(const struct tarb *b, uint32_t sector,
		    const struct hz_kv_tar_params *p, struct test_src *ts,
		    struct hz_kv **kv, struct hz_errmsg *err)
{
	struct kv_src src;

	memset(ts, 0, sizeof(*ts));
	ts->data = b->buf;
	kv_src_mem(&src, b->buf, b->len, sector);
	src.read = test_src_read;
	src.mem = ts;
	hz_errmsg_clear(err);
	return kv_tar_open_src("t", &src, p, kv, err);
}

/* Expects @b to be refused with @code and exactly @msg. */
static void refused(const struct tarb *b, const struct hz_kv_tar_params *p,
		    int code, const char *msg)
{
	struct hz_kv *kv = NULL;
	struct hz_errmsg err;
	struct test_src ts;
	int r = open_tar(b, 512, p, &ts, &kv, &err);

	if (r != code)
		fail_msg("want %s (%s), got %d (%s)", hz_errname(code), msg, r,
			 hz_errmsg_text(&err));
	assert_null(kv);
	assert_int_equal(err.code, code);
	assert_string_equal(hz_errmsg_text(&err), msg);
}

/* --- content types -------------------------------------------------------- */

static void content_type_by_extension(void **state)
{
	static const struct {
		const char *key, *type;
	} cases[] = {
	    {"index.html", "text/html; charset=utf-8"},
	    {"a/b/page.htm", "text/html; charset=utf-8"},
	    {"css/site.css", "text/css; charset=utf-8"},
	    {"app.js", "text/javascript; charset=utf-8"},
	    {"data.json", "application/json"},
	    {"logo.png", "image/png"},
	    {"photo.jpg", "image/jpeg"},
	    {"photo.jpeg", "image/jpeg"},
	    {"anim.gif", "image/gif"},
	    {"icon.svg", "image/svg+xml"},
	    {"favicon.ico", "image/vnd.microsoft.icon"},
	    {"robots.txt", "text/plain; charset=utf-8"},
	    {"feed.xml", "application/xml"},
	    {"paper.pdf", "application/pdf"},
	    {"font.woff2", "font/woff2"},
	    {"module.wasm", "application/wasm"},
	    {"PHOTO.JPG", "image/jpeg"},
	    {"Index.Html", "text/html; charset=utf-8"},
	    {"site.tar.gz", "application/gzip"},
	    {"README", "application/octet-stream"},
	    {"archive.unknown", "application/octet-stream"},
	    {".htaccess", "application/octet-stream"},
	    {"dir/.hidden", "application/octet-stream"},
	    {"v1.2/README", "application/octet-stream"},
	    {"trailing.", "application/octet-stream"},
	    {"x.htmlhtmlhtmlhtmlhtml", "application/octet-stream"},
	    {"", "application/octet-stream"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		assert_string_equal(hz_kv_content_type(cases[i].key),
				    cases[i].type);
}

/* --- the compiled store --------------------------------------------------- */

static void static_store_matches_fixture(void **state)
{
	static const char *const keys[FIXTURE_FILES] = {
	    ".well-known/security.txt",
	    "README",
	    "UPPER.JSON",
	    "css/site.css",
	    "data.bin",
	    "docs/deep/nested/page.html",
	    "empty.txt",
	    "img/dot.png",
	    "index.html",
	    "tiny.txt",
	};
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	struct hz_kv *kv;
	struct hz_kv_entry e, again;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &kv), 0);
	assert_int_equal(hz_kv_count(kv), FIXTURE_FILES);
	for (size_t i = 0; i < FIXTURE_FILES; i++) {
		char etag[KV_ETAG_MAX];
		const void *p;
		struct stat st;
		size_t n;
		uint8_t *want = disk_file(keys[i], &n, &st);
		uint8_t *got;

		assert_int_equal(hz_kv_entry_at(kv, i, &e), 0);
		assert_string_equal(e.key, keys[i]);
		assert_int_equal(e.index, i);
		assert_int_equal(hz_kv_lookup(kv, keys[i], &again), 0);
		assert_ptr_equal(again.key, e.key);
		assert_int_equal(again.index, i);
		assert_ptr_equal(again.etag, e.etag);
		assert_int_equal(e.size, n);
		if (epoch == NULL)
			assert_int_equal(e.mtime, st.st_mtime);
		assert_string_equal(e.content_type,
				    hz_kv_content_type(keys[i]));
		etag_of(want, n, etag);
		assert_string_equal(e.etag, etag);
		got = read_all(kv, &e, HZ_KV_IDENTITY, n);
		assert_memory_equal(got, want, n);
		assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_IDENTITY, &p), 0);
		assert_memory_equal(p, want, n);
		free(got);
		free(want);
	}
	assert_int_equal(hz_kv_entry_at(kv, FIXTURE_FILES, &e), -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv), "kv fixture: no entry 10 (of 10)");

	/* Types by extension, as crunch recorded them. */
	assert_int_equal(hz_kv_lookup(kv, "index.html", &e), 0);
	assert_string_equal(e.content_type, "text/html; charset=utf-8");
	assert_int_equal(hz_kv_lookup(kv, "img/dot.png", &e), 0);
	assert_string_equal(e.content_type, "image/png");
	assert_int_equal(hz_kv_lookup(kv, "UPPER.JSON", &e), 0);
	assert_string_equal(e.content_type, "application/json");
	assert_int_equal(hz_kv_lookup(kv, "README", &e), 0);
	assert_string_equal(e.content_type, "application/octet-stream");
	hz_kv_free(kv);
}

static void static_gzip_only_when_smaller(void **state)
{
	struct hz_kv *kv;
	struct hz_kv_entry e;
	size_t with = 0;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &kv), 0);
	for (size_t i = 0; i < hz_kv_count(kv); i++) {
		const uint8_t *id, *gz;
		const void *p;
		char etag[KV_ETAG_MAX];

		assert_int_equal(hz_kv_entry_at(kv, i, &e), 0);
		assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_IDENTITY, &p), 0);
		id = p;
		if (!e.has_gzip) {
			assert_int_equal(e.gzip_size, 0);
			assert_null(e.gzip_etag);
			assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_GZIP, &p),
					 -HZ_ENOENT);
			assert_int_equal(
			    hz_kv_read(kv, &e, HZ_KV_GZIP, 0, etag, 1),
			    -HZ_ENOENT);
			continue;
		}
		with++;
		assert_true(e.gzip_size < e.size);
		assert_true(e.gzip_size >= 18);
		assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_GZIP, &p), 0);
		gz = p;
		/* A gzip member of this very content: magic, deflate, and the
		 * trailer's CRC-32 and length. */
		assert_int_equal(gz[0], 0x1f);
		assert_int_equal(gz[1], 0x8b);
		assert_int_equal(gz[2], 8);
		assert_int_equal(le32(gz + e.gzip_size - 8), crc32(id, e.size));
		assert_int_equal(le32(gz + e.gzip_size - 4), e.size);
		etag_of(gz, e.gzip_size, etag);
		assert_string_equal(e.gzip_etag, etag);
		assert_string_not_equal(e.gzip_etag, e.etag);
		check_reads(kv, &e, HZ_KV_GZIP, gz, e.gzip_size);
	}
	/* index.html and css/site.css shrink; the rest would grow. */
	assert_int_equal(with, 2);
	assert_int_equal(hz_kv_lookup(kv, "tiny.txt", &e), 0);
	assert_false(e.has_gzip);
	assert_int_equal(hz_kv_lookup(kv, "img/dot.png", &e), 0);
	assert_false(e.has_gzip);
	assert_int_equal(hz_kv_lookup(kv, "empty.txt", &e), 0);
	assert_false(e.has_gzip);
	assert_int_equal(hz_kv_read(kv, &e, HZ_KV_GZIP, 0, &with, 1),
			 -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv),
			    "kv fixture: 'empty.txt' has no gzip variant");
	hz_kv_free(kv);
}

static void static_reads_at_every_offset(void **state)
{
	struct hz_kv *kv;
	struct hz_kv_entry e;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &kv), 0);
	for (size_t i = 0; i < hz_kv_count(kv); i++) {
		const void *p;

		assert_int_equal(hz_kv_entry_at(kv, i, &e), 0);
		assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_IDENTITY, &p), 0);
		check_reads(kv, &e, HZ_KV_IDENTITY, p, e.size);
	}
	/* Far past the end, and a zero-length read. */
	assert_int_equal(hz_kv_lookup(kv, "data.bin", &e), 0);
	assert_int_equal(
	    hz_kv_read(kv, &e, HZ_KV_IDENTITY, UINT64_MAX, &e.size, 8), 0);
	assert_int_equal(hz_kv_read(kv, &e, HZ_KV_IDENTITY, 0, NULL, 0), 0);
	hz_kv_free(kv);
}

static void static_missing_keys_named(void **state)
{
	static const char *const missing[] = {
	    "nope.html", "index.htm", "index.html/", "/index.html",  "",
	    "css",	 "css/",      "Index.html",  "index.html\n",
	};
	char longkey[400];
	struct hz_kv *kv;
	struct hz_kv_entry e;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &kv), 0);
	for (size_t i = 0; i < sizeof(missing) / sizeof(*missing); i++)
		assert_int_equal(hz_kv_lookup(kv, missing[i], &e), -HZ_ENOENT);
	assert_int_equal(hz_kv_lookup(kv, "nope.html", &e), -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv), "kv fixture: no key 'nope.html'");
	assert_int_equal(hz_kv_lookup(kv, "a\001b", &e), -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv), "kv fixture: no key 'a?b'");
	/* Lookups by length: the bytes after it do not count. */
	assert_int_equal(hz_kv_lookup_n(kv, "index.html?q=1", 10, &e), 0);
	assert_string_equal(e.key, "index.html");
	assert_int_equal(hz_kv_lookup_n(kv, "index.html", 9, &e), -HZ_ENOENT);
	assert_int_equal(hz_kv_lookup_n(kv, "tiny.txt\0x", 10, &e), -HZ_ENOENT);
	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(hz_kv_lookup(kv, longkey, &e), -HZ_ENOENT);
	assert_string_equal(
	    hz_kv_error(kv),
	    "kv fixture: no key 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	hz_kv_free(kv);
}

static void static_open_out_of_memory(void **state)
{
	struct hz_kv *kv = NULL;

	(void)state;
	hz_mem_fail_nth(1);
	assert_int_equal(hz_kv_static_open(&fixture_kv, &kv), -HZ_ENOMEM);
	assert_null(kv);
	hz_mem_fail_nth(0);
}

static void static_empty_image(void **state)
{
	static const struct hz_kv_image empty = {.name = "none"};
	struct hz_kv *kv;
	struct hz_kv_entry e;

	(void)state;
	assert_int_equal(hz_kv_static_open(&empty, &kv), 0);
	assert_int_equal(hz_kv_count(kv), 0);
	assert_int_equal(hz_kv_lookup(kv, "index.html", &e), -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv), "kv none: no key 'index.html'");
	assert_int_equal(hz_kv_entry_at(kv, 0, &e), -HZ_ENOENT);
	hz_kv_free(kv);
}

/* --- the tar store -------------------------------------------------------- */

/*
 * An archive of the fixture's files, from the compiled store, with
 * "KEY.gz" beside each file that has a gzip variant, and a "tiny.txt.gz"
 * larger than tiny.txt.
 */
static void fixture_tar(struct tarb *b, struct hz_kv *st)
{
	static const char big_gz[64] = "not smaller than tiny.txt";
	struct hz_kv_entry e;

	memset(b, 0, sizeof(*b));
	tb_header(b, POSIX, "./", '5', 0, 0);
	for (size_t i = 0; i < hz_kv_count(st); i++) {
		const void *p;
		char name[128];

		assert_int_equal(hz_kv_entry_at(st, i, &e), 0);
		assert_int_equal(hz_kv_bytes(st, &e, HZ_KV_IDENTITY, &p), 0);
		snprintf(name, sizeof(name), "./%s", e.key);
		tb_file(b, name, p, e.size, e.mtime);
		if (!e.has_gzip)
			continue;
		assert_int_equal(hz_kv_bytes(st, &e, HZ_KV_GZIP, &p), 0);
		snprintf(name, sizeof(name), "./%s.gz", e.key);
		tb_file(b, name, p, e.gzip_size, e.mtime);
	}
	tb_file(b, "./tiny.txt.gz", big_gz, sizeof(big_gz), 1);
	tb_end(b);
	tb_pad(b);
}

static void tar_agrees_with_crunch(void **state)
{
	static const uint32_t sectors[] = {512, 1024, 4096};
	struct hz_kv *st, *kv;
	struct hz_errmsg err;
	struct test_src ts;
	struct tarb b;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &st), 0);
	fixture_tar(&b, st);
	/* Each sector size, on the device and then held in memory. */
	for (size_t k = 0; k < 2 * sizeof(sectors) / sizeof(*sectors); k++) {
		size_t s = k / 2;
		bool mem = k % 2 == 1;
		struct hz_kv_tar_params in_memory = {.cache_max = 1u << 30};
		struct hz_kv_entry se, te;
		const void *p, *tp;
		uint64_t reads;
		uint8_t *got;

		if (open_tar(&b, sectors[s], mem ? &in_memory : NULL, &ts, &kv,
			     &err) != 0)
			fail_msg("%s", hz_errmsg_text(&err));
		assert_int_equal(hz_kv_tar_in_memory(kv), mem);
		reads = ts.reads;
		/* The fixture's files, their 2 gzips and tiny.txt.gz. */
		assert_int_equal(hz_kv_count(kv), FIXTURE_FILES + 3);
		for (size_t i = 0; i < hz_kv_count(st); i++) {
			assert_int_equal(hz_kv_entry_at(st, i, &se), 0);
			assert_int_equal(hz_kv_lookup(kv, se.key, &te), 0);
			assert_string_equal(te.key, se.key);
			assert_int_equal(te.size, se.size);
			assert_int_equal(te.mtime, se.mtime);
			assert_string_equal(te.content_type, se.content_type);
			/* Same bytes, same strong ETag, whichever store. */
			assert_string_equal(te.etag, se.etag);
			assert_int_equal(te.has_gzip, se.has_gzip);
			assert_int_equal(te.gzip_size, se.gzip_size);
			if (se.has_gzip)
				assert_string_equal(te.gzip_etag, se.gzip_etag);
			else
				assert_null(te.gzip_etag);
			assert_int_equal(
			    hz_kv_bytes(st, &se, HZ_KV_IDENTITY, &p), 0);
			got = read_all(kv, &te, HZ_KV_IDENTITY, te.size);
			assert_memory_equal(got, p, te.size);
			free(got);
			if (mem) { /* the same bytes, without a copy */
				assert_int_equal(
				    hz_kv_bytes(kv, &te, HZ_KV_IDENTITY, &tp),
				    0);
				assert_memory_equal(tp, p, te.size);
			}
			if (te.has_gzip) {
				assert_int_equal(
				    hz_kv_bytes(st, &se, HZ_KV_GZIP, &p), 0);
				check_reads(kv, &te, HZ_KV_GZIP, p,
					    te.gzip_size);
				if (mem) {
					assert_int_equal(hz_kv_bytes(kv, &te,
								     HZ_KV_GZIP,
								     &tp),
							 0);
					assert_memory_equal(tp, p,
							    te.gzip_size);
				}
			}
		}
		/* Held in memory, the device is not read again. */
		if (mem)
			assert_int_equal(ts.reads, reads);
		/* A ".gz" stays a key of its own. */
		assert_int_equal(hz_kv_lookup(kv, "index.html.gz", &te), 0);
		assert_string_equal(te.content_type, "application/gzip");
		assert_false(te.has_gzip);
		assert_int_equal(hz_kv_lookup(kv, "tiny.txt.gz", &te), 0);
		assert_int_equal(hz_kv_lookup(kv, "tiny.txt", &te), 0);
		assert_false(te.has_gzip);
		/* The bytes are on the device: no zero-copy. */
		if (!mem) {
			assert_int_equal(
			    hz_kv_bytes(kv, &te, HZ_KV_IDENTITY, &p),
			    -HZ_ENOTSUP);
			assert_non_null(
			    strstr(hz_kv_error(kv), "use hz_kv_read"));
		}
		assert_int_equal(hz_kv_lookup(kv, "nope", &te), -HZ_ENOENT);
		assert_string_equal(hz_kv_error(kv), "kv t: no key 'nope'");
		assert_int_equal(hz_kv_entry_at(kv, 13, &te), -HZ_ENOENT);
		/* Listed in key order. */
		for (size_t i = 1; i < hz_kv_count(kv); i++) {
			struct hz_kv_entry prev;

			assert_int_equal(hz_kv_entry_at(kv, i - 1, &prev), 0);
			assert_int_equal(hz_kv_entry_at(kv, i, &te), 0);
			assert_true(strcmp(prev.key, te.key) < 0);
		}
		hz_kv_free(kv);
	}
	tb_free(&b);
	hz_kv_free(st);
}

/* Fills @p with bytes that differ at every offset of a window. */
static void pattern(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static void tar_reads_across_sectors(void **state)
{
	static const uint32_t sectors[] = {512, 4096};
	static const size_t sizes[] = {1, 100, 511, 512, 513, 4095, 4097};
	const size_t big_n = 200 * 1024 + 77;
	uint8_t *big = malloc(big_n), *buf = malloc(big_n + 10);
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct hz_kv_entry e;
	struct tarb b = {0};

	(void)state;
	assert_non_null(big);
	assert_non_null(buf);
	pattern(big, big_n, 7);
	/* Files of odd sizes before the big one put it at no particular
	 * place in its sectors. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%zu", sizes[i]);
		tb_file(&b, name, big + i * 31, sizes[i], 1);
	}
	tb_file(&b, "big", big, big_n, 2);
	tb_end(&b);
	tb_pad(&b);
	for (size_t s = 0; s < sizeof(sectors) / sizeof(*sectors); s++) {
		if (open_tar(&b, sectors[s], NULL, &ts, &kv, &err) != 0)
			fail_msg("%s", hz_errmsg_text(&err));
		for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			char name[16];

			snprintf(name, sizeof(name), "f%zu", sizes[i]);
			assert_int_equal(hz_kv_lookup(kv, name, &e), 0);
			check_reads(kv, &e, HZ_KV_IDENTITY, big + i * 31,
				    sizes[i]);
		}
		assert_int_equal(hz_kv_lookup(kv, "big", &e), 0);
		assert_int_equal(e.size, big_n);
		/* Every offset of the first and last sectors and then some,
		 * with short reads. */
		for (size_t off = 0; off < 9000; off++) {
			size_t n = 1 + off % 700;

			assert_int_equal(
			    hz_kv_read(kv, &e, HZ_KV_IDENTITY, off, buf, n),
			    (ssize_t)n);
			assert_memory_equal(buf, big + off, n);
			assert_int_equal(
			    hz_kv_read(kv, &e, HZ_KV_IDENTITY,
				       big_n - 1 - off % 5000, buf, n),
			    (ssize_t)(n < off % 5000 + 1 ? n : off % 5000 + 1));
			assert_memory_equal(
			    buf, big + big_n - 1 - off % 5000,
			    n < off % 5000 + 1 ? n : off % 5000 + 1);
		}
		/* Long reads, which go to the caller's buffer whole sectors
		 * at a time, from every kind of start. */
		for (size_t off = 0; off < big_n; off += 12289) {
			size_t n = big_n - off;

			memset(buf, 0, big_n);
			assert_int_equal(hz_kv_read(kv, &e, HZ_KV_IDENTITY, off,
						    buf, n + 10),
					 (ssize_t)n);
			assert_memory_equal(buf, big + off, n);
			if (off + 70000 < big_n) {
				assert_int_equal(
				    hz_kv_read(kv, &e, HZ_KV_IDENTITY, off + 3,
					       buf, 70000),
				    70000);
				assert_memory_equal(buf, big + off + 3, 70000);
			}
		}
		hz_kv_free(kv);
	}
	tb_free(&b);
	free(big);
	free(buf);
}

static void tar_weak_etags_read_headers_only(void **state)
{
	const struct hz_kv_tar_params weak = {.flags = HZ_KV_TAR_WEAK_ETAGS};
	const size_t n = 1u << 20;
	uint8_t *data = calloc(1, n);
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct hz_kv_entry e;
	struct tarb b = {0};
	char etag[KV_ETAG_MAX];

	(void)state;
	assert_non_null(data);
	pattern(data, n, 3);
	tb_file(&b, "a.bin", data, n, 1700000000);
	tb_file(&b, "b.txt", "b", 1, -1);
	tb_end(&b);

	assert_int_equal(open_tar(&b, 512, NULL, &ts, &kv, &err), 0);
	/* Strong: every byte was read once, to hash it. */
	assert_true(ts.bytes >= n);
	assert_int_equal(hz_kv_lookup(kv, "a.bin", &e), 0);
	etag_of(data, n, etag);
	assert_string_equal(e.etag, etag);
	hz_kv_free(kv);

	assert_int_equal(open_tar(&b, 512, &weak, &ts, &kv, &err), 0);
	/* Weak: the headers, a window each, not the megabyte. */
	assert_true(ts.bytes < 200 * 1024);
	assert_int_equal(hz_kv_lookup(kv, "a.bin", &e), 0);
	assert_string_equal(e.etag, "W/\"100000-6553f100\"");
	assert_int_equal(hz_kv_lookup(kv, "b.txt", &e), 0);
	assert_int_equal(e.mtime, -1);
	assert_string_equal(e.etag, "W/\"1-ffffffffffffffff\"");
	hz_kv_free(kv);
	tb_free(&b);
	free(data);
}

static void tar_formats(void **state)
{
	char longname[300], records[256];
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct hz_kv_entry e;
	struct tarb b = {0};
	size_t at;
	uint8_t *h;
	uint8_t *got;

	(void)state;
	/* POSIX ustar: a name split into prefix and name. */
	at = tb_header(&b, POSIX, "file.txt", '0', 5, 10);
	memcpy(b.buf + at + 345, "some/long/prefix", 16);
	tb_sum(&b, at);
	tb_data(&b, "posix", 5);
	/* GNU: a long name in an 'L' entry before the file. */
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "gnu/", 4);
	longname[200] = '\0';
	tb_header(&b, GNU, "././@LongLink", 'L', 201, 0);
	tb_data(&b, longname, 201);
	tb_header(&b, GNU, "gnu/nnnnn-cut-short", '0', 3, 11);
	tb_data(&b, "gnu", 3);
	/* pax: path, size and mtime records override the header. */
	tb_pax(&b, 'g', "20 comment=ignored\n");
	records[0] = '\0';
	pax_record(records, sizeof(records), "path", "pax/from-record.js");
	pax_record(records, sizeof(records), "mtime", "1700000000.12345678");
	pax_record(records, sizeof(records), "size", "600");
	pax_record(records, sizeof(records), "uname", "somebody");
	assert_string_equal(records, "27 path=pax/from-record.js\n"
				     "29 mtime=1700000000.12345678\n"
				     "12 size=600\n"
				     "18 uname=somebody\n");
	tb_pax(&b, 'x', records);
	tb_header(&b, POSIX, "pax/in-header", '0', 1, 12);
	h = malloc(600);
	assert_non_null(h);
	pattern(h, 600, 5);
	tb_data(&b, h, 600);
	/* Directories (skipped), "./" (dropped), type '7' (a file). */
	tb_header(&b, POSIX, "./dir/", '5', 0, 13);
	tb_header(&b, POSIX, "./dir/sub", '5', 0, 13);
	at = tb_header(&b, POSIX, "././dir/seven", '7', 2, 14);
	tb_data(&b, "77", 2);
	/* GNU base-256 for a time before 1970, and a header summed with
	 * signed bytes, as old tars did. */
	at = tb_header(&b, GNU, "old\xe9.txt", '0', 1, 0);
	memset(b.buf + at + 136, 0xff, 12);
	b.buf[at + 147] = 0xfe; /* -2 */
	{
		int sum = 0;
		char tmp[8];

		memset(b.buf + at + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += (int8_t)b.buf[at + i];
		snprintf(tmp, sizeof(tmp), "%06o", (unsigned)sum);
		assert_true(sum > 0);
		memcpy(b.buf + at + 148, tmp, 7);
	}
	tb_data(&b, "o", 1);
	tb_end(&b);
	/* After the end: anything, not read. */
	tb_grow(&b, 512);
	memset(b.buf + b.len - 512, 'J', 512);

	if (open_tar(&b, 512, NULL, &ts, &kv, &err) != 0)
		fail_msg("%s", hz_errmsg_text(&err));
	assert_int_equal(hz_kv_count(kv), 5);
	assert_int_equal(hz_kv_lookup(kv, "some/long/prefix/file.txt", &e), 0);
	assert_int_equal(e.mtime, 10);
	got = read_all(kv, &e, HZ_KV_IDENTITY, e.size);
	assert_memory_equal(got, "posix", 5);
	free(got);
	assert_int_equal(hz_kv_lookup(kv, longname, &e), 0);
	assert_int_equal(e.size, 3);
	assert_int_equal(e.mtime, 11);
	assert_int_equal(hz_kv_lookup(kv, "pax/from-record.js", &e), 0);
	assert_int_equal(e.size, 600);
	assert_int_equal(e.mtime, 1700000000);
	assert_string_equal(e.content_type, "text/javascript; charset=utf-8");
	check_reads(kv, &e, HZ_KV_IDENTITY, h, 600);
	assert_int_equal(hz_kv_lookup(kv, "pax/in-header", &e), -HZ_ENOENT);
	assert_int_equal(hz_kv_lookup(kv, "dir/seven", &e), 0);
	assert_int_equal(e.mtime, 14);
	assert_int_equal(hz_kv_lookup(kv, "dir", &e), -HZ_ENOENT);
	assert_int_equal(hz_kv_lookup(kv, "old\xe9.txt", &e), 0);
	assert_int_equal(e.mtime, -2);
	hz_kv_free(kv);
	free(h);
	tb_free(&b);
}

/* A one-file archive whose header the caller then spoils. */
static size_t one_file(struct tarb *b, const char *name)
{
	size_t at;

	memset(b, 0, sizeof(*b));
	tb_file(b, "first.txt", "first", 5, 1);
	at = tb_file(b, name, "data", 4, 1);
	tb_end(b);
	return at;
}

static void tar_refuses_corrupt(void **state)
{
	struct tarb b = {0};
	size_t at;

	(void)state;
	/* Nothing at all, or nothing but a partial block. */
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: the device is empty or shorter than one sector "
		"(512 bytes): no tar archive on it");
	tb_grow(&b, 100);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: the device is empty or shorter than one sector "
		"(512 bytes): no tar archive on it");
	tb_free(&b);

	/* A header's byte changed. */
	at = one_file(&b, "second.txt");
	b.buf[at + 10] ^= 1;
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: bad tar header checksum at offset 1024");
	b.buf[at + 10] ^= 1;
	b.buf[at + 148] = 'x'; /* not octal */
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: bad tar header checksum at offset 1024");
	tb_free(&b);

	/* Truncated: no end block, or cut in a file's data. */
	one_file(&b, "second.txt");
	b.len -= 1024;
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: truncated archive: the device ends with no "
		"end-of-archive block at offset 2048");
	b.len -= 512;
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: entry of 4 bytes runs past the end of the device "
		"(1536 bytes) at offset 1024");
	b.len -= 512;
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: truncated archive: the device ends with no "
		"end-of-archive block at offset 1024");
	tb_free(&b);

	/* Not a tar: gzip, or another format's header. */
	memset(&b, 0, sizeof(b));
	tb_grow(&b, 2048);
	memcpy(b.buf, "\x1f\x8b\x08\x00", 4);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: a gzip-compressed file, not a tar archive (uncompress "
		"it first) at offset 0");
	tb_free(&b);
	at = one_file(&b, "second.txt");
	memcpy(b.buf + at + 257, "ustaR", 5);
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: not a ustar header (bad magic) at offset 1024");
	tb_free(&b);

	/* Sizes: past the device, not octal, base-256 too large or
	 * negative, and pax sizes likewise. */
	at = one_file(&b, "second.txt");
	tb_octal(b.buf + at + 124, 12, 077777777777ull);
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: entry of 8589934591 bytes runs past the end of the "
		"device (3072 bytes) at offset 1024");
	memcpy(b.buf + at + 124, "0000000009\0", 12);
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad size field at offset 1024");
	memset(b.buf + at + 124, 0, 12);
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad size field at offset 1024");
	memset(b.buf + at + 124, 0, 12);
	b.buf[at + 124] = 0x80;
	b.buf[at + 126] = 1; /* 2^72 */
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad size field at offset 1024");
	memset(b.buf + at + 124, 0xff, 12); /* -1 */
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad size field at offset 1024");
	memset(b.buf + at + 124, 0, 12);
	b.buf[at + 124] = 0x80;
	b.buf[at + 135] = 4; /* base-256 4: fine */
	tb_sum(&b, at);
	refused(&b, &(struct hz_kv_tar_params){.max_entries = 1}, -HZ_ENOMEM,
		"kv t: over the limit of 1 files in the archive");
	memcpy(b.buf + at + 136, "0000000000x", 12);
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad mtime field at offset 1024");
	tb_free(&b);

	memset(&b, 0, sizeof(b));
	tb_pax(&b, 'x', "29 size=99999999999999999999\n");
	tb_file(&b, "a", "a", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL, "kv t: bad pax size at offset 0");
	tb_free(&b);
	memset(&b, 0, sizeof(b));
	tb_pax(&b, 'x', "18 size=100000000\n");
	tb_file(&b, "a", "a", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: entry of 100000000 bytes runs past the end of the "
		"device (3072 bytes) at offset 1024");
	tb_free(&b);

	/* Malformed pax records. */
	{
		static const char *const bad[] = {
		    "4 a=b\n",	     /* a length too short for any record */
		    "99 path=a\n",   /* longer than the header */
		    "9 path=a\n\n",  /* a stray byte after a record */
		    "x path=a\n",    /* no length */
		    "11 patha\n\n",  /* no '=' */
		    "9 =abcde\n",    /* no key */
		    "10 path=ab",    /* no newline */
		    "12 mtime=1x\n", /* not a number */
		    "31 GNU.sparse.major=1\n\n\n\n\n\n\n\n\n\n",
		};
		static const char *const why[] = {
		    "bad pax record",
		    "bad pax record",
		    "bad pax record",
		    "bad pax record",
		    "bad pax record",
		    "bad pax record",
		    "bad pax record",
		    "bad pax mtime",
		    "sparse file (not supported)",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			char msg[128];

			memset(&b, 0, sizeof(b));
			tb_pax(&b, 'x', bad[i]);
			tb_file(&b, "a", "a", 1, 1);
			tb_end(&b);
			snprintf(msg, sizeof(msg), "kv t: %s at offset 0",
				 why[i]);
			refused(&b, NULL, -HZ_EINVAL, msg);
			tb_free(&b);
		}
	}

	/* Entries that are not files or directories. */
	{
		static const struct {
			char type;
			const char *msg;
		} types[] = {
		    {'1', "kv t: 'second' is a hard link; only files and "
			  "directories are served (tar -h --hard-dereference "
			  "stores files, not links) at offset 1024"},
		    {'2', "kv t: 'second' is a symbolic link; only files and "
			  "directories are served (tar -h --hard-dereference "
			  "stores files, not links) at offset 1024"},
		    {'3', "kv t: entry of type '3' (not a file) at offset "
			  "1024"},
		    {'6', "kv t: entry of type '6' (not a file) at offset "
			  "1024"},
		    {'S', "kv t: entry of type 'S' (not a file) at offset "
			  "1024"},
		    {1, "kv t: entry of type 0x01 (not a file) at offset "
			"1024"},
		};
		for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
			at = one_file(&b, "second");
			b.buf[at + 156] = (uint8_t)types[i].type;
			tb_sum(&b, at);
			refused(&b, NULL, -HZ_EINVAL, types[i].msg);
			tb_free(&b);
		}
	}

	/* The same name twice. */
	memset(&b, 0, sizeof(b));
	tb_file(&b, "a.txt", "1", 1, 1);
	tb_file(&b, "b.txt", "2", 1, 1);
	tb_file(&b, "./a.txt", "3", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: 'a.txt' is in the archive twice (headers at offsets 0 "
		"and 2048)");
	tb_free(&b);
}

static void tar_refuses_escaping_names(void **state)
{
	static const struct {
		const char *name;
		const char *msg;
	} cases[] = {
	    {"../etc/passwd", "'../etc/passwd' ('..' in path)"},
	    {"a/../../b", "'a/../../b' ('..' in path)"},
	    {"a/..", "'a/..' ('..' in path)"},
	    {"/etc/passwd", "'/etc/passwd' (absolute path)"},
	    {".//x", "'/x' (absolute path)"},
	    {"a//b", "'a//b' (empty path component)"},
	    {"a/./b", "'a/./b' ('.' in path)"},
	    {".", "'.' ('.' in path)"},
	    {"dir/", "'dir/' (empty path component)"},
	    {"a\001b", "'a?b' (control character in name)"},
	    {"tab\there", "'tab?here' (control character in name)"},
	    {"del\177", "'del?' (control character in name)"},
	};
	struct tarb b;
	size_t at;
	char msg[200], records[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		one_file(&b, cases[i].name);
		snprintf(msg, sizeof(msg),
			 "kv t: refused name %s at offset 1024", cases[i].msg);
		refused(&b, NULL, -HZ_EINVAL, msg);
		tb_free(&b);
	}
	/* An empty name, and one with no room for its NUL in the field. */
	at = one_file(&b, "x");
	b.buf[at] = '\0';
	tb_sum(&b, at);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: refused name '' (empty name) at offset 1024");
	tb_free(&b);

	/* The same through a pax path and a GNU long name. */
	memset(&b, 0, sizeof(b));
	records[0] = '\0';
	pax_record(records, sizeof(records), "path", "../escape");
	tb_pax(&b, 'x', records);
	tb_file(&b, "harmless", "a", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: refused name '../escape' ('..' in path) at offset 1024");
	tb_free(&b);
	memset(&b, 0, sizeof(b));
	records[0] = '\0';
	pax_record(records, sizeof(records), "path", "a\001b\n");
	tb_pax(&b, 'x', records);
	tb_file(&b, "harmless", "a", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: refused name 'a?b?' (control character in name) at "
		"offset 1024");
	tb_free(&b);
	memset(&b, 0, sizeof(b));
	tb_header(&b, GNU, "././@LongLink", 'L', 12, 0);
	tb_data(&b, "/etc/shadow", 12);
	tb_header(&b, GNU, "harmless", '0', 1, 1);
	tb_data(&b, "a", 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: refused name '/etc/shadow' (absolute path) at offset "
		"1024");
	tb_free(&b);
	/* A pax path with a NUL in it. */
	memset(&b, 0, sizeof(b));
	tb_header(&b, POSIX, "PaxHeaders/x", 'x', 12, 0);
	tb_data(&b, "12 path=a\0b\n", 12);
	tb_file(&b, "harmless", "a", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: name with a NUL byte at offset 1024");
	tb_free(&b);
}

static void tar_limits(void **state)
{
	char name[300], records[400];
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct tarb b = {0};

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		tb_file(&b, name, "x", 1, 1);
	}
	tb_end(&b);
	assert_int_equal(open_tar(&b, 512,
				  &(struct hz_kv_tar_params){.max_entries = 4},
				  &ts, &kv, &err),
			 0);
	assert_int_equal(hz_kv_count(kv), 4);
	hz_kv_free(kv);
	refused(&b, &(struct hz_kv_tar_params){.max_entries = 3}, -HZ_ENOMEM,
		"kv t: over the limit of 3 files in the archive");
	/* The window alone is 64 KiB: no room for the rest. */
	refused(&b, &(struct hz_kv_tar_params){.max_memory = 64 << 10},
		-HZ_ENOMEM,
		"kv t: the index needs more than its 65536 bytes of memory");
	assert_int_equal(
	    open_tar(&b, 512,
		     &(struct hz_kv_tar_params){.max_memory = 80 << 10}, &ts,
		     &kv, &err),
	    0);
	hz_kv_free(kv);
	tb_free(&b);

	/* Names: 255 bytes is a key, 256 is not. */
	memset(name, 'k', sizeof(name));
	memcpy(name, "d/", 2);
	name[255] = '\0';
	snprintf(records, sizeof(records), "%zu path=%s\n", strlen(name) + 10,
		 name);
	memset(&b, 0, sizeof(b));
	tb_pax(&b, 'x', records);
	tb_file(&b, "x", "x", 1, 1);
	tb_end(&b);
	assert_int_equal(open_tar(&b, 512, NULL, &ts, &kv, &err), 0);
	assert_int_equal(hz_kv_count(kv), 1);
	hz_kv_free(kv);
	tb_free(&b);
	name[255] = 'k';
	name[256] = '\0';
	snprintf(records, sizeof(records), "%zu path=%s\n", strlen(name) + 10,
		 name);
	memset(&b, 0, sizeof(b));
	tb_pax(&b, 'x', records);
	tb_file(&b, "x", "x", 1, 1);
	tb_end(&b);
	assert_int_equal(open_tar(&b, 512, NULL, &ts, &kv, &err), -HZ_EINVAL);
	assert_non_null(strstr(hz_errmsg_text(&err),
			       "(name longer than 255 bytes) at offset 1024"));
	tb_free(&b);

	/* Metadata of more than its limit is not read. */
	memset(&b, 0, sizeof(b));
	tb_header(&b, POSIX, "PaxHeaders/x", 'x', 1u << 20, 0);
	tb_grow(&b, 1u << 20);
	tb_file(&b, "x", "x", 1, 1);
	tb_end(&b);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: pax header of 1048576 bytes (the limit is 16384) at "
		"offset 0");
	b.buf[156] = 'L';
	tb_sum(&b, 0);
	refused(&b, NULL, -HZ_EINVAL,
		"kv t: GNU long name of 1048576 bytes (the limit is 1024) at "
		"offset 0");
	tb_free(&b);

	/* Sectors the store cannot use. */
	memset(&b, 0, sizeof(b));
	tb_file(&b, "x", "x", 1, 1);
	tb_end(&b);
	assert_int_equal(open_tar(&b, 256, NULL, &ts, &kv, &err), -HZ_EINVAL);
	assert_string_equal(hz_errmsg_text(&err),
			    "kv t: sectors of 256 bytes are not supported");
	assert_int_equal(open_tar(&b, 3000, NULL, &ts, &kv, &err), -HZ_EINVAL);
	tb_free(&b);
}

static void tar_open_out_of_memory(void **state)
{
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *st, *kv = NULL;
	struct tarb b;
	int r = -HZ_ENOMEM;
	unsigned n;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &st), 0);
	fixture_tar(&b, st);
	/* Every allocation of the open, failed in turn, fails it cleanly. */
	for (n = 1; r == -HZ_ENOMEM; n++) {
		struct hz_mem_stats before, after;

		hz_mem_stats(&before);
		hz_mem_fail_nth(n);
		r = open_tar(&b, 512, NULL, &ts, &kv, &err);
		hz_mem_fail_nth(0);
		if (r == -HZ_ENOMEM) {
			assert_null(kv);
			assert_non_null(strstr(hz_errmsg_text(&err), "kv t: "));
			hz_mem_stats(&after);
			assert_int_equal(after.live_objects,
					 before.live_objects);
			assert_int_equal(after.free_pages, before.free_pages);
		}
	}
	assert_int_equal(r, 0);
	assert_true(n > 4);
	assert_int_equal(hz_kv_count(kv), FIXTURE_FILES + 3);
	hz_kv_free(kv);
	hz_kv_free(st);
	tb_free(&b);
}

static void tar_read_error_named(void **state)
{
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct hz_kv_entry e;
	struct tarb b = {0};
	uint8_t *data = malloc(200000);
	char buf[16];

	(void)state;
	assert_non_null(data);
	pattern(data, 200000, 1);
	tb_file(&b, "a", data, 200000, 1);
	tb_end(&b);
	assert_int_equal(open_tar(&b, 512, NULL, &ts, &kv, &err), 0);
	assert_int_equal(hz_kv_lookup(kv, "a", &e), 0);
	ts.fail = true;
	assert_int_equal(hz_kv_read(kv, &e, HZ_KV_IDENTITY, 150000, buf, 4),
			 -HZ_EIO);
	assert_string_equal(hz_kv_error(kv),
			    "kv t: reading the device at offset 150016 failed: "
			    "I/O error");
	ts.fail = false;
	assert_int_equal(hz_kv_read(kv, &e, HZ_KV_IDENTITY, 150000, buf, 4), 4);
	assert_memory_equal(buf, data + 150000, 4);
	hz_kv_free(kv);

	/* A device failing at open is refused there. */
	ts.fail = true;
	{
		struct kv_src src;

		kv_src_mem(&src, b.buf, b.len, 512);
		src.read = test_src_read;
		src.mem = &ts;
		assert_int_equal(kv_tar_open_src("t", &src, NULL, &kv, &err),
				 -HZ_EIO);
		assert_string_equal(hz_errmsg_text(&err),
				    "kv t: reading the device at offset 0 "
				    "failed: I/O error");
	}
	tb_free(&b);
	free(data);
}

/*
 * A store that cannot be held in memory stays on its device and opens
 * as before: a device larger than the limit, no memory for the copy, a
 * device failing while it is read (then the scan names the fault).
 */
static void tar_memory_falls_back(void **state)
{
	struct hz_kv_tar_params in_memory = {.cache_max = 1u << 20};
	struct hz_errmsg err;
	struct test_src ts;
	struct hz_kv *kv;
	struct hz_kv_entry e;
	struct tarb b = {0};
	uint8_t *data = malloc(300000), *got;
	const void *p;
	struct kv_src src;
	char etag[KV_ETAG_MAX];

	(void)state;
	assert_non_null(data);
	pattern(data, 300000, 5);
	tb_file(&b, "a", data, 300000, 1);
	tb_end(&b);

	assert_int_equal(open_tar(&b, 512, &in_memory, &ts, &kv, &err), 0);
	assert_true(hz_kv_tar_in_memory(kv));
	assert_int_equal(hz_kv_lookup(kv, "a", &e), 0);
	assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_IDENTITY, &p), 0);
	assert_memory_equal(p, data, 300000);
	hz_kv_free(kv);

	/* One byte over the limit: on the device. */
	in_memory.cache_max = b.len - 1;
	assert_int_equal(open_tar(&b, 512, &in_memory, &ts, &kv, &err), 0);
	assert_false(hz_kv_tar_in_memory(kv));
	assert_int_equal(hz_kv_lookup(kv, "a", &e), 0);
	assert_int_equal(hz_kv_bytes(kv, &e, HZ_KV_IDENTITY, &p), -HZ_ENOTSUP);
	hz_kv_free(kv);

	/* No memory for the copy (the open's second allocation). */
	in_memory.cache_max = 1u << 20;
	hz_mem_fail_nth(2);
	assert_int_equal(open_tar(&b, 512, &in_memory, &ts, &kv, &err), 0);
	hz_mem_fail_nth(0);
	assert_false(hz_kv_tar_in_memory(kv));
	check_reads(kv, &e, HZ_KV_IDENTITY, data, 300000);
	hz_kv_free(kv);

	/* The copy's second read fails (the device is 1.5 MiB, read
	 * 1 MiB at a time): the copy is dropped and the store, on its
	 * device again, reads everything right. */
	{
		size_t big_n = 3u << 19;
		uint8_t *big = malloc(big_n);
		struct tarb bb = {0};

		assert_non_null(big);
		pattern(big, big_n, 9);
		tb_file(&bb, "big", big, big_n, 1);
		tb_end(&bb);
		in_memory.cache_max = 4u << 20;
		memset(&ts, 0, sizeof(ts));
		ts.data = bb.buf;
		ts.fail_read = 2;
		kv_src_mem(&src, bb.buf, bb.len, 512);
		src.read = test_src_read;
		src.mem = &ts;
		assert_int_equal(
		    kv_tar_open_src("t", &src, &in_memory, &kv, &err), 0);
		assert_false(hz_kv_tar_in_memory(kv));
		assert_int_equal(hz_kv_lookup(kv, "big", &e), 0);
		etag_of(big, big_n, etag);
		assert_string_equal(e.etag, etag);
		got = read_all(kv, &e, HZ_KV_IDENTITY, big_n);
		assert_memory_equal(got, big, big_n);
		free(got);
		hz_kv_free(kv);
		tb_free(&bb);
		free(big);
	}

	/* A failing device: refused with the message an open on the
	 * device gives. */
	memset(&ts, 0, sizeof(ts));
	ts.data = b.buf;
	ts.fail = true;
	kv_src_mem(&src, b.buf, b.len, 512);
	src.read = test_src_read;
	src.mem = &ts;
	assert_int_equal(kv_tar_open_src("t", &src, &in_memory, &kv, &err),
			 -HZ_EIO);
	assert_string_equal(hz_errmsg_text(&err),
			    "kv t: reading the device at offset 0 failed: "
			    "I/O error");
	tb_free(&b);
	free(data);
}

/* The tar store over the unix target's block device: a file. */
static void tar_on_block_device(void **state)
{
	struct hz_errmsg err = {0};
	struct hz_kv *st, *kv = NULL;
	struct hz_kv_entry se, te;
	char path[] = "/tmp/haze-test-kv.XXXXXX";
	struct tarb b;
	int fd;

	(void)state;
	assert_int_equal(hz_kv_static_open(&fixture_kv, &st), 0);
	fixture_tar(&b, st);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.buf, b.len), (ssize_t)b.len);
	close(fd);
	hz_unix_unbind_all();
	if (hz_unix_bind_file("site", path, &err) != 0)
		fail_msg("bind: %s", hz_errmsg_text(&err));
	if (hz_kv_tar_open("site", NULL, &kv, &err) != 0)
		fail_msg("%s", hz_errmsg_text(&err));
	assert_int_equal(hz_kv_count(kv), FIXTURE_FILES + 3);
	for (size_t i = 0; i < hz_kv_count(st); i++) {
		const void *p;

		assert_int_equal(hz_kv_entry_at(st, i, &se), 0);
		assert_int_equal(hz_kv_lookup(kv, se.key, &te), 0);
		assert_string_equal(te.etag, se.etag);
		assert_int_equal(hz_kv_bytes(st, &se, HZ_KV_IDENTITY, &p), 0);
		check_reads(kv, &te, HZ_KV_IDENTITY, p, se.size);
	}
	assert_int_equal(hz_kv_lookup(kv, "nope.html", &te), -HZ_ENOENT);
	assert_string_equal(hz_kv_error(kv), "kv site: no key 'nope.html'");
	hz_kv_free(kv);

	kv = NULL;
	assert_int_equal(hz_kv_tar_open("other", NULL, &kv, &err), -HZ_ENOENT);
	assert_null(kv);
	assert_string_equal(hz_errmsg_text(&err),
			    "kv other: no block device 'other' is bound "
			    "(declare it in the manifest and bind it: --block "
			    "other=FILE)");
	hz_unix_unbind_all();

	/* A corrupt file is refused, naming the device. */
	b.buf[512 + 20] ^= 0x40;
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.buf, b.len), (ssize_t)b.len);
	close(fd);
	assert_int_equal(hz_unix_bind_file("site", path, &err), 0);
	assert_int_equal(hz_kv_tar_open("site", NULL, &kv, &err), -HZ_EINVAL);
	assert_null(kv);
	assert_string_equal(hz_errmsg_text(&err),
			    "kv site: bad tar header checksum at offset 512");
	hz_unix_unbind_all();
	unlink(path);
	tb_free(&b);
	hz_kv_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(content_type_by_extension),
	    HARNESS_TEST(static_store_matches_fixture),
	    HARNESS_TEST(static_gzip_only_when_smaller),
	    HARNESS_TEST(static_reads_at_every_offset),
	    HARNESS_TEST(static_missing_keys_named),
	    HARNESS_TEST(static_open_out_of_memory),
	    HARNESS_TEST(static_empty_image),
	    HARNESS_TEST(tar_agrees_with_crunch),
	    HARNESS_TEST(tar_reads_across_sectors),
	    HARNESS_TEST(tar_weak_etags_read_headers_only),
	    HARNESS_TEST(tar_formats),
	    HARNESS_TEST(tar_refuses_corrupt),
	    HARNESS_TEST(tar_refuses_escaping_names),
	    HARNESS_TEST(tar_limits),
	    HARNESS_TEST(tar_open_out_of_memory),
	    HARNESS_TEST(tar_read_error_named),
	    HARNESS_TEST(tar_memory_falls_back),
	    HARNESS_TEST(tar_on_block_device),
	};

	return HARNESS_RUN("kv", tests);
}
