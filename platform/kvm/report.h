/*
 * The guest fault report's text, one format for both places that print
 * it: haze-kvm (tender/fault.c), which reads the guest's stack through
 * its checked view of guest memory and has the image's symbols, and the
 * virtio guest (platform/virtio/fault.c), which prints its own report on
 * the serial console. Plain C with snprintf only, built for the host and
 * for the freestanding guest.
 */
#ifndef HAZE_KVM_REPORT_H
#define HAZE_KVM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

/* Where a report goes and how it reads what it needs. */
struct hz_fault_out {
	void *ctx;
	/* Prints one line of the report (no newline). */
	void (*line)(void *ctx, const char *line);
	/* Reads the two words of the stack frame at @rbp (saved frame
	 * pointer, return address); false when that memory is not
	 * readable. */
	bool (*frame)(void *ctx, uint64_t rbp, uint64_t words[2]);
	/* Names the function holding @addr, with the offset into it;
	 * false when unknown (NULL: never known, the line ends in "?"). */
	bool (*symbol)(void *ctx, uint64_t addr, char *name, size_t cap,
		       uint64_t *off);
};

/*
 * Prints the report of fault @f through @out: the exception and error
 * code (vector ~0: "CPU state"), the page-fault line, the registers and a
 * backtrace of at most 32 frames along the frame pointers, stopping at a
 * misaligned, unreadable or looping frame.
 */
void hz_fault_print(const struct hz_kvm_fault *f,
		    const struct hz_fault_out *out);

#endif
