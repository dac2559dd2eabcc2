/*
 * Command-line options shared by every host-side program that starts a
 * unikernel: the unix target's main() and the haze-kvm tender. One parser
 * for each option, so that `--mem`, `--net NAME=...`, `--block NAME=...`
 * and the port numbers inside them mean the same, and are refused with
 * the same words, whichever way a unikernel is started.
 */
#ifndef HAZE_PLATFORM_HOST_OPTIONS_H
#define HAZE_PLATFORM_HOST_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/manifest.h"

/* One --net or --block binding of the command line, not yet opened. */
struct hz_host_binding {
	enum hz_device_kind kind;
	char name[HZ_DEVICE_NAME_MAX]; /* the manifest's device name */
	const char *target;	       /* what follows '=' */
};

/*
 * Parses @s, the value of --mem, as a whole number of MiB from @min_mib to
 * @max_mib; *bytes gets it in bytes. 0, or -HZ_EINVAL with a message
 * that names the range.
 */
HZ_MUST_CHECK
int hz_host_parse_mem(const char *s, uint64_t min_mib, uint64_t max_mib,
		      uint64_t *bytes, struct hz_errmsg *err);

/*
 * Parses @s, a descriptor number given to option @opt (--notify FD,
 * --net NAME=tapfd:FD), into *fd: digits only, no larger than INT_MAX.
 * 0, or -HZ_EINVAL with a message naming the option. Whether the
 * descriptor is open is for the caller to check.
 */
HZ_MUST_CHECK
int hz_host_parse_fd(const char *opt, const char *s, int *fd,
		     struct hz_errmsg *err);

/*
 * Parses @arg, the value of option @opt ("--net", "--block" or another
 * NAME=VALUE option), into @b: a device name that fits, '=', a non-empty
 * value. 0, or -HZ_EINVAL with a message naming the option.
 */
HZ_MUST_CHECK
int hz_host_parse_binding(const char *opt, const char *arg,
			  enum hz_device_kind kind, struct hz_host_binding *b,
			  struct hz_errmsg *err);

/*
 * Checks the @n bindings @b against manifest @m before anything is opened:
 * names distinct, each naming a declared device of its kind, every
 * required device bound. 0, or -HZ_EINVAL or -HZ_EEXIST with a message.
 */
HZ_MUST_CHECK
int hz_host_check_bindings(const struct hz_manifest *m,
			   const struct hz_host_binding *b, size_t n,
			   struct hz_errmsg *err);

#endif
