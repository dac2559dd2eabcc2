/*
 * CPU exception entry, shared by the kvm target and the virtio target
 * (platform/virtio), which builds this file with HZ_TRAPS_CPL0 defined.
 *
 * Exceptions enter at CPL 0 on the trap stack (IST1), through the entry
 * points listed in the trap note below, from which haze-kvm builds the
 * IDT (the virtio target builds its own from hz_kvm_trap_entries). Each
 * stub pushes a dummy error code where the CPU pushes none, then its
 * vector; the common path pushes the registers and %cr2 so that the
 * stack holds a struct hz_kvm_fault (platform/kvm/abi.h).
 *
 * On kvm the guest runs in ring 3, and the frame's address goes to the
 * tender with HZ_KVM_CALL_FAULT, which never returns. Two exceptions from
 * ring 3 are the guest's own business, decided by hz_kvm_trap (guard.c):
 * the ud2 of hz_kvm_ring0_call, which asks for a page-table edit only
 * CPL 0 can make, and a page fault in a guard page, which goes on in
 * ring 3 to name the fiber before the report. For those the registers,
 * as hz_kvm_trap left them in the frame, are restored and iretq resumes
 * the guest. Nothing here touches SSE: on some hosts CPL 0 code is
 * emulated, SSE included (guard.c's CPL 0 code is built without).
 *
 * With HZ_TRAPS_CPL0 (virtio) the whole guest runs at CPL 0, so every
 * exception goes to hz_kvm_trap, except one raised while hz_kvm_trap
 * runs, and a report is hz_kvm_fault_report's (platform/virtio/fault.c),
 * printed by the guest itself.
 */
#include "abi.h"

#define FAULT_CS 152	/* offsetof(struct hz_kvm_fault, cs) */

	.text
/* A stub per vector; the CPU pushes an error code for 8, 10-14, 17, 21,
 * 29 and 30, the others push a dummy 0 to keep one frame layout. */
.macro trap_stub vec, push_zero
	.type hz_kvm_vector\vec, @function
hz_kvm_vector\vec:
	.if \push_zero
	pushq $0
	.endif
	pushq $\vec
	jmp hz_kvm_trap_common
	.size hz_kvm_vector\vec, . - hz_kvm_vector\vec
.endm

	.irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
	trap_stub \v, 1
	.endr
	.irp v, 8,10,11,12,13,14,17,21,29,30
	trap_stub \v, 0
	.endr

	.type hz_kvm_trap_common, @function
hz_kvm_trap_common:
	pushq %r15
	pushq %r14
	pushq %r13
	pushq %r12
	pushq %r11
	pushq %r10
	pushq %r9
	pushq %r8
	pushq %rbp
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rbx
	pushq %rax
	movq %cr2, %rax
	pushq %rax
#ifndef HZ_TRAPS_CPL0
	/* A fault at CPL 0 (in hz_kvm_trap itself) is reported, not retried. */
	testb $3, FAULT_CS(%rsp)
	jz 2f
#else
	/* Everything runs at CPL 0: a fault inside hz_kvm_trap is the one
	 * reported without asking it (IST1 has overwritten its frame). */
	cmpb $0, hz_kvm_trap_busy(%rip)
	jnz 2f
	movb $1, hz_kvm_trap_busy(%rip)
#endif
	cld			/* as the C ABI wants */
	movq %rsp, %rdi
	subq $8, %rsp		/* the frame is 184 bytes: realign for the call */
	call hz_kvm_trap	/* (frame): resume the guest? */
	addq $8, %rsp
#ifdef HZ_TRAPS_CPL0
	movb $0, hz_kvm_trap_busy(%rip)
#endif
	testb %al, %al		/* a bool: only %al is defined */
	jnz 3f
#ifndef HZ_TRAPS_CPL0
2:	movl $(HZ_KVM_HYPERCALL_GPA + 8 * HZ_KVM_CALL_FAULT), %edx
1:	movl %esp, (%rdx)	/* the struct's address: below 4 GiB */
	jmp 1b
#else
2:	cld
	movq %rsp, %rdi
	subq $8, %rsp
	call hz_kvm_fault_report	/* (frame): never returns */
	ud2
#endif
3:	addq $8, %rsp		/* %cr2 */
	popq %rax
	popq %rbx
	popq %rcx
	popq %rdx
	popq %rsi
	popq %rdi
	popq %rbp
	popq %r8
	popq %r9
	popq %r10
	popq %r11
	popq %r12
	popq %r13
	popq %r14
	popq %r15
	addq $16, %rsp		/* vector and error code */
	iretq
	.size hz_kvm_trap_common, . - hz_kvm_trap_common

/*
 * long hz_kvm_ring0_call(long op, uint64_t va, uint64_t table): the ud2
 * traps to CPL 0, where hz_kvm_trap recognises this address, does @op and
 * resumes at the ret with the result in %rax.
 */
	.globl hz_kvm_ring0_call
	.type hz_kvm_ring0_call, @function
hz_kvm_ring0_call:
	ud2
	ret
	.size hz_kvm_ring0_call, . - hz_kvm_ring0_call

	.bss
	.balign 16
hz_kvm_trap_stack:
	.skip 8192
	.globl hz_kvm_trap_stack_top
hz_kvm_trap_stack_top:
#ifdef HZ_TRAPS_CPL0
hz_kvm_trap_busy:
	.byte 0
#endif

/* The trap note (struct hz_kvm_traps): entry points and trap stack. */
	.section .note.haze.traps, "a"
	.balign 4
	.long 5				/* namesz: "HAZE" */
	.long (HZ_KVM_VECTORS + 1) * 8	/* descsz */
	.long HZ_KVM_NOTE_TRAPS
	.asciz "HAZE"
	.balign 4
	.globl hz_kvm_trap_entries
hz_kvm_trap_entries:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad hz_kvm_vector\v
	.endr
	.quad hz_kvm_trap_stack_top

	.section .note.GNU-stack, "", @progbits
