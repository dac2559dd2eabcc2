/*
 * The notices of platform/host/notify.h, written by the unix target and
 * haze-kvm alike. hz_notify runs inside haze-kvm's sandbox: it makes no
 * system call but the one write(2).
 */
#include "platform/host/notify.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/host/options.h"

int hz_notify_setup(const char *s, int *fd, struct hz_errmsg *err)
{
	struct sigaction sa;
	int flags, r;

	r = hz_host_parse_fd("--notify", s, fd, err);
	if (r < 0)
		return r;
	flags = fcntl(*fd, F_GETFL);
	if (flags < 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "--notify %s: descriptor %d is not open",
				     s, *fd);
	if ((flags & O_ACCMODE) == O_RDONLY)
		return hz_errmsg_set(
		    err, -HZ_EINVAL,
		    "--notify %s: descriptor %d is not open for writing", s,
		    *fd);
	/* A reader that closed its end must not kill the unikernel: the
	 * write then fails with EPIPE, which hz_notify ignores. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return hz_errmsg_set(err, -HZ_EIO,
				     "--notify: cannot ignore SIGPIPE");
	return 0;
}

void hz_notify(int fd, const char *event, uint64_t ns)
{
	char line[64];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %llu\n", event,
		     (unsigned long long)ns);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	/* One write, so the line arrives whole or not at all; a failed or
	 * short one is the reader's loss, never the unikernel's. */
	if (write(fd, line, (size_t)n) != n) {
		/* ignored: see above */
	}
}

uint64_t hz_notify_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
