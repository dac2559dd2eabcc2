/*
 * lwip-echo: TCP echo (7), discard (9) and chargen (19) on lwIP, the C
 * TCP/IP stack a developer would embed instead of Haze, so that bench/tcp
 * measures it beside Haze and Linux with the same client (docs/tcp.md,
 * "Measured"). A Linux program over Debian's liblwip (2.1.3, the library
 * as Debian builds it, its lwipopts.h included) and a tap.
 *
 *   lwip-echo --tap NAME --ip A.B.C.D/PREFIX [--queued-input]
 *
 * The servers behave as examples/echo's: echo sends back what it reads
 * and closes after the peer's FIN once all is sent; discard reads and
 * drops, and closes after the peer's FIN; chargen sends examples/echo's
 * 64 KiB line pattern, again and again, until the peer goes away.
 *
 * They use lwIP's raw API, its fastest: callbacks on the stack's own
 * thread, no mailbox hop per read or write as the socket and netconn APIs
 * take.
 *
 * The tap driver is this file's, not lwIP's own tapif, which Debian ships
 * in the library but which cannot carry a full-size frame there: Debian's
 * liblwip sizes the PBUF_POOL pool's buffers for TCP_MSS 536 (616 bytes a
 * pbuf, memp_pools[MEMP_PBUF_POOL]) while its pbuf_alloc fills them for
 * TCP_MSS 1460 (1536 bytes), so tapif's pbuf_take of any frame over about
 * 600 bytes writes past the buffer (valgrind: "Invalid write ... 0 bytes
 * after a block of size 616", docs/tcp.md). This driver does what tapif
 * does with PBUF_RAM pbufs, which pbuf_alloc sizes itself, and reads each
 * frame straight into its pbuf (tapif: select(), read() into a stack
 * buffer, a copy). Its thread hands each frame to lwIP under the core
 * lock, in that thread (so a frame is served without a thread switch);
 * with --queued-input through tcpip_input, lwIP's usual mailbox to the
 * tcpip thread. Timers run on the tcpip thread either way.
 *
 * SIGINT or SIGTERM prints the counters and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <lwip/init.h>
#include <lwip/ip4_addr.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <netif/etharp.h>
#include <netif/ethernet.h>

enum service { ECHO, DISCARD, CHARGEN };

static const char *const service_names[] = {"echo", "discard", "chargen"};
static const u16_t service_ports[] = {7, 9, 19};

/* One connection: echo's data not yet queued, chargen's place. */
struct conn {
	struct tcp_pcb *pcb;
	enum service service;
	struct pbuf *pending; /* echo: read, not yet written back */
	size_t pattern_off;   /* chargen: next byte of the pattern */
	bool peer_closed;     /* the peer's FIN came */
};

/*
 * What happened, counted; printed at exit. The connection counters move
 * under the core lock, rx_* in the tap reader alone.
 */
struct counters {
	unsigned long long accepted;
	unsigned long long refused_nomem; /* no memory for a connection */
	unsigned long long write_errors;  /* tcp_write failed, not ERR_MEM */
	unsigned long long aborted;	  /* closed by RST: tcp_close failed */
	unsigned long long reset;	  /* the peer reset or lwIP gave up */
	unsigned long long full_sndbuf;	  /* a send stopped: TCP_SND_BUF full */
	unsigned long long full_queue;	  /* a send stopped: TCP_SND_QUEUELEN */
	unsigned long long rx_frames;
	unsigned long long rx_nomem;   /* frames dropped: no pbuf */
	unsigned long long rx_short;   /* frames dropped: no Ethernet header */
	unsigned long long tx_dropped; /* frames lost: write failed, too big */
};

struct config {
	const char *tap;
	ip4_addr_t ip;
	ip4_addr_t mask;
	ip4_addr_t gw;
	bool queued_input;
};

static struct counters counters;
static struct config config;
static struct netif netif;
static sys_sem_t ready;
static int tap_fd = -1;

/* chargen's line pattern, 64 KiB of it: examples/echo's. */
static uint8_t pattern[64 * 1024];

static void pattern_fill(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] =
		    (uint8_t)(i % 74 == 73 ? '\n'
					   : '!' + (i / 74 + i % 74) % 94);
}

