/*
 * libFuzzer harness for TCP input (src/net/tcp*.c). Each input runs on a
 * fresh TCP (10.0.0.1) with a listener on port 80 (backlog 2, so SYN
 * cookies come into play) and one established connection from
 * 10.0.0.2:4000, made by a real handshake. The first input byte chooses
 * what the peer's SYN offers, so that PAWS, SACK and window scaling are
 * reachable:
 *
 *   bit 0: MSS (bit 4: 200 bytes, else 1460)
 *   bit 1: window scale, the shift in bits 5-7
 *   bit 2: SACK permitted
 *   bit 3: timestamps (the peer's clock starts at PEER_TS0)
 *
 * The rest is a list of records:
 *
 *   u8 ctl, u16 len (big-endian), len bytes of TCP segment
 *
 * ctl bit 0: from the established peer (else from 10.0.0.<len & 255>)
 *     bit 1: fill in a correct checksum (else the bytes as given)
 *     bit 2: sequence and ack numbers relative to the connection's
 *            (so that segments land in the window); so are SACK block
 *            edges (relative to our ISS + 1) and a timestamp echo
 *            (relative to our latest timestamp)
 *     bit 3: afterwards, fire every timer as if a minute had passed
 *     bit 4: afterwards, the application reads, writes or shuts down
 *     bit 5: afterwards, the application closes the connection
 *
 * After each input everything is freed; a leaked pbuf or object aborts.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz/fuzz_heap.h"
#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/sched.h"
#include "net/tcp.h"

#define FUZZ_HEAP (64u << 20)
#define US HZ_IPV4(10, 0, 0, 1)
#define PEER HZ_IPV4(10, 0, 0, 2)
#define PEER_PORT 4000
#define PEER_TS0 1000000u

/* The handshake's choices (the first input byte). */
#define HS_MSS 0x01
#define HS_WS 0x02
#define HS_SACK 0x04
#define HS_TS 0x08
#define HS_SMALL_MSS 0x10

static struct {
	bool ready;
	size_t objects; /* live after set-up */
	uint32_t iss;	/* of the established connection */
	bool got_iss;
	uint32_t ts_last; /* our latest timestamp to the peer */
} F;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Finds option @kind of length @olen in the @len-byte segment @h; its
 * offset, or 0 if absent or the options are malformed.
 */
static size_t find_option(const uint8_t *h, size_t len, uint8_t kind,
			  uint8_t olen)
{
	size_t off = (size_t)(h[12] >> 4) * 4, i = 20;

	if (len < 20 || off > len)
		return 0;
	while (i < off) {
		if (h[i] == 0)
			return 0;
		if (h[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= off || h[i + 1] < 2 || h[i + 1] > off - i)
			return 0;
		if (h[i] == kind && (olen == 0 || h[i + 1] == olen))
			return i;
		i += h[i + 1];
	}
	return 0;
}

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
	if (dst == PEER) {
		size_t ts = find_option(h, seg->len, 8, 10);

		if (ts != 0)
			F.ts_last = hz_get32(h + ts + 2);
	}
	hz_view_release(seg);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hz_mem_stats st;

	(void)argc;
	(void)argv;
	fuzz_heap_init(FUZZ_HEAP);
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

/*
 * A segment from the peer for the set-up handshake, with the options
 * @hs asks for (all of them on the SYN, timestamps on the rest).
 */
static void handshake_seg(struct hz_tcp *t, uint8_t hs, uint8_t flags,
			  uint32_t seq, uint32_t ack)
{
	uint8_t h[44] = {0}; /* 20 + MSS 4, WS 4, SACK 4, TS 12 */
	size_t n = 20;

	hz_put16(h, PEER_PORT);
	hz_put16(h + 2, 80);
	hz_put32(h + 4, seq);
	hz_put32(h + 8, ack);
	h[13] = flags;
	hz_put16(h + 14, 65535);
	if ((flags & 0x02) && (hs & HS_MSS)) {
		h[n] = 2;
		h[n + 1] = 4;
		hz_put16(h + n + 2, (hs & HS_SMALL_MSS) ? 200 : 1460);
		n += 4;
	}
	if ((flags & 0x02) && (hs & HS_WS)) {
		h[n] = 1;
		h[n + 1] = 3;
		h[n + 2] = 3;
		h[n + 3] = hs >> 5;
		n += 4;
	}
	if ((flags & 0x02) && (hs & HS_SACK)) {
		h[n] = 1;
		h[n + 1] = 1;
		h[n + 2] = 4;
		h[n + 3] = 2;
		n += 4;
	}
	if (hs & HS_TS) {
		h[n] = 1;
		h[n + 1] = 1;
		h[n + 2] = 8;
		h[n + 3] = 10;
		hz_put32(h + n + 4, PEER_TS0);
		hz_put32(h + n + 8, (flags & 0x02) ? 0 : F.ts_last);
		n += 12;
	}
	h[12] = (uint8_t)(n / 4 << 4);
	input(t, PEER, h, n, true);
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

/* Bit 2 for options: SACK edges and the timestamp echo made absolute. */
static void relative_options(uint8_t *seg, size_t len)
{
	size_t sack = find_option(seg, len, 5, 0);
	size_t ts = find_option(seg, len, 8, 10);

	if (sack != 0) {
		for (size_t i = 2; i + 4 <= seg[sack + 1]; i += 4)
			hz_put32(seg + sack + i,
				 hz_get32(seg + sack + i) + F.iss + 1);
	}
	if (ts != 0)
		hz_put32(seg + ts + 6, hz_get32(seg + ts + 6) + F.ts_last);
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
			relative_options(seg, len);
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
	uint8_t hs;

	if (!F.ready)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size == 0)
		return 0;
	hs = data[0];
	data++;
	size--;
	memset(env.secret, 0x5a, sizeof(env.secret));
	if (hz_tcp_create(&env, &t) != 0)
		abort();
	if (hz_tcp_listen_on(t, &la, 2, &l) != 0)
		abort();
	F.got_iss = false;
	F.ts_last = 0;
	handshake_seg(t, hs, 0x02, 1000, 0);
	if (F.got_iss)
		handshake_seg(t, hs, 0x10, 1001, F.iss + 1);
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
