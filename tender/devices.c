/*
 * The host side of haze-kvm's devices: tap and user (libslirp) networks
 * with optional pcap capture, file-backed block devices, and the wait for
 * device input behind the guest's yield.
 *
 * Each net call moves a batch of frames per VM exit. Every frame's guest
 * buffer is checked before use. A received frame larger than the guest's
 * buffer is dropped whole (readv spills it into a scratch buffer), never
 * truncated, as platform.h promises, and counted.
 *
 * Taps carry offloads both ways, as on the unix target: the kernel
 * segments TCP frames the guest sends with a gso_size (each checked
 * before any frame of the call is sent), and a tap opened here hands the
 * guest coalesced TCP frames of up to HZ_TAP_RX_MAX bytes, their
 * virtio-net headers checked against the frames (platform/host/tap.c).
 * A tap passed down (tapfd) is its opener's: its receive offloads are
 * left as they are and read without them. libslirp has neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "platform/host/tap.h"
#include "tender.h"

#define NET_MTU 1500
#define FRAME_MAX (NET_MTU + 14)
#define SECTOR 512u

/* Writes the pcap file header (Ethernet link type). 0 or -1. */
static int pcap_open(struct hz_device *d)
{
	struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t zone;
		uint32_t sigfigs, snaplen, linktype;
	} hdr = {0xa1b23c4d, 2, 4, 0, 0, HZ_TAP_RX_MAX, 1}; /* ns stamps */

	d->pcap_fd =
	    open(d->pcap_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (d->pcap_fd < 0 ||
	    write(d->pcap_fd, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
		hz_tender_log("--pcap %s=%s: %s", d->name, d->pcap_path,
			      strerror(errno));
		return -1;
	}
	d->pcap_bytes = sizeof(hdr);
	return 0;
}

void hz_pcap_frame(struct hz_device *d, const uint8_t *frame, size_t len)
{
	struct timespec ts;
	struct {
		uint32_t sec, nsec, caplen, len;
	} rec;
	uint64_t limit = d->pcap_limit ? d->pcap_limit : HZ_PCAP_LIMIT;

	if (d->pcap_fd < 0)
		return;
	if (sizeof(rec) + len > limit - d->pcap_bytes) {
		/* Full: the capture ends here, said once; the VM goes on. */
		hz_tender_log("--pcap %s: capture stopped at its limit of "
			      "%llu bytes",
			      d->name, (unsigned long long)limit);
		d->pcap_fd = -1; /* the file stays open until exit */
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rec.sec = (uint32_t)ts.tv_sec;
	rec.nsec = (uint32_t)ts.tv_nsec;
	rec.caplen = rec.len = (uint32_t)len;
	struct iovec iov[2] = {{&rec, sizeof(rec)},
			       {(void *)(uintptr_t)frame, len}};
	ssize_t n = writev(d->pcap_fd, iov, 2);
	if (n > 0)
		d->pcap_bytes +=
		    (uint64_t)n; /* a failure must not stop the VM */
}

void hz_console_write(struct hz_vm *vm, const void *data, uint64_t len)
{
	uint64_t now = hz_tender_now();

	if (vm->console_refill_ns == 0) {
		vm->console_tokens = HZ_CONSOLE_BURST;
	} else {
		uint64_t dt = now - vm->console_refill_ns;
		uint64_t add =
		    dt >= 1000000000ull * (HZ_CONSOLE_BURST / HZ_CONSOLE_RATE)
			? HZ_CONSOLE_BURST
			: dt * HZ_CONSOLE_RATE / 1000000000ull;
		vm->console_tokens += add;
		if (vm->console_tokens > HZ_CONSOLE_BURST)
			vm->console_tokens = HZ_CONSOLE_BURST;
	}
	vm->console_refill_ns = now;
	uint64_t n = len < vm->console_tokens ? len : vm->console_tokens;
	/* Said at most once a second: a guest that keeps asking for more
	 * than the bucket holds must not flood stderr instead. */
	if (n > 0 && vm->console_dropped &&
	    now - vm->console_notice_ns >= 1000000000ull) {
		vm->console_notice_ns = now;
		hz_tender_log("console: %llu bytes dropped over the rate "
			      "limit (%llu bytes/s)",
			      (unsigned long long)vm->console_dropped,
			      (unsigned long long)HZ_CONSOLE_RATE);
		vm->console_dropped = 0;
	}
	vm->console_tokens -= n;
	vm->console_dropped += len - n;
	uint64_t done = 0;
	while (done < n) {
		ssize_t w = write(1, (const char *)data + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the console may truncate */
		done += (uint64_t)w;
	}
}

/* Opens tap interface @d->net.iface, offering receive offload. 0 or -1. */
static int tap_open(struct hz_device *d)
{
	int r;

	d->fd = hz_tap_open(d->net.iface);
	if (d->fd < 0) {
		hz_tender_log("--net %s: tap %s: %s%s", d->name, d->net.iface,
			      strerror(-d->fd), hz_tap_open_hint(d->fd));
		return -1;
	}
	r = hz_tap_set_offload(d->fd, true);
	if (r < 0) {
		hz_tender_log("--net %s: tap %s: offer receive offload: %s",
			      d->name, d->net.iface, strerror(-r));
		return -1;
	}
	d->rx_offload = true;
	d->rx_max = HZ_TAP_RX_MAX;
	return 0;
}

/* Opens the block file @d->path. 0 or -1. */
static int block_open(struct hz_device *d)
{
	struct stat st;

	d->fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0 || fstat(d->fd, &st) < 0) {
		hz_tender_log("--block %s=%s: %s", d->name, d->path,
			      strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)SECTOR) {
		hz_tender_log("--block %s=%s: not a regular file of at least "
			      "one %u-byte sector",
			      d->name, d->path, SECTOR);
		return -1;
	}
	d->capacity = (uint64_t)st.st_size & ~(uint64_t)(SECTOR - 1);
	return 0;
}

int hz_devices_open(struct hz_vm *vm)
{
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (!d->bound)
			continue; /* optional and left unbound */
		if (d->kind == HZ_DEVICE_KIND_BLOCK) {
			if (block_open(d) < 0)
				return -1;
			continue;
		}
		d->mtu = NET_MTU;
		if (getrandom(d->mac, sizeof(d->mac), 0) != sizeof(d->mac))
			return -1;
		d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02); /* local */
		if (d->pcap_path && pcap_open(d) < 0)
			return -1;
		if (d->net.backend == HZ_NET_USER) {
			d->slirp = hz_slirp_new(vm, d);
			if (!d->slirp)
				return -1;
			continue;
		}
		if (d->net.backend == HZ_NET_TAPFD)
			d->fd = d->net.tapfd; /* checked when bound */
		else if (tap_open(d) < 0)
			return -1;
		d->gso_max = HZ_TAP_GSO_MAX;
		/* Taps are served net rings (tender/ring.c). */
		vm->rings = !vm->no_rings;
	}
	return 0;
}

