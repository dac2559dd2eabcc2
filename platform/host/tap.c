/*
 * Linux tap devices with virtio-net headers (tap.h). The unix target and
 * haze-kvm (for hostile guests) both send through hz_tap_write, which
 * checks a segmented frame before the kernel sees it.
 */
#include "platform/host/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "haze/wire.h"

#define ETH_HLEN 14

int hz_tap_attach(int fd, const char *ifname)
{
	struct ifreq ifr = {0};

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	return 0;
}

int hz_tap_open(const char *ifname)
{
	int fd, e;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = hz_tap_attach(fd, ifname);
	if (e < 0) {
		close(fd);
		return e;
	}
	return fd;
}

/* What a descriptor that is not /dev/net/tun is, for a refusal. */
static const char *file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a pipe";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "another character device";
	return "not a character device";
}

int hz_tap_adopt(int fd, struct hz_errmsg *err)
{
	struct ifreq ifr = {0};
	struct stat st;
	int fl, fdfl;

	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0 || fstat(fd, &st) < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "descriptor %d is not open", fd);
	/* /dev/net/tun is the misc device 10:200; another device's ioctl
	 * of the same number could mean something else entirely. */
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 ||
	    minor(st.st_rdev) != 200)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "descriptor %d is not /dev/net/tun (%s)",
				     fd, file_kind(st.st_mode));
	if ((fl & O_ACCMODE) != O_RDWR)
		return hz_errmsg_set(
		    err, -HZ_EINVAL,
		    "descriptor %d is not open for reading and writing", fd);
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "descriptor %d is attached to no "
				     "interface (no TUNSETIFF)",
				     fd);
	ifr.ifr_name[IFNAMSIZ - 1] = '\0';
	if ((ifr.ifr_flags & IFF_TUN) || !(ifr.ifr_flags & IFF_TAP))
		return hz_errmsg_set(
		    err, -HZ_EINVAL, "descriptor %d is %s %s, not a tap", fd,
		    (ifr.ifr_flags & IFF_TUN) ? "tun" : "interface",
		    ifr.ifr_name);
	if (!(ifr.ifr_flags & IFF_VNET_HDR) || !(ifr.ifr_flags & IFF_NO_PI))
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "tap %s (descriptor %d) is attached "
				     "without %s",
				     ifr.ifr_name, fd,
				     !(ifr.ifr_flags & IFF_VNET_HDR)
					 ? "IFF_VNET_HDR"
					 : "IFF_NO_PI");
	/* Reads must not block: the loop waits in poll, not in read. */
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "descriptor %d: cannot make it "
				     "non-blocking",
				     fd);
	if (fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "descriptor %d: cannot set close-on-exec",
				     fd);
	return 0;
}

/*
 * Fills @h for a frame the kernel is to segment: an unfragmented IPv4
 * packet filling the frame, carrying TCP with more than @gso_size bytes
 * of payload. 0, or -EINVAL.
 */
static int gso_header(const uint8_t *f, size_t len, size_t gso_size,
		      struct virtio_net_hdr *h)
{
	size_t ihl, doff, hdr;

	if (len < ETH_HLEN + 40 || len > ETH_HLEN + HZ_TAP_GSO_MAX ||
	    hz_get16(f + 12) != 0x0800 || (f[14] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(f[14] & 15) * 4;
	if (ihl < 20 || hz_get16(f + 16) != len - ETH_HLEN || f[23] != 6 ||
	    (hz_get16(f + 20) & 0x3fff) != 0 || ETH_HLEN + ihl + 20 > len)
		return -EINVAL;
	doff = (size_t)(f[ETH_HLEN + ihl + 12] >> 4) * 4;
	hdr = ETH_HLEN + ihl + doff;
	if (doff < 20 || hdr > len || gso_size == 0 || gso_size > 0xffff ||
	    len - hdr <= gso_size)
		return -EINVAL;
	*h = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = (uint16_t)hdr,
	    .gso_size = (uint16_t)gso_size,
	    .csum_start = (uint16_t)(ETH_HLEN + ihl),
	    .csum_offset = 16,
	};
	return 0;
}

ssize_t hz_tap_write(int fd, const void *frame, size_t len, size_t gso_size)
{
	struct virtio_net_hdr h = {0};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)frame, len}};
	ssize_t r;

	if (gso_size > 0 && gso_header(frame, len, gso_size, &h) < 0)
		return -EINVAL;
	do
		r = writev(fd, iov, 2);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == ENOBUFS ? -EAGAIN : -errno;
	return (ssize_t)len;
}

/* Completes the checksum the kernel left to the device (NEEDS_CSUM). */
static void finish_checksum(uint8_t *f, size_t len,
			    const struct virtio_net_hdr *h)
{
	if (h->csum_start >= len || h->csum_offset + 2u > len - h->csum_start)
		return;
	hz_put16(f + h->csum_start + h->csum_offset,
		 hz_inet_fold(
		     hz_inet_sum(f + h->csum_start, len - h->csum_start, 0)));
}

ssize_t hz_tap_read(int fd, void *buf, size_t cap)
{
	static uint8_t spill[ETH_HLEN + HZ_TAP_GSO_MAX];
	struct virtio_net_hdr h;
	struct iovec iov[3] = {
	    {&h, sizeof(h)}, {buf, cap}, {spill, sizeof(spill)}};
	ssize_t r;
	size_t len;

	do
		r = readv(fd, iov, 3);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if ((size_t)r < sizeof(h))
		return -EIO;
	len = (size_t)r - sizeof(h);
	/* No offload was offered, so a segmented frame is not expected:
	 * it is dropped as too large. */
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return (ssize_t)(cap + 1);
	if (len <= cap && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		finish_checksum(buf, len, &h);
	return (ssize_t)len;
}
