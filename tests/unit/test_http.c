/*
 * The HTTP/1.1 engine without I/O (src/http parse.c, write.c): every
 * example message of RFC 9112 (and RFC 9110's example exchange) parses
 * to the events it should; every message, valid or not, gives the same
 * events whole, split at every byte offset and fed byte by byte; every
 * request smuggling shape is refused with 400; every limit is enforced
 * with its status; serialisation of heads, chunks and dates; URLs.
 *
 * Events are written as text lines (one per event, body bytes merged
 * and written as their length and a hash), so a vector's expectation
 * reads like the message it describes.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haze/http.h"

/* --- events as text ------------------------------------------------------- */

#define LOG_MAX 8192

struct log {
	char text[LOG_MAX];
	size_t len;
	size_t body_len; /* body bytes not yet written out */
	uint32_t body_hash;
	bool failed;
};

static void log_add(struct log *lg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_add(struct log *lg, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(lg->text + lg->len, sizeof(lg->text) - lg->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(lg->text) - lg->len);
	lg->len += (size_t)n;
}

/* Writes out body bytes gathered from consecutive BODY events. */
static void log_body(struct log *lg)
{
	if (lg->body_len == 0)
		return;
	log_add(lg, "BODY %zu %08x\n", lg->body_len, lg->body_hash);
	lg->body_len = 0;
}

static void log_event(struct log *lg, const struct hz_http_parser *p,
		      const struct hz_http_event *ev)
{
	static const char *const framing[] = {"none", "length", "chunked",
					      "close"};
	const struct hz_http_head *h = ev->head;

	if (ev->type == HZ_HTTP_EV_BODY) {
		if (lg->body_len == 0)
			lg->body_hash = 2166136261u;
		for (size_t i = 0; i < ev->len; i++)
			lg->body_hash =
			    (lg->body_hash ^ ev->data[i]) * 16777619u;
		lg->body_len += ev->len;
		return;
	}
	log_body(lg);
	switch (ev->type) {
	case HZ_HTTP_EV_START:
		if (p->response)
			log_add(lg, "STATUS 1.%d %d [%s]\n", h->version,
				h->status, h->reason);
		else
			log_add(lg, "REQUEST %s %s 1.%d path=%s%s%.*s\n",
				h->method_name, h->target, h->version, h->path,
				h->authority != NULL ? " authority=" : "",
				(int)h->authority_len,
				h->authority != NULL ? h->authority : "");
		break;
	case HZ_HTTP_EV_FIELD:
	case HZ_HTTP_EV_TRAILER:
		assert_int_equal(strlen(ev->name), ev->name_len);
		assert_int_equal(strlen(ev->value), ev->value_len);
		log_add(lg, "%s %s: [%s]\n",
			ev->type == HZ_HTTP_EV_FIELD ? "FIELD" : "TRAILER",
			ev->name, ev->value);
		break;
	case HZ_HTTP_EV_HEADERS_DONE:
		log_add(lg, "HEADERS %s", framing[h->framing]);
		if (h->framing == HZ_HTTP_BODY_LENGTH)
			log_add(lg, " %llu",
				(unsigned long long)h->content_length);
		log_add(lg, "%s%s\n", h->keep_alive ? " keep" : " close",
			h->expect_continue ? " continue" : "");
		break;
	case HZ_HTTP_EV_DONE:
		log_add(lg, "DONE\n");
		break;
	default:
		fail_msg("unexpected event %d", ev->type);
	}
}

static void log_error(struct log *lg, const struct hz_http_parser *p, int r)
{
	log_body(lg);
	log_add(lg, "ERROR %d %s\n", hz_http_parser_status(p),
		hz_http_parser_error(p));
	assert_int_equal(r, p->err);
	lg->failed = true;
}

/* Feeds @n bytes of @d, logging every event. */
static void feed(struct hz_http_parser *p, const void *d, size_t n,
		 struct log *lg)
{
	size_t off = 0;

	while (!lg->failed) {
		struct hz_http_event ev;
		size_t used;
		int r = hz_http_parse(p, (const uint8_t *)d + off, n - off,
				      &used, &ev);

		assert_true(used <= n - off);
		off += used;
		if (r < 0) {
			log_error(lg, p, r);
			/* Sticky: it says so again. */
			assert_int_equal(hz_http_parse(p, "x", 1, &used, &ev),
					 r);
			assert_int_equal(used, 0);
			return;
		}
		assert_int_equal(r, ev.type);
		if (r == HZ_HTTP_EV_MORE) {
			assert_int_equal(off, n);
			return;
		}
		log_event(lg, p, &ev);
	}
}

/* Ends the stream, logging what that gives. */
static void feed_eof(struct hz_http_parser *p, struct log *lg)
{
	struct hz_http_event ev;
	int r;

	if (lg->failed)
		return;
	r = hz_http_parse_eof(p, &ev);
	if (r < 0)
		log_error(lg, p, r);
	else if (r == HZ_HTTP_EV_DONE)
		log_event(lg, p, &ev);
	log_body(lg);
}

/* --- running a vector ----------------------------------------------------- */

struct parser_box {
	struct hz_http_parser p;
	struct hz_http_field fields[256];
	char *buf;
};

static void box_init(struct parser_box *b, enum hz_http_role role,
		     const struct hz_http_limits *lim, bool head_request)
{
	struct hz_http_limits l =
	    lim != NULL ? *lim : (struct hz_http_limits){0};

	hz_http_limits_fill(&l);
	assert_true(l.max_fields <= 256);
	b->buf = malloc(hz_http_parser_buf_size(&l));
	assert_non_null(b->buf);
	hz_http_parser_init(&b->p, role, &l, b->buf,
			    hz_http_parser_buf_size(&l), b->fields, 256);
	hz_http_parser_set_head_request(&b->p, head_request);
}

static void box_free(struct parser_box *b)
{
	free(b->buf);
}

struct vector {
	const char *name;
	enum hz_http_role role;
	const char *msg;
	const char *events;
	const struct hz_http_limits *lim; /* NULL: the defaults */
	bool head_request;
	size_t len; /* 0: strlen(msg) */
};

/* Parses @msg in pieces of @piece bytes (0: whole, or split at @at). */
static void run_split(const struct vector *v, size_t len, size_t at,
		      size_t piece, struct log *lg)
{
	struct parser_box b;

	memset(lg, 0, sizeof(*lg));
	box_init(&b, v->role, v->lim, v->head_request);
	if (piece > 0) {
		for (size_t off = 0; off < len; off += piece)
			feed(&b.p, v->msg + off,
			     len - off < piece ? len - off : piece, lg);
	} else {
		feed(&b.p, v->msg, at, lg);
		feed(&b.p, v->msg + at, len - at, lg);
	}
	feed_eof(&b.p, lg);
	lg->text[lg->len] = '\0';
	box_free(&b);
}

/* Checks @v's events whole, split at every offset and byte by byte. */
static void check_vector(const struct vector *v)
{
	size_t len = v->len != 0 ? v->len : strlen(v->msg);
	static struct log whole, other;

	run_split(v, len, len, 0, &whole);
	if (strcmp(whole.text, v->events) != 0)
		fail_msg("%s:\n--- got\n%s--- expected\n%s", v->name,
			 whole.text, v->events);
	for (size_t at = 0; at < len; at++) {
		run_split(v, len, at, 0, &other);
		if (strcmp(whole.text, other.text) != 0)
			fail_msg("%s split at %zu:\n%s", v->name, at,
				 other.text);
	}
	run_split(v, len, 0, 1, &other);
	if (strcmp(whole.text, other.text) != 0)
		fail_msg("%s byte by byte:\n%s", v->name, other.text);
	run_split(v, len, 0, 7, &other);
	if (strcmp(whole.text, other.text) != 0)
		fail_msg("%s in sevens:\n%s", v->name, other.text);
}

static void check_vectors(const struct vector *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_vector(&v[i]);
}

#define REQ HZ_HTTP_PARSE_REQUEST
#define RSP HZ_HTTP_PARSE_RESPONSE
#define CHECK_VECTORS(v) check_vectors(v, sizeof(v) / sizeof(v[0]))

/* --- RFC 9112's examples -------------------------------------------------- */

/* "Hello World! My content includes a trailing CRLF.\r\n": 51 bytes. */
#define HELLO_BODY "BODY 51 9586b89b\n"

static const struct vector rfc_examples[] = {
    /* RFC 9110 section 3.9's exchange, which RFC 9112 section 2.1 uses
     * for its message format. */
    {"example request", REQ,
     "GET /hello.txt HTTP/1.1\r\n"
     "User-Agent: curl/7.64.1\r\n"
     "Host: www.example.com\r\n"
     "Accept-Language: en, mi\r\n"
     "\r\n",
     "REQUEST GET /hello.txt 1.1 path=/hello.txt\n"
     "FIELD User-Agent: [curl/7.64.1]\n"
     "FIELD Host: [www.example.com]\n"
     "FIELD Accept-Language: [en, mi]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    {"example response", RSP,
     "HTTP/1.1 200 OK\r\n"
     "Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n"
     "Server: Apache\r\n"
     "Last-Modified: Wed, 22 Jul 2009 19:15:56 GMT\r\n"
     "ETag: \"34aa387-d-1568eb00\"\r\n"
     "Accept-Ranges: bytes\r\n"
     "Content-Length: 51\r\n"
     "Vary: Accept-Encoding\r\n"
     "Content-Type: text/plain\r\n"
     "\r\n"
     "Hello World! My content includes a trailing CRLF.\r\n",
     "STATUS 1.1 200 [OK]\n"
     "FIELD Date: [Mon, 27 Jul 2009 12:28:53 GMT]\n"
     "FIELD Server: [Apache]\n"
     "FIELD Last-Modified: [Wed, 22 Jul 2009 19:15:56 GMT]\n"
     "FIELD ETag: [\"34aa387-d-1568eb00\"]\n"
     "FIELD Accept-Ranges: [bytes]\n"
     "FIELD Content-Length: [51]\n"
     "FIELD Vary: [Accept-Encoding]\n"
     "FIELD Content-Type: [text/plain]\n"
     "HEADERS length 51 keep\n" HELLO_BODY "DONE\n",
     NULL, false, 0},
    /* 3.2.1 origin-form */
    {"origin-form", REQ,
     "GET /where?q=now HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
     "REQUEST GET /where?q=now 1.1 path=/where?q=now\n"
     "FIELD Host: [www.example.org]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 3.2.2 absolute-form, and the origin-form a client would send */
    {"absolute-form", REQ,
     "GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\n"
     "Host: www.example.org\r\n\r\n",
     "REQUEST GET http://www.example.org/pub/WWW/TheProject.html 1.1 "
     "path=/pub/WWW/TheProject.html authority=www.example.org\n"
     "FIELD Host: [www.example.org]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    {"absolute-form, a query after the host", REQ,
     "GET http://www.example.org?a=1 HTTP/1.1\r\n"
     "Host: www.example.org\r\n\r\n",
     "REQUEST GET http://www.example.org/?a=1 1.1 "
     "path=/?a=1 authority=www.example.org\n"
     "FIELD Host: [www.example.org]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    {"absolute-form as origin-form", REQ,
     "GET /pub/WWW/TheProject.html HTTP/1.1\r\n"
     "Host: www.example.org\r\n\r\n",
     "REQUEST GET /pub/WWW/TheProject.html 1.1 "
     "path=/pub/WWW/TheProject.html\n"
     "FIELD Host: [www.example.org]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 3.2.3 authority-form */
    {"authority-form", REQ,
     "CONNECT www.example.com:80 HTTP/1.1\r\n"
     "Host: www.example.com:80\r\n\r\n",
     "REQUEST CONNECT www.example.com:80 1.1 path=www.example.com:80\n"
     "FIELD Host: [www.example.com:80]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 3.2.4 asterisk-form, and the absolute form a proxy turns into it */
    {"asterisk-form", REQ,
     "OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n",
     "REQUEST OPTIONS * 1.1 path=*\n"
     "FIELD Host: [www.example.org:8001]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    {"asterisk-form from absolute", REQ,
     "OPTIONS http://www.example.org:8001 HTTP/1.1\r\n"
     "Host: www.example.org:8001\r\n\r\n",
     "REQUEST OPTIONS http://www.example.org:8001 1.1 path=/ "
     "authority=www.example.org:8001\n"
     "FIELD Host: [www.example.org:8001]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 2.2: empty lines before a request line are skipped */
    {"leading CRLF", REQ, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n"
     "FIELD Host: [a]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 5.1 field values: OWS around them is not part of them; 7.4's TE
     * examples, one of them empty */
    {"TE examples", REQ,
     "GET / HTTP/1.1\r\nHost: a\r\nTE: deflate\r\nTE:\r\n"
     "TE: trailers, deflate;q=0.5\r\nX-Y: \t a  b \t\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n"
     "FIELD Host: [a]\n"
     "FIELD TE: [deflate]\n"
     "FIELD TE: []\n"
     "FIELD TE: [trailers, deflate;q=0.5]\n"
     "FIELD X-Y: [a  b]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 6.1: "Transfer-Encoding: gzip, chunked" (a response: a request
     * with gzip is refused below) */
    {"gzip, chunked", RSP,
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     "5\r\nabcde\r\n0\r\n\r\n",
     "STATUS 1.1 200 [OK]\n"
     "FIELD Transfer-Encoding: [gzip, chunked]\n"
     "HEADERS chunked keep\n"
     "BODY 5 749bcf08\n"
     "DONE\n",
     NULL, false, 0},
    /* 6.2: "Content-Length: 3495" (the body is in content_3495) */
    /* 7.1: chunked with extensions and a trailer section (7.1.2) */
    {"chunked request", REQ,
     "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;ext=1\r\nhello\r\n"
     "6 ; a=\"b c\";d\r\n world\r\n"
     "A\r\n0123456789\r\n"
     "0\r\nExpires: Sat, 01 Jan 2000 00:00:00 GMT\r\nX-Sum: 7\r\n\r\n",
     "REQUEST POST /up 1.1 path=/up\n"
     "FIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n"
     "BODY 21 61dd6a4c\n"
     "TRAILER Expires: [Sat, 01 Jan 2000 00:00:00 GMT]\n"
     "TRAILER X-Sum: [7]\n"
     "DONE\n",
     NULL, false, 0},
    /* 9.3 persistence: HTTP/1.1 persists unless close; HTTP/1.0 only
     * with keep-alive */
    {"close", REQ, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n"
     "FIELD Host: [a]\n"
     "FIELD Connection: [close]\n"
     "HEADERS none close\n"
     "DONE\n",
     NULL, false, 0},
    {"HTTP/1.0", REQ, "GET / HTTP/1.0\r\n\r\n",
     "REQUEST GET / 1.0 path=/\n"
     "HEADERS none close\n"
     "DONE\n",
     NULL, false, 0},
    {"HTTP/1.0 keep-alive", REQ,
     "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     "REQUEST GET / 1.0 path=/\n"
     "FIELD Connection: [Keep-Alive]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 2.5: a later minor version is handled as 1.1 */
    {"HTTP/1.7", REQ, "GET / HTTP/1.7\r\nHost: a\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n"
     "FIELD Host: [a]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 4: status lines, an empty reason phrase */
    {"empty reason", RSP, "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
     "STATUS 1.1 404 []\n"
     "FIELD Content-Length: [0]\n"
     "HEADERS length 0 keep\n"
     "DONE\n",
     NULL, false, 0},
    /* 6.3 rules 1, 2 and 8: interim, HEAD, no length (until close) */
    {"interim then final", RSP,
     "HTTP/1.1 100 Continue\r\n\r\n"
     "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
     "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
     "HTTP/1.0 200 OK\r\n\r\nuntil the end",
     "STATUS 1.1 100 [Continue]\n"
     "HEADERS none keep\n"
     "DONE\n"
     "STATUS 1.1 204 [No Content]\n"
     "FIELD Content-Length: [7]\n"
     "HEADERS none keep\n"
     "DONE\n"
     "STATUS 1.1 304 [Not Modified]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS none keep\n"
     "DONE\n"
     "STATUS 1.0 200 [OK]\n"
     "HEADERS close close\n"
     "BODY 13 f71dbdf1\n"
     "DONE\n",
     NULL, false, 0},
    {"response to HEAD", RSP,
     "HTTP/1.1 200 OK\r\nContent-Length: 51\r\n\r\n"
     "HTTP/1.1 200 OK\r\nContent-Length: 51\r\n\r\n",
     "STATUS 1.1 200 [OK]\n"
     "FIELD Content-Length: [51]\n"
     "HEADERS none keep\n"
     "DONE\n"
     "STATUS 1.1 200 [OK]\n"
     "FIELD Content-Length: [51]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, true, 0},
    /* 6.3 rule 4: chunked not last in a response: until close */
    {"coding after chunked", RSP,
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
     "STATUS 1.1 200 [OK]\n"
     "FIELD Transfer-Encoding: [gzip]\n"
     "HEADERS close close\n"
     "BODY 3 a7b0389d\n"
     "DONE\n",
     NULL, false, 0},
    /* 9.3.2 pipelining: back-to-back requests in one buffer */
    {"pipelined", REQ,
     "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
     "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
     "HEAD /c HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n",
     "REQUEST GET /a 1.1 path=/a\n"
     "FIELD Host: [a]\n"
     "HEADERS none keep\n"
     "DONE\n"
     "REQUEST POST /b 1.1 path=/b\n"
     "FIELD Host: [a]\n"
     "FIELD Content-Length: [3]\n"
     "HEADERS length 3 keep\n"
     "BODY 3 c4a1e8e0\n"
     "DONE\n"
     "REQUEST HEAD /c 1.1 path=/c\n"
     "FIELD Host: [a]\n"
     "FIELD Expect: [100-Continue]\n"
     "HEADERS none keep continue\n"
     "DONE\n",
     NULL, false, 0},
    /* Repeated identical lengths are one length (RFC 9110 8.6). */
    {"same lengths", REQ,
     "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n"
     "content-length: 2\r\n\r\nok",
     "REQUEST PUT / 1.1 path=/\n"
     "FIELD Host: [a]\n"
     "FIELD Content-Length: [2, 2]\n"
     "FIELD content-length: [2]\n"
     "HEADERS length 2 keep\n"
     "BODY 2 663437af\n"
     "DONE\n",
     NULL, false, 0},
    /* obs-text is allowed in values and reason phrases */
    {"obs-text", RSP, "HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\nX: \xff\r\n\r\n",
     "STATUS 1.1 200 [\xc3\xa9t\xc3\xa9]\n"
     "FIELD X: [\xff]\n"
     "HEADERS close close\n"
     "DONE\n",
     NULL, false, 0},
};

static void rfc9112_examples(void **state)
{
	(void)state;
	CHECK_VECTORS(rfc_examples);
}

/* 6.2's "Content-Length: 3495", with its 3495 bytes of body. */
static void content_length_3495(void **state)
{
	static const char head[] =
	    "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3495\r\n\r\n";
	struct vector v = {"3495",
			   REQ,
			   NULL,
			   "REQUEST POST /upload 1.1 path=/upload\n"
			   "FIELD Host: [a]\n"
			   "FIELD Content-Length: [3495]\n"
			   "HEADERS length 3495 keep\n"
			   "BODY 3495 %08x\n"
			   "DONE\n",
			   NULL,
			   false,
			   0};
	char *msg = malloc(sizeof(head) + 3495), events[512];
	uint32_t hash = 2166136261u;

	(void)state;
	memcpy(msg, head, sizeof(head) - 1);
	for (size_t i = 0; i < 3495; i++) {
		msg[sizeof(head) - 1 + i] = (char)('a' + i % 26);
		hash = (hash ^ (uint8_t)('a' + i % 26)) * 16777619u;
	}
	snprintf(events, sizeof(events), v.events, hash);
	v.events = events;
	v.msg = msg;
	v.len = sizeof(head) - 1 + 3495;
	check_vector(&v);
	free(msg);
}

/* --- the head after parsing ----------------------------------------------- */

static void head_lookups(void **state)
{
	static const char msg[] =
	    "GET /x HTTP/1.1\r\nHOST: example.org\r\nAccept-Encoding: br, "
	    "GZip;q=0.8 , identity\r\nConnection: keep-alive, Upgrade\r\n"
	    "X-Empty:\r\n\r\n";
	struct parser_box b;
	struct hz_http_event ev;
	const char *name, *value;
	size_t used, off = 0;
	int r;

	(void)state;
	box_init(&b, REQ, NULL, false);
	do {
		r = hz_http_parse(&b.p, msg + off, sizeof(msg) - 1 - off, &used,
				  &ev);
		off += used;
	} while (r > 0 && r != HZ_HTTP_EV_HEADERS_DONE);
	assert_int_equal(r, HZ_HTTP_EV_HEADERS_DONE);
	assert_int_equal(b.p.head.method, HZ_HTTP_GET);
	assert_string_equal(hz_http_head_get(&b.p.head, "host"), "example.org");
	assert_string_equal(hz_http_head_get(&b.p.head, "x-empty"), "");
	assert_null(hz_http_head_get(&b.p.head, "Hos"));
	assert_null(hz_http_head_get(&b.p.head, "Hostx"));
	assert_true(
	    hz_http_head_has_token(&b.p.head, "accept-encoding", "gzip"));
	assert_true(
	    hz_http_head_has_token(&b.p.head, "Accept-Encoding", "IDENTITY"));
	assert_false(
	    hz_http_head_has_token(&b.p.head, "Accept-Encoding", "deflate"));
	assert_true(hz_http_head_has_token(&b.p.head, "connection", "upgrade"));
	assert_int_equal(b.p.head.nfields, 4);
	hz_http_head_field(&b.p.head, 1, &name, &value);
	assert_string_equal(name, "Accept-Encoding");
	assert_string_equal(value, "br, GZip;q=0.8 , identity");
	/* Pipelining: after DONE, the head is the next message's. */
	r = hz_http_parse(&b.p, "", 0, &used, &ev);
	assert_int_equal(r, HZ_HTTP_EV_DONE);
	assert_false(hz_http_parser_idle(&b.p) == false);
	r = hz_http_parse(&b.p, "GET /y HTTP/1.0\r\n", 17, &used, &ev);
	assert_int_equal(r, HZ_HTTP_EV_START);
	assert_string_equal(b.p.head.target, "/y");
	assert_int_equal(b.p.head.nfields, 0);
	assert_false(hz_http_parser_idle(&b.p));
	box_free(&b);
}

static void list_elements(void **state)
{
	const char *s = " a , b;q=1,,c\t", *item;
	const char *want[] = {"a", "b;q=1", "", "c"};
	size_t len, n = 0;

	(void)state;
	while (hz_http_list_next(&s, &item, &len)) {
		assert_true(n < 4);
		assert_int_equal(len, strlen(want[n]));
		assert_memory_equal(item, want[n], len);
		n++;
	}
	assert_int_equal(n, 4);
	s = "";
	assert_true(hz_http_list_next(&s, &item, &len));
	assert_int_equal(len, 0);
	assert_false(hz_http_list_next(&s, &item, &len));
}

/* --- refusals ------------------------------------------------------------- */

#define H "Host: a\r\n"
#define E400(why) "ERROR 400 " why "\n"

static const struct vector smuggling[] = {
    {"CL and TE", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Content-Length: [5]\n"
     "FIELD Transfer-Encoding: [chunked]\n" E400(
	 "Content-Length with Transfer-Encoding"),
     NULL, false, 0},
    {"TE and CL", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
     "Content-Length: 5\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "FIELD Content-Length: [5]\n" E400(
	 "Content-Length with Transfer-Encoding"),
     NULL, false, 0},
    {"differing CL", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Content-Length: [5]\n" E400("differing Content-Length values"),
     NULL, false, 0},
    {"differing CL list", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 5, 6\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "differing Content-Length values"),
     NULL, false, 0},
    {"CL not a number", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "Content-Length is not a number"),
     NULL, false, 0},
    {"CL hex", REQ, "POST / HTTP/1.1\r\n" H "Content-Length: 0x5\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "Content-Length is not a number"),
     NULL, false, 0},
    {"CL with a space", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 1 2\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "Content-Length is not a number"),
     NULL, false, 0},
    {"CL empty", REQ, "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "empty Content-Length"),
     NULL, false, 0},
    {"CL overflow", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 18446744073709551616\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "Content-Length out of range"),
     NULL, false, 0},
    {"unknown coding", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip, chunked\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "unknown transfer coding"),
     NULL, false, 0},
    {"chunked not last", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, identity\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "chunked is not the last transfer coding"),
     NULL, false, 0},
    {"chunked twice", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n" E400(
	 "chunked is not the last transfer coding"),
     NULL, false, 0},
    {"chunked lookalike", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: xchunked\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "unknown transfer coding"),
     NULL, false, 0},
    {"empty coding", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: ,chunked\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "empty transfer coding"),
     NULL, false, 0},
    {"TE in HTTP/1.0", REQ,
     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     "REQUEST POST / 1.0 path=/\nFIELD Transfer-Encoding: [chunked]\n" E400(
	 "Transfer-Encoding in an HTTP/1.0 request"),
     NULL, false, 0},
    {"space before colon", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding : chunked\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "whitespace between field name and colon"),
     NULL, false, 0},
    {"tab before colon", REQ, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n" E400(
	 "whitespace between field name and colon"),
     NULL, false, 0},
    {"obs-fold", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: identity\r\n chunked\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "unknown transfer coding"),
     NULL, false, 0},
    {"obs-fold of a plain field", REQ,
     "GET / HTTP/1.1\r\n" H "X: a\r\n\tb\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\nFIELD X: [a]\n" E400(
	 "obs-fold or whitespace before a field name"),
     NULL, false, 0},
    {"whitespace before the first field", REQ,
     "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n" E400(
	 "obs-fold or whitespace before a field name"),
     NULL, false, 0},
    {"bare CR in a value", REQ,
     "GET / HTTP/1.1\r\n" H "X: a\rContent-Length: 5\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "CR not followed by LF"),
     NULL, false, 0},
    {"bare LF ending a field", REQ, "GET / HTTP/1.1\r\nHost: a\n\r\n",
     "REQUEST GET / 1.1 path=/\n" E400("line ends in LF without CR"), NULL,
     false, 0},
    {"bare LF ending the head", REQ, "GET / HTTP/1.1\r\n" H "\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "line ends in LF without CR"),
     NULL, false, 0},
    {"bare CR in the request line", REQ, "GET /a\rb HTTP/1.1\r\n" H "\r\n",
     E400("CR not followed by LF"), NULL, false, 0},
    {"NUL in a value", REQ, "GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "control character in field value"),
     NULL, false, 16 + 9 + 9 + 2},
    {"no colon", REQ, "GET / HTTP/1.1\r\n" H "Xy\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "field line without a colon"),
     NULL, false, 0},
    {"empty name", REQ, "GET / HTTP/1.1\r\n" H ": v\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400("empty field name"),
     NULL, false, 0},
    {"bad name", REQ, "GET / HTTP/1.1\r\n" H "X(y): v\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400("malformed field name"),
     NULL, false, 0},
    {"chunk size not hex", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("chunk size is not hexadecimal"),
     NULL, false, 0},
    {"chunk size empty", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("chunk size is not hexadecimal"),
     NULL, false, 0},
    {"chunk size negative", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n-1\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("chunk size is not hexadecimal"),
     NULL, false, 0},
    {"chunk size 0x", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0x5\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("malformed chunk size"),
     NULL, false, 0},
    {"chunk size overflow", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "10000000000000000\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("chunk size out of range"),
     NULL, false, 0},
    {"chunk size with space only", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5 \r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("malformed chunk size"),
     NULL, false, 0},
    {"chunk size bare LF", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\nhello",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("malformed chunk size"),
     NULL, false, 0},
    {"chunk size bare CR", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5\rhello",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("CR not followed by LF"),
     NULL, false, 0},
    {"chunk data too long", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "3\r\nabcdef\r\n0\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\nBODY 3 1a47e90b\n" E400(
	 "chunk data longer than its size"),
     NULL, false, 0},
    {"chunk extension control", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "3;a\x01\r\nabc\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\n" E400("control character in chunk extension"),
     NULL, false, 0},
    {"trailer obs-fold", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "0\r\nX: a\r\n b\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\n"
     "HEADERS chunked keep\nTRAILER X: [a]\n" E400(
	 "obs-fold or whitespace before a field name"),
     NULL, false, 0},
    /* a request cut short */
    {"truncated body", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 10\r\n\r\nabc",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Content-Length: [10]\n"
     "HEADERS length 10 keep\nBODY 3 1a47e90b\n" E400(
	 "the stream ended inside a message"),
     NULL, false, 0},
    {"truncated head", REQ, "GET / HTTP/1.1\r\n" H,
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "the stream ended inside a message"),
     NULL, false, 0},
    /* a response with both lengths is refused too */
    {"response CL and TE", RSP,
     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     "STATUS 1.1 200 [OK]\nFIELD Content-Length: [3]\n"
     "FIELD Transfer-Encoding: [chunked]\n" E400(
	 "Content-Length with Transfer-Encoding"),
     NULL, false, 0},
};

