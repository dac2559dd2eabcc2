/*
 * The guest fault report: vector, error code, registers and a backtrace
 * walked along the guest's frame pointers (guest code is built with
 * -fno-omit-frame-pointer) and symbolized from the image's .symtab. The
 * text is platform/kvm/report.c's, which the virtio guest prints too.
 * Everything read from guest memory goes through hz_guest_ptr, since a
 * faulting guest's stack is as hostile as any other guest input.
 */
#include <string.h>

#include "platform/kvm/report.h"
#include "tender.h"

/* Logs one line of the report. */
static void report_line(void *ctx, const char *line)
{
	(void)ctx;
	hz_tender_log("%s", line);
}

/* Reads a stack frame through the checked view of guest memory. */
static bool report_frame(void *ctx, uint64_t rbp, uint64_t words[2])
{
	const struct hz_vm *vm = ctx;
	const void *fp = hz_guest_ptr(vm, rbp, 16);

	if (!fp)
		return false;
	memcpy(words, fp, 16);
	return true;
}

/* Names @addr from the image's symbol table. */
static bool report_symbol(void *ctx, uint64_t addr, char *name, size_t cap,
			  uint64_t *off)
{
	const struct hz_vm *vm = ctx;

	return hz_image_symbol(&vm->image, addr, name, cap, off);
}

void hz_fault_report(struct hz_vm *vm, const struct hz_kvm_fault *f)
{
	const struct hz_fault_out out = {
	    .ctx = vm,
	    .line = report_line,
	    .frame = report_frame,
	    .symbol = report_symbol,
	};

	hz_fault_print(f, &out);
}
