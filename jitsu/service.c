/*
 * The life of a service's process: started on a tap the daemon holds,
 * followed through the notices it writes to a pipe (--notify: start,
 * guest, main, ready), stopped when idle or to make room, restarted with
 * backoff when it crashes, and recorded in the state directory so that a
 * daemon started again adopts what is still running.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "haze/log.h"
#include "jitsu/jitsu.h"

extern char **environ;
#include "platform/host/tap.h"

#define GRACE_NS 2000000000ull /* SIGTERM, then SIGKILL after this */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define STABLE_NS 60000000000ull /* running this long forgives crashes */
/* Crashes in a row (no run lasting STABLE_NS) after which a service that
 * was serving is not restarted unasked either: it is failed. */
#define CRASH_LOOP_MAX 5
#define TAP_FD 3 /* in the child */
#define NOTIFY_FD 4
#define KVM_FD 5 /* target kvm: haze-kvm --kvm-fd */

static const char *const state_names[] = {"stopped",  "booting", "ready",
					  "stopping", "backoff", "failed"};

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

struct jitsu_service *jitsu_find(struct jitsu *j, const uint8_t *name,
				 size_t len)
{
	for (size_t i = 0; i < j->nsvc; i++)
		if (j->svc[i].wire_len == len &&
		    memcmp(j->svc[i].wire, name, len) == 0)
			return &j->svc[i];
	return NULL;
}

/* The start time of process @pid in clock ticks since boot (its
 * /proc/PID/stat field 22), and its parent; 0 if it is gone. */
