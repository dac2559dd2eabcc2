/*
 * Must be refused: the error of a fallible Haze call is thrown away with a
 * bare (void) cast. gcc 12 refuses it (it warns on warn_unused_result
 * whatever the cast); clang takes the cast as a deliberate discard and
 * compiles it, so tests/check-void-casts.py (make lint) refuses it there.
 */
#include <haze/haze.h>

void flush_and_drop(hz_handle_t h);

void flush_and_drop(hz_handle_t h)
{
	(void)hz_platform_block_flush(h);
}
