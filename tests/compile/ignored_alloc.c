/* Must not compile: an allocation's result is dropped. */
#include <haze/haze.h>

void leak(void);

void leak(void)
{
	hz_malloc(64);
}
