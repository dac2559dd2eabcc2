/*
 * The tender's messages and clock, apart from main.c so that the tests
 * and fuzz harnesses that link single pieces of the tender (the ELF
 * loader, the sandbox) get them too. Nothing here allocates: messages
 * are printed under seccomp, after a blocked or malformed call.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tender.h"

void hz_tender_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};

	/* Cannot fail for SIGPIPE with SIG_IGN. */
	sigaction(SIGPIPE, &sa, NULL);
}

void hz_tender_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "haze-kvm: ");
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	if (write(2, buf, len) < 0) {
		/* Nowhere left to report to. */
	}
}

void hz_tender_die(int status, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hz_tender_log("%s", msg);
	hz_tender_exit(status);
}

uint64_t hz_tender_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
