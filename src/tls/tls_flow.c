/*
 * The TLS flow: a FLOW over any FLOW, driven by BearSSL's engine. The
 * engine does no I/O; it says through its state bits what it can take or
 * give (records to send, room for records received, application data to
 * read, room for application data to send), and this file moves bytes:
 * records between the engine and the flow below, application data between
 * the engine and the caller. One function, pump(), does the moving until
 * the engine offers what the caller waits for.
 *
 * Everything BearSSL needs is in one allocation per flow: the engine
 * context, the X.509 validator and the record buffers. Failures become
 * sticky errors with a message naming what happened, prefixed "TLS: ";
 * a failure of the lower flow keeps that flow's code and message.
 */
#include <string.h>

#include "haze/assert.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/random.h"
#include "haze/sched.h"
#include "haze/wire.h"
#include "tls/tls_gcm.h"
#include "tls/tls_int.h"

/* Records shorter than this are gathered into one write. */
#define TLS_GATHER_MAX 1024
/* Seed bytes injected into each engine's PRNG. */
#define TLS_SEED_BYTES 32
/* A record's header: type, version, length of what follows. */
#define TLS_HDR 5
#define TLS_APP_DATA 23
/* The longest record payload the engine's input buffer takes. */
#define TLS_RECORD_MAX (BR_SSL_BUFSIZE_INPUT - TLS_HDR)
/*
 * Where the lower flow's send buffer wraps, a record sealed in the room
 * before the wrap must hold at least this much plaintext; a shorter room
 * leaves the record to the engine (sealed in its buffer, then copied).
 */
#define TLS_SEAL_MIN 2048
/* How long close() waits to hand the close_notify to the lower flow. */
#define TLS_CLOSE_WAIT (1ull * HZ_NS_PER_S)
/* Days from 0000-01-01 (proleptic Gregorian) to 1970-01-01. */
#define TLS_DAYS_TO_EPOCH 719528u

/* TLS 1.2, ECDHE, AEAD only; AES-GCM first (AES-NI), then ChaCha20. */
static const uint16_t tls_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* After the handshake: application data records decrypted where they
 * arrived, or after being gathered from pieces; records (of any type)
 * handed to the engine whole. */
static HZ_COUNTER(rec_in_place, "tls", "records_opened_in_place");
static HZ_COUNTER(rec_gathered, "tls", "records_opened_gathered");
static HZ_COUNTER(rec_engine, "tls", "records_to_engine");
/* Application data records sealed where the lower flow sends them, or
 * by the engine in its buffer and copied down. */
static HZ_COUNTER(rec_sealed, "tls", "records_sealed_in_place");
static HZ_COUNTER(rec_sealed_engine, "tls", "records_sealed_by_engine");

struct tls_flow;

/*
 * The server's policy: picks a chain by the client's SNI name, then hands
 * over to BearSSL's single-chain policy for that chain's key.
 */
struct sni_policy {
	const br_ssl_server_policy_class *vtable; /* first: a policy */
	struct tls_flow *tf;
	const br_ssl_server_policy_class **inner;
};

