/*
 * HTTP/1.1 (RFC 9110 semantics, RFC 9112 syntax): a sans-I/O message
 * parser, message heads serialised into caller buffers, a server on any
 * FLOW, and a small client over conduit. See docs/http.md.
 *
 * The parser does no I/O and no allocation: the caller gives it a buffer
 * for the header section, an array for the field index and the limits,
 * then feeds it bytes as they come and takes events out (start line,
 * each field, end of the header section, body data, end of message).
 * It refuses what RFC 9112 says to refuse and what request smuggling
 * needs (Transfer-Encoding with Content-Length, differing lengths,
 * unknown codings, bad chunk sizes, obs-fold, bare CR or LF, whitespace
 * before a colon); each refusal comes with the status to answer (400,
 * 413, 414, 417, 431, 505) and a fixed human message. Errors are sticky.
 *
 * The server runs one fiber per connection over any FLOW (TCP from a
 * STACK listener, TLS from a conduit listener), hands each request to a
 * handler with its body streamed on demand, and sends static bodies
 * without copying them. Keep-alive, pipelining (answered in order),
 * 100-continue, timeouts against slow clients, a connection limit and a
 * graceful stop are its own business; counters are in hz_counters_dump
 * under "http".
 */
#ifndef HAZE_HTTP_H
#define HAZE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "haze/conduit.h"
#include "haze/error.h"
#include "haze/flow.h"
#include "haze/sched.h"
#include "haze/stack.h"

/* --- limits --------------------------------------------------------------- */

/* What a parser accepts; a zero field means its default. */
struct hz_http_limits {
	uint32_t max_line;	   /* start line, CRLF included: 414 */
	uint32_t max_header_bytes; /* field lines, trailers and CRLFs: 431 */
	uint32_t max_fields;	   /* field lines and trailer lines: 431 */
	uint64_t max_body;	   /* body bytes (after chunked coding): 413 */
};

#define HZ_HTTP_MAX_LINE_DEFAULT 8192u
#define HZ_HTTP_MAX_HEADER_BYTES_DEFAULT 8192u
#define HZ_HTTP_MAX_FIELDS_DEFAULT 64u
#define HZ_HTTP_MAX_BODY_DEFAULT (1ull << 20)
/* Longest chunk-size line (size, extensions, CRLF): 400 beyond. */
#define HZ_HTTP_CHUNK_LINE_MAX 1024u
/* Empty lines a server skips before a request line: 400 beyond. */
#define HZ_HTTP_EMPTY_LINES_MAX 4u

/* Fills the zero fields of @lim with the defaults. */
void hz_http_limits_fill(struct hz_http_limits *lim);

/* Returns the buffer bytes a parser with (filled) limits @lim needs. */
static inline size_t hz_http_parser_buf_size(const struct hz_http_limits *lim)
{
	return (size_t)lim->max_line + lim->max_header_bytes;
}

/* --- the parsed head ------------------------------------------------------ */

enum hz_http_method {
	HZ_HTTP_OTHER, /* a token not listed: method_name has it */
	HZ_HTTP_GET,
	HZ_HTTP_HEAD,
	HZ_HTTP_POST,
	HZ_HTTP_PUT,
	HZ_HTTP_DELETE,
	HZ_HTTP_CONNECT,
	HZ_HTTP_OPTIONS,
	HZ_HTTP_TRACE,
	HZ_HTTP_PATCH,
};

/* How a message's body is delimited (RFC 9112 section 6.3). */
enum hz_http_framing {
	HZ_HTTP_BODY_NONE,    /* no body */
	HZ_HTTP_BODY_LENGTH,  /* Content-Length bytes */
	HZ_HTTP_BODY_CHUNKED, /* chunked transfer coding */
	HZ_HTTP_BODY_CLOSE,   /* until the connection closes (responses) */
};

