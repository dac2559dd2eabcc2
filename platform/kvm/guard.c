/*
 * Guard pages on haze-kvm: hz_platform_guard edits the guest's own page
 * tables, and a page fault in a guard page names the fiber that overflowed
 * before the tender's fault report.
 *
 * The guest runs in ring 3 (abi.h) and its page tables are CPL 0's alone,
 * so every edit is made at CPL 0: hz_kvm_ring0_call's ud2 traps into
 * traps.S, which hands the frame to hz_kvm_trap. A guard page is a
 * not-present entry carrying PTE_GUARD, a bit the CPU ignores there;
 * unguarding puts the heap's entry back. The heap is mapped with 2 MiB
 * pages above the image's last 2 MiB, so a guard there first splits its
 * 2 MiB into a table of 512 entries. Those tables come from a pool at the
 * start of the heap (hz_kvm_guard_reserve): one page per 2 MiB of heap,
 * at most, touched only when used. Ring 3 fills a table while it is
 * still an ordinary heap page; CPL 0 installs it and takes it out of
 * ring 3's reach in the same step, so after that no ring-3 store can
 * change the guest's mappings. A table whose own 2 MiB is not split yet
 * becomes the table of that 2 MiB, mapping itself supervisor-only.
 *
 * The code that runs at CPL 0 (marked RING0) uses no SSE, since some hosts
 * emulate CPL 0 one instruction at a time and cannot emulate SSE, and no
 * stack protector, and calls nothing outside this file.
 */
#include <stddef.h>
#include <stdint.h>

#include "haze/platform.h"
#include "kvm.h"

#define RING0 __attribute__((target("general-regs-only"), no_stack_protector))

#define PAGE 4096ull
#define LARGE (2ull << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_U 0x4ull
#define PTE_A 0x20ull /* set by the CPU on access */
#define PTE_D 0x40ull /* set by the CPU on write */
#define PTE_PS 0x80ull
#define PTE_GUARD 0x200ull /* software bit: this absent page is a guard */
#define PTE_NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull
/* The heap's entries as the tender writes them (tender/vm.c). */
#define HEAP_BITS (PTE_P | PTE_RW | PTE_NX | PTE_U)
/* A table's own entry: read-write at CPL 0 only. */
#define TABLE_BITS (PTE_P | PTE_RW | PTE_NX)

#define RFLAGS_TF 0x100ull
#define RFLAGS_DF 0x400ull
#define VECTOR_UD 6
#define VECTOR_PF 14
#define PF_PRESENT 0x1ull /* error code: the page was present */

/* What hz_kvm_ring0_call does, and what it answers. */
enum { OP_GUARD = 1, OP_UNGUARD, OP_SPLIT };
enum { DONE = 0, NEEDS_SPLIT = 1, REFUSED = -1 };

/* traps.S finds the frame's fields by these offsets. */
_Static_assert(offsetof(struct hz_kvm_fault, cs) == 152, "FAULT_CS");
_Static_assert(sizeof(struct hz_kvm_fault) % 16 == 8, "frame alignment");

/* From traps.S: does @op at CPL 0 through hz_kvm_trap. */
long hz_kvm_ring0_call(long op, uint64_t va, uint64_t table);

/* The pool of page tables for splits, [pool_next, pool_end). */
static uintptr_t pool_next, pool_end;

/* The interrupted state of a guard fault, while ring 3 names the fiber. */
static struct {
	struct hz_kvm_fault *frame;
	uint64_t rip, rsp, rdi, rflags;
} overflow;
static uint8_t overflow_stack[16384] __attribute__((aligned(16)));

/* --- CPU privilege level 0 ------------------------------------------------ */

/* Whether entry @e is @want, whatever the CPU's accessed and dirty bits. */
RING0 static bool entry_is(uint64_t e, uint64_t want)
{
	return (e & ~(PTE_A | PTE_D)) == want;
}

/* The table entry @e points to: page tables are identity-mapped. */
RING0 static uint64_t *table_of(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & ADDR_MASK);
}

