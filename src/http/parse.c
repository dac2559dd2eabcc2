/*
 * The HTTP/1.1 message parser (haze/http.h): one tokenizer for requests
 * and responses, for their header sections and for the chunked coding.
 *
 * Header lines are gathered into the caller's buffer up to their LF and
 * parsed whole, so a line split across reads parses exactly as one read
 * at once; the buffer keeps the head (NUL-terminated in place) for
 * lookups while the body streams. Body bytes are never copied: events
 * point into the caller's input. The chunked coding's framing is read a
 * byte at a time, since its lines are short and need no buffer.
 *
 * Every refusal names its status and a fixed message; the first one is
 * sticky. Framing follows RFC 9112 section 6.3, stricter where a lenient
 * reading would let two parsers disagree on where a message ends.
 */
#include <string.h>
#include <strings.h>

#include "haze/assert.h"
#include "haze/http.h"
#include "http/http_int.h"

enum {
	PS_START,	  /* gathering the start line */
	PS_FIELDS,	  /* gathering field lines */
	PS_LENGTH,	  /* Content-Length body */
	PS_CLOSE,	  /* body until end of stream */
	PS_CHUNK_SIZE,	  /* hex digits of a chunk size */
	PS_CHUNK_BWS,	  /* whitespace after the size, before ';' */
	PS_CHUNK_EXT,	  /* extensions, skipped */
	PS_CHUNK_LF,	  /* the LF ending the size line */
	PS_CHUNK_DATA,	  /* chunk data */
	PS_CHUNK_DATA_CR, /* the CRLF after it */
	PS_CHUNK_DATA_LF,
	PS_TRAILERS, /* gathering trailer lines */
	PS_DONE,     /* the end event is due */
	PS_FINISHED, /* the end event was given */
	PS_ERROR,
};

/* Character classes (RFC 9110 section 5.6.2, 5.5). */
#define C_TOKEN 1u   /* tchar */
#define C_VISIBLE 2u /* VCHAR */
#define C_WS 4u	     /* SP, HTAB */
#define C_OBS 8u     /* obs-text */

static const uint8_t cls[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    4, 3, 2, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2, /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, /* 0x30 */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 3, 3, /* 0x50 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0, /* 0x70 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0x80 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0x90 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xa0 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xb0 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xc0 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xd0 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xe0 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0xf0 */
};

static bool is_ws(uint8_t c)
{
	return (cls[c] & C_WS) != 0;
}

int http_hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* Whether @s[0..n) is the NUL-terminated @lit, in any case. */
static bool same_token(const char *s, size_t n, const char *lit)
{
	size_t i = 0;

	for (; i < n && lit[i] != '\0'; i++)
		if (lower((uint8_t)s[i]) != lower((uint8_t)lit[i]))
			return false;
	return i == n && lit[i] == '\0';
}

bool hz_http_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower((uint8_t)*a) != lower((uint8_t)*b))
			return false;
	return *a == *b;
}

