/*
 * Device interrupts on the virtio target: vectors handed out to devices,
 * routes through the I/O APIC (virtio-mmio's lines; PCI's MSI-X goes to
 * the local APIC directly), and the dispatch that acknowledges them.
 *
 * Interrupts are enabled only inside hz_platform_yield's `sti; hlt`, so
 * an interrupt's only job is to end that hlt: the dispatch acknowledges
 * the device (a level-triggered line would otherwise fire again at once)
 * and the local APIC, and returns; hz_platform_yield then looks at the
 * queues itself. The stubs are in irq_entry.S.
 */
#include <stdint.h>

#include "haze/log.h"
#include "haze/platform.h"
#include "vdev.h"
#include "virtio.h"

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL 0x10
#define REDTBL_LEVEL (1u << 15)
#define MSR_APIC_BASE 0x1bu
#define APIC_ID 0x20
#define APIC_EOI 0xb0

extern const uint64_t hz_virtio_irq_entries[HZ_VIRTIO_IRQ_COUNT];

static HZ_COUNTER(irq_device, "virtio", "irq");
static HZ_COUNTER(irq_stray, "virtio", "irq_no_device");

static unsigned vectors_used;
static bool ioapic_mapped;

/* The local APIC's registers, 0 when it is off. */
static uintptr_t lapic(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_APIC_BASE));
	if (!(lo & 0x800))
		return 0;
	return (uintptr_t)(((uint64_t)hi << 32 | lo) & 0xfffff000ull);
}

uint8_t hz_virtio_irq_vector(void)
{
	uint8_t v;

	if (vectors_used == HZ_VIRTIO_IRQ_COUNT)
		return 0;
	v = (uint8_t)(HZ_VIRTIO_IRQ_FIRST + vectors_used);
	hz_virtio_idt_set(v, hz_virtio_irq_entries[vectors_used], 2);
	vectors_used++;
	return v;
}

/* Reads I/O APIC register @reg. */
static uint32_t ioapic_read(unsigned reg)
{
	volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)IOAPIC_BASE;

	io[IOAPIC_REGSEL / 4] = reg;
	return io[IOAPIC_WIN / 4];
}

/* Writes I/O APIC register @reg. */
static void ioapic_write(unsigned reg, uint32_t v)
{
	volatile uint32_t *io = (volatile uint32_t *)(uintptr_t)IOAPIC_BASE;

	io[IOAPIC_REGSEL / 4] = reg;
	io[IOAPIC_WIN / 4] = v;
}

int hz_virtio_ioapic_route(unsigned gsi, uint8_t vector, bool level)
{
	uintptr_t apic = lapic();
	uint32_t ver, dest;

	if (apic == 0)
		return -HZ_ENOTSUP;
	if (!ioapic_mapped) {
		if (hz_virtio_map_mmio(IOAPIC_BASE, 4096) < 0)
			return -HZ_ENOTSUP;
		ioapic_mapped = true;
	}
	ver = ioapic_read(IOAPIC_VER);
	if (ver == 0xffffffffu)
		return -HZ_ENOTSUP; /* nothing answers there */
	if (gsi > (ver >> 16 & 0xff))
		return -HZ_EINVAL;
	dest = *(volatile uint32_t *)(apic + APIC_ID) >> 24;
	/* Fixed delivery, physical destination (this CPU), active high;
	 * high half first, so the entry is never live half-written. */
	ioapic_write(IOAPIC_REDTBL + 2 * gsi + 1, dest << 24);
	ioapic_write(IOAPIC_REDTBL + 2 * gsi,
		     vector | (level ? REDTBL_LEVEL : 0));
	return 0;
}

void hz_virtio_irq_eoi(void)
{
	uintptr_t apic = lapic();

	if (apic != 0)
		*(volatile uint32_t *)(apic + APIC_EOI) = 0;
}

void hz_virtio_irq_dispatch(unsigned vector)
{
	bool found = false;

	for (unsigned i = 0; i < hz_vdev_count(); i++) {
		struct hz_vdev *d = hz_vdev_at(i);

		if (d->vector == vector && d->ops->irq_ack != NULL) {
			d->ops->irq_ack(d);
			found = true;
		}
	}
	hz_counter_add(found ? &irq_device : &irq_stray, 1);
	hz_virtio_irq_eoi();
}
