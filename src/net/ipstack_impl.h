/*
 * The direct stack's insides, shared by its layers (eth.c, arp.c, ipv4.c,
 * reasm.c, icmp.c, udp.c, dhcp.c, ipstack.c) and by white-box tests. One
 * struct hz_ipstack holds every layer's state: nothing is file-static but
 * the named drop counters.
 *
 * Ownership of views: every *_input and *_output function here consumes
 * the view it is given (see haze/pbuf.h), on every path, error or not.
 */
#ifndef HAZE_NET_IPSTACK_IMPL_H
#define HAZE_NET_IPSTACK_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/stack.h"
#include "net/inet.h"

#define HZ_ETHERTYPE_IPV4 0x0800
#define HZ_ETHERTYPE_ARP 0x0806
#define HZ_ETH_MIN_FRAME 60 /* without FCS; shorter frames are padded */

#define HZ_IPV4_HLEN 20
#define HZ_IPV4_BROADCAST 0xffffffffu
#define HZ_UDP_HLEN 8
#define HZ_IP_DEFAULT_TTL 64

#define HZ_IPSTACK_TX_BATCH 32

#define ARP_CACHE_SIZE 64
#define ARP_PENDING_MAX 8 /* packets queued per unresolved address */
#define REASM_MAX_PIECES 64
#define UDP_QUEUE_LEN 64 /* datagrams waiting per socket */
#define ICMP_BURST 10	 /* ICMP errors sent back to back at most */
#define ICMP_INTERVAL_NS (10 * HZ_NS_PER_MS) /* then one per interval */

struct hz_ipstack;

/* --- ARP ------------------------------------------------------------------ */

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_RESOLVED };

struct arp_entry {
	struct hz_ipstack *s;
	hz_ipv4_t ip;
	struct hz_mac mac;
	uint8_t state;	  /* enum arp_state */
	uint8_t probes;	  /* requests sent while incomplete */
	uint8_t npending; /* packets in pending[] */
	bool refreshing;  /* resolved, and a unicast request is out */
	uint64_t expires; /* resolved: when the entry goes */
	struct hz_view pending[ARP_PENDING_MAX];
	struct hz_timer timer; /* incomplete: retry; resolved: expiry */
};

/* --- IPv4 ----------------------------------------------------------------- */

/* What IPv4 input passes a transport besides the payload. */
struct ip_rx {
	struct hz_ip_meta meta;
	const uint8_t *hdr; /* the IP header, borrowed for the call */
	size_t hlen;
	bool broadcast; /* sent to a broadcast address: never answer errors */
};

/* One contiguous run of a datagram being reassembled. */
struct reasm_piece {
	struct reasm_piece *next;
	uint32_t off; /* in the datagram's payload */
	uint32_t len;
	struct hz_view v;
	size_t charge; /* bytes charged to the budget for it */
};

/* A datagram being reassembled (RFC 815): pieces sorted, disjoint. */
struct reasm {
	struct reasm *next;
	struct hz_ipstack *s;
	hz_ipv4_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint32_t total; /* payload length, once the last fragment came */
	bool have_last;
	bool broadcast; /* some fragment came to a broadcast address */
	uint32_t have;	/* payload bytes held */
	unsigned npieces;
	struct reasm_piece *pieces;
	uint8_t hdr[60]; /* header of the first fragment, once it came */
	size_t hlen;
	struct hz_timer timer;
};

/* --- UDP and ICMP --------------------------------------------------------- */

struct udp_dgram {
	struct hz_view v;
	struct hz_sockaddr from;
};

struct hz_udp_sock {
	struct hz_udp_sock *next;
	struct hz_ipstack *s;
	struct hz_sockaddr local;
	struct udp_dgram q[UDP_QUEUE_LEN];
	size_t qhead;
	size_t qcount;
	struct hz_waitq readers;
};

/* A fiber waiting for an echo reply (hz_ipstack_ping). */
struct ping_wait {
	struct ping_wait *next;
	uint16_t id, seq;
	bool answered;
	struct hz_waitq wq;
};

/* --- DHCP ----------------------------------------------------------------- */

enum dhcp_state {
	DHCP_OFF = 0,
	DHCP_SELECTING,
	DHCP_REQUESTING,
	DHCP_BOUND,
	DHCP_RENEWING,
	DHCP_REBINDING,
};

