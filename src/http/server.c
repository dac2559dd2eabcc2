/*
 * The HTTP/1.1 server (haze/http.h): one fiber per connection over any
 * FLOW, the parser of parse.c fed from the flow's reads, and responses
 * written with one writev of the head and the caller's body bytes.
 *
 * A connection's fiber loops over exchanges: wait for a request's first
 * byte (idle), read its head against the header deadline, call the
 * handler, which streams the body on demand and responds, then drain
 * what is left of the body so the next pipelined request parses. Bytes
 * of the next request that came with this one stay in the connection's
 * view, so pipelined requests are answered in order by construction.
 *
 * Closing after a response is a lingering close (RFC 9112 section 9.6):
 * shut our side, then read and discard a little, so that a client still
 * sending does not get a reset that would destroy the response before it
 * reads it. The server's counters are "http.*" (docs/http.md).
 */
#include <stdio.h>
#include <string.h>

#include "haze/assert.h"
#include "haze/http.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "http/http_int.h"

/* How often an accept loop looks at the stop flag. */
#define ACCEPT_POLL (100 * HZ_NS_PER_MS)
/* A connection silent this long may make room when memory is short. */
#define SILENT_RECLAIM HZ_NS_PER_S
/* Short of memory, after the idle: a request head still coming this
 * long after its first byte, or a response going out for SLOW_RECLAIM
 * at under SLOW_RATE bytes a second, may be aborted (laggard). */
#define HEAD_RECLAIM (2 * HZ_NS_PER_S)
#define SLOW_RECLAIM (5 * HZ_NS_PER_S)
#define SLOW_RATE (64u * 1024)
/* Pause after a failed accept (no memory, no descriptors). */
#define ACCEPT_ERROR_PAUSE (10 * HZ_NS_PER_MS)
/* Room for a response head: status line, fields, framing. */
#define OUT_HEAD_MAX 2048
/* Unread request body discarded to keep a connection; closed beyond. */
#define DRAIN_MAX (256u * 1024)
/* How long and how much a closing connection reads and discards. */
#define LINGER_TIME (2 * HZ_NS_PER_S)
#define LINGER_BYTES (64u * 1024)

HZ_LOG_SOURCE(http_log, "http");

static HZ_COUNTER(c_requests, "http", "requests");
static HZ_COUNTER(c_status1, "http", "status_1xx");
static HZ_COUNTER(c_status2, "http", "status_2xx");
static HZ_COUNTER(c_status3, "http", "status_3xx");
static HZ_COUNTER(c_status4, "http", "status_4xx");
static HZ_COUNTER(c_status5, "http", "status_5xx");
static HZ_COUNTER(c_bytes_sent, "http", "bytes_sent");
static HZ_COUNTER(c_body_received, "http", "body_bytes_received");
static HZ_COUNTER(c_accepted, "http", "conn_accepted");
static HZ_COUNTER(c_refused, "http", "conn_refused");
static HZ_COUNTER(c_no_memory, "http", "conn_no_memory");
static HZ_COUNTER(c_limit_waits, "http", "conn_limit_waits");
static HZ_COUNTER(c_reclaimed, "http", "conn_reclaimed_idle");
static HZ_COUNTER(c_memory_waits, "http", "conn_memory_waits");
static HZ_COUNTER(c_idle_timeout, "http", "conn_idle_timeout");
static HZ_COUNTER(c_header_timeout, "http", "conn_header_timeout");
static HZ_COUNTER(c_io_timeout, "http", "conn_io_timeout");
static HZ_COUNTER(c_reclaimed_slow, "http", "conn_reclaimed_slow");
static HZ_COUNTER(c_peer_error, "http", "conn_peer_error");
static HZ_COUNTER(c_truncated, "http", "conn_closed_mid_request");
static HZ_COUNTER(c_stopped, "http", "conn_closed_by_stop");
static HZ_COUNTER(c_aborted, "http", "conn_aborted_by_stop");
static HZ_COUNTER(c_accept_errors, "http", "accept_errors");
static HZ_COUNTER(c_err_syntax, "http", "err_bad_request");
static HZ_COUNTER(c_err_framing, "http", "err_smuggling");
static HZ_COUNTER(c_err_line, "http", "err_line_too_long");
static HZ_COUNTER(c_err_header, "http", "err_header_too_large");
static HZ_COUNTER(c_err_body, "http", "err_body_too_large");
static HZ_COUNTER(c_err_version, "http", "err_version");
static HZ_COUNTER(c_err_expect, "http", "err_expectation");
static HZ_COUNTER(c_no_response, "http", "handler_no_response");
static HZ_COUNTER(c_unfinished, "http", "handler_unfinished");

