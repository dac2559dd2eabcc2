/*
 * The haze-kvm hypercall ABI: the one seam between a Haze guest and the
 * haze-kvm tender. Both sides include this header; nothing else is shared.
 *
 * Calling convention: the guest fills an argument struct in its own memory
 * and stores the struct's guest-physical address (32 bits, one `movl`) to
 * HZ_KVM_HYPERCALL_GPA + 8 * call number. That page lies outside guest
 * memory, so the store exits to the tender (KVM_EXIT_MMIO), which checks
 * the address and every address and length inside the struct with
 * overflow-safe arithmetic, performs the call, writes the results back
 * into the struct and resumes the guest. (An MMIO store rather than an
 * I/O port: the guest runs in ring 3, see below, where `out` faults on
 * hosts that do not honour IOPL for a guest, such as PVM.)
 *
 * Error model:
 *  - An argument the guest could legitimately get wrong (an unknown handle,
 *    a misaligned or out-of-range block offset, a frame too long) is
 *    answered in the struct's `ret` field with a negative HZ_E* code from
 *    haze/error.h. The guest continues.
 *  - A malformed call (an address or length outside guest memory, a
 *    buffer or result struct the tender would write into that the guest
 *    cannot write itself (anything but stack, data/bss and heap), an
 *    unaligned or truncated argument struct, an unknown call, a store of
 *    the wrong size or a load) cannot come from a correct guest: the
 *    tender prints why and ends the VM (fail closed) with exit status
 *    HZ_KVM_EXIT_BADCALL, before the call has any effect.
 *
 * Versioning: HZ_KVM_ABI_VERSION changes whenever a struct or call
 * changes meaning. The tender writes its version into the boot info and
 * refuses an image without a note (owner "HAZE", type HZ_KVM_NOTE_ABI,
 * a uint32_t descriptor) naming this version; platform/kvm/boot.c
 * emits it.
 *
 * Privilege: the guest runs at CPL 3 (ring 3) on descriptor tables the
 * tender builds. Ring 3 is no loss
 * for a single-application guest, and on PVM-style hosts (nested KVM
 * without hardware virtualisation) it is the difference between native
 * speed and emulating every supervisor instruction. Only the exception
 * entry stubs run at CPL 0, on their own stack: they end the VM, except
 * for the guest's own page-table edits (platform/kvm/guard.c).
 *
 * Memory map (guest-physical = guest-virtual, identity mapped):
 *   0x000000  null page, not mapped
 *   0x001000  boot page (read-only): GDT, IDT, TSS, TLS block (FS base)
 *   0x002000  boot info and command line (read-only)
 *   0x003000  page tables (CPL 0 only: the guest's guard pages edit them)
 *   0x020000  stack bottom; 0x01f000 below it is an unmapped guard page
 *   0x100000  image (text R-X, rodata R--, data/bss RW-, per page)
 *   image end rounded to a page .. memory end: heap
 *   0xc0000000  hypercall page (2 MiB, not memory: stores exit)
 * Everything below the image end (rounded up to 2 MiB) is mapped with
 * 4 KiB pages, so permissions and guards are per page; the rest with
 * 2 MiB pages. The image may not extend above 16 MiB. The guest may
 * change its own map at CPL 0 (guard pages below its fiber stacks, in
 * tables of its own for the 2 MiB it splits); the tender's checks of
 * guest buffers keep to the map above.
 */
#ifndef HAZE_KVM_ABI_H
#define HAZE_KVM_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

#define HZ_KVM_ABI_VERSION 8
#define HZ_KVM_NOTE_ABI 0x485a4b31   /* "HZK1" */
#define HZ_KVM_NOTE_TRAPS 0x485a4b54 /* "HZKT": struct hz_kvm_traps */
#define HZ_KVM_VECTORS 32	     /* exception vectors with an entry point */

/* Memory map (see above). */
#define HZ_KVM_BOOT_PAGE 0x1000u
#define HZ_KVM_BOOT_INFO 0x2000u
#define HZ_KVM_BOOT_INFO_SIZE 0x1000u
#define HZ_KVM_PAGE_TABLES 0x3000u
#define HZ_KVM_STACK_GUARD 0x1f000u
#define HZ_KVM_STACK_BOTTOM 0x20000u
#define HZ_KVM_STACK_TOP 0x100000u
#define HZ_KVM_IMAGE_BASE 0x100000u
#define HZ_KVM_SMALL_PAGE_LIMIT 0x1000000u /* 16 MiB mapped with 4 KiB pages */
#define HZ_KVM_MEM_MAX 0xc0000000ull	   /* 3 GiB, below the hypercall page */