struct tls_flow {
	struct hz_flow flow; /* first: a FLOW */
	struct hz_flow *lower;
	const struct hz_tls_config *cfg;
	bool server;
	bool handshake_done;
	bool resumed;	       /* the handshake resumed a cached session */
	uint64_t resumed_bind; /* server: the name digest it was made for */
	bool peer_closed;      /* the engine closed cleanly (close_notify) */
	bool shut;	       /* we sent close_notify */
	bool lower_shut;       /* and shut the lower flow's direction */
	bool closed;
	bool sending;		     /* a fiber is handing records down */
	bool receiving;		     /* a fiber is reading records up */
	unsigned writers;	     /* fibers inside writev */
	struct hz_waitq io_waiters;  /* woken when sending or receiving ends */
	int fatal;		     /* sticky error, or 0 */
	uint64_t handshake_deadline; /* 0 until the handshake starts */
	struct hz_errmsg err;
	br_ssl_engine_context *eng;
	union {
		br_ssl_server_context server;
		br_ssl_client_context client;
	} ctx;
	/* Small records gathered for one write; stage_off of them sent. */
	size_t stage_len, stage_off;
	unsigned char stage[TLS_GATHER_MAX];
	br_x509_minimal_context x509; /* client */
	struct sni_policy policy;     /* server */
	/*
	 * After the handshake, records are read whole by this file
	 * (gather_record): the header's first hdr_have bytes while it is
	 * incomplete, then the record (header and payload) in rec, of which
	 * rec_have bytes have arrived and rec_fed went to the engine
	 * (rec_copied: it was gathered from pieces into a buffer of its
	 * own). Application data the flow decrypted itself waits in plain.
	 */
	unsigned char hdr[TLS_HDR];
	size_t hdr_have;
	struct hz_view rec;
	size_t rec_have, rec_fed;
	bool rec_copied;
	struct hz_view plain;
	/* Client: the session ID offered for resumption, if any. */
	unsigned char offered_id[32];
	size_t offered_len;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static const struct hz_flow_ops tls_flow_ops;

static struct tls_flow *tls_of(struct hz_flow *f)
{
	HZ_ASSERT(f->ops == &tls_flow_ops);
	return (struct tls_flow *)f;
}

/* Records the first fatal failure; every later call returns it. */
HZ_PRINTF(3, 4)
static int fail(struct tls_flow *tf, int code, const char *fmt, ...)
{
	va_list ap;

	if (tf->fatal != 0)
		return tf->fatal;
	tf->fatal = code;
	va_start(ap, fmt);
	code = hz_errmsg_vset(&tf->err, code, fmt, ap);
	va_end(ap);
	return code;
}

static int check(const struct tls_flow *tf)
{
	if (tf->closed)
		return -HZ_ECLOSED;
	return tf->fatal;
}

/* A failure of the lower flow, with both layers in the message. */
static int fail_lower(struct tls_flow *tf, int code)
{
	return fail(tf, code, "TLS: %s", hz_flow_error(tf->lower));
}

/*
 * Names the reason the engine closed: 1 for a clean close (close_notify),
 * else the sticky failure.
 */
static int engine_closed(struct tls_flow *tf)
{
	int err = br_ssl_engine_last_error(tf->eng);

	if (tf->fatal != 0)
		return tf->fatal;
	if (err == BR_ERR_OK) {
		tf->peer_closed = true;
		return 1;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT)
		return fail(
		    tf, -HZ_ETLS, "TLS: sent alert %s",
		    tls_alert_name((unsigned)err - BR_ERR_SEND_FATAL_ALERT));
	if (err >= BR_ERR_RECV_FATAL_ALERT)
		return fail(
		    tf, -HZ_ETLS, "TLS: peer sent alert %s",
		    tls_alert_name((unsigned)err - BR_ERR_RECV_FATAL_ALERT));
	return fail(tf, -HZ_ETLS, "TLS: %s", tls_br_error_text(err));
}

/*
 * Gathers small records the engine has ready, one after another, into
 * @stage (acknowledging them to the engine); their length.
 */
static size_t gather_records(struct tls_flow *tf, unsigned char *stage,
			     size_t cap)
{
	size_t n = 0, len;

	while (br_ssl_engine_current_state(tf->eng) & BR_SSL_SENDREC) {
		unsigned char *buf = br_ssl_engine_sendrec_buf(tf->eng, &len);

		if (len > cap - n)
			break;
		memcpy(stage + n, buf, len);
		br_ssl_engine_sendrec_ack(tf->eng, len);
		n += len;
	}
	return n;
}

/* Whether records wait to go down: gathered, or in the engine. */
static bool output_pending(struct tls_flow *tf)
{
	return tf->stage_len > 0 ||
	       (br_ssl_engine_current_state(tf->eng) & BR_SSL_SENDREC);
}

/*
 * What a write or a reservation on the lower flow that failed with @code
 * means: 1 when the peer had said close_notify (a clean end: whatever
 * was to go has nowhere to go, and a deadline that passed meanwhile does
 * not change that), -HZ_ETIMEDOUT when the deadline passed (not an error
 * of the flow), else the lower flow's failure, which ends the session.
 */
static int lower_write_failed(struct tls_flow *tf, int code)
{
	/* shutdown_recv is a field of the context; no function tells it. */
	if (tf->eng->shutdown_recv) {
		tf->peer_closed = true;
		return 1;
	}
	if (code == -HZ_ETIMEDOUT)
		return code;
	return fail_lower(tf, code);
}

/*
 * Hands the engine's outgoing records to the lower flow. 0, 1 (clean
 * end, see below) or a negative code; -HZ_ETIMEDOUT if the deadline
 * passed with part of them sent, the rest kept for the next call.
 *
 * Small records ready together (ChangeCipherSpec and Finished) go down in
 * one write: as two, the second would wait under Nagle's algorithm for the
 * peer's delayed ACK of the first, 40 ms per handshake.
 */
static int send_records(struct tls_flow *tf, uint64_t deadline)
{
	size_t len = 0;
	unsigned char *buf = NULL;
	ssize_t w;

	if (tf->stage_len == 0) {
		buf = br_ssl_engine_sendrec_buf(tf->eng, &len);
		if (len < sizeof(tf->stage)) {
			tf->stage_len =
			    gather_records(tf, tf->stage, sizeof(tf->stage));
			tf->stage_off = 0;
		}
	}
	if (tf->stage_len > 0) {
		buf = tf->stage + tf->stage_off;
		len = tf->stage_len - tf->stage_off;
	}
	tf->sending = true;
	w = hz_flow_write(tf->lower, buf, len, deadline);
	tf->sending = false;
	hz_waitq_wake_all(&tf->io_waiters);
	if (w < 0)
		return lower_write_failed(tf, (int)w);
	if (tf->fatal != 0 || tf->closed)
		return check(tf);
	if (tf->stage_len > 0) {
		tf->stage_off += (size_t)w;
		if (tf->stage_off == tf->stage_len)
			tf->stage_len = tf->stage_off = 0;
	} else {
		br_ssl_engine_sendrec_ack(tf->eng, (size_t)w);
	}
	/* A short write: the deadline passed; the rest goes next time. */
	return (size_t)w < len ? -HZ_ETIMEDOUT : 0;
}

/*
 * What a read of the lower flow that gave no bytes (@n: its end, or a
 * code) means for the session: 0 is never returned.
 */
static int lower_ended(struct tls_flow *tf, int n)
{
	if (n == -HZ_ETIMEDOUT)
		return n; /* not an error of the flow */
	if (n < 0)
		return fail_lower(tf, n);
	if (!tf->handshake_done)
		return fail(tf, -HZ_ECONNRESET,
			    "TLS: the peer closed the connection during the "
			    "handshake");
	if (tf->shut)
		return fail(tf, -HZ_ECONNRESET,
			    "TLS: the peer closed the connection without "
			    "answering our close_notify");
	return fail(tf, -HZ_ETLS,
		    "TLS: the peer closed the connection without close_notify "
		    "(the data may be truncated)");
}

/*
 * During the handshake: reads from the lower flow into the engine's
 * record buffer, as much as it asks for (it asks for one record's header,
 * then its payload, so it ends the handshake at a record's boundary).
 */
static int recv_handshake(struct tls_flow *tf, uint64_t deadline)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_recvrec_buf(tf->eng, &len);
	ssize_t n;

	tf->receiving = true;
	n = hz_flow_read_copy(tf->lower, buf, len, deadline);
	tf->receiving = false;
	hz_waitq_wake_all(&tf->io_waiters);
	if (n > 0 && (tf->fatal != 0 || tf->closed))
		return check(tf);
	if (n > 0) {
		br_ssl_engine_recvrec_ack(tf->eng, (size_t)n);
		return 0;
	}
	return lower_ended(tf, (int)n);
}