struct hz_http_conn {
	struct hz_http_server *srv;
	struct hz_flow *flow;
	struct hz_http_conn *next, *prev;	    /* srv->all */
	struct hz_http_conn *idle_next, *idle_prev; /* srv idle list */
	uint64_t idle_since; /* monotonic: when it joined the idle list */
	bool idle;	     /* waiting for a request's first byte */
	bool in_head;	     /* reading a request's head, since head_since */
	/* Monotonic: when the server turned to the head being read (its
	 * first bytes may have come earlier, with the request before). */
	uint64_t head_since;
	bool served;	  /* answered a request: may be reclaimed when idle */
	bool interrupted; /* its flow was closed under it (stop, reclaim) */
	unsigned closers; /* fibers inside that close */
	struct hz_waitq closed; /* woken when they leave it */
	bool eof;		/* the peer ended its side */
	bool linger;		/* a response was sent: close by lingering */
	/* received bytes, parsed up to in_off */
	struct hz_view in;
	size_t in_off;
	uint64_t in_time; /* when @in was read */
	const uint8_t *body_ptr;
	size_t body_left; /* body bytes parsed, not yet given */
	bool body_done;
	/* Monotonic: when the body must have come by, at the server's
	 * minimum rate (0 until the body is first read). */
	uint64_t body_deadline;
	struct hz_http_parser parser;
	struct hz_http_request req;
	/* the exchange */
	int fail; /* sticky failure: the connection closes */
	int status;
	bool responded, ended, continue_sent, no_body, close_after;
	bool force_close;
	enum hz_http_framing out_framing;
	uint64_t out_left;
	uint64_t bytes_sent, body_sent, body_received;
	uint64_t start_ns, start_wall, end_ns;
	char *buf;
	char out[OUT_HEAD_MAX];
	struct hz_http_field fields[];
};

static struct hz_counter *status_counter(int status)
{
	static struct hz_counter *const by_class[] = {
	    &c_status1, &c_status2, &c_status3, &c_status4, &c_status5};
	int k = status / 100 - 1;

	return by_class[k < 0 ? 0 : k > 4 ? 4 : k];
}

/* --- lists ---------------------------------------------------------------- */

/* Connections that count against the limit: not those being closed. */
static unsigned load(const struct hz_http_server *s)
{
	return s->conns - s->closing;
}

static void idle_enter(struct hz_http_conn *c)
{
	struct hz_http_server *s = c->srv;

	c->idle = true;
	c->idle_since = hz_now();
	c->idle_next = NULL;
	c->idle_prev = s->idle_tail;
	if (s->idle_tail != NULL)
		s->idle_tail->idle_next = c;
	else
		s->idle_head = c;
	s->idle_tail = c;
}

static void idle_leave(struct hz_http_conn *c)
{
	struct hz_http_server *s = c->srv;

	if (!c->idle)
		return;
	c->idle = false;
	if (c->idle_prev != NULL)
		c->idle_prev->idle_next = c->idle_next;
	else
		s->idle_head = c->idle_next;
	if (c->idle_next != NULL)
		c->idle_next->idle_prev = c->idle_prev;
	else
		s->idle_tail = c->idle_prev;
}

/* Closes @c's flow under its fiber, which wakes and ends. */
static void conn_end(struct hz_http_conn *c, bool abort)
{
	if (c->interrupted)
		return;
	c->interrupted = true;
	c->srv->closing++;
	/* Closing may wait (a TLS close_notify): the fiber must not free
	 * the flow, or itself, meanwhile. */
	c->closers++;
	if (abort)
		hz_flow_abort(c->flow);
	else
		hz_flow_close(c->flow);
	c->closers--;
	hz_waitq_wake_all(&c->closed);
}

/* Closes @c's flow under its fiber, which then ends. */
static void conn_interrupt(struct hz_http_conn *c)
{
	conn_end(c, false);
}

/* Interrupts the first connection of @list (idle or all) not yet
 * interrupted; whether there was one. Looked up afresh each time, since
 * closing may let fibers run and the lists change. */
static bool interrupt_next(struct hz_http_server *s, bool idle_only,
			   struct hz_counter *count)
{
	struct hz_http_conn *c = idle_only ? s->idle_head : s->all;

	while (c != NULL && c->interrupted)
		c = idle_only ? c->idle_next : c->next;
	if (c == NULL)
		return false;
	hz_counter_inc(count);
	conn_interrupt(c);
	return true;
}

/* --- input ---------------------------------------------------------------- */

static const uint8_t *in_data(const struct hz_http_conn *c)
{
	return c->in.pb != NULL ? hz_view_data(&c->in) + c->in_off : NULL;
}

static size_t in_left(const struct hz_http_conn *c)
{
	return c->in.len - c->in_off;
}

/* Replaces the used-up view with the flow's next; as hz_flow_read. */
static int read_more(struct hz_http_conn *c, uint64_t deadline)
{
	int r;

	hz_view_release(&c->in);
	c->in_off = 0;
	r = hz_flow_read(c->flow, &c->in, deadline);
	if (r > 0)
		c->in_time = hz_now();
	else if (r == 0)
		c->eof = true;
	return r;
}

/* Parses the next event from the bytes at hand. */
static int parse(struct hz_http_conn *c, struct hz_http_event *ev)
{
	size_t used;
	int r = hz_http_parse(&c->parser, in_data(c), in_left(c), &used, ev);

	c->in_off += used;
	return r;
}

/* Fails the exchange for a flow's failure @code, counting it. */
static int flow_fail(struct hz_http_conn *c, int code)
{
	if (c->fail != 0)
		return c->fail;
	c->fail = code;
	if (code == -HZ_ETIMEDOUT)
		hz_counter_inc(&c_io_timeout);
	else if (!c->interrupted)
		hz_counter_inc(&c_peer_error);
	return code;
}

/* Fails the exchange for another reason (counted by the caller). */
static int conn_fail(struct hz_http_conn *c, int code)
{
	if (c->fail == 0)
		c->fail = code;
	return c->fail;
}

