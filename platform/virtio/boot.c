/*
 * Boot of a Haze image on the virtio target: the C half of the PVH entry
 * (start.S). What haze-kvm prepares from the host, the guest prepares
 * here itself: the final page tables (the layout guard.c expects of
 * haze-kvm's, so the kvm target's guard pages work unchanged), the TSS
 * and IDT over the kvm target's exception stubs, the stack-protector
 * canary, the console, clocks and timer interrupt; then it reads the
 * command line and memory map from the PVH start info and starts the
 * runtime.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "haze/manifest.h"
#include "haze/platform.h"
#include "platform/kvm/kvm.h"
#include "bind.h"
#include "vdev.h"
#include "virtio.h"

#define PAGE 4096ull
#define LARGE (2ull << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_U 0x4ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
/* Heap entries exactly as haze-kvm writes them: guard.c checks for it. */
#define HEAP_BITS (PTE_P | PTE_RW | PTE_NX | PTE_U)
#define MAP_LIMIT (4ull << 30) /* the first 4 GiB only */
/* The image's 2 MiB pages are split into 4 KiB pages, as on kvm. */
#define IMAGE_LIMIT 0x1000000ull
#define IMAGE_TABLES (IMAGE_LIMIT / LARGE)

#define HVM_START_MAGIC 0x336ec578u
#define E820_RAM 1
#define CMDLINE_MAX 4096
#define ARG_MAX 64

#define MSR_FS_BASE 0xc0000100u
#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_ENABLE 0x800ull
#define APIC_SVR 0xf0
#define APIC_LINT0 0x350
#define APIC_LINT1 0x360
#define VECTOR_TIMER 32
#define VECTOR_SPURIOUS 0xff

/* The PVH boot ABI's start info (Xen's arch-x86/hvm/start_info.h). */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 on */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
	uint16_t offset0;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset1;
	uint32_t offset2;
	uint32_t zero;
};

struct table_pointer {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* From the link map (guest.ld) and start.S. */
extern char __text_start[], __rodata_start[], __data_start[], _end[];
extern char hz_virtio_stack_guard[];
extern uint64_t hz_virtio_gdt[];
extern const uint64_t hz_kvm_trap_entries[HZ_KVM_VECTORS];
extern char hz_kvm_trap_stack_top[];
extern char hz_virtio_irq_stack_top[];
void hz_virtio_irq_timer(void);
void hz_virtio_irq_spurious(void);

#define ALIGNED_PAGE __attribute__((aligned(4096)))
static uint64_t pml4[512] ALIGNED_PAGE;
static uint64_t pdpt[512] ALIGNED_PAGE;
static uint64_t pd[MAP_LIMIT / (1ull << 30)][512] ALIGNED_PAGE;
static uint64_t pt[IMAGE_TABLES][512] ALIGNED_PAGE;

static struct tss tss;
static struct idt_gate idt[256] __attribute__((aligned(16)));
/* The FS base: the x86_64 ABI keeps the stack-protector canary at 0x28. */
static uint64_t tls_block[8] __attribute__((aligned(64)));

static char cmdline[CMDLINE_MAX];
static char *argv[ARG_MAX + 1];
static uintptr_t heap_start, heap_end, image_end;
static uint64_t apic_base;

/* Reads model-specific register @msr. */
static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* Writes model-specific register @msr. */
__attribute__((no_stack_protector)) static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v),
			   "d"((uint32_t)(v >> 32)));
}

/* CPUID leaf @leaf, sub-leaf 0: eax, ebx, ecx, edx in @r. */
__attribute__((no_stack_protector)) static void cpuid(uint32_t leaf,
						      uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(0));
}

/*
 * Turns the AVX state on (CR4.OSXSAVE, XCR0 = x87 | SSE | AVX) where the
 * processor has XSAVE and AVX, so TLS's AES-GCM can run on 256-bit
 * vectors (src/tls/tls_gcm.c); as haze-kvm does for its guests. The
 * interrupt entry's FXSAVE still suffices: the handlers are built
 * without AVX, and SSE code leaves the vectors' upper halves alone.
 */
