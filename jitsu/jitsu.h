/*
 * haze-jitsu: a host daemon that is the authoritative DNS server of a
 * zone whose names are unikernels, boots one when a query names it,
 * answers once it is ready, and stops it when it goes idle. See
 * docs/jitsu.md for the configuration, the life of a service and the
 * timings it records.
 *
 * What the parts share: the configuration (config.c), the host's bridge,
 * taps and privileges (host.c), the services' processes (service.c) and
 * the DNS front end (dns.c), all driven by one poll loop (main.c).
 */
#ifndef HAZE_JITSU_H
#define HAZE_JITSU_H

#include <net/if.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "haze/dns_server.h"
#include "haze/error.h"

#define JITSU_SERVICES_MAX 256
#define JITSU_ARGS_MAX 64
#define JITSU_RECORDS_MAX 256
#define JITSU_LINE_MAX 1024
#define JITSU_ZONE_TEXT_MAX (1u << 20)

enum jitsu_target { JITSU_UNIX, JITSU_KVM };

/* How a query for a stopped service is answered (docs/jitsu.md). */
enum jitsu_answer {
	JITSU_ANSWER_READY,   /* when the service says it is ready */
	JITSU_ANSWER_AT_ONCE, /* at once: frames queue in its tap */
};

/* Where a service is in its life. */
enum jitsu_state {
	SVC_STOPPED,
	SVC_BOOTING,  /* started, not yet ready */
	SVC_READY,    /* serving */
	SVC_STOPPING, /* asked to stop, not yet gone */
	SVC_BACKOFF,  /* crashed while serving; restarts at restart_at */
	SVC_FAILED,   /* ended before it was ready, or crashed CRASH_LOOP_MAX
			 times in a row: started again only by a query, not
			 before restart_at */
};

/* When each stage of one summon happened (CLOCK_MONOTONIC ns; 0: not). */
struct jitsu_timings {
	uint64_t query;	   /* the query that summoned it arrived */
	uint64_t spawn;	   /* haze-jitsu forked the tender or process */
	uint64_t start;	   /* the tender (or unix process) began */
	uint64_t guest;	   /* the guest's first instruction */
	uint64_t main;	   /* the runtime was entered (hz_main follows) */
	uint64_t ready;	   /* the application first waited for work */
	uint64_t request;  /* the first TCP payload reached its tap */
	uint64_t response; /* its first TCP payload left through its tap */
};

/* One service: its configuration, then its running state. */
struct jitsu_service {
	/* configuration */
	char name[HZ_DNS_TEXT_MAX + 1]; /* full name, lower case, no dot */
	uint8_t wire[HZ_DNS_NAME_MAX];	/* the same, wire format */
	size_t wire_len;
	enum jitsu_target target;
	char image[4096];
	char net[32]; /* the manifest's net device */
	uint32_t mem_mib;
	struct in_addr addr;
	uint32_t idle_s; /* 0: never stopped for idleness */
	char *args[JITSU_ARGS_MAX];
	size_t nargs;
	unsigned line; /* in the configuration, for messages */

	/* host resources */
	char tap[IFNAMSIZ];
	int ifindex;
	int tap_fd;   /* held while no process has it; -1 when not open */
	int spare_fd; /* an unattached /dev/net/tun, for tap_fd later */
	int pkt_fd;   /* packet socket on the tap, for the timings */

	/* the process */
	enum jitsu_state state;
	pid_t pid;
	int pidfd;
	int notify_fd; /* read end of the --notify pipe */
	char notify_buf[256];
	size_t notify_len;
	bool own_child; /* forked by this daemon: waitpid gives its status */
	uint64_t started_ns;
	uint64_t stop_deadline; /* SIGKILL after this while stopping */
	uint64_t restart_at;	/* SVC_BACKOFF, SVC_FAILED: not before */
	uint64_t backoff_ms;
	unsigned crashes;
	unsigned crash_run;	 /* crashes since a run lasted a minute */
	uint64_t last_rx;	 /* frames the guest had sent, last look */
	uint64_t last_active_ns; /* when it last sent a frame */
	bool measuring;		 /* watching the tap for request/response */
	bool logged;		 /* this summon's timings were logged */
	uint64_t summoned; /* asked for while stopping or in backoff: start */
	struct jitsu_timings t;
};

