/*
 * @NAME@: a Haze unikernel. hz_main takes the place of main (the target
 * owns the real entry point): it greets, naps on a timer, and its return
 * value is the exit status. Build it with `haze build`, run it with
 * `haze run -- ARGS`.
 */
#include <haze/haze.h>

/* The devices it uses, by name: none yet. To read a disk, say
 * HZ_MANIFEST(HZ_DEVICE_BLOCK("storage")); and run with
 * haze run --block storage=disk.img. */

const char *greeting = "Hello from @NAME@";

int hz_main(int argc, char **argv)
{
	hz_printf("%s! (%s)\n", greeting, argc > 1 ? argv[1] : "no arguments");
	hz_sleep_ns(100 * HZ_NS_PER_MS); /* blocks this fiber only */
	hz_printf("Goodbye.\n");
	return 0;
}