/* Checks the net handle of a call; the device or NULL. */
static struct hz_device *net_device(struct hz_vm *vm, uint32_t h)
{
	if (h >= vm->ndev || vm->dev[h].kind != HZ_DEVICE_KIND_NET ||
	    !vm->dev[h].bound)
		return NULL;
	return &vm->dev[h];
}

ssize_t hz_net_recv(struct hz_device *d, uint8_t *buf, size_t cap,
		    bool *csum_ok)
{
	struct hz_tap_rx rx = {0};
	ssize_t n;

	if (d->slirp) {
		n = hz_slirp_output(d->slirp, buf, cap);
		if (n == -2)
			hz_count_add(&d->rx_oversize, 1); /* too large */
		return n;
	}
	if (d->rx_offload)
		n = hz_tap_read_offload(d->fd, buf, cap, &rx);
	else
		n = hz_tap_read(d->fd, buf, cap);
	if (n < 0)
		return -1;
	if ((size_t)n > cap) {
		hz_count_add(&d->rx_oversize, 1);
		return -2;
	}
	if (rx.refused != HZ_TAP_RX_OK) {
		hz_count_add(&d->rx_refused[rx.refused], 1);
		return -2;
	}
	*csum_ok = rx.csum_ok;
	return n;
}

/* -HZ_EMSGSIZE for a length Ethernet (or the device's gso_max) does not
 * allow, -HZ_EINVAL for flags set or a gso_size it cannot honour. */
int hz_net_write_check(const struct hz_device *d, const struct hz_kvm_frame *f,
		       const uint8_t *buf)
{
	if (f->flags != 0)
		return -HZ_EINVAL;
	if (f->gso_size == 0)
		return f->len > FRAME_MAX || f->len < 14 ? -HZ_EMSGSIZE : 0;
	if (d->gso_max == 0)
		return -HZ_EINVAL;
	if (f->len > 14ull + d->gso_max)
		return -HZ_EMSGSIZE;
	return hz_tap_gso_ok(buf, f->len, f->gso_size) ? 0 : -HZ_EINVAL;
}

/*
 * Checks every frame of a net call before any is moved, so a malformed
 * call has no effect (abi.h): a buffer outside (writable) guest memory
 * ends the VM, a write with any frame net_write_check refuses is refused
 * whole. Fills @bufs with the host pointers. 0 or -HZ_E*.
 */