static unsigned long long proc_start(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (jitsu_read_file(path, buf, sizeof(buf)) == 0)
		return 0;
	/* The command may hold spaces and parentheses: skip to its end. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	for (field = 2; p != NULL && *p; field++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			break;
		if (field + 1 == 4 && ppid != NULL)
			*ppid = (pid_t)strtol(p + 1, NULL, 10);
		if (field + 1 == 22) {
			start = strtoull(p + 1, NULL, 10);
			break;
		}
	}
	return start;
}

/* Replaces {address}, {prefix}, {gateway} and {name} in @arg. */
static char *expand(const struct jitsu *j, const struct jitsu_service *s,
		    const char *arg)
{
	static char out[JITSU_LINE_MAX];
	char addr[16], gw[16], prefix[4];
	size_t o = 0;

	snprintf(addr, sizeof(addr), "%s", inet_ntoa(s->addr));
	snprintf(gw, sizeof(gw), "%s", inet_ntoa(j->bridge_addr));
	snprintf(prefix, sizeof(prefix), "%u", j->prefix_len);
	while (*arg && o + 1 < sizeof(out)) {
		const char *v = NULL;
		size_t k = 0;

		if (strncmp(arg, "{address}", 9) == 0)
			v = addr, k = 9;
		else if (strncmp(arg, "{prefix}", 8) == 0)
			v = prefix, k = 8;
		else if (strncmp(arg, "{gateway}", 9) == 0)
			v = gw, k = 9;
		else if (strncmp(arg, "{name}", 6) == 0)
			v = s->name, k = 6;
		if (v != NULL) {
			o +=
			    (size_t)snprintf(out + o, sizeof(out) - o, "%s", v);
			if (o >= sizeof(out))
				o = sizeof(out) - 1;
			arg += k;
		} else {
			out[o++] = *arg++;
		}
	}
	out[o] = '\0';
	return strdup(out);
}

/*
 * Starts the tender or the process of @s with the tap as descriptor 3, the
 * write end of the notice pipe @notify as 4 and, for the tender, the
 * daemon's /dev/kvm as 5 (the daemon's user need not open the node
 * itself). posix_spawn runs the child in the daemon's memory until it
 * execs, so nothing is copied and the child runs at once. The pid, or
 * -errno.
 */
static pid_t spawn(const struct jitsu *j, const struct jitsu_service *s,
		   int notify)
{
	char *argv[JITSU_ARGS_MAX + 16], mem[16], net[64], nfd[8], kfd[8];
	char log[4400];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	size_t a = 0, first_arg;
	pid_t pid = -1;
	int r, tap, note, kvm = -1;

	/* Above the numbers they are to take, so that no dup2 lands on its
	 * own source (which would keep close-on-exec) or on the other. */
	tap = fcntl(s->tap_fd, F_DUPFD_CLOEXEC, 10);
	note = fcntl(notify, F_DUPFD_CLOEXEC, 10);
	if (s->target == JITSU_KVM)
		kvm = fcntl(j->kvm_fd, F_DUPFD_CLOEXEC, 10);
	snprintf(log, sizeof(log), "%s/%s.log", j->state_dir, s->name);
	snprintf(mem, sizeof(mem), "%u", s->mem_mib);
	snprintf(net, sizeof(net), "%s=tapfd:%d", s->net, TAP_FD);
	snprintf(nfd, sizeof(nfd), "%d", NOTIFY_FD);
	snprintf(kfd, sizeof(kfd), "%d", KVM_FD);
	argv[a++] = (char *)(s->target == JITSU_KVM ? j->tender : s->image);
	argv[a++] = "--mem";
	argv[a++] = mem;
	argv[a++] = "--net";
	argv[a++] = net;
	argv[a++] = "--notify";
	argv[a++] = nfd;
	if (s->target == JITSU_KVM) {
		argv[a++] = "--kvm-fd";
		argv[a++] = kfd;
	}
	argv[a++] = s->target == JITSU_KVM ? (char *)s->image : "--";
	first_arg = a;
	for (size_t i = 0; i < s->nargs; i++)
		argv[a++] = expand(j, s, s->args[i]);
	argv[a] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	r = tap < 0 || note < 0 ? errno : 0;
	if (s->target == JITSU_KVM && kvm < 0 && r == 0)
		r = errno;
	if (r == 0 && (r = posix_spawn_file_actions_init(&fa)) == 0) {
		if ((r = posix_spawnattr_init(&at)) == 0) {
			/* Its own session: the daemon's terminal and its end
			 * do not reach it. The daemon's blocked signals are
			 * unblocked and set to their defaults. */
			r = posix_spawnattr_setflags(
			    &at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				     POSIX_SPAWN_SETSIGDEF);
			r = r ? r : posix_spawnattr_setsigmask(&at, &none);
			r = r ? r : posix_spawnattr_setsigdefault(&at, &all);
			r = r ? r
			      : posix_spawn_file_actions_addopen(
				    &fa, 0, "/dev/null", O_RDONLY, 0);
			r = r ? r
			      : posix_spawn_file_actions_addopen(
				    &fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
				    0640);
			r = r ? r : posix_spawn_file_actions_adddup2(&fa, 1, 2);
			r = r ? r
			      : posix_spawn_file_actions_adddup2(&fa, tap,
								 TAP_FD);
			r = r ? r
			      : posix_spawn_file_actions_adddup2(&fa, note,
								 NOTIFY_FD);
			r = r || kvm < 0 ? r
					 : posix_spawn_file_actions_adddup2(
					       &fa, kvm, KVM_FD);
			r = r ? r
			      : posix_spawn(&pid, argv[0], &fa, &at, argv,
					    environ);
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	if (tap >= 0)
		close(tap);
	if (note >= 0)
		close(note);
	if (kvm >= 0)
		close(kvm);
	for (size_t i = first_arg; i < a; i++)
		free(argv[i]);
	return r ? -r : pid;
}

int jitsu_start(struct jitsu *j, struct jitsu_service *s, uint64_t query_ns)
{
	int p[2];
	pid_t pid;
	int r = jitsu_tap_take(s);

	if (r < 0) {
		jitsu_log("%s: tap %s: %s", s->name, s->tap, strerror(-r));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		jitsu_log("%s: pipe: %s", s->name, strerror(errno));
		return -1;
	}
	jitsu_watch(s, true);
	memset(&s->t, 0, sizeof(s->t));
	s->logged = false;
	s->t.query = query_ns;
	s->t.spawn = jitsu_now();
	pid = spawn(j, s, p[1]);
	close(p[1]);
	if (pid < 0) {
		jitsu_log("%s: starting %s: %s", s->name,
			  s->target == JITSU_KVM ? j->tender : s->image,
			  strerror((int)-pid));
		close(p[0]);
		jitsu_watch(s, false);
		return -1;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	s->notify_fd = p[0];
	s->notify_len = 0;
	s->pid = pid;
	s->pidfd = pidfd_open(pid);
	s->own_child = true;
	s->state = SVC_BOOTING;
	s->started_ns = s->t.spawn;
	s->last_active_ns = s->t.spawn;
	s->last_rx = jitsu_tap_rx_frames(s);
	/* posix_spawn returns once the child has exec'd. */
	jitsu_log("%s: started (pid %d, %s, %u MiB, tap %s; exec'd in %.3f ms)",
		  s->name, (int)pid, s->target == JITSU_KVM ? "kvm" : "unix",
		  s->mem_mib, s->tap, (double)(jitsu_now() - s->t.spawn) / 1e6);
	jitsu_state_save(j);
	return 0;
}

void jitsu_stop(struct jitsu *j, struct jitsu_service *s, const char *why)
{
	if (s->state == SVC_BACKOFF || s->state == SVC_FAILED) {
		/* No process: its restart, or its wait for a query, ends. */
		jitsu_log("%s: stopped (%s; it was in %s)", s->name, why,
			  state_names[s->state]);
		s->state = SVC_STOPPED;
		s->summoned = 0;
		jitsu_dns_release(j, s, false);
		jitsu_state_save(j);
		return;
	}
	if (s->state != SVC_BOOTING && s->state != SVC_READY)
		return;
	jitsu_log("%s: stopping (%s)", s->name, why);
	if (s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGTERM, NULL, 0);
	else
		kill(s->pid, SIGTERM);
	s->state = SVC_STOPPING;
	s->stop_deadline = jitsu_now() + GRACE_NS;
	jitsu_state_save(j);
}

/* Milliseconds from @base to @t as text, or "-" when @t is unknown. */
static const char *ms(char *buf, size_t cap, uint64_t base, uint64_t t)
{
	if (t == 0 || base == 0)
		return "-";
	snprintf(buf, cap, "%.3f", (double)(int64_t)(t - base) / 1e6);
	return buf;
}

void jitsu_timings_log(struct jitsu *j, struct jitsu_service *s)
{
	char b[8][24], line[512];
	uint64_t base = s->t.query ? s->t.query : s->t.spawn;
	int n;

	if (s->logged || base == 0)
		return;
	s->logged = true;
	n = snprintf(
	    line, sizeof(line),
	    "%s query=%s spawn=%s start=%s guest=%s main=%s ready=%s "
	    "request=%s response=%s (ms from the %s)\n",
	    s->name, ms(b[0], 24, base, s->t.query),
	    ms(b[1], 24, base, s->t.spawn), ms(b[2], 24, base, s->t.start),
	    ms(b[3], 24, base, s->t.guest), ms(b[4], 24, base, s->t.main),
	    ms(b[5], 24, base, s->t.ready), ms(b[6], 24, base, s->t.request),
	    ms(b[7], 24, base, s->t.response),
	    s->t.query ? "query" : "restart");
	if (n > 0 && j->timings_fd >= 0 &&
	    write(j->timings_fd, line, (size_t)n) != n)
		jitsu_log("timings log: %s", strerror(errno));
	jitsu_log("summon %.*s", n - 1, line);
}

/* The process of @s is gone: back to stopped, its tap held again. */
static void gone(struct jitsu *j, struct jitsu_service *s)
{
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->notify_fd >= 0)
		close(s->notify_fd);
	s->pidfd = s->notify_fd = -1;
	s->pid = 0;
	jitsu_timings_log(j, s);
	jitsu_watch(s, false);
	int r = jitsu_tap_take(s);

	if (r < 0)
		jitsu_log("%s: tap %s: %s", s->name, s->tap, strerror(-r));
}

void jitsu_reap(struct jitsu *j, struct jitsu_service *s)
{
	int status = 0;
	bool known = false;
	uint64_t now = jitsu_now();
	enum jitsu_state was = s->state;
	char how[64] = "ended";

	if (s->own_child) {
		pid_t r;

		while ((r = waitpid(s->pid, &status, WNOHANG)) < 0 &&
		       errno == EINTR)
			;
		if (r == 0)
			return; /* not yet: a spurious wake */
		known = r == s->pid;
	}
	if (known && WIFEXITED(status))
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(status));
	else if (known && WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d",
			 WTERMSIG(status));
	gone(j, s);
	if (was == SVC_STOPPING || j->stopping) {
		jitsu_log("%s: stopped (%s)", s->name, how);
		s->state = SVC_STOPPED;
		/* Frames sent to it since are stale; the next summon starts
		 * with an empty queue. */
		jitsu_tap_drain(s);
		if (s->summoned != 0 && !j->stopping) {
			uint64_t q = s->summoned;

			/* A start a query asked for, like any: under
			 * max-running, or SERVFAIL and not started. */
			s->summoned = 0;
			if (!jitsu_make_room(j, s) || jitsu_start(j, s, q) < 0)
				jitsu_dns_release(j, s, false);
		} else if (j->stopping) {
			jitsu_dns_release(j, s, false);
		}
		jitsu_state_save(j);
		return;
	}
	/* Ended unasked: a crash. Runs shorter than STABLE_NS add up. */
	if (now - s->started_ns > STABLE_NS)
		s->backoff_ms = s->crash_run = 0;
	s->backoff_ms = s->backoff_ms == 0 ? BACKOFF_MIN_MS
			: s->backoff_ms * 2 > BACKOFF_MAX_MS
			    ? BACKOFF_MAX_MS
			    : s->backoff_ms * 2;
	s->crashes++;
	s->crash_run++;
	s->restart_at = now + s->backoff_ms * 1000000ull;
	s->summoned = 0;
	if (was == SVC_BOOTING) {
		/* It never got ready (a unikernel failing at start writes
		 * no ready notice): it cannot start as configured.
		 * Restarting it unasked would only fail again. */
		s->state = SVC_FAILED;
		jitsu_log("%s: failed to start: %s before it was ready (crash "
			  "%u, %u in a row; its log: %s/%s.log); not started "
			  "again until a query asks for it, in %llu ms at the "
			  "earliest",
			  s->name, how, s->crashes, s->crash_run, j->state_dir,
			  s->name, (unsigned long long)s->backoff_ms);
		jitsu_dns_release(j, s, false);
	} else if (s->crash_run >= CRASH_LOOP_MAX) {
		s->state = SVC_FAILED;
		jitsu_log("%s: %s unasked (crash %u): %u crashes in a row, "
			  "none after a minute's run: failed, not restarted "
			  "until a query asks for it",
			  s->name, how, s->crashes, s->crash_run);
	} else {
		s->state = SVC_BACKOFF;
		jitsu_log("%s: %s unasked (crash %u); restarting in %llu ms",
			  s->name, how, s->crashes,
			  (unsigned long long)s->backoff_ms);
	}
	jitsu_state_save(j);
}

/* @s is up: it said ready (it waits for work). */
static void promote(struct jitsu *j, struct jitsu_service *s, uint64_t now)
{
	s->state = SVC_READY;
	/* What it sent while booting (its ARP announcement) is not use;
	 * activity counts from here. */
	s->last_rx = jitsu_tap_rx_frames(s);
	s->last_active_ns = now;
	jitsu_log("%s: ready in %.3f ms", s->name,
		  (double)(s->t.ready - s->t.spawn) / 1e6);
	jitsu_dns_release(j, s, true);
	jitsu_state_save(j);
}

/* Acts on one notice line of @s. */
static void notice_line(struct jitsu *j, struct jitsu_service *s,
			const char *line)
{
	char ev[16];
	unsigned long long ns;

	if (sscanf(line, "%15s %llu", ev, &ns) != 2)
		return;
	if (strcmp(ev, "start") == 0)
		s->t.start = ns;
	else if (strcmp(ev, "guest") == 0)
		s->t.guest = ns;
	else if (strcmp(ev, "main") == 0)
		s->t.main = ns;
	else if (strcmp(ev, "ready") == 0 && s->state == SVC_BOOTING) {
		s->t.ready = ns;
		promote(j, s, jitsu_now());
	}
}

void jitsu_notice(struct jitsu *j, struct jitsu_service *s)
{
	ssize_t n;

	n = read(s->notify_fd, s->notify_buf + s->notify_len,
		 sizeof(s->notify_buf) - 1 - s->notify_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(s->notify_fd);
		s->notify_fd = -1;
		return;
	}
	if (n < 0)
		return;
	s->notify_len += (size_t)n;
	s->notify_buf[s->notify_len] = '\0';
	char *p = s->notify_buf, *nl;
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		notice_line(j, s, p);
		p = nl + 1;
	}
	s->notify_len -= (size_t)(p - s->notify_buf);
	memmove(s->notify_buf, p, s->notify_len);
	/* A line that fills the buffer is not a notice: forget it. */
	if (s->notify_len == sizeof(s->notify_buf) - 1)
		s->notify_len = 0;
}

/* Notes when @s's guest last sent a frame, as of @now. */
static void activity(struct jitsu_service *s, uint64_t now)
{
	uint64_t rx = jitsu_tap_rx_frames(s);

	if (rx != s->last_rx) {
		s->last_rx = rx;
		s->last_active_ns = now;
	}
}

/* Services booting or ready: what max-running counts. */
static size_t running_count(const struct jitsu *j)
{
	size_t n = 0;

	for (size_t i = 0; i < j->nsvc; i++)
		if (j->svc[i].state == SVC_BOOTING ||
		    j->svc[i].state == SVC_READY)
			n++;
	return n;
}

bool jitsu_make_room(struct jitsu *j, const struct jitsu_service *s)
{
	uint64_t now = jitsu_now();

	for (size_t i = 0; i < j->nsvc; i++)
		if (j->svc[i].state == SVC_READY)
			activity(&j->svc[i], now);
	for (;;) {
		struct jitsu_service *lru = NULL;
		size_t running = 0;

		for (size_t i = 0; i < j->nsvc; i++) {
			struct jitsu_service *o = &j->svc[i];

			if (o->state != SVC_BOOTING && o->state != SVC_READY)
				continue;
			running++;
			if (o != s && o->state == SVC_READY &&
			    (lru == NULL ||
			     o->last_active_ns < lru->last_active_ns))
				lru = o;
		}
		if (running < j->max_running)
			return true;
		if (lru == NULL)
			return false;
		jitsu_stop(j, lru, "making room: least recently used");
	}
}

/*
 * @s, which crashed while serving, is due to start again. Only a start a
 * query asked for may stop another service to make room; one that finds
 * none tries again in a second.
 */
static void backoff_over(struct jitsu *j, struct jitsu_service *s, uint64_t now)
{
	bool asked = s->summoned != 0;

	if (asked ? !jitsu_make_room(j, s)
		  : running_count(j) >= j->max_running) {
		s->restart_at = now + 1000000000ull;
		return;
	}
	s->summoned = 0;
	if (jitsu_start(j, s, 0) < 0)
		s->restart_at = now + BACKOFF_MAX_MS * 1000000ull;
}

void jitsu_tick(struct jitsu *j, uint64_t now)
{
	uint64_t sum = jitsu_counters_sum();

	/* Counters only grow: a new sum is a counter that moved. */
	if (sum != j->counters_sum) {
		j->counters_sum = sum;
		jitsu_counters_save(j);
	}
	for (size_t i = 0; i < j->nsvc; i++) {
		struct jitsu_service *s = &j->svc[i];

		if (s->state == SVC_READY) {
			activity(s, now);
			if (s->idle_s > 0 &&
			    now - s->last_active_ns >=
				(uint64_t)s->idle_s * 1000000000ull)
				jitsu_stop(j, s, "idle");
		} else if (s->state == SVC_STOPPING &&
			   now >= s->stop_deadline) {
			jitsu_log("%s: did not stop in time: SIGKILL", s->name);
			if (s->pidfd >= 0)
				syscall(SYS_pidfd_send_signal, s->pidfd,
					SIGKILL, NULL, 0);
			else
				kill(s->pid, SIGKILL);
			s->stop_deadline = UINT64_MAX;
		} else if (s->state == SVC_BOOTING &&
			   now - s->started_ns >=
			       (uint64_t)j->boot_timeout_ms * 1000000ull) {
			/* Its queries had SERVFAIL; it holds a slot of
			 * max-running and would boot for ever. */
			jitsu_stop(j, s, "not ready in boot-timeout");
		} else if (s->state == SVC_BACKOFF && now >= s->restart_at &&
			   !j->stopping) {
			backoff_over(j, s, now);
		}
	}
}

/* Writes one "source.name value" line for counter @c to file @arg. */
static void counter_line(const struct hz_counter *c, void *arg)
{
	fprintf(arg, "%s.%s %llu\n", c->source, c->name,
		(unsigned long long)c->value);
}

/* Adds counter @c's value to the sum at @arg. */
static void counter_sum(const struct hz_counter *c, void *arg)
{
	*(uint64_t *)arg += c->value;
}

uint64_t jitsu_counters_sum(void)
{
	uint64_t sum = 0;

	hz_counters_foreach(counter_sum, &sum);
	return sum;
}

/*
 * Writes file @name of the state directory whole through @write (on its
 * FILE, with @arg), under another name renamed over it, so a reader
 * (--status) never sees half of it. A failure is logged.
 */
static void state_file_write(const struct jitsu *j, const char *name,
			     void (*write)(FILE *f, const void *arg),
			     const void *arg)
{
	char path[4200], tmp[4210];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", j->state_dir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		jitsu_log("%s: %s", tmp, strerror(errno));
		return;
	}
	write(f, arg);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		jitsu_log("%s: %s", path, strerror(errno));
}

