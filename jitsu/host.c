/*
 * What haze-jitsu asks of the host: a bridge with an address, one
 * persistent tap per service in it, a packet socket on each tap to time a
 * summon's first request and response, and then fewer privileges.
 *
 * The daemon holds every tap open while its service is not running, so
 * the tap is up and frames sent to a booting service queue in it instead
 * of being dropped; the service's process inherits the same open file
 * (--net NAME=tapfd:N) and reads them. The bridge and taps are set up with
 * iproute2 (`ip`), once, as root; the taps are owned by the user the
 * daemon becomes, so a restarted daemon can open them again without
 * privileges. They stay when the daemon stops and are reused at the next
 * start; `haze-jitsu --teardown` removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jitsu/jitsu.h"
#include "platform/host/tap.h"

/* Runs `ip ARGS...`; 0, or -1 with @err naming the command. */
static int run_ip(struct hz_errmsg *err, const char *const *argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return hz_errmsg_set(err, -HZ_EIO, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	char cmd[256];
	size_t o = 0;
	for (size_t i = 0; argv[i] != NULL && o < sizeof(cmd); i++) {
		int k = snprintf(cmd + o, sizeof(cmd) - o, "%s ", argv[i]);

		o += k > 0 ? (size_t)k : 0;
	}
	return hz_errmsg_set(err, -HZ_EIO, "%sfailed (status %d)", cmd,
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Turns IPv6 off on @ifname: its router and listener solicitations
 * would otherwise reach every tap. */
static void no_ipv6(const char *ifname)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			jitsu_log("%s: cannot turn IPv6 off", ifname);
		close(fd);
	}
}

/* The uid and gid the daemon becomes, or its own when no user is set. */
static int target_ids(const struct jitsu *j, uid_t *uid, gid_t *gid,
		      struct hz_errmsg *err)
{
	struct passwd *pw;

	*uid = getuid();
	*gid = getgid();
	if (j->user[0] == '\0')
		return 0;
	pw = getpwnam(j->user);
	if (pw == NULL)
		return hz_errmsg_set(err, -HZ_EINVAL, "user %s: no such user",
				     j->user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static const struct sock_filter drop_all[] = {
    BPF_STMT(BPF_RET | BPF_K, 0),
};

/* IPv4 carrying TCP: its first 128 bytes (headers, no more). */
static const struct sock_filter tcp_only[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 3),
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 128),
    BPF_STMT(BPF_RET | BPF_K, 0),
};

/* Puts @prog (@n instructions) on packet socket @fd. */
static int set_filter(int fd, const struct sock_filter *prog, size_t n)
{
	struct sock_fprog f = {(unsigned short)n, (struct sock_filter *)prog};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &f, sizeof(f));
}

/* A packet socket on @ifindex that takes nothing until jitsu_watch. Only
 * one bound to every protocol sees what the tap sends to the guest. */
static int packet_socket(int ifindex)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET,
				.sll_protocol = htons(ETH_P_ALL),
				.sll_ifindex = ifindex};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			htons(ETH_P_ALL));

	int on = 1;

	if (fd < 0)
		return -1;
	/* Frames are timed by the kernel: the daemon may read them late. */
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 ||
	    set_filter(fd, drop_all, 1) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The name of service @i's tap: BRIDGE-I (the config keeps BRIDGE to 11
 * characters and I below 256, so it fits). */
static void tap_name(const char *bridge, size_t i, char out[IFNAMSIZ])
{
	char name[IFNAMSIZ + 24];

	snprintf(name, sizeof(name), "%.11s-%u", bridge, (unsigned)(i & 0xff));
	name[IFNAMSIZ - 1] = '\0';
	memcpy(out, name, IFNAMSIZ);
}

