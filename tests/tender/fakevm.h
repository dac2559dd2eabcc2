/*
 * A VM for driving haze-kvm's code in-process, without /dev/kvm: guest
 * memory is a plain mapping, and hz_tender_exit (which the tender calls
 * to end the VM) returns to the caller of fakevm_call instead of ending
 * the process. The hostile-guest tests (tests/tender) and the hypercall
 * fuzzer (fuzz/fuzz_hypercall.c) share it.
 */
#ifndef HAZE_TESTS_TENDER_FAKEVM_H
#define HAZE_TESTS_TENDER_FAKEVM_H

#include "tender/tender.h"

/* Guest memory of a fake VM: enough for an image area and a heap. */
#define FAKEVM_MEM (32u << 20)

/* Bytes of PROT_NONE mapping right after a fake VM's guest memory. */
#define FAKEVM_GUARD 4096u

/* Guest address where the fake VM's heap (guest-writable) begins. */
#define FAKEVM_HEAP HZ_KVM_SMALL_PAGE_LIMIT

/*
 * Sets up @vm with FAKEVM_MEM bytes of guest memory and no devices: the
 * image area holds one read-only page at HZ_KVM_IMAGE_BASE (rodata) and
 * nothing else, so addresses from FAKEVM_HEAP up are guest-writable;
 * FAKEVM_GUARD bytes that fault on any access follow guest memory.
 * Aborts the test process if memory cannot be had.
 */
void fakevm_init(struct hz_vm *vm);

/* Frees @vm's guest memory and its user NICs' libslirp instances. */
void fakevm_release(struct hz_vm *vm);

/*
 * Makes hypercall @call with its argument struct at guest @gpa. Returns
 * -1 if the call returned, else the status the tender ended the VM with.
 */
int fakevm_call(struct hz_vm *vm, unsigned call, uint64_t gpa);

/* Runs @fn(@vm, @arg) as fakevm_call runs a hypercall; -1 or the status. */
int fakevm_run(struct hz_vm *vm, void (*fn)(struct hz_vm *, void *), void *arg);

/* Returns a host pointer to guest address @gpa of @vm (unchecked). */
void *fakevm_ptr(struct hz_vm *vm, uint64_t gpa);

#endif