/* Whether @c may follow the first letter of a URI scheme. */
static bool scheme_char(char c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* --- failing -------------------------------------------------------------- */

/* Records the parser's first failure; every later call returns it. */
static int fail(struct hz_http_parser *p, enum hz_http_error_kind kind,
		int status, const char *why)
{
	int code;

	if (p->state == PS_ERROR)
		return p->err;
	switch (kind) {
	case HZ_HTTP_ERR_LINE:
	case HZ_HTTP_ERR_HEADER:
	case HZ_HTTP_ERR_BODY:
		code = -HZ_EMSGSIZE;
		break;
	case HZ_HTTP_ERR_VERSION:
	case HZ_HTTP_ERR_EXPECT:
		code = -HZ_ENOTSUP;
		break;
	default:
		code = -HZ_EPROTO;
		break;
	}
	p->state = PS_ERROR;
	p->err = code;
	p->err_kind = kind;
	p->err_status = status;
	p->why = why;
	return code;
}

static int bad(struct hz_http_parser *p, const char *why)
{
	return fail(p, HZ_HTTP_ERR_SYNTAX, 400, why);
}

static int bad_framing(struct hz_http_parser *p, const char *why)
{
	return fail(p, HZ_HTTP_ERR_FRAMING, 400, why);
}

/* --- set-up --------------------------------------------------------------- */

void hz_http_limits_fill(struct hz_http_limits *lim)
{
	if (lim->max_line == 0)
		lim->max_line = HZ_HTTP_MAX_LINE_DEFAULT;
	if (lim->max_header_bytes == 0)
		lim->max_header_bytes = HZ_HTTP_MAX_HEADER_BYTES_DEFAULT;
	if (lim->max_fields == 0)
		lim->max_fields = HZ_HTTP_MAX_FIELDS_DEFAULT;
	if (lim->max_body == 0)
		lim->max_body = HZ_HTTP_MAX_BODY_DEFAULT;
}

/* Forgets the message before, for the next one. */
static void message_reset(struct hz_http_parser *p)
{
	p->head = (struct hz_http_head){
	    .buf = p->buf,
	    .fields = p->fields,
	};
	p->state = PS_START;
	p->len = p->line = p->fields_start = 0;
	p->empty_lines = 0;
	p->started = false;
	p->remaining = p->body_total = 0;
	p->chunk_line = 0;
	p->chunk_digits = false;
	p->hosts = 0;
	p->cl_seen = p->te_seen = p->te_chunked_last = false;
	p->conn_close = p->conn_keep_alive = false;
	p->cl = 0;
}

void hz_http_parser_init(struct hz_http_parser *p, enum hz_http_role role,
			 const struct hz_http_limits *lim, void *buf,
			 size_t buf_size, struct hz_http_field *fields,
			 size_t nfields)
{
	memset(p, 0, sizeof(*p));
	if (lim != NULL)
		p->lim = *lim;
	hz_http_limits_fill(&p->lim);
	/* Offsets into the buffer are 32-bit. */
	HZ_ASSERT(hz_http_parser_buf_size(&p->lim) <= UINT32_MAX);
	HZ_ASSERT(buf_size >= hz_http_parser_buf_size(&p->lim));
	HZ_ASSERT(nfields >= p->lim.max_fields);
	p->response = role == HZ_HTTP_PARSE_RESPONSE;
	p->buf = buf;
	p->fields = fields;
	message_reset(p);
}

bool hz_http_parser_idle(const struct hz_http_parser *p)
{
	return (p->state == PS_START && !p->started) || p->state == PS_FINISHED;
}

/* --- lists and lookups ---------------------------------------------------- */

bool hz_http_list_next(const char **s, const char **item, size_t *len)
{
	const char *p = *s, *end;

	if (p == NULL)
		return false;
	while (is_ws((uint8_t)*p))
		p++;
	end = p;
	while (*end != '\0' && *end != ',')
		end++;
	*s = *end == ',' ? end + 1 : NULL;
	*item = p;
	while (end > p && is_ws((uint8_t)end[-1]))
		end--;
	*len = (size_t)(end - p);
	return true;
}

const char *hz_http_head_get(const struct hz_http_head *h, const char *name)
{
	for (size_t i = 0; i < h->nfields; i++)
		if (hz_http_name_eq(h->buf + h->fields[i].name, name))
			return h->buf + h->fields[i].value;
	return NULL;
}

void hz_http_head_field(const struct hz_http_head *h, size_t i,
			const char **name, const char **value)
{
	HZ_ASSERT(i < h->nfields + h->ntrailers);
	*name = h->buf + h->fields[i].name;
	*value = h->buf + h->fields[i].value;
}

bool hz_http_head_has_token(const struct hz_http_head *h, const char *name,
			    const char *token)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const char *s = h->buf + h->fields[i].value, *item;
		size_t len;

		if (!hz_http_name_eq(h->buf + h->fields[i].name, name))
			continue;
		while (hz_http_list_next(&s, &item, &len)) {
			size_t n = 0;

			while (n < len && item[n] != ';' &&
			       !is_ws((uint8_t)item[n]))
				n++;
			if (same_token(item, n, token))
				return true;
		}
	}
	return false;
}