/* The payload length a record header gives. */
static size_t record_len(const uint8_t *hdr)
{
	return hz_get16(hdr + 3);
}

static bool record_whole(const struct tls_flow *tf)
{
	return tf->rec.pb != NULL && tf->rec_have == tf->rec.len;
}

static void record_drop(struct tls_flow *tf)
{
	hz_view_release(&tf->rec);
	tf->rec_have = tf->rec_fed = 0;
}

/*
 * Refuses a header the engine would refuse, as it would (BearSSL sends
 * no alert for these): a version other than the session's, a length the
 * record layer cannot hold, a type TLS 1.2 does not have. 0 or a code.
 */
static int check_header(struct tls_flow *tf, const uint8_t *h)
{
	const br_sslrec_in_class **in = &tf->eng->in.vtable;
	size_t len = record_len(h);
	int err = BR_ERR_OK;

	if (hz_get16(h + 1) != tf->eng->version_in)
		err = BR_ERR_BAD_VERSION;
	else if (len > TLS_RECORD_MAX || !(*in)->check_length(in, len))
		err = BR_ERR_BAD_LENGTH;
	else if (h[0] < 20 || h[0] > TLS_APP_DATA)
		err = BR_ERR_UNKNOWN_TYPE;
	if (err == BR_ERR_OK)
		return 0;
	return fail(tf, -HZ_ETLS, "TLS: %s", tls_br_error_text(err));
}

/*
 * Gives the record whose header is in tf->hdr a buffer of its own, to
 * gather it in. 0, or -HZ_ENOMEM with the header kept for the next try.
 */
static int start_record(struct tls_flow *tf)
{
	size_t size = TLS_HDR + record_len(tf->hdr);

	if (hz_pbuf_alloc(NULL, size, &tf->rec) < 0)
		return hz_errmsg_set(&tf->err, -HZ_ENOMEM,
				     "TLS: no buffer for a record of %zu bytes",
				     size);
	memcpy(hz_view_data(&tf->rec), tf->hdr, TLS_HDR);
	tf->rec_have = TLS_HDR;
	tf->rec_copied = true;
	tf->hdr_have = 0;
	return 0;
}

/*
 * Takes the bytes of @v (consumed) towards the record in hand: when the
 * whole record is in @v, it stays there (a view of it); otherwise it is
 * gathered into a buffer of its own. Each header is checked as soon as
 * it is whole. 0 or a code.
 */
static int take_bytes(struct tls_flow *tf, struct hz_view *v)
{
	const uint8_t *d = hz_view_data(v);
	size_t off = 0, k;
	int r;

	if (tf->rec.pb == NULL) {
		if (tf->hdr_have == 0 && v->len >= TLS_HDR &&
		    TLS_HDR + record_len(d) <= v->len) {
			r = check_header(tf, d);
			if (r < 0) {
				hz_view_release(v);
				return r;
			}
			r = hz_view_sub(v, 0, TLS_HDR + record_len(d),
					&tf->rec);
			HZ_ASSERT(r == 0); /* inside @v */
			tf->rec_have = tf->rec.len;
			tf->rec_copied = false;
			hz_flow_unread(tf->lower, v, tf->rec.len);
			return 0;
		}
		k = TLS_HDR - tf->hdr_have;
		k = k < v->len ? k : v->len;
		memcpy(tf->hdr + tf->hdr_have, d, k);
		tf->hdr_have += k;
		off = k;
		if (tf->hdr_have < TLS_HDR) {
			hz_view_release(v);
			return 0;
		}
		r = check_header(tf, tf->hdr);
		if (r == 0)
			r = start_record(tf);
		if (r < 0) {
			hz_flow_unread(tf->lower, v, off);
			return r;
		}
	}
	k = tf->rec.len - tf->rec_have;
	k = k < v->len - off ? k : v->len - off;
	memcpy(hz_view_data(&tf->rec) + tf->rec_have, d + off, k);
	tf->rec_have += k;
	hz_flow_unread(tf->lower, v, off + k);
	return 0;
}

