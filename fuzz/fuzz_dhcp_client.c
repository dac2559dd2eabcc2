/*
 * libFuzzer harness for the DHCP client's state machine (src/net/dhcp.c;
 * fuzz_dhcp.c covers the parser). Each input runs, inside the event loop,
 * a fresh stack configured by DHCP over a NET that swallows what it
 * sends. The stack's seed is fixed, so the first transaction id is too
 * (FIRST_XID). The input is a list of records:
 *
 *   u8 ctl, u16 len (big-endian), len bytes of DHCP message
 *
 * each sent from the server 10.0.0.1:67 to the client's port 68, then
 * the client's fibers run.
 *
 * ctl bit 0: put in the client's current xid and MAC (else as given), so
 *            that replies to later transactions (renewals) are reachable
 *     bit 1: to the client's address if it has one (else broadcast)
 *     bit 2: afterwards, fire every timer as if a day had passed: the
 *            client retransmits, or moves from BOUND to RENEWING at T1
 *            (the clock itself is real: a lease of 1 s reaches
 *            REBINDING at once, its T2 being 0)
 *
 * After each input the stack is destroyed; a leaked pbuf, object or
 * timer aborts.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "fuzz/fuzz_heap.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "net/ipstack_impl.h"

#define FUZZ_HEAP (64u << 20)
#define SERVER HZ_IPV4(10, 0, 0, 1)
#define FIRST_XID 0x12278575u /* of the first DISCOVER, from .seed = 1 */

#define CTL_FIX_XID 1
#define CTL_UNICAST 2
#define CTL_TIMERS 4

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct hz_mac client_mac = {{0x02, 0, 0, 0, 0, 1}};
static const struct hz_mac server_mac = {{0x02, 0, 0, 0, 0, 2}};

static struct {
	bool ready;
	size_t objects; /* live after set-up */
	struct hz_net net;
	struct hz_waitq rx; /* the stack's receive fiber parks here */
	const uint8_t *data;
	size_t size;
} F;

/* Frames come in through hz_ipstack_input, never from the NET. */
static int quiet_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	(void)n;
	(void)out;
	(void)max;
	return -HZ_EAGAIN;
}

static int sink_write(struct hz_net *n, struct hz_view *frames, size_t count)
{
	(void)n;
	for (size_t i = 0; i < count; i++)
		hz_view_release(&frames[i]);
	return (int)count;
}

/* Parks (never spins): the loop must let the other fibers run. */
static int quiet_wait(struct hz_net *n, uint64_t deadline)
{
	(void)n;
	return hz_waitq_wait(&F.rx, deadline);
}

static const char *quiet_error(const struct hz_net *n)
{
	(void)n;
	return "fuzz";
}

static void quiet_wake(struct hz_net *n)
{
	(void)n;
	hz_waitq_wake_all(&F.rx);
}

static const struct hz_net_ops quiet_ops = {quiet_read, sink_write, quiet_wait,
					    quiet_error, quiet_wake};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hz_mem_stats st;
	const char *why;

	(void)argc;
	(void)argv;
	fuzz_heap_init(FUZZ_HEAP);
	/* Not a line per lease. */
	if (hz_log_configure("ipstack:warn,dhcp:warn", &why) != 0)
		abort();
	F.net.ops = &quiet_ops;
	F.net.mac = client_mac;
	F.net.mtu = 1500;
	hz_mem_stats(&st);
	F.objects = st.live_objects;
	F.ready = true;
	return 0;
}