/* --- the start line ------------------------------------------------------- */

static const struct {
	const char *name;
	enum hz_http_method m;
} methods[] = {
    {"GET", HZ_HTTP_GET},	  {"HEAD", HZ_HTTP_HEAD},
    {"POST", HZ_HTTP_POST},	  {"PUT", HZ_HTTP_PUT},
    {"DELETE", HZ_HTTP_DELETE},	  {"CONNECT", HZ_HTTP_CONNECT},
    {"OPTIONS", HZ_HTTP_OPTIONS}, {"TRACE", HZ_HTTP_TRACE},
    {"PATCH", HZ_HTTP_PATCH},
};

/*
 * Parses "HTTP/D.D" at @s into the head's version: 0, or the failure
 * (400 for another shape, 505 for another major version).
 */
static int parse_version(struct hz_http_parser *p, const char *s, size_t n)
{
	if (n != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' ||
	    s[6] != '.' || s[7] < '0' || s[7] > '9')
		return bad(p, "malformed HTTP version");
	if (s[5] != '1')
		return fail(p, HZ_HTTP_ERR_VERSION, 505,
			    "HTTP version not supported (HTTP/1.x only)");
	p->head.version = s[7] == '0' ? 0 : 1;
	return 0;
}

/* Checks @target's form against the method (RFC 9112 section 3.2). The
 * @n bytes of @target end in a NUL with the version after it, which is
 * read already: one byte of it may be taken. */
static int target_form(struct hz_http_parser *p, char *target, size_t n)
{
	struct hz_http_head *h = &p->head;
	size_t i = 0;

	if (target[0] == '/') {
		if (h->method == HZ_HTTP_CONNECT)
			return bad(p, "CONNECT needs an authority-form target");
		h->path = target;
		return 0;
	}
	if (n == 1 && target[0] == '*') {
		if (h->method != HZ_HTTP_OPTIONS)
			return bad(p, "asterisk-form target is for OPTIONS");
		h->path = target;
		return 0;
	}
	if (h->method == HZ_HTTP_CONNECT) {
		if (memchr(target, '/', n) != NULL ||
		    memchr(target, ':', n) == NULL)
			return bad(p, "CONNECT needs an authority-form target");
		h->path = target;
		return 0;
	}
	/* absolute-form: scheme ":" hier-part */
	while (i < n && scheme_char(target[i]))
		i++;
	if (i == 0 || i == n || target[i] != ':' || (target[0] | 0x20) < 'a' ||
	    (target[0] | 0x20) > 'z')
		return bad(p, "malformed request target");
	/* An origin serves http and https URIs only, each with a host
	 * (RFC 9110, 4.2), which stands for Host (RFC 9112, 3.2.2). */
	if (!((i == 4 && strncasecmp(target, "http", 4) == 0) ||
	      (i == 5 && strncasecmp(target, "https", 5) == 0)))
		return bad(p, "absolute-form target of another scheme than "
			      "http or https");
	if (i + 3 > n || target[i + 1] != '/' || target[i + 2] != '/')
		return bad(p, "absolute-form target without a host");
	/* The authority ends at '/', '?' or '#' (RFC 3986, 3.2). */
	char *auth = target + i + 3;
	size_t rest = n - i - 3, alen = strcspn(auth, "/?#");
	if (alen == 0)
		return bad(p, "absolute-form target without a host");
	if (memchr(auth, '@', alen) != NULL)
		return bad(p, "absolute-form target with user information");
	h->authority = auth;
	h->authority_len = alen;
	if (alen == rest) {
		h->path = "/";
	} else if (auth[alen] == '/') {
		h->path = auth + alen;
	} else {
		/* "http://host?q": an empty path, which stands for "/"
		 * (RFC 9112, 3.2.2). The query moves one byte on, over the
		 * target's end and the version already read, for it. */
		char *q = auth + alen;
		memmove(q + 1, q, (size_t)(target + n - q) + 1);
		*q = '/';
		h->path = q;
	}
	return 0;
}