/* The counters file: a line for each counter that moved. */
static void counters_write(FILE *f, const void *arg)
{
	(void)arg;
	hz_counters_foreach(counter_line, f);
}

void jitsu_counters_save(const struct jitsu *j)
{
	state_file_write(j, "counters", counters_write, NULL);
}

/* The services file: a line for each service. */
static void services_write(FILE *f, const void *arg)
{
	const struct jitsu *j = arg;

	for (size_t i = 0; i < j->nsvc; i++) {
		const struct jitsu_service *s = &j->svc[i];
		bool live = s->state == SVC_BOOTING || s->state == SVC_READY ||
			    s->state == SVC_STOPPING;

		fprintf(f, "%s %s %d %llu %u\n", s->name, state_names[s->state],
			live ? (int)s->pid : 0,
			live ? proc_start(s->pid, NULL) : 0ull, s->crashes);
	}
}

void jitsu_state_save(const struct jitsu *j)
{
	state_file_write(j, "services", services_write, j);
	jitsu_counters_save(j);
}

void jitsu_state_adopt(struct jitsu *j)
{
	char path[4200], name[HZ_DNS_TEXT_MAX + 1], state[16];
	unsigned long long start;
	unsigned crashes;
	int pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/services", j->state_dir);
	f = fopen(path, "r");
	if (f == NULL) {
		/* None to adopt; --status still has a file to read. */
		jitsu_state_save(j);
		return;
	}
	while (fscanf(f, "%253s %15s %d %llu %u", name, state, &pid, &start,
		      &crashes) == 5) {
		struct jitsu_service *s = NULL;
		pid_t ppid = 0;

		for (size_t i = 0; i < j->nsvc; i++)
			if (strcmp(j->svc[i].name, name) == 0)
				s = &j->svc[i];
		/* Only the very process that was started: a pid reused by
		 * another program has another start time. */
		if (s == NULL || pid <= 0 || start == 0 ||
		    proc_start(pid, &ppid) != start)
			continue;
		s->pid = pid;
		s->pidfd = pidfd_open(pid);
		s->own_child = ppid == getpid();
		s->crashes = crashes;
		s->state =
		    strcmp(state, "booting") == 0 ? SVC_BOOTING : SVC_READY;
		if (strcmp(state, "stopping") == 0)
			jitsu_stop(j, s, "it was stopping");
		s->started_ns = s->last_active_ns = jitsu_now();
		s->last_rx = jitsu_tap_rx_frames(s);
		jitsu_log("%s: adopted (pid %d)", s->name, pid);
		/* A booting one's notices went to the daemon before: whether
		 * it is ready cannot be known, and taking it as ready would
		 * send clients to a host that may never answer. */
		if (s->state == SVC_BOOTING)
			jitsu_stop(j, s,
				   "it was booting: its readiness is "
				   "unknown");
	}
	fclose(f);
	jitsu_state_save(j);
}