/* Sends @len bytes of DHCP message from the server to the client. */
static void deliver(struct hz_ipstack *s, uint8_t ctl, const uint8_t *msg,
		    size_t len)
{
	bool unicast = (ctl & CTL_UNICAST) && s->configured;
	size_t ulen = HZ_UDP_HLEN + len;
	struct hz_view v;
	uint8_t *p, *ip, *u;

	if (hz_pbuf_alloc(NULL, HZ_ETH_HLEN + HZ_IPV4_HLEN + ulen, &v) != 0)
		return;
	p = hz_view_data(&v);
	if (unicast)
		memcpy(p, client_mac.b, HZ_ETH_ALEN);
	else
		memset(p, 0xff, HZ_ETH_ALEN);
	memcpy(p + 6, server_mac.b, HZ_ETH_ALEN);
	hz_put16(p + 12, HZ_ETHERTYPE_IPV4);
	ip = p + HZ_ETH_HLEN;
	memset(ip, 0, HZ_IPV4_HLEN);
	ip[0] = 0x45;
	hz_put16(ip + 2, (uint16_t)(HZ_IPV4_HLEN + ulen));
	ip[8] = 64;
	ip[9] = HZ_IPPROTO_UDP;
	hz_put32(ip + 12, SERVER);
	hz_put32(ip + 16, unicast ? s->addr : HZ_IPV4_BROADCAST);
	hz_put16(ip + 10, hz_inet_fold(hz_inet_sum(ip, HZ_IPV4_HLEN, 0)));
	u = ip + HZ_IPV4_HLEN;
	hz_put16(u, 67);
	hz_put16(u + 2, 68);
	hz_put16(u + 4, (uint16_t)ulen);
	hz_put16(u + 6, 0); /* no checksum */
	memcpy(u + HZ_UDP_HLEN, msg, len);
	if ((ctl & CTL_FIX_XID) && len >= 28 + HZ_ETH_ALEN) {
		hz_put32(u + HZ_UDP_HLEN + 4, s->dhcp.xid);
		memcpy(u + HZ_UDP_HLEN + 28, client_mac.b, HZ_ETH_ALEN);
	}
	hz_ipstack_input(s, &v);
}

/* Lets every fiber that a message or a timer woke run to its next wait. */
static void settle(void)
{
	for (int i = 0; i < 4; i++)
		hz_fiber_yield();
}

/*
 * Fires every timer due within a day. A run stops at a timer that one of
 * its callbacks armed (an ARP retry a second from now), which would hide
 * the later ones (T1) behind it: run again, a bounded number of times.
 * The fibers do not run in between, so each gets one timeout at most.
 */
static void fire_timers(void)
{
	uint64_t until = hz_now() + 86400 * HZ_NS_PER_S;

	for (int i = 0; i < 32; i++)
		if (hz_timers_run(until) == 0)
			break;
}

static int run(void *arg)
{
	struct hz_ipstack_config c = {.dhcp = true, .name = "fuzz", .seed = 1};
	const uint8_t *data = F.data;
	size_t size = F.size;
	struct hz_ipstack *s;

	(void)arg;
	if (hz_ipstack_create(&F.net, &c, &s) != 0)
		abort();
	settle(); /* the first DISCOVER */
	/* The seeds' xid: if this fails, the stack draws randomness
	 * differently and FIRST_XID and the seeds need updating. */
	if (s->dhcp.xid != FIRST_XID)
		abort();
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = hz_get16(data + 1);

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 1400)
			len = 1400;
		deliver(s, ctl, data, len);
		data += len;
		size -= len;
		settle();
		if (ctl & CTL_TIMERS) {
			fire_timers();
			settle();
		}
	}
	/* The receive fiber sees the stack stopping when it next runs. */
	hz_waitq_wake_all(&F.rx);
	hz_ipstack_destroy(s);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hz_mem_stats st;

	if (!F.ready)
		LLVMFuzzerInitialize(NULL, NULL);
	F.data = data;
	F.size = size;
	if (hz_sched_run(run, NULL) != 0)
		abort();
	hz_mem_stats(&st);
	if (hz_pbuf_live() != 0 || st.live_objects != F.objects ||
	    hz_timers_next() != HZ_DEADLINE_NEVER)
		abort();
	return 0;
}
