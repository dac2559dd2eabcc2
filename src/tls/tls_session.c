/*
 * Session caches for resumption (RFC 5246 7.3, the abbreviated
 * handshake): a table of session parameters in a configuration, shared by
 * every flow made from it.
 *
 * One table serves both roles, keyed by 32 bytes:
 *   server  the session ID it issued (random, from the engine's PRNG),
 *           bound to a digest of the SNI name the session was made for;
 *   client  a digest of the server name, holding the last session with
 *           that server.
 *
 * The table is 4-way set associative: a key's first bytes pick a set, an
 * entry is replaced when it has expired or is the oldest of its set. It is
 * allocated at the first save, so a configuration that never completes a
 * handshake costs nothing. Master secrets are wiped when an entry is
 * replaced, forgotten or freed.
 *
 * BearSSL looks a session up before it has read the ClientHello's SNI, so
 * the server cannot fall back to a full handshake when a client offers a
 * session under another name (RFC 6066 3): the flow checks the name when
 * the handshake ends and fails it then, forgetting the session
 * (tls_sessions_check_name). Clients key their sessions by name and never
 * do this; Haze's client does not.
 */
#include <ctype.h>
#include <string.h>

#include "haze/log.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "tls/tls_int.h"

#define WAYS 4

struct tls_entry {
	unsigned char key[32];
	uint64_t bind;	  /* server: digest of the SNI name */
	uint64_t expires; /* hz_now() deadline; 0: empty */
	uint64_t stamp;	  /* save order, for the oldest of a set */
	br_ssl_session_parameters params;
};

struct tls_sessions {
	const br_ssl_session_cache_class *vtable; /* first: a BearSSL cache */
	struct tls_entry *table;		  /* sets * WAYS, or NULL */
	size_t sets;
	uint64_t lifetime;
	uint64_t stamp;
};

static HZ_COUNTER(c_resumed, "tls", "sessions_resumed");
static HZ_COUNTER(c_evicted, "tls", "sessions_evicted");
static HZ_COUNTER(c_name, "tls", "session_name_mismatch");
static HZ_COUNTER(c_nomem, "tls", "session_not_saved_nomem");

/* FNV-1a over @name, lower-cased (DNS names compare without case). */
static uint64_t name_digest(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; name != NULL && *name != '\0'; name++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*name);

		h = (h ^ c) * 0x100000001b3ull;
	}
	return h;
}

static struct tls_entry *set_of(const struct tls_sessions *s,
				const unsigned char key[32])
{
	uint64_t k;

	memcpy(&k, key, sizeof(k));
	return &s->table[(k % s->sets) * WAYS];
}

/* The live entry for @key, or NULL; an expired one is wiped on the way. */
static struct tls_entry *find(struct tls_sessions *s,
			      const unsigned char key[32])
{
	struct tls_entry *set;
	uint64_t now = hz_now();

	if (s->table == NULL)
		return NULL;
	set = set_of(s, key);
	for (int i = 0; i < WAYS; i++) {
		struct tls_entry *e = &set[i];

		if (e->expires == 0 || memcmp(e->key, key, 32) != 0)
			continue;
		if (e->expires <= now) {
			tls_wipe(e, sizeof(*e));
			return NULL;
		}
		return e;
	}
	return NULL;
}

static void put(struct tls_sessions *s, const unsigned char key[32],
		uint64_t bind, const br_ssl_session_parameters *params)
{
	struct tls_entry *e = find(s, key), *set;
	uint64_t now = hz_now();

	if (s->table == NULL) {
		s->table = hz_calloc(s->sets * WAYS, sizeof(*s->table));
		if (s->table == NULL) {
			hz_counter_inc(&c_nomem);
			return;
		}
	}
	if (e == NULL) {
		set = set_of(s, key);
		e = &set[0];
		for (int i = 0; i < WAYS && e->expires > now; i++)
			if (set[i].expires <= now || set[i].stamp < e->stamp)
				e = &set[i];
		if (e->expires > now)
			hz_counter_inc(&c_evicted);
	}
	tls_wipe(e, sizeof(*e));
	memcpy(e->key, key, 32);
	e->bind = bind;
	e->expires = now + s->lifetime;
	e->stamp = ++s->stamp;
	e->params = *params;
}

