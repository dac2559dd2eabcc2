/*
 * Guest test: makes a console hypercall whose buffer lies outside guest
 * memory; the tender must stop the VM (fail closed), not print.
 */
#include <haze/haze.h>

#include "kvm.h"

int hz_main(int argc, char **argv)
{
	/* Overflows 64 bits when added: a naive check would pass it. */
	struct hz_kvm_console c = {0xfffffffffffff000ull, 0x2000};
	hz_kvm_call(HZ_KVM_CALL_CONSOLE, &c);
	hz_printf("bad hypercall was accepted\n");
	return 0;
}
