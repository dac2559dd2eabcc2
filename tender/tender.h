/*
 * haze-kvm internals: the state of one VM and the pieces of the tender
 * (ELF loader, devices, hypercalls, fault report, sandbox) that share it.
 *
 * Guest addresses are uint64_t integers everywhere; the only way to turn
 * one into a host pointer is hz_guest_ptr(), which checks the whole range
 * with overflow-safe arithmetic.
 */
#ifndef HAZE_TENDER_H
#define HAZE_TENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/host/tap.h"
#include "platform/kvm/abi.h"
#include "haze/error.h"
#include "haze/manifest.h"
#include "tender/gdb.h"

#define HZ_TENDER_SEGMENTS_MAX 16

/*
 * Bounds on what an image makes the tender read: all its notes together
 * (read before boot), and for fault reports the section headers and the
 * symbol table (a larger one is not used for symbols).
 */
#define HZ_TENDER_NOTES_MAX 16384u
#define HZ_TENDER_SECTIONS_MAX 256u
#define HZ_TENDER_SYMTAB_MAX (1u << 20)

/* Descriptors one wait polls: the taps, then what libslirp asks for. */
#define HZ_POLL_MAX 1024u

/*
 * Output a guest can make the host write: a pcap capture stops at
 * HZ_PCAP_LIMIT bytes; the console is rate-limited to
 * HZ_CONSOLE_RATE bytes a second with bursts of up to HZ_CONSOLE_BURST,
 * and what is over is dropped and counted (docs/kvm.md).
 */
#define HZ_PCAP_LIMIT (256ull << 20)
/* Host sockets libslirp may hold open for a guest's flows at once (a
 * user NIC): past it a new flow's socket fails, as on a full host. */
#define HZ_SLIRP_SOCKETS_MAX 4096
#define HZ_CONSOLE_RATE (4ull << 20)
#define HZ_CONSOLE_BURST (16ull << 20)
#define HZ_TENDER_IMAGE_MAX (HZ_KVM_SMALL_PAGE_LIMIT - HZ_KVM_IMAGE_BASE)

/* One loadable segment, as checked by the loader. */
struct hz_segment {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags; /* PF_R | PF_W | PF_X */
};

/* A checked image: its segments, entry point and manifest. */
struct hz_image {
	int fd;
	uint64_t file_size;
	uint64_t entry;
	uint64_t end; /* highest segment end, page-rounded */
	unsigned nsegs;
	struct hz_segment segs[HZ_TENDER_SEGMENTS_MAX];
	struct hz_manifest manifest; /* zero count when the image has none */
	struct hz_kvm_traps traps;
	bool has_abi_note, has_traps;
	uint32_t abi_version;
};

/* tap:IFACE, user[,...] and tapfd:FD (a tap the parent opened). */
enum hz_net_backend { HZ_NET_TAP = 1, HZ_NET_USER = 2, HZ_NET_TAPFD = 3 };

#define HZ_HOSTFWD_MAX 8
struct hz_net_binding {
	enum hz_net_backend backend;
	char iface[16];	    /* tap */
	int tapfd;	    /* tapfd: checked by hz_tap_adopt */
	unsigned nfwd;	    /* user */
	bool host_loopback; /* user: 10.0.2.2 reaches the host's 127.0.0.1 */
	uint16_t fwd_host[HZ_HOSTFWD_MAX], fwd_guest[HZ_HOSTFWD_MAX];
};

/*
 * A NIC's net rings (abi.h), once the guest has set them up: host
 * pointers to both rings, checked then, and the tender's own state,
 * which nothing in guest memory changes. After setup only the I/O
 * thread (tender/ring.c) touches the rest; `active` is published last.
 */
struct hz_ring {
	bool active;
	struct hz_kvm_ring *tx, *rx;
	uint32_t entries;
	uint32_t tx_done, rx_done; /* the tender's own `done` of each */
	bool tx_blocked;	   /* the tap refused for want of memory */
	bool rx_failed;		   /* the tap failed a read: stop reading */
	/* Counts, written by the I/O thread, read by --trace: frames
	 * moved, tx frames refused (net_write_check) or failed by the
	 * host, and rx reads that failed. */
	uint64_t tx_frames, rx_frames, tx_refused, tx_failed, rx_errors;
};

/*
 * Adds @n to count @c. A count the net rings' I/O thread may write (its
 * own, and a device's drops, which whichever thread serves the device
 * counts) is read by --trace on the vCPU's thread: both sides go
 * through relaxed atomics.
 */
