/*
 * virtio-blk (virtio 1.2, 5.2) as the platform API's block devices on the
 * virtio target, over either transport (docs/virtio.md).
 *
 * Binding (hz_virtio_blk_bind, by bind.c's rule): the virtio-blk devices
 * the transports found, in registration order (MMIO, then PCI in
 * bus/slot/function order), go to the names of the `haze.block=` option
 * in its order, or without the option to the manifest's block devices in
 * manifest order. A handle is the device's manifest index, as on kvm. A
 * device is set up on its first acquire: VERSION_1, and RO, BLK_SIZE,
 * FLUSH and SIZE_MAX when offered; one queue.
 *
 * The platform's block calls are synchronous: a request (header, the
 * caller's buffer as it is, status byte) is made available, and the call
 * waits for its used entry (hz_virtq_wait: halting in hz_platform_yield
 * with the device's interrupt asked for), so the CPU halts rather than
 * spins while the host does the I/O. The caller's buffer goes to the
 * device directly: the guest is identity-mapped, so any run of its
 * memory is one physical range, whatever pages it crosses. A transfer
 * longer than REQ_MAX (or the device's size_max) is cut into several
 * requests, one at a time; each has one data segment, within any
 * seg_max.
 */
#include <stdint.h>
#include <string.h>

#include "haze/log.h"
#include "haze/manifest.h"
#include "haze/platform.h"
#include "bind.h"
#include "vdev.h"
#include "virtio.h"

#define F_SIZE_MAX (1ull << 1)
#define F_RO (1ull << 5)
#define F_BLK_SIZE (1ull << 6)
#define F_FLUSH (1ull << 9)

/* Device configuration (5.2.4). */
#define CFG_CAPACITY 0 /* le64, in 512-byte sectors */
#define CFG_SIZE_MAX 8
#define CFG_BLK_SIZE 20

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define SECTOR 512u
#define REQ_MAX (1u << 20) /* bytes per request */
#define QUEUE_MAX 16
/* How long a request may take before the device is given up on. */
#define REQ_TIMEOUT_NS 30000000000ull

struct blk_req_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* A bound device; indexed by manifest entry, which is its handle. */
struct blk {
	struct hz_vdev *dev; /* NULL: not bound */
	struct hz_virtq q;
	uint64_t capacity; /* bytes */
	uint32_t sector_size;
	uint32_t chunk; /* bytes per request */
	bool ro, flush;
	bool failed; /* a request timed out: the device is given up on */
	const char *name;
	/* Device-visible parts of the one request in flight. */
	struct blk_req_header hdr;
	uint8_t status;
};

static struct blk blks[HZ_MANIFEST_MAX];
/* The virtio-blk device of each manifest entry, from hz_virtio_blk_bind. */
static struct hz_vdev *bound[HZ_MANIFEST_MAX];
/* The haze.block= option. */
static struct hz_virtio_names bind_opt;
static HZ_LOG_SOURCE(log_blk, "virtio-blk");
static HZ_COUNTER(count_io_error, "virtio-blk", "io_error");
static HZ_COUNTER(count_ro_write, "virtio-blk", "write_read_only");
static HZ_COUNTER(count_timeout, "virtio-blk", "timeout");

bool hz_virtio_blk_option(const char *value)
{
	return hz_virtio_names_option(&bind_opt, value,
				      "haze: haze.block=: too long\n");
}

void hz_virtio_blk_bind(void)
{
	struct hz_vdev *found[HZ_VDEV_MAX];
	unsigned n = 0;

	for (unsigned k = 0; k < hz_vdev_count(); k++)
		if (hz_vdev_at(k)->type == HZ_VDEV_BLK)
			found[n++] = hz_vdev_at(k);
	hz_virtio_bind_found(HZ_DEVICE_KIND_BLOCK, &bind_opt, found, n, bound);
}

