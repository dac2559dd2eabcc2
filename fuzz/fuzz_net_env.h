/*
 * What the direct stack's libFuzzer harnesses (fuzz/fuzz_{eth,arp,ipv4,
 * icmp,udp,dhcp}.c) share. White-box, as fuzz harnesses may be: it
 * reaches into the stack's private headers. One stack (10.0.0.1/24, a UDP
 * socket on port 7) over a sink NET that swallows what it sends; frames
 * go in synchronously through hz_ipstack_input, without the event loop.
 * After each input every layer's state is emptied and the harness aborts
 * if a pbuf or an object survived it: a leak is a crash.
 */
#ifndef HAZE_FUZZ_NET_ENV_H
#define HAZE_FUZZ_NET_ENV_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz/fuzz_heap.h"
#include "haze/ipstack.h"
#include "haze/mem.h"
#include "net/ipstack_impl.h"

#define FUZZ_HEAP (64u << 20)
#define FUZZ_ADDR HZ_IPV4(10, 0, 0, 1)
#define FUZZ_PEER HZ_IPV4(10, 0, 0, 2)
#define FUZZ_PORT 7

static const struct hz_mac fuzz_mac = {{0x02, 0, 0, 0, 0, 1}};
static const struct hz_mac fuzz_peer_mac = {{0x02, 0, 0, 0, 0, 2}};

static inline int sink_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	(void)n;
	(void)out;
	(void)max;
	return -HZ_EAGAIN;
}

static inline int sink_write(struct hz_net *n, struct hz_view *frames,
			     size_t count)
{
	(void)n;
	for (size_t i = 0; i < count; i++)
		hz_view_release(&frames[i]);
	return (int)count;
}

static inline int sink_wait(struct hz_net *n, uint64_t deadline)
{
	(void)n;
	(void)deadline;
	return -HZ_ETIMEDOUT;
}

static inline const char *sink_error(const struct hz_net *n)
{
	(void)n;
	return "sink";
}

static inline void sink_wake(struct hz_net *n)
{
	(void)n;
}

static const struct hz_net_ops sink_ops = {sink_read, sink_write, sink_wait,
					   sink_error, sink_wake};

static struct {
	struct hz_net net;
	struct hz_ipstack *s;
	struct hz_udp_sock *sock;
	size_t objects; /* live after set-up */
} fuzz_env;

/* Sets up the heap and the stack, once. */
static inline void fuzz_env_init(void)
{
	struct hz_ipstack_config c = {.addr = FUZZ_ADDR,
				      .prefix_len = 24,
				      .gateway = FUZZ_PEER,
				      .name = "fuzz",
				      .seed = 1};
	struct hz_sockaddr local = {0, FUZZ_PORT};
	struct hz_mem_stats st;

	if (fuzz_env.s != NULL)
		return;
	fuzz_heap_init(FUZZ_HEAP);
	fuzz_env.net.ops = &sink_ops;
	fuzz_env.net.mac = fuzz_mac;
	fuzz_env.net.mtu = 1500;
	if (hz_ipstack_create(&fuzz_env.net, &c, &fuzz_env.s) != 0 ||
	    hz_udp_open_on(fuzz_env.s, &local, &fuzz_env.sock) != 0)
		abort();
	hz_mem_stats(&st);
	fuzz_env.objects = st.live_objects;
}

/* Hands @len bytes of @frame to the stack as one received frame. */
static inline void fuzz_env_input(const uint8_t *frame, size_t len)
{
	struct hz_view v;

	if (len > 65535 || hz_pbuf_alloc(NULL, len, &v) != 0)
		return;
	memcpy(hz_view_data(&v), frame, len);
	hz_ipstack_input(fuzz_env.s, &v);
}

/* Writes an Ethernet header from the peer to us (or broadcast). */
static inline size_t fuzz_env_eth(uint8_t *p, uint16_t type, int broadcast)
{
	if (broadcast)
		memset(p, 0xff, HZ_ETH_ALEN);
	else
		memcpy(p, fuzz_mac.b, HZ_ETH_ALEN);
	memcpy(p + 6, fuzz_peer_mac.b, HZ_ETH_ALEN);
	hz_put16(p + 12, type);
	return HZ_ETH_HLEN;
}

/* Writes a valid IPv4 header for @len bytes of @proto to us. */
static inline size_t fuzz_env_ip(uint8_t *p, uint8_t proto, size_t len)
{
	memset(p, 0, HZ_IPV4_HLEN);
	p[0] = 0x45;
	hz_put16(p + 2, (uint16_t)(HZ_IPV4_HLEN + len));
	p[8] = 64;
	p[9] = proto;
	hz_put32(p + 12, FUZZ_PEER);
	hz_put32(p + 16, FUZZ_ADDR);
	hz_put16(p + 10, hz_inet_fold(hz_inet_sum(p, HZ_IPV4_HLEN, 0)));
	return HZ_IPV4_HLEN;
}

/*
 * Takes the flag byte that leads a harness's input into *@flags; false if
 * the input is empty.
 */
static inline bool fuzz_env_flags(const uint8_t **data, size_t *size,
				  uint8_t *flags)
{
	if (*size == 0)
		return false;
	*flags = (*data)[0];
	(*data)++;
	(*size)--;
	return true;
}

/*
 * Writes the Internet checksum of @len bytes at @p into its field at
 * @p + @at, as a sender would: @start is the pseudo-header's sum, or 0.
 */
static inline void fuzz_env_checksum(uint8_t *p, size_t len, size_t at,
				     uint32_t start)
{
	hz_put16(p + at, 0);
	hz_put16(p + at, hz_inet_fold(hz_inet_sum(p, len, start)));
}

/* Empties every layer and aborts if anything leaked. */
static inline void fuzz_env_reset(void)
{
	struct hz_udp_sock *u = fuzz_env.sock;
	struct hz_mem_stats st;

	while (u->qcount > 0) {
		hz_view_release(&u->q[u->qhead].v);
		u->qhead = (u->qhead + 1) % UDP_QUEUE_LEN;
		u->qcount--;
	}
	hz_arp_flush(fuzz_env.s);
	hz_reasm_flush(fuzz_env.s);
	hz_mem_stats(&st);
	if (hz_pbuf_live() != 0 || st.live_objects != fuzz_env.objects ||
	    fuzz_env.s->reasm_budget.used != 0)
		abort();
}

#endif