static inline void hz_count_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Reads a count kept with hz_count_add. */
static inline uint64_t hz_count_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* One device of the manifest, bound to a host resource. */
struct hz_device {
	uint32_t kind;
	char name[HZ_DEVICE_NAME_MAX];
	bool bound;
	/* net */
	struct hz_net_binding net;
	int fd;	     /* tap fd or block file */
	int pcap_fd; /* -1 if none */
	const char *pcap_path;
	uint64_t pcap_bytes, pcap_limit; /* written so far, the cap */
	struct hz_slirp *slirp;		 /* user backend */
	uint8_t mac[6];
	uint16_t mtu;
	/* Offloads offered to the guest (abi.h; 0 = none): taps segment
	 * what the guest sends, and one opened here hands it coalesced
	 * frames, read with hz_tap_read_offload (rx_offload). */
	uint32_t gso_max, rx_max;
	bool rx_offload;
	/* Frames for the guest dropped: too large for its buffer, over a
	 * full queue (libslirp's), and refused for an offload header that
	 * lies (by hz_tap_refusal). */
	uint64_t rx_oversize, rx_overflow, rx_refused[HZ_TAP_RX_NREFUSALS];
	struct hz_ring ring;
	/* block */
	const char *path;
	uint64_t capacity;
};

/* Manifest entries become boot-info devices one for one, names intact. */
_Static_assert(HZ_MANIFEST_MAX <= HZ_KVM_DEVICE_MAX,
	       "a manifest can name more devices than the boot info holds");
_Static_assert(HZ_KVM_NAME_MAX == HZ_DEVICE_NAME_MAX,
	       "boot-info device names differ in size from manifest names");

/*
 * --gdb: one gdb connection and its session (tender/gdb_kvm.c). The
 * bytes gdb sent past a packet that resumed the guest wait in @in.
 */
struct hz_gdb_link {
	struct hz_gdb gdb;
	int fd; /* the connection; -1 once gdb is gone */
	size_t in_pos, in_len;
	uint8_t in[4096];
	/* The guest cannot go on (fault, abort); after a fault the
	 * registers gdb sees are the fault's. */
	bool ended, faulted;
	struct hz_kvm_fault fault;
	/* gdb's step of ring-3 code is under way: a #DB ends it. */
	bool stepping;
	/* Stepping off breakpoint @reinsert before running on (@resume). */
	bool stepping_over;
	uint64_t reinsert;
	bool step_then_continue;
};

struct hz_vm {
	uint8_t *mem; /* host mapping of guest memory */
	uint64_t mem_size;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	uint64_t tsc_hz;
	uint64_t t_start_ns; /* tender main(), CLOCK_MONOTONIC */
	uint64_t t_tsc_ns;   /* when the guest TSC was tsc_base */
	uint64_t tsc_base;
	uint64_t t_run_ns; /* first KVM_RUN */
	/* From the guest's first MAIN call (later ones are ignored): when
	 * it reached main, and its first instruction (within [t_run_ns,
	 * t_main_ns], whatever the guest claims). 0 until then. */
	uint64_t t_main_ns, t_first_ns;
	int notify_fd;	 /* --notify, or -1 (platform/host/notify.h) */
	bool told_ready; /* the guest's READY was passed on */
	bool trace;
	uint64_t guest_xcr0; /* the guest's XCR0, or 0: no AVX state */
	/* --trace's counts: VM exits, hypercalls by number, frames moved,
	 * and when the next periodic line is due. */
	struct {
		uint64_t exits;
		uint64_t calls[HZ_KVM_CALL_COUNT_];
		uint64_t frames_read, frames_written;
		uint64_t yield_tx; /* yields that carried frames to send */
		uint64_t yield_rx; /* yields that brought frames back */
		uint64_t next_ns;
	} st;
	bool no_host_entropy; /* the entropy call answers -HZ_ENOTSUP */
	/* Net rings (tender/ring.c): served unless --no-net-rings, for tap
	 * NICs; the I/O thread sleeps on kick_fd (NET_KICK, an ioeventfd
	 * where KVM has one) and wakes the guest's yield through wake_fd.
	 * Its counts: kicks seen, wakes made, sleeps. */
	bool no_rings, rings;
	int kick_fd, wake_fd;
	uint64_t ring_kicks, ring_wakes, ring_sleeps;
	struct hz_image image;
	/* The console's rate limit: a token bucket of bytes. */
	uint64_t console_tokens, console_refill_ns, console_dropped;
	uint64_t console_notice_ns; /* when a drop was last said */
	unsigned ndev;
	struct hz_device dev[HZ_KVM_DEVICE_MAX];
	struct hz_gdb_link *gdb; /* --gdb, while gdb is attached; else NULL */
};

