/*
 * The VM of haze-kvm: guest memory, page tables, the boot page and boot
 * info, the one vCPU entered directly in 64-bit long mode, and the run
 * loop that dispatches hypercalls (and debug exits to --gdb's stub).
 *
 * Boot cost matters, so guest memory is mapped lazily (MAP_NORESERVE,
 * never zeroed or prefaulted: the kernel's zero pages are the guest's
 * zeroed .bss and heap), only the pages the map needs are written, and
 * the run loop makes no KVM call besides KVM_RUN.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "platform/host/notify.h"
#include "tender.h"

#define PAGE 4096ull
#define LARGE (2ull << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_U 0x4ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)

#define PML4_GPA HZ_KVM_PAGE_TABLES
#define PDPT_GPA (HZ_KVM_PAGE_TABLES + 0x1000u)
#define PD_GPA (HZ_KVM_PAGE_TABLES + 0x2000u) /* 4 PDs: 4 GiB */
#define PT_GPA (HZ_KVM_PAGE_TABLES + 0x6000u) /* 8 PTs: 16 MiB */
#define PT_END (PT_GPA + 8 * PAGE)

_Static_assert(PT_END <= HZ_KVM_STACK_GUARD,
	       "page tables run into the stack guard");
_Static_assert(sizeof(struct hz_kvm_boot_info) <= HZ_KVM_BOOT_INFO_SIZE / 2,
	       "boot info leaves too little room for arguments");

/*
 * The guest's memory map: the page-table bits (PTE_*, 0 if unmapped) of
 * the page at @gpa, and in *end where the run of pages with those bits
 * ends. The page tables and the check of buffers the tender writes into
 * (hz_guest_ptr_writable) both come from here, so they cannot disagree.
 * Pages without PTE_U are the guest's CPL 0 code's alone: its page
 * tables, which it edits to put guard pages below its fiber stacks.
 */
static uint64_t map_at(const struct hz_vm *vm, uint64_t gpa, uint64_t *end)
{
	const struct hz_image *img = &vm->image;

	if (gpa < HZ_KVM_BOOT_PAGE) {
		*end = HZ_KVM_BOOT_PAGE;
		return 0; /* NULL dereferences fault */
	}
	if (gpa < HZ_KVM_PAGE_TABLES) {
		*end = HZ_KVM_PAGE_TABLES;
		/* The boot page and boot info: read-only. */
		return PTE_P | PTE_NX | PTE_U;
	}
	if (gpa < PT_END) {
		*end = PT_END;
		return PTE_P | PTE_RW | PTE_NX; /* page tables: CPL 0 only */
	}
	if (gpa < HZ_KVM_STACK_BOTTOM) {
		*end = HZ_KVM_STACK_BOTTOM;
		return 0; /* the stack guard */
	}
	if (gpa < HZ_KVM_STACK_TOP) {
		*end = HZ_KVM_STACK_TOP;
		return PTE_P | PTE_RW | PTE_NX | PTE_U;
	}
	if (gpa < img->end) {
		for (unsigned i = 0; i < img->nsegs; i++) {
			const struct hz_segment *s = &img->segs[i];
			uint64_t lo = s->vaddr & ~(PAGE - 1);
			uint64_t hi =
			    (s->vaddr + s->memsz + PAGE - 1) & ~(PAGE - 1);
			if (gpa >= lo && gpa < hi) {
				*end = hi;
				return PTE_P | PTE_U |
				       ((s->flags & PF_W) ? PTE_RW : 0) |
				       ((s->flags & PF_X) ? 0 : PTE_NX);
			}
		}
		*end = (gpa & ~(PAGE - 1)) + PAGE;
		return 0; /* gaps between segments */
	}
	if (gpa < vm->mem_size) {
		*end = vm->mem_size;
		return PTE_P | PTE_RW | PTE_NX | PTE_U; /* heap */
	}
	*end = UINT64_MAX;
	return 0;
}

void *hz_guest_ptr_writable(const struct hz_vm *vm, uint64_t gpa, uint64_t len)
{
	void *p = hz_guest_ptr(vm, gpa, len);
	uint64_t end = gpa + len; /* cannot overflow: checked above */

	/* What the guest's ring 3 may write: never its page tables. */
	while (p && gpa < end) {
		if ((map_at(vm, gpa, &gpa) & (PTE_RW | PTE_U)) !=
		    (PTE_RW | PTE_U))
			return NULL;
	}
	return p;
}