/* One field line: offsets and lengths into the parser's buffer. */
struct hz_http_field {
	uint32_t name, name_len;
	uint32_t value, value_len;
};

/*
 * A message head as parsed so far. Strings point into the parser's
 * buffer, NUL-terminated, and stay valid until the message's end event
 * has been taken and the parser is called again.
 */
struct hz_http_head {
	/* request line */
	enum hz_http_method method;
	const char *method_name; /* "GET" */
	const char *target;	 /* as sent: "/a?b", "http://h/a", "*" */
	const char *path;	 /* origin-form part of target: "/a?b" */
	/* absolute-form target (http or https only): its host[:port], not
	 * NUL-ended, which stands for the Host field; else NULL, 0 */
	const char *authority;
	size_t authority_len;
	/* status line */
	int status;	    /* 100..999 */
	const char *reason; /* may be empty */
	int version;	    /* minor version: 0 or 1 (1.2+ counts as 1) */
	/* fields in order, then trailer fields */
	const char *buf;
	const struct hz_http_field *fields;
	size_t nfields, ntrailers;
	/* known at the end of the header section */
	enum hz_http_framing framing;
	uint64_t content_length; /* HZ_HTTP_BODY_LENGTH */
	bool keep_alive;	 /* the sender lets the connection persist */
	bool expect_continue;	 /* an HTTP/1.1 request asked 100-continue */
};

/* Returns the value of the first field named @name (any case), or NULL. */
const char *hz_http_head_get(const struct hz_http_head *h, const char *name);

/* Gives field @i (trailer fields follow the fields) as @name, @value. */
void hz_http_head_field(const struct hz_http_head *h, size_t i,
			const char **name, const char **value);

/*
 * Returns whether a field named @name has @token (any case) among the
 * elements of its comma-separated list, parameters after ';' ignored.
 */
bool hz_http_head_has_token(const struct hz_http_head *h, const char *name,
			    const char *token);

/*
 * Takes the next element of the comma-separated list at *@s: *@item and
 * *@len give it with optional whitespace trimmed (possibly empty); *@s
 * moves past it and becomes NULL after the last. false once *@s is NULL.
 */
bool hz_http_list_next(const char **s, const char **item, size_t *len);

/* --- the parser ----------------------------------------------------------- */

enum hz_http_role {
	HZ_HTTP_PARSE_REQUEST,
	HZ_HTTP_PARSE_RESPONSE,
};

enum hz_http_event_type {
	HZ_HTTP_EV_MORE = 0,	 /* every byte given was used: give more */
	HZ_HTTP_EV_START,	 /* the start line: see head */
	HZ_HTTP_EV_FIELD,	 /* one header field: name, value */
	HZ_HTTP_EV_HEADERS_DONE, /* end of the header section: framing set */
	HZ_HTTP_EV_BODY,	 /* body bytes: data, len (inside the input) */
	HZ_HTTP_EV_TRAILER,	 /* one trailer field: name, value */
	HZ_HTTP_EV_DONE,	 /* the message ended */
};

struct hz_http_event {
	enum hz_http_event_type type;
	const struct hz_http_head *head;
	const char *name, *value; /* FIELD, TRAILER: NUL-terminated */
	size_t name_len, value_len;
	const uint8_t *data; /* BODY: points into the caller's input */
	size_t len;
};

/* Why a parser refused a message, for counting. */
enum hz_http_error_kind {
	HZ_HTTP_ERR_NONE,
	HZ_HTTP_ERR_SYNTAX,    /* 400: malformed */
	HZ_HTTP_ERR_FRAMING,   /* 400: ambiguous body length (smuggling) */
	HZ_HTTP_ERR_LINE,      /* 414: start line too long */
	HZ_HTTP_ERR_HEADER,    /* 431: header section too large */
	HZ_HTTP_ERR_BODY,      /* 413: body too large */
	HZ_HTTP_ERR_VERSION,   /* 505: not HTTP/1.x */
	HZ_HTTP_ERR_EXPECT,    /* 417: an expectation other than 100 */
	HZ_HTTP_ERR_TRUNCATED, /* 400: the stream ended inside a message */
};