static int request_line(struct hz_http_parser *p, char *s, size_t n)
{
	struct hz_http_head *h = &p->head;
	char *sp1 = memchr(s, ' ', n), *target, *sp2;
	int r;

	if (sp1 == NULL)
		return bad(p, "malformed request line");
	for (char *c = s; c < sp1; c++)
		if (!(cls[(uint8_t)*c] & C_TOKEN))
			return bad(p, "malformed method");
	if (sp1 == s)
		return bad(p, "malformed request line");
	target = sp1 + 1;
	sp2 = memchr(target, ' ', n - (size_t)(target - s));
	if (sp2 == NULL || sp2 == target)
		return bad(p, "malformed request line");
	for (char *c = target; c < sp2; c++)
		if (!(cls[(uint8_t)*c] & C_VISIBLE))
			return bad(p, "malformed request target");
	r = parse_version(p, sp2 + 1, n - (size_t)(sp2 + 1 - s));
	if (r < 0)
		return r;
	*sp1 = '\0';
	*sp2 = '\0';
	s[n] = '\0';
	h->method_name = s;
	h->method = HZ_HTTP_OTHER;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(s, methods[i].name) == 0)
			h->method = methods[i].m;
	h->target = target;
	return target_form(p, target, (size_t)(sp2 - target));
}

static int status_line(struct hz_http_parser *p, char *s, size_t n)
{
	struct hz_http_head *h = &p->head;
	int r;

	if (n < 12 || s[8] != ' ' || (n > 12 && s[12] != ' '))
		return bad(p, "malformed status line");
	r = parse_version(p, s, 8);
	if (r < 0)
		return r;
	h->status = 0;
	for (int i = 9; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return bad(p, "malformed status code");
		h->status = h->status * 10 + (s[i] - '0');
	}
	if (h->status < 100)
		return bad(p, "malformed status code");
	for (size_t i = 13; i < n; i++)
		if (!(cls[(uint8_t)s[i]] & (C_VISIBLE | C_WS | C_OBS)))
			return bad(p, "control character in reason phrase");
	s[n] = '\0';
	h->reason = n > 12 ? s + 13 : s + n;
	return 0;
}

/* --- fields --------------------------------------------------------------- */

/* Whether @c may appear in a Host value (uri-host [":" port]). */
static bool host_char(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
}

static int content_length(struct hz_http_parser *p, const char *value)
{
	const char *s = value, *item;
	size_t len;

	while (hz_http_list_next(&s, &item, &len)) {
		uint64_t v = 0;

		if (len == 0)
			return bad_framing(p, "empty Content-Length");
		for (size_t i = 0; i < len; i++) {
			unsigned d = (unsigned)(uint8_t)item[i] - '0';

			if (d > 9)
				return bad_framing(
				    p, "Content-Length is not a number");
			if (v > (UINT64_MAX - d) / 10)
				return bad_framing(
				    p, "Content-Length out of range");
			v = v * 10 + d;
		}
		if (p->cl_seen && v != p->cl)
			return bad_framing(p,
					   "differing Content-Length values");
		p->cl_seen = true;
		p->cl = v;
	}
	return 0;
}

static int transfer_encoding(struct hz_http_parser *p, const char *value)
{
	const char *s = value, *item;
	size_t len;

	p->te_seen = true;
	while (hz_http_list_next(&s, &item, &len)) {
		if (len == 0)
			return bad_framing(p, "empty transfer coding");
		if (p->te_chunked_last)
			return bad_framing(
			    p, "chunked is not the last transfer coding");
		if (same_token(item, len, "chunked"))
			p->te_chunked_last = true;
		else if (!p->response)
			return bad_framing(p, "unknown transfer coding");
	}
	return 0;
}

