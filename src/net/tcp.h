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

#include <stdbool.h>
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
	hz_ipv4_t local;  /* our address (0 until configured) */
	uint16_t mtu;	  /* largest IP packet: MSS is mtu - 40 */
	uint32_t gso_max; /* largest packet the device segments (TSO), or 0 */
	struct hz_budget *budget; /* buffers and connections, or NULL */
	uint8_t secret[32];	  /* keys ISNs (RFC 6528) and SYN cookies */
	/* The stack's random source (@ctx passed), or NULL: then a keyed
	 * hash of a counter under @secret stands in. */
	uint64_t (*random)(void *ctx);
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

/*
 * Like hz_tcp_connect_on, from local port @lport (0: any free one); for
 * simultaneous open and TIME_WAIT reuse. -HZ_EEXIST if the pair is taken.
 */
HZ_MUST_CHECK
int hz_tcp_connect_port(struct hz_tcp *t, uint16_t lport,
			const struct hz_sockaddr *dst, uint64_t deadline,
			struct hz_flow **out);

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

/*
 * Tunables. Defaults suit a real network; tests shorten the clocks (a
 * short MSL, a small minimum RTO) so that TIME_WAIT, retransmission and
 * keepalive run in milliseconds.
 */
struct hz_tcp_tuning {
	uint64_t msl_ns;	    /* TIME_WAIT lasts 2 * MSL; 30 s */
	uint64_t rto_min_ns;	    /* lower bound of the RTO; 200 ms */
	uint64_t rto_init_ns;	    /* RTO before any sample; 1 s */
	uint64_t delack_ns;	    /* delayed-ACK timeout; 40 ms */
	uint64_t keepalive_unit_ns; /* one HZ_TCP_KEEPALIVE unit; 1 s */
	uint64_t keep_intvl_ns;	    /* between keepalive probes; 75 s */
	uint64_t fin_wait_2_ns;	    /* orphaned FIN_WAIT_2 lifetime; 60 s */
	uint32_t keep_probes;	    /* unanswered probes before reset; 9 */
	/* Zero-window probes after which a connection the application has
	 * closed is reset, however the peer answers them: a peer keeping
	 * its window shut would hold the send buffer for ever (RFC 1122
	 * 4.2.2.17 keeps a connection while probes are answered; Linux too
	 * gives up on orphans, tcp_orphan_retries); 0 resets at the first
	 * persist timeout; 8 */
	uint32_t orphan_probes;
	uint32_t sndbuf; /* most send buffer bytes; 4 MiB */
	uint32_t rcvbuf; /* receive window bytes; 256 KiB */
	bool tso;	 /* bursts the device segments, where it can; true */
	bool autocork;	 /* writes go out at the end of the round; true */
};

/* Fills @tu with the default tunables. */
void hz_tcp_tuning_default(struct hz_tcp_tuning *tu);

/* Replaces the tunables of @t (for connections made from now on). */
void hz_tcp_tune(struct hz_tcp *t, const struct hz_tcp_tuning *tu);

/* Returns the detail of the last failure of a connect or listen on @t. */
const char *hz_tcp_error(const struct hz_tcp *t);

/* Returns the RFC 9293 state name of a TCP flow ("ESTABLISHED"). */
const char *hz_tcp_flow_state(const struct hz_flow *f);

/* A read-only snapshot of a connection's sender, for tests and tools. */
struct hz_tcp_info {
	const char *state;	 /* RFC 9293 name */
	uint32_t snd_mss;	 /* largest payload we send */
	uint32_t cwnd, ssthresh; /* congestion window and threshold, bytes */
	uint32_t flight;	 /* SND.MAX - SND.UNA */
	uint32_t dupacks;	 /* duplicate ACKs since the last new one */
	bool in_recovery;	 /* in fast recovery (RFC 6582 / 6675) */
	uint64_t rto_ns;	 /* the retransmission timeout now */
	uint32_t snd_wnd;	 /* the peer's window, scaled */
	bool ts_ok, sack_ok;	 /* timestamps, SACK in use */
	uint8_t snd_wscale;	 /* the peer's window scale (0: none) */
};

/* Fills @out with the sender state of TCP flow @f. */
void hz_tcp_flow_info(const struct hz_flow *f, struct hz_tcp_info *out);

/* Returns how many received segments @t dropped (any drop_* counter). */
uint64_t hz_tcp_drops(const struct hz_tcp *t);

/* Returns how many connections @t holds (any state but CLOSED). */
size_t hz_tcp_conn_count(const struct hz_tcp *t);

#endif