/* Detaches @c from its pcb and frees it; the pcb lives on or is gone. */
static void conn_free(struct conn *c)
{
	if (c->pcb != NULL) {
		tcp_arg(c->pcb, NULL);
		tcp_recv(c->pcb, NULL);
		tcp_sent(c->pcb, NULL);
		tcp_err(c->pcb, NULL);
		tcp_poll(c->pcb, NULL, 0);
	}
	if (c->pending != NULL)
		pbuf_free(c->pending);
	free(c);
}

/*
 * Closes @c gracefully (our FIN); if lwIP has no memory for it, resets.
 * Returns ERR_ABRT after a reset, which a callback must pass on.
 */
static err_t conn_close(struct conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	conn_free(c);
	if (tcp_close(pcb) == ERR_OK)
		return ERR_OK;
	counters.aborted++;
	tcp_abort(pcb);
	return ERR_ABRT;
}

/*
 * echo: queues as much of the pending data as the send buffer takes, and
 * opens the receive window by as much, so a slow reader slows the sender.
 */
static err_t echo_flush(struct conn *c)
{
	while (c->pending != NULL) {
		u16_t room = tcp_sndbuf(c->pcb);
		u16_t n = c->pending->len < room ? c->pending->len : room;
		err_t err;

		if (n == 0 || tcp_sndqueuelen(c->pcb) >= TCP_SND_QUEUELEN)
			break;
		err = tcp_write(c->pcb, c->pending->payload, n,
				TCP_WRITE_FLAG_COPY);
		if (err == ERR_MEM)
			break;
		if (err != ERR_OK) {
			counters.write_errors++;
			return err;
		}
		c->pending = pbuf_free_header(c->pending, n);
		tcp_recved(c->pcb, n);
	}
	if (c->pending == NULL && c->peer_closed)
		return conn_close(c);
	return ERR_OK;
}

