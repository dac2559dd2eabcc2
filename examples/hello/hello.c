/*
 * hello: the smallest Haze unikernel. Greets, sleeps on a timer three
 * times printing the time each sleep took, and exits 0.
 */
#include <haze/haze.h>

#define NAP_NS (100 * HZ_NS_PER_MS)

int hz_main(int argc, char **argv)
{
	uint64_t start = hz_now();

	hz_printf("Hello from Haze! (%s)\n",
		  argc > 1 ? argv[1] : "no arguments");
	for (int i = 1; i <= 3; i++) {
		uint64_t t0 = hz_now();

		hz_sleep_ns(NAP_NS);
		hz_printf("tick %d: slept %.3f ms, %.3f ms since start\n", i,
			  (double)(hz_now() - t0) / 1e6,
			  (double)(hz_now() - start) / 1e6);
	}
	hz_printf("Goodbye.\n");
	return 0;
}
