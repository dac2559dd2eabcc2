/*
 * The empty manifest of an application that declares no devices. It sits
 * alone in its object so the linker pulls it from libhaze.a only when the
 * application defines no hz_manifest of its own.
 */
#include "haze/manifest.h"

__attribute__((section(HZ_MANIFEST_SECTION), used, aligned(4)))
const struct hz_manifest hz_manifest = {
    .note_namesz = sizeof(HZ_NOTE_OWNER),
    .note_descsz = HZ_MANIFEST_DESC_SIZE,
    .note_type = HZ_NOTE_MANIFEST,
    .note_name = HZ_NOTE_OWNER,
    .version = HZ_MANIFEST_VERSION,
    .count = 0,
};
