/*
 * website: a static site as a unikernel. Pages come from a read-only KV
 * store: by default the site/ directory beside this file, crunched into
 * the image at build time; with --site DEVICE, a tar archive on that
 * block device, so one image serves new content without a rebuild.
 *
 * HTTP on one port, HTTPS on another when a certificate is given (a tar
 * on the block device named by --tls holding cert.pem and key.pem). It
 * answers GET and HEAD: content types by extension, index.html for a
 * directory, a 404 page, ETag/If-None-Match and Last-Modified/
 * If-Modified-Since with 304, one byte range with 206 or 416, the gzip
 * variant to clients that accept it. Paths are normalised; "..", encoded
 * slashes and NULs are refused. Every request is logged in common log
 * format plus the microseconds from its first byte to its last byte out.
 *
 *   website [--stack SPEC] [--http PORT] [--https PORT] [--site DEVICE]
 *           [--site-memory MIB] [--tls DEVICE] [--tls-sessions N]
 *           [--redirect-https] [--hsts SECONDS] [--metrics PATH] [--quiet]
 *
 * --site-memory: an archive on a device of at most MIB MiB (64 unless
 * given; 0: never) is read into memory at start, when a quarter of the
 * free heap holds it, and served from there without a read or a copy
 * per request; a larger one is read from the device as it is served.
 *
 * --tls-sessions sets how many TLS sessions are remembered for resumption
 * (HZ_TLS_SESSIONS_DEFAULT unless given; 0 makes every handshake full).
 *
 * Anything wrong at start (a device, an archive, a certificate, a port)
 * is one line naming it and exit status 1, before anything is served.
 */
#include <string.h>
#include <strings.h>

#include <haze/entropy.h>
#include <haze/haze.h>
#include <haze/http.h>
#include <haze/ipstack.h>
#include <haze/kv.h>
#include <haze/stack.h>
#include <haze/tls.h>

#include "site_kv.h"

HZ_MANIFEST(HZ_DEVICE_NET_OPTIONAL("service"), HZ_DEVICE_BLOCK_OPTIONAL("site"),
	    HZ_DEVICE_BLOCK_OPTIONAL("tls"));
/* Fortuna, seeded before hz_main: TLS and TCP draw from it. */
HZ_RANDOM_SOURCE(&hz_entropy_random);

HZ_LOG_SOURCE(website_log, "website");
static HZ_COUNTER(c_no_memory, "website", "stream_no_memory");

#define CHUNK (16u * 1024) /* tar store reads per write */
/* --site-memory: an archive up to this many MiB is served from memory. */
#define SITE_MEMORY_DEFAULT 64
#define SITE_MEMORY_MAX 4096
#define PEM_MAX (64u * 1024) /* a certificate chain or key */
#define LAT_BUCKETS 10

/* Latency bucket bounds in microseconds; the last bucket is the rest. */
static const uint64_t lat_bound_us[LAT_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 50000, 100000};

/* What the metrics page shows, counted by the access hook. */
struct metrics {
	uint64_t requests, bytes;
	uint64_t status[6]; /* 1xx .. 5xx by hundreds; [0]: none sent */
	uint64_t latency[LAT_BUCKETS];
};

struct site {
	struct hz_kv *kv;
	struct hz_stack *stack;
	struct hz_tls_config *tls;
	uint64_t tls_sessions; /* --tls-sessions */
	uint64_t site_memory;  /* --site-memory, in MiB */
	uint16_t http_port, https_port;
	bool redirect_https;
	uint64_t hsts; /* max-age in seconds, 0 for none */
	const char *metrics_path;
	bool quiet;
	struct metrics m;
	struct hz_http_server http, https;
};

/* One server and what it serves on, for its fiber. */
struct endpoint {
	struct site *site;
	struct hz_http_server *server;
	struct hz_listener *listener;
	bool tls;
};

/* --- conditional and range requests --------------------------------------- */

/*
 * Whether the list @v (If-None-Match, If-Match) names @etag, or is "*":
 * by weak comparison (W/ ignored on both sides), or @strong (an entity
 * tag matches only if neither is weak; RFC 9110, 8.8.3.2).
 */
static bool etag_listed(const char *v, const char *etag, bool strong)
{
	const char *item;
	size_t len;
	bool weak = strncmp(etag, "W/", 2) == 0;
	const char *e = weak ? etag + 2 : etag;

	if (strcmp(v, "*") == 0)
		return true;
	if (strong && weak)
		return false;
	while (hz_http_list_next(&v, &item, &len)) {
		if (len >= 2 && strncmp(item, "W/", 2) == 0) {
			if (strong)
				continue;
			item += 2;
			len -= 2;
		}
		if (len == strlen(e) && memcmp(item, e, len) == 0)
			return true;
	}
	return false;
}

