/*
 * The GDB Remote Serial Protocol engine of tender/gdb.h: framing
 * ($body#cs, acks, '}' escapes), the packet dispatcher, software
 * breakpoints. No I/O, no allocation: the caller moves the bytes, the
 * target reaches the guest. Everything gdb sends is hostile input: every
 * number is parsed with a bound, every length checked against
 * HZ_GDB_PACKET_MAX before use, and guest addresses stay integers for
 * the target to check.
 */
#include <string.h>

#include "gdb.h"

/* Longest memory access of one packet: its hex reply must fit a packet. */
#define MEM_MAX (HZ_GDB_PACKET_MAX / 2)
#define INT3 0xcc

static const char hexdigits[] = "0123456789abcdef";

/* The value of hex digit @c, or -1. */
static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses a hex number of 1 to 16 digits at *p (before @end) into *v and
 * moves *p past it. 0, or -1 if there is none or it is too long.
 */
static int parse_hex(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int n = 0;

	while (s < end && hexval(*s) >= 0) {
		if (++n > 16)
			return -1;
		x = x << 4 | (uint64_t)hexval(*s);
		s++;
	}
	if (n == 0)
		return -1;
	*v = x;
	*p = s;
	return 0;
}

/* Takes character @c at *p, or -1. */
static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

/* Decodes 2 * @n hex digits at @s into @out. 0 or -1. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* --- replies -------------------------------------------------------------- */

/* Frames @body (@len bytes) as a packet, queues it and keeps it for '-'. */
static void send_packet(struct hz_gdb *g, const char *body, size_t len)
{
	uint8_t sum = 0;
	size_t n = 0;

	if (len > HZ_GDB_PACKET_MAX)
		len = 0; /* never: every reply is built within the bound */
	g->last[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)body[i];
		if (c == '$' || c == '#' || c == '}' || c == '*') {
			g->last[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		g->last[n++] = c;
		sum += c;
	}
	g->last[n++] = '#';
	g->last[n++] = (uint8_t)hexdigits[sum >> 4];
	g->last[n++] = (uint8_t)hexdigits[sum & 15];
	g->last_len = n;
	if (g->out_len + n > sizeof(g->out))
		return; /* the last reply was not sent: gdb will ask again */
	memcpy(g->out + g->out_len, g->last, n);
	g->out_len += n;
}

/* Queues the NUL-terminated reply @s. */
static void reply(struct hz_gdb *g, const char *s)
{
	send_packet(g, s, strlen(s));
}

/* Queues an error reply "Exx" and counts a malformed packet. */
static void reply_error(struct hz_gdb *g, unsigned code)
{
	char e[4] = {'E', hexdigits[code >> 4 & 15], hexdigits[code & 15], 0};
	g->stats.malformed++;
	reply(g, e);
}

/* Queues one byte of the transport: an ack or a nak. */
static void send_byte(struct hz_gdb *g, char c)
{
	if (g->out_len < sizeof(g->out))
		g->out[g->out_len++] = (uint8_t)c;
}

/* Appends @n bytes at @p as hex to @buf at *pos. */
static void put_hex(char *buf, size_t *pos, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		buf[(*pos)++] = hexdigits[b[i] >> 4];
		buf[(*pos)++] = hexdigits[b[i] & 15];
	}
}

/* The size of register @n in the 'g' packet. */
static size_t reg_size(unsigned n)
{
	return n <= HZ_GDB_RIP ? 8 : 4;
}

/* Queues the stop reply of the last stop. */
static void reply_stop(struct hz_gdb *g)
{
	char s[48];
	size_t n = 0;
	uint8_t sig = (uint8_t)g->stop_signal;

	s[n++] = 'T';
	put_hex(s, &n, &sig, 1);
	if (g->stop_swbreak) {
		memcpy(s + n, "swbreak:;", 9);
		n += 9;
	}
	memcpy(s + n, "thread:1;", 9);
	n += 9;
	send_packet(g, s, n);
}

/* --- guest memory with breakpoints shadowed ------------------------------- */

/* Whether breakpoint @b lies in [@addr, @addr + @len); its offset in *off. */
static bool bp_in(const struct hz_gdb_breakpoint *b, uint64_t addr, size_t len,
		  size_t *off)
{
	if (!b->used || b->addr < addr || b->addr - addr >= len)
		return false;
	*off = (size_t)(b->addr - addr);
	return true;
}

