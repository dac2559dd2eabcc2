/*
 * A small HTTP/1.1 client (haze/http.h): URLs to conduit endpoints
 * (http: to tcp:, https: to tls:), one request written with one writev,
 * responses read with the same parser as the server's, in the response
 * role. Bytes that follow a response stay for the next, so a test can
 * pipeline requests on one connection and read the answers in turn.
 */
#include <stdio.h>
#include <string.h>

#include "haze/http.h"
#include "haze/net.h"

/* The client's parser limits: its buffer is HZ_HTTP_CLIENT_HEAD_MAX. */
#define CLIENT_LINE_MAX 1024u

/* Whether @s begins with the lower-case @prefix, in any case. */
static bool has_prefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		char c = *s >= 'A' && *s <= 'Z' ? (char)(*s | 0x20) : *s;

		if (c != *prefix)
			return false;
	}
	return true;
}

int hz_http_url_parse(const char *url, struct hz_http_url *out,
		      const char **why)
{
	const char *s = url, *host, *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (has_prefix(s, "http://")) {
		s += 7;
		out->port = 80;
	} else if (has_prefix(s, "https://")) {
		s += 8;
		out->tls = true;
		out->port = 443;
	} else {
		*why = "not an http: or https: URL";
		return -HZ_EINVAL;
	}
	host = s;
	while (*s != '\0' && *s != ':' && *s != '/' && *s != '?' && *s != '#' &&
	       *s != '@' && *s != '[')
		s++;
	if (*s == '@') {
		*why = "user information in URLs is not supported";
		return -HZ_EINVAL;
	}
	if (*s == '[') {
		*why = "IPv6 addresses are not supported";
		return -HZ_EINVAL;
	}
	n = (size_t)(s - host);
	if (n == 0 || n >= sizeof(out->host)) {
		*why = n == 0 ? "empty host" : "host too long";
		return -HZ_EINVAL;
	}
	memcpy(out->host, host, n);
	if (*s == ':') {
		end = ++s;
		while (*end != '\0' && *end != '/' && *end != '?' &&
		       *end != '#')
			end++;
		if (hz_port_parse(s, (size_t)(end - s), &out->port) < 0) {
			*why = "bad port";
			return -HZ_EINVAL;
		}
		s = end;
	}
	if (*s != '\0' && *s != '/') {
		*why = "the path must start with /";
		return -HZ_EINVAL;
	}
	if (strchr(s, '#') != NULL) {
		*why = "fragments are not sent in requests";
		return -HZ_EINVAL;
	}
	out->path = *s == '/' ? s : "/";
	return 0;
}

void hz_http_client_attach(struct hz_http_client *c, struct hz_flow *flow,
			   const char *host)
{
	struct hz_http_limits lim = {
	    .max_line = CLIENT_LINE_MAX,
	    .max_header_bytes = HZ_HTTP_CLIENT_HEAD_MAX - CLIENT_LINE_MAX,
	    .max_fields = HZ_HTTP_CLIENT_FIELDS,
	    .max_body = UINT64_MAX,
	};

	memset(c, 0, sizeof(*c));
	c->flow = flow;
	snprintf(c->host, sizeof(c->host), "%s", host);
	hz_http_parser_init(&c->parser, HZ_HTTP_PARSE_RESPONSE, &lim, c->buf,
			    sizeof(c->buf), c->fields, HZ_HTTP_CLIENT_FIELDS);
}

int hz_http_client_open(struct hz_http_client *c, struct hz_conduit *conduit,
			const char *url, uint64_t deadline)
{
	char ep[HZ_ENDPOINT_MAX + 8], host[sizeof(c->host)];
	struct hz_http_url u;
	struct hz_flow *flow;
	const char *why;
	int r;

	memset(c, 0, sizeof(*c));
	r = hz_http_url_parse(url, &u, &why);
	if (r < 0)
		return hz_errmsg_set(&c->err, r, "HTTP: %s", why);
	snprintf(ep, sizeof(ep), "%s:%s:%u", u.tls ? "tls" : "tcp", u.host,
		 u.port);
	r = hz_conduit_connect(conduit, ep, deadline, &flow);
	if (r < 0)
		return hz_errmsg_set(&c->err, r, "HTTP: %s",
				     hz_conduit_error(conduit));
	if (u.port == (u.tls ? 443 : 80))
		snprintf(host, sizeof(host), "%s", u.host);
	else
		snprintf(host, sizeof(host), "%s:%u", u.host, u.port);
	hz_http_client_attach(c, flow, host);
	return 0;
}

