/*
 * Fiber context switch for x86_64 (System V ABI).
 *
 * A context is the saved stack pointer; the stack holds the callee-saved
 * registers and the SSE/x87 control words, which the ABI also makes
 * callee-saved. Everything else is the caller's to save.
 */
	.text

/* void hz_ctx_switch(struct hz_ctx *from, struct hz_ctx *to) */
	.globl hz_ctx_switch
	.type hz_ctx_switch, @function
hz_ctx_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $16, %rsp
	stmxcsr 8(%rsp)
	fnstcw (%rsp)
	movq %rsp, (%rdi)
	movq (%rsi), %rsp
	fldcw (%rsp)
	ldmxcsr 8(%rsp)
	addq $16, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size hz_ctx_switch, .-hz_ctx_switch

/*
 * First code of a new fiber, reached by hz_ctx_switch's ret: %r12 holds the
 * entry function, %rbx its argument. The entry never returns.
 */
	.globl hz_ctx_start
	.type hz_ctx_start, @function
hz_ctx_start:
	movq %rbx, %rdi
	callq *%r12
	ud2
	.size hz_ctx_start, .-hz_ctx_start

	.section .note.GNU-stack,"",@progbits
