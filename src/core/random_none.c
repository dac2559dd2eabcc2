/*
 * The random source of an image that declares none (haze/random.h). It
 * sits alone in its object so the linker pulls it from the core's archive
 * only when the application has no HZ_RANDOM_SOURCE of its own, as
 * manifest_default.c does for the manifest.
 */
#include "haze/random.h"

struct hz_random *const hz_random_source = NULL;
