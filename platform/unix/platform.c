/*
 * The platform API for the unix target: Haze as a Linux process. The
 * console is stdout, clocks are clock_gettime, net devices are tap
 * interfaces, block devices are files, entropy is getrandom, and yield is
 * ppoll over the net devices' descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "haze/log.h"
#include "haze/manifest.h"
#include "haze/platform.h"
#include "platform/host/notify.h"
#include "platform/host/tap.h"
#include "platform/unix/unix.h"

#define TAP_MTU 1500

struct device {
	enum hz_device_kind kind;
	char name[HZ_DEVICE_NAME_MAX];
	int fd;
	bool acquired;
	bool rx_offload; /* the tap hands coalesced frames (rx_max) */
	struct hz_net_info net;
	struct hz_block_info block;
};

static struct device devices[HZ_HANDLE_MAX];
static int ndevices;

HZ_COUNTER(drop_oversize, "unix", "net_drop_oversize");
/* Frames a tap with receive offload refused: their header lies. */
static HZ_COUNTER(drop_gso_type, "unix", "net_drop_gso_type");
static HZ_COUNTER(drop_gso_frame, "unix", "net_drop_gso_not_tcp4");
static HZ_COUNTER(drop_ip_length, "unix", "net_drop_gso_ip_length");
static HZ_COUNTER(drop_gso_size, "unix", "net_drop_gso_size");
static HZ_COUNTER(drop_hdr_len, "unix", "net_drop_gso_hdr_len");
static HZ_COUNTER(drop_csum, "unix", "net_drop_bad_csum_place");
static HZ_COUNTER(drop_flags, "unix", "net_drop_bad_vnet_flags");

static struct hz_counter *const refusal_counter[HZ_TAP_RX_NREFUSALS] = {
    [HZ_TAP_RX_GSO_TYPE] = &drop_gso_type,
    [HZ_TAP_RX_GSO_FRAME] = &drop_gso_frame,
    [HZ_TAP_RX_IP_LENGTH] = &drop_ip_length,
    [HZ_TAP_RX_GSO_SIZE] = &drop_gso_size,
    [HZ_TAP_RX_HDR_LEN] = &drop_hdr_len,
    [HZ_TAP_RX_CSUM] = &drop_csum,
    [HZ_TAP_RX_FLAGS] = &drop_flags,
};
HZ_LOG_SOURCE(unix_log, "unix");

/*
 * Logs a host call on device @d that failed with errno (or, for @r == 0,
 * ended early); returns -HZ_EIO, which cannot carry the reason itself.
 */
static int host_failed(const struct device *d, const char *what, ssize_t r)
{
	HZ_ERROR(&unix_log, "%s device '%s': %s: %s",
		 d->kind == HZ_DEVICE_KIND_NET ? "net" : "block", d->name, what,
		 r == 0 ? "end of file" : strerror(errno));
	return -HZ_EIO;
}

static int bind_device(enum hz_device_kind kind, const char *name, int fd,
		       struct hz_errmsg *err)
{
	struct device *d;
	int h;

	for (int i = 0; i < ndevices; i++)
		if (strcmp(devices[i].name, name) == 0)
			return hz_errmsg_set(err, -HZ_EEXIST,
					     "device '%s' is bound twice",
					     name);
	if (strlen(name) == 0 || strlen(name) >= HZ_DEVICE_NAME_MAX)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "device name '%s' is empty or too long",
				     name);
	/* A slot an unwatched descriptor left (no name) is used again. */
	for (h = 0; h < ndevices && devices[h].name[0] != '\0'; h++)
		continue;
	if (h == HZ_HANDLE_MAX)
		return hz_errmsg_set(err, -HZ_ENOSPC, "too many devices");
	d = &devices[h];
	*d = (struct device){.kind = kind, .fd = fd};
	memcpy(d->name, name, strlen(name) + 1);
	if (h == ndevices)
		ndevices++;
	return h;
}

/* Binds net device @name to the open tap @fd: its handle, or an error
 * (then @fd is left). */
static int bind_tap_fd(const char *name, int fd, struct hz_errmsg *err)
{
	int h = bind_device(HZ_DEVICE_KIND_NET, name, fd, err);

	if (h < 0)
		return h;
	devices[h].net.mtu = TAP_MTU;
	devices[h].net.gso_max = HZ_TAP_GSO_MAX;
	if (getrandom(devices[h].net.mac, 6, 0) != 6)
		memcpy(devices[h].net.mac, &h, sizeof(h));
	devices[h].net.mac[0] =
	    (uint8_t)((devices[h].net.mac[0] & 0xfe) | 0x02);
	return h;
}

int hz_unix_bind_tap(const char *name, const char *ifname,
		     struct hz_errmsg *err)
{
	int fd, r;