/*
 * Reads guest memory as gdb should see it, the bytes under breakpoints
 * restored. Reads what it can from the start: the count, or -1 if not a
 * byte.
 */
static long read_guest(struct hz_gdb *g, uint64_t addr, uint8_t *buf,
		       size_t len)
{
	size_t n = len;

	if (g->target->read_mem(g->ctx, addr, buf, len) < 0) {
		/* Up to where the target stops us, byte by byte. */
		for (n = 0; n < len; n++)
			if (addr + n < addr ||
			    g->target->read_mem(g->ctx, addr + n, buf + n, 1) <
				0)
				break;
		if (n == 0)
			return -1;
	}
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++) {
		size_t off;
		if (bp_in(&g->bp[i], addr, n, &off))
			buf[off] = g->bp[i].saved;
	}
	return (long)n;
}

/*
 * Writes @len bytes at @addr for gdb: a byte under a breakpoint becomes
 * its saved byte, and the int3 stays. 0 or a negative HZ_E*.
 */
static int write_guest(struct hz_gdb *g, uint64_t addr, uint8_t *buf,
		       size_t len)
{
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++) {
		size_t off;
		if (bp_in(&g->bp[i], addr, len, &off)) {
			g->bp[i].saved = buf[off];
			buf[off] = INT3;
		}
	}
	return g->target->write_mem(g->ctx, addr, buf, len);
}

/* --- packets -------------------------------------------------------------- */

/* g: all registers. */
static void cmd_read_regs(struct hz_gdb *g)
{
	struct hz_gdb_regs r;
	char s[HZ_GDB_REGS * 16];
	size_t n = 0;

	if (g->target->get_regs(g->ctx, &r) < 0) {
		reply_error(g, 0x01);
		return;
	}
	for (unsigned i = 0; i < HZ_GDB_REGS; i++)
		put_hex(s, &n, &r.r[i], reg_size(i)); /* little-endian host */
	send_packet(g, s, n);
}

/* G XX...: all registers; gdb may send more than it was given. */
static void cmd_write_regs(struct hz_gdb *g, const char *p, size_t len)
{
	struct hz_gdb_regs r;
	size_t at = 0;

	if (g->target->get_regs(g->ctx, &r) < 0) {
		reply_error(g, 0x01);
		return;
	}
	for (unsigned i = 0; i < HZ_GDB_REGS; i++) {
		size_t sz = reg_size(i);
		uint64_t v = 0;
		if (len < at + 2 * sz || unhex(p + at, (uint8_t *)&v, sz) < 0) {
			reply_error(g, 0x01);
			return;
		}
		r.r[i] = v;
		at += 2 * sz;
	}
	if (g->target->set_regs(g->ctx, &r) < 0) {
		reply_error(g, 0x01);
		return;
	}
	reply(g, "OK");
}

/* p n / P n=XX: one register; those gdb's layout has beyond ours are
 * answered empty (unsupported), so gdb shows them as unavailable. */
static void cmd_reg(struct hz_gdb *g, const char *p, const char *end,
		    bool write)
{
	struct hz_gdb_regs r;
	uint64_t n;

	if (parse_hex(&p, end, &n) < 0 ||
	    (write ? expect(&p, end, '=') < 0 : p != end)) {
		reply_error(g, 0x01);
		return;
	}
	if (n >= HZ_GDB_REGS) {
		g->stats.unsupported++;
		reply(g, "");
		return;
	}
	if (g->target->get_regs(g->ctx, &r) < 0) {
		reply_error(g, 0x01);
		return;
	}
	size_t sz = reg_size((unsigned)n);
	if (!write) {
		char s[16];
		size_t k = 0;
		put_hex(s, &k, &r.r[n], sz);
		send_packet(g, s, k);
		return;
	}
	uint64_t v = 0;
	if ((size_t)(end - p) != 2 * sz || unhex(p, (uint8_t *)&v, sz) < 0) {
		reply_error(g, 0x01);
		return;
	}
	r.r[n] = v;
	if (g->target->set_regs(g->ctx, &r) < 0) {
		reply_error(g, 0x01);
		return;
	}
	reply(g, "OK");
}