/* Reads the 64-bit configuration field at @off, stable across a change. */
static uint64_t config_read64(struct hz_vdev *d, unsigned off)
{
	uint32_t hi, lo;

	do {
		hi = d->ops->config_read(d, off + 4, 4);
		lo = d->ops->config_read(d, off, 4);
	} while (hi != d->ops->config_read(d, off + 4, 4));
	return (uint64_t)hi << 32 | lo;
}

/* Sets up device @d for @b: features, configuration, queue. */
static int blk_setup(struct blk *b, struct hz_vdev *d)
{
	uint64_t got;
	uint32_t bs = SECTOR;
	int r;

	r = hz_vdev_negotiate(d, F_RO | F_BLK_SIZE | F_FLUSH | F_SIZE_MAX,
			      &got);
	if (r < 0) {
		HZ_ERROR(&log_blk, "block %s: %s refuses virtio 1.x", b->name,
			 d->where);
		return -HZ_EIO;
	}
	if (got & F_BLK_SIZE) {
		uint32_t v = d->ops->config_read(d, CFG_BLK_SIZE, 4);
		/* A power of two from 512 to 64 KiB, else sectors. */
		if (v >= SECTOR && v <= 65536 && (v & (v - 1)) == 0)
			bs = v;
	}
	b->sector_size = bs;
	b->capacity = config_read64(d, CFG_CAPACITY);
	if (b->capacity > UINT64_MAX / SECTOR)
		b->capacity = UINT64_MAX / SECTOR;
	b->capacity = b->capacity * SECTOR / bs * bs;
	b->chunk = REQ_MAX;
	if (got & F_SIZE_MAX) {
		uint32_t v = d->ops->config_read(d, CFG_SIZE_MAX, 4);
		if (v >= bs && v < b->chunk)
			b->chunk = v / bs * bs;
	}
	b->ro = got & F_RO;
	b->flush = got & F_FLUSH;
	/* Every request is header, data, status: 3 descriptors, within
	 * any seg_max (which counts data segments, at least 1). */
	r = hz_virtq_init(&b->q, d, 0, QUEUE_MAX, false);
	if (r < 0) {
		HZ_ERROR(&log_blk, "block %s: %s: no request queue (%s)",
			 b->name, d->where, hz_strerror(r));
		d->ops->set_status(d, HZ_VDEV_S_FAILED);
		return -HZ_EIO;
	}
	d->ops->set_status(d, HZ_VDEV_S_ACKNOWLEDGE | HZ_VDEV_S_DRIVER |
				  HZ_VDEV_S_FEATURES_OK | HZ_VDEV_S_DRIVER_OK);
	b->dev = d;
	HZ_INFO(&log_blk, "block %s: %s, %llu bytes, %u-byte sectors%s%s",
		b->name, d->where, (unsigned long long)b->capacity, bs,
		b->ro ? ", read-only" : "", b->flush ? ", flush" : "");
	return 0;
}

int hz_platform_block_acquire(const char *name, hz_handle_t *h,
			      struct hz_block_info *info)
{
	int i =
	    hz_virtio_manifest_find(&hz_manifest, HZ_DEVICE_KIND_BLOCK, name,
				    strnlen(name, HZ_DEVICE_NAME_MAX + 1));
	struct blk *b;

	if (i < 0)
		return -HZ_ENOENT;
	b = &blks[i];
	if (b->dev == NULL) {
		struct hz_vdev *d = bound[i];
		if (d == NULL || d->claimed)
			return -HZ_ENOENT;
		d->claimed = true;
		b->name = hz_manifest.entries[i].name;
		int r = blk_setup(b, d);
		if (r < 0)
			return r;
	}
	*h = i;
	info->capacity = b->capacity;
	info->sector_size = b->sector_size;
	return 0;
}

/* The bound device of handle @h, or NULL. */
static struct blk *blk_of(hz_handle_t h)
{
	if (h < 0 || h >= HZ_MANIFEST_MAX || blks[h].dev == NULL)
		return NULL;
	return &blks[h];
}

