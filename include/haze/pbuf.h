/*
 * Packet buffers: page-aligned, reference-counted, with headroom, and views.
 *
 * A pbuf owns a page-aligned data area (whole pages, so it can be granted
 * or DMA-mapped) and a reference count. Code never holds a pbuf directly:
 * it holds a view, an (offset, length) window onto one, like MirageOS's
 * Cstruct. Each view holds one reference.
 *
 * Ownership rule, at every hand-off: a function that takes a
 * `struct hz_view *` and whose comment says "consumes" takes the caller's
 * reference (the caller must not touch the view afterwards, even on error).
 * Any other function borrows it for the duration of the call; to keep the
 * data longer it makes its own view with hz_view_clone or hz_view_sub.
 *
 * Headers are prepended in place: a freshly allocated view starts
 * HZ_PBUF_HEADROOM bytes into its pbuf, and hz_view_push grows it towards
 * the front, so Ethernet, IP and TCP each add their header with no copy.
 */
#ifndef HAZE_PBUF_H
#define HAZE_PBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/mem.h"

/* Room for Ethernet + IPv4 + TCP with options, and a vnet header. */
#define HZ_PBUF_HEADROOM 128u

struct hz_pbuf {
	uint8_t *data; /* page-aligned */
	uint32_t cap;  /* bytes of data, a multiple of the page */
	uint32_t refs;
	struct hz_budget *budget; /* charged for cap, or NULL */
	/* For a TCP/IPv4 packet the device segments (TSO): the payload per
	 * segment (hz_frame.gso_size); 0 for any other data. */
	uint32_t gso_size;
	/* Received: the device verified the TCP/UDP checksum of the frame
	 * this pbuf holds, or vouches for it (hz_frame.csum_ok). */
	bool csum_ok;
};

struct hz_view {
	struct hz_pbuf *pb; /* NULL in an empty view */
	uint32_t off;
	uint32_t len;
};

/*
 * Allocates a pbuf with room for HZ_PBUF_HEADROOM + @len bytes, charged to
 * @budget (NULL for none), and gives a view of @len bytes after the
 * headroom. 0, or -HZ_ENOMEM (budget or heap), with *out left empty.
 */
HZ_MUST_CHECK
int hz_pbuf_alloc(struct hz_budget *budget, size_t len, struct hz_view *out);

/* Returns the first byte of the view. */
static inline uint8_t *hz_view_data(const struct hz_view *v)
{
	return v->pb->data + v->off;
}

/* Gives @out a second reference to the same bytes as @v. */
void hz_view_clone(const struct hz_view *v, struct hz_view *out);

/*
 * Gives @out a new reference to @len bytes at @off inside @v.
 * 0, or -HZ_EINVAL if the range leaves the view.
 */
HZ_MUST_CHECK
int hz_view_sub(const struct hz_view *v, size_t off, size_t len,
		struct hz_view *out);

/*
 * Gives back the pages of @v's pbuf that lie past the view's end, as
 * whole halves of its run (so the pbuf keeps the smallest power of two of
 * pages that holds the view's end; its budget is credited), for a frame
 * read into a buffer much larger than it: the frame costs what a copy of
 * it would, without the copy. @v must be the pbuf's only reference.
 */
void hz_pbuf_shrink(struct hz_view *v);

/* Drops the view's reference (freeing the pbuf on the last) and empties it. */
void hz_view_release(struct hz_view *v);

/* Grows the view @n bytes towards the front. 0 or -HZ_ENOSPC (headroom). */
HZ_MUST_CHECK
int hz_view_push(struct hz_view *v, size_t n);

/* Drops @n bytes from the front. 0 or -HZ_EINVAL if @n exceeds the view. */
HZ_MUST_CHECK
int hz_view_pull(struct hz_view *v, size_t n);

/* Shortens the view to @len bytes. 0 or -HZ_EINVAL if it would grow. */
HZ_MUST_CHECK
int hz_view_trim(struct hz_view *v, size_t len);

/* Returns how many pbufs are alive, for leak checks. */
size_t hz_pbuf_live(void);

#endif