/* Reads the lower flow until a whole record is in hand. 0 or a code. */
static int gather_record(struct tls_flow *tf, uint64_t deadline)
{
	while (!record_whole(tf)) {
		struct hz_view v;
		int n, r;

		/* A header whose buffer was refused: try again first. */
		if (tf->rec.pb == NULL && tf->hdr_have == TLS_HDR) {
			r = start_record(tf);
			if (r < 0)
				return r;
			continue;
		}
		tf->receiving = true;
		n = hz_flow_read(tf->lower, &v, deadline);
		tf->receiving = false;
		hz_waitq_wake_all(&tf->io_waiters);
		if (n > 0 && (tf->fatal != 0 || tf->closed)) {
			hz_view_release(&v);
			return check(tf);
		}
		if (n <= 0)
			return lower_ended(tf, n);
		r = take_bytes(tf, &v);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Whether the record in hand is application data this file decrypts
 * itself: the engine has read none of it, holds no earlier data unread
 * and is not closing. (Its header passed check_header.)
 */
static bool decrypts_here(struct tls_flow *tf)
{
	const uint8_t *h = hz_view_data(&tf->rec);

	return tf->rec_fed == 0 && !tf->shut && h[0] == TLS_APP_DATA &&
	       tf->eng->application_data == 1 &&
	       !(br_ssl_engine_current_state(tf->eng) & BR_SSL_RECVAPP);
}

/* Gives the engine what it takes of the record in hand. 0 or a code. */
static int feed_engine(struct tls_flow *tf)
{
	const uint8_t *d = hz_view_data(&tf->rec);

	if (tf->rec_fed == 0)
		hz_counter_inc(&rec_engine);
	while (tf->rec_fed < tf->rec.len &&
	       (br_ssl_engine_current_state(tf->eng) & BR_SSL_RECVREC)) {
		size_t room, k;
		unsigned char *buf = br_ssl_engine_recvrec_buf(tf->eng, &room);

		k = tf->rec.len - tf->rec_fed;
		k = k < room ? k : room;
		memcpy(buf, d + tf->rec_fed, k);
		br_ssl_engine_recvrec_ack(tf->eng, k);
		tf->rec_fed += k;
	}
	if (tf->rec_fed == tf->rec.len)
		record_drop(tf); /* else the rest when the engine asks again */
	return 0;
}

/*
 * Decrypts the application data record in hand where it lies (in the
 * lower flow's buffer, or the one it was gathered in); its plaintext
 * becomes tf->plain, a view of the same buffer.
 */
static int decrypt_record(struct tls_flow *tf)
{
	uint8_t *h = hz_view_data(&tf->rec);
	size_t len = tf->rec.len - TLS_HDR;
	const br_sslrec_in_class **in = &tf->eng->in.vtable;
	unsigned char *p = (*in)->decrypt(in, TLS_APP_DATA, hz_get16(h + 1),
					  h + TLS_HDR, &len);

	if (p == NULL) {
		/* As the engine: no alert, the session ends. The record may
		 * hold plaintext that did not authenticate: wiped. */
		memset(h, 0, tf->rec.len);
		record_drop(tf);
		return fail(tf, -HZ_ETLS, "TLS: %s",
			    tls_br_error_text(BR_ERR_BAD_MAC));
	}
	hz_counter_inc(tf->rec_copied ? &rec_gathered : &rec_in_place);
	if (len > 0) {
		int r = hz_view_sub(&tf->rec, (size_t)(p - h), len, &tf->plain);

		HZ_ASSERT(r == 0); /* the plaintext is inside the record */
	}
	record_drop(tf);
	return 0;
}

/*
 * Brings in records. During the handshake the engine reads them; after
 * it, this file reads each record whole and decrypts application data
 * itself when a reader waits for it (@want), in place, with no copy
 * into or out of the engine: the engine keeps the keys and sequence
 * numbers (its record contexts, fields of the engine's context) and
 * sees every other record, so it still answers alerts, refuses
 * renegotiation and closes.
 */
static int recv_records(struct tls_flow *tf, unsigned want, uint64_t deadline)
{
	int r;

	if (!tf->handshake_done)
		return recv_handshake(tf, deadline);
	r = gather_record(tf, deadline);
	if (r != 0)
		return r;
	if (want == BR_SSL_RECVAPP && decrypts_here(tf))
		return decrypt_record(tf);
	return feed_engine(tf);
}

/*
 * Moves records until the engine's state has one of the bits of @want.
 * 0 when it does, 1 if the engine closed cleanly, or a negative code.
 *
 * Fibers may read and write one flow at once, so one fiber at a time
 * sends records and one receives (the engine has one buffer for each);
 * the others wait for them. A reader leaves sending to a writer if there
 * is one: a reader stuck sending to a peer that is itself stuck sending
 * to us would never read again. After the handshake a writer waits for
 * another fiber's sending rather than read: only the engine's own
 * answers could need what comes in, and reading would hold the writer
 * until a whole record arrived.
 */
static int pump(struct tls_flow *tf, unsigned want, uint64_t deadline)
{
	bool reader = want == BR_SSL_RECVAPP;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(tf->eng);
		bool out = output_pending(tf);
		bool send = out && !tf->sending && !(reader && tf->writers > 0);
		int r;

		if (tf->fatal != 0 || tf->closed)
			return check(tf);
		if (reader && tf->plain.pb != NULL)
			return 0;
		if (st & BR_SSL_CLOSED)
			return engine_closed(tf);
		if (send)
			r = send_records(tf, deadline);
		else if (st & want)
			return 0;
		else if ((st & BR_SSL_RECVREC) && !tf->receiving &&
			 (reader || !tf->handshake_done || !tf->sending))
			r = recv_records(tf, want, deadline);
		else if (tf->sending || tf->receiving || out)
			r = hz_waitq_wait(&tf->io_waiters, deadline);
		else
			return fail(tf, -HZ_ETLS,
				    "TLS: engine stalled (state %#x, waiting "
				    "for %#x)",
				    st, want);
		if (r != 0)
			return r;
	}
}

/*
 * Sends every record the engine has made. 0, 1 (the peer has gone after
 * its close_notify) or a negative code.
 */
static int flush_records(struct tls_flow *tf, uint64_t deadline)
{
	for (;;) {
		int r;

		if (tf->fatal != 0 || tf->closed)
			return check(tf);
		if (!output_pending(tf))
			return 0;
		if (tf->sending)
			r = hz_waitq_wait(&tf->io_waiters, deadline);
		else
			r = send_records(tf, deadline);
		if (r != 0)
			return r;
	}
}

/*
 * Client: keeps the session just made (or resumed) for the next flow to
 * the same server name. The server echoes the offered ID to resume.
 */
static void client_save_session(struct tls_flow *tf)
{
	br_ssl_session_parameters sp;

	br_ssl_engine_get_session_parameters(tf->eng, &sp);
	tf->resumed =
	    tf->offered_len != 0 && sp.session_id_len == tf->offered_len &&
	    memcmp(sp.session_id, tf->offered_id, tf->offered_len) == 0;
	tls_sessions_client_save(tf->cfg->sessions,
				 br_ssl_engine_get_server_name(tf->eng), &sp,
				 tf->resumed);
	tls_wipe(&sp, sizeof(sp));
}

void tls_server_resuming(br_ssl_server_context *sc, uint64_t bind)
{
	struct tls_flow *tf =
	    (struct tls_flow *)(void *)((char *)sc -
					offsetof(struct tls_flow, ctx.server));

	tf->resumed = true;
	tf->resumed_bind = bind;
}

/* Server: fails a resumed handshake whose SNI name is not the session's. */
static int server_check_resumed(struct tls_flow *tf)
{
	br_ssl_session_parameters sp;
	bool ok;

	if (!tf->resumed)
		return 0;
	br_ssl_engine_get_session_parameters(tf->eng, &sp);
	ok = tls_sessions_check_name(tf->cfg->sessions, &sp, tf->resumed_bind,
				     br_ssl_engine_get_server_name(tf->eng));
	tls_wipe(&sp, sizeof(sp));
	if (ok)
		return 0;
	return fail(tf, -HZ_ETLS,
		    "TLS: the client resumed a session made for another "
		    "server name");
}

static int handshake(struct tls_flow *tf, uint64_t deadline)
{
	uint64_t d;
	int r;

	if (tf->handshake_done)
		return 0;
	if (tf->handshake_deadline == 0) {
		uint64_t now = hz_now(), t = tf->cfg->handshake_timeout;

		tf->handshake_deadline =
		    t > HZ_DEADLINE_NEVER - now ? HZ_DEADLINE_NEVER : now + t;
	}
	d = deadline < tf->handshake_deadline ? deadline
					      : tf->handshake_deadline;
	r = pump(tf, BR_SSL_SENDAPP | BR_SSL_RECVAPP, d);
	if (r == -HZ_ETIMEDOUT && d == tf->handshake_deadline)
		return fail(tf, -HZ_ETIMEDOUT,
			    "TLS: handshake timed out after %llu ms",
			    (unsigned long long)(tf->cfg->handshake_timeout /
						 HZ_NS_PER_MS));
	if (r == 1)
		return fail(tf, -HZ_ETLS,
			    "TLS: the peer ended the session during the "
			    "handshake");
	if (r < 0) {
		/* A session that ended in failure is not offered again. */
		if (!tf->server && tf->fatal != 0)
			tls_sessions_client_forget(
			    tf->cfg->sessions,
			    br_ssl_engine_get_server_name(tf->eng));
		return r;
	}
	if (tf->server) {
		r = server_check_resumed(tf);
		if (r < 0)
			return r;
	}
	tf->handshake_done = true;
	if (!tf->server)
		client_save_session(tf);
	return 0;
}

/* --- the FLOW operations ------------------------------------------------- */

static int tls_read(struct hz_flow *f, struct hz_view *out, uint64_t deadline)
{
	struct tls_flow *tf = tls_of(f);
	unsigned char *buf;
	size_t len;
	int r = check(tf);

	*out = (struct hz_view){0};
	if (r < 0)
		return r;
	if (tf->peer_closed)
		return 0;
	r = handshake(tf, deadline);
	if (r < 0)
		return r;
	r = pump(tf, BR_SSL_RECVAPP, deadline);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (tf->plain.pb != NULL) {
		*out = tf->plain;
		tf->plain = (struct hz_view){0};
		return (int)out->len;
	}
	buf = br_ssl_engine_recvapp_buf(tf->eng, &len);
	r = hz_pbuf_alloc(NULL, len, out);
	if (r < 0)
		return hz_errmsg_set(
		    &tf->err, r, "TLS: no buffer for %zu received bytes", len);
	memcpy(hz_view_data(out), buf, len);
	br_ssl_engine_recvapp_ack(tf->eng, len);
	return (int)len;
}

/* The failure of a write to a session the peer closed. */
static int peer_closed_write(struct tls_flow *tf)
{
	return hz_errmsg_set(&tf->err, -HZ_ECLOSED,
			     "TLS: the peer closed the session (close_notify); "
			     "nothing more can be sent");
}

/* What a writev has still to take of its vector. */
struct wcursor {
	const struct hz_iov *iov;
	size_t n, i, off; /* at byte off of iov[i] */
	size_t left;
};

/* Copies up to @cap bytes of @w into @dst, taking them; the count. */
static size_t wcursor_take(struct wcursor *w, unsigned char *dst, size_t cap)
{
	size_t done = 0;

	while (done < cap && w->i < w->n) {
		size_t k = w->iov[w->i].len - w->off;

		if (k > cap - done)
			k = cap - done;
		if (k > 0) /* an empty piece may have no base */
			memcpy(dst + done,
			       (const unsigned char *)w->iov[w->i].base +
				   w->off,
			       k);
		done += k;
		w->off += k;
		if (w->off == w->iov[w->i].len) {
			w->i++;
			w->off = 0;
		}
	}
	w->left -= done;
	return done;
}

/*
 * Whether the engine's output side is idle: no record in its buffer and
 * no application data gathered for one. (Its offsets: oxa == oxc while
 * a record's payload is empty, and oxb > oxa while one may be written.)
 */
static bool engine_out_idle(const br_ssl_engine_context *eng)
{
	return eng->oxa == eng->oxc && eng->oxb > eng->oxa;
}

/*
 * Whether the next record may be sealed where the lower flow sends it:
 * the lower flow lends room, the handshake is over, and the engine has
 * nothing of its own to send before it (its records use the same
 * sequence numbers), nor a fiber that sends them.
 */
static bool seals_here(struct tls_flow *tf)
{
	unsigned st = br_ssl_engine_current_state(tf->eng);

	return tf->handshake_done && !tf->shut && !tf->sending &&
	       tf->fatal == 0 && !tf->closed && hz_flow_lends(tf->lower) &&
	       tf->eng->application_data == 1 && tf->stage_len == 0 &&
	       (st & BR_SSL_SENDAPP) &&
	       !(st & (BR_SSL_SENDREC | BR_SSL_CLOSED)) &&
	       engine_out_idle(tf->eng);
}

/* What the suite adds to a record's plaintext: header, nonce, tag. */
static size_t seal_overhead(struct tls_flow *tf)
{
	const br_sslrec_out_class *const *out = &tf->eng->out.vtable;
	size_t a = TLS_HDR, b = TLS_HDR + 1024;

	(*out)->max_plaintext(out, &a, &b);
	return TLS_HDR + 1024 - (b - a);
}

/*
 * Seals the next record of @w in the room the lower flow lends (TCP's
 * send ring), where it will be sent from: the plaintext is copied there
 * once and encrypted in place by the engine's record context, which
 * keeps the keys and sequence numbers. 1 when sealed (its plaintext
 * counted in *total), 0 when the room before the lower buffer wraps is
 * too short for a record worth making (the engine makes this one),
 * -HZ_EAGAIN when the engine queued records of its own meanwhile (they
 * go first), or a negative code.
 */
static int seal_record(struct tls_flow *tf, struct wcursor *w,
		       uint64_t deadline, size_t *total)
{
	const br_sslrec_out_class **out = &tf->eng->out.vtable;
	size_t frag = tf->eng->max_frag_len;
	size_t want = w->left < frag ? w->left : frag;
	size_t over = seal_overhead(tf);
	size_t a = TLS_HDR, b, n, taken;
	uint8_t *buf;
	unsigned char *rec;
	ssize_t room;

	tf->sending = true;
	room = hz_flow_reserve(tf->lower, over + want, &buf, deadline);
	tf->sending = false;
	hz_waitq_wake_all(&tf->io_waiters);
	if (room < 0) {
		int r = lower_write_failed(tf, (int)room);

		return r == 1 ? peer_closed_write(tf) : r;
	}
	if (!seals_here(tf)) {
		int r = check(tf);

		hz_flow_commit(tf->lower, 0);
		return r < 0 ? r : -HZ_EAGAIN;
	}
	if ((size_t)room < over + (want < TLS_SEAL_MIN ? want : TLS_SEAL_MIN)) {
		hz_flow_commit(tf->lower, 0);
		return 0;
	}
	b = (size_t)room;
	(*out)->max_plaintext((const br_sslrec_out_class *const *)out, &a, &b);
	if (b - a > frag)
		b = a + frag;
	taken = wcursor_take(w, buf + a, b - a);
	n = taken;
	rec = (*out)->encrypt(out, TLS_APP_DATA, tf->eng->version_out, buf + a,
			      &n);
	HZ_ASSERT(rec == buf && n <= (size_t)room);
	hz_flow_commit(tf->lower, n);
	hz_counter_inc(&rec_sealed);
	*total += taken;
	return 1;
}

/* Has the engine seal the application data gathered in its buffer. */
static void engine_seal(struct tls_flow *tf)
{
	if (tf->eng->oxa > tf->eng->oxc) /* payload gathered */
		hz_counter_inc(&rec_sealed_engine);
	br_ssl_engine_flush(tf->eng, 0);
}

/*
 * Seals @iov[0..n) into records and sends them; count in *total. After
 * the handshake, over a flow that lends room (TCP), each record is
 * sealed where it will be sent from (seal_record); otherwise, and where
 * that room is too short, the engine seals in its own buffer and the
 * records are copied down.
 */
static int tls_write_all(struct tls_flow *tf, const struct hz_iov *iov,
			 size_t n, uint64_t deadline, size_t *total)
{
	struct wcursor w = {.iov = iov, .n = n};

	for (size_t i = 0; i < n; i++)
		w.left += iov[i].len;
	while (w.left > 0) {
		unsigned char *buf;
		size_t cap, room;
		bool one = false; /* the engine seals one record, here */
		int r;

		if (seals_here(tf)) {
			r = seal_record(tf, &w, deadline, total);
			if (r == 1 || r == -HZ_EAGAIN)
				continue;
			if (r == -HZ_ETIMEDOUT && *total > 0)
				return 0; /* a partial write */
			if (r < 0)
				return r;
			one = true;
		}
		r = pump(tf, BR_SSL_SENDAPP, deadline);
		if (r == 1)
			return peer_closed_write(tf);
		if (r == -HZ_ETIMEDOUT && *total > 0)
			return 0; /* a partial write */
		if (r < 0)
			return r;
		buf = br_ssl_engine_sendapp_buf(tf->eng, &cap);
		room = wcursor_take(&w, buf, cap);
		br_ssl_engine_sendapp_ack(tf->eng, room);
		*total += room;
		if (room == cap)
			hz_counter_inc(&rec_sealed_engine); /* it was full */
		else if (one)
			engine_seal(tf);
	}
	/*
	 * Records a passing deadline leaves unsent stay queued: the next
	 * call on the flow, or its close, sends them.
	 */
	engine_seal(tf);
	if (flush_records(tf, deadline) == 1)
		return peer_closed_write(tf);
	return check(tf);
}

static ssize_t tls_writev(struct hz_flow *f, const struct hz_iov *iov, size_t n,
			  uint64_t deadline)
{
	struct tls_flow *tf = tls_of(f);
	size_t total = 0;
	int r = check(tf);

	if (r < 0)
		return r;
	if (tf->shut)
		return hz_errmsg_set(&tf->err, -HZ_ECLOSED,
				     "TLS: write after shutdown");
	r = handshake(tf, deadline);
	if (r < 0)
		return r;
	tf->writers++;
	r = tls_write_all(tf, iov, n, deadline, &total);
	tf->writers--;
	hz_waitq_wake_all(&tf->io_waiters);
	if (r < 0)
		return r;
	return (ssize_t)total;
}

static int tls_shutdown(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);
	int r = check(tf);

	if (r < 0)
		return r;
	if (!tf->shut) {
		tf->shut = true;
		if (!(br_ssl_engine_current_state(tf->eng) & BR_SSL_CLOSED))
			br_ssl_engine_close(tf->eng);
	}
	/* A timeout leaves the rest queued: calling again goes on. */
	r = flush_records(tf, hz_now() + tf->cfg->handshake_timeout);
	if (r < 0)
		return r;
	if (tf->peer_closed || tf->lower_shut)
		return 0;
	r = hz_flow_shutdown(tf->lower);
	if (r < 0)
		return fail_lower(tf, r);
	tf->lower_shut = true;
	return 0;
}

