/*
 * The platform NIC as a NET (hz_netdev_open) under a direct stack,
 * against the Linux kernel through a tap: as root, with /dev/net/tun and
 * iproute2, the stack pings the host and the host's ARP resolves us,
 * and frames sent raw from the host keep only the pages they need;
 * skipped otherwise. Without a tap: opening an unknown device fails.
 */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "haze/ipstack.h"
#include "haze/log.h"
#include "haze/sched.h"
#include "haze/wire.h"
#include "platform/unix/unix.h"

#define TAP "hznet0"
#define HOST_IP HZ_IPV4(10, 77, 0, 1)
#define OUR_IP HZ_IPV4(10, 77, 0, 2)

static void unknown_device_is_enoent(void **state)
{
	struct hz_net *n;

	(void)state;
	assert_int_equal(hz_netdev_open("no-such-nic", NULL, &n), -HZ_ENOENT);
	assert_null(n);
}

/* Whether this process may make a tap and configure it. */
static bool tap_possible(void)
{
	int fd;

	if (getuid() != 0 || system("command -v ip >/dev/null 2>&1") != 0)
		return false;
	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct tap_run {
	struct hz_budget budget;
	int pings;
};

static int tap_main(void *arg)
{
	struct tap_run *t = arg;
	struct hz_ipstack_config c = {
	    .addr = OUR_IP, .prefix_len = 24, .name = "tap", .seed = 7};
	struct hz_net *n;
	struct hz_ipstack *s;
	struct hz_counter *copied;
	uint64_t before;

	if (!HARNESS_CHECK_EQ(hz_netdev_open("net0", &t->budget, &n), 0))
		return -1;
	/* The tap offers receive offload: 64 KiB spares, so the small
	 * replies are copied out of them (copybreak), and the spares, 8 of
	 * 64 KiB, stay within the budget. */
	copied = hz_counter_find("netdev", "rx_copybreak_frames");
	before = copied != NULL ? copied->value : 0;
	HARNESS_CHECK_EQ(n->mtu, 1500);
	if (!HARNESS_CHECK_EQ(hz_ipstack_create(n, &c, &s), 0)) {
		hz_netdev_close(n);
		return -1;
	}
	for (int i = 0; i < 20; i++)
		t->pings += hz_ipstack_ping(s, HOST_IP, 100 + (size_t)i * 50,
					    hz_now() + HZ_NS_PER_S) == 0;
	/* A datagram of 3000 bytes leaves in fragments the host accepts. */
	HARNESS_CHECK_EQ(
	    hz_ipstack_ping(s, HOST_IP, 3000, hz_now() + HZ_NS_PER_S), 0);
	t->pings++;
	copied = hz_counter_find("netdev", "rx_copybreak_frames");
	if (HARNESS_CHECK(copied != NULL))
		HARNESS_CHECK_GE(copied->value - before, 21);
	HARNESS_CHECK_LE(t->budget.used, 8u * 65536 + 65536);
	hz_ipstack_destroy(s);
	hz_netdev_close(n);
	return 0;
}

/* Binds net0 to a new tap at 10.77.0.1/24, up; skips without taps. */
static void tap_up(void)
{
	struct hz_errmsg err = {0};

	if (!tap_possible())
		skip();
	hz_unix_unbind_all();
	if (hz_unix_bind_tap("net0", TAP, &err) != 0)
		fail_msg("bind tap: %s", hz_errmsg_text(&err));
	assert_int_equal(system("ip link set " TAP " up && ip addr add "
				"10.77.0.1/24 dev " TAP),
			 0);
}

static void pings_the_host_through_a_tap(void **state)
{
	struct tap_run t = {.budget = HZ_BUDGET_INIT("rx", 1u << 20)};

	(void)state;
	tap_up();
	assert_int_equal(harness_run_fibers(tap_main, &t), 0);
	hz_unix_unbind_all();
	assert_int_equal(t.pings, 21);
	assert_int_equal(t.budget.used, 0);
}

/* The value of netdev counter @name, 0 before its first count. */
static uint64_t netdev_count(const char *name)
{
	const struct hz_counter *c = hz_counter_find("netdev", name);

	return c != NULL ? c->value : 0;
}

/*
 * A read that found the host's queue empty is not repeated before the loop
 * has checked readiness again: the next answers -HZ_EAGAIN itself, even
 * with a frame waiting; once the loop has waited, the frame is read.
 */
static int drained_main(void *arg)
{
	struct hz_net *n;
	struct hz_view v[8];
	uint64_t skipped;
	int got = 0;

	(void)arg;
	if (!HARNESS_CHECK_EQ(hz_netdev_open("net0", NULL, &n), 0))
		return -1;
	/* What the host sent at link-up: the read says how many it gave
	 * (the views past them are not written). */
	while ((got = hz_net_read(n, v, 8)) > 0)
		for (int i = 0; i < got; i++)
			hz_view_release(&v[i]);
	got = 0;
	HARNESS_CHECK_EQ(hz_net_read(n, v, 8), -HZ_EAGAIN);
	skipped = netdev_count("rx_reads_skipped_drained");
	/* The host asks for our address: a broadcast ARP request waits. */
	HARNESS_CHECK_EQ(system("ping -c 1 -W 0.2 10.77.0.2 >/dev/null 2>&1 &"),
			 0);
	usleep(100000);
	HARNESS_CHECK_EQ(hz_net_read(n, v, 8), -HZ_EAGAIN);
	HARNESS_CHECK_EQ(netdev_count("rx_reads_skipped_drained"), skipped + 1);
	/* The loop blocks in the platform and sees the device ready. */
	for (int tries = 0; tries < 50 && got <= 0; tries++) {
		hz_sleep_ns(1000000);
		got = hz_net_read(n, v, 8);
	}
	if (HARNESS_CHECK(got > 0))
		for (int i = 0; i < got; i++)
			hz_view_release(&v[i]);
	hz_netdev_close(n);
	return 0;
}

static void a_drained_device_is_not_read_again_until_polled(void **state)
{
	(void)state;
	tap_up();
	assert_int_equal(harness_run_fibers(drained_main, NULL), 0);
	hz_unix_unbind_all();
}

/*
 * Opens net0 (*n) and a packet socket on the tap's host side (its
 * address in *to), and writes the header of the frames it will send
 * into @frame; the socket, or -1 (checks said why).
 */
static int raw_open(struct sockaddr_ll *to, struct hz_net **n, uint8_t *frame)
{
	int fd;

	*to = (struct sockaddr_ll){.sll_family = AF_PACKET, .sll_halen = 6};
	to->sll_ifindex = (int)if_nametoindex(TAP);
	fd = to->sll_ifindex > 0 ? socket(AF_PACKET, SOCK_RAW, 0) : -1;
	if (!HARNESS_CHECK(fd >= 0))
		return -1;
	if (!HARNESS_CHECK_EQ(hz_netdev_open("net0", NULL, n), 0)) {
		close(fd);
		return -1;
	}
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
	hz_put16(frame + 12, 0x88b5); /* local experimental */
	return fd;
}

/*
 * Frames sent raw from the host's side of the tap (a packet socket, the
 * tap's MTU raised so it takes them whole) of 100 B to 40 KB: those that
 * fit a page are copied out of the 64 KiB spare; larger ones keep their
 * spare, shrunk to the pages they need; every byte arrives.
 */
static int spare_main(void *arg)
{
	/* A page holds 3,968 bytes after the headroom: 4,000 is shrunk;
	 * 8,193 needs a third page, so four are kept. */
	static const size_t sizes[] = {100, 3000, 4000, 8193, 20000, 40000};
	static const uint32_t caps[] = {4096, 4096, 4096, 16384, 32768, 65536};
	static uint8_t frame[40000];
	struct sockaddr_ll to;
	uint64_t copied = netdev_count("rx_copybreak_frames");
	uint64_t shrunk = netdev_count("rx_frames_spare_shrunk");
	struct hz_net *n;
	struct hz_view v[8];
	int fd, got;

	(void)arg;
	fd = raw_open(&to, &n, frame);
	if (fd < 0)
		return -1;
	while ((got = hz_net_read(n, v, 8)) > 0) /* what link-up sent */
		for (int i = 0; i < got; i++)
			hz_view_release(&v[i]);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		bool seen = false;

		for (size_t i = 14; i < sizes[k]; i++)
			frame[i] = (uint8_t)(i * 7 + k);
		HARNESS_CHECK_EQ(sendto(fd, frame, sizes[k], 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizes[k]);
		for (int tries = 0; tries < 200 && !seen; tries++) {
			hz_sleep_ns(HZ_NS_PER_MS);
			got = hz_net_read(n, v, 8);
			for (int i = 0; i < got; i++) {
				const uint8_t *d = hz_view_data(&v[i]);

				if (v[i].len >= 14 &&
				    hz_get16(d + 12) == 0x88b5) {
					seen = true;
					HARNESS_CHECK_EQ(v[i].len, sizes[k]);
					HARNESS_CHECK_EQ(v[i].pb->cap, caps[k]);
					HARNESS_CHECK(
					    memcmp(d, frame, v[i].len) == 0);
				}
				hz_view_release(&v[i]);
			}
		}
		HARNESS_CHECK(seen);
	}
	/* (The host's own small frames, IPv6's among them, count too.) */
	HARNESS_CHECK_GE(netdev_count("rx_copybreak_frames") - copied, 2);
	HARNESS_CHECK_EQ(netdev_count("rx_frames_spare_shrunk") - shrunk, 3);
	hz_netdev_close(n);
	close(fd);
	return 0;
}

#define HELD_MAX 2048

/*
 * Frames of 4,500 bytes, each held as a slow reader's queue would hold
 * it: shrunk, each would take a 64 KiB run out of service, and with no
 * run left for a spare the device would stop receiving while most of
 * the heap was free. Once 64 KiB runs are scarce they are copied into
 * the smaller runs, so receiving goes on until the heap itself is full.
 */
static int held_main(void *arg)
{
	static struct hz_view held[HELD_MAX];
	static uint8_t frame[4500];
	struct sockaddr_ll to;
	uint64_t scarce = netdev_count("rx_copied_runs_scarce");
	size_t nheld = 0, pinned = 0;
	struct hz_mem_stats st;
	struct hz_net *n;
	int fd, got = 0;

	(void)arg;
	fd = raw_open(&to, &n, frame);
	if (fd < 0)
		return -1;
	while (nheld + 8 < HELD_MAX && got >= 0) {
		HARNESS_CHECK_EQ(sendto(fd, frame, sizeof(frame), 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(frame));
		for (int tries = 0; tries < 100; tries++) {
			hz_sleep_ns(100000);
			got = hz_net_read(n, &held[nheld], 8);
			if (got == -HZ_EAGAIN)
				continue;
			for (int i = 0; i < got; i++)
				pinned += held[nheld + (size_t)i].pb->cap;
			nheld += got > 0 ? (size_t)got : 0;
			break;
		}
	}
	hz_mem_stats(&st);
	printf("# %zu frames of 4,500 bytes held, %zu KiB pinned of a %zu "
	       "KiB heap; the last read: %d\n",
	       nheld, pinned >> 10, st.heap_pages * HZ_PAGE_SIZE >> 10, got);
	/* Only a full heap stops the device, and it says so. */
	HARNESS_CHECK(got >= 0 || pinned * 2 > st.heap_pages * HZ_PAGE_SIZE);
	if (got == -HZ_ENOMEM)
		HARNESS_CHECK(strstr(n->ops->error_message(n),
				     "no memory for receive buffers") != NULL);
	HARNESS_CHECK_GT(netdev_count("rx_copied_runs_scarce"), scarce);
	for (size_t k = 0; k < nheld; k++)
		hz_view_release(&held[k]);
	hz_netdev_close(n);
	close(fd);
	return 0;
}

/* Runs @fn over a new tap whose MTU takes frames of up to 65,000 bytes
 * whole from the host's side. */
static void run_on_wide_tap(int (*fn)(void *))
{
	tap_up();
	assert_int_equal(system("ip link set " TAP " mtu 65000"), 0);
	assert_int_equal(harness_run_fibers(fn, NULL), 0);
	hz_unix_unbind_all();
}

static void held_frames_do_not_stop_receiving(void **state)
{
	(void)state;
	run_on_wide_tap(held_main);
}

static void frames_keep_only_the_pages_they_need(void **state)
{
	(void)state;
	run_on_wide_tap(spare_main);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(unknown_device_is_enoent),
	    HARNESS_TEST(pings_the_host_through_a_tap),
	    HARNESS_TEST(a_drained_device_is_not_read_again_until_polled),
	    HARNESS_TEST(frames_keep_only_the_pages_they_need),
	    HARNESS_TEST(held_frames_do_not_stop_receiving),
	};

	return HARNESS_RUN("net_netdev", tests);
}
