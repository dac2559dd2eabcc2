/*
 * Linux tap devices with virtio-net headers (tap.h). The unix target and
 * haze-kvm (for hostile guests) both send through hz_tap_write, which
 * checks a segmented frame before the kernel sees it. The unix target
 * also reads with receive offload (hz_tap_read_offload), which checks a
 * coalesced frame's header against the frame before the stack sees it.
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

const char *const hz_tap_refusal_name[HZ_TAP_RX_NREFUSALS] = {
    [HZ_TAP_RX_OK] = "ok",
    [HZ_TAP_RX_GSO_TYPE] = "gso_type",
    [HZ_TAP_RX_GSO_FRAME] = "gso_not_tcp4",
    [HZ_TAP_RX_IP_LENGTH] = "gso_ip_length",
    [HZ_TAP_RX_GSO_SIZE] = "gso_size",
    [HZ_TAP_RX_HDR_LEN] = "gso_hdr_len",
    [HZ_TAP_RX_CSUM] = "bad_csum_place",
    [HZ_TAP_RX_FLAGS] = "bad_vnet_flags",
};

int hz_tap_attach(int fd, const char *ifname)
{
	struct ifreq ifr = {0};

	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	/* Offloads belong to the tap, not the descriptor: a persistent tap
	 * keeps those its last reader set. Start from none. */
	return hz_tap_set_offload(fd, false);
}

int hz_tap_set_offload(int fd, bool on)
{
	unsigned int f = on ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN : 0;

	if (ioctl(fd, TUNSETOFFLOAD, f) < 0)
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
	struct hz_gso_layout l;

	if (hz_gso_layout(f, len, gso_size, HZ_TAP_GSO_MAX, &l) < 0)
		return -EINVAL;
	*h = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = l.hdr_len,
	    .gso_size = (uint16_t)gso_size,
	    .csum_start = l.csum_start,
	    .csum_offset = 16,
	};
	return 0;
}

bool hz_tap_gso_ok(const void *frame, size_t len, size_t gso_size)
{
	struct virtio_net_hdr h;

	return gso_header(frame, len, gso_size, &h) == 0;
}

/* Bytes of a segmented frame's headers at most: Ethernet, IPv4, TCP. */
#define GSO_HEAD_MAX (14u + 60u + 60u)

