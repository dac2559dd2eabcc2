/* Guest test: writes through a NULL pointer; must fault, symbolized. */
#include <haze/haze.h>

static int *volatile null_pointer;

__attribute__((noinline)) void hz_test_null_write(int v);
void hz_test_null_write(int v)
{
	*null_pointer = v;
}

int hz_main(int argc, char **argv)
{
	hz_test_null_write(42);
	return 0;
}