static void smuggling_refused(void **state)
{
	(void)state;
	CHECK_VECTORS(smuggling);
}

static const struct vector malformed[] = {
    {"no Host", REQ, "GET / HTTP/1.1\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n" E400("no Host field in an HTTP/1.1 request"),
     NULL, false, 0},
    {"two Hosts", REQ, "GET / HTTP/1.1\r\n" H H "\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n" E400(
	 "more than one Host field"),
     NULL, false, 0},
    {"bad Host", REQ, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
     "REQUEST GET / 1.1 path=/\n" E400("malformed Host field"), NULL, false, 0},
    {"double space", REQ, "GET  / HTTP/1.1\r\n" H "\r\n",
     E400("malformed request line"), NULL, false, 0},
    {"trailing space", REQ, "GET / HTTP/1.1 \r\n" H "\r\n",
     E400("malformed HTTP version"), NULL, false, 0},
    {"HTTP/0.9", REQ, "GET /\r\n\r\n", E400("malformed request line"), NULL,
     false, 0},
    {"lower-case version", REQ, "GET / http/1.1\r\n" H "\r\n",
     E400("malformed HTTP version"), NULL, false, 0},
    {"HTTP/2.0", REQ, "GET / HTTP/2.0\r\n" H "\r\n",
     "ERROR 505 HTTP version not supported (HTTP/1.x only)\n", NULL, false, 0},
    {"bad method", REQ, "G(T / HTTP/1.1\r\n" H "\r\n", E400("malformed method"),
     NULL, false, 0},
    {"space in target", REQ, "GET /a b HTTP/1.1\r\n" H "\r\n",
     E400("malformed HTTP version"), NULL, false, 0},
    {"control in target", REQ, "GET /a\x7f HTTP/1.1\r\n" H "\r\n",
     E400("malformed request target"), NULL, false, 0},
    {"relative target", REQ, "GET a/b HTTP/1.1\r\n" H "\r\n",
     E400("malformed request target"), NULL, false, 0},
    {"absolute-form of another scheme", REQ,
     "GET mailto:a@b HTTP/1.1\r\n" H "\r\n",
     E400("absolute-form target of another scheme than http or https"), NULL,
     false, 0},
    {"absolute-form without a host", REQ, "GET http:///a HTTP/1.1\r\n" H "\r\n",
     E400("absolute-form target without a host"), NULL, false, 0},
    {"absolute-form, no //", REQ, "GET http:a HTTP/1.1\r\n" H "\r\n",
     E400("absolute-form target without a host"), NULL, false, 0},
    {"absolute-form, user information", REQ,
     "GET https://u@h/ HTTP/1.1\r\n" H "\r\n",
     E400("absolute-form target with user information"), NULL, false, 0},
    {"absolute-form, HTTPS in capitals", REQ,
     "GET HTTPS://h:8443 HTTP/1.1\r\n" H "\r\n",
     "REQUEST GET HTTPS://h:8443 1.1 path=/ authority=h:8443\n"
     "FIELD Host: [a]\n"
     "HEADERS none keep\n"
     "DONE\n",
     NULL, false, 0},
    {"asterisk with GET", REQ, "GET * HTTP/1.1\r\n" H "\r\n",
     E400("asterisk-form target is for OPTIONS"), NULL, false, 0},
    {"CONNECT to a path", REQ, "CONNECT /a HTTP/1.1\r\n" H "\r\n",
     E400("CONNECT needs an authority-form target"), NULL, false, 0},
    {"too many empty lines", REQ, "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n",
     E400("too many empty lines before the request line"), NULL, false, 0},
    {"expectation", REQ, "PUT / HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n",
     "REQUEST PUT / 1.1 path=/\nFIELD Host: [a]\n"
     "ERROR 417 expectation other than 100-continue\n",
     NULL, false, 0},
    {"expectation in HTTP/1.0 ignored", REQ,
     "GET / HTTP/1.0\r\nExpect: 200-ok\r\n\r\n",
     "REQUEST GET / 1.0 path=/\nFIELD Expect: [200-ok]\n"
     "HEADERS none close\nDONE\n",
     NULL, false, 0},
    {"bad status line", RSP, "HTTP/1.1 20 OK\r\n\r\n",
     E400("malformed status line"), NULL, false, 0},
    {"bad status code", RSP, "HTTP/1.1 2x0 OK\r\n\r\n",
     E400("malformed status code"), NULL, false, 0},
    {"status code 099", RSP, "HTTP/1.1 099 Low\r\n\r\n",
     E400("malformed status code"), NULL, false, 0},
    {"empty line first in a response", RSP, "\r\nHTTP/1.1 200 OK\r\n\r\n",
     E400("malformed status line"), NULL, false, 0},
};

