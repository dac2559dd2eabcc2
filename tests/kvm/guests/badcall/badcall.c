/*
 * Guest test: makes the malformed hypercall named by its first argument;
 * the tender must stop the VM (fail closed, status 253) before doing
 * anything, so reaching the line after the call is a failure. The
 * cases that need a device run with it bound (tests/kvm/run.py); the
 * net ring cases need net0 on a tap, whose rings the tender serves.
 */
#include <string.h>

#include <haze/haze.h>

#include "platform/kvm/kvm.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("net0"), {.kind = HZ_DEVICE_KIND_BLOCK,
					     .flags = HZ_DEVICE_OPTIONAL,
					     .name = "disk"});

/* A results struct in rodata: the tender must not write it back. */
static const struct hz_kvm_yield rodata_yield = {.timeout_ns = 0};

/* A guest address in .text. */
static uint64_t text_address(void)
{
	return (uint64_t)(uintptr_t)&hz_main;
}

/* Acquires device @name of @kind; its handle, or exits 1. */
static hz_handle_t acquire(const char *name, bool net)
{
	hz_handle_t h;
	struct hz_net_info ni;
	struct hz_block_info bi;
	int r = net ? hz_platform_net_acquire(name, &h, &ni)
		    : hz_platform_block_acquire(name, &h, &bi);
	if (r < 0) {
		hz_printf("%s: %s (not bound?)\n", name, hz_strerror(r));
		hz_platform_exit(1);
	}
	return h;
}

/* Reads a frame of net0 into @buf (capacity @cap) with the array at @fr. */
static void net_read(uint64_t buf, uint64_t cap, struct hz_kvm_frame *fr)
{
	fr->buf = buf;
	fr->cap = cap;
	fr->len = 0;
	struct hz_kvm_net_io io = {
	    .handle = (uint32_t)acquire("net0", true),
	    .count = 1,
	    .frames = (uint64_t)(uintptr_t)fr,
	};
	hz_kvm_call(HZ_KVM_CALL_NET_READ, &io);
}

/* Reads one sector of the disk into @buf. */
static void block_read(uint64_t buf)
{
	struct hz_kvm_block_io io = {
	    .handle = (uint32_t)acquire("disk", false),
	    .buf = buf,
	    .len = 512,
	};
	hz_kvm_call(HZ_KVM_CALL_BLOCK_READ, &io);
}

/* Makes the call of case @name; false if there is no such case. */
static bool bad_call(const char *name)
{
	static struct hz_kvm_frame frame;
	static uint64_t slots[4];

	if (strcmp(name, "console-overflow") == 0) {
		/* Overflows 64 bits when added: a naive check would pass. */
		struct hz_kvm_console c = {0xfffffffffffff000ull, 0x2000};
		hz_kvm_call(HZ_KVM_CALL_CONSOLE, &c);
	} else if (strcmp(name, "net-read-text") == 0) {
		net_read(text_address(), 1514, &frame);
	} else if (strcmp(name, "net-frames-range") == 0) {
		struct hz_kvm_net_io io = {
		    .handle = (uint32_t)acquire("net0", true),
		    .count = 2,
		    .frames = hz_kvm_boot_info.mem_size - 16,
		};
		hz_kvm_call(HZ_KVM_CALL_NET_READ, &io);
	} else if (strcmp(name, "net-frames-rodata") == 0) {
		/* A read writes frame lengths back into the array. */
		static const struct hz_kvm_frame ro = {0};
		struct hz_kvm_net_io io = {
		    .handle = (uint32_t)acquire("net0", true),
		    .count = 1,
		    .frames = (uint64_t)(uintptr_t)&ro,
		};
		hz_kvm_call(HZ_KVM_CALL_NET_READ, &io);
	} else if (strcmp(name, "yield-tx-range") == 0) {
		/* Staged frames to send before the wait, their array past
		 * the end of memory: refused before anything is waited for
		 * (a timeout of forever would otherwise hang the test). */
		struct hz_kvm_yield y = {
		    .timeout_ns = UINT64_MAX,
		    .tx = {.handle = (uint32_t)acquire("net0", true),
			   .count = 2,
			   .frames = hz_kvm_boot_info.mem_size - 16}};
		hz_kvm_call(HZ_KVM_CALL_YIELD, &y);
	} else if (strcmp(name, "yield-rx-text") == 0) {
		/* A buffer to receive into in .text: refused before the wait
		 * (forever) begins, whether or not a frame ever comes. */
		static struct hz_kvm_frame rx;
		rx = (struct hz_kvm_frame){.buf = text_address(), .cap = 1514};
		struct hz_kvm_yield y = {
		    .timeout_ns = UINT64_MAX,
		    .rx = {.handle = (uint32_t)acquire("net0", true),
			   .count = 1,
			   .frames = (uint64_t)(uintptr_t)&rx}};
		hz_kvm_call(HZ_KVM_CALL_YIELD, &y);
	} else if (strcmp(name, "block-read-bootpage") == 0) {
		block_read(HZ_KVM_GDT); /* GDT, IDT, TSS, canary */
	} else if (strcmp(name, "block-read-pagetables") == 0) {
		block_read(HZ_KVM_PAGE_TABLES);
	} else if (strcmp(name, "entropy-text") == 0) {
		struct hz_kvm_entropy e = {.buf = text_address(), .len = 16};
		hz_kvm_call(HZ_KVM_CALL_ENTROPY, &e);
	} else if (strcmp(name, "yield-arg-rodata") == 0) {
		hz_kvm_call(HZ_KVM_CALL_YIELD,
			    (void *)(uintptr_t)&rodata_yield);
	} else if (strcmp(name, "unknown-call") == 0) {
		struct hz_kvm_exit x = {0};
		hz_kvm_call(HZ_KVM_CALL_COUNT_, &x);
	} else if (strcmp(name, "misaligned-arg") == 0) {
		/* An exit struct 4 bytes into an aligned buffer. */
		hz_kvm_call(HZ_KVM_CALL_EXIT, (uint8_t *)slots + 4);
	} else if (strcmp(name, "hypercall-load") == 0) {
		volatile uint32_t *slot =
		    (volatile uint32_t *)(uintptr_t)(HZ_KVM_HYPERCALL_GPA +
						     8 * HZ_KVM_CALL_EXIT);
		slots[0] = *slot;
	} else if (strcmp(name, "hypercall-store64") == 0) {
		volatile uint64_t *slot =
		    (volatile uint64_t *)(uintptr_t)(HZ_KVM_HYPERCALL_GPA +
						     8 * HZ_KVM_CALL_EXIT);
		*slot = (uint64_t)(uintptr_t)slots;
	} else {
		return false;
	}
	return true;
}

