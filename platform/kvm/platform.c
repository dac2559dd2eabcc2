/*
 * The platform API (haze/platform.h) on haze-kvm: every call is one
 * hypercall (platform/kvm/abi.h), or none at all for the clocks, which
 * read the TSC at the frequency the tender handed over in the boot info.
 * Devices are the boot info's entries, in manifest order; a handle is the
 * entry's index. Batches larger than one hypercall allows are split.
 */
#include <stdint.h>
#include <string.h>

#include "haze/log.h"
#include "haze/manifest.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/wire.h"
#include "kvm.h"

/*
 * Small frames written between calls are staged here, copied (the writer
 * may reuse its buffers once the write returns), and leave with the
 * loop's next yield or poll (hz_kvm_yield.tx): a round's ACKs and short
 * replies cost no NET_WRITE exit of their own. The loop polls at least
 * every 50 us while fibers are busy and a device is waited on, and yields
 * when idle, so a staged frame waits no longer than that. Frames too big
 * for a slot, segmented ones and frames for a second NIC are written at
 * once, after what is staged, so frames leave in the order written.
 */
#define STAGE_SLOT 2048u
static struct {
	hz_handle_t handle;
	uint32_t n;
	struct hz_kvm_frame kf[HZ_KVM_FRAMES_MAX];
	_Alignas(64) uint8_t buf[HZ_KVM_FRAMES_MAX][STAGE_SLOT];
} stage;

/* Staged frames the host did not take (its queue full, or an error). */
static HZ_COUNTER(stage_drop, "kvm", "net_tx_staged_drop");

/* Counts what a call carrying the @n staged frames did not send. */
static void stage_sent(int64_t ret, uint32_t n)
{
	uint64_t sent = ret > 0 ? (uint64_t)ret : 0;

	if (sent < n)
		hz_counter_add(&stage_drop, n - sent);
	stage.n = 0;
}

/* The net call that sends the staged frames (count 0: none). */
static struct hz_kvm_net_io stage_io(void)
{
	return (struct hz_kvm_net_io){
	    .handle = (uint32_t)stage.handle,
	    .count = stage.n,
	    .frames = (uint64_t)(uintptr_t)stage.kf,
	};
}

/* Sends the staged frames now, with a NET_WRITE of their own. */
static void stage_flush(void)
{
	struct hz_kvm_net_io io = stage_io();

	if (stage.n == 0)
		return;
	hz_kvm_call(HZ_KVM_CALL_NET_WRITE, &io);
	stage_sent(io.ret, stage.n);
}

