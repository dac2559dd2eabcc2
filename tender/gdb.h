/*
 * A GDB Remote Serial Protocol stub: the protocol engine of haze-kvm's
 * --gdb, apart from KVM and from sockets so that it can be tested and
 * fuzzed in-process (tests/tender, fuzz/fuzz_gdb.c).
 *
 * The engine does no I/O. The caller feeds it the bytes gdb sent
 * (hz_gdb_input), sends what it queued (hz_gdb_output, then
 * hz_gdb_output_done) and acts on what a packet asked for: run on, one
 * step, detach or kill. It reaches the guest only through a small target
 * interface: registers, guest memory (which the target bounds-checks;
 * no host address is ever formed from what gdb sends), nothing else.
 * Software breakpoints are the engine's: it saves the byte under each
 * and writes int3 through the target, and reads of memory show the saved
 * byte, as if no breakpoint were there.
 *
 * Packets: qSupported (PacketSize, swbreak), ?, g/G, p/P, m/M/X, Z0/z0,
 * c, s, C, S (the signal dropped), qAttached, H,
 * qfThreadInfo/qsThreadInfo/qC, T, k, D; anything else is answered with
 * the empty packet (gdb's "not supported"). A packet with a bad checksum,
 * or longer than HZ_GDB_PACKET_MAX, is refused with '-' and counted.
 * docs/kvm.md has the rest.
 */
#ifndef HAZE_TENDER_GDB_H
#define HAZE_TENDER_GDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "haze/error.h"

/* The longest packet body taken or sent (announced as PacketSize). */
#define HZ_GDB_PACKET_MAX 4096u

/* Software breakpoints at once. */
#define HZ_GDB_BREAKPOINTS_MAX 64u

/* Signals of stop replies, in gdb's numbering (include/gdb/signals.def). */
#define HZ_GDB_SIGILL 4
#define HZ_GDB_SIGTRAP 5
#define HZ_GDB_SIGABRT 6
#define HZ_GDB_SIGFPE 8
#define HZ_GDB_SIGKILL 9
#define HZ_GDB_SIGBUS 10
#define HZ_GDB_SIGSEGV 11

/*
 * The amd64 registers of the 'g' packet, in gdb's order when the stub
 * sends no target description: the sixteen general registers, rip, then
 * eflags and the six selectors as 32-bit values. The x87 and SSE
 * registers that follow in gdb's layout are not sent (gdb shows them as
 * unavailable).
 */
enum {
	HZ_GDB_RIP = 16,
	HZ_GDB_EFLAGS = 17,
	HZ_GDB_REGS = 24, /* rax .. r15, rip, eflags, cs ss ds es fs gs */
};
struct hz_gdb_regs {
	uint64_t r[HZ_GDB_REGS]; /* the 32-bit ones in the low half */
};

/* The guest as the engine sees it; each returns 0 or a negative HZ_E*. */
struct hz_gdb_target {
	int (*get_regs)(void *ctx, struct hz_gdb_regs *regs);
	int (*set_regs)(void *ctx, const struct hz_gdb_regs *regs);
	/* Guest memory at guest-virtual @addr; the target checks bounds. */
	int (*read_mem)(void *ctx, uint64_t addr, void *buf, size_t len);
	int (*write_mem)(void *ctx, uint64_t addr, const void *buf, size_t len);
};

/* What the last packet asks of the caller. */
enum hz_gdb_action {
	HZ_GDB_NONE,	 /* nothing: send the output, read on */
	HZ_GDB_CONTINUE, /* run the guest until it stops */
	HZ_GDB_STEP,	 /* run one instruction */
	HZ_GDB_DETACH,	 /* breakpoints are removed: run on without gdb */
	HZ_GDB_KILL,	 /* end the guest */
};

struct hz_gdb_breakpoint {
	uint64_t addr;
	uint8_t saved; /* the byte int3 replaced */
	bool used;
};

/* Drops and refusals, counted (the tender prints them at the end). */
struct hz_gdb_stats {
	uint64_t bad_checksum; /* packets NAKed for their checksum */
	uint64_t oversize;     /* packets NAKed for their length */
	uint64_t malformed;    /* well-framed packets answered with E */
	uint64_t stray;	       /* bytes outside any packet, ignored */
	uint64_t unsupported;  /* packets answered with the empty reply */
	uint64_t retransmits;  /* replies sent again after gdb's '-' */
};

enum hz_gdb_rx {
	HZ_GDB_RX_IDLE,
	HZ_GDB_RX_BODY,
	HZ_GDB_RX_SUM1,
	HZ_GDB_RX_SUM2
};

/* One session's state; the caller owns it (no allocation). */
struct hz_gdb {
	const struct hz_gdb_target *target;
	void *ctx;
	/* Receiving: the packet body, unescaped, and its checksum. */
	enum hz_gdb_rx rx;
	bool escape, oversize;
	uint8_t sum, sum_got;
	size_t len;
	char pkt[HZ_GDB_PACKET_MAX + 1];
	/* Sending: what the caller has yet to send, and the last reply. */
	size_t out_len, last_len;
	uint8_t out[2 * HZ_GDB_PACKET_MAX + 16]; /* an ack and a packet */
	uint8_t last[2 * HZ_GDB_PACKET_MAX + 8]; /* framed, escaped */
	char reply[HZ_GDB_PACKET_MAX];		 /* a reply being built */
	uint8_t scratch[HZ_GDB_PACKET_MAX];	 /* guest bytes of a packet */
	int stop_signal;			 /* of the last stop, for '?' */
	bool stop_swbreak; /* the last stop was at a breakpoint */
	struct hz_gdb_breakpoint bp[HZ_GDB_BREAKPOINTS_MAX];
	struct hz_gdb_stats stats;
};

/* Starts a session on @target; the guest is stopped with SIGTRAP. */
void hz_gdb_init(struct hz_gdb *g, const struct hz_gdb_target *target,
		 void *ctx);

/*
 * Takes up to @len bytes from gdb. Stops after a packet that asks for
 * something other than a reply (*action not HZ_GDB_NONE); returns the
 * bytes consumed, the rest to be fed again once that is done.
 */
size_t hz_gdb_input(struct hz_gdb *g, const void *data, size_t len,
		    enum hz_gdb_action *action);

/* Returns the bytes waiting to be sent to gdb, and their count. */
const uint8_t *hz_gdb_output(const struct hz_gdb *g, size_t *len);

/* Marks the output as sent. */
void hz_gdb_output_done(struct hz_gdb *g);

/*
 * Reports that the guest stopped with @signal (HZ_GDB_SIG*): queues the
 * stop reply. @swbreak says it stopped on one of the engine's
 * breakpoints (the target leaves rip on the int3, not after it).
 */
void hz_gdb_stopped(struct hz_gdb *g, int signal, bool swbreak);

/* Reports that the guest exited with @status: queues "W". */
void hz_gdb_exited(struct hz_gdb *g, int status);

/*
 * Reports that the guest was ended with @signal (after a fault it cannot
 * go on from, an abort, or k): queues "X".
 */
void hz_gdb_killed(struct hz_gdb *g, int signal);

/*
 * Whether a breakpoint of the engine is inserted at @addr; if so and
 * @saved is not NULL, the byte its int3 replaced goes to *saved.
 */
bool hz_gdb_breakpoint_at(const struct hz_gdb *g, uint64_t addr,
			  uint8_t *saved);

/* Takes every breakpoint out of guest memory (detach, disconnect). */
void hz_gdb_remove_breakpoints(struct hz_gdb *g);

#endif