static void avx_enable(void)
{
	uint32_t r[4];
	uint64_t cr4;

	cpuid(0, r);
	if (r[0] < 0xd)
		return; /* no XSAVE leaf: the sizes below would be another's */
	cpuid(1, r);
	if (!(r[2] & (1u << 26)) || !(r[2] & (1u << 28)))
		return; /* no XSAVE or no AVX */
	cpuid(0xd, r);
	if ((r[0] & 7) != 7)
		return; /* XSAVE cannot hold the AVX state */
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 18)));
	__asm__ volatile("xsetbv" : : "c"(0), "a"(7), "d"(0));
}

/*
 * The canary: RDRAND where the CPU has it (with the TSC mixed in, in case
 * it fails), the TSC alone otherwise, which at least differs per boot.
 * Runs before any function that checks a canary.
 */
__attribute__((no_stack_protector)) void hz_virtio_tls_init(void)
{
	uint32_t id[4];
	uint64_t canary = hz_virtio_rdtsc() * 0x9e3779b97f4a7c15ull;

	cpuid(1, id);
	if (id[2] & (1u << 30)) {
		uint64_t r = 0;
		unsigned char ok = 0;
		for (int i = 0; i < 10 && !ok; i++)
			__asm__ volatile("rdrand %0; setc %1"
					 : "=r"(r), "=qm"(ok));
		canary ^= r;
	}
	tls_block[0x28 / 8] = canary & ~0xffull; /* a NUL stops overreads */
	wrmsr(MSR_FS_BASE, (uint64_t)(uintptr_t)tls_block);
}

/* Prints @msg on the console and ends the VM as an abort. */
static _Noreturn void boot_fail(const char *msg)
{
	hz_virtio_serial_write(msg, strlen(msg));
	hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
}

bool hz_virtio_names_option(struct hz_virtio_names *n, const char *value,
			    const char *too_long)
{
	if (!hz_virtio_names_set(n, value)) {
		hz_virtio_serial_write(too_long, strlen(too_long));
		return false;
	}
	return true;
}

void hz_virtio_bind_found(uint32_t kind, const struct hz_virtio_names *opt,
			  struct hz_vdev *const *found, unsigned n,
			  struct hz_vdev *bound[HZ_MANIFEST_MAX])
{
	int index[HZ_MANIFEST_MAX];
	char why[160];

	if (hz_virtio_bind(&hz_manifest, kind, opt->given ? opt->names : NULL,
			   n, index, why, sizeof(why)) < 0) {
		hz_virtio_serial_write("haze: ", 6);
		hz_virtio_serial_write(why, strlen(why));
		hz_virtio_serial_write("\n", 1);
		hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
	}
	for (unsigned i = 0; i < HZ_MANIFEST_MAX; i++)
		bound[i] = index[i] >= 0 ? found[index[i]] : NULL;
}

/* Copies the command line out of the start info, within the boot map. */
static void copy_cmdline(const struct hvm_start_info *si)
{
	const char *s = (const char *)(uintptr_t)si->cmdline_paddr;
	size_t n = 0;

	if (si->cmdline_paddr == 0 || si->cmdline_paddr >= MAP_LIMIT)
		return;
	while (n < CMDLINE_MAX - 1 && s[n] != '\0')
		n++;
	memcpy(cmdline, s, n);
	cmdline[n] = '\0';
}

/*
 * Takes @word when it is an option for the platform rather than an
 * argument for the application (virtio_mmio.device=, from QEMU; haze.net=,
 * haze.block= and haze.trace, from haze-qemu); ends the boot when such an
 * option is malformed.
 */
