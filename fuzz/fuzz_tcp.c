/*
 * libFuzzer harness for TCP input (src/net/tcp*.c). Each input runs on a
 * fresh TCP (10.0.0.1) with a listener on port 80 (backlog 2, so SYN
 * cookies come into play) and one established connection from
 * 10.0.0.2:4000, made by a real handshake. The input is a list of
 * records:
 *
 *   u8 ctl, u16 len (big-endian), len bytes of TCP segment
 *
 * ctl bit 0: from the established peer (else from 10.0.0.<len & 255>)
 *     bit 1: fill in a correct checksum (else the bytes as given)
 *     bit 2: sequence and ack numbers relative to the connection's
 *            (so that segments land in the window)
 *     bit 3: afterwards, fire every timer as if a minute had passed
 *     bit 4: afterwards, the application reads, writes or shuts down
 *     bit 5: afterwards, the application closes the connection
 *
 * After each input everything is freed; a leaked pbuf or object aborts.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/sched.h"
#include "net/tcp.h"

#define FUZZ_HEAP (64u << 20)
#define US HZ_IPV4(10, 0, 0, 1)
#define PEER HZ_IPV4(10, 0, 0, 2)
#define PEER_PORT 4000

static struct {
	bool ready;
	size_t objects; /* live after set-up */
	uint32_t iss;	/* of the established connection */
	bool got_iss;
} F;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, hz_ipv4_t src, hz_ipv4_t dst, struct hz_view *seg)
{
	const uint8_t *h = hz_view_data(seg);

	(void)ctx;
	(void)src;
	/* Remember the ISS of our SYN-ACK to the peer. */
	if (dst == PEER && seg->len >= 20 && (h[13] & 0x12) == 0x12 &&
	    !F.got_iss) {
		F.iss = hz_get32(h + 4);
		F.got_iss = true;
	}
	hz_view_release(seg);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	void *heap;
	struct hz_mem_stats st;

	(void)argc;
	(void)argv;
	heap = mmap(NULL, FUZZ_HEAP, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (heap == MAP_FAILED || hz_mem_init((uintptr_t)heap, FUZZ_HEAP) != 0)
		abort();
	hz_mem_stats(&st);
	F.objects = st.live_objects;
	F.ready = true;
	return 0;
}

/* Hands @len bytes to @t as a segment from @src. */
static void input(struct hz_tcp *t, hz_ipv4_t src, const uint8_t *p, size_t len,
		  bool fix_sum)
{
	struct hz_ip_meta ip = {.src = src, .dst = US, .proto = 6, .ttl = 64};
	struct hz_view v;

	if (len > 65535 || hz_pbuf_alloc(NULL, len, &v) != 0)
		return;
	memcpy(hz_view_data(&v), p, len);
	if (fix_sum && len >= 20) {
		uint8_t *h = hz_view_data(&v);
		uint32_t sum = hz_inet_pseudo_sum(src, US, 6, (uint16_t)len);

		hz_put16(h + 16, 0);
		hz_put16(h + 16, hz_inet_fold(hz_inet_sum(h, len, sum)));
	}
	hz_tcp_input(t, &ip, &v);
}

/* A minimal segment from the peer, for the set-up handshake. */
static void handshake_seg(struct hz_tcp *t, uint8_t flags, uint32_t seq,
			  uint32_t ack)
{
	uint8_t h[20] = {0};

	hz_put16(h, PEER_PORT);
	hz_put16(h + 2, 80);
	hz_put32(h + 4, seq);
	hz_put32(h + 8, ack);
	h[12] = 5 << 4;
	h[13] = flags;
	hz_put16(h + 14, 65535);
	input(t, PEER, h, sizeof(h), true);
}

/* What the application does between segments. */
static void app_action(struct hz_flow **f, uint8_t how)
{
	static const char msg[3000] = {'x'};
	struct hz_view v;

	if (*f == NULL)
		return;
	switch (how % 3) {
	case 0:
		if (hz_flow_read(*f, &v, 0) > 0)
			hz_view_release(&v);
		break;
	case 1:
		if (hz_flow_write(*f, msg, 1 + how * 11u % sizeof(msg), 0) < 0)
			break;
		break;
	default:
		if (hz_flow_shutdown(*f) != 0)
			break;
		break;
	}
}

static void run_records(struct hz_tcp *t, struct hz_flow **f,
			const uint8_t *data, size_t size)
{
	uint8_t seg[65535];

	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = hz_get16(data + 1);
		hz_ipv4_t src = (ctl & 1) ? PEER : HZ_IPV4(10, 0, 0, len & 255);

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		memcpy(seg, data, len);
		data += len;
		size -= len;
		if ((ctl & 4) && len >= 12) {
			hz_put32(seg + 4, hz_get32(seg + 4) + 1001);
			hz_put32(seg + 8, hz_get32(seg + 8) + F.iss + 1);
		}
		input(t, src, seg, len, (ctl & 2) != 0);
		if (ctl & 8)
			hz_timers_run(hz_now() + 60 * HZ_NS_PER_S);
		if (ctl & 16)
			app_action(f, (uint8_t)(ctl >> 5 | len));
		if ((ctl & 32) && *f != NULL)
			hz_flow_close(*f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hz_tcp_env env = {.output = sink, .local = US, .mtu = 1500};
	struct hz_sockaddr la = {0, 80};
	struct hz_listener *l;
	struct hz_tcp *t;
	struct hz_flow *f = NULL;
	struct hz_mem_stats st;

	if (!F.ready)
		LLVMFuzzerInitialize(NULL, NULL);
	memset(env.secret, 0x5a, sizeof(env.secret));
	if (hz_tcp_create(&env, &t) != 0)
		abort();
	if (hz_tcp_listen_on(t, &la, 2, &l) != 0)
		abort();
	F.got_iss = false;
	handshake_seg(t, 0x02, 1000, 0);
	if (F.got_iss)
		handshake_seg(t, 0x10, 1001, F.iss + 1);
	if (hz_tcp_accept_on(l, 0, &f) != 0)
		f = NULL;

	run_records(t, &f, data, size);

	if (f != NULL)
		hz_flow_free(f);
	hz_tcp_unlisten_on(l);
	hz_tcp_destroy(t);
	hz_mem_stats(&st);
	if (hz_pbuf_live() != 0 || st.live_objects != F.objects ||
	    hz_timers_next() != HZ_DEADLINE_NEVER)
		abort();
	return 0;
}