/* Writes the identity map: 4 KiB pages up to the image end, 2 MiB above. */
static void write_page_tables(struct hz_vm *vm)
{
	uint64_t *pml4 = (uint64_t *)(vm->mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(vm->mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(vm->mem + PD_GPA);
	uint64_t small_end = (vm->image.end + LARGE - 1) & ~(LARGE - 1);

	pml4[0] = PDPT_GPA | PTE_P | PTE_RW | PTE_U;
	for (uint64_t g = 0; g < 4; g++)
		pdpt[g] = (PD_GPA + g * PAGE) | PTE_P | PTE_RW | PTE_U;
	/* The hypercall page: mapped, but no memory behind it. */
	pd[HZ_KVM_HYPERCALL_GPA / LARGE] =
	    HZ_KVM_HYPERCALL_GPA | PTE_P | PTE_RW | PTE_PS | PTE_NX | PTE_U;
	for (uint64_t r = 0; r * LARGE < vm->mem_size; r++) {
		uint64_t base = r * LARGE;
		if (base >= small_end) {
			pd[r] = base | PTE_P | PTE_RW | PTE_PS | PTE_NX | PTE_U;
			continue;
		}
		uint64_t *pt = (uint64_t *)(vm->mem + PT_GPA + r * PAGE);
		pd[r] = (PT_GPA + r * PAGE) | PTE_P | PTE_RW | PTE_U;
		for (uint64_t p = 0; p < 512; p++) {
			uint64_t gpa = base + p * PAGE;
			uint64_t run_end;
			uint64_t bits = map_at(vm, gpa, &run_end);
			if (bits)
				pt[p] = gpa | bits;
		}
	}
}

/* Encodes a 64-bit IDT interrupt gate to @entry on stack IST1. */
static void idt_gate(uint64_t *g, uint64_t entry)
{
	g[0] = (entry & 0xffff) | ((uint64_t)HZ_KVM_SEL_KCODE << 16) |
	       (1ull << 32) /* IST1 */ | (0x8eull << 40) /* present, gate */ |
	       ((entry >> 16 & 0xffff) << 48);
	g[1] = entry >> 32;
}

/*
 * Writes the boot page: GDT, IDT (from the image's trap note), TSS and
 * the TLS block with a fresh stack-protector canary. Every descriptor is
 * written with its accessed or busy bit already set, so the CPU never
 * writes to this page, which the guest sees read-only.
 */
static int write_boot_page(struct hz_vm *vm)
{
	uint64_t *gdt = (uint64_t *)(vm->mem + HZ_KVM_GDT);
	uint64_t *tss = (uint64_t *)(vm->mem + HZ_KVM_TSS);
	uint64_t canary;

	gdt[1] = 0x00af9b000000ffffull; /* 0x08: 64-bit code, DPL 0 */
	gdt[2] = 0x00cf93000000ffffull; /* 0x10: data, DPL 0 */
	gdt[3] = 0x00cff3000000ffffull; /* 0x18: data, DPL 3 */
	gdt[4] = 0x00affb000000ffffull; /* 0x20: 64-bit code, DPL 3 */
	gdt[5] = 103 | ((uint64_t)HZ_KVM_TSS << 16) | (0x8bull << 40);
	gdt[6] = 0; /* 0x28: busy 64-bit TSS */
	for (unsigned v = 0; v < HZ_KVM_VECTORS; v++)
		idt_gate((uint64_t *)(vm->mem + HZ_KVM_IDT) + 2 * v,
			 vm->image.traps.entry[v]);
	/* IST1 is at byte 36 of the TSS: unaligned, so copy it. */
	memcpy((uint8_t *)tss + 36, &vm->image.traps.stack_top, 8);
	memcpy((uint8_t *)tss + 4, &vm->image.traps.stack_top, 8); /* RSP0 */
	((uint16_t *)tss)[51] = 104; /* no I/O bitmap: IOPL decides */
	if (getrandom(&canary, sizeof(canary), 0) != sizeof(canary)) {
		hz_tender_log("getrandom: %s", strerror(errno));
		return -1;
	}
	canary &= ~0xffull; /* a NUL byte stops string overreads at it */
	memcpy(vm->mem + HZ_KVM_TLS + HZ_KVM_TLS_CANARY, &canary,
	       sizeof(canary));
	return 0;
}

/* Writes the boot info: clocks, heap, arguments and devices. */
static int write_boot_info(struct hz_vm *vm, int argc, char **argv)
{
	struct hz_kvm_boot_info *bi =
	    (struct hz_kvm_boot_info *)(vm->mem + HZ_KVM_BOOT_INFO);
	uint64_t str = HZ_KVM_BOOT_INFO + sizeof(*bi);
	const uint64_t str_end = HZ_KVM_BOOT_INFO + HZ_KVM_BOOT_INFO_SIZE;

	bi->abi_version = HZ_KVM_ABI_VERSION;
	/* --notify's guest and main notices come from the trace mark. */
	bi->flags = vm->trace || vm->notify_fd >= 0 ? HZ_KVM_BOOT_TRACE : 0;
	/* Tap NICs have net rings (hz_devices_open decides). */
	if (vm->rings)
		bi->flags |= HZ_KVM_BOOT_RINGS;
	bi->mem_size = vm->mem_size;
	bi->heap_start = vm->image.end;
	bi->heap_size = vm->mem_size - vm->image.end;
	bi->tsc_hz = vm->tsc_hz;
	if (argc > HZ_KVM_ARG_MAX) {
		hz_tender_log("too many guest arguments (at most %d)",
			      HZ_KVM_ARG_MAX);
		return -1;
	}
	bi->argc = (uint32_t)argc;
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]) + 1;
		if (len > str_end - str) {
			hz_tender_log("guest arguments longer than %u bytes",
				      (unsigned)(str_end - HZ_KVM_BOOT_INFO -
						 sizeof(*bi)));
			return -1;
		}
		memcpy(vm->mem + str, argv[i], len);
		bi->argv[i] = str;
		str += len;
	}
	bi->device_count = vm->ndev;
	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct hz_device *d = &vm->dev[i];
		struct hz_kvm_device *g = &bi->devices[i];
		/* An optional device left unbound is absent for the guest. */
		g->kind = d->bound ? d->kind : HZ_DEVICE_NONE;
		memcpy(g->name, d->name, sizeof(g->name));
		memcpy(g->mac, d->mac, sizeof(g->mac));
		g->mtu = d->mtu;
		g->gso_max = d->gso_max;
		g->rx_max = d->rx_max;
		g->capacity = d->capacity;
		g->sector_size = d->kind == HZ_DEVICE_KIND_BLOCK ? 512 : 0;
	}
	return 0;
}

