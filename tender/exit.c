/*
 * How the tender ends, kept in a file of its own so that the tests and
 * fuzz harnesses driving the tender's code in-process can link their own
 * hz_tender_exit and get control back after a refused hypercall.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tender.h"

_Thread_local bool hz_tender_io_thread;

void hz_tender_exit(int status)
{
	/* The I/O thread ends the process at once: exit(3) is not safe
	 * beside the vCPU's own, and its locks could need futex, which
	 * the sandbox refuses. */
	if (hz_tender_io_thread)
		syscall(SYS_exit_group, status);
	exit(status);
}
