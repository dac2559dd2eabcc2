/*
 * The zone parser of haze/dns_server.h: master-file text (RFC 1035
 * section 5: $ORIGIN, $TTL, '@', relative names, parentheses, comments,
 * quoted strings) into a zone's memory. Records go into a table at the
 * start of the memory, their owners (lower case, shared by consecutive
 * records) and RDATA at its end, so a caller-given block needs no
 * allocation and a heap zone grows by one realloc and one move. Every
 * fault is reported with its line; the zone is checked once whole (one
 * SOA, everything under it, no CNAME beside other data, no delegation).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dns_server_impl.h"
#include "haze/mem.h"
#include "haze/wire.h"

/* Tokens of one record: a TXT of many strings is the longest. */
#define TOKS_MAX HZ_DNS_ZONE_FIELDS_MAX

struct tok {
	const char *p;
	size_t n;
	bool quoted;
};

struct parser {
	struct hz_dns_zone *z;
	struct hz_errmsg *err;
	const char *text;
	size_t len, pos;
	uint32_t line;	/* of the next character */
	uint32_t rline; /* where the current record started */
	bool blank;	/* the record's line starts with a blank */
	struct tok t[TOKS_MAX];
	size_t nt;
	uint8_t origin[HZ_DNS_NAME_MAX];
	size_t origin_len; /* 0: none */
	uint8_t owner[HZ_DNS_NAME_MAX];
	size_t owner_len; /* 0: none yet */
	bool have_default_ttl, have_last_ttl;
	uint32_t default_ttl, last_ttl;
};

