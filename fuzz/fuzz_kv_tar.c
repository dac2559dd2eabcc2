/*
 * libFuzzer harness for the tar KV store's index parser (src/kv/kv_tar.c):
 * the input is the archive, on sectors of 512 bytes with strong ETags,
 * on sectors of 4 KiB with weak ones, and held in memory (which must
 * give the first open's verdict, and hz_kv_bytes the bytes read). A
 * refusal must be named ("kv fuzz: ..."); an archive that opens must
 * hold only keys as kv.h defines them, each found again by lookup,
 * whose bytes, read back in odd pieces, are the input's bytes where the
 * index says the entry lies, whose strong ETag is their hash, and whose
 * gzip variant is the smaller "KEY.gz". Nothing may crash or leak.
 */
#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_heap.h"
#include "haze/kv.h"
#include "haze/mem.h"
#include "kv/kv_int.h"

#define FUZZ_HEAP (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_HEAP_INITIALIZE(FUZZ_HEAP)

/* Reads entry @e in pieces of 1, 2, 3... bytes; checks them against @want. */
static void check_bytes(struct hz_kv *kv, const struct hz_kv_entry *e,
			enum hz_kv_coding coding, const uint8_t *want,
			uint64_t size)
{
	uint8_t buf[700];
	uint64_t off = 0;
	size_t piece = 1;

	while (off < size) {
		ssize_t n = hz_kv_read(kv, e, coding, off, buf, piece);

		if (n <= 0 || (uint64_t)n > size - off ||
		    ((uint64_t)n < piece && off + (uint64_t)n != size) ||
		    memcmp(buf, want + off, (size_t)n) != 0)
			abort();
		off += (uint64_t)n;
		piece = piece % sizeof(buf) + 1 + piece / 3;
		if (piece > sizeof(buf))
			piece = sizeof(buf);
	}
	if (hz_kv_read(kv, e, coding, size, buf, 1) != 0)
		abort();
	if (hz_kv_tar_in_memory(kv)) { /* the same bytes, without a copy */
		const void *p;

		if (hz_kv_bytes(kv, e, coding, &p) != 0 ||
		    memcmp(p, want, (size_t)size) != 0)
			abort();
	}
}

/* The checks of an archive that opened. */
static void check_store(struct hz_kv *kv, const uint8_t *data, size_t size,
			bool weak)
{
	for (size_t i = 0; i < hz_kv_count(kv); i++) {
		struct hz_kv_entry e, again, gz;
		char etag[KV_ETAG_MAX], gzkey[HZ_KV_KEY_MAX + 4];
		uint64_t at;
		size_t len;

		if (hz_kv_entry_at(kv, i, &e) != 0)
			abort();
		len = strlen(e.key);
		if (kv_key_check(e.key, len) != NULL)
			abort();
		if (hz_kv_lookup(kv, e.key, &again) != 0 || again.index != i)
			abort();
		if (i > 0) {
			struct hz_kv_entry prev;

			if (hz_kv_entry_at(kv, i - 1, &prev) != 0 ||
			    strcmp(prev.key, e.key) >= 0)
				abort();
		}
		at = kv_tar_data_offset(kv, i);
		if (at > size || e.size > size - at)
			abort();
		check_bytes(kv, &e, HZ_KV_IDENTITY, data + at, e.size);
		if (weak) {
			kv_etag_weak(etag, e.size, e.mtime);
		} else {
			br_sha256_context h;
			uint8_t hash[32];

			br_sha256_init(&h);
			br_sha256_update(&h, data + at, (size_t)e.size);
			br_sha256_out(&h, hash);
			kv_etag_strong(etag, hash);
		}
		if (strcmp(etag, e.etag) != 0)
			abort();
		memcpy(gzkey, e.key, len);
		memcpy(gzkey + len, ".gz", 4);
		if (hz_kv_lookup(kv, gzkey, &gz) == 0 && gz.size < e.size) {
			if (!e.has_gzip || e.gzip_size != gz.size ||
			    strcmp(e.gzip_etag, gz.etag) != 0)
				abort();
			at = kv_tar_data_offset(kv, gz.index);
			check_bytes(kv, &e, HZ_KV_GZIP, data + at, gz.size);
		} else if (e.has_gzip) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hz_kv_tar_params weak = {.flags =
							 HZ_KV_TAR_WEAK_ETAGS};
	static const struct hz_kv_tar_params in_memory = {.cache_max =
							      FUZZ_HEAP / 8};
	static const struct hz_kv_tar_params *const params[] = {NULL, &weak,
								&in_memory};
	struct hz_errmsg first = {0};
	struct hz_mem_stats st;

	for (int round = 0; round < 3; round++) {
		struct hz_errmsg err = {0};
		struct hz_kv *kv = NULL;
		struct kv_src src;
		int r;

		kv_src_mem(&src, data, size, round == 1 ? 4096 : 512);
		r = kv_tar_open_src("fuzz", &src, params[round], &kv, &err);
		if (r == 0) {
			check_store(kv, data, size, round == 1);
			hz_kv_free(kv);
		} else if ((r != -HZ_EINVAL && r != -HZ_ENOMEM) ||
			   err.code != r || kv != NULL ||
			   strncmp(err.text, "kv fuzz: ", 9) != 0) {
			abort();
		}
		if (round == 0)
			first = err;
		/* Held in memory or not, the same verdict. */
		if (round == 2 && (err.code != first.code ||
				   strcmp(err.text, first.text) != 0))
			abort();
	}
	hz_mem_stats(&st);
	if (st.live_objects != 0)
		abort();
	return 0;
}
