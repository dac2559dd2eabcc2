/*
 * Guest entry for the kvm target.
 *
 * haze-kvm enters _start in 64-bit long mode at CPL 3 with paging, SSE,
 * descriptor tables and the FS base (stack-protector canary) already set,
 * %rsp at the top of the boot stack and %rdi pointing at the boot info.
 * The first instruction reads the TSC, so --trace can tell when the
 * guest started. The CPU exception entry stubs, which the virtio target
 * shares, are in traps.S.
 */
	.section .text.boot, "ax"
	.globl _start
	.type _start, @function
_start:
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, %rsi		/* TSC at the first instruction */
	xorl %ebp, %ebp		/* the end of the frame chain */
	call hz_kvm_boot	/* (boot info, tsc): never returns */
	ud2
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