/* Parses "ADDR,LEN" at *p; LEN at most MEM_MAX. 0 or -1. */
static int parse_range(const char **p, const char *end, uint64_t *addr,
		       size_t *len)
{
	uint64_t n;

	if (parse_hex(p, end, addr) < 0 || expect(p, end, ',') < 0 ||
	    parse_hex(p, end, &n) < 0 || n > MEM_MAX)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* m ADDR,LEN: read memory; fewer bytes if the end is not readable. */
static void cmd_read_mem(struct hz_gdb *g, const char *p, const char *end)
{
	uint64_t addr;
	size_t len;

	if (parse_range(&p, end, &addr, &len) < 0 || p != end) {
		reply_error(g, 0x01);
		return;
	}
	if (len == 0) {
		reply(g, "");
		return;
	}
	long n = read_guest(g, addr, g->scratch, len);
	if (n < 0) {
		reply_error(g, 0x0e); /* EFAULT */
		return;
	}
	size_t k = 0;
	put_hex(g->reply, &k, g->scratch, (size_t)n);
	send_packet(g, g->reply, k);
}

/* M ADDR,LEN:XX... (hex) and X ADDR,LEN:BYTES (binary): write memory. */
static void cmd_write_mem(struct hz_gdb *g, const char *p, const char *end,
			  bool binary)
{
	uint64_t addr;
	size_t len;

	if (parse_range(&p, end, &addr, &len) < 0 || expect(&p, end, ':') < 0) {
		reply_error(g, 0x01);
		return;
	}
	size_t have = (size_t)(end - p);
	if (binary) {
		if (have != len) {
			reply_error(g, 0x01);
			return;
		}
		memcpy(g->scratch, p, len);
	} else if (have != 2 * len || unhex(p, g->scratch, len) < 0) {
		reply_error(g, 0x01);
		return;
	}
	if (len && write_guest(g, addr, g->scratch, len) < 0) {
		reply_error(g, 0x0e);
		return;
	}
	reply(g, "OK");
}

/* The breakpoint at @addr, or NULL. */
static struct hz_gdb_breakpoint *bp_find(struct hz_gdb *g, uint64_t addr)
{
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++)
		if (g->bp[i].used && g->bp[i].addr == addr)
			return &g->bp[i];
	return NULL;
}

/* Z0,ADDR,KIND / z0,ADDR,KIND: software breakpoints (int3, kind 1). */
static void cmd_breakpoint(struct hz_gdb *g, const char *p, const char *end,
			   bool insert)
{
	uint64_t type, addr, kind;

	if (parse_hex(&p, end, &type) < 0 || expect(&p, end, ',') < 0 ||
	    parse_hex(&p, end, &addr) < 0 || expect(&p, end, ',') < 0 ||
	    parse_hex(&p, end, &kind) < 0) {
		reply_error(g, 0x01);
		return;
	}
	if (type != 0) { /* hardware breakpoints and watchpoints: not here */
		g->stats.unsupported++;
		reply(g, "");
		return;
	}
	/* Conditions and commands (";X...") are gdb's to evaluate. */
	if ((p != end && *p != ';') || kind != 1) {
		reply_error(g, 0x01);
		return;
	}
	struct hz_gdb_breakpoint *b = bp_find(g, addr);
	if (!insert) {
		if (!b) {
			reply_error(g, 0x01);
			return;
		}
		uint8_t byte = b->saved;
		if (g->target->write_mem(g->ctx, addr, &byte, 1) < 0) {
			reply_error(g, 0x0e);
			return;
		}
		b->used = false;
		reply(g, "OK");
		return;
	}
	if (b) {
		reply(g, "OK"); /* inserted already */
		return;
	}
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX && !b; i++)
		if (!g->bp[i].used)
			b = &g->bp[i];
	if (!b) {
		reply_error(g, 0x1c); /* ENOSPC */
		return;
	}
	uint8_t saved, int3 = INT3;
	if (g->target->read_mem(g->ctx, addr, &saved, 1) < 0 ||
	    g->target->write_mem(g->ctx, addr, &int3, 1) < 0) {
		reply_error(g, 0x0e);
		return;
	}
	*b = (struct hz_gdb_breakpoint){
	    .addr = addr, .saved = saved, .used = true};
	reply(g, "OK");
}

/*
 * c [ADDR] / s [ADDR], C SIG[;ADDR] / S SIG[;ADDR]: resume, at ADDR if
 * given. A guest has no signals to deliver, so SIG is dropped: gdb sends
 * C after a fault (SIGSEGV passes by default), where the guest is over.
 */