static void malformed_refused(void **state)
{
	(void)state;
	CHECK_VECTORS(malformed);
}

/* --- limits --------------------------------------------------------------- */

static const struct hz_http_limits small = {
    .max_line = 32,
    .max_header_bytes = 64,
    .max_fields = 4,
    .max_body = 10,
};

static const struct vector limited[] = {
    /* 32 bytes of request line, CRLF included, pass; 33 do not. */
    {"line at the limit", REQ, "GET /0123456789abcdef HTTP/1.1\r\n" H "\r\n",
     "REQUEST GET /0123456789abcdef 1.1 path=/0123456789abcdef\n"
     "FIELD Host: [a]\nHEADERS none keep\nDONE\n",
     &small, false, 0},
    {"line over the limit", REQ, "GET /0123456789abcdefg HTTP/1.1\r\n" H "\r\n",
     "ERROR 414 request line too long\n", &small, false, 0},
    {"line over the limit without LF", REQ,
     "GET /0123456789abcdefghijklmnopqrstuvwxyz",
     "ERROR 414 request line too long\n", &small, false, 0},
    /* 64 bytes of field lines and the empty line pass; 65 do not. */
    {"header at the limit", REQ,
     "GET / HTTP/1.1\r\n" H "X: 0123456789012345678901234567890123456789"
     "01234567\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD X: [012345678901234567890123456789012345678901234567]\n"
     "HEADERS none keep\nDONE\n",
     &small, false, 0},
    {"header over the limit", REQ,
     "GET / HTTP/1.1\r\n" H "X: 0123456789012345678901234567890123456789"
     "012345678\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD X: [0123456789012345678901234567890123456789012345678]\n"
     "ERROR 431 header section too large\n",
     &small, false, 0},
    {"four fields pass", REQ,
     "GET / HTTP/1.1\r\n" H "B: 1\r\nC: 2\r\nD: 3\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\nFIELD B: [1]\n"
     "FIELD C: [2]\nFIELD D: [3]\nHEADERS none keep\nDONE\n",
     &small, false, 0},
    {"five fields do not", REQ,
     "GET / HTTP/1.1\r\n" H "B: 1\r\nC: 2\r\nD: 3\r\nE: 4\r\n\r\n",
     "REQUEST GET / 1.1 path=/\nFIELD Host: [a]\nFIELD B: [1]\n"
     "FIELD C: [2]\nFIELD D: [3]\nERROR 431 too many fields\n",
     &small, false, 0},
    {"trailers count as fields", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "0\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\nHEADERS chunked keep\n"
     "TRAILER X: [1]\nTRAILER Y: [2]\nERROR 431 too many fields\n",
     &small, false, 0},
    {"trailers count as header bytes", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "0\r\nX: 01234567890123456789\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\nHEADERS chunked keep\n"
     "TRAILER X: [01234567890123456789]\n"
     "ERROR 431 header section too large\n",
     &small, false, 0},
    {"body at the limit", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 10\r\n\r\n0123456789",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Content-Length: [10]\nHEADERS length 10 keep\n"
     "BODY 10 f9808ff2\nDONE\n",
     &small, false, 0},
    {"length over the limit", REQ,
     "POST / HTTP/1.1\r\n" H "Content-Length: 11\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Content-Length: [11]\nERROR 413 body larger than the limit\n",
     &small, false, 0},
    {"chunks over the limit", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "6\r\n012345\r\n5\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\nHEADERS chunked keep\n"
     "BODY 6 a38846de\nERROR 413 body larger than the limit\n",
     &small, false, 0},
    {"a huge chunk", REQ,
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
     "ffffffffffffffff\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\nHEADERS chunked keep\n"
     "ERROR 413 body larger than the limit\n",
     &small, false, 0},
    {"close-delimited over the limit", RSP,
     "HTTP/1.1 200 OK\r\n\r\n0123456789a",
     "STATUS 1.1 200 [OK]\nHEADERS close close\n"
     "BODY 10 f9808ff2\nERROR 413 body larger than the limit\n",
     &small, false, 0},
    {"chunk line too long", REQ,
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "1;"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "\r\nx\r\n0\r\n\r\n",
     "REQUEST POST / 1.1 path=/\nFIELD Host: [a]\n"
     "FIELD Transfer-Encoding: [chunked]\nHEADERS chunked keep\n" E400(
	 "chunk size line too long"),
     NULL, false, 0},
};

