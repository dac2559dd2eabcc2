/*
 * Guest test: prints a greeting and its arguments, then exits 0, or with
 * the status named by an argument: "exit=N" returns N from hz_main,
 * "platform-exit=N" calls hz_platform_exit(N) directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <haze/haze.h>

int hz_main(int argc, char **argv)
{
	printf("hello from haze-kvm\n");
	for (int i = 1; i < argc; i++) {
		printf("arg %d: %s\n", i, argv[i]);
		if (strncmp(argv[i], "exit=", 5) == 0)
			return atoi(argv[i] + 5);
		if (strncmp(argv[i], "platform-exit=", 14) == 0)
			hz_platform_exit(atoi(argv[i] + 14));
	}
	return 0;
}
