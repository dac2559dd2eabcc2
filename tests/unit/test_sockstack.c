/*
 * The socket stack's TCP flows (platform/unix/sockstack.c) against a
 * plain Linux socket over loopback: data both ways, a write whose
 * deadline passes returns what it took (a partial write) and exactly those
 * bytes arrive, a reset from the peer is sticky and named, and close is
 * idempotent with -HZ_ECLOSED after it. UDP batches both ways.
 */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "haze/flow.h"
#include "haze/platform.h"
#include "haze/sched.h"
#include "haze/stack.h"

#define BIG (32u << 20)

/* Byte @i of the test stream. */
static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + i / 509);
}

/* A stack flow accepted from a plain socket connected to it. */
struct conn {
	struct hz_stack *s;
	struct hz_listener *l;
	struct hz_flow *f;
	int peer; /* the Linux side */
};

/* Returns false, the checks having said why, if there is no flow. */
static bool conn_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int r = -HZ_EEXIST; /* the port is taken */

	memset(c, 0, sizeof(*c));
	c->peer = -1;
	if (!HARNESS_CHECK_EQ(hz_platform_socket_stack(&c->s), 0))
		return false;
	/* A free port, from a range tests elsewhere leave alone. */
	for (uint16_t p = 47100; r == -HZ_EEXIST && p < 47200; p++) {
		struct hz_sockaddr la = {HZ_IPV4(127, 0, 0, 1), p};

		r = hz_tcp_listen(c->s, &la, 4, &c->l);
		sa.sin_port = htons(p);
	}
	if (!HARNESS_CHECK_EQ(r, 0)) {
		c->l = NULL;
		return false;
	}
	c->peer = socket(AF_INET, SOCK_STREAM, 0);
	return HARNESS_CHECK_GE(c->peer, 0) &&
	       HARNESS_CHECK_EQ(
		   connect(c->peer, (struct sockaddr *)&sa, sizeof(sa)), 0) &&
	       HARNESS_CHECK_EQ(
		   hz_tcp_accept(c->s, c->l, hz_now() + HZ_NS_PER_S, &c->f), 0);
}

static void conn_close(struct conn *c)
{
	if (c->peer >= 0)
		close(c->peer);
	if (c->f != NULL)
		hz_flow_free(c->f);
	if (c->l != NULL)
		hz_tcp_unlisten(c->s, c->l);
	if (c->s != NULL)
		hz_stack_destroy(c->s);
	/* The stack's poller fiber frees it when it next runs. */
	hz_sleep_ns(20 * HZ_NS_PER_MS);
}

/* The peer reads exactly @len bytes, checking them against the pattern
 * from byte @from on. */
static void peer_reads(int fd, size_t from, size_t len)
{
	static uint8_t buf[65536];
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < sizeof(buf) ? len - got : sizeof(buf);
		ssize_t n = recv(fd, buf, want, 0);

		if (!HARNESS_CHECK_GT(n, 0))
			return;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(from + got + (size_t)i))
				HARNESS_FAIL("byte %zu is %#x; expected %#x",
					     from + got + (size_t)i, buf[i],
					     pattern(from + got + (size_t)i));
		got += (size_t)n;
	}
}

static int partial_write_main(void *arg)
{
	static uint8_t big[BIG];
	struct conn c;
	char buf[16];
	ssize_t w;

	(void)arg;
	if (!conn_open(&c)) {
		conn_close(&c);
		return -1;
	}
	HARNESS_CHECK_EQ(send(c.peer, "hello", 5, 0), 5);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(c.f, buf, sizeof(buf), hz_now() + HZ_NS_PER_S),
	    5);
	HARNESS_CHECK_MEM_EQ(buf, "hello", 5);
	/* Nobody reads: the socket buffers fill and the deadline passes. */
	for (size_t i = 0; i < BIG; i++)
		big[i] = pattern(i);
	w = hz_flow_write(c.f, big, BIG, hz_now() + 200 * HZ_NS_PER_MS);
	print_message("# a 32 MiB write with a 200 ms deadline took %zd\n", w);
	if (!HARNESS_CHECK_GT(w, 0) || !HARNESS_CHECK_LT(w, (ssize_t)BIG)) {
		conn_close(&c);
		return -1;
	}
	peer_reads(c.peer, 0, (size_t)w);
	HARNESS_CHECK_EQ(recv(c.peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	/* The rest can be written again and arrives after it. */
	HARNESS_CHECK_EQ(
	    hz_flow_write(c.f, big + w, 1000, hz_now() + HZ_NS_PER_S), 1000);
	peer_reads(c.peer, (size_t)w, 1000);
	conn_close(&c);
	return 0;
}

static void partial_write_at_the_deadline(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(partial_write_main, NULL), 0);
}

