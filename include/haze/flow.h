/*
 * FLOW: a reliable, ordered byte stream (a TCP connection, a TLS session
 * over any flow). Every flow implementation is a struct whose first field
 * is a pointer to its operations, so flows compose: TLS wraps a FLOW and is
 * a FLOW.
 *
 * Semantics every implementation keeps:
 * - read gives the next received bytes as a view, without copying where
 *   the layers allow it; the caller owns (and releases) the view. It
 *   returns the byte count (> 0), 0 at end of stream (the peer shut down
 *   its side), or a negative code. A deadline that passes gives
 *   -HZ_ETIMEDOUT and is not an error of the flow: reading again is fine.
 * - writev accepts all of its bytes (blocking while the send buffer is
 *   full) and returns their count, or fails. If the deadline passes
 *   first it returns the count it did accept, which is then short (a
 *   partial write: those bytes will be sent, in order; the rest were not
 *   taken and may be written again), or -HZ_ETIMEDOUT if it took none.
 *   Like a read's timeout, that is not an error of the flow. A layer
 *   that frames bytes (TLS) may keep part of a frame a deadline cut: it
 *   goes with the flow's next write (one of 0 bytes if there is nothing
 *   more to say), its shutdown or its close. After a failure nothing is
 *   known about how much of this or earlier writes reached the peer. A
 *   connection given up because the peer stopped answering is a fatal
 *   -HZ_ECONNABORTED, never -HZ_ETIMEDOUT.
 * - shutdown ends our direction (TCP: sends FIN); reads still work.
 * - A fatal error (reset, protocol failure, TLS alert) is sticky: every
 *   later read, writev or shutdown returns it again, and error_message
 *   names it with the layer's detail ("TCP 10.0.0.2:80: reset by peer in
 *   ESTABLISHED"; a TLS flow prefixes its own layer).
 * - close is idempotent: it ends the connection (gracefully if it can)
 *   and makes every later call return -HZ_ECLOSED. free releases the
 *   object and must come last, exactly once; it closes first if needed.
 */
#ifndef HAZE_FLOW_H
#define HAZE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "haze/error.h"
#include "haze/pbuf.h"

struct hz_iov {
	const void *base;
	size_t len;
};

struct hz_flow;

struct hz_flow_ops {
	int (*read)(struct hz_flow *f, struct hz_view *out, uint64_t deadline);
	ssize_t (*writev)(struct hz_flow *f, const struct hz_iov *iov, size_t n,
			  uint64_t deadline);
	/* Optional (NULL where the flow keeps no send buffer to lend). */
	ssize_t (*reserve)(struct hz_flow *f, size_t min, uint8_t **buf,
			   uint64_t deadline);
	void (*commit)(struct hz_flow *f, size_t len);
	int (*shutdown)(struct hz_flow *f);
	void (*close)(struct hz_flow *f);
	/* Optional (NULL where close is all there is): close at once, what
	 * is unsent dropped. */
	void (*abort)(struct hz_flow *f);
	void (*free)(struct hz_flow *f);
	const char *(*error_message)(const struct hz_flow *f);
};

/* Implementations embed this first and zero it at creation. */
struct hz_flow {
	const struct hz_flow_ops *ops;
	struct hz_view unread; /* given back by hz_flow_unread */
};

/* Gives the next received bytes as a view; count, 0 at end, or error. */
HZ_MUST_CHECK
int hz_flow_read(struct hz_flow *f, struct hz_view *out, uint64_t deadline);

/* Sends @iov[0..n); their count, fewer at the deadline, or an error. */
HZ_MUST_CHECK
static inline ssize_t hz_flow_writev(struct hz_flow *f,
				     const struct hz_iov *iov, size_t n,
				     uint64_t deadline)
{
	return f->ops->writev(f, iov, n, deadline);
}

/*
 * Lends room at the end of @f's send buffer, for a layer that builds its
 * bytes where they will be sent (TLS seals records there) instead of
 * copying them in with writev. Waits, as writev does for room, until
 * @min bytes are free in all (a flow may ask less of a small buffer: TCP
 * at most half of it); then *buf is the free room that follows the
 * buffered data without wrapping, and its length is returned: more than
 * 0, and less than @min where the buffer wraps. -HZ_ENOTSUP if @f lends
 * none; -HZ_ETIMEDOUT at the deadline; or the flow's error. Nothing is
 * sent until hz_flow_commit, which must come before the fiber next waits
 * and before any other call on @f.
 */
HZ_MUST_CHECK
static inline ssize_t hz_flow_reserve(struct hz_flow *f, size_t min,
				      uint8_t **buf, uint64_t deadline)
{
	if (f->ops->reserve == NULL)
		return -HZ_ENOTSUP;
	return f->ops->reserve(f, min, buf, deadline);
}

/*
 * Sends the first @len bytes of the room the last hz_flow_reserve lent,
 * as a write of them would (0: lends it back unused).
 */
static inline void hz_flow_commit(struct hz_flow *f, size_t len)
{
	f->ops->commit(f, len);
}

/* Whether @f lends room to build bytes in place (hz_flow_reserve). */
static inline bool hz_flow_lends(const struct hz_flow *f)
{
	return f->ops->reserve != NULL;
}

/* Ends our direction of the flow; reads continue. 0 or error. */
HZ_MUST_CHECK
static inline int hz_flow_shutdown(struct hz_flow *f)
{
	return f->ops->shutdown(f);
}

/* Ends the flow; idempotent. Later calls give -HZ_ECLOSED. */
void hz_flow_close(struct hz_flow *f);

/*
 * Ends the flow at once, dropping what is still unsent (TCP: a reset, and
 * its buffers freed now rather than once the peer has read them; TLS: no
 * close_notify), for a server shedding a connection to free memory. Also
 * after hz_flow_close where the flow still holds the connection (Haze's
 * TCP finishing a close; the socket stack has handed it to the kernel
 * by then). Later calls give -HZ_ECLOSED. A flow that has no such end is
 * closed.
 */
void hz_flow_abort(struct hz_flow *f);

/* Releases the flow object, closing it first if needed. Exactly once. */
void hz_flow_free(struct hz_flow *f);

/* Returns the detailed message of the flow's last failure. */
static inline const char *hz_flow_error(const struct hz_flow *f)
{
	return f->ops->error_message(f);
}

/* Sends @len bytes of @buf; @len, fewer at the deadline, or an error. */
HZ_MUST_CHECK
ssize_t hz_flow_write(struct hz_flow *f, const void *buf, size_t len,
		      uint64_t deadline);

/*
 * Gives back what follows the first @used bytes of @v (consumed), a view
 * just read from @f: @f's next read returns it first.
 */
void hz_flow_unread(struct hz_flow *f, struct hz_view *v, size_t used);

/*
 * Copies up to @cap received bytes into @buf (bytes beyond @cap stay
 * queued for the next call); count, 0 at end of stream, or error.
 */
HZ_MUST_CHECK
ssize_t hz_flow_read_copy(struct hz_flow *f, void *buf, size_t cap,
			  uint64_t deadline);

#endif