int hz_http_client_send(struct hz_http_client *c, const char *method,
			const char *target, const struct hz_http_header *h,
			size_t n, const void *body, size_t len,
			uint64_t deadline)
{
	struct hz_http_request_head rh = {
	    .method = method,
	    .target = target,
	    .host = c->host,
	    .headers = h,
	    .nheaders = n,
	};
	struct hz_iov iov[2];
	char head[2048];
	ssize_t hl;
	size_t first = 0;

	if (body != NULL || len > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0) {
		rh.framing = HZ_HTTP_BODY_LENGTH;
		rh.content_length = len;
	}
	hl = hz_http_write_request_head(head, sizeof(head), &rh);
	if (hl < 0)
		return hz_errmsg_set(&c->err, (int)hl,
				     "HTTP: cannot write the request head: %s",
				     hz_strerror((int)hl));
	iov[0] = (struct hz_iov){head, (size_t)hl};
	iov[1] = (struct hz_iov){body, len};
	while (first < 2) {
		ssize_t w =
		    hz_flow_writev(c->flow, iov + first, 2 - first, deadline);
		size_t k;

		if (w < 0)
			return hz_errmsg_set(&c->err, (int)w, "HTTP: %s",
					     hz_flow_error(c->flow));
		for (k = (size_t)w; first < 2 && k >= iov[first].len;) {
			k -= iov[first].len;
			first++;
		}
		if (first < 2) {
			iov[first].base = (const char *)iov[first].base + k;
			iov[first].len -= k;
			if (hz_now() >= deadline)
				return hz_errmsg_set(&c->err, -HZ_ETIMEDOUT,
						     "HTTP: request not sent "
						     "before the deadline");
		}
	}
	return 0;
}

/* Reads the connection's next bytes; 0 at its end (noted), or error. */
static int client_read(struct hz_http_client *c, uint64_t deadline)
{
	int r;

	hz_view_release(&c->in);
	c->in_off = 0;
	r = hz_flow_read(c->flow, &c->in, deadline);
	if (r == 0)
		c->eof = true;
	if (r < 0)
		return hz_errmsg_set(&c->err, r, "HTTP: %s",
				     hz_flow_error(c->flow));
	return 0;
}

static void take_body(struct hz_http_client_response *res,
		      const struct hz_http_event *ev)
{
	size_t room = res->body_cap - res->body_len;
	size_t n = ev->len < room ? ev->len : room;

	if (n > 0)
		memcpy((uint8_t *)res->body + res->body_len, ev->data, n);
	res->body_len += n;
	res->body_total += ev->len;
}

int hz_http_client_recv(struct hz_http_client *c, bool head_request,
			struct hz_http_client_response *res, uint64_t deadline)
{
	const struct hz_http_head *h = &c->parser.head;

	res->body_len = 0;
	res->body_total = 0;
	res->status = 0;
	res->head = NULL;
	res->keep_alive = false;
	if (res->body == NULL)
		res->body_cap = 0;
	hz_http_parser_set_head_request(&c->parser, head_request);
	for (;;) {
		struct hz_http_event ev;
		size_t used;
		int r = hz_http_parse(
		    &c->parser,
		    c->in.pb != NULL ? hz_view_data(&c->in) + c->in_off : NULL,
		    c->in.len - c->in_off, &used, &ev);

		c->in_off += used;
		if (r == HZ_HTTP_EV_MORE && c->eof) {
			r = hz_http_parse_eof(&c->parser, &ev);
			if (r == HZ_HTTP_EV_MORE)
				return hz_errmsg_set(&c->err, -HZ_ECONNRESET,
						     "HTTP %s: closed before "
						     "a response",
						     c->host);
		}
		if (r < 0)
			return hz_errmsg_set(&c->err, r, "HTTP %s: %s", c->host,
					     hz_http_parser_error(&c->parser));
		if (r == HZ_HTTP_EV_BODY && h->status >= 200) {
			take_body(res, &ev);
		} else if (r == HZ_HTTP_EV_DONE && h->status >= 200) {
			res->status = h->status;
			res->head = h;
			res->keep_alive = h->keep_alive;
			return 0;
		} else if (r == HZ_HTTP_EV_MORE) {
			r = client_read(c, deadline);
			if (r < 0)
				return r;
		}
	}
}

void hz_http_client_close(struct hz_http_client *c)
{
	hz_view_release(&c->in);
	if (c->flow != NULL)
		hz_flow_free(c->flow);
	c->flow = NULL;
}

const char *hz_http_client_error(const struct hz_http_client *c)
{
	return hz_errmsg_text(&c->err);
}
