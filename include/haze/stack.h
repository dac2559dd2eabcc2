/*
 * STACK: TCP and UDP for applications, whoever implements them. Haze has
 * two implementations with this one interface: the direct stack (Haze's
 * own TCP/IP over a NET, every target) and the socket stack (the host
 * kernel's sockets, unix target only), so an application runs on either
 * unchanged. A STACK is a struct whose first field is its operations.
 *
 * TCP connections are FLOWs (haze/flow.h). UDP datagrams arrive as views.
 * Every call that can fail returns a negative code, and error_message
 * gives the detail of the stack's last failure.
 */
#ifndef HAZE_STACK_H
#define HAZE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/flow.h"
#include "haze/net.h"

struct hz_sockaddr {
	hz_ipv4_t addr;
	uint16_t port;
};

struct hz_stack;
struct hz_listener;
struct hz_udp_sock;

/* Per-connection TCP options (hz_stack_tcp_set). */
enum hz_tcp_option {
	HZ_TCP_NODELAY,	  /* 1: send small segments at once (no Nagle) */
	HZ_TCP_KEEPALIVE, /* seconds of idleness before probing; 0 off */
};

/* Most datagrams one batch call handles; a longer batch is cut to it. */
#define HZ_UDP_BATCH_MAX 32

/*
 * One datagram of a batch (hz_udp_recv_batch, hz_udp_send_batch). The
 * caller owns @buf.
 */
struct hz_udp_msg {
	void *buf;
	size_t cap; /* receive: capacity of buf; send: unused */
	/* receive: set to the datagram's length, which is more than cap
	 * when it did not fit (only cap bytes were stored); send: bytes. */
	size_t len;
	struct hz_sockaddr peer; /* receive: the sender; send: destination */
};

struct hz_stack_ops {
	int (*tcp_connect)(struct hz_stack *s, const struct hz_sockaddr *dst,
			   uint64_t deadline, struct hz_flow **out);
	int (*tcp_listen)(struct hz_stack *s, const struct hz_sockaddr *local,
			  unsigned backlog, struct hz_listener **out);
	int (*tcp_accept)(struct hz_listener *l, uint64_t deadline,
			  struct hz_flow **out);
	void (*tcp_unlisten)(struct hz_listener *l);
	int (*tcp_set)(struct hz_flow *f, enum hz_tcp_option opt, int value);
	int (*udp_open)(struct hz_stack *s, const struct hz_sockaddr *local,
			struct hz_udp_sock **out);
	int (*udp_sendto)(struct hz_udp_sock *u, const struct hz_sockaddr *dst,
			  const void *buf, size_t len);
	int (*udp_recvfrom)(struct hz_udp_sock *u, struct hz_view *out,
			    struct hz_sockaddr *from, uint64_t deadline);
	int (*udp_recv_batch)(struct hz_udp_sock *u, struct hz_udp_msg *msgs,
			      size_t n, uint64_t deadline);
	int (*udp_send_batch)(struct hz_udp_sock *u,
			      const struct hz_udp_msg *msgs, size_t n);
	void (*udp_close)(struct hz_udp_sock *u);
	const char *(*error_message)(const struct hz_stack *s);
	void (*destroy)(struct hz_stack *s);
};

struct hz_stack {
	const struct hz_stack_ops *ops;
};

/* Opens a TCP connection to @dst; the flow in *out. 0 or error. */
HZ_MUST_CHECK
static inline int hz_tcp_connect(struct hz_stack *s,
				 const struct hz_sockaddr *dst,
				 uint64_t deadline, struct hz_flow **out)
{
	return s->ops->tcp_connect(s, dst, deadline, out);
}

/* Listens on @local (addr 0: any) with a queue of @backlog. 0 or error. */
HZ_MUST_CHECK
static inline int hz_tcp_listen(struct hz_stack *s,
				const struct hz_sockaddr *local,
				unsigned backlog, struct hz_listener **out)
{
	return s->ops->tcp_listen(s, local, backlog, out);
}

/* Takes the next established connection of @l. 0 or error. */
HZ_MUST_CHECK
static inline int hz_tcp_accept(struct hz_stack *s, struct hz_listener *l,
				uint64_t deadline, struct hz_flow **out)
{
	return s->ops->tcp_accept(l, deadline, out);
}

