/*
 * The virtio target's split virtqueues (platform/virtio/virtq.c), driven
 * on the host by a fake device that writes the used ring as a device
 * would: chains made available come back in the used ring and free their
 * descriptors; a used entry naming a chain the device was not given (an
 * id beyond the queue, or one not in flight) marks the device broken,
 * counted and said once, and from then on its queues look idle instead
 * of ready, so a guest halts in yield rather than spinning, and a
 * synchronous wait returns at once rather than after its timeout.
 */
#include "tests/unit/harness.h"

#include <string.h>
#include <time.h>

#include "haze/error.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "platform/virtio/vdev.h"

#define QSIZE 8

/* The fake device: what the driver told it. */
struct fake {
	struct hz_vdev vdev;
	uint8_t status;
	unsigned notified;
};

static struct fake *fake_of(struct hz_vdev *d)
{
	return (struct fake *)d;
}

static uint8_t fake_get_status(struct hz_vdev *d)
{
	return fake_of(d)->status;
}

static void fake_set_status(struct hz_vdev *d, uint8_t status)
{
	fake_of(d)->status = status;
}

static uint64_t fake_get_features(struct hz_vdev *d)
{
	(void)d;
	return HZ_VDEV_F_VERSION_1;
}

static void fake_set_features(struct hz_vdev *d, uint64_t features)
{
	(void)d;
	(void)features;
}

static uint32_t fake_config_read(struct hz_vdev *d, unsigned off, unsigned size)
{
	(void)d;
	(void)off;
	(void)size;
	return 0;
}

static uint16_t fake_queue_max(struct hz_vdev *d, unsigned q)
{
	(void)d;
	return q == 0 ? QSIZE : 0;
}

static int fake_queue_setup(struct hz_vdev *d, unsigned q, uint16_t size,
			    uint64_t desc, uint64_t avail, uint64_t used)
{
	(void)d;
	(void)q;
	(void)size;
	(void)desc;
	(void)avail;
	(void)used;
	return 0;
}

static void fake_notify(struct hz_vdev *d, unsigned q)
{
	(void)q;
	fake_of(d)->notified++;
}

static uint32_t fake_irq_ack(struct hz_vdev *d)
{
	(void)d;
	return 0;
}

static const struct hz_vdev_ops fake_ops = {
    fake_get_status,   fake_set_status,	 fake_get_features,
    fake_set_features, fake_config_read, fake_queue_max,
    fake_queue_setup,  fake_notify,	 fake_irq_ack,
};

/* A fake device with queue 0 of QSIZE entries set up in @q. */
static void fake_open(struct fake *f, struct hz_virtq *q, bool event_idx)
{
	memset(f, 0, sizeof(*f));
	f->vdev.ops = &fake_ops;
	f->vdev.type = HZ_VDEV_BLK;
	f->vdev.where = "fake@0";
	assert_int_equal(hz_virtq_init(q, &f->vdev, 0, 256, event_idx), 0);
	assert_int_equal(q->size, QSIZE);
}

/* What hz_virtq_init took from the heap. */
static void fake_close(struct hz_virtq *q)
{
	hz_free(q->cookie);
	hz_pages_free(q->desc);
}

/* The device puts chain @id, @len bytes written, in the used ring. */
static void device_uses(struct hz_virtq *q, uint32_t id, uint32_t len)
{
	uint16_t idx = q->used->idx;

	q->used->ring[idx & (q->size - 1)].id = id;
	q->used->ring[idx & (q->size - 1)].len = len;
	q->used->idx = (uint16_t)(idx + 1);
}

/* The head of the chain the driver made available last. */
static uint16_t last_avail(const struct hz_virtq *q)
{
	return q->avail->ring[(uint16_t)(q->avail->idx - 1) & (q->size - 1)];
}

