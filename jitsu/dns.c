/*
 * haze-jitsu's DNS front end: the zone (SOA, NS, one A per service and the
 * configuration's records) answered by Haze's authoritative server
 * library over UDP and TCP (RFC 7766 framing, several queries per
 * connection), names outside the zone forwarded to an upstream resolver.
 *
 * A query naming a service that is not running starts it. Its A (or ANY)
 * question is then parked until the service says it is ready, unless the
 * configuration answers at once; other questions are answered at once.
 * A service that fails to boot gets its parked queries SERVFAIL.
 *
 * A query relayed upstream goes the way it came: over UDP under a fresh
 * id, from a socket of its own on a random port, or, from a TCP client,
 * over a TCP connection of its own (an answer too large for UDP comes
 * whole only so). A UDP answer is taken only from the upstream's address
 * and port, to that socket, with the relay's id and the query's very
 * question: an off-path forger has port, id and question to match.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "haze/log.h"
#include "haze/wire.h"
#include "jitsu/jitsu.h"

#define TCP_CLIENTS_MAX 64
#define TCP_OUT_MAX (256u * 1024)
#define TCP_IDLE_NS 10000000000ull
#define PARKED_MAX 1024
/* Queries one TCP connection may have waiting at once: one client cannot
 * fill the table for everyone. (A UDP source may be a resolver serving
 * many: it is held to the rate limit instead, charged when it parks.) */
#define PARKED_PER_CLIENT 16
/* The longest query kept while its service boots: EDNS padding (RFC
 * 8467) and cookies fit; a longer one gets SERVFAIL, counted. */
#define PARKED_QUERY_MAX 1232
#define FORWARDS_MAX 1024
/* Of those, relayed over TCP at once: each holds a socket. */
#define TCP_FORWARDS_MAX 64
/* And over UDP: each holds a socket of its own too (its random port is
 * half of what a forger must guess). main.c's POLL_DNS_MAX counts both. */
#define UDP_FORWARDS_MAX 128
#define FORWARD_NS 5000000000ull
#define ZONE_BUDGET (16u << 20)

HZ_COUNTER(c_parked_full, "jitsu", "drop_parked_full");
HZ_COUNTER(c_parked_client, "jitsu", "drop_parked_client_full");
HZ_COUNTER(c_parked_long, "jitsu", "drop_parked_query_too_long");
HZ_COUNTER(c_forward_rrl, "jitsu", "forward_rate_limited");
HZ_COUNTER(c_summon_rrl, "jitsu", "summon_rate_limited");
HZ_COUNTER(c_forward_full, "jitsu", "drop_forward_full");
HZ_COUNTER(c_forward_stray, "jitsu", "drop_upstream_stray");
HZ_COUNTER(c_forward_mismatch, "jitsu", "drop_upstream_mismatch");
HZ_COUNTER(c_forward_tcp_full, "jitsu", "drop_forward_tcp_full");
HZ_COUNTER(c_forward_tcp_failed, "jitsu", "forward_tcp_failed");
HZ_COUNTER(c_tcp_full, "jitsu", "drop_tcp_clients_full");
HZ_COUNTER(c_tcp_bad, "jitsu", "drop_tcp_bad_frame");
HZ_COUNTER(c_tcp_slow, "jitsu", "drop_tcp_slow_reader");

/* A TCP client: what it sent not yet framed, what is to be written. */
struct tcp_client {
	int fd;
	struct sockaddr_in peer;
	uint8_t in[2 + 65535];
	size_t have;
	uint8_t *out;
	size_t out_len, out_off;
	uint64_t deadline; /* closed if no whole query came by then */
	unsigned parked;   /* its queries waiting for a service */
	bool rd_closed;	   /* the client half-closed: nothing more to read */
};

/* Where an answer goes: a UDP peer, or a TCP client. */
struct origin {
	bool tcp;
	struct sockaddr_in peer;
	struct tcp_client *client;
};

/* A query waiting for its service to be ready. */
struct parked {
	bool used;
	struct jitsu_service *svc;
	struct origin to;
	uint8_t q[PARKED_QUERY_MAX];
	size_t len;
	uint64_t deadline;
};

