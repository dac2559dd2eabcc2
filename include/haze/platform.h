/*
 * The platform API: the only seam between Haze's library OS and a target.
 *
 * A target (unix: a Linux process; kvm: a guest under haze-kvm) implements
 * exactly these calls and nothing above this header may ask which target it
 * runs on. The API is small, versioned and batched, because on a hypervisor
 * every call that leaves the guest costs a VM exit (1-10 us).
 *
 * Error model: calls that can fail return a negative HZ_E* code (see
 * error.h) and are must-check. A target never aborts because of something
 * a caller passed in range; a caller passing out-of-range arguments (an
 * unknown handle, a misaligned block offset) gets -HZ_EINVAL. -HZ_EIO
 * means the host failed; it carries no reason, so the target logs the
 * host's own (errno on unix) with the device's name before returning it.
 * Calls never block except hz_platform_yield().
 *
 * Start-up: the target prepares the machine, then calls
 * hz_runtime_start(&start_info) (src/core), which never returns.
 */
#ifndef HAZE_PLATFORM_H
#define HAZE_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

#define HZ_PLATFORM_ABI_VERSION 2

/* Devices are named in the application's manifest (haze/manifest.h). */
#define HZ_DEVICE_NAME_MAX 32
/* Handles are small integers, so a ready set fits in one word. */
#define HZ_HANDLE_MAX 64

typedef int32_t hz_handle_t;
/* Bit h is set when handle h is ready. */
typedef uint64_t hz_ready_set_t;
/* A deadline that never comes: block until a device is ready. */
#define HZ_DEADLINE_NEVER UINT64_MAX

/* What the target hands the runtime at start. */
struct hz_start_info {
	int argc; /* application arguments, argv[0] is its name */
	char **argv;
	uintptr_t heap_start; /* page-aligned region the runtime owns */
	size_t heap_size;     /* a multiple of the page size */
	const char *target;   /* "unix" or "kvm", for messages only */
};

/* Called by the target once the machine is ready; never returns. */
HZ_NORETURN void hz_runtime_start(const struct hz_start_info *si);

/*
 * Called by the target's fault handler, on a stack of its own, with the
 * address whose access faulted. When it lies in a fiber's guard page
 * (hz_platform_guard), writes "fiber NAME overflowed its stack (guard page
 * at ADDR)" to the console and returns true; otherwise returns false and
 * does nothing. Only reads the runtime's state: safe in a signal handler.
 */
bool hz_runtime_fault(uintptr_t addr);

/* Writes @len bytes to the console; never fails, may truncate. */
void hz_platform_console_write(const char *buf, size_t len);

/* Returns monotonic time in nanoseconds since an arbitrary origin. */
uint64_t hz_platform_clock_monotonic(void);

/* Returns wall-clock time in nanoseconds since the Unix epoch. */
uint64_t hz_platform_clock_wall(void);

/*
 * Blocks until a device of @interest (bit h: handle h) is ready or the
 * monotonic clock reaches @deadline (0 means do not block: poll;
 * HZ_DEADLINE_NEVER means no time limit). Readiness is level-triggered: a
 * device stays ready while a frame waits, so the caller must drain what
 * it is told about; a device outside @interest is neither waited for nor
 * reported, so frames nobody reads cannot keep the loop spinning. On
 * return *ready holds the handles of @interest that are ready to read
 * (net: a frame waits). Spurious empty returns are allowed; callers loop.
 * The only blocking call of the API.
 */
void hz_platform_yield(uint64_t deadline, hz_ready_set_t interest,
		       hz_ready_set_t *ready);

/*
 * Tells the host, once, that the application is ready for work: the
 * scheduler calls it the first time it is about to block after hz_main
 * began (every listener set up before the application's first wait now
 * exists), or when hz_main returns without ever waiting. The host may
 * ignore it; later calls do nothing. Never fails.
 */
void hz_platform_ready(void);

/* --- net ---------------------------------------------------------------- */

struct hz_net_info {
	uint8_t mac[6];
	uint16_t mtu; /* largest IP payload; frames are mtu + 14 */
	/* Largest TCP/IPv4 packet the device cuts into segments itself
	 * (TSO, see hz_frame.gso_size), or 0 when it cannot. */
	uint32_t gso_max;
	/* Largest frame a read may give (receive offload: the host hands
	 * coalesced TCP/IPv4 packets of up to 64 KiB, IP total length past
	 * the MTU), or 0 when no frame is larger than mtu + 14. */
	uint32_t rx_max;
};

