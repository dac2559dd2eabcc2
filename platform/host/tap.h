/*
 * Linux tap devices for the unix target and haze-kvm: each frame crosses
 * the tap with a virtio-net header, so a frame can ask the kernel to cut
 * a large TCP/IPv4 packet into MTU-sized segments (TSO). One write and
 * one pass through the host's stack then carry up to 64 KiB rather than
 * 1.5 KiB. The other way, a reader may offer receive offload
 * (hz_tap_set_offload): the kernel then hands it up to 64 KiB of
 * coalesced TCP/IPv4 data in one frame, and checksums it vouches for
 * left partial; hz_tap_read_offload checks such frames. hz_tap_open
 * turns receive offload off, so a tap a previous reader left with it on
 * hands a new one (haze-kvm, haze-jitsu) ordinary frames.
 */
#ifndef HAZE_PLATFORM_HOST_TAP_H
#define HAZE_PLATFORM_HOST_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "haze/error.h"

/* Largest TCP/IPv4 packet a tap write segments: an IP packet's limit. */
#define HZ_TAP_GSO_MAX 65535u

/* Largest frame a tap with receive offload hands up: 14 + an IP packet. */
#define HZ_TAP_RX_MAX (14u + 65535u)

/* Why hz_tap_read_offload refused a frame (its virtio-net header lies). */
enum hz_tap_refusal {
	HZ_TAP_RX_OK = 0,
	HZ_TAP_RX_GSO_TYPE,  /* segmented, but not TCP/IPv4 */
	HZ_TAP_RX_GSO_FRAME, /* segmented, but not Ethernet+IPv4+TCP whole */
	HZ_TAP_RX_IP_LENGTH, /* IP total length is not the frame's */
	HZ_TAP_RX_GSO_SIZE,  /* gso_size 0, or no payload to segment */
	HZ_TAP_RX_HDR_LEN,   /* hdr_len past the frame */
	HZ_TAP_RX_CSUM,	     /* checksum place not the TCP/UDP checksum */
	HZ_TAP_RX_FLAGS,     /* unknown flags, or none on a segmented frame */
	HZ_TAP_RX_NREFUSALS
};

/* A short name for each refusal (HZ_TAP_RX_OK's is "ok"), for counts. */
extern const char *const hz_tap_refusal_name[HZ_TAP_RX_NREFUSALS];

/* What hz_tap_read_offload tells of the frame it read. */
struct hz_tap_rx {
	/* The kernel verified, or vouches for (a partial checksum), the
	 * frame's TCP or UDP checksum: it must not be verified again. */
	bool csum_ok;
	/* HZ_TAP_RX_OK, or why the frame was consumed and refused. */
	enum hz_tap_refusal refused;
};

/* Opens tap @ifname, non-blocking, with headers. The fd, or -errno. */
int hz_tap_open(const char *ifname);

/* What to do about hz_tap_open's failure -@err: a hint starting with a
 * space, to follow strerror's text, or "" when there is none. */
const char *hz_tap_open_hint(int err);

/* Attaches @fd, an open /dev/net/tun, to tap @ifname as hz_tap_open
 * does; 0, or -errno. A daemon that gave up root keeps such a descriptor
 * to take a tap back later. */
int hz_tap_attach(int fd, const char *ifname);

/*
 * Takes @fd, a descriptor another process opened with hz_tap_open and
 * passed down (--net NAME=tapfd:FD), after checking it is one: open for
 * reading and writing on /dev/net/tun, attached to a tap (IFF_TAP, not
 * IFF_TUN) with IFF_NO_PI and IFF_VNET_HDR, as hz_tap_open attaches it.
 * Makes it non-blocking (the flag is shared with the parent, who opened
 * it so anyway) and close-on-exec. 0, or -HZ_EINVAL with a message that
 * names the descriptor and why it is refused.
 */
HZ_MUST_CHECK
int hz_tap_adopt(int fd, struct hz_errmsg *err);

/*
 * Writes one @len-byte Ethernet frame. @gso_size 0 sends it as it is;
 * otherwise the frame is a TCP/IPv4 packet whose payload the kernel cuts
 * into segments of @gso_size bytes, completing their checksums (see
 * hz_frame.gso_size). @len, or -errno: -EINVAL for a frame that is not a
 * TCP/IPv4 packet of more than one such segment, -EAGAIN when full.
 */
ssize_t hz_tap_write(int fd, const void *frame, size_t len, size_t gso_size);

/*
 * Whether hz_tap_write would take @frame with @gso_size (> 0): a TCP/IPv4
 * packet of more than one segment, within HZ_TAP_GSO_MAX. For a caller
 * that checks a whole batch before it writes any.
 */
bool hz_tap_gso_ok(const void *frame, size_t len, size_t gso_size);

/*
 * Reads one frame into @buf, on a tap without receive offload. Its
 * length, which is more than @cap for a frame too large for @buf (then
 * dropped); 0 when none waits; -errno. A checksum the kernel left
 * partial is completed; a segmented frame is reported too large.
 */
ssize_t hz_tap_read(int fd, void *buf, size_t cap);

/*
 * Offers (@on) or withdraws receive offload on tap @fd: checksums left
 * partial, and coalesced TCP/IPv4 frames of up to HZ_TAP_RX_MAX bytes
 * (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO_ECN). 0, or -errno.
 */
HZ_MUST_CHECK
int hz_tap_set_offload(int fd, bool on);

/*
 * Reads one frame into @buf, on a tap with receive offload: as
 * hz_tap_read, but a segmented TCP/IPv4 frame is taken after its header
 * is checked against the frame, and a partial TCP or UDP checksum is left
 * as it is, with rx->csum_ok set. A frame whose header lies is consumed
 * and refused: rx->refused says why, and the length is returned.
 */
ssize_t hz_tap_read_offload(int fd, void *buf, size_t cap,
			    struct hz_tap_rx *rx);

#endif