static void tls_close(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);

	if (tf->closed)
		return;
	/*
	 * Say goodbye if the session is healthy, after what a deadline left
	 * queued; never wait long for it. A failure here stays in the
	 * message; the flow is ending.
	 */
	if (tf->handshake_done && tf->fatal == 0) {
		if (!tf->shut &&
		    !(br_ssl_engine_current_state(tf->eng) & BR_SSL_CLOSED))
			br_ssl_engine_close(tf->eng);
		/* Its failure stays in the message: the flow is ending. */
		(void)flush_records(tf, hz_now() + TLS_CLOSE_WAIT);
	}
	tf->closed = true;
	hz_view_release(&tf->plain);
	record_drop(tf);
	hz_flow_close(tf->lower);
}

static void tls_abort(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);

	tf->closed = true; /* no close_notify: what is unsent is dropped */
	hz_view_release(&tf->plain);
	record_drop(tf);
	hz_flow_abort(tf->lower);
}

static void tls_free(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);
	struct hz_flow *lower = tf->lower;

	tls_close(f);
	hz_flow_free(lower);
	/* Session keys and plaintext live in there. */
	memset(tf, 0, sizeof(*tf));
	hz_free(tf);
}

static const char *tls_error(const struct hz_flow *f)
{
	const struct tls_flow *tf = (const struct tls_flow *)f;

	return hz_errmsg_text(&tf->err);
}