/* XCR0's x87, SSE and AVX state bits; CR4.OSXSAVE. */
#define XCR0_AVX_STATE 0x7u
#define CR4_OSXSAVE (1u << 18)

/* The entry of @cpuid for @function and @index, or NULL. */
static const struct kvm_cpuid_entry2 *
cpuid_entry(const struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == function &&
		    cpuid->entries[i].index == index)
			return &cpuid->entries[i];
	return NULL;
}

uint64_t hz_vm_guest_xcr0(const struct kvm_cpuid2 *cpuid)
{
	const struct kvm_cpuid_entry2 *basic = cpuid_entry(cpuid, 1, 0);
	const struct kvm_cpuid_entry2 *xsave = cpuid_entry(cpuid, 0xd, 0);

	if (basic == NULL || xsave == NULL)
		return 0;
	if (!(basic->ecx & (1u << 26)) || !(basic->ecx & (1u << 28)))
		return 0; /* no XSAVE or no AVX */
	if ((xsave->eax & XCR0_AVX_STATE) != XCR0_AVX_STATE)
		return 0; /* XSAVE cannot hold the AVX state */
	return XCR0_AVX_STATE;
}

/*
 * Gives the guest the host's CPUID as KVM supports it; the XCR0 for it
 * (hz_vm_guest_xcr0) in *xcr0.
 */
static int set_cpuid(struct hz_vm *vm, uint64_t *xcr0)
{
	enum { MAX = 128 };
	static uint64_t buf[(sizeof(struct kvm_cpuid2) +
			     MAX * sizeof(struct kvm_cpuid_entry2)) /
				8 +
			    1];
	struct kvm_cpuid2 *cpuid = (struct kvm_cpuid2 *)buf;

	cpuid->nent = MAX;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_SET_CPUID2, cpuid) < 0) {
		hz_tender_log("cpuid: %s", strerror(errno));
		return -1;
	}
	*xcr0 = hz_vm_guest_xcr0(cpuid);
	return 0;
}

/*
 * Sets @sr with AVX on (CR4.OSXSAVE, then XCR0 = @xcr0) where @xcr0 is
 * not 0 and KVM takes both; otherwise, or if either is refused, as
 * before: SSE only. -1 only if the registers cannot be set at all.
 */
