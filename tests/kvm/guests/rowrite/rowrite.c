/* Guest test: writes to read-only data; must fault (#PF), symbolized. */
#include <haze/haze.h>

static const int read_only_value = 1;

__attribute__((noinline)) void hz_test_rodata_write(int v);
void hz_test_rodata_write(int v)
{
	*(volatile int *)(uintptr_t)&read_only_value = v;
}

int hz_main(int argc, char **argv)
{
	hz_test_rodata_write(2);
	return 0;
}
