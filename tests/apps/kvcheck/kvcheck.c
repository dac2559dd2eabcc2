/*
 * kvcheck: a unikernel with both KV stores, for tests/kv/apps.sh. Its
 * site/ directory is crunched in by the make convention (mk/kv.mk), and
 * an optional block device "site" holds a tar archive.
 *
 *   kvcheck list             the compiled store
 *   kvcheck tar [weak]       the tar store on device "site"
 *
 * Prints one line per entry, "KEY SIZE MTIME TYPE ETAG GZIP SHA256" with
 * tabs between: GZIP is "-" or "SIZE:ETAG", SHA256 that of the bytes read
 * back through hz_kv_read in pieces of 1000 (for the compiled store, also
 * compared with hz_kv_bytes). Then "kvcheck: N entries". A store that
 * does not open prints its one-line message and exits 1.
 */
#include <bearssl.h>
#include <string.h>

#include <haze/haze.h>
#include <haze/kv.h>

#include "site_kv.h"

HZ_MANIFEST({.kind = HZ_DEVICE_KIND_BLOCK,
	     .flags = HZ_DEVICE_OPTIONAL,
	     .name = "site"});

#define PIECE 1000

/* Reads @e whole; writes the hex SHA-256 of its bytes into @hex. */
static int digest(struct hz_kv *kv, const struct hz_kv_entry *e, char *hex)
{
	static uint8_t buf[PIECE];
	br_sha256_context h;
	uint8_t hash[32];
	uint64_t off = 0;
	const void *p;

	br_sha256_init(&h);
	for (;;) {
		ssize_t n = hz_kv_read(kv, e, HZ_KV_IDENTITY, off, buf, PIECE);

		if (n < 0) {
			hz_printf("kvcheck: %s\n", hz_kv_error(kv));
			return (int)n;
		}
		if (n == 0)
			break;
		if (hz_kv_bytes(kv, e, HZ_KV_IDENTITY, &p) == 0 &&
		    memcmp((const uint8_t *)p + off, buf, (size_t)n) != 0) {
			hz_printf("kvcheck: %s: read and bytes differ\n",
				  e->key);
			return -HZ_EIO;
		}
		br_sha256_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (off != e->size) {
		hz_printf("kvcheck: %s: read %llu of %llu bytes\n", e->key,
			  (unsigned long long)off, (unsigned long long)e->size);
		return -HZ_EIO;
	}
	br_sha256_out(&h, hash);
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = "0123456789abcdef"[hash[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[hash[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}

static int list(struct hz_kv *kv)
{
	char hex[65], gz[64];
	struct hz_kv_entry e;
	int r;

	for (size_t i = 0; i < hz_kv_count(kv); i++) {
		r = hz_kv_entry_at(kv, i, &e);
		if (r == 0)
			r = digest(kv, &e, hex);
		if (r < 0)
			return 1;
		if (e.has_gzip)
			snprintf(gz, sizeof(gz), "%llu:%s",
				 (unsigned long long)e.gzip_size, e.gzip_etag);
		else
			snprintf(gz, sizeof(gz), "-");
		hz_printf("%s\t%llu\t%lld\t%s\t%s\t%s\t%s\n", e.key,
			  (unsigned long long)e.size, (long long)e.mtime,
			  e.content_type, e.etag, gz, hex);
	}
	hz_printf("kvcheck: %zu entries\n", hz_kv_count(kv));
	return 0;
}

int hz_main(int argc, char **argv)
{
	struct hz_kv_tar_params p = {0};
	struct hz_errmsg err = {0};
	struct hz_kv *kv;
	int r;

	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		r = hz_kv_static_open(&site_kv, &kv);
	} else if (argc >= 2 && strcmp(argv[1], "tar") == 0) {
		if (argc >= 3 && strcmp(argv[2], "weak") == 0)
			p.flags = HZ_KV_TAR_WEAK_ETAGS;
		r = hz_kv_tar_open("site", &p, &kv, &err);
		if (r < 0) {
			hz_printf("%s\n", hz_errmsg_text(&err));
			return 1;
		}
	} else {
		hz_printf("usage: kvcheck list | tar [weak]\n");
		return 2;
	}
	if (r < 0)
		return r;
	r = list(kv);
	hz_kv_free(kv);
	return r;
}