/* chargen: fills the send buffer with the pattern, where it left off. */
static err_t chargen_fill(struct conn *c)
{
	for (;;) {
		size_t left = sizeof(pattern) - c->pattern_off;
		u16_t room = tcp_sndbuf(c->pcb);
		u16_t n = left < room ? (u16_t)left : room;
		err_t err;

		if (room == 0 || tcp_sndqueuelen(c->pcb) >= TCP_SND_QUEUELEN) {
			if (room == 0)
				counters.full_sndbuf++;
			else
				counters.full_queue++;
			return ERR_OK;
		}
		err = tcp_write(c->pcb, pattern + c->pattern_off, n,
				TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
		if (err == ERR_MEM)
			return ERR_OK;
		if (err != ERR_OK) {
			counters.write_errors++;
			return err;
		}
		c->pattern_off = (c->pattern_off + n) % sizeof(pattern);
	}
}

/*
 * What a callback returns after @err from a step of @c: ERR_OK, or
 * ERR_ABRT once @c is reset; any other error closes @c first.
 */
static err_t conn_settle(struct conn *c, err_t err)
{
	if (err == ERR_OK || err == ERR_ABRT)
		return err;
	return conn_close(c);
}

/* Sends what the service has to send now. */
static err_t conn_push(struct conn *c)
{
	switch (c->service) {
	case ECHO:
		return conn_settle(c, echo_flush(c));
	case CHARGEN:
		return conn_settle(c, chargen_fill(c));
	case DISCARD:
		break;
	}
	return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct conn *c = arg;

	if (p == NULL) {
		c->peer_closed = true;
		if (c->service == ECHO)
			return conn_push(c);
		return conn_close(c);
	}
	if (c->service != ECHO) {
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	if (c->pending == NULL)
		c->pending = p;
	else
		pbuf_cat(c->pending, p);
	return conn_push(c);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	return conn_push(arg);
}

/* Every two seconds of quiet: try again what an ERR_MEM stopped. */
static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
	return conn_push(arg);
}

/* lwIP has freed the pcb (reset by the peer, or it gave up). */
static void on_err(void *arg, err_t err)
{
	struct conn *c = arg;

	counters.reset++;
	if (c == NULL)
		return;
	c->pcb = NULL;
	conn_free(c);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	enum service service = (enum service)(uintptr_t)arg;
	struct conn *c;

	if (err != ERR_OK || pcb == NULL)
		return ERR_VAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		counters.refused_nomem++;
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	c->pcb = pcb;
	c->service = service;
	counters.accepted++;
	tcp_arg(pcb, c);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	tcp_poll(pcb, on_poll, 4);
	return conn_push(c);
}

/* Listens on @service's port; false (and says why) if it cannot. */
static bool listen_on(enum service service)
{
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	struct tcp_pcb *lpcb;
	err_t err;

	if (pcb == NULL) {
		fprintf(stderr, "lwip-echo: no memory for a listener\n");
		return false;
	}
	err = tcp_bind(pcb, IP4_ADDR_ANY, service_ports[service]);
	if (err != ERR_OK) {
		fprintf(stderr, "lwip-echo: %s: bind to port %u: %s\n",
			service_names[service], service_ports[service],
			lwip_strerr(err));
		tcp_abort(pcb);
		return false;
	}
	lpcb = tcp_listen_with_backlog_and_err(pcb, 255, &err);
	if (lpcb == NULL) {
		fprintf(stderr, "lwip-echo: %s: listen: %s\n",
			service_names[service], lwip_strerr(err));
		tcp_abort(pcb);
		return false;
	}
	tcp_arg(lpcb, (void *)(uintptr_t)service);
	tcp_accept(lpcb, on_accept);
	return true;
}

/* Frames as the tap passes them: Ethernet, no VLAN tag, no FCS. */
#define FRAME_MAX 1514

/* lwIP's linkoutput: one frame, gathered from its pbufs, to the tap. */
static err_t tap_output(struct netif *nif, struct pbuf *p)
{
	struct iovec iov[16];
	int n = 0;

	for (struct pbuf *q = p; q != NULL && n < 16; q = q->next)
		iov[n++] = (struct iovec){q->payload, q->len};
	if (p->tot_len > FRAME_MAX || n == 16 ||
	    writev(tap_fd, iov, n) != (ssize_t)p->tot_len) {
		counters.tx_dropped++;
		return ERR_IF;
	}
	return ERR_OK;
}

/* lwIP's netif init: an Ethernet interface on the tap. */
static err_t tap_netif_init(struct netif *nif)
{
	static const u8_t mac[6] = {0x02, 0x12, 0x34, 0x56, 0x78, 0xab};

	nif->name[0] = 't';
	nif->name[1] = 'p';
	nif->output = etharp_output;
	nif->linkoutput = tap_output;
	nif->mtu = 1500;
	nif->hwaddr_len = sizeof(mac);
	memcpy(nif->hwaddr, mac, sizeof(mac));
	nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP |
		     NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

/* Hands @p to lwIP in this thread, under the core lock. */
static err_t input_locked(struct pbuf *p, struct netif *nif)
{
	err_t err;

	LOCK_TCPIP_CORE();
	err = ethernet_input(p, nif);
	UNLOCK_TCPIP_CORE();
	return err;
}

/*
 * The receive thread: one read() per frame, straight into a pbuf. A frame
 * lwIP has no memory for is read into a scratch buffer and counted.
 */
static void *tap_reader(void *arg)
{
	static u8_t scratch[FRAME_MAX];

	for (;;) {
		struct pbuf *p = pbuf_alloc(PBUF_RAW, FRAME_MAX, PBUF_RAM);
		ssize_t n =
		    read(tap_fd, p != NULL ? p->payload : scratch, FRAME_MAX);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (p != NULL)
				pbuf_free(p);
			continue;
		}
		if (n < 0) {
			perror("lwip-echo: tap read");
			exit(1);
		}
		if (p == NULL) {
			counters.rx_nomem++;
			continue;
		}
		if (n < SIZEOF_ETH_HDR) {
			counters.rx_short++;
			pbuf_free(p);
			continue;
		}
		counters.rx_frames++;
		pbuf_realloc(p, (u16_t)n);
		if (netif.input(p, &netif) != ERR_OK)
			pbuf_free(p);
	}
	return NULL;
}

/* Attaches to the tap @name (made and configured by the caller). */
static bool tap_open(const char *name)
{
	struct ifreq ifr = {0};

	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		fprintf(stderr, "lwip-echo: --tap %s: name too long\n", name);
		return false;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap_fd < 0 || ioctl(tap_fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "lwip-echo: tap %s: %s\n", name,
			strerror(errno));
		return false;
	}
	return true;
}