static void count_refusal(enum hz_http_error_kind kind)
{
	static struct hz_counter *const by_kind[] = {
	    [HZ_HTTP_ERR_SYNTAX] = &c_err_syntax,
	    [HZ_HTTP_ERR_FRAMING] = &c_err_framing,
	    [HZ_HTTP_ERR_LINE] = &c_err_line,
	    [HZ_HTTP_ERR_HEADER] = &c_err_header,
	    [HZ_HTTP_ERR_BODY] = &c_err_body,
	    [HZ_HTTP_ERR_VERSION] = &c_err_version,
	    [HZ_HTTP_ERR_EXPECT] = &c_err_expect,
	    [HZ_HTTP_ERR_TRUNCATED] = &c_truncated,
	};

	if (kind > HZ_HTTP_ERR_NONE && kind <= HZ_HTTP_ERR_TRUNCATED)
		hz_counter_inc(by_kind[kind]);
}

/* --- output --------------------------------------------------------------- */

/* Sends all of @iov[0..n) (n <= 4), giving each write io_timeout. */
static int send_all(struct hz_http_conn *c, const struct hz_iov *iov_in,
		    size_t n)
{
	struct hz_iov iov[4];
	size_t first = 0;

	HZ_ASSERT(n <= 4);
	memcpy(iov, iov_in, n * sizeof(*iov));
	for (;;) {
		ssize_t w;
		size_t k;

		while (first < n && iov[first].len == 0)
			first++;
		if (first == n)
			return 0;
		w = hz_flow_writev(c->flow, iov + first, n - first,
				   hz_now() + c->srv->cfg.io_timeout_ns);
		if (w < 0)
			return flow_fail(c, (int)w);
		c->bytes_sent += (uint64_t)w;
		hz_counter_add(&c_bytes_sent, (uint64_t)w);
		for (k = (size_t)w; k > 0 && first < n;) {
			size_t t = k < iov[first].len ? k : iov[first].len;

			iov[first].base = (const uint8_t *)iov[first].base + t;
			iov[first].len -= t;
			k -= t;
			if (iov[first].len == 0)
				first++;
		}
	}
}

static bool no_body_status(int status)
{
	return status < 200 || status == 204 || status == 304;
}

/* Whether @h names a field the server writes itself. */
static bool reserved_field(const struct hz_http_header *h, size_t n)
{
	static const char *const names[] = {"content-length", "date",
					    "transfer-encoding", "connection"};

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (hz_http_name_eq(h[i].name, names[k]))
				return true;
	return false;
}

/*
 * Writes the response head of @status with @h and @framing (@length
 * bytes), followed by @body unless the response has none. Decides
 * whether the connection closes after it.
 */
static int send_response(struct hz_http_conn *c, int status,
			 const struct hz_http_header *h, size_t n,
			 enum hz_http_framing framing, uint64_t length,
			 const struct hz_iov *body)
{
	const struct hz_http_head *req = &c->parser.head;
	struct hz_http_server *s = c->srv;
	struct hz_http_response_head rh = {
	    .status = status,
	    .headers = h,
	    .nheaders = n,
	    .content_length = length,
	    .date = hz_platform_clock_wall() / HZ_NS_PER_S,
	};
	struct hz_iov iov[2];
	ssize_t len;
	int r;

	if (c->fail != 0)
		return c->fail;
	HZ_ASSERT(!c->responded);
	if (reserved_field(h, n))
		return -HZ_EINVAL;
	/* HTTP/1.0 knows no chunks: the end of the body is the close. */
	if (framing == HZ_HTTP_BODY_CHUNKED && req->version == 0)
		framing = HZ_HTTP_BODY_CLOSE;
	if (no_body_status(status))
		framing = HZ_HTTP_BODY_NONE;
	c->no_body = no_body_status(status) || req->method == HZ_HTTP_HEAD;
	c->close_after = c->force_close || !c->req.keep_alive || s->stopping ||
			 framing == HZ_HTTP_BODY_CLOSE ||
			 (req->expect_continue && !c->continue_sent &&
			  !c->body_done && req->framing != HZ_HTTP_BODY_NONE);
	rh.framing = framing;
	rh.close = c->close_after;
	rh.keep_alive = !c->close_after && req->version == 0;
	len = hz_http_write_response_head(c->out, sizeof(c->out), &rh);
	if (len < 0)
		return (int)len;
	c->responded = true;
	c->status = status;
	c->out_framing = framing;
	c->out_left = length;
	hz_counter_inc(status_counter(status));
	iov[0] = (struct hz_iov){c->out, (size_t)len};
	iov[1] = body != NULL && !c->no_body ? *body : (struct hz_iov){0};
	r = send_all(c, iov, 2);
	if (r == 0 && body != NULL && !c->no_body)
		c->body_sent += body->len;
	return r;
}

static void end_response(struct hz_http_conn *c)
{
	c->ended = true;
	c->end_ns = hz_now();
}

/*
 * Answers a request the server refuses (or times out) with @status and a
 * text body saying @why, and closes after it. Nothing if a response has
 * begun: the connection just closes.
 */
static void refuse(struct hz_http_conn *c, int status, const char *why)
{
	static const struct hz_http_header text = {"Content-Type",
						   "text/plain; charset=utf-8"};
	char body[160];
	struct hz_iov iov;
	int n;

	c->force_close = true;
	if (c->responded || c->fail != 0)
		return;
	n = snprintf(body, sizeof(body), "%d %s: %s\n", status,
		     hz_http_reason(status), why);
	iov = (struct hz_iov){body, n > 0 && (size_t)n < sizeof(body)
					? (size_t)n
					: sizeof(body) - 1};
	c->linger = true;
	if (send_response(c, status, &text, 1, HZ_HTTP_BODY_LENGTH, iov.len,
			  &iov) == 0)
		end_response(c);
}