/* What a DHCP message said, as far as the client cares. */
struct dhcp_msg {
	uint8_t op;
	uint32_t xid;
	hz_ipv4_t yiaddr;
	hz_ipv4_t siaddr;
	uint8_t chaddr[HZ_ETH_ALEN];
	uint8_t type; /* option 53 */
	hz_ipv4_t server_id;
	hz_ipv4_t mask;
	bool have_mask;
	hz_ipv4_t router;
	hz_ipv4_t dns[HZ_IPSTACK_MAX_DNS];
	uint32_t lease_s;
	uint32_t t1_s, t2_s;
};

struct dhcp_client {
	enum dhcp_state state;
	struct hz_udp_sock *sock;
	uint32_t xid;
	hz_ipv4_t offered;
	hz_ipv4_t server;
	uint64_t lease_start;
	uint32_t lease_s, t1_s, t2_s;
	bool running;	      /* its fiber is alive */
	struct hz_waitq wake; /* stop requests */
};

/* --- the stack ------------------------------------------------------------ */

struct hz_ipstack {
	struct hz_stack stack; /* first: the direct stack is a STACK */
	struct hz_net *net;
	struct hz_ipstack_config cfg;
	char name[16];
	struct hz_errmsg err;
	struct hz_ipstack_stats stats;

	/* configuration */
	bool configured;
	hz_ipv4_t addr;
	hz_ipv4_t mask;
	uint8_t prefix_len;
	hz_ipv4_t gateway;
	hz_ipv4_t dns[HZ_IPSTACK_MAX_DNS];
	struct hz_waitq configured_wq;

	/* frames sent while a receive batch is handled, written at its end */
	bool batching;
	size_t ntx;
	struct hz_view txq[HZ_IPSTACK_TX_BATCH];

	/* fibers */
	bool stopping;
	bool rx_running;
	uint64_t rx_error_said; /* when a receive error was last logged */
	struct hz_waitq joins;	/* destroy waits here for fibers to end */

	uint64_t rng;
	uint16_t ip_id;
	uint16_t next_port;

	struct arp_entry arp[ARP_CACHE_SIZE];

	struct hz_budget reasm_budget;
	struct hz_budget tcp_budget; /* TCP buffers and connections */
	struct reasm *reasms;

	struct hz_udp_sock *udp_socks;
	struct ping_wait *pings;
	uint16_t ping_id;
	uint64_t icmp_tokens_at; /* rate limit: when the bucket was full */

	struct dhcp_client dhcp;
	struct hz_tcp *tcp;
};

/* --- ipstack.c ------------------------------------------------------------ */

/* Counts one dropped received packet on @c and in the stack's totals. */
void hz_ipstack_drop(struct hz_ipstack *s, struct hz_counter *c);

/* Counts one packet we failed to send on @c and in the stack's totals. */
void hz_ipstack_tx_drop(struct hz_ipstack *s, struct hz_counter *c);

/* Returns 64 bits from the stack's PRNG. */
uint64_t hz_ipstack_random(struct hz_ipstack *s);

/* Installs an address (static or leased) and announces it. */
void hz_ipstack_set_address(struct hz_ipstack *s, hz_ipv4_t addr,
			    uint8_t prefix_len, hz_ipv4_t gateway);

/* Forgets the address (a DHCP lease ended). */
void hz_ipstack_clear_address(struct hz_ipstack *s);

/* Hands one received frame up the layers; consumes @frame. */
void hz_ipstack_input(struct hz_ipstack *s, struct hz_view *frame);

/* --- eth.c ---------------------------------------------------------------- */

/* Demultiplexes one frame by EtherType; consumes @frame. */
void hz_eth_input(struct hz_ipstack *s, struct hz_view *frame);

/*
 * Pushes an Ethernet header onto @pkt and sends it to @dst (NULL:
 * broadcast); during a receive batch the frame waits for
 * hz_eth_flush. Consumes @pkt.
 */
HZ_MUST_CHECK
int hz_eth_output(struct hz_ipstack *s, const struct hz_mac *dst, uint16_t type,
		  struct hz_view *pkt);

/* Writes the frames queued during a receive batch, in one call. */
void hz_eth_flush(struct hz_ipstack *s);

/* --- arp.c ---------------------------------------------------------------- */

/* Takes one ARP packet (Ethernet header pulled); consumes @pkt. */
void hz_arp_input(struct hz_ipstack *s, struct hz_view *pkt);

/*
 * Sends IP packet @pkt to on-link @next_hop, resolving its MAC first if
 * needed (the packet then waits in a bounded queue). Consumes @pkt.
 */
HZ_MUST_CHECK
int hz_arp_output(struct hz_ipstack *s, hz_ipv4_t next_hop,
		  struct hz_view *pkt);