static bool started;

/* On the tcpip thread, core locked: the interface and the listeners. */
static void start(void *arg)
{
	netif_input_fn input = config.queued_input ? tcpip_input : input_locked;

	netif_add(&netif, &config.ip, &config.mask, &config.gw, NULL,
		  tap_netif_init, input);
	netif_set_default(&netif);
	netif_set_up(&netif);
	started = listen_on(ECHO) && listen_on(DISCARD) && listen_on(CHARGEN);
	sys_sem_signal(&ready);
}

/* Parses A.B.C.D/PREFIX into @config: the gateway is the subnet's .1. */
static bool parse_ip(const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[16];
	char *end;
	long prefix;
	u32_t mask, net;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == slash + 1 || prefix < 1 ||
	    prefix > 30 || !ip4addr_aton(addr, &config.ip))
		return false;
	mask = 0xffffffffu << (32 - prefix);
	ip4_addr_set_u32(&config.mask, lwip_htonl(mask));
	net = lwip_ntohl(ip4_addr_get_u32(&config.ip)) & mask;
	ip4_addr_set_u32(&config.gw, lwip_htonl(net | 1));
	return true;
}

static int usage(void)
{
	fprintf(stderr, "usage: lwip-echo --tap NAME --ip A.B.C.D/PREFIX "
			"[--queued-input]\n");
	return 2;
}

int main(int argc, char **argv)
{
	pthread_t reader;
	sigset_t stop;
	int sig;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--queued-input") == 0) {
			config.queued_input = true;
		} else if (strcmp(argv[i], "--tap") == 0 && i + 1 < argc) {
			config.tap = argv[++i];
		} else if (strcmp(argv[i], "--ip") == 0 && i + 1 < argc) {
			if (!parse_ip(argv[++i])) {
				fprintf(stderr,
					"lwip-echo: --ip %s: not "
					"A.B.C.D/PREFIX (prefix 1..30)\n",
					argv[i]);
				return 1;
			}
		} else {
			return usage();
		}
	}
	if (config.tap == NULL || config.ip.addr == 0)
		return usage();
	if (!tap_open(config.tap))
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	pattern_fill();
	/* lwIP's threads inherit the mask: only sigwait sees these. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
		fprintf(stderr, "lwip-echo: cannot block signals\n");
		return 1;
	}
	if (sys_sem_new(&ready, 0) != ERR_OK) {
		fprintf(stderr, "lwip-echo: no memory for a semaphore\n");
		return 1;
	}
	tcpip_init(start, NULL);
	sys_sem_wait(&ready);
	if (!started)
		return 1;
	if (pthread_create(&reader, NULL, tap_reader, NULL) != 0) {
		fprintf(stderr, "lwip-echo: cannot start the tap reader\n");
		return 1;
	}
	printf("lwip-echo: serving TCP echo on 7, discard on 9, chargen on "
	       "19 (lwIP %s, tap %s, %s input)\n",
	       LWIP_VERSION_STRING, config.tap,
	       config.queued_input ? "queued" : "locked");
	if (sigwait(&stop, &sig) != 0)
		return 1;
	LOCK_TCPIP_CORE();
	printf("lwip-echo: counters: accepted=%llu refused_nomem=%llu "
	       "write_errors=%llu aborted=%llu reset=%llu full_sndbuf=%llu "
	       "full_queue=%llu rx_frames=%llu rx_nomem=%llu rx_short=%llu "
	       "tx_dropped=%llu\n",
	       counters.accepted, counters.refused_nomem, counters.write_errors,
	       counters.aborted, counters.reset, counters.full_sndbuf,
	       counters.full_queue, counters.rx_frames, counters.rx_nomem,
	       counters.rx_short, counters.tx_dropped);
	UNLOCK_TCPIP_CORE();
	return 0;
}