static int net_frames_check(struct hz_vm *vm, const struct hz_device *d,
			    const struct hz_kvm_frame *fr, uint32_t count,
			    bool write, uint8_t **bufs)
{
	int rc = 0;

	for (uint32_t i = 0; i < count; i++) {
		uint64_t len = write ? fr[i].len : fr[i].cap;
		bufs[i] = write ? hz_guest_ptr(vm, fr[i].buf, len)
				: hz_guest_ptr_writable(vm, fr[i].buf, len);
		if (!bufs[i])
			hz_bad_call("net: frame %u at 0x%llx+%llu outside "
				    "%sguest memory",
				    i, (unsigned long long)fr[i].buf,
				    (unsigned long long)len,
				    write ? "" : "writable ");
		if (write && rc == 0)
			rc = hz_net_write_check(d, &fr[i], bufs[i]);
	}
	return rc;
}

/* Sends the checked frames of a write; frames sent, or -HZ_EIO. */
static int64_t net_send(struct hz_device *d, const struct hz_kvm_frame *fr,
			uint32_t count, uint8_t *const *bufs)
{
	int64_t done = 0;

	for (uint32_t i = 0; i < count; i++) {
		hz_pcap_frame(d, bufs[i], fr[i].len);
		if (d->slirp) {
			hz_slirp_input(d->slirp, bufs[i], fr[i].len);
		} else {
			ssize_t w = hz_tap_write(d->fd, bufs[i], fr[i].len,
						 fr[i].gso_size);
			if (w == -EAGAIN)
				break;
			if (w < 0)
				return done ? done : -HZ_EIO;
		}
		done++;
	}
	return done;
}

/*
 * Receives into the checked frames of a read (@fr, the tender's copy of
 * the array), writing each frame's results into the guest's array @out;
 * frames filled, or -HZ_E*. A frame's data may overwrite the guest's
 * array: nothing here reads that array again.
 */
static int64_t net_receive(struct hz_device *d, const struct hz_kvm_frame *fr,
			   struct hz_kvm_frame *out, uint32_t count,
			   uint8_t *const *bufs)
{
	int64_t done = 0;

	for (uint32_t i = 0; i < count; i++) {
		bool csum_ok = false;
		ssize_t n;
		do
			n = hz_net_recv(d, bufs[i], fr[i].cap, &csum_ok);
		while (n == -2); /* dropped and counted: try the next */
		if (n < 0)
			return done ? done : -HZ_EIO;
		if (n == 0)
			break;
		hz_pcap_frame(d, bufs[i], (size_t)n);
		out[i].len = (uint64_t)n;
		out[i].gso_size = 0;
		out[i].flags = csum_ok ? HZ_KVM_FRAME_CSUM_OK : 0;
		done++;
	}
	return done ? done : -HZ_EAGAIN;
}

int hz_net_check(struct hz_vm *vm, struct hz_kvm_net_io *io, bool write,
		 struct hz_net_batch *b)
{
	b->d = net_device(vm, io->handle);
	/* A NIC with rings is served by them alone (abi.h). */
	if (!b->d || b->d->ring.active || io->count == 0 ||
	    io->count > HZ_KVM_FRAMES_MAX) {
		io->ret = -HZ_EINVAL;
		return -1;
	}
	/* A read writes each frame's length back into the array. */
	uint64_t fr_len = (uint64_t)io->count * sizeof(struct hz_kvm_frame);
	b->out = write ? hz_guest_ptr(vm, io->frames, fr_len)
		       : hz_guest_ptr_writable(vm, io->frames, fr_len);
	if (io->frames % 8 || !b->out)
		hz_bad_call("net: frame array 0x%llx (%u frames) misaligned "
			    "or outside %sguest memory",
			    (unsigned long long)io->frames, io->count,
			    write ? "" : "writable ");
	/*
	 * The array is read once, here: a read's frames land in guest memory
	 * one after another, and one may overwrite the array (a later
	 * frame's buf or cap, say), so only this copy is checked and used.
	 */
	memcpy(b->fr, b->out, fr_len);
	int rc = net_frames_check(vm, b->d, b->fr, io->count, write, b->bufs);
	if (rc < 0) {
		io->ret = rc;
		return -1;
	}
	return 0;
}

void hz_net_move(struct hz_kvm_net_io *io, bool write, struct hz_net_batch *b)
{
	if (write)
		io->ret = net_send(b->d, b->fr, io->count, b->bufs);
	else
		io->ret = net_receive(b->d, b->fr, b->out, io->count, b->bufs);
}

void hz_net_io(struct hz_vm *vm, struct hz_kvm_net_io *io, bool write)
{
	struct hz_net_batch b;

	if (hz_net_check(vm, io, write, &b) == 0)
		hz_net_move(io, write, &b);
}