/* The page-directory entry that maps @va, or NULL. */
RING0 static uint64_t *pde_of(uint64_t va)
{
	uint64_t cr3, e;

	if (va >= 1ull << 39) /* the tender maps the first PML4 entry only */
		return NULL;
	__asm__ volatile("movq %%cr3, %0" : "=r"(cr3));
	e = table_of(cr3)[0];
	if (!(e & PTE_P))
		return NULL;
	e = table_of(e)[va >> 30 & 511];
	if (!(e & PTE_P) || (e & PTE_PS))
		return NULL;
	return &table_of(e)[va >> 21 & 511];
}

/* The page-table entry that maps @va, or NULL if no 4 KiB table does. */
RING0 static uint64_t *pte_of(uint64_t va)
{
	uint64_t *pde = pde_of(va);

	if (pde == NULL || !(*pde & PTE_P) || (*pde & PTE_PS))
		return NULL;
	return &table_of(*pde)[va >> 12 & 511];
}

/* Makes heap page @va a guard page, or a guard page a heap page again. */
RING0 static long guard_op(uint64_t va, bool guard)
{
	uint64_t *pde = pde_of(va), *pte;

	if (va % PAGE != 0 || pde == NULL)
		return REFUSED;
	if (*pde & PTE_PS)
		return guard && entry_is(*pde, (va & ~(LARGE - 1)) | HEAP_BITS |
						   PTE_PS)
			   ? NEEDS_SPLIT
			   : REFUSED;
	pte = &table_of(*pde)[va >> 12 & 511];
	if (guard ? !entry_is(*pte, va | HEAP_BITS) : *pte != (va | PTE_GUARD))
		return REFUSED;
	*pte = guard ? va | PTE_GUARD : va | HEAP_BITS;
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
	return DONE;
}

/*
 * Maps the 2 MiB heap page holding @va through @table, which ring 3 has
 * filled, and maps @table itself for CPL 0 only. @table must be a heap
 * page already mapped by a 4 KiB table, or lie in the 2 MiB it maps
 * (NEEDS_SPLIT when its own 2 MiB must be split first).
 */
RING0 static long split_op(uint64_t va, uint64_t table)
{
	uint64_t base = va & ~(LARGE - 1);
	uint64_t *pde = pde_of(va), *own;

	if (table % PAGE != 0 || pde == NULL ||
	    !entry_is(*pde, base | HEAP_BITS | PTE_PS))
		return REFUSED;
	if ((table & ~(LARGE - 1)) != base) {
		own = pte_of(table);
		if (own == NULL) {
			uint64_t *tpde = pde_of(table);

			return tpde != NULL && (*tpde & PTE_PS) ? NEEDS_SPLIT
								: REFUSED;
		}
		if (!entry_is(*own, table | HEAP_BITS))
			return REFUSED;
	}
	*pde = table | PTE_P | PTE_RW | PTE_U;
	*pte_of(table) = table | TABLE_BITS; /* maybe inside @table itself */
	/* The 2 MiB translation may be cached: drop every translation. */
	__asm__ volatile("movq %%cr3, %%rax\n\tmovq %%rax, %%cr3"
			 :
			 :
			 : "rax", "memory");
	return DONE;
}

/* Whether @addr lies in a guard page. */
RING0 static bool in_guard(uint64_t addr)
{
	uint64_t *pte = pte_of(addr);

	return pte != NULL && *pte == ((addr & ~(PAGE - 1)) | PTE_GUARD);
}

static HZ_NORETURN void report_overflow(uint64_t addr);

/*
 * Called by traps.S for every exception from ring 3, with its frame:
 * returns true to resume the guest as the frame now says, false to
 * report the exception and end the VM.
 */