/* Layout of the boot page. */
#define HZ_KVM_GDT (HZ_KVM_BOOT_PAGE + 0x000u)
#define HZ_KVM_IDT (HZ_KVM_BOOT_PAGE + 0x100u)
#define HZ_KVM_TSS (HZ_KVM_BOOT_PAGE + 0x300u)
#define HZ_KVM_TLS (HZ_KVM_BOOT_PAGE + 0x800u)
/* Selectors: kernel code and data, user data and code, TSS. */
#define HZ_KVM_SEL_KCODE 0x08u
#define HZ_KVM_SEL_KDATA 0x10u
#define HZ_KVM_SEL_UDATA 0x1bu
#define HZ_KVM_SEL_UCODE 0x23u
#define HZ_KVM_SEL_TSS 0x28u

/* Offset of the stack-protector canary from the FS base (x86_64 ABI). */
#define HZ_KVM_TLS_CANARY 0x28u

/* Hypercalls: a 32-bit store of the argument's address, one slot per call. */
#define HZ_KVM_HYPERCALL_GPA 0xc0000000
#define HZ_KVM_CALL_CONSOLE 0	  /* struct hz_kvm_console */
#define HZ_KVM_CALL_YIELD 1	  /* struct hz_kvm_yield */
#define HZ_KVM_CALL_NET_READ 2	  /* struct hz_kvm_net_io */
#define HZ_KVM_CALL_NET_WRITE 3	  /* struct hz_kvm_net_io */
#define HZ_KVM_CALL_BLOCK_READ 4  /* struct hz_kvm_block_io */
#define HZ_KVM_CALL_BLOCK_WRITE 5 /* struct hz_kvm_block_io */
#define HZ_KVM_CALL_BLOCK_FLUSH 6 /* struct hz_kvm_block_io */
#define HZ_KVM_CALL_ENTROPY 7	  /* struct hz_kvm_entropy */
#define HZ_KVM_CALL_EXIT 8	  /* struct hz_kvm_exit */
#define HZ_KVM_CALL_ABORT 9	  /* struct hz_kvm_exit */
#define HZ_KVM_CALL_FAULT 10	  /* struct hz_kvm_fault */
#define HZ_KVM_CALL_MAIN 11	  /* struct hz_kvm_mark: main is called */
#define HZ_KVM_CALL_READY 12	  /* none (address ignored): see below */
#define HZ_KVM_CALL_NET_RINGS 13  /* struct hz_kvm_net_rings */
#define HZ_KVM_CALL_NET_KICK 14	  /* none (address ignored): net rings */
#define HZ_KVM_CALL_COUNT_ 15

/*
 * READY tells the tender, once, that the application is ready for work
 * (hz_platform_ready): the tender passes it on to --notify and ignores
 * any later one. It reads nothing from the guest and changes nothing the
 * guest sees, so a guest that lies about it only misleads its own host.
 */

/*
 * Process exit statuses of haze-kvm. A guest's own status 0..251 becomes
 * the process status unchanged; a guest status above 251 becomes 251, so
 * the four values above it always mean the tender's verdict.
 */
#define HZ_KVM_EXIT_GUEST_MAX 251
#define HZ_KVM_EXIT_USAGE 252	/* refused before boot: usage, image, binding */
#define HZ_KVM_EXIT_BADCALL 253 /* malformed hypercall or KVM failure */
#define HZ_KVM_EXIT_ABORT 254	/* guest called abort (assert, stack smash) */
#define HZ_KVM_EXIT_FAULT 255	/* CPU exception in the guest */

/* --- boot info: at HZ_KVM_BOOT_INFO, %rdi at entry -------------------- */

#define HZ_KVM_DEVICE_MAX 16
#define HZ_KVM_NAME_MAX 32
#define HZ_KVM_ARG_MAX 64

/* The guest reports reaching main (MAIN): asked for by --trace and
 * --notify alike. */
#define HZ_KVM_BOOT_TRACE 0x1u
/* NET_RINGS is served (for tap NICs; see struct hz_kvm_ring). */
#define HZ_KVM_BOOT_RINGS 0x2u

#ifndef __ASSEMBLER__
struct hz_kvm_device {
	uint32_t kind;		    /* enum hz_device_kind */
	uint32_t sector_size;	    /* block */
	char name[HZ_KVM_NAME_MAX]; /* NUL-terminated */
	uint64_t capacity;	    /* block, bytes */
	uint8_t mac[6];		    /* net */
	uint16_t mtu;		    /* net */
	uint32_t gso_max; /* net: hz_net_info's; 0 = no segmentation offload */
	uint32_t rx_max;  /* net: hz_net_info's; 0 = no coalesced frames */
};