/* A parser; the caller owns it and its buffers. Fields are private. */
struct hz_http_parser {
	struct hz_http_head head; /* the current message, to read */
	struct hz_http_limits lim;
	bool response;
	bool head_request; /* response parser: answers a HEAD request */
	char *buf;
	struct hz_http_field *fields;
	int state;
	size_t len;	     /* bytes in buf */
	size_t line;	     /* where the line being gathered starts */
	size_t fields_start; /* where field lines start in buf */
	unsigned empty_lines;
	bool started; /* a byte of this message was seen */
	uint64_t remaining;
	uint64_t body_total;
	size_t chunk_line;
	bool chunk_digits;
	/* framing evidence, gathered field by field */
	unsigned hosts;
	bool cl_seen, te_seen, te_chunked_last, conn_close, conn_keep_alive;
	uint64_t cl;
	/* the sticky failure */
	int err;
	int err_status;
	enum hz_http_error_kind err_kind;
	const char *why;
};

/*
 * Prepares @p to parse requests or responses (@role) within @lim (copied,
 * zero fields filled with defaults). @buf holds at least
 * hz_http_parser_buf_size(lim) bytes and @fields lim->max_fields entries
 * (after filling); both must outlive the parser.
 */
void hz_http_parser_init(struct hz_http_parser *p, enum hz_http_role role,
			 const struct hz_http_limits *lim, void *buf,
			 size_t buf_size, struct hz_http_field *fields,
			 size_t nfields);

/* Response parser: whether the next response answers a HEAD request. */
static inline void hz_http_parser_set_head_request(struct hz_http_parser *p,
						   bool head)
{
	p->head_request = head;
}

/*
 * Parses from @in[0..@len): uses *@used bytes and fills @ev with one
 * event, whose type it returns; HZ_HTTP_EV_MORE means all of @in was
 * used and more is needed. Call again with the rest until MORE: events
 * may be pending with no input left (DONE after a body's last byte).
 * After DONE the next call starts the next message (pipelining): the
 * previous head is then gone. A negative code refuses the message, for
 * good: hz_http_parser_status and hz_http_parser_error say why.
 */
HZ_MUST_CHECK
int hz_http_parse(struct hz_http_parser *p, const void *in, size_t len,
		  size_t *used, struct hz_http_event *ev);

/*
 * Tells the parser the stream ended. HZ_HTTP_EV_DONE if that ends a
 * close-delimited body, HZ_HTTP_EV_MORE if no message was under way, or
 * a negative code for a message cut short.
 */
HZ_MUST_CHECK
int hz_http_parse_eof(struct hz_http_parser *p, struct hz_http_event *ev);

/* Returns whether no byte of a message has arrived since the last one. */
bool hz_http_parser_idle(const struct hz_http_parser *p);

/* Returns the status to answer the parser's failure with (0 if none). */
static inline int hz_http_parser_status(const struct hz_http_parser *p)
{
	return p->err_status;
}

/* Returns the fixed message of the parser's failure ("" if none). */
static inline const char *hz_http_parser_error(const struct hz_http_parser *p)
{
	return p->why != NULL ? p->why : "";
}

/* --- serialisation -------------------------------------------------------- */

/* A field to send. */
struct hz_http_header {
	const char *name;
	const char *value;
};

/* What hz_http_write_response_head writes. */
struct hz_http_response_head {
	int status;	    /* 100..999 */
	const char *reason; /* NULL: the standard phrase */
	const struct hz_http_header *headers;
	size_t nheaders;
	enum hz_http_framing framing; /* LENGTH: Content-Length; CHUNKED */
	uint64_t content_length;
	uint64_t date;	 /* Date, in seconds since the epoch; 0: none */
	bool close;	 /* Connection: close */
	bool keep_alive; /* Connection: keep-alive (HTTP/1.0 peers) */
};