static bool platform_option(const char *word)
{
	static const char mmio[] = "virtio_mmio.device=", net[] = "haze.net=",
			  block[] = "haze.block=";

	if (strcmp(word, "haze.trace") == 0) {
		hz_virtio_trace_on();
		return true;
	}
	if (strncmp(word, mmio, sizeof(mmio) - 1) == 0) {
		if (!hz_virtio_mmio_option(word + sizeof(mmio) - 1))
			hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
		return true;
	}
	if (strncmp(word, net, sizeof(net) - 1) == 0) {
		if (!hz_virtio_net_option(word + sizeof(net) - 1))
			hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
		return true;
	}
	if (strncmp(word, block, sizeof(block) - 1) == 0) {
		if (!hz_virtio_blk_option(word + sizeof(block) - 1))
			hz_virtio_exit(HZ_VIRTIO_EXIT_ABORT);
		return true;
	}
	return false;
}

/*
 * Splits the command line into argv in place: words separated by blanks,
 * a double-quoted word may hold blanks, and a backslash takes the next
 * character as it is (haze-qemu quotes so). The first word is argv[0].
 * Platform options (platform_option) written without quotes or
 * backslashes are taken out, wherever they are: QEMU appends its own.
 */
static int split_args(void)
{
	char *r = cmdline, *w = cmdline;
	int argc = 0;

	for (;;) {
		bool quoted = false, literal = false;

		while (*r == ' ' || *r == '\t' || *r == '\n')
			r++;
		if (*r == '\0')
			break;
		argv[argc++] = w; /* argv[ARG_MAX] only until it is judged */
		for (; *r != '\0'; r++) {
			if (*r == '\\' && r[1] != '\0') {
				*w++ = *++r;
				literal = true;
			} else if (*r == '"') {
				quoted = !quoted;
				literal = true;
			} else if (!quoted &&
				   (*r == ' ' || *r == '\t' || *r == '\n'))
				break;
			else
				*w++ = *r;
		}
		if (*r != '\0')
			r++;
		*w++ = '\0';
		/* Past ARG_MAX words only the platform's options count: QEMU
		 * appends them after the application's arguments. */
		if ((!literal && platform_option(argv[argc - 1])) ||
		    argc > ARG_MAX)
			w = argv[--argc];
	}
	if (argc == 0)
		argv[argc++] = "haze";
	argv[argc] = NULL;
	return argc;
}

/* The heap: the largest RAM range above the image, in whole 2 MiB pages
 * (guard.c splits them), within the mapped 4 GiB. */
static void find_heap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *e =
	    (const struct hvm_memmap_entry *)(uintptr_t)si->memmap_paddr;

	if (si->version < 1 || si->memmap_paddr == 0 ||
	    si->memmap_paddr >= MAP_LIMIT)
		boot_fail("haze: the PVH start info has no memory map\n");
	for (uint32_t i = 0; i < si->memmap_entries; i++) {
		uint64_t lo = e[i].addr, hi = e[i].addr + e[i].size;

		if (e[i].type != E820_RAM || hi < lo)
			continue;
		if (lo < image_end)
			lo = image_end;
		if (hi > MAP_LIMIT)
			hi = MAP_LIMIT;
		lo = (lo + LARGE - 1) & ~(LARGE - 1);
		hi &= ~(LARGE - 1);
		if (hi > lo && hi - lo > heap_end - heap_start) {
			heap_start = (uintptr_t)lo;
			heap_end = (uintptr_t)hi;
		}
	}
	if (heap_end == heap_start)
		boot_fail("haze: no RAM for a heap above the image\n");
}

/* The entry of 4 KiB page @a of the image's 2 MiB pages. */
static uint64_t image_page(uintptr_t a)
{
	if (a == 0 || a == (uintptr_t)hz_virtio_stack_guard)
		return 0; /* the null page and the boot stack's guard */
	if (a < (uintptr_t)__text_start)
		return a | PTE_P | PTE_RW | PTE_NX; /* firmware, start info */
	if (a < (uintptr_t)__rodata_start)
		return a | PTE_P; /* text: read, execute */
	if (a < (uintptr_t)__data_start)
		return a | PTE_P | PTE_NX;
	return a | PTE_P | PTE_RW | PTE_NX;
}

/* Builds the final map and switches to it: the image in 4 KiB pages with
 * its permissions, the heap in 2 MiB pages, the local APIC uncached. */
