/*
 * echo: the classic small servers on one stack. TCP echo (RFC 862),
 * discard (RFC 863) and chargen (RFC 864, a bulk source for benchmarks),
 * and UDP echo, each connection served by its own fiber. Runs on any
 * STACK (hz_stack_open): the host's sockets (--stack socket, unix
 * target) or Haze's own TCP/IP over the NIC "service" (the default, by
 * DHCP; or --stack direct:service,ip=10.0.0.2/24,gw=10.0.0.1).
 *
 *   echo [--stack SPEC] [--echo-port P] [--discard-port P]
 *        [--chargen-port P] [--stats SECONDS] [--keepalive SECONDS]
 *        [--quiet]
 *
 * --stats prints, every SECONDS, one "echo: stats:" line of the heap and
 * of the connections (docs/testing.md, "Load", reads it) and one
 * "echo: counters:" line of every counter that moved. It goes to the
 * console, so it works on every target and needs no signal or port.
 * --keepalive probes a connection idle for SECONDS (HZ_TCP_KEEPALIVE), so
 * that one whose peer vanished (its reset lost) ends instead of holding
 * its memory for ever.
 */
#include <string.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/ipstack.h>
#include <haze/stack.h>

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"));
/* Fortuna, seeded before hz_main: TCP's keys on the direct stack. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

#define CONN_STACK (32u * 1024)

struct server {
	struct hz_stack *stack;
	struct hz_listener *echo;
	struct hz_listener *discard;
	struct hz_listener *chargen;
	struct hz_udp_sock *udp;
	bool quiet;
	uint64_t connections; /* accepted, ever */
	uint64_t open;	      /* being served now */
	uint64_t stats_s;     /* --stats period, 0 for none */
	uint64_t keepalive_s; /* --keepalive idle time, 0 for none */
};

enum service { ECHO, DISCARD, CHARGEN };

static const char *const service_names[] = {"echo", "discard", "chargen"};

struct conn {
	struct server *srv;
	struct hz_flow *flow;
	enum service service;
};

/* chargen's line pattern, 64 KiB of it, sent again and again. */
static uint8_t pattern[64 * 1024];

HZ_LOG_SOURCE(echo_log, "echo");

/* Sends the pattern until the peer goes away; returns bytes sent. */
static uint64_t chargen(struct conn *c)
{
	uint64_t bytes = 0;

	for (;;) {
		ssize_t w = hz_flow_write(c->flow, pattern, sizeof(pattern),
					  HZ_DEADLINE_NEVER);

		if (w < 0)
			return bytes;
		bytes += (uint64_t)w;
	}
}

static void serve(void *arg)
{
	struct conn *c = arg;
	uint64_t bytes = 0;
	struct hz_view v;
	int n = 0;

	if (c->service == CHARGEN) {
		bytes = chargen(c);
		goto done;
	}
	while ((n = hz_flow_read(c->flow, &v, HZ_DEADLINE_NEVER)) > 0) {
		bytes += (uint64_t)n;
		if (c->service == ECHO) {
			ssize_t w = hz_flow_write(c->flow, hz_view_data(&v),
						  v.len, HZ_DEADLINE_NEVER);

			hz_view_release(&v);
			if (w < 0) {
				n = (int)w;
				break;
			}
		} else {
			hz_view_release(&v);
		}
	}
	if (n < 0)
		HZ_INFO(&echo_log, "connection ended: %s",
			hz_flow_error(c->flow));
	else if (hz_flow_shutdown(c->flow) < 0)
		HZ_DEBUG(&echo_log, "shutdown: %s", hz_flow_error(c->flow));
done:
	if (!c->srv->quiet)
		HZ_DEBUG(&echo_log, "%s connection done, %llu bytes",
			 service_names[c->service], (unsigned long long)bytes);
	hz_flow_free(c->flow);
	c->srv->open--;
	hz_free(c);
}

