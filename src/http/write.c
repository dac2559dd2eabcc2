/*
 * Serialising HTTP/1.1 (haze/http.h): request and response heads into
 * caller buffers, chunk size lines, HTTP dates both ways, and the
 * standard reason phrases. No I/O and no allocation: the server and the
 * client write with these, then hand the bytes to a flow.
 *
 * Fields a caller passes are checked so that nothing it got from a peer
 * can split a message: a name must be a token, a value must hold no CR,
 * LF, NUL or other control character but HTAB.
 */
#include <string.h>

#include "haze/http.h"

/* A buffer being filled; overflow is noticed once, at the end. */
struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
	bool invalid;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char d[20];
	size_t n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, d + sizeof(d) - n, n);
}

static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", c) != NULL)
			return false;
	}
	return true;
}

static bool is_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void put_field(struct out *o, const char *name, const char *value)
{
	if (!is_token(name) || !is_value(value)) {
		o->invalid = true;
		return;
	}
	put_str(o, name);
	put(o, ": ", 2);
	put_str(o, value);
	put(o, "\r\n", 2);
}

static void put_fields(struct out *o, const struct hz_http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_field(o, h[i].name, h[i].value);
}

static void put_framing(struct out *o, enum hz_http_framing framing,
			uint64_t length)
{
	if (framing == HZ_HTTP_BODY_LENGTH) {
		put_str(o, "Content-Length: ");
		put_u64(o, length);
		put(o, "\r\n", 2);
	} else if (framing == HZ_HTTP_BODY_CHUNKED) {
		put_str(o, "Transfer-Encoding: chunked\r\n");
	}
}

static ssize_t out_end(struct out *o)
{
	put(o, "\r\n", 2);
	if (o->invalid)
		return -HZ_EINVAL;
	if (o->overflow)
		return -HZ_ENOSPC;
	return (ssize_t)o->len;
}

ssize_t hz_http_write_response_head(void *buf, size_t cap,
				    const struct hz_http_response_head *h)
{
	struct out o = {buf, cap, 0, false, false};
	const char *reason =
	    h->reason != NULL ? h->reason : hz_http_reason(h->status);
	char date[HZ_HTTP_DATE_LEN + 1];

	if (h->status < 100 || h->status > 999 || !is_value(reason))
		return -HZ_EINVAL;
	put_str(&o, "HTTP/1.1 ");
	put_u64(&o, (uint64_t)h->status);
	put(&o, " ", 1);
	put_str(&o, reason);
	put(&o, "\r\n", 2);
	if (h->date != 0) {
		hz_http_date(date, h->date);
		put_str(&o, "Date: ");
		put(&o, date, HZ_HTTP_DATE_LEN);
		put(&o, "\r\n", 2);
	}
	put_fields(&o, h->headers, h->nheaders);
	put_framing(&o, h->framing, h->content_length);
	if (h->close)
		put_str(&o, "Connection: close\r\n");
	else if (h->keep_alive)
		put_str(&o, "Connection: keep-alive\r\n");
	return out_end(&o);
}

