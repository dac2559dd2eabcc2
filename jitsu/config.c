/*
 * haze-jitsu's configuration file (format in docs/jitsu.md): global
 * settings at the start of a line, each service a `service NAME` line
 * followed by its settings indented. Everything is checked before the
 * daemon touches the host, and each refusal is one line naming the file,
 * the line and the entry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jitsu/jitsu.h"

/* The mailbox the zone's SOA names, below the zone. */
#define SOA_MAILBOX "hostmaster"

/* A parse in progress: where it is, for messages. */
struct cursor {
	const char *path;
	unsigned line;
	struct hz_errmsg *err;
	unsigned seen[16]; /* the line each global setting was given on */
};

/* The global settings, each to be given once. */
static const char *const globals[] = {
    "bridge", "zone",	     "dns", "upstream",	  "user",	  "state",
    "tender", "max-running", "ttl", "rate-limit", "boot-timeout", "answer",
};

HZ_PRINTF(2, 3)
static int refuse(const struct cursor *c, const char *fmt, ...)
{
	char what[HZ_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* Line 0: a fault of the whole file (a setting missing). */
	if (c->line == 0)
		return hz_errmsg_set(c->err, -HZ_EINVAL, "%s: %s", c->path,
				     what);
	return hz_errmsg_set(c->err, -HZ_EINVAL, "%s:%u: %s", c->path, c->line,
			     what);
}

/* The index in globals[] of setting @k; -1 if not one. */
static int global_index(const char *k)
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		if (strcmp(k, globals[i]) == 0)
			return (int)i;
	return -1;
}

/* Splits @s into words in place: spaces separate, "..." groups. */
static int split(const struct cursor *c, char *s, char **w, size_t cap,
		 size_t *n)
{
	*n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return 0;
		if (*n == cap)
			return refuse(c, "more than %zu words", cap);
		if (*s == '"') {
			w[(*n)++] = ++s;
			s = strchr(s, '"');
			if (s == NULL)
				return refuse(c, "a quote is not closed");
		} else {
			w[(*n)++] = s;
			s += strcspn(s, " \t");
			if (*s == '\0')
				return 0;
		}
		*s++ = '\0';
	}
}

/* Parses a decimal in [lo, hi]; false if @s is not one. */
static bool number(const char *s, unsigned long lo, unsigned long hi,
		   uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Parses A.B.C.D:PORT. */
static bool endpoint(const char *s, struct sockaddr_in *out)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	uint32_t port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host) ||
	    !number(colon + 1, 1, 65535, &port))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

/* Lower-cases @in into @out without a final dot; false if not a name. */
static bool dns_name(const char *in, char *out, size_t cap)
{
	size_t n = strlen(in), label = 0;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= cap || n > HZ_DNS_TEXT_MAX - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch + 32);
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = ch;
	}
	out[n] = '\0';
	return label > 0;
}

/* Encodes text name @s (checked by dns_name) in wire format. */
static size_t wire_name(const char *s, uint8_t *out)
{
	size_t o = 0;

	while (*s) {
		size_t l = strcspn(s, ".");

		out[o++] = (uint8_t)l;
		memcpy(out + o, s, l);
		o += l;
		s += l;
		if (*s == '.')
			s++;
	}
	out[o++] = 0;
	return o;
}

/* Whether @name is @zone or below it (both from dns_name). */
static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (n == z)
		return strcmp(name, zone) == 0;
	return n > z && name[n - z - 1] == '.' &&
	       strcmp(name + n - z, zone) == 0;
}

/* Resolves @path against the directory of the configuration file. */
static int config_relative(const struct cursor *c, const char *path, char *out,
			   size_t cap)
{
	const char *slash = strrchr(c->path, '/');
	int n;

	if (path[0] == '/' || slash == NULL)
		n = snprintf(out, cap, "%s", path);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - c->path),
			     c->path, path);
	if (n < 0 || (size_t)n >= cap)
		return refuse(c, "path too long: %s", path);
	return 0;
}

/*
 * Ends @text where its comment starts: a '#' where a word would start
 * (at the start or after a space or tab), outside a quoted string, as
 * split() treats the other lines. A '#' inside a word or a TXT string
 * ("a # b", with \" escaping a quote) is the record's.
 */