/*
 * Whether a precondition of the request fails for the representation
 * (@etag, @mtime, -1 unknown): answer 412. If-Match by strong comparison,
 * else If-Unmodified-Since (ignored when not a date; RFC 9110, 13.2.2).
 */
static bool precondition_failed(const struct hz_http_request *r,
				const char *etag, int64_t mtime)
{
	const char *im = hz_http_request_header(r, "If-Match");
	const char *ius = hz_http_request_header(r, "If-Unmodified-Since");
	uint64_t since;

	if (im != NULL)
		return !etag_listed(im, etag, true);
	return ius != NULL && hz_http_date_parse(ius, &since) == 0 &&
	       mtime >= 0 && (uint64_t)mtime > since;
}

/* Whether the client's cached copy is current: answer 304. */
static bool not_modified(const struct hz_http_request *r, const char *etag,
			 int64_t mtime)
{
	const char *inm = hz_http_request_header(r, "If-None-Match");
	const char *ims = hz_http_request_header(r, "If-Modified-Since");
	uint64_t since;

	if (inm != NULL)
		return etag_listed(inm, etag, false);
	return ims != NULL && hz_http_date_parse(ims, &since) == 0 &&
	       mtime >= 0 && (uint64_t)mtime <= since;
}

/* Parses decimal digits [s, s + len) into *v; false if none or too big. */
static bool parse_u64(const char *s, size_t len, uint64_t *v)
{
	*v = 0;
	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

enum range_kind { RANGE_NONE, RANGE_ONE, RANGE_UNSATISFIABLE };

/*
 * Reads a Range field for a body of @size bytes: one range "bytes=A-B",
 * "A-" or "-N" gives [*first, *last]. Several ranges, another unit or a
 * malformed field are ignored (the whole body is sent, as RFC 9110
 * allows); a range past the end is unsatisfiable.
 */
static enum range_kind parse_range(const char *v, uint64_t size,
				   uint64_t *first, uint64_t *last)
{
	if (v == NULL || strncasecmp(v, "bytes=", 6) != 0)
		return RANGE_NONE; /* range units are case-insensitive */
	v += 6;
	const char *dash = strchr(v, '-');
	if (dash == NULL || strchr(v, ',') != NULL)
		return RANGE_NONE;
	uint64_t a, b;
	size_t alen = (size_t)(dash - v), blen = strlen(dash + 1);
	if (alen == 0) { /* the last N bytes */
		if (!parse_u64(dash + 1, blen, &b))
			return RANGE_NONE;
		if (b == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_ONE;
	}
	if (!parse_u64(v, alen, &a))
		return RANGE_NONE;
	if (blen == 0)
		b = UINT64_MAX;
	else if (!parse_u64(dash + 1, blen, &b) || b < a)
		return RANGE_NONE;
	if (a >= size)
		return RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return RANGE_ONE;
}

/* Whether the q value [p, end) is zero: "0", "0.", "0.0" to "0.000". */
static bool q_is_zero(const char *p, const char *end)
{
	if (p == end || *p != '0')
		return false;
	p++;
	if (p < end && *p == '.')
		for (p++; p < end && *p == '0'; p++)
			;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p == end;
}

/* Whether the client takes gzip (a q of 0 refuses it). */
static bool accepts_gzip(const struct hz_http_request *r)
{
	const char *v = hz_http_request_header(r, "Accept-Encoding");
	const char *item;
	size_t len;

	if (v == NULL)
		return false;
	while (hz_http_list_next(&v, &item, &len)) {
		const char *end = item + len;
		const char *semi = memchr(item, ';', len);
		const char *name_end = semi != NULL ? semi : end;
		while (name_end > item && name_end[-1] == ' ')
			name_end--;
		if (name_end - item != 4 || strncasecmp(item, "gzip", 4) != 0)
			continue;
		if (semi == NULL)
			return true;
		const char *q = semi + 1;
		while (q < end && *q == ' ')
			q++;
		if (end - q < 2 || (q[0] != 'q' && q[0] != 'Q') || q[1] != '=')
			return true;
		return !q_is_zero(q + 2, end);
	}
	return false;
}

/* --- responses ------------------------------------------------------------ */

/* Room for the fields of a file response. */
#define FIELDS_MAX 10

/* The fields every response of @site over @tls carries (HSTS). */
static size_t common_fields(const struct site *site, bool tls,
			    struct hz_http_header *h, char *hsts, size_t cap)
{
	if (!tls || site->hsts == 0)
		return 0;
	snprintf(hsts, cap, "max-age=%llu", (unsigned long long)site->hsts);
	h[0] = (struct hz_http_header){"Strict-Transport-Security", hsts};
	return 1;
}

/* Sends the body of @e (@coding) from @first to @last, from the store. */
static int send_entry(struct site *site, struct hz_http_request *r,
		      const struct hz_kv_entry *e, enum hz_kv_coding coding,
		      int status, const struct hz_http_header *h, size_t n,
		      uint64_t first, uint64_t last)
{
	uint64_t len = last + 1 - first;
	const void *bytes;

	if (hz_kv_bytes(site->kv, e, coding, &bytes) == 0)
		return hz_http_respond(r, status, h, n,
				       (const uint8_t *)bytes + first,
				       (size_t)len);
	if (r->method == HZ_HTTP_HEAD) {
		int rc = hz_http_stream_begin(r, status, h, n, (int64_t)len);
		return rc < 0 ? rc : hz_http_stream_end(r);
	}
	/* The buffer before the head: short of memory, a 503 the client
	 * can retry, not a 200 whose body never comes. */
	uint8_t *buf = hz_malloc(CHUNK);
	if (buf == NULL) {
		hz_counter_inc(&c_no_memory);
		return hz_http_respond_status(r, 503);
	}
	int rc = hz_http_stream_begin(r, status, h, n, (int64_t)len);
	for (uint64_t off = first; off <= last && rc == 0;) {
		uint64_t want = last + 1 - off < CHUNK ? last + 1 - off : CHUNK;
		ssize_t got =
		    hz_kv_read(site->kv, e, coding, off, buf, (size_t)want);
		if (got <= 0) {
			HZ_WARN(&website_log, "%s", hz_kv_error(site->kv));
			rc = got < 0 ? (int)got : -HZ_EIO;
			break;
		}
		rc = hz_http_stream_write(r, buf, (size_t)got);
		off += (uint64_t)got;
	}
	hz_free(buf);
	return rc < 0 ? rc : hz_http_stream_end(r);
}

/* Answers with entry @e of the store (a file, or the 404 page). */
static int serve_entry(struct site *site, struct hz_http_request *r,
		       const struct hz_kv_entry *e, int status, bool tls)
{
	struct hz_http_header h[FIELDS_MAX];
	char hsts[40], modified[HZ_HTTP_DATE_LEN + 1], range[80];
	size_t n = common_fields(site, tls, h, hsts, sizeof(hsts));
	const char *range_field = hz_http_request_header(r, "Range");
	const char *if_range = hz_http_request_header(r, "If-Range");
	enum hz_kv_coding coding = HZ_KV_IDENTITY;
	uint64_t size = e->size, first = 0, last = 0;
	const char *etag = e->etag;

	/* A range is of the identity bytes; gzip only for whole bodies. */
	if (status == 200 && e->has_gzip && range_field == NULL &&
	    accepts_gzip(r)) {
		coding = HZ_KV_GZIP;
		size = e->gzip_size;
		etag = e->gzip_etag;
	}
	hz_http_date(modified, e->mtime > 0 ? (uint64_t)e->mtime : 0);
	h[n++] = (struct hz_http_header){"Content-Type", e->content_type};
	h[n++] = (struct hz_http_header){"ETag", etag};
	h[n++] = (struct hz_http_header){"Last-Modified", modified};
	if (e->has_gzip)
		h[n++] = (struct hz_http_header){"Vary", "Accept-Encoding"};
	if (coding == HZ_KV_GZIP)
		h[n++] = (struct hz_http_header){"Content-Encoding", "gzip"};
	if (status != 200) /* the 404 page: whole, even when empty */
		return size == 0 ? hz_http_respond(r, status, h, n, "", 0)
				 : send_entry(site, r, e, coding, status, h, n,
					      0, size - 1);
	h[n++] = (struct hz_http_header){"Accept-Ranges", "bytes"};
	if (precondition_failed(r, etag, e->mtime))
		return hz_http_respond(r, 412, h, n, NULL, 0);
	if (not_modified(r, etag, e->mtime))
		return hz_http_respond(r, 304, h, n, NULL, 0);
	if (size == 0)
		return hz_http_respond(r, 200, h, n, "", 0);
	/* If-Range with anything but the current ETag: the whole body. */
	if (if_range != NULL && strcmp(if_range, etag) != 0)
		range_field = NULL;
	switch (parse_range(range_field, size, &first, &last)) {
	case RANGE_UNSATISFIABLE:
		snprintf(range, sizeof(range), "bytes */%llu",
			 (unsigned long long)size);
		h[n++] = (struct hz_http_header){"Content-Range", range};
		return hz_http_respond(r, 416, h, n, NULL, 0);
	case RANGE_ONE:
		snprintf(range, sizeof(range), "bytes %llu-%llu/%llu",
			 (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)size);
		h[n++] = (struct hz_http_header){"Content-Range", range};
		return send_entry(site, r, e, coding, 206, h, n, first, last);
	case RANGE_NONE:
		break;
	}
	return send_entry(site, r, e, coding, 200, h, n, 0, size - 1);
}

/* Answers 404 with the store's 404.html, or a line of text. */
static int serve_404(struct site *site, struct hz_http_request *r, bool tls)
{
	struct hz_kv_entry e;

	if (hz_kv_lookup(site->kv, "404.html", &e) == 0)
		return serve_entry(site, r, &e, 404, tls);
	return hz_http_respond_status(r, 404);
}

/* Answers 301 to @location. */
static int redirect(struct site *site, struct hz_http_request *r, bool tls,
		    const char *location)
{
	struct hz_http_header h[3];
	char hsts[40];
	size_t n = common_fields(site, tls, h, hsts, sizeof(hsts));

	h[n++] = (struct hz_http_header){"Location", location};
	h[n++] = (struct hz_http_header){"Content-Type",
					 "text/plain; charset=utf-8"};
	return hz_http_respond(r, 301, h, n, "Moved\n", 6);
}

/* Redirects a plain request to the same path over HTTPS. */
static int redirect_https(struct site *site, struct hz_http_request *r)
{
	const char *host = hz_http_request_header(r, "Host");
	size_t hlen = host != NULL ? strlen(host) : 0;
	char location[HZ_KV_KEY_MAX + 300];
	size_t hl;

	/* An absolute-form target's host stands for Host (RFC 9112, 3.2.2). */
	if (r->head->authority != NULL) {
		host = r->head->authority;
		hlen = r->head->authority_len;
	}
	if (host == NULL)
		return hz_http_respond_status(r, 400);
	/* The host without its port; only what a host name may hold. */
	hl = strcspn(host, ":/");
	if (hl > hlen)
		hl = hlen;
	if (host[0] == '[' || hl == 0 || hl > 253 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789.-") < hl ||
	    strlen(r->path) > HZ_KV_KEY_MAX + 32)
		return hz_http_respond_status(r, 400);
	if (site->https_port == 443)
		snprintf(location, sizeof(location), "https://%.*s%s", (int)hl,
			 host, r->path);
	else
		snprintf(location, sizeof(location), "https://%.*s:%u%s",
			 (int)hl, host, site->https_port, r->path);
	return redirect(site, r, false, location);
}

/* --- the metrics page ----------------------------------------------------- */

/* A growing text buffer for the metrics page. */
struct text {
	char *buf;
	size_t len, cap;
};

/* Appends formatted text, cut at the buffer's end. */
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;

	if (t->len >= t->cap)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n
						      : t->cap - t->len - 1;
}

/* Adds one TCP or TLS counter to the page. */
static void add_counter(const struct hz_counter *c, void *arg)
{
	if (strcmp(c->source, "tcp") == 0 || strcmp(c->source, "tls") == 0 ||
	    strcmp(c->source, "http") == 0)
		text_add(arg, "%s.%s %llu\n", c->source, c->name,
			 (unsigned long long)c->value);
}

/* Answers with the metrics page. */
static int serve_metrics(struct site *site, struct hz_http_request *r)
{
	struct text t = {.cap = 16384};
	const struct metrics *m = &site->m;
	static const struct hz_http_header h[] = {
	    {"Content-Type", "text/plain; charset=utf-8"},
	    {"Cache-Control", "no-store"}};

	t.buf = hz_malloc(t.cap);
	if (t.buf == NULL)
		return hz_http_respond_status(r, 503);
	text_add(&t, "requests %llu\nbytes_sent %llu\n",
		 (unsigned long long)m->requests, (unsigned long long)m->bytes);
	for (int s = 1; s <= 5; s++)
		text_add(&t, "status_%dxx %llu\n", s,
			 (unsigned long long)m->status[s]);
	for (int b = 0; b < LAT_BUCKETS; b++) {
		if (b < LAT_BUCKETS - 1)
			text_add(&t, "latency_us_le_%llu %llu\n",
				 (unsigned long long)lat_bound_us[b],
				 (unsigned long long)m->latency[b]);
		else
			text_add(&t, "latency_us_gt_%llu %llu\n",
				 (unsigned long long)lat_bound_us[b - 1],
				 (unsigned long long)m->latency[b]);
	}
	text_add(&t, "connections_http %u\nconnections_https %u\n",
		 hz_http_server_connections(&site->http),
		 hz_http_server_connections(&site->https));
	/* The heap in whole pages (slab pages count whole), as echo's
	 * --stats: the abuse test reads the high-water mark and checks
	 * that objects, pbufs and fibers come back to idle. */
	struct hz_mem_stats ms;
	struct hz_sched_stats ss;
	hz_mem_stats(&ms);
	hz_sched_stats(&ss);
	text_add(&t,
		 "heap_size %zu\nheap_used %zu\nheap_peak %zu\n"
		 "heap_objects %zu\nheap_alloc_failures %llu\npbufs %zu\n"
		 "fibers %zu\n",
		 ms.heap_pages * HZ_PAGE_SIZE,
		 (ms.heap_pages - ms.free_pages) * HZ_PAGE_SIZE,
		 ms.peak_pages * HZ_PAGE_SIZE, ms.live_objects,
		 (unsigned long long)ms.failures, hz_pbuf_live(), ss.fibers);
	struct hz_ipstack *ip = hz_stack_ipstack(site->stack);
	if (ip != NULL) { /* Haze's own TCP/IP (not the host's sockets) */
		struct hz_ipstack_stats ips = {0};
		hz_ipstack_stats(ip, &ips);
		text_add(&t, "tcp_conns %llu\ntcp_bytes %llu\n",
			 (unsigned long long)ips.tcp_conns,
			 (unsigned long long)ips.tcp_used);
	}
	hz_counters_foreach(add_counter, &t);
	int rc = hz_http_respond(r, 200, h, 2, t.buf, t.len);
	hz_free(t.buf);
	return rc;
}

/* --- requests ------------------------------------------------------------- */

/*
 * Reads and drops a request's body before answering (a static site takes
 * none), as nginx does: a body whose framing is bad (a chunk size that is
 * not one) is then refused with 400 by the server, rather than answered
 * and found bad only after. Not when the client waits for 100-continue:
 * it is answered at once and the connection closes. Whether to answer.
 */
static bool discard_body(struct hz_http_request *r)
{
	char buf[1024];
	ssize_t n;

	if (r->head->framing == HZ_HTTP_BODY_NONE || r->head->expect_continue)
		return true;
	do
		n = hz_http_request_read(r, buf, sizeof(buf));
	while (n > 0);
	return n == 0; /* else refused (400, 408, 413) or the flow failed */
}

/* Serves one request on the HTTP (@tls false) or HTTPS server. */
static void handle(struct hz_http_request *r, struct site *site, bool tls)
{
	char key[HZ_KV_KEY_MAX + 1];
	struct hz_kv_entry e;
	bool dir;
	int rc;

	if (!discard_body(r))
		return;
	if (r->method != HZ_HTTP_GET && r->method != HZ_HTTP_HEAD) {
		rc = hz_http_respond_405(r, "GET, HEAD");
	} else if (!tls && site->redirect_https && site->tls != NULL) {
		rc = redirect_https(site, r);
	} else if (site->metrics_path != NULL &&
		   strncmp(r->path, site->metrics_path,
			   strcspn(r->path, "?")) == 0 &&
		   site->metrics_path[strcspn(r->path, "?")] == '\0') {
		rc = serve_metrics(site, r);
	} else if (hz_http_path_name(r->path, "index.html", key, sizeof(key),
				     &dir) < 0) {
		rc = hz_http_respond_status(r, 400);
	} else if (hz_kv_lookup(site->kv, key, &e) == 0) {
		rc = serve_entry(site, r, &e, 200, tls);
	} else if (!dir) {
		/* A directory named without its '/' (the name leaves room
		 * for "/index.html"): send the client there, so that its
		 * relative links resolve. */
		char index[HZ_KV_KEY_MAX + 1];
		int k = snprintf(index, sizeof(index), "%s/index.html", key);
		if (k > 0 && (size_t)k < sizeof(index) &&
		    hz_kv_lookup(site->kv, index, &e) == 0) {
			/* The query goes along (as nginx's does); one too
			 * long for the Location is dropped, not cut. */
			char location[3 * HZ_KV_KEY_MAX + 1024];
			const char *q = strchr(r->path, '?');
			rc = hz_http_dir_location(key, q != NULL ? q : "",
						  location, sizeof(location));
			if (rc == 0)
				rc = redirect(site, r, tls, location);
		} else {
			rc = serve_404(site, r, tls);
		}
	} else {
		rc = serve_404(site, r, tls);
	}
	if (rc < 0)
		HZ_DEBUG(&website_log, "response to %s: %s", r->path,
			 hz_strerror(rc));
}

/* The plain server's handler. */
static void handle_http(struct hz_http_request *r, void *arg)
{
	handle(r, arg, false);
}

/* The TLS server's handler. */
static void handle_https(struct hz_http_request *r, void *arg)
{
	handle(r, arg, true);
}

/* Logs one exchange and counts it for the metrics page. */
static void access_log(const struct hz_http_access *a, void *arg)
{
	struct site *site = arg;
	struct metrics *m = &site->m;
	uint64_t us =
	    a->end_ns > a->start_ns ? (a->end_ns - a->start_ns) / 1000 : 0;
	int b = 0;

	m->requests++;
	m->bytes += a->bytes_sent;
	m->status[a->status >= 100 && a->status < 600 ? a->status / 100 : 0]++;
	while (b < LAT_BUCKETS - 1 && us > lat_bound_us[b])
		b++;
	m->latency[b]++;
	if (site->quiet)
		return;
	/* Common log format, UTC, then the microseconds. */
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
					  "May", "Jun", "Jul", "Aug",
					  "Sep", "Oct", "Nov", "Dec"};
	char date[HZ_HTTP_DATE_LEN + 1];
	hz_http_date(date, a->start_wall / HZ_NS_PER_S);
	/* "Sun, 06 Nov 1994 08:49:37 GMT" -> "06/Nov/1994:08:49:37". */
	int month = 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(date + 8, mon[i], 3) == 0)
			month = i;
	hz_printf("- - - [%.2s/%s/%.4s:%.8s +0000] \"", date + 5, mon[month],
		  date + 12, date + 17);
	/* No request line parsed (a refusal of bytes that were none): "-",
	 * as the common log format writes it, not a version never sent. */
	if (a->head == NULL)
		hz_printf("-");
	else
		hz_printf("%s %s HTTP/1.%d", a->method, a->target, a->version);
	hz_printf("\" %d %llu %llu\n", a->status,
		  (unsigned long long)a->body_sent, (unsigned long long)us);
}