/* The whole configuration and state of the daemon. */
struct jitsu {
	/* configuration */
	char config_path[4096];
	char zone[HZ_DNS_TEXT_MAX + 1]; /* apex, lower case, no dot */
	struct sockaddr_in dns_addr;
	bool have_upstream;
	struct sockaddr_in upstream;
	char bridge[IFNAMSIZ];
	struct in_addr bridge_addr;
	unsigned prefix_len;
	char user[64]; /* "" keeps the uid; capabilities are dropped */
	char state_dir[4096];
	char tender[4096]; /* haze-kvm for target kvm */
	int kvm_fd;	   /* /dev/kvm, opened as root for kvm services */
	unsigned max_running;
	uint32_t ttl;
	uint32_t rrl_rate, rrl_burst;
	uint32_t boot_timeout_ms;
	enum jitsu_answer answer;
	char *records[JITSU_RECORDS_MAX];	 /* extra master-file lines */
	unsigned record_line[JITSU_RECORDS_MAX]; /* each one's, in the file */
	size_t nrecords;
	struct jitsu_service svc[JITSU_SERVICES_MAX];
	size_t nsvc;

	/* DNS */
	struct hz_dns_zone zone_db;
	struct hz_dns_rrl rrl;
	struct hz_dns_server server;
	int udp_fd, tcp_fd;

	/* the daemon */
	bool stopping;
	uint64_t counters_sum; /* of the counters, when last written */
	int timings_fd;	       /* the timings log, appended to */
};

/* --- config.c --- */

/*
 * Reads the configuration at @path into @j, checking every entry: a name
 * outside the zone, a duplicate name or address, an address outside the
 * bridge's network, a missing image. 0, or -HZ_EINVAL with one line
 * naming the entry in @err.
 */
HZ_MUST_CHECK
int jitsu_config_read(struct jitsu *j, const char *path, struct hz_errmsg *err);

/* Like jitsu_config_read, from @f, which is named @path in messages. */
HZ_MUST_CHECK
int jitsu_config_load(struct jitsu *j, FILE *f, const char *path,
		      struct hz_errmsg *err);

/* Frees what a configuration read allocated (records, arguments). */
void jitsu_config_free(struct jitsu *j);

/* Builds the zone's master-file text into @buf (@cap bytes); its length. */
size_t jitsu_zone_text(const struct jitsu *j, char *buf, size_t cap);

/*
 * The line of the configuration that line @zline of jitsu_zone_text's
 * text came from (a service's or a record's; *@is_record says which),
 * or 0 for the lines the daemon writes itself (SOA, NS).
 */
unsigned jitsu_zone_line_source(const struct jitsu *j, unsigned zline,
				bool *is_record);

/* --- host.c --- */

/*
 * Creates (or takes over) the bridge and one persistent tap per service,
 * opens each tap and a packet socket on it. 0, or -1 with @err set.
 */
HZ_MUST_CHECK
int jitsu_host_setup(struct jitsu *j, struct hz_errmsg *err);

/* Gives up every privilege haze-jitsu no longer needs after set-up. */
HZ_MUST_CHECK
int jitsu_drop_privileges(const struct jitsu *j, struct hz_errmsg *err);

/*
 * Refuses, naming it, an image or tender the services' user could not
 * execute (unix images, the tender) or read (kvm images): they run as
 * that user, who may not reach into a private directory. 0 or -1.
 */
HZ_MUST_CHECK
int jitsu_check_reach(const struct jitsu *j, struct hz_errmsg *err);

/* Removes the taps and the bridge (when the daemon stops). */
void jitsu_host_teardown(struct jitsu *j);

/* Reads the start of a small file (/proc, /sys) into @buf, NUL-ended;
 * the bytes read, 0 when it cannot be read. */
size_t jitsu_read_file(const char *path, char *buf, size_t cap);

/* Frames the guest of @s has sent so far (the tap's receive count). */
uint64_t jitsu_tap_rx_frames(const struct jitsu_service *s);

/* Starts or stops watching @s's tap for its first request and response. */
void jitsu_watch(struct jitsu_service *s, bool on);