/* Records a fault of the current record as @code, with its line. */
HZ_PRINTF(3, 4)
static int fail_code(struct parser *p, int code, const char *fmt, ...)
{
	char what[HZ_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return hz_errmsg_set(p->err, code, "zone line %u: %s",
			     (unsigned)p->rline, what);
}

#define fail(p, ...) fail_code(p, -HZ_EINVAL, __VA_ARGS__)

static bool tok_is(const struct tok *t, const char *s)
{
	size_t n = strlen(s);

	if (t->quoted || t->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hz_dns_lower((uint8_t)t->p[i]) != (uint8_t)s[i])
			return false;
	return true;
}

/* A token as text for messages, cut to fit. */
static const char *tok_show(const struct tok *t, char *buf, size_t cap)
{
	size_t n = t->n < cap - 1 ? t->n : cap - 1;

	memcpy(buf, t->p, n);
	buf[n] = '\0';
	return buf;
}

/* --- tokens --------------------------------------------------------------- */

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Reads the next record's tokens; 1 if there is one, 0 at the end. */
static int next_record(struct parser *p)
{
	int depth = 0;
	size_t start;

	p->nt = 0;
	for (;;) {
		if (p->pos >= p->len) {
			if (depth > 0)
				return fail(p, "'(' not closed");
			return p->nt > 0;
		}
		char c = p->text[p->pos];

		if (p->nt == 0 && depth == 0 &&
		    (p->pos == 0 || p->text[p->pos - 1] == '\n')) {
			p->rline = p->line;
			p->blank = blank(c);
		}
		if (c == '\n') {
			p->line++;
			p->pos++;
			if (depth == 0 && p->nt > 0)
				return 1;
			continue;
		}
		if (blank(c)) {
			p->pos++;
			continue;
		}
		if (c == ';') {
			while (p->pos < p->len && p->text[p->pos] != '\n')
				p->pos++;
			continue;
		}
		if (c == '(' || c == ')') {
			depth += c == '(' ? 1 : -1;
			if (depth < 0)
				return fail(p, "')' without '('");
			p->pos++;
			continue;
		}
		if (p->nt == TOKS_MAX)
			return fail(p, "more than %d fields", TOKS_MAX);
		if (c == '"') {
			start = ++p->pos;
			while (p->pos < p->len && p->text[p->pos] != '"') {
				if (p->text[p->pos] == '\n')
					return fail(p, "string not closed");
				if (p->text[p->pos] == '\\')
					p->pos++;
				p->pos++;
			}
			if (p->pos >= p->len)
				return fail(p, "string not closed");
			p->t[p->nt++] =
			    (struct tok){p->text + start, p->pos - start, true};
			p->pos++;
			continue;
		}
		start = p->pos;
		while (p->pos < p->len) {
			c = p->text[p->pos];
			if (blank(c) || c == '\n' || c == ';' || c == '(' ||
			    c == ')' || c == '"')
				break;
			if (c == '\\' && p->pos + 1 < p->len &&
			    p->text[p->pos + 1] != '\n')
				p->pos++;
			p->pos++;
		}
		p->t[p->nt++] =
		    (struct tok){p->text + start, p->pos - start, false};
	}
}

/*
 * Reads one character of @t at *i, resolving \X and \DDD; false on a bad
 * escape.
 */
static bool tok_char(const struct tok *t, size_t *i, uint8_t *c, bool *esc)
{
	*esc = false;
	if (t->p[*i] != '\\') {
		*c = (uint8_t)t->p[(*i)++];
		return true;
	}
	*esc = true;
	if (*i + 1 >= t->n)
		return false;
	if (t->p[*i + 1] >= '0' && t->p[*i + 1] <= '9') {
		unsigned v = 0;

		if (*i + 3 >= t->n)
			return false;
		for (size_t k = 1; k <= 3; k++) {
			char d = t->p[*i + k];

			if (d < '0' || d > '9')
				return false;
			v = v * 10 + (unsigned)(d - '0');
		}
		if (v > 255)
			return false;
		*c = (uint8_t)v;
		*i += 4;
		return true;
	}
	*c = (uint8_t)t->p[*i + 1];
	*i += 2;
	return true;
}

/* --- fields --------------------------------------------------------------- */

/* @t as a name (wire format, case kept) in @out; its length, or fails. */
static int parse_name(struct parser *p, const struct tok *t, uint8_t *out,
		      size_t *out_len)
{
	char show[64];
	size_t n = 0, lab = 0, i = 0;
	bool absolute = false;

	if (t->quoted)
		return fail(p, "a name is not a string");
	if (t->n == 1 && t->p[0] == '@') {
		if (p->origin_len == 0)
			return fail(p, "'@' with no $ORIGIN");
		memcpy(out, p->origin, p->origin_len);
		*out_len = p->origin_len;
		return 0;
	}
	if (t->n == 1 && t->p[0] == '.') {
		out[0] = 0;
		*out_len = 1;
		return 0;
	}
	out[n++] = 0;
	while (i < t->n) {
		uint8_t c;
		bool esc;

		if (!tok_char(t, &i, &c, &esc))
			return fail(p, "bad escape in name '%s'",
				    tok_show(t, show, sizeof(show)));
		if (c == '.' && !esc) {
			if (out[lab] == 0)
				return fail(p, "empty label in '%s'",
					    tok_show(t, show, sizeof(show)));
			if (i == t->n) {
				absolute = true;
				break;
			}
			lab = n;
			out[n++] = 0;
			continue;
		}
		if (out[lab] == 63)
			return fail(p, "label over 63 bytes in '%s'",
				    tok_show(t, show, sizeof(show)));
		if (n + 2 > HZ_DNS_NAME_MAX)
			return fail(p, "name '%s' over 255 bytes",
				    tok_show(t, show, sizeof(show)));
		out[lab]++;
		out[n++] = c;
	}
	if (out[lab] == 0)
		return fail(p, "empty label in '%s'",
			    tok_show(t, show, sizeof(show)));
	if (absolute) {
		out[n++] = 0;
	} else {
		if (p->origin_len == 0)
			return fail(p, "relative name '%s' with no $ORIGIN",
				    tok_show(t, show, sizeof(show)));
		if (n + p->origin_len > HZ_DNS_NAME_MAX)
			return fail(p, "name '%s' over 255 bytes",
				    tok_show(t, show, sizeof(show)));
		memcpy(out + n, p->origin, p->origin_len);
		n += p->origin_len;
	}
	*out_len = n;
	return 0;
}

/* @t as a decimal number up to @max, in *v. */
static bool parse_u32(const struct tok *t, uint32_t max, uint32_t *v)
{
	uint64_t x = 0;

	if (t->quoted || t->n == 0 || t->n > 10)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(t->p[i] - '0');
	}
	if (x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* A TTL: seconds, or a sum of numbers with units s m h d w ("1h30m"). */
static bool parse_ttl(const struct tok *t, uint32_t *v)
{
	uint64_t total = 0, x = 0;
	bool digits = false, units = false;

	if (t->quoted || t->n == 0)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		char c = t->p[i];
		uint64_t mul = 0;

		if (c >= '0' && c <= '9') {
			x = x * 10 + (uint64_t)(c - '0');
			digits = true;
			if (x > 0x7fffffffu)
				return false;
			continue;
		}
		switch (hz_dns_lower((uint8_t)c)) {
		case 's':
			mul = 1;
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		case 'w':
			mul = 604800;
			break;
		default:
			return false;
		}
		if (!digits)
			return false;
		total += x * mul;
		x = 0;
		digits = false;
		units = true;
	}
	if (digits)
		total += x;
	else if (!units)
		return false;
	if (total > 0x7fffffffu)
		return false;
	*v = (uint32_t)total;
	return true;
}

static bool parse_ipv4(const struct tok *t, uint8_t out[4])
{
	size_t i = 0;

	if (t->quoted)
		return false;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, nd = 0;

		while (i < t->n && t->p[i] >= '0' && t->p[i] <= '9' && nd < 4) {
			v = v * 10 + (unsigned)(t->p[i++] - '0');
			nd++;
		}
		if (nd == 0 || nd > 3 || v > 255)
			return false;
		out[part] = (uint8_t)v;
		if (part < 3 && (i >= t->n || t->p[i++] != '.'))
			return false;
	}
	return i == t->n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)hz_dns_lower((uint8_t)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Text IPv6 (RFC 4291 2.2, forms 1 and 2; no embedded IPv4). */
static bool parse_ipv6(const struct tok *t, uint8_t out[16])
{
	uint16_t g[8];
	size_t ng = 0, i = 0;
	int gap = -1;

	if (t->quoted || t->n < 2)
		return false;
	if (t->p[0] == ':') {
		if (t->p[1] != ':')
			return false;
		gap = 0;
		i = 2;
	}
	while (i < t->n) {
		unsigned v = 0, nd = 0;
		int h;

		while (i < t->n && (h = hexval(t->p[i])) >= 0) {
			if (++nd > 4)
				return false;
			v = v << 4 | (unsigned)h;
			i++;
		}
		if (nd == 0 || ng == 8)
			return false;
		g[ng++] = (uint16_t)v;
		if (i == t->n)
			break;
		if (t->p[i++] != ':')
			return false;
		if (i < t->n && t->p[i] == ':') {
			if (gap >= 0)
				return false;
			gap = (int)ng;
			i++;
		} else if (i == t->n) {
			return false;
		}
	}
	if ((gap < 0 && ng != 8) || (gap >= 0 && ng > 7))
		return false;
	memset(out, 0, 16);
	for (size_t k = 0; k < ng; k++) {
		size_t at = k;

		if (gap >= 0 && k >= (size_t)gap)
			at = 8 - ng + k;
		out[2 * at] = (uint8_t)(g[k] >> 8);
		out[2 * at + 1] = (uint8_t)g[k];
	}
	return true;
}

/* --- storage -------------------------------------------------------------- */

/* Room for one more record and @data bytes; grows a heap zone. */
/* Makes the zone's memory at least @need bytes, within its budget. */
static int grow(struct parser *p, size_t need)
{
	struct hz_dns_zone *z = p->z;
	size_t ncap;
	uint8_t *m;

	if (need <= z->cap)
		return 0;
	if (z->budget == 0 || need > z->budget)
		goto nomem;
	ncap = z->cap * 2 > need ? z->cap * 2 : need;
	if (ncap > z->budget)
		ncap = z->budget;
	m = hz_realloc(z->mem, ncap);
	if (m == NULL)
		goto nomem;
	memmove(m + ncap - z->data_len, m + z->cap - z->data_len, z->data_len);
	z->mem = m;
	z->cap = ncap;
	return 0;
nomem:
	return fail_code(p, -HZ_ENOMEM, "zone over its memory (%zu bytes)",
			 z->budget ? z->budget : z->cap);
}

/* Makes room for one more record and @data bytes of names and RDATA. */
static int reserve(struct parser *p, size_t data)
{
	struct hz_dns_zone *z = p->z;

	if (z->nrr >= HZ_DNS_ZONE_RR_MAX)
		return fail(p, "more than %d records", HZ_DNS_ZONE_RR_MAX);
	return grow(p, (z->nrr + 1) * sizeof(struct hz_dns_rr) + z->data_len +
			   data);
}

/* Copies @n bytes to the data area; their offset. */
static uint32_t store(struct hz_dns_zone *z, const uint8_t *b, size_t n)
{
	z->data_len += n;
	memcpy(z->mem + z->cap - z->data_len, b, n);
	return (uint32_t)z->data_len;
}

static int add_rr(struct parser *p, uint16_t type, uint32_t ttl,
		  const uint8_t *rdata, size_t rdlen)
{
	struct hz_dns_zone *z = p->z;
	uint8_t low[HZ_DNS_NAME_MAX];
	struct hz_dns_rr *prev, *rr;
	bool share;
	int rc;

	hz_dns_name_lower(p->owner, p->owner_len, low);
	prev = z->nrr ? &hz_dns_zone_rrs(z)[z->nrr - 1] : NULL;
	share = prev && prev->owner_len == p->owner_len &&
		memcmp(hz_dns_zone_at(z, prev->owner), low, p->owner_len) == 0;
	rc = reserve(p, rdlen + (share ? 0 : p->owner_len));
	if (rc < 0)
		return rc;
	prev = z->nrr ? &hz_dns_zone_rrs(z)[z->nrr - 1] : NULL;
	rr = &hz_dns_zone_rrs(z)[z->nrr];
	memset(rr, 0, sizeof(*rr));
	rr->owner = share ? prev->owner : store(z, low, p->owner_len);
	rr->owner_len = (uint8_t)p->owner_len;
	rr->hash = hz_dns_name_hash(low, p->owner_len);
	rr->rdata = store(z, rdata, rdlen);
	rr->rdlen = (uint16_t)rdlen;
	rr->type = type;
	rr->ttl = ttl;
	rr->line = p->rline;
	z->nrr++;
	return 0;
}

/* --- records -------------------------------------------------------------- */

struct rtype {
	const char *match; /* lower case */
	const char *name;
	uint16_t type;
};

static const struct rtype rtypes[] = {
    {"a", "A", HZ_DNS_TYPE_A},
    {"ns", "NS", HZ_DNS_TYPE_NS},
    {"cname", "CNAME", HZ_DNS_TYPE_CNAME},
    {"soa", "SOA", HZ_DNS_TYPE_SOA},
    {"ptr", "PTR", HZ_DNS_TYPE_PTR},
    {"mx", "MX", HZ_DNS_TYPE_MX},
    {"txt", "TXT", HZ_DNS_TYPE_TXT},
    {"aaaa", "AAAA", HZ_DNS_TYPE_AAAA},
    {"srv", "SRV", HZ_DNS_TYPE_SRV},
};

static const struct rtype *find_type(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(rtypes) / sizeof(rtypes[0]); i++)
		if (tok_is(t, rtypes[i].match))
			return &rtypes[i];
	return NULL;
}