/* --- start-up ------------------------------------------------------------ */

/* Takes a TCP connection and wraps it in TLS, for the HTTPS server. */
static int accept_tls(void *ctx, uint64_t deadline, struct hz_flow **out)
{
	struct endpoint *ep = ctx;
	struct hz_flow *tcp;

	for (;;) {
		int r = hz_tcp_accept(ep->site->stack, ep->listener, deadline,
				      &tcp);
		if (r < 0)
			return r;
		if (hz_tcp_set(ep->site->stack, tcp, HZ_TCP_NODELAY, 1) < 0)
			HZ_DEBUG(&website_log, "TCP_NODELAY refused");
		r = hz_tls_server(tcp, ep->site->tls, out);
		if (r == 0)
			return 0;
		/* The TCP flow is freed. Short of memory, the server makes
		 * room (counted there, not said per connection); else take
		 * the next connection. */
		if (r == -HZ_ENOMEM)
			return r;
		HZ_WARN(&website_log, "no TLS flow: %s", hz_strerror(r));
	}
}

/* Runs one server until it stops. */
static void run_endpoint(void *arg)
{
	struct endpoint *ep = arg;
	int r = ep->tls ? hz_http_server_run(ep->server, accept_tls, ep)
			: hz_http_server_run_stack(ep->server, ep->site->stack,
						   ep->listener);
	if (r < 0)
		HZ_ERROR(&website_log, "%s server stopped: %s",
			 ep->tls ? "HTTPS" : "HTTP", hz_strerror(r));
}

