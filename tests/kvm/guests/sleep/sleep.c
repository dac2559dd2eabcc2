/*
 * Guest test: sleeps 50 ms on the runtime's timer and measures it with
 * the monotonic clock; exits 0 if it took 50 ms +- 2 ms, 1 otherwise.
 */
#include <haze/haze.h>

int hz_main(int argc, char **argv)
{
	uint64_t t0 = hz_now();
	hz_sleep_ns(50 * 1000000ull);
	uint64_t dt = hz_now() - t0;
	uint64_t wall = hz_platform_clock_wall();

	hz_printf("slept %llu us, wall clock %llu s\n",
		  (unsigned long long)(dt / 1000),
		  (unsigned long long)(wall / 1000000000ull));
	return dt >= 48000000ull && dt <= 52000000ull ? 0 : 1;
}
