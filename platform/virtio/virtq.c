/*
 * Split virtqueues (virtio 1.2, 2.7) and the table of virtio devices the
 * transports found, for every driver of the virtio target.
 *
 * A queue is one run of pages from the heap: the descriptor table, the
 * driver's (avail) ring with its used_event, then the device's (used)
 * ring with its avail_event. The guest is identity-mapped, so addresses
 * go to the device as they are. Free descriptors form a chain through
 * their next fields; a chain made available keeps those links, so taking
 * it back is relinking its tail to the free chain.
 *
 * Barriers for x86, whose stores are seen in order and whose loads are
 * not reordered with older loads: publishing avail->idx after the ring
 * entry, and reading the used entries after used->idx, need only a
 * compiler barrier. A store followed by a load of what the device writes
 * (avail->idx then the device's avail_event or flags; used_event then
 * used->idx) needs a full fence, or the device and the driver can each
 * miss the other's update and both wait (2.7.7.2, 2.7.10).
 *
 * With VIRTIO_F_RING_EVENT_IDX the driver is told of used chains only
 * when it asked, by used_event (hz_virtq_want_irq), and tells the device
 * only when the device's avail_event says it is waiting (hz_virtq_kick).
 *
 * That fence is not always one. QEMU before 8.1 under TCG with one vCPU
 * translates mfence (and every locked instruction) to nothing, leaving
 * the host CPU free to read avail_event before its store of avail->idx
 * is seen, while QEMU's I/O thread writes avail_event, fences and reads
 * avail->idx: each then sees the other's old value, the driver spares
 * the kick and the device waits for it. On the transmit queue nothing
 * else would ever tell the device (its ring fills and every later kick
 * lies past avail_event), so the guest fell silent for good. Hence
 * hz_virtq_rekick: after a spared kick, before the guest halts
 * (hz_platform_yield), the device's avail_event is read again, and if it
 * names an entry the device has not taken, the device is told. (used_event
 * has the same race; the PIT ends a halt after 55 ms at the latest.)
 *
 * A device that puts a chain in the used ring it was never given (an id
 * beyond the queue, or one not in flight) breaks the protocol; taking
 * the entry would corrupt the free chain, and leaving it would keep the
 * queue looking ready forever (a guest spinning in yield). The device is
 * marked broken instead, once, and none of its queues is used again.
 */
#include <stdint.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/error.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "vdev.h"

#define QUEUE_SIZE_MAX 32768u
/* used_event this far past the last used entry read: never reached. */
#define EVENT_FAR 0x8000u

static struct hz_vdev *devices[HZ_VDEV_MAX];
static unsigned device_count;

static HZ_LOG_SOURCE(log_virtq, "virtio");
static HZ_COUNTER(count_bad_id, "virtio", "used_bad_id");
static HZ_COUNTER(count_rekick, "virtio", "kick_made_up");

/* Keeps the compiler from moving memory accesses across it. */
static inline void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* Orders earlier stores before later loads, for the CPU as well. */
static inline void fence(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

bool hz_vdev_register(struct hz_vdev *d)
{
	if (device_count == HZ_VDEV_MAX)
		return false;
	devices[device_count++] = d;
	return true;
}

unsigned hz_vdev_count(void)
{
	return device_count;
}

struct hz_vdev *hz_vdev_at(unsigned i)
{
	return i < device_count ? devices[i] : NULL;
}

struct hz_vdev *hz_vdev_claim(uint32_t type)
{
	for (unsigned i = 0; i < device_count; i++) {
		if (devices[i]->type == type && !devices[i]->claimed) {
			devices[i]->claimed = true;
			return devices[i];
		}
	}
	return NULL;
}

int hz_vdev_negotiate(struct hz_vdev *d, uint64_t wanted, uint64_t *got)
{
	uint64_t offered, accepted;

	d->ops->set_status(d, 0);
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE);
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE | HZ_VDEV_S_DRIVER);
	offered = d->ops->get_features(d);
	if (!(offered & HZ_VDEV_F_VERSION_1))
		goto failed;
	accepted = offered & (wanted | HZ_VDEV_F_VERSION_1);
	d->ops->set_features(d, accepted);
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE | HZ_VDEV_S_DRIVER |
				  HZ_VDEV_S_FEATURES_OK);
	if (!(d->ops->get_status(d) & HZ_VDEV_S_FEATURES_OK))
		goto failed;
	*got = accepted;
	return 0;
failed:
	d->ops->set_status(d, HZ_VDEV_S_FAILED);
	return -HZ_ENOTSUP;
}