/* Stages @n small frames for @h if they all fit; whether they did. */
static bool stage_frames(hz_handle_t h, const struct hz_frame *frames, size_t n)
{
	if ((stage.n > 0 && stage.handle != h) ||
	    n > HZ_KVM_FRAMES_MAX - stage.n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (frames[i].gso_size != 0 || frames[i].len > STAGE_SLOT)
			return false;
	stage.handle = h;
	for (size_t i = 0; i < n; i++) {
		uint8_t *slot = stage.buf[stage.n];
		memcpy(slot, frames[i].buf, frames[i].len);
		stage.kf[stage.n++] = (struct hz_kvm_frame){
		    .buf = (uint64_t)(uintptr_t)slot, .len = frames[i].len};
	}
	return true;
}

/*
 * Receive buffers posted with each yield or poll (hz_kvm_yield.rx), for
 * the first NIC acquired: the frames that wake the loop come back with
 * the call that waited, and the read that follows hands them out from
 * here with a copy instead of a NET_READ exit. Each slot holds the
 * largest frame the device may hand (a coalesced 64 KiB one too), so
 * nothing is ever cut. Bulk receive (a frame above STAGE_SLOT in the last
 * read) stops posting: its large frames are read straight into the
 * stack's buffers, with the exit that saves the copy.
 */
#define RX_SLOTS 8u
#define RX_SLOT (14u + 65535u + 1u) /* HZ_TAP_RX_MAX, rounded to 16 */
static struct {
	hz_handle_t handle; /* -1 until a NIC is acquired */
	uint32_t cap;	    /* bytes a slot takes: the device's largest */
	uint32_t n, next;   /* frames the last call brought; handed out */
	bool bulk;	    /* the last read brought a large frame */
	struct hz_kvm_frame kf[RX_SLOTS];
	_Alignas(64) uint8_t buf[RX_SLOTS][RX_SLOT];
} rx = {.handle = -1};

/* Delivered frames a reader's buffer was too small for. */
static HZ_COUNTER(rx_drop, "kvm", "net_rx_posted_drop");

/* Notes whether read @frames hold a large one (bulk receive). */
static void rx_note(const struct hz_frame *frames, int n)
{
	rx.bulk = false;
	for (int i = 0; i < n; i++)
		if (frames[i].len > STAGE_SLOT)
			rx.bulk = true;
}

/* Whether the yield with @interest posts receive buffers. */
static bool rx_post(hz_ready_set_t interest)
{
	if (rx.handle < 0 || rx.bulk || !(interest & 1ull << rx.handle))
		return false;
	for (uint32_t i = 0; i < RX_SLOTS; i++)
		rx.kf[i] = (struct hz_kvm_frame){
		    .buf = (uint64_t)(uintptr_t)rx.buf[i], .cap = rx.cap};
	return true;
}

/*
 * Copies frame @kf, received into the platform's buffer @buf, into the
 * reader's @f; false, counted in @drop, if @f is too small for it.
 */
static bool deliver(struct hz_frame *f, const struct hz_kvm_frame *kf,
		    const uint8_t *buf, struct hz_counter *drop)
{
	if (kf->len > f->cap) {
		hz_counter_inc(drop);
		return false;
	}
	memcpy(f->buf, buf, kf->len);
	f->len = kf->len;
	f->csum_ok = kf->flags & HZ_KVM_FRAME_CSUM_OK;
	return true;
}

/* Hands out up to @n delivered frames into @frames; how many. */
static int rx_take(struct hz_frame *frames, size_t n)
{
	int k = 0;

	while ((size_t)k < n && rx.next < rx.n) {
		uint32_t i = rx.next++;
		if (deliver(&frames[k], &rx.kf[i], rx.buf[i], &rx_drop))
			k++;
	}
	return k;
}

/*
 * Net rings (abi.h, NET_RINGS), for the first NIC acquired where the
 * tender serves them: frames written are copied into the tx ring's byte
 * area and posted, received ones are copied out of buffers posted on the
 * rx ring, and the tender's I/O thread moves both while the guest runs.
 * Neither costs an exit unless the thread sleeps (a NET_KICK) or the
 * guest has nothing to do (its yield). Where the tender offers no rings,
 * or memory for them is short, the NIC keeps the calls above.
 *
 * Descriptor j of the rx ring always uses buffer j % RING_RX_BUFS: the
 * buffers are taken in the order posted and each is posted again as it
 * is taken, so RING_RX_BUFS are outstanding at once.
 */
#define RING_N 64u
#define RING_RX_BUFS 8u
#define RING_TX_BYTES (512u << 10)
#define RING_TX_WAIT_NS 10000000ull /* a full tx ring waits this long */
static struct {
	hz_handle_t handle; /* -1: no rings */
	struct hz_kvm_ring *tx, *rx;
	uint8_t *txbuf, *rxbuf;
	uint32_t rx_cap;	      /* bytes of each rx buffer */
	uint32_t tx_posted, tx_freed; /* descriptors posted; given back */
	uint64_t tx_head, tx_tail;    /* txbuf bytes taken; given back */
	uint64_t tx_end[RING_N];      /* tx_head once each was taken */
	uint32_t rx_posted, rx_taken;
} ring = {.handle = -1};

/* Received frames a reader's buffer was too small for (rings). */
static HZ_COUNTER(ring_rx_drop, "kvm", "net_ring_rx_drop");

/*
 * Posts @posted on ring @r, then kicks the tender if it sleeps and
 * @now: otherwise the loop's next yield or poll (within 50 us while
 * fibers are busy) wakes it, as it sent ABI 6's staged frames.
 */
static void ring_post(struct hz_kvm_ring *r, uint32_t posted, bool now)
{
	uint64_t none = 0;

	__atomic_store_n(&r->posted, posted, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (now && __atomic_load_n(&r->tender_wait, __ATOMIC_RELAXED))
		hz_kvm_call(HZ_KVM_CALL_NET_KICK, &none);
}

/*
 * Asks the tender to wake the next yield once @r's `done` passes @seen,
 * then fences, so the caller's next look at `done` cannot miss a move
 * the tender made without seeing the request (abi.h).
 */
static void ring_ask_wake(struct hz_kvm_ring *r, uint32_t seen)
{
	__atomic_store_n(&r->guest_seen, seen, __ATOMIC_RELAXED);
	__atomic_store_n(&r->guest_wait, 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The tender's `done` of @r, if it lies within [@from, @to]; else @from. */
static uint32_t ring_done(struct hz_kvm_ring *r, uint32_t from, uint32_t to)
{
	uint32_t done = __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);

	return done - from <= to - from ? done : from;
}

/* The rx buffer descriptor @j uses. */
static uint8_t *ring_rx_buf(uint32_t j)
{
	return ring.rxbuf + (size_t)(j % RING_RX_BUFS) * ring.rx_cap;
}

/* Posts rx descriptor @j on its buffer (not yet published). */
static void ring_rx_give(uint32_t j)
{
	ring.rx->desc[j % RING_N] = (struct hz_kvm_frame){
	    .buf = (uint64_t)(uintptr_t)ring_rx_buf(j), .cap = ring.rx_cap};
}

/* Sets up rings for NIC @h, whose largest frame is @most bytes. */
static void ring_setup(hz_handle_t h, uint32_t most)
{
	uint32_t cap = (most + 63u) & ~63u;
	size_t size = 2 * 4096 + RING_TX_BYTES + (size_t)RING_RX_BUFS * cap;
	uint8_t *mem;

	if (!(hz_kvm_boot_info.flags & HZ_KVM_BOOT_RINGS) || ring.handle >= 0 ||
	    !(mem = hz_malloc(size))) /* page-aligned at this size */
		return;
	memset(mem, 0, 2 * 4096);
	ring.tx = (struct hz_kvm_ring *)mem;
	ring.rx = (struct hz_kvm_ring *)(mem + 4096);
	ring.txbuf = mem + 2 * 4096;
	ring.rxbuf = ring.txbuf + RING_TX_BYTES;
	ring.rx_cap = cap;
	for (uint32_t j = 0; j < RING_RX_BUFS; j++)
		ring_rx_give(j);
	ring.rx->posted = ring.rx_posted = RING_RX_BUFS;
	struct hz_kvm_net_rings a = {
	    .handle = (uint32_t)h,
	    .entries = RING_N,
	    .tx = (uint64_t)(uintptr_t)ring.tx,
	    .rx = (uint64_t)(uintptr_t)ring.rx,
	};
	_Static_assert(sizeof(struct hz_kvm_ring) +
			       RING_N * sizeof(struct hz_kvm_frame) <=
			   4096,
		       "a ring outgrows its page");
	hz_kvm_call(HZ_KVM_CALL_NET_RINGS, &a);
	if (a.ret != 0) {
		hz_free(mem);
		ring = (__typeof__(ring)){.handle = -1};
		return;
	}
	ring.handle = h;
}

/* Gives back the tx space of frames the tender is done with. */
static void ring_tx_reclaim(void)
{
	uint32_t done = ring_done(ring.tx, ring.tx_freed, ring.tx_posted);

	for (; ring.tx_freed != done; ring.tx_freed++)
		ring.tx_tail = ring.tx_end[ring.tx_freed % RING_N];
}

/* Copies frame @f onto the tx ring; false if the ring or its bytes are full. */
static bool ring_tx_put(const struct hz_frame *f)
{
	uint64_t len = (f->len + 63u) & ~(uint64_t)63u;
	uint64_t pos = ring.tx_head % RING_TX_BYTES;
	/* A frame never wraps: the end of the area is skipped instead. */
	uint64_t skip = pos + len > RING_TX_BYTES ? RING_TX_BYTES - pos : 0;

	if (ring.tx_posted - ring.tx_freed == RING_N ||
	    ring.tx_head + skip + len - ring.tx_tail > RING_TX_BYTES)
		return false;
	uint8_t *p = ring.txbuf + (skip ? 0 : pos);
	memcpy(p, f->buf, f->len);
	ring.tx_head += skip + len;
	ring.tx->desc[ring.tx_posted % RING_N] =
	    (struct hz_kvm_frame){.buf = (uint64_t)(uintptr_t)p,
				  .len = f->len,
				  .gso_size = (uint32_t)f->gso_size};
	ring.tx_end[ring.tx_posted % RING_N] = ring.tx_head;
	ring.tx_posted++;
	return true;
}

/*
 * Waits, at most @timeout_ns, for the tender to finish a tx descriptor
 * (a yield that only the ring wakes); whether it did.
 */
static bool ring_tx_wait(uint64_t timeout_ns)
{
	uint32_t freed = ring.tx_freed;
	struct hz_kvm_yield a = {.timeout_ns = timeout_ns,
				 .interest = 1ull << ring.handle};

	ring_ask_wake(ring.tx, freed);
	if (ring_done(ring.tx, freed, ring.tx_posted) == freed)
		hz_kvm_call(HZ_KVM_CALL_YIELD, &a);
	__atomic_store_n(&ring.tx->guest_wait, 0u, __ATOMIC_RELAXED);
	ring_tx_reclaim();
	return ring.tx_freed != freed;
}

/* Writes @n frames through the tx ring; how many it took. */
static int ring_write(const struct hz_frame *frames, size_t n)
{
	size_t k = 0;

	for (;;) {
		ring_tx_reclaim();
		while (k < n && ring_tx_put(&frames[k]))
			k++;
		/* Kicked at once only when half full: a batch per exit. */
		ring_post(ring.tx, ring.tx_posted,
			  k < n ||
			      ring.tx_posted - ring.tx_freed >= RING_N / 2 ||
			      ring.tx_head - ring.tx_tail >= RING_TX_BYTES / 2);
		/* Full: the tender is sending; what does not fit after a
		 * wait is the caller's to count (netdev's tx_full). */
		if (k == n || !ring_tx_wait(RING_TX_WAIT_NS))
			return (int)k;
	}
}

/* Whether the rx ring holds frames not yet read. */
static bool ring_rx_ready(void)
{
	return ring_done(ring.rx, ring.rx_taken, ring.rx_posted) !=
	       ring.rx_taken;
}

/* Reads up to @n frames off the rx ring, posting their buffers again. */
static int ring_read(struct hz_frame *frames, size_t n)
{
	uint32_t done = ring_done(ring.rx, ring.rx_taken, ring.rx_posted);
	int k = 0;

	if (done == ring.rx_taken)
		return -HZ_EAGAIN;
	while ((size_t)k < n && ring.rx_taken != done) {
		/* Read once: the length checked is the length copied. */
		struct hz_kvm_frame d = ring.rx->desc[ring.rx_taken % RING_N];
		/* A length past the buffer is the tender's lie: dropped. */
		if (d.len > ring.rx_cap)
			hz_counter_inc(&ring_rx_drop);
		else if (deliver(&frames[k], &d, ring_rx_buf(ring.rx_taken),
				 &ring_rx_drop))
			k++;
		ring.rx_taken++;
		ring_rx_give(ring.rx_posted++);
	}
	/* The tender asks for this kick only when it had no buffer left. */
	ring_post(ring.rx, ring.rx_posted, true);
	return k > 0 ? k : -HZ_EAGAIN;
}

/* Waits until the tender has sent every posted frame, or 100 ms. */
static void ring_tx_drain(void)
{
	for (int i = 0; ring.handle >= 0 && i < 10; i++) {
		ring_tx_reclaim();
		if (ring.tx_freed == ring.tx_posted)
			return;
		ring_tx_wait(RING_TX_WAIT_NS);
	}
}

/* ns = tsc * mult >> 32; mult fits 64 bits for any TSC above 0.23 Hz. */
static uint64_t clock_mult;

void hz_kvm_clock_init(void)
{
	clock_mult = (1000000000ull << 32) / hz_kvm_boot_info.tsc_hz;
}

void hz_platform_console_write(const char *buf, size_t len)
{
	struct hz_kvm_console a = {(uint64_t)(uintptr_t)buf, len};
	hz_kvm_call(HZ_KVM_CALL_CONSOLE, &a);
}

uint64_t hz_platform_clock_monotonic(void)
{
	/* Origin: the tender's reading of the TSC before boot. */
	uint64_t d = hz_kvm_rdtsc() - hz_kvm_boot_info.tsc_base;
	return (uint64_t)(((unsigned __int128)d * clock_mult) >> 32);
}

uint64_t hz_platform_clock_wall(void)
{
	return hz_kvm_boot_info.wall_ns + hz_platform_clock_monotonic();
}

/*
 * Answers a yield without an exit where rings make one pointless: only
 * the ringed NIC is waited on, nothing is staged for another, and frames
 * already wait on the rx ring or the yield is only a poll. The exit
 * would have woken a sleeping I/O thread for the tx ring's frames
 * (hz_rings_yield): that is a NET_KICK here, made only when it sleeps.
 * Whether it answered (*@ready set).
 */
static bool ring_yield_inline(uint64_t deadline, hz_ready_set_t interest,
			      hz_ready_set_t *ready)
{
	hz_ready_set_t bit = 1ull << ring.handle;
	bool frames;

	if (ring.handle < 0 || interest != bit || stage.n > 0)
		return false;
	frames = ring_rx_ready();
	if (!frames && deadline != 0)
		return false;
	ring_tx_reclaim();
	if (ring.tx_freed != ring.tx_posted)
		ring_post(ring.tx, ring.tx_posted, true);
	*ready = frames ? bit : 0;
	return true;
}

void hz_platform_yield(uint64_t deadline, hz_ready_set_t interest,
		       hz_ready_set_t *ready)
{
	if (ring_yield_inline(deadline, interest, ready))
		return;
	struct hz_kvm_yield a = {.interest = interest, .tx = stage_io()};
	/* Frames delivered and not yet read: the yield is a poll. */
	bool left = rx.next < rx.n && (interest & 1ull << rx.handle);
	bool ringed = ring.handle >= 0 && (interest & 1ull << ring.handle);

	/* Rings: asked to be woken, then looked at again (abi.h). */
	if (ringed) {
		ring_ask_wake(ring.rx, ring.rx_taken);
		left = left || ring_rx_ready();
	}

	if (!left && rx_post(interest))
		a.rx = (struct hz_kvm_net_io){
		    .handle = (uint32_t)rx.handle,
		    .count = RX_SLOTS,
		    .frames = (uint64_t)(uintptr_t)rx.kf,
		};
	if (left) {
		a.timeout_ns = 0;
	} else if (deadline == UINT64_MAX) {
		a.timeout_ns = UINT64_MAX;
	} else if (deadline) {
		uint64_t now = hz_platform_clock_monotonic();
		a.timeout_ns = deadline > now ? deadline - now : 0;
	}
	hz_kvm_call(HZ_KVM_CALL_YIELD, &a);
	if (a.tx.count > 0)
		stage_sent(a.tx.ret, a.tx.count);
	if (a.rx.count > 0) {
		rx.n = a.rx.ret > 0 ? (uint32_t)a.rx.ret : 0;
		rx.next = 0;
	}
	*ready = a.ready;
	if (rx.next < rx.n && (interest & 1ull << rx.handle))
		*ready |= 1ull << rx.handle;
	if (ringed) {
		__atomic_store_n(&ring.rx->guest_wait, 0u, __ATOMIC_RELAXED);
		*ready &= ~(1ull << ring.handle);
		if (ring_rx_ready())
			*ready |= 1ull << ring.handle;
	}
}

void hz_platform_ready(void)
{
	static bool told;
	uint64_t none = 0;

	if (told)
		return;
	told = true;
	hz_kvm_call(HZ_KVM_CALL_READY, &none);
}

/* Returns the boot info's device @h if it is of @kind, else NULL. */
static const struct hz_kvm_device *device(hz_handle_t h, uint32_t kind)
{
	if (h < 0 || (uint32_t)h >= hz_kvm_boot_info.device_count ||
	    h >= HZ_KVM_DEVICE_MAX || hz_kvm_boot_info.devices[h].kind != kind)
		return NULL;
	return &hz_kvm_boot_info.devices[h];
}

/* Finds device @name of @kind; its handle or -HZ_ENOENT. */
static int device_find(const char *name, uint32_t kind)
{
	for (uint32_t i = 0;
	     i < hz_kvm_boot_info.device_count && i < HZ_KVM_DEVICE_MAX; i++) {
		const struct hz_kvm_device *d = &hz_kvm_boot_info.devices[i];
		if (d->kind == kind &&
		    strncmp(d->name, name, sizeof(d->name)) == 0)
			return (int)i;
	}
	return -HZ_ENOENT;
}

int hz_platform_net_acquire(const char *name, hz_handle_t *h,
			    struct hz_net_info *info)
{
	int i = device_find(name, HZ_DEVICE_KIND_NET);
	if (i < 0)
		return i;
	*h = i;
	memcpy(info->mac, hz_kvm_boot_info.devices[i].mac, sizeof(info->mac));
	info->mtu = hz_kvm_boot_info.devices[i].mtu;
	/* Taps segment and coalesce TCP through the tender (abi.h). */
	info->gso_max = hz_kvm_boot_info.devices[i].gso_max;
	info->rx_max = hz_kvm_boot_info.devices[i].rx_max;
	uint32_t most =
	    info->rx_max > info->mtu + 14u ? info->rx_max : info->mtu + 14u;
	ring_setup(i, most);
	if (ring.handle != i && rx.handle < 0 && most <= RX_SLOT) {
		rx.handle = i;
		rx.cap = most;
	}
	return 0;
}

/* Moves up to @n frames through one net hypercall; count or -HZ_E*. */
static int net_batch(unsigned call, hz_handle_t h, struct hz_frame *frames,
		     size_t n)
{
	struct hz_kvm_frame kf[HZ_KVM_FRAMES_MAX];
	struct hz_kvm_net_io io;

	for (size_t i = 0; i < n; i++) {
		kf[i] = (struct hz_kvm_frame){
		    .buf = (uint64_t)(uintptr_t)frames[i].buf,
		    .cap = frames[i].cap,
		    .len = frames[i].len,
		    .gso_size = call == HZ_KVM_CALL_NET_WRITE
				    ? (uint32_t)frames[i].gso_size
				    : 0,
		};
	}
	io = (struct hz_kvm_net_io){
	    .handle = (uint32_t)h,
	    .count = (uint32_t)n,
	    .frames = (uint64_t)(uintptr_t)kf,
	};
	hz_kvm_call(call, &io);
	if (call == HZ_KVM_CALL_NET_READ)
		for (int64_t i = 0; i < io.ret; i++) {
			frames[i].len = kf[i].len;
			frames[i].csum_ok = kf[i].flags & HZ_KVM_FRAME_CSUM_OK;
		}
	return (int)io.ret;
}

/*
 * @n frames in calls of up to HZ_KVM_FRAMES_MAX, until one takes fewer
 * than it was given; the count done, or the first call's error.
 */
static int net_batches(unsigned call, hz_handle_t h, struct hz_frame *frames,
		       size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t k =
		    n - done < HZ_KVM_FRAMES_MAX ? n - done : HZ_KVM_FRAMES_MAX;
		int r = net_batch(call, h, frames + done, k);
		if (r < 0)
			return done ? (int)done : r;
		done += (size_t)r;
		if ((size_t)r < k)
			break;
	}
	return (int)done;
}

int hz_platform_net_read(hz_handle_t h, struct hz_frame *frames, size_t n)
{
	int k = 0, r;

	if (!device(h, HZ_DEVICE_KIND_NET) || n == 0)
		return -HZ_EINVAL;
	if (h == ring.handle)
		return ring_read(frames, n);
	if (h == rx.handle && rx.next < rx.n) {
		k = rx_take(frames, n);
		/* Unless they filled every slot, the yield found the host's
		 * queue empty behind them: no exit. */
		if ((size_t)k == n || rx.next < rx.n || rx.n < RX_SLOTS) {
			rx_note(frames, k);
			return k > 0 ? k : -HZ_EAGAIN;
		}
	}
	r = net_batches(HZ_KVM_CALL_NET_READ, h, frames + k, n - (size_t)k);
	if (r < 0 && k == 0)
		return r;
	k += r > 0 ? r : 0;
	if (h == rx.handle)
		rx_note(frames, k);
	return k;
}

int hz_platform_net_write(hz_handle_t h, const struct hz_frame *frames,
			  size_t n)
{
	const struct hz_kvm_device *d = device(h, HZ_DEVICE_KIND_NET);
	if (!d)
		return -HZ_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct hz_frame *f = &frames[i];
		size_t max = f->gso_size > 0 ? d->gso_max : d->mtu;
		struct hz_gso_layout l;
		if (f->gso_size > 0 &&
		    (d->gso_max == 0 || f->gso_size > 0xffff))
			return -HZ_EINVAL;
		if (f->len > max + 14u)
			return -HZ_EMSGSIZE;
		/* As the tender checks it (net_write_check): a frame too
		 * long is EMSGSIZE above, one it cannot segment EINVAL. */
		if (f->gso_size > 0 &&
		    hz_gso_layout(f->buf, f->len, f->gso_size, d->gso_max, &l) <
			0)
			return -HZ_EINVAL;
	}
	if (h == ring.handle)
		return ring_write(frames, n);
	if (stage_frames(h, frames, n))
		return (int)n;
	stage_flush(); /* what was written first leaves first */
	/* net_batch only reads the frames it is given to write. */
	return net_batches(HZ_KVM_CALL_NET_WRITE, h,
			   (struct hz_frame *)(uintptr_t)frames, n);
}

int hz_platform_block_acquire(const char *name, hz_handle_t *h,
			      struct hz_block_info *info)
{
	int i = device_find(name, HZ_DEVICE_KIND_BLOCK);
	if (i < 0)
		return i;
	*h = i;
	info->capacity = hz_kvm_boot_info.devices[i].capacity;
	info->sector_size = hz_kvm_boot_info.devices[i].sector_size;
	return 0;
}

/* Splits a block transfer into hypercalls of HZ_KVM_BLOCK_IO_MAX bytes. */
static int block_io(unsigned call, hz_handle_t h, uint64_t offset,
		    uintptr_t buf, size_t len)
{
	const struct hz_kvm_device *d = device(h, HZ_DEVICE_KIND_BLOCK);
	if (!d || offset % d->sector_size || len % d->sector_size ||
	    offset > d->capacity || len > d->capacity - offset)
		return -HZ_EINVAL;
	while (len) {
		size_t k =
		    len < HZ_KVM_BLOCK_IO_MAX ? len : HZ_KVM_BLOCK_IO_MAX;
		struct hz_kvm_block_io io = {
		    .handle = (uint32_t)h,
		    .offset = offset,
		    .buf = buf,
		    .len = k,
		};
		hz_kvm_call(call, &io);
		if (io.ret < 0)
			return (int)io.ret;
		offset += k;
		buf += k;
		len -= k;
	}
	return 0;
}

int hz_platform_block_read(hz_handle_t h, uint64_t offset, void *buf,
			   size_t len)
{
	return block_io(HZ_KVM_CALL_BLOCK_READ, h, offset, (uintptr_t)buf, len);
}

int hz_platform_block_write(hz_handle_t h, uint64_t offset, const void *buf,
			    size_t len)
{
	return block_io(HZ_KVM_CALL_BLOCK_WRITE, h, offset, (uintptr_t)buf,
			len);
}

int hz_platform_block_flush(hz_handle_t h)
{
	if (!device(h, HZ_DEVICE_KIND_BLOCK))
		return -HZ_EINVAL;
	struct hz_kvm_block_io io = {.handle = (uint32_t)h};
	hz_kvm_call(HZ_KVM_CALL_BLOCK_FLUSH, &io);
	return (int)io.ret;
}

int hz_platform_entropy(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t left = len;

	while (left) {
		size_t k =
		    left < HZ_KVM_ENTROPY_MAX ? left : HZ_KVM_ENTROPY_MAX;
		struct hz_kvm_entropy a = {(uint64_t)(uintptr_t)p, k, 0};
		hz_kvm_call(HZ_KVM_CALL_ENTROPY, &a);
		if (a.ret < 0)
			return (int)a.ret;
		p += k;
		left -= k;
	}
	return (int)len;
}

void hz_platform_exit(int status)
{
	struct hz_kvm_exit a = {status};

	stage_flush();
	ring_tx_drain();
	for (;;)
		hz_kvm_call(HZ_KVM_CALL_EXIT, &a);
}

void hz_kvm_fault_report(struct hz_kvm_fault *f)
{
	for (;;)
		hz_kvm_call(HZ_KVM_CALL_FAULT, f);
}

void hz_platform_abort(void)
{
	struct hz_kvm_exit a = {0};
	for (;;)
		hz_kvm_call(HZ_KVM_CALL_ABORT, &a);
}
