/*
 * libFuzzer harness: the host's tap helper (platform/host/tap.c), which
 * checks a frame asking for segmentation (TSO) before the kernel sees it,
 * completes a checksum the kernel left partial on a frame read, and, with
 * receive offload, checks a coalesced frame's header against the frame.
 * Input: two bytes of gso_size, a 10-byte virtio-net header for the read
 * side, then the frame. A SOCK_SEQPACKET pair stands in for the tap.
 */
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "haze/wire.h"
#include "platform/host/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int pair[2] = {-1, -1};

/* What hz_tap_write handed the "kernel": a header that stays in it. */
static void check_written(size_t len)
{
	static uint8_t f[65600];
	struct virtio_net_hdr h;
	struct iovec iov[2] = {{&h, sizeof(h)}, {f, sizeof(f)}};
	ssize_t n = readv(pair[1], iov, 2);

	if (n != (ssize_t)(sizeof(h) + len))
		__builtin_trap();
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return;
	if (h.hdr_len > len || len - h.hdr_len <= h.gso_size ||
	    h.gso_size == 0 || h.csum_start + h.csum_offset + 2u > len)
		__builtin_trap();
}

/* The kernel sends @f (@len) with header @h; false if it cannot. */
static bool kernel_sends(const struct virtio_net_hdr *h, const uint8_t *f,
			 size_t len)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)f, len}};

	return writev(pair[1], iov, 2) >= 0;
}

/* What hz_tap_read_offload took: a coalesced frame is what its header
 * says, and a flag it honours is one that was sent. */
static void check_offload_read(const struct virtio_net_hdr *h, const uint8_t *f,
			       size_t len)
{
	static uint8_t got[HZ_TAP_RX_MAX];
	struct hz_tap_rx rx;
	ssize_t r = hz_tap_read_offload(pair[0], got, sizeof(got), &rx);
	size_t ihl;

	if (r != (ssize_t)len || rx.refused >= HZ_TAP_RX_NREFUSALS)
		__builtin_trap();
	if (rx.refused != HZ_TAP_RX_OK) {
		if (rx.csum_ok)
			__builtin_trap();
		return;
	}
	if (rx.csum_ok && !(h->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM |
					VIRTIO_NET_HDR_F_DATA_VALID)))
		__builtin_trap();
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return;
	/* Taken coalesced: Ethernet, IPv4 filling the frame, TCP. */
	ihl = (size_t)(got[14] & 15) * 4;
	if (!rx.csum_ok || len < 14 + 40 || hz_get16(got + 12) != 0x0800 ||
	    got[23] != 6 || hz_get16(got + 16) != len - 14 || ihl < 20 ||
	    14 + ihl + (size_t)(got[14 + ihl + 12] >> 4) * 4 >= len ||
	    h->hdr_len > len || h->gso_size == 0)
		__builtin_trap();
	if (memcmp(got, f, len) != 0) /* left as it came */
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t got[2048];
	struct virtio_net_hdr h;
	size_t gso, len;
	ssize_t r;

	if (pair[0] < 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, pair) < 0)
		__builtin_trap();
	if (size < 2 + sizeof(h))
		return 0;
	gso = (size_t)data[0] << 8 | data[1];
	memcpy(&h, data + 2, sizeof(h));
	data += 2 + sizeof(h);
	len = size - 2 - sizeof(h);
	if (len > 65549)
		return 0;
	r = hz_tap_write(pair[0], data, len, gso);
	if (r >= 0)
		check_written(len);
	/* The same frame, from the "kernel" with the input's header. */
	if (!kernel_sends(&h, data, len))
		return 0;
	r = hz_tap_read(pair[0], got, sizeof(got));
	if (r < 0 || (r == 0 && len > 0))
		__builtin_trap();
	/* And to a reader that offered receive offload. */
	if (len == 0 || !kernel_sends(&h, data, len))
		return 0;
	check_offload_read(&h, data, len);
	return 0;
}