static const struct hz_flow_ops tls_flow_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .abort = tls_abort,
    .free = tls_free,
    .error_message = tls_error,
};

/* --- the server's chain choice ------------------------------------------ */

/*
 * Returns the chain of @cfg whose leaf names @name exactly, else one
 * whose wildcard covers it, else the first.
 */
static const struct tls_chain *chain_for(const struct hz_tls_config *cfg,
					 const char *name)
{
	if (name == NULL || name[0] == '\0')
		return cfg->chains[0];
	for (int wild = 0; wild < 2; wild++)
		for (size_t i = 0; i < cfg->nchains; i++)
			for (size_t j = 0; j < cfg->chains[i]->nnames; j++) {
				const char *n = cfg->chains[i]->names[j];

				if ((n[0] == '*') == wild &&
				    tls_name_matches(n, name))
					return cfg->chains[i];
			}
	return cfg->chains[0];
}

static int sni_choose(const br_ssl_server_policy_class **pctx,
		      const br_ssl_server_context *cc,
		      br_ssl_server_choices *choices)
{
	struct sni_policy *p = (struct sni_policy *)pctx;
	br_ssl_server_context *sc = &p->tf->ctx.server;
	const struct tls_chain *c;

	(void)cc;
	c = chain_for(p->tf->cfg, br_ssl_engine_get_server_name(&sc->eng));
	if (c->key_type == BR_KEYTYPE_RSA)
		br_ssl_server_set_single_rsa(sc, c->certs, c->ncerts,
					     &c->key.rsa, BR_KEYTYPE_SIGN,
					     br_rsa_private_get_default(),
					     br_rsa_pkcs1_sign_get_default());
	else
		br_ssl_server_set_single_ec(sc, c->certs, c->ncerts, &c->key.ec,
					    BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
					    &tls_ec, tls_ecdsa_sign);
	/* That installed BearSSL's policy; we stay in front of it. */
	p->inner = sc->policy_vtable;
	br_ssl_server_set_policy(sc, &p->vtable);
	return (*p->inner)->choose(p->inner, cc, choices);
}

