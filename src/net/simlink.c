/*
 * The simulated link (haze/simlink.h): frames written on a port travel as
 * records in a list sorted by delivery time; one Haze timer moves those
 * that are due into the receiving ports' queues and wakes their readers.
 * Impairments draw from the link's own PRNG (xorshift64*, seeded through
 * splitmix64), so a seed replays the same losses in the same places.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/simlink.h"

#define DEFAULT_MTU 1500
#define DEFAULT_IN_FLIGHT 256
#define DEFAULT_RXQ 256
#define DEFAULT_REORDER_NS (1 * HZ_NS_PER_MS)

struct sim_frame {
	struct sim_frame *next;
	uint64_t at; /* delivery time */
	unsigned to; /* receiving port */
	struct hz_view v;
};

struct sim_port {
	struct hz_net net; /* first: the port is a NET */
	struct hz_simlink *link;
	unsigned index;
	struct hz_view *rxq; /* ring of rx_queue views */
	size_t rx_head;
	size_t rx_count;
	struct hz_waitq readers;
	struct hz_errmsg err;
};

struct hz_simlink {
	struct hz_simlink_config cfg;
	struct sim_port port[HZ_SIMLINK_MAX_PORTS];
	struct sim_frame *pool; /* max_in_flight records */
	struct sim_frame *free;
	struct sim_frame *head; /* in flight, by delivery time */
	struct sim_frame *tail;
	struct hz_timer timer;
	uint64_t rng;
	struct hz_simlink_stats stats;
};

/* --- PRNG ----------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rng_next(struct hz_simlink *l)
{
	uint64_t x = l->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	l->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Whether an event of @ppm parts per million happens this time. */
static bool rng_chance(struct hz_simlink *l, uint32_t ppm)
{
	if (ppm == 0)
		return false;
	return (rng_next(l) >> 11) % HZ_SIMLINK_PPM < ppm;
}

/* --- delivery ------------------------------------------------------------- */

static void rxq_push(struct sim_port *p, struct hz_view *v)
{
	struct hz_simlink *l = p->link;

	if (p->rx_count == l->cfg.rx_queue) {
		l->stats.drop_rxq++;
		hz_view_release(v);
		return;
	}
	p->rxq[(p->rx_head + p->rx_count) % l->cfg.rx_queue] = *v;
	p->rx_count++;
	l->stats.delivered++;
	hz_waitq_wake_all(&p->readers);
}

static void deliver_due(struct hz_timer *t)
{
	struct hz_simlink *l =
	    (struct hz_simlink *)((char *)t -
				  offsetof(struct hz_simlink, timer));
	uint64_t now = hz_now();

	while (l->head != NULL && l->head->at <= now) {
		struct sim_frame *f = l->head;

		l->head = f->next;
		if (l->head == NULL)
			l->tail = NULL;
		rxq_push(&l->port[f->to], &f->v);
		f->next = l->free;
		l->free = f;
	}
	if (l->head != NULL)
		hz_timer_arm(&l->timer, l->head->at);
}

/* Inserts @f in delivery order; equal times keep their writing order. */
static void flight_insert(struct hz_simlink *l, struct sim_frame *f)
{
	struct sim_frame **pp = &l->head;

	f->next = NULL;
	if (l->tail != NULL && l->tail->at <= f->at) {
		l->tail->next = f;
		l->tail = f;
	} else {
		while (*pp != NULL && (*pp)->at <= f->at)
			pp = &(*pp)->next;
		f->next = *pp;
		*pp = f;
		if (f->next == NULL)
			l->tail = f;
	}
	if (l->head == f)
		hz_timer_arm(&l->timer, f->at);
}

/* Puts @v (consumed) on the wire towards port @to. */
static void send_one(struct hz_simlink *l, unsigned to, struct hz_view *v)
{
	struct sim_frame *f = l->free;

	if (f == NULL) {
		l->stats.drop_full++;
		hz_view_release(v);
		return;
	}
	l->free = f->next;
	f->to = to;
	f->at = hz_now() + l->cfg.delay_ns;
	if (rng_chance(l, l->cfg.reorder_ppm)) {
		l->stats.reordered++;
		f->at += l->cfg.reorder_ns;
	}
	if (v->len > HZ_ETH_HLEN && rng_chance(l, l->cfg.corrupt_ppm)) {
		uint64_t r = rng_next(l);
		size_t at = HZ_ETH_HLEN + (size_t)(r % (v->len - HZ_ETH_HLEN));

		hz_view_data(v)[at] ^= (uint8_t)(1u << ((r >> 32) & 7));
		l->stats.corrupted++;
	}
	f->v = *v;
	*v = (struct hz_view){0};
	flight_insert(l, f);
}