/* A query forwarded upstream: over UDP under a new id, or over TCP. */
struct forward {
	bool used;
	bool tcp;
	uint16_t id, client_id;
	struct origin to;
	uint64_t deadline;
	/* Its own socket: a TCP connection, or a UDP socket connected to
	 * the upstream from a random port (-1: none). */
	int fd;
	struct hz_dns_question qn; /* over UDP: the answer's must be this */
	uint8_t *q;		   /* the query, framed: 2 + qlen bytes */
	size_t qlen, sent;
	uint8_t alen_buf[2]; /* the answer's length, as it arrives */
	uint8_t *a;	     /* the answer: alen bytes */
	size_t alen, have;   /* have: of the 2 + alen framed bytes */
};

static struct tcp_client clients[TCP_CLIENTS_MAX];
static struct parked parked[PARKED_MAX];
static struct forward forwards[FORWARDS_MAX];

static int listen_on(int type, const struct sockaddr_in *a,
		     struct hz_errmsg *err)
{
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return hz_errmsg_set(err, -HZ_EIO, "dns %s:%u (%s): %s",
				     inet_ntoa(a->sin_addr), ntohs(a->sin_port),
				     type == SOCK_STREAM ? "TCP" : "UDP",
				     strerror(e));
	}
	return fd;
}

/* The number of A records @zone answers for service @sv's name. */
static unsigned addresses_of(struct hz_dns_zone *zone,
			     const struct jitsu_service *sv)
{
	struct hz_dns_server probe = {.zone = zone};
	static uint8_t q[12 + HZ_DNS_NAME_MAX + 4], out[65535];
	int n;

	memset(q, 0, 12);
	hz_put16(q + 4, 1);
	memcpy(q + 12, sv->wire, sv->wire_len);
	hz_put16(q + 12 + sv->wire_len, HZ_DNS_TYPE_A);
	hz_put16(q + 14 + sv->wire_len, 1);
	n = hz_dns_server_answer(&probe, q, 16 + sv->wire_len, 0, HZ_DNS_TCP, 0,
				 out, sizeof(out));
	return n < 12 ? 0 : hz_get16(out + 6);
}

/*
 * The configuration line of the record that gives @sv a second address:
 * the zone is built again with the records up to each in turn (a record
 * may leave its owner to the one before it). 0 if none is found alone.
 */
static unsigned second_address_line(struct jitsu *j,
				    const struct jitsu_service *sv, char *text,
				    size_t cap)
{
	size_t all = j->nrecords;
	unsigned line = 0;

	for (size_t k = 1; k <= all && line == 0; k++) {
		struct hz_dns_zone z;
		struct hz_errmsg ignored = {0};
		size_t len;

		j->nrecords = k;
		len = jitsu_zone_text(j, text, cap);
		if (len < cap && hz_dns_zone_load(&z, ZONE_BUDGET, NULL, text,
						  len, &ignored) == 0) {
			if (addresses_of(&z, sv) != 1)
				line = j->record_line[k - 1];
			hz_dns_zone_release(&z);
		}
	}
	j->nrecords = all;
	return line;
}

/*
 * Restates the zone parser's "zone line N: WHAT" in the configuration's
 * terms: the file and the line of the record (or service) it came from.
 */
static int zone_refusal(const struct jitsu *j, int r, struct hz_errmsg *err)
{
	char why[sizeof(err->text)];
	unsigned zline, line;
	bool is_record;
	int at = 0;

	/* The library's message, copied: it becomes part of ours. */
	snprintf(why, sizeof(why), "%s", hz_errmsg_text(err));
	if (sscanf(why, "zone line %u: %n", &zline, &at) != 1 || at == 0)
		return hz_errmsg_set(err, r, "%s: %s", j->config_path, why);
	line = jitsu_zone_line_source(j, zline, &is_record);
	if (line == 0)
		return hz_errmsg_set(err, r, "%s: %s", j->config_path, why);
	return hz_errmsg_set(err, r, "%s:%u: %s: %s", j->config_path, line,
			     is_record ? "record" : "service", why + at);
}

/* Whether @w (@n bytes) is the word @word, in any case. */
static bool word_is(const char *w, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(w, word, n) == 0;
}

/*
 * The service that record line @rec (master-file text: owner, TTL and
 * class in either order, type, data) names as its CNAME target, or NULL. The
 * server would answer an A question for the alias with the service's
 * address from the zone, never booting it: such an alias is refused.
 */