/* Appends the name of token @t to @rd at *n. */
static int rd_name(struct parser *p, const struct tok *t, uint8_t *rd,
		   size_t *n)
{
	size_t len;
	int rc = parse_name(p, t, rd + *n, &len);

	if (rc == 0)
		*n += len;
	return rc;
}

static int rd_u16(struct parser *p, const struct tok *t, const char *what,
		  uint8_t *rd, size_t *n)
{
	char show[32];
	uint32_t v;

	if (!parse_u32(t, 65535, &v))
		return fail(p, "bad %s '%s'", what,
			    tok_show(t, show, sizeof(show)));
	hz_put16(rd + *n, (uint16_t)v);
	*n += 2;
	return 0;
}

/* The RDATA of a record of @type from tokens @t (@nt of them). */
static int parse_rdata(struct parser *p, const struct rtype *rt,
		       const struct tok *t, size_t nt, uint8_t *rd,
		       size_t *rdlen)
{
	static const uint8_t fields[] = {
	    [HZ_DNS_TYPE_A] = 1,     [HZ_DNS_TYPE_NS] = 1,
	    [HZ_DNS_TYPE_CNAME] = 1, [HZ_DNS_TYPE_SOA] = 7,
	    [HZ_DNS_TYPE_PTR] = 1,   [HZ_DNS_TYPE_MX] = 2,
	    [HZ_DNS_TYPE_AAAA] = 1,  [HZ_DNS_TYPE_SRV] = 4,
	};
	char show[64];
	size_t n = 0;
	int rc = 0;

	if (rt->type == HZ_DNS_TYPE_TXT) {
		if (nt == 0)
			return fail(p, "TXT without a string");
		for (size_t k = 0; k < nt; k++) {
			size_t at = n++, i = 0;

			while (i < t[k].n) {
				uint8_t c;
				bool esc;

				if (!tok_char(&t[k], &i, &c, &esc))
					return fail(p, "bad escape in TXT");
				if (n - at - 1 == 255)
					return fail(p, "TXT string over 255 "
						       "bytes");
				if (n + 1 > HZ_DNS_ZONE_RDATA_MAX)
					return fail(p, "TXT over %d bytes",
						    HZ_DNS_ZONE_RDATA_MAX);
				rd[n++] = c;
			}
			rd[at] = (uint8_t)(n - at - 1);
		}
		*rdlen = n;
		return 0;
	}
	if (nt != fields[rt->type])
		return fail(p, "%s needs %u field%s, not %zu", rt->name,
			    fields[rt->type], fields[rt->type] > 1 ? "s" : "",
			    nt);
	switch (rt->type) {
	case HZ_DNS_TYPE_A:
		if (!parse_ipv4(&t[0], rd))
			return fail(p, "bad IPv4 address '%s'",
				    tok_show(&t[0], show, sizeof(show)));
		n = 4;
		break;
	case HZ_DNS_TYPE_AAAA:
		if (!parse_ipv6(&t[0], rd))
			return fail(p, "bad IPv6 address '%s'",
				    tok_show(&t[0], show, sizeof(show)));
		n = 16;
		break;
	case HZ_DNS_TYPE_NS:
	case HZ_DNS_TYPE_CNAME:
	case HZ_DNS_TYPE_PTR:
		rc = rd_name(p, &t[0], rd, &n);
		break;
	case HZ_DNS_TYPE_MX:
		rc = rd_u16(p, &t[0], "MX preference", rd, &n);
		if (rc == 0)
			rc = rd_name(p, &t[1], rd, &n);
		break;
	case HZ_DNS_TYPE_SRV:
		rc = rd_u16(p, &t[0], "SRV priority", rd, &n);
		if (rc == 0)
			rc = rd_u16(p, &t[1], "SRV weight", rd, &n);
		if (rc == 0)
			rc = rd_u16(p, &t[2], "SRV port", rd, &n);
		if (rc == 0)
			rc = rd_name(p, &t[3], rd, &n);
		break;
	case HZ_DNS_TYPE_SOA:
		rc = rd_name(p, &t[0], rd, &n);
		if (rc == 0)
			rc = rd_name(p, &t[1], rd, &n);
		for (size_t k = 2; rc == 0 && k < 7; k++) {
			uint32_t v;
			bool ok = k == 2 ? parse_u32(&t[k], UINT32_MAX, &v)
					 : parse_ttl(&t[k], &v);

			if (!ok)
				return fail(
				    p, "bad SOA number '%s'",
				    tok_show(&t[k], show, sizeof(show)));
			hz_put32(rd + n, v);
			n += 4;
		}
		break;
	}
	*rdlen = n;
	return rc;
}