void hz_block_io(struct hz_vm *vm, struct hz_kvm_block_io *io, unsigned call)
{
	struct hz_device *d =
	    io->handle < vm->ndev ? &vm->dev[io->handle] : NULL;
	if (!d || d->kind != HZ_DEVICE_KIND_BLOCK || !d->bound) {
		io->ret = -HZ_EINVAL;
		return;
	}
	if (call == HZ_KVM_CALL_BLOCK_FLUSH) {
		io->ret = fdatasync(d->fd) == 0 ? 0 : -HZ_EIO;
		return;
	}
	bool reading = call == HZ_KVM_CALL_BLOCK_READ;
	uint8_t *buf = reading ? hz_guest_ptr_writable(vm, io->buf, io->len)
			       : hz_guest_ptr(vm, io->buf, io->len);
	if (!buf)
		hz_bad_call("block: buffer 0x%llx+%llu outside %sguest memory",
			    (unsigned long long)io->buf,
			    (unsigned long long)io->len,
			    reading ? "writable " : "");
	if (io->offset % SECTOR || io->len % SECTOR ||
	    io->len > HZ_KVM_BLOCK_IO_MAX || io->offset > d->capacity ||
	    io->len > d->capacity - io->offset) {
		io->ret = -HZ_EINVAL;
		return;
	}
	uint64_t done = 0;
	while (done < io->len) {
		ssize_t n = reading ? pread(d->fd, buf + done, io->len - done,
					    (off_t)(io->offset + done))
				    : pwrite(d->fd, buf + done, io->len - done,
					     (off_t)(io->offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			io->ret = -HZ_EIO;
			return;
		}
		done += (uint64_t)n;
	}
	io->ret = 0;
}

uint64_t hz_devices_wait(struct hz_vm *vm, uint64_t timeout_ns,
			 uint64_t interest)
{
	/*
	 * Taps take one slot each and come first, so they always fit;
	 * libslirp gets what is left. How many descriptors slirp asks to
	 * poll is up to the guest (one per flow it opens), so it is given
	 * the room left and no more: flows past it are not polled until
	 * others close, and the tender's stack is never overrun.
	 */
	struct pollfd fds[HZ_POLL_MAX];
	unsigned n = 0;
	int idx[HZ_KVM_DEVICE_MAX];
	uint64_t ready = 0;

	int wake = -1; /* the slot of the I/O thread's wake_fd */
	uint64_t ringed = 0;

	_Static_assert(HZ_POLL_MAX > HZ_KVM_DEVICE_MAX + 1,
		       "no room for slirp's descriptors beside the taps");
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		idx[i] = -1;
		if (d->kind != HZ_DEVICE_KIND_NET || !d->bound || d->slirp ||
		    !(interest & 1ull << i))
			continue;
		/* A NIC with rings: the I/O thread wakes the wait. */
		if (d->ring.active) {
			ringed |= 1ull << i;
			if (wake < 0) {
				wake = (int)n;
				fds[n++] = (struct pollfd){.fd = vm->wake_fd,
							   .events = POLLIN};
			}
			continue;
		}
		idx[i] = (int)n;
		fds[n++] = (struct pollfd){.fd = d->fd, .events = POLLIN};
	}
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (d->kind != HZ_DEVICE_KIND_NET || !d->bound || !d->slirp)
			continue;
		/* slirp's own sockets and timers are served either way. */
		if ((interest & 1ull << i) && hz_slirp_pending(d->slirp))
			timeout_ns = 0;
		hz_slirp_poll_fill(d->slirp, fds, &n, HZ_POLL_MAX, &timeout_ns);
	}
	/* ppoll: nanosecond timeouts, so a 50 ms sleep is not 51 ms. */
	struct timespec ts = {
	    .tv_sec = (time_t)(timeout_ns / 1000000000ull),
	    .tv_nsec = (long)(timeout_ns % 1000000000ull),
	};
	bool forever = timeout_ns >= (1ull << 62);
	/* A wake left from frames the guest has read is dropped; what it
	 * has not seen makes the wait a poll (abi.h). */
	if (wake >= 0) {
		hz_eventfd_take(vm->wake_fd);
		ready |= hz_rings_unseen(vm, ringed);
		if (ready) {
			ts = (struct timespec){0};
			forever = false;
		}
	}
	int rc = ppoll(fds, n, forever ? NULL : &ts, NULL);
	if (wake >= 0 && rc > 0 && (fds[wake].revents & POLLIN) &&
	    hz_eventfd_take(vm->wake_fd))
		ready |= ringed;
	for (unsigned i = 0; i < vm->ndev; i++) {
		struct hz_device *d = &vm->dev[i];
		if (d->kind != HZ_DEVICE_KIND_NET || !d->bound)
			continue;
		if (d->slirp) {
			hz_slirp_poll_done(d->slirp, fds, rc < 0);
			if ((interest & 1ull << i) &&
			    hz_slirp_pending(d->slirp))
				ready |= 1ull << i;
		} else if (idx[i] >= 0 && rc > 0 &&
			   (fds[idx[i]].revents & POLLIN)) {
			ready |= 1ull << i;
		}
	}
	return ready;
}