/* Reads all of @key from the tar store @kv into a new NUL-ended buffer. */
static int read_pem(struct hz_kv *kv, const char *dev, const char *key,
		    char **out, size_t *len)
{
	struct hz_kv_entry e;

	if (hz_kv_lookup(kv, key, &e) < 0) {
		hz_printf("website: --tls %s: no %s in the archive\n", dev,
			  key);
		return -HZ_ENOENT;
	}
	if (e.size == 0 || e.size > PEM_MAX) {
		hz_printf("website: --tls %s: %s is empty or larger than %u "
			  "bytes\n",
			  dev, key, PEM_MAX);
		return -HZ_EINVAL;
	}
	*out = hz_malloc((size_t)e.size + 1);
	if (*out == NULL)
		return -HZ_ENOMEM;
	ssize_t n = hz_kv_read(kv, &e, HZ_KV_IDENTITY, 0, *out, e.size);
	if (n != (ssize_t)e.size) {
		hz_printf("website: --tls %s: %s\n", dev, hz_kv_error(kv));
		hz_free(*out);
		return n < 0 ? (int)n : -HZ_EIO;
	}
	(*out)[e.size] = '\0';
	*len = (size_t)e.size;
	return 0;
}

/* Builds the TLS configuration from the archive on block device @dev. */
static int tls_setup(struct site *site, const char *dev)
{
	static const char *const alpn[] = {"http/1.1"};
	struct hz_errmsg err = {0};
	struct hz_kv *kv;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;

	int r = hz_kv_tar_open(dev, NULL, &kv, &err);
	if (r < 0) {
		hz_printf("website: --tls %s: %s\n", dev, hz_errmsg_text(&err));
		return r;
	}
	r = read_pem(kv, dev, "cert.pem", &cert, &cert_len);
	if (r == 0)
		r = read_pem(kv, dev, "key.pem", &key, &key_len);
	hz_kv_free(kv);
	if (r == 0)
		r = hz_tls_config_new(HZ_TLS_SERVER, &site->tls);
	if (r == 0) {
		r = hz_tls_config_add_chain(site->tls, cert, cert_len, key,
					    key_len);
		if (r == 0)
			r = hz_tls_config_set_alpn(site->tls, alpn, 1);
		if (r == 0)
			r = hz_tls_config_set_sessions(
			    site->tls, (size_t)site->tls_sessions,
			    HZ_TLS_SESSION_LIFETIME_DEFAULT);
		if (r < 0)
			hz_printf("website: --tls %s: %s\n", dev,
				  hz_tls_config_error(site->tls));
	}
	hz_free(cert);
	hz_free(key);
	return r;
}

