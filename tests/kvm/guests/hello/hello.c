/* Guest test: prints a greeting and its arguments, exits with status 0. */
#include <stdio.h>

int hz_main(int argc, char **argv);

int hz_main(int argc, char **argv)
{
	printf("hello from haze-kvm\n");
	for (int i = 1; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	return 0;
}
