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
 *
 * Net rings (ABI 8) are served: NET_RINGS with selector bit 8 sets up
 * rings of the harness's own at RINGS (entries from the argument's first
 * byte), and a step past the last call number (a "ring pass") writes its
 * argument bytes over the tx or rx ring, header or descriptors, at an
 * offset the step picks, then runs one pass of the I/O thread over both
 * rings, as a guest rewriting its rings at any moment would meet it.
 *
 * A net call's argument, or a yield's receive buffers, can instead be laid
 * out by the harness (selector bit 4): a frame array of its own whose
 * buffers may overlap the array, each other, or the end of memory. Then
 * the call may change guest memory only inside the buffers, the array's
 * result fields and the argument's results, as the array said before the
 * call: the tender must check and use one reading of it, however the
 * frames it receives rewrite it.
 */
#include <fcntl.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/tender/fakevm.h"

#define ARG_SIZE 80 /* the largest argument: a yield */
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
	vm.rings = true;
	vm.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vm.kick_fd < 0 || vm.wake_fd < 0)
		__builtin_trap();
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

/* Where the harness's own frame array goes, and the memory it watches. */
#define FRAMES (FAKEVM_HEAP + 0x1000)
#define WATCH_LO FAKEVM_HEAP
#define WATCH_HI (FAKEVM_HEAP + 0x4000)
#define TAIL (FAKEVM_MEM - 4096)

/*
 * Lays out a net call at FAKEVM_HEAP with up to four frames from @s (the
 * step's argument bytes), buffers inside the watched memory or at its
 * end; records in @fr what the array says.
 */
static unsigned layout_net(unsigned call, const uint8_t *s,
			   struct hz_kvm_frame *fr)
{
	unsigned n = 1 + s[0] % 4;
	struct hz_kvm_net_io io = {.handle = 0, .count = n, .frames = FRAMES};

	for (unsigned i = 0; i < n; i++) {
		uint64_t cap = (uint64_t)s[1 + i] * 8;
		uint8_t where = s[5 + i];
		uint64_t buf;
		if (where % 3 == 0) /* on the frame array itself */
			buf = FRAMES + (where & 0x78);
		else if (where % 3 == 1)
			buf = FAKEVM_HEAP + 0x2000 + (uint64_t)where * 16;
		else
			buf = FAKEVM_MEM - cap;
		fr[i] = (struct hz_kvm_frame){
		    .buf = buf, .cap = cap, .len = cap > 60 ? 60 : cap};
	}
	if (call == HZ_KVM_CALL_YIELD) { /* a poll posting them */
		struct hz_kvm_yield y = {.interest = 1, .rx = io};
		memcpy(fakevm_ptr(&vm, FAKEVM_HEAP), &y, sizeof(y));
	} else {
		memcpy(fakevm_ptr(&vm, FAKEVM_HEAP), &io, sizeof(io));
	}
	memcpy(fakevm_ptr(&vm, FRAMES), fr, n * sizeof(*fr));
	return n;
}

/* The harness's own rings (selector bit 8), a page each. */
#define RINGS (FAKEVM_HEAP + 0x8000)
#define RING_PASS (HZ_KVM_CALL_COUNT_ + 1)

/* Lays out a NET_RINGS call at FAKEVM_HEAP for rings at RINGS. */
static void layout_rings(const uint8_t *s)
{
	struct hz_kvm_net_rings a = {.handle = 0,
				     .entries = 1u << (s[0] % 8),
				     .tx = RINGS,
				     .rx = RINGS + 0x2000};

	memset(fakevm_ptr(&vm, RINGS), 0, 0x4000);
	memcpy(fakevm_ptr(&vm, FAKEVM_HEAP), &a, sizeof(a));
}

/* One pass of the I/O thread (fakevm_run's shape). */
static void ring_pass(struct hz_vm *v, void *arg)
{
	(void)arg;
	hz_ring_tx(v, &v->dev[0]);
	hz_ring_rx(v, &v->dev[0]);
}

/* Writes step @s's argument bytes over a ring, then runs a pass. */
static int ring_step(const uint8_t *s)
{
	struct hz_ring *r = &vm.dev[0].ring;

	if (!r->active)
		return -1;
	uint8_t *ring = (uint8_t *)((s[1] & 1) ? r->rx : r->tx);
	size_t bytes = sizeof(struct hz_kvm_ring) +
		       r->entries * sizeof(struct hz_kvm_frame);
	size_t at = ((size_t)s[3] * 8) % bytes;
	size_t k = bytes - at < ARG_SIZE ? bytes - at : ARG_SIZE;
	memcpy(ring + at, s + 4, k);
	return fakevm_run(&vm, ring_pass, NULL);
}

