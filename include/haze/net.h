/*
 * NET: a device that sends and receives Ethernet frames, in batches.
 *
 * Implementations: the platform's NIC (hz_netdev_open, over
 * hz_platform_net_*), and the ports of a simulated link for tests
 * (haze/simlink.h). A NET is a struct whose first field is its operations.
 *
 * Frames are pbuf views. read gives new views that the caller owns; write
 * consumes the views it is given, all of them, whatever it returns.
 */
#ifndef HAZE_NET_H
#define HAZE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/pbuf.h"

#define HZ_ETH_HLEN 14
#define HZ_ETH_ALEN 6

struct hz_mac {
	uint8_t b[HZ_ETH_ALEN];
};

/* An IPv4 address in host byte order (10.0.0.1 is 0x0a000001). */
typedef uint32_t hz_ipv4_t;

/* Builds an hz_ipv4_t from its four dotted parts. */
#define HZ_IPV4(a, b, c, d)                                          \
	((hz_ipv4_t)(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | \
		     ((uint32_t)(c) << 8) | (uint32_t)(d)))

/* Text buffers big enough for hz_ipv4_format and hz_mac_format. */
#define HZ_IPV4_STRLEN 16
#define HZ_MAC_STRLEN 18

/* Writes "a.b.c.d" into @buf (HZ_IPV4_STRLEN bytes); returns @buf. */
char *hz_ipv4_format(hz_ipv4_t a, char *buf);

/* Parses "a.b.c.d" exactly. 0 or -HZ_EINVAL. */
HZ_MUST_CHECK
int hz_ipv4_parse(const char *s, hz_ipv4_t *out);

/* Parses the @len bytes at @s as a port, 1..65535 in decimal. 0/-HZ_EINVAL */
HZ_MUST_CHECK
int hz_port_parse(const char *s, size_t len, uint16_t *out);

/* Writes "aa:bb:cc:dd:ee:ff" into @buf (HZ_MAC_STRLEN bytes). */
char *hz_mac_format(const struct hz_mac *m, char *buf);

struct hz_net;

struct hz_net_ops {
	/*
	 * Gives up to @max received frames as new views in @out. The count,
	 * -HZ_EAGAIN when none waits, or another negative code.
	 */
	int (*read)(struct hz_net *n, struct hz_view *out, size_t max);
	/*
	 * Sends @count frames, consuming every view; a device may queue
	 * them until the round of fibers ends (hz_defer) to send them in one
	 * batch. The count taken (frames the host then refuses are dropped
	 * and counted) or an error.
	 */
	int (*write)(struct hz_net *n, struct hz_view *frames, size_t count);
	/* Parks the fiber until a frame waits or @deadline. 0 or error. */
	int (*wait)(struct hz_net *n, uint64_t deadline);
	/* The detailed message of the last failure. */
	const char *(*error_message)(const struct hz_net *n);
	/* Wakes every fiber parked in wait now; their wait returns 0. */
	void (*wake)(struct hz_net *n);
};

struct hz_net {
	const struct hz_net_ops *ops;
	struct hz_mac mac;
	uint16_t mtu; /* largest IP packet; frames are mtu + 14 bytes */
	/* Largest TCP/IPv4 packet the device segments itself (TSO: the
	 * pbuf's gso_size), or 0 when it cannot. */
	uint32_t gso_max;
};

/* Receives up to @max frames as new views. Count, -HZ_EAGAIN, or error. */
HZ_MUST_CHECK
static inline int hz_net_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	return n->ops->read(n, out, max);
}

/* Sends @count frames, consuming the views. Count sent, or error. */
HZ_MUST_CHECK
static inline int hz_net_write(struct hz_net *n, struct hz_view *frames,
			       size_t count)
{
	return n->ops->write(n, frames, count);
}

/* Parks until a frame waits or @deadline; 0 or -HZ_ETIMEDOUT. */
HZ_MUST_CHECK
static inline int hz_net_wait(struct hz_net *n, uint64_t deadline)
{
	return n->ops->wait(n, deadline);
}

/* Wakes the fibers parked in hz_net_wait on @n (to tell them to stop). */
static inline void hz_net_wake(struct hz_net *n)
{
	n->ops->wake(n);
}

/*
 * Opens the platform NIC named @name in the manifest as a NET, with
 * receive buffers charged to @budget (NULL for none). 0, -HZ_ENOENT,
 * or -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_netdev_open(const char *name, struct hz_budget *budget,
		   struct hz_net **out);

/* Closes a NET from hz_netdev_open. */
void hz_netdev_close(struct hz_net *n);

#endif
