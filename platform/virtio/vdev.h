/*
 * virtio 1.x devices on the virtio target (docs/virtio.md): what a device
 * driver (net.c, blk.c, rng.c) needs of a transport (mmio.c, pci.c), and
 * split virtqueues (virtq.c). The guest is identity-mapped, so a pointer
 * is the address the device sees.
 *
 * A transport finds its devices at boot and registers each with
 * hz_vdev_register; drivers then claim them by device type in the order
 * the transports found them (the binding order, docs/virtio.md).
 *
 * Refined by virtq.c's author: the ring layouts are spelled out here
 * (struct hz_vring_*), struct hz_virtq keeps whether its interrupt is
 * wanted (irq_on), hz_virtq_pending looks for a used chain, and
 * hz_vdev_count/hz_vdev_at list the devices found (for messages and the
 * interrupt dispatch). Names and meanings of the lead's functions are
 * unchanged.
 */
#ifndef HAZE_VIRTIO_VDEV_H
#define HAZE_VIRTIO_VDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Device types (virtio 1.2, section 5). */
#define HZ_VDEV_NET 1
#define HZ_VDEV_BLK 2
#define HZ_VDEV_RNG 4

/* Device status bits (virtio 1.2, 2.1). */
#define HZ_VDEV_S_ACKNOWLEDGE 1
#define HZ_VDEV_S_DRIVER 2
#define HZ_VDEV_S_DRIVER_OK 4
#define HZ_VDEV_S_FEATURES_OK 8
#define HZ_VDEV_S_NEEDS_RESET 64
#define HZ_VDEV_S_FAILED 128

/* Feature bits every driver here negotiates or refuses. */
#define HZ_VDEV_F_RING_EVENT_IDX (1ull << 29)
#define HZ_VDEV_F_VERSION_1 (1ull << 32)

#define HZ_VDEV_MAX 16

struct hz_vdev;

/* What a transport does for a device; every call is for @d's transport. */
struct hz_vdev_ops {
	uint8_t (*get_status)(struct hz_vdev *d);
	/* 0 resets the device. */
	void (*set_status)(struct hz_vdev *d, uint8_t status);
	uint64_t (*get_features)(struct hz_vdev *d);
	void (*set_features)(struct hz_vdev *d, uint64_t features);
	/* Reads @size (1, 2, 4) bytes of device config at @off. */
	uint32_t (*config_read)(struct hz_vdev *d, unsigned off, unsigned size);
	/* The largest size of queue @q, 0 when the queue does not exist. */
	uint16_t (*queue_max)(struct hz_vdev *d, unsigned q);
	/* Gives queue @q its @size and ring addresses and enables it;
	 * 0 or -HZ_EIO. */
	int (*queue_setup)(struct hz_vdev *d, unsigned q, uint16_t size,
			   uint64_t desc, uint64_t avail, uint64_t used);
	/* Tells the device that queue @q has new buffers. */
	void (*notify)(struct hz_vdev *d, unsigned q);
	/* Acknowledges the device's interrupt; returns its ISR bits
	 * (1: a queue was used, 2: the configuration changed). */
	uint32_t (*irq_ack)(struct hz_vdev *d);
};

/* One device a transport found. */
struct hz_vdev {
	const struct hz_vdev_ops *ops;
	uint32_t type;	   /* HZ_VDEV_* */
	uint8_t vector;	   /* the IDT vector its interrupt arrives on */
	bool claimed;	   /* a driver took it */
	bool broken;	   /* it broke the ring protocol: no longer used */
	const char *where; /* for messages: "mmio@0xfeb00000", "pci 00:03.0" */
	uintptr_t base;	   /* the transport's own */
	uintptr_t notify;  /* the transport's own */
	uint32_t notify_mul; /* the transport's own */
	uintptr_t isr;	     /* the transport's own */
	uintptr_t cfg;	     /* the transport's own */
};

/* Adds a device a transport found; false when the table is full. */
bool hz_vdev_register(struct hz_vdev *d);

/* The next unclaimed device of @type in binding order, now claimed;
 * NULL when none is left. */
struct hz_vdev *hz_vdev_claim(uint32_t type);

/*
 * Resets @d, negotiates features (VERSION_1 is required; @wanted are the
 * others the driver can use) and leaves it at FEATURES_OK. Gives the
 * accepted features in *@got. 0, or -HZ_ENOTSUP when the device lacks
 * VERSION_1 or refuses FEATURES_OK (the device is then marked FAILED).
 */
int hz_vdev_negotiate(struct hz_vdev *d, uint64_t wanted, uint64_t *got);