ssize_t hz_tap_write(int fd, const void *frame, size_t len, size_t gso_size)
{
	struct virtio_net_hdr h = {0};
	uint8_t head[GSO_HEAD_MAX];
	size_t k = 0;
	ssize_t r;

	/*
	 * A segmented frame's headers are checked and sent from a copy: the
	 * frame may be in memory a guest changes as it runs (haze-kvm's net
	 * rings), and the kernel must get the headers that were checked.
	 */
	if (gso_size > 0) {
		k = len < sizeof(head) ? len : sizeof(head);
		memcpy(head, frame, k);
		if (gso_header(head, len, gso_size, &h) < 0)
			return -EINVAL;
	}
	struct iovec iov[3] = {{&h, sizeof(h)},
			       {head, k},
			       {(uint8_t *)(uintptr_t)frame + k, len - k}};
	do
		r = writev(fd, iov, 3);
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

/*
 * Reads one frame: its virtio-net header into @h, the frame into @buf, or
 * past @cap into a spill area that is thrown away. The frame's length
 * (more than @cap when it did not fit), 0 when none waits, or -errno.
 */
static ssize_t read_frame(int fd, void *buf, size_t cap,
			  struct virtio_net_hdr *h)
{
	static uint8_t spill[HZ_TAP_RX_MAX];
	struct iovec iov[3] = {
	    {h, sizeof(*h)}, {buf, cap}, {spill, sizeof(spill)}};
	ssize_t r;

	do
		r = readv(fd, iov, 3);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if ((size_t)r < sizeof(*h))
		return -EIO;
	return r - (ssize_t)sizeof(*h);
}

ssize_t hz_tap_read(int fd, void *buf, size_t cap)
{
	struct virtio_net_hdr h;
	ssize_t r = read_frame(fd, buf, cap, &h);
	size_t len;

	if (r <= 0)
		return r;
	len = (size_t)r;
	/* No offload was offered, so a segmented frame is not expected:
	 * it is dropped as too large. */
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return (ssize_t)(cap + 1);
	if (len <= cap && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		finish_checksum(buf, len, &h);
	return (ssize_t)len;
}

/*
 * The IPv4 header of Ethernet frame @f (@len bytes): its length, or 0
 * when @f is not IPv4 or the header does not fit.
 */
static size_t ipv4_hlen(const uint8_t *f, size_t len)
{
	size_t ihl;

	if (len < ETH_HLEN + 20 || hz_get16(f + 12) != 0x0800 ||
	    (f[ETH_HLEN] >> 4) != 4)
		return 0;
	ihl = (size_t)(f[ETH_HLEN] & 15) * 4;
	return ihl >= 20 && ETH_HLEN + ihl <= len ? ihl : 0;
}

/*
 * Whether NEEDS_CSUM's place in @f is the TCP (offset 16) or UDP (6)
 * checksum of an unfragmented IPv4 packet, inside the frame: the only
 * partial checksums the stack can leave unverified.
 */
static bool csum_at_transport(const uint8_t *f, size_t len,
			      const struct virtio_net_hdr *h)
{
	size_t ihl = ipv4_hlen(f, len);
	uint8_t proto;

	if (ihl == 0 || h->csum_start != ETH_HLEN + ihl ||
	    (hz_get16(f + ETH_HLEN + 6) & 0x3fff) != 0)
		return false;
	proto = f[ETH_HLEN + 9];
	if (!((proto == 6 && h->csum_offset == 16) ||
	      (proto == 17 && h->csum_offset == 6)))
		return false;
	return (size_t)h->csum_start + h->csum_offset + 2 <= len;
}

/*
 * Checks a coalesced (GSO) frame against its header: TCP/IPv4 (ECN
 * allowed, as offered), Ethernet + an unfragmented IPv4 packet exactly
 * filling the frame + TCP with a header that fits and some payload, a
 * gso_size, hdr_len inside the frame (only a hint: the kernel gives the
 * linear part's length), and a checksum the kernel vouches for. Why it
 * is refused, or HZ_TAP_RX_OK.
 */
static enum hz_tap_refusal gso_check(const uint8_t *f, size_t len,
				     const struct virtio_net_hdr *h)
{
	size_t ihl, doff;

	if ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV4)
		return HZ_TAP_RX_GSO_TYPE;
	ihl = ipv4_hlen(f, len);
	if (ihl == 0 || f[ETH_HLEN + 9] != 6 ||
	    (hz_get16(f + ETH_HLEN + 6) & 0x3fff) != 0 ||
	    ETH_HLEN + ihl + 20 > len)
		return HZ_TAP_RX_GSO_FRAME;
	if (hz_get16(f + ETH_HLEN + 2) != len - ETH_HLEN)
		return HZ_TAP_RX_IP_LENGTH;
	doff = (size_t)(f[ETH_HLEN + ihl + 12] >> 4) * 4;
	if (doff < 20 || ETH_HLEN + ihl + doff > len)
		return HZ_TAP_RX_GSO_FRAME;
	if (h->gso_size == 0 || ETH_HLEN + ihl + doff == len)
		return HZ_TAP_RX_GSO_SIZE;
	if (h->hdr_len > len)
		return HZ_TAP_RX_HDR_LEN;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return csum_at_transport(f, len, h) ? HZ_TAP_RX_OK
						    : HZ_TAP_RX_CSUM;
	/* Neither partial nor verified: nothing vouches for the data. */
	if (!(h->flags & VIRTIO_NET_HDR_F_DATA_VALID))
		return HZ_TAP_RX_FLAGS;
	return HZ_TAP_RX_OK;
}

ssize_t hz_tap_read_offload(int fd, void *buf, size_t cap, struct hz_tap_rx *rx)
{
	const uint8_t known =
	    VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	struct virtio_net_hdr h;
	ssize_t r = read_frame(fd, buf, cap, &h);
	size_t len;

	*rx = (struct hz_tap_rx){0};
	if (r <= 0 || (size_t)r > cap)
		return r;
	len = (size_t)r;
	if (h.flags & ~known)
		rx->refused = HZ_TAP_RX_FLAGS;
	else if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		rx->refused = gso_check(buf, len, &h);
	else if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		 !csum_at_transport(buf, len, &h)) {
		/* Not TCP/UDP over IPv4 (nothing Haze reads): completed
		 * into the frame, as a NIC would; a place outside the frame
		 * is a lie. */
		if (h.csum_start < len &&
		    h.csum_offset + 2u <= len - h.csum_start)
			finish_checksum(buf, len, &h);
		else
			rx->refused = HZ_TAP_RX_CSUM;
	}
	/* A partial checksum: the kernel vouches for the data and the field
	 * holds only the pseudo-header's sum. Completing it would cost a
	 * pass over the data for nothing: the stack is told not to verify. */
	rx->csum_ok = rx->refused == HZ_TAP_RX_OK &&
		      ((h.flags & VIRTIO_NET_HDR_F_DATA_VALID) ||
		       ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
			csum_at_transport(buf, len, &h)));
	return (ssize_t)len;
}

const char *hz_tap_open_hint(int err)
{
	if (err == -EACCES) /* opening /dev/net/tun */
		return " (/dev/net/tun is not readable and writable by this "
		       "user: run as root, or change its mode)";
	if (err == -EPERM) /* attaching */
		return " (attaching a tap needs root or CAP_NET_ADMIN, or a "
		       "tap made for this user: ip tuntap add dev IF mode tap "
		       "user USER)";
	if (err == -ENOENT || err == -ENODEV)
		return " (no /dev/net/tun: load the tun module)";
	return "";
}