static uint64_t bad_id_count(void)
{
	struct hz_counter *c = hz_counter_find("virtio", "used_bad_id");

	return c != NULL ? c->value : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The queue's ordinary round trip: what the device uses comes back with
 * its cookie and length, and its descriptors are free again. */
static void chains_come_back(void **state)
{
	struct fake f;
	struct hz_virtq q;
	char a[16], b[16];
	struct hz_virtq_buf bufs[2] = {{a, sizeof(a), false},
				       {b, sizeof(b), true}};
	uint32_t len = 0;
	uint16_t head;

	(void)state;
	fake_open(&f, &q, true);
	assert_int_equal(hz_virtq_add(&q, bufs, 2, a), 0);
	head = last_avail(&q);
	assert_int_equal(q.num_free, QSIZE - 2);
	hz_virtq_kick(&q);
	assert_int_equal(f.notified, 1);
	assert_false(hz_virtq_pending(&q));
	assert_null(hz_virtq_get(&q, &len));
	device_uses(&q, head, 7);
	assert_true(hz_virtq_pending(&q));
	assert_ptr_equal(hz_virtq_get(&q, &len), a);
	assert_int_equal(len, 7);
	assert_int_equal(q.num_free, QSIZE);
	assert_false(hz_virtq_pending(&q));
	assert_false(f.vdev.broken);
	fake_close(&q);
}

/*
 * The lost kick: the driver publishes entry 1 and reads avail_event while
 * the device, done with entry 0, writes avail_event = 1 and reads
 * avail->idx; without a real fence between (QEMU's TCG with one vCPU)
 * each sees the other's old value, so the kick is spared and the device
 * waits. hz_virtq_rekick, which the guest calls before it halts, makes
 * the kick up, once; nothing is made up after a kick that was sent, or
 * for a device that took everything.
 */
static void spared_kick_is_made_up(void **state)
{
	struct fake f;
	struct hz_virtq q;
	char a[16], b[16], c[16];
	struct hz_virtq_buf buf = {a, sizeof(a), false};
	volatile uint16_t *avail_event;
	uint32_t len = 0;

	(void)state;
	fake_open(&f, &q, true);
	avail_event = (volatile uint16_t *)&q.used->ring[q.size];
	/* The device waits for entry 0: the kick tells it. */
	*avail_event = 0;
	assert_int_equal(hz_virtq_add(&q, &buf, 1, a), 0);
	hz_virtq_kick(&q);
	assert_int_equal(f.notified, 1);
	hz_virtq_rekick(&q);
	assert_int_equal(f.notified, 1);
	/* Entry 1 published while avail_event still read 0: spared. */
	assert_int_equal(hz_virtq_add(&q, &buf, 1, b), 0);
	hz_virtq_kick(&q);
	assert_int_equal(f.notified, 1);
	/* The device took entry 0 and waits for entry 1, which it did not
	 * see published: only the made-up kick reaches it. */
	device_uses(&q, q.avail->ring[0], 0);
	*avail_event = 1;
	hz_virtq_rekick(&q);
	assert_int_equal(f.notified, 2);
	hz_virtq_rekick(&q);
	assert_int_equal(f.notified, 2);
	assert_ptr_equal(hz_virtq_get(&q, &len), a);
	/* Spared again, but the device took everything before the halt. */
	assert_int_equal(hz_virtq_add(&q, &buf, 1, c), 0);
	hz_virtq_kick(&q);
	assert_int_equal(f.notified, 2);
	device_uses(&q, q.avail->ring[1], 0);
	device_uses(&q, q.avail->ring[2], 0);
	*avail_event = 3;
	hz_virtq_rekick(&q);
	assert_int_equal(f.notified, 2);
	fake_close(&q);
}

/*
 * Checks that @q's device, which just used a chain it was not given, is
 * given up on: counted once, FAILED, its queue idle (no used chain, not
 * pending, nothing to wait for), taking no chain and telling nothing.
 */
static void check_broken(struct fake *f, struct hz_virtq *q, uint64_t before)
{
	char c[8];
	struct hz_virtq_buf buf = {c, sizeof(c), true};
	unsigned notified = f->notified;
	uint32_t len = 0;
	uint64_t t0;

	assert_null(hz_virtq_get(q, &len));
	assert_true(f->vdev.broken);
	assert_true(f->status & HZ_VDEV_S_FAILED);
	assert_int_equal(bad_id_count(), before + 1);
	/* Looked at again: still nothing, and counted once. */
	assert_null(hz_virtq_get(q, &len));
	assert_int_equal(bad_id_count(), before + 1);
	/* Not ready: yield would spin on a queue that says it is. */
	assert_false(hz_virtq_pending(q));
	assert_false(hz_virtq_want_irq(q, true));
	assert_false(hz_virtq_want_irq(q, false));
	assert_int_equal(hz_virtq_add(q, &buf, 1, c), -HZ_EIO);
	hz_virtq_kick(q);
	hz_virtq_rekick(q);
	assert_int_equal(f->notified, notified);
	/* A synchronous driver hears of it at once, not after 5 s. */
	t0 = now_ns();
	assert_null(hz_virtq_wait(q, 5000000000ull, &len));
	assert_true(now_ns() - t0 < 1000000000ull);
}

/* A used entry whose id lies beyond the queue. */
static void id_out_of_range_breaks_device(void **state)
{
	struct fake f;
	struct hz_virtq q;
	char a[16];
	struct hz_virtq_buf buf = {a, sizeof(a), true};
	uint64_t before = bad_id_count();

	(void)state;
	fake_open(&f, &q, true);
	assert_int_equal(hz_virtq_add(&q, &buf, 1, a), 0);
	hz_virtq_kick(&q);
	device_uses(&q, QSIZE + 3, 16);
	check_broken(&f, &q, before);
	fake_close(&q);
}

/* A used entry naming a chain already taken back, and one naming a
 * descriptor that never headed a chain; without the event index too. */
static void id_not_in_flight_breaks_device(void **state)
{
	struct fake f;
	struct hz_virtq q;
	char a[16], b[16];
	struct hz_virtq_buf bufs[2] = {{a, sizeof(a), false},
				       {b, sizeof(b), true}};
	uint32_t len = 0;
	uint64_t before = bad_id_count();
	uint16_t head;

	(void)state;
	fake_open(&f, &q, false);
	assert_int_equal(hz_virtq_add(&q, bufs, 1, a), 0);
	head = last_avail(&q);
	device_uses(&q, head, 1);
	assert_ptr_equal(hz_virtq_get(&q, &len), a);
	device_uses(&q, head, 1); /* again: not in flight */
	check_broken(&f, &q, before);
	fake_close(&q);

	before = bad_id_count();
	fake_open(&f, &q, false);
	assert_int_equal(hz_virtq_add(&q, bufs, 2, a), 0);
	head = last_avail(&q);
	/* The chain's second descriptor, never a head. */
	device_uses(&q, q.desc[head].next, 1);
	check_broken(&f, &q, before);
	fake_close(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(chains_come_back),
	    HARNESS_TEST(spared_kick_is_made_up),
	    HARNESS_TEST(id_out_of_range_breaks_device),
	    HARNESS_TEST(id_not_in_flight_breaks_device),
	};

	return HARNESS_RUN("virtq", tests);
}
