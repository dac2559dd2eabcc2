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
#include <sys/uio.h>
#include <unistd.h>

#include "haze/wire.h"

#define ETH_HLEN 14

int hz_tap_open(const char *ifname)
{
	struct ifreq ifr = {0};
	int fd, e;

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
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