/* Returns a host pointer to guest range [gpa, gpa + len), or NULL. */
static inline void *hz_guest_ptr(const struct hz_vm *vm, uint64_t gpa,
				 uint64_t len)
{
	if (gpa > vm->mem_size || len > vm->mem_size - gpa)
		return NULL;
	return vm->mem + gpa;
}

/*
 * Returns a host pointer to guest range [gpa, gpa + len) if every byte of
 * it is writable by the guest itself (stack, data and bss, heap), or NULL.
 * Every buffer and argument struct the tender writes into goes through
 * this, so a call cannot make the tender write where the guest may not:
 * page tables, the boot page, text or rodata.
 */
void *hz_guest_ptr_writable(const struct hz_vm *vm, uint64_t gpa, uint64_t len);

/*
 * Ends the tender with @status: exit(3). The tests and fuzz harnesses
 * that drive the tender's code directly link their own, which returns
 * to the harness instead (tender/exit.c is left out of them).
 */
HZ_NORETURN void hz_tender_exit(int status);

/* Set on the net rings' I/O thread, whose end is an exit_group(2). */
extern _Thread_local bool hz_tender_io_thread;

/*
 * Prints --trace's counts line: VM exits, hypercalls of each kind, frames
 * read and written, and frames per exit, as key=value pairs.
 */
void hz_vm_trace_counts(const struct hz_vm *vm);

/* Performs hypercall @call with its argument struct at guest @gpa. */
void hz_vm_dispatch(struct hz_vm *vm, unsigned call, uint64_t gpa);

/* Writes @len bytes of guest console output, within the rate limit. */
void hz_console_write(struct hz_vm *vm, const void *data, uint64_t len);

/* Ends the VM for a malformed hypercall (fail closed, status 253). */
HZ_NORETURN HZ_PRINTF(1, 2) void hz_bad_call(const char *fmt, ...);

/*
 * Makes a write to a reader or peer that is gone (stdout's reader, a host
 * socket libslirp writes to, gdb's connection) fail with EPIPE rather
 * than end the tender with SIGPIPE. Called first thing by main.
 */
void hz_tender_signals(void);

/* Prints "haze-kvm: ..." to stderr without allocating (safe under seccomp). */
HZ_PRINTF(1, 2) void hz_tender_log(const char *fmt, ...);

/* Prints why and ends the process with @status. */
HZ_NORETURN HZ_PRINTF(2, 3) void hz_tender_die(int status, const char *fmt,
					       ...);

/* Returns CLOCK_MONOTONIC in ns. */
uint64_t hz_tender_now(void);

/* Opens and checks the ELF image @path; 0 or -1 with a message printed. */
HZ_MUST_CHECK int hz_image_open(struct hz_image *img, const char *path,
				uint64_t mem_size);

/* Checks the ELF image open on @fd (kept in @img); 0 or -1 with a message. */
HZ_MUST_CHECK int hz_image_check(struct hz_image *img, int fd, const char *path,
				 uint64_t mem_size);

/* Copies the image's segments into guest memory. 0 or -1. */
HZ_MUST_CHECK int hz_image_load(const struct hz_image *img, uint8_t *mem);

/* Looks up the function containing @addr in the image's .symtab. */
bool hz_image_symbol(const struct hz_image *img, uint64_t addr, char *name,
		     size_t name_size, uint64_t *offset);

/* Creates the VM and vCPU, writes page tables and boot info. 0 or -1. */
HZ_MUST_CHECK int hz_vm_setup(struct hz_vm *vm, int argc, char **argv);

/* Runs the guest until it exits; returns the process exit status. */
int hz_vm_run(struct hz_vm *vm);

struct kvm_segment;
/* The ring-3 code and data segments the guest runs on (vm.c). */
void hz_vm_ring3_segments(struct kvm_segment *code, struct kvm_segment *data);

struct kvm_cpuid2;
/*
 * The XCR0 a guest with CPUID table @cpuid gets: x87, SSE and AVX state
 * where the table offers XSAVE and AVX, so its AVX code can run; else 0,
 * and the guest runs with SSE only, as before (vm.c).
 */
uint64_t hz_vm_guest_xcr0(const struct kvm_cpuid2 *cpuid);

/* Opens the host side of every bound device. 0 or -1. */
HZ_MUST_CHECK int hz_devices_open(struct hz_vm *vm);

/* Handles a net read or write hypercall. */
void hz_net_io(struct hz_vm *vm, struct hz_kvm_net_io *io, bool write);

