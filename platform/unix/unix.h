/*
 * The unix target's device bindings: host resources bound to the device
 * names of the manifest, before the runtime starts. platform/unix/main.c
 * binds them from the command line; tests bind them directly.
 */
#ifndef HAZE_PLATFORM_UNIX_H
#define HAZE_PLATFORM_UNIX_H

#include <stddef.h>

#include "haze/error.h"
#include "haze/manifest.h"

/* Binds net device @name to the tap interface @ifname (opened now, with
 * receive offload: hz_tap_set_offload, rx_max). */
HZ_MUST_CHECK
int hz_unix_bind_tap(const char *name, const char *ifname,
		     struct hz_errmsg *err);

/*
 * Binds net device @name to the tap already open on @fd, inherited from
 * the process that started this one (hz_tap_adopt checks it first).
 */
HZ_MUST_CHECK
int hz_unix_bind_tapfd(const char *name, int fd, struct hz_errmsg *err);

/*
 * Makes hz_platform_ready write its notice on @fd (--notify; see
 * platform/host/notify.h), or on nothing when @fd is negative.
 */
void hz_unix_notify_on(int fd);

/* Binds block device @name to the file @path (opened read-write now). */
HZ_MUST_CHECK
int hz_unix_bind_file(const char *name, const char *path,
		      struct hz_errmsg *err);

/*
 * Makes the loop's yield watch @fd for reading, as handle *h, so a fiber
 * can hz_device_wait on it (the socket stack's epoll descriptor).
 * 0, or -HZ_ENOSPC when every handle is in use (unwatched ones are reused).
 */
HZ_MUST_CHECK
int hz_unix_watch_fd(int fd, hz_handle_t *h);

/* Stops watching the descriptor behind @h (it is not closed). */
void hz_unix_unwatch_fd(hz_handle_t h);

/* Closes every binding (for tests that bind again). */
void hz_unix_unbind_all(void);

/*
 * Installs the process's SIGSEGV handler, on an alternate signal stack:
 * a fault in a fiber's guard page prints which fiber overflowed its stack
 * (hz_runtime_fault) and aborts; any other SIGSEGV is left to the
 * disposition installed before (the default, or a sanitizer's report).
 * Once per process; 0, or -HZ_EIO with the reason.
 */
HZ_MUST_CHECK
int hz_unix_fault_init(struct hz_errmsg *err);

#endif