/* Where the avail ring's used_event lies. */
static volatile uint16_t *used_event(struct hz_virtq *q)
{
	return &q->avail->ring[q->size];
}

/* Where the used ring's avail_event lies. */
static volatile uint16_t *avail_event(struct hz_virtq *q)
{
	return (volatile uint16_t *)&q->used->ring[q->size];
}

/* The device's used->idx, read once. */
static uint16_t used_idx(struct hz_virtq *q)
{
	return *(volatile uint16_t *)&q->used->idx;
}

int hz_virtq_init(struct hz_virtq *q, struct hz_vdev *d, unsigned index,
		  uint16_t max, bool event_idx)
{
	uint16_t dev_max = d->ops->queue_max(d, index);
	size_t avail_off, used_off, bytes;
	uint16_t size;
	char *mem;

	if (dev_max == 0)
		return -HZ_ENOENT;
	if (max > dev_max)
		max = dev_max;
	if (max > QUEUE_SIZE_MAX)
		max = QUEUE_SIZE_MAX;
	for (size = 1; (unsigned)size * 2 <= max; size *= 2)
		;
	avail_off = 16u * size;
	used_off = (avail_off + 6u + 2u * size + 3u) & ~(size_t)3;
	bytes = used_off + 6u + 8u * size;
	mem = hz_pages_alloc(hz_pages_order(bytes));
	if (mem == NULL)
		return -HZ_ENOMEM;
	q->cookie = hz_calloc(size, sizeof(*q->cookie));
	if (q->cookie == NULL) {
		hz_pages_free(mem);
		return -HZ_ENOMEM;
	}
	memset(mem, 0, bytes);
	q->dev = d;
	q->index = index;
	q->size = size;
	q->event_idx = event_idx;
	q->desc = (struct hz_vring_desc *)mem;
	q->avail = (struct hz_vring_avail *)(mem + avail_off);
	q->used = (struct hz_vring_used *)(mem + used_off);
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->num_free = size;
	q->last_used = 0;
	q->kicked = 0;
	q->kick_spared = false;
	/* No interrupts until the driver asks (hz_virtq_want_irq). */
	q->irq_on = false;
	if (event_idx)
		*used_event(q) = EVENT_FAR;
	else
		q->avail->flags = HZ_VRING_AVAIL_F_NO_INTERRUPT;
	if (d->ops->queue_setup(d, index, size, (uintptr_t)q->desc,
				(uintptr_t)q->avail, (uintptr_t)q->used) < 0) {
		hz_free(q->cookie);
		hz_pages_free(mem);
		q->cookie = NULL;
		return -HZ_EIO;
	}
	return 0;
}

int hz_virtq_add(struct hz_virtq *q, const struct hz_virtq_buf *bufs,
		 unsigned n, void *cookie)
{
	uint16_t head = q->free_head, i = head, last = head;
	uint16_t idx;

	HZ_ASSERT(n > 0 && cookie != NULL);
	if (q->dev->broken)
		return -HZ_EIO;
	if (q->num_free < n)
		return -HZ_EAGAIN;
	for (unsigned k = 0; k < n; k++) {
		struct hz_vring_desc *d = &q->desc[i];

		d->addr = (uintptr_t)bufs[k].addr;
		d->len = bufs[k].len;
		d->flags =
		    (uint16_t)((bufs[k].write ? HZ_VRING_DESC_F_WRITE : 0) |
			       (k + 1 < n ? HZ_VRING_DESC_F_NEXT : 0));
		last = i;
		i = d->next;
	}
	q->free_head = q->desc[last].next;
	q->num_free = (uint16_t)(q->num_free - n);
	q->cookie[head] = cookie;
	idx = q->avail->idx;
	q->avail->ring[idx & (q->size - 1)] = head;
	barrier(); /* the entry before the index that publishes it */
	*(volatile uint16_t *)&q->avail->idx = (uint16_t)(idx + 1);
	return 0;
}

/*
 * Whether @q's device asks to be told of the entries [@old, @now) of the
 * avail ring: its avail_event lies among them (vring_need_event), or,
 * without the event index, it has not set NO_NOTIFY.
 */
static bool device_wants(struct hz_virtq *q, uint16_t old, uint16_t now)
{
	if (q->event_idx) {
		uint16_t ev = *avail_event(q);
		return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	}
	return !(*(volatile uint16_t *)&q->used->flags &
		 HZ_VRING_USED_F_NO_NOTIFY);
}

