/*
 * dns: an authoritative DNS server as a unikernel. It serves one zone over
 * UDP and TCP (RFC 7766) on one port, answering with the sans-I/O server
 * of haze/dns_server.h, responses to each source /24 rate-limited over
 * UDP. The zone is the master file beside this source (haze.test.zone),
 * compiled into the image, or with --zone DEVICE the master-file text on
 * that block device, up to its first NUL byte or its end, so one image
 * serves any zone.
 *
 *   dns [--stack SPEC] [--port P] [--zone DEVICE] [--origin NAME]
 *       [--rrl RATE[/BURST[/SLIP]] | --rrl off] [--tcp-max N]
 *       [--tcp-idle SECONDS] [--stats SECONDS]
 *
 * A zone that does not load is one line naming it and the line at fault,
 * and exit status 1, before anything is served. UDP is one fiber that
 * takes queries in batches (one system call for up to 32 on the socket
 * stack), answers each into static buffers and sends the responses as
 * one batch: nothing is allocated per query. Each
 * TCP connection is a fiber of its own, so a client that stalls holds up
 * nobody else; it is closed after --tcp-idle seconds (default 10) without
 * a whole query, and at most --tcp-max (default 256) are served at once.
 */
#include <string.h>

#include <haze/dns_server.h>
#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/stack.h>
#include <haze/wire.h>

#include "zone_text.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"), {.kind = HZ_DEVICE_KIND_BLOCK,
						.flags = HZ_DEVICE_OPTIONAL,
						.name = "zone"});
/* Fortuna, seeded before hz_main: TCP's keys on the direct stack. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

HZ_LOG_SOURCE(dns_log, "dns");

#define CONN_STACK (16u * 1024)
/* The UDP fiber holds two batches of descriptors and the stack's own. */
#define UDP_STACK (32u * 1024)
/* Queries per batch, and the buffer of each: the largest UDP payload. */
#define UDP_BATCH HZ_UDP_BATCH_MAX
#define UDP_QUERY_MAX 65535
/* Most zone text read from a device, and most memory its zone may take. */
#define ZONE_TEXT_MAX (16u * 1024 * 1024)
#define ZONE_BUDGET (64u * 1024 * 1024)
/* A block device is read this much per call (a multiple of any sector). */
#define ZONE_CHUNK (64u * 1024)
/* A TCP query this long or shorter is read into the connection itself. */
#define QUERY_INLINE 512
#define TCP_MSG_MAX 65535

struct server {
	struct hz_stack *stack;
	struct hz_udp_sock *udp;
	struct hz_listener *tcp;
	struct hz_dns_zone zone;
	struct hz_dns_rrl rrl;
	struct hz_dns_server dns;
	uint32_t tcp_max;
	uint32_t tcp_open;
	uint64_t tcp_idle_ns;
	uint64_t stats_s;
	uint64_t udp_queries, udp_sent, tcp_queries, tcp_refused;
};

struct conn {
	struct server *srv;
	struct hz_flow *flow;
	hz_ipv4_t peer;
	uint8_t query[QUERY_INLINE];
};

/*
 * The UDP fiber's queries and responses, a batch of each: sending may
 * yield, so they are its own. A query buffer is as large as a datagram
 * can be, so none is ever cut (a 64 KiB one gets its FORMERR like any
 * other); the pages past a query's first few bytes are never touched.
 */
static uint8_t udp_query[UDP_BATCH][UDP_QUERY_MAX];
static uint8_t udp_response[UDP_BATCH][HZ_DNS_EDNS_UDP_MAX];
/*
 * TCP responses are built here, one at a time: a TCP fiber copies its
 * response out before it can yield, so they all share it.
 */
static uint8_t tcp_response[TCP_MSG_MAX];

/* --- UDP ------------------------------------------------------------------ */

/* Sends the @n responses of @out; one that cannot go is skipped. */
static void udp_send(struct server *srv, const struct hz_udp_msg *out, size_t n)
{
	for (size_t i = 0; i < n;) {
		int r = hz_udp_send_batch(srv->stack, srv->udp, out + i, n - i);

		if (r < 0) {
			HZ_WARN(&dns_log, "UDP send: %s",
				hz_stack_error(srv->stack));
			i++;
			continue;
		}
		srv->udp_sent += (uint64_t)r;
		i += (size_t)r;
	}
}