/*
 * Net rings of this guest's own, for net0 bound to a tap (device 0): the
 * platform's are not set up, since net0 is never acquired here. 64
 * descriptors each, page-aligned.
 */
#define RING_N 64u
static _Alignas(4096) uint8_t ring_mem[2][4096];
static _Alignas(64) uint8_t ring_buf[4096];

/* Sets up the rings at @tx and @rx on net0; exits 1 if refused. */
static void rings(void *tx, void *rx)
{
	struct hz_kvm_net_rings a = {.handle = 0,
				     .entries = RING_N,
				     .tx = (uint64_t)(uintptr_t)tx,
				     .rx = (uint64_t)(uintptr_t)rx};
	hz_kvm_call(HZ_KVM_CALL_NET_RINGS, &a);
	if (a.ret != 0) {
		hz_printf("net rings refused: %s\n", hz_strerror((int)a.ret));
		hz_platform_exit(1);
	}
}

/*
 * The ring cases: the I/O thread finds the broken ring on its own and
 * ends the VM; the guest kicks it and waits up to 5 s.
 */
static bool bad_ring(const char *name)
{
	struct hz_kvm_ring *tx = (struct hz_kvm_ring *)ring_mem[0];
	struct hz_kvm_ring *rx = (struct hz_kvm_ring *)ring_mem[1];
	uint64_t none = 0;

	if (strcmp(name, "rings-overlap") == 0) {
		rings(tx, (uint8_t *)tx + 64); /* ends the VM at once */
		return true;
	}
	if (strcmp(name, "ring-rx-text") == 0) {
		rx->desc[0] =
		    (struct hz_kvm_frame){.buf = text_address(), .cap = 2048};
		rx->posted = 1;
		rings(tx, rx);
	} else if (strcmp(name, "ring-tx-range") == 0) {
		rings(tx, rx);
		tx->desc[0] = (struct hz_kvm_frame){
		    .buf = hz_kvm_boot_info.mem_size - 16, .len = 60};
		__atomic_store_n(&tx->posted, 1u, __ATOMIC_RELEASE);
	} else if (strcmp(name, "ring-posted-ahead") == 0) {
		rings(tx, rx);
		memset(ring_buf, 0, sizeof(ring_buf));
		for (uint32_t i = 0; i < RING_N; i++)
			tx->desc[i] = (struct hz_kvm_frame){
			    .buf = (uint64_t)(uintptr_t)ring_buf, .len = 60};
		__atomic_store_n(&tx->posted, RING_N + 1, __ATOMIC_RELEASE);
	} else {
		return false;
	}
	hz_kvm_call(HZ_KVM_CALL_NET_KICK, &none);
	for (int i = 0; i < 50; i++) {
		struct hz_kvm_yield y = {.timeout_ns = 100000000ull};
		hz_kvm_call(HZ_KVM_CALL_YIELD, &y);
	}
	return true;
}

int hz_main(int argc, char **argv)
{
	if (argc != 2 || !(bad_call(argv[1]) || bad_ring(argv[1]))) {
		hz_printf("usage: badcall CASE\n");
		return 2;
	}
	hz_printf("bad hypercall was accepted\n");
	return 0;
}
