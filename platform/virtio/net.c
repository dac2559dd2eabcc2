/*
 * virtio-net (virtio 1.2, 5.1) behind the platform API's net calls, on
 * any transport (mmio.c, pci.c).
 *
 * Binding (bind.c, docs/virtio.md): at boot the virtio-net devices, in
 * the order the transports found them, go to the names of `haze.net=A,B`
 * (haze-qemu writes it, in the order it attached them), or without it to
 * the manifest's net devices in manifest order. A required net device
 * left without one ends the boot with one line.
 * The handle of a net device is its index in the manifest, as on kvm.
 *
 * The device is set up when the application acquires it: features
 * VERSION_1, MAC, MTU and STATUS when offered, and the event index; no
 * offloads (so no checksum or TSO, and gso_max 0). Queue 0 receives,
 * queue 1 transmits, each of up to QUEUE_ENTRIES one-descriptor chains
 * over buffers carved from one run of pages. Every chain starts with the
 * 12-byte virtio-net header (VERSION_1: num_buffers included), all zero
 * on transmit. The receive queue is kept full: a buffer goes back as
 * soon as its frame is copied out. Transmit copies each frame of a batch
 * into a free buffer, makes the batch available and kicks once (which
 * the event index may spare); buffers the device is done with come back
 * at the next write. A spared kick is made up before the guest halts
 * (hz_virtio_net_rekick): under QEMU's TCG it can be lost (virtq.c).
 */
#include <stdint.h>
#include <string.h>

#include "haze/log.h"
#include "haze/manifest.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "bind.h"
#include "vdev.h"
#include "virtio.h"

#define NET_F_MTU (1ull << 3)
#define NET_F_MAC (1ull << 5)
#define NET_F_STATUS (1ull << 16)
#define NET_S_LINK_UP 1
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MTU 10
#define NET_HDR_LEN 12
#define ETH_HLEN 14
#define MTU_DEFAULT 1500
#define MTU_MIN 68
#define RXQ 0
#define TXQ 1
#define QUEUE_ENTRIES 256
#define BUF_SMALL 2048u
#define BUF_LARGE 4096u
#define NAMES_MAX 256

struct net_dev {
	struct hz_vdev *dev; /* NULL: unbound */
	const char *name;
	bool ready; /* queues set up, DRIVER_OK */
	int failed; /* a setup error, returned again on later tries */
	struct hz_virtq rx, tx;
	uint8_t *rx_mem, *tx_mem; /* queue size buffers of buf_size each */
	uint32_t buf_size;
	uint16_t *tx_free; /* free transmit buffers, a stack */
	uint16_t tx_free_count;
	struct hz_net_info info;
};

static HZ_LOG_SOURCE(log_net, "virtio-net");
static HZ_COUNTER(rx_too_big, "virtio-net", "rx_drop_too_big");
static HZ_COUNTER(rx_runt, "virtio-net", "rx_drop_runt");
static HZ_COUNTER(tx_full, "virtio-net", "tx_queue_full");

/* Indexed by the manifest's entry, which is the handle. */
static struct net_dev nets[HZ_MANIFEST_MAX];
/* The haze.net= option. */
static struct hz_virtio_names bind_opt;

bool hz_virtio_net_option(const char *value)
{
	return hz_virtio_names_option(&bind_opt, value,
				      "haze: haze.net=: too long\n");
}

void hz_virtio_net_bind(void)
{
	struct hz_vdev *found[HZ_VDEV_MAX], *bound[HZ_MANIFEST_MAX];
	unsigned n = 0;

	for (struct hz_vdev *d; (d = hz_vdev_claim(HZ_VDEV_NET)) != NULL;)
		found[n++] = d;
	hz_virtio_bind_found(HZ_DEVICE_KIND_NET, &bind_opt, found, n, bound);
	for (unsigned i = 0; i < HZ_MANIFEST_MAX; i++) {
		nets[i].dev = bound[i];
		nets[i].name = hz_manifest.entries[i].name;
	}
}

/* A MAC address of our own, locally administered, for a device that
 * offers none. */
