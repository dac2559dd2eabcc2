/*
 * The fault report of the virtio target. On kvm the tender prints it;
 * here no host is listening, so the guest prints the same lines itself
 * (platform/kvm/report.c) on the console and ends the VM with
 * HZ_VIRTIO_EXIT_FAULT. The guest has no symbol table, so each frame ends
 * in " ?" and haze-qemu, which has the image, puts the symbol there
 * (docs/virtio.md).
 */
#include <stdint.h>
#include <string.h>

#include "platform/kvm/kvm.h"
#include "platform/kvm/report.h"
#include "virtio.h"

/* Writes one line of the report to the serial console. */
static void report_line(void *ctx, const char *line)
{
	(void)ctx;
	hz_virtio_serial_write(line, strlen(line));
	hz_virtio_serial_write("\n", 1);
}

/* Reads a stack frame when the guest maps it. */
static bool report_frame(void *ctx, uint64_t rbp, uint64_t words[2])
{
	(void)ctx;
	if (!hz_virtio_mapped(rbp, 16))
		return false;
	memcpy(words, (const void *)(uintptr_t)rbp, 16);
	return true;
}

void hz_kvm_fault_report(struct hz_kvm_fault *f)
{
	static bool reporting;
	const struct hz_fault_out out = {
	    .line = report_line,
	    .frame = report_frame,
	};

	/* A fault in the report itself (a wild frame pointer): stop. */
	if (reporting) {
		static const char msg[] =
		    "guest fault: exception while reporting a fault\n";
		hz_virtio_serial_write(msg, sizeof(msg) - 1);
		hz_virtio_exit(HZ_VIRTIO_EXIT_FAULT);
	}
	reporting = true;
	hz_fault_print(f, &out);
	hz_virtio_exit(HZ_VIRTIO_EXIT_FAULT);
}
