/*
 * `--net NAME=user`: a NIC backed by libslirp, a user-mode TCP/IP stack,
 * so a guest reaches the network with no privileges and host ports can be
 * forwarded to it (hostfwd, bound to 127.0.0.1 only).
 *
 * The guest network is 10.0.2.0/24 (QEMU's convention): the host is
 * 10.0.2.2, DNS 10.0.2.3, DHCP hands out 10.0.2.15, where forwarded ports
 * arrive. Frames slirp sends to the guest wait in a bounded ring until the
 * guest reads them; when it is full they are dropped (TCP retransmits).
 *
 * The host's loopback is out of the guest's reach unless asked for
 * (`user,host-loopback`): otherwise a guest could talk to every service
 * bound to the host's 127.0.0.1 through 10.0.2.2. The descriptors slirp
 * polls are bounded too (HZ_POLL_MAX): a guest opens one per flow.
 *
 * libslirp (and the GLib it pulls in) is loaded with dlopen only when a
 * `user` NIC is asked for: linking it costs every boot ~0.3 ms of dynamic
 * loading, a tenth of the boot budget.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <libslirp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "tender.h"

#define RING 256
#define FRAME_CAP 1536
#define TIMERS 16

struct hz_timer {
	bool used, armed;
	int64_t expire_ms;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct hz_slirp {
	Slirp *slirp;
	struct hz_device *dev;
	unsigned head, count;
	uint16_t len[RING];
	uint8_t frames[RING][FRAME_CAP];
	struct hz_timer timers[TIMERS];
	/* poll state between fill and done */
	struct pollfd *fds;
	unsigned *n, max;
	uint64_t unpolled; /* sockets left out of a wait for want of room */
};

/* The libslirp functions haze-kvm calls, resolved by load_libslirp. */
static struct {
	Slirp *(*new)(const SlirpConfig *, const SlirpCb *, void *);
	void (*input)(Slirp *, const uint8_t *, int);
	void (*pollfds_fill)(Slirp *, uint32_t *, SlirpAddPollCb, void *);
	void (*pollfds_poll)(Slirp *, int, SlirpGetREventsCb, void *);
	int (*add_hostfwd)(Slirp *, int, struct in_addr, int, struct in_addr,
			   int);
	void (*cleanup)(Slirp *);
} lib;

/* Loads libslirp and resolves its functions. 0 or -1 with a message. */
static int load_libslirp(void)
{
	void *h;

	if (lib.new)
		return 0;
	h = dlopen("libslirp.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		hz_tender_log("user networking needs libslirp: %s", dlerror());
		return -1;
	}
	*(void **)&lib.input = dlsym(h, "slirp_input");
	*(void **)&lib.pollfds_fill = dlsym(h, "slirp_pollfds_fill");
	*(void **)&lib.pollfds_poll = dlsym(h, "slirp_pollfds_poll");
	*(void **)&lib.add_hostfwd = dlsym(h, "slirp_add_hostfwd");
	*(void **)&lib.cleanup = dlsym(h, "slirp_cleanup");
	*(void **)&lib.new = dlsym(h, "slirp_new");
	if (!lib.input || !lib.pollfds_fill || !lib.pollfds_poll ||
	    !lib.add_hostfwd || !lib.cleanup || !lib.new) {
		hz_tender_log("libslirp lacks a function haze-kvm needs");
		lib.new = NULL;
		return -1;
	}
	return 0;
}

static int64_t clock_ns(void *opaque)
{
	return (int64_t)hz_tender_now();
}

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	struct hz_slirp *s = opaque;
	if (len > FRAME_CAP || s->count == RING) {
		s->dev->rx_overflow++;
		return (ssize_t)len; /* dropped; TCP will retransmit */
	}
	unsigned slot = (s->head + s->count++) % RING;
	memcpy(s->frames[slot], buf, len);
	s->len[slot] = (uint16_t)len;
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	hz_tender_log("slirp: %s", msg);
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct hz_slirp *s = opaque;
	for (unsigned i = 0; i < TIMERS; i++) {
		if (!s->timers[i].used) {
			s->timers[i] = (struct hz_timer){
			    .used = true, .cb = cb, .cb_opaque = cb_opaque};
			return &s->timers[i];
		}
	}
	hz_tender_die(HZ_KVM_EXIT_BADCALL, "slirp: out of timers");
}

static void timer_free(void *timer, void *opaque)
{
	((struct hz_timer *)timer)->used = false;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct hz_timer *t = timer;
	t->armed = true;
	t->expire_ms = expire_ms;
}

static void poll_fd_noop(int fd, void *opaque)
{
}

static void notify(void *opaque)
{
}