/* What hz_http_write_request_head writes. */
struct hz_http_request_head {
	const char *method;
	const char *target;
	const char *host; /* the Host field's value */
	const struct hz_http_header *headers;
	size_t nheaders;
	enum hz_http_framing framing; /* LENGTH or CHUNKED for a body */
	uint64_t content_length;
	bool close; /* Connection: close */
};

/*
 * Writes a response head (status line, fields, framing, the empty line)
 * into @buf. Its length, or -HZ_ENOSPC (@cap too small), or -HZ_EINVAL
 * (a name not a token, a value with CR, LF or NUL).
 */
HZ_MUST_CHECK
ssize_t hz_http_write_response_head(void *buf, size_t cap,
				    const struct hz_http_response_head *h);

/* Writes a request head into @buf. Its length, -HZ_ENOSPC, -HZ_EINVAL. */
HZ_MUST_CHECK
ssize_t hz_http_write_request_head(void *buf, size_t cap,
				   const struct hz_http_request_head *h);

/* Room for a chunk's size line: 16 hex digits and CRLF. */
#define HZ_HTTP_CHUNK_HEAD_MAX 18u
/* What ends a chunk's data. */
#define HZ_HTTP_CHUNK_TAIL "\r\n"
/* The last chunk with no trailer. */
#define HZ_HTTP_LAST_CHUNK "0\r\n\r\n"

/* Writes the size line of a chunk of @len (> 0) bytes; its length. */
size_t hz_http_chunk_head(char buf[HZ_HTTP_CHUNK_HEAD_MAX], uint64_t len);

/* Length of an HTTP date: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define HZ_HTTP_DATE_LEN 29u

/* Writes @unix_seconds as an IMF-fixdate and a NUL into @buf. */
void hz_http_date(char buf[HZ_HTTP_DATE_LEN + 1], uint64_t unix_seconds);

/*
 * Parses an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime
 * forms, as RFC 9110 section 5.6.7 asks) into seconds since the epoch.
 * 0, or -HZ_EINVAL.
 */
HZ_MUST_CHECK
int hz_http_date_parse(const char *s, uint64_t *unix_seconds);

/* Returns the standard reason phrase of @status ("Not Found"), or "". */
const char *hz_http_reason(int status);

/* --- request paths as file names ----------------------------------------- */

/*
 * The name of the file a request path asks a static site for: @path
 * ("/docs/my%20file.txt?q=1") with its query and fragment cut, escapes
 * decoded, and empty and "." segments dropped, into @name (@cap bytes):
 * "docs/my file.txt". A path ending in '/' (or "/" itself) names @index
 * in that directory ("docs/index.html"), and sets *@dir. The name always
 * leaves room for "/" @index after it, so a caller may look for a
 * directory named without its '/'. -HZ_EINVAL for a path no file can
 * have: no leading '/', a ".." segment (escaped or not), an escaped '/',
 * a backslash, a control byte or DEL, a bad escape; -HZ_ENOSPC for a
 * name too long for @cap.
 */
HZ_MUST_CHECK
int hz_http_path_name(const char *path, const char *index, char *name,
		      size_t cap, bool *dir);

/*
 * The Location that sends a directory named without its '/' to its path
 * with one: "/" @name "/" percent-encoded (all but letters, digits and
 * "-._~/"), then @query ("?..." or "", left out when it does not fit),
 * into @out (@cap bytes). 0, or -HZ_ENOSPC.
 */
HZ_MUST_CHECK
int hz_http_dir_location(const char *name, const char *query, char *out,
			 size_t cap);

/* --- the server ----------------------------------------------------------- */

struct hz_http_conn;

/*
 * A request as its handler sees it: valid until the handler returns.
 * The handler may clear keep_alive to close the connection after its
 * response.
 */