/* The number of devices registered so far. */
unsigned hz_vdev_count(void);

/* Device @i (0 .. hz_vdev_count() - 1) in registration order. */
struct hz_vdev *hz_vdev_at(unsigned i);

/* The split ring's three parts, as the device reads them (2.7.5-2.7.8). */
struct hz_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct hz_vring_avail {
	uint16_t flags; /* HZ_VRING_AVAIL_F_NO_INTERRUPT */
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct hz_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct hz_vring_used {
	uint16_t flags; /* HZ_VRING_USED_F_NO_NOTIFY */
	uint16_t idx;
	struct hz_vring_used_elem ring[]; /* size entries, then avail_event */
};

#define HZ_VRING_AVAIL_F_NO_INTERRUPT 1
#define HZ_VRING_USED_F_NO_NOTIFY 1

/* One split virtqueue (virtio 1.2, 2.7). */
struct hz_virtq {
	struct hz_vdev *dev;
	unsigned index;
	uint16_t size;	/* a power of two */
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	struct hz_vring_desc *desc;
	struct hz_vring_avail *avail;
	struct hz_vring_used *used;
	uint16_t free_head; /* the chain of free descriptors */
	uint16_t num_free;
	uint16_t last_used; /* the next used entry to read */
	uint16_t kicked;    /* avail->idx when the device was last told */
	bool kick_spared;   /* a kick spared notifying since the device was
			       last told (hz_virtq_rekick) */
	bool irq_on;	    /* an interrupt is wanted for the next used chain */
	void **cookie;	    /* per head descriptor: the driver's token */
};

/* Descriptor flags. */
#define HZ_VRING_DESC_F_NEXT 1
#define HZ_VRING_DESC_F_WRITE 2

/* One buffer of a chain: device-readable, or device-writable (@write). */
struct hz_virtq_buf {
	void *addr;
	uint32_t len;
	bool write;
};

/*
 * Allocates queue @index of @d with at most @max entries (rounded down to
 * the device's maximum, a power of two) and gives it to the device.
 * 0, -HZ_ENOENT (no such queue), -HZ_ENOMEM, -HZ_EIO.
 */
int hz_virtq_init(struct hz_virtq *q, struct hz_vdev *d, unsigned index,
		  uint16_t max, bool event_idx);

/*
 * Makes the chain @bufs[0..n) available with the driver's @cookie, without
 * telling the device. 0, -HZ_EAGAIN when too few descriptors are free, or
 * -HZ_EIO when the device is broken.
 */
int hz_virtq_add(struct hz_virtq *q, const struct hz_virtq_buf *bufs,
		 unsigned n, void *cookie);

/* Tells the device about what hz_virtq_add made available since the last
 * kick, unless the device asked not to be told (event index, flags). */
void hz_virtq_kick(struct hz_virtq *q);

/*
 * After a kick that spared the notification, notifies the device if it
 * now waits for an entry it has not taken: the guest calls it before it
 * halts, so a kick lost to a race (virtq.c) costs a wait, not the queue.
 */
void hz_virtq_rekick(struct hz_virtq *q);

/*
 * Takes the next chain the device has used: its cookie, with the bytes
 * the device wrote in *@len; NULL when none is waiting. Frees the chain's
 * descriptors. A used entry naming a chain the device was not given
 * (an id out of range or not in flight) marks the device broken
 * (counted, said once on the console, status FAILED): from then on its
 * queues give nothing, wait for nothing and take nothing (-HZ_EIO).
 */
void *hz_virtq_get(struct hz_virtq *q, uint32_t *len);

/* Whether a used chain waits (hz_virtq_get would give one, or find the
 * device broken); false once the device is broken. */
bool hz_virtq_pending(const struct hz_virtq *q);

/*
 * Asks for an interrupt when the device uses the next chain (@on) or for
 * none (@off). Returns true when a used chain is already waiting, which
 * the caller must take before it halts.
 */
bool hz_virtq_want_irq(struct hz_virtq *q, bool on);

/*
 * Waits up to @timeout_ns for the next used chain of @q, for drivers whose
 * calls are synchronous (blk.c, rng.c): halts in hz_platform_yield with
 * the queue's interrupt asked for (a device without a vector is looked at
 * every millisecond). Its cookie and *@len as hz_virtq_get; NULL when the
 * time ran out, or at once when the device is (or turns out) broken.
 */
void *hz_virtq_wait(struct hz_virtq *q, uint64_t timeout_ns, uint32_t *len);

#endif