static void connection(struct hz_http_parser *p, const char *value)
{
	const char *s = value, *item;
	size_t len;

	while (hz_http_list_next(&s, &item, &len)) {
		if (same_token(item, len, "close"))
			p->conn_close = true;
		else if (same_token(item, len, "keep-alive"))
			p->conn_keep_alive = true;
	}
}

/* Acts on the fields that decide framing and the connection. */
static int field_meaning(struct hz_http_parser *p, const char *name,
			 size_t nlen, const char *value, size_t vlen)
{
	switch (nlen) {
	case 4:
		if (p->response || !same_token(name, nlen, "host"))
			return 0;
		if (++p->hosts > 1)
			return bad(p, "more than one Host field");
		for (size_t i = 0; i < vlen; i++)
			if (!host_char((uint8_t)value[i]))
				return bad(p, "malformed Host field");
		return 0;
	case 6:
		if (p->response || p->head.version == 0 ||
		    !same_token(name, nlen, "expect"))
			return 0;
		if (!same_token(value, vlen, "100-continue"))
			return fail(p, HZ_HTTP_ERR_EXPECT, 417,
				    "expectation other than 100-continue");
		p->head.expect_continue = true;
		return 0;
	case 10:
		if (same_token(name, nlen, "connection"))
			connection(p, value);
		return 0;
	case 14:
		if (same_token(name, nlen, "content-length"))
			return content_length(p, value);
		return 0;
	case 17:
		if (same_token(name, nlen, "transfer-encoding"))
			return transfer_encoding(p, value);
		return 0;
	default:
		return 0;
	}
}

/* Parses the field line at [@start, @end) (@end at its CR). */
static int field_line(struct hz_http_parser *p, size_t start, size_t end,
		      bool trailer, struct hz_http_event *ev)
{
	char *s = p->buf + start;
	size_t n = end - start, i = 0, v, e;
	struct hz_http_field *f;
	int r;

	if (is_ws((uint8_t)s[0]))
		return bad(p, "obs-fold or whitespace before a field name");
	while (i < n && (cls[(uint8_t)s[i]] & C_TOKEN))
		i++;
	if (i == n)
		return bad(p, "field line without a colon");
	if (s[i] != ':')
		return bad(p, is_ws((uint8_t)s[i])
				  ? "whitespace between field name and colon"
				  : "malformed field name");
	if (i == 0)
		return bad(p, "empty field name");
	v = i + 1;
	while (v < n && is_ws((uint8_t)s[v]))
		v++;
	e = n;
	while (e > v && is_ws((uint8_t)s[e - 1]))
		e--;
	for (size_t k = v; k < e; k++)
		if (!(cls[(uint8_t)s[k]] & (C_VISIBLE | C_WS | C_OBS)))
			return bad(p, "control character in field value");
	if (p->head.nfields + p->head.ntrailers >= p->lim.max_fields)
		return fail(p, HZ_HTTP_ERR_HEADER, 431, "too many fields");
	s[i] = '\0';
	s[e] = '\0';
	f = &p->fields[p->head.nfields + p->head.ntrailers];
	*f = (struct hz_http_field){(uint32_t)start, (uint32_t)i,
				    (uint32_t)(start + v), (uint32_t)(e - v)};
	if (!trailer) {
		r = field_meaning(p, s, i, s + v, e - v);
		if (r < 0)
			return r;
		p->head.nfields++;
	} else {
		p->head.ntrailers++;
	}
	ev->type = trailer ? HZ_HTTP_EV_TRAILER : HZ_HTTP_EV_FIELD;
	ev->name = s;
	ev->name_len = i;
	ev->value = s + v;
	ev->value_len = e - v;
	return ev->type;
}

/* --- the end of the header section ---------------------------------------- */

/* Frames the body by Content-Length, past the body limit 413. */
static int length_framing(struct hz_http_parser *p)
{
	if (p->cl > p->lim.max_body)
		return fail(p, HZ_HTTP_ERR_BODY, 413,
			    "body larger than the limit");
	p->head.framing = HZ_HTTP_BODY_LENGTH;
	p->head.content_length = p->cl;
	return 0;
}

