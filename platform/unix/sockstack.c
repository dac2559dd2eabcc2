/*
 * The socket stack: STACK (haze/stack.h) over the host kernel's TCP and
 * UDP sockets, for the unix target. An application needs no tap, no root
 * and no addresses of its own; it binds host ports directly.
 *
 * Every socket is non-blocking and registered, edge-triggered, with one
 * epoll descriptor that the event loop watches as a single handle. A
 * poller fiber waits on that handle and wakes the fibers parked on the
 * sockets epoll reports. Operations try the system call first and park
 * only on EAGAIN, so a ready socket costs no switch. UDP batches
 * (hz_udp_recv_batch, hz_udp_send_batch) are one recvmmsg or sendmmsg
 * each, straight between the kernel and the caller's buffers.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "haze/assert.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/sched.h"
#include "haze/stack.h"
#include "platform/unix/unix.h"

#define READ_CHUNK (16u * 1024 - HZ_PBUF_HEADROOM) /* one 16 KiB pbuf */
#define DGRAM_MAX 65536u
#define EVENTS_BATCH 64
#define IOV_BATCH 64

struct sockstack;

struct sock {
	int fd;
	struct hz_waitq readers; /* parked until readable (or accept) */
	struct hz_waitq writers; /* parked until writable (or connected) */
	struct sockstack *ss;
	char peer[32]; /* "a.b.c.d:port", for messages */
};

struct sock_flow {
	struct hz_flow flow; /* first: a FLOW */
	struct sock sk;
	int fatal; /* sticky error, or 0 */
	bool closed;
	bool eof;
	bool shut; /* we shut our direction down */
	struct hz_errmsg err;
};

struct hz_listener {
	struct sock sk;
};

struct hz_udp_sock {
	struct sock sk;
	/* Where recvfrom lands, kept for the socket's life: a datagram's
	 * size is unknown until it is read, and a pbuf of the largest one
	 * per receive cost more than the receive itself. */
	uint8_t *scratch;
};

struct sockstack {
	struct hz_stack stack; /* first: a STACK */
	int epfd;
	int stopfd; /* eventfd: wakes the poller to end it */
	bool stopping;
	hz_handle_t handle;
	struct hz_errmsg err;
};

HZ_LOG_SOURCE(sock_log, "sockstack");

static void addr_format(const struct sockaddr_in *sa, char *buf, size_t n)
{
	char ip[HZ_IPV4_STRLEN];

	snprintf(buf, n, "%s:%u",
		 hz_ipv4_format(ntohl(sa->sin_addr.s_addr), ip),
		 ntohs(sa->sin_port));
}

static struct sockaddr_in to_sin(const struct hz_sockaddr *a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	sa.sin_addr.s_addr = htonl(a->addr);
	sa.sin_port = htons(a->port);
	return sa;
}

/* Maps an errno from a socket call to a Haze code. */
static int from_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return -HZ_ECONNREFUSED;
	case ECONNRESET:
	case EPIPE:
		return -HZ_ECONNRESET;
	case ETIMEDOUT:
		return -HZ_ETIMEDOUT;
	case ENOMEM:
	case ENOBUFS:
		return -HZ_ENOMEM;
	case EADDRINUSE:
		return -HZ_EEXIST;
	case EMSGSIZE:
		return -HZ_EMSGSIZE;
	case EINVAL:
	case EADDRNOTAVAIL:
	case EACCES:
		return -HZ_EINVAL;
	default:
		return -HZ_EIO;
	}
}

/* --- sockets and the poller ----------------------------------------------- */

