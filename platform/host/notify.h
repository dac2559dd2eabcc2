/*
 * Readiness and timing notices for whatever started a unikernel: with
 * --notify FD, the unix target and haze-kvm write one line "EVENT NS\n"
 * per event (start, guest, main, ready) on FD, an inherited descriptor,
 * NS being the host's CLOCK_MONOTONIC in nanoseconds when it happened. A
 * daemon that boots unikernels on demand learns from it when to pass
 * traffic on, and what each step of a boot cost.
 *
 * Each line is one write(2), so lines from one writer never interleave;
 * a write that fails or falls short is ignored, and SIGPIPE is ignored,
 * so a reader that went away never stops the unikernel.
 */
#ifndef HAZE_PLATFORM_HOST_NOTIFY_H
#define HAZE_PLATFORM_HOST_NOTIFY_H

#include <stdint.h>

#include "haze/error.h"

/*
 * Takes @s, the value of --notify, as the descriptor to write notices on:
 * a number, of a descriptor open for writing. Ignores SIGPIPE from now
 * on. *fd gets it; 0, or -HZ_EINVAL with a message naming the option.
 */
HZ_MUST_CHECK
int hz_notify_setup(const char *s, int *fd, struct hz_errmsg *err);

/* Writes the line "@event @ns" on @fd; nothing when @fd is negative. */
void hz_notify(int fd, const char *event, uint64_t ns);

/* Returns the host's CLOCK_MONOTONIC in nanoseconds, the notices' clock. */
uint64_t hz_notify_now(void);

#endif