static int request_framing(struct hz_http_parser *p)
{
	struct hz_http_head *h = &p->head;

	if (h->version == 1 && p->hosts == 0)
		return bad(p, "no Host field in an HTTP/1.1 request");
	if (p->te_seen) {
		if (h->version == 0)
			return bad_framing(
			    p, "Transfer-Encoding in an HTTP/1.0 request");
		if (p->cl_seen)
			return bad_framing(
			    p, "Content-Length with Transfer-Encoding");
		if (!p->te_chunked_last)
			return bad_framing(
			    p, "chunked is not the last transfer coding");
		h->framing = HZ_HTTP_BODY_CHUNKED;
	} else if (p->cl_seen) {
		return length_framing(p);
	} else {
		h->framing = HZ_HTTP_BODY_NONE;
	}
	return 0;
}

static int response_framing(struct hz_http_parser *p)
{
	struct hz_http_head *h = &p->head;

	if (h->status < 200 || h->status == 204 || h->status == 304 ||
	    p->head_request) {
		h->framing = HZ_HTTP_BODY_NONE;
	} else if (p->te_seen) {
		if (p->cl_seen)
			return bad_framing(
			    p, "Content-Length with Transfer-Encoding");
		h->framing = p->te_chunked_last ? HZ_HTTP_BODY_CHUNKED
						: HZ_HTTP_BODY_CLOSE;
	} else if (p->cl_seen) {
		return length_framing(p);
	} else {
		h->framing = HZ_HTTP_BODY_CLOSE;
	}
	return 0;
}

static int head_end(struct hz_http_parser *p, struct hz_http_event *ev)
{
	struct hz_http_head *h = &p->head;
	int r = p->response ? response_framing(p) : request_framing(p);

	if (r < 0)
		return r;
	h->keep_alive = !p->conn_close &&
			(h->version == 1 || p->conn_keep_alive) &&
			h->framing != HZ_HTTP_BODY_CLOSE;
	switch (h->framing) {
	case HZ_HTTP_BODY_NONE:
		p->state = PS_DONE;
		break;
	case HZ_HTTP_BODY_LENGTH:
		p->remaining = h->content_length;
		p->state = p->remaining > 0 ? PS_LENGTH : PS_DONE;
		break;
	case HZ_HTTP_BODY_CHUNKED:
		p->state = PS_CHUNK_SIZE;
		break;
	case HZ_HTTP_BODY_CLOSE:
		p->state = PS_CLOSE;
		break;
	}
	ev->type = HZ_HTTP_EV_HEADERS_DONE;
	return ev->type;
}

/* --- lines ---------------------------------------------------------------- */

/*
 * Copies input up to and including the next LF into the buffer, which
 * may grow to @end bytes. 1 when a whole line is in, 0 when the input ran
 * out first, -1 when the line would pass @end.
 */
static int gather(struct hz_http_parser *p, const uint8_t *in, size_t len,
		  size_t *used, size_t end)
{
	size_t room = end - p->len, n = len < room ? len : room;
	const uint8_t *lf = memchr(in, '\n', n);

	if (lf != NULL)
		n = (size_t)(lf - in) + 1;
	memcpy(p->buf + p->len, in, n);
	p->len += n;
	*used += n;
	if (lf != NULL)
		return 1;
	return n < len ? -1 : 0;
}

