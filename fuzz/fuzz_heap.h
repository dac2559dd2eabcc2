/*
 * The heap every fuzz harness runs on, set up once in
 * LLVMFuzzerInitialize (or at the first input).
 */
#ifndef HAZE_FUZZ_HEAP_H
#define HAZE_FUZZ_HEAP_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "haze/mem.h"

/* Gives hz_mem_init @bytes of anonymous memory; aborts if that fails. */
static inline void fuzz_heap_init(size_t bytes)
{
	void *heap = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (heap == MAP_FAILED || hz_mem_init((uintptr_t)heap, bytes) != 0)
		abort();
}

/*
 * Defines the LLVMFuzzerInitialize of a harness whose only set-up is a
 * heap of @bytes.
 */
#define FUZZ_HEAP_INITIALIZE(bytes)                        \
	int LLVMFuzzerInitialize(int *argc, char ***argv); \
	int LLVMFuzzerInitialize(int *argc, char ***argv)  \
	{                                                  \
		(void)argc;                                \
		(void)argv;                                \
		fuzz_heap_init(bytes);                     \
		return 0;                                  \
	}

#endif