/* A private copy of @v, or an empty view when memory is short. */
static int copy_frame(struct hz_simlink *l, const struct hz_view *v,
		      struct hz_view *out)
{
	if (hz_pbuf_alloc(NULL, v->len, out) < 0) {
		l->stats.drop_nomem++;
		return -HZ_ENOMEM;
	}
	memcpy(hz_view_data(out), hz_view_data(v), v->len);
	return 0;
}

/* Sends @v (consumed) to @to, plus a duplicate if the dice say so. */
static void send_to_port(struct hz_simlink *l, unsigned to,
			 const struct hz_view *v)
{
	struct hz_view c;

	if (copy_frame(l, v, &c) < 0)
		return;
	if (rng_chance(l, l->cfg.dup_ppm)) {
		struct hz_view d;

		if (copy_frame(l, &c, &d) == 0) {
			l->stats.duplicated++;
			send_one(l, to, &d);
		}
	}
	send_one(l, to, &c);
}

/* The port a unicast MAC belongs to, or -1 (flood). */
static int port_of(const struct hz_simlink *l, const uint8_t *mac)
{
	if (mac[0] & 1)
		return -1;
	for (unsigned i = 0; i < l->cfg.ports; i++)
		if (memcmp(l->port[i].net.mac.b, mac, HZ_ETH_ALEN) == 0)
			return (int)i;
	return -1;
}

static void write_frame(struct sim_port *p, struct hz_view *v)
{
	struct hz_simlink *l = p->link;
	int to;

	l->stats.written++;
	if (v->len < HZ_ETH_HLEN || v->len > (size_t)l->cfg.mtu + HZ_ETH_HLEN) {
		l->stats.drop_invalid++;
		return;
	}
	if (rng_chance(l, l->cfg.loss_ppm)) {
		l->stats.lost++;
		return;
	}
	to = port_of(l, hz_view_data(v));
	if (to == (int)p->index)
		return;
	if (to >= 0) {
		send_to_port(l, (unsigned)to, v);
		return;
	}
	for (unsigned i = 0; i < l->cfg.ports; i++)
		if (i != p->index)
			send_to_port(l, i, v);
}

/* --- the NET operations --------------------------------------------------- */

static int port_read(struct hz_net *n, struct hz_view *out, size_t max)
{
	struct sim_port *p = (struct sim_port *)n;
	size_t got = 0;

	while (got < max && p->rx_count > 0) {
		out[got++] = p->rxq[p->rx_head];
		p->rx_head = (p->rx_head + 1) % p->link->cfg.rx_queue;
		p->rx_count--;
	}
	return got > 0 ? (int)got : -HZ_EAGAIN;
}

static int port_write(struct hz_net *n, struct hz_view *frames, size_t count)
{
	struct sim_port *p = (struct sim_port *)n;

	for (size_t i = 0; i < count; i++) {
		write_frame(p, &frames[i]);
		hz_view_release(&frames[i]);
	}
	return (int)count;
}

static int port_wait(struct hz_net *n, uint64_t deadline)
{
	struct sim_port *p = (struct sim_port *)n;

	if (p->rx_count > 0)
		return 0;
	return hz_waitq_wait(&p->readers, deadline);
}

static void port_wake(struct hz_net *n)
{
	hz_waitq_wake_all(&((struct sim_port *)n)->readers);
}

static const char *port_error(const struct hz_net *n)
{
	const struct sim_port *p = (const struct sim_port *)n;

	return hz_errmsg_text(&p->err);
}

static const struct hz_net_ops port_ops = {
    .read = port_read,
    .write = port_write,
    .wait = port_wait,
    .error_message = port_error,
    .wake = port_wake,
};

/* --- lifecycle ------------------------------------------------------------ */

static void apply_defaults(struct hz_simlink_config *c)
{
	if (c->mtu == 0)
		c->mtu = DEFAULT_MTU;
	if (c->max_in_flight == 0)
		c->max_in_flight = DEFAULT_IN_FLIGHT;
	if (c->rx_queue == 0)
		c->rx_queue = DEFAULT_RXQ;
	if (c->reorder_ns == 0)
		c->reorder_ns = DEFAULT_REORDER_NS;
}