static int set_sregs_avx(struct hz_vm *vm, struct kvm_sregs *sr, uint64_t xcr0)
{
	struct kvm_xcrs xcrs;

	if (xcr0 != 0) {
		sr->cr4 |= CR4_OSXSAVE;
		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = xcr0;
		if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sr) == 0 &&
		    ioctl(vm->vcpu_fd, KVM_SET_XCRS, &xcrs) == 0) {
			vm->guest_xcr0 = xcr0;
			return 0;
		}
		if (vm->trace)
			hz_tender_log("trace: guest AVX off: %s",
				      strerror(errno));
		sr->cr4 &= ~(uint64_t)CR4_OSXSAVE;
	}
	vm->guest_xcr0 = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, sr) < 0) {
		hz_tender_log("KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void hz_vm_ring3_segments(struct kvm_segment *code, struct kvm_segment *data)
{
	/* The guest runs in ring 3; see platform/kvm/abi.h for why. */
	*code = (struct kvm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = HZ_KVM_SEL_UCODE,
	    .type = 11,
	    .present = 1,
	    .dpl = 3,
	    .db = 0,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	*data = *code;
	data->selector = HZ_KVM_SEL_UDATA;
	data->type = 3;
	data->l = 0;
	data->db = 1;
}

/* Sets long mode, paging, SSE and the FS base in the vCPU's registers. */
static int set_cpu_state(struct hz_vm *vm)
{
	struct kvm_sregs sr;
	struct kvm_regs regs;
	struct kvm_segment code, data;
	uint64_t xcr0;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
		hz_tender_log("KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	hz_vm_ring3_segments(&code, &data);
	sr.cs = code;
	sr.ds = sr.es = sr.ss = sr.fs = sr.gs = data;
	sr.fs.base = HZ_KVM_TLS;
	sr.gdt.base = HZ_KVM_GDT;
	sr.gdt.limit = 7 * 8 - 1;
	sr.idt.base = HZ_KVM_IDT;
	sr.idt.limit = HZ_KVM_VECTORS * 16 - 1;
	sr.tr = (struct kvm_segment){
	    .base = HZ_KVM_TSS,
	    .limit = 103,
	    .selector = HZ_KVM_SEL_TSS,
	    .type = 11,
	    .present = 1,
	};
	sr.cr3 = PML4_GPA;
	/* PE, MP, ET, NE, WP, PG: SSE needs MP set and EM clear. */
	sr.cr0 = 0x1 | 0x2 | 0x10 | 0x20 | 0x10000 | 0x80000000;
	/* PAE, OSFXSR, OSXMMEXCPT. */
	sr.cr4 = 0x20 | 0x200 | 0x400;
	/* LME, LMA, NXE; no SMEP/SMAP: the trap stubs read guest pages. */
	sr.efer = 0x100 | 0x400 | 0x800;
	/*
	 * Without a CPUID table the guest sees no RDRAND, RDSEED or AES-NI
	 * (its entropy and TLS ask CPUID), and older kernels refuse EFER.NXE.
	 * With XSAVE and AVX in it, the AVX state is on: TLS's AES-GCM runs
	 * on 256-bit vectors (src/tls/tls_gcm.c). The guest is one thread
	 * and takes no interrupts, and KVM keeps its vector registers across
	 * exits, so nothing else changes.
	 */
	if (set_cpuid(vm, &xcr0) < 0)
		return -1;
	if (set_sregs_avx(vm, &sr, xcr0) < 0)
		return -1;
	memset(&regs, 0, sizeof(regs));
	/* IOPL 0: hypercalls are stores, so the guest needs no port I/O. */
	regs.rflags = 0x2;
	regs.rip = vm->image.entry;
	regs.rsp = HZ_KVM_STACK_TOP;
	regs.rdi = HZ_KVM_BOOT_INFO;
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0) {
		hz_tender_log("KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int hz_vm_setup(struct hz_vm *vm, int argc, char **argv)
{
	bool passed = vm->kvm_fd >= 0; /* --kvm-fd */
	if (!passed)
		vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		hz_tender_log("/dev/kvm: %s", strerror(errno));
		return -1;
	}
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version < 0 && passed) {
		hz_tender_log("--kvm-fd %d: not /dev/kvm (%s)", vm->kvm_fd,
			      strerror(errno));
		return -1;
	}
	if (version != KVM_API_VERSION) {
		hz_tender_log("/dev/kvm: API version %d, need %d", version,
			      KVM_API_VERSION);
		return -1;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		hz_tender_log("KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED) {
		hz_tender_log("cannot map %llu MiB of guest memory: %s",
			      (unsigned long long)(vm->mem_size >> 20),
			      strerror(errno));
		return -1;
	}
	struct kvm_userspace_memory_region region = {
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = vm->mem_size,
	    .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		hz_tender_log("KVM_SET_USER_MEMORY_REGION: %s",
			      strerror(errno));
		return -1;
	}
	if (hz_image_load(&vm->image, vm->mem) < 0)
		return -1;
	write_page_tables(vm);
	if (write_boot_page(vm) < 0)
		return -1;

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0) {
		hz_tender_log("KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0) {
		hz_tender_log("KVM_GET_TSC_KHZ: %s", strerror(errno));
		return -1;
	}
	vm->tsc_hz = (uint64_t)khz * 1000;
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		hz_tender_log("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	vm->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED) {
		hz_tender_log("mmap kvm_run: %s", strerror(errno));
		return -1;
	}
	if (set_cpu_state(vm) < 0)
		return -1;
	/*
	 * The guest's clocks: its TSC now, with the host's clocks now. Not
	 * every host starts a new vCPU's TSC at 0 (PVM passes the host's).
	 */
	uint64_t msr_buf
	    [(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)) / 8 + 1] =
		{0};
	struct kvm_msrs *msrs = (struct kvm_msrs *)msr_buf;
	struct timespec wall;

	msrs->nmsrs = 1;
	msrs->entries[0].index = 0x10; /* IA32_TSC */
	if (ioctl(vm->vcpu_fd, KVM_GET_MSRS, msrs) != 1) {
		hz_tender_log("KVM_GET_MSRS(TSC): %s", strerror(errno));
		return -1;
	}
	vm->t_tsc_ns = hz_tender_now();
	clock_gettime(CLOCK_REALTIME, &wall);
	vm->tsc_base = msrs->entries[0].data;
	if (write_boot_info(vm, argc, argv) < 0)
		return -1;
	struct hz_kvm_boot_info *bi =
	    (struct hz_kvm_boot_info *)(vm->mem + HZ_KVM_BOOT_INFO);
	bi->wall_ns =
	    (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	bi->tsc_base = vm->tsc_base;
	return 0;
}

/* --- run loop ------------------------------------------------------------ */

void hz_bad_call(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hz_tender_die(HZ_KVM_EXIT_BADCALL, "guest stopped: bad hypercall: %s",
		      msg);
}

/* How the tender uses a call's argument struct. */
enum arg_use {
	ARG_IN,	   /* only read */
	ARG_INOUT, /* results are written back: must be guest-writable */
};

/* Copies the argument struct at @gpa into @out, or ends the VM. */
static void get_arg(const struct hz_vm *vm, uint64_t gpa, void *out,
		    size_t size, const char *call, enum arg_use use)
{
	if (gpa % 8)
		hz_bad_call("%s: argument at 0x%llx misaligned", call,
			    (unsigned long long)gpa);
	const void *p = use == ARG_INOUT ? hz_guest_ptr_writable(vm, gpa, size)
					 : hz_guest_ptr(vm, gpa, size);
	if (!p)
		hz_bad_call("%s: argument at 0x%llx outside %sguest memory",
			    call, (unsigned long long)gpa,
			    use == ARG_INOUT ? "writable " : "");
	memcpy(out, p, size);
}

/* Copies @size bytes of results back to the argument struct at @gpa. */
static void put_arg(struct hz_vm *vm, uint64_t gpa, const void *in, size_t size)
{
	/* Checked by get_arg(ARG_INOUT). */
	memcpy(hz_guest_ptr_writable(vm, gpa, size), in, size);
}

/* Converts a guest TSC value to tender monotonic ns. */
static uint64_t tsc_to_ns(const struct hz_vm *vm, uint64_t tsc)
{
	int64_t d = (int64_t)(tsc - vm->tsc_base);
	int64_t ns = (int64_t)((__int128)d * 1000000000 / (__int128)vm->tsc_hz);
	return vm->t_tsc_ns + (uint64_t)ns;
}

/* Prints the --trace line: times from process start, in microseconds. */
static void print_trace(const struct hz_vm *vm)
{
	uint64_t now = hz_tender_now();
	hz_tender_log(
	    "trace: vm_run_us=%.1f first_instruction_us=%.1f "
	    "main_us=%.1f exit_us=%.1f guest_xcr0=%#llx",
	    (vm->t_run_ns - vm->t_start_ns) / 1e3,
	    vm->t_first_ns ? (vm->t_first_ns - vm->t_start_ns) / 1e3 : -1.0,
	    vm->t_main_ns ? (vm->t_main_ns - vm->t_start_ns) / 1e3 : -1.0,
	    (now - vm->t_start_ns) / 1e3, (unsigned long long)vm->guest_xcr0);
	hz_vm_trace_counts(vm);
}

/* --trace prints the counts this often while the guest runs. */
#define TRACE_PERIOD_NS (5ull * 1000000000)

/* --trace: the frames net device @d dropped, by reason, if any. */
static void trace_drops(const struct hz_device *d)
{
	char line[512];
	size_t n = 0;
	uint64_t oversize = hz_count_read(&d->rx_oversize);
	uint64_t refused[HZ_TAP_RX_NREFUSALS];
	uint64_t all = oversize + d->rx_overflow;

	for (unsigned r = 0; r < HZ_TAP_RX_NREFUSALS; r++)
		all += refused[r] = hz_count_read(&d->rx_refused[r]);
	if (d->kind != HZ_DEVICE_KIND_NET || all == 0)
		return;
	n += (size_t)snprintf(line, sizeof(line), "oversize=%llu overflow=%llu",
			      (unsigned long long)oversize,
			      (unsigned long long)d->rx_overflow);
	for (unsigned r = 1; r < HZ_TAP_RX_NREFUSALS && n < sizeof(line); r++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
				      hz_tap_refusal_name[r],
				      (unsigned long long)refused[r]);
	hz_tender_log("trace: net %s dropped %s", d->name, line);
}

/* What the net rings' I/O thread did, over every NIC. */
struct ring_sums {
	uint64_t tx, rx, refused, failed;
};

/* Sums the counts the I/O thread keeps as it goes. */
static struct ring_sums ring_sums(const struct hz_vm *vm)
{
	struct ring_sums s = {0};

	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct hz_ring *r = &vm->dev[i].ring;
		s.tx += hz_count_read(&r->tx_frames);
		s.rx += hz_count_read(&r->rx_frames);
		s.refused += hz_count_read(&r->tx_refused);
		s.failed +=
		    hz_count_read(&r->tx_failed) + hz_count_read(&r->rx_errors);
	}
	return s;
}

/* --trace: what the I/O thread did (@s), and its kicks, wakes, sleeps. */
static void trace_rings(const struct hz_vm *vm, const struct ring_sums *s)
{
	hz_tender_log("trace: rings tx=%llu rx=%llu refused=%llu failed=%llu "
		      "kicks=%llu wakes=%llu sleeps=%llu",
		      (unsigned long long)s->tx, (unsigned long long)s->rx,
		      (unsigned long long)s->refused,
		      (unsigned long long)s->failed,
		      (unsigned long long)hz_count_read(&vm->ring_kicks),
		      (unsigned long long)hz_count_read(&vm->ring_wakes),
		      (unsigned long long)hz_count_read(&vm->ring_sleeps));
}

void hz_vm_trace_counts(const struct hz_vm *vm)
{
	const uint64_t *c = vm->st.calls;
	struct ring_sums rings = ring_sums(vm);
	/* Frames through net rings moved without an exit of their own. */
	uint64_t frames =
	    vm->st.frames_read + vm->st.frames_written + rings.tx + rings.rx;

	hz_tender_log("trace: exits=%llu yield=%llu console=%llu net_read=%llu "
		      "frames_read=%llu net_write=%llu frames_written=%llu "
		      "yield_tx=%llu yield_rx=%llu net_kick=%llu block=%llu "
		      "frames_per_exit=%.2f",
		      (unsigned long long)vm->st.exits,
		      (unsigned long long)c[HZ_KVM_CALL_YIELD],
		      (unsigned long long)c[HZ_KVM_CALL_CONSOLE],
		      (unsigned long long)c[HZ_KVM_CALL_NET_READ],
		      (unsigned long long)vm->st.frames_read,
		      (unsigned long long)c[HZ_KVM_CALL_NET_WRITE],
		      (unsigned long long)vm->st.frames_written,
		      (unsigned long long)vm->st.yield_tx,
		      (unsigned long long)vm->st.yield_rx,
		      (unsigned long long)c[HZ_KVM_CALL_NET_KICK],
		      (unsigned long long)(c[HZ_KVM_CALL_BLOCK_READ] +
					   c[HZ_KVM_CALL_BLOCK_WRITE] +
					   c[HZ_KVM_CALL_BLOCK_FLUSH]),
		      vm->st.exits ? (double)frames / (double)vm->st.exits
				   : 0.0);
	if (vm->rings)
		trace_rings(vm, &rings);
	for (unsigned i = 0; i < vm->ndev; i++)
		trace_drops(&vm->dev[i]);
}

/* --trace: the counts every TRACE_PERIOD_NS, for a guest never ending. */
static void trace_tick(struct hz_vm *vm)
{
	uint64_t now;

	if (!vm->trace)
		return;
	now = hz_tender_now();
	if (vm->st.next_ns == 0)
		vm->st.next_ns = now + TRACE_PERIOD_NS;
	if (now < vm->st.next_ns)
		return;
	vm->st.next_ns = now + TRACE_PERIOD_NS;
	hz_vm_trace_counts(vm);
}

/* Counts the frames net call @io (a write if @write) moved. */
static void net_count(struct hz_vm *vm, const struct hz_kvm_net_io *io,
		      bool write)
{
	if (io->ret > 0)
		*(write ? &vm->st.frames_written : &vm->st.frames_read) +=
		    (uint64_t)io->ret;
}

void hz_vm_dispatch(struct hz_vm *vm, unsigned call, uint64_t gpa)
{
	if (call < HZ_KVM_CALL_COUNT_)
		vm->st.calls[call]++;
	switch (call) {
	case HZ_KVM_CALL_CONSOLE: {
		struct hz_kvm_console a;
		get_arg(vm, gpa, &a, sizeof(a), "console", ARG_IN);
		const void *p = hz_guest_ptr(vm, a.data, a.len);
		if (!p)
			hz_bad_call("console: buffer 0x%llx+%llu outside guest "
				    "memory",
				    (unsigned long long)a.data,
				    (unsigned long long)a.len);
		hz_console_write(vm, p, a.len);
		return;
	}
	case HZ_KVM_CALL_YIELD: {
		struct hz_kvm_yield a;
		struct hz_net_batch tx, rx;
		get_arg(vm, gpa, &a, sizeof(a), "yield", ARG_INOUT);
		/* Both batches are checked before anything moves: a malformed
		 * one ends the VM with nothing sent or waited for. */
		a.tx.ret = 0;
		a.rx.ret = 0;
		bool send =
		    a.tx.count > 0 && hz_net_check(vm, &a.tx, true, &tx) == 0;
		bool recv =
		    a.rx.count > 0 && hz_net_check(vm, &a.rx, false, &rx) == 0;
		/* The guest's staged frames go before it waits. */
		if (a.tx.count > 0) {
			if (send)
				hz_net_move(&a.tx, true, &tx);
			net_count(vm, &a.tx, true);
			vm->st.yield_tx++;
		}
		/* Frames left on a tx ring for this exit to send. */
		if (vm->rings)
			hz_rings_yield(vm);
		a.ready = hz_devices_wait(vm, a.timeout_ns, a.interest);
		/* What arrived for the posted buffers comes back with it
		 * (hz_net_check passed: rx.handle names a device). */
		if (recv && (a.ready & 1ull << a.rx.handle)) {
			hz_net_move(&a.rx, false, &rx);
			net_count(vm, &a.rx, false);
			vm->st.yield_rx++;
		}
		put_arg(vm, gpa, &a, sizeof(a));
		trace_tick(vm);
		return;
	}
	case HZ_KVM_CALL_NET_READ:
	case HZ_KVM_CALL_NET_WRITE: {
		struct hz_kvm_net_io a;
		get_arg(vm, gpa, &a, sizeof(a), "net", ARG_INOUT);
		hz_net_io(vm, &a, call == HZ_KVM_CALL_NET_WRITE);
		net_count(vm, &a, call == HZ_KVM_CALL_NET_WRITE);
		put_arg(vm, gpa, &a, sizeof(a));
		return;
	}
	case HZ_KVM_CALL_BLOCK_READ:
	case HZ_KVM_CALL_BLOCK_WRITE:
	case HZ_KVM_CALL_BLOCK_FLUSH: {
		struct hz_kvm_block_io a;
		get_arg(vm, gpa, &a, sizeof(a), "block", ARG_INOUT);
		hz_block_io(vm, &a, call);
		put_arg(vm, gpa, &a, sizeof(a));
		return;
	}
	case HZ_KVM_CALL_ENTROPY: {
		struct hz_kvm_entropy a;
		get_arg(vm, gpa, &a, sizeof(a), "entropy", ARG_INOUT);
		void *p = hz_guest_ptr_writable(vm, a.buf, a.len);
		if (!p)
			hz_bad_call("entropy: buffer 0x%llx+%llu outside "
				    "writable guest memory",
				    (unsigned long long)a.buf,
				    (unsigned long long)a.len);
		if (vm->no_host_entropy) {
			a.ret = -HZ_ENOTSUP;
		} else if (a.len > HZ_KVM_ENTROPY_MAX) {
			a.ret = -HZ_EINVAL;
		} else {
			ssize_t n = getrandom(p, a.len, 0);
			a.ret = n == (ssize_t)a.len ? n : -HZ_EIO;
		}
		put_arg(vm, gpa, &a, sizeof(a));
		return;
	}
	case HZ_KVM_CALL_EXIT: {
		struct hz_kvm_exit a;
		get_arg(vm, gpa, &a, sizeof(a), "exit", ARG_IN);
		if (vm->trace)
			print_trace(vm);
		int64_t s = a.status;
		if (s < 0 || s > HZ_KVM_EXIT_GUEST_MAX)
			s = HZ_KVM_EXIT_GUEST_MAX;
		hz_gdb_guest_exit(vm, (int)s);
		hz_tender_exit((int)s);
	}
	case HZ_KVM_CALL_ABORT:
		if (vm->trace)
			print_trace(vm);
		hz_tender_log("guest aborted");
		hz_gdb_guest_end(vm, NULL, HZ_GDB_SIGABRT);
		hz_tender_exit(HZ_KVM_EXIT_ABORT);
	case HZ_KVM_CALL_FAULT: {
		struct hz_kvm_fault f;
		get_arg(vm, gpa, &f, sizeof(f), "fault", ARG_IN);
		/* --gdb where KVM does not intercept #BP and #DB (PVM): one
		 * of gdb's breakpoints or steps, not a fault. */
		if (hz_gdb_fault_trap(vm, &f))
			return;
		hz_fault_report(vm, &f);
		hz_gdb_guest_end(vm, &f, 0);
		hz_tender_exit(HZ_KVM_EXIT_FAULT);
	}
	case HZ_KVM_CALL_MAIN: {
		struct hz_kvm_mark a;
		get_arg(vm, gpa, &a, sizeof(a), "main", ARG_IN);
		if (vm->t_main_ns)
			return; /* main is reached once; a repeat is a lie */
		vm->t_main_ns = hz_tender_now();
		/* The guest's TSC is its word: kept between the first
		 * KVM_RUN and now, so the notices stay in order. */
		uint64_t first = tsc_to_ns(vm, a.tsc_entry);
		if (first < vm->t_run_ns)
			first = vm->t_run_ns;
		if (first > vm->t_main_ns)
			first = vm->t_main_ns;
		vm->t_first_ns = first;
		hz_notify(vm->notify_fd, "guest", vm->t_first_ns);
		hz_notify(vm->notify_fd, "main", vm->t_main_ns);
		return;
	}
	case HZ_KVM_CALL_NET_RINGS: {
		struct hz_kvm_net_rings a;
		get_arg(vm, gpa, &a, sizeof(a), "net rings", ARG_INOUT);
		hz_net_rings(vm, &a);
		put_arg(vm, gpa, &a, sizeof(a));
		return;
	}
	case HZ_KVM_CALL_NET_KICK:
		/* Nothing is read: the call is the message (abi.h). */
		hz_net_kick(vm);
		return;
	case HZ_KVM_CALL_READY:
		/* Nothing is read from the guest: the call is the message. */
		if (!vm->told_ready) {
			vm->told_ready = true;
			hz_notify(vm->notify_fd, "ready", hz_tender_now());
		}
		return;
	default:
		hz_bad_call("unknown call %u", call);
	}
}

/* Ends the VM unless the MMIO exit is a 32-bit store to a call's slot. */
static void check_mmio(bool is_write, uint32_t len, uint64_t off)
{
	if (!is_write)
		hz_bad_call("load of %u bytes from the hypercall page "
			    "(offset 0x%llx)",
			    len, (unsigned long long)off);
	if (len != 4 || off % 8)
		hz_bad_call("store of %u bytes at hypercall offset 0x%llx "
			    "(a call is a 4-byte store to its 8-byte slot)",
			    len, (unsigned long long)off);
	if (off / 8 >= HZ_KVM_CALL_COUNT_)
		hz_bad_call("unknown call %llu", (unsigned long long)(off / 8));
}

/* Reports the vCPU's registers after an exit the guest did not ask for. */
static HZ_NORETURN void cpu_died(struct hz_vm *vm, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		hz_tender_die(HZ_KVM_EXIT_FAULT,
			      "guest stopped: %s (registers unreadable: %s)",
			      why, strerror(errno));
	hz_tender_log(
	    "guest stopped: %s (cr0 %llx cr3 %llx cr4 %llx efer %llx)", why,
	    (unsigned long long)s.cr0, (unsigned long long)s.cr3,
	    (unsigned long long)s.cr4, (unsigned long long)s.efer);
	struct hz_kvm_fault f = {
	    .vector = ~0ull,
	    .cr2 = s.cr2,
	    .rax = r.rax,
	    .rbx = r.rbx,
	    .rcx = r.rcx,
	    .rdx = r.rdx,
	    .rsi = r.rsi,
	    .rdi = r.rdi,
	    .rbp = r.rbp,
	    .rsp = r.rsp,
	    .r8 = r.r8,
	    .r9 = r.r9,
	    .r10 = r.r10,
	    .r11 = r.r11,
	    .r12 = r.r12,
	    .r13 = r.r13,
	    .r14 = r.r14,
	    .r15 = r.r15,
	    .rip = r.rip,
	    .cs = s.cs.selector,
	    .rflags = r.rflags,
	    .ss = s.ss.selector,
	};
	hz_fault_report(vm, &f);
	hz_gdb_guest_end(vm, &f, 0);
	hz_tender_exit(HZ_KVM_EXIT_FAULT);
}

int hz_vm_run(struct hz_vm *vm)
{
	struct kvm_run *run = vm->run;

	vm->t_run_ns = hz_tender_now();
	/* --gdb: gdb has the guest before its first instruction. */
	hz_gdb_serve(vm, 0, false);
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			hz_tender_die(HZ_KVM_EXIT_BADCALL, "KVM_RUN: %s",
				      strerror(errno));
		}
		vm->st.exits++;
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO: {
			uint64_t a = run->mmio.phys_addr;
			uint64_t off = a - HZ_KVM_HYPERCALL_GPA;
			if (a < HZ_KVM_HYPERCALL_GPA || off >= LARGE)
				cpu_died(vm, "access outside guest memory");
			check_mmio(run->mmio.is_write, run->mmio.len, off);
			uint32_t gpa;
			memcpy(&gpa, run->mmio.data, sizeof(gpa));
			hz_vm_dispatch(vm, (unsigned)(off / 8), gpa);
			/* A FAULT that returns was a trap of gdb's, the vCPU
			 * already back where the guest stopped. */
			if (off / 8 != HZ_KVM_CALL_FAULT)
				hz_gdb_after_call(vm);
			break;
		}
		case KVM_EXIT_DEBUG:
			/* Only with --gdb: breakpoints and steps. */
			hz_gdb_debug_exit(vm);
			break;
		case KVM_EXIT_HLT:
			cpu_died(vm, "halted");
		case KVM_EXIT_SHUTDOWN:
			cpu_died(vm, "triple fault (exception with no "
				     "usable handler)");
		case KVM_EXIT_FAIL_ENTRY:
			hz_tender_die(HZ_KVM_EXIT_BADCALL,
				      "KVM entry failed, reason 0x%llx",
				      (unsigned long long)run->fail_entry
					  .hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR: {
			char why[64];
			snprintf(why, sizeof(why),
				 "KVM internal error, suberror %u",
				 run->internal.suberror);
			cpu_died(vm, why);
		}
		default:
			hz_tender_die(HZ_KVM_EXIT_BADCALL,
				      "unexpected KVM exit %u",
				      run->exit_reason);
		}
	}
}