static int sock_open(struct sockstack *ss, struct sock *sk, int fd)
{
	struct epoll_event ev = {
	    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	    .data.ptr = sk,
	};

	*sk = (struct sock){.fd = fd, .ss = ss};
	if (epoll_ctl(ss->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return from_errno(errno);
	return 0;
}

/* Wraps new socket @fd in a zeroed object of @size bytes whose struct sock
 * is @sk_off bytes in, watched by the poller: the object; or NULL, @fd
 * closed and the error in *@err. */
static void *sock_new(struct sockstack *ss, int fd, size_t size, size_t sk_off,
		      int *err)
{
	void *obj = hz_calloc(1, size);
	struct sock *sk;
	int r;

	if (obj == NULL) {
		close(fd);
		*err = -HZ_ENOMEM;
		return NULL;
	}
	sk = (void *)((char *)obj + sk_off);
	r = sock_open(ss, sk, fd);
	if (r < 0) {
		close(fd);
		hz_free(obj);
		*err = r;
		return NULL;
	}
	return obj;
}

static void sock_close(struct sock *sk)
{
	if (sk->fd < 0)
		return;
	epoll_ctl(sk->ss->epfd, EPOLL_CTL_DEL, sk->fd, NULL);
	close(sk->fd);
	sk->fd = -1;
	hz_waitq_wake_all(&sk->readers);
	hz_waitq_wake_all(&sk->writers);
}

/* Parks on @q until epoll reports the socket or @deadline passes. */
static int sock_wait(struct hz_waitq *q, uint64_t deadline)
{
	return hz_waitq_wait(q, deadline);
}

static void sockstack_release(struct sockstack *ss)
{
	hz_unix_unwatch_fd(ss->handle);
	close(ss->stopfd);
	close(ss->epfd);
	hz_free(ss);
}

static void poller(void *arg)
{
	struct sockstack *ss = arg;
	struct epoll_event ev[EVENTS_BATCH];

	for (;;) {
		int n, r = hz_device_wait(ss->handle, HZ_DEADLINE_NEVER);

		if (r < 0 || ss->stopping)
			break;
		while ((n = epoll_wait(ss->epfd, ev, EVENTS_BATCH, 0)) > 0) {
			for (int i = 0; i < n; i++) {
				struct sock *sk = ev[i].data.ptr;

				if (sk == NULL)
					continue; /* the stop event */
				if (ev[i].events & ~(uint32_t)EPOLLOUT)
					hz_waitq_wake_all(&sk->readers);
				if (ev[i].events &
				    (EPOLLOUT | EPOLLERR | EPOLLHUP))
					hz_waitq_wake_all(&sk->writers);
			}
			if (n < EVENTS_BATCH)
				break;
		}
	}
	sockstack_release(ss);
}

/* --- TCP flows ------------------------------------------------------------ */

static int flow_fail(struct sock_flow *f, int code, const char *what)
{
	/* The kernel gave the connection up (ETIMEDOUT): on a flow that
	 * is not a passed deadline, which -HZ_ETIMEDOUT would say. */
	if (code == -HZ_ETIMEDOUT)
		code = -HZ_ECONNABORTED;
	if (f->fatal == 0) {
		f->fatal = code;
		return hz_errmsg_set(&f->err, code, "TCP %s: %s (socket stack)",
				     f->sk.peer, what);
	}
	return f->fatal;
}

static int flow_check(struct sock_flow *f)
{
	if (f->closed)
		return -HZ_ECLOSED;
	return f->fatal;
}

static int flow_read(struct hz_flow *fl, struct hz_view *out, uint64_t deadline)
{
	struct sock_flow *f = (struct sock_flow *)fl;
	struct hz_view v;
	int r = flow_check(f);

	*out = (struct hz_view){0};
	if (r < 0)
		return r;
	if (f->eof)
		return 0;
	/* The buffer is let go while the read waits: an idle connection
	 * (a keep-alive one, or one that never speaks) holds none. */
	for (;;) {
		r = hz_pbuf_alloc(NULL, READ_CHUNK, &v);
		if (r < 0)
			return hz_errmsg_set(&f->err, r,
					     "TCP %s: no buffer to read into",
					     f->sk.peer);
		ssize_t n = recv(f->sk.fd, hz_view_data(&v), v.len, 0);

		if (n > 0) {
			r = hz_view_trim(&v, (size_t)n);
			HZ_ASSERT(r == 0);
			*out = v;
			return (int)n;
		}
		if (n == 0) {
			f->eof = true;
			break;
		}
		int e = errno;
		if (e != EAGAIN && e != EINTR) {
			r = flow_fail(f, from_errno(e), strerror(e));
			break;
		}
		hz_view_release(&v);
		if (e == EINTR)
			continue;
		r = sock_wait(&f->sk.readers, deadline);
		if (r < 0)
			break;
		r = flow_check(f);
		if (r < 0)
			break;
	}
	hz_view_release(&v);
	return r;
}

static ssize_t flow_writev(struct hz_flow *fl, const struct hz_iov *iov,
			   size_t n, uint64_t deadline)
{
	struct sock_flow *f = (struct sock_flow *)fl;
	struct iovec sys[IOV_BATCH];
	size_t first = 0, skip = 0, total = 0;
	int r = flow_check(f);

	if (r < 0)
		return r;
	if (f->shut)
		return hz_errmsg_set(&f->err, -HZ_ECLOSED,
				     "TCP %s: write after shutdown (socket "
				     "stack)",
				     f->sk.peer);
	while (first < n) {
		struct msghdr msg = {.msg_iov = sys};
		ssize_t sent;

		for (size_t i = first; i < n && msg.msg_iovlen < IOV_BATCH;
		     i++) {
			size_t off = i == first ? skip : 0;

			sys[msg.msg_iovlen].iov_base =
			    (char *)iov[i].base + off;
			sys[msg.msg_iovlen++].iov_len = iov[i].len - off;
		}
		sent = sendmsg(f->sk.fd, &msg, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return flow_fail(
				    f, from_errno(errno),
				    errno == EPIPE ? "reset or closed by peer "
						     "(EPIPE)"
						   : strerror(errno));
			r = sock_wait(&f->sk.writers, deadline);
			if (r == -HZ_ETIMEDOUT && total > 0)
				break; /* a partial write */
			if (r == 0)
				r = flow_check(f);
			if (r < 0)
				return r;
			continue;
		}
		total += (size_t)sent;
		/* Advance past what was sent. */
		while (first < n && (size_t)sent >= iov[first].len - skip) {
			sent -= (ssize_t)(iov[first].len - skip);
			first++;
			skip = 0;
		}
		skip += (size_t)sent;
	}
	return (ssize_t)total;
}

static int flow_shutdown(struct hz_flow *fl)
{
	struct sock_flow *f = (struct sock_flow *)fl;
	int r = flow_check(f);

	if (r < 0 || f->shut)
		return r;
	if (shutdown(f->sk.fd, SHUT_WR) < 0)
		return flow_fail(f, from_errno(errno), strerror(errno));
	f->shut = true;
	return 0;
}

static void flow_close(struct hz_flow *fl)
{
	struct sock_flow *f = (struct sock_flow *)fl;

	if (f->closed)
		return;
	f->closed = true;
	sock_close(&f->sk);
}

/* Closes with a reset (SO_LINGER of 0): the kernel drops what it holds
 * unsent and frees the socket's buffers at once. */
static void flow_abort(struct hz_flow *fl)
{
	struct sock_flow *f = (struct sock_flow *)fl;
	struct linger now = {.l_onoff = 1, .l_linger = 0};

	if (f->sk.fd >= 0 &&
	    setsockopt(f->sk.fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now)) < 0)
		HZ_DEBUG(&sock_log, "SO_LINGER: %s", strerror(errno));
	f->closed = true;
	sock_close(&f->sk);
}

static void flow_free(struct hz_flow *fl)
{
	flow_close(fl);
	hz_free(fl);
}

static const char *flow_error(const struct hz_flow *fl)
{
	const struct sock_flow *f = (const struct sock_flow *)fl;

	return hz_errmsg_text(&f->err);
}

static const struct hz_flow_ops sock_flow_ops = {
    .read = flow_read,
    .writev = flow_writev,
    .shutdown = flow_shutdown,
    .close = flow_close,
    .abort = flow_abort,
    .free = flow_free,
    .error_message = flow_error,
};

static int flow_new(struct sockstack *ss, int fd, struct hz_flow **out)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int r;
	struct sock_flow *f =
	    sock_new(ss, fd, sizeof(*f), offsetof(struct sock_flow, sk), &r);

	if (f == NULL)
		return r;
	f->flow.ops = &sock_flow_ops;
	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
		addr_format(&peer, f->sk.peer, sizeof(f->sk.peer));
	*out = &f->flow;
	return 0;
}

