/*
 * Internals of the virtio target (platform/virtio, docs/virtio.md): port
 * I/O, the time-stamp counter, the exit protocol of QEMU's isa-debug-exit
 * device, and what boot.c hands platform.c and fault.c.
 */
#ifndef HAZE_VIRTIO_GUEST_H
#define HAZE_VIRTIO_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"
#include "haze/manifest.h"
#include "haze/platform.h"

/*
 * isa-debug-exit at port 0xf4 (4 bytes): writing v ends QEMU with process
 * status (v << 1) | 1, of which only 7 bits of v survive. haze-qemu
 * translates back: v = status + 1 for guest statuses 0..123 (v = 0 would
 * look like QEMU's own failure, status 1), and three verdicts above.
 */
#define HZ_VIRTIO_EXIT_PORT 0xf4
#define HZ_VIRTIO_EXIT_GUEST_MAX 123 /* higher statuses give EXIT_CLAMPED */
#define HZ_VIRTIO_EXIT_CLAMPED 125   /* haze-qemu exits 251 */
#define HZ_VIRTIO_EXIT_ABORT 126     /* haze-qemu exits 254 */
#define HZ_VIRTIO_EXIT_FAULT 127     /* haze-qemu exits 255 */

/* Writes byte @v to I/O port @port. */
static inline void hz_virtio_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Writes the 32-bit @v to I/O port @port. */
static inline void hz_virtio_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* Reads a byte from I/O port @port. */
static inline uint8_t hz_virtio_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Reads the time-stamp counter. */
static inline uint64_t hz_virtio_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Sets up the 16550 serial port COM1 for the console. */
void hz_virtio_serial_init(void);

/* Writes @len bytes of @buf to the serial port. */
void hz_virtio_serial_write(const char *buf, size_t len);

/* Starts the clocks: calibrates the TSC against the PIT, reads the RTC. */
void hz_virtio_clock_init(uint64_t tsc_entry);

/* Sets up the PIC and the local APIC so that the PIT can end a hlt. */
void hz_virtio_timer_init(void);

/* Takes the `haze.trace` option (haze-qemu --trace): the guest's exit
 * prints its boot times, from its first instruction (docs/virtio.md). */
void hz_virtio_trace_on(void);

/* Notes the time the runtime starts, for the trace. */
void hz_virtio_trace_main(void);

/* Ends the VM with debug-exit value @v (HZ_VIRTIO_EXIT_*, or status+1). */
_Noreturn void hz_virtio_exit(uint32_t v);

/* Whether [@addr, @addr + @len) is memory the guest maps (fault.c's
 * backtrace reads only such frames). */
bool hz_virtio_mapped(uint64_t addr, uint64_t len);

/*
 * Maps [@addr, @addr + @len), device memory below 4 GiB, uncached and not
 * executable (in whole 2 MiB pages). 0, or -HZ_EINVAL for a range above
 * 4 GiB or on the image's or heap's pages.
 */
HZ_MUST_CHECK
int hz_virtio_map_mmio(uint64_t addr, uint64_t len);

/* Finds the virtio devices on PCI and registers them (pci.c). */
void hz_virtio_pci_scan(void);

/* Points IDT vector @v at @entry, on interrupt stack @ist (0: none). */
void hz_virtio_idt_set(unsigned v, uint64_t entry, unsigned ist);

/* --- device interrupts (irq.c, irq_entry.S) ------------------------------- */

/* The vectors device interrupts get, IST2 stubs in irq_entry.S. */
#define HZ_VIRTIO_IRQ_FIRST 48
#define HZ_VIRTIO_IRQ_COUNT 16

/* A free vector with its stub in the IDT, or 0 when none is left. Its
 * interrupt acknowledges every device whose vector it is, then the APIC. */
uint8_t hz_virtio_irq_vector(void);

/*
 * Routes I/O APIC input @gsi to @vector on this CPU, level- or
 * edge-triggered, active high. 0, -HZ_EINVAL (no such input), or
 * -HZ_ENOTSUP (no local APIC or I/O APIC: devices are then polled).
 */
int hz_virtio_ioapic_route(unsigned gsi, uint8_t vector, bool level);

/* Signals the end of an interrupt to the local APIC. */
void hz_virtio_irq_eoi(void);

/* Called by the stubs of irq_entry.S with the vector that arrived. */
void hz_virtio_irq_dispatch(unsigned vector);

/* --- devices (mmio.c, net.c) --------------------------------------------- */

/*
 * Takes a `virtio_mmio.device=SIZE@BASE:GSI` option of the command line
 * (the text after '='); false, with a line on the console, when it is
 * malformed or there are too many.
 */
bool hz_virtio_mmio_option(const char *value);

/* Finds the virtio-mmio devices the command line named and registers
 * them (hz_vdev_register), in command-line order. */
void hz_virtio_mmio_probe(void);

struct hz_vdev;
struct hz_virtio_names;

/* Keeps option value @value in @n (hz_virtio_names_set); false after
 * writing line @too_long to the console if it does not fit. */
bool hz_virtio_names_option(struct hz_virtio_names *n, const char *value,
			    const char *too_long);

/*
 * Binds the manifest's devices of @kind to the @n devices @found of that
 * kind, in registration order, by option @opt (hz_virtio_bind): bound[i],
 * for entry i, its device or NULL. Ends the VM with one line when the
 * binding is refused.
 */
void hz_virtio_bind_found(uint32_t kind, const struct hz_virtio_names *opt,
			  struct hz_vdev *const *found, unsigned n,
			  struct hz_vdev *bound[HZ_MANIFEST_MAX]);

/* Takes the `haze.net=NAME,...` option: the manifest's net devices in
 * the order of the virtio-net devices found. */
bool hz_virtio_net_option(const char *value);

/*
 * Binds the manifest's net devices to the virtio-net devices found
 * (docs/virtio.md); ends the VM with one line when a required one is
 * left unbound or the option names no net device of the manifest.
 */
void hz_virtio_net_bind(void);

/* Takes the `haze.block=NAME,...` option: the manifest's block devices
 * in the order of the virtio-blk devices found. */
bool hz_virtio_blk_option(const char *value);

/*
 * Binds the manifest's block devices to the virtio-blk devices found
 * (docs/virtio.md); ends the VM with one line when a required one is
 * left unbound or the option names no block device of the manifest.
 */
void hz_virtio_blk_bind(void);

/* The handles in @interest with a received frame waiting. */
hz_ready_set_t hz_virtio_net_ready(hz_ready_set_t interest);

/* Asks for an interrupt on the next frame of every handle in @interest
 * (@on), or for none; returns the handles with a frame already waiting. */
hz_ready_set_t hz_virtio_net_want_irq(hz_ready_set_t interest, bool on);

/* Before the guest halts: tells the net devices' queues that wait for a
 * kick the event index spared (hz_virtq_rekick). */
void hz_virtio_net_rekick(void);

/* From start.S: the entry, and what runs before any protected code. */
void hz_virtio_tls_init(void);
_Noreturn void hz_virtio_boot(uint32_t start_info, uint64_t tsc_entry);

#endif
