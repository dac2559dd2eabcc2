/*
 * Net rings (platform/kvm/abi.h, NET_RINGS): a NIC's frames move through
 * two rings in guest memory, served by one I/O thread while the vCPU
 * runs the guest. The thread sends what the guest posts on a tx ring,
 * fills the buffers it posts on an rx ring from the tap, and sleeps in
 * poll(2) when there is nothing to do; the guest wakes it with NET_KICK
 * (an ioeventfd on KVM: no return to the tender), and it wakes a
 * waiting yield through wake_fd.
 *
 * Guest memory is shared with a guest that may change it at any time,
 * so every value is read from it once, with an atomic load, into the
 * tender's own variables, and only that copy is checked and used; the
 * tender's `done` of each ring is its own. A ring the guest broke ends
 * the VM (hz_bad_call) from whichever thread finds it.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "platform/host/tap.h"
#include "tender.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Bytes of a ring of @entries descriptors. */
static uint64_t ring_bytes(uint32_t entries)
{
	return sizeof(struct hz_kvm_ring) +
	       (uint64_t)entries * sizeof(struct hz_kvm_frame);
}

/* Reads descriptor @i of @ring once, field by field, into @f. */
static void desc_read(const struct hz_ring *r, struct hz_kvm_ring *ring,
		      uint32_t i, struct hz_kvm_frame *f)
{
	struct hz_kvm_frame *g = &ring->desc[i & (r->entries - 1)];

	f->buf = LOAD(&g->buf);
	f->cap = LOAD(&g->cap);
	f->len = LOAD(&g->len);
	f->gso_size = LOAD(&g->gso_size);
	f->flags = LOAD(&g->flags);
}

/*
 * Reads the next descriptor of @d's tx ring (@tx) or rx ring once into
 * @f and returns its buffer: a tx frame's bytes in guest memory, an rx
 * buffer's in writable guest memory. Ends the VM for one outside.
 */
static uint8_t *desc_buf(struct hz_vm *vm, struct hz_device *d, bool tx,
			 struct hz_kvm_frame *f)
{
	struct hz_ring *r = &d->ring;
	uint32_t i = tx ? r->tx_done : r->rx_done;
	uint64_t len;
	uint8_t *buf;

	desc_read(r, tx ? r->tx : r->rx, i, f);
	len = tx ? f->len : f->cap;
	buf = tx ? hz_guest_ptr(vm, f->buf, len)
		 : hz_guest_ptr_writable(vm, f->buf, len);
	if (!buf)
		hz_bad_call("net %s: %s descriptor %u: buffer at 0x%llx+%llu "
			    "outside %sguest memory",
			    d->name, tx ? "tx" : "rx", i,
			    (unsigned long long)f->buf, (unsigned long long)len,
			    tx ? "" : "writable ");
	return buf;
}

/*
 * The guest's `posted` of @ring (@what, for the message), read once:
 * ends the VM if it runs more than the ring's entries ahead of @done.
 */
static uint32_t posted_read(const struct hz_device *d, struct hz_kvm_ring *ring,
			    uint32_t done, const char *what)
{
	uint32_t posted = __atomic_load_n(&ring->posted, __ATOMIC_ACQUIRE);

	if (posted - done > d->ring.entries)
		hz_bad_call("net %s: %s ring posted %u with %u done, more "
			    "than its %u entries",
			    d->name, what, posted, done, d->ring.entries);
	return posted;
}

/* Adds one to eventfd @fd; whether it could. */
static bool eventfd_add(int fd)
{
	uint64_t one = 1;

	return write(fd, &one, sizeof(one)) == sizeof(one);
}

uint64_t hz_eventfd_take(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v))
		return v;
	if (errno != EAGAIN)
		hz_tender_log("net rings: eventfd: %s", strerror(errno));
	return 0;
}

/* Wakes the guest's yield (wake_fd). */
static void wake(struct hz_vm *vm)
{
	if (eventfd_add(vm->wake_fd))
		hz_count_add(&vm->ring_wakes, 1);
}