/* Carries out one request of @type at byte @offset with @len bytes of
 * @buf (0 for a flush); 0 or -HZ_EIO. */
static int blk_request(struct blk *b, uint32_t type, uint64_t offset, void *buf,
		       uint32_t len)
{
	struct hz_virtq_buf bufs[3];
	unsigned n = 0;
	uint32_t used;
	int r;

	if (b->failed)
		return -HZ_EIO;
	b->hdr = (struct blk_req_header){type, 0, offset / SECTOR};
	b->status = 0xff;
	bufs[n++] = (struct hz_virtq_buf){&b->hdr, sizeof(b->hdr), false};
	if (len)
		bufs[n++] = (struct hz_virtq_buf){buf, len, type == T_IN};
	bufs[n++] = (struct hz_virtq_buf){&b->status, 1, true};
	r = hz_virtq_add(&b->q, bufs, n, b);
	if (r < 0)
		return -HZ_EIO; /* a broken device: one request at a time */
	hz_virtq_kick(&b->q);
	if (hz_virtq_wait(&b->q, REQ_TIMEOUT_NS, &used) == NULL) {
		/* A broken device (virtq.c) has been reported already. */
		if (!b->dev->broken) {
			hz_counter_inc(&count_timeout);
			HZ_ERROR(&log_blk,
				 "block %s: %s did not complete a request in "
				 "%llu s: given up",
				 b->name, b->dev->where,
				 (unsigned long long)(REQ_TIMEOUT_NS /
						      1000000000ull));
		}
		b->failed = true;
		return -HZ_EIO;
	}
	if (b->status != S_OK) {
		hz_counter_inc(&count_io_error);
		HZ_ERROR(&log_blk, "block %s: %s at byte %llu: %s", b->name,
			 type == T_IN	 ? "read"
			 : type == T_OUT ? "write"
					 : "flush",
			 (unsigned long long)offset,
			 b->status == S_IOERR	 ? "I/O error"
			 : b->status == S_UNSUPP ? "not supported"
						 : "bad status");
		return -HZ_EIO;
	}
	return 0;
}

/* Checks a transfer of @len bytes at @offset; then does it request by
 * request. */
static int blk_io(hz_handle_t h, uint32_t type, uint64_t offset, void *buf,
		  size_t len)
{
	struct blk *b = blk_of(h);

	if (b == NULL || offset % b->sector_size || len % b->sector_size ||
	    offset > b->capacity || len > b->capacity - offset)
		return -HZ_EINVAL;
	if (type == T_OUT && b->ro) {
		hz_counter_inc(&count_ro_write);
		HZ_ERROR(&log_blk, "block %s: the device is read-only",
			 b->name);
		return -HZ_EIO;
	}
	while (len) {
		uint32_t k = len < b->chunk ? (uint32_t)len : b->chunk;
		int r = blk_request(b, type, offset, buf, k);
		if (r < 0)
			return r;
		offset += k;
		buf = (char *)buf + k;
		len -= k;
	}
	return 0;
}

int hz_platform_block_read(hz_handle_t h, uint64_t offset, void *buf,
			   size_t len)
{
	return blk_io(h, T_IN, offset, buf, len);
}

int hz_platform_block_write(hz_handle_t h, uint64_t offset, const void *buf,
			    size_t len)
{
	/* The device only reads it: the descriptor is device-readable. */
	return blk_io(h, T_OUT, offset, (void *)(uintptr_t)buf, len);
}

int hz_platform_block_flush(hz_handle_t h)
{
	struct blk *b = blk_of(h);

	if (b == NULL)
		return -HZ_EINVAL;
	/* A device without FLUSH has no write cache the driver can empty
	 * (virtio 1.2, 5.2.6.2): there is nothing to ask of it. */
	if (!b->flush)
		return 0;
	return blk_request(b, T_FLUSH, 0, NULL, 0);
}
