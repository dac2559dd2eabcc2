/*
 * The guest fault report's text (report.h), shared by haze-kvm and the
 * virtio guest so that both print the same lines.
 */
#include <stdarg.h>
#include <stdio.h>

#include "report.h"

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

/* Formats one line and hands it to @out. */
__attribute__((format(printf, 2, 3))) static void
say(const struct hz_fault_out *out, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	out->line(out->ctx, line);
}

/* Prints backtrace line @n for code address @addr. */
static void frame_line(const struct hz_fault_out *out, unsigned n,
		       uint64_t addr)
{
	char name[128];
	uint64_t off;

	if (out->symbol &&
	    out->symbol(out->ctx, addr, name, sizeof(name), &off))
		say(out, "  #%-2u 0x%08llx %s+0x%llx", n,
		    (unsigned long long)addr, name, (unsigned long long)off);
	else
		say(out, "  #%-2u 0x%08llx ?", n, (unsigned long long)addr);
}

void hz_fault_print(const struct hz_kvm_fault *f,
		    const struct hz_fault_out *out)
{
	const char *what = "";

	if (f->vector < 32 && vector_name[f->vector])
		what = vector_name[f->vector];
	if (f->vector == ~0ull)
		say(out, "guest fault: CPU state, error code 0x%llx, cr2 0x%llx",
		    (unsigned long long)f->error_code,
		    (unsigned long long)f->cr2);
	else
		say(out,
		    "guest fault: exception %llu (%s), error code 0x%llx, "
		    "cr2 0x%llx",
		    (unsigned long long)f->vector, what,
		    (unsigned long long)f->error_code,
		    (unsigned long long)f->cr2);
	if (f->vector == 14)
		say(out, "  page fault: %s%s of %s page at 0x%llx",
		    f->error_code & 0x10  ? "instruction fetch"
		    : f->error_code & 0x2 ? "write"
					  : "read",
		    f->cr2 < 0x1000 ? " (NULL dereference)" : "",
		    f->error_code & 0x1 ? "a protected" : "an unmapped",
		    (unsigned long long)f->cr2);
	say(out, "  rip %016llx rsp %016llx rbp %016llx rflags %08llx",
	    (unsigned long long)f->rip, (unsigned long long)f->rsp,
	    (unsigned long long)f->rbp, (unsigned long long)f->rflags);
	say(out, "  rax %016llx rbx %016llx rcx %016llx rdx %016llx",
	    (unsigned long long)f->rax, (unsigned long long)f->rbx,
	    (unsigned long long)f->rcx, (unsigned long long)f->rdx);
	say(out, "  rsi %016llx rdi %016llx r8  %016llx r9  %016llx",
	    (unsigned long long)f->rsi, (unsigned long long)f->rdi,
	    (unsigned long long)f->r8, (unsigned long long)f->r9);
	say(out, "  r10 %016llx r11 %016llx r12 %016llx r13 %016llx",
	    (unsigned long long)f->r10, (unsigned long long)f->r11,
	    (unsigned long long)f->r12, (unsigned long long)f->r13);
	say(out, "  r14 %016llx r15 %016llx cs %llx ss %llx",
	    (unsigned long long)f->r14, (unsigned long long)f->r15,
	    (unsigned long long)f->cs, (unsigned long long)f->ss);
	say(out, "backtrace:");
	frame_line(out, 0, f->rip);
	uint64_t rbp = f->rbp;
	for (unsigned n = 1; n < FRAMES_MAX && rbp; n++) {
		uint64_t w[2];
		if (rbp % 8 || !out->frame(out->ctx, rbp, w))
			break;
		uint64_t next = w[0], ret = w[1];
		if (ret == 0)
			break;
		/* Return addresses point after the call: name the call. */
		frame_line(out, n, ret - 1);
		if (next <= rbp)
			break; /* frames grow upwards; stop on a loop */
		rbp = next;
	}
}
