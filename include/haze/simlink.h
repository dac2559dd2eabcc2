/*
 * A simulated Ethernet link for in-process tests: N ports, each a NET
 * (haze/net.h) with its own MAC and MTU. A frame written on one port
 * reaches the port whose MAC it is addressed to (every other port for
 * broadcast, multicast and unknown addresses) after a delay, subject to
 * seeded, deterministic loss, duplication, reordering and corruption.
 *
 * Delivery runs from Haze timers and readers park on wait queues, so
 * fibers block on a port exactly as on a real NIC. The link holds at most
 * max_in_flight frames and each port queues at most rx_queue frames; what
 * does not fit is dropped and counted. Corruption flips one bit after the
 * Ethernet header (a real link's FCS would catch the rest), so what it
 * damages is for IP, UDP, ICMP and TCP checksums to reject.
 */
#ifndef HAZE_SIMLINK_H
#define HAZE_SIMLINK_H

#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/net.h"

#define HZ_SIMLINK_MAX_PORTS 8
/* Rates are in parts per million of frames written. */
#define HZ_SIMLINK_PPM 1000000u

struct hz_simlink_config {
	unsigned ports;	      /* 2..HZ_SIMLINK_MAX_PORTS */
	uint16_t mtu;	      /* 0: 1500 */
	uint64_t delay_ns;    /* one-way delay of every frame */
	uint64_t reorder_ns;  /* extra delay of a reordered frame; 0: 1 ms */
	uint32_t loss_ppm;    /* frames lost */
	uint32_t dup_ppm;     /* frames delivered twice */
	uint32_t reorder_ppm; /* frames held back by reorder_ns */
	uint32_t corrupt_ppm; /* frames with one bit flipped */
	uint64_t seed;	      /* of the link's own PRNG */
	size_t max_in_flight; /* frames on the wire at once; 0: 256 */
	size_t rx_queue;      /* frames waiting per port; 0: 256 */
};

struct hz_simlink_stats {
	uint64_t written;      /* frames written on any port */
	uint64_t delivered;    /* frames put into a port's queue */
	uint64_t lost;	       /* dropped by the loss rate */
	uint64_t duplicated;   /* extra copies made */
	uint64_t reordered;    /* frames held back */
	uint64_t corrupted;    /* frames with a bit flipped */
	uint64_t drop_full;    /* dropped: max_in_flight reached */
	uint64_t drop_rxq;     /* dropped: the port's queue was full */
	uint64_t drop_invalid; /* dropped: too long or too short */
	uint64_t drop_nomem;   /* dropped: no memory for a copy */
};

struct hz_simlink;

/* Creates a link as @cfg says. 0, -HZ_EINVAL or -HZ_ENOMEM. */
HZ_MUST_CHECK
int hz_simlink_create(const struct hz_simlink_config *cfg,
		      struct hz_simlink **out);

/* Frees the link and every frame still on it; its ports become invalid. */
void hz_simlink_destroy(struct hz_simlink *l);

/* Returns port @i (0-based) of @l as a NET. */
struct hz_net *hz_simlink_port(struct hz_simlink *l, unsigned i);

/* Fills @st with what the link did so far. */
void hz_simlink_stats(const struct hz_simlink *l, struct hz_simlink_stats *st);

/* Changes the impairment rates (ppm) from now on. */
void hz_simlink_set_rates(struct hz_simlink *l, uint32_t loss_ppm,
			  uint32_t dup_ppm, uint32_t reorder_ppm,
			  uint32_t corrupt_ppm);

#endif
