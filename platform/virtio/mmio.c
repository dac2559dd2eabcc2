/*
 * The virtio-mmio transport, version 2 (virtio 1.2, 4.2): QEMU's microvm
 * and Firecracker. Neither has a bus to scan; the hypervisor names each
 * transport that holds a device on the kernel command line, as Linux
 * reads it:
 *
 *     virtio_mmio.device=512@0xfeb00e00:12
 *
 * (size, with an optional K/M/G suffix; base address; the I/O APIC input
 * its interrupt arrives on; parsed by mmio_arg.c). boot.c hands those
 * words to hz_virtio_mmio_option and keeps them from the application's
 * argv.
 * hz_virtio_mmio_probe then maps each window uncached, checks its magic
 * ("virt") and version (2: QEMU needs `-global
 * virtio-mmio.force-legacy=false`, which haze-qemu passes), skips empty
 * slots (device id 0), routes its interrupt level-triggered to a vector
 * of its own, and registers it, in command-line order.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "haze/platform.h"
#include "mmio_arg.h"
#include "vdev.h"
#include "virtio.h"

#define MMIO_MAGIC_VALUE 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define MMIO_CONFIG 0x100

#define MAGIC_VIRT 0x74726976u /* "virt" */

struct mmio_slot {
	uint64_t base, size;
	unsigned gsi;
	char where[32];
	struct hz_vdev dev;
};

static struct mmio_slot slots[HZ_VDEV_MAX];
static unsigned slot_count;

/* Reads the 32-bit register at @off of @d's window. */
static uint32_t reg_read(struct hz_vdev *d, unsigned off)
{
	return *(volatile uint32_t *)(d->base + off);
}

/* Writes the 32-bit register at @off of @d's window. */
static void reg_write(struct hz_vdev *d, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(d->base + off) = v;
}

/* The device status register. */
static uint8_t mmio_get_status(struct hz_vdev *d)
{
	return (uint8_t)reg_read(d, MMIO_STATUS);
}

/* Sets the device status; 0 resets the device. */
static void mmio_set_status(struct hz_vdev *d, uint8_t status)
{
	reg_write(d, MMIO_STATUS, status);
}

/* The 64 feature bits the device offers, in two 32-bit halves. */
static uint64_t mmio_get_features(struct hz_vdev *d)
{
	uint64_t f;

	reg_write(d, MMIO_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)reg_read(d, MMIO_DEVICE_FEATURES) << 32;
	reg_write(d, MMIO_DEVICE_FEATURES_SEL, 0);
	return f | reg_read(d, MMIO_DEVICE_FEATURES);
}

