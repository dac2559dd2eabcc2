/*
 * AddressSanitizer hooks for Haze's own allocators and fibers. In a build
 * without ASan they compile to nothing; with it, freed heap memory is
 * poisoned and fiber switches are announced, so the unit tests catch
 * use-after-free inside Haze's heap and do not trip on fiber stacks.
 */
#ifndef HAZE_CORE_ASAN_H
#define HAZE_CORE_ASAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define HZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HZ_ASAN 1
#endif
#endif

#ifdef HZ_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define hz_asan_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define hz_asan_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define hz_asan_poison(p, n) ((void)(p), (void)(n))
#define hz_asan_unpoison(p, n) ((void)(p), (void)(n))
#endif

#endif