/* Opens the site's store: the compiled one, or a tar on device @dev. */
static int store_open(struct site *site, const char *dev)
{
	struct hz_errmsg err = {0};
	int r;

	if (dev == NULL) {
		r = hz_kv_static_open(&site_kv, &site->kv);
		if (r < 0)
			hz_printf("website: the compiled site: %s\n",
				  hz_strerror(r));
		return r;
	}
	struct hz_kv_tar_params p = {.cache_max = (size_t)site->site_memory
						  << 20};

	r = hz_kv_tar_open(dev, &p, &site->kv, &err);
	if (r < 0)
		hz_printf("website: --site %s: %s\n", dev,
			  hz_errmsg_text(&err));
	else if (!site->quiet)
		hz_printf("website: --site %s: %zu files, served from %s\n",
			  dev, hz_kv_count(site->kv),
			  hz_kv_tar_in_memory(site->kv) ? "memory"
							: "the device");
	return r;
}

/* Listens on @port; prints why not. */
static int listen_on(struct site *site, uint16_t port, struct hz_listener **l)
{
	struct hz_sockaddr addr = {0, port};

	if (hz_tcp_listen(site->stack, &addr, 1024, l) < 0) {
		hz_printf("website: port %u: %s\n", port,
			  hz_stack_error(site->stack));
		return -1;
	}
	return 0;
}