static int directive(struct parser *p)
{
	char show[32];
	size_t len;
	uint8_t name[HZ_DNS_NAME_MAX];
	int rc;

	if (tok_is(&p->t[0], "$origin")) {
		if (p->nt != 2)
			return fail(p, "$ORIGIN needs one name");
		rc = parse_name(p, &p->t[1], name, &len);
		if (rc < 0)
			return rc;
		memcpy(p->origin, name, len);
		p->origin_len = len;
		return 0;
	}
	if (tok_is(&p->t[0], "$ttl")) {
		if (p->nt != 2 || !parse_ttl(&p->t[1], &p->default_ttl))
			return fail(p, "$TTL needs one TTL");
		p->have_default_ttl = true;
		return 0;
	}
	if (tok_is(&p->t[0], "$include"))
		return fail(p, "$INCLUDE is not supported");
	return fail(p, "unknown directive '%s'",
		    tok_show(&p->t[0], show, sizeof(show)));
}

static int record(struct parser *p)
{
	uint8_t rd[HZ_DNS_ZONE_RDATA_MAX + HZ_DNS_NAME_MAX];
	const struct rtype *rt = NULL;
	bool have_ttl = false, have_class = false;
	uint32_t ttl = 0;
	size_t i = 0, rdlen = 0;
	char show[32];
	int rc;

	if (p->t[0].p[0] == '$' && !p->t[0].quoted)
		return directive(p);
	if (!p->blank) {
		rc = parse_name(p, &p->t[i++], p->owner, &p->owner_len);
		if (rc < 0)
			return rc;
	} else if (p->owner_len == 0) {
		return fail(p, "no owner name, and none before");
	}
	for (; i < p->nt && rt == NULL; i++) {
		const struct tok *t = &p->t[i];

		if (!have_ttl && !t->quoted && t->n && t->p[0] >= '0' &&
		    t->p[0] <= '9') {
			if (!parse_ttl(t, &ttl))
				return fail(p, "bad TTL '%s'",
					    tok_show(t, show, sizeof(show)));
			have_ttl = true;
		} else if (!have_class && tok_is(t, "in")) {
			have_class = true;
		} else if (!have_class && (tok_is(t, "ch") || tok_is(t, "hs") ||
					   tok_is(t, "cs"))) {
			return fail(p, "class %s is not supported (only IN)",
				    tok_show(t, show, sizeof(show)));
		} else if ((rt = find_type(t)) == NULL) {
			return fail(p, "unknown or unsupported type '%s'",
				    tok_show(t, show, sizeof(show)));
		}
	}
	if (rt == NULL)
		return fail(p, "no record type");
	if (!have_ttl) {
		if (p->have_default_ttl)
			ttl = p->default_ttl;
		else if (p->have_last_ttl)
			ttl = p->last_ttl;
		else
			return fail(p, "no TTL, and no $TTL before");
	}
	rc = parse_rdata(p, rt, &p->t[i], p->nt - i, rd, &rdlen);
	if (rc < 0)
		return rc;
	p->last_ttl = ttl;
	p->have_last_ttl = true;
	return add_rr(p, rt->type, ttl, rd, rdlen);
}

