/*
 * Entry points of the virtio target's device interrupts (irq.c): one stub
 * per vector from HZ_VIRTIO_IRQ_FIRST, all entering on their own stack
 * (IST2, boot.c), which saves what the C ABI lets a callee clobber, the
 * SSE state included (the interrupted code may be holding values in
 * %xmm registers across its hlt), and calls hz_virtio_irq_dispatch with
 * the vector. Interrupts stay off throughout: the gates are interrupt
 * gates, so no stub nests in another.
 */
#define IRQ_FIRST 48

	.text
.macro irq_stub vec
	.type hz_virtio_irq\vec, @function
hz_virtio_irq\vec:
	pushq $\vec
	jmp hz_virtio_irq_common
	.size hz_virtio_irq\vec, . - hz_virtio_irq\vec
.endm

	.irp v, 48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
	irq_stub \v
	.endr

	.type hz_virtio_irq_common, @function
hz_virtio_irq_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbx
	movl 80(%rsp), %edi		/* the vector stub's push */
	movq %rsp, %rbx
	andq $-16, %rsp
	subq $512, %rsp
	fxsave64 (%rsp)
	call hz_virtio_irq_dispatch
	fxrstor64 (%rsp)
	movq %rbx, %rsp
	popq %rbx
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $8, %rsp			/* the vector */
	iretq
	.size hz_virtio_irq_common, . - hz_virtio_irq_common

	.section .rodata
	.balign 8
	.globl hz_virtio_irq_entries
hz_virtio_irq_entries:
	.irp v, 48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
	.quad hz_virtio_irq\v
	.endr

/* The interrupt stack: a dispatch, the SSE save area and the device's
 * acknowledgement fit with room to spare. */
	.bss
	.balign 16
	.skip 16384
	.globl hz_virtio_irq_stack_top
hz_virtio_irq_stack_top:

	.section .note.GNU-stack, "", @progbits
