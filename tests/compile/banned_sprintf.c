/* Must not compile: sprintf is banned in Haze. */
#include <haze/haze.h>

void format(char *dst, int n);

void format(char *dst, int n)
{
	sprintf(dst, "%d", n);
}
