/* Must not compile: strcpy is banned in Haze. */
#include <haze/haze.h>

void copy(char *dst, const char *src);

void copy(char *dst, const char *src)
{
	strcpy(dst, src);
}