/* --- the name index ------------------------------------------------------- */

/* The name slot @ref stands for, and its length in *@len. */
static const uint8_t *slot_name(const struct hz_dns_zone *z, uint32_t ref,
				size_t *len)
{
	const struct hz_dns_rr *rr = &hz_dns_zone_rrs(z)[(ref - 1) >> 8];
	size_t off = (ref - 1) & 0xff;

	*len = rr->owner_len - off;
	return hz_dns_zone_at(z, rr->owner) + off;
}

/*
 * The slot holding @name (hash @h) as an owner (@below false) or as a
 * name with owners below it (@below true); or the empty slot where it
 * would go.
 */
static struct hz_dns_slot *slot_find(const struct hz_dns_zone *z,
				     const uint8_t *name, size_t len,
				     uint32_t h, bool below)
{
	for (uint32_t i = h;; i++) {
		struct hz_dns_slot *s = &z->index[i & z->index_mask];
		const uint8_t *n;
		size_t n_len;

		if (s->ref == 0)
			return s;
		if (s->hash != h || (((s->ref - 1) & 0xff) != 0) != below)
			continue;
		n = slot_name(z, s->ref, &n_len);
		if (n_len == len && memcmp(n, name, len) == 0)
			return s;
	}
}

const struct hz_dns_rr *hz_dns_zone_owner(const struct hz_dns_zone *z,
					  const uint8_t *name, size_t len)
{
	const struct hz_dns_slot *s =
	    slot_find(z, name, len, hz_dns_name_hash(name, len), false);

	return s->ref ? &hz_dns_zone_rrs(z)[(s->ref - 1) >> 8] : NULL;
}