static void udp_serve(void *arg)
{
	struct server *srv = arg;
	struct hz_udp_msg in[UDP_BATCH], out[UDP_BATCH];

	for (size_t i = 0; i < UDP_BATCH; i++)
		in[i] = (struct hz_udp_msg){.buf = udp_query[i],
					    .cap = sizeof(udp_query[i])};
	for (;;) {
		int n = hz_udp_recv_batch(srv->stack, srv->udp, in, UDP_BATCH,
					  HZ_DEADLINE_NEVER);
		size_t nout = 0;
		uint64_t now;

		if (n < 0) {
			HZ_ERROR(&dns_log, "UDP receive: %s",
				 hz_stack_error(srv->stack));
			return;
		}
		/* One clock read serves the batch: it arrived at once. */
		now = hz_now();
		for (int i = 0; i < n; i++) {
			int len;

			srv->udp_queries++;
			if (in[i].len > in[i].cap)
				continue; /* cut: larger than UDP allows */
			len = hz_dns_server_answer(
			    &srv->dns, in[i].buf, in[i].len, in[i].peer.addr,
			    HZ_DNS_UDP, now, udp_response[nout],
			    sizeof(udp_response[nout]));
			if (len <= 0)
				continue; /* not a query, or rate-limited */
			out[nout] = (struct hz_udp_msg){
			    .buf = udp_response[nout],
			    .len = (size_t)len,
			    .peer = in[i].peer,
			};
			nout++;
		}
		if (nout > 0)
			udp_send(srv, out, nout);
	}
}

/* --- TCP ------------------------------------------------------------------ */

/*
 * Reads exactly @len bytes into @buf by @deadline. 0, or a negative code
 * (-HZ_ECLOSED at the end of the stream).
 */
static int read_exact(struct hz_flow *f, uint8_t *buf, size_t len,
		      uint64_t deadline)
{
	for (size_t have = 0; have < len;) {
		ssize_t n =
		    hz_flow_read_copy(f, buf + have, len - have, deadline);

		if (n == 0)
			return -HZ_ECLOSED;
		if (n < 0)
			return (int)n;
		have += (size_t)n;
	}
	return 0;
}

/*
 * Answers one framed query of @len bytes in @q; sends the response. 0 or
 * the write's error.
 */
static int tcp_answer(struct conn *c, const uint8_t *q, size_t len)
{
	struct server *srv = c->srv;
	int n =
	    hz_dns_server_answer(&srv->dns, q, len, c->peer, HZ_DNS_TCP,
				 hz_now(), tcp_response, sizeof(tcp_response));
	uint8_t small[2 + QUERY_INLINE], *out = small;
	ssize_t w;

	srv->tcp_queries++;
	if (n <= 0)
		return 0; /* nothing to say to that message: read on */
	/* The write may yield: the response leaves the shared buffer first. */
	if ((size_t)n > QUERY_INLINE) {
		out = hz_malloc(2 + (size_t)n);
		if (out == NULL)
			return -HZ_ENOMEM;
	}
	hz_dns_tcp_prefix(out, (size_t)n);
	memcpy(out + 2, tcp_response, (size_t)n);
	w = hz_flow_write(c->flow, out, 2 + (size_t)n,
			  hz_now() + srv->tcp_idle_ns);
	if (out != small)
		hz_free(out);
	if (w < 0)
		return (int)w;
	return w == 2 + n ? 0 : -HZ_ETIMEDOUT;
}

/* Serves one connection's queries, in order, until it ends or idles. */
static void tcp_serve(void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	int r;

	for (;;) {
		uint64_t deadline = hz_now() + srv->tcp_idle_ns;
		uint8_t prefix[2], *q = c->query;
		size_t len;

		r = read_exact(c->flow, prefix, 2, deadline);
		if (r < 0)
			break;
		/* RFC 7766 8: a zero length frames nothing: end it. */
		len = hz_get16(prefix);
		if (len == 0) {
			r = -HZ_EPROTO;
			break;
		}
		if (len > sizeof(c->query)) {
			q = hz_malloc(len);
			if (q == NULL) {
				r = -HZ_ENOMEM;
				break;
			}
		}
		/* The whole message by the same deadline: no trickling. */
		r = read_exact(c->flow, q, len, deadline);
		if (r == 0)
			r = tcp_answer(c, q, len);
		if (q != c->query)
			hz_free(q);
		if (r < 0)
			break;
	}
	if (r != -HZ_ECLOSED)
		HZ_DEBUG(&dns_log, "TCP connection ended: %s", hz_strerror(r));
	hz_flow_free(c->flow);
	srv->tcp_open--;
	hz_free(c);
}