/* --- the request body ----------------------------------------------------- */

/*
 * When the next read of the body must end: io_timeout from now, but no
 * later than the body's own deadline, which starts io_timeout after the
 * body is first read and moves on by 1 s per body_min_rate bytes that
 * come. A body sent a byte at a time (each within io_timeout) would hold
 * its connection for ever without it.
 */
static uint64_t body_read_deadline(struct hz_http_conn *c)
{
	uint64_t io = hz_now() + c->srv->cfg.io_timeout_ns;

	return io < c->body_deadline ? io : c->body_deadline;
}

/*
 * Gives the next piece of body (at most @max bytes) in place: its length
 * and *@p, 0 at the end of the body, or a negative code (the connection
 * is then failed, and a refusal sent if no response began).
 */
static ssize_t body_next(struct hz_http_conn *c, const uint8_t **p, size_t max)
{
	if (c->body_deadline == 0)
		c->body_deadline = hz_now() + c->srv->cfg.io_timeout_ns;
	for (;;) {
		struct hz_http_event ev;
		int r;

		if (c->body_left > 0) {
			size_t n = c->body_left < max ? c->body_left : max;

			*p = c->body_ptr;
			c->body_ptr += n;
			c->body_left -= n;
			c->body_received += n;
			hz_counter_add(&c_body_received, n);
			c->body_deadline += (uint64_t)n * HZ_NS_PER_S /
					    c->srv->cfg.body_min_rate;
			return (ssize_t)n;
		}
		if (c->body_done)
			return 0;
		r = parse(c, &ev);
		if (r == HZ_HTTP_EV_BODY) {
			c->body_ptr = ev.data;
			c->body_left = ev.len;
		} else if (r == HZ_HTTP_EV_DONE) {
			c->body_done = true;
		} else if (r < 0) {
			count_refusal(c->parser.err_kind);
			refuse(c, hz_http_parser_status(&c->parser),
			       hz_http_parser_error(&c->parser));
			return conn_fail(c, r);
		} else if (r == HZ_HTTP_EV_MORE) {
			r = read_more(c, body_read_deadline(c));
			if (r == 0) {
				hz_counter_inc(&c_truncated);
				return conn_fail(c, -HZ_ECONNRESET);
			}
			if (r == -HZ_ETIMEDOUT)
				refuse(c, 408,
				       "request body not received in "
				       "time");
			if (r < 0)
				return flow_fail(c, r);
		}
	}
}

ssize_t hz_http_request_read(struct hz_http_request *r, void *buf, size_t cap)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct hz_http_conn *c = r->conn;
	const uint8_t *p;
	ssize_t n;

	HZ_ASSERT(cap > 0);
	if (c->fail != 0)
		return c->fail;
	if (c->body_done)
		return 0;
	if (r->head->expect_continue && !c->continue_sent && !c->responded) {
		struct hz_iov iov = {cont, sizeof(cont) - 1};
		int e;

		c->continue_sent = true;
		e = send_all(c, &iov, 1);
		if (e < 0)
			return e;
	}
	n = body_next(c, &p, cap);
	if (n > 0)
		memcpy(buf, p, (size_t)n);
	return n;
}

/* Discards what is left of the body; whether the connection can stay. */
static bool drain(struct hz_http_conn *c)
{
	uint64_t total = 0;

	while (!c->body_done) {
		const uint8_t *p;
		ssize_t n = body_next(c, &p, DRAIN_MAX);

		if (n < 0)
			return false;
		total += (uint64_t)n;
		if (total > DRAIN_MAX)
			return false;
	}
	return true;
}

/* --- responding ----------------------------------------------------------- */

int hz_http_respond(struct hz_http_request *r, int status,
		    const struct hz_http_header *h, size_t n, const void *body,
		    size_t len)
{
	struct hz_http_conn *c = r->conn;
	struct hz_iov iov = {body, len};
	int e;

	HZ_ASSERT(status >= 200 && status <= 999);
	e = send_response(c, status, h, n, HZ_HTTP_BODY_LENGTH, len, &iov);
	if (e == 0 || c->responded)
		end_response(c);
	return e;
}

int hz_http_respond_status(struct hz_http_request *r, int status)
{
	static const struct hz_http_header text = {"Content-Type",
						   "text/plain; charset=utf-8"};
	char body[80];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 hz_http_reason(status));

	return hz_http_respond(r, status, &text, 1, body,
			       n > 0 && (size_t)n < sizeof(body) ? (size_t)n
								 : 0);
}

int hz_http_respond_405(struct hz_http_request *r, const char *allow)
{
	static const char body[] = "405 Method Not Allowed\n";
	const struct hz_http_header h[] = {
	    {"Allow", allow},
	    {"Content-Type", "text/plain; charset=utf-8"},
	};

	return hz_http_respond(r, 405, h, 2, body, sizeof(body) - 1);
}

int hz_http_stream_begin(struct hz_http_request *r, int status,
			 const struct hz_http_header *h, size_t n,
			 int64_t length)
{
	HZ_ASSERT(status >= 200 && status <= 999);
	return send_response(r->conn, status, h, n,
			     length >= 0 ? HZ_HTTP_BODY_LENGTH
					 : HZ_HTTP_BODY_CHUNKED,
			     length >= 0 ? (uint64_t)length : 0, NULL);
}