struct hz_http_request {
	const struct hz_http_head *head;
	enum hz_http_method method;
	const char *method_name;
	const char *target;
	const char *path; /* the origin-form part of target */
	int version;	  /* minor: 0 or 1 */
	bool keep_alive;
	uint64_t start_ns; /* monotonic time of its first byte */
	struct hz_http_conn *conn;
};

/* Handles one request: responds with one of hz_http_respond* or stream. */
typedef void (*hz_http_handler_fn)(struct hz_http_request *req, void *arg);

/* One exchange, as an access log sees it. */
struct hz_http_access {
	const struct hz_http_head *head; /* NULL if no request line came */
	const char *method;		 /* "-" if none */
	const char *target;		 /* "-" if none */
	int version;
	int status;	     /* final status sent, 0 if none */
	uint64_t start_ns;   /* monotonic: the request's first byte read */
	uint64_t end_ns;     /* monotonic: the response's last byte sent */
	uint64_t start_wall; /* wall clock at start_ns, ns since the epoch */
	uint64_t bytes_sent; /* response bytes, head included */
	uint64_t body_sent;  /* response body bytes */
	uint64_t body_received;
	bool keep_alive; /* the connection stays open after it */
};

/* A server's configuration; a zero field means its default. */
struct hz_http_server_config {
	hz_http_handler_fn handler;
	void *arg;
	/* Called after every response (or refusal), for access logs. */
	void (*access)(const struct hz_http_access *a, void *arg);
	void *access_arg;
	struct hz_http_limits limits;
	unsigned max_conns;	    /* connections at once: 1024 */
	uint64_t header_timeout_ns; /* first byte to end of head: 10 s */
	uint64_t idle_timeout_ns;   /* keep-alive wait for a request: 30 s */
	uint64_t io_timeout_ns;	    /* any body read or write: 30 s */
	/* A request body gets io_timeout, then 1 s more per this many
	 * bytes received (bytes/s): 1024. */
	uint32_t body_min_rate;
	size_t fiber_stack; /* per connection: 64 KiB */
};

#define HZ_HTTP_MAX_CONNS_DEFAULT 1024u
#define HZ_HTTP_HEADER_TIMEOUT_DEFAULT (10ull * 1000000000ull)
#define HZ_HTTP_IDLE_TIMEOUT_DEFAULT (30ull * 1000000000ull)
#define HZ_HTTP_IO_TIMEOUT_DEFAULT (30ull * 1000000000ull)
#define HZ_HTTP_FIBER_STACK_DEFAULT (64u * 1024)
#define HZ_HTTP_BODY_MIN_RATE_DEFAULT 1024u

/* A server, owned by the caller. Fields are private. */
struct hz_http_server {
	struct hz_http_server_config cfg;
	unsigned conns;	  /* connections being served */
	unsigned closing; /* of them, closed under their fibers */
	unsigned runners; /* accept loops running */
	bool stopping;
	bool paused; /* an accept loop waits for a free slot */
	struct hz_http_conn *all;
	struct hz_http_conn *idle_head, *idle_tail; /* oldest first */
	struct hz_waitq changed; /* a connection or accept loop ended */
	/* Servers with an accept loop running share the heap: when it is
	 * short, any of them may give up an idle connection for another. */
	struct hz_http_server *running_next;
};

/* Prepares @s to serve as @cfg says (copied; handler required). */
void hz_http_server_init(struct hz_http_server *s,
			 const struct hz_http_server_config *cfg);

/*
 * Takes the next connection: 0 and *out, or a negative code; -HZ_ENOMEM
 * when the heap could not hold what the connection needed (a TLS flow,
 * say): the server then makes room before it accepts again.
 */
typedef int (*hz_http_accept_fn)(void *ctx, uint64_t deadline,
				 struct hz_flow **out);

