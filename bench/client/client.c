/*
 * client: the load generator of bench/tcp and bench/tls, one figure per run
 * on stdout, a message on stderr and a non-zero exit when anything goes
 * wrong (a refused connection, a short read, an early close, echoed data
 * that differ from what was sent, no progress for IO_TIMEOUT seconds).
 *
 *   client send HOST PORT MIB          MB/s pushed into discard: MIB MiB,
 *                                      then shutdown(SHUT_WR), timed until
 *                                      the server's FIN
 *   client recv HOST PORT MIB          MB/s pulled from chargen
 *   client rate HOST PORT SECS         connections per second to echo:
 *                                      connect, 1 byte there and back, close
 *   client echo HOST PORT MIB [CAFILE] MB/s through an echo server, sending
 *                                      and receiving at once; over TLS 1.2
 *                                      (ECDHE, AES-GCM, SNI and verified
 *                                      name "localhost", CAFILE's PEM
 *                                      certificates the trust anchors) when
 *                                      CAFILE is given
 *
 * It replaces two Python clients that took 56-86 % of a core pulling from
 * chargen and 66-72 % in TLS echo, and so bounded the figures they
 * reported (docs/perf.md, "The load generator"). Bulk transfers use fixed
 * buffers (1 MiB reads, 1 MiB writes to discard, 256 KiB to echo); socket
 * buffers are left at the kernel's defaults. echo runs in one thread,
 * nonblocking with poll(); over TLS it drives BearSSL's engine directly,
 * moving records to and from the socket itself, with the AES-GCM that
 * Haze's TLS uses (src/tls/tls_gcm.c: VAES and VPCLMULQDQ where the
 * processor has them), so the client keeps pace with the server as a
 * peer on OpenSSL would. Times are CLOCK_MONOTONIC;
 * a TLS echo is timed from the end of its handshake.
 *
 * Echo's stream is a fixed pattern (byte k of the stream is k mod 251), so
 * each echoed read is checked with one memcmp against the pattern.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "tls/tls_gcm.h"

/* Bytes per read, and per write into discard. */
#define RECV_BUF (1u << 20)
/* Bytes per write into echo: both directions share the connection. */
#define ECHO_CHUNK (256u << 10)
/* Echo's pattern repeats every PATTERN_PERIOD bytes (a prime, so that it
 * lines up with neither chunks nor TLS records). */
#define PATTERN_PERIOD 251u
/* Seconds without progress (or a blocking call's wait) before giving up. */
#define IO_TIMEOUT 30
/* TLS: the name sent as SNI and verified in the server's certificate. */
#define TLS_NAME "localhost"
/* Trust anchors read from CAFILE, at most. */
#define ANCHORS_MAX 16

/* Where the benchmark connects: resolved once, dialled per connection. */
struct target {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *host;
	const char *port;
};

/* An echo run's progress, for both the plain and the TLS loop. */
struct echo {
	const struct target *t;
	int fd;
	uint64_t total;
	uint64_t sent;
	uint64_t got;
	double last_progress;
};

/* The pattern echo sends, long enough for any read at any phase. */
static unsigned char pattern[RECV_BUF + PATTERN_PERIOD];
/* The buffer reads land in. */
static unsigned char rbuf[RECV_BUF];

/* Prints "client: MESSAGE" on stderr and exits 1. */
static _Noreturn void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints "client: MESSAGE" on stderr and exits 1. */
static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Prints the usage on stderr and exits 2. */
static _Noreturn void usage(void)
{
	fputs("usage: client send|recv HOST PORT MIB | rate HOST PORT SECS"
	      " | echo HOST PORT MIB [CAFILE]\n",
	      stderr);
	exit(2);
}

/* The monotonic clock, in seconds. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses a positive count @s of @what (MiB, seconds), or fails. */
static unsigned long parse_count(const char *s, const char *what)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > (1ul << 30))
		fail("%s: not a positive number of %s", s, what);
	return v;
}

/* Resolves @host and @port into @t, or fails. */
static void target_resolve(struct target *t, const char *host, const char *port)
{
	struct addrinfo hints = {0}, *ai;
	int r;

	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0)
		fail("%s port %s: %s", host, port, gai_strerror(r));
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addrlen = ai->ai_addrlen;
	t->host = host;
	t->port = port;
	freeaddrinfo(ai);
}