/* Creates or opens service @i's tap, persistent, owned by @uid. */
static int tap_setup(struct jitsu *j, size_t i, uid_t uid, gid_t gid,
		     struct hz_errmsg *err)
{
	struct jitsu_service *s = &j->svc[i];
	const char *up[] = {"ip",     "link",	 "set", s->tap,
			    "master", j->bridge, "up",	NULL};
	int fd;

	tap_name(j->bridge, i, s->tap);
	fd = hz_tap_open(s->tap);
	if (fd == -EBUSY) {
		/* A service left running by an earlier daemon holds it. It is
		 * taken again when that process ends, through a descriptor
		 * opened now: /dev/net/tun may be root's alone. */
		s->tap_fd = -1;
		s->spare_fd =
		    open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (s->spare_fd < 0)
			return hz_errmsg_set(err, -HZ_EIO, "/dev/net/tun: %s",
					     strerror(errno));
	} else if (fd < 0) {
		return hz_errmsg_set(err, -HZ_EIO, "tap %s: %s", s->tap,
				     strerror(-fd));
	} else {
		if (ioctl(fd, TUNSETPERSIST, 1) < 0 ||
		    ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0 ||
		    ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0) {
			int e = errno;
			close(fd);
			return hz_errmsg_set(err, -HZ_EIO, "tap %s: %s", s->tap,
					     strerror(e));
		}
		s->tap_fd = fd;
	}
	no_ipv6(s->tap);
	if (run_ip(err, up) < 0)
		return -1;
	s->ifindex = (int)if_nametoindex(s->tap);
	s->pkt_fd = packet_socket(s->ifindex);
	if (s->ifindex == 0 || s->pkt_fd < 0)
		return hz_errmsg_set(err, -HZ_EIO, "tap %s: packet socket: %s",
				     s->tap, strerror(errno));
	return 0;
}

/* Whether interface @name exists and is of kind @kind ("bridge": a
 * bridge; "tun_flags": a tap or tun), as sysfs shows it. */
static bool link_is(const char *name, const char *kind)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, kind);
	return access(path, F_OK) == 0;
}

int jitsu_host_setup(struct jitsu *j, struct hz_errmsg *err)
{
	char addr[32];
	const char *add[] = {"ip",   "link",   "add", j->bridge,
			     "type", "bridge", NULL};
	const char *set_addr[] = {"ip",	 "addr",    "replace", addr,
				  "dev", j->bridge, NULL};
	const char *up[] = {"ip", "link", "set", j->bridge, "up", NULL};
	uid_t uid;
	gid_t gid;

	if (target_ids(j, &uid, &gid, err) < 0)
		return -1;
	/* Never take over (and later delete) someone else's interface. */
	if (if_nametoindex(j->bridge) != 0 && !link_is(j->bridge, "bridge"))
		return hz_errmsg_set(err, -HZ_EEXIST,
				     "bridge %s: an interface of that name "
				     "exists and is not a bridge",
				     j->bridge);
	if (if_nametoindex(j->bridge) == 0 && run_ip(err, add) < 0)
		return -1;
	no_ipv6(j->bridge);
	snprintf(addr, sizeof(addr), "%s/%u", inet_ntoa(j->bridge_addr),
		 j->prefix_len);
	if (run_ip(err, set_addr) < 0 || run_ip(err, up) < 0)
		return -1;
	for (size_t i = 0; i < j->nsvc; i++)
		if (tap_setup(j, i, uid, gid, err) < 0)
			return -1;
	/* The state directory is the daemon's, whichever user it becomes. */
	if (mkdir(j->state_dir, 0750) < 0 && errno != EEXIST)
		return hz_errmsg_set(err, -HZ_EIO, "state %s: %s", j->state_dir,
				     strerror(errno));
	if (chown(j->state_dir, uid, gid) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "state %s: %s", j->state_dir,
				     strerror(errno));
	return 0;
}

