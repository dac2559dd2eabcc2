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

/* Ends the VM with debug-exit value @v (HZ_VIRTIO_EXIT_*, or status+1). */
_Noreturn void hz_virtio_exit(uint32_t v);

/* Whether [@addr, @addr + @len) is memory the guest maps (fault.c's
 * backtrace reads only such frames). */
bool hz_virtio_mapped(uint64_t addr, uint64_t len);

/* From start.S: the entry, and what runs before any protected code. */
void hz_virtio_tls_init(void);
_Noreturn void hz_virtio_boot(uint32_t start_info, uint64_t tsc_entry);

#endif