static const struct jitsu_service *cname_to_service(const struct jitsu *j,
						    const char *rec)
{
	const char *w[5];
	size_t wl[5], nw = 0;
	char target[HZ_DNS_TEXT_MAX + 2];
	size_t k = 1;
	int n;

	for (const char *p = rec; *p && nw < 5;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		w[nw] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		wl[nw] = (size_t)(p - w[nw]);
		nw++;
	}
	/* After the owner, a TTL and a class may come, in either order. */
	while (k < nw && k < 3 &&
	       ((w[k][0] >= '0' && w[k][0] <= '9') ||
		word_is(w[k], wl[k], "IN") || word_is(w[k], wl[k], "CH") ||
		word_is(w[k], wl[k], "HS") || word_is(w[k], wl[k], "CS")))
		k++;
	if (k + 1 >= nw || !word_is(w[k], wl[k], "CNAME"))
		return NULL;
	if (word_is(w[k + 1], wl[k + 1], "@"))
		n = snprintf(target, sizeof(target), "%s", j->zone);
	else if (w[k + 1][wl[k + 1] - 1] == '.')
		n = snprintf(target, sizeof(target), "%.*s", (int)wl[k + 1] - 1,
			     w[k + 1]);
	else
		n = snprintf(target, sizeof(target), "%.*s.%s", (int)wl[k + 1],
			     w[k + 1], j->zone);
	if (n < 0 || (size_t)n >= sizeof(target))
		return NULL; /* no name: the zone parser says so */
	for (size_t i = 0; i < j->nsvc; i++)
		if (strcasecmp(j->svc[i].name, target) == 0)
			return &j->svc[i];
	return NULL;
}

int jitsu_zone_build(struct jitsu *j, char *text, size_t cap, size_t *len,
		     struct hz_errmsg *err)
{
	int r;

	*len = jitsu_zone_text(j, text, cap);
	if (*len >= cap)
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "%s: the zone is over %zu "
				     "bytes",
				     j->config_path, cap);
	r = hz_dns_zone_load(&j->zone_db, ZONE_BUDGET, NULL, text, *len, err);
	if (r < 0)
		return zone_refusal(j, r, err);
	for (size_t i = 0; i < j->nrecords; i++) {
		const struct jitsu_service *sv =
		    cname_to_service(j, j->records[i]);

		if (sv == NULL)
			continue;
		hz_dns_zone_release(&j->zone_db);
		*len = 0;
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "%s:%u: record: a CNAME to service %s "
				     "(line %u) does not boot it: name the "
				     "service directly",
				     j->config_path, j->record_line[i],
				     sv->name, sv->line);
	}
	/* A record line giving a service a second address would send some
	 * clients elsewhere: each service's A question has one answer. */
	for (size_t i = 0; i < j->nsvc; i++) {
		const struct jitsu_service *sv = &j->svc[i];
		unsigned line;

		if (addresses_of(&j->zone_db, sv) == 1)
			continue;
		hz_dns_zone_release(&j->zone_db);
		line = second_address_line(j, sv, text, cap);
		/* The caller prints the zone only when it was built. */
		*len = 0;
		if (line == 0)
			line = sv->line;
		return hz_errmsg_set(err, -HZ_EINVAL,
				     "%s:%u: service %s (line %u): a record "
				     "line gives it a second address",
				     j->config_path, line, sv->name, sv->line);
	}
	return 0;
}

int jitsu_dns_open(struct jitsu *j, struct hz_errmsg *err)
{
	for (size_t i = 0; i < TCP_CLIENTS_MAX; i++)
		clients[i].fd = -1;
	for (size_t i = 0; i < FORWARDS_MAX; i++)
		forwards[i].fd = -1;
	hz_dns_rrl_init(&j->rrl, j->rrl_rate, j->rrl_burst, 0);
	j->server.zone = &j->zone_db;
	j->server.rrl = &j->rrl;
	j->udp_fd = listen_on(SOCK_DGRAM, &j->dns_addr, err);
	if (j->udp_fd < 0)
		return -1;
	j->tcp_fd = listen_on(SOCK_STREAM, &j->dns_addr, err);
	if (j->tcp_fd < 0)
		return -1;
	return 0;
}