static int usage(void)
{
	hz_printf("usage: website [--stack SPEC] [--http PORT] [--https PORT] "
		  "[--site DEVICE]\n"
		  "               [--site-memory MIB] [--tls DEVICE] "
		  "[--tls-sessions N] [--redirect-https]\n"
		  "               [--hsts SECONDS] [--metrics PATH] "
		  "[--quiet]\n");
	return 2;
}

/* Parses port option @opt's value @v into *port; prints why not. */
static int port_option(const char *opt, const char *v, uint16_t *port)
{
	if (hz_port_parse(v, strlen(v), port) < 0) {
		hz_printf("website: %s %s: not a port (1..65535)\n", opt, v);
		return -1;
	}
	return 0;
}

/*
 * Parses option @opt's value @v, a number of @what from 0 to @max, into
 * *out; prints why not.
 */
static int count_option(const char *opt, const char *v, uint64_t max,
			const char *what, uint64_t *out)
{
	if (!parse_u64(v, strlen(v), out) || *out > max) {
		hz_printf("website: %s %s: not a number of %s (0..%llu)\n", opt,
			  v, what, (unsigned long long)max);
		return -1;
	}
	return 0;
}

int hz_main(int argc, char **argv)
{
	static struct site site = {.http_port = 80,
				   .https_port = 443,
				   .tls_sessions = HZ_TLS_SESSIONS_DEFAULT,
				   .site_memory = SITE_MEMORY_DEFAULT};
	static struct endpoint http = {.site = &site, .server = &site.http};
	static struct endpoint https = {
	    .site = &site, .server = &site.https, .tls = true};
	const char *spec = "direct:service", *site_dev = NULL, *tls_dev = NULL;
	struct hz_errmsg err = {0};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--quiet") == 0) {
			site.quiet = true;
			continue;
		}
		if (strcmp(a, "--redirect-https") == 0) {
			site.redirect_https = true;
			continue;
		}
		if (i + 1 == argc)
			return usage();
		const char *v = argv[++i];
		if (strcmp(a, "--stack") == 0) {
			spec = v;
		} else if (strcmp(a, "--http") == 0) {
			if (port_option(a, v, &site.http_port) < 0)
				return 1;
		} else if (strcmp(a, "--https") == 0) {
			if (port_option(a, v, &site.https_port) < 0)
				return 1;
		} else if (strcmp(a, "--site") == 0) {
			site_dev = v;
		} else if (strcmp(a, "--site-memory") == 0) {
			if (count_option(a, v, SITE_MEMORY_MAX, "MiB",
					 &site.site_memory) < 0)
				return 1;
		} else if (strcmp(a, "--tls") == 0) {
			tls_dev = v;
		} else if (strcmp(a, "--tls-sessions") == 0) {
			if (count_option(a, v, HZ_TLS_SESSIONS_MAX, "sessions",
					 &site.tls_sessions) < 0)
				return 1;
		} else if (strcmp(a, "--metrics") == 0) {
			if (v[0] != '/') {
				hz_printf("website: --metrics %s: not a path "
					  "starting with /\n",
					  v);
				return 1;
			}
			site.metrics_path = v;
		} else if (strcmp(a, "--hsts") == 0) {
			uint64_t s = 0;
			if (!parse_u64(v, strlen(v), &s)) {
				hz_printf("website: --hsts %s: not a number of "
					  "seconds\n",
					  v);
				return 1;
			}
			site.hsts = s;
		} else {
			return usage();
		}
	}
	if (tls_dev == NULL && (site.redirect_https || site.hsts != 0)) {
		hz_printf("website: %s needs --tls DEVICE (a certificate and "
			  "key to serve HTTPS with)\n",
			  site.redirect_https ? "--redirect-https" : "--hsts");
		return 1;
	}
	if (site.http_port == site.https_port && tls_dev != NULL) {
		hz_printf("website: --http and --https both name port %u\n",
			  site.http_port);
		return 1;
	}
	/* Everything that can be wrong with the content first. */
	if (store_open(&site, site_dev) < 0)
		return 1;
	if (tls_dev != NULL && tls_setup(&site, tls_dev) < 0)
		return 1;
	if (hz_stack_open(spec, hz_now() + 30 * HZ_NS_PER_S, &site.stack,
			  &err) < 0) {
		hz_printf("website: %s\n", hz_errmsg_text(&err));
		return 1;
	}
	if (listen_on(&site, site.http_port, &http.listener) < 0)
		return 1;
	if (site.tls != NULL &&
	    listen_on(&site, site.https_port, &https.listener) < 0)
		return 1;
	hz_http_server_init(
	    &site.http, &(struct hz_http_server_config){.handler = handle_http,
							.arg = &site,
							.access = access_log,
							.access_arg = &site});
	hz_http_server_init(&site.https, &(struct hz_http_server_config){
					     .handler = handle_https,
					     .arg = &site,
					     .access = access_log,
					     .access_arg = &site});
	hz_printf("website: %zu files from %s; HTTP on port %u",
		  hz_kv_count(site.kv),
		  site_dev != NULL ? site_dev : "the image", site.http_port);
	if (site.tls != NULL)
		hz_printf(", HTTPS on port %u", site.https_port);
	else
		hz_printf(" (no --tls certificate: no HTTPS)");
	hz_printf("\n");
	if (site.tls != NULL &&
	    hz_fiber_spawn("https", run_endpoint, &https, 32u * 1024) < 0) {
		hz_printf("website: no memory for the HTTPS server\n");
		return 1;
	}
	run_endpoint(&http);
	return 0;
}