static void limits_enforced(void **state)
{
	(void)state;
	CHECK_VECTORS(limited);
}

/*
 * A 1 MiB header line with the default limits: refused with 431 after
 * reading no more than the limit allows, however it arrives.
 */
static void megabyte_header_line(void **state)
{
	size_t size = 1u << 20;
	char *msg = malloc(size);
	static const char head[] = "GET / HTTP/1.1\r\nX-Big: ";
	size_t pieces[] = {size, 1000, 1};

	(void)state;
	memcpy(msg, head, sizeof(head) - 1);
	memset(msg + sizeof(head) - 1, 'a', size - (sizeof(head) - 1));
	for (size_t k = 0; k < 3; k++) {
		struct parser_box b;
		struct hz_http_event ev;
		size_t off = 0, used;
		int r = 0;

		box_init(&b, REQ, NULL, false);
		while (off < size && r >= 0) {
			size_t n =
			    size - off < pieces[k] ? size - off : pieces[k];

			do {
				r = hz_http_parse(&b.p, msg + off, n, &used,
						  &ev);
				off += used;
				n -= used;
			} while (r > 0);
			if (k == 2 && off > 20000)
				break; /* byte by byte: enough to see */
		}
		assert_int_equal(r, -HZ_EMSGSIZE);
		assert_int_equal(hz_http_parser_status(&b.p), 431);
		assert_int_equal(b.p.err_kind, HZ_HTTP_ERR_HEADER);
		/* The request line and at most the header limit were read. */
		assert_true(off <= 16 + HZ_HTTP_MAX_HEADER_BYTES_DEFAULT);
		box_free(&b);
	}
	free(msg);
}

