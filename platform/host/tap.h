/*
 * Linux tap devices for the unix target and haze-kvm: each frame crosses
 * the tap with a virtio-net header, so a frame can ask the kernel to cut
 * a large TCP/IPv4 packet into MTU-sized segments (TSO). One write and
 * one pass through the host's stack then carry up to 64 KiB rather than
 * 1.5 KiB. Nothing is offered in the other direction (no TUNSETOFFLOAD):
 * frames read are ordinary ones.
 */
#ifndef HAZE_PLATFORM_HOST_TAP_H
#define HAZE_PLATFORM_HOST_TAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "haze/error.h"

/* Largest TCP/IPv4 packet a tap write segments: an IP packet's limit. */
#define HZ_TAP_GSO_MAX 65535u

/* Opens tap @ifname, non-blocking, with headers. The fd, or -errno. */
int hz_tap_open(const char *ifname);

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
 * Reads one frame into @buf. Its length, which is more than @cap for a
 * frame too large for @buf (then dropped); 0 when none waits; -errno.
 */
ssize_t hz_tap_read(int fd, void *buf, size_t cap);

#endif
