/*
 * The platform NIC as a NET (hz_netdev_open in haze/net.h). Reads are
 * batched into spare pbufs the device keeps ready, so a received frame is
 * written by the host straight into the pbuf that carries it up the stack
 * (zero copy); writes hand the host a batch of frame descriptors pointing
 * into the views' pbufs.
 *
 * On a device with receive offload (hz_net_info.rx_max) each spare is a
 * 64 KiB pbuf, so a coalesced TCP/IPv4 frame of up to 64 KiB arrives in
 * one piece and stays there up to the application. A frame that fits a
 * page is copied into a pbuf of its own and the spare kept (copybreak);
 * a larger one keeps its spare, which gives back the pages past it, so a
 * queued segment pins about its size, not 64 KiB, and what TCP charges
 * for it stays near its size; while the heap is short of 64 KiB runs
 * larger frames are copied too (spares_plenty). Fewer spares are kept
 * (NETDEV_BATCH_LARGE): 512 KiB per device rather than 128 KiB.
 *
 * A read that comes back short found the host's queue empty: until the
 * loop has asked the platform for readiness again (a yield or a poll),
 * the next read answers -HZ_EAGAIN itself rather than ask the host, a
 * system call or a VM exit that would find nothing (the receive fiber
 * reads once more after handling a batch).
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
/* Receive offload: 64 KiB spares (an order-4 block, headroom included),
 * fewer of them; frames that fit a page with headroom are copied out,
 * larger ones keep their spare, shrunk to the pages they need. */
#define NETDEV_BATCH_LARGE 8
#define NETDEV_RX_LARGE 65536u
#define NETDEV_RX_ORDER 4 /* its run: 2^4 pages */
#define NETDEV_COPYBREAK (HZ_PAGE_SIZE - HZ_PBUF_HEADROOM)

struct netdev {
	struct hz_net net; /* first: the device is a NET */
	hz_handle_t handle;
	struct hz_budget *budget;
	size_t rx_batch;		    /* frames per read, spares kept */
	size_t rx_buf;			    /* bytes of each spare */
	struct hz_view spare[NETDEV_BATCH]; /* receive buffers, ready */
	struct hz_view txq[NETDEV_BATCH];   /* frames waiting to be sent */
	size_t ntx;
	struct hz_defer flush; /* sends txq when the round ends */
	bool drained;	       /* the last read found the host queue empty */
	uint64_t drained_at;   /* the loop's readiness checks then */
	struct hz_errmsg err;
	char name[HZ_DEVICE_NAME_MAX];
};

HZ_LOG_SOURCE(netdev_log, "netdev");
HZ_COUNTER(rx_nomem, "netdev", "rx_drop_nomem");
static HZ_COUNTER(rx_large, "netdev", "rx_large_frames");
static HZ_COUNTER(rx_copied, "netdev", "rx_copybreak_frames");
/* Frames kept in their large spare, its pages past them given back. */
static HZ_COUNTER(rx_shrunk, "netdev", "rx_frames_spare_shrunk");
/* Larger frames copied all the same: the heap was short of 64 KiB runs. */
static HZ_COUNTER(rx_scarce, "netdev", "rx_copied_runs_scarce");
static HZ_COUNTER(rx_skipped, "netdev", "rx_reads_skipped_drained");
HZ_COUNTER(tx_full, "netdev", "tx_drop_host_full");
HZ_COUNTER(tx_error, "netdev", "tx_drop_error");

/* A spare of @d->rx_buf bytes: a large one starts at its pbuf's first
 * byte (a received frame needs no headroom). 0 or -HZ_ENOMEM. */
static int spare_alloc(struct netdev *d, struct hz_view *v)
{
	if (d->rx_buf < NETDEV_RX_LARGE)
		return hz_pbuf_alloc(d->budget, d->rx_buf, v);
	if (hz_pbuf_alloc(d->budget, NETDEV_RX_LARGE - HZ_PBUF_HEADROOM, v) < 0)
		return -HZ_ENOMEM;
	if (hz_view_push(v, HZ_PBUF_HEADROOM) < 0) {
		hz_view_release(v); /* never: the headroom is there */
		return -HZ_ENOMEM;
	}
	return 0;
}

/* Makes sure the first @n spares hold a buffer; returns how many do. */
static size_t fill_spares(struct netdev *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d->spare[i].pb != NULL)
			continue;
		if (spare_alloc(d, &d->spare[i]) < 0) {
			hz_counter_inc(&rx_nomem);
			return i;
		}
	}
	return n;
}

/*
 * Whether the heap has 64 KiB runs to spare: a quarter of it at least.
 * A shrunk spare holds a few of its pages but takes the whole 64 KiB run
 * out of service while the frame is held (its halves given back cannot
 * merge), so frames held for long would, shrunk, leave no run for the
 * next spare while most of the heap is free; copies pack into the
 * smaller runs instead.
 */