/* One frame of a batch: @buf holds @cap bytes; @len is the frame length. */
struct hz_frame {
	void *buf;
	size_t cap; /* read: capacity of buf; write: unused */
	size_t len; /* read: set to the frame length; write: bytes to send */
	/*
	 * write: 0 to send the frame as it is; or, on a device with gso_max,
	 * the TCP payload of each segment the device cuts this TCP/IPv4
	 * frame of up to gso_max + 14 bytes into. Its TCP checksum field
	 * then holds the pseudo-header sum (not complemented) and the device
	 * completes every segment's checksum. read: unused.
	 */
	size_t gso_size;
	/* read: set when the host verified the frame's TCP or UDP checksum,
	 * or vouches for the data and left the field partial; the stack must
	 * then not verify it. Clear: verify as usual. write: unused. */
	bool csum_ok;
};

/*
 * Binds the net device @name of the manifest; gives its handle and info.
 * 0, or -HZ_ENOENT when no net device of that name is bound (not declared,
 * an optional one left unbound, or a block device of that name); *h and
 * *info are then untouched. Acquiring twice gives the same handle.
 */
HZ_MUST_CHECK
int hz_platform_net_acquire(const char *name, hz_handle_t *h,
			    struct hz_net_info *info);

/*
 * Reads up to @n waiting frames into @frames, in order. Returns the count
 * read (>= 1), -HZ_EAGAIN when none waits, -HZ_EINVAL on a bad handle,
 * -HZ_EIO when the host device failed. A frame larger than its buffer is
 * dropped by the target and counted, never truncated; so is a frame whose
 * offload metadata (rx_max) does not match it. Sets each frame's csum_ok.
 */
HZ_MUST_CHECK
int hz_platform_net_read(hz_handle_t h, struct hz_frame *frames, size_t n);

/*
 * Sends the first @n frames of @frames, in order. Returns the count sent;
 * fewer than @n means the host queue was full (try again later). Frames
 * longer than mtu + 14 (gso_max + 14 with a gso_size) give -HZ_EMSGSIZE,
 * a gso_size the device cannot honour -HZ_EINVAL, host failures -HZ_EIO.
 */
HZ_MUST_CHECK
int hz_platform_net_write(hz_handle_t h, const struct hz_frame *frames,
			  size_t n);

/* --- block -------------------------------------------------------------- */

struct hz_block_info {
	uint64_t capacity;    /* bytes */
	uint32_t sector_size; /* bytes; offsets and lengths are multiples */
};

/*
 * Binds the block device @name of the manifest; gives handle and info.
 * 0, or -HZ_ENOENT as for hz_platform_net_acquire.
 */
HZ_MUST_CHECK
int hz_platform_block_acquire(const char *name, hz_handle_t *h,
			      struct hz_block_info *info);

/*
 * Reads @len bytes at byte @offset, both multiples of the sector size,
 * several sectors in one call. 0, -HZ_EINVAL (range, alignment), -HZ_EIO.
 */
HZ_MUST_CHECK
int hz_platform_block_read(hz_handle_t h, uint64_t offset, void *buf,
			   size_t len);

/* Writes @len bytes at byte @offset; same rules as hz_platform_block_read. */
HZ_MUST_CHECK
int hz_platform_block_write(hz_handle_t h, uint64_t offset, const void *buf,
			    size_t len);

/* Makes every completed write durable. 0 or -HZ_EIO. */
HZ_MUST_CHECK
int hz_platform_block_flush(hz_handle_t h);

/* --- host sockets ------------------------------------------------------- */

struct hz_stack;

/*
 * Gives a STACK (haze/stack.h) over the host kernel's sockets, on targets
 * that run inside a host OS; no privileges or devices needed. 0, or
 * -HZ_ENOTSUP on targets without host sockets (kvm), or -HZ_ENOMEM.
 */
HZ_MUST_CHECK
int hz_platform_socket_stack(struct hz_stack **out);

/* --- memory ------------------------------------------------------------- */

/*
 * Makes the heap page at @page (page-aligned) inaccessible (@guard true),
 * so that any access to it faults, or accessible again (false). The
 * runtime puts one below every fiber stack, so a fiber that runs off its
 * stack faults at once instead of overwriting what lies below. 0;
 * -HZ_ENOTSUP on a target that cannot protect pages (the runtime then
 * relies on its stack canary alone); -HZ_ENOMEM when the host refuses
 * (unix: too many mappings); -HZ_EINVAL for a page that is not
 * page-aligned, or, where the target can tell, not a heap page or not in
 * the state it is asked to leave.
 */
HZ_MUST_CHECK
int hz_platform_guard(void *page, bool guard);

/* --- entropy, exit ------------------------------------------------------- */

/*
 * Fills @buf with @len bytes of host entropy. Returns @len, or -HZ_ENOTSUP
 * when the host offers none (callers must cope: it is one source of
 * several), or -HZ_EIO.
 */
HZ_MUST_CHECK
int hz_platform_entropy(void *buf, size_t len);

/* Ends the unikernel with @status (0..255). */
HZ_NORETURN void hz_platform_exit(int status);

/* Ends the unikernel abnormally, after a fatal error already printed. */
HZ_NORETURN void hz_platform_abort(void);

#endif
