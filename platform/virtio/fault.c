/*
 * The fault report of the virtio target. On kvm the tender prints it;
 * here no host is listening, so the guest prints the same lines itself
 * on the console: vector, error code, registers and a backtrace along
 * the frame pointers, and ends the VM with HZ_VIRTIO_EXIT_FAULT. The
 * guest has no symbol table, so each frame ends in " ?" and haze-qemu,
 * which has the image, puts the symbol there (docs/virtio.md).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "platform/kvm/kvm.h"
#include "virtio.h"

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

/* Prints one line of the report. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	char line[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	hz_virtio_serial_write(line, (size_t)n);
}

void hz_kvm_fault_report(struct hz_kvm_fault *f)
{
	static bool reporting;
	const char *what = "";
	uint64_t rbp = f->rbp;

	/* A fault in the report itself (a wild frame pointer): stop. */
	if (reporting) {
		say("guest fault: exception %llu while reporting a fault",
		    (unsigned long long)f->vector);
		hz_virtio_exit(HZ_VIRTIO_EXIT_FAULT);
	}
	reporting = true;
	if (f->vector < 32 && vector_name[f->vector])
		what = vector_name[f->vector];
	say("guest fault: exception %llu (%s), error code 0x%llx, cr2 0x%llx",
	    (unsigned long long)f->vector, what,
	    (unsigned long long)f->error_code, (unsigned long long)f->cr2);
	if (f->vector == 14)
		say("  page fault: %s%s of %s page at 0x%llx",
		    f->error_code & 0x10  ? "instruction fetch"
		    : f->error_code & 0x2 ? "write"
					  : "read",
		    f->cr2 < 0x1000 ? " (NULL dereference)" : "",
		    f->error_code & 0x1 ? "a protected" : "an unmapped",
		    (unsigned long long)f->cr2);
	say("  rip %016llx rsp %016llx rbp %016llx rflags %08llx",
	    (unsigned long long)f->rip, (unsigned long long)f->rsp,
	    (unsigned long long)f->rbp, (unsigned long long)f->rflags);
	say("  rax %016llx rbx %016llx rcx %016llx rdx %016llx",
	    (unsigned long long)f->rax, (unsigned long long)f->rbx,
	    (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	say("  rsi %016llx rdi %016llx r8  %016llx r9  %016llx",
	    (unsigned long long)f->rsi, (unsigned long long)f->rdi,
	    (unsigned long long)f->r8, (unsigned long long)f->r9);
	say("  r10 %016llx r11 %016llx r12 %016llx r13 %016llx",
	    (unsigned long long)f->r10, (unsigned long long)f->r11,
	    (unsigned long long)f->r12, (unsigned long long)f->r13);
	say("  r14 %016llx r15 %016llx cs %llx ss %llx",
	    (unsigned long long)f->r14, (unsigned long long)f->r15,
	    (unsigned long long)f->cs, (unsigned long long)f->ss);
	say("backtrace:");
	say("  #%-2u 0x%08llx ?", 0u, (unsigned long long)f->rip);
	for (unsigned n = 1; n < FRAMES_MAX && rbp; n++) {
		if (rbp % 8 || !hz_virtio_mapped(rbp, 16))
			break;
		const uint64_t *fp = (const uint64_t *)(uintptr_t)rbp;
		uint64_t next = fp[0], ret = fp[1];
		if (ret == 0)
			break;
		/* Return addresses point after the call: name the call. */
		say("  #%-2u 0x%08llx ?", n, (unsigned long long)(ret - 1));
		if (next <= rbp)
			break; /* frames grow upwards; stop on a loop */
		rbp = next;
	}
	hz_virtio_exit(HZ_VIRTIO_EXIT_FAULT);
}