/* Frees forward slot @f, closing its TCP connection if it has one. */
static void forward_free(struct forward *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->q);
	free(f->a);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static void client_close(struct tcp_client *c)
{
	for (size_t i = 0; i < PARKED_MAX; i++)
		if (parked[i].used && parked[i].to.client == c)
			parked[i].used = false;
	for (size_t i = 0; i < FORWARDS_MAX; i++)
		if (forwards[i].used && forwards[i].to.tcp &&
		    forwards[i].to.client == c)
			forward_free(&forwards[i]);
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Writes what @c has pending; false if it was closed. */
static bool client_flush(struct tcp_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			client_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return true;
}

/* Sends response @m (@len bytes) to @to. */
static void reply(struct jitsu *j, const struct origin *to, const uint8_t *m,
		  size_t len)
{
	struct tcp_client *c = to->client;

	if (!to->tcp) {
		(void)!sendto(j->udp_fd, m, len, 0,
			      (const struct sockaddr *)&to->peer,
			      sizeof(to->peer));
		return;
	}
	if (c->out_len + 2 + len > TCP_OUT_MAX) {
		hz_counter_inc(&c_tcp_slow);
		client_close(c);
		return;
	}
	uint8_t *o = realloc(c->out, c->out_len + 2 + len);
	if (o == NULL) {
		client_close(c);
		return;
	}
	c->out = o;
	hz_dns_tcp_prefix(c->out + c->out_len, len);
	memcpy(c->out + c->out_len + 2, m, len);
	c->out_len += 2 + len;
	client_flush(c);
}

/* Answers @q from the zone and sends it to @to; @charged: its rate-limit
 * token was taken when it parked. */
static void answer_as(struct jitsu *j, const uint8_t *q, size_t len,
		      const struct origin *to, bool charged)
{
	uint8_t out[65535];
	struct hz_dns_server srv = j->server;
	int n;

	if (charged)
		srv.rrl = NULL;
	n = hz_dns_server_answer(&srv, q, len, ntohl(to->peer.sin_addr.s_addr),
				 to->tcp ? HZ_DNS_TCP : HZ_DNS_UDP, jitsu_now(),
				 out, sizeof(out));

	if (n > 0)
		reply(j, to, out, (size_t)n);
}

/* Answers @q from the zone and sends it to @to. */
static void answer(struct jitsu *j, const uint8_t *q, size_t len,
		   const struct origin *to)
{
	answer_as(j, q, len, to, false);
}

/*
 * Sends a response of just the question to @q (@qn its question) to @to:
 * QR, the query's opcode and RD, and @tc; RCODE @rcode.
 */
static void bare_reply(struct jitsu *j, const uint8_t *q,
		       const struct hz_dns_question *qn,
		       const struct origin *to, bool tc, uint8_t rcode)
{
	uint8_t out[12 + HZ_DNS_NAME_MAX + 4];
	size_t qlen = 12 + qn->name_len + 4;

	memcpy(out, q, qlen);
	out[2] = (uint8_t)(0x80 | (q[2] & 0x79) | (tc ? 0x02 : 0));
	out[3] = rcode;
	hz_put16(out + 4, 1);
	memset(out + 6, 0, 6);
	reply(j, to, out, qlen);
}

/* Sends SERVFAIL for @q (@qn its question) to @to. */
static void servfail(struct jitsu *j, const uint8_t *q,
		     const struct hz_dns_question *qn, const struct origin *to)
{
	bare_reply(j, q, qn, to, false, 2);
}

/*
 * Sends @q (@qn its question) upstream under a fresh id, from a UDP
 * socket of its own (connected to the upstream: the kernel takes nothing
 * from another address or port), to be relayed back to @to.
 */
static void forward(struct jitsu *j, uint8_t *q, size_t len,
		    const struct hz_dns_question *qn, const struct origin *to)
{
	struct forward *f = NULL;
	size_t over_udp = 0;
	uint16_t id;
	int fd;

	for (size_t i = 0; i < FORWARDS_MAX; i++) {
		if (forwards[i].used && !forwards[i].tcp)
			over_udp++;
		else if (!forwards[i].used && f == NULL)
			f = &forwards[i];
	}
	if (f == NULL || over_udp >= UDP_FORWARDS_MAX) {
		hz_counter_inc(&c_forward_full);
		return;
	}
	/* A random id, so an off-path forger must guess it. */
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		return;
	/* connect binds it to an ephemeral port the kernel picks at
	 * random, a new one for each query. */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)&j->upstream,
			      sizeof(j->upstream)) < 0) {
		if (fd >= 0)
			close(fd);
		hz_counter_inc(&c_forward_full);
		return;
	}
	*f = (struct forward){.used = true,
			      .id = id,
			      .client_id = hz_get16(q),
			      .to = *to,
			      .deadline = jitsu_now() + FORWARD_NS,
			      .fd = fd,
			      .qn = *qn};
	hz_put16(q, id);
	(void)!send(fd, q, len, 0);
	hz_put16(q, f->client_id);
}

/* Whether UDP answer @m (@len bytes) answers @f: its id and its question
 * (the name in any case, type, class) are the query's. */