void hz_virtq_kick(struct hz_virtq *q)
{
	uint16_t now = q->avail->idx, old = q->kicked;
	bool tell;

	if (now == old || q->dev->broken)
		return;
	q->kicked = now;
	fence(); /* avail->idx stored before the device's wishes are read */
	tell = device_wants(q, old, now);
	q->kick_spared = !tell;
	if (tell)
		q->dev->ops->notify(q->dev, q->index);
}

void hz_virtq_rekick(struct hz_virtq *q)
{
	if (!q->kick_spared || q->dev->broken)
		return;
	/*
	 * The device's wish read again, long after the race: one that waits
	 * names an entry it has not taken (avail_event at or past used->idx,
	 * so the interval is at most the queue's size). A busy device's old
	 * avail_event may name one too; telling it is harmless.
	 */
	if (!device_wants(q, used_idx(q), q->avail->idx))
		return;
	q->kick_spared = false;
	hz_counter_inc(&count_rekick);
	q->dev->ops->notify(q->dev, q->index);
}

/*
 * Gives up on @q's device, which used chain @id it was not given: counted,
 * said once, the device told (FAILED) and its queues no longer used.
 */
static void device_broken(struct hz_virtq *q, uint32_t id)
{
	struct hz_vdev *d = q->dev;

	hz_counter_inc(&count_bad_id);
	if (d->broken)
		return;
	d->broken = true;
	HZ_ERROR(&log_virtq,
		 "%s: queue %u used descriptor %lu, which it was not given "
		 "(queue of %u): device broken, no longer used",
		 d->where, q->index, (unsigned long)id, (unsigned)q->size);
	d->ops->set_status(d,
			   (uint8_t)(d->ops->get_status(d) | HZ_VDEV_S_FAILED));
}

void *hz_virtq_get(struct hz_virtq *q, uint32_t *len)
{
	struct hz_vring_used_elem e;
	uint16_t i, count = 1;
	void *cookie;

	if (q->dev->broken || used_idx(q) == q->last_used)
		return NULL;
	barrier(); /* the entry after the index that published it */
	e = q->used->ring[q->last_used & (q->size - 1)];
	if (e.id >= q->size || q->cookie[e.id] == NULL) {
		device_broken(q, e.id);
		return NULL;
	}
	q->last_used++;
	cookie = q->cookie[e.id];
	q->cookie[e.id] = NULL;
	for (i = (uint16_t)e.id; q->desc[i].flags & HZ_VRING_DESC_F_NEXT;
	     i = q->desc[i].next)
		count++;
	q->desc[i].next = q->free_head;
	q->free_head = (uint16_t)e.id;
	q->num_free = (uint16_t)(q->num_free + count);
	if (q->event_idx && !q->irq_on)
		*used_event(q) = (uint16_t)(q->last_used + EVENT_FAR);
	*len = e.len;
	return cookie;
}

bool hz_virtq_pending(const struct hz_virtq *q)
{
	return !q->dev->broken &&
	       *(const volatile uint16_t *)&q->used->idx != q->last_used;
}

bool hz_virtq_want_irq(struct hz_virtq *q, bool on)
{
	if (q->dev->broken)
		return false; /* nothing to wait for: yield halts */
	q->irq_on = on;
	if (q->event_idx)
		*used_event(q) =
		    (uint16_t)(q->last_used + (on ? 0 : EVENT_FAR));
	else
		*(volatile uint16_t *)&q->avail->flags =
		    on ? 0 : HZ_VRING_AVAIL_F_NO_INTERRUPT;
	fence(); /* the wish stored before used->idx is read */
	return used_idx(q) != q->last_used;
}

void *hz_virtq_wait(struct hz_virtq *q, uint64_t timeout_ns, uint32_t *len)
{
	uint64_t start = hz_platform_clock_monotonic(), now = start;
	void *cookie;

	while ((cookie = hz_virtq_get(q, len)) == NULL) {
		if (now - start >= timeout_ns || q->dev->broken)
			return NULL;
		if (!hz_virtq_want_irq(q, true)) {
			/* With a vector the interrupt ends the halt (and the
			 * PIT, at the latest after 55 ms, a lost one). */
			uint64_t until = q->dev->vector ? start + timeout_ns
							: now + 1000000u;
			hz_ready_set_t ready;
			hz_platform_yield(until, 0, &ready);
		}
		now = hz_platform_clock_monotonic();
	}
	(void)hz_virtq_want_irq(q, false); /* taken: no interrupt needed */
	return cookie;
}
