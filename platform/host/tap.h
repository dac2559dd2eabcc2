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

/* Largest TCP/IPv4 packet a tap write segments: an IP packet's limit. */
#define HZ_TAP_GSO_MAX 65535u

/* Opens tap @ifname, non-blocking, with headers. The fd, or -errno. */
int hz_tap_open(const char *ifname);

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