/* --- serialisation -------------------------------------------------------- */

static void response_heads(void **state)
{
	static const struct hz_http_header h[] = {
	    {"Content-Type", "text/html"},
	    {"ETag", "\"abc\""},
	};
	struct hz_http_response_head rh = {
	    .status = 200,
	    .headers = h,
	    .nheaders = 2,
	    .framing = HZ_HTTP_BODY_LENGTH,
	    .content_length = 1234,
	    .date = 784111777,
	};
	static const struct hz_http_header bad[] = {
	    {"X", "a\r\nSet-Cookie: b"},
	    {"X y", "1"},
	    {"", "1"},
	    {"X", "a\x01"},
	};
	char buf[512];
	ssize_t n;

	(void)state;
	n = hz_http_write_response_head(buf, sizeof(buf), &rh);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "HTTP/1.1 200 OK\r\n"
				 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
				 "Content-Type: text/html\r\n"
				 "ETag: \"abc\"\r\n"
				 "Content-Length: 1234\r\n"
				 "\r\n");
	rh = (struct hz_http_response_head){
	    .status = 599, .framing = HZ_HTTP_BODY_CHUNKED, .close = true};
	n = hz_http_write_response_head(buf, sizeof(buf), &rh);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "HTTP/1.1 599 \r\n"
				 "Transfer-Encoding: chunked\r\n"
				 "Connection: close\r\n\r\n");
	rh = (struct hz_http_response_head){
	    .status = 404, .reason = "Nope", .keep_alive = true};
	n = hz_http_write_response_head(buf, sizeof(buf), &rh);
	buf[n] = '\0';
	assert_string_equal(buf, "HTTP/1.1 404 Nope\r\n"
				 "Connection: keep-alive\r\n\r\n");
	/* Every length short of the whole is refused, never overrun. */
	for (size_t cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(hz_http_write_response_head(buf, cap, &rh),
				 -HZ_ENOSPC);
	for (size_t i = 0; i < 4; i++) {
		rh = (struct hz_http_response_head){
		    .status = 200, .headers = &bad[i], .nheaders = 1};
		assert_int_equal(
		    hz_http_write_response_head(buf, sizeof(buf), &rh),
		    -HZ_EINVAL);
	}
	rh = (struct hz_http_response_head){.status = 99};
	assert_int_equal(hz_http_write_response_head(buf, sizeof(buf), &rh),
			 -HZ_EINVAL);
}

