/*
 * The fake VM of tests/tender/fakevm.h, and the hz_tender_exit its users
 * link in place of tender/exit.c.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/tender/fakevm.h"

static jmp_buf *exit_jmp;

_Thread_local bool hz_tender_io_thread;

void hz_tender_exit(int status)
{
	if (exit_jmp)
		longjmp(*exit_jmp, status + 1); /* 0 would be "returned" */
	_exit(status);
}

void fakevm_init(struct hz_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	/* A page no one may touch follows guest memory, as in haze-kvm's
	 * layout: an access past the end faults here too, not silently. */
	vm->mem = mmap(NULL, FAKEVM_MEM + FAKEVM_GUARD, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->mem == MAP_FAILED ||
	    mprotect(vm->mem + FAKEVM_MEM, FAKEVM_GUARD, PROT_NONE) < 0)
		abort();
	vm->mem_size = FAKEVM_MEM;
	vm->notify_fd = -1;
	vm->tsc_hz = 1000000000ull;
	vm->image.fd = -1;
	vm->image.nsegs = 1;
	vm->image.segs[0] = (struct hz_segment){
	    .vaddr = HZ_KVM_IMAGE_BASE, .memsz = 4096, .flags = PF_R};
	vm->image.end = FAKEVM_HEAP;
}

void fakevm_release(struct hz_vm *vm)
{
	for (unsigned i = 0; i < vm->ndev; i++)
		if (vm->dev[i].slirp)
			hz_slirp_free(vm->dev[i].slirp);
	munmap(vm->mem, vm->mem_size + FAKEVM_GUARD);
	vm->mem = NULL;
}

/* The hypercall of fakevm_call, in fakevm_run's shape. */
struct call {
	unsigned call;
	uint64_t gpa;
};

static void do_call(struct hz_vm *vm, void *arg)
{
	const struct call *c = arg;
	hz_vm_dispatch(vm, c->call, c->gpa);
}

int fakevm_run(struct hz_vm *vm, void (*fn)(struct hz_vm *, void *), void *arg)
{
	jmp_buf jb;
	volatile int status = -1;
	int r = setjmp(jb);

	if (r == 0) {
		exit_jmp = &jb;
		fn(vm, arg);
	} else {
		status = r - 1;
	}
	exit_jmp = NULL;
	return status;
}

int fakevm_call(struct hz_vm *vm, unsigned call, uint64_t gpa)
{
	struct call c = {call, gpa};
	return fakevm_run(vm, do_call, &c);
}

void *fakevm_ptr(struct hz_vm *vm, uint64_t gpa)
{
	return vm->mem + gpa;
}