static bool answers(const struct forward *f, const uint8_t *m, size_t len)
{
	uint8_t head[12 + HZ_DNS_NAME_MAX + 4];
	struct hz_dns_question qn;
	size_t n = len < sizeof(head) ? len : sizeof(head);

	if (len < 12 || hz_get16(m) != f->id || !(m[2] & 0x80))
		return false;
	/* Read as a query with its question alone: the reader wants one. */
	memcpy(head, m, n);
	head[2] &= 0x7f;
	memset(head + 6, 0, 6);
	return hz_dns_question_read(head, n, &qn) == 0 &&
	       qn.name_len == f->qn.name_len &&
	       memcmp(qn.name, f->qn.name, qn.name_len) == 0 &&
	       qn.qtype == f->qn.qtype && qn.qclass == f->qn.qclass;
}

/* Reads what reached @f's UDP socket: the answer goes to its client; a
 * datagram that does not answer its query is dropped, counted, and the
 * relay waits on for the real answer. */
static void forward_udp_read(struct jitsu *j, struct forward *f)
{
	for (int k = 0; k < 16; k++) {
		static uint8_t m[65535];
		struct sockaddr_in from;
		socklen_t al = sizeof(from);
		ssize_t n = recvfrom(f->fd, m, sizeof(m), 0,
				     (struct sockaddr *)&from, &al);

		if (n < 0)
			return;
		/* Connected, so the kernel filtered already; checked all
		 * the same, as the socket's contract. */
		if (from.sin_addr.s_addr != j->upstream.sin_addr.s_addr ||
		    from.sin_port != j->upstream.sin_port) {
			hz_counter_inc(&c_forward_stray);
			continue;
		}
		if (!answers(f, m, (size_t)n)) {
			hz_counter_inc(&c_forward_mismatch);
			continue;
		}
		struct origin to = f->to;

		hz_put16(m, f->client_id);
		forward_free(f);
		reply(j, &to, m, (size_t)n);
		return;
	}
}

/*
 * Relays @q (@qn its question), from TCP client @to, upstream over a TCP
 * connection of its own, the answer to go back whole; SERVFAIL when
 * TCP_FORWARDS_MAX are out already or the connection cannot be made.
 */
static void forward_tcp(struct jitsu *j, const uint8_t *q, size_t len,
			const struct hz_dns_question *qn,
			const struct origin *to)
{
	struct forward *f = NULL;
	size_t over_tcp = 0;
	int fd;

	for (size_t i = 0; i < FORWARDS_MAX; i++) {
		if (forwards[i].used && forwards[i].tcp)
			over_tcp++;
		else if (!forwards[i].used && f == NULL)
			f = &forwards[i];
	}
	if (f == NULL || over_tcp >= TCP_FORWARDS_MAX) {
		hz_counter_inc(&c_forward_tcp_full);
		servfail(j, q, qn, to);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    (connect(fd, (const struct sockaddr *)&j->upstream,
		     sizeof(j->upstream)) < 0 &&
	     errno != EINPROGRESS) ||
	    (f->q = malloc(2 + len)) == NULL) {
		if (fd >= 0)
			close(fd);
		hz_counter_inc(&c_forward_tcp_failed);
		servfail(j, q, qn, to);
		return;
	}
	/* The connection is the query's alone: its id needs no change. */
	f->used = true;
	f->tcp = true;
	f->client_id = f->id = hz_get16(q);
	f->to = *to;
	f->deadline = jitsu_now() + FORWARD_NS;
	f->fd = fd;
	hz_dns_tcp_prefix(f->q, len);
	memcpy(f->q + 2, q, len);
	f->qlen = len;
}

/* The TCP relay of @f failed or timed out: SERVFAIL to its client. */
static void forward_tcp_fail(struct jitsu *j, struct forward *f)
{
	struct hz_dns_question qn;
	struct origin to = f->to;
	uint8_t *framed = f->q;
	size_t len = f->qlen;

	hz_counter_inc(&c_forward_tcp_failed);
	/* Taken out of the slot first: servfail may close the client,
	 * which frees the client's forwards. */
	f->q = NULL;
	forward_free(f);
	if (hz_dns_question_read(framed + 2, len, &qn) == 0)
		servfail(j, framed + 2, &qn, &to);
	free(framed);
}

/* Moves @f's TCP relay on: sends the query, then reads the answer and
 * relays it to the client. */