/* A net call's frames, checked and copied out of guest memory. */
struct hz_net_batch {
	struct hz_device *d;
	struct hz_kvm_frame *out; /* the guest's array: a read's results */
	struct hz_kvm_frame fr[HZ_KVM_FRAMES_MAX]; /* the copy that is used */
	uint8_t *bufs[HZ_KVM_FRAMES_MAX];	   /* the frames, host side */
};

/*
 * Checks net call @io into @b, before it has any effect: 0, or -1 with
 * io->ret set (an error value the guest sees). Ends the VM for a
 * malformed call (abi.h).
 */
HZ_MUST_CHECK int hz_net_check(struct hz_vm *vm, struct hz_kvm_net_io *io,
			       bool write, struct hz_net_batch *b);

/* Moves the frames of a call hz_net_check passed; sets io->ret. */
void hz_net_move(struct hz_kvm_net_io *io, bool write, struct hz_net_batch *b);

/*
 * Receives one frame of @d into @buf (at most @cap bytes) and sets
 * *@csum_ok: its length, 0 if none waits, -1 if the host failed, -2 if
 * one was dropped (too large or refused; counted).
 */
ssize_t hz_net_recv(struct hz_device *d, uint8_t *buf, size_t cap,
		    bool *csum_ok);

/*
 * Whether frame @f (at @buf) is one @d can send: 0, -HZ_EMSGSIZE or
 * -HZ_EINVAL (abi.h).
 */
int hz_net_write_check(const struct hz_device *d, const struct hz_kvm_frame *f,
		       const uint8_t *buf);

/* --- net rings (ring.c) ------------------------------------------------ */

/* Handles NET_RINGS: checks @a and starts serving its NIC's rings. */
void hz_net_rings(struct hz_vm *vm, struct hz_kvm_net_rings *a);

/*
 * Takes the count of eventfd @fd (the rings' kick_fd or wake_fd): it,
 * or 0 if there was none (a failure is logged).
 */
uint64_t hz_eventfd_take(int fd);

/* Handles NET_KICK where it reaches the tender: wakes the I/O thread. */
void hz_net_kick(struct hz_vm *vm);

/*
 * Of NICs @nics, those whose guest waits on a ring whose `done` moved
 * past what it saw (abi.h): its yield must not sleep.
 */
uint64_t hz_rings_unseen(struct hz_vm *vm, uint64_t nics);

/* At a yield: wakes the I/O thread if it sleeps with tx frames posted. */
void hz_rings_yield(struct hz_vm *vm);

/*
 * Sends what the guest posted on @d's tx ring, in order, until the ring
 * is empty or the tap's queue full; descriptors done.
 */
unsigned hz_ring_tx(struct hz_vm *vm, struct hz_device *d);

/* Fills the buffers posted on @d's rx ring while frames wait; how many. */
unsigned hz_ring_rx(struct hz_vm *vm, struct hz_device *d);

/*
 * Whether the I/O thread may sleep: sets every ring's tender_wait, then
 * looks again; false (and the flags cleared) if work came meanwhile.
 */
bool hz_rings_may_sleep(struct hz_vm *vm);

/*
 * Makes the eventfds and, if any NIC may have rings, starts the I/O
 * thread (before the sandbox, which covers it). 0 or -1 with a message.
 */
HZ_MUST_CHECK int hz_rings_start(struct hz_vm *vm);

/* Handles a block hypercall (@call is READ, WRITE or FLUSH). */
void hz_block_io(struct hz_vm *vm, struct hz_kvm_block_io *io, unsigned call);

/* Waits for device input or @timeout_ns; returns the ready set. */
uint64_t hz_devices_wait(struct hz_vm *vm, uint64_t timeout_ns,
			 uint64_t interest);

/* Prints a guest fault report (registers, symbolized backtrace). */
void hz_fault_report(struct hz_vm *vm, const struct hz_kvm_fault *f);

/*
 * Closes every descriptor from 3 up but the @n in @keep (--notify's, the
 * inherited taps'), so nothing else inherited reaches the sandbox. 0, or
 * -1 with errno.
 */
HZ_MUST_CHECK int hz_sandbox_close_inherited(const int *keep, unsigned n);

/* Installs the seccomp filter for the running VM. 0 or -1. */
HZ_MUST_CHECK int hz_sandbox_enter(struct hz_vm *vm);

/* --- --gdb (gdb_kvm.c) ------------------------------------------------- */

/*
 * Listens on 127.0.0.1:@port for gdb; the descriptor, or -1 with a
 * message naming the port (in use, or not to be had).
 */