static bool config_valid(const struct hz_simlink_config *c)
{
	return c->ports >= 2 && c->ports <= HZ_SIMLINK_MAX_PORTS &&
	       c->mtu >= 68 && c->loss_ppm <= HZ_SIMLINK_PPM &&
	       c->dup_ppm <= HZ_SIMLINK_PPM &&
	       c->reorder_ppm <= HZ_SIMLINK_PPM &&
	       c->corrupt_ppm <= HZ_SIMLINK_PPM &&
	       c->max_in_flight <= (1u << 20) && c->rx_queue <= (1u << 20);
}

static void port_init(struct hz_simlink *l, unsigned i)
{
	struct sim_port *p = &l->port[i];
	static const uint8_t base[HZ_ETH_ALEN] = {0x02, 0x48, 0x5a, 0, 0, 0};

	p->net.ops = &port_ops;
	memcpy(p->net.mac.b, base, sizeof(base));
	p->net.mac.b[5] = (uint8_t)(i + 1);
	p->net.mtu = l->cfg.mtu;
	p->link = l;
	p->index = i;
}

int hz_simlink_create(const struct hz_simlink_config *cfg,
		      struct hz_simlink **out)
{
	struct hz_simlink *l;
	struct hz_simlink_config c = *cfg;
	uint64_t seed = cfg->seed;

	*out = NULL;
	apply_defaults(&c);
	if (!config_valid(&c))
		return -HZ_EINVAL;
	l = hz_calloc(1, sizeof(*l));
	if (l == NULL)
		return -HZ_ENOMEM;
	l->cfg = c;
	l->pool = hz_calloc(c.max_in_flight, sizeof(*l->pool));
	if (l->pool == NULL)
		goto free_link;
	for (unsigned i = 0; i < c.ports; i++) {
		port_init(l, i);
		l->port[i].rxq = hz_calloc(c.rx_queue, sizeof(struct hz_view));
		if (l->port[i].rxq == NULL)
			goto free_queues;
	}
	for (size_t i = 0; i < c.max_in_flight; i++) {
		l->pool[i].next = l->free;
		l->free = &l->pool[i];
	}
	l->rng = splitmix64(&seed) | 1;
	hz_timer_init(&l->timer, deliver_due);
	*out = l;
	return 0;

free_queues:
	for (unsigned i = 0; i < c.ports; i++)
		hz_free(l->port[i].rxq);
	hz_free(l->pool);
free_link:
	hz_free(l);
	return -HZ_ENOMEM;
}

void hz_simlink_destroy(struct hz_simlink *l)
{
	if (l == NULL)
		return;
	hz_timer_cancel(&l->timer);
	while (l->head != NULL) {
		hz_view_release(&l->head->v);
		l->head = l->head->next;
	}
	for (unsigned i = 0; i < l->cfg.ports; i++) {
		struct sim_port *p = &l->port[i];

		HZ_ASSERT(p->readers.head == NULL && "port destroyed in use");
		while (p->rx_count > 0) {
			hz_view_release(&p->rxq[p->rx_head]);
			p->rx_head = (p->rx_head + 1) % l->cfg.rx_queue;
			p->rx_count--;
		}
		hz_free(p->rxq);
	}
	hz_free(l->pool);
	hz_free(l);
}

struct hz_net *hz_simlink_port(struct hz_simlink *l, unsigned i)
{
	HZ_ASSERT(i < l->cfg.ports);
	return &l->port[i].net;
}

void hz_simlink_stats(const struct hz_simlink *l, struct hz_simlink_stats *st)
{
	*st = l->stats;
}

void hz_simlink_set_rates(struct hz_simlink *l, uint32_t loss_ppm,
			  uint32_t dup_ppm, uint32_t reorder_ppm,
			  uint32_t corrupt_ppm)
{
	HZ_ASSERT(loss_ppm <= HZ_SIMLINK_PPM && dup_ppm <= HZ_SIMLINK_PPM &&
		  reorder_ppm <= HZ_SIMLINK_PPM &&
		  corrupt_ppm <= HZ_SIMLINK_PPM);
	l->cfg.loss_ppm = loss_ppm;
	l->cfg.dup_ppm = dup_ppm;
	l->cfg.reorder_ppm = reorder_ppm;
	l->cfg.corrupt_ppm = corrupt_ppm;
}
