/*
 * Internals of the kvm target's guest side: the hypercall primitive and
 * what boot.c hands platform.c.
 */
#ifndef HAZE_KVM_GUEST_H
#define HAZE_KVM_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

/* Performs hypercall @call with argument struct @arg (in guest memory). */
static inline void hz_kvm_call(unsigned call, void *arg)
{
	uintptr_t slot = HZ_KVM_HYPERCALL_GPA + 8u * call;
	__asm__ volatile("movl %0, (%1)"
			 :
			 : "r"((uint32_t)(uintptr_t)arg), "r"(slot)
			 : "memory");
}

/* Reads the time-stamp counter. */
static inline uint64_t hz_kvm_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The boot info, copied out of the tender's read-only page. */
extern struct hz_kvm_boot_info hz_kvm_boot_info;

/* Starts the clocks from the boot info's TSC frequency. */
void hz_kvm_clock_init(void);

/*
 * Keeps the first pages of the heap at @heap_start (@heap_size bytes) for
 * the page tables that guard pages need; returns how many bytes it kept.
 */
size_t hz_kvm_guard_reserve(uintptr_t heap_start, size_t heap_size);

/* From traps.S at CPL 0, for an exception from ring 3: resume or report. */
bool hz_kvm_trap(struct hz_kvm_fault *f);

/* Reports the exception of frame @f and ends the VM: on kvm through
 * HZ_KVM_CALL_FAULT, on virtio printed by the guest (platform/virtio). */
_Noreturn void hz_kvm_fault_report(struct hz_kvm_fault *f);

/* Entry from start.S: sets up the CPU, then starts the runtime. */
_Noreturn void hz_kvm_boot(const struct hz_kvm_boot_info *bi,
			   uint64_t tsc_entry);

#endif
