/*
 * The host's tap helper (platform/host/tap.c) against a SOCK_SEQPACKET
 * pair standing in for the tap: the virtio-net header a segmented frame
 * (TSO) carries, the frames it refuses to hand the kernel (a hostile
 * guest's), and the read side: header stripped, a checksum the kernel
 * left partial completed, an offloaded frame dropped, nothing waiting.
 * With receive offload (hz_tap_read_offload): coalesced frames taken,
 * checksum flags honoured, and every lying header refused with its
 * reason.
 */
#include "tests/unit/harness.h"

#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/inet.h"
#include "platform/host/tap.h"

#define PAYLOAD 3000 /* three segments of 1000, the last short */

static int pair[2]; /* [0] the "tap" the helper uses, [1] the kernel */

static void pair_open(void)
{
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, pair), 0);
}

static void pair_close(void)
{
	close(pair[0]);
	close(pair[1]);
}

/* An Ethernet frame of TCP/IPv4 carrying @payload bytes; its length. */
static size_t tcp_frame(uint8_t *f, size_t payload)
{
	size_t len = 14 + 20 + 32 + payload;

	memset(f, 0, len);
	hz_put16(f + 12, 0x0800);
	f[14] = 0x45;
	hz_put16(f + 16, (uint16_t)(len - 14));
	f[14 + 8] = 64;
	f[14 + 9] = 6;
	f[14 + 20 + 12] = 8 << 4; /* 32-byte TCP header: options */
	for (size_t i = 0; i < payload; i++)
		f[14 + 20 + 32 + i] = (uint8_t)i;
	return len;
}

/* Reads what the helper wrote: header into @h, frame into @f; length. */
static size_t kernel_reads(struct virtio_net_hdr *h, uint8_t *f, size_t cap)
{
	struct iovec iov[2] = {{h, sizeof(*h)}, {f, cap}};
	ssize_t n = readv(pair[1], iov, 2);

	assert_true(n >= (ssize_t)sizeof(*h));
	return (size_t)n - sizeof(*h);
}

static void segmented_frame_header(void **state)
{
	static uint8_t f[2048 + PAYLOAD], back[2048 + PAYLOAD];
	struct virtio_net_hdr h;
	size_t len = tcp_frame(f, PAYLOAD);

	(void)state;
	pair_open();
	assert_int_equal(hz_tap_write(pair[0], f, len, 1000), (ssize_t)len);
	assert_int_equal(kernel_reads(&h, back, sizeof(back)), len);
	assert_memory_equal(back, f, len);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.hdr_len, 14 + 20 + 32);
	assert_int_equal(h.gso_size, 1000);
	assert_int_equal(h.csum_start, 14 + 20);
	assert_int_equal(h.csum_offset, 16);
	/* An ordinary frame goes with an empty header. */
	assert_int_equal(hz_tap_write(pair[0], f, 60, 0), 60);
	assert_int_equal(kernel_reads(&h, back, sizeof(back)), 60);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	pair_close();
}

static void bad_segmented_frames_refused(void **state)
{
	static uint8_t f[2048 + PAYLOAD];
	uint8_t spare[16];
	size_t len;

	(void)state;
	pair_open();
	/* Each case spoils one thing of a good frame. */
	for (int c = 0; c < 9; c++) {
		size_t gso = 1000;

		len = tcp_frame(f, PAYLOAD);
		switch (c) {
		case 0:
			hz_put16(f + 12, 0x86dd); /* not IPv4 */
			break;
		case 1:
			f[14 + 9] = 17; /* UDP */
			break;
		case 2:
			hz_put16(f + 14 + 6, 0x2000); /* a fragment */
			break;
		case 3:
			hz_put16(f + 16, (uint16_t)(len - 15)); /* IP length */
			break;
		case 4:
			f[14 + 20 + 12] = 15 << 4; /* TCP header past the end */
			len = 14 + 20 + 40;
			hz_put16(f + 16, (uint16_t)(len - 14));
			break;
		case 5:
			gso = PAYLOAD; /* one segment: nothing to cut */
			break;
		case 6:
			gso = 0x10000; /* does not fit the header's field */
			break;
		case 7:
			f[14] = 0x44; /* IP header length 16 */
			break;
		case 8:
			len = 14 + 30; /* too short for any header */
			break;
		}
		assert_int_equal(hz_tap_write(pair[0], f, len, gso), -EINVAL);
	}
	/* Nothing reached the "kernel". */
	assert_int_equal(read(pair[1], spare, sizeof(spare)), -1);
	assert_int_equal(errno, EAGAIN);
	pair_close();
}