static int reset_close_main(void *arg)
{
	struct linger hard = {.l_onoff = 1, .l_linger = 0};
	struct hz_view v;
	struct conn c;
	char msg[HZ_ERRMSG_MAX];
	int r;

	(void)arg;
	if (!conn_open(&c)) {
		conn_close(&c);
		return -1;
	}
	/* The peer resets the connection. */
	HARNESS_CHECK_EQ(
	    setsockopt(c.peer, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard)), 0);
	close(c.peer);
	c.peer = -1;
	r = hz_flow_read(c.f, &v, hz_now() + HZ_NS_PER_S);
	HARNESS_CHECK_EQ(r, -HZ_ECONNRESET);
	snprintf(msg, sizeof(msg), "%s", hz_flow_error(c.f));
	print_message("# %s\n", msg);
	HARNESS_CHECK_STR_HAS(msg, "TCP 127.0.0.1:");
	HARNESS_CHECK_STR_HAS(msg, "reset");
	/* Sticky: every later call fails the same way. */
	HARNESS_CHECK_EQ(hz_flow_read(c.f, &v, hz_now() + HZ_NS_PER_S),
			 -HZ_ECONNRESET);
	HARNESS_CHECK_EQ(hz_flow_write(c.f, "x", 1, hz_now() + HZ_NS_PER_S),
			 -HZ_ECONNRESET);
	HARNESS_CHECK_EQ(hz_flow_shutdown(c.f), -HZ_ECONNRESET);
	HARNESS_CHECK_STR_EQ(hz_flow_error(c.f), msg);
	/* Close is idempotent; afterwards every call is -HZ_ECLOSED. */
	hz_flow_close(c.f);
	hz_flow_close(c.f);
	HARNESS_CHECK_EQ(hz_flow_read(c.f, &v, hz_now() + HZ_NS_PER_S),
			 -HZ_ECLOSED);
	HARNESS_CHECK_EQ(hz_flow_write(c.f, "x", 1, hz_now() + HZ_NS_PER_S),
			 -HZ_ECLOSED);
	HARNESS_CHECK_EQ(hz_flow_shutdown(c.f), -HZ_ECLOSED);
	conn_close(&c);
	return 0;
}

static void reset_is_sticky_and_close_idempotent(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(reset_close_main, NULL), 0);
}

static int shutdown_main(void *arg)
{
	struct conn c;
	char buf[16];

	(void)arg;
	if (!conn_open(&c)) {
		conn_close(&c);
		return -1;
	}
	/* Our FIN ends the peer's reads; its data still reaches us. */
	HARNESS_CHECK_EQ(hz_flow_write(c.f, "bye", 3, hz_now() + HZ_NS_PER_S),
			 3);
	HARNESS_CHECK_EQ(hz_flow_shutdown(c.f), 0);
	HARNESS_CHECK_EQ(recv(c.peer, buf, sizeof(buf), MSG_WAITALL), 3);
	HARNESS_CHECK_EQ(recv(c.peer, buf, sizeof(buf), 0), 0);
	HARNESS_CHECK_EQ(send(c.peer, "late", 4, 0), 4);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(c.f, buf, sizeof(buf), hz_now() + HZ_NS_PER_S),
	    4);
	HARNESS_CHECK_EQ(hz_flow_write(c.f, "x", 1, hz_now() + HZ_NS_PER_S),
			 -HZ_ECLOSED);
	HARNESS_CHECK_STR_HAS(hz_flow_error(c.f), "write after shutdown");
	HARNESS_CHECK_EQ(hz_flow_shutdown(c.f), 0); /* again: harmless */
	shutdown(c.peer, SHUT_WR);
	HARNESS_CHECK_EQ(
	    hz_flow_read_copy(c.f, buf, sizeof(buf), hz_now() + HZ_NS_PER_S),
	    0);
	conn_close(&c);
	return 0;
}

static void shutdown_ends_one_direction(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(shutdown_main, NULL), 0);
}

/*
 * hz_flow_abort with data the peer has not read: the peer's next read
 * is a reset (SO_LINGER 0), not the data and then an end.
 */