static void forward_tcp_io(struct jitsu *j, struct forward *f)
{
	ssize_t n;

	while (f->sent < 2 + f->qlen) {
		n = send(f->fd, f->q + f->sent, 2 + f->qlen - f->sent,
			 MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			forward_tcp_fail(j, f);
			return;
		}
		f->sent += (size_t)n;
	}
	for (;;) {
		uint8_t *at =
		    f->have < 2 ? f->alen_buf + f->have : f->a + (f->have - 2);
		size_t want = f->have < 2 ? 2 - f->have : 2 + f->alen - f->have;

		n = recv(f->fd, at, want, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			forward_tcp_fail(j, f);
			return;
		}
		f->have += (size_t)n;
		if (f->have == 2) {
			f->alen = hz_get16(f->alen_buf);
			if (f->alen < 12 || (f->a = malloc(f->alen)) == NULL) {
				forward_tcp_fail(j, f);
				return;
			}
		}
		if (f->have >= 2 && f->have == 2 + f->alen)
			break;
	}
	if (hz_get16(f->a) != f->client_id) {
		forward_tcp_fail(j, f);
		return;
	}
	/* Taken out of the slot first: reply may close the client, which
	 * frees the client's forwards. */
	uint8_t *a = f->a;
	size_t alen = f->alen;
	struct origin to = f->to;

	f->a = NULL;
	forward_free(f);
	reply(j, &to, a, alen);
	free(a);
}

/* Parks @q for service @s; false when there is no room, the query is
 * too long, or its TCP client has PARKED_PER_CLIENT waiting (counted). */
static bool park(struct jitsu *j, struct jitsu_service *s, const uint8_t *q,
		 size_t len, const struct origin *to)
{
	if (len > PARKED_QUERY_MAX) {
		hz_counter_inc(&c_parked_long);
		return false;
	}
	if (to->tcp && to->client->parked >= PARKED_PER_CLIENT) {
		hz_counter_inc(&c_parked_client);
		return false;
	}
	for (size_t i = 0; i < PARKED_MAX; i++) {
		struct parked *p = &parked[i];

		if (p->used)
			continue;
		p->used = true;
		p->svc = s;
		p->to = *to;
		memcpy(p->q, q, len);
		p->len = len;
		p->deadline = jitsu_now() + j->boot_timeout_ms * 1000000ull;
		if (to->tcp)
			to->client->parked++;
		return true;
	}
	hz_counter_inc(&c_parked_full);
	return false;
}

/*
 * Whether query @q names its service so that the answer has records:
 * opcode QUERY, a question the zone answers NOERROR with an answer
 * (an A or ANY question, EDNS version 0, the message well formed).
 * A query the server refuses (another class, opcode or EDNS version, a
 * malformed message) or answers without an address boots nothing.
 */
static bool summons(const struct jitsu *j, const uint8_t *q, size_t len)
{
	static uint8_t out[65535];
	struct hz_dns_server probe = j->server;
	int n;

	probe.rrl = NULL; /* the real answer takes its token */
	n = hz_dns_server_answer(&probe, q, len, 0, HZ_DNS_TCP, jitsu_now(),
				 out, sizeof(out));
	return n >= 12 && (out[2] & 0x78) == 0 && (out[3] & 0x0f) == 0 &&
	       hz_get16(out + 6) > 0;
}

/* The rate limiter's verdict on a query from @to (TCP: always pass). */
static enum hz_dns_rrl_verdict rate(struct jitsu *j, const struct origin *to,
				    uint64_t now)
{
	if (to->tcp)
		return HZ_DNS_RRL_PASS;
	return hz_dns_rrl_take(&j->rrl, ntohl(to->peer.sin_addr.s_addr), now);
}

/*
 * Query @q (@qn its question) from @to names service @s, which is not
 * ready: start it (or have it started once it is gone), and park the
 * query or answer it. A UDP source is charged its rate-limit token first:
 * a query the limiter drops or slips starts, stops and parks nothing, and
 * every answer, SERVFAIL included, is one it paid for.
 */