static void request_heads(void **state)
{
	static const struct hz_http_header h[] = {{"Accept", "*/*"}};
	struct hz_http_request_head rq = {
	    .method = "POST",
	    .target = "/up?x=1",
	    .host = "example.org:8080",
	    .headers = h,
	    .nheaders = 1,
	    .framing = HZ_HTTP_BODY_LENGTH,
	    .content_length = 0,
	    .close = true,
	};
	char buf[256];
	ssize_t n;

	(void)state;
	n = hz_http_write_request_head(buf, sizeof(buf), &rq);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "POST /up?x=1 HTTP/1.1\r\n"
				 "Host: example.org:8080\r\n"
				 "Accept: */*\r\n"
				 "Content-Length: 0\r\n"
				 "Connection: close\r\n\r\n");
	rq.target = "/a b";
	assert_int_equal(hz_http_write_request_head(buf, sizeof(buf), &rq),
			 -HZ_EINVAL);
	rq.target = "/";
	rq.method = "GE T";
	assert_int_equal(hz_http_write_request_head(buf, sizeof(buf), &rq),
			 -HZ_EINVAL);
	rq.method = "GET";
	rq.host = "a\nb";
	assert_int_equal(hz_http_write_request_head(buf, sizeof(buf), &rq),
			 -HZ_EINVAL);
}