HZ_MUST_CHECK int hz_gdb_listen(uint16_t port);

/*
 * Says on stderr that haze-kvm waits for gdb, accepts one connection on
 * @listen_fd (closing it) and attaches it to @vm through @link. Done
 * after the VM is set up and before the sandbox. 0 or -1.
 */
HZ_MUST_CHECK int hz_gdb_attach(struct hz_vm *vm, struct hz_gdb_link *link,
				int listen_fd);

/*
 * Attaches the gdb connection @fd to @vm through @link, as hz_gdb_attach
 * does once it has accepted (the tests use it on a socketpair).
 */
void hz_gdb_link_init(struct hz_vm *vm, struct hz_gdb_link *link, int fd);

/*
 * Serves gdb until it resumes the guest, detaches or goes away; with
 * @signal non-zero, first reports a stop with it (@swbreak: on one of
 * gdb's breakpoints). Ends the VM if gdb kills it.
 */
void hz_gdb_serve(struct hz_vm *vm, int signal, bool swbreak);

/* Handles KVM_EXIT_DEBUG: a breakpoint or a finished step. */
void hz_gdb_debug_exit(struct hz_vm *vm);

/*
 * Handles the FAULT call @f (guest-written) where KVM let a #BP or #DB
 * reach the guest's IDT (PVM): if it is one of gdb's breakpoints or the
 * end of gdb's step, puts the vCPU back in the interrupted ring-3 context
 * and handles it as hz_gdb_debug_exit would; returns true. False (and
 * nothing done) for a fault, or without gdb.
 */
bool hz_gdb_fault_trap(struct hz_vm *vm, const struct hz_kvm_fault *f);

/*
 * After a hypercall: if gdb's step was under way, the step ends at the
 * store's next instruction (KVM would finish the emulated store on the
 * next entry and run on without stopping).
 */
void hz_gdb_after_call(struct hz_vm *vm);

/* Tells gdb the guest exits with @status (the tender exits next). */
void hz_gdb_guest_exit(struct hz_vm *vm, int status);

/*
 * The guest cannot go on (@f: its fault, or NULL for an abort, @signal
 * then): lets gdb look at it, stopped with the fault's signal (SIGSEGV
 * for a page fault) or @signal, then tells gdb it was ended.
 */
void hz_gdb_guest_end(struct hz_vm *vm, const struct hz_kvm_fault *f,
		      int signal);

/*
 * Guest memory for gdb, guest-virtual = guest-physical: anything in
 * guest memory, nothing else. 0, or -HZ_EINVAL outside it.
 */
HZ_MUST_CHECK int hz_gdb_vm_read(const struct hz_vm *vm, uint64_t addr,
				 void *buf, size_t len);

/* Writes guest memory for gdb (text too: breakpoints); as hz_gdb_vm_read. */
HZ_MUST_CHECK int hz_gdb_vm_write(struct hz_vm *vm, uint64_t addr,
				  const void *buf, size_t len);

/* --- user networking (slirp.c) ----------------------------------------- */

struct hz_slirp;
struct pollfd;

/* Starts a libslirp instance for @d. NULL with a message on failure. */
struct hz_slirp *hz_slirp_new(struct hz_vm *vm, struct hz_device *d);

/* Stops a libslirp instance, closing its sockets (tests; a tender exits). */
void hz_slirp_free(struct hz_slirp *s);

/* Feeds one guest frame to slirp. */
void hz_slirp_input(struct hz_slirp *s, const uint8_t *frame, size_t len);

/* Pops a frame for the guest into @buf; its length, 0 if none, or -2
 * when it was larger than @cap (then dropped). */
ssize_t hz_slirp_output(struct hz_slirp *s, uint8_t *buf, size_t cap);

/* Whether frames wait for the guest. */
bool hz_slirp_pending(const struct hz_slirp *s);

/* Adds slirp's fds to @fds (from *n); lowers *timeout_ns to its timers. */
void hz_slirp_poll_fill(struct hz_slirp *s, struct pollfd *fds, unsigned *n,
			unsigned max, uint64_t *timeout_ns);

/* Lets slirp handle the poll result and its expired timers. */
void hz_slirp_poll_done(struct hz_slirp *s, struct pollfd *fds, bool error);

/* Writes one frame to the device's pcap capture, if any. */
void hz_pcap_frame(struct hz_device *d, const uint8_t *frame, size_t len);

/* Checks and binds a manifest against the command line; 0 or -1. */
HZ_MUST_CHECK int hz_manifest_bind(struct hz_vm *vm);

#endif
