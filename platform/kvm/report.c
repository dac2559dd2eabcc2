/*
 * The guest fault report's text (report.h), shared by haze-kvm and the
 * virtio guest so that both print the same lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

/* The register lines: four registers each, with their widths in hex
 * digits (0: as many as needed). */
struct reg {
	const char *name;
	size_t off;
	int width;
};
#define REG(n, w)                                       \
	{                                               \
#n, offsetof(struct hz_kvm_fault, n), w \
	}
static const struct reg reg_lines[][4] = {
    {REG(rip, 16), REG(rsp, 16), REG(rbp, 16), REG(rflags, 8)},
    {REG(rax, 16), REG(rbx, 16), REG(rcx, 16), REG(rdx, 16)},
    {REG(rsi, 16),
     REG(rdi, 16),
     {"r8 ", offsetof(struct hz_kvm_fault, r8), 16},
     {"r9 ", offsetof(struct hz_kvm_fault, r9), 16}},
    {REG(r10, 16), REG(r11, 16), REG(r12, 16), REG(r13, 16)},
    {REG(r14, 16), REG(r15, 16), REG(cs, 0), REG(ss, 0)},
};
#undef REG

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
	char desc[64];

	if (f->vector < 32 && vector_name[f->vector])
		what = vector_name[f->vector];
	if (f->vector == ~0ull)
		snprintf(desc, sizeof(desc), "CPU state");
	else
		snprintf(desc, sizeof(desc), "exception %llu (%s)",
			 (unsigned long long)f->vector, what);
	say(out, "guest fault: %s, error code 0x%llx, cr2 0x%llx", desc,
	    (unsigned long long)f->error_code, (unsigned long long)f->cr2);
	if (f->vector == 14)
		say(out, "  page fault: %s%s of %s page at 0x%llx",
		    f->error_code & 0x10  ? "instruction fetch"
		    : f->error_code & 0x2 ? "write"
					  : "read",
		    f->cr2 < 0x1000 ? " (NULL dereference)" : "",
		    f->error_code & 0x1 ? "a protected" : "an unmapped",
		    (unsigned long long)f->cr2);
	for (size_t l = 0; l < sizeof(reg_lines) / sizeof(reg_lines[0]); l++) {
		char line[160];
		size_t n = 0;

		for (size_t i = 0; i < 4; i++) {
			const struct reg *r = &reg_lines[l][i];
			uint64_t v;

			memcpy(&v, (const char *)f + r->off, sizeof(v));
			n += (size_t)snprintf(line + n, sizeof(line) - n,
					      " %s %0*llx", r->name, r->width,
					      (unsigned long long)v);
		}
		say(out, " %s", line);
	}
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