/* Whether @a lies in the 8-byte result at offset @off of the argument. */
static bool in_result(uint64_t a, size_t off)
{
	return a >= FAKEVM_HEAP + off && a < FAKEVM_HEAP + off + 8;
}

/*
 * Whether guest address @a may change in net call @call (a yield posting
 * them, or a read or write) of @n frames @fr.
 */
static bool may_change(unsigned call, uint64_t a, const struct hz_kvm_frame *fr,
		       unsigned n)
{
	if (call == HZ_KVM_CALL_YIELD
		? in_result(a, offsetof(struct hz_kvm_yield, ready)) ||
		      in_result(a, offsetof(struct hz_kvm_yield, tx.ret)) ||
		      in_result(a, offsetof(struct hz_kvm_yield, rx.ret))
		: in_result(a, offsetof(struct hz_kvm_net_io, ret)))
		return true;
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = FRAMES + i * sizeof(*fr);
		if (a >= fr[i].buf && a - fr[i].buf < fr[i].cap)
			return true;
		if (a >= e + offsetof(struct hz_kvm_frame, len) &&
		    a < e + sizeof(*fr))
			return true;
	}
	return false;
}

/* Traps if memory in [@lo, @hi) changed from @before where it may not. */
static void check_changes(unsigned call, uint64_t lo, uint64_t hi,
			  const uint8_t *before, const struct hz_kvm_frame *fr,
			  unsigned n)
{
	const uint8_t *now = fakevm_ptr(&vm, lo);
	for (uint64_t a = lo; a < hi; a++)
		if (now[a - lo] != before[a - lo] &&
		    !may_change(call, a, fr, n))
			__builtin_trap();
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
	static uint8_t watch[WATCH_HI - WATCH_LO], tail[4096];
	uint8_t junk[2048];

	if (!ready) {
		setup();
		ready = true;
	}
	while (recv(tap[0], junk, sizeof(junk), 0) >= 0 ||
	       recv(tap[1], junk, sizeof(junk), 0) >= 0)
		; /* nothing left over from the last input */
	vm.dev[0].ring = (struct hz_ring){0}; /* no rings from the last */
	for (size_t off = 0; off + STEP <= size; off += STEP) {
		const uint8_t *s = data + off;
		unsigned call = s[0] % (HZ_KVM_CALL_COUNT_ + 2);
		if (call == RING_PASS) {
			int st = ring_step(s);
			if (!readonly_intact())
				__builtin_trap();
			while (recv(tap[1], junk, sizeof(junk), 0) >= 0)
				;
			if (st >= 0)
				break;
			continue;
		}
		uint64_t gpa = arg_address(s[1]);
		if (s[2] & 1) /* a frame waits on the tap */
			(void)send(tap[1], s + 4, 14 + s[3] % 50, 0);
		vm.dev[0].rx_offload = s[2] & 2;
		uint8_t *arg = fakevm_ptr(&vm, gpa);
		bool writable = hz_guest_ptr_writable(&vm, gpa, ARG_SIZE);
		bool own = (s[2] & 4) && (call == HZ_KVM_CALL_NET_READ ||
					  call == HZ_KVM_CALL_NET_WRITE ||
					  call == HZ_KVM_CALL_YIELD);
		struct hz_kvm_frame fr[4];
		unsigned nfr = 0;
		if (call == HZ_KVM_CALL_NET_RINGS && (s[2] & 8)) {
			gpa = FAKEVM_HEAP;
			layout_rings(s + 4);
		} else if (own) {
			gpa = FAKEVM_HEAP;
			nfr = layout_net(call, s + 4, fr);
			memcpy(watch, fakevm_ptr(&vm, WATCH_LO), sizeof(watch));
			memcpy(tail, fakevm_ptr(&vm, TAIL), sizeof(tail));
		} else if (writable) {
			memcpy(arg, s + 4, ARG_SIZE);
		}
		/* A yield polls: a wait would stall the fuzzer. */
		if (call == HZ_KVM_CALL_YIELD && writable && !own)
			memset(arg + offsetof(struct hz_kvm_yield, timeout_ns),
			       0, sizeof(uint64_t)); /* maybe misaligned */
		int status = fakevm_call(&vm, call, gpa);
		if (own) {
			check_changes(call, WATCH_LO, WATCH_HI, watch, fr, nfr);
			check_changes(call, TAIL, FAKEVM_MEM, tail, fr, nfr);
		}
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
