/*
 * haze-jitsu's command line and its one poll loop.
 *
 *   haze-jitsu CONFIG             run (as root: it sets up a bridge)
 *   haze-jitsu --check CONFIG     check CONFIG, print the zone it serves
 *   haze-jitsu --status CONFIG    the services, their memory, last timings
 *   haze-jitsu --teardown CONFIG  remove the bridge and taps (as root)
 *
 * SIGTERM or SIGINT stop every service, then the daemon. SIGQUIT ends the
 * daemon alone, leaving the services running for the next daemon to
 * adopt (a restart or an upgrade); so does any crash of the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "haze/log.h"
#include "haze/platform.h"
#include "jitsu/jitsu.h"

#define TICK_NS 1000000000ull
/* The signal, the DNS sockets and TCP clients (64), the TCP relays (64),
 * the UDP relays (128, a socket each), four a service. */
#define POLL_DNS_MAX (8 + 64 + 64 + 128)
#define POLL_MAX (1 + POLL_DNS_MAX + 4 * JITSU_SERVICES_MAX)

static struct jitsu J;

uint64_t jitsu_now(void)
{
	/* The clock jitsu/libos.c gives the library code: the DNS server's
	 * rate limiter and the daemon keep one time. */
	return hz_platform_clock_monotonic();
}

void jitsu_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: services' logs may share the terminal. */
	dprintf(2, "haze-jitsu: %.*s", n, line);
}

static HZ_NORETURN void usage(void)
{
	fprintf(stderr, "usage: haze-jitsu [--check|--status|--teardown] "
			"CONFIG\n");
	exit(2);
}

/* What a slot of the poll set is for. */
enum slot_kind {
	SLOT_SIGNAL,
	SLOT_DNS,
	SLOT_PID,
	SLOT_NOTIFY,
	SLOT_WATCH,
	SLOT_TAP
};

struct slot {
	enum slot_kind kind;
	struct jitsu_service *svc;
};

/* Whether any service still has a process. */
static bool any_live(const struct jitsu *j)
{
	for (size_t i = 0; i < j->nsvc; i++)
		if (j->svc[i].pid > 0)
			return true;
	return false;
}

/* Takes a signal; false when the daemon is to end at once (SIGQUIT). */
static bool on_signal(struct jitsu *j, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGQUIT) {
			jitsu_log("leaving the services running (SIGQUIT)");
			jitsu_state_save(j);
			return false;
		}
		if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) &&
		    !j->stopping) {
			jitsu_log("stopping every service");
			j->stopping = true;
			/* Those in backoff or failed have no process: they
			 * are stopped at once, and not started again. */
			for (size_t i = 0; i < j->nsvc; i++)
				jitsu_stop(j, &j->svc[i], "the daemon stops");
		}
	}
	return true;
}