/* Accepts on @l forever, one fiber per connection. */
static int accept_loop(struct server *srv, struct hz_listener *l,
		       enum service service)
{
	for (;;) {
		struct hz_flow *f;
		struct conn *c;
		int r = hz_tcp_accept(srv->stack, l, HZ_DEADLINE_NEVER, &f);

		if (r < 0) {
			HZ_ERROR(&echo_log, "accept: %s", hz_strerror(r));
			return r;
		}
		c = hz_malloc(sizeof(*c));
		if (c == NULL) {
			hz_flow_free(f);
			continue;
		}
		if (srv->keepalive_s != 0 &&
		    hz_tcp_set(srv->stack, f, HZ_TCP_KEEPALIVE,
			       (int)srv->keepalive_s) < 0)
			HZ_WARN(&echo_log, "keepalive: %s", hz_flow_error(f));
		*c = (struct conn){srv, f, service};
		srv->connections++;
		srv->open++;
		if (hz_fiber_spawn(service_names[service], serve, c,
				   CONN_STACK) < 0) {
			HZ_WARN(&echo_log, "no memory for a connection fiber");
			hz_flow_free(f);
			srv->open--;
			hz_free(c);
		}
	}
}

static void discard_acceptor(void *arg)
{
	struct server *srv = arg;
	int r = accept_loop(srv, srv->discard, DISCARD);

	HZ_ERROR(&echo_log, "discard server stopped: %s", hz_strerror(r));
}

static void chargen_acceptor(void *arg)
{
	struct server *srv = arg;
	int r = accept_loop(srv, srv->chargen, CHARGEN);

	HZ_ERROR(&echo_log, "chargen server stopped: %s", hz_strerror(r));
}

static void udp_echo(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		struct hz_sockaddr from;
		struct hz_view v;
		int n = hz_udp_recvfrom(srv->stack, srv->udp, &v, &from,
					HZ_DEADLINE_NEVER);

		if (n < 0) {
			HZ_ERROR(&echo_log, "UDP receive: %s", hz_strerror(n));
			return;
		}
		n = hz_udp_sendto(srv->stack, srv->udp, &from, hz_view_data(&v),
				  v.len);
		hz_view_release(&v);
		if (n < 0)
			HZ_WARN(&echo_log, "UDP send: %s",
				hz_stack_error(srv->stack));
	}
}

static void print_counter(const struct hz_counter *c, void *arg)
{
	(void)arg;
	if (c->value != 0)
		hz_printf(" %s.%s=%llu", c->source, c->name,
			  (unsigned long long)c->value);
}

/*
 * Prints the figures a load test needs, on one line: memory in use is
 * whole pages taken from the heap (slab pages count whole), so that
 * (in use with N connections - in use idle) / N is what a connection
 * really costs. Objects and pbufs outstanding find leaks once every
 * connection has closed.
 */
static void print_stats(struct server *srv)
{
	struct hz_ipstack *ip = hz_stack_ipstack(srv->stack);
	struct hz_ipstack_stats ips = {0};
	struct hz_sched_stats ss;
	struct hz_mem_stats m;

	hz_mem_stats(&m);
	hz_sched_stats(&ss);
	if (ip != NULL)
		hz_ipstack_stats(ip, &ips);
	hz_printf(
	    "echo: stats: open %llu accepted %llu fibers %zu "
	    "heap_used %zu heap_peak %zu heap_size %zu objects %zu "
	    "pbufs %zu alloc_failures %llu tcp_conns %llu "
	    "tcp_bytes %llu\n",
	    (unsigned long long)srv->open, (unsigned long long)srv->connections,
	    ss.fibers, (m.heap_pages - m.free_pages) * HZ_PAGE_SIZE,
	    m.peak_pages * HZ_PAGE_SIZE, m.heap_pages * HZ_PAGE_SIZE,
	    m.live_objects, hz_pbuf_live(), (unsigned long long)m.failures,
	    (unsigned long long)ips.tcp_conns,
	    (unsigned long long)ips.tcp_used);
	hz_printf("echo: counters:");
	hz_counters_foreach(print_counter, NULL);
	hz_printf("\n");
}