/* Publishes @done on @ring, then wakes the guest if it waits on it. */
static void publish(struct hz_vm *vm, struct hz_kvm_ring *ring, uint32_t done)
{
	__atomic_store_n(&ring->done, done, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (LOAD(&ring->guest_wait))
		wake(vm);
}

unsigned hz_ring_tx(struct hz_vm *vm, struct hz_device *d)
{
	struct hz_ring *r = &d->ring;
	uint32_t posted = posted_read(d, r->tx, r->tx_done, "tx");
	unsigned moved = 0;

	r->tx_blocked = false;
	while (r->tx_done != posted) {
		struct hz_kvm_frame f;
		const uint8_t *buf = desc_buf(vm, d, true, &f);
		/* The check reads the frame's headers, which the guest may
		 * change under it: the kernel checks them again (tap.h). */
		if (hz_net_write_check(d, &f, buf) < 0) {
			hz_count_add(&r->tx_refused, 1);
		} else {
			ssize_t w = hz_tap_write(d->fd, buf, f.len, f.gso_size);
			if (w == -EAGAIN) {
				r->tx_blocked = true; /* sent after a pause */
				break;
			}
			if (w < 0) {
				hz_count_add(&r->tx_failed, 1);
			} else {
				hz_pcap_frame(d, buf, f.len);
				hz_count_add(&r->tx_frames, 1);
			}
		}
		r->tx_done++;
		moved++;
	}
	if (moved)
		publish(vm, r->tx, r->tx_done);
	return moved;
}

unsigned hz_ring_rx(struct hz_vm *vm, struct hz_device *d)
{
	struct hz_ring *r = &d->ring;
	uint32_t posted = posted_read(d, r->rx, r->rx_done, "rx");
	unsigned moved = 0;

	while (r->rx_done != posted && !r->rx_failed) {
		struct hz_kvm_frame f;
		bool csum_ok = false;
		ssize_t n;

		uint8_t *buf = desc_buf(vm, d, false, &f);
		do
			n = hz_net_recv(d, buf, f.cap, &csum_ok);
		while (n == -2); /* dropped and counted: the next */
		if (n < 0) {
			/* A tap that fails is not read again (or poll would
			 * spin on it); the guest sees no more frames. */
			hz_count_add(&r->rx_errors, 1);
			r->rx_failed = true;
		}
		if (n <= 0)
			break;
		hz_pcap_frame(d, buf, (size_t)n);
		/* The results go into the guest's descriptor, which only
		 * the guest reads again. */
		struct hz_kvm_frame *g =
		    &r->rx->desc[r->rx_done & (r->entries - 1)];
		STORE(&g->len, (uint64_t)n);
		STORE(&g->flags, csum_ok ? HZ_KVM_FRAME_CSUM_OK : 0u);
		r->rx_done++;
		moved++;
		hz_count_add(&r->rx_frames, 1);
	}
	if (moved)
		publish(vm, r->rx, r->rx_done);
	return moved;
}

void hz_net_rings(struct hz_vm *vm, struct hz_kvm_net_rings *a)
{
	struct hz_device *d = a->handle < vm->ndev ? &vm->dev[a->handle] : NULL;

	if (!d || d->kind != HZ_DEVICE_KIND_NET || !d->bound ||
	    a->entries == 0 || a->entries > HZ_KVM_RING_MAX ||
	    (a->entries & (a->entries - 1))) {
		a->ret = -HZ_EINVAL;
		return;
	}
	if (!vm->rings || d->slirp) {
		a->ret = -HZ_ENOTSUP;
		return;
	}
	if (d->ring.active) {
		a->ret = -HZ_EEXIST;
		return;
	}
	uint64_t len = ring_bytes(a->entries);
	struct hz_kvm_ring *tx = hz_guest_ptr_writable(vm, a->tx, len);
	struct hz_kvm_ring *rx = hz_guest_ptr_writable(vm, a->rx, len);
	/* Both are in guest memory, so the sums cannot overflow. */
	if (!tx || !rx || a->tx % 64 || a->rx % 64 ||
	    (a->tx < a->rx + len && a->rx < a->tx + len))
		hz_bad_call("net rings: tx 0x%llx and rx 0x%llx (%llu bytes "
			    "each) misaligned, overlapping or outside "
			    "writable guest memory",
			    (unsigned long long)a->tx,
			    (unsigned long long)a->rx, (unsigned long long)len);
	if (LOAD(&tx->posted) > a->entries || LOAD(&rx->posted) > a->entries) {
		a->ret = -HZ_EINVAL;
		return;
	}
	d->ring = (struct hz_ring){.tx = tx, .rx = rx, .entries = a->entries};
	STORE(&tx->done, 0u);
	STORE(&rx->done, 0u);
	STORE(&tx->tender_wait, 0u);
	STORE(&rx->tender_wait, 0u);
	/* The I/O thread sees the ring whole once it sees it active. */
	__atomic_store_n(&d->ring.active, true, __ATOMIC_RELEASE);
	hz_net_kick(vm);
	a->ret = 0;
}

void hz_net_kick(struct hz_vm *vm)
{
	if (vm->rings && !eventfd_add(vm->kick_fd))
		hz_tender_log("net rings: kick: %s", strerror(errno));
}

/* Whether @d has rings the I/O thread serves. */
static bool ringed(struct hz_device *d)
{
	return d->kind == HZ_DEVICE_KIND_NET &&
	       __atomic_load_n(&d->ring.active, __ATOMIC_ACQUIRE);
}

/* Whether the guest waits on @ring with `done` past what it saw. */
static bool unseen(struct hz_kvm_ring *ring)
{
	return LOAD(&ring->guest_wait) &&
	       LOAD(&ring->done) != LOAD(&ring->guest_seen);
}

uint64_t hz_rings_unseen(struct hz_vm *vm, uint64_t nics)
{
	uint64_t ready = 0;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if ((nics & 1ull << i) && ringed(d) &&
		    (unseen(d->ring.rx) || unseen(d->ring.tx)))
			ready |= 1ull << i;
	}
	return ready;
}

