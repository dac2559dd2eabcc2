/*
 * The platform API (haze/platform.h) on the virtio target, the PC's
 * legacy devices and yield. The console is the 16550 serial port
 * COM1; the clocks read the TSC, calibrated against the PIT at boot, and
 * the wall clock starts from the CMOS RTC; hz_platform_yield halts until
 * the PIT's one-shot interrupt at the deadline or a device's interrupt.
 * Net devices are net.c's, block devices and the host's entropy blk.c's
 * and rng.c's. The exit status goes to QEMU's isa-debug-exit device,
 * which haze-qemu translates back.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "haze/platform.h"
#include "virtio.h"

#define COM1 0x3f8
#define LSR_THRE 0x20 /* transmit holding register empty */
#define PIT_HZ 1193182ull
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_MAX 0xffffu
/* PIT ticks the calibration waits: 20 ms. */
#define CALIBRATION_TICKS 23864u

/* ns = (tsc - tsc_base) * clock_mult >> 32. */
static uint64_t tsc_base, clock_mult, tsc_hz;
static uint64_t wall_base_ns; /* wall clock at monotonic 0 */

/* haze.trace: the boot's times, in ns from the first instruction. */
static bool trace;
static uint64_t trace_clock_ns, trace_main_ns;

void hz_virtio_serial_init(void)
{
	static const uint8_t init[][2] = {
	    {1, 0x00},		  /* no interrupts */
	    {3, 0x80},		  /* divisor latch */
	    {0, 0x01}, {1, 0x00}, /* 115200 baud */
	    {3, 0x03},		  /* 8N1 */
	    {2, 0xc7},		  /* FIFOs on and cleared */
	    {4, 0x03},		  /* DTR, RTS */
	};
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		hz_virtio_outb(COM1 + init[i][0], init[i][1]);
}

void hz_virtio_serial_write(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* Bounded: a machine without a UART reads 0xff, ready. */
		for (int n = 0; n < 100000; n++)
			if (hz_virtio_inb(COM1 + 5) & LSR_THRE)
				break;
		hz_virtio_outb(COM1, (uint8_t)buf[i]);
	}
}

void hz_platform_console_write(const char *buf, size_t len)
{
	hz_virtio_serial_write(buf, len);
}

/* Latches and reads the count of PIT channel 0. */
static uint16_t pit_count(void)
{
	uint8_t lo, hi;

	hz_virtio_outb(PIT_CMD, 0x00);
	lo = hz_virtio_inb(PIT_CH0);
	hi = hz_virtio_inb(PIT_CH0);
	return (uint16_t)(lo | hi << 8);
}

/* Starts PIT channel 0 in mode @mode with @count (0 means 65536). */
static void pit_start(uint8_t mode, uint16_t count)
{
	hz_virtio_outb(PIT_CMD, (uint8_t)(0x30 | mode << 1));
	hz_virtio_outb(PIT_CH0, (uint8_t)count);
	hz_virtio_outb(PIT_CH0, (uint8_t)(count >> 8));
}

/*
 * The TSC's frequency, measured over CALIBRATION_TICKS of the PIT
 * running freely in mode 2, from one change of its count to the tick
 * that completes the interval; 0 when the PIT does not count.
 */
static uint64_t calibrate_tsc(void)
{
	uint16_t prev, now;
	uint32_t ticks = 0, spins = 0;
	uint64_t t0, t1;

	pit_start(2, 0);
	prev = pit_count();
	while ((now = pit_count()) == prev)
		if (++spins > 1000000)
			return 0;
	t0 = hz_virtio_rdtsc();
	prev = now;
	while (ticks < CALIBRATION_TICKS) {
		now = pit_count();
		ticks += (uint16_t)(prev - now); /* counts down, wraps */
		prev = now;
	}
	t1 = hz_virtio_rdtsc();
	return (t1 - t0) * PIT_HZ / ticks;
}