void jitsu_host_teardown(struct jitsu *j)
{
	struct hz_errmsg err = {0};

	for (size_t i = 0; i < j->nsvc; i++) {
		char tap[IFNAMSIZ];
		const char *del[] = {"ip", "link", "del", tap, NULL};

		tap_name(j->bridge, i, tap);
		if (link_is(tap, "tun_flags") && run_ip(&err, del) < 0)
			jitsu_log("%s", hz_errmsg_text(&err));
	}
	const char *del[] = {"ip", "link", "del", j->bridge, NULL};
	if (link_is(j->bridge, "bridge") && run_ip(&err, del) < 0)
		jitsu_log("%s", hz_errmsg_text(&err));
}

/* What a service of @s needs of path @i (0: its image, 1: the tender). */
static int reach_mode(const struct jitsu_service *s, int i)
{
	return i == 0 && s->target == JITSU_KVM ? R_OK : X_OK;
}

/*
 * In a child that becomes the services' user: the first (service, path)
 * it cannot reach, as (service index << 1 | path) and errno, written to
 * @fd; nothing if all are reachable.
 */
static HZ_NORETURN void reach_child(const struct jitsu *j, uid_t uid, gid_t gid,
				    int fd)
{
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		_exit(3);
	for (size_t i = 0; i < j->nsvc; i++) {
		const struct jitsu_service *s = &j->svc[i];
		for (int p = 0; p < (s->target == JITSU_KVM ? 2 : 1); p++) {
			const char *path = p == 0 ? s->image : j->tender;
			if (access(path, reach_mode(s, p)) == 0)
				continue;
			int v[2] = {(int)(i << 1) | p, errno};
			_exit(write(fd, v, sizeof(v)) == sizeof(v) ? 1 : 3);
		}
	}
	_exit(0);
}

int jitsu_check_reach(const struct jitsu *j, struct hz_errmsg *err)
{
	int p[2], v[2], status = 0;
	uid_t uid;
	gid_t gid;
	pid_t pid;

	if (target_ids(j, &uid, &gid, err) < 0)
		return -1;
	if (j->user[0] == '\0' || getuid() != 0)
		return 0; /* the services run as whoever runs the daemon */
	if (pipe2(p, O_CLOEXEC) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		reach_child(j, uid, gid, p[1]);
	close(p[1]);
	ssize_t n = pid < 0 ? -1 : read(p[0], v, sizeof(v));
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "checking as user %s: %s",
				     j->user, strerror(errno));
	if (n == (ssize_t)sizeof(v)) {
		const struct jitsu_service *s = &j->svc[v[0] >> 1];
		int what = v[0] & 1;
		return hz_errmsg_set(
		    err, -HZ_EINVAL, "service %s: %s %s: %s by user %s (%s)",
		    s->name, what ? "tender" : "image",
		    what ? j->tender : s->image,
		    reach_mode(s, what) == R_OK ? "not readable"
						: "not executable",
		    j->user, strerror(v[1]));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return hz_errmsg_set(err, -HZ_EIO,
				     "checking as user %s: cannot become it",
				     j->user);
	return 0;
}

int jitsu_drop_privileges(const struct jitsu *j, struct hz_errmsg *err)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	uid_t uid;
	gid_t gid;

	if (target_ids(j, &uid, &gid, err) < 0)
		return -1;
	if (j->user[0] != '\0') {
		/* No supplementary group: /dev/kvm is passed down open. */
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			return hz_errmsg_set(err, -HZ_EIO, "user %s: %s",
					     j->user, strerror(errno));
	}
	/* Whatever the uid, no capability is left, nor can one be gained. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		(void)!prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	memset(d, 0, sizeof(d));
	/* Not dumpable: its services run as the same user, and must not be
	 * able to trace it or read its memory. */
	if (syscall(SYS_capset, &h, d) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return hz_errmsg_set(err, -HZ_EIO, "dropping privileges: %s",
				     strerror(errno));
	return 0;
}

size_t jitsu_read_file(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, cap - 1);
	close(fd);
	n = n < 0 ? 0 : n;
	buf[n] = '\0';
	return (size_t)n;
}