void hz_rings_yield(struct hz_vm *vm)
{
	/* Only a hint is read here (the thread checks what it moves):
	 * a sleeping thread and frames posted past what it did. */
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (ringed(d) && LOAD(&d->ring.tx->tender_wait) &&
		    LOAD(&d->ring.tx->posted) != LOAD(&d->ring.tx->done)) {
			hz_net_kick(vm);
			return;
		}
	}
}

/* Clears every ring's tender_wait: the I/O thread is awake. */
static void rings_awake(struct hz_vm *vm)
{
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (!ringed(d))
			continue;
		STORE(&d->ring.tx->tender_wait, 0u);
		STORE(&d->ring.rx->tender_wait, 0u);
	}
}

bool hz_rings_may_sleep(struct hz_vm *vm)
{
	bool work = false;

	/* rx asks for a kick only with no buffer left to fill: while one
	 * is, the tap is polled for it. */
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (!ringed(d))
			continue;
		STORE(&d->ring.tx->tender_wait, 1u);
		STORE(&d->ring.rx->tender_wait,
		      LOAD(&d->ring.rx->posted) == d->ring.rx_done ? 1u : 0u);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* What was posted before the flags were seen: the thread's poll
	 * asks for the tap of an rx ring with buffers, so only tx counts. */
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (ringed(d) && !d->ring.tx_blocked &&
		    LOAD(&d->ring.tx->posted) != d->ring.tx_done)
			work = true;
	}
	if (work)
		rings_awake(vm);
	return !work;
}

/* The I/O thread: serves every NIC's rings for the life of the VM. */
static void *io_thread(void *arg)
{
	struct hz_vm *vm = arg;
	struct pollfd fds[HZ_KVM_DEVICE_MAX + 1];
	/* A tap that refused a frame for want of kernel memory (ENOBUFS)
	 * still polls writable: it is tried again after a pause. */
	const struct timespec retry = {.tv_nsec = 1000000};

	hz_tender_io_thread = true;
	for (;;) {
		unsigned moved = 0;
		for (unsigned i = 0; i < vm->ndev; i++)
			if (ringed(&vm->dev[i]))
				moved += hz_ring_tx(vm, &vm->dev[i]) +
					 hz_ring_rx(vm, &vm->dev[i]);
		if (moved)
			continue;
		/*
		 * Nothing to do: sleep until the guest kicks, a tap has a
		 * frame for a posted buffer, or a refused frame is due
		 * again. A ring with buffers still posted needs no kick to
		 * be refilled: the tap is polled for it.
		 */
		bool sleep = hz_rings_may_sleep(vm), blocked = false;
		unsigned n = 0;
		fds[n++] = (struct pollfd){.fd = vm->kick_fd, .events = POLLIN};
		for (unsigned i = 0; i < vm->ndev && sleep; i++) {
			struct hz_device *d = &vm->dev[i];
			if (!ringed(d))
				continue;
			blocked |= d->ring.tx_blocked;
			if (!d->ring.rx_failed &&
			    LOAD(&d->ring.rx->posted) != d->ring.rx_done)
				fds[n++] = (struct pollfd){.fd = d->fd,
							   .events = POLLIN};
		}
		if (!sleep)
			continue;
		hz_count_add(&vm->ring_sleeps, 1);
		if (ppoll(fds, n, blocked ? &retry : NULL, NULL) < 0 &&
		    errno != EINTR)
			hz_tender_die(HZ_KVM_EXIT_BADCALL,
				      "net rings: poll: %s", strerror(errno));
		rings_awake(vm);
		if (fds[0].revents & POLLIN)
			hz_count_add(&vm->ring_kicks,
				     hz_eventfd_take(vm->kick_fd));
	}
	return NULL;
}

/*
 * Makes NET_KICK's slot an ioeventfd on kick_fd, where KVM offers it;
 * where it does not, the kick reaches the tender (hz_net_kick).
 */
static void kick_in_kernel(struct hz_vm *vm)
{
	struct kvm_ioeventfd ioev = {
	    .addr = HZ_KVM_HYPERCALL_GPA + 8ull * HZ_KVM_CALL_NET_KICK,
	    .len = 4,
	    .fd = vm->kick_fd,
	};

	if (vm->vm_fd > 0)
		(void)ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev); /* optional */
}

int hz_rings_start(struct hz_vm *vm)
{
	pthread_t t;
	int rc;

	vm->kick_fd = vm->wake_fd = -1;
	if (!vm->rings)
		return 0;
	vm->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->kick_fd < 0 || vm->wake_fd < 0) {
		hz_tender_log("net rings: eventfd: %s", strerror(errno));
		return -1;
	}
	/* --trace counts every exit; a kick in the kernel is not one the
	 * tender sees, so it is left to the tender there. */
	if (!vm->trace)
		kick_in_kernel(vm);
	rc = pthread_create(&t, NULL, io_thread, vm);
	if (rc != 0) {
		hz_tender_log("net rings: I/O thread: %s", strerror(rc));
		return -1;
	}
	pthread_detach(t);
	return 0;
}