/* Acts on the whole line at [p->line, p->len): an event, 0, or failure. */
static int line(struct hz_http_parser *p, struct hz_http_event *ev)
{
	size_t start = p->line, n = p->len - start;
	char *s = p->buf + start;
	int r;

	if (n < 2 || s[n - 2] != '\r')
		return bad(p, "line ends in LF without CR");
	if (memchr(s, '\r', n - 2) != NULL)
		return bad(p, "CR not followed by LF");
	if (p->state == PS_START) {
		if (n == 2 && !p->response) {
			/* RFC 9112 section 2.2: skip empty lines first. */
			if (++p->empty_lines > HZ_HTTP_EMPTY_LINES_MAX)
				return bad(p, "too many empty lines before "
					      "the request line");
			p->len = 0;
			return 0;
		}
		r = p->response ? status_line(p, s, n - 2)
				: request_line(p, s, n - 2);
		if (r < 0)
			return r;
		p->state = PS_FIELDS;
		p->fields_start = p->line = p->len;
		ev->type = HZ_HTTP_EV_START;
		return ev->type;
	}
	p->line = p->len;
	if (n == 2) {
		if (p->state == PS_FIELDS)
			return head_end(p, ev);
		p->state = PS_FINISHED;
		ev->type = HZ_HTTP_EV_DONE;
		return ev->type;
	}
	return field_line(p, start, start + n - 2, p->state == PS_TRAILERS, ev);
}

/* Gathers and acts on header lines (start line, fields, trailers). */
static int head_step(struct hz_http_parser *p, const uint8_t *in, size_t len,
		     size_t *used, struct hz_http_event *ev)
{
	bool start = p->state == PS_START;
	size_t end =
	    start ? p->lim.max_line : p->fields_start + p->lim.max_header_bytes;
	int r;

	if (start)
		p->started = true;
	r = gather(p, in, len, used, end);
	if (r < 0 && start)
		return fail(p, HZ_HTTP_ERR_LINE, 414,
			    p->response ? "status line too long"
					: "request line too long");
	if (r < 0)
		return fail(p, HZ_HTTP_ERR_HEADER, 431,
			    "header section too large");
	if (r == 0)
		return HZ_HTTP_EV_MORE;
	return line(p, ev);
}

/* --- the chunked coding --------------------------------------------------- */

/* Takes one byte of a chunk's framing. 0 or a failure. */
static int chunk_byte(struct hz_http_parser *p, uint8_t c)
{
	int d;

	if (p->state <= PS_CHUNK_LF && ++p->chunk_line > HZ_HTTP_CHUNK_LINE_MAX)
		return bad_framing(p, "chunk size line too long");
	switch (p->state) {
	case PS_CHUNK_SIZE:
		d = http_hex_value(c);
		if (d >= 0) {
			if (p->remaining > (UINT64_MAX >> 4))
				return bad_framing(p,
						   "chunk size out of range");
			p->remaining = p->remaining << 4 | (uint64_t)d;
			p->chunk_digits = true;
			return 0;
		}
		if (!p->chunk_digits)
			return bad_framing(p, "chunk size is not hexadecimal");
		if (c == ';')
			p->state = PS_CHUNK_EXT;
		else if (is_ws(c))
			p->state = PS_CHUNK_BWS;
		else if (c == '\r')
			p->state = PS_CHUNK_LF;
		else
			return bad_framing(p, "malformed chunk size");
		return 0;
	case PS_CHUNK_BWS:
		if (c == ';')
			p->state = PS_CHUNK_EXT;
		else if (!is_ws(c))
			return bad_framing(p, "malformed chunk size");
		return 0;
	case PS_CHUNK_EXT:
		if (c == '\r')
			p->state = PS_CHUNK_LF;
		else if (!(cls[c] & (C_VISIBLE | C_WS | C_OBS)))
			return bad_framing(
			    p, "control character in chunk extension");
		return 0;
	case PS_CHUNK_LF:
		if (c != '\n')
			return bad_framing(p, "CR not followed by LF");
		p->chunk_line = 0;
		p->chunk_digits = false;
		if (p->remaining == 0) {
			p->state = PS_TRAILERS;
			p->line = p->len;
			return 0;
		}
		if (p->remaining > p->lim.max_body - p->body_total)
			return fail(p, HZ_HTTP_ERR_BODY, 413,
				    "body larger than the limit");
		p->body_total += p->remaining;
		p->state = PS_CHUNK_DATA;
		return 0;
	case PS_CHUNK_DATA_CR:
		if (c != '\r')
			return bad_framing(p,
					   "chunk data longer than its size");
		p->state = PS_CHUNK_DATA_LF;
		return 0;
	case PS_CHUNK_DATA_LF:
		if (c != '\n')
			return bad_framing(p, "CR not followed by LF");
		p->state = PS_CHUNK_SIZE;
		return 0;
	default:
		HZ_ASSERT(false);
		return 0;
	}
}

