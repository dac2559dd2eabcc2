/*
 * Guard pages on the unix target: hz_platform_guard is mprotect, and a
 * SIGSEGV handler tells a fiber's stack overflow from any other fault.
 *
 * The handler runs on an alternate signal stack, since the stack that
 * overflowed has no room left for it. A fault in a guard page is named by
 * the runtime (hz_runtime_fault) and the process aborts, so it ends with
 * SIGABRT rather than the SIGSEGV of an undiagnosed fault. Any other
 * SIGSEGV is handed back: the handler reinstates the disposition it
 * found, and the faulting instruction, run again, faults under that one.
 * Under ASan that is ASan's report, exactly as without this handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "haze/mem.h"
#include "haze/platform.h"
#include "platform/unix/unix.h"

/* Room for the handler; an alternate stack already there may be used. */
#define ALT_STACK_SIZE (64u * 1024)

static struct sigaction previous;
static bool installed;

int hz_platform_guard(void *page, bool guard)
{
	if ((uintptr_t)page % HZ_PAGE_SIZE != 0)
		return -HZ_EINVAL;
	if (mprotect(page, HZ_PAGE_SIZE,
		     guard ? PROT_NONE : PROT_READ | PROT_WRITE) == 0)
		return 0;
	/* ENOMEM: past vm.max_map_count (each guard splits a mapping). */
	return errno == ENOMEM ? -HZ_ENOMEM : -HZ_EINVAL;
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (info->si_code > 0 && hz_runtime_fault((uintptr_t)info->si_addr))
		abort();
	sigaction(sig, &previous, NULL);
	/* A signal that kill() sent does not come again by itself. */
	if (info->si_code <= 0)
		raise(sig);
}

int hz_unix_fault_init(struct hz_errmsg *err)
{
	struct sigaction sa;
	stack_t ss;

	if (installed)
		return 0;
	if (sigaltstack(NULL, &ss) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "sigaltstack: %s",
				     strerror(errno));
	/* ASan sets one up for its own handler: it does for ours too. */
	if ((ss.ss_flags & SS_DISABLE) || ss.ss_size < ALT_STACK_SIZE / 2) {
		ss.ss_sp = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ss.ss_sp == MAP_FAILED)
			return hz_errmsg_set(err, -HZ_EIO,
					     "cannot map a signal stack: %s",
					     strerror(errno));
		ss.ss_size = ALT_STACK_SIZE;
		ss.ss_flags = 0;
		if (sigaltstack(&ss, NULL) < 0) {
			int r = hz_errmsg_set(err, -HZ_EIO, "sigaltstack: %s",
					      strerror(errno));

			munmap(ss.ss_sp, ALT_STACK_SIZE);
			return r;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "sigaction: %s",
				     strerror(errno));
	installed = true;
	return 0;
}
