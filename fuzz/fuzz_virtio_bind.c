/*
 * libFuzzer harness for the virtio target's binding rule (platform/virtio/
 * bind.c): a manifest, a count of devices found and a `haze.block=` or
 * `haze.net=` list, all from the input. The rule either refuses with a
 * one-line reason or binds: then each device found goes to at most one
 * manifest entry, of the kind asked for, and every required entry of that
 * kind has one.
 *
 * Input: kind (bit 0: net, else block), devices found (mod 17), list
 * given (bit 0), entry count (mod 17), then per entry its kind, flags and
 * name (a byte choosing one of a few names, so that the list can name
 * them); the rest is the list.
 */
#include <stdlib.h>
#include <string.h>

#include "platform/virtio/bind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const words[] = {
    "disk", "net0", "a", "b", "service", "0123456789012345678901234567890"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hz_manifest m;
	static char list[4096];
	int bound[HZ_MANIFEST_MAX];
	bool taken[HZ_MANIFEST_MAX] = {false};
	char why[160];
	uint32_t kind;
	unsigned found;
	bool given;
	size_t at = 4;

	if (size < 4)
		return 0;
	kind = data[0] & 1 ? HZ_DEVICE_KIND_NET : HZ_DEVICE_KIND_BLOCK;
	found = data[1] % 17u;
	given = data[2] & 1;
	memset(&m, 0, sizeof(m));
	m.count = data[3] % 17u;
	for (uint32_t i = 0; i < m.count; i++, at += 3) {
		if (at + 3 > size)
			return 0;
		m.entries[i].kind = data[at] % 3u;
		m.entries[i].flags = data[at + 1] & 1;
		const char *w =
		    words[data[at + 2] % (sizeof(words) / sizeof(*words))];
		memcpy(m.entries[i].name, w, strlen(w) + 1);
	}
	size -= at;
	if (size >= sizeof(list))
		size = sizeof(list) - 1;
	memcpy(list, data + at, size);
	list[size] = '\0';
	why[0] = '\0';
	if (hz_virtio_bind(&m, kind, given ? list : NULL, found, bound, why,
			   sizeof(why)) < 0) {
		if (why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		return 0;
	}
	for (uint32_t i = 0; i < HZ_MANIFEST_MAX; i++) {
		const struct hz_manifest_entry *e = &m.entries[i];

		if (bound[i] < 0) {
			if (i < m.count && e->kind == kind &&
			    !(e->flags & HZ_DEVICE_OPTIONAL))
				abort(); /* a required one left unbound */
			continue;
		}
		if (i >= m.count || e->kind != kind ||
		    (unsigned)bound[i] >= found || taken[bound[i]])
			abort();
		taken[bound[i]] = true;
	}
	return 0;
}
