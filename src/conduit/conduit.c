/*
 * Conduit (haze/conduit.h): from an endpoint string to a FLOW. Parses the
 * endpoint, resolves its host through the DNS stub resolver, connects or
 * listens through the STACK, and for tls: wraps the TCP flow in a TLS
 * flow of the conduit's configuration. Each layer's failure message is
 * kept whole behind "conduit ENDPOINT: ".
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/conduit.h"
#include "haze/hostname.h"
#include "haze/mem.h"

#define BACKLOG_DEFAULT 16
/* Bytes of an endpoint string repeated in messages. */
#define SHOWN_MAX 64

struct hz_conduit_listener {
	struct hz_conduit *c;
	struct hz_listener *l;
	const struct hz_tls_config *tls; /* NULL: plain TCP */
	char shown[SHOWN_MAX + 4];
	struct hz_errmsg err;
};

/* Copies @s for a message: printable ASCII only, at most SHOWN_MAX. */
static char *show(const char *s, char *buf)
{
	size_t n = 0;

	for (; s[n] != '\0' && n < SHOWN_MAX; n++)
		buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	if (s[n] != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

void hz_conduit_init(struct hz_conduit *c, const struct hz_conduit_config *cfg)
{
	HZ_ASSERT(cfg->stack != NULL);
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	hz_dns_cache_init(&c->cache);
	c->cfg.dns.cache = &c->cache;
}

const char *hz_conduit_error(const struct hz_conduit *c)
{
	return hz_errmsg_text(&c->err);
}

const char *hz_conduit_listener_error(const struct hz_conduit_listener *l)
{
	return hz_errmsg_text(&l->err);
}

/* Parses @endpoint, naming it in the message on failure. */
static int endpoint_get(struct hz_errmsg *err, const char *endpoint,
			struct hz_endpoint *ep, char *shown)
{
	const char *why;

	show(endpoint, shown);
	if (hz_endpoint_parse(endpoint, ep, &why) < 0)
		return hz_errmsg_set(err, -HZ_EINVAL, "conduit %s: %s", shown,
				     why);
	return 0;
}

/* The rule of @c for host @host and port @port in @role, or NULL. */
static struct hz_conduit_tls_rule *tls_rule(struct hz_conduit *c,
					    const char *host, uint16_t port,
					    enum hz_tls_role role)
{
	for (size_t i = 0; i < c->ntls_rules; i++) {
		struct hz_conduit_tls_rule *r = &c->tls_rules[i];

		if (r->port == port && hz_tls_config_role(r->tls) == role &&
		    hz_hostname_equal(r->host, host))
			return r;
	}
	return NULL;
}

/* The TLS configuration for @ep in @role: its own, or the default. */
static const struct hz_tls_config *tls_for(struct hz_conduit *c,
					   const struct hz_endpoint *ep,
					   enum hz_tls_role role)
{
	struct hz_conduit_tls_rule *r = tls_rule(c, ep->host, ep->port, role);

	if (r != NULL)
		return r->tls;
	return role == HZ_TLS_CLIENT ? c->cfg.tls_client : c->cfg.tls_server;
}

int hz_conduit_set_tls(struct hz_conduit *c, const char *endpoint,
		       const struct hz_tls_config *tls)
{
	char shown[SHOWN_MAX + 4];
	struct hz_endpoint ep;
	struct hz_conduit_tls_rule *r;
	int e = endpoint_get(&c->err, endpoint, &ep, shown);

	if (e < 0)
		return e;
	if (tls == NULL)
		return hz_errmsg_set(&c->err, -HZ_EINVAL,
				     "conduit %s: no TLS configuration given",
				     shown);
	if (ep.scheme != HZ_ENDPOINT_TLS)
		return hz_errmsg_set(&c->err, -HZ_EINVAL,
				     "conduit %s: a TLS configuration is for "
				     "tls: endpoints",
				     shown);
	r = tls_rule(c, ep.host, ep.port, hz_tls_config_role(tls));
	if (r == NULL && c->ntls_rules == HZ_CONDUIT_TLS_RULES)
		return hz_errmsg_set(&c->err, -HZ_ENOSPC,
				     "conduit %s: already %d endpoints have "
				     "their own TLS configuration",
				     shown, HZ_CONDUIT_TLS_RULES);
	if (r == NULL) {
		r = &c->tls_rules[c->ntls_rules++];
		memcpy(r->host, ep.host, sizeof(r->host));
		r->port = ep.port;
	}
	r->tls = tls;
	return 0;
}

/* Wraps @tcp in a TLS client flow and runs the handshake. */
static int tls_connect(struct hz_conduit *c, const char *shown,
		       const struct hz_endpoint *ep, struct hz_flow *tcp,
		       uint64_t deadline, struct hz_flow **out)
{
	struct hz_flow *tls;
	int r =
	    hz_tls_client(tcp, tls_for(c, ep, HZ_TLS_CLIENT), ep->host, &tls);

	if (r < 0)
		return hz_errmsg_set(&c->err, r, "conduit %s: TLS: %s", shown,
				     hz_strerror(r));
	r = hz_tls_handshake(tls, deadline);
	if (r < 0) {
		r = hz_errmsg_set(&c->err, r, "conduit %s: %s", shown,
				  hz_flow_error(tls));
		hz_flow_free(tls);
		return r;
	}
	*out = tls;
	return 0;
}

int hz_conduit_connect(struct hz_conduit *c, const char *endpoint,
		       uint64_t deadline, struct hz_flow **out)
{
	char shown[SHOWN_MAX + 4];
	struct hz_endpoint ep;
	struct hz_errmsg dns = {0};
	struct hz_sockaddr dst;
	struct hz_flow *tcp;
	int r;

	*out = NULL;
	r = endpoint_get(&c->err, endpoint, &ep, shown);
	if (r < 0)
		return r;
	if (ep.scheme == HZ_ENDPOINT_TLS && ep.literal)
		return hz_errmsg_set(
		    &c->err, -HZ_EINVAL,
		    "conduit %s: TLS needs the server's name, to send (SNI) "
		    "and to check its certificate against; an address cannot "
		    "be checked (give tls:NAME:PORT)",
		    shown);
	if (ep.scheme == HZ_ENDPOINT_TLS &&
	    tls_for(c, &ep, HZ_TLS_CLIENT) == NULL)
		return hz_errmsg_set(&c->err, -HZ_EINVAL,
				     "conduit %s: no TLS client configuration",
				     shown);
	dst.port = ep.port;
	dst.addr = ep.addr;
	if (!ep.literal) {
		r = hz_dns_resolve(c->cfg.stack, &c->cfg.dns, ep.host, deadline,
				   &dst.addr, &dns);
		if (r < 0)
			return hz_errmsg_set(&c->err, r, "conduit %s: %s",
					     shown, hz_errmsg_text(&dns));
	}
	r = hz_tcp_connect(c->cfg.stack, &dst, deadline, &tcp);
	if (r < 0)
		return hz_errmsg_set(&c->err, r, "conduit %s: %s", shown,
				     hz_stack_error(c->cfg.stack));
	if (ep.scheme == HZ_ENDPOINT_TLS)
		return tls_connect(c, shown, &ep, tcp, deadline, out);
	*out = tcp;
	return 0;
}

int hz_conduit_listen(struct hz_conduit *c, const char *endpoint,
		      struct hz_conduit_listener **out)
{
	struct hz_conduit_listener *l;
	char shown[SHOWN_MAX + 4];
	struct hz_endpoint ep;
	struct hz_sockaddr local;
	unsigned backlog = c->cfg.backlog ? c->cfg.backlog : BACKLOG_DEFAULT;
	int r;

	*out = NULL;
	r = endpoint_get(&c->err, endpoint, &ep, shown);
	if (r < 0)
		return r;
	if (!ep.literal)
		return hz_errmsg_set(&c->err, -HZ_EINVAL,
				     "conduit %s: listening needs an address "
				     "(A.B.C.D, or 0.0.0.0 for any)",
				     shown);
	if (ep.scheme == HZ_ENDPOINT_TLS &&
	    tls_for(c, &ep, HZ_TLS_SERVER) == NULL)
		return hz_errmsg_set(&c->err, -HZ_EINVAL,
				     "conduit %s: no TLS server configuration",
				     shown);
	l = hz_calloc(1, sizeof(*l));
	if (l == NULL)
		return hz_errmsg_set(&c->err, -HZ_ENOMEM,
				     "conduit %s: no memory for a listener",
				     shown);
	local.addr = ep.addr;
	local.port = ep.port;
	r = hz_tcp_listen(c->cfg.stack, &local, backlog, &l->l);
	if (r < 0) {
		hz_free(l);
		return hz_errmsg_set(&c->err, r, "conduit %s: %s", shown,
				     hz_stack_error(c->cfg.stack));
	}
	l->c = c;
	l->tls = ep.scheme == HZ_ENDPOINT_TLS ? tls_for(c, &ep, HZ_TLS_SERVER)
					      : NULL;
	memcpy(l->shown, shown, sizeof(l->shown));
	*out = l;
	return 0;
}

int hz_conduit_accept(struct hz_conduit_listener *l, uint64_t deadline,
		      struct hz_flow **out)
{
	struct hz_stack *s = l->c->cfg.stack;
	struct hz_flow *tcp;
	int r;

	*out = NULL;
	r = hz_tcp_accept(s, l->l, deadline, &tcp);
	if (r == -HZ_ETIMEDOUT)
		return hz_errmsg_set(&l->err, r,
				     "conduit %s: no connection before the "
				     "deadline",
				     l->shown);
	if (r < 0)
		return hz_errmsg_set(&l->err, r, "conduit %s: %s", l->shown,
				     hz_stack_error(s));
	if (l->tls == NULL) {
		*out = tcp;
		return 0;
	}
	r = hz_tls_server(tcp, l->tls, out);
	if (r < 0)
		return hz_errmsg_set(&l->err, r, "conduit %s: TLS: %s",
				     l->shown, hz_strerror(r));
	return 0;
}

void hz_conduit_unlisten(struct hz_conduit_listener *l)
{
	hz_tcp_unlisten(l->c->cfg.stack, l->l);
	hz_free(l);
}