static uint32_t sni_do_keyx(const br_ssl_server_policy_class **pctx,
			    unsigned char *data, size_t *len)
{
	struct sni_policy *p = (struct sni_policy *)pctx;

	return p->inner == NULL ? 0 : (*p->inner)->do_keyx(p->inner, data, len);
}

static size_t sni_do_sign(const br_ssl_server_policy_class **pctx,
			  unsigned algo_id, unsigned char *data, size_t hv_len,
			  size_t len)
{
	struct sni_policy *p = (struct sni_policy *)pctx;

	if (p->inner == NULL)
		return 0;
	return (*p->inner)->do_sign(p->inner, algo_id, data, hv_len, len);
}

static const br_ssl_server_policy_class sni_policy_class = {
    .context_size = sizeof(struct sni_policy),
    .choose = sni_choose,
    .do_keyx = sni_do_keyx,
    .do_sign = sni_do_sign,
};

/* --- creation ------------------------------------------------------------ */

/*
 * Seeds the engine's PRNG from the image's random source (haze/random.h),
 * and only from it.
 */
static int seed_engine(struct tls_flow *tf)
{
	unsigned char seed[TLS_SEED_BYTES];
	int r = hz_random_bytes(seed, sizeof(seed));

	if (r == -HZ_ENOTSUP)
		return fail(tf, r,
			    "TLS: the image has no random source to seed the "
			    "engine (HZ_RANDOM_SOURCE, haze/random.h)");
	if (r < 0)
		return fail(tf, r,
			    "TLS: no random bytes to seed the engine (%s)",
			    hz_strerror(r));
	br_ssl_engine_inject_entropy(tf->eng, seed, sizeof(seed));
	memset(seed, 0, sizeof(seed));
	/*
	 * BearSSL would also try its system seeder at reset; marking it as
	 * tried keeps every random byte Haze's. (A field of the context,
	 * documented there; no function sets it.)
	 */
	tf->eng->rng_os_rand_done = 1;
	return 0;
}

