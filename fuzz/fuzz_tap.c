/*
 * libFuzzer harness: the host's tap helper (platform/host/tap.c), which
 * checks a frame asking for segmentation (TSO) before the kernel sees it,
 * and completes a checksum the kernel left partial on a frame read. Input:
 * two bytes of gso_size, a 10-byte virtio-net header for the read side,
 * then the frame. A SOCK_SEQPACKET pair stands in for the tap.
 */
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

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
	{
		struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)data, len}};

		if (writev(pair[1], iov, 2) < 0)
			return 0;
	}
	r = hz_tap_read(pair[0], got, sizeof(got));
	if (r < 0 || (r == 0 && len > 0))
		__builtin_trap();
	return 0;
}
