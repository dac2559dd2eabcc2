/*
 * The device manifest: which devices an application uses, by name.
 *
 * An application declares its devices once:
 *
 *     HZ_MANIFEST(HZ_DEVICE_NET("service"), HZ_DEVICE_BLOCK("storage"));
 *
 * The manifest is an ELF note (owner "HAZE", type HZ_NOTE_MANIFEST) in the
 * image, so a tender reads it without running the guest, and the unix
 * target reads the same structure as a symbol. The command line binds host
 * resources to these names; a device left unbound (unless declared
 * optional), or a binding naming no device, is refused before the
 * application starts. An application that
 * declares nothing gets the runtime's empty manifest.
 */
#ifndef HAZE_MANIFEST_H
#define HAZE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "haze/platform.h"

#define HZ_MANIFEST_VERSION 1
#define HZ_MANIFEST_MAX 16
#define HZ_NOTE_MANIFEST 0x485a4d31u /* "HZM1" */
#define HZ_NOTE_OWNER "HAZE"
#define HZ_MANIFEST_SECTION ".note.haze.manifest"

enum hz_device_kind {
	HZ_DEVICE_NONE = 0,
	HZ_DEVICE_KIND_NET = 1,
	HZ_DEVICE_KIND_BLOCK = 2,
};

/* Entry flags. */
#define HZ_DEVICE_OPTIONAL 1u /* the application runs without it if unbound */

struct hz_manifest_entry {
	uint32_t kind;		       /* enum hz_device_kind */
	uint32_t flags;		       /* HZ_DEVICE_OPTIONAL or 0 */
	char name[HZ_DEVICE_NAME_MAX]; /* NUL-terminated */
};

/* An ELF note: header, owner name padded to 8, then the descriptor. */
struct hz_manifest {
	uint32_t note_namesz;
	uint32_t note_descsz;
	uint32_t note_type;
	char note_name[8];
	/* descriptor */
	uint32_t version;
	uint32_t count;
	struct hz_manifest_entry entries[HZ_MANIFEST_MAX];
};

#define HZ_MANIFEST_DESC_SIZE \
	(sizeof(struct hz_manifest) - offsetof(struct hz_manifest, version))

/* clang-format off */
/*
 * 0 where @n, a string literal, is a device name of 1 to
 * HZ_DEVICE_NAME_MAX - 1 characters; otherwise the build fails, naming
 * the rule ("negative width in bit-field 'device_name_...'"). Its
 * characters are checked where the image starts (hz_manifest_validate).
 */
#define HZ_DEVICE_NAME_CHECK(n) \
	((uint32_t)(0 * sizeof(struct { \
		int device_name_needs_1_to_31_characters : \
		    sizeof(n) > 1 && sizeof(n) <= HZ_DEVICE_NAME_MAX ? 1 : -1; \
	})))
/* One net device entry for HZ_MANIFEST. */
#define HZ_DEVICE_NET(n) \
	{.kind = HZ_DEVICE_KIND_NET, .flags = HZ_DEVICE_NAME_CHECK(n), \
	 .name = n}
/* One block device entry for HZ_MANIFEST. */
#define HZ_DEVICE_BLOCK(n) \
	{.kind = HZ_DEVICE_KIND_BLOCK, .flags = HZ_DEVICE_NAME_CHECK(n), \
	 .name = n}
/* A net device the application can run without (hz_platform_net_acquire
 * then gives -HZ_ENOENT). */
#define HZ_DEVICE_NET_OPTIONAL(n) \
	{.kind = HZ_DEVICE_KIND_NET, \
	 .flags = HZ_DEVICE_OPTIONAL | HZ_DEVICE_NAME_CHECK(n), .name = n}
/* A block device the application can run without (hz_platform_block_acquire
 * then gives -HZ_ENOENT). */
#define HZ_DEVICE_BLOCK_OPTIONAL(n) \
	{.kind = HZ_DEVICE_KIND_BLOCK, \
	 .flags = HZ_DEVICE_OPTIONAL | HZ_DEVICE_NAME_CHECK(n), .name = n}
/* clang-format on */

/* Declares the application's devices (at most HZ_MANIFEST_MAX). */
#define HZ_MANIFEST(...)                                                   \
	_Static_assert(sizeof((struct hz_manifest_entry[]){__VA_ARGS__}) / \
			       sizeof(struct hz_manifest_entry) <=         \
			   HZ_MANIFEST_MAX,                                \
		       "too many devices in HZ_MANIFEST");                 \
	__attribute__((section(HZ_MANIFEST_SECTION), used, aligned(4)))    \
	const struct hz_manifest hz_manifest = {                           \
	    .note_namesz = sizeof(HZ_NOTE_OWNER),                          \
	    .note_descsz = HZ_MANIFEST_DESC_SIZE,                          \
	    .note_type = HZ_NOTE_MANIFEST,                                 \
	    .note_name = HZ_NOTE_OWNER,                                    \
	    .version = HZ_MANIFEST_VERSION,                                \
	    .count = sizeof((struct hz_manifest_entry[]){__VA_ARGS__}) /   \
		     sizeof(struct hz_manifest_entry),                     \
	    .entries = {__VA_ARGS__},                                      \
	}

/* The application's manifest (or the runtime's empty default). */
extern const struct hz_manifest hz_manifest;

/* Returns the index of device @name of @kind in @m, or -HZ_ENOENT. */
HZ_MUST_CHECK
int hz_manifest_find(const struct hz_manifest *m, enum hz_device_kind kind,
		     const char *name);

/*
 * Checks a manifest read from an untrusted image: version, count, kinds,
 * NUL-terminated unique names. 0 or -HZ_EINVAL with a reason in @why.
 */
HZ_MUST_CHECK
int hz_manifest_validate(const struct hz_manifest *m, const char **why);

#endif
