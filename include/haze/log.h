/*
 * Logging with levels and per-source tags, and named counters.
 *
 * A source is a static struct named for a subsystem ("net", "tcp"); its
 * level starts at the runtime default and can be set per source from the
 * command line (--log=debug, --log=tcp:debug,arp:warn). Messages below the
 * source's level cost one comparison and are never formatted.
 *
 * A counter counts one event, typically one reason to drop a packet. It
 * registers itself the first time it is touched, so declaring one costs no
 * start-up work and hz_counters_dump() lists every counter that moved.
 */
#ifndef HAZE_LOG_H
#define HAZE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "haze/error.h"

enum hz_log_level {
	HZ_LOG_ERROR = 0,
	HZ_LOG_WARN = 1,
	HZ_LOG_INFO = 2,
	HZ_LOG_DEBUG = 3,
};

struct hz_log_source {
	const char *name;
	int level;		    /* -1 until registered */
	struct hz_log_source *next; /* registry link */
};

/* Defines a log source @var tagged @name. */
#define HZ_LOG_SOURCE(var, name_) struct hz_log_source var = {name_, -1, 0}

/* Returns whether @src logs messages of @level (registers it on first use). */
bool hz_log_enabled(struct hz_log_source *src, enum hz_log_level level);

/* Writes one message of @level tagged with @src to the console. */
HZ_PRINTF(3, 4)
void hz_log(struct hz_log_source *src, enum hz_log_level level, const char *fmt,
	    ...);

/*
 * Applies a level spec: "debug", or "tcp:debug,arp:warn", or a mix.
 * 0, or -HZ_EINVAL with the offending part named in @why.
 */
HZ_MUST_CHECK
int hz_log_configure(const char *spec, const char **why);

#define HZ_LOG_AT(src, lvl, ...)                           \
	do {                                               \
		if (hz_log_enabled((src), (lvl)))          \
			hz_log((src), (lvl), __VA_ARGS__); \
	} while (0)
#define HZ_ERROR(src, ...) HZ_LOG_AT(src, HZ_LOG_ERROR, __VA_ARGS__)
#define HZ_WARN(src, ...) HZ_LOG_AT(src, HZ_LOG_WARN, __VA_ARGS__)
#define HZ_INFO(src, ...) HZ_LOG_AT(src, HZ_LOG_INFO, __VA_ARGS__)
#define HZ_DEBUG(src, ...) HZ_LOG_AT(src, HZ_LOG_DEBUG, __VA_ARGS__)

/* Writes formatted text to the console, with no tag (for applications). */
HZ_PRINTF(1, 2)
void hz_printf(const char *fmt, ...);

/* --- counters ----------------------------------------------------------- */

struct hz_counter {
	const char *source; /* "tcp" */
	const char *name;   /* "drop_bad_checksum" */
	uint64_t value;
	bool registered;
	struct hz_counter *next;
};

/* Defines a counter @var named @source/@name. */
#define HZ_COUNTER(var, source_, name_) \
	struct hz_counter var = {source_, name_, 0, false, 0}

/* Adds the counter to the registry; called by hz_counter_add once. */
void hz_counter_register(struct hz_counter *c);

/* Adds @n to counter @c. */
static inline void hz_counter_add(struct hz_counter *c, uint64_t n)
{
	if (!c->registered)
		hz_counter_register(c);
	c->value += n;
}

/* Counts one event on @c. */
static inline void hz_counter_inc(struct hz_counter *c)
{
	hz_counter_add(c, 1);
}

/* Returns the registered counter @source/@name, or NULL. */
struct hz_counter *hz_counter_find(const char *source, const char *name);

/* Calls @fn for every registered counter, in registration order. */
void hz_counters_foreach(void (*fn)(const struct hz_counter *c, void *arg),
			 void *arg);

/* Prints every counter that moved, one "source.name value" per line. */
void hz_counters_dump(void);

#endif