static void invent_mac(uint8_t mac[6])
{
	uint64_t t = hz_virtio_rdtsc() * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(t >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

/* Puts receive buffer @i (its cookie is i + 1) back in the queue. */
static int rx_give(struct net_dev *nd, uint16_t i)
{
	struct hz_virtq_buf b = {nd->rx_mem + (size_t)i * nd->buf_size,
				 nd->buf_size, true};

	return hz_virtq_add(&nd->rx, &b, 1, (void *)(uintptr_t)(i + 1u));
}

/* Negotiates, reads the configuration and sets up both queues. */
static int net_setup(struct net_dev *nd)
{
	struct hz_vdev *d = nd->dev;
	uint64_t got;
	size_t bytes;
	int rc;

	rc = hz_vdev_negotiate(
	    d, NET_F_MAC | NET_F_MTU | NET_F_STATUS | HZ_VDEV_F_RING_EVENT_IDX,
	    &got);
	if (rc < 0) {
		HZ_ERROR(&log_net, "%s (%s): the device refused virtio 1.x",
			 nd->name, d->where);
		return rc;
	}
	if (got & NET_F_MAC)
		for (unsigned i = 0; i < 6; i++)
			nd->info.mac[i] =
			    (uint8_t)d->ops->config_read(d, CFG_MAC + i, 1);
	else
		invent_mac(nd->info.mac);
	nd->info.mtu = MTU_DEFAULT;
	if (got & NET_F_MTU) {
		uint32_t mtu = d->ops->config_read(d, CFG_MTU, 2);
		if (mtu >= MTU_MIN)
			nd->info.mtu = (uint16_t)mtu;
	}
	if (nd->info.mtu > BUF_LARGE - NET_HDR_LEN - ETH_HLEN)
		nd->info.mtu = BUF_LARGE - NET_HDR_LEN - ETH_HLEN;
	nd->info.gso_max = 0;
	nd->buf_size = nd->info.mtu + NET_HDR_LEN + ETH_HLEN <= (int)BUF_SMALL
			   ? BUF_SMALL
			   : BUF_LARGE;
	bool event_idx = (got & HZ_VDEV_F_RING_EVENT_IDX) != 0;
	rc = hz_virtq_init(&nd->rx, d, RXQ, QUEUE_ENTRIES, event_idx);
	if (rc == 0)
		rc = hz_virtq_init(&nd->tx, d, TXQ, QUEUE_ENTRIES, event_idx);
	if (rc < 0)
		goto failed;
	bytes = (size_t)nd->rx.size * nd->buf_size;
	nd->rx_mem = hz_pages_alloc(hz_pages_order(bytes));
	bytes = (size_t)nd->tx.size * nd->buf_size;
	nd->tx_mem = hz_pages_alloc(hz_pages_order(bytes));
	nd->tx_free = hz_calloc(nd->tx.size, sizeof(*nd->tx_free));
	if (!nd->rx_mem || !nd->tx_mem || !nd->tx_free) {
		rc = -HZ_ENOMEM;
		goto failed;
	}
	for (uint16_t i = 0; i < nd->tx.size; i++)
		nd->tx_free[i] = i;
	nd->tx_free_count = nd->tx.size;
	for (uint16_t i = 0; i < nd->rx.size; i++)
		if (rx_give(nd, i) < 0)
			break; /* cannot happen: as many buffers as entries */
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE | HZ_VDEV_S_DRIVER |
				  HZ_VDEV_S_FEATURES_OK | HZ_VDEV_S_DRIVER_OK);
	hz_virtq_kick(&nd->rx);
	nd->ready = true;
	HZ_INFO(&log_net,
		"%s: %s, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, "
		"queues %u/%u%s%s",
		nd->name, d->where, nd->info.mac[0], nd->info.mac[1],
		nd->info.mac[2], nd->info.mac[3], nd->info.mac[4],
		nd->info.mac[5], nd->info.mtu, nd->rx.size, nd->tx.size,
		event_idx ? ", event index" : "",
		(got & NET_F_STATUS) &&
			!(d->ops->config_read(d, CFG_STATUS, 2) & NET_S_LINK_UP)
		    ? ", link down"
		    : "");
	return 0;
failed:
	HZ_ERROR(&log_net, "%s (%s): setting up the queues failed: %s",
		 nd->name, d->where, hz_strerror(rc));
	d->ops->set_status(d, HZ_VDEV_S_FAILED);
	return rc == -HZ_ENOMEM ? rc : -HZ_EIO;
}

int hz_platform_net_acquire(const char *name, hz_handle_t *h,
			    struct hz_net_info *info)
{
	int i = hz_virtio_manifest_find(&hz_manifest, HZ_DEVICE_KIND_NET, name,
					strnlen(name, HZ_DEVICE_NAME_MAX + 1));
	struct net_dev *nd;

	if (i < 0 || nets[i].dev == NULL)
		return -HZ_ENOENT;
	nd = &nets[i];
	if (!nd->ready) {
		if (nd->failed)
			return nd->failed;
		int rc = net_setup(nd);
		if (rc < 0) {
			nd->failed = rc;
			return rc;
		}
	}
	*h = i;
	*info = nd->info;
	return 0;
}

/* The set-up net device of handle @h, or NULL. */
static struct net_dev *net_get(hz_handle_t h)
{
	if (h < 0 || h >= HZ_MANIFEST_MAX || !nets[h].ready)
		return NULL;
	return &nets[h];
}

int hz_platform_net_read(hz_handle_t h, struct hz_frame *frames, size_t n)
{
	struct net_dev *nd = net_get(h);
	size_t got = 0;
	bool given = false;

	if (nd == NULL || n == 0)
		return -HZ_EINVAL;
	while (got < n) {
		uint32_t len;
		void *c = hz_virtq_get(&nd->rx, &len);
		uint16_t i;
		uint8_t *b;

		if (c == NULL)
			break;
		i = (uint16_t)((uintptr_t)c - 1);
		b = nd->rx_mem + (size_t)i * nd->buf_size;
		if (len < NET_HDR_LEN + ETH_HLEN || len > nd->buf_size) {
			hz_counter_inc(&rx_runt);
		} else if (len - NET_HDR_LEN > frames[got].cap) {
			hz_counter_inc(&rx_too_big);
		} else {
			memcpy(frames[got].buf, b + NET_HDR_LEN,
			       len - NET_HDR_LEN);
			frames[got].len = len - NET_HDR_LEN;
			got++;
		}
		/* Just taken back, so there is room for it. */
		if (rx_give(nd, i) == 0)
			given = true;
	}
	if (given)
		hz_virtq_kick(&nd->rx);
	return got ? (int)got : -HZ_EAGAIN;
}

/* Takes back the transmit buffers the device is done with. */
static void tx_reclaim(struct net_dev *nd)
{
	uint32_t len;
	void *c;

	while ((c = hz_virtq_get(&nd->tx, &len)) != NULL)
		nd->tx_free[nd->tx_free_count++] = (uint16_t)((uintptr_t)c - 1);
}

int hz_platform_net_write(hz_handle_t h, const struct hz_frame *frames,
			  size_t n)
{
	struct net_dev *nd = net_get(h);
	size_t sent = 0;

	if (nd == NULL)
		return -HZ_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (frames[i].gso_size != 0)
			return -HZ_EINVAL;
		if (frames[i].len > (size_t)nd->info.mtu + ETH_HLEN)
			return -HZ_EMSGSIZE;
	}
	tx_reclaim(nd);
	for (; sent < n && nd->tx_free_count > 0; sent++) {
		uint16_t i = nd->tx_free[--nd->tx_free_count];
		uint8_t *b = nd->tx_mem + (size_t)i * nd->buf_size;
		struct hz_virtq_buf vb = {
		    b, (uint32_t)(NET_HDR_LEN + frames[sent].len), false};

		memset(b, 0, NET_HDR_LEN);
		memcpy(b + NET_HDR_LEN, frames[sent].buf, frames[sent].len);
		if (hz_virtq_add(&nd->tx, &vb, 1, (void *)(uintptr_t)(i + 1u)) <
		    0) {
			nd->tx_free_count++; /* a broken device (virtq.c) */
			break;
		}
	}
	if (sent > 0)
		hz_virtq_kick(&nd->tx);
	if (sent < n)
		hz_counter_inc(&tx_full);
	return (int)sent;
}

hz_ready_set_t hz_virtio_net_ready(hz_ready_set_t interest)
{
	hz_ready_set_t ready = 0;

	for (int h = 0; h < HZ_MANIFEST_MAX; h++)
		if ((interest >> h & 1) && nets[h].ready &&
		    hz_virtq_pending(&nets[h].rx))
			ready |= (hz_ready_set_t)1 << h;
	return ready;
}

hz_ready_set_t hz_virtio_net_want_irq(hz_ready_set_t interest, bool on)
{
	hz_ready_set_t ready = 0;

	for (int h = 0; h < HZ_MANIFEST_MAX; h++)
		if ((interest >> h & 1) && nets[h].ready &&
		    nets[h].dev->vector != 0 &&
		    hz_virtq_want_irq(&nets[h].rx, on))
			ready |= (hz_ready_set_t)1 << h;
	return ready;
}

void hz_virtio_net_rekick(void)
{
	for (int h = 0; h < HZ_MANIFEST_MAX; h++) {
		if (nets[h].ready) {
			hz_virtq_rekick(&nets[h].rx);
			hz_virtq_rekick(&nets[h].tx);
		}
	}
}
