/*
 * Guest test: a fiber named "deep" recurses until it runs off its stack.
 * The guard page below the stack must fault at once, with a message that
 * names the fiber; the runtime must never get to say it went unnoticed.
 */
#include <haze/haze.h>

/* Far deeper than any stack: the recursion ends only by faulting. */
static volatile unsigned depth_limit = 1u << 30;

__attribute__((noinline)) unsigned hz_test_recurse(volatile char *up,
						   unsigned depth);
unsigned hz_test_recurse(volatile char *up, unsigned depth)
{
	volatile char frame[200];

	/* Writing into the caller's frame keeps every frame alive, so the
	 * compiler cannot turn the recursion into a loop. */
	frame[0] = (char)depth;
	if (up != NULL)
		up[1] = frame[0];
	if (depth == depth_limit)
		return depth;
	return hz_test_recurse(frame, depth + 1);
}

static void deep(void *arg)
{
	(void)arg;
	hz_test_recurse(NULL, 0);
}

int hz_main(int argc, char **argv)
{
	hz_printf("overflowing the stack of fiber deep\n");
	if (hz_fiber_spawn("deep", deep, NULL, 0) < 0)
		return 2;
	hz_sleep_ns(2 * HZ_NS_PER_S);
	hz_printf("stack overflow went unnoticed\n");
	return 1;
}