/*
 * Accepts connections from @accept(@ctx, ...) in the calling fiber and
 * serves each in a fiber of its own, until hz_http_server_stop. At the
 * connection limit it stops accepting (connections wait in the
 * listener's backlog) after closing the longest-idle keep-alive
 * connection, if any, to make room. When the heap, not the limit, is
 * short (a connection or its accept needs memory there is not), it makes
 * room the same way, or closes a connection that has said nothing for a
 * second, and waits, rather than drop the new one. 0 once stopped, or
 * the accept function's code if it fails for good (-HZ_ECLOSED,
 * -HZ_EINVAL).
 */
HZ_MUST_CHECK
int hz_http_server_run(struct hz_http_server *s, hz_http_accept_fn accept,
		       void *ctx);

/* hz_http_server_run over a STACK listener (TCP_NODELAY set on each). */
HZ_MUST_CHECK
int hz_http_server_run_stack(struct hz_http_server *s, struct hz_stack *stack,
			     struct hz_listener *l);

/* hz_http_server_run over a conduit listener (tcp: or tls:). */
HZ_MUST_CHECK
int hz_http_server_run_conduit(struct hz_http_server *s,
			       struct hz_conduit_listener *l);

/*
 * Serves @flow (owned from now, also on failure) in a fiber of its own.
 * 0, or -HZ_EAGAIN (stopping, or at the connection limit) or -HZ_ENOMEM,
 * the flow then freed.
 */
HZ_MUST_CHECK
int hz_http_server_serve(struct hz_http_server *s, struct hz_flow *flow);

/*
 * Stops gracefully: accept loops return, idle connections close at
 * once, and requests in flight finish (answered with Connection: close)
 * before their connections close. At @deadline the connections left are
 * closed under their handlers. Returns once every connection fiber and
 * accept loop has ended: 0, or -HZ_ETIMEDOUT if some had to be cut.
 * Call it from a fiber of its own, not an accept loop or a handler.
 */
HZ_MUST_CHECK
int hz_http_server_stop(struct hz_http_server *s, uint64_t deadline);

/* Returns how many connections are being served. */
static inline unsigned
hz_http_server_connections(const struct hz_http_server *s)
{
	return s->conns;
}

/* Returns the value of the request's first field named @name, or NULL. */
static inline const char *
hz_http_request_header(const struct hz_http_request *r, const char *name)
{
	return hz_http_head_get(r->head, name);
}

/*
 * Reads up to @cap (> 0) bytes of the request body into @buf (answering
 * 100-continue first if asked and no response has begun). The count, 0
 * at its end, or a negative code: the body was refused (the status
 * answered for it, 400 or 413, is already sent) or the connection
 * failed or timed out; the connection then closes.
 */
HZ_MUST_CHECK
ssize_t hz_http_request_read(struct hz_http_request *r, void *buf, size_t cap);

/*
 * Responds with @status, the fields @h[0..n) and the body @body[0..len),
 * sent from where it lies, without a copy (none for HEAD, 1xx, 204,
 * 304; the Content-Length still says @len for HEAD). Date, framing and
 * Connection are the server's to write: naming them in @h is an error.
 * 0, or a negative code (-HZ_EINVAL: a bad field; the connection's).
 */
HZ_MUST_CHECK
int hz_http_respond(struct hz_http_request *r, int status,
		    const struct hz_http_header *h, size_t n, const void *body,
		    size_t len);

/* Responds with @status and a short text body naming it. 0 or error. */
HZ_MUST_CHECK
int hz_http_respond_status(struct hz_http_request *r, int status);

/* Responds 405 Method Not Allowed with Allow: @allow ("GET, HEAD"). */
HZ_MUST_CHECK
int hz_http_respond_405(struct hz_http_request *r, const char *allow);

/* Length of a streamed body not known in advance. */
#define HZ_HTTP_LENGTH_UNKNOWN (-1)