/* Sends a gratuitous ARP announcing our address. */
void hz_arp_announce(struct hz_ipstack *s);

/* Finds a resolved entry for @ip; 0 with its MAC, or -HZ_ENOENT. */
HZ_MUST_CHECK
int hz_arp_lookup(const struct hz_ipstack *s, hz_ipv4_t ip, struct hz_mac *mac);

/* Empties the cache, dropping queued packets. */
void hz_arp_flush(struct hz_ipstack *s);

/* --- ipv4.c, reasm.c ------------------------------------------------------ */

/* Validates and dispatches one IPv4 packet; consumes @pkt. */
void hz_ipv4_input(struct hz_ipstack *s, struct hz_view *pkt,
		   bool link_broadcast);

/*
 * Sends @payload (transport header first) to @dst as protocol @proto,
 * fragmenting it if it exceeds the MTU. Consumes @payload.
 */
HZ_MUST_CHECK
int hz_ipv4_output(struct hz_ipstack *s, hz_ipv4_t dst, uint8_t proto,
		   struct hz_view *payload);

/* Passes a complete datagram to its transport; consumes @payload. */
void hz_ipv4_deliver(struct hz_ipstack *s, const struct ip_rx *rx,
		     struct hz_view *payload);

/*
 * Takes one fragment (@payload is its data, @hdr its header) and delivers
 * the datagram when it is complete. Consumes @payload.
 */
void hz_reasm_input(struct hz_ipstack *s, const struct ip_rx *rx,
		    uint32_t offset, bool more, struct hz_view *payload);

/* Drops every datagram being reassembled. */
void hz_reasm_flush(struct hz_ipstack *s);

/* --- icmp.c --------------------------------------------------------------- */

/* Takes one ICMP message; consumes @msg. */
void hz_icmp_input(struct hz_ipstack *s, const struct ip_rx *rx,
		   struct hz_view *msg);

/*
 * Answers the datagram described by @rx, whose transport part begins
 * with @l4 (borrowed), with destination unreachable @code, rate-limited.
 */
void hz_icmp_unreachable(struct hz_ipstack *s, const struct ip_rx *rx,
			 const struct hz_view *l4, uint8_t code);

/* --- udp.c ---------------------------------------------------------------- */

/* Takes one UDP datagram; consumes @dgram. */
void hz_udp_input(struct hz_ipstack *s, const struct ip_rx *rx,
		  struct hz_view *dgram);

/* The STACK's UDP operations. */
HZ_MUST_CHECK
int hz_udp_open_on(struct hz_ipstack *s, const struct hz_sockaddr *local,
		   struct hz_udp_sock **out);
HZ_MUST_CHECK
int hz_udp_sendto_on(struct hz_udp_sock *u, const struct hz_sockaddr *dst,
		     const void *buf, size_t len);
HZ_MUST_CHECK
int hz_udp_recvfrom_on(struct hz_udp_sock *u, struct hz_view *out,
		       struct hz_sockaddr *from, uint64_t deadline);
/* Takes up to @n queued datagrams into @msgs, waiting for the first. */
HZ_MUST_CHECK
int hz_udp_recv_batch_on(struct hz_udp_sock *u, struct hz_udp_msg *msgs,
			 size_t n, uint64_t deadline);
/* Sends @msgs one by one; the count sent, or the first one's error. */
HZ_MUST_CHECK
int hz_udp_send_batch_on(struct hz_udp_sock *u, const struct hz_udp_msg *msgs,
			 size_t n);
void hz_udp_close_on(struct hz_udp_sock *u);

/* --- dhcp.c --------------------------------------------------------------- */

/* Starts the DHCP client fiber. 0 or -HZ_ENOMEM. */
HZ_MUST_CHECK
int hz_dhcp_start(struct hz_ipstack *s);

/* Asks the DHCP client to stop; hz_ipstack_destroy waits for it. */
void hz_dhcp_stop(struct hz_ipstack *s);

/*
 * Parses a DHCP message (UDP payload) into @m. 0, or -HZ_EPROTO for
 * anything malformed; never reads outside [@p, @p + @len).
 */
HZ_MUST_CHECK
int hz_dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m);

/* --- tcp wiring (ipstack.c) ----------------------------------------------- */

/* Returns the stack's TCP module (for its tunables, hz_tcp_tune). */
struct hz_tcp *hz_ipstack_tcp(struct hz_ipstack *s);

/* Hands a TCP segment to the TCP module, or drops it; consumes @seg. */
void hz_ipstack_tcp_input(struct hz_ipstack *s, const struct ip_rx *rx,
			  struct hz_view *seg);

#endif
