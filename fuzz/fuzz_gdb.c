/*
 * libFuzzer harness: haze-kvm --gdb's protocol engine (tender/gdb.c), fed
 * what a hostile or broken gdb could send: framing, checksums, escapes,
 * every packet's arguments. The target is a fake: 64 KiB of guest memory
 * at 1 MiB and a register set; it refuses anything outside that memory,
 * as the tender's does. After each chunk the output must fit the
 * engine's buffer, and the memory around the guest's must be untouched.
 * Resuming (c, s) stops at once with SIGTRAP, as the fake VM of
 * tests/tender/test_gdb.c does, so a session goes on.
 *
 * The input is split into chunks at every 0xff byte (a read() of the
 * stub returning), so packets cut across reads are covered.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tender/gdb.h"

#define BASE 0x100000u
#define SIZE (64u << 10)
#define GUARD 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Guest memory with a guard of known bytes on each side. */
static uint8_t space[GUARD + SIZE + GUARD];
static struct hz_gdb_regs regs;
static struct hz_gdb gdb;

/* The fake's registers. */
static int get_regs(void *ctx, struct hz_gdb_regs *r)
{
	*r = regs;
	return 0;
}

/* Takes the engine's registers. */
static int set_regs(void *ctx, const struct hz_gdb_regs *r)
{
	regs = *r;
	return 0;
}

/* The host address of [addr, addr + len) in the fake memory, or NULL. */
static uint8_t *guest(uint64_t addr, size_t len)
{
	if (addr < BASE || addr - BASE > SIZE || len > SIZE - (addr - BASE))
		return NULL;
	return space + GUARD + (addr - BASE);
}

/* Reads fake guest memory. */
static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = guest(addr, len);
	if (!p)
		return -HZ_EINVAL;
	memcpy(buf, p, len);
	return 0;
}

/* Writes fake guest memory. */
static int write_mem(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	uint8_t *p = guest(addr, len);
	if (!p)
		return -HZ_EINVAL;
	memcpy(p, buf, len);
	return 0;
}

static const struct hz_gdb_target target = {
    .get_regs = get_regs,
    .set_regs = set_regs,
    .read_mem = read_mem,
    .write_mem = write_mem,
};

/* Whether the guards still hold their pattern. */
static int guards_intact(void)
{
	for (size_t i = 0; i < GUARD; i++)
		if (space[i] != 0xa5 || space[GUARD + SIZE + i] != 0xa5)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pristine[sizeof(space)];
	if (!pristine[0]) {
		memset(pristine, 0xa5, sizeof(pristine));
		for (size_t i = 0; i < SIZE; i++)
			pristine[GUARD + i] = (uint8_t)(i * 7);
	}
	memcpy(space, pristine, sizeof(space));
	memset(&regs, 0, sizeof(regs));
	regs.r[HZ_GDB_RIP] = BASE;
	hz_gdb_init(&gdb, &target, NULL);
	while (size) {
		const uint8_t *cut = memchr(data, 0xff, size);
		size_t chunk = cut ? (size_t)(cut - data) : size;
		size_t at = 0;
		while (at < chunk) {
			enum hz_gdb_action act;
			size_t used =
			    hz_gdb_input(&gdb, data + at, chunk - at, &act);
			size_t n;
			if (used == 0 || used > chunk - at)
				__builtin_trap(); /* no progress, or overrun */
			at += used;
			hz_gdb_output(&gdb, &n);
			if (n > sizeof(gdb.out))
				__builtin_trap();
			hz_gdb_output_done(&gdb);
			if (act == HZ_GDB_CONTINUE || act == HZ_GDB_STEP)
				hz_gdb_stopped(
				    &gdb, HZ_GDB_SIGTRAP,
				    hz_gdb_breakpoint_at(
					&gdb, regs.r[HZ_GDB_RIP], NULL));
			else if (act == HZ_GDB_KILL)
				hz_gdb_killed(&gdb, HZ_GDB_SIGKILL);
			hz_gdb_output_done(&gdb);
		}
		if (!guards_intact())
			__builtin_trap(); /* written outside guest memory */
		data += chunk + (cut ? 1 : 0);
		size -= chunk + (cut ? 1 : 0);
	}
	return 0;
}
