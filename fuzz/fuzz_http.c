/*
 * libFuzzer harness: HTTP/1.1 messages through hz_http_parse, as requests
 * or responses (the first byte chooses: role, a response to HEAD, small
 * limits), fed whole, split at an offset the input chooses, and byte by
 * byte. The three must give the same events (body bytes compared as one
 * stream) and the same refusal; every event must keep the parser's
 * promises (strings NUL-terminated with their lengths, body bytes inside
 * the input, nothing used beyond what was given, errors sticky). The
 * input as text also goes through hz_http_date_parse (what it accepts
 * formats back to a date that parses to the same time),
 * hz_http_url_parse, and hz_http_path_name with hz_http_dir_location.
 */
#include <stdlib.h>
#include <string.h>

#include "haze/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs longer than this are cut: the limits refuse well before. */
#define INPUT_MAX 65536

static char buf[2][HZ_HTTP_MAX_LINE_DEFAULT + HZ_HTTP_MAX_HEADER_BYTES_DEFAULT];
static struct hz_http_field fields[2][HZ_HTTP_MAX_FIELDS_DEFAULT];

/* A digest of the events so far: FNV-1a over their kinds and bytes. */
struct digest {
	uint64_t h;
	int status;
	int error;
};

static void mix(struct digest *d, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		d->h = (d->h ^ b[i]) * 0x100000001b3ull;
}

/* Checks @ev and adds it to @d (body bytes as bytes, so pieces merge). */
static void record(struct digest *d, const struct hz_http_parser *p,
		   const struct hz_http_event *ev, const uint8_t *in,
		   size_t len)
{
	uint8_t kind = (uint8_t)ev->type;

	switch (ev->type) {
	case HZ_HTTP_EV_BODY:
		if (ev->len == 0 || ev->data < in ||
		    ev->data + ev->len > in + len)
			abort();
		mix(d, ev->data, ev->len);
		return;
	case HZ_HTTP_EV_FIELD:
	case HZ_HTTP_EV_TRAILER:
		if (strlen(ev->name) != ev->name_len ||
		    strlen(ev->value) != ev->value_len || ev->name_len == 0)
			abort();
		mix(d, &kind, 1);
		mix(d, ev->name, ev->name_len + 1);
		mix(d, ev->value, ev->value_len + 1);
		return;
	case HZ_HTTP_EV_START:
		mix(d, &kind, 1);
		if (p->response) {
			if (p->head.status < 100 || p->head.status > 999)
				abort();
			mix(d, &p->head.status, sizeof(p->head.status));
			mix(d, p->head.reason, strlen(p->head.reason));
		} else {
			if (p->head.path == NULL || p->head.target[0] == '\0')
				abort();
			mix(d, p->head.method_name,
			    strlen(p->head.method_name) + 1);
			mix(d, p->head.target, strlen(p->head.target) + 1);
		}
		return;
	case HZ_HTTP_EV_HEADERS_DONE:
		mix(d, &kind, 1);
		mix(d, &p->head.framing, sizeof(p->head.framing));
		mix(d, &p->head.content_length, sizeof(p->head.content_length));
		mix(d, &p->head.keep_alive, sizeof(p->head.keep_alive));
		return;
	default:
		mix(d, &kind, 1);
		return;
	}
}

