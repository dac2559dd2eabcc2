/*
 * The seam between the direct stack and its TCP (src/net/tcp*.c).
 *
 * TCP is a self-contained module: it receives segments through
 * hz_tcp_input and sends through the output callback of its environment,
 * so tests can join two TCPs with any simulated path in between. It knows
 * nothing of Ethernet, ARP or routing.
 *
 * Ownership: hz_tcp_input consumes the segment view (TCP header first,
 * checksum not yet verified); the output callback consumes the view it is
 * given (TCP header first, checksum filled in).
 */
#ifndef HAZE_NET_TCP_H
#define HAZE_NET_TCP_H

#include <stdint.h>

#include "haze/flow.h"
#include "haze/stack.h"
#include "net/inet.h"

struct hz_tcp;

struct hz_tcp_env {
	/* Sends one segment from @src to @dst; consumes @seg. 0 or error. */
	int (*output)(void *ctx, hz_ipv4_t src, hz_ipv4_t dst,
		      struct hz_view *seg);
	void *ctx;
	hz_ipv4_t local;	  /* our address (0 until configured) */
	uint16_t mtu;		  /* largest IP packet: MSS is mtu - 40 */
	struct hz_budget *budget; /* buffers and connections, or NULL */
	uint8_t secret[32];	  /* keys ISNs (RFC 6528) and SYN cookies */
};

/* Creates a TCP over @env (copied). 0 or -HZ_ENOMEM. */
HZ_MUST_CHECK
int hz_tcp_create(const struct hz_tcp_env *env, struct hz_tcp **out);

/* Resets every connection and frees the TCP. */
void hz_tcp_destroy(struct hz_tcp *t);

/* Sets our address once configuration (static or DHCP) gives it. */
void hz_tcp_set_local(struct hz_tcp *t, hz_ipv4_t local);

/* Takes one received segment; consumes @seg. Drops are counted. */
void hz_tcp_input(struct hz_tcp *t, const struct hz_ip_meta *ip,
		  struct hz_view *seg);

/* The STACK operations of this TCP, for the stack that owns it. */
HZ_MUST_CHECK
int hz_tcp_connect_on(struct hz_tcp *t, const struct hz_sockaddr *dst,
		      uint64_t deadline, struct hz_flow **out);

/* Listens on @local; see hz_tcp_listen in haze/stack.h. */
HZ_MUST_CHECK
int hz_tcp_listen_on(struct hz_tcp *t, const struct hz_sockaddr *local,
		     unsigned backlog, struct hz_listener **out);

/* Takes the next established connection; see haze/stack.h. */
HZ_MUST_CHECK
int hz_tcp_accept_on(struct hz_listener *l, uint64_t deadline,
		     struct hz_flow **out);

/* Stops listening; see haze/stack.h. */
void hz_tcp_unlisten_on(struct hz_listener *l);

/* Sets a per-connection option; see haze/stack.h. */
HZ_MUST_CHECK
int hz_tcp_set_on(struct hz_flow *f, enum hz_tcp_option opt, int value);

#endif
