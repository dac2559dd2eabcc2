/*
 * Logging and counters (see haze/log.h). Sources and counters link
 * themselves into a registry the first time they are used.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "haze/log.h"
#include "haze/platform.h"

#define SPEC_MAX 16
#define LINE_MAX 512

/* The levels a spec sets: the default and per-source exceptions. */
struct level_table {
	int default_level;
	struct {
		char name[24];
		int level;
	} spec[SPEC_MAX];
	int nspec;
};

static struct {
	struct level_table levels;
	struct hz_log_source *sources;
	struct hz_counter *counters;
	struct hz_counter **counters_tail;
	uint64_t origin;
} L = {.levels.default_level = HZ_LOG_INFO};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void hz_log_set_origin(uint64_t origin_ns)
{
	L.origin = origin_ns;
}

static int level_for(const char *name)
{
	for (int i = 0; i < L.levels.nspec; i++)
		if (strcmp(L.levels.spec[i].name, name) == 0)
			return L.levels.spec[i].level;
	return L.levels.default_level;
}

bool hz_log_enabled(struct hz_log_source *src, enum hz_log_level level)
{
	if (src->level < 0) {
		src->level = level_for(src->name);
		src->next = L.sources;
		L.sources = src;
	}
	return (int)level <= src->level;
}

static void console_puts(const char *s, size_t n)
{
	hz_platform_console_write(s, n);
}

/* Formats into @buf and ends the line, marking truncation with "...". */
static size_t format_line(char *buf, size_t size, size_t used, const char *fmt,
			  va_list ap)
{
	int n = vsnprintf(buf + used, size - used, fmt, ap);

	if (n < 0)
		n = 0;
	used += (size_t)n;
	if (used > size - 2) {
		used = size - 2;
		memcpy(buf + used - 3, "...", 3);
	}
	buf[used++] = '\n';
	return used;
}

void hz_log(struct hz_log_source *src, enum hz_log_level level, const char *fmt,
	    ...)
{
	char buf[LINE_MAX];
	uint64_t t = hz_platform_clock_monotonic() - L.origin;
	int n;
	va_list ap;

	n = snprintf(buf, sizeof(buf), "[%5llu.%06llu] %s%s%s: ",
		     (unsigned long long)(t / 1000000000u),
		     (unsigned long long)(t / 1000u % 1000000u),
		     level <= HZ_LOG_WARN ? level_names[level] : "",
		     level <= HZ_LOG_WARN ? " " : "", src->name);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	va_start(ap, fmt);
	console_puts(buf, format_line(buf, sizeof(buf), (size_t)n, fmt, ap));
	va_end(ap);
}

void hz_printf(const char *fmt, ...)
{
	char buf[LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	console_puts(buf,
		     (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static int parse_level(const char *s, size_t n)
{
	for (int i = 0; i < 4; i++)
		if (strlen(level_names[i]) == n &&
		    memcmp(level_names[i], s, n) == 0)
			return i;
	return -1;
}

/* Sets source @name (@nlen bytes) to @level in @t, replacing an entry. */
static bool table_set(struct level_table *t, const char *name, size_t nlen,
		      int level)
{
	int i;

	if (nlen == 0 || nlen >= sizeof(t->spec[0].name))
		return false;
	for (i = 0; i < t->nspec; i++)
		if (strlen(t->spec[i].name) == nlen &&
		    memcmp(t->spec[i].name, name, nlen) == 0)
			break;
	if (i == SPEC_MAX)
		return false;
	if (i == t->nspec) {
		memcpy(t->spec[i].name, name, nlen);
		t->spec[i].name[nlen] = '\0';
		t->nspec++;
	}
	t->spec[i].level = level;
	return true;
}

int hz_log_configure(const char *spec, const char **why)
{
	struct level_table t;
	const char *p = spec;

	/* Applied to a copy, so a rejected spec changes nothing. */
	t = L.levels;
	*why = NULL;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		size_t nlen = colon != NULL ? (size_t)(colon - p) : 0;
		int level = colon != NULL
				? parse_level(colon + 1, len - nlen - 1)
				: parse_level(p, len);

		if (level < 0 ||
		    (colon != NULL && !table_set(&t, p, nlen, level))) {
			*why = p;
			return -HZ_EINVAL;
		}
		if (colon == NULL)
			t.default_level = level;
		p += len;
		if (*p == ',')
			p++;
	}
	L.levels = t;
	for (struct hz_log_source *s = L.sources; s != NULL; s = s->next)
		s->level = level_for(s->name);
	return 0;
}

/* --- counters ------------------------------------------------------------ */

void hz_counter_register(struct hz_counter *c)
{
	if (c->registered)
		return;
	if (L.counters_tail == NULL)
		L.counters_tail = &L.counters;
	c->registered = true;
	c->next = NULL;
	*L.counters_tail = c;
	L.counters_tail = &c->next;
}

struct hz_counter *hz_counter_find(const char *source, const char *name)
{
	for (struct hz_counter *c = L.counters; c != NULL; c = c->next)
		if (strcmp(c->source, source) == 0 &&
		    strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void hz_counters_foreach(void (*fn)(const struct hz_counter *c, void *arg),
			 void *arg)
{
	for (struct hz_counter *c = L.counters; c != NULL; c = c->next)
		fn(c, arg);
}

static void dump_one(const struct hz_counter *c, void *arg)
{
	(void)arg;
	if (c->value != 0)
		hz_printf("%s.%s %llu\n", c->source, c->name,
			  (unsigned long long)c->value);
}

void hz_counters_dump(void)
{
	hz_counters_foreach(dump_one, NULL);
}
