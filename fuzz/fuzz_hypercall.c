/*
 * libFuzzer harness: haze-kvm's hypercall dispatch (tender/vm.c and the
 * devices behind it), driven in-process through the fake VM of
 * tests/tender/fakevm.h, as a hostile guest would drive it. No /dev/kvm
 * is needed.
 *
 * An input is a sequence of calls, each 4 + ARG_SIZE bytes: the call
 * number, where its argument goes (aligned or not, in writable memory,
 * in the read-only image page, at the end of memory), a frame to queue
 * on the tap first, and the argument struct's bytes. Any call may end the
 * VM (exit, abort and fault reports too: fakevm returns from them); then
 * the input ends. A yield's timeout is forced to 0. After every call the
 * read-only page must be intact: the tender may never write where the
 * guest cannot.
 *
 * The VM has a net device on a socketpair (standing for a tap, with
 * segmentation offload, and receive offload as a call's selector byte
 * says) and a 64 KiB block device in a memfd; no user networking, whose
 * frames could reach other hosts. A frame queued on the tap begins with
 * the virtio-net header the tender reads first.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/tender/fakevm.h"

#define ARG_SIZE 64
#define STEP (4 + ARG_SIZE)
#define DISK_SIZE (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct hz_vm vm;
static int tap[2];

/* Sets up the VM once: devices, the read-only page's pattern, stdout. */
static void setup(void)
{
	fakevm_init(&vm);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       tap) < 0)
		__builtin_trap();
	int disk = memfd_create("disk", MFD_CLOEXEC);
	if (disk < 0 || ftruncate(disk, DISK_SIZE) < 0)
		__builtin_trap();
	vm.ndev = 2;
	vm.dev[0] = (struct hz_device){.kind = HZ_DEVICE_KIND_NET,
				       .bound = true,
				       .fd = tap[0],
				       .pcap_fd = -1,
				       .net.backend = HZ_NET_TAP,
				       .gso_max = HZ_TAP_GSO_MAX,
				       .rx_max = HZ_TAP_RX_MAX};
	memcpy(vm.dev[0].name, "net0", 5);
	vm.dev[1] = (struct hz_device){.kind = HZ_DEVICE_KIND_BLOCK,
				       .bound = true,
				       .fd = disk,
				       .pcap_fd = -1,
				       .capacity = DISK_SIZE};
	memcpy(vm.dev[1].name, "disk", 5);
	memset(fakevm_ptr(&vm, HZ_KVM_IMAGE_BASE), 0xa5, 4096);
	/* The guest's console output goes nowhere. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 1) < 0)
		__builtin_trap();
	close(null);
}

/* Where a call's argument goes, by selector. */
static uint64_t arg_address(uint8_t sel)
{
	static const uint64_t where[] = {
	    FAKEVM_HEAP,
	    FAKEVM_HEAP + 8,
	    FAKEVM_HEAP + 4,
	    HZ_KVM_IMAGE_BASE,
	    FAKEVM_MEM - ARG_SIZE,
	    FAKEVM_MEM - 8,
	    FAKEVM_HEAP + 0x100000,
	    0,
	};
	return where[sel % (sizeof(where) / sizeof(where[0]))];
}

/* Whether the read-only page still holds its pattern. */
static bool readonly_intact(void)
{
	const uint8_t *p = fakevm_ptr(&vm, HZ_KVM_IMAGE_BASE);
	for (unsigned i = 0; i < 4096; i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t junk[2048];

	if (!ready) {
		setup();
		ready = true;
	}
	while (recv(tap[0], junk, sizeof(junk), 0) >= 0 ||
	       recv(tap[1], junk, sizeof(junk), 0) >= 0)
		; /* nothing left over from the last input */
	for (size_t off = 0; off + STEP <= size; off += STEP) {
		const uint8_t *s = data + off;
		unsigned call = s[0] % (HZ_KVM_CALL_COUNT_ + 1);
		uint64_t gpa = arg_address(s[1]);
		if (s[2] & 1) /* a frame waits on the tap */
			(void)send(tap[1], s + 4, 14 + s[3] % 50, 0);
		vm.dev[0].rx_offload = s[2] & 2;
		uint8_t *arg = fakevm_ptr(&vm, gpa);
		bool writable = hz_guest_ptr_writable(&vm, gpa, ARG_SIZE);
		if (writable)
			memcpy(arg, s + 4, ARG_SIZE);
		/* A yield polls: a wait would stall the fuzzer. */
		if (call == HZ_KVM_CALL_YIELD && writable)
			memset(arg + offsetof(struct hz_kvm_yield, timeout_ns),
			       0, sizeof(uint64_t)); /* maybe misaligned */
		int status = fakevm_call(&vm, call, gpa);
		/* The tender must never write read-only guest memory. */
		if (!readonly_intact())
			__builtin_trap();
		while (recv(tap[1], junk, sizeof(junk), 0) >= 0)
			; /* frames the call sent */
		if (status >= 0)
			break; /* the VM ended */
	}
	return 0;
}