/* The kernel sends @f (@len) with header @h. */
static void kernel_sends(const struct virtio_net_hdr *h, const uint8_t *f,
			 size_t len)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)f, len}};

	assert_int_equal(writev(pair[1], iov, 2), (ssize_t)(sizeof(*h) + len));
}

static void reads_strip_and_complete(void **state)
{
	static uint8_t f[2048], got[2048];
	struct virtio_net_hdr h = {0};
	size_t len = tcp_frame(f, 501); /* odd: the sum's last byte alone */
	uint32_t sum =
	    hz_inet_pseudo_sum(HZ_IPV4(10, 0, 0, 1), HZ_IPV4(10, 0, 0, 2),
			       HZ_IPPROTO_TCP, (uint16_t)(len - 34));

	(void)state;
	pair_open();
	/* Nothing waits. */
	assert_int_equal(hz_tap_read(pair[0], got, sizeof(got)), 0);
	/* A plain frame: the header is stripped. */
	kernel_sends(&h, f, len);
	assert_int_equal(hz_tap_read(pair[0], got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, f, len);
	/* The checksum left to the device is completed. */
	hz_put32(f + 26, HZ_IPV4(10, 0, 0, 1));
	hz_put32(f + 30, HZ_IPV4(10, 0, 0, 2));
	hz_put16(f + 34 + 16, (uint16_t)~hz_inet_fold(sum));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	kernel_sends(&h, f, len);
	assert_int_equal(hz_tap_read(pair[0], got, sizeof(got)), (ssize_t)len);
	assert_int_equal(hz_inet_fold(hz_inet_sum(got + 34, len - 34, sum)), 0);
	/* A checksum place outside the frame is left alone. */
	h.csum_offset = (uint16_t)(len - 34);
	kernel_sends(&h, f, len);
	assert_int_equal(hz_tap_read(pair[0], got, sizeof(got)), (ssize_t)len);
	assert_memory_equal(got, f, len);
	/* Offloaded (never offered): reported too large, so dropped. */
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				    .gso_size = 1000};
	kernel_sends(&h, f, len);
	assert_true(hz_tap_read(pair[0], got, sizeof(got)) >
		    (ssize_t)sizeof(got));
	/* Too large for the buffer: its length says so. */
	h = (struct virtio_net_hdr){0};
	kernel_sends(&h, f, len);
	assert_int_equal(hz_tap_read(pair[0], got, 100), (ssize_t)len);
	pair_close();
}

/* Reads with receive offload; checks length, refusal and csum_ok. */
static void offload_reads(uint8_t *got, size_t cap, ssize_t len,
			  enum hz_tap_refusal why, bool csum_ok)
{
	struct hz_tap_rx rx;

	assert_int_equal(hz_tap_read_offload(pair[0], got, cap, &rx), len);
	assert_int_equal(rx.refused, why);
	assert_int_equal(rx.csum_ok, csum_ok);
}

/* The header the kernel gives a coalesced frame of @f (TCP at 34). */
static struct virtio_net_hdr gso_hdr(void)
{
	return (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = 14 + 20 + 32,
	    .gso_size = 1448,
	    .csum_start = 14 + 20,
	    .csum_offset = 16,
	};
}

static void offload_takes_coalesced_frames(void **state)
{
	static uint8_t f[HZ_TAP_RX_MAX], got[HZ_TAP_RX_MAX];
	size_t len = tcp_frame(f, 64000);
	struct virtio_net_hdr h = gso_hdr();

	(void)state;
	pair_open();
	offload_reads(got, sizeof(got), 0, HZ_TAP_RX_OK, false);
	/* 64 KB of TCP in one frame, its checksum partial (what the kernel
	 * leaves): taken whole, vouched for, and left as it came. */
	hz_put16(f + 34 + 16, 0x1234);
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, true);
	assert_memory_equal(got, f, len);
	/* With the ECN bit (TUN_F_TSO_ECN is offered), and verified by the
	 * kernel rather than partial. */
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, true);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	h.csum_start = h.csum_offset = 0;
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, true);
	/* A buffer too small: reported too large, so dropped. */
	h = gso_hdr();
	kernel_sends(&h, f, len);
	offload_reads(got, 2048, (ssize_t)len, HZ_TAP_RX_OK, false);
	/* Ordinary frames: no flag, to be verified; DATA_VALID, not. */
	len = tcp_frame(f, 100);
	h = (struct virtio_net_hdr){0};
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, false);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, true);
	/* NEEDS_CSUM at the TCP checksum: vouched for, frame untouched. */
	h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = 34,
				    .csum_offset = 16};
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, true);
	assert_memory_equal(got, f, len);
	/* Elsewhere (not IPv4: nothing Haze reads), completed as a NIC
	 * would, and not vouched for. */
	hz_put16(f + 12, 0x86dd);
	kernel_sends(&h, f, len);
	offload_reads(got, sizeof(got), (ssize_t)len, HZ_TAP_RX_OK, false);
	assert_int_equal(hz_inet_fold(hz_inet_sum(got + 34, len - 34, 0)), 0);
	pair_close();
}