bool hz_dns_zone_below(const struct hz_dns_zone *z, const uint8_t *name,
		       size_t len)
{
	return slot_find(z, name, len, hz_dns_name_hash(name, len), true)
		   ->ref != 0;
}

/*
 * Builds the index between the record table and the data: every owner
 * name, chaining its records in master-file order, and every proper
 * ancestor of an owner. At most two thirds of the slots are used.
 */
static int build_index(struct parser *p)
{
	struct hz_dns_zone *z = p->z;
	size_t names = 0, slots = 8, table;
	int rc;

	for (size_t i = 0; i < z->nrr; i++) {
		const struct hz_dns_rr *rr = &hz_dns_zone_rrs(z)[i];

		if (i > 0 && rr->owner == rr[-1].owner)
			continue; /* the same owner as the last: no new name */
		for (size_t off = 0; off < rr->owner_len;
		     off += 1 + (size_t)hz_dns_zone_at(z, rr->owner)[off])
			names++;
	}
	while (slots < names + names / 2)
		slots *= 2;
	table = (z->nrr * sizeof(struct hz_dns_rr) + 7) & ~(size_t)7;
	rc = grow(p, table + slots * sizeof(struct hz_dns_slot) + z->data_len);
	if (rc < 0)
		return rc;
	z->index = (struct hz_dns_slot *)(void *)(z->mem + table);
	z->index_mask = (uint32_t)slots - 1;
	memset(z->index, 0, slots * sizeof(struct hz_dns_slot));
	for (size_t i = 0; i < z->nrr; i++) {
		struct hz_dns_rr *rr = &hz_dns_zone_rrs(z)[i];
		const uint8_t *name = hz_dns_zone_at(z, rr->owner);
		struct hz_dns_slot *s =
		    slot_find(z, name, rr->owner_len, rr->hash, false);

		if (s->ref != 0) {
			struct hz_dns_rr *last =
			    &hz_dns_zone_rrs(z)[(s->ref - 1) >> 8];

			while (last->next)
				last = &hz_dns_zone_rrs(z)[last->next - 1];
			last->next = (uint16_t)(i + 1);
			continue;
		}
		*s = (struct hz_dns_slot){rr->hash, 1 + ((uint32_t)i << 8)};
		/* Its ancestors, up to the first one already known. */
		for (size_t off = 1 + (size_t)name[0]; off < rr->owner_len;
		     off += 1 + (size_t)name[off]) {
			size_t n = rr->owner_len - off;
			uint32_t h = hz_dns_name_hash(name + off, n);

			s = slot_find(z, name + off, n, h, true);
			if (s->ref != 0)
				break;
			*s = (struct hz_dns_slot){
			    h, 1 + ((uint32_t)i << 8 | (uint32_t)off)};
		}
	}
	return 0;
}