static void tcp_accept_loop(struct server *srv)
{
	for (;;) {
		struct hz_flow *f;
		struct conn *c;
		int r =
		    hz_tcp_accept(srv->stack, srv->tcp, HZ_DEADLINE_NEVER, &f);

		if (r < 0) {
			HZ_ERROR(&dns_log, "TCP accept: %s",
				 hz_stack_error(srv->stack));
			return;
		}
		/* RFC 7766 6.2.2: a server may close what it cannot serve. */
		if (srv->tcp_open >= srv->tcp_max) {
			srv->tcp_refused++;
			hz_flow_free(f);
			continue;
		}
		c = hz_malloc(sizeof(*c));
		if (c == NULL) {
			hz_flow_free(f);
			continue;
		}
		c->srv = srv;
		c->flow = f;
		c->peer = 0; /* TCP is not rate-limited: no source needed */
		srv->tcp_open++;
		if (hz_fiber_spawn("dns-tcp", tcp_serve, c, CONN_STACK) < 0) {
			HZ_WARN(&dns_log, "no memory for a TCP connection");
			srv->tcp_open--;
			hz_flow_free(f);
			hz_free(c);
		}
	}
}

/* --- the zone ------------------------------------------------------------- */

/*
 * Reads the master-file text on block device @dev into a heap buffer:
 * up to the first NUL or the device's end. 0, or a negative code with a
 * line printed.
 */
static int zone_text_read(const char *dev, char **text, size_t *len)
{
	struct hz_block_info info;
	hz_handle_t h;
	uint8_t *buf;
	uint64_t cap;
	size_t n = 0;
	int r = hz_platform_block_acquire(dev, &h, &info);

	if (r < 0) {
		hz_printf("dns: --zone %s: no such block device (bind it with "
			  "--block %s=FILE)\n",
			  dev, dev);
		return r;
	}
	cap = info.capacity;
	if (cap > ZONE_TEXT_MAX || ZONE_CHUNK % info.sector_size != 0) {
		hz_printf("dns: --zone %s: a device of %llu bytes (at most %u) "
			  "or sectors of %u bytes\n",
			  dev, (unsigned long long)cap, ZONE_TEXT_MAX,
			  info.sector_size);
		return -HZ_EINVAL;
	}
	buf = hz_malloc((size_t)cap + 1);
	if (buf == NULL) {
		hz_printf("dns: --zone %s: no memory for %llu bytes\n", dev,
			  (unsigned long long)cap);
		return -HZ_ENOMEM;
	}
	while (n < cap) {
		size_t chunk =
		    cap - n < ZONE_CHUNK ? (size_t)cap - n : ZONE_CHUNK;
		uint8_t *nul;

		r = hz_platform_block_read(h, n, buf + n, chunk);
		if (r < 0) {
			hz_printf("dns: --zone %s: read at %zu: %s\n", dev, n,
				  hz_strerror(r));
			hz_free(buf);
			return r;
		}
		nul = memchr(buf + n, 0, chunk);
		if (nul != NULL) {
			n = (size_t)(nul - buf);
			break;
		}
		n += chunk;
	}
	/*
	 * The unix target rounds a file's size down to whole sectors, so
	 * text that runs to the end of the device may have lost its tail:
	 * unless it ends a line there, refuse it rather than serve part.
	 */
	if (n == cap && (n == 0 || buf[n - 1] != '\n')) {
		hz_printf("dns: --zone %s: the text runs to the device's end "
			  "in mid-line (cut short? end it with a NUL, or pad "
			  "the file to whole 512-byte sectors with NULs)\n",
			  dev);
		hz_free(buf);
		return -HZ_EINVAL;
	}
	buf[n] = 0;
	*text = (char *)buf;
	*len = n;
	return 0;
}

/* Loads the zone from @dev or the image; prints why not. */
static int zone_setup(struct server *srv, const char *dev, const char *origin)
{
	struct hz_errmsg err = {0};
	char *text = NULL;
	size_t len = haze_test_zone_len;
	const char *what = "the compiled zone (examples/dns/haze.test.zone)";
	int r;

	if (dev != NULL) {
		r = zone_text_read(dev, &text, &len);
		if (r < 0)
			return r;
		what = dev;
	}
	r = hz_dns_zone_load(&srv->zone, ZONE_BUDGET, origin,
			     text != NULL ? text : haze_test_zone, len, &err);
	hz_free(text);
	if (r < 0) {
		hz_printf("dns: %s%s: %s\n", dev != NULL ? "--zone " : "", what,
			  hz_errmsg_text(&err));
		return r;
	}
	return 0;
}

/* --- options and main ----------------------------------------------------- */

/* Parses decimal @s, 1..@max, into *out; false if it is not one. */
static bool parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Parses "RATE[/BURST[/SLIP]]" or "off" into @r. */
static bool parse_rrl(const char *s, struct hz_dns_rrl *r)
{
	uint32_t v[3] = {0, 0, 0};

	if (strcmp(s, "off") == 0) {
		hz_dns_rrl_init(r, UINT32_MAX, 0, 0);
		return true;
	}
	for (int i = 0; i < 3; i++) {
		const char *slash = strchr(s, '/');
		size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);

		if (!parse_u32(s, len, 1000000, &v[i]))
			return false;
		if (slash == NULL) {
			hz_dns_rrl_init(r, v[0], v[1], v[2]);
			return true;
		}
		s = slash + 1;
	}
	return false;
}

