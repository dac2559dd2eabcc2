/*
 * The guest fault report: vector, error code, registers and a backtrace
 * walked along the guest's frame pointers (guest code is built with
 * -fno-omit-frame-pointer) and symbolized from the image's .symtab.
 * Everything read from guest memory goes through hz_guest_ptr, since a
 * faulting guest's stack is as hostile as any other guest input.
 */
#include <stdio.h>
#include <string.h>

#include "tender.h"

#define FRAMES_MAX 32

static const char *const vector_name[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
};

/* Prints one backtrace line for @addr. */
static void print_frame(const struct hz_vm *vm, unsigned n, uint64_t addr)
{
	char name[128];
	uint64_t off;

	if (hz_image_symbol(&vm->image, addr, name, sizeof(name), &off))
		hz_tender_log("  #%-2u 0x%08llx %s+0x%llx", n,
			      (unsigned long long)addr, name,
			      (unsigned long long)off);
	else
		hz_tender_log("  #%-2u 0x%08llx ?", n,
			      (unsigned long long)addr);
}

void hz_fault_report(struct hz_vm *vm, const struct hz_kvm_fault *f)
{
	const char *what = "";
	char desc[96];

	if (f->vector < 32 && vector_name[f->vector])
		what = vector_name[f->vector];
	if (f->vector == ~0ull)
		snprintf(desc, sizeof(desc), "CPU state");
	else
		snprintf(desc, sizeof(desc), "exception %llu (%s)",
			 (unsigned long long)f->vector, what);
	hz_tender_log("guest fault: %s, error code 0x%llx, cr2 0x%llx", desc,
		      (unsigned long long)f->error_code,
		      (unsigned long long)f->cr2);
	if (f->vector == 14)
		hz_tender_log("  page fault: %s%s of %s page at 0x%llx",
			      f->error_code & 0x10  ? "instruction fetch"
			      : f->error_code & 0x2 ? "write"
						    : "read",
			      f->cr2 < 0x1000 ? " (NULL dereference)" : "",
			      f->error_code & 0x1 ? "a protected"
						  : "an unmapped",
			      (unsigned long long)f->cr2);
	hz_tender_log("  rip %016llx rsp %016llx rbp %016llx rflags %08llx",
		      (unsigned long long)f->rip, (unsigned long long)f->rsp,
		      (unsigned long long)f->rbp,
		      (unsigned long long)f->rflags);
	hz_tender_log("  rax %016llx rbx %016llx rcx %016llx rdx %016llx",
		      (unsigned long long)f->rax, (unsigned long long)f->rbx,
		      (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	hz_tender_log("  rsi %016llx rdi %016llx r8  %016llx r9  %016llx",
		      (unsigned long long)f->rsi, (unsigned long long)f->rdi,
		      (unsigned long long)f->r8, (unsigned long long)f->r9);
	hz_tender_log("  r10 %016llx r11 %016llx r12 %016llx r13 %016llx",
		      (unsigned long long)f->r10, (unsigned long long)f->r11,
		      (unsigned long long)f->r12, (unsigned long long)f->r13);
	hz_tender_log("  r14 %016llx r15 %016llx cs %llx ss %llx",
		      (unsigned long long)f->r14, (unsigned long long)f->r15,
		      (unsigned long long)f->cs, (unsigned long long)f->ss);
	hz_tender_log("backtrace:");
	print_frame(vm, 0, f->rip);
	uint64_t rbp = f->rbp;
	for (unsigned n = 1; n < FRAMES_MAX && rbp; n++) {
		const uint64_t *fp = hz_guest_ptr(vm, rbp, 16);
		if (!fp || rbp % 8)
			break;
		uint64_t next = fp[0], ret = fp[1];
		if (ret == 0)
			break;
		/* Return addresses point after the call: name the call. */
		print_frame(vm, n, ret - 1);
		if (next <= rbp)
			break; /* frames grow upwards; stop on a loop */
		rbp = next;
	}
}