	fd = hz_tap_open(ifname);
	if (fd == -ENAMETOOLONG)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "tap interface name '%s' is too long",
				     ifname);
	if (fd < 0)
		return hz_errmsg_set(err, -HZ_EIO, "attach to tap %s: %s%s",
				     ifname, strerror(-fd),
				     hz_tap_open_hint(fd));
	r = hz_tap_set_offload(fd, true);
	if (r < 0) {
		close(fd);
		return hz_errmsg_set(err, -HZ_EIO,
				     "tap %s: offer receive offload: %s",
				     ifname, strerror(-r));
	}
	r = bind_tap_fd(name, fd, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* Only a tap opened here: one passed down (tapfd) is its opener's,
	 * who may hand it next to a reader that takes no large frames. */
	devices[r].rx_offload = true;
	devices[r].net.rx_max = HZ_TAP_RX_MAX;
	return 0;
}

int hz_unix_bind_tapfd(const char *name, int fd, struct hz_errmsg *err)
{
	int r = hz_tap_adopt(fd, err);

	if (r == 0)
		r = bind_tap_fd(name, fd, err);
	return r < 0 ? r : 0;
}

/* --notify's descriptor, or -1; hz_platform_ready writes on it once. */
static int notify_fd = -1;
static bool notified_ready;

void hz_unix_notify_on(int fd)
{
	notify_fd = fd;
}

int hz_unix_bind_file(const char *name, const char *path, struct hz_errmsg *err)
{
	struct stat st;
	int fd, h, r;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return hz_errmsg_set(err, -HZ_EIO, "open %s: %s", path,
				     strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = hz_errmsg_set(err, -HZ_EINVAL, "%s is not a regular file",
				  path);
		close(fd);
		return r;
	}
	h = bind_device(HZ_DEVICE_KIND_BLOCK, name, fd, err);
	if (h < 0) {
		close(fd);
		return h;
	}
	devices[h].block.sector_size = 512;
	devices[h].block.capacity = (uint64_t)st.st_size & ~(uint64_t)511;
	return 0;
}

int hz_unix_watch_fd(int fd, hz_handle_t *h)
{
	struct hz_errmsg err;
	char name[HZ_DEVICE_NAME_MAX];
	int i;

	snprintf(name, sizeof(name), "fd%d", fd);
	i = bind_device(HZ_DEVICE_NONE, name, fd, &err);
	if (i < 0)
		return i;
	devices[i].acquired = true;
	*h = i;
	return 0;
}

void hz_unix_unwatch_fd(hz_handle_t h)
{
	if (h >= 0 && h < ndevices && devices[h].kind == HZ_DEVICE_NONE) {
		devices[h].acquired = false;
		devices[h].name[0] = '\0'; /* marks the slot free */
		devices[h].fd = -1;	   /* the caller's to close */
	}
}

void hz_unix_unbind_all(void)
{
	for (int i = 0; i < ndevices; i++)
		if (devices[i].fd >= 0)
			close(devices[i].fd);
	ndevices = 0;
}

/* --- the platform API ----------------------------------------------------- */