struct hz_kvm_boot_info {
	uint32_t abi_version; /* HZ_KVM_ABI_VERSION */
	uint32_t flags;	      /* HZ_KVM_BOOT_* */
	uint64_t mem_size;    /* bytes of guest memory */
	uint64_t heap_start;  /* page-aligned */
	uint64_t heap_size;
	uint64_t tsc_hz;   /* TSC frequency, from KVM_GET_TSC_KHZ */
	uint64_t tsc_base; /* the guest's TSC when wall_ns was read */
	uint64_t wall_ns;  /* wall clock, ns since the epoch */
	uint32_t argc;
	uint32_t device_count; /* entries in devices[], manifest order */
	uint64_t argv[HZ_KVM_ARG_MAX]; /* guest addresses of the strings */
	struct hz_kvm_device devices[HZ_KVM_DEVICE_MAX];
	/* argument strings follow, up to the end of the boot info page */
};

/* --- call arguments ---------------------------------------------------- */

struct hz_kvm_console {
	uint64_t data; /* in: guest address */
	uint64_t len;  /* in */
};

/*
 * One frame of a net call. A write's gso_size asks the tender to have the
 * frame segmented (hz_frame's gso_size: a TCP/IPv4 frame of up to the
 * device's gso_max + 14 bytes); a device without gso_max refuses it with
 * -HZ_EINVAL. A read sets flags; a device with rx_max may hand frames of
 * up to rx_max bytes (coalesced TCP), each checked by the tender against
 * its offload header first (a lying one is dropped and counted).
 */
#define HZ_KVM_FRAME_CSUM_OK 0x1u /* read: hz_frame's csum_ok */
struct hz_kvm_frame {
	uint64_t buf;	   /* guest address */
	uint64_t cap;	   /* read: capacity */
	uint64_t len;	   /* read: out; write: in */
	uint32_t gso_size; /* write: in; read: unused */
	uint32_t flags;	   /* read: out, HZ_KVM_FRAME_*; write: must be 0 */
};

#define HZ_KVM_FRAMES_MAX 64
struct hz_kvm_net_io {
	uint32_t handle; /* in: device index */
	uint32_t count;	 /* in: frames in the array (<= MAX) */
	uint64_t frames; /* in: guest address of hz_kvm_frame[] */
	int64_t ret;	 /* out: frames done or -HZ_E* */
};

/*
 * A yield may carry frames to send before it waits (tx.count > 0): small
 * frames the guest wrote since its last call, staged in its memory, leave
 * with the call that waits instead of costing a NET_WRITE exit of their
 * own. tx is checked and sent exactly as a NET_WRITE (tx.ret: frames sent
 * or -HZ_E*); tx.count 0 sends nothing and leaves tx.ret 0.
 *
 * It may also post buffers to receive into (rx.count > 0): when the wait
 * ends with rx.handle ready, the tender reads into them exactly as a
 * NET_READ would (rx.ret: frames filled, fewer than rx.count once the
 * device's queue is empty, or -HZ_E*), so the frames that woke the guest
 * come back with the yield, not with a NET_READ exit of their own. rx
 * not ready, or rx.count 0, receives nothing and leaves rx.ret 0.
 *
 * Both are checked before anything is sent or waited for: a malformed
 * one ends the VM with no effect.
 */
struct hz_kvm_yield {
	uint64_t timeout_ns;	 /* in: 0 = poll, UINT64_MAX = forever */
	uint64_t interest;	 /* in: bit h = wait for and report handle h */
	uint64_t ready;		 /* out: bit h = handle h readable */
	struct hz_kvm_net_io tx; /* in/out: frames to send first */
	struct hz_kvm_net_io rx; /* in/out: buffers to receive into after */
};