static void summon(struct jitsu *j, struct jitsu_service *s, uint8_t *q,
		   size_t len, const struct hz_dns_question *qn,
		   const struct origin *to, uint64_t now)
{
	enum hz_dns_rrl_verdict v = rate(j, to, now);
	bool addr_q =
	    qn->qtype == HZ_DNS_TYPE_A || qn->qtype == HZ_DNS_TYPE_ANY;

	if (v != HZ_DNS_RRL_PASS) {
		hz_counter_inc(&c_summon_rrl);
		if (v == HZ_DNS_RRL_SLIP)
			bare_reply(j, q, qn, to, true, 0);
		return;
	}
	if (j->stopping || (s->state == SVC_FAILED && now < s->restart_at)) {
		/* Nothing starts while the daemon stops; a service that
		 * failed to start is not tried again within its backoff. */
		servfail(j, q, qn, to);
		return;
	}
	if (s->state == SVC_STOPPED || s->state == SVC_FAILED) {
		/* max-running counts booting ones too: with every slot
		 * booting, nothing can go for this one. */
		if (!jitsu_make_room(j, s) || jitsu_start(j, s, now) < 0) {
			servfail(j, q, qn, to);
			return;
		}
	} else if (s->state == SVC_STOPPING || s->state == SVC_BACKOFF) {
		/* Started again as soon as it is gone, or its backoff is
		 * over: under max-running then (jitsu_reap, jitsu_tick). */
		s->summoned = now;
	}
	if (addr_q &&
	    (j->answer == JITSU_ANSWER_READY || s->state != SVC_BOOTING)) {
		if (!park(j, s, q, len, to))
			servfail(j, q, qn, to);
		return;
	}
	answer_as(j, q, len, to, true);
}

/* One query from @to: summon, park, forward or answer. */
static void query(struct jitsu *j, uint8_t *q, size_t len,
		  const struct origin *to)
{
	struct hz_dns_question qn;
	struct jitsu_service *s;
	uint64_t now = jitsu_now();

	if (hz_dns_question_read(q, len, &qn) < 0) {
		/* Malformed: the server library says FORMERR (or nothing). */
		answer(j, q, len, to);
		return;
	}
	if (!hz_dns_zone_contains(&j->zone_db, qn.name, qn.name_len) &&
	    j->have_upstream) {
		/* Rate-limited as the zone's answers are: a relayed answer
		 * can be far larger than the query (reflection). */
		enum hz_dns_rrl_verdict v = rate(j, to, now);
		if (v == HZ_DNS_RRL_PASS && to->tcp)
			forward_tcp(j, q, len, &qn, to);
		else if (v == HZ_DNS_RRL_PASS)
			forward(j, q, len, &qn, to);
		else if (v == HZ_DNS_RRL_SLIP)
			bare_reply(j, q, &qn, to, true, 0);
		if (v != HZ_DNS_RRL_PASS)
			hz_counter_inc(&c_forward_rrl);
		return;
	}
	s = jitsu_find(j, qn.name, qn.name_len);
	if (s == NULL || s->state == SVC_READY) {
		answer(j, q, len, to);
		return;
	}
	if (s->state != SVC_BOOTING && !summons(j, q, len)) {
		answer(j, q, len, to); /* refused, or nothing to wait for */
		return;
	}
	summon(j, s, q, len, &qn, to, now);
}

void jitsu_dns_release(struct jitsu *j, struct jitsu_service *s, bool ok)
{
	for (size_t i = 0; i < PARKED_MAX; i++) {
		struct parked *p = &parked[i];
		struct hz_dns_question qn;

		if (!p->used || p->svc != s)
			continue;
		p->used = false;
		if (p->to.tcp)
			p->to.client->parked--;
		if (ok)
			answer_as(j, p->q, p->len, &p->to, !p->to.tcp);
		else if (hz_dns_question_read(p->q, p->len, &qn) == 0)
			servfail(j, p->q, &qn, &p->to);
	}
}

void jitsu_dns_udp(struct jitsu *j)
{
	for (int k = 0; k < 64; k++) {
		uint8_t q[4096];
		struct origin to = {.tcp = false};
		socklen_t al = sizeof(to.peer);
		ssize_t n = recvfrom(j->udp_fd, q, sizeof(q), 0,
				     (struct sockaddr *)&to.peer, &al);

		if (n < 0)
			return;
		query(j, q, (size_t)n, &to);
	}
}

