/*
 * The endpoint-string parser of haze/conduit.h: "tcp:HOST:PORT" and
 * "tls:HOST:PORT". Strings come from command lines and configuration, so
 * the parser trusts nothing: bounded length, an exact scheme, a host that
 * is a dotted quad or a DNS host name, a port of 1..65535 in decimal.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/conduit.h"

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int refuse(const char **why, const char *reason)
{
	*why = reason;
	return -HZ_EINVAL;
}

/* Checks @host (NUL-terminated) as a host name. */
static int name_check(const char *host, const char **why)
{
	size_t len = strlen(host), i = 0;
	bool digits_only = false;

	if (host[len - 1] == '.')
		len--;
	if (len == 0)
		return refuse(why, "empty host name");
	while (i < len) {
		size_t j = i;

		digits_only = true;
		while (j < len && host[j] != '.') {
			if (!host_char(host[j]))
				return refuse(why,
					      "host name has a character "
					      "other than letters, digits, "
					      "'-', '_' and '.'");
			if (host[j] < '0' || host[j] > '9')
				digits_only = false;
			j++;
		}
		if (j == i)
			return refuse(why, "host name has an empty label");
		if (j - i > 63)
			return refuse(why, "host name has a label over 63 "
					   "bytes");
		if (host[i] == '-' || host[j - 1] == '-')
			return refuse(why, "host name label starts or ends "
					   "with '-'");
		i = j + 1;
	}
	if (digits_only)
		return refuse(why, "not a valid IPv4 address");
	return 0;
}

int hz_endpoint_parse(const char *s, struct hz_endpoint *out, const char **why)
{
	const char *host, *colon;
	size_t len, hlen;

	HZ_ASSERT(s != NULL && out != NULL && why != NULL);
	memset(out, 0, sizeof(*out));
	len = strnlen(s, HZ_ENDPOINT_MAX + 1);
	if (len > HZ_ENDPOINT_MAX)
		return refuse(why, "endpoint too long");
	if (strncmp(s, "tcp:", 4) == 0) {
		out->scheme = HZ_ENDPOINT_TCP;
	} else if (strncmp(s, "tls:", 4) == 0) {
		out->scheme = HZ_ENDPOINT_TLS;
	} else {
		return refuse(why, memchr(s, ':', len) != NULL
				       ? "unknown scheme (tcp:, tls:)"
				       : "expected tcp:HOST:PORT or "
					 "tls:HOST:PORT");
	}
	host = s + 4;
	colon = strrchr(host, ':');
	if (colon == NULL)
		return refuse(why, "missing :PORT");
	hlen = (size_t)(colon - host);
	if (memchr(host, '[', hlen) != NULL || memchr(host, ':', hlen) != NULL)
		return refuse(why, "IPv6 addresses are not supported");
	if (hlen == 0)
		return refuse(why, "empty host");
	if (hlen >= sizeof(out->host))
		return refuse(why, "host name longer than 253 bytes");
	if (hz_port_parse(colon + 1, strlen(colon + 1), &out->port) < 0)
		return refuse(why, "bad port (a decimal number, 1..65535)");
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (hz_ipv4_parse(out->host, &out->addr) == 0) {
		out->literal = true;
		return 0;
	}
	return name_check(out->host, why);
}
