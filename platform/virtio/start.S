/*
 * PVH entry of a Haze image on the virtio target (docs/virtio.md).
 *
 * A PVH loader (QEMU's -kernel, Firecracker) finds the Xen note below,
 * XEN_ELFNOTE_PHYS32_ENTRY, and enters hz_virtio_pvh_start in 32-bit
 * protected mode with paging off, flat segments, interrupts off and %ebx
 * holding the physical address of struct hvm_start_info. Nothing else is
 * set up, not even a stack, so this file does the least that C needs:
 * zeroes .bss (loaders need not), identity-maps the first 4 GiB with
 * 2 MiB pages, turns on PAE, SSE, NX and long mode, loads a GDT with one
 * 64-bit code segment and jumps to 64-bit code, which sets the FS base
 * for the stack protector and calls hz_virtio_boot (boot.c). That
 * replaces these boot page tables with the final map and the GDT's TSS.
 *
 * The guest runs at CPL 0. Exceptions enter through the kvm target's
 * stubs (platform/kvm/traps.S); the only interrupts are the PIT's timer,
 * which ends a halt in hz_platform_yield, and the spurious vectors.
 */
#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_EM 0x4
#define CR0_NE 0x20
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define EFER_NXE 0x800
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define PIC1_CMD 0x20

/* The PVH note: the loader reads a 32-bit physical entry address. */
	.section .note.xen, "a"
	.balign 4
	.long 4				/* namesz: "Xen" */
	.long 4				/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long hz_virtio_pvh_start

	.section .text.boot, "ax"
	.code32
	.globl hz_virtio_pvh_start
	.type hz_virtio_pvh_start, @function
hz_virtio_pvh_start:
	rdtsc				/* the guest's first instruction */
	movl %eax, %esi
	movl %edx, %ebp
	cld
	movl $__bss_start, %edi
	movl $_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	/* PML4[0] -> PDPT[0..3] -> 4 page directories of 2 MiB pages. */
	movl $hz_virtio_boot_pdpt + 3, hz_virtio_boot_pml4
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $hz_virtio_boot_pd + 3, %eax
	movl %eax, hz_virtio_boot_pdpt(, %ecx, 8)
	incl %ecx
	cmpl $4, %ecx
	jb 1b
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax			/* present, writable, 2 MiB */
	movl %eax, hz_virtio_boot_pd(, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jb 2b

	movl $hz_virtio_boot_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $(EFER_LME | EFER_NXE), %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_EM, %eax
	orl $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
	movl %eax, %cr0
	lgdt hz_virtio_gdt_ptr
	ljmp $SEL_CODE, $3f

	.code64
3:	movl $SEL_DATA, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $hz_virtio_stack_top, %rsp
	shlq $32, %rbp
	movl %esi, %esi
	orq %rbp, %rsi			/* TSC at the first instruction */
	movl %ebx, %edi			/* struct hvm_start_info */
	xorl %ebp, %ebp			/* the end of the frame chain */
	pushq %rsi
	pushq %rdi
	call hz_virtio_tls_init		/* before any stack-protected code */
	popq %rdi
	popq %rsi
	call hz_virtio_boot		/* (start info, tsc): never returns */
	ud2
	.size hz_virtio_pvh_start, . - hz_virtio_pvh_start

	.text
/*
 * The PIT's interrupt (IRQ 0, remapped to vector 32): it only has to end
 * the hlt of hz_platform_yield, so it acknowledges the PIC and returns.
 * The PIC hands its interrupts to the CPU as ExtINT, which needs no
 * local-APIC EOI.
 */
	.globl hz_virtio_irq_timer
	.type hz_virtio_irq_timer, @function
hz_virtio_irq_timer:
	pushq %rax
	movb $0x20, %al			/* non-specific EOI */
	outb %al, $PIC1_CMD
	popq %rax
	iretq
	.size hz_virtio_irq_timer, . - hz_virtio_irq_timer

/* Spurious interrupts (PIC IRQ 7 and 15, the local APIC's): no EOI. */
	.globl hz_virtio_irq_spurious
	.type hz_virtio_irq_spurious, @function
hz_virtio_irq_spurious:
	iretq
	.size hz_virtio_irq_spurious, . - hz_virtio_irq_spurious

/* The boot GDT; boot.c adds the TSS. Accessed bits preset: the CPU never
 * needs to write them. */
	.data
	.balign 16
	.globl hz_virtio_gdt
hz_virtio_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf93000000ffff	/* 0x10: data, DPL 0 */
	.quad 0, 0			/* 0x18: the TSS, 16 bytes */
hz_virtio_gdt_end:
	.balign 4
	.word 0
hz_virtio_gdt_ptr:
	.word hz_virtio_gdt_end - hz_virtio_gdt - 1
	.long hz_virtio_gdt

/* Boot page tables, and the stack with an unmapped guard page below it
 * (boot.c leaves that page out of the final map). */
	.section .bss.boot, "aw", @nobits
	.balign 4096
hz_virtio_boot_pml4:
	.skip 4096
hz_virtio_boot_pdpt:
	.skip 4096
hz_virtio_boot_pd:
	.skip 4 * 4096
	.globl hz_virtio_stack_guard
hz_virtio_stack_guard:
	.skip 4096
hz_virtio_stack:
	.skip 512 * 1024
	.globl hz_virtio_stack_top
hz_virtio_stack_top:

	.section .note.GNU-stack, "", @progbits
