/*
 * The direct stack (haze/ipstack.h): creation and teardown, the receive
 * fiber that drains the NET in batches, configuration (static or DHCP),
 * the STACK operations (UDP here, TCP forwarded to src/net/tcp.h), and
 * the totals every layer's drops feed.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/ipstack.h"
#include "haze/random.h"
#include "net/ipstack_impl.h"
#include "net/tcp.h"

#define RX_BATCH 32
/* After a failed read or wait, the receive fiber pauses this long. */
#define RX_ERROR_PAUSE_NS (50 * HZ_NS_PER_MS)
#define DEFAULT_REASM_LIMIT (256u * 1024)

HZ_LOG_SOURCE(ip_log, "ipstack");
HZ_COUNTER(st_rx_error, "ipstack", "rx_error");
HZ_COUNTER(st_drop_tcp, "ipstack", "drop_tcp_unavailable");

void hz_ipstack_drop(struct hz_ipstack *s, struct hz_counter *c)
{
	hz_counter_inc(c);
	s->stats.rx_drops++;
}

void hz_ipstack_tx_drop(struct hz_ipstack *s, struct hz_counter *c)
{
	hz_counter_inc(c);
	s->stats.tx_drops++;
}

uint64_t hz_ipstack_random(struct hz_ipstack *s)
{
	/* splitmix64: good enough for ids and ports, never for keys alone. */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static hz_ipv4_t prefix_mask(uint8_t prefix_len)
{
	return prefix_len == 0 ? 0 : ~(hz_ipv4_t)0 << (32 - prefix_len);
}

void hz_ipstack_set_address(struct hz_ipstack *s, hz_ipv4_t addr,
			    uint8_t prefix_len, hz_ipv4_t gateway)
{
	char a[HZ_IPV4_STRLEN], g[HZ_IPV4_STRLEN];

	s->addr = addr;
	s->prefix_len = prefix_len;
	s->mask = prefix_mask(prefix_len);
	s->gateway = gateway;
	s->configured = true;
	if (s->tcp != NULL)
		hz_tcp_set_local(s->tcp, addr);
	HZ_INFO(&ip_log, "%s: address %s/%u gateway %s", s->name,
		hz_ipv4_format(addr, a), prefix_len,
		hz_ipv4_format(gateway, g));
	hz_arp_announce(s);
	hz_waitq_wake_all(&s->configured_wq);
}

void hz_ipstack_clear_address(struct hz_ipstack *s)
{
	s->configured = false;
	s->addr = s->mask = s->gateway = 0;
	s->prefix_len = 0;
	memset(s->dns, 0, sizeof(s->dns));
	if (s->tcp != NULL)
		hz_tcp_set_local(s->tcp, 0);
	hz_arp_flush(s);
}

void hz_ipstack_input(struct hz_ipstack *s, struct hz_view *frame)
{
	s->stats.rx_frames++;
	hz_eth_input(s, frame);
}

/* --- the receive fiber ---------------------------------------------------- */

/* Reads and handles one batch; false when nothing was waiting. */
static bool rx_batch(struct hz_ipstack *s)
{
	struct hz_view v[RX_BATCH];
	int n = hz_net_read(s->net, v, RX_BATCH);

	if (n == -HZ_EAGAIN)
		return false;
	if (n < 0) {
		/* Said once a second at most: the read is tried again
		 * every RX_ERROR_PAUSE_NS while it lasts. */
		uint64_t now = hz_now();

		hz_counter_inc(&st_rx_error);
		if (s->rx_error_said == 0 ||
		    now - s->rx_error_said >= HZ_NS_PER_S) {
			HZ_WARN(&ip_log, "%s: receive: %s", s->name,
				s->net->ops->error_message(s->net));
			s->rx_error_said = now;
		}
		hz_sleep_ns(RX_ERROR_PAUSE_NS);
		return true;
	}
	/* What the batch makes us send goes out in one write too. */
	s->batching = true;
	for (int i = 0; i < n; i++)
		hz_ipstack_input(s, &v[i]);
	s->batching = false;
	hz_eth_flush(s);
	return true;
}

static void rx_fiber(void *arg)
{
	struct hz_ipstack *s = arg;

	while (!s->stopping) {
		if (rx_batch(s)) {
			/* Let the fibers we woke run before the next batch. */
			hz_fiber_yield();
			continue;
		}
		/* Woken by a frame, or by join_fibers to stop. */
		if (hz_net_wait(s->net, HZ_DEADLINE_NEVER) < 0)
			hz_sleep_ns(RX_ERROR_PAUSE_NS);
	}
	s->rx_running = false;
	hz_waitq_wake_all(&s->joins);
}

/* --- TCP wiring ----------------------------------------------------------- */

static int tcp_output(void *ctx, hz_ipv4_t src, hz_ipv4_t dst,
		      struct hz_view *seg)
{
	struct hz_ipstack *s = ctx;

	if (src != s->addr) {
		hz_view_release(seg);
		return -HZ_EINVAL;
	}
	return hz_ipv4_output(s, dst, HZ_IPPROTO_TCP, seg);
}

/*
 * Creates the stack's TCP; the one place the TCP module is wired in.
 *
 * The TCP's secret keys its ISNs, SYN cookies and challenge-ACK budgets
 * (SipHash), so it comes from Fortuna, never from the id generator whose
 * output goes on the wire (IP ids, ports, DHCP xids). A stack with a
 * configured seed (tests, the simulator) derives it from the seed to be
 * reproducible.
 */
static int tcp_attach(struct hz_ipstack *s)
{
	struct hz_tcp_env env = {
	    .output = tcp_output,
	    .ctx = s,
	    .local = s->addr,
	    .mtu = s->net->mtu,
	    .gso_max = s->net->gso_max,
	    .budget = &s->tcp_budget,
	};
	int r = -HZ_EINVAL;

	if (s->cfg.seed == 0)
		r = hz_random_bytes(env.secret, sizeof(env.secret));
	if (r < 0 && s->cfg.seed == 0)
		HZ_WARN(&ip_log,
			"%s: no random bytes (%s%s): TCP keys come from "
			"the id generator",
			s->name, hz_strerror(r),
			r == -HZ_ENOTSUP ? ": the image declares no random "
					   "source, HZ_RANDOM_SOURCE"
					 : "");
	for (size_t i = 0; r < 0 && i < sizeof(env.secret); i += 8) {
		uint64_t x = hz_ipstack_random(s);

		memcpy(env.secret + i, &x, 8);
	}
	return hz_tcp_create(&env, &s->tcp);
}

struct hz_tcp *hz_ipstack_tcp(struct hz_ipstack *s)
{
	return s->tcp;
}

void hz_ipstack_tcp_input(struct hz_ipstack *s, const struct ip_rx *rx,
			  struct hz_view *seg)
{
	if (s->tcp == NULL || rx->broadcast) {
		hz_ipstack_drop(s, &st_drop_tcp);
		hz_view_release(seg);
		return;
	}
	hz_tcp_input(s->tcp, &rx->meta, seg);
}

/* --- the STACK operations ------------------------------------------------- */

static struct hz_ipstack *of_stack(struct hz_stack *st)
{
	return (struct hz_ipstack *)st;
}

/* Makes a TCP failure the stack's last error, with TCP's detail. */
static int tcp_failed(struct hz_ipstack *s, int r)
{
	return r < 0 ? hz_errmsg_set(&s->err, r, "%s", hz_tcp_error(s->tcp))
		     : r;
}

static int op_tcp_connect(struct hz_stack *st, const struct hz_sockaddr *dst,
			  uint64_t deadline, struct hz_flow **out)
{
	struct hz_ipstack *s = of_stack(st);

	return tcp_failed(s, hz_tcp_connect_on(s->tcp, dst, deadline, out));
}

static int op_tcp_listen(struct hz_stack *st, const struct hz_sockaddr *local,
			 unsigned backlog, struct hz_listener **out)
{
	struct hz_ipstack *s = of_stack(st);

	return tcp_failed(s, hz_tcp_listen_on(s->tcp, local, backlog, out));
}

static int op_udp_open(struct hz_stack *st, const struct hz_sockaddr *local,
		       struct hz_udp_sock **out)
{
	return hz_udp_open_on(of_stack(st), local, out);
}

static const char *op_error(const struct hz_stack *st)
{
	return hz_errmsg_text(&((const struct hz_ipstack *)st)->err);
}

static void op_destroy(struct hz_stack *st)
{
	hz_ipstack_destroy(of_stack(st));
}

static const struct hz_stack_ops ipstack_ops = {
    .tcp_connect = op_tcp_connect,
    .tcp_listen = op_tcp_listen,
    .tcp_accept = hz_tcp_accept_on,
    .tcp_unlisten = hz_tcp_unlisten_on,
    .tcp_set = hz_tcp_set_on,
    .udp_open = op_udp_open,
    .udp_sendto = hz_udp_sendto_on,
    .udp_recvfrom = hz_udp_recvfrom_on,
    .udp_recv_batch = hz_udp_recv_batch_on,
    .udp_send_batch = hz_udp_send_batch_on,
    .udp_close = hz_udp_close_on,
    .error_message = op_error,
    .destroy = op_destroy,
};

/* --- lifecycle ------------------------------------------------------------ */

static bool config_valid(const struct hz_net *net,
			 const struct hz_ipstack_config *cfg)
{
	if (net->mtu < 68)
		return false;
	if (cfg->dhcp)
		return true;
	return cfg->prefix_len <= 32 && cfg->addr != 0 &&
	       cfg->addr != HZ_IPV4_BROADCAST;
}

static uint64_t seed_of(const struct hz_ipstack_config *cfg)
{
	uint64_t seed = cfg->seed;

	if (seed == 0 && hz_random_bytes(&seed, sizeof(seed)) < 0 &&
	    hz_platform_entropy(&seed, sizeof(seed)) < 0)
		seed = hz_platform_clock_wall() ^ hz_platform_clock_monotonic();
	return seed;
}

/* TCP may hold three quarters of the heap: the rest stays for the rest. */
static size_t tcp_default_limit(void)
{
	struct hz_mem_stats m;

	hz_mem_stats(&m);
	return m.heap_pages / 4 * 3 * HZ_PAGE_SIZE;
}

static void stack_init(struct hz_ipstack *s, struct hz_net *net,
		       const struct hz_ipstack_config *cfg)
{
	const char *name = cfg->name != NULL ? cfg->name : "ip";
	size_t n = strlen(name);

	s->stack.ops = &ipstack_ops;
	s->net = net;
	s->cfg = *cfg;
	if (n >= sizeof(s->name))
		n = sizeof(s->name) - 1;
	memcpy(s->name, name, n);
	s->name[n] = '\0';
	s->cfg.name = s->name;
	s->rng = seed_of(cfg);
	s->ip_id = (uint16_t)hz_ipstack_random(s);
	s->next_port = (uint16_t)hz_ipstack_random(s);
	s->ping_id = (uint16_t)hz_ipstack_random(s);
	s->tcp_budget.name = "tcp";
	s->tcp_budget.limit =
	    cfg->tcp_limit ? cfg->tcp_limit : tcp_default_limit();
	s->reasm_budget.name = "reasm";
	s->reasm_budget.limit =
	    cfg->reasm_limit ? cfg->reasm_limit : DEFAULT_REASM_LIMIT;
}

/* Waits until every fiber of the stack has ended. */
static void join_fibers(struct hz_ipstack *s)
{
	s->stopping = true;
	hz_net_wake(s->net);
	hz_dhcp_stop(s);
	while (s->rx_running || s->dhcp.running)
		if (hz_waitq_wait(&s->joins, HZ_DEADLINE_NEVER) < 0)
			continue;
}

/* Starts the receive fiber and the configuration. 0 or -HZ_ENOMEM. */
static int stack_start(struct hz_ipstack *s)
{
	int r = hz_fiber_spawn("ip-rx", rx_fiber, s, 0);

	if (r < 0)
		return r;
	s->rx_running = true;
	if (!s->cfg.dhcp) {
		hz_ipstack_set_address(s, s->cfg.addr, s->cfg.prefix_len,
				       s->cfg.gateway);
		return 0;
	}
	return hz_dhcp_start(s);
}

int hz_ipstack_create(struct hz_net *net, const struct hz_ipstack_config *cfg,
		      struct hz_ipstack **out)
{
	struct hz_ipstack *s;
	int r;

	*out = NULL;
	if (!config_valid(net, cfg))
		return -HZ_EINVAL;
	s = hz_calloc(1, sizeof(*s));
	if (s == NULL)
		return -HZ_ENOMEM;
	stack_init(s, net, cfg);
	r = tcp_attach(s);
	if (r < 0)
		goto free_stack;
	r = stack_start(s);
	if (r < 0)
		goto stop;
	*out = s;
	return 0;

stop:
	join_fibers(s);
	hz_tcp_destroy(s->tcp);
free_stack:
	hz_free(s);
	return r;
}

void hz_ipstack_destroy(struct hz_ipstack *s)
{
	struct hz_net *owned;

	if (s == NULL)
		return;
	owned = s->cfg.owns_net ? s->net : NULL;
	join_fibers(s);
	HZ_ASSERT(s->udp_socks == NULL && "UDP sockets left open");
	HZ_ASSERT(s->pings == NULL);
	hz_tcp_destroy(s->tcp);
	hz_arp_flush(s);
	hz_reasm_flush(s);
	hz_free(s);
	if (owned != NULL)
		hz_netdev_close(owned);
}

struct hz_stack *hz_ipstack_stack(struct hz_ipstack *s)
{
	return &s->stack;
}

struct hz_ipstack *hz_stack_ipstack(struct hz_stack *st)
{
	return st->ops == &ipstack_ops ? of_stack(st) : NULL;
}

int hz_ipstack_wait_configured(struct hz_ipstack *s, uint64_t deadline)
{
	while (!s->configured) {
		if (hz_waitq_wait(&s->configured_wq, deadline) < 0)
			return hz_errmsg_set(&s->err, -HZ_ETIMEDOUT,
					     "%s: no address configured yet",
					     s->name);
	}
	return 0;
}

void hz_ipstack_info(const struct hz_ipstack *s, struct hz_ipstack_info *info)
{
	*info = (struct hz_ipstack_info){
	    .configured = s->configured,
	    .addr = s->addr,
	    .prefix_len = s->prefix_len,
	    .gateway = s->gateway,
	    .dhcp_server = s->dhcp.state != DHCP_OFF ? s->dhcp.server : 0,
	    .lease_s = s->dhcp.state != DHCP_OFF ? s->dhcp.lease_s : 0,
	    .mac = s->net->mac,
	    .mtu = s->net->mtu,
	};
	memcpy(info->dns, s->dns, sizeof(info->dns));
}

void hz_ipstack_stats(const struct hz_ipstack *s, struct hz_ipstack_stats *st)
{
	*st = s->stats;
	/* TCP counts its own drops (it knows nothing of the stack). */
	if (s->tcp != NULL) {
		st->rx_drops += hz_tcp_drops(s->tcp);
		st->tcp_conns = hz_tcp_conn_count(s->tcp);
	}
	st->reasm_used = s->reasm_budget.used;
	st->tcp_used = s->tcp_budget.used;
}

const char *hz_ipstack_error(const struct hz_ipstack *s)
{
	return hz_errmsg_text(&s->err);
}