static void map_memory(void)
{
	pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_RW;
	for (unsigned i = 0; i < MAP_LIMIT >> 30; i++)
		pdpt[i] = (uintptr_t)pd[i] | PTE_P | PTE_RW;
	for (uintptr_t a = 0; a < image_end; a += PAGE)
		pt[a / LARGE][a / PAGE % 512] = image_page(a);
	for (uintptr_t a = 0; a < image_end; a += LARGE)
		pd[0][a / LARGE] = (uintptr_t)pt[a / LARGE] | PTE_P | PTE_RW;
	for (uintptr_t a = heap_start; a < heap_end; a += LARGE)
		pd[a >> 30][a / LARGE % 512] = a | HEAP_BITS | PTE_PS;
	if (apic_base) {
		uint64_t a = apic_base & ~(LARGE - 1);
		pd[a >> 30][a / LARGE % 512] =
		    a | PTE_P | PTE_RW | PTE_NX | PTE_PCD | PTE_PWT | PTE_PS;
	}
	__asm__ volatile("movq %0, %%cr3" : : "r"(pml4) : "memory");
}

bool hz_virtio_mapped(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (end < addr)
		return false;
	if (addr >= PAGE && end <= image_end)
		return end <= (uintptr_t)hz_virtio_stack_guard ||
		       addr >= (uintptr_t)hz_virtio_stack_guard + PAGE;
	return addr >= heap_start && end <= heap_end;
}

int hz_virtio_map_mmio(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (len == 0 || end < addr || end > MAP_LIMIT)
		return -HZ_EINVAL;
	for (uint64_t a = addr & ~(LARGE - 1); a < end; a += LARGE) {
		uint64_t *e = &pd[a >> 30][a / LARGE % 512];

		if (a < image_end || (a < heap_end && a + LARGE > heap_start))
			return -HZ_EINVAL; /* RAM: a device cannot lie here */
		if (*e & PTE_P)
			continue;
		*e = a | PTE_P | PTE_RW | PTE_NX | PTE_PCD | PTE_PWT | PTE_PS;
		__asm__ volatile("invlpg (%0)" : : "r"(a) : "memory");
	}
	return 0;
}

/* Points IDT vector @v at @fn, on interrupt stack @ist (0: none). */
static void idt_set(unsigned v, uint64_t fn, unsigned ist)
{
	idt[v] = (struct idt_gate){
	    .offset0 = (uint16_t)fn,
	    .selector = 0x08,
	    .ist = (uint8_t)ist,
	    .type = 0x8e, /* present, DPL 0, interrupt gate: IF cleared */
	    .offset1 = (uint16_t)(fn >> 16),
	    .offset2 = (uint32_t)(fn >> 32),
	};
}

void hz_virtio_idt_set(unsigned v, uint64_t entry, unsigned ist)
{
	idt_set(v, entry, ist);
}

/* The TSS (its IST1 is the trap stack of traps.S, IST2 the device
 * interrupts' of irq_entry.S) and the IDT. */
static void load_tables(void)
{
	uint64_t base = (uintptr_t)&tss;
	struct table_pointer idtr = {sizeof(idt) - 1, (uintptr_t)idt};

	tss.ist[0] = (uintptr_t)hz_kvm_trap_stack_top;
	tss.ist[1] = (uintptr_t)hz_virtio_irq_stack_top;
	tss.iomap_base = sizeof(tss); /* no I/O bitmap */
	hz_virtio_gdt[3] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 |
			   0x89ull << 40 | (base >> 24 & 0xff) << 56;
	hz_virtio_gdt[4] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(0x18));
	for (unsigned v = 0; v < HZ_KVM_VECTORS; v++)
		idt_set(v, hz_kvm_trap_entries[v], 1);
	idt_set(VECTOR_TIMER, (uintptr_t)hz_virtio_irq_timer, 0);
	idt_set(VECTOR_TIMER + 7, (uintptr_t)hz_virtio_irq_spurious, 0);
	idt_set(VECTOR_TIMER + 15, (uintptr_t)hz_virtio_irq_spurious, 0);
	idt_set(VECTOR_SPURIOUS, (uintptr_t)hz_virtio_irq_spurious, 0);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* Writes register @reg of the local APIC. */