int hz_http_stream_write(struct hz_http_request *r, const void *buf, size_t len)
{
	struct hz_http_conn *c = r->conn;
	char chunk[HZ_HTTP_CHUNK_HEAD_MAX];
	struct hz_iov iov[3];
	size_t n = 0;
	int e;

	if (c->fail != 0)
		return c->fail;
	HZ_ASSERT(c->responded && !c->ended);
	if (len == 0 || c->no_body)
		return 0;
	if (c->out_framing == HZ_HTTP_BODY_LENGTH) {
		if (len > c->out_left)
			return -HZ_EINVAL;
		c->out_left -= len;
	}
	if (c->out_framing == HZ_HTTP_BODY_CHUNKED)
		iov[n++] =
		    (struct hz_iov){chunk, hz_http_chunk_head(chunk, len)};
	iov[n++] = (struct hz_iov){buf, len};
	if (c->out_framing == HZ_HTTP_BODY_CHUNKED)
		iov[n++] = (struct hz_iov){HZ_HTTP_CHUNK_TAIL, 2};
	e = send_all(c, iov, n);
	if (e == 0)
		c->body_sent += len;
	return e;
}

int hz_http_stream_end(struct hz_http_request *r)
{
	struct hz_http_conn *c = r->conn;
	struct hz_iov last = {HZ_HTTP_LAST_CHUNK, 5};
	int e = 0;

	if (c->fail != 0)
		return c->fail;
	HZ_ASSERT(c->responded && !c->ended);
	end_response(c);
	if (c->no_body)
		return 0;
	if (c->out_framing == HZ_HTTP_BODY_CHUNKED)
		e = send_all(c, &last, 1);
	else if (c->out_framing == HZ_HTTP_BODY_LENGTH && c->out_left > 0)
		e = conn_fail(c, -HZ_EINVAL); /* the client sees it cut */
	if (e == 0)
		c->end_ns = hz_now();
	return e;
}

/* --- one exchange --------------------------------------------------------- */

/* Waits for a request's first byte until @deadline; 0 or a reason to end. */
static int wait_request(struct hz_http_conn *c, uint64_t deadline)
{
	while (in_left(c) == 0) {
		int r;

		if (c->srv->stopping || c->interrupted)
			return -HZ_ECANCELED;
		idle_enter(c);
		r = read_more(c, deadline);
		idle_leave(c);
		if (r == -HZ_ETIMEDOUT)
			hz_counter_inc(&c_idle_timeout);
		else if (r < 0 && !c->interrupted)
			hz_counter_inc(&c_peer_error);
		if (r <= 0)
			return r < 0 ? r : -HZ_ECLOSED;
	}
	return 0;
}

/* Reads the head of the request under way; 0 once it is whole. */
static int read_head(struct hz_http_conn *c)
{
	/* From its first byte, or from when the server turned to it, if
	 * it came while an earlier request was being answered. */
	uint64_t deadline = hz_now() + c->srv->cfg.header_timeout_ns;

	for (;;) {
		struct hz_http_event ev;
		int r = parse(c, &ev);

		if (r == HZ_HTTP_EV_HEADERS_DONE)
			return 0;
		if (r < 0) {
			count_refusal(c->parser.err_kind);
			refuse(c, hz_http_parser_status(&c->parser),
			       hz_http_parser_error(&c->parser));
			return r;
		}
		if (r != HZ_HTTP_EV_MORE)
			continue;
		r = read_more(c, deadline);
		if (r == 0) {
			hz_counter_inc(&c_truncated);
			return -HZ_ECONNRESET;
		}
		if (r == -HZ_ETIMEDOUT) {
			hz_counter_inc(&c_header_timeout);
			refuse(c, 408, "request header not received in time");
			return r;
		}
		if (r < 0) {
			if (!c->interrupted)
				hz_counter_inc(&c_peer_error);
			return r;
		}
	}
}

static void exchange_reset(struct hz_http_conn *c)
{
	c->fail = 0;
	c->status = 0;
	c->responded = c->ended = c->continue_sent = false;
	c->no_body = c->close_after = c->force_close = false;
	c->body_done = false;
	c->body_left = 0;
	c->body_deadline = 0;
	c->bytes_sent = c->body_sent = c->body_received = 0;
	c->start_ns = c->in_time;
	c->start_wall = hz_platform_clock_wall() - (hz_now() - c->in_time);
	c->end_ns = 0;
	c->req = (struct hz_http_request){.keep_alive = false, .conn = c};
}

static void access_log(struct hz_http_conn *c, bool keep)
{
	const struct hz_http_server_config *cfg = &c->srv->cfg;
	const struct hz_http_head *h = &c->parser.head;
	bool line = h->method_name != NULL;
	struct hz_http_access a = {
	    .head = line ? h : NULL,
	    .method = line ? h->method_name : "-",
	    .target = line ? h->target : "-",
	    .version = h->version,
	    .status = c->status,
	    .start_ns = c->start_ns,
	    .end_ns = c->end_ns != 0 ? c->end_ns : hz_now(),
	    .start_wall = c->start_wall,
	    .bytes_sent = c->bytes_sent,
	    .body_sent = c->body_sent,
	    .body_received = c->body_received,
	    .keep_alive = keep,
	};

	if (cfg->access != NULL)
		cfg->access(&a, cfg->access_arg);
}