static enum hz_gdb_action cmd_resume(struct hz_gdb *g, const char *p,
				     const char *end, bool step, bool sig)
{
	if (sig) {
		uint64_t signal;
		if (parse_hex(&p, end, &signal) < 0 || signal > 0xff ||
		    (p != end && (expect(&p, end, ';') < 0 || p == end))) {
			reply_error(g, 0x01);
			return HZ_GDB_NONE;
		}
	}
	if (p != end) {
		struct hz_gdb_regs r;
		uint64_t addr;
		if (parse_hex(&p, end, &addr) < 0 || p != end) {
			reply_error(g, 0x01);
			return HZ_GDB_NONE;
		}
		if (g->target->get_regs(g->ctx, &r) < 0) {
			reply_error(g, 0x01);
			return HZ_GDB_NONE;
		}
		r.r[HZ_GDB_RIP] = addr;
		if (g->target->set_regs(g->ctx, &r) < 0) {
			reply_error(g, 0x01);
			return HZ_GDB_NONE;
		}
	}
	return step ? HZ_GDB_STEP : HZ_GDB_CONTINUE;
}

/* Whether packet @p (@len bytes) is @name exactly or @name followed by
 * one of @seps. */
static bool is(const char *p, size_t len, const char *name, const char *seps)
{
	size_t n = strlen(name);
	if (len < n || memcmp(p, name, n) != 0)
		return false;
	return len == n || (seps && strchr(seps, p[n]) && p[n] != '\0');
}

/* q...: general queries. */
static void cmd_query(struct hz_gdb *g, const char *p, size_t len)
{
	if (is(p, len, "qSupported", ":")) {
		char s[64];
		int n = snprintf(s, sizeof(s), "PacketSize=%x;swbreak+",
				 HZ_GDB_PACKET_MAX);
		send_packet(g, s, (size_t)n);
	} else if (is(p, len, "qAttached", ":")) {
		reply(g, "1"); /* an existing guest: detach leaves it running */
	} else if (is(p, len, "qfThreadInfo", NULL)) {
		reply(g, "m1");
	} else if (is(p, len, "qsThreadInfo", NULL)) {
		reply(g, "l");
	} else if (is(p, len, "qC", NULL)) {
		reply(g, "QC1");
	} else {
		g->stats.unsupported++;
		reply(g, "");
	}
}

/* Answers one well-framed packet; returns what it asks of the caller. */
static enum hz_gdb_action dispatch(struct hz_gdb *g)
{
	const char *p = g->pkt, *end = g->pkt + g->len;

	if (g->len == 0) {
		g->stats.unsupported++;
		reply(g, "");
		return HZ_GDB_NONE;
	}
	switch (p[0]) {
	case '?':
		reply_stop(g);
		return HZ_GDB_NONE;
	case 'g':
		if (g->len != 1)
			reply_error(g, 0x01);
		else
			cmd_read_regs(g);
		return HZ_GDB_NONE;
	case 'G':
		cmd_write_regs(g, p + 1, g->len - 1);
		return HZ_GDB_NONE;
	case 'p':
	case 'P':
		cmd_reg(g, p + 1, end, p[0] == 'P');
		return HZ_GDB_NONE;
	case 'm':
		cmd_read_mem(g, p + 1, end);
		return HZ_GDB_NONE;
	case 'M':
	case 'X':
		cmd_write_mem(g, p + 1, end, p[0] == 'X');
		return HZ_GDB_NONE;
	case 'Z':
	case 'z':
		cmd_breakpoint(g, p + 1, end, p[0] == 'Z');
		return HZ_GDB_NONE;
	case 'c':
	case 's':
	case 'C':
	case 'S':
		return cmd_resume(g, p + 1, end, p[0] == 's' || p[0] == 'S',
				  p[0] == 'C' || p[0] == 'S');
	case 'H':
	case 'T': /* one thread, always alive */
		reply(g, "OK");
		return HZ_GDB_NONE;
	case 'k':
		return HZ_GDB_KILL;
	case 'D':
		hz_gdb_remove_breakpoints(g);
		reply(g, "OK");
		return HZ_GDB_DETACH;
	case 'q':
		cmd_query(g, p, g->len);
		return HZ_GDB_NONE;
	case 'v':
		if (is(p, g->len, "vKill", ";")) {
			reply(g, "OK");
			return HZ_GDB_KILL;
		}
		break; /* vCont? too: gdb then uses c and s */
	default:
		break;
	}
	g->stats.unsupported++;
	reply(g, "");
	return HZ_GDB_NONE;
}

/* --- the session ---------------------------------------------------------- */