/*
 * Begins a streamed response: @length bytes, or HZ_HTTP_LENGTH_UNKNOWN
 * (chunked to HTTP/1.1 clients, ended by closing for HTTP/1.0 ones).
 * 0 or a negative code.
 */
HZ_MUST_CHECK
int hz_http_stream_begin(struct hz_http_request *r, int status,
			 const struct hz_http_header *h, size_t n,
			 int64_t length);

/* Sends @len more body bytes (without a copy). 0 or a negative code. */
HZ_MUST_CHECK
int hz_http_stream_write(struct hz_http_request *r, const void *buf,
			 size_t len);

/* Ends a streamed response. 0, or -HZ_EINVAL if bytes were missing. */
HZ_MUST_CHECK
int hz_http_stream_end(struct hz_http_request *r);

/* --- the client ----------------------------------------------------------- */

/* A URL, parsed: http[s]://HOST[:PORT][/PATH]. */
struct hz_http_url {
	bool tls;
	char host[HZ_DNS_TEXT_MAX];
	uint16_t port;
	const char *path; /* inside the URL string, or "/" */
};

/*
 * Parses @url. 0, or -HZ_EINVAL with a fixed reason in *why ("not
 * http: or https:", "bad port", ...).
 */
HZ_MUST_CHECK
int hz_http_url_parse(const char *url, struct hz_http_url *out,
		      const char **why);

#define HZ_HTTP_CLIENT_HEAD_MAX 8192u
#define HZ_HTTP_CLIENT_FIELDS 64u

/* One connection of the client, owned by the caller. Fields private. */
struct hz_http_client {
	struct hz_flow *flow;
	struct hz_http_parser parser;
	char host[HZ_DNS_TEXT_MAX + 8]; /* the Host field */
	struct hz_view in;
	size_t in_off;
	bool eof;
	struct hz_errmsg err;
	struct hz_http_field fields[HZ_HTTP_CLIENT_FIELDS];
	char buf[HZ_HTTP_CLIENT_HEAD_MAX];
};

/* A response the client read. */
struct hz_http_client_response {
	void *body;	     /* in: where body bytes go (may be NULL) */
	size_t body_cap;     /* in: room there */
	size_t body_len;     /* bytes stored */
	uint64_t body_total; /* bytes of body, stored or not */
	int status;
	const struct hz_http_head *head; /* until the next receive */
	bool keep_alive;
};

/*
 * Connects to the host of @url (http: through a tcp: endpoint, https:
 * through tls:, certificate checked) within @deadline. 0 or a negative
 * code with the message in hz_http_client_error.
 */
HZ_MUST_CHECK
int hz_http_client_open(struct hz_http_client *c, struct hz_conduit *conduit,
			const char *url, uint64_t deadline);

/* Makes @c a client on @flow (owned from now), sending Host: @host. */
void hz_http_client_attach(struct hz_http_client *c, struct hz_flow *flow,
			   const char *host);

/*
 * Sends a request: @method @target with the fields @h[0..n) and the body
 * @body[0..len) (with Content-Length when a body is given, or @method is
 * POST or PUT). 0 or a negative code.
 */
HZ_MUST_CHECK
int hz_http_client_send(struct hz_http_client *c, const char *method,
			const char *target, const struct hz_http_header *h,
			size_t n, const void *body, size_t len,
			uint64_t deadline);

/*
 * Reads the next final response (skipping 1xx) into @res; @head_request
 * says it answers HEAD. Bodies by Content-Length, chunked or closing.
 * 0 or a negative code with the message in hz_http_client_error.
 */
HZ_MUST_CHECK
int hz_http_client_recv(struct hz_http_client *c, bool head_request,
			struct hz_http_client_response *res, uint64_t deadline);

/* Closes and frees the client's connection. */
void hz_http_client_close(struct hz_http_client *c);

/* Returns the message of the client's last failure. */
const char *hz_http_client_error(const struct hz_http_client *c);

#endif
