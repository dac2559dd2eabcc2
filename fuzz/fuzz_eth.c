/* libFuzzer harness: whole Ethernet frames into the direct stack. */
#include "fuzz/fuzz_net_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_env_init();
	fuzz_env_input(data, size);
	fuzz_env_reset();
	return 0;
}