static void strip_comment(char *text)
{
	bool quoted = false;

	for (char *p = text; *p; p++) {
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '#' &&
			 (p == text || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
}

/* An extra record of the zone: @text, a master-file line and perhaps a
 * comment. */
static int record(struct jitsu *j, const struct cursor *c, char *text)
{
	size_t n;

	strip_comment(text);
	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		text[--n] = '\0';
	if (*text == '\0')
		return refuse(c, "record wants a master-file line");
	if (j->nrecords == JITSU_RECORDS_MAX)
		return refuse(c, "more than %d records", JITSU_RECORDS_MAX);
	if ((j->records[j->nrecords] = strdup(text)) == NULL)
		return refuse(c, "out of memory");
	j->record_line[j->nrecords] = c->line;
	j->nrecords++;
	return 0;
}

/* One global setting: @w[0] the key, @n words in all. */
static int global(struct jitsu *j, struct cursor *c, char **w, size_t n)
{
	const char *k = w[0];
	uint32_t v;

	/* Given twice, one would silently win: which was meant? */
	int g = global_index(k);
	if (g >= 0 && c->seen[g] != 0)
		return refuse(c, "%s given twice (line %u)", k, c->seen[g]);
	if (g >= 0)
		c->seen[g] = c->line;

	if (strcmp(k, "bridge") == 0) {
		char *slash;

		if (n != 3 || strlen(w[1]) >= IFNAMSIZ - 4 ||
		    (slash = strchr(w[2], '/')) == NULL)
			return refuse(c,
				      "bridge wants NAME (at most %d "
				      "characters) and A.B.C.D/N",
				      IFNAMSIZ - 5);
		*slash = '\0';
		if (inet_pton(AF_INET, w[2], &j->bridge_addr) != 1 ||
		    !number(slash + 1, 8, 30, &v))
			return refuse(c, "bridge %s: bad address %s/%s", w[1],
				      w[2], slash + 1);
		snprintf(j->bridge, sizeof(j->bridge), "%s", w[1]);
		j->prefix_len = v;
		return 0;
	}
	if (n != 2)
		return refuse(c, "%s wants one value", k);
	if (strcmp(k, "zone") == 0) {
		if (!dns_name(w[1], j->zone, sizeof(j->zone)))
			return refuse(c, "zone %s: not a DNS name", w[1]);
		/* The SOA names hostmaster.ZONE: that must be a name too. */
		size_t most = HZ_DNS_TEXT_MAX - 1 - strlen(SOA_MAILBOX ".");
		if (strlen(j->zone) > most)
			return refuse(c,
				      "zone: %zu characters, at most %zu "
				      "(its SOA names " SOA_MAILBOX ".ZONE)",
				      strlen(j->zone), most);
	} else if (strcmp(k, "dns") == 0) {
		if (!endpoint(w[1], &j->dns_addr))
			return refuse(c, "dns %s: not A.B.C.D:PORT", w[1]);
	} else if (strcmp(k, "upstream") == 0) {
		if (!endpoint(w[1], &j->upstream))
			return refuse(c, "upstream %s: not A.B.C.D:PORT", w[1]);
		j->have_upstream = true;
	} else if (strcmp(k, "user") == 0) {
		snprintf(j->user, sizeof(j->user), "%s", w[1]);
	} else if (strcmp(k, "state") == 0) {
		return config_relative(c, w[1], j->state_dir,
				       sizeof(j->state_dir));
	} else if (strcmp(k, "tender") == 0) {
		return config_relative(c, w[1], j->tender, sizeof(j->tender));
	} else if (strcmp(k, "max-running") == 0) {
		if (!number(w[1], 1, JITSU_SERVICES_MAX, &v))
			return refuse(c, "max-running %s: not 1..%d", w[1],
				      JITSU_SERVICES_MAX);
		j->max_running = v;
	} else if (strcmp(k, "ttl") == 0) {
		if (!number(w[1], 0, 86400, &j->ttl))
			return refuse(c, "ttl %s: not 0..86400", w[1]);
	} else if (strcmp(k, "rate-limit") == 0) {
		if (!number(w[1], 1, 1000000, &j->rrl_rate))
			return refuse(c, "rate-limit %s: not 1..1000000", w[1]);
		j->rrl_burst = j->rrl_rate * 2;
	} else if (strcmp(k, "boot-timeout") == 0) {
		if (!number(w[1], 10, 600000, &j->boot_timeout_ms))
			return refuse(c, "boot-timeout %s: not 10..600000 ms",
				      w[1]);
	} else if (strcmp(k, "answer") == 0) {
		if (strcmp(w[1], "ready") == 0)
			j->answer = JITSU_ANSWER_READY;
		else if (strcmp(w[1], "at-once") == 0)
			j->answer = JITSU_ANSWER_AT_ONCE;
		else
			return refuse(c, "answer %s: not ready or at-once",
				      w[1]);
	} else {
		return refuse(c, "unknown setting %s", k);
	}
	return 0;
}

/* One setting of service @s. */
static int setting(struct jitsu_service *s, const struct cursor *c, char **w,
		   size_t n)
{
	const char *k = w[0];

	if (strcmp(k, "args") == 0) {
		/* Several args lines add up. */
		if (s->nargs + n - 1 > JITSU_ARGS_MAX)
			return refuse(c, "service %s: more than %d args",
				      s->name, JITSU_ARGS_MAX);
		for (size_t i = 1; i < n; i++)
			if ((s->args[s->nargs++] = strdup(w[i])) == NULL)
				return refuse(c, "out of memory");
		return 0;
	}
	if (n != 2)
		return refuse(c, "service %s: %s wants one value", s->name, k);
	if (strcmp(k, "target") == 0) {
		if (strcmp(w[1], "unix") == 0)
			s->target = JITSU_UNIX;
		else if (strcmp(w[1], "kvm") == 0)
			s->target = JITSU_KVM;
		else
			return refuse(c,
				      "service %s: target %s: not unix or kvm",
				      s->name, w[1]);
	} else if (strcmp(k, "image") == 0) {
		return config_relative(c, w[1], s->image, sizeof(s->image));
	} else if (strcmp(k, "address") == 0) {
		if (inet_pton(AF_INET, w[1], &s->addr) != 1)
			return refuse(c, "service %s: address %s: not A.B.C.D",
				      s->name, w[1]);
	} else if (strcmp(k, "mem") == 0) {
		if (!number(w[1], 2, 3072, &s->mem_mib))
			return refuse(c, "service %s: mem %s: not 2..3072 MiB",
				      s->name, w[1]);
	} else if (strcmp(k, "idle") == 0) {
		if (!number(w[1], 0, 86400 * 365, &s->idle_s))
			return refuse(c, "service %s: idle %s: not seconds",
				      s->name, w[1]);
	} else if (strcmp(k, "net") == 0) {
		if (strlen(w[1]) >= sizeof(s->net))
			return refuse(c, "service %s: net %s: too long",
				      s->name, w[1]);
		snprintf(s->net, sizeof(s->net), "%s", w[1]);
	} else {
		return refuse(c, "service %s: unknown setting %s", s->name, k);
	}
	return 0;
}

/* Starts service @raw: its full name, its defaults. */
static int service(struct jitsu *j, const struct cursor *c, const char *raw)
{
	struct jitsu_service *s;
	char name[HZ_DNS_TEXT_MAX + 1];
	size_t rl = strlen(raw);

	if (j->zone[0] == '\0')
		return refuse(c, "service %s: the zone must come first", raw);
	if (j->nsvc == JITSU_SERVICES_MAX)
		return refuse(c, "more than %d services", JITSU_SERVICES_MAX);
	if (!dns_name(raw, name, sizeof(name)))
		return refuse(c, "service %s: not a DNS name", raw);
	/* A relative name is below the zone; an absolute one must be in it. */
	if (raw[rl - 1] != '.') {
		char full[HZ_DNS_TEXT_MAX + 2];
		int k = snprintf(full, sizeof(full), "%s.%s", name, j->zone);

		if (k < 0 || (size_t)k >= sizeof(name))
			return refuse(c, "service %s: name too long", raw);
		memcpy(name, full, (size_t)k + 1);
	}
	if (!in_zone(name, j->zone))
		return refuse(c, "service %s: outside the zone %s", raw,
			      j->zone);
	if (strncmp(name, "ns.", 3) == 0 && strcmp(name + 3, j->zone) == 0)
		return refuse(c,
			      "service %s: the zone's name server has that "
			      "name",
			      name);
	for (size_t i = 0; i < j->nsvc; i++)
		if (strcmp(j->svc[i].name, name) == 0)
			return refuse(c, "service %s: named twice (line %u)",
				      name, j->svc[i].line);
	s = &j->svc[j->nsvc++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->wire_len = wire_name(name, s->wire);
	s->target = JITSU_UNIX;
	s->mem_mib = 32;
	s->idle_s = 60;
	snprintf(s->net, sizeof(s->net), "service");
	s->line = c->line;
	s->tap_fd = s->spare_fd = s->pkt_fd = s->pidfd = s->notify_fd = -1;
	return 0;
}

/* The checks that need the whole file. */
static int check(struct jitsu *j, struct cursor *c)
{
	uint32_t mask = j->prefix_len ? htonl(~0u << (32 - j->prefix_len)) : 0;

	c->line = 0;
	if (j->zone[0] == '\0')
		return refuse(c, "no zone");
	if (j->dns_addr.sin_family != AF_INET)
		return refuse(c, "no dns address (dns A.B.C.D:PORT)");
	if (j->bridge[0] == '\0')
		return refuse(c, "no bridge (bridge NAME A.B.C.D/N)");
	if (j->state_dir[0] == '\0')
		return refuse(c, "no state directory (state PATH)");
	c->line = c->seen[global_index("user")];
	if (j->user[0] != '\0' && getpwnam(j->user) == NULL)
		return refuse(c, "user %s: no such user", j->user);
	for (size_t i = 0; i < j->nsvc; i++) {
		struct jitsu_service *s = &j->svc[i];
		struct stat st;

		c->line = s->line;
		if (s->image[0] == '\0')
			return refuse(c, "service %s: no image", s->name);
		if (stat(s->image, &st) < 0)
			return refuse(c, "service %s: image %s: %s", s->name,
				      s->image, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return refuse(c, "service %s: image %s: not a file",
				      s->name, s->image);
		if (s->target == JITSU_UNIX && access(s->image, X_OK) < 0)
			return refuse(c, "service %s: image %s: not executable",
				      s->name, s->image);
		if (s->addr.s_addr == 0)
			return refuse(c, "service %s: no address", s->name);
		uint32_t host = s->addr.s_addr & ~mask;
		if ((s->addr.s_addr & mask) != (j->bridge_addr.s_addr & mask) ||
		    s->addr.s_addr == j->bridge_addr.s_addr ||
		    (j->prefix_len < 31 && (host == 0 || host == ~mask)))
			return refuse(c,
				      "service %s: address %s: not a free "
				      "host address in the bridge's network",
				      s->name, inet_ntoa(s->addr));
		for (size_t k = 0; k < i; k++)
			if (j->svc[k].addr.s_addr == s->addr.s_addr)
				return refuse(
				    c,
				    "service %s: address %s also given "
				    "to %s (line %u)",
				    s->name, inet_ntoa(s->addr), j->svc[k].name,
				    j->svc[k].line);
	}
	if (j->nsvc > 0 && j->tender[0] == '\0')
		for (size_t i = 0; i < j->nsvc; i++)
			if (j->svc[i].target == JITSU_KVM) {
				c->line = j->svc[i].line;
				return refuse(c,
					      "service %s: target kvm needs "
					      "a tender (tender PATH)",
					      j->svc[i].name);
			}
	for (size_t i = 0; i < j->nsvc; i++)
		if (j->svc[i].target == JITSU_KVM &&
		    access(j->tender, X_OK) < 0) {
			c->line = c->seen[global_index("tender")];
			return refuse(c, "tender %s: %s", j->tender,
				      strerror(errno));
		}
	return 0;
}

int jitsu_config_read(struct jitsu *j, const char *path, struct hz_errmsg *err)
{
	FILE *f = fopen(path, "r");
	int r;

	if (f == NULL)
		return hz_errmsg_set(err, -HZ_EINVAL, "%s: %s", path,
				     strerror(errno));
	r = jitsu_config_load(j, f, path, err);
	fclose(f);
	return r;
}

void jitsu_config_free(struct jitsu *j)
{
	for (size_t i = 0; i < j->nrecords; i++)
		free(j->records[i]);
	for (size_t i = 0; i < j->nsvc; i++)
		for (size_t k = 0; k < j->svc[i].nargs; k++)
			free(j->svc[i].args[k]);
	j->nrecords = j->nsvc = 0;
}

int jitsu_config_load(struct jitsu *j, FILE *f, const char *path,
		      struct hz_errmsg *err)
{
	struct cursor c = {.path = path, .err = err};
	char line[JITSU_LINE_MAX + 2];
	struct jitsu_service *cur = NULL;
	int r = 0;

	snprintf(j->config_path, sizeof(j->config_path), "%s", path);
	j->max_running = 32;
	j->boot_timeout_ms = 10000;
	j->rrl_rate = 20;
	j->rrl_burst = 40;
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *w[JITSU_ARGS_MAX + 1];
		size_t n, len = strlen(line);
		bool indented = line[0] == ' ' || line[0] == '\t';

		c.line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (len + 1 < sizeof(line) && !feof(f)) {
			/* fgets stopped at neither a newline nor a full
			 * buffer: the line holds a NUL byte. */
			r = refuse(&c, "a NUL byte in the line");
			break;
		} else if (!feof(f)) {
			r = refuse(&c, "line longer than %d bytes",
				   JITSU_LINE_MAX);
			break;
		}
		/* A record is master-file text: kept as written. */
		if (strncmp(line, "record", 6) == 0 &&
		    (line[6] == ' ' || line[6] == '\t')) {
			cur = NULL;
			r = record(j, &c, line + 7);
			continue;
		}
		r = split(&c, line, w, JITSU_ARGS_MAX + 1, &n);
		if (r < 0 || n == 0)
			continue;
		if (indented) {
			if (cur == NULL)
				r = refuse(&c,
					   "%s: indented, but no service "
					   "above",
					   w[0]);
			else
				r = setting(cur, &c, w, n);
		} else if (strcmp(w[0], "service") == 0) {
			r = n == 2 ? service(j, &c, w[1])
				   : refuse(&c, "service wants one name");
			cur = r == 0 ? &j->svc[j->nsvc - 1] : NULL;
		} else {
			cur = NULL;
			r = global(j, &c, w, n);
		}
	}
	if (r == 0 && ferror(f))
		r = hz_errmsg_set(err, -HZ_EIO, "%s: read error", path);
	return r < 0 ? r : check(j, &c);
}

/* The lines jitsu_zone_text writes before the services' A records. */
#define ZONE_HEAD_LINES 5

size_t jitsu_zone_text(const struct jitsu *j, char *buf, size_t cap)
{
	size_t o = 0;
	int k;

#define EMIT(...)                                                          \
	do {                                                               \
		k = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__); \
		o += k > 0 ? (size_t)k : 0;                                \
	} while (0)
	/* ZONE_HEAD_LINES lines, then one a service, then one a record. */
	EMIT("$ORIGIN %s.\n$TTL %u\n", j->zone, j->ttl);
	EMIT("@ IN SOA ns " SOA_MAILBOX " 1 3600 600 86400 %u\n", j->ttl);
	EMIT("@ IN NS ns\n");
	EMIT("ns IN A %s\n", inet_ntoa(j->dns_addr.sin_addr));
	for (size_t i = 0; i < j->nsvc; i++)
		EMIT("%s. IN A %s\n", j->svc[i].name,
		     inet_ntoa(j->svc[i].addr));
	for (size_t i = 0; i < j->nrecords; i++)
		EMIT("%s\n", j->records[i]);
#undef EMIT
	return o;
}

unsigned jitsu_zone_line_source(const struct jitsu *j, unsigned zline,
				bool *is_record)
{
	*is_record = false;
	if (zline <= ZONE_HEAD_LINES)
		return 0;
	zline -= ZONE_HEAD_LINES + 1;
	if (zline < j->nsvc)
		return j->svc[zline].line;
	zline -= (unsigned)j->nsvc;
	if (zline < j->nrecords) {
		*is_record = true;
		return j->record_line[zline];
	}
	return 0;
}