uint64_t jitsu_tap_rx_frames(const struct jitsu_service *s)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_packets",
		 s->tap);
	if (jitsu_read_file(path, buf, sizeof(buf)) == 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

void jitsu_watch(struct jitsu_service *s, bool on)
{
	uint8_t junk[1];

	if (s->pkt_fd < 0 || s->measuring == on)
		return;
	if (on ? set_filter(s->pkt_fd, tcp_only, 6) < 0
	       : set_filter(s->pkt_fd, drop_all, 1) < 0) {
		jitsu_log("%s: packet filter: %s", s->tap, strerror(errno));
		return;
	}
	s->measuring = on;
	/* What the old filter let in is not of this summon. */
	while (recv(s->pkt_fd, junk, sizeof(junk), MSG_TRUNC) >= 0)
		;
}

/* The TCP payload length of IPv4 frame @f (@len bytes); 0 if none. */
static size_t tcp_payload(const uint8_t *f, size_t len)
{
	size_t ihl, doff, total;

	if (len < 14 + 20 || (f[14] >> 4) != 4 || f[23] != 6)
		return 0;
	ihl = (size_t)(f[14] & 15) * 4;
	total = (size_t)f[16] << 8 | f[17];
	if (ihl < 20 || len < 14 + ihl + 13)
		return 0;
	doff = (size_t)(f[14 + ihl + 12] >> 4) * 4;
	return total > ihl + doff ? total - ihl - doff : 0;
}

/* When the kernel took the frame of @msg, on the monotonic clock (its
 * stamp is wall-clock time); now if it gave none. */
static uint64_t frame_time(struct msghdr *msg)
{
	struct timespec real;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL;
	     c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec ts;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		clock_gettime(CLOCK_REALTIME, &real);
		int64_t ago = (int64_t)(real.tv_sec - ts.tv_sec) * 1000000000 +
			      (real.tv_nsec - ts.tv_nsec);
		uint64_t now = jitsu_now();
		return ago > 0 && (uint64_t)ago < now ? now - (uint64_t)ago
						      : now;
	}
	return jitsu_now();
}

void jitsu_watch_read(struct jitsu *j, struct jitsu_service *s)
{
	uint8_t f[128];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_ll from;
	struct iovec iov = {f, sizeof(f)};
	struct msghdr msg;
	ssize_t n;

	(void)j;
	for (;;) {
		msg = (struct msghdr){.msg_name = &from,
				      .msg_namelen = sizeof(from),
				      .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf)};
		n = recvmsg(s->pkt_fd, &msg, 0);
		if (n < 0)
			break;
		if (tcp_payload(f, (size_t)n) == 0)
			continue;
		uint64_t at = frame_time(&msg);
		/* The tap sends what goes to the guest. */
		if (from.sll_pkttype == PACKET_OUTGOING) {
			if (s->t.request == 0)
				s->t.request = at;
		} else if (s->t.response == 0 && s->t.request != 0) {
			s->t.response = at;
		}
	}
	if (s->t.request != 0 && s->t.response != 0)
		jitsu_watch(s, false);
}

int jitsu_tap_take(struct jitsu_service *s)
{
	int r;

	if (s->tap_fd >= 0)
		return 0;
	if (s->spare_fd < 0) {
		r = hz_tap_open(s->tap);
		if (r < 0)
			return r;
		s->tap_fd = r;
		return 0;
	}
	r = hz_tap_attach(s->spare_fd, s->tap);
	if (r < 0)
		return r;
	s->tap_fd = s->spare_fd;
	s->spare_fd = -1;
	return 0;
}

void jitsu_tap_drain(struct jitsu_service *s)
{
	uint8_t frame[65536 + 64];
	int n = 0;

	if (s->tap_fd < 0)
		return;
	while (n++ < 256 && read(s->tap_fd, frame, sizeof(frame)) > 0)
		;
}
