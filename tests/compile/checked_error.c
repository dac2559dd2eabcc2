/* Must compile: the control for ignored_error.c, with the error checked. */
#include <haze/haze.h>

int flush_and_check(hz_handle_t h);

int flush_and_check(hz_handle_t h)
{
	int r = hz_platform_block_flush(h);

	if (r < 0)
		hz_printf("flush: %s\n", hz_strerror(r));
	return r;
}