/* Reads the packet socket of @s; records request/response; stops when both
 * are seen. */
void jitsu_watch_read(struct jitsu *j, struct jitsu_service *s);

/* Opens @s's tap again if the daemon does not hold it. 0, or -errno. */
HZ_MUST_CHECK
int jitsu_tap_take(struct jitsu_service *s);

/* Discards the frames queued in @s's tap (while no process reads it). */
void jitsu_tap_drain(struct jitsu_service *s);

/* --- service.c --- */

/* Starts @s for a query that arrived at @query_ns. 0, or -1 (logged). */
HZ_MUST_CHECK
int jitsu_start(struct jitsu *j, struct jitsu_service *s, uint64_t query_ns);

/* Asks @s to stop (SIGTERM, SIGKILL after a grace period). */
void jitsu_stop(struct jitsu *j, struct jitsu_service *s, const char *why);

/* Handles the exit of @s's process (its pidfd became readable). */
void jitsu_reap(struct jitsu *j, struct jitsu_service *s);

/* Reads the notices of @s's process (its --notify pipe is readable). */
void jitsu_notice(struct jitsu *j, struct jitsu_service *s);

/* Logs the timings of @s's last summon (once). */
void jitsu_timings_log(struct jitsu *j, struct jitsu_service *s);

/* Idle stops, kill deadlines and backoff restarts due at @now. */
void jitsu_tick(struct jitsu *j, uint64_t now);

/*
 * Makes room under max-running before @s starts, stopping the least
 * recently active ready service; false when the running ones are all
 * still booting (they count against max-running too) and none can go.
 */
HZ_MUST_CHECK
bool jitsu_make_room(struct jitsu *j, const struct jitsu_service *s);

/* Writes the state file so a restarted daemon adopts the services. */
void jitsu_state_save(const struct jitsu *j);

/* Writes every counter that moved to STATE/counters, one "source.name
 * value" a line (jitsu_state_save and jitsu_tick call it; --status
 * prints it). */
void jitsu_counters_save(const struct jitsu *j);

/* The sum of the counters' values: it changes when one moves. */
uint64_t jitsu_counters_sum(void);

/* Adopts the services a previous daemon left running. */
void jitsu_state_adopt(struct jitsu *j);

/* Prints the services, their memory, the counters and the last timings
 * (--status). */
int jitsu_status(const char *state_dir);

/* The service named by @name (wire format, lower case), or NULL. */
struct jitsu_service *jitsu_find(struct jitsu *j, const uint8_t *name,
				 size_t len);

/* --- dns.c --- */

/*
 * Writes the zone's master-file text into @text (@cap bytes; its length
 * in *@len) and loads it into @j->zone_db, before the host is touched: a
 * bad record is a configuration error. 0, or -1 with @err set.
 */
HZ_MUST_CHECK
int jitsu_zone_build(struct jitsu *j, char *text, size_t cap, size_t *len,
		     struct hz_errmsg *err);

/* Opens the DNS sockets for the built zone. 0, or -1 with @err set. */
HZ_MUST_CHECK
int jitsu_dns_open(struct jitsu *j, struct hz_errmsg *err);

/* Serves what waits on the UDP socket. */
void jitsu_dns_udp(struct jitsu *j);

/* Accepts TCP clients. */
void jitsu_dns_accept(struct jitsu *j);

/* Serves the TCP client on descriptor @fd, or moves on the query relayed
 * upstream on it (over TCP, or the answer to one relayed over UDP). */
void jitsu_dns_tcp(struct jitsu *j, int fd);

/* Answers the queries parked for @s (it became ready, or failed). */
void jitsu_dns_release(struct jitsu *j, struct jitsu_service *s, bool ok);

/* Fills @fds with the DNS descriptors to poll; their count. */
size_t jitsu_dns_pollfds(const struct jitsu *j, struct pollfd *fds, size_t cap);

/* Time out parked queries and idle clients; the next deadline. */
uint64_t jitsu_dns_tick(struct jitsu *j, uint64_t now);

/* --- main.c --- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t jitsu_now(void);

/* Logs one line to stderr, prefixed "haze-jitsu: ". */
void jitsu_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