/* --- the whole zone ------------------------------------------------------- */

/* Checks the zone once whole; @p for messages. */
static int check_zone(struct parser *p)
{
	struct hz_dns_zone *z = p->z;
	struct hz_dns_rr *rr = hz_dns_zone_rrs(z);
	char a[HZ_DNS_TEXT_MAX], b[HZ_DNS_TEXT_MAX];
	bool found = false;

	for (size_t i = 0; i < z->nrr; i++) {
		if (rr[i].type != HZ_DNS_TYPE_SOA)
			continue;
		p->rline = rr[i].line;
		if (found)
			return fail(p, "a second SOA record");
		found = true;
		z->soa = i;
		z->apex_len = rr[i].owner_len;
		memcpy(z->apex, hz_dns_zone_at(z, rr[i].owner), z->apex_len);
	}
	if (!found) {
		p->rline = p->line;
		return fail(p, "no SOA record in the zone");
	}
	{
		const uint8_t *soa = hz_dns_zone_at(z, rr[z->soa].rdata);
		uint32_t min = hz_get32(soa + rr[z->soa].rdlen - 4);

		z->neg_ttl = min < rr[z->soa].ttl ? min : rr[z->soa].ttl;
	}
	for (size_t i = 0; i < z->nrr; i++) {
		const uint8_t *o = hz_dns_zone_at(z, rr[i].owner);

		p->rline = rr[i].line;
		hz_dns_name_text(o, rr[i].owner_len, a, sizeof(a));
		if (!hz_dns_name_under(o, rr[i].owner_len, z->apex,
				       z->apex_len)) {
			hz_dns_name_text(z->apex, z->apex_len, b, sizeof(b));
			return fail(p, "'%s' is outside the zone '%s'", a, b);
		}
		if (rr[i].type == HZ_DNS_TYPE_NS &&
		    rr[i].owner_len != z->apex_len)
			return fail(p,
				    "NS at '%s': delegations are not "
				    "supported",
				    a);
		if (rr[i].type != HZ_DNS_TYPE_CNAME)
			continue;
		for (const struct hz_dns_rr *other =
			 hz_dns_zone_owner(z, o, rr[i].owner_len);
		     other != NULL; other = hz_dns_rr_next(z, other)) {
			if (other == &rr[i])
				continue;
			return fail(p,
				    "CNAME at '%s' beside other data "
				    "(line %u)",
				    a, (unsigned)other->line);
		}
	}
	return 0;
}