static void chunk_heads(void **state)
{
	char buf[HZ_HTTP_CHUNK_HEAD_MAX];
	size_t n;

	(void)state;
	n = hz_http_chunk_head(buf, 1);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "1\r\n", 3);
	n = hz_http_chunk_head(buf, 0x1f);
	assert_memory_equal(buf, "1f\r\n", n);
	n = hz_http_chunk_head(buf, 4096);
	assert_memory_equal(buf, "1000\r\n", n);
	n = hz_http_chunk_head(buf, UINT64_MAX);
	assert_int_equal(n, HZ_HTTP_CHUNK_HEAD_MAX);
	assert_memory_equal(buf, "ffffffffffffffff\r\n", n);
}

static void dates(void **state)
{
	static const struct {
		uint64_t t;
		const char *s;
	} known[] = {
	    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
	    {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
	    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
	    {1248697733, "Mon, 27 Jul 2009 12:28:53 GMT"},
	    {4107542399, "Sun, 28 Feb 2100 23:59:59 GMT"},
	    {4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
	    {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
	};
	static const char *const refused[] = {
	    "",
	    "Sun, 06 Nov 1994 08:49:37",
	    "Sun, 06 Nov 1994 08:49:37 UTC",
	    "Sun, 06 Nov 1994 08:49:37 GMT ",
	    "Sun, 6 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Foo 1994 08:49:37 GMT",
	    "Sun, 31 Nov 1994 08:49:37 GMT",
	    "Sun, 29 Feb 1900 08:49:37 GMT",
	    "Sun, 06 Nov 1994 24:00:00 GMT",
	    "Sun, 06 Nov 1969 08:49:37 GMT",
	    "Xyz, 06 Nov 1994 08:49:37 GMT",
	    "Sun Nov 06 08:49:37 1994 GMT",
	};
	char buf[HZ_HTTP_DATE_LEN + 1];
	uint64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		hz_http_date(buf, known[i].t);
		assert_string_equal(buf, known[i].s);
		assert_int_equal(hz_http_date_parse(known[i].s, &t), 0);
		assert_int_equal(t, known[i].t);
	}
	/* RFC 9110 section 5.6.7's three forms of one date. */
	assert_int_equal(
	    hz_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(hz_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
	assert_int_equal(t, 784111777);
	assert_int_equal(hz_http_date_parse("Sun Nov 16 08:49:37 1994", &t), 0);
	assert_int_equal(t, 784111777 + 10 * 86400);
	assert_int_equal(
	    hz_http_date_parse("Tuesday, 01-Jan-30 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 1893456000); /* 2030 */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (hz_http_date_parse(refused[i], &t) != -HZ_EINVAL)
			fail_msg("'%s' accepted", refused[i]);
	/* Every day of 1970..2400 round trips. */
	for (uint64_t d = 0; d < 157000; d += 1) {
		hz_http_date(buf, d * 86400 + 3661);
		assert_int_equal(hz_http_date_parse(buf, &t), 0);
		assert_int_equal(t, d * 86400 + 3661);
	}
}

static void reasons(void **state)
{
	(void)state;
	assert_string_equal(hz_http_reason(200), "OK");
	assert_string_equal(hz_http_reason(404), "Not Found");
	assert_string_equal(hz_http_reason(431),
			    "Request Header Fields Too Large");
	assert_string_equal(hz_http_reason(299), "");
}

static void urls(void **state)
{
	static const struct {
		const char *url;
		bool tls;
		const char *host;
		uint16_t port;
		const char *path;
	} good[] = {
	    {"http://example.org", false, "example.org", 80, "/"},
	    {"HTTPS://example.org/a?b", true, "example.org", 443, "/a?b"},
	    {"http://10.0.0.2:8080/", false, "10.0.0.2", 8080, "/"},
	    {"https://www.haze.test:8443", true, "www.haze.test", 8443, "/"},
	};
	static const struct {
		const char *url, *why;
	} bad[] = {
	    {"ftp://example.org/", "not an http: or https: URL"},
	    {"http:example.org", "not an http: or https: URL"},
	    {"http:///a", "empty host"},
	    {"http://u@example.org/", "user information in URLs is not "
				      "supported"},
	    {"http://[::1]/", "IPv6 addresses are not supported"},
	    {"http://a:0/", "bad port"},
	    {"http://a:65536/", "bad port"},
	    {"http://a:x/", "bad port"},
	    {"http://a?x", "the path must start with /"},
	    {"http://a/#top", "fragments are not sent in requests"},
	};
	struct hz_http_url u;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(hz_http_url_parse(good[i].url, &u, &why), 0);
		assert_int_equal(u.tls, good[i].tls);
		assert_string_equal(u.host, good[i].host);
		assert_int_equal(u.port, good[i].port);
		assert_string_equal(u.path, good[i].path);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hz_http_url_parse(bad[i].url, &u, &why) != -HZ_EINVAL)
			fail_msg("'%s' accepted", bad[i].url);
		assert_string_equal(why, bad[i].why);
	}
}

/*
 * What the serialiser writes, the parser reads back: heads with every
 * framing, and a chunked body written with hz_http_chunk_head.
 */
/* Request paths as file names: decoded, refused, with the index. */
static void path_names(void **state)
{
	static const struct {
		const char *path, *name; /* NULL: refused */
		bool dir;
	} cases[] = {
	    {"/", "index.html", true},
	    {"/a.txt", "a.txt", false},
	    {"/docs/", "docs/index.html", true},
	    {"/docs", "docs", false},
	    {"/my%20file.txt?q=1#f", "my file.txt", false},
	    {"/%C3%BCn%C3%AF.txt", "\xc3\xbcn\xc3\xaf.txt", false},
	    {"//a///b/./c", "a/b/c", false},
	    {"/a/.", "a", false},
	    {"/a/./", "a/index.html", true},
	    {"/a..b.txt", "a..b.txt", false},
	    {"/...", "...", false},
	    {"/%2E%2Ex", "..x", false},
	    {"/?/x", "index.html", true},
	    {"/..", NULL, false},
	    {"/a/../b", NULL, false},
	    {"/%2e%2e/etc", NULL, false},
	    {"/.%2E/", NULL, false},
	    {"/a%2fb", NULL, false},
	    {"/a%5cb", NULL, false},
	    {"/a\\b", NULL, false},
	    {"/a%00b", NULL, false},
	    {"/a%7f", NULL, false},
	    {"/a%1", NULL, false},
	    {"/a%g0", NULL, false},
	    {"a.txt", NULL, false},
	    {"", NULL, false},
	};
	char name[32];
	bool dir;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = hz_http_path_name(cases[i].path, "index.html", name,
					  sizeof(name), &dir);

		if (cases[i].name == NULL) {
			if (r != -HZ_EINVAL)
				fail_msg("%s: %d, want -HZ_EINVAL",
					 cases[i].path, r);
			continue;
		}
		if (r != 0 || strcmp(name, cases[i].name) != 0 ||
		    dir != cases[i].dir)
			fail_msg("%s: %d '%s' dir %d, want '%s' dir %d",
				 cases[i].path, r, r == 0 ? name : "", dir,
				 cases[i].name, cases[i].dir);
	}
	/* The name leaves room for "/index.html": 32 - 12 = 20 bytes. */
	assert_int_equal(hz_http_path_name("/aaaaaaaaaaaaaaaaaaaa",
					   "index.html", name, sizeof(name),
					   &dir),
			 0);
	assert_int_equal(hz_http_path_name("/aaaaaaaaaaaaaaaaaaaaa",
					   "index.html", name, sizeof(name),
					   &dir),
			 -HZ_ENOSPC);
	assert_int_equal(hz_http_path_name("/aaaaaaaaaa/bbbbbbbbbb",
					   "index.html", name, sizeof(name),
					   &dir),
			 -HZ_ENOSPC);
	assert_int_equal(hz_http_path_name("/", "index.html", name, 11, &dir),
			 -HZ_ENOSPC);
	/* The longest name, and the same as a directory, or with a "."
	 * after it (each dropped before the name is measured). */
	assert_int_equal(hz_http_path_name("/aaaaaaaaaaaaaaaaaaaa/",
					   "index.html", name, sizeof(name),
					   &dir),
			 0);
	assert_string_equal(name, "aaaaaaaaaaaaaaaaaaaa/index.html");
	assert_int_equal(hz_http_path_name("/aaaaaaaaaaaaaaaaaaaa/.",
					   "index.html", name, sizeof(name),
					   &dir),
			 0);
	assert_string_equal(name, "aaaaaaaaaaaaaaaaaaaa");
}

/* Where a directory named without its '/' is sent. */
static void dir_locations(void **state)
{
	char loc[32];

	(void)state;
	assert_int_equal(hz_http_dir_location("docs", "", loc, sizeof(loc)), 0);
	assert_string_equal(loc, "/docs/");
	assert_int_equal(
	    hz_http_dir_location("a b/\xc3\xbc", "?x=1", loc, sizeof(loc)), 0);
	assert_string_equal(loc, "/a%20b/%C3%BC/?x=1");
	assert_int_equal(hz_http_dir_location("a-._~z", "", loc, sizeof(loc)),
			 0);
	assert_string_equal(loc, "/a-._~z/");
	/* A query that does not fit is left out, not cut. */
	assert_int_equal(hz_http_dir_location("docs",
					      "?0123456789012345678901234", loc,
					      sizeof(loc)),
			 0);
	assert_string_equal(loc, "/docs/");
	/* A name that does not fit is refused. */
	assert_int_equal(
	    hz_http_dir_location("%%%%%%%%%%", "", loc, sizeof(loc)),
	    -HZ_ENOSPC);
	assert_int_equal(hz_http_dir_location("aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					      "", loc, sizeof(loc)),
			 0);
	assert_int_equal(strlen(loc), 31);
	assert_int_equal(hz_http_dir_location("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					      "", loc, sizeof(loc)),
			 -HZ_ENOSPC);
}

static void write_then_parse(void **state)
{
	static const struct hz_http_header h[] = {{"X-A", "1"}, {"X-B", ""}};
	struct hz_http_response_head rh = {
	    .status = 200,
	    .headers = h,
	    .nheaders = 2,
	    .framing = HZ_HTTP_BODY_CHUNKED,
	    .date = 1,
	};
	char msg[512], *p;
	ssize_t n = hz_http_write_response_head(msg, sizeof(msg), &rh);
	struct vector v = {"round trip",
			   RSP,
			   msg,
			   "STATUS 1.1 200 [OK]\n"
			   "FIELD Date: [Thu, 01 Jan 1970 00:00:01 GMT]\n"
			   "FIELD X-A: [1]\nFIELD X-B: []\n"
			   "FIELD Transfer-Encoding: [chunked]\n"
			   "HEADERS chunked keep\nBODY 20 b26500c1\nDONE\n",
			   NULL,
			   false,
			   0};

	(void)state;
	assert_true(n > 0);
	p = msg + n;
	for (int i = 0; i < 4; i++) {
		p += hz_http_chunk_head(p, 5);
		memcpy(p, "abcde" HZ_HTTP_CHUNK_TAIL, 7);
		p += 7;
	}
	memcpy(p, HZ_HTTP_LAST_CHUNK, 6);
	check_vector(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc9112_examples),
	    cmocka_unit_test(content_length_3495),
	    cmocka_unit_test(head_lookups),
	    cmocka_unit_test(list_elements),
	    cmocka_unit_test(smuggling_refused),
	    cmocka_unit_test(malformed_refused),
	    cmocka_unit_test(limits_enforced),
	    cmocka_unit_test(megabyte_header_line),
	    cmocka_unit_test(response_heads),
	    cmocka_unit_test(request_heads),
	    cmocka_unit_test(chunk_heads),
	    cmocka_unit_test(dates),
	    cmocka_unit_test(reasons),
	    cmocka_unit_test(urls),
	    cmocka_unit_test(path_names),
	    cmocka_unit_test(dir_locations),
	    cmocka_unit_test(write_then_parse),
	};

	return HARNESS_RUN("http", tests);
}