static void offload_refuses_lying_headers(void **state)
{
	static uint8_t f[HZ_TAP_RX_MAX], got[HZ_TAP_RX_MAX];
	static const enum hz_tap_refusal why[] = {
	    HZ_TAP_RX_GSO_TYPE,	 HZ_TAP_RX_GSO_TYPE,  HZ_TAP_RX_GSO_FRAME,
	    HZ_TAP_RX_GSO_FRAME, HZ_TAP_RX_GSO_FRAME, HZ_TAP_RX_IP_LENGTH,
	    HZ_TAP_RX_IP_LENGTH, HZ_TAP_RX_GSO_FRAME, HZ_TAP_RX_GSO_SIZE,
	    HZ_TAP_RX_GSO_SIZE,	 HZ_TAP_RX_HDR_LEN,   HZ_TAP_RX_CSUM,
	    HZ_TAP_RX_CSUM,	 HZ_TAP_RX_FLAGS,     HZ_TAP_RX_FLAGS,
	    HZ_TAP_RX_CSUM,	 HZ_TAP_RX_GSO_FRAME, HZ_TAP_RX_CSUM,
	};

	(void)state;
	pair_open();
	/* Each case spoils one thing of a good coalesced frame. */
	for (size_t c = 0; c < sizeof(why) / sizeof(why[0]); c++) {
		struct virtio_net_hdr h = gso_hdr();
		size_t len = tcp_frame(f, 5000);

		switch (c) {
		case 0:
			h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
			break;
		case 1:
			h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
			break;
		case 2:
			hz_put16(f + 12, 0x86dd); /* not IPv4 */
			break;
		case 3:
			f[14 + 9] = 17; /* UDP */
			break;
		case 4:
			hz_put16(f + 14 + 6, 0x2000); /* a fragment */
			break;
		case 5:
			hz_put16(f + 16, (uint16_t)(len - 15)); /* short */
			break;
		case 6:
			hz_put16(f + 16, (uint16_t)(len - 13)); /* past it */
			break;
		case 7:
			f[14 + 20 + 12] = 15 << 4; /* TCP header past the end */
			len = 14 + 20 + 40;
			hz_put16(f + 16, (uint16_t)(len - 14));
			break;
		case 8:
			h.gso_size = 0;
			break;
		case 9:
			len = tcp_frame(f, 0); /* nothing to have coalesced */
			break;
		case 10:
			h.hdr_len = (uint16_t)(len + 1);
			break;
		case 11:
			h.csum_start = 14 + 20 - 4; /* not the TCP header */
			break;
		case 12:
			h.csum_offset = 6; /* UDP's place, in TCP */
			break;
		case 13:
			h.flags = 0; /* nothing vouches for the data */
			break;
		case 14:
			h.flags |= VIRTIO_NET_HDR_F_RSC_INFO; /* not offered */
			break;
		case 15:
			/* Ordinary frame, checksum place outside it. */
			h = (struct virtio_net_hdr){
			    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			    .csum_start = (uint16_t)(len - 1),
			    .csum_offset = 16};
			hz_put16(f + 12, 0x86dd);
			break;
		case 16:
			f[14] = 0x4f; /* IP header of 60 bytes: TCP cut */
			len = 14 + 60 + 10;
			hz_put16(f + 16, (uint16_t)(len - 14));
			break;
		case 17:
			f[14] = 0x46; /* IP options: the TCP header moves */
			f[14 + 24 + 12] = 8 << 4;
			break;
		}
		kernel_sends(&h, f, len);
		/* Consumed, refused, and why. */
		offload_reads(got, sizeof(got), (ssize_t)len, why[c], false);
		offload_reads(got, sizeof(got), 0, HZ_TAP_RX_OK, false);
	}
	pair_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(segmented_frame_header),
	    HARNESS_TEST(bad_segmented_frames_refused),
	    HARNESS_TEST(reads_strip_and_complete),
	    HARNESS_TEST(offload_takes_coalesced_frames),
	    HARNESS_TEST(offload_refuses_lying_headers),
	};

	return HARNESS_RUN("tap", tests);
}
