/* Guest test: overflows a stack buffer; the canary check must abort. */
#include <string.h>

#include <haze/haze.h>

static volatile size_t overflow_len = 64;

__attribute__((noinline)) static void smash_stack(void)
{
	char buf[16];
	memset(buf, 'A', overflow_len);
	__asm__ volatile("" : : "r"(buf) : "memory");
}

int hz_main(int argc, char **argv)
{
	smash_stack();
	hz_printf("stack smash not detected\n");
	return 0;
}