/* --- the STACK operations ------------------------------------------------- */

/*
 * Records why @what on @a failed: the host's @e (errno; 0 for none) in
 * the host's words when there is one ("Address already in use" says more
 * than the code it maps to), else @code's. Returns @code.
 */
static int stack_fail(struct sockstack *ss, int code, int e, const char *what,
		      const struct hz_sockaddr *a)
{
	char ip[HZ_IPV4_STRLEN];

	return hz_errmsg_set(&ss->err, code, "%s %s:%u: %s", what,
			     hz_ipv4_format(a->addr, ip), a->port,
			     e != 0 ? strerror(e) : hz_strerror(code));
}

static int tcp_connect(struct hz_stack *s, const struct hz_sockaddr *dst,
		       uint64_t deadline, struct hz_flow **out)
{
	struct sockstack *ss = (struct sockstack *)s;
	struct sockaddr_in sa = to_sin(dst);
	struct sock_flow *f;
	int fd, r, e = 0, soerr = 0;
	socklen_t len = sizeof(soerr);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return stack_fail(ss, from_errno(errno), errno, "TCP connect",
				  dst);
	r = flow_new(ss, fd, out);
	if (r < 0)
		return stack_fail(ss, r, 0, "TCP connect", dst);
	f = (struct sock_flow *)*out;
	addr_format(&sa, f->sk.peer, sizeof(f->sk.peer));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			r = from_errno(e);
			goto fail;
		}
		r = sock_wait(&f->sk.writers, deadline);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			e = soerr;
			r = from_errno(soerr);
			goto fail;
		}
	}
	return 0;