/* Configuration common to both roles, then the seed. */
static int engine_common(struct tls_flow *tf)
{
	const struct hz_tls_config *cfg = tf->cfg;

	br_ssl_engine_set_versions(tf->eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(tf->eng, tls_suites,
				 sizeof(tls_suites) / sizeof(tls_suites[0]));
	br_ssl_engine_set_all_flags(tf->eng,
				    BR_OPT_NO_RENEGOTIATION |
					BR_OPT_ENFORCE_SERVER_PREFERENCES);
	br_ssl_engine_set_buffer(tf->eng, tf->iobuf, sizeof(tf->iobuf), 1);
	br_ssl_engine_set_ec(tf->eng, &tls_ec); /* ECDHE: Nettle's curves */
	tls_gcm_install(tf->eng); /* AES-GCM on 256-bit vectors, if any */
	if (cfg->nalpn > 0)
		br_ssl_engine_set_protocol_names(
		    tf->eng, (const char **)cfg->alpn, cfg->nalpn);
	return seed_engine(tf);
}

/* Sets the validation time from the configuration or the wall clock. */
static void set_validation_time(struct tls_flow *tf)
{
	uint64_t secs = tf->cfg->fixed_time;

	if (secs == 0)
		secs = hz_platform_clock_wall() / HZ_NS_PER_S;
	br_x509_minimal_set_time(&tf->x509,
				 (uint32_t)(secs / 86400) + TLS_DAYS_TO_EPOCH,
				 (uint32_t)(secs % 86400));
}

static int tls_new(struct hz_flow *lower, const struct hz_tls_config *cfg,
		   struct tls_flow **out)
{
	struct tls_flow *tf = hz_malloc(sizeof(*tf));

	*out = NULL;
	if (tf == NULL) {
		hz_flow_free(lower);
		return -HZ_ENOMEM;
	}
	memset(tf, 0, offsetof(struct tls_flow, iobuf));
	tf->flow.ops = &tls_flow_ops;
	tf->lower = lower;
	tf->cfg = cfg;
	*out = tf;
	return 0;
}

/*
 * Resets the engine for a new session. A failure (no entropy) stays in
 * the flow as its sticky error, so the first call on it says what it was.
 */
static void engine_start(struct tls_flow *tf, const char *server_name)
{
	int ok;

	if (engine_common(tf) < 0)
		return;
	if (tf->server) {
		ok = br_ssl_server_reset(&tf->ctx.server);
	} else {
		br_ssl_session_parameters sp;
		bool resume = tls_sessions_client_load(tf->cfg->sessions,
						       server_name, &sp);

		if (resume) {
			br_ssl_engine_set_session_parameters(tf->eng, &sp);
			memcpy(tf->offered_id, sp.session_id,
			       sp.session_id_len);
			tf->offered_len = sp.session_id_len;
			tls_wipe(&sp, sizeof(sp));
		}
		ok = br_ssl_client_reset(&tf->ctx.client, server_name, resume);
	}
	if (!ok) /* sticky: the first call on the flow returns it */
		(void)fail(
		    tf, -HZ_ETLS, "TLS: the engine did not start: %s",
		    tls_br_error_text(br_ssl_engine_last_error(tf->eng)));
}

int hz_tls_server(struct hz_flow *lower, const struct hz_tls_config *cfg,
		  struct hz_flow **out)
{
	struct tls_flow *tf;
	int r;

	*out = NULL;
	if (cfg->role != HZ_TLS_SERVER || cfg->nchains == 0) {
		hz_flow_free(lower);
		return -HZ_EINVAL;
	}
	r = tls_new(lower, cfg, &tf);
	if (r < 0)
		return r;
	tf->server = true;
	/* Chains come per connection from the policy; none here. */
	br_ssl_server_init_full_ec(&tf->ctx.server, NULL, 0, BR_KEYTYPE_EC,
				   NULL);
	tf->eng = &tf->ctx.server.eng;
	tf->policy.vtable = &sni_policy_class;
	tf->policy.tf = tf;
	br_ssl_server_set_policy(&tf->ctx.server, &tf->policy.vtable);
	br_ssl_server_set_cache(&tf->ctx.server,
				tls_sessions_server(cfg->sessions));
	engine_start(tf, NULL);
	*out = &tf->flow;
	return 0;
}

int hz_tls_client(struct hz_flow *lower, const struct hz_tls_config *cfg,
		  const char *server_name, struct hz_flow **out)
{
	struct tls_flow *tf;
	int r;

	*out = NULL;
	if (cfg->role != HZ_TLS_CLIENT || cfg->nanchors == 0 ||
	    (server_name != NULL && strlen(server_name) > HZ_TLS_NAME_MAX)) {
		hz_flow_free(lower);
		return -HZ_EINVAL;
	}
	r = tls_new(lower, cfg, &tf);
	if (r < 0)
		return r;
	br_ssl_client_init_full(&tf->ctx.client, &tf->x509, cfg->anchors,
				cfg->nanchors);
	tf->eng = &tf->ctx.client.eng;
	/* The server's ECDSA signatures, on its chain and its key exchange. */
	br_x509_minimal_set_ecdsa(&tf->x509, &tls_ec, tls_ecdsa_vrfy);
	br_ssl_engine_set_ecdsa(tf->eng, tls_ecdsa_vrfy);
	set_validation_time(tf);
	engine_start(tf, server_name);
	*out = &tf->flow;
	return 0;
}

/* --- queries ------------------------------------------------------------- */

int hz_tls_handshake(struct hz_flow *f, uint64_t deadline)
{
	struct tls_flow *tf = tls_of(f);
	int r = check(tf);

	if (r < 0)
		return r;
	return handshake(tf, deadline);
}

const char *hz_tls_alpn(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);

	if (!tf->handshake_done)
		return NULL;
	return br_ssl_engine_get_selected_protocol(tf->eng);
}

const char *hz_tls_server_name(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);
	const char *name = br_ssl_engine_get_server_name(tf->eng);

	return name != NULL && name[0] != '\0' ? name : NULL;
}

bool hz_tls_resumed(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);

	return tf->handshake_done && tf->resumed;
}

const char *hz_tls_suite(struct hz_flow *f)
{
	struct tls_flow *tf = tls_of(f);
	br_ssl_session_parameters sp;

	if (!tf->handshake_done)
		return NULL;
	br_ssl_engine_get_session_parameters(tf->eng, &sp);
	return tls_suite_name(sp.cipher_suite);
}