/* Serves one request; whether the connection stays for another. */
static bool exchange(struct hz_http_conn *c, uint64_t wait_until)
{
	struct hz_http_server *s = c->srv;
	const struct hz_http_head *h = &c->parser.head;
	bool keep;

	c->linger = false; /* only right after a response */
	if (wait_request(c, wait_until) < 0)
		return false;
	exchange_reset(c);
	c->in_head = true;
	c->head_since = hz_now();
	if (read_head(c) < 0) {
		c->in_head = false;
		access_log(c, false);
		return false;
	}
	c->in_head = false;
	hz_counter_inc(&c_requests);
	c->req = (struct hz_http_request){
	    .head = h,
	    .method = h->method,
	    .method_name = h->method_name,
	    .target = h->target,
	    .path = h->path,
	    .version = h->version,
	    .keep_alive = h->keep_alive && !s->stopping,
	    .start_ns = c->start_ns,
	    .conn = c,
	};
	s->cfg.handler(&c->req, s->cfg.arg);
	if (c->fail == 0 && !c->responded) {
		hz_counter_inc(&c_no_response);
		HZ_WARN(&http_log, "%s %s: the handler did not respond",
			h->method_name, h->target);
		c->force_close = true;
		if (hz_http_respond_status(&c->req, 500) < 0) {
			/* the connection failed; it closes */
		}
	} else if (c->fail == 0 && !c->ended) {
		hz_counter_inc(&c_unfinished);
		(void)conn_fail(c, -HZ_EINVAL);
	}
	if (c->responded)
		c->linger = true;
	/* keep_alive cleared after responding still closes, unannounced. */
	keep = c->fail == 0 && !c->close_after && c->req.keep_alive;
	if (keep && !c->body_done)
		keep = drain(c);
	c->served = true;
	access_log(c, keep);
	return keep;
}

/* Reads and discards for a moment after shutting our side. */
static void linger(struct hz_http_conn *c)
{
	uint64_t deadline = hz_now() + LINGER_TIME, total = 0;

	if (hz_flow_shutdown(c->flow) < 0)
		return;
	while (total < LINGER_BYTES) {
		struct hz_view v;
		int n = hz_flow_read(c->flow, &v, deadline);

		if (n <= 0)
			return;
		total += (uint64_t)n;
		hz_view_release(&v);
	}
}

static void conn_free(struct hz_http_conn *c)
{
	hz_view_release(&c->in);
	if (c->flow != NULL)
		hz_flow_free(c->flow);
	hz_free(c->buf);
	hz_free(c);
}

/* Wakes the accept loops, other than @s's, waiting for memory. */
static void wake_paused(struct hz_http_server *s);