ssize_t hz_http_write_request_head(void *buf, size_t cap,
				   const struct hz_http_request_head *h)
{
	struct out o = {buf, cap, 0, false, false};

	if (!is_token(h->method) || h->target[0] == '\0')
		return -HZ_EINVAL;
	for (const char *t = h->target; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return -HZ_EINVAL;
	put_str(&o, h->method);
	put(&o, " ", 1);
	put_str(&o, h->target);
	put_str(&o, " HTTP/1.1\r\n");
	put_field(&o, "Host", h->host);
	put_fields(&o, h->headers, h->nheaders);
	put_framing(&o, h->framing, h->content_length);
	if (h->close)
		put_str(&o, "Connection: close\r\n");
	return out_end(&o);
}

size_t hz_http_chunk_head(char buf[HZ_HTTP_CHUNK_HEAD_MAX], uint64_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	int shift = 60;

	while (shift > 0 && (len >> shift) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		buf[n++] = hex[(len >> shift) & 0xf];
	buf[n++] = '\r';
	buf[n++] = '\n';
	return n;
}

/* --- dates ---------------------------------------------------------------- */

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
				"Thu", "Fri", "Sat"};
static const char *const long_days[7] = {"Sunday",    "Monday",	  "Tuesday",
					 "Wednesday", "Thursday", "Friday",
					 "Saturday"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/*
 * The proleptic Gregorian calendar counted in 400-year eras of 146097
 * days, with years starting on March 1 so that the leap day comes last.
 * Day 0 is 1970-01-01, which is day 719468 from 0000-03-01.
 */
#define DAYS_0000_03_01_TO_EPOCH 719468

static void civil_from_days(uint64_t days_since_epoch, unsigned *year,
			    unsigned *month, unsigned *day)
{
	uint64_t z = days_since_epoch + DAYS_0000_03_01_TO_EPOCH;
	uint64_t era = z / 146097, doe = z % 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;

	*day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*year = (unsigned)(yoe + era * 400 + (*month <= 2));
}

/* Days from 1970-01-01 to @year-@month-@day (a date from 1970 on). */
static uint64_t days_from_civil(unsigned year, unsigned month, unsigned day)
{
	uint64_t y = year - (month <= 2);
	uint64_t era = y / 400, yoe = y % 400;
	uint64_t doy =
	    (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - DAYS_0000_03_01_TO_EPOCH;
}

static void two_digits(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void hz_http_date(char buf[HZ_HTTP_DATE_LEN + 1], uint64_t unix_seconds)
{
	uint64_t d = unix_seconds / 86400, s = unix_seconds % 86400;
	unsigned year, month, day;

	civil_from_days(d, &year, &month, &day);
	if (year > 9999) /* the format has four digits */
		year = 9999;
	memcpy(buf, days[(d + 4) % 7], 3); /* 1970-01-01 was a Thursday */
	memcpy(buf + 3, ", ", 2);
	two_digits(buf + 5, day);
	buf[7] = ' ';
	memcpy(buf + 8, months[month - 1], 3);
	buf[11] = ' ';
	two_digits(buf + 12, year / 100);
	two_digits(buf + 14, year % 100);
	buf[16] = ' ';
	two_digits(buf + 17, (unsigned)(s / 3600));
	buf[19] = ':';
	two_digits(buf + 20, (unsigned)(s / 60 % 60));
	buf[22] = ':';
	two_digits(buf + 23, (unsigned)(s % 60));
	memcpy(buf + 25, " GMT", 5);
}

/* Reads @n decimal digits at *@s; -1 if one is not a digit. */
static int digits(const char **s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v;
}

/* Matches @lit at *@s and moves past it. */
static bool skip(const char **s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return false;
	*s += n;
	return true;
}

static int month_of(const char **s)
{
	for (int m = 0; m < 12; m++)
		if (skip(s, months[m]))
			return m + 1;
	return -1;
}

/* Reads "HH:MM:SS" into seconds of the day; -1 if malformed. */
static int64_t time_of_day(const char **s)
{
	int h = digits(s, 2), m, sec;

	if (h < 0 || !skip(s, ":") || (m = digits(s, 2)) < 0 || !skip(s, ":") ||
	    (sec = digits(s, 2)) < 0)
		return -1;
	if (h > 23 || m > 59 || sec > 60) /* 60: a leap second */
		return -1;
	return (int64_t)h * 3600 + m * 60 + sec;
}

int hz_http_date_parse(const char *s, uint64_t *unix_seconds)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	int day = -1, month = -1, year = -1, wd = -1;
	int64_t tod = -1;

	for (int i = 0; i < 7 && wd < 0; i++)
		if (skip(&s, long_days[i]) || skip(&s, days[i]))
			wd = i;
	if (wd < 0)
		return -HZ_EINVAL;
	if (skip(&s, ", ")) {
		day = digits(&s, 2);
		if (skip(&s, " ")) { /* IMF-fixdate */
			if ((month = month_of(&s)) < 0 || !skip(&s, " "))
				return -HZ_EINVAL;
			year = digits(&s, 4);
		} else if (skip(&s, "-")) { /* RFC 850 */
			if ((month = month_of(&s)) < 0 || !skip(&s, "-"))
				return -HZ_EINVAL;
			year = digits(&s, 2);
			if (year >= 0)
				year += year < 70 ? 2000 : 1900;
		}
		if (year < 0 || !skip(&s, " ") || (tod = time_of_day(&s)) < 0 ||
		    !skip(&s, " GMT") || *s != '\0')
			return -HZ_EINVAL;
	} else if (skip(&s, " ")) { /* asctime */
		if ((month = month_of(&s)) < 0 || !skip(&s, " "))
			return -HZ_EINVAL;
		if (*s == ' ') {
			s++;
			day = digits(&s, 1);
		} else {
			day = digits(&s, 2);
		}
		if (day < 0 || !skip(&s, " ") || (tod = time_of_day(&s)) < 0 ||
		    !skip(&s, " ") || (year = digits(&s, 4)) < 0 || *s != '\0')
			return -HZ_EINVAL;
	} else {
		return -HZ_EINVAL;
	}
	if (day < 1 || (unsigned)day > mdays[month - 1] || year < 1970 ||
	    (month == 2 && day == 29 &&
	     (year % 4 != 0 || (year % 100 == 0 && year % 400 != 0))))
		return -HZ_EINVAL;
	*unix_seconds =
	    days_from_civil((unsigned)year, (unsigned)month, (unsigned)day) *
		86400 +
	    (uint64_t)tod;
	return 0;
}

/* --- reason phrases ------------------------------------------------------- */

static const struct {
	int status;
	const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *hz_http_reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}