static int parse(struct hz_dns_zone *z, const char *origin, const char *text,
		 size_t len, struct hz_errmsg *err)
{
	static struct parser none;
	struct parser *p;
	int rc;

	/* The parser is large (a record's tokens); it lives on the heap so
	 * fibers with small stacks can load zones. */
	p = hz_malloc(sizeof(*p));
	if (p == NULL)
		return hz_errmsg_set(err, -HZ_ENOMEM, "zone: out of memory");
	*p = none;
	p->z = z;
	p->err = err;
	p->text = text;
	p->len = len;
	p->line = 1;
	p->rline = 1;
	if (origin != NULL) {
		struct tok t = {origin, strlen(origin), false};
		uint8_t name[HZ_DNS_NAME_MAX];
		size_t n;

		if (t.n == 0 || origin[t.n - 1] != '.') {
			rc = hz_errmsg_set(err, -HZ_EINVAL,
					   "zone: origin '%s' must end in '.'",
					   origin);
			goto out;
		}
		rc = parse_name(p, &t, name, &n);
		if (rc < 0)
			goto out;
		memcpy(p->origin, name, n);
		p->origin_len = n;
	}
	while ((rc = next_record(p)) > 0) {
		rc = record(p);
		if (rc < 0)
			goto out;
	}
	if (rc == 0)
		rc = build_index(p);
	if (rc == 0)
		rc = check_zone(p);
out:
	hz_free(p);
	return rc;
}

int hz_dns_zone_parse(struct hz_dns_zone *z, void *mem, size_t cap,
		      const char *origin, const char *text, size_t len,
		      struct hz_errmsg *err)
{
	memset(z, 0, sizeof(*z));
	if ((uintptr_t)mem % _Alignof(struct hz_dns_rr) != 0)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "zone: memory not aligned");
	z->mem = mem;
	z->cap = cap;
	return parse(z, origin, text, len, err);
}

int hz_dns_zone_load(struct hz_dns_zone *z, size_t budget, const char *origin,
		     const char *text, size_t len, struct hz_errmsg *err)
{
	size_t first = 4096 < budget ? 4096 : budget;
	int rc;

	memset(z, 0, sizeof(*z));
	if (budget < sizeof(struct hz_dns_rr))
		return hz_errmsg_set(err, -HZ_ENOMEM,
				     "zone: budget of %zu bytes too small",
				     budget);
	z->mem = hz_malloc(first);
	if (z->mem == NULL)
		return hz_errmsg_set(err, -HZ_ENOMEM, "zone: out of memory");
	z->cap = first;
	z->budget = budget;
	rc = parse(z, origin, text, len, err);
	if (rc < 0)
		hz_dns_zone_release(z);
	return rc;
}

void hz_dns_zone_release(struct hz_dns_zone *z)
{
	if (z->budget != 0)
		hz_free(z->mem);
	memset(z, 0, sizeof(*z));
}
