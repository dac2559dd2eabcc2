/*
 * Boot of a Haze guest on haze-kvm: the C half of the entry. The tender
 * has already built the descriptor tables from the image's trap note
 * (traps.S), so this only copies the boot info out of the tender's
 * read-only page, starts the clocks, keeps the first pages of the heap
 * for guard pages' page tables (guard.c), tells the tender that main is
 * near when it traces, and calls hz_runtime_start.
 */
#include <stdint.h>
#include <string.h>

#include "haze/platform.h"
#include "kvm.h"

/* The ABI note: haze-kvm refuses images built for another ABI. */
__attribute__((section(".note.haze.abi"), used,
	       aligned(4))) static const struct {
	uint32_t namesz, descsz, type;
	char name[8];
	uint32_t version;
} hz_kvm_abi_note = {5, 4, HZ_KVM_NOTE_ABI, "HAZE", HZ_KVM_ABI_VERSION};

struct hz_kvm_boot_info hz_kvm_boot_info;

static char arg_strings[HZ_KVM_BOOT_INFO_SIZE];
static char *argv[HZ_KVM_ARG_MAX + 1];

/* Copies argv out of the read-only boot info into writable memory. */
static int copy_args(const struct hz_kvm_boot_info *bi)
{
	size_t used = 0;
	uint32_t argc = bi->argc < HZ_KVM_ARG_MAX ? bi->argc : HZ_KVM_ARG_MAX;

	for (uint32_t i = 0; i < argc; i++) {
		const char *s = (const char *)(uintptr_t)bi->argv[i];
		size_t len = strlen(s) + 1;
		if (len > sizeof(arg_strings) - used)
			break;
		memcpy(arg_strings + used, s, len);
		argv[i] = arg_strings + used;
		used += len;
	}
	argv[argc] = NULL;
	return (int)argc;
}

void hz_kvm_boot(const struct hz_kvm_boot_info *bi, uint64_t tsc_entry)
{
	struct hz_start_info si;
	size_t pool;

	hz_kvm_boot_info = *bi;
	hz_kvm_clock_init();
	si.argc = copy_args(bi);
	si.argv = argv;
	/* The heap's first pages hold the page tables of guard pages. */
	pool = hz_kvm_guard_reserve((uintptr_t)bi->heap_start,
				    (size_t)bi->heap_size);
	si.heap_start = (uintptr_t)bi->heap_start + pool;
	si.heap_size = (size_t)bi->heap_size - pool;
	si.target = "kvm";
	if (bi->flags & HZ_KVM_BOOT_TRACE) {
		struct hz_kvm_mark m = {tsc_entry, hz_kvm_rdtsc()};
		hz_kvm_call(HZ_KVM_CALL_MAIN, &m);
	}
	hz_runtime_start(&si);
}