/* Accepts @features, in two 32-bit halves. */
static void mmio_set_features(struct hz_vdev *d, uint64_t features)
{
	reg_write(d, MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(d, MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	reg_write(d, MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(d, MMIO_DRIVER_FEATURES, (uint32_t)features);
}

/* Reads @size bytes of the device's configuration at @off. */
static uint32_t mmio_config_read(struct hz_vdev *d, unsigned off, unsigned size)
{
	uintptr_t a = d->base + MMIO_CONFIG + off;

	if (size == 1)
		return *(volatile uint8_t *)a;
	if (size == 2)
		return *(volatile uint16_t *)a;
	return *(volatile uint32_t *)a;
}

/* The largest size of queue @q; 0 when it does not exist. */
static uint16_t mmio_queue_max(struct hz_vdev *d, unsigned q)
{
	uint32_t n;

	reg_write(d, MMIO_QUEUE_SEL, q);
	if (reg_read(d, MMIO_QUEUE_READY) != 0)
		return 0; /* already in use */
	n = reg_read(d, MMIO_QUEUE_NUM_MAX);
	return n > 0x8000 ? 0x8000 : (uint16_t)n;
}

/* Gives queue @q its size and rings, and enables it. */
static int mmio_queue_setup(struct hz_vdev *d, unsigned q, uint16_t size,
			    uint64_t desc, uint64_t avail, uint64_t used)
{
	reg_write(d, MMIO_QUEUE_SEL, q);
	reg_write(d, MMIO_QUEUE_NUM, size);
	reg_write(d, MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	reg_write(d, MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	reg_write(d, MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	reg_write(d, MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	reg_write(d, MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	reg_write(d, MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	reg_write(d, MMIO_QUEUE_READY, 1);
	return reg_read(d, MMIO_QUEUE_READY) == 1 ? 0 : -HZ_EIO;
}

/* Tells the device that queue @q has new buffers. */
static void mmio_notify(struct hz_vdev *d, unsigned q)
{
	reg_write(d, MMIO_QUEUE_NOTIFY, q);
}

/* Reads and acknowledges the interrupt's reasons. */
static uint32_t mmio_irq_ack(struct hz_vdev *d)
{
	uint32_t isr = reg_read(d, MMIO_INTERRUPT_STATUS);

	if (isr != 0)
		reg_write(d, MMIO_INTERRUPT_ACK, isr);
	return isr;
}

static const struct hz_vdev_ops mmio_ops = {
    .get_status = mmio_get_status,
    .set_status = mmio_set_status,
    .get_features = mmio_get_features,
    .set_features = mmio_set_features,
    .config_read = mmio_config_read,
    .queue_max = mmio_queue_max,
    .queue_setup = mmio_queue_setup,
    .notify = mmio_notify,
    .irq_ack = mmio_irq_ack,
};

bool hz_virtio_mmio_option(const char *value)
{
	struct hz_virtio_mmio_arg arg;
	char why[120], msg[220];

	if (slot_count == HZ_VDEV_MAX)
		snprintf(why, sizeof(why), "too many devices");
	else if (hz_virtio_mmio_parse(value, &arg, why, sizeof(why)) == 0) {
		slots[slot_count].base = arg.base;
		slots[slot_count].size = arg.size;
		slots[slot_count].gsi = arg.gsi;
		slot_count++;
		return true;
	}
	snprintf(msg, sizeof(msg), "haze: virtio_mmio.device=%.64s: %s\n",
		 value, why);
	hz_virtio_serial_write(msg, strlen(msg));
	return false;
}

/* Probes slot @s: registers its device, if it has a usable one. */
static void probe(struct mmio_slot *s)
{
	struct hz_vdev *d = &s->dev;
	char msg[160];
	uint32_t magic, version;
	int rc;

	snprintf(s->where, sizeof(s->where), "mmio@0x%llx",
		 (unsigned long long)s->base);
	if (hz_virtio_map_mmio(s->base, s->size) < 0) {
		snprintf(msg, sizeof(msg),
			 "haze: virtio %s: not device memory, ignored\n",
			 s->where);
		hz_virtio_serial_write(msg, strlen(msg));
		return;
	}
	*d = (struct hz_vdev){
	    .ops = &mmio_ops, .where = s->where, .base = (uintptr_t)s->base};
	magic = reg_read(d, MMIO_MAGIC_VALUE);
	version = reg_read(d, MMIO_VERSION);
	if (magic != MAGIC_VIRT || version != 2) {
		if (magic != MAGIC_VIRT)
			snprintf(msg, sizeof(msg),
				 "haze: virtio %s: no virtio-mmio transport "
				 "(magic 0x%x), ignored\n",
				 s->where, magic);
		else
			snprintf(msg, sizeof(msg),
				 "haze: virtio %s: version %u, not 2 (QEMU: "
				 "-global virtio-mmio.force-legacy=false), "
				 "ignored\n",
				 s->where, version);
		hz_virtio_serial_write(msg, strlen(msg));
		return;
	}
	d->type = reg_read(d, MMIO_DEVICE_ID);
	if (d->type == 0)
		return; /* an empty slot */
	d->vector = hz_virtio_irq_vector();
	rc = d->vector ? hz_virtio_ioapic_route(s->gsi, d->vector, true)
		       : -HZ_ENOSPC;
	if (rc < 0)
		d->vector = 0; /* polled: yield wakes with the PIT only */
	if (!hz_vdev_register(d)) {
		snprintf(msg, sizeof(msg),
			 "haze: virtio %s: too many devices, ignored\n",
			 s->where);
		hz_virtio_serial_write(msg, strlen(msg));
	}
}

void hz_virtio_mmio_probe(void)
{
	for (unsigned i = 0; i < slot_count; i++)
		probe(&slots[i]);
}