static void apic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(apic_base + reg) = v;
}

void hz_virtio_timer_init(void)
{
	/* The 8259s: IRQ 0-15 at vectors 32-47, all masked but the PIT's. */
	static const uint8_t init[][2] = {
	    {0x20, 0x11},	  {0xa0, 0x11},
	    {0x21, VECTOR_TIMER}, {0xa1, VECTOR_TIMER + 8},
	    {0x21, 0x04},	  {0xa1, 0x02},
	    {0x21, 0x01},	  {0xa1, 0x01},
	    {0x21, 0xfe},	  {0xa1, 0xff},
	};
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		hz_virtio_outb(init[i][0], init[i][1]);
	/* The PIC reaches the CPU through the local APIC's LINT0 as ExtINT
	 * ("virtual wire"): firmware usually sets it, PVH firmware may not. */
	if (apic_base) {
		apic_write(APIC_SVR, 0x100 | VECTOR_SPURIOUS);
		apic_write(APIC_LINT0, 0x700);
		apic_write(APIC_LINT1, 0x400); /* NMI */
	}
}

/* Refuses a manifest with a device of a kind the target does not know
 * (net devices are net.c's to bind, hz_virtio_net_bind; block devices
 * blk.c's, hz_virtio_blk_bind). */
static void check_manifest(void)
{
	for (uint32_t i = 0; i < hz_manifest.count && i < HZ_MANIFEST_MAX;
	     i++) {
		const struct hz_manifest_entry *e = &hz_manifest.entries[i];
		char msg[160];

		if (e->flags & HZ_DEVICE_OPTIONAL ||
		    e->kind == HZ_DEVICE_KIND_NET ||
		    e->kind == HZ_DEVICE_KIND_BLOCK)
			continue;
		snprintf(msg, sizeof(msg),
			 "haze: device '%.32s' of the manifest is of an "
			 "unknown kind (%u)\n",
			 e->name, (unsigned)e->kind);
		boot_fail(msg);
	}
}

void hz_virtio_boot(uint32_t start_info, uint64_t tsc_entry)
{
	const struct hvm_start_info *si =
	    (const struct hvm_start_info *)(uintptr_t)start_info;
	struct hz_start_info hs;
	uint32_t r[4];
	size_t pool;

	hz_virtio_serial_init();
	if (si->magic != HVM_START_MAGIC)
		boot_fail("haze: not booted through PVH (bad start info)\n");
	image_end = ((uintptr_t)_end + LARGE - 1) & ~(LARGE - 1);
	if (image_end > IMAGE_LIMIT)
		boot_fail("haze: the image extends above 16 MiB\n");
	copy_cmdline(si);
	find_heap(si);
	avx_enable();
	cpuid(1, r);
	if (r[3] & (1u << 9)) {
		uint64_t b = rdmsr(MSR_APIC_BASE);
		if (b & APIC_BASE_ENABLE)
			apic_base = b & 0xfffff000ull;
		if (apic_base >= MAP_LIMIT)
			apic_base = 0;
	}
	map_memory(); /* the start info is no longer needed */
	load_tables();
	hz_virtio_timer_init();
	hz_virtio_clock_init(tsc_entry);
	hs.argc = split_args(); /* takes the platform's options out */
	hz_virtio_mmio_probe();
	hz_virtio_pci_scan();
	hz_virtio_net_bind();
	hz_virtio_blk_bind();
	check_manifest();

	hs.argv = argv;
	/* The heap's first pages hold the page tables of guard pages. */
	pool = hz_kvm_guard_reserve(heap_start, heap_end - heap_start);
	hs.heap_start = heap_start + pool;
	hs.heap_size = heap_end - heap_start - pool;
	hs.target = "virtio";
	hz_virtio_trace_main();
	hz_runtime_start(&hs);
}
