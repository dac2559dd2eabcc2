/*
 * The virtio-pci transport (virtio 1.2, 4.1) of the virtio target, for
 * QEMU's `q35` and `pc` machines (docs/virtio.md). At boot it walks the
 * PCI buses through configuration mechanism #1 (ports 0xcf8/0xcfc), bus 0
 * first and then each bridge's secondary bus, in bus/slot/function order,
 * and registers every modern virtio device: its vendor capabilities
 * (common, notify, ISR and device configuration) in memory BARs below
 * 4 GiB, mapped uncached. The firmware (SeaBIOS, which QEMU runs before a
 * PVH kernel on these machines) has assigned the BARs and bus numbers.
 *
 * Interrupts are MSI-X messages to the local APIC: one vector per device,
 * table entry 0, for all its queues. A device without MSI-X (or whose
 * vector the device refuses) gets none, vector 0: its driver then polls.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "haze/platform.h"
#include "vdev.h"
#include "virtio.h"

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc
#define CFG_ENABLE 0x80000000u

/* Configuration space registers. */
#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAP_PTR 0x34
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4
#define CMD_INTX_OFF 0x400
#define STATUS_CAPS 0x10
#define CAP_MSIX 0x11
#define CAP_VENDOR 0x09

#define VIRTIO_VENDOR 0x1af4
#define ID_MODERN 0x1040       /* 0x1040 + device type */
#define ID_TRANSITIONAL 0x1000 /* 0x1000..0x103f, type in subsystem id */

/* virtio_pci_cap.cfg_type */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* The common configuration structure (virtio 1.2, 4.1.4.3). */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESC 0x20
#define COMMON_Q_DRIVER 0x28
#define COMMON_Q_DEVICE 0x30
#define COMMON_SIZE 0x38
#define NO_VECTOR 0xffff

#define MSIX_ENABLE 0x8000
#define MSIX_MASKALL 0x4000
#define MSI_ADDRESS 0xfee00000u /* the local APIC, physical destination */

#define QUEUES_MAX 8
#define BUSES 256
#define MAP_LIMIT (4ull << 30)

/* A virtio device on PCI; hz_vdev first, so each points to the other. */
struct pci_dev {
	struct hz_vdev v;
	uint16_t notify_off[QUEUES_MAX]; /* cached at queue_setup */
	char where[16];
};

static struct pci_dev devs[HZ_VDEV_MAX];
static unsigned ndevs;

/* Reads a 32-bit word from I/O port @port. */
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Writes the 16-bit @v to I/O port @port. */
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

/* Reads the configuration dword at @off of function @bdf. */
static uint32_t cfg_read32(unsigned bdf, unsigned off)
{
	hz_virtio_outl(CFG_ADDR, CFG_ENABLE | bdf << 8 | (off & 0xfc));
	return inl(CFG_DATA);
}

/* Reads the configuration byte at @off of function @bdf. */
static uint8_t cfg_read8(unsigned bdf, unsigned off)
{
	return (uint8_t)(cfg_read32(bdf, off) >> (off & 3) * 8);
}

/* Reads the configuration word at @off (even) of function @bdf. */
static uint16_t cfg_read16(unsigned bdf, unsigned off)
{
	return (uint16_t)(cfg_read32(bdf, off) >> (off & 2) * 8);
}

/* Writes the configuration word at @off (even) of function @bdf. */
static void cfg_write16(unsigned bdf, unsigned off, uint16_t v)
{
	hz_virtio_outl(CFG_ADDR, CFG_ENABLE | bdf << 8 | (off & 0xfc));
	outw((uint16_t)(CFG_DATA + (off & 2)), v);
}

/* MMIO accessors: the device's registers are little-endian like us. */
static uint8_t mmio_read8(uintptr_t a)
{
	return *(volatile uint8_t *)a;
}

/* Reads the 16-bit register at @a. */
static uint16_t mmio_read16(uintptr_t a)
{
	return *(volatile uint16_t *)a;
}

/* Reads the 32-bit register at @a. */
static uint32_t mmio_read32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

/* Writes the byte register at @a. */
static void mmio_write8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

