/*
 * hz_stack_open: from a spec string to a STACK, so that one application
 * binary runs on the host's sockets or on Haze's own TCP/IP, chosen on
 * its command line.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "haze/ipstack.h"
#include "haze/platform.h"
#include "haze/stack.h"

/* What a "direct:" spec asks for. */
struct direct_spec {
	char net[HZ_DEVICE_NAME_MAX];
	hz_ipv4_t addr; /* 0: DHCP */
	unsigned prefix;
	hz_ipv4_t gateway;
	bool no_tso; /* tso=off: the NIC's segmentation offload unused */
};

/* Parses "A.B.C.D/N" into an address and a prefix length. */
static int parse_cidr(const char *s, size_t len, hz_ipv4_t *addr,
		      unsigned *prefix)
{
	char buf[HZ_IPV4_STRLEN + 4];
	char *slash, *end;
	unsigned long p;

	if (len >= sizeof(buf))
		return -HZ_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash == NULL)
		return -HZ_EINVAL;
	*slash = '\0';
	p = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || p > 32)
		return -HZ_EINVAL;
	*prefix = (unsigned)p;
	return hz_ipv4_parse(buf, addr);
}

/* Parses "A.B.C.D" of @len bytes. */
static int parse_addr(const char *s, size_t len, hz_ipv4_t *addr)
{
	char buf[HZ_IPV4_STRLEN];

	if (len >= sizeof(buf))
		return -HZ_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return hz_ipv4_parse(buf, addr);
}

static int parse_direct(const char *spec, struct direct_spec *d,
			struct hz_errmsg *err)
{
	const char *p = spec + strlen("direct:");
	size_t n = strcspn(p, ",");

	*d = (struct direct_spec){0};
	if (n == 0 || n >= sizeof(d->net))
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "stack %s: name the NIC: direct:NET",
				     spec);
	memcpy(d->net, p, n);
	for (p += n; *p == ','; p += n) {
		p++;
		n = strcspn(p, ",");
		if (n > 3 && memcmp(p, "ip=", 3) == 0) {
			if (parse_cidr(p + 3, n - 3, &d->addr, &d->prefix) < 0)
				goto bad;
		} else if (n > 3 && memcmp(p, "gw=", 3) == 0) {
			if (parse_addr(p + 3, n - 3, &d->gateway) < 0)
				goto bad;
		} else if (n == 7 && memcmp(p, "tso=off", 7) == 0) {
			d->no_tso = true;
		} else {
			goto bad;
		}
	}
	if (d->gateway != 0 && d->addr == 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "stack %s: gw= needs ip=", spec);
	return 0;
bad:
	return hz_errmsg_set(
	    err, -HZ_EINVAL,
	    "stack %s: cannot understand '%.*s' (ip=A.B.C.D/N, "
	    "gw=A.B.C.D, tso=off)",
	    spec, (int)n, p);
}

static int open_direct(const char *spec, uint64_t deadline,
		       struct hz_stack **out, struct hz_errmsg *err)
{
	struct hz_ipstack_config cfg = {0};
	struct direct_spec d;
	struct hz_ipstack *ip;
	struct hz_net *net;
	int r;

	r = parse_direct(spec, &d, err);
	if (r < 0)
		return r;
	r = hz_netdev_open(d.net, NULL, &net);
	if (r == -HZ_ENOENT)
		return hz_errmsg_set(err, r,
				     "stack %s: no NIC '%s' is bound to the "
				     "unikernel (bind one where it starts: "
				     "--net %s=tap:IF)",
				     spec, d.net, d.net);
	if (r < 0)
		return hz_errmsg_set(err, r, "stack %s: NIC '%s': %s", spec,
				     d.net, hz_strerror(r));
	if (d.no_tso)
		net->gso_max = 0; /* every segment cut here */
	cfg.dhcp = d.addr == 0;
	cfg.addr = d.addr;
	cfg.prefix_len = (uint8_t)d.prefix;
	cfg.gateway = d.gateway;
	cfg.name = d.net;
	cfg.owns_net = true;
	r = hz_ipstack_create(net, &cfg, &ip);
	if (r < 0) {
		hz_netdev_close(net);
		return hz_errmsg_set(err, r, "stack %s: %s", spec,
				     hz_strerror(r));
	}
	r = hz_ipstack_wait_configured(ip, deadline);
	if (r < 0) {
		r = hz_errmsg_set(err, r, "stack %s: no address: %s", spec,
				  hz_ipstack_error(ip));
		hz_ipstack_destroy(ip);
		return r;
	}
	*out = hz_ipstack_stack(ip);
	return 0;
}

int hz_stack_open(const char *spec, uint64_t deadline, struct hz_stack **out,
		  struct hz_errmsg *err)
{
	int r;

	*out = NULL;
	if (strcmp(spec, "socket") == 0) {
		r = hz_platform_socket_stack(out);
		if (r < 0)
			return hz_errmsg_set(err, r,
					     "stack socket: %s (this target "
					     "has no host sockets?)",
					     hz_strerror(r));
		return 0;
	}
	if (strncmp(spec, "direct:", 7) == 0)
		return open_direct(spec, deadline, out, err);
	return hz_errmsg_set(
	    err, -HZ_EINVAL,
	    "unknown stack '%s' (socket, direct:NET[,ip=A.B.C.D/"
	    "N][,gw=A.B.C.D][,tso=off])",
	    spec);
}