/* --- the parser ----------------------------------------------------------- */

/* Gives up to p->remaining body bytes of @in as an event. */
static int body_bytes(struct hz_http_parser *p, const uint8_t *in, size_t len,
		      size_t *used, struct hz_http_event *ev)
{
	size_t n = p->remaining < len ? (size_t)p->remaining : len;

	p->remaining -= n;
	*used += n;
	ev->type = HZ_HTTP_EV_BODY;
	ev->data = in;
	ev->len = n;
	return ev->type;
}

int hz_http_parse(struct hz_http_parser *p, const void *in_, size_t len,
		  size_t *used, struct hz_http_event *ev)
{
	/* No input may come as NULL: no arithmetic on a null pointer. */
	const uint8_t *in = in_ != NULL ? in_ : (const uint8_t *)"";

	HZ_ASSERT(in_ != NULL || len == 0);
	*used = 0;
	memset(ev, 0, sizeof(*ev));
	ev->head = &p->head;
	if (p->state == PS_FINISHED)
		message_reset(p);
	for (;;) {
		const uint8_t *s = in + *used;
		size_t n = len - *used;
		int r;

		switch (p->state) {
		case PS_ERROR:
			return p->err;
		case PS_DONE:
			p->state = PS_FINISHED;
			ev->type = HZ_HTTP_EV_DONE;
			return ev->type;
		case PS_START:
		case PS_FIELDS:
		case PS_TRAILERS:
			if (n == 0)
				return HZ_HTTP_EV_MORE;
			r = head_step(p, s, n, used, ev);
			if (r != 0 || *used == len)
				return r;
			continue;
		case PS_LENGTH:
			if (n == 0)
				return HZ_HTTP_EV_MORE;
			r = body_bytes(p, s, n, used, ev);
			if (p->remaining == 0)
				p->state = PS_DONE;
			return r;
		case PS_CHUNK_DATA:
			if (n == 0)
				return HZ_HTTP_EV_MORE;
			r = body_bytes(p, s, n, used, ev);
			if (p->remaining == 0)
				p->state = PS_CHUNK_DATA_CR;
			return r;
		case PS_CLOSE:
			if (n == 0)
				return HZ_HTTP_EV_MORE;
			/* Up to the limit, then refused: the same events
			 * however the bytes arrive. */
			if (p->body_total == p->lim.max_body)
				return fail(p, HZ_HTTP_ERR_BODY, 413,
					    "body larger than the limit");
			if (n > p->lim.max_body - p->body_total)
				n = (size_t)(p->lim.max_body - p->body_total);
			p->body_total += n;
			p->remaining = n;
			return body_bytes(p, s, n, used, ev);
		default:
			if (n == 0)
				return HZ_HTTP_EV_MORE;
			r = chunk_byte(p, s[0]);
			if (r < 0)
				return r;
			(*used)++;
			continue;
		}
	}
}

int hz_http_parse_eof(struct hz_http_parser *p, struct hz_http_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->head = &p->head;
	switch (p->state) {
	case PS_ERROR:
		return p->err;
	case PS_CLOSE:
	case PS_DONE:
		p->state = PS_FINISHED;
		ev->type = HZ_HTTP_EV_DONE;
		return ev->type;
	case PS_FINISHED:
		return HZ_HTTP_EV_MORE;
	case PS_START:
		if (!p->started)
			return HZ_HTTP_EV_MORE;
		/* fall through */
	default:
		return fail(p, HZ_HTTP_ERR_TRUNCATED, 400,
			    "the stream ended inside a message");
	}
}