fail:
	flow_free(*out);
	*out = NULL;
	return stack_fail(ss, r, e, "TCP connect to", dst);
}

static int tcp_listen(struct hz_stack *s, const struct hz_sockaddr *local,
		      unsigned backlog, struct hz_listener **out)
{
	struct sockstack *ss = (struct sockstack *)s;
	struct sockaddr_in sa = to_sin(local);
	struct hz_listener *l;
	int fd, one = 1, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return stack_fail(ss, from_errno(errno), errno, "TCP listen on",
				  local);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, (int)(backlog > 4096 ? 4096 : backlog)) < 0) {
		int e = errno;
		close(fd);
		return stack_fail(ss, from_errno(e), e, "TCP listen on", local);
	}
	l = sock_new(ss, fd, sizeof(*l), offsetof(struct hz_listener, sk), &r);
	if (l == NULL)
		return stack_fail(ss, r, 0, "TCP listen on", local);
	*out = l;
	return 0;
}

static int tcp_accept(struct hz_listener *l, uint64_t deadline,
		      struct hz_flow **out)
{
	for (;;) {
		int fd =
		    accept4(l->sk.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int r;

		if (fd >= 0)
			return flow_new(l->sk.ss, fd, out);
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN)
			return from_errno(errno);
		r = sock_wait(&l->sk.readers, deadline);
		if (r < 0)
			return r;
		if (l->sk.fd < 0)
			return -HZ_ECLOSED;
	}
}

static void tcp_unlisten(struct hz_listener *l)
{
	sock_close(&l->sk);
	hz_free(l);
}

static int tcp_set(struct hz_flow *fl, enum hz_tcp_option opt, int value)
{
	struct sock_flow *f = (struct sock_flow *)fl;
	int on = value != 0;

	switch (opt) {
	case HZ_TCP_NODELAY:
		return setsockopt(f->sk.fd, IPPROTO_TCP, TCP_NODELAY, &on,
				  sizeof(on)) == 0
			   ? 0
			   : -HZ_EINVAL;
	case HZ_TCP_KEEPALIVE:
		if (value < 0 ||
		    setsockopt(f->sk.fd, SOL_SOCKET, SO_KEEPALIVE, &on,
			       sizeof(on)) < 0 ||
		    (on && setsockopt(f->sk.fd, IPPROTO_TCP, TCP_KEEPIDLE,
				      &value, sizeof(value)) < 0))
			return -HZ_EINVAL;
		return 0;
	}
	return -HZ_EINVAL;
}

/* --- UDP ------------------------------------------------------------------ */