/* Reads CMOS register @reg. */
static uint8_t cmos(uint8_t reg)
{
	hz_virtio_outb(0x70, reg);
	return hz_virtio_inb(0x71);
}

/* From binary-coded decimal, if the RTC says it uses that. */
static unsigned rtc_value(uint8_t v, bool bcd)
{
	return bcd ? (v >> 4) * 10u + (v & 15u) : v;
}

/* Days from 1970-01-01 to @y-@m-@d (proleptic Gregorian calendar). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The RTC's time in seconds since the epoch, or 0 if it has none. */
static uint64_t rtc_seconds(void)
{
	uint8_t r[7], again[7], b;
	unsigned sec, min, hour, day, mon, year, century;

	/* Read until two reads agree, outside an update. */
	for (int tries = 0; tries < 1000; tries++) {
		/* An update lasts under 2 ms; a machine without an RTC
		 * (Firecracker's has none) may read all ones for ever. */
		for (int n = 0; cmos(0x0a) & 0x80; n++)
			if (n == 100000)
				return 0;
		static const uint8_t regs[7] = {0x00, 0x02, 0x04, 0x07,
						0x08, 0x09, 0x32};
		for (int i = 0; i < 7; i++)
			r[i] = cmos(regs[i]);
		for (int i = 0; i < 7; i++)
			again[i] = cmos(regs[i]);
		if (memcmp(r, again, sizeof(r)) == 0)
			break;
	}
	b = cmos(0x0b);
	bool bcd = !(b & 0x04);
	sec = rtc_value(r[0], bcd);
	min = rtc_value(r[1], bcd);
	hour = rtc_value(r[2] & 0x7f, bcd);
	if (!(b & 0x02) && (r[2] & 0x80)) /* 12-hour clock, PM */
		hour = hour % 12 + 12;
	else if (!(b & 0x02))
		hour %= 12;
	day = rtc_value(r[3], bcd);
	mon = rtc_value(r[4], bcd);
	year = rtc_value(r[5], bcd);
	century = rtc_value(r[6], bcd);
	if (century < 19 || century > 30)
		century = 20;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
	    min > 59 || sec > 60)
		return 0;
	int64_t days = days_from_civil(century * 100 + year, mon, day);
	if (days < 0)
		return 0;
	return (uint64_t)days * 86400 + hour * 3600 + min * 60 + sec;
}

void hz_virtio_clock_init(uint64_t tsc_entry)
{
	static const char no_pit[] =
	    "haze: the PIT does not count: assuming a 1 GHz TSC\n";

	tsc_base = tsc_entry;
	tsc_hz = calibrate_tsc();
	if (tsc_hz == 0) {
		hz_virtio_serial_write(no_pit, sizeof(no_pit) - 1);
		tsc_hz = 1000000000ull;
	}
	clock_mult = (1000000000ull << 32) / tsc_hz;
	pit_start(0, PIT_MAX); /* one shot: no periodic interrupts */
	uint64_t s = rtc_seconds();
	uint64_t now = hz_platform_clock_monotonic();
	wall_base_ns = s * 1000000000ull > now ? s * 1000000000ull - now : 0;
	trace_clock_ns = hz_platform_clock_monotonic();
}

uint64_t hz_platform_clock_monotonic(void)
{
	uint64_t d = hz_virtio_rdtsc() - tsc_base;
	return (uint64_t)(((unsigned __int128)d * clock_mult) >> 32);
}

uint64_t hz_platform_clock_wall(void)
{
	return wall_base_ns + hz_platform_clock_monotonic();
}

/*
 * Halts until the PIT's one-shot interrupt at @ticks or a device's.
 * Interrupts are on only for `sti; hlt`: sti takes effect after the next
 * instruction, so an interrupt pending or arriving cannot slip in before
 * the hlt; it ends it instead.
 */
