/*
 * The binding rule of the virtio target (bind.h, docs/virtio.md): the
 * devices a transport found, in registration order, go to the names
 * haze-qemu lists in `haze.block=` / `haze.net=` (the order in which it
 * attached them), or, without the list (another hypervisor), to the
 * manifest's devices of that kind in manifest order.
 */
#include <stdio.h>
#include <string.h>

#include "bind.h"

/* The word for @kind in messages. */
static const char *kind_name(uint32_t kind)
{
	return kind == HZ_DEVICE_KIND_NET ? "net" : "block";
}

int hz_virtio_manifest_find(const struct hz_manifest *m, uint32_t kind,
			    const char *name, size_t len)
{
	for (uint32_t i = 0; i < m->count && i < HZ_MANIFEST_MAX; i++) {
		const struct hz_manifest_entry *e = &m->entries[i];

		if (e->kind == kind &&
		    strnlen(e->name, HZ_DEVICE_NAME_MAX) == len &&
		    memcmp(e->name, name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* Binds the names of list @names; 0 or -HZ_EINVAL with @why. */
static int bind_names(const struct hz_manifest *m, uint32_t kind,
		      const char *names, unsigned found,
		      int bound[HZ_MANIFEST_MAX], char *why, size_t why_len)
{
	bool named[HZ_MANIFEST_MAX] = {false};
	const char *p = names, *opt = kind_name(kind);

	for (unsigned j = 0; *p != '\0'; j++) {
		size_t len = strcspn(p, ",");
		bool printable = true;
		int i;

		/* The reasons below quote the name: one line, readable. */
		for (size_t k = 0; k < len; k++)
			printable &= p[k] > ' ' && p[k] < 0x7f;
		if (len == 0 || len >= HZ_DEVICE_NAME_MAX || !printable) {
			snprintf(why, why_len,
				 "haze.%s=: names of 1 to %d printable "
				 "characters, comma-separated, expected",
				 opt, HZ_DEVICE_NAME_MAX - 1);
			return -HZ_EINVAL;
		}
		i = hz_virtio_manifest_find(m, kind, p, len);
		if (i < 0 || named[i]) {
			snprintf(why, why_len, "haze.%s= names '%.*s' %s", opt,
				 (int)len, p,
				 i < 0 ? "which is no device of the manifest"
				       : "twice");
			return -HZ_EINVAL;
		}
		named[i] = true;
		if (j < found)
			bound[i] = (int)j;
		p += len;
		if (*p == ',' && *++p == '\0') {
			snprintf(why, why_len,
				 "haze.%s=: a name after the "
				 "last comma expected",
				 opt);
			return -HZ_EINVAL;
		}
	}
	return 0;
}

int hz_virtio_bind(const struct hz_manifest *m, uint32_t kind,
		   const char *names, unsigned found,
		   int bound[HZ_MANIFEST_MAX], char *why, size_t why_len)
{
	uint32_t count =
	    m->count < HZ_MANIFEST_MAX ? m->count : HZ_MANIFEST_MAX;
	unsigned next = 0;

	for (uint32_t i = 0; i < HZ_MANIFEST_MAX; i++)
		bound[i] = -1;
	if (names != NULL) {
		int r = bind_names(m, kind, names, found, bound, why, why_len);
		if (r < 0)
			return r;
	} else {
		for (uint32_t i = 0; i < count; i++)
			if (m->entries[i].kind == kind && next < found)
				bound[i] = (int)next++;
	}
	for (uint32_t i = 0; i < count; i++) {
		const struct hz_manifest_entry *e = &m->entries[i];

		if (e->kind != kind || bound[i] >= 0 ||
		    (e->flags & HZ_DEVICE_OPTIONAL))
			continue;
		snprintf(why, why_len,
			 "%s device '%.*s' is not bound: no virtio-%s device "
			 "for it",
			 kind_name(kind), HZ_DEVICE_NAME_MAX, e->name,
			 kind == HZ_DEVICE_KIND_NET ? "net" : "blk");
		return -HZ_EINVAL;
	}
	return 0;
}

bool hz_virtio_names_set(struct hz_virtio_names *n, const char *value)
{
	size_t len = strlen(value);

	if (len >= sizeof(n->names))
		return false;
	memcpy(n->names, value, len + 1);
	n->given = true;
	return true;
}