static int abort_main(void *arg)
{
	static uint8_t big[4u << 20];
	struct timeval tv = {.tv_sec = 2};
	struct conn c;
	char buf[4096];
	size_t got = 0;
	ssize_t n, w;

	(void)arg;
	if (!conn_open(&c)) {
		conn_close(&c);
		return -1;
	}
	/* Nobody reads yet: the socket buffers fill. */
	w = hz_flow_write(c.f, big, sizeof(big), hz_now() + 200 * HZ_NS_PER_MS);
	HARNESS_CHECK_GT(w, 0);
	hz_flow_abort(c.f);
	HARNESS_CHECK_EQ(hz_flow_write(c.f, "x", 1, hz_now() + HZ_NS_PER_S),
			 -HZ_ECLOSED);
	/* What had arrived may still be read; then the reset, where a
	 * close would have sent the rest and an end. */
	HARNESS_CHECK_EQ(
	    setsockopt(c.peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	errno = 0;
	while ((n = recv(c.peer, buf, sizeof(buf), 0)) > 0)
		got += (size_t)n;
	HARNESS_CHECK_EQ(n, -1);
	HARNESS_CHECK_EQ(errno, ECONNRESET);
	HARNESS_CHECK_LT(got, (size_t)w);
	conn_close(&c);
	return 0;
}

static void abort_resets_the_peer(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(abort_main, NULL), 0);
}

/*
 * UDP batches against a plain socket: a batch of three sent in one call
 * arrives in order; four sent to the stack come back in one receive with
 * their sender, one cut to a short buffer with its whole length; an
 * empty socket times out; a batch to port 0 fails with a reason.
 */
static int udp_batch_main(void *arg)
{
	static const char *const text[] = {"one", "three", "a longer one",
					   "four"};
	struct sockaddr_in sa = {.sin_family = AF_INET}, from;
	socklen_t len = sizeof(sa);
	struct hz_sockaddr local = {HZ_IPV4(127, 0, 0, 1), 0}, to;
	struct hz_udp_msg msgs[5];
	uint8_t buf[5][32];
	struct hz_udp_sock *u;
	struct hz_stack *s;
	char got[32];
	int peer, n;

	(void)arg;
	if (!HARNESS_CHECK_EQ(hz_platform_socket_stack(&s), 0))
		return -1;
	HARNESS_CHECK_EQ(hz_udp_open(s, &local, &u), 0);
	peer = socket(AF_INET, SOCK_DGRAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	HARNESS_CHECK_EQ(bind(peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	HARNESS_CHECK_EQ(getsockname(peer, (struct sockaddr *)&sa, &len), 0);
	to = (struct hz_sockaddr){HZ_IPV4(127, 0, 0, 1), ntohs(sa.sin_port)};
	for (int i = 0; i < 3; i++)
		msgs[i] = (struct hz_udp_msg){
		    .buf = (void *)text[i], .len = strlen(text[i]), .peer = to};
	HARNESS_CHECK_EQ(hz_udp_send_batch(s, u, msgs, 3), 3);
	for (int i = 0; i < 3; i++) {
		len = sizeof(from);
		n = (int)recvfrom(peer, got, sizeof(got), 0,
				  (struct sockaddr *)&from, &len);
		HARNESS_CHECK_EQ(n, (int)strlen(text[i]));
		HARNESS_CHECK_MEM_EQ(got, text[i], strlen(text[i]));
	}
	/* The peer answers to where they came from. */
	for (int i = 0; i < 4; i++)
		HARNESS_CHECK_EQ(sendto(peer, text[i], strlen(text[i]), 0,
					(struct sockaddr *)&from, len),
				 (ssize_t)strlen(text[i]));
	for (int i = 0; i < 5; i++)
		msgs[i] = (struct hz_udp_msg){.buf = buf[i], .cap = 32};
	msgs[2].cap = 4;
	n = hz_udp_recv_batch(s, u, msgs, 5, hz_now() + HZ_NS_PER_S);
	if (HARNESS_CHECK_EQ(n, 4)) {
		for (int i = 0; i < 4; i++) {
			HARNESS_CHECK_EQ(msgs[i].len, strlen(text[i]));
			HARNESS_CHECK_MEM_EQ(buf[i], text[i],
					     i == 2 ? 4 : strlen(text[i]));
			HARNESS_CHECK_EQ(msgs[i].peer.addr,
					 HZ_IPV4(127, 0, 0, 1));
			HARNESS_CHECK_EQ(msgs[i].peer.port, to.port);
		}
	}
	HARNESS_CHECK_EQ(
	    hz_udp_recv_batch(s, u, msgs, 5, hz_now() + 10 * HZ_NS_PER_MS),
	    -HZ_ETIMEDOUT);
	msgs[0] = (struct hz_udp_msg){
	    .buf = "x", .len = 1, .peer = {HZ_IPV4(127, 0, 0, 1), 0}};
	HARNESS_CHECK_EQ(hz_udp_send_batch(s, u, msgs, 1), -HZ_EINVAL);
	HARNESS_CHECK(strstr(hz_stack_error(s), "UDP send to 127.0.0.1:0") !=
		      NULL);
	close(peer);
	hz_udp_close(s, u);
	hz_stack_destroy(s);
	hz_sleep_ns(20 * HZ_NS_PER_MS); /* the poller frees the stack */
	return 0;
}

static void udp_batches_both_ways(void **state)
{
	(void)state;
	assert_int_equal(harness_run_fibers(udp_batch_main, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(partial_write_at_the_deadline),
	    HARNESS_TEST(reset_is_sticky_and_close_idempotent),
	    HARNESS_TEST(shutdown_ends_one_direction),
	    HARNESS_TEST(abort_resets_the_peer),
	    HARNESS_TEST(udp_batches_both_ways),
	};

	return HARNESS_RUN("sockstack", tests);
}