static int udp_open(struct hz_stack *s, const struct hz_sockaddr *local,
		    struct hz_udp_sock **out)
{
	struct sockstack *ss = (struct sockstack *)s;
	struct sockaddr_in sa = to_sin(local);
	struct hz_udp_sock *u;
	int fd, r;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return stack_fail(ss, from_errno(errno), errno, "UDP open",
				  local);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return stack_fail(ss, from_errno(e), e, "UDP bind", local);
	}
	u = sock_new(ss, fd, sizeof(*u), offsetof(struct hz_udp_sock, sk), &r);
	if (u == NULL)
		return stack_fail(ss, r, 0, "UDP open", local);
	*out = u;
	return 0;
}

static int udp_sendto(struct hz_udp_sock *u, const struct hz_sockaddr *dst,
		      const void *buf, size_t len)
{
	struct sockaddr_in sa = to_sin(dst);

	for (;;) {
		if (sendto(u->sk.fd, buf, len, 0, (struct sockaddr *)&sa,
			   sizeof(sa)) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return stack_fail(u->sk.ss, from_errno(errno), errno,
					  "UDP send to", dst);
		if (sock_wait(&u->sk.writers, HZ_DEADLINE_NEVER) < 0)
			return -HZ_ETIMEDOUT;
	}
}

static int udp_recvfrom(struct hz_udp_sock *u, struct hz_view *out,
			struct hz_sockaddr *from, uint64_t deadline)
{
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int r;

	*out = (struct hz_view){0};
	if (u->scratch == NULL) {
		u->scratch = hz_malloc(DGRAM_MAX);
		if (u->scratch == NULL)
			return hz_errmsg_set(&u->sk.ss->err, -HZ_ENOMEM,
					     "UDP receive: no memory for a "
					     "datagram (socket stack)");
	}
	for (;;) {
		ssize_t n = recvfrom(u->sk.fd, u->scratch, DGRAM_MAX, 0,
				     (struct sockaddr *)&sa, &salen);

		if (n >= 0) {
			r = hz_pbuf_alloc(NULL, (size_t)n, out);
			if (r < 0)
				return hz_errmsg_set(
				    &u->sk.ss->err, r,
				    "UDP receive: no memory for a datagram "
				    "of %zd bytes (socket stack)",
				    n);
			memcpy(hz_view_data(out), u->scratch, (size_t)n);
			if (from != NULL) {
				from->addr = ntohl(sa.sin_addr.s_addr);
				from->port = ntohs(sa.sin_port);
			}
			return (int)n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return hz_errmsg_set(&u->sk.ss->err, from_errno(errno),
					     "UDP receive: %s (socket stack)",
					     strerror(errno));
		r = sock_wait(&u->sk.readers, deadline);
		if (r < 0)
			return r;
	}
}

static int udp_recv_batch(struct hz_udp_sock *u, struct hz_udp_msg *msgs,
			  size_t n, uint64_t deadline)
{
	struct mmsghdr mm[HZ_UDP_BATCH_MAX];
	struct iovec iov[HZ_UDP_BATCH_MAX];
	struct sockaddr_in sa[HZ_UDP_BATCH_MAX];

	HZ_ASSERT(n > 0 && "an empty UDP batch");
	if (n > HZ_UDP_BATCH_MAX)
		n = HZ_UDP_BATCH_MAX;
	for (;;) {
		int got, r;

		/* msg_namelen is in and out: set again before every call. */
		for (size_t i = 0; i < n; i++) {
			iov[i] = (struct iovec){msgs[i].buf, msgs[i].cap};
			mm[i] = (struct mmsghdr){
			    .msg_hdr = {.msg_name = &sa[i],
					.msg_namelen = sizeof(sa[i]),
					.msg_iov = &iov[i],
					.msg_iovlen = 1}};
		}
		/* MSG_TRUNC: msg_len is the datagram's whole length, so a
		 * cut one shows as len > cap. */
		got = recvmmsg(u->sk.fd, mm, (unsigned)n, MSG_TRUNC, NULL);
		if (got > 0) {
			for (int i = 0; i < got; i++) {
				msgs[i].len = mm[i].msg_len;
				msgs[i].peer.addr =
				    ntohl(sa[i].sin_addr.s_addr);
				msgs[i].peer.port = ntohs(sa[i].sin_port);
			}
			return got;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno != EAGAIN)
			return hz_errmsg_set(&u->sk.ss->err, from_errno(errno),
					     "UDP receive: %s (socket stack)",
					     strerror(errno));
		r = sock_wait(&u->sk.readers, deadline);
		if (r < 0)
			return r;
	}
}

static int udp_send_batch(struct hz_udp_sock *u, const struct hz_udp_msg *msgs,
			  size_t n)
{
	struct mmsghdr mm[HZ_UDP_BATCH_MAX];
	struct iovec iov[HZ_UDP_BATCH_MAX];
	struct sockaddr_in sa[HZ_UDP_BATCH_MAX];

	HZ_ASSERT(n > 0 && "an empty UDP batch");
	if (n > HZ_UDP_BATCH_MAX)
		n = HZ_UDP_BATCH_MAX;
	for (size_t i = 0; i < n; i++) {
		sa[i] = to_sin(&msgs[i].peer);
		iov[i] = (struct iovec){msgs[i].buf, msgs[i].len};
		mm[i] =
		    (struct mmsghdr){.msg_hdr = {.msg_name = &sa[i],
						 .msg_namelen = sizeof(sa[i]),
						 .msg_iov = &iov[i],
						 .msg_iovlen = 1}};
	}
	for (;;) {
		int sent = sendmmsg(u->sk.fd, mm, (unsigned)n, MSG_NOSIGNAL);

		/* sendmmsg stops at the first failure and reports it only
		 * when nothing went before it: the caller retries the rest,
		 * and that call then fails on it. */
		if (sent > 0)
			return sent;
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno != EAGAIN)
			return stack_fail(u->sk.ss, from_errno(errno), errno,
					  "UDP send to", &msgs[0].peer);
		if (sock_wait(&u->sk.writers, HZ_DEADLINE_NEVER) < 0)
			return -HZ_ETIMEDOUT;
	}
}

static void udp_close(struct hz_udp_sock *u)
{
	sock_close(&u->sk);
	hz_free(u->scratch);
	hz_free(u);
}

static const char *stack_error(const struct hz_stack *s)
{
	return hz_errmsg_text(&((const struct sockstack *)s)->err);
}

/* Ends the stack: the poller wakes, sees it is stopping, and frees it. */
static void stack_destroy(struct hz_stack *s)
{
	struct sockstack *ss = (struct sockstack *)s;
	uint64_t one = 1;

	ss->stopping = true;
	if (write(ss->stopfd, &one, sizeof(one)) != sizeof(one))
		HZ_WARN(&sock_log, "cannot wake the poller to stop it");
}

static const struct hz_stack_ops sockstack_ops = {
    .tcp_connect = tcp_connect,
    .tcp_listen = tcp_listen,
    .tcp_accept = tcp_accept,
    .tcp_unlisten = tcp_unlisten,
    .tcp_set = tcp_set,
    .udp_open = udp_open,
    .udp_sendto = udp_sendto,
    .udp_recvfrom = udp_recvfrom,
    .udp_recv_batch = udp_recv_batch,
    .udp_send_batch = udp_send_batch,
    .udp_close = udp_close,
    .error_message = stack_error,
    .destroy = stack_destroy,
};

int hz_platform_socket_stack(struct hz_stack **out)
{
	struct sockstack *ss = hz_calloc(1, sizeof(*ss));
	struct epoll_event stop = {.events = EPOLLIN, .data.ptr = NULL};
	int r = -HZ_EIO;

	if (ss == NULL)
		return -HZ_ENOMEM;
	ss->stack.ops = &sockstack_ops;
	ss->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ss->epfd < 0)
		goto free_ss;
	ss->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ss->stopfd < 0)
		goto close_epoll;
	if (epoll_ctl(ss->epfd, EPOLL_CTL_ADD, ss->stopfd, &stop) < 0)
		goto close_stop;
	r = hz_unix_watch_fd(ss->epfd, &ss->handle);
	if (r < 0)
		goto close_stop;
	r = hz_fiber_spawn("sockstack", poller, ss, 0);
	if (r < 0)
		goto unwatch;
	HZ_DEBUG(&sock_log, "socket stack ready");
	*out = &ss->stack;
	return 0;

unwatch:
	hz_unix_unwatch_fd(ss->handle);
close_stop:
	close(ss->stopfd);
close_epoll:
	close(ss->epfd);
free_ss:
	hz_free(ss);
	return r;
}