void hz_gdb_init(struct hz_gdb *g, const struct hz_gdb_target *target,
		 void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->target = target;
	g->ctx = ctx;
	g->stop_signal = HZ_GDB_SIGTRAP;
}

/* Starts receiving a new packet. */
static void rx_start(struct hz_gdb *g)
{
	g->rx = HZ_GDB_RX_BODY;
	g->len = 0;
	g->sum = 0;
	g->escape = false;
	g->oversize = false;
}

size_t hz_gdb_input(struct hz_gdb *g, const void *data, size_t len,
		    enum hz_gdb_action *action)
{
	const uint8_t *b = data;

	*action = HZ_GDB_NONE;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];
		int v;
		switch (g->rx) {
		case HZ_GDB_RX_IDLE:
			if (c == '$') {
				rx_start(g);
			} else if (c == '-' && g->last_len) {
				/* gdb asks for the last reply again. */
				g->stats.retransmits++;
				if (g->out_len + g->last_len <=
				    sizeof(g->out)) {
					memcpy(g->out + g->out_len, g->last,
					       g->last_len);
					g->out_len += g->last_len;
				}
				return i + 1;
			} else if (c != '+') {
				g->stats.stray++; /* a ^C while stopped too */
			}
			break;
		case HZ_GDB_RX_BODY:
			if (c == '$') { /* gdb started over */
				g->stats.stray += g->len + 1;
				rx_start(g);
				break;
			}
			if (c == '#') {
				g->rx = HZ_GDB_RX_SUM1;
				break;
			}
			g->sum += c;
			if (g->escape) {
				c ^= 0x20;
				g->escape = false;
			} else if (c == '}') {
				g->escape = true;
				break;
			}
			if (g->len < HZ_GDB_PACKET_MAX)
				g->pkt[g->len++] = (char)c;
			else
				g->oversize = true;
			break;
		case HZ_GDB_RX_SUM1:
		case HZ_GDB_RX_SUM2:
			v = hexval(c);
			if (v < 0) {
				g->stats.bad_checksum++;
				g->rx = HZ_GDB_RX_IDLE;
				send_byte(g, '-');
				return i + 1;
			}
			if (g->rx == HZ_GDB_RX_SUM1) {
				g->sum_got = (uint8_t)(v << 4);
				g->rx = HZ_GDB_RX_SUM2;
				break;
			}
			g->sum_got |= (uint8_t)v;
			g->rx = HZ_GDB_RX_IDLE;
			if (g->sum_got != g->sum) {
				g->stats.bad_checksum++;
				send_byte(g, '-');
			} else if (g->oversize) {
				g->stats.oversize++;
				send_byte(g, '-');
			} else {
				send_byte(g, '+');
				g->pkt[g->len] = '\0';
				*action = dispatch(g);
			}
			return i + 1;
		}
	}
	return len;
}

const uint8_t *hz_gdb_output(const struct hz_gdb *g, size_t *len)
{
	*len = g->out_len;
	return g->out;
}

void hz_gdb_output_done(struct hz_gdb *g)
{
	g->out_len = 0;
}

void hz_gdb_stopped(struct hz_gdb *g, int signal, bool swbreak)
{
	g->stop_signal = signal;
	g->stop_swbreak = swbreak;
	reply_stop(g);
}

void hz_gdb_exited(struct hz_gdb *g, int status)
{
	char s[4];
	size_t n = 0;
	uint8_t st = (uint8_t)status;

	s[n++] = 'W';
	put_hex(s, &n, &st, 1);
	send_packet(g, s, n);
}

void hz_gdb_killed(struct hz_gdb *g, int signal)
{
	char s[4];
	size_t n = 0;
	uint8_t sig = (uint8_t)signal;

	s[n++] = 'X';
	put_hex(s, &n, &sig, 1);
	send_packet(g, s, n);
}

bool hz_gdb_breakpoint_at(const struct hz_gdb *g, uint64_t addr, uint8_t *saved)
{
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++) {
		if (g->bp[i].used && g->bp[i].addr == addr) {
			if (saved)
				*saved = g->bp[i].saved;
			return true;
		}
	}
	return false;
}

void hz_gdb_remove_breakpoints(struct hz_gdb *g)
{
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++) {
		if (!g->bp[i].used)
			continue;
		uint8_t byte = g->bp[i].saved;
		if (g->target->write_mem(g->ctx, g->bp[i].addr, &byte, 1) < 0) {
			/* It was written when inserted: it stays writable. */
		}
		g->bp[i].used = false;
	}
}