/* Stops listening and frees @l; queued connections are reset. */
static inline void hz_tcp_unlisten(struct hz_stack *s, struct hz_listener *l)
{
	s->ops->tcp_unlisten(l);
}

/* Sets a TCP option on a flow from this stack. 0 or -HZ_EINVAL. */
HZ_MUST_CHECK
static inline int hz_tcp_set(struct hz_stack *s, struct hz_flow *f,
			     enum hz_tcp_option opt, int value)
{
	return s->ops->tcp_set(f, opt, value);
}

/* Opens a UDP socket on @local (port 0: any free port). 0 or error. */
HZ_MUST_CHECK
static inline int hz_udp_open(struct hz_stack *s,
			      const struct hz_sockaddr *local,
			      struct hz_udp_sock **out)
{
	return s->ops->udp_open(s, local, out);
}

/* Sends one datagram. 0 or error. */
HZ_MUST_CHECK
static inline int hz_udp_sendto(struct hz_stack *s, struct hz_udp_sock *u,
				const struct hz_sockaddr *dst, const void *buf,
				size_t len)
{
	return s->ops->udp_sendto(u, dst, buf, len);
}

/* Receives one datagram as a view, its sender in *from. Length or error. */
HZ_MUST_CHECK
static inline int hz_udp_recvfrom(struct hz_stack *s, struct hz_udp_sock *u,
				  struct hz_view *out, struct hz_sockaddr *from,
				  uint64_t deadline)
{
	return s->ops->udp_recvfrom(u, out, from, deadline);
}

/*
 * Receives up to @n datagrams (at most HZ_UDP_BATCH_MAX) into the
 * caller's buffers of @msgs, in arrival order: waits until at least one
 * arrives or @deadline passes, then takes what else already waits,
 * without waiting more. One system call for the lot on the socket stack,
 * where a receive per datagram would cost one each. A datagram longer
 * than its buffer is cut to it and says so (len > cap). Returns the
 * count received (>= 1), or -HZ_ETIMEDOUT or another negative code.
 */
HZ_MUST_CHECK
static inline int hz_udp_recv_batch(struct hz_stack *s, struct hz_udp_sock *u,
				    struct hz_udp_msg *msgs, size_t n,
				    uint64_t deadline)
{
	return s->ops->udp_recv_batch(u, msgs, n, deadline);
}

/*
 * Sends the first @n datagrams of @msgs (at most HZ_UDP_BATCH_MAX), in
 * order, each to its peer. Returns how many were sent from the first on
 * (>= 1; fewer than @n: send the rest again), or a negative code when the
 * first one cannot be sent, with the detail in hz_stack_error (a caller
 * that goes on skips that one).
 */
HZ_MUST_CHECK
static inline int hz_udp_send_batch(struct hz_stack *s, struct hz_udp_sock *u,
				    const struct hz_udp_msg *msgs, size_t n)
{
	return s->ops->udp_send_batch(u, msgs, n);
}

/* Closes and frees a UDP socket. */
static inline void hz_udp_close(struct hz_stack *s, struct hz_udp_sock *u)
{
	s->ops->udp_close(u);
}

/* Returns the detail of the stack's last failure. */
static inline const char *hz_stack_error(const struct hz_stack *s)
{
	return s->ops->error_message(s);
}

/*
 * Opens the stack an endpoint spec names, the way applications take one
 * from their command line:
 *   "socket"                          the host's sockets (unix target)
 *   "direct:NET"                      Haze's TCP/IP on NIC NET, by DHCP
 *   "direct:NET,ip=A.B.C.D/N[,gw=G]"  the same, statically configured
 *   ",tso=off" after either           TCP cuts every segment itself even
 *                                     where the NIC would (TSO)
 * A direct stack waits for its address up to @deadline. 0 or a negative
 * code, with the reason in @err.
 */
HZ_MUST_CHECK
int hz_stack_open(const char *spec, uint64_t deadline, struct hz_stack **out,
		  struct hz_errmsg *err);

/* Ends the stack and frees it; close its flows and sockets first. */
static inline void hz_stack_destroy(struct hz_stack *s)
{
	s->ops->destroy(s);
}

#endif