static void conn_fiber(void *arg)
{
	struct hz_http_conn *c = arg;
	struct hz_http_server *s = c->srv;
	uint64_t wait_until = hz_now() + s->cfg.header_timeout_ns;

	while (exchange(c, wait_until))
		wait_until = hz_now() + s->cfg.idle_timeout_ns;
	if (c->linger && !c->interrupted && !c->eof &&
	    (c->fail == 0 || c->fail == -HZ_EPROTO || c->fail == -HZ_EMSGSIZE ||
	     c->fail == -HZ_ENOTSUP))
		linger(c);
	while (c->closers > 0) {
		int r = hz_waitq_wait(&c->closed, HZ_DEADLINE_NEVER);

		(void)r; /* woken: look again */
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->conns--;
	if (c->interrupted)
		s->closing--;
	conn_free(c);
	hz_waitq_wake_all(&s->changed);
	wake_paused(s);
}

/* --- the server ----------------------------------------------------------- */

void hz_http_server_init(struct hz_http_server *s,
			 const struct hz_http_server_config *cfg)
{
	HZ_ASSERT(cfg->handler != NULL);
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	hz_http_limits_fill(&s->cfg.limits);
	if (s->cfg.max_conns == 0)
		s->cfg.max_conns = HZ_HTTP_MAX_CONNS_DEFAULT;
	if (s->cfg.header_timeout_ns == 0)
		s->cfg.header_timeout_ns = HZ_HTTP_HEADER_TIMEOUT_DEFAULT;
	if (s->cfg.idle_timeout_ns == 0)
		s->cfg.idle_timeout_ns = HZ_HTTP_IDLE_TIMEOUT_DEFAULT;
	if (s->cfg.io_timeout_ns == 0)
		s->cfg.io_timeout_ns = HZ_HTTP_IO_TIMEOUT_DEFAULT;
	if (s->cfg.body_min_rate == 0)
		s->cfg.body_min_rate = HZ_HTTP_BODY_MIN_RATE_DEFAULT;
	if (s->cfg.fiber_stack == 0)
		s->cfg.fiber_stack = HZ_HTTP_FIBER_STACK_DEFAULT;
}

/*
 * Serves @flow in a fiber of its own: 0, or -HZ_ENOMEM with @flow still
 * the caller's (the heap could not hold the connection).
 */
static int conn_start(struct hz_http_server *s, struct hz_flow *flow)
{
	size_t nfields = s->cfg.limits.max_fields;
	size_t bufsize = hz_http_parser_buf_size(&s->cfg.limits);
	struct hz_http_conn *c;

	c = hz_calloc(1, sizeof(*c) + nfields * sizeof(c->fields[0]));
	if (c == NULL)
		return -HZ_ENOMEM;
	c->buf = hz_malloc(bufsize);
	if (c->buf == NULL) {
		hz_free(c);
		return -HZ_ENOMEM;
	}
	c->srv = s;
	c->flow = flow;
	hz_http_parser_init(&c->parser, HZ_HTTP_PARSE_REQUEST, &s->cfg.limits,
			    c->buf, bufsize, c->fields, nfields);
	if (hz_fiber_spawn("http", conn_fiber, c, s->cfg.fiber_stack) < 0) {
		c->flow = NULL; /* still the caller's */
		conn_free(c);
		return -HZ_ENOMEM;
	}
	c->next = s->all;
	if (s->all != NULL)
		s->all->prev = c;
	s->all = c;
	s->conns++;
	hz_counter_inc(&c_accepted);
	return 0;
}

int hz_http_server_serve(struct hz_http_server *s, struct hz_flow *flow)
{
	int r;

	if (s->stopping || load(s) >= s->cfg.max_conns) {
		hz_counter_inc(&c_refused);
		hz_flow_free(flow);
		return -HZ_EAGAIN;
	}
	r = conn_start(s, flow);
	if (r < 0) {
		hz_counter_inc(&c_no_memory);
		hz_flow_free(flow);
	}
	return r;
}

/*
 * The longest-idle connection that has served a request, which may be
 * closed to make room at the limit; NULL if none. With @short_of_memory,
 * also one that has said nothing for SILENT_RECLAIM since it came: when
 * the heap is the limit, a silent connection must not keep out one that
 * would speak (a browser's unused preconnection just opens another).
 */
static struct hz_http_conn *reclaimable_when(struct hz_http_server *s,
					     bool short_of_memory)
{
	uint64_t now = hz_now();

	for (struct hz_http_conn *c = s->idle_head; c != NULL; c = c->idle_next)
		if (!c->interrupted &&
		    (c->served || (short_of_memory &&
				   now - c->idle_since >= SILENT_RECLAIM)))
			return c;
	return NULL;
}

/* The longest-idle served connection, to close at the limit; or NULL. */
static struct hz_http_conn *reclaimable(struct hz_http_server *s)
{
	return reclaimable_when(s, false);
}

/* Waits (a poll at a time) for a slot, reclaiming one if it can. */
static void wait_for_slot(struct hz_http_server *s)
{
	while (load(s) >= s->cfg.max_conns && !s->stopping) {
		struct hz_http_conn *c = reclaimable(s);
		int r;

		if (c != NULL) {
			hz_counter_inc(&c_reclaimed);
			conn_interrupt(c);
			return;
		}
		if (!s->paused)
			hz_counter_inc(&c_limit_waits);
		s->paused = true;
		r = hz_waitq_wait(&s->changed, hz_now() + ACCEPT_POLL);
		(void)r; /* woken or not, look again */
	}
}

/* The servers whose accept loops run (one heap, one list). */
static struct hz_http_server *running;

static void running_add(struct hz_http_server *s)
{
	s->running_next = running;
	running = s;
}

static void wake_paused(struct hz_http_server *s)
{
	for (struct hz_http_server *o = running; o != NULL; o = o->running_next)
		if (o != s && o->paused)
			hz_waitq_wake_all(&o->changed);
}

static void running_remove(struct hz_http_server *s)
{
	for (struct hz_http_server **p = &running; *p != NULL;
	     p = &(*p)->running_next)
		if (*p == s) {
			*p = s->running_next;
			return;
		}
}

/*
 * How fast @c is going, in bytes a second, if it lags so that the heap
 * may take it back; else UINT64_MAX. A request head still coming
 * HEAD_RECLAIM after its first byte (a browser sends one whole; a
 * slowloris a byte at a time) counts as 0; a response going out for
 * SLOW_RECLAIM at under SLOW_RATE, its rate.
 */
static uint64_t lag_rate(const struct hz_http_conn *c, uint64_t now)
{
	uint64_t age = now - c->start_ns, rate;

	if (c->interrupted || c->idle)
		return UINT64_MAX;
	if (c->in_head) /* from when the server turned to its head */
		return now - c->head_since >= HEAD_RECLAIM ? 0 : UINT64_MAX;
	if (!c->responded || c->ended || age < SLOW_RECLAIM)
		return UINT64_MAX;
	rate = c->bytes_sent / (age / HZ_NS_PER_S); /* no overflow */
	return rate < SLOW_RATE ? rate : UINT64_MAX;
}

/* The slowest lagging connection of any running server (lag_rate), the
 * oldest of equals; NULL if none lags. */
static struct hz_http_conn *laggard(void)
{
	uint64_t now = hz_now(), best = UINT64_MAX;
	struct hz_http_conn *pick = NULL;

	for (struct hz_http_server *o = running; o != NULL; o = o->running_next)
		for (struct hz_http_conn *c = o->all; c != NULL; c = c->next) {
			uint64_t r = lag_rate(c, now);

			if (r < best || (r == best && r != UINT64_MAX &&
					 c->start_ns < pick->start_ns)) {
				best = r;
				pick = c;
			}
		}
	return pick;
}

/*
 * Closes the longest-idle connection that has been served, or has said
 * nothing for SILENT_RECLAIM, of any running server; failing that, aborts
 * the slowest lagging one (laggard: a head trickling in, a response
 * crawling out), which would otherwise keep the heap from every other
 * client for as long as it keeps its pace (they share the heap:
 * the HTTPS server of a site may need what its HTTP server's idle
 * connections hold). Whether there was one.
 */
static bool reclaim_one(void)
{
	struct hz_http_conn *c = NULL;

	for (struct hz_http_server *o = running; o != NULL;
	     o = o->running_next) {
		struct hz_http_conn *oc = reclaimable_when(o, true);
		if (oc != NULL && (c == NULL || oc->idle_since < c->idle_since))
			c = oc;
	}
	if (c != NULL) {
		hz_counter_inc(&c_reclaimed);
		conn_interrupt(c);
		return true;
	}
	c = laggard();
	if (c == NULL)
		return false;
	/* Aborted, not closed: what it holds unsent (TCP's send buffer)
	 * is what the heap needs back, now, not once the client read it. */
	hz_counter_inc(&c_reclaimed_slow);
	conn_end(c, true);
	return true;
}

/*
 * Whether the heap is nearly full: less than a sixteenth free. A new
 * connection needs more than its own start (a TLS flow, read buffers, a
 * handshake's), so room is kept ahead of the next.
 */
static bool heap_low(void)
{
	struct hz_mem_stats st;

	hz_mem_stats(&st);
	return st.free_pages < st.heap_pages / 16;
}

/* The heap is short: reclaims a connection and waits a poll at most for
 * one to end. */
static void make_room(struct hz_http_server *s)
{
	int r;

	if (!s->paused)
		hz_counter_inc(&c_memory_waits);
	s->paused = true;
	(void)reclaim_one(); /* with none, waiting is all there is */
	r = hz_waitq_wait(&s->changed, hz_now() + ACCEPT_POLL);
	(void)r; /* woken or not, look again */
}

/*
 * Serves @f, accepted at a free slot. When the heap cannot hold another
 * connection, memory is the limit: as at max_conns, the longest-idle
 * connection that has been served, or has said nothing for
 * SILENT_RECLAIM, is closed to make room, or, with none,
 * the server waits (accepting nothing more) for one to end; the new
 * connection is dropped (counted) only if no room comes within the
 * header timeout, or the server stops.
 */
static void serve_accepted(struct hz_http_server *s, struct hz_flow *f)
{
	uint64_t give_up = hz_now() + s->cfg.header_timeout_ns;
	int r;

	if (s->stopping) {
		/* A refusal is counted and frees the flow. */
		r = hz_http_server_serve(s, f);
		return;
	}
	while ((r = conn_start(s, f)) == -HZ_ENOMEM) {
		if (s->stopping || hz_now() >= give_up) {
			hz_counter_inc(&c_no_memory);
			hz_flow_free(f);
			return;
		}
		make_room(s);
	}
	s->paused = false;
	if (heap_low())
		(void)reclaim_one(); /* room ahead; none to close is fine */
}

int hz_http_server_run(struct hz_http_server *s, hz_http_accept_fn accept,
		       void *ctx)
{
	int ret = 0;

	if (s->runners++ == 0)
		running_add(s);
	while (!s->stopping) {
		struct hz_flow *f;
		int r;

		/* At the limit, accept only to make room by closing an idle
		 * connection; else leave new ones in the backlog. */
		if (load(s) >= s->cfg.max_conns && reclaimable(s) == NULL) {
			wait_for_slot(s);
			continue;
		}
		s->paused = false;
		r = accept(ctx, hz_now() + ACCEPT_POLL, &f);
		if (r == -HZ_ETIMEDOUT)
			continue;
		if (r == -HZ_ECLOSED || r == -HZ_EINVAL) {
			ret = r;
			break;
		}
		if (r == -HZ_ENOMEM) {
			make_room(s);
			continue;
		}
		if (r < 0) {
			hz_counter_inc(&c_accept_errors);
			hz_sleep_ns(ACCEPT_ERROR_PAUSE);
			continue;
		}
		wait_for_slot(s);
		serve_accepted(s, f);
	}
	if (--s->runners == 0)
		running_remove(s);
	hz_waitq_wake_all(&s->changed);
	return ret;
}

struct stack_listener {
	struct hz_stack *stack;
	struct hz_listener *l;
};

static int accept_stack(void *ctx, uint64_t deadline, struct hz_flow **out)
{
	struct stack_listener *sl = ctx;
	int r = hz_tcp_accept(sl->stack, sl->l, deadline, out);

	/* Pipelined responses must not wait for ACKs (Nagle); a stack
	 * that cannot say so still serves. */
	if (r == 0 && hz_tcp_set(sl->stack, *out, HZ_TCP_NODELAY, 1) < 0)
		HZ_DEBUG(&http_log, "TCP_NODELAY refused");
	return r;
}

int hz_http_server_run_stack(struct hz_http_server *s, struct hz_stack *stack,
			     struct hz_listener *l)
{
	struct stack_listener sl = {stack, l};

	return hz_http_server_run(s, accept_stack, &sl);
}

static int accept_conduit(void *ctx, uint64_t deadline, struct hz_flow **out)
{
	return hz_conduit_accept(ctx, deadline, out);
}

int hz_http_server_run_conduit(struct hz_http_server *s,
			       struct hz_conduit_listener *l)
{
	return hz_http_server_run(s, accept_conduit, l);
}

int hz_http_server_stop(struct hz_http_server *s, uint64_t deadline)
{
	int ret = 0;

	s->stopping = true;
	while (interrupt_next(s, true, &c_stopped))
		continue;
	while (s->conns > 0 || s->runners > 0) {
		int r;

		if (ret == 0 && hz_now() >= deadline) {
			ret = -HZ_ETIMEDOUT;
			while (interrupt_next(s, false, &c_aborted))
				continue;
		}
		r = hz_waitq_wait(&s->changed,
				  ret == 0 ? deadline : hz_now() + ACCEPT_POLL);
		(void)r;
	}
	return ret;
}