/* Feeds @in in pieces of @piece bytes (or split at @at). */
static void run(uint8_t mode, const uint8_t *in, size_t len, size_t at,
		size_t piece, int slot, struct digest *d)
{
	static const struct hz_http_limits small = {64, 256, 8, 1000};
	struct hz_http_parser p;
	struct hz_http_event ev;
	size_t off = 0, used, end;
	int r = 0;

	hz_http_parser_init(
	    &p, mode & 1 ? HZ_HTTP_PARSE_RESPONSE : HZ_HTTP_PARSE_REQUEST,
	    mode & 4 ? &small : NULL, buf[slot], sizeof(buf[slot]),
	    fields[slot], HZ_HTTP_MAX_FIELDS_DEFAULT);
	hz_http_parser_set_head_request(&p, (mode & 2) != 0);
	d->h = 0xcbf29ce484222325ull;
	d->error = 0;
	while (off < len && r >= 0) {
		end = piece != 0 ? (len - off < piece ? len : off + piece)
				 : (off < at ? at : len);
		while (off < end) {
			r = hz_http_parse(&p, in + off, end - off, &used, &ev);
			if (used > end - off)
				abort();
			off += used;
			if (r < 0)
				break;
			if (r == HZ_HTTP_EV_MORE) {
				if (off != end)
					abort();
				break;
			}
			record(d, &p, &ev, in, len);
		}
		/* Events may wait with no input left. */
		while (r > 0 && off == end) {
			r = hz_http_parse(&p, in + off, 0, &used, &ev);
			if (r > 0)
				record(d, &p, &ev, in, len);
		}
	}
	if (r >= 0) {
		r = hz_http_parse_eof(&p, &ev);
		if (r > 0)
			record(d, &p, &ev, in, len);
	}
	if (r < 0) {
		if (hz_http_parser_error(&p)[0] == '\0' ||
		    hz_http_parser_status(&p) < 400 ||
		    hz_http_parse(&p, in, len, &used, &ev) != r || used != 0)
			abort();
		d->error = r;
		d->status = hz_http_parser_status(&p);
	}
}

/*
 * A request path as a file name keeps its promises: a name with no ".."
 * segment, no empty segment, no control byte, DEL or backslash, not
 * starting with '/', with room for "/" and the index after a file's; and the
 * Location of such a name, as a path, gives the same name back.
 */
static void path_checks(const char *s)
{
	static const char index[] = "index.html";
	char name[64], again[64], loc[3 * 64 + 2];
	bool dir, dir2;
	size_t n;

	if (hz_http_path_name(s, index, name, sizeof(name), &dir) != 0)
		return;
	n = strlen(name);
	/* A file's name leaves room for "/" index after it; a directory's
	 * is its index's. */
	if (n == 0 || (!dir && n + sizeof(index) + 1 > sizeof(name)) ||
	    name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") != NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool seg = i == 0 || name[i - 1] == '/';

		if (c < 0x20 || c == 0x7f || c == '\\')
			abort();
		if (seg && c == '.' && name[i + 1] == '.' &&
		    (name[i + 2] == '/' || name[i + 2] == '\0'))
			abort();
	}
	if (dir || hz_http_dir_location(name, "", loc, sizeof(loc)) != 0)
		return;
	if (hz_http_path_name(loc, index, again, sizeof(again), &dir2) != 0 ||
	    !dir2 || strncmp(again, name, n) != 0 || again[n] != '/')
		abort();
}

static void text_checks(const uint8_t *data, size_t size)
{
	char s[256];
	char out[HZ_HTTP_DATE_LEN + 1];
	struct hz_http_url u;
	const char *why;
	uint64_t t, t2;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hz_http_date_parse(s, &t) == 0) {
		hz_http_date(out, t);
		if (hz_http_date_parse(out, &t2) != 0 || t2 != t)
			abort();
	}
	if (hz_http_url_parse(s, &u, &why) == 0) {
		if (u.host[0] == '\0' || u.port == 0 || u.path[0] != '/')
			abort();
	} else if (why == NULL || why[0] == '\0') {
		abort();
	}
	path_checks(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest whole, other;
	uint8_t mode;
	size_t at;

	if (size < 3)
		return 0;
	text_checks(data + 1, size - 1);
	mode = data[0];
	at = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	at = size == 0 ? 0 : at % (size + 1);
	run(mode, data, size, size, 0, 0, &whole);
	run(mode, data, size, at, 0, 1, &other);
	if (other.h != whole.h || other.error != whole.error ||
	    (whole.error != 0 && other.status != whole.status))
		abort();
	if (size <= 4096) {
		run(mode, data, size, 0, 1, 1, &other);
		if (other.h != whole.h || other.error != whole.error)
			abort();
	}
	return 0;
}