static void stats_reporter(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		print_stats(srv);
		hz_sleep_ns(srv->stats_s * HZ_NS_PER_S);
	}
}

/* Parses a whole number of seconds, 1..86400, into @out. */
static int parse_seconds(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -HZ_EINVAL;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > 86400)
			return -HZ_EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v == 0 || v > 86400)
		return -HZ_EINVAL;
	*out = v;
	return 0;
}

static int usage(void)
{
	hz_printf("usage: echo [--stack SPEC] [--echo-port P] "
		  "[--discard-port P] [--chargen-port P] [--stats SECONDS] "
		  "[--keepalive SECONDS] [--quiet]\n");
	return 2;
}

int hz_main(int argc, char **argv)
{
	struct server srv = {0};
	struct hz_sockaddr echo_addr = {0, 7}, discard_addr = {0, 9};
	struct hz_sockaddr chargen_addr = {0, 19};
	const char *spec = "direct:service";
	struct hz_errmsg err = {0};
	int r;

	for (int i = 1; i < argc; i++) {
		uint16_t *port;

		if (strcmp(argv[i], "--quiet") == 0) {
			srv.quiet = true;
			continue;
		}
		if (i + 1 == argc)
			return usage();
		if (strcmp(argv[i], "--stack") == 0) {
			spec = argv[++i];
			continue;
		}
		if (strcmp(argv[i], "--stats") == 0 ||
		    strcmp(argv[i], "--keepalive") == 0) {
			uint64_t *s = strcmp(argv[i], "--stats") == 0
					  ? &srv.stats_s
					  : &srv.keepalive_s;

			if (parse_seconds(argv[i + 1], s) < 0) {
				hz_printf("echo: %s %s: not a number of "
					  "seconds (1..86400)\n",
					  argv[i], argv[i + 1]);
				return 1;
			}
			i++;
			continue;
		}
		if (strcmp(argv[i], "--echo-port") == 0)
			port = &echo_addr.port;
		else if (strcmp(argv[i], "--discard-port") == 0)
			port = &discard_addr.port;
		else if (strcmp(argv[i], "--chargen-port") == 0)
			port = &chargen_addr.port;
		else
			return usage();
		i++;
		if (hz_port_parse(argv[i], strlen(argv[i]), port) < 0) {
			hz_printf("echo: %s %s: not a port (1..65535)\n",
				  argv[i - 1], argv[i]);
			return 1;
		}
	}
	r = hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &srv.stack, &err);
	if (r < 0) {
		hz_printf("echo: %s\n", hz_errmsg_text(&err));
		return 1;
	}
	if (hz_tcp_listen(srv.stack, &echo_addr, 1024, &srv.echo) < 0 ||
	    hz_tcp_listen(srv.stack, &discard_addr, 1024, &srv.discard) < 0 ||
	    hz_tcp_listen(srv.stack, &chargen_addr, 64, &srv.chargen) < 0 ||
	    hz_udp_open(srv.stack, &echo_addr, &srv.udp) < 0) {
		hz_printf("echo: %s\n", hz_stack_error(srv.stack));
		return 1;
	}
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] =
		    (uint8_t)(i % 74 == 73 ? '\n'
					   : '!' + (i / 74 + i % 74) % 94);
	r = hz_fiber_spawn("discard-accept", discard_acceptor, &srv, 0);
	if (r == 0)
		r = hz_fiber_spawn("chargen-accept", chargen_acceptor, &srv, 0);
	if (r == 0)
		r = hz_fiber_spawn("udp-echo", udp_echo, &srv, 0);
	if (r == 0 && srv.stats_s != 0)
		r = hz_fiber_spawn("stats", stats_reporter, &srv, 0);
	if (r < 0)
		return r;
	hz_printf("echo: serving TCP echo on %u, discard on %u, chargen on %u, "
		  "UDP echo on %u\n",
		  echo_addr.port, discard_addr.port, chargen_addr.port,
		  echo_addr.port);
	return accept_loop(&srv, srv.echo, ECHO);
}