static int run(struct jitsu *j)
{
	struct hz_errmsg err = {0};
	char path[4200];
	sigset_t set;
	int sfd;
	uint64_t next_tick = 0;

	static char zone[JITSU_ZONE_TEXT_MAX];
	size_t zone_len;

	/* The zone is the configuration's too: refused (status 2) before
	 * the host is touched. */
	if (jitsu_zone_build(j, zone, sizeof(zone), &zone_len, &err) < 0) {
		jitsu_log("%s", hz_errmsg_text(&err));
		return 2;
	}
	if (jitsu_check_reach(j, &err) < 0) {
		jitsu_log("%s", hz_errmsg_text(&err));
		return 1;
	}
	/* Opened as root and passed down to each haze-kvm (--kvm-fd): the
	 * daemon's user, and so its services, need no access to the node. */
	j->kvm_fd = -1;
	for (size_t i = 0; i < j->nsvc && j->kvm_fd < 0; i++) {
		if (j->svc[i].target != JITSU_KVM)
			continue;
		j->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (j->kvm_fd < 0) {
			jitsu_log("service %s: target kvm: /dev/kvm: %s",
				  j->svc[i].name, strerror(errno));
			return 1;
		}
	}
	if (jitsu_host_setup(j, &err) < 0 || jitsu_dns_open(j, &err) < 0) {
		jitsu_log("%s", hz_errmsg_text(&err));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/timings.log", j->state_dir);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || jitsu_drop_privileges(j, &err) < 0) {
		jitsu_log("%s",
			  sfd < 0 ? strerror(errno) : hz_errmsg_text(&err));
		return 1;
	}
	j->timings_fd =
	    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->timings_fd < 0)
		jitsu_log("%s: %s", path, strerror(errno));
	jitsu_state_adopt(j);
	jitsu_log("serving %s on %s:%u (UDP and TCP), %zu service%s, bridge %s",
		  j->zone, inet_ntoa(j->dns_addr.sin_addr),
		  ntohs(j->dns_addr.sin_port), j->nsvc, j->nsvc == 1 ? "" : "s",
		  j->bridge);
	for (;;) {
		static struct pollfd fds[POLL_MAX];
		static struct slot slots[POLL_MAX];
		uint64_t now = jitsu_now(), deadline;
		size_t n = 0, ndns;
		struct timespec timeout;

		if (now >= next_tick) {
			jitsu_tick(j, now);
			next_tick = now + TICK_NS / 4;
		}
		deadline = jitsu_dns_tick(j, now);
		if (deadline > next_tick)
			deadline = next_tick;
		fds[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
		slots[n++].kind = SLOT_SIGNAL;
		ndns = jitsu_dns_pollfds(j, fds + n, POLL_DNS_MAX);
		for (size_t i = 0; i < ndns; i++)
			slots[n++].kind = SLOT_DNS;
		for (size_t i = 0; i < j->nsvc; i++) {
			struct jitsu_service *s = &j->svc[i];
			struct {
				int fd;
				enum slot_kind kind;
				bool on;
			} want[] = {
			    {s->pidfd, SLOT_PID, true},
			    {s->notify_fd, SLOT_NOTIFY, true},
			    {s->pkt_fd, SLOT_WATCH, s->measuring},
			    {s->tap_fd, SLOT_TAP, s->state == SVC_STOPPED},
			};
			for (size_t k = 0; k < 4; k++) {
				if (want[k].fd < 0 || !want[k].on)
					continue;
				fds[n] = (struct pollfd){.fd = want[k].fd,
							 .events = POLLIN};
				slots[n].kind = want[k].kind;
				slots[n++].svc = s;
			}
		}
		uint64_t wait = deadline <= now ? 0 : deadline - now;
		timeout.tv_sec = (time_t)(wait / 1000000000u);
		timeout.tv_nsec = (long)(wait % 1000000000u);
		if (ppoll(fds, n, &timeout, NULL) < 0 && errno != EINTR) {
			jitsu_log("poll: %s", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			struct jitsu_service *s = slots[i].svc;

			if (fds[i].revents == 0)
				continue;
			switch (slots[i].kind) {
			case SLOT_SIGNAL:
				if (!on_signal(j, sfd))
					return 0;
				break;
			case SLOT_DNS:
				if (fds[i].fd == j->udp_fd)
					jitsu_dns_udp(j);
				else if (fds[i].fd == j->tcp_fd)
					jitsu_dns_accept(j);
				else
					jitsu_dns_tcp(j, fds[i].fd);
				break;
			case SLOT_PID:
				/* Notices first: the last may be its ready. */
				if (s->notify_fd >= 0)
					jitsu_notice(j, s);
				jitsu_reap(j, s);
				break;
			case SLOT_NOTIFY:
				if (s->notify_fd >= 0)
					jitsu_notice(j, s);
				break;
			case SLOT_WATCH:
				jitsu_watch_read(j, s);
				if (s->t.response != 0)
					jitsu_timings_log(j, s);
				break;
			case SLOT_TAP:
				if (s->state == SVC_STOPPED)
					jitsu_tap_drain(s);
				break;
			}
		}
		if (j->stopping && !any_live(j)) {
			for (size_t i = 0; i < j->nsvc; i++)
				jitsu_stop(j, &j->svc[i], "the daemon stops");
			jitsu_state_save(j);
			jitsu_log("every service stopped");
			return 0;
		}
	}
}

int main(int argc, char **argv)
{
	struct hz_errmsg err = {0};
	const char *mode = NULL, *config;

	if (argc == 3 && argv[1][0] == '-')
		mode = argv[1];
	else if (argc != 2 || argv[1][0] == '-')
		usage();
	config = argv[argc - 1];
	if (mode == NULL && geteuid() != 0) {
		fprintf(stderr, "haze-jitsu: must run as root: it makes a "
				"bridge and a tap per service and answers DNS "
				"on port 53 (it then runs as the "
				"configuration's user; --check and --status "
				"need no root)\n");
		return 1;
	}
	if (jitsu_config_read(&J, config, &err) < 0) {
		fprintf(stderr, "haze-jitsu: %s\n", hz_errmsg_text(&err));
		return 2;
	}
	if (mode == NULL)
		return run(&J);
	if (strcmp(mode, "--check") == 0) {
		static char zone[JITSU_ZONE_TEXT_MAX];
		size_t len;

		if (jitsu_zone_build(&J, zone, sizeof(zone), &len, &err) < 0) {
			fprintf(stderr, "haze-jitsu: %s\n",
				hz_errmsg_text(&err));
			return 2;
		}
		hz_dns_zone_release(&J.zone_db);
		fwrite(zone, 1, len, stdout);
		return 0;
	}
	if (strcmp(mode, "--status") == 0)
		return jitsu_status(J.state_dir);
	if (strcmp(mode, "--teardown") == 0) {
		jitsu_host_teardown(&J);
		return 0;
	}
	usage();
}
