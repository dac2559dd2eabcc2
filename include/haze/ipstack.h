/*
 * The direct stack: Haze's own TCP/IP (Ethernet, ARP, IPv4, ICMP, UDP,
 * TCP, a DHCP client) over any NET, exposed as a STACK (haze/stack.h).
 *
 * hz_ipstack_create starts a receive fiber that drains the NET in batches
 * and hands each frame up the layers; configuration is static or comes
 * from DHCP, and hz_ipstack_wait_configured parks until it is there.
 * Every dropped packet is counted by name (hz_counters_dump lists them:
 * eth.*, arp.*, ipv4.*, icmp.*, udp.*, dhcp.*) and in the stack's totals.
 * See docs/net.md.
 */
#ifndef HAZE_IPSTACK_H
#define HAZE_IPSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/net.h"
#include "haze/stack.h"

#define HZ_IPSTACK_MAX_DNS 2

struct hz_ipstack_config {
	bool dhcp;	    /* ask DHCP; the static fields below are ignored */
	hz_ipv4_t addr;	    /* static address */
	uint8_t prefix_len; /* static on-link prefix, 0..32 */
	hz_ipv4_t gateway;  /* static default gateway, or 0 for none */
	const char *name;   /* for log and error messages; NULL: "ip" */
	uint64_t seed;	    /* of IP ids, ports, DHCP xids, TCP keys; 0: host */
	bool owns_net;	    /* the NET is from hz_netdev_open: close it too */
	/* Tunables; 0 picks the default shown. */
	size_t reasm_limit;	   /* bytes reassembly may hold: 256 KiB */
	size_t tcp_limit;	   /* bytes TCP may hold: 3/4 of the heap */
	uint64_t reasm_timeout_ns; /* to complete a datagram: 30 s */
	uint64_t arp_ttl_ns;	   /* life of a resolved entry: 60 s */
	uint64_t arp_retry_ns;	   /* between requests: 1 s */
	unsigned arp_probes;	   /* requests before giving up: 3 */
	uint64_t dhcp_retry_ns;	   /* first retransmission: 4 s (RFC 2131) */
	unsigned dhcp_tries;	   /* DISCOVERs/REQUESTs before restarting: 4 */
};

/* What the stack runs with, static or leased. */
struct hz_ipstack_info {
	bool configured;
	hz_ipv4_t addr;
	uint8_t prefix_len;
	hz_ipv4_t gateway;
	hz_ipv4_t dns[HZ_IPSTACK_MAX_DNS]; /* 0 where none */
	hz_ipv4_t dhcp_server;		   /* 0 for static */
	uint32_t lease_s;		   /* 0 for static */
	struct hz_mac mac;
	uint16_t mtu;
};

/* Totals over every layer; the named counters give the reasons. */
struct hz_ipstack_stats {
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t rx_drops;   /* received packets dropped, any reason */
	uint64_t tx_drops;   /* packets we failed to send, any reason */
	uint64_t reasm_used; /* bytes reassembly holds now */
	uint64_t tcp_used;   /* bytes TCP holds now (buffers, connections) */
	uint64_t tcp_conns;  /* TCP connections in any state but CLOSED */
};

struct hz_ipstack;

/*
 * Creates a stack over @net and starts it. Unless cfg->owns_net, the
 * stack does not own @net: close it after hz_ipstack_destroy. 0,
 * -HZ_EINVAL or -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_ipstack_create(struct hz_net *net, const struct hz_ipstack_config *cfg,
		      struct hz_ipstack **out);

/*
 * Stops the stack's fibers and frees it (and its NET if it owns it); runs
 * in a fiber; every UDP socket must be closed.
 */
void hz_ipstack_destroy(struct hz_ipstack *s);

/* Returns the stack as a STACK, for hz_tcp_connect, hz_udp_open, ... */
struct hz_stack *hz_ipstack_stack(struct hz_ipstack *s);

/*
 * Returns the direct stack behind a STACK (from hz_stack_open), or NULL
 * when it is another kind (the socket stack): for what only a direct
 * stack knows, such as the DNS servers its DHCP lease named.
 */
struct hz_ipstack *hz_stack_ipstack(struct hz_stack *st);

/* Parks until the stack has an address. 0 or -HZ_ETIMEDOUT. */
HZ_MUST_CHECK
int hz_ipstack_wait_configured(struct hz_ipstack *s, uint64_t deadline);

/* Fills @info with the stack's current configuration. */
void hz_ipstack_info(const struct hz_ipstack *s, struct hz_ipstack_info *info);

/* Fills @st with the stack's totals. */
void hz_ipstack_stats(const struct hz_ipstack *s, struct hz_ipstack_stats *st);

/*
 * Sends an ICMP echo request with @len bytes of payload to @dst and
 * waits for the reply. 0, -HZ_ETIMEDOUT, or another error.
 */
HZ_MUST_CHECK
int hz_ipstack_ping(struct hz_ipstack *s, hz_ipv4_t dst, size_t len,
		    uint64_t deadline);

/* Returns the detail of the stack's last failure. */
const char *hz_ipstack_error(const struct hz_ipstack *s);

#endif
