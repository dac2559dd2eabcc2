/*
 * Haze error model: fallible functions return int (or ssize_t for byte
 * counts), zero or a count on success and a negative HZ_E* code on failure.
 * Every fallible function is declared HZ_MUST_CHECK and the tree builds with
 * -Werror, so a discarded error does not compile. Interfaces keep a
 * human-readable message with the detail of their last failure in an
 * hz_errmsg, set in the same statement that returns the code.
 */
#ifndef HAZE_ERROR_H
#define HAZE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define HZ_MUST_CHECK __attribute__((warn_unused_result))
#define HZ_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define HZ_NORETURN _Noreturn

/* Error codes, always returned negated (-HZ_EAGAIN). */
enum hz_error {
	HZ_OK = 0,
	HZ_EAGAIN = 1,	 /* nothing now; try again after waiting */
	HZ_ECLOSED,	 /* the flow or device was closed */
	HZ_ETIMEDOUT,	 /* a deadline passed */
	HZ_ECONNREFUSED, /* the peer refused the connection */
	HZ_ECONNRESET,	 /* the peer reset the connection */
	HZ_ETLS,	 /* TLS failure; the message says which */
	HZ_ENOMEM,	 /* an allocation or budget was exhausted */
	HZ_EINVAL,	 /* an argument was out of range */
	HZ_ENOENT,	 /* no such device, name or key */
	HZ_EEXIST,	 /* already present */
	HZ_EIO,		 /* the host failed the operation */
	HZ_ENOTSUP,	 /* not available on this target or device */
	HZ_ENOSPC,	 /* out of space (block device, table) */
	HZ_EMSGSIZE,	 /* a frame or message is too large */
	HZ_EPROTO,	 /* the peer broke the protocol */
	HZ_ECANCELED,	 /* the operation was cancelled */
	HZ_ECONNABORTED, /* given up: the peer stopped answering */
	HZ_ERROR_COUNT_
};

/* Returns the short fixed description of an error code (either sign). */
const char *hz_strerror(int code);

/* Returns the symbolic name of an error code, "HZ_ETIMEDOUT" (either sign). */
const char *hz_errname(int code);

#define HZ_ERRMSG_MAX 160

/* The detailed message of an interface's last failure. */
struct hz_errmsg {
	int code; /* negative code of the last failure, or 0 */
	char text
	    [HZ_ERRMSG_MAX]; /* "TCP 10.0.0.2:80: reset by peer in SYN_SENT" */
};

/*
 * Records a failure in @m and returns @code, so a failing path reads
 * `return hz_errmsg_set(&c->err, -HZ_ECONNRESET, "TCP %s: reset", p);`.
 */
HZ_MUST_CHECK HZ_PRINTF(3, 4) int hz_errmsg_set(struct hz_errmsg *m, int code,
						const char *fmt, ...);

/* Like hz_errmsg_set, with a va_list. */
HZ_MUST_CHECK
int hz_errmsg_vset(struct hz_errmsg *m, int code, const char *fmt, va_list ap);

/* Returns the message of @m, or hz_strerror of its code if none was set. */
const char *hz_errmsg_text(const struct hz_errmsg *m);

/* Forgets a recorded failure. */
void hz_errmsg_clear(struct hz_errmsg *m);

#endif