/* --- BearSSL's cache interface (server) ---------------------------------- */

static struct tls_sessions *of_vtable(const br_ssl_session_cache_class **ctx)
{
	return (struct tls_sessions *)(void *)ctx;
}

static void server_save(const br_ssl_session_cache_class **ctx,
			br_ssl_server_context *sc,
			const br_ssl_session_parameters *params)
{
	if (params->session_id_len != 32)
		return;
	put(of_vtable(ctx), params->session_id,
	    name_digest(br_ssl_engine_get_server_name(&sc->eng)), params);
}

static int server_load(const br_ssl_session_cache_class **ctx,
		       br_ssl_server_context *sc,
		       br_ssl_session_parameters *params)
{
	struct tls_entry *e;

	if (params->session_id_len != 32)
		return 0;
	e = find(of_vtable(ctx), params->session_id);
	if (e == NULL)
		return 0;
	*params = e->params;
	tls_server_resuming(sc, e->bind);
	hz_counter_inc(&c_resumed);
	return 1;
}

static const br_ssl_session_cache_class sessions_class = {
    .context_size = sizeof(struct tls_sessions),
    .save = server_save,
    .load = server_load,
};

/* --- the library's side -------------------------------------------------- */

int tls_sessions_new(size_t n, uint64_t lifetime, struct tls_sessions **out)
{
	struct tls_sessions *s;

	*out = NULL;
	if (n == 0)
		return 0;
	s = hz_calloc(1, sizeof(*s));
	if (s == NULL)
		return -HZ_ENOMEM;
	s->vtable = &sessions_class;
	s->sets = (n + WAYS - 1) / WAYS;
	s->lifetime = lifetime;
	*out = s;
	return 0;
}

void tls_sessions_free(struct tls_sessions *s)
{
	if (s == NULL)
		return;
	if (s->table != NULL) {
		tls_wipe(s->table, s->sets * WAYS * sizeof(*s->table));
		hz_free(s->table);
	}
	hz_free(s);
}

bool tls_sessions_check_name(struct tls_sessions *s,
			     const br_ssl_session_parameters *params,
			     uint64_t bind, const char *name)
{
	struct tls_entry *e;

	if (bind == name_digest(name))
		return true;
	hz_counter_inc(&c_name);
	if (s != NULL && params->session_id_len == 32) {
		e = find(s, params->session_id);
		if (e != NULL)
			tls_wipe(e, sizeof(*e));
	}
	return false;
}

const br_ssl_session_cache_class **tls_sessions_server(struct tls_sessions *s)
{
	return s != NULL ? &s->vtable : NULL;
}

/* The key of server name @name in a client's table. */
static void client_key(const char *name, unsigned char key[32])
{
	br_sha256_context h;

	br_sha256_init(&h);
	for (; *name != '\0'; name++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*name);

		br_sha256_update(&h, &c, 1);
	}
	br_sha256_out(&h, key);
}

bool tls_sessions_client_load(struct tls_sessions *s, const char *name,
			      br_ssl_session_parameters *params)
{
	unsigned char key[32];
	struct tls_entry *e;

	if (s == NULL || name == NULL)
		return false;
	client_key(name, key);
	e = find(s, key);
	if (e == NULL)
		return false;
	*params = e->params;
	return true;
}

void tls_sessions_client_save(struct tls_sessions *s, const char *name,
			      const br_ssl_session_parameters *params,
			      bool resumed)
{
	unsigned char key[32];

	if (s == NULL || name == NULL || params->session_id_len == 0)
		return;
	if (resumed)
		hz_counter_inc(&c_resumed);
	client_key(name, key);
	put(s, key, 0, params);
}

void tls_sessions_client_forget(struct tls_sessions *s, const char *name)
{
	unsigned char key[32];
	struct tls_entry *e;

	if (s == NULL || name == NULL)
		return;
	client_key(name, key);
	e = find(s, key);
	if (e != NULL)
		tls_wipe(e, sizeof(*e));
}