static void print_counter(const struct hz_counter *c, void *arg)
{
	(void)arg;
	if (c->value != 0)
		hz_printf(" %s.%s=%llu", c->source, c->name,
			  (unsigned long long)c->value);
}

/* Prints one line of figures every --stats seconds, on any target. */
static void stats_reporter(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		hz_sleep_ns(srv->stats_s * HZ_NS_PER_S);
		hz_printf("dns: stats: udp_queries %llu udp_sent %llu "
			  "tcp_queries %llu tcp_open %u tcp_refused %llu;",
			  (unsigned long long)srv->udp_queries,
			  (unsigned long long)srv->udp_sent,
			  (unsigned long long)srv->tcp_queries, srv->tcp_open,
			  (unsigned long long)srv->tcp_refused);
		hz_counters_foreach(print_counter, NULL);
		hz_printf("\n");
	}
}

static int usage(void)
{
	hz_printf("usage: dns [--stack SPEC] [--port P] [--zone DEVICE] "
		  "[--origin NAME]\n"
		  "           [--rrl RATE[/BURST[/SLIP]] | --rrl off] "
		  "[--tcp-max N] [--tcp-idle SECONDS] [--stats SECONDS]\n");
	return 2;
}

int hz_main(int argc, char **argv)
{
	static struct server srv = {.tcp_max = 256,
				    .tcp_idle_ns = 10 * HZ_NS_PER_S};
	struct hz_sockaddr addr = {0, 53};
	const char *spec = "direct:service", *dev = NULL, *origin = NULL;
	struct hz_errmsg err = {0};
	uint32_t idle_s = 10;
	char apex[HZ_DNS_NAME_MAX * 4];

	hz_dns_rrl_init(&srv.rrl, 0, 0, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool good = true;
		uint32_t s = 0;

		if (i + 1 == argc)
			return usage();
		v = argv[++i];
		if (strcmp(a, "--stack") == 0) {
			spec = v;
		} else if (strcmp(a, "--zone") == 0) {
			dev = v;
		} else if (strcmp(a, "--origin") == 0) {
			origin = v;
		} else if (strcmp(a, "--port") == 0) {
			good = hz_port_parse(v, strlen(v), &addr.port) == 0;
		} else if (strcmp(a, "--rrl") == 0) {
			good = parse_rrl(v, &srv.rrl);
		} else if (strcmp(a, "--tcp-max") == 0) {
			good = parse_u32(v, strlen(v), 65535, &srv.tcp_max);
		} else if (strcmp(a, "--tcp-idle") == 0) {
			good = parse_u32(v, strlen(v), 86400, &idle_s);
		} else if (strcmp(a, "--stats") == 0) {
			good = parse_u32(v, strlen(v), 86400, &s);
			srv.stats_s = s;
		} else {
			return usage();
		}
		if (!good) {
			hz_printf("dns: %s %s: not a valid value\n", a, v);
			return 1;
		}
	}
	srv.tcp_idle_ns = idle_s * HZ_NS_PER_S;
	/* Everything that can be wrong with the zone first. */
	if (zone_setup(&srv, dev, origin) < 0)
		return 1;
	srv.dns = (struct hz_dns_server){.zone = &srv.zone, .rrl = &srv.rrl};
	if (hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &srv.stack, &err) <
	    0) {
		hz_printf("dns: %s\n", hz_errmsg_text(&err));
		return 1;
	}
	if (hz_udp_open(srv.stack, &addr, &srv.udp) < 0 ||
	    hz_tcp_listen(srv.stack, &addr, 1024, &srv.tcp) < 0) {
		hz_printf("dns: port %u: %s\n", addr.port,
			  hz_stack_error(srv.stack));
		return 1;
	}
	if (hz_fiber_spawn("dns-udp", udp_serve, &srv, UDP_STACK) < 0 ||
	    (srv.stats_s != 0 &&
	     hz_fiber_spawn("stats", stats_reporter, &srv, 0) < 0)) {
		hz_printf("dns: no memory for the servers' fibers\n");
		return 1;
	}
	hz_printf("dns: zone %s., %zu records, from %s; UDP and TCP on port "
		  "%u\n",
		  hz_dns_name_text(srv.zone.apex, srv.zone.apex_len, apex,
				   sizeof(apex)),
		  srv.zone.nrr, dev != NULL ? dev : "the image", addr.port);
	tcp_accept_loop(&srv);
	return 1;
}
