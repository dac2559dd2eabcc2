/* Manifest look-up and validation of manifests read from images. */
#include <string.h>

#include "haze/manifest.h"

int hz_manifest_find(const struct hz_manifest *m, enum hz_device_kind kind,
		     const char *name)
{
	for (uint32_t i = 0; i < m->count && i < HZ_MANIFEST_MAX; i++)
		if (m->entries[i].kind == (uint32_t)kind &&
		    strncmp(m->entries[i].name, name, HZ_DEVICE_NAME_MAX) == 0)
			return (int)i;
	return -HZ_ENOENT;
}

/* What a device name is made of: none of the characters that bindings
 * (--net NAME=..., --block NAME=PATH) use to separate their parts. */
#define NAME_CHARS                                                       \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" \
	"-_."

int hz_manifest_validate(const struct hz_manifest *m, const char **why)
{
	*why = NULL;
	if (m->note_namesz != sizeof(HZ_NOTE_OWNER) ||
	    memcmp(m->note_name, HZ_NOTE_OWNER, sizeof(HZ_NOTE_OWNER)) != 0 ||
	    m->note_type != HZ_NOTE_MANIFEST)
		*why = "not a Haze manifest note";
	else if (m->note_descsz != HZ_MANIFEST_DESC_SIZE)
		*why = "manifest note has the wrong size";
	else if (m->version != HZ_MANIFEST_VERSION)
		*why = "unsupported manifest version";
	else if (m->count > HZ_MANIFEST_MAX)
		*why = "too many devices in manifest";
	for (uint32_t i = 0; *why == NULL && i < m->count; i++) {
		const struct hz_manifest_entry *e = &m->entries[i];

		if (e->kind != HZ_DEVICE_KIND_NET &&
		    e->kind != HZ_DEVICE_KIND_BLOCK)
			*why = "manifest device of unknown kind";
		else if ((e->flags & ~HZ_DEVICE_OPTIONAL) != 0)
			*why = "manifest device with unknown flags";
		else if (memchr(e->name, '\0', HZ_DEVICE_NAME_MAX) == NULL ||
			 e->name[0] == '\0')
			*why = "manifest device name empty or unterminated";
		else if (e->name[strspn(e->name, NAME_CHARS)] != '\0')
			*why = "manifest device name with a character other "
			       "than a letter, a digit, '-', '_' or '.'";
		for (uint32_t j = 0; *why == NULL && j < i; j++)
			if (strcmp(m->entries[j].name, e->name) == 0)
				*why = "duplicate device name in manifest";
	}
	return *why == NULL ? 0 : -HZ_EINVAL;
}
