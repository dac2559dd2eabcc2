/* Guest test: divides by zero; must fault (#DE), symbolized. */
#include <haze/haze.h>

static volatile int zero;

__attribute__((noinline)) int hz_test_divide(int a);
int hz_test_divide(int a)
{
	return a / zero;
}

int hz_main(int argc, char **argv)
{
	return hz_test_divide(7);
}