/* Writes the 16-bit register at @a. */
static void mmio_write16(uintptr_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

/* Writes the 32-bit register at @a. */
static void mmio_write32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

/* Writes a 64-bit field of the common configuration, low half first. */
static void mmio_write64(uintptr_t a, uint64_t v)
{
	mmio_write32(a, (uint32_t)v);
	mmio_write32(a + 4, (uint32_t)(v >> 32));
}

/* The pci_dev of @d. */
static struct pci_dev *pci_of(struct hz_vdev *d)
{
	return (struct pci_dev *)d;
}

/* --- the transport's operations ------------------------------------------ */

/* The device status byte. */
static uint8_t pci_get_status(struct hz_vdev *d)
{
	return mmio_read8(d->base + COMMON_STATUS);
}

/* Sets the status; 0 resets, which is done when the device reads 0. */
static void pci_set_status(struct hz_vdev *d, uint8_t status)
{
	mmio_write8(d->base + COMMON_STATUS, status);
	if (status != 0)
		return;
	for (int i = 0; i < 1000000; i++)
		if (mmio_read8(d->base + COMMON_STATUS) == 0)
			break;
}

/* The 64 feature bits the device offers. */
static uint64_t pci_get_features(struct hz_vdev *d)
{
	uint64_t f;

	mmio_write32(d->base + COMMON_DFSELECT, 0);
	f = mmio_read32(d->base + COMMON_DF);
	mmio_write32(d->base + COMMON_DFSELECT, 1);
	return f | (uint64_t)mmio_read32(d->base + COMMON_DF) << 32;
}

/* Tells the device the features the driver accepts. */
static void pci_set_features(struct hz_vdev *d, uint64_t features)
{
	mmio_write32(d->base + COMMON_GFSELECT, 0);
	mmio_write32(d->base + COMMON_GF, (uint32_t)features);
	mmio_write32(d->base + COMMON_GFSELECT, 1);
	mmio_write32(d->base + COMMON_GF, (uint32_t)(features >> 32));
}

/* Reads @size bytes of the device-specific configuration at @off. */
static uint32_t pci_config_read(struct hz_vdev *d, unsigned off, unsigned size)
{
	if (size == 1)
		return mmio_read8(d->cfg + off);
	if (size == 2)
		return mmio_read16(d->cfg + off);
	return mmio_read32(d->cfg + off);
}

/* The largest size of queue @q, 0 when it does not exist. */
static uint16_t pci_queue_max(struct hz_vdev *d, unsigned q)
{
	if (q >= QUEUES_MAX || q >= mmio_read16(d->base + COMMON_NUMQ))
		return 0;
	mmio_write16(d->base + COMMON_Q_SELECT, (uint16_t)q);
	return mmio_read16(d->base + COMMON_Q_SIZE);
}

/*
 * Gives queue @q its rings and enables it, its interrupts on MSI-X
 * entry 0. A device that refuses the entry (reads back NO_VECTOR) loses
 * its vector: its driver polls.
 */
static int pci_queue_setup(struct hz_vdev *d, unsigned q, uint16_t size,
			   uint64_t desc, uint64_t avail, uint64_t used)
{
	uintptr_t c = d->base;

	if (pci_queue_max(d, q) == 0)
		return -HZ_EIO;
	mmio_write16(c + COMMON_Q_SIZE, size);
	mmio_write64(c + COMMON_Q_DESC, desc);
	mmio_write64(c + COMMON_Q_DRIVER, avail);
	mmio_write64(c + COMMON_Q_DEVICE, used);
	if (d->vector) {
		mmio_write16(c + COMMON_Q_MSIX, 0);
		if (mmio_read16(c + COMMON_Q_MSIX) == NO_VECTOR)
			d->vector = 0;
	}
	pci_of(d)->notify_off[q] = mmio_read16(c + COMMON_Q_NOFF);
	mmio_write16(c + COMMON_Q_ENABLE, 1);
	return mmio_read16(c + COMMON_Q_ENABLE) == 1 ? 0 : -HZ_EIO;
}

/* Writes the queue's index to its notification address. */
static void pci_notify(struct hz_vdev *d, unsigned q)
{
	mmio_write16(d->notify +
			 (uintptr_t)pci_of(d)->notify_off[q] * d->notify_mul,
		     (uint16_t)q);
}

/* Reading the ISR status acknowledges it. */
static uint32_t pci_irq_ack(struct hz_vdev *d)
{
	return mmio_read8(d->isr);
}

static const struct hz_vdev_ops pci_ops = {
    .get_status = pci_get_status,
    .set_status = pci_set_status,
    .get_features = pci_get_features,
    .set_features = pci_set_features,
    .config_read = pci_config_read,
    .queue_max = pci_queue_max,
    .queue_setup = pci_queue_setup,
    .notify = pci_notify,
    .irq_ack = pci_irq_ack,
};

/* --- discovery ----------------------------------------------------------- */

/* Prints "haze: pci BB:SS.F: @why" on the console: a device left out. */
static void skip(const struct pci_dev *p, const char *why)
{
	char msg[120];
	int n = snprintf(msg, sizeof(msg), "haze: %s: %s\n", p->where, why);

	if (n > 0)
		hz_virtio_serial_write(
		    msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/*
 * The address of [@off, @off + @len) of memory BAR @bar of @bdf, mapped;
 * 0 for an I/O or unassigned BAR, or one outside the first 4 GiB.
 */
static uintptr_t bar_map(unsigned bdf, unsigned bar, uint32_t off, uint32_t len)
{
	uint32_t lo;
	uint64_t a;

	if (bar > 5)
		return 0;
	lo = cfg_read32(bdf, PCI_BAR0 + bar * 4);
	if (lo & 1)
		return 0; /* I/O space */
	a = lo & ~0xfull;
	if ((lo & 6) == 4) {
		if (bar == 5)
			return 0;
		a |= (uint64_t)cfg_read32(bdf, PCI_BAR0 + bar * 4 + 4) << 32;
	}
	if (a == 0 || a + off + len > MAP_LIMIT || a + off + len < a)
		return 0;
	if (hz_virtio_map_mmio(a + off, len) < 0)
		return 0;
	return (uintptr_t)(a + off);
}

/* Reads the virtio capabilities of @p (@bdf) into its hz_vdev; false
 * when one of common, notify, ISR or device configuration is missing. */
static bool read_caps(struct pci_dev *p, unsigned bdf, unsigned *msix)
{
	struct hz_vdev *d = &p->v;
	unsigned pos = cfg_read8(bdf, PCI_CAP_PTR) & 0xfc;

	*msix = 0;
	/* 48 capabilities fill the space: a loop in the list ends here. */
	for (int n = 0; pos >= 0x40 && n < 48; n++) {
		uint8_t id = cfg_read8(bdf, pos);

		if (id == CAP_MSIX)
			*msix = pos;
		if (id == CAP_VENDOR && cfg_read8(bdf, pos + 2) >= 16) {
			uint8_t type = cfg_read8(bdf, pos + 3);
			uint8_t bar = cfg_read8(bdf, pos + 4);
			uint32_t off = cfg_read32(bdf, pos + 8);
			uint32_t len = cfg_read32(bdf, pos + 12);
			uintptr_t *slot = NULL;

			if (type == CAP_COMMON && len >= COMMON_SIZE)
				slot = &d->base;
			else if (type == CAP_NOTIFY &&
				 cfg_read8(bdf, pos + 2) >= 20) {
				slot = &d->notify;
				d->notify_mul = cfg_read32(bdf, pos + 16);
			} else if (type == CAP_ISR && len >= 1)
				slot = &d->isr;
			else if (type == CAP_DEVICE)
				slot = &d->cfg;
			/* The first of each type is the one to use (4.1.4). */
			if (slot && *slot == 0)
				*slot = bar_map(bdf, bar, off, len);
		}
		pos = cfg_read8(bdf, pos + 1) & 0xfc;
	}
	return d->base && d->notify && d->isr && d->cfg;
}

/*
 * Points MSI-X entry 0 of @bdf (capability at @cap) at a fresh vector of
 * this CPU's local APIC and enables MSI-X; the vector, or 0 when the
 * device has none (no capability, table out of reach, vectors used up).
 */
static uint8_t msix_enable(unsigned bdf, unsigned cap)
{
	uint32_t ebx, table;
	uintptr_t t;
	uint8_t vector;

	if (cap == 0)
		return 0;
	table = cfg_read32(bdf, cap + 4);
	t = bar_map(bdf, table & 7, table & ~7u, 16);
	if (t == 0 || (vector = hz_virtio_irq_vector()) == 0)
		return 0;
	__asm__ volatile("cpuid" : "=b"(ebx) : "a"(1), "c"(0) : "edx");
	uint16_t ctl = cfg_read16(bdf, cap + 2);
	cfg_write16(bdf, cap + 2, ctl | MSIX_ENABLE | MSIX_MASKALL);
	mmio_write32(t + 0, MSI_ADDRESS | (ebx >> 24) << 12);
	mmio_write32(t + 4, 0);
	mmio_write32(t + 8, vector); /* fixed delivery, edge */
	mmio_write32(t + 12, 0);     /* unmasked */
	cfg_write16(bdf, cap + 2, (ctl | MSIX_ENABLE) & ~MSIX_MASKALL);
	return vector;
}

/* Looks at function @bdf; registers it if it is a modern virtio device. */
static void probe(unsigned bdf, uint32_t id)
{
	struct pci_dev *p;
	unsigned msix, type, dev = id >> 16;

	if ((id & 0xffff) != VIRTIO_VENDOR)
		return;
	if (dev >= ID_MODERN && dev < ID_MODERN + 0x40)
		type = dev - ID_MODERN;
	else if (dev >= ID_TRANSITIONAL && dev < ID_MODERN)
		type = cfg_read16(bdf, PCI_SUBSYSTEM_ID);
	else
		return;
	if (ndevs == HZ_VDEV_MAX)
		return;
	p = &devs[ndevs];
	memset(p, 0, sizeof(*p));
	snprintf(p->where, sizeof(p->where), "pci %02x:%02x.%x", bdf >> 8,
		 bdf >> 3 & 31, bdf & 7);
	if (!(cfg_read16(bdf, PCI_STATUS) & STATUS_CAPS) ||
	    !read_caps(p, bdf, &msix)) {
		skip(p, "a virtio device without the virtio 1.x capabilities "
			"in memory below 4 GiB: left out");
		return;
	}
	p->v.ops = &pci_ops;
	p->v.type = type;
	p->v.where = p->where;
	cfg_write16(bdf, PCI_COMMAND,
		    cfg_read16(bdf, PCI_COMMAND) | CMD_MEMORY | CMD_MASTER);
	p->v.vector = msix_enable(bdf, msix);
	if (p->v.vector)
		cfg_write16(bdf, PCI_COMMAND,
			    cfg_read16(bdf, PCI_COMMAND) | CMD_INTX_OFF);
	if (hz_vdev_register(&p->v))
		ndevs++;
}

void hz_virtio_pci_scan(void)
{
	static uint8_t reachable[BUSES / 8];

	reachable[0] = 1;
	for (unsigned bus = 0; bus < BUSES; bus++) {
		if (!(reachable[bus / 8] & 1u << bus % 8))
			continue;
		for (unsigned slot = 0; slot < 32; slot++) {
			unsigned bdf = bus << 8 | slot << 3;

			if (cfg_read16(bdf, PCI_VENDOR) == 0xffff)
				continue;
			unsigned fns =
			    cfg_read8(bdf, PCI_HEADER_TYPE) & 0x80 ? 8 : 1;
			for (unsigned fn = 0; fn < fns; fn++) {
				uint32_t id = cfg_read32(bdf | fn, PCI_VENDOR);
				if ((id & 0xffff) == 0xffff)
					continue;
				/* A bridge: its secondary bus comes later. */
				if ((cfg_read8(bdf | fn, PCI_HEADER_TYPE) &
				     0x7f) == 1) {
					unsigned sec = cfg_read8(
					    bdf | fn, PCI_SECONDARY_BUS);
					if (sec > bus)
						reachable[sec / 8] |=
						    (uint8_t)(1u << sec % 8);
				}
				probe(bdf | fn, id);
			}
		}
	}
}
