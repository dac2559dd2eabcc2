/* Must not compile: the error from a fallible Haze call is discarded. */
#include <haze/haze.h>

void flush_and_forget(hz_handle_t h);

void flush_and_forget(hz_handle_t h)
{
	hz_platform_block_flush(h);
}