void hz_platform_console_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hz_platform_clock_monotonic(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t hz_platform_clock_wall(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void hz_platform_yield(uint64_t deadline, hz_ready_set_t interest,
		       hz_ready_set_t *ready)
{
	struct pollfd pfd[HZ_HANDLE_MAX];
	int handle[HZ_HANDLE_MAX];
	struct timespec ts = {0}, *tsp = NULL;
	uint64_t now = hz_platform_clock_monotonic();
	nfds_t n = 0;

	*ready = 0;
	for (int i = 0; i < ndevices; i++) {
		if (devices[i].acquired &&
		    devices[i].kind != HZ_DEVICE_KIND_BLOCK &&
		    (interest & (hz_ready_set_t)1 << i)) {
			pfd[n] = (struct pollfd){.fd = devices[i].fd,
						 .events = POLLIN};
			handle[n++] = i;
		}
	}
	if (deadline != HZ_DEADLINE_NEVER) {
		uint64_t wait = deadline > now ? deadline - now : 0;

		ts.tv_sec = (time_t)(wait / 1000000000u);
		ts.tv_nsec = (long)(wait % 1000000000u);
		tsp = &ts;
	}
	if (ppoll(pfd, n, tsp, NULL) <= 0)
		return;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			*ready |= (hz_ready_set_t)1 << handle[i];
}

void hz_platform_ready(void)
{
	if (notified_ready)
		return;
	notified_ready = true;
	hz_notify(notify_fd, "ready", hz_notify_now());
}

static struct device *device_get(hz_handle_t h, enum hz_device_kind kind)
{
	if (h < 0 || h >= ndevices || devices[h].kind != kind ||
	    !devices[h].acquired)
		return NULL;
	return &devices[h];
}

static int acquire(const char *name, enum hz_device_kind kind)
{
	for (int i = 0; i < ndevices; i++) {
		if (devices[i].kind == kind &&
		    strcmp(devices[i].name, name) == 0) {
			devices[i].acquired = true;
			return i;
		}
	}
	return -HZ_ENOENT;
}

int hz_platform_net_acquire(const char *name, hz_handle_t *h,
			    struct hz_net_info *info)
{
	int i = acquire(name, HZ_DEVICE_KIND_NET);

	if (i < 0)
		return i;
	*h = i;
	*info = devices[i].net;
	return 0;
}

int hz_platform_net_read(hz_handle_t h, struct hz_frame *frames, size_t n)
{
	struct device *d = device_get(h, HZ_DEVICE_KIND_NET);
	size_t got = 0;

	if (d == NULL)
		return -HZ_EINVAL;
	while (got < n) {
		struct hz_frame *f = &frames[got];
		struct hz_tap_rx rx = {0};
		ssize_t r;

		if (d->rx_offload)
			r = hz_tap_read_offload(d->fd, f->buf, f->cap, &rx);
		else
			r = hz_tap_read(d->fd, f->buf, f->cap);

		if (r == 0)
			break;
		if (r < 0) {
			errno = (int)-r;
			r = host_failed(d, "read", r);
			return got > 0 ? (int)got : (int)r;
		}
		if ((size_t)r > f->cap) {
			hz_counter_inc(&drop_oversize);
			continue;
		}
		if (rx.refused != HZ_TAP_RX_OK) {
			hz_counter_inc(refusal_counter[rx.refused]);
			continue;
		}
		f->len = (size_t)r;
		f->csum_ok = rx.csum_ok;
		got++;
	}
	return got > 0 ? (int)got : -HZ_EAGAIN;
}

int hz_platform_net_write(hz_handle_t h, const struct hz_frame *frames,
			  size_t n)
{
	struct device *d = device_get(h, HZ_DEVICE_KIND_NET);
	size_t sent = 0;

	if (d == NULL)
		return -HZ_EINVAL;
	while (sent < n) {
		const struct hz_frame *f = &frames[sent];
		size_t max = f->gso_size > 0 ? d->net.gso_max : d->net.mtu;
		ssize_t r;

		if (f->len > max + 14)
			return sent > 0 ? (int)sent : -HZ_EMSGSIZE;
		r = hz_tap_write(d->fd, f->buf, f->len, f->gso_size);
		if (r == -EINVAL)
			return sent > 0 ? (int)sent : -HZ_EINVAL;
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			errno = (int)-r;
			r = host_failed(d, "write", r);
			return sent > 0 ? (int)sent : (int)r;
		}
		sent++;
	}
	return (int)sent;
}

int hz_platform_block_acquire(const char *name, hz_handle_t *h,
			      struct hz_block_info *info)
{
	int i = acquire(name, HZ_DEVICE_KIND_BLOCK);

	if (i < 0)
		return i;
	*h = i;
	*info = devices[i].block;
	return 0;
}

/* Checks a block request against the device: alignment and range. */
static struct device *block_request(hz_handle_t h, uint64_t offset, size_t len)
{
	struct device *d = device_get(h, HZ_DEVICE_KIND_BLOCK);

	if (d == NULL || offset % d->block.sector_size != 0 ||
	    len % d->block.sector_size != 0 || offset > d->block.capacity ||
	    len > d->block.capacity - offset)
		return NULL;
	return d;
}

int hz_platform_block_read(hz_handle_t h, uint64_t offset, void *buf,
			   size_t len)
{
	struct device *d = block_request(h, offset, len);
	size_t done = 0;

	if (d == NULL)
		return -HZ_EINVAL;
	while (done < len) {
		ssize_t r = pread(d->fd, (char *)buf + done, len - done,
				  (off_t)(offset + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return host_failed(d, "pread", r);
		done += (size_t)r;
	}
	return 0;
}

int hz_platform_block_write(hz_handle_t h, uint64_t offset, const void *buf,
			    size_t len)
{
	struct device *d = block_request(h, offset, len);
	size_t done = 0;

	if (d == NULL)
		return -HZ_EINVAL;
	while (done < len) {
		ssize_t r = pwrite(d->fd, (const char *)buf + done, len - done,
				   (off_t)(offset + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return host_failed(d, "pwrite", r);
		done += (size_t)r;
	}
	return 0;
}

int hz_platform_block_flush(hz_handle_t h)
{
	struct device *d = device_get(h, HZ_DEVICE_KIND_BLOCK);

	if (d == NULL)
		return -HZ_EINVAL;
	return fdatasync(d->fd) == 0 ? 0 : host_failed(d, "fdatasync", -1);
}

int hz_platform_entropy(void *buf, size_t len)
{
	size_t done = 0;

	if (len > INT32_MAX)
		return -HZ_EINVAL;
	while (done < len) {
		ssize_t r = getrandom((char *)buf + done, len - done, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ENOSYS)
			return -HZ_ENOTSUP;
		if (r < 0) {
			HZ_ERROR(&unix_log, "getrandom: %s", strerror(errno));
			return -HZ_EIO;
		}
		done += (size_t)r;
	}
	return (int)len;
}

void hz_platform_exit(int status)
{
	exit(status);
}

void hz_platform_abort(void)
{
	abort();
}