/* The resident memory of process @pid in KiB (VmRSS), or 0. */
static unsigned long rss_kib(int pid)
{
	char path[64], line[256];
	unsigned long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int jitsu_status(const char *state_dir)
{
	char path[4200], name[HZ_DNS_TEXT_MAX + 1], state[16], line[600];
	unsigned long long start;
	unsigned crashes;
	int pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/services", state_dir);
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "haze-jitsu: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%-40s %-9s %8s %10s %7s\n", "service", "state", "pid",
	       "rss_kib", "crashes");
	while (fscanf(f, "%253s %15s %d %llu %u", name, state, &pid, &start,
		      &crashes) == 5) {
		bool alive = pid > 0 && proc_start(pid, NULL) == start;

		printf("%-40s %-9s %8d %10lu %7u\n", name,
		       alive || pid == 0 ? state : "gone", pid,
		       alive ? rss_kib(pid) : 0ul, crashes);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/counters", state_dir);
	f = fopen(path, "r");
	if (f != NULL) {
		printf("\ncounters (those that moved):\n");
		while (fgets(line, sizeof(line), f) != NULL)
			fputs(line, stdout);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/timings.log", state_dir);
	f = fopen(path, "r");
	if (f != NULL) {
		unsigned n = 0;

		printf("\nlast summons (ms from the query):\n");
		/* The last ten lines: the file is read once, kept in a ring. */
		char ring[10][600];
		while (fgets(line, sizeof(line), f) != NULL) {
			snprintf(ring[n % 10], sizeof(ring[0]), "%s", line);
			n++;
		}
		for (unsigned i = n > 10 ? n - 10 : 0; i < n; i++)
			fputs(ring[i % 10], stdout);
		fclose(f);
	}
	return 0;
}