/*
 * Net rings (NET_RINGS): a NIC's frames move through two rings in guest
 * memory, served by an I/O thread of the tender while the guest runs,
 * so a busy guest exits only to wait or to wake a sleeping tender.
 *
 * Each ring is a header and @entries descriptors (a power of two, at
 * most HZ_KVM_RING_MAX); descriptor i, counted from 0 for ever (indices
 * wrap at 2^32), lives at desc[i % entries]. The guest fills descriptors
 * and then advances `posted`; the tender moves descriptors [done, posted)
 * in order and then advances `done`. The tx ring's descriptors are
 * frames to send (buf, len, gso_size, flags 0, as a NET_WRITE's); the rx
 * ring's are buffers (buf, cap) the tender fills, writing len and flags
 * back into the descriptor before `done` passes it. A tx frame the
 * device cannot send (net_write_check's reasons) is skipped and counted,
 * not sent.
 *
 * The tender trusts nothing in a ring: it keeps its own `done`, reads
 * `posted` once per pass and each descriptor once (a copy, which is what
 * it checks and uses), and ends the VM (BADCALL) when posted runs more
 * than @entries ahead of done or a descriptor's buffer lies outside
 * guest memory (writable guest memory, for rx). What the guest writes to
 * `done`, or to a descriptor the tender holds, changes nothing it does.
 *
 * Waking (the other side may be asleep): the tender sets tender_wait
 * before it sleeps (tx: for anything; rx: for want of buffers) and
 * checks `posted` again after; the guest, after advancing `posted`,
 * makes a NET_KICK call if it sees tender_wait, or leaves the kick to
 * its next yield: a yield first wakes a sleeping I/O thread for every
 * tx ring with frames posted, so the frames of a busy round go with the
 * exit the round ends with anyway. The guest sets
 * guest_wait before a yield that waits on the NIC and checks `done`
 * again after; the tender, after advancing `done`, wakes that yield
 * (the NIC's bit in `ready`) if it sees guest_wait. Each side makes its
 * store, then a full barrier, then its load, so one of the two sees the
 * other. A yield that waits on the NIC returns at once while `done` differs
 * from guest_seen on a ring with guest_wait set, so a wake meant for
 * frames the guest has already read never ends a later wait early.
 * On KVM NET_KICK is an ioeventfd where the host offers one: the
 * kernel wakes the I/O thread without returning to the tender.
 *
 * A NIC with rings is served by them alone: NET_READ, NET_WRITE and a
 * yield's tx or rx naming it answer -HZ_EINVAL.
 */
#define HZ_KVM_RING_MAX 256u
struct hz_kvm_ring {
	uint32_t posted;     /* guest: descriptors posted, ever */
	uint32_t guest_wait; /* guest: 1 = wake my yield when done moves */
	uint32_t guest_seen; /* guest: the done it saw, with guest_wait */
	uint32_t pad0[13];
	uint32_t done;	      /* tender: descriptors done, ever */
	uint32_t tender_wait; /* tender: 1 = asleep until a NET_KICK */
	uint32_t pad1[14];
	struct hz_kvm_frame desc[]; /* @entries of them */
};

/*
 * Sets up @handle's rings: @tx and @rx are 64-byte aligned guest
 * addresses of rings of @entries descriptors each, in writable guest
 * memory and apart. The guest may post rx buffers first; both rings'
 * `done` start at 0. ret: 0; -HZ_ENOTSUP where the tender does not serve
 * rings for that NIC (a user NIC, --net-rings=off); -HZ_EEXIST if it has
 * them already; -HZ_EINVAL for a bad handle, entry count, or a ring with
 * more than @entries posted. A ring outside writable memory, misaligned
 * or overlapping the other ends the VM.
 */
struct hz_kvm_net_rings {
	uint32_t handle;  /* in */
	uint32_t entries; /* in: per ring, a power of two <= RING_MAX */
	uint64_t tx, rx;  /* in: guest addresses of the rings */
	int64_t ret;	  /* out */
};

#define HZ_KVM_BLOCK_IO_MAX (1u << 20) /* bytes per call */
struct hz_kvm_block_io {
	uint32_t handle; /* in */
	uint32_t pad;
	uint64_t offset; /* in: bytes, sector-aligned */
	uint64_t buf;	 /* in: guest address */
	uint64_t len;	 /* in: bytes, sector multiple */
	int64_t ret;	 /* out: 0 or -HZ_E* */
};

#define HZ_KVM_ENTROPY_MAX 4096u
struct hz_kvm_entropy {
	uint64_t buf; /* in: guest address */
	uint64_t len; /* in: <= HZ_KVM_ENTROPY_MAX */
	int64_t ret;  /* out: bytes or -HZ_E* */
};

struct hz_kvm_exit {
	int64_t status; /* in: exit status (EXIT only) */
};

/* Trace mark: the guest's TSC at its first instruction and now. */
struct hz_kvm_mark {
	uint64_t tsc_entry;
	uint64_t tsc_now;
};

/*
 * The exception entry points, in an ELF note of the image: the tender
 * builds the IDT from them (each must lie in an executable segment) and
 * points the TSS's IST1 at stack_top (in a writable segment).
 */
struct hz_kvm_traps {
	uint64_t entry[HZ_KVM_VECTORS];
	uint64_t stack_top;
};

/*
 * Saved by the guest's exception entry on its trap stack, in the order
 * the CPU and the entry stub push it (lowest address first); the address
 * of the struct is the argument of HZ_KVM_CALL_FAULT.
 */
struct hz_kvm_fault {
	uint64_t cr2;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

#endif /* __ASSEMBLER__ */

#endif
