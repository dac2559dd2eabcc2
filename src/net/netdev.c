/*
 * The platform NIC as a NET (hz_netdev_open in haze/net.h). Reads are
 * batched into spare pbufs the device keeps ready, so a received frame is
 * written by the host straight into the pbuf that carries it up the stack
 * (zero copy); writes hand the host a batch of frame descriptors pointing
 * into the views' pbufs.
 *
 * Frames written during a round of fibers wait in a small queue that is
 * sent in one call when it fills or when the round ends (hz_defer): a
 * stack that answers a burst, or a TCP that sends a window, costs one host
 * call (one VM exit under haze-kvm) per batch rather than per frame.
 */
#include <stddef.h>
#include <string.h>

#include "haze/log.h"
#include "haze/mem.h"
#include "haze/net.h"
#include "haze/platform.h"
#include "haze/sched.h"

#define NETDEV_BATCH 32

struct netdev {
	struct hz_net net; /* first: the device is a NET */
	hz_handle_t handle;
	struct hz_budget *budget;
	struct hz_view spare[NETDEV_BATCH]; /* receive buffers, ready */
	struct hz_view txq[NETDEV_BATCH];   /* frames waiting to be sent */
	size_t ntx;
	struct hz_defer flush; /* sends txq when the round ends */
	struct hz_errmsg err;
	char name[HZ_DEVICE_NAME_MAX];
};

HZ_LOG_SOURCE(netdev_log, "netdev");
HZ_COUNTER(rx_nomem, "netdev", "rx_drop_nomem");
HZ_COUNTER(tx_full, "netdev", "tx_drop_host_full");
HZ_COUNTER(tx_error, "netdev", "tx_drop_error");

/* Makes sure the first @n spares hold a buffer; returns how many do. */
static size_t fill_spares(struct netdev *d, size_t n)
{
	size_t frame = (size_t)d->net.mtu + HZ_ETH_HLEN;

	for (size_t i = 0; i < n; i++) {
		if (d->spare[i].pb != NULL)
			continue;
		if (hz_pbuf_alloc(d->budget, frame, &d->spare[i]) < 0) {
			hz_counter_inc(&rx_nomem);
			return i;
		}
	}
	return n;
}

static int netdev_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	struct netdev *d = (struct netdev *)n;
	struct hz_frame f[NETDEV_BATCH];
	size_t ready;
	int got;

	if (max > NETDEV_BATCH)
		max = NETDEV_BATCH;
	ready = fill_spares(d, max);
	if (ready == 0)
		return -HZ_ENOMEM;
	for (size_t i = 0; i < ready; i++)
		f[i] = (struct hz_frame){hz_view_data(&d->spare[i]),
					 d->spare[i].len, 0, 0};
	got = hz_platform_net_read(d->handle, f, ready);
	if (got < 0)
		return got == -HZ_EAGAIN
			   ? got
			   : hz_errmsg_set(&d->err, got, "net %s: read: %s",
					   d->name, hz_strerror(got));
	for (int i = 0; i < got; i++) {
		out[i] = d->spare[i];
		out[i].len = (uint32_t)f[i].len;
	}
	/* Shift the unused spares to the front. */
	memmove(d->spare, d->spare + got,
		(NETDEV_BATCH - (size_t)got) * sizeof(d->spare[0]));
	memset(d->spare + NETDEV_BATCH - got, 0,
	       (size_t)got * sizeof(d->spare[0]));
	return got;
}

/* Writes one batch of at most NETDEV_BATCH views, releasing them. */
static int write_batch(struct netdev *d, struct hz_view *v, size_t count)
{
	struct hz_frame f[NETDEV_BATCH] = {0};
	int sent;

	for (size_t i = 0; i < count; i++)
		f[i] = (struct hz_frame){hz_view_data(&v[i]), 0, v[i].len,
					 v[i].pb->gso_size};
	sent = hz_platform_net_write(d->handle, f, count);
	for (size_t i = 0; i < count; i++)
		hz_view_release(&v[i]);
	if (sent < 0) {
		hz_counter_add(&tx_error, count);
		return hz_errmsg_set(&d->err, sent, "net %s: write: %s",
				     d->name, hz_strerror(sent));
	}
	hz_counter_add(&tx_full, count - (size_t)sent);
	return sent;
}

/* Sends what waits in the queue. */
static void tx_flush(struct netdev *d)
{
	size_t n = d->ntx;

	d->ntx = 0;
	hz_defer_cancel(&d->flush);
	if (n > 0 && write_batch(d, d->txq, n) < 0)
		HZ_DEBUG(&netdev_log, "%s", hz_errmsg_text(&d->err));
}

static void tx_flush_deferred(struct hz_defer *df)
{
	struct netdev *d =
	    (struct netdev *)((char *)df - offsetof(struct netdev, flush));

	tx_flush(d);
}

/*
 * Queues @count frames, sending a batch whenever the queue fills; the
 * rest go when the round ends. Returns @count: failures of the host are
 * counted (netdev.tx_drop_*) and named in the device's error message.
 */
static int netdev_write(struct hz_net *n, struct hz_view *frames, size_t count)
{
	struct netdev *d = (struct netdev *)n;

	for (size_t i = 0; i < count; i++) {
		d->txq[d->ntx++] = frames[i];
		frames[i] = (struct hz_view){0};
		if (d->ntx == NETDEV_BATCH)
			tx_flush(d);
	}
	if (d->ntx > 0)
		hz_defer_queue(&d->flush);
	return (int)count;
}

static int netdev_wait(struct hz_net *n, uint64_t deadline)
{
	struct netdev *d = (struct netdev *)n;

	return hz_device_wait(d->handle, deadline);
}

static void netdev_wake(struct hz_net *n)
{
	hz_device_wake(((struct netdev *)n)->handle);
}

static const char *netdev_error(const struct hz_net *n)
{
	const struct netdev *d = (const struct netdev *)n;

	return hz_errmsg_text(&d->err);
}

static const struct hz_net_ops netdev_ops = {
    .read = netdev_read,
    .write = netdev_write,
    .wait = netdev_wait,
    .error_message = netdev_error,
    .wake = netdev_wake,
};

int hz_netdev_open(const char *name, struct hz_budget *budget,
		   struct hz_net **out)
{
	struct hz_net_info info;
	struct netdev *d;
	hz_handle_t h;
	size_t len = strlen(name);
	int r;

	*out = NULL;
	if (len >= HZ_DEVICE_NAME_MAX)
		return -HZ_ENOENT;
	r = hz_platform_net_acquire(name, &h, &info);
	if (r < 0)
		return r;
	d = hz_calloc(1, sizeof(*d));
	if (d == NULL)
		return -HZ_ENOMEM;
	d->net.ops = &netdev_ops;
	hz_defer_init(&d->flush, tx_flush_deferred);
	memcpy(d->net.mac.b, info.mac, HZ_ETH_ALEN);
	d->net.mtu = info.mtu;
	d->net.gso_max = info.gso_max;
	d->handle = h;
	d->budget = budget;
	memcpy(d->name, name, len + 1);
	*out = &d->net;
	return 0;
}

void hz_netdev_close(struct hz_net *n)
{
	struct netdev *d = (struct netdev *)n;

	if (n == NULL)
		return;
	tx_flush(d);
	for (size_t i = 0; i < NETDEV_BATCH; i++)
		hz_view_release(&d->spare[i]);
	hz_free(d);
}