/* Connects to @t, with IO_TIMEOUT on every blocking call; or fails. */
static int target_dial(const struct target *t)
{
	struct timeval tv = {IO_TIMEOUT, 0};
	int fd = socket(t->addr.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	/* SO_SNDTIMEO bounds connect() too. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		fail("setsockopt: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0)
		fail("connect to %s port %s: %s", t->host, t->port,
		     errno == EINPROGRESS ? "timed out" : strerror(errno));
	return fd;
}

/* Names a failed blocking call's errno, a timeout as such. */
static const char *io_error(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK ? "timed out"
						   : strerror(err);
}

/* send: @mib MiB into discard; MB/s until the server's FIN. */
static double run_send(const struct target *t, unsigned long mib)
{
	static unsigned char zeros[RECV_BUF];
	uint64_t total = (uint64_t)mib << 20, sent = 0;
	int fd = target_dial(t);
	double t0 = now(), dt;
	char c;
	ssize_t n;

	while (sent < total) {
		size_t len = total - sent < sizeof(zeros)
				 ? (size_t)(total - sent)
				 : sizeof(zeros);

		n = send(fd, zeros, len, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR)
			fail("send to discard after %llu of %llu bytes: %s",
			     (unsigned long long)sent,
			     (unsigned long long)total, io_error(errno));
		if (n > 0)
			sent += (uint64_t)n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		fail("shutdown: %s", strerror(errno));
	/* The server's FIN says everything arrived. */
	do
		n = recv(fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("waiting for discard's FIN: %s", io_error(errno));
	if (n > 0)
		fail("discard sent data");
	dt = now() - t0;
	close(fd);
	return (double)total / dt / 1e6;
}

/* recv: @mib MiB out of chargen; MB/s. */
static double run_recv(const struct target *t, unsigned long mib)
{
	uint64_t total = (uint64_t)mib << 20, got = 0;
	int fd = target_dial(t);
	double t0 = now(), dt;

	while (got < total) {
		size_t want =
		    total - got < RECV_BUF ? (size_t)(total - got) : RECV_BUF;
		ssize_t n = recv(fd, rbuf, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("recv from chargen after %llu of %llu bytes: %s",
			     (unsigned long long)got, (unsigned long long)total,
			     io_error(errno));
		if (n == 0)
			fail("chargen closed after %llu of %llu bytes",
			     (unsigned long long)got,
			     (unsigned long long)total);
		got += (uint64_t)n;
	}
	dt = now() - t0;
	close(fd);
	return (double)got / dt / 1e6;
}

/* rate: connections per second to echo for @secs seconds. */
static double run_rate(const struct target *t, unsigned long secs)
{
	double t0 = now(), t1 = t0;
	uint64_t conns = 0;

	while (t1 - t0 < (double)secs) {
		int fd = target_dial(t);
		char c = 'x';
		ssize_t n;

		n = send(fd, &c, 1, MSG_NOSIGNAL);
		if (n != 1)
			fail("send to echo (connection %llu): %s",
			     (unsigned long long)conns + 1,
			     n < 0 ? io_error(errno) : "short");
		n = recv(fd, &c, 1, 0);
		if (n != 1 || c != 'x')
			fail("echo did not answer (connection %llu): %s",
			     (unsigned long long)conns + 1,
			     n < 0    ? io_error(errno)
			     : n == 0 ? "closed"
				      : "wrong byte");
		close(fd);
		conns++;
		t1 = now();
	}
	return (double)conns / (t1 - t0);
}

/* Fills the pattern: byte k is k mod PATTERN_PERIOD. */
static void pattern_init(void)
{
	for (size_t k = 0; k < sizeof(pattern); k++)
		pattern[k] = (unsigned char)(k % PATTERN_PERIOD);
}

/* The pattern from stream offset @off on. */
static const unsigned char *pattern_at(uint64_t off)
{
	return pattern + off % PATTERN_PERIOD;
}

/* Accounts @len echoed bytes at @buf: checked, then counted. */
static void echo_received(struct echo *e, const unsigned char *buf, size_t len)
{
	if (e->got + len > e->sent)
		fail("echo returned %llu bytes, more than the %llu sent",
		     (unsigned long long)(e->got + len),
		     (unsigned long long)e->sent);
	if (memcmp(buf, pattern_at(e->got), len) != 0)
		fail("echo returned other data than sent, between bytes "
		     "%llu and %llu",
		     (unsigned long long)e->got,
		     (unsigned long long)(e->got + len));
	e->got += len;
	e->last_progress = now();
}

/* Fails with @what and errno unless it says "try again later". */
static void echo_check_errno(const struct echo *e, const char *what)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	fail("%s after %llu bytes sent, %llu echoed: %s", what,
	     (unsigned long long)e->sent, (unsigned long long)e->got,
	     strerror(errno));
}

/* Waits for @events on the socket, failing after IO_TIMEOUT idle. */
static void echo_wait(struct echo *e, short events)
{
	struct pollfd p = {e->fd, events, 0};

	if (now() - e->last_progress > IO_TIMEOUT)
		fail("echo stalled at %llu of %llu bytes (%llu sent)",
		     (unsigned long long)e->got, (unsigned long long)e->total,
		     (unsigned long long)e->sent);
	if (poll(&p, 1, 1000) < 0 && errno != EINTR)
		fail("poll: %s", strerror(errno));
}

/* Plain echo: writes and reads at once until all came back. */
static void echo_plain(struct echo *e)
{
	while (e->got < e->total) {
		short events = POLLIN;
		bool moved = false;
		ssize_t n;

		if (e->sent < e->total) {
			size_t len = e->total - e->sent < ECHO_CHUNK
					 ? (size_t)(e->total - e->sent)
					 : ECHO_CHUNK;

			n = send(e->fd, pattern_at(e->sent), len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				e->sent += (uint64_t)n;
				e->last_progress = now();
				moved = true;
			} else {
				echo_check_errno(e, "send");
				events |= POLLOUT;
			}
		}
		n = recv(e->fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
		if (n > 0) {
			echo_received(e, rbuf, (size_t)n);
			moved = true;
		} else if (n == 0) {
			fail("echo closed after %llu of %llu bytes",
			     (unsigned long long)e->got,
			     (unsigned long long)e->total);
		} else {
			echo_check_errno(e, "recv");
		}
		if (!moved)
			echo_wait(e, events);
	}
}

/* Names BearSSL error @err, the ones a misconfigured run meets. */
static const char *tls_error_name(int err)
{
	static char other[48];

	switch (err) {
	case BR_ERR_X509_NOT_TRUSTED:
		return "the server's certificate is not trusted";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "the server's certificate is not for " TLS_NAME;
	case BR_ERR_X509_EXPIRED:
		return "the server's certificate is expired";
	default:
		break;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT)
		snprintf(other, sizeof(other), "sent fatal alert %d",
			 err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_RECV_FATAL_ALERT)
		snprintf(other, sizeof(other), "the server sent fatal alert %d",
			 err - BR_ERR_RECV_FATAL_ALERT);
	else
		snprintf(other, sizeof(other), "BearSSL error %d", err);
	return other;
}

/* Fails unless the TLS engine @eng is still open. */
static void tls_check(const struct echo *e, const br_ssl_engine_context *eng)
{
	int err;

	if (!(br_ssl_engine_current_state(eng) & BR_SSL_CLOSED))
		return;
	err = br_ssl_engine_last_error(eng);
	if (err == BR_ERR_OK)
		fail("TLS: the server closed after %llu of %llu bytes",
		     (unsigned long long)e->got, (unsigned long long)e->total);
	fail("TLS failed after %llu of %llu bytes: %s",
	     (unsigned long long)e->got, (unsigned long long)e->total,
	     tls_error_name(err));
}

/*
 * Moves records between @eng and the socket, as much as goes without
 * blocking. Returns the poll events to wait for when nothing moved, else 0.
 */
static short tls_io(struct echo *e, br_ssl_engine_context *eng)
{
	short events = 0;
	bool moved = false;
	unsigned char *buf;
	size_t len;
	ssize_t n;

	buf = br_ssl_engine_sendrec_buf(eng, &len);
	if (buf != NULL) {
		n = send(e->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			br_ssl_engine_sendrec_ack(eng, (size_t)n);
			moved = true;
		} else {
			echo_check_errno(e, "send");
			events |= POLLOUT;
		}
	}
	buf = br_ssl_engine_recvrec_buf(eng, &len);
	if (buf != NULL) {
		n = recv(e->fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			br_ssl_engine_recvrec_ack(eng, (size_t)n);
			moved = true;
		} else if (n == 0) {
			br_ssl_engine_close(eng);
			fail("TLS echo: the server closed the connection "
			     "after %llu of %llu bytes",
			     (unsigned long long)e->got,
			     (unsigned long long)e->total);
		} else {
			echo_check_errno(e, "recv");
			events |= POLLIN;
		}
	}
	if (moved) {
		e->last_progress = now();
		return 0;
	}
	return events;
}

/* Runs the TLS handshake on @eng until application data can flow. */
static void tls_handshake(struct echo *e, br_ssl_engine_context *eng)
{
	while (!(br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP)) {
		short events;

		tls_check(e, eng);
		events = tls_io(e, eng);
		if (events != 0)
			echo_wait(e, events);
	}
}

/* TLS echo: pushes plaintext in and takes it out, records between. */
static void echo_tls(struct echo *e, br_ssl_engine_context *eng)
{
	while (e->got < e->total) {
		bool moved = false;
		unsigned char *buf;
		short events;
		size_t len;

		tls_check(e, eng);
		buf = br_ssl_engine_recvapp_buf(eng, &len);
		if (buf != NULL) {
			echo_received(e, buf, len);
			br_ssl_engine_recvapp_ack(eng, len);
			moved = true;
		}
		buf = e->sent < e->total ? br_ssl_engine_sendapp_buf(eng, &len)
					 : NULL;
		if (buf != NULL) {
			if (len > e->total - e->sent)
				len = (size_t)(e->total - e->sent);
			memcpy(buf, pattern_at(e->sent), len);
			br_ssl_engine_sendapp_ack(eng, len);
			e->sent += len;
			/* The last bytes go out now, not at a full record. */
			if (e->sent == e->total)
				br_ssl_engine_flush(eng, 0);
			moved = true;
		}
		events = tls_io(e, eng);
		if (!moved && events != 0)
			echo_wait(e, events);
	}
}

/* Bytes decoded from PEM or X.509, gathered in a growing allocation. */
struct der_buf {
	unsigned char *data;
	size_t len;
	bool overflow;
};

/* br_x509_decoder's and br_pem_decoder's destination: a der_buf. */
static void der_append(void *ctx, const void *src, size_t len)
{
	struct der_buf *d = ctx;
	unsigned char *grown;

	if (d->overflow)
		return;
	grown = realloc(d->data, d->len + len);
	if (grown == NULL) {
		d->overflow = true;
		return;
	}
	d->data = grown;
	memcpy(d->data + d->len, src, len);
	d->len += len;
}

/* Makes a trust anchor of certificate @der; false if it is not one. */
static bool anchor_from_der(br_x509_trust_anchor *ta, const unsigned char *der,
			    size_t len)
{
	static br_x509_decoder_context dc;
	struct der_buf dn = {0};
	const br_x509_pkey *pk;
	br_x509_pkey key;

	br_x509_decoder_init(&dc, der_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || br_x509_decoder_last_error(&dc) != 0 || dn.overflow) {
		free(dn.data);
		return false;
	}
	/* The key points into the decoder: copied out, as is the name. */
	key = *pk;
	if (key.key_type == BR_KEYTYPE_RSA) {
		struct der_buf n = {0}, x = {0};

		der_append(&n, key.key.rsa.n, key.key.rsa.nlen);
		der_append(&x, key.key.rsa.e, key.key.rsa.elen);
		if (n.overflow || x.overflow)
			fail("no memory for a trust anchor");
		key.key.rsa.n = n.data;
		key.key.rsa.e = x.data;
	} else {
		struct der_buf q = {0};

		der_append(&q, key.key.ec.q, key.key.ec.qlen);
		if (q.overflow)
			fail("no memory for a trust anchor");
		key.key.ec.q = q.data;
	}
	ta->dn.data = dn.data;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey = key;
	return true;
}

/* Reads the certificates of PEM file @path into @tas; returns how many. */
static size_t anchors_load(br_x509_trust_anchor *tas, const char *path)
{
	static br_pem_decoder_context pc;
	struct der_buf obj = {0};
	unsigned char buf[4096];
	size_t n = 0, len = 0, off = 0;
	bool inside = false, eof = false, is_cert = false;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		fail("%s: %s", path, strerror(errno));
	br_pem_decoder_init(&pc);
	for (;;) {
		if (off == len && !eof) {
			len = fread(buf, 1, sizeof(buf), f);
			off = 0;
			if (len == 0) {
				if (ferror(f))
					fail("%s: read error", path);
				/* The decoder wants a newline at the end. */
				buf[0] = '\n';
				len = 1;
				eof = true;
			}
		} else if (off == len) {
			break;
		}
		off += br_pem_decoder_push(&pc, buf + off, len - off);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			is_cert = strcmp(br_pem_decoder_name(&pc),
					 "CERTIFICATE") == 0;
			obj.len = 0;
			br_pem_decoder_setdest(&pc, der_append, &obj);
			inside = true;
			break;
		case BR_PEM_END_OBJ:
			if (inside && is_cert) {
				if (obj.overflow || n == ANCHORS_MAX ||
				    !anchor_from_der(&tas[n], obj.data,
						     obj.len))
					fail("%s: certificate %zu unusable",
					     path, n + 1);
				n++;
			}
			inside = false;
			break;
		case BR_PEM_ERROR:
			fail("%s: not PEM", path);
		default:
			break;
		}
	}
	fclose(f);
	free(obj.data);
	if (n == 0)
		fail("%s: no CERTIFICATE in it", path);
	return n;
}

/* echo: @mib MiB through echo, over TLS if @cafile; MB/s. */
static double run_echo(const struct target *t, unsigned long mib,
		       const char *cafile)
{
	static const uint16_t suites[] = {
	    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	static br_ssl_client_context sc;
	static br_x509_minimal_context xc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	static br_x509_trust_anchor tas[ANCHORS_MAX];
	struct echo e = {0};
	double t0, dt;
	size_t ntas;

	pattern_init();
	/* A bad CA file is reported before any connection. */
	ntas = cafile != NULL ? anchors_load(tas, cafile) : 0;
	e.t = t;
	e.total = (uint64_t)mib << 20;
	e.fd = target_dial(t);
	e.last_progress = now();
	if (cafile == NULL) {
		t0 = now();
		echo_plain(&e);
	} else {
		br_ssl_client_init_full(&sc, &xc, tas, ntas);
		br_ssl_engine_set_versions(&sc.eng, BR_TLS12, BR_TLS12);
		br_ssl_engine_set_suites(&sc.eng, suites,
					 sizeof(suites) / sizeof(suites[0]));
		br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof(iobuf), 1);
		tls_gcm_install(&sc.eng); /* as fast as Haze's records */
		if (!br_ssl_client_reset(&sc, TLS_NAME, 0))
			fail("TLS: cannot start: %s",
			     tls_error_name(br_ssl_engine_last_error(&sc.eng)));
		tls_handshake(&e, &sc.eng);
		t0 = now();
		echo_tls(&e, &sc.eng);
	}
	dt = now() - t0;
	close(e.fd);
	return (double)e.total / dt / 1e6;
}

/* Runs the mode argv[1] names and prints its figure. */
int main(int argc, char **argv)
{
	struct target t;
	const char *mode;
	double figure;

	if (argc < 5)
		usage();
	mode = argv[1];
	if (strcmp(mode, "echo") == 0 ? argc > 6 : argc != 5)
		usage();
	target_resolve(&t, argv[2], argv[3]);
	if (strcmp(mode, "send") == 0)
		figure = run_send(&t, parse_count(argv[4], "MiB"));
	else if (strcmp(mode, "recv") == 0)
		figure = run_recv(&t, parse_count(argv[4], "MiB"));
	else if (strcmp(mode, "rate") == 0)
		figure = run_rate(&t, parse_count(argv[4], "seconds"));
	else if (strcmp(mode, "echo") == 0)
		figure = run_echo(&t, parse_count(argv[4], "MiB"),
				  argc == 6 ? argv[5] : NULL);
	else
		usage();
	printf("%.1f\n", figure);
	return fflush(stdout) == 0 ? 0 : 1;
}