RING0 bool hz_kvm_trap(struct hz_kvm_fault *f)
{
	if (f->vector == VECTOR_UD &&
	    f->rip == (uint64_t)(uintptr_t)hz_kvm_ring0_call) {
		f->rip += 2; /* past the ud2 */
		if (f->rdi == OP_GUARD || f->rdi == OP_UNGUARD)
			f->rax = (uint64_t)guard_op(f->rsi, f->rdi == OP_GUARD);
		else if (f->rdi == OP_SPLIT)
			f->rax = (uint64_t)split_op(f->rsi, f->rdx);
		else
			f->rax = (uint64_t)REFUSED;
		return true;
	}
	/* A stack overflow: name the fiber in ring 3, on a stack of its own,
	 * then report the fault as it happened. Only once. */
	if (f->vector == VECTOR_PF && !(f->error_code & PF_PRESENT) &&
	    overflow.frame == NULL && in_guard(f->cr2)) {
		overflow.frame = f;
		overflow.rip = f->rip;
		overflow.rsp = f->rsp;
		overflow.rdi = f->rdi;
		overflow.rflags = f->rflags;
		f->rip = (uint64_t)(uintptr_t)report_overflow;
		/* As after a call: 8 below a 16-byte boundary. */
		f->rsp = (uint64_t)(uintptr_t)(overflow_stack +
					       sizeof(overflow_stack) - 8);
		f->rdi = f->cr2;
		f->rflags &= ~(RFLAGS_TF | RFLAGS_DF);
		return true;
	}
	return false;
}

/* --- ring 3 --------------------------------------------------------------- */

/* Where hz_kvm_trap sends a guard fault: the fiber's name, then the
 * report of the fault with the registers it interrupted. */
static HZ_NORETURN void report_overflow(uint64_t addr)
{
	struct hz_kvm_fault *f = overflow.frame;

	(void)hz_runtime_fault((uintptr_t)addr); /* false: no fiber's */
	f->rip = overflow.rip;
	f->rsp = overflow.rsp;
	f->rdi = overflow.rdi;
	f->rflags = overflow.rflags;
	hz_kvm_fault_report(f);
}

size_t hz_kvm_guard_reserve(uintptr_t heap_start, size_t heap_size)
{
	/* A table per 2 MiB the heap overlaps, at most. */
	size_t pages = (heap_size + LARGE - 1) / LARGE + 1;

	pool_next = heap_start;
	pool_end = heap_start + pages * PAGE;
	return pages * PAGE;
}

/* Fills @table to map the 2 MiB holding @va as the tender does, but for
 * @table itself, which only CPL 0 may touch once it is installed. */
static void table_fill(uint64_t *table, uintptr_t va)
{
	uintptr_t base = va & ~(LARGE - 1);

	for (unsigned i = 0; i < 512; i++) {
		uintptr_t q = base + i * PAGE;

		table[i] = q | (q == (uintptr_t)table ? TABLE_BITS : HEAP_BITS);
	}
}

/* Splits the 2 MiB page holding @va into 4 KiB pages. */
static int split(uintptr_t va)
{
	while (pool_next < pool_end) {
		uintptr_t t = pool_next;
		long r;

		table_fill((uint64_t *)t, va);
		r = hz_kvm_ring0_call(OP_SPLIT, va, t);
		if (r != NEEDS_SPLIT) {
			pool_next += PAGE;
			return r == DONE ? 0 : -HZ_EINVAL;
		}
		/* t's own 2 MiB comes first: t becomes its table, and the
		 * next page of the pool serves @va. */
		table_fill((uint64_t *)t, t);
		pool_next += PAGE;
		if (hz_kvm_ring0_call(OP_SPLIT, t, t) != DONE)
			return -HZ_EINVAL;
	}
	return -HZ_ENOMEM; /* cannot happen: the pool covers the heap */
}

int hz_platform_guard(void *page, bool guard)
{
	uintptr_t va = (uintptr_t)page;
	long r = hz_kvm_ring0_call(guard ? OP_GUARD : OP_UNGUARD, va, 0);

	if (r == NEEDS_SPLIT) {
		int e = split(va);

		if (e < 0)
			return e;
		r = hz_kvm_ring0_call(OP_GUARD, va, 0);
	}
	return r == DONE ? 0 : -HZ_EINVAL;
}