static const SlirpCb callbacks = {
    .send_packet = send_packet,
    .guest_error = guest_error,
    .clock_get_ns = clock_ns,
    .timer_new = timer_new,
    .timer_free = timer_free,
    .timer_mod = timer_mod,
    .register_poll_fd = poll_fd_noop,
    .unregister_poll_fd = poll_fd_noop,
    .notify = notify,
};

struct hz_slirp *hz_slirp_new(struct hz_vm *vm, struct hz_device *d)
{
	struct hz_slirp *s = calloc(1, sizeof(*s));
	SlirpConfig cfg;
	struct in_addr guest;

	if (!s) {
		hz_tender_log("--net %s: out of memory", d->name);
		return NULL;
	}
	if (load_libslirp() < 0)
		return NULL;
	s->dev = d;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 3;
	cfg.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	inet_pton(AF_INET, "10.0.2.15", &guest);
	cfg.vhostname = "haze";
	cfg.disable_host_loopback = !d->net.host_loopback;
	cfg.if_mtu = 1500;
	cfg.if_mru = 1500;
	s->slirp = lib.new(&cfg, &callbacks, s);
	if (!s->slirp) {
		hz_tender_log("--net %s: cannot start libslirp", d->name);
		return NULL;
	}
	for (unsigned i = 0; i < d->net.nfwd; i++) {
		struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
		if (lib.add_hostfwd(s->slirp, 0, lo, d->net.fwd_host[i], guest,
				    d->net.fwd_guest[i]) < 0) {
			hz_tender_log("--net %s: cannot forward host port %u",
				      d->name, d->net.fwd_host[i]);
			return NULL;
		}
	}
	return s;
}

void hz_slirp_free(struct hz_slirp *s)
{
	lib.cleanup(s->slirp); /* closes its sockets */
	free(s);
}

void hz_slirp_input(struct hz_slirp *s, const uint8_t *frame, size_t len)
{
	lib.input(s->slirp, frame, (int)len);
}

ssize_t hz_slirp_output(struct hz_slirp *s, uint8_t *buf, size_t cap)
{
	if (s->count == 0)
		return 0;
	unsigned slot = s->head;
	size_t len = s->len[slot];
	s->head = (s->head + 1) % RING;
	s->count--;
	if (len > cap)
		return -2;
	memcpy(buf, s->frames[slot], len);
	return (ssize_t)len;
}

bool hz_slirp_pending(const struct hz_slirp *s)
{
	return s->count > 0;
}

static int add_poll(int fd, int events, void *opaque)
{
	struct hz_slirp *s = opaque;
	short ev = 0;
	if (*s->n == s->max) {
		if (s->unpolled++ == 0)
			hz_tender_log("--net %s: more guest flows than the %u "
				      "descriptors a wait polls; the rest wait "
				      "their turn",
				      s->dev->name, HZ_POLL_MAX);
		return -1;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->fds[*s->n] = (struct pollfd){.fd = fd, .events = ev};
	return (int)(*s->n)++;
}

static int get_revents(int idx, void *opaque)
{
	struct hz_slirp *s = opaque;
	if (idx < 0)
		return 0;
	short re = s->fds[idx].revents;
	int ev = 0;
	if (re & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (re & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

void hz_slirp_poll_fill(struct hz_slirp *s, struct pollfd *fds, unsigned *n,
			unsigned max, uint64_t *timeout_ns)
{
	uint32_t ms = UINT32_MAX;
	int64_t now_ms = (int64_t)(hz_tender_now() / 1000000);

	s->fds = fds;
	s->n = n;
	s->max = max;
	lib.pollfds_fill(s->slirp, &ms, add_poll, s);
	for (unsigned i = 0; i < TIMERS; i++) {
		const struct hz_timer *t = &s->timers[i];
		if (t->used && t->armed) {
			int64_t left = t->expire_ms - now_ms;
			uint32_t l = left < 0 ? 0 : (uint32_t)left;
			if (l < ms)
				ms = l;
		}
	}
	if (ms != UINT32_MAX && (uint64_t)ms * 1000000ull < *timeout_ns)
		*timeout_ns = (uint64_t)ms * 1000000ull;
}

void hz_slirp_poll_done(struct hz_slirp *s, struct pollfd *fds, bool error)
{
	int64_t now_ms = (int64_t)(hz_tender_now() / 1000000);

	s->fds = fds;
	lib.pollfds_poll(s->slirp, error, get_revents, s);
	for (unsigned i = 0; i < TIMERS; i++) {
		struct hz_timer *t = &s->timers[i];
		if (t->used && t->armed && t->expire_ms <= now_ms) {
			t->armed = false;
			t->cb(t->cb_opaque);
		}
	}
}
