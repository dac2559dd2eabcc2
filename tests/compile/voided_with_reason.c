/*
 * Must pass tests/check-void-casts.py: the same discard as voided_error.c,
 * with the comment that says why. (Not compiled: gcc refuses the cast.)
 */
#include <haze/haze.h>

void flush_and_drop(hz_handle_t h);

void flush_and_drop(hz_handle_t h)
{
	/* The disk is detached next: a failed flush changes nothing. */
	(void)hz_platform_block_flush(h);
}