static void halt(uint64_t ticks)
{
	pit_start(0, (uint16_t)ticks);
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/*
 * Yielding: the net devices of @interest with a received frame waiting
 * are ready at once. Otherwise their receive queues are armed (an
 * interrupt for the next frame), looked at again, since a frame that came
 * in between would raise no interrupt, and the CPU halts until the PIT
 * fires at the deadline (or after its longest count, 55 ms, for a later
 * one) or a device interrupts. Then the queues are disarmed: a guest
 * that is busy does not take interrupts it would not look at. Readiness
 * is the queues' state, never the interrupt's, so a lost or spurious
 * interrupt costs at most a wake-up. Likewise a lost kick: before it
 * halts, the guest reads again what a device asked for when the event
 * index spared a kick, and tells one that waits (hz_virtio_net_rekick).
 */
void hz_platform_yield(uint64_t deadline, hz_ready_set_t interest,
		       hz_ready_set_t *ready)
{
	uint64_t now, ticks = PIT_MAX;

	*ready = hz_virtio_net_ready(interest);
	if (*ready || deadline == 0)
		return;
	now = hz_platform_clock_monotonic();
	if (deadline <= now)
		return;
	if (deadline != HZ_DEADLINE_NEVER) {
		unsigned __int128 t =
		    ((unsigned __int128)(deadline - now) * PIT_HZ +
		     999999999u) /
		    1000000000u;
		if (t < ticks)
			ticks = t ? (uint64_t)t : 1;
	}
	/* A kick the event index spared may have been lost (virtq.c): the
	 * device, waiting for it, would send and take nothing more. */
	hz_virtio_net_rekick();
	if (hz_virtio_net_want_irq(interest, true) == 0)
		halt(ticks);
	*ready = hz_virtio_net_want_irq(interest, false);
}

void hz_platform_ready(void)
{
}

void hz_virtio_exit(uint32_t v)
{
	hz_virtio_outl(HZ_VIRTIO_EXIT_PORT, v);
	/* No isa-debug-exit (not QEMU): the i8042 reset line, which
	 * Firecracker takes as the end of the VM, then a halt for good. */
	hz_virtio_outb(0x64, 0xfe);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void hz_virtio_trace_on(void)
{
	trace = true;
}

void hz_virtio_trace_main(void)
{
	trace_main_ns = hz_platform_clock_monotonic();
}

/*
 * The trace line haze-qemu --trace reads: microseconds from the guest's
 * first instruction to the clock's start (its calibration included), to
 * hz_runtime_start and to now, the exit; and the TSC's own value at the
 * first instruction, which hypervisors start near 0 with the vCPU (KVM)
 * or the VM's run (TCG), with its frequency.
 */
static void trace_exit(void)
{
	uint64_t exit_ns = hz_platform_clock_monotonic();
	uint64_t entry_ns =
	    (uint64_t)(((unsigned __int128)tsc_base * clock_mult) >> 32);
	char line[200];
	int n;

	n = snprintf(line, sizeof(line),
		     "haze: trace: clock_us=%llu main_us=%llu exit_us=%llu "
		     "tsc_entry_us=%llu tsc_khz=%llu\n",
		     (unsigned long long)(trace_clock_ns / 1000),
		     (unsigned long long)(trace_main_ns / 1000),
		     (unsigned long long)(exit_ns / 1000),
		     (unsigned long long)(entry_ns / 1000),
		     (unsigned long long)(tsc_hz / 1000));
	if (n > 0)
		hz_virtio_serial_write(line, (size_t)n < sizeof(line)
						 ? (size_t)n
						 : sizeof(line) - 1);
}

void hz_platform_exit(int status)
{
	if (trace)
		trace_exit();
	if (status < 0 || status > HZ_VIRTIO_EXIT_GUEST_MAX)
		hz_virtio_exit(HZ_VIRTIO_EXIT_CLAMPED);
	hz_virtio_exit((uint32_t)status + 1);
}

void hz_platform_abort(void)
{
	static const char msg[] = "haze: guest aborted\n";

	hz_virtio_serial_write(msg, sizeof(msg) - 1);
	hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
}