static bool spares_plenty(void)
{
	struct hz_mem_stats st;
	size_t floor_runs;

	hz_mem_stats(&st);
	floor_runs = st.heap_pages / 4 >> NETDEV_RX_ORDER;
	if (floor_runs < 2 * NETDEV_BATCH_LARGE)
		floor_runs = 2 * NETDEV_BATCH_LARGE;
	return hz_pages_free_at(NETDEV_RX_ORDER) >= floor_runs;
}

/*
 * Gives in @out the frame @f read into spare @i: the spare itself (then
 * emptied), or, for a frame of a page or less in a large spare, a copy
 * in a pbuf of its own size (the spare stays for the next read). A large
 * spare given away keeps only the pages its frame needs (a 20 KiB frame
 * 32 KiB of the 64): the memory a copy would take, without the copy, as
 * long as the heap has 64 KiB runs to spare; otherwise larger frames are
 * copied too (netdev.rx_copied_runs_scarce).
 */
static void frame_take(struct netdev *d, size_t i, const struct hz_frame *f,
		       struct hz_view *out)
{
	bool large = d->rx_buf >= NETDEV_RX_LARGE;

	if (large && (f->len <= NETDEV_COPYBREAK || !spares_plenty()) &&
	    hz_pbuf_alloc(d->budget, f->len, out) == 0) {
		memcpy(hz_view_data(out), f->buf, f->len);
		hz_counter_inc(f->len <= NETDEV_COPYBREAK ? &rx_copied
							  : &rx_scarce);
	} else {
		*out = d->spare[i];
		d->spare[i] = (struct hz_view){0};
		out->len = (uint32_t)f->len;
		if (f->len > (size_t)d->net.mtu + HZ_ETH_HLEN)
			hz_counter_inc(&rx_large);
		if (large) {
			uint32_t cap = out->pb->cap;

			hz_pbuf_shrink(out);
			if (out->pb->cap < cap)
				hz_counter_inc(&rx_shrunk);
		}
	}
	out->pb->csum_ok = f->csum_ok;
}

/* How often the loop has asked the platform which devices are ready. */
static uint64_t readiness_checks(void)
{
	struct hz_sched_stats st;

	hz_sched_stats(&st);
	return st.yields + st.polls;
}

static int netdev_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	struct netdev *d = (struct netdev *)n;
	struct hz_frame f[NETDEV_BATCH];
	size_t ready, kept = 0;
	uint64_t checks = readiness_checks();
	int got;

	if (d->drained && d->drained_at == checks) {
		hz_counter_inc(&rx_skipped);
		return -HZ_EAGAIN;
	}
	if (max > d->rx_batch)
		max = d->rx_batch;
	ready = fill_spares(d, max);
	if (ready == 0)
		return hz_errmsg_set(&d->err, -HZ_ENOMEM,
				     "net %s: no memory for receive buffers "
				     "(frames wait in the host's queue)",
				     d->name);
	for (size_t i = 0; i < ready; i++)
		f[i] = (struct hz_frame){.buf = hz_view_data(&d->spare[i]),
					 .cap = d->spare[i].len};
	got = hz_platform_net_read(d->handle, f, ready);
	d->drained = got == -HZ_EAGAIN || (got >= 0 && (size_t)got < ready);
	d->drained_at = checks; /* the read does not reach the loop */
	if (got < 0)
		return got == -HZ_EAGAIN
			   ? got
			   : hz_errmsg_set(&d->err, got, "net %s: read: %s",
					   d->name, hz_strerror(got));
	for (int i = 0; i < got; i++)
		frame_take(d, (size_t)i, &f[i], &out[i]);
	/* Move the spares left to the front, in order. */
	for (size_t i = 0; i < d->rx_batch; i++) {
		if (d->spare[i].pb == NULL)
			continue;
		if (i != kept) {
			d->spare[kept] = d->spare[i];
			d->spare[i] = (struct hz_view){0};
		}
		kept++;
	}
	return got;
}

/* Writes one batch of at most NETDEV_BATCH views, releasing them. */
static int write_batch(struct netdev *d, struct hz_view *v, size_t count)
{
	struct hz_frame f[NETDEV_BATCH] = {0};
	int sent;

	for (size_t i = 0; i < count; i++)
		f[i] = (struct hz_frame){.buf = hz_view_data(&v[i]),
					 .len = v[i].len,
					 .gso_size = v[i].pb->gso_size};
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
	struct hz_net_info info = {0}; /* fields a target leaves are 0 */
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
	hz_defer_init_last(&d->flush, tx_flush_deferred);
	memcpy(d->net.mac.b, info.mac, HZ_ETH_ALEN);
	d->net.mtu = info.mtu;
	d->net.gso_max = info.gso_max;
	d->handle = h;
	d->budget = budget;
	d->rx_batch = NETDEV_BATCH;
	d->rx_buf = (size_t)info.mtu + HZ_ETH_HLEN;
	if (info.rx_max > d->rx_buf) {
		d->rx_batch = NETDEV_BATCH_LARGE;
		d->rx_buf = NETDEV_RX_LARGE;
	}
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
