/*
 * Ethernet II: input demultiplexes by EtherType after checking the frame
 * is for us; output pushes the 14-byte header into the view's headroom
 * and pads short frames to the 60-byte minimum.
 */
#include <string.h>

#include "net/ipstack_impl.h"

HZ_COUNTER(eth_drop_short, "eth", "drop_short");
HZ_COUNTER(eth_drop_not_ours, "eth", "drop_not_ours");
HZ_COUNTER(eth_drop_type, "eth", "drop_unknown_type");
HZ_COUNTER(eth_drop_own_source, "eth", "drop_own_source");
HZ_COUNTER(eth_tx_fail, "eth", "tx_fail");

static const struct hz_mac broadcast_mac = {
    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

static bool is_broadcast(const uint8_t *mac)
{
	return memcmp(mac, broadcast_mac.b, HZ_ETH_ALEN) == 0;
}

void hz_eth_input(struct hz_ipstack *s, struct hz_view *frame)
{
	const uint8_t *h;
	bool bcast;
	uint16_t type;

	if (frame->len < HZ_ETH_HLEN) {
		hz_ipstack_drop(s, &eth_drop_short);
		goto release;
	}
	h = hz_view_data(frame);
	bcast = is_broadcast(h);
	/* Multicast is not joined, so it is not ours either. */
	if (!bcast && memcmp(h, s->net->mac.b, HZ_ETH_ALEN) != 0) {
		hz_ipstack_drop(s, &eth_drop_not_ours);
		goto release;
	}
	if (memcmp(h + 6, s->net->mac.b, HZ_ETH_ALEN) == 0) {
		hz_ipstack_drop(s, &eth_drop_own_source);
		goto release;
	}
	type = hz_get16(h + 12);
	if (hz_view_pull(frame, HZ_ETH_HLEN) < 0) {
		hz_ipstack_drop(s, &eth_drop_short); /* checked above */
		goto release;
	}
	switch (type) {
	case HZ_ETHERTYPE_IPV4:
		hz_ipv4_input(s, frame, bcast);
		return;
	case HZ_ETHERTYPE_ARP:
		hz_arp_input(s, frame);
		return;
	default:
		hz_ipstack_drop(s, &eth_drop_type);
		goto release;
	}
release:
	hz_view_release(frame);
}

/* Zero-fills a short frame up to the Ethernet minimum, room permitting. */
static void pad_frame(struct hz_view *v)
{
	size_t room = v->pb->cap - v->off;

	if (v->len >= HZ_ETH_MIN_FRAME || room < HZ_ETH_MIN_FRAME)
		return;
	memset(hz_view_data(v) + v->len, 0, HZ_ETH_MIN_FRAME - v->len);
	v->len = HZ_ETH_MIN_FRAME;
}

int hz_eth_output(struct hz_ipstack *s, const struct hz_mac *dst, uint16_t type,
		  struct hz_view *pkt)
{
	uint8_t *h;
	int r;

	if (dst == NULL)
		dst = &broadcast_mac;
	r = hz_view_push(pkt, HZ_ETH_HLEN);
	if (r < 0) {
		hz_view_release(pkt);
		hz_ipstack_tx_drop(s, &eth_tx_fail);
		return r;
	}
	h = hz_view_data(pkt);
	memcpy(h, dst->b, HZ_ETH_ALEN);
	memcpy(h + 6, s->net->mac.b, HZ_ETH_ALEN);
	hz_put16(h + 12, type);
	pad_frame(pkt);
	if (s->batching) {
		if (s->ntx == HZ_IPSTACK_TX_BATCH)
			hz_eth_flush(s);
		s->txq[s->ntx++] = *pkt;
		*pkt = (struct hz_view){0};
		return 0;
	}
	r = hz_net_write(s->net, pkt, 1);
	if (r < 0 || r == 0) {
		hz_ipstack_tx_drop(s, &eth_tx_fail);
		return r < 0 ? r : -HZ_EAGAIN;
	}
	s->stats.tx_frames++;
	return 0;
}

void hz_eth_flush(struct hz_ipstack *s)
{
	size_t n = s->ntx;
	int r;

	if (n == 0)
		return;
	s->ntx = 0;
	r = hz_net_write(s->net, s->txq, n);
	for (size_t i = r > 0 ? (size_t)r : 0; i < n; i++)
		hz_ipstack_tx_drop(s, &eth_tx_fail);
	if (r > 0)
		s->stats.tx_frames += (uint64_t)r;
}