void jitsu_dns_accept(struct jitsu *j)
{
	for (int k = 0; k < 16; k++) {
		struct sockaddr_in peer;
		socklen_t al = sizeof(peer);
		int fd = accept4(j->tcp_fd, (struct sockaddr *)&peer, &al,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tcp_client *c = NULL;

		if (fd < 0)
			return;
		for (size_t i = 0; i < TCP_CLIENTS_MAX && c == NULL; i++)
			if (clients[i].fd < 0)
				c = &clients[i];
		if (c == NULL) {
			hz_counter_inc(&c_tcp_full);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->have = 0;
		c->deadline = jitsu_now() + TCP_IDLE_NS;
	}
}

void jitsu_dns_tcp(struct jitsu *j, int fd)
{
	struct tcp_client *c = NULL;
	ssize_t n;

	for (size_t i = 0; i < TCP_CLIENTS_MAX && c == NULL; i++)
		if (clients[i].fd == fd)
			c = &clients[i];
	for (size_t i = 0; i < FORWARDS_MAX && c == NULL; i++)
		if (forwards[i].used && forwards[i].fd == fd) {
			if (forwards[i].tcp)
				forward_tcp_io(j, &forwards[i]);
			else
				forward_udp_read(j, &forwards[i]);
			return;
		}
	if (c == NULL || !client_flush(c))
		return;
	n = recv(fd, c->in + c->have, sizeof(c->in) - c->have, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A client may half-close after its last query (RFC 7766):
		 * what is parked for it is still answered. */
		if (n == 0 && c->parked > 0) {
			shutdown(fd, SHUT_RD);
			c->rd_closed = true; /* polled no more for reading */
			return;
		}
		client_close(c);
		return;
	}
	c->have += (size_t)n;
	for (;;) {
		size_t start;
		int len = hz_dns_tcp_frame(c->in, c->have, &start);
		struct origin to = {.tcp = true, .peer = c->peer, .client = c};

		if (len < 0) {
			hz_counter_inc(&c_tcp_bad);
			client_close(c);
			return;
		}
		if (len == 0)
			return;
		/* A whole query, not a byte, buys the client more time: one
		 * trickling a byte at a time is closed when it runs out. */
		c->deadline = jitsu_now() + TCP_IDLE_NS;
		query(j, c->in + start, (size_t)len, &to);
		if (c->fd < 0)
			return;
		c->have -= start + (size_t)len;
		memmove(c->in, c->in + start + len, c->have);
	}
}

size_t jitsu_dns_pollfds(const struct jitsu *j, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	fds[n++] = (struct pollfd){.fd = j->udp_fd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = j->tcp_fd, .events = POLLIN};
	for (size_t i = 0; i < TCP_CLIENTS_MAX && n < cap; i++)
		if (clients[i].fd >= 0)
			fds[n++] = (struct pollfd){
			    .fd = clients[i].fd,
			    .events =
				(short)((clients[i].rd_closed ? 0 : POLLIN) |
					(clients[i].out_len ? POLLOUT : 0))};
	for (size_t i = 0; i < FORWARDS_MAX && n < cap; i++) {
		const struct forward *f = &forwards[i];

		if (f->used && f->fd >= 0)
			fds[n++] = (struct pollfd){
			    .fd = f->fd,
			    .events = f->tcp && f->sent < 2 + f->qlen ? POLLOUT
								      : POLLIN};
	}
	return n;
}

uint64_t jitsu_dns_tick(struct jitsu *j, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	unsigned late[JITSU_SERVICES_MAX] = {0};

	for (size_t i = 0; i < PARKED_MAX; i++) {
		struct parked *p = &parked[i];
		struct hz_dns_question qn;

		if (!p->used)
			continue;
		if (now < p->deadline) {
			next = p->deadline < next ? p->deadline : next;
			continue;
		}
		late[p->svc - j->svc]++;
		p->used = false;
		if (p->to.tcp)
			p->to.client->parked--;
		if (hz_dns_question_read(p->q, p->len, &qn) == 0)
			servfail(j, p->q, &qn, &p->to);
	}
	/* One line per service, however many queries waited for it. */
	for (size_t i = 0; i < j->nsvc; i++)
		if (late[i] > 0)
			jitsu_log("%s: not ready in %u ms: SERVFAIL to %u "
				  "quer%s",
				  j->svc[i].name, j->boot_timeout_ms, late[i],
				  late[i] == 1 ? "y" : "ies");
	for (size_t i = 0; i < FORWARDS_MAX; i++) {
		struct forward *f = &forwards[i];

		if (!f->used || now < f->deadline)
			continue;
		if (f->tcp)
			forward_tcp_fail(j, f); /* its client waits */
		else
			forward_free(f); /* a UDP client asks again */
	}
	for (size_t i = 0; i < TCP_CLIENTS_MAX; i++) {
		struct tcp_client *c = &clients[i];

		if (c->fd < 0)
			continue;
		if (now >= c->deadline && c->parked == 0)
			client_close(c);
		else if (c->deadline < next)
			next = c->deadline;
	}
	return next;
}
