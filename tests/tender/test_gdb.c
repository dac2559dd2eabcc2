/*
 * haze-kvm --gdb without /dev/kvm: the GDB stub's engine (tender/gdb.c)
 * on a fake VM (fakevm.h) whose memory holds a real guest image, loaded
 * by the tender's own loader, and whose registers are a struct. Memory
 * goes through the kvm backend's own accessors (hz_gdb_vm_read and
 * hz_gdb_vm_write), so the bounds tested are the tender's. Then gdb
 * itself: a `gdb -batch` session over TCP against the stub on that VM.
 * Last, the run loop's side: a guest exit reported as W, a fault as a T
 * stop with the fault's registers, through a socketpair; and the kvm
 * backend whole (tender/gdb_kvm.c, hz_vm_run) on a toy vCPU: ioctl is
 * wrapped (-Wl,--wrap=ioctl) so that the vCPU's calls reach a CPU whose
 * every byte is a one-byte instruction, which stops on int3 bytes, steps
 * when asked and exits through the real EXIT hypercall at a chosen
 * address, and gdb debugs it through haze-kvm's own listen and accept.
 */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tender/fakevm.h"

#define IMAGE_REL "/kvm/tests/kvm/guests/debuggee/debuggee.hz"
#define ANSWER 0x2a4d7a48u /* debuggee_answer's value in the image */

/* --- a fake target: the fake VM's memory, registers in a struct ----------- */

struct fake {
	struct hz_vm *vm;
	struct hz_gdb_regs regs;
	unsigned reads; /* memory reads the target was asked for */
};

/* Gives the engine the fake's registers. */
static int fake_get_regs(void *ctx, struct hz_gdb_regs *r)
{
	*r = ((struct fake *)ctx)->regs;
	return 0;
}

/* Takes the engine's registers into the fake. */
static int fake_set_regs(void *ctx, const struct hz_gdb_regs *r)
{
	((struct fake *)ctx)->regs = *r;
	return 0;
}

/* Reads guest memory through the kvm backend's accessor. */
static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	f->reads++;
	return hz_gdb_vm_read(f->vm, addr, buf, len);
}

/* Writes guest memory through the kvm backend's accessor. */
static int fake_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	return hz_gdb_vm_write(((struct fake *)ctx)->vm, addr, buf, len);
}

static const struct hz_gdb_target fake_target = {
    .get_regs = fake_get_regs,
    .set_regs = fake_set_regs,
    .read_mem = fake_read,
    .write_mem = fake_write,
};

/* The test's VM and session (large: static). */
static struct hz_vm vm;
static struct hz_gdb gdb;
static struct fake fake;

/* Where the build is (tests/run passes O). */
static const char *build_dir(void)
{
	const char *o = getenv("O");
	return o && *o ? o : "build";
}

/* The debuggee image's path. */
static const char *image_path(void)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s%s", build_dir(), IMAGE_REL);
	return path;
}

/*
 * The address of symbol @name in the ELF file @path, read from its
 * .symtab; fails the test if there is none.
 */
static uint64_t symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	uint8_t *d = malloc((size_t)st.st_size);
	assert_non_null(d);
	assert_int_equal(read(fd, d, (size_t)st.st_size), st.st_size);
	close(fd);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(d + eh->e_shoff);
	uint64_t value = 0;
	for (unsigned i = 0; i < eh->e_shnum && !value; i++) {
		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		const char *str = (const char *)d + sh[sh[i].sh_link].sh_offset;
		const Elf64_Sym *sym = (const Elf64_Sym *)(d + sh[i].sh_offset);
		for (size_t j = 0; j < sh[i].sh_size / sizeof(*sym); j++)
			if (strcmp(str + sym[j].st_name, name) == 0)
				value = sym[j].st_value;
	}
	free(d);
	if (!value)
		fail_msg("%s: no symbol %s", path, name);
	return value;
}

/*
 * Sets up the fake VM with the debuggee loaded by the tender's loader,
 * rip at its entry, and a session on it.
 */
static void setup_vm(void)
{
	fakevm_init(&vm);
	if (hz_image_open(&vm.image, image_path(), vm.mem_size) < 0)
		fail_msg("cannot load %s (built by make test-build)",
			 image_path());
	assert_int_equal(hz_image_load(&vm.image, vm.mem), 0);
	memset(&fake, 0, sizeof(fake));
	fake.vm = &vm;
	for (unsigned i = 0; i < HZ_GDB_REGS; i++)
		fake.regs.r[i] = 0x1111111111111111ull * (i % 15 + 1);
	fake.regs.r[HZ_GDB_RIP] = vm.image.entry;
	fake.regs.r[HZ_GDB_EFLAGS] = 0x202;
	fake.regs.r[7] = HZ_KVM_STACK_TOP - 0x40; /* rsp */
	for (unsigned i = HZ_GDB_EFLAGS + 1; i < HZ_GDB_REGS; i++)
		fake.regs.r[i] = 0x23;
	hz_gdb_init(&gdb, &fake_target, &fake);
}

/* Frees the fake VM. */
static void release_vm(void)
{
	close(vm.image.fd);
	fakevm_release(&vm);
}

/* Feeds @raw (NUL-terminated) to the engine; its output, NUL-terminated. */
static const char *feed(const char *raw, enum hz_gdb_action *last)
{
	static char out[sizeof(gdb.out) * 4];
	size_t n = 0, len = strlen(raw), at = 0;

	*last = HZ_GDB_NONE;
	while (at < len) {
		enum hz_gdb_action act;
		at += hz_gdb_input(&gdb, raw + at, len - at, &act);
		size_t k;
		const uint8_t *o = hz_gdb_output(&gdb, &k);
		assert_true(n + k < sizeof(out));
		memcpy(out + n, o, k);
		n += k;
		hz_gdb_output_done(&gdb);
		if (act != HZ_GDB_NONE)
			*last = act;
	}
	out[n] = '\0';
	return out;
}

/* Frames @body as gdb would: $body#checksum. */
static const char *frame(const char *body)
{
	static char pkt[HZ_GDB_PACKET_MAX * 2 + 8];
	uint8_t sum = 0;
	size_t n = strlen(body);

	assert_true(n + 4 < sizeof(pkt));
	for (size_t i = 0; i < n; i++)
		sum += (uint8_t)body[i];
	snprintf(pkt, sizeof(pkt), "$%s#%02x", body, sum);
	return pkt;
}

/*
 * Sends packet @body; checks it was acked and returns the reply's body
 * (between '$' and '#'), or "" for an empty reply.
 */
static const char *ask(const char *body)
{
	static char reply[HZ_GDB_PACKET_MAX + 1];
	enum hz_gdb_action act;
	const char *out = feed(frame(body), &act);

	if (out[0] != '+')
		fail_msg("packet %.40s not acked: %.40s", body, out);
	const char *hash = strrchr(out, '#');
	if (out[1] != '$' || !hash)
		fail_msg("packet %.40s: no reply: %.40s", body, out);
	size_t n = (size_t)(hash - out - 2);
	memcpy(reply, out + 2, n);
	reply[n] = '\0';
	return reply;
}

/* @n bytes at @p as hex, little-endian as the wire has them. */
static const char *hex(const void *p, size_t n)
{
	static char s[256];
	const uint8_t *b = p;
	for (size_t i = 0; i < n && 2 * i + 2 < sizeof(s); i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return s;
}

/* --- the engine ----------------------------------------------------------- */

/* g gives the 24 registers in gdb's amd64 order; G, p and P change them. */
static void registers_are_read_and_written(void **state)
{
	(void)state;
	setup_vm();
	const char *g = ask("g");
	assert_int_equal(strlen(g), 17 * 16 + 7 * 8);
	assert_memory_equal(g, hex(&fake.regs.r[0], 8), 16); /* rax */
	assert_memory_equal(g + 16 * 16, hex(&vm.image.entry, 8), 16);
	assert_memory_equal(g + 17 * 16, "02020000", 8); /* eflags */
	/* p: one register; rip is 0x10. */
	assert_string_equal(ask("p10"), hex(&vm.image.entry, 8));
	/* P: rbx (register 1) becomes 0x0123456789abcdef. */
	assert_string_equal(ask("P1=efcdab8967452301"), "OK");
	assert_int_equal(fake.regs.r[1], 0x0123456789abcdefull);
	/* G: the whole set, every register changed. */
	char all[17 * 16 + 7 * 8 + 2] = "G";
	size_t at = 1;
	for (unsigned i = 0; i < HZ_GDB_REGS; i++) {
		uint64_t v = 0x0102030405060708ull + i;
		size_t sz = i <= HZ_GDB_RIP ? 8 : 4;
		memcpy(all + at, hex(&v, sz), 2 * sz);
		at += 2 * sz;
	}
	all[at] = '\0';
	assert_string_equal(ask(all), "OK");
	assert_int_equal(fake.regs.r[HZ_GDB_RIP], 0x0102030405060708ull + 16);
	assert_int_equal(fake.regs.r[HZ_GDB_EFLAGS], 0x05060708ull + 17);
	/* Registers past ours (x87, SSE): unsupported, so unavailable. */
	assert_string_equal(ask("p18"), "");
	/* A short G changes nothing. */
	uint64_t rax = fake.regs.r[0];
	assert_string_equal(ask("G0011"), "E01");
	assert_int_equal(fake.regs.r[0], rax);
	release_vm();
}

/* m reads the loaded image: the global's bytes, as the file has them. */
static void image_memory_is_read(void **state)
{
	char cmd[64], want[16];

	(void)state;
	setup_vm();
	uint64_t at = symbol(image_path(), "debuggee_answer");
	uint32_t answer = ANSWER;
	snprintf(cmd, sizeof(cmd), "m%llx,4", (unsigned long long)at);
	snprintf(want, sizeof(want), "%s", hex(&answer, 4));
	assert_string_equal(ask(cmd), want);
	/* hz_main's first bytes are the image's text. */
	uint64_t main_at = symbol(image_path(), "hz_main");
	snprintf(cmd, sizeof(cmd), "m%llx,8", (unsigned long long)main_at);
	assert_string_equal(ask(cmd), hex(vm.mem + main_at, 8));
	/* M writes it, X (binary, escapes and all) too. */
	snprintf(cmd, sizeof(cmd), "M%llx,2:2324", (unsigned long long)at);
	assert_string_equal(ask(cmd), "OK");
	assert_int_equal(vm.mem[at], 0x23);
	assert_int_equal(vm.mem[at + 1], 0x24);
	/* X ADDR,2:'}' '$'^0x20 ... : bytes 0x24 ('$') and 0x7d ('}'). */
	snprintf(cmd, sizeof(cmd), "X%llx,2:}\x04}]", (unsigned long long)at);
	assert_string_equal(ask(cmd), "OK");
	assert_int_equal(vm.mem[at], 0x24);
	assert_int_equal(vm.mem[at + 1], 0x7d);
	release_vm();
}

/*
 * Addresses outside guest memory are refused with an E reply; the target
 * is asked, and its bounds (the tender's) say no, so no host memory is
 * read. A read that starts inside and runs out gives the inside part.
 */
static void addresses_outside_the_guest_are_refused(void **state)
{
	char cmd[64];

	(void)state;
	setup_vm();
	static const uint64_t outside[] = {FAKEVM_MEM, FAKEVM_MEM + 4096,
					   0xc0000000ull, UINT64_MAX - 1,
					   0xffff800000000000ull};
	for (unsigned i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		snprintf(cmd, sizeof(cmd), "m%llx,4",
			 (unsigned long long)outside[i]);
		assert_string_equal(ask(cmd), "E0e");
		snprintf(cmd, sizeof(cmd), "M%llx,1:cc",
			 (unsigned long long)outside[i]);
		assert_string_equal(ask(cmd), "E0e");
		snprintf(cmd, sizeof(cmd), "Z0,%llx,1",
			 (unsigned long long)outside[i]);
		assert_string_equal(ask(cmd), "E0e");
	}
	snprintf(cmd, sizeof(cmd), "m%llx,8",
		 (unsigned long long)FAKEVM_MEM - 2);
	assert_string_equal(ask(cmd), "0000");
	/* Lengths are bounded: a reply must fit one packet. */
	assert_string_equal(ask("m100000,801"), "E01");
	assert_int_equal(strlen(ask("m100000,800")), HZ_GDB_PACKET_MAX);
	/* Numbers are bounded too: 17 hex digits are not an address. */
	assert_string_equal(ask("m10000000000000000,4"), "E01");
	release_vm();
}

/* Z0 writes int3 and keeps the byte; m shows the byte; z0 and D put it back. */
static void breakpoints_save_and_restore_bytes(void **state)
{
	char cmd[64];

	(void)state;
	setup_vm();
	uint64_t at = symbol(image_path(), "hz_main");
	uint8_t orig[2] = {vm.mem[at], vm.mem[at + 1]};
	assert_int_not_equal(orig[0], 0xcc);
	snprintf(cmd, sizeof(cmd), "Z0,%llx,1", (unsigned long long)at);
	assert_string_equal(ask(cmd), "OK");
	assert_int_equal(vm.mem[at], 0xcc);
	assert_string_equal(ask(cmd), "OK"); /* twice: one breakpoint */
	uint8_t saved = 0;
	assert_true(hz_gdb_breakpoint_at(&gdb, at, &saved));
	assert_int_equal(saved, orig[0]);
	/* gdb reads the original bytes, not the int3. */
	snprintf(cmd, sizeof(cmd), "m%llx,2", (unsigned long long)at);
	assert_string_equal(ask(cmd), hex(orig, 2));
	/* A write over it changes the saved byte; the int3 stays. */
	snprintf(cmd, sizeof(cmd), "M%llx,1:90", (unsigned long long)at);
	assert_string_equal(ask(cmd), "OK");
	assert_int_equal(vm.mem[at], 0xcc);
	snprintf(cmd, sizeof(cmd), "M%llx,1:%02x", (unsigned long long)at,
		 orig[0]);
	assert_string_equal(ask(cmd), "OK");
	snprintf(cmd, sizeof(cmd), "z0,%llx,1", (unsigned long long)at);
	assert_string_equal(ask(cmd), "OK");
	assert_int_equal(vm.mem[at], orig[0]);
	assert_false(hz_gdb_breakpoint_at(&gdb, at, NULL));
	assert_string_equal(ask(cmd), "E01"); /* not there any more */
	/* Kinds other than 1 (int3's length) and hardware ones. */
	snprintf(cmd, sizeof(cmd), "Z0,%llx,2", (unsigned long long)at);
	assert_string_equal(ask(cmd), "E01");
	snprintf(cmd, sizeof(cmd), "Z1,%llx,1", (unsigned long long)at);
	assert_string_equal(ask(cmd), "");
	/* Many: each byte back on detach. */
	for (unsigned i = 0; i < 8; i++) {
		snprintf(cmd, sizeof(cmd), "Z0,%llx,1",
			 (unsigned long long)at + i);
		assert_string_equal(ask(cmd), "OK");
	}
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(vm.mem[at + i], 0xcc);
	enum hz_gdb_action act;
	assert_string_equal(feed(frame("D"), &act), "+$OK#9a");
	assert_int_equal(act, HZ_GDB_DETACH);
	assert_memory_equal(vm.mem + at, orig, 2);
	for (unsigned i = 0; i < 8; i++)
		assert_int_not_equal(vm.mem[at + i], 0xcc);
	/* The table is bounded. */
	for (unsigned i = 0; i < HZ_GDB_BREAKPOINTS_MAX; i++) {
		snprintf(cmd, sizeof(cmd), "Z0,%llx,1",
			 (unsigned long long)FAKEVM_HEAP + i);
		assert_string_equal(ask(cmd), "OK");
	}
	snprintf(cmd, sizeof(cmd), "Z0,%llx,1",
		 (unsigned long long)FAKEVM_HEAP + HZ_GDB_BREAKPOINTS_MAX);
	assert_string_equal(ask(cmd), "E1c");
	release_vm();
}

/*
 * Framing: a bad checksum or an oversize packet is NAKed ('-') and
 * counted, and nothing of it is done; a malformed packet is acked and
 * answered E01; an unknown one gets the empty reply; '-' from gdb
 * repeats the last reply; stray bytes are skipped.
 */
static void bad_packets_are_refused(void **state)
{
	enum hz_gdb_action act;
	char cmd[64];

	(void)state;
	setup_vm();
	uint64_t at = symbol(image_path(), "hz_main");
	uint8_t orig = vm.mem[at];
	/* A breakpoint packet with a wrong checksum: NAKed, not inserted. */
	snprintf(cmd, sizeof(cmd), "Z0,%llx,1", (unsigned long long)at);
	char bad[96];
	snprintf(bad, sizeof(bad), "%s", frame(cmd));
	bad[strlen(bad) - 1] ^= 1;
	assert_string_equal(feed(bad, &act), "-");
	assert_int_equal(vm.mem[at], orig);
	assert_int_equal(gdb.stats.bad_checksum, 1);
	assert_string_equal(feed("$g#zz", &act), "-");
	assert_int_equal(gdb.stats.bad_checksum, 2);
	/* Oversize: more than HZ_GDB_PACKET_MAX bytes of body. */
	static char big[HZ_GDB_PACKET_MAX + 64];
	memset(big, 'M', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_string_equal(feed(frame(big), &act), "-");
	assert_int_equal(gdb.stats.oversize, 1);
	/* Malformed, well-framed: E01, counted. */
	static const char *const malformed[] = {"m",
						"mzz,4",
						"m100000",
						"m100000,",
						"m100000,4x",
						"M100000,2:12",
						"M100000,1:zz",
						"X100000,2:a",
						"P10",
						"P10=12",
						"Z0,100000",
						"c12x",
						"gg",
						"p",
						"pzz",
						"Z0,100000,1x"};
	uint64_t before = gdb.stats.malformed;
	for (unsigned i = 0; i < sizeof(malformed) / sizeof(*malformed); i++)
		if (strcmp(ask(malformed[i]), "E01") != 0)
			fail_msg("%s: not refused with E01", malformed[i]);
	assert_int_equal(gdb.stats.malformed - before,
			 sizeof(malformed) / sizeof(*malformed));
	/* Unknown: the empty reply. */
	assert_string_equal(ask("vCont?"), "");
	assert_string_equal(ask("qXfer:features:read:target.xml:0,ffb"), "");
	assert_string_equal(ask("!"), "");
	/* The rest of the set. */
	assert_string_equal(ask("qSupported:multiprocess+;swbreak+"),
			    "PacketSize=1000;swbreak+");
	assert_string_equal(ask("?"), "T05thread:1;");
	assert_string_equal(ask("qAttached"), "1");
	assert_string_equal(ask("Hg0"), "OK");
	assert_string_equal(ask("qfThreadInfo"), "m1");
	assert_string_equal(ask("qsThreadInfo"), "l");
	assert_string_equal(ask("qC"), "QC1");
	/* '-' from gdb: the last reply again. */
	assert_string_equal(feed("-", &act), "$QC1#c5");
	/* Stray bytes, then a packet. */
	assert_string_equal(feed("xyz\x03+", &act), "");
	assert_string_equal(ask("qC"), "QC1");
	/* Resuming: c and s, at an address if given; k. */
	assert_string_equal(feed(frame("c"), &act), "+");
	assert_int_equal(act, HZ_GDB_CONTINUE);
	assert_string_equal(feed(frame("s100010"), &act), "+");
	assert_int_equal(act, HZ_GDB_STEP);
	assert_int_equal(fake.regs.r[HZ_GDB_RIP], 0x100010);
	hz_gdb_stopped(&gdb, HZ_GDB_SIGTRAP, true);
	assert_string_equal(feed("", &act), "");
	size_t n;
	const uint8_t *o = hz_gdb_output(&gdb, &n);
	assert_int_equal(n, strlen(frame("T05swbreak:;thread:1;")));
	assert_memory_equal(o, frame("T05swbreak:;thread:1;"), n);
	hz_gdb_output_done(&gdb);
	assert_string_equal(feed(frame("k"), &act), "+");
	assert_int_equal(act, HZ_GDB_KILL);
	release_vm();
}

/* --- gdb itself ----------------------------------------------------------- */

/* A listening socket on 127.0.0.1, its port in *port. */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * Serves gdb on @fd with the engine until it detaches or goes away, each
 * wait at most 30 s. The last action.
 */
static enum hz_gdb_action serve(int fd)
{
	uint8_t buf[4096];
	enum hz_gdb_action act = HZ_GDB_NONE;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 30000) != 1)
			return HZ_GDB_NONE;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return act;
		size_t at = 0;
		while (at < (size_t)n) {
			at +=
			    hz_gdb_input(&gdb, buf + at, (size_t)n - at, &act);
			size_t k;
			const uint8_t *o = hz_gdb_output(&gdb, &k);
			if (k && write(fd, o, k) != (ssize_t)k)
				return HZ_GDB_NONE;
			hz_gdb_output_done(&gdb);
			if (act == HZ_GDB_DETACH || act == HZ_GDB_KILL)
				return act;
			/* The fake VM stands still: c and s stop at once. */
			if (act == HZ_GDB_CONTINUE || act == HZ_GDB_STEP) {
				hz_gdb_stopped(&gdb, HZ_GDB_SIGTRAP, false);
				o = hz_gdb_output(&gdb, &k);
				if (write(fd, o, k) != (ssize_t)k)
					return HZ_GDB_NONE;
				hz_gdb_output_done(&gdb);
			}
		}
	}
}

/*
 * Reads gdb's output from @fd to its end, NUL-terminated, closes @fd and
 * waits for gdb, process @pid, to exit (its wait status in @status).
 */
static const char *gdb_transcript(int fd, pid_t pid, int *status)
{
	static char text[16384];
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += (size_t)r;
	text[n] = '\0';
	close(fd);
	waitpid(pid, status, 0);
	return text;
}

/*
 * gdb -batch against the stub on the fake VM holding the debuggee:
 * connect, info registers rip (the image's entry, named), x/4xb of a
 * global (its bytes), print it (its value), detach.
 */
static void gdb_batch_session(void **state)
{
	int out[2];
	uint16_t port;
	char target[64];

	(void)state;
	setup_vm();
	int lfd = listen_any(&port);
	snprintf(target, sizeof(target), "target remote 127.0.0.1:%u", port);
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		execlp("gdb", "gdb", "-q", "-nx", "-batch", "-ex", target,
		       "-ex", "info registers rip", "-ex",
		       "x/4xb &debuggee_answer", "-ex", "print debuggee_answer",
		       "-ex", "print $rsp", "-ex", "detach", image_path(),
		       (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int cfd = poll(&p, 1, 30000) == 1 ? accept(lfd, NULL, NULL) : -1;
	enum hz_gdb_action act = cfd >= 0 ? serve(cfd) : HZ_GDB_NONE;
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	int status;
	const char *text = gdb_transcript(out[0], pid, &status);
	char rip[64];
	snprintf(rip, sizeof(rip), "0x%llx <_start>",
		 (unsigned long long)vm.image.entry);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		fail_msg("gdb did not run (status %d):\n%s", status, text);
	const char *rip_line = strstr(text, "\nrip ");
	const char *rip_end = rip_line ? strchr(rip_line + 1, '\n') : NULL;
	const char *rip_at = rip_line ? strstr(rip_line, rip) : NULL;
	if (act != HZ_GDB_DETACH || !rip_at || !rip_end || rip_at > rip_end ||
	    !strstr(text, "0x48\t0x7a\t0x4d\t0x2a") ||
	    !strstr(text, "$1 = 709720648") ||
	    !strstr(text, "$2 = (void *) 0xfffc0\n") ||
	    strstr(text, "warning") || strstr(text, "rror"))
		fail_msg("gdb session (detach %s), expected rip %s, the "
			 "global's bytes and value, rsp:\n%s",
			 act == HZ_GDB_DETACH ? "seen" : "NOT seen", rip, text);
	release_vm();
}

/* --- the run loop's side -------------------------------------------------- */

/* Reads what the stub sent on @fd within 10 s, NUL-terminated. */
static const char *received(int fd)
{
	static char buf[8192];
	size_t n = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (n < sizeof(buf) - 1 && poll(&p, 1, n ? 100 : 10000) == 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

/* Opens a socketpair @sv and puts the stub's end, sv[0], on @link. */
static void link_open(struct hz_gdb_link *link, int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	hz_gdb_link_init(&vm, link, sv[0]);
}

/* Closes both ends of the socketpair link_open opened. */
static void link_close(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* Writes all of @cmds to @fd, as gdb's side of the link. */
static void send_cmds(int fd, const char *cmds)
{
	assert_int_equal(write(fd, cmds, strlen(cmds)), (ssize_t)strlen(cmds));
}

/* Appends packet @body, framed, to the string @cmds of @size bytes. */
static void cmds_add(char *cmds, size_t size, const char *body)
{
	size_t n = strlen(cmds);

	snprintf(cmds + n, size - n, "%s", frame(body));
}

/* The guest's exit status reaches gdb as W, and the tender still exits. */
static void guest_exit_is_reported(void **state)
{
	static struct hz_gdb_link link;
	int sv[2];

	(void)state;
	fakevm_init(&vm);
	link_open(&link, sv);
	struct hz_kvm_exit *ex = fakevm_ptr(&vm, FAKEVM_HEAP);
	ex->status = 7;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_EXIT, FAKEVM_HEAP), 7);
	assert_string_equal(received(sv[1]), "$W07#be");
	link_close(sv);
	fakevm_release(&vm);
}

/*
 * A fault stops gdb's guest with SIGSEGV (a page fault), the registers
 * those of the fault; after gdb's c the guest is over (X0b), and the
 * tender exits with the fault status.
 */
static void guest_fault_is_a_segv_stop(void **state)
{
	static struct hz_gdb_link link;
	int sv[2];

	(void)state;
	fakevm_init(&vm);
	link_open(&link, sv);
	struct hz_kvm_fault *f = fakevm_ptr(&vm, FAKEVM_HEAP);
	*f = (struct hz_kvm_fault){
	    .vector = 14, .rip = 0x1234567, .rax = 0xfeed, .cr2 = 8};
	/* What gdb will have sent by the time the stub reads. */
	const char *cmds = "+$g#67+$c#63+";
	send_cmds(sv[1], cmds);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_FAULT, FAKEVM_HEAP),
			 HZ_KVM_EXIT_FAULT);
	const char *got = received(sv[1]);
	if (strncmp(got, "$T0bthread:1;#", 14) != 0 ||
	    !strstr(got, "+$edfe000000000000") || /* rax first */
	    !strstr(got, "6745230100000000") ||	  /* rip */
	    !strstr(got, "+$X0b#"))
		fail_msg("expected a T0b stop, the fault's registers and "
			 "X0b; got %s",
			 got);
	link_close(sv);
	fakevm_release(&vm);
}

/* --- the kvm backend on a toy vCPU ------------------------------------- */

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

/* The toy vCPU's descriptor: no real descriptor has this number. */
#define TOY_VCPU 4000
#define EXIT_ARG FAKEVM_HEAP /* where the toy puts the EXIT call's struct */

static struct {
	struct kvm_regs regs;
	struct kvm_guest_debug dbg;
	uint64_t exit_at; /* rip at which the guest exits with status 7 */
	unsigned steps, runs;
} toy;

/*
 * KVM_RUN on the toy vCPU: every byte is a one-byte instruction. An
 * int3 (0xcc) with software breakpoints on exits as #BP with rip on it;
 * a step moves one byte and exits as #DB; reaching toy.exit_at makes the
 * EXIT hypercall (an MMIO store of its struct's address), status 7.
 */
static int toy_run(void)
{
	struct kvm_run *run = vm.run;
	const uint32_t c = toy.dbg.control;
	bool sw = (c & KVM_GUESTDBG_ENABLE) && (c & KVM_GUESTDBG_USE_SW_BP);

	if (++toy.runs > 100000) { /* a stop nobody serves: fail, not hang */
		errno = EIO;
		return -1;
	}
	for (;;) {
		uint64_t rip = toy.regs.rip;
		if (rip >= vm.mem_size) {
			errno = EFAULT;
			return -1;
		}
		if (sw && vm.mem[rip] == 0xcc) {
			run->exit_reason = KVM_EXIT_DEBUG;
			run->debug.arch.exception = 3;
			run->debug.arch.pc = rip;
			return 0;
		}
		if (rip == toy.exit_at) {
			struct hz_kvm_exit *ex = fakevm_ptr(&vm, EXIT_ARG);
			uint32_t gpa = EXIT_ARG;
			*ex = (struct hz_kvm_exit){.status = 7};
			run->exit_reason = KVM_EXIT_MMIO;
			run->mmio.phys_addr =
			    HZ_KVM_HYPERCALL_GPA + 8 * HZ_KVM_CALL_EXIT;
			run->mmio.is_write = 1;
			run->mmio.len = 4;
			memcpy(run->mmio.data, &gpa, 4);
			return 0;
		}
		toy.regs.rip++;
		if ((c & KVM_GUESTDBG_ENABLE) &&
		    (c & KVM_GUESTDBG_SINGLESTEP)) {
			toy.steps++;
			run->exit_reason = KVM_EXIT_DEBUG;
			run->debug.arch.exception = 1;
			run->debug.arch.pc = toy.regs.rip;
			return 0;
		}
	}
}

/* The tender's ioctls: the toy vCPU's are served here, others pass. */
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != TOY_VCPU)
		return __real_ioctl(fd, req, arg);
	switch (req) {
	case KVM_RUN:
		return toy_run();
	case KVM_GET_REGS:
		memcpy(arg, &toy.regs, sizeof(toy.regs));
		return 0;
	case KVM_SET_REGS:
		memcpy(&toy.regs, arg, sizeof(toy.regs));
		return 0;
	case KVM_GET_SREGS:
		memset(arg, 0, sizeof(struct kvm_sregs));
		((struct kvm_sregs *)arg)->cs.selector = 0x23;
		return 0;
	case KVM_SET_GUEST_DEBUG:
		memcpy(&toy.dbg, arg, sizeof(toy.dbg));
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

/* The fake VM with the debuggee, its vCPU the toy at the image's entry. */
static void setup_toy(void)
{
	static struct kvm_run run;

	setup_vm();
	memset(&toy, 0, sizeof(toy));
	memset(&run, 0, sizeof(run));
	vm.vcpu_fd = TOY_VCPU;
	vm.run = &run;
	toy.regs.rip = vm.image.entry;
	toy.regs.rsp = HZ_KVM_STACK_TOP;
	toy.regs.rflags = 0x2;
	toy.exit_at = symbol(image_path(), "hz_main") + 0x20;
}

/* Runs the VM as haze-kvm does, from the first KVM_RUN; its status. */
static void run_vm(struct hz_vm *v, void *arg)
{
	*(int *)arg = hz_vm_run(v);
}

/*
 * The kvm backend without gdb's help: gdb's packets by hand over a
 * socketpair, through hz_vm_run. Continuing from a breakpoint steps off
 * it with the saved byte in place, then puts the int3 back and runs on
 * without telling gdb; an int3 that is not gdb's is reported past
 * itself; detach takes the breakpoints out and turns debugging off.
 */
static void kvm_backend_steps_over_breakpoints(void **state)
{
	static struct hz_gdb_link link;
	int sv[2];
	char cmds[256] = "", z0[32], want[128];

	(void)state;
	setup_toy();
	uint64_t main_at = symbol(image_path(), "hz_main");
	uint64_t bp = main_at + 4, own = main_at + 8;
	uint8_t orig = vm.mem[bp];
	vm.mem[own] = 0xcc; /* an int3 of the guest's own */
	toy.regs.rip = bp;  /* stopped on gdb's breakpoint, as after a hit */
	link_open(&link, sv);
	snprintf(z0, sizeof(z0), "Z0,%llx,1", (unsigned long long)bp);
	cmds_add(cmds, sizeof(cmds), z0);
	cmds_add(cmds, sizeof(cmds), "c");
	cmds_add(cmds, sizeof(cmds), "D");
	send_cmds(sv[1], cmds);
	int status = -1;
	int ended = fakevm_run(&vm, run_vm, &status);
	/* Z0 OK; c steps off bp (one #DB, not reported) and runs on to the
	 * guest's own int3, reported past it; D; the guest then exits. */
	const char *got = received(sv[1]);
	assert_int_equal(ended, 7);
	assert_int_equal(toy.steps, 1);
	snprintf(want, sizeof(want), "+$OK#9a+%s+$OK#9a",
		 frame("T05thread:1;"));
	if (strcmp(got, want) != 0)
		fail_msg("expected %s, got %s", want, got);
	assert_int_equal(vm.mem[bp], orig);   /* detached: taken out */
	assert_int_equal(toy.dbg.control, 0); /* debugging off */
	assert_true(vm.gdb == NULL);
	assert_true(toy.regs.rip == toy.exit_at);
	link_close(sv);
	release_vm();
}

/*
 * After a step off a breakpoint the int3 is back in guest memory: gdb
 * continues from its breakpoint, stops at the guest's own int3, steps
 * at the breakpoint's address again (s ADDR), then kills the guest; the
 * breakpoint's int3 is in memory and the VM ended with 253.
 */
static void kvm_backend_puts_breakpoints_back(void **state)
{
	static struct hz_gdb_link link;
	int sv[2];
	char cmds[256] = "", pkt[32];

	(void)state;
	setup_toy();
	uint64_t main_at = symbol(image_path(), "hz_main");
	uint64_t bp = main_at + 4;
	vm.mem[main_at + 8] = 0xcc; /* an int3 of the guest's own */
	toy.regs.rip = bp;
	link_open(&link, sv);
	snprintf(pkt, sizeof(pkt), "Z0,%llx,1", (unsigned long long)bp);
	cmds_add(cmds, sizeof(cmds), pkt);
	cmds_add(cmds, sizeof(cmds), "c");
	snprintf(pkt, sizeof(pkt), "s%llx", (unsigned long long)bp);
	cmds_add(cmds, sizeof(cmds), pkt);
	cmds_add(cmds, sizeof(cmds), "k");
	send_cmds(sv[1], cmds);
	int status = -1;
	assert_int_equal(fakevm_run(&vm, run_vm, &status), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(toy.steps, 2);
	assert_int_equal(vm.mem[bp], 0xcc);
	assert_true(toy.regs.rip == bp + 1);
	link_close(sv);
	release_vm();
}

/*
 * gdb -batch against haze-kvm's own --gdb path on the toy vCPU:
 * hz_gdb_listen, hz_gdb_attach (accept), hz_vm_run serving gdb before
 * the first instruction, a breakpoint at hz_main hit, a step, a global
 * printed, and the guest's exit reaching gdb as "exited with code 07".
 */
static void gdb_session_through_the_run_loop(void **state)
{
	static struct hz_gdb_link link;
	int out[2];
	char target[64];
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	(void)state;
	setup_toy();
	int lfd = hz_gdb_listen(0);
	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	snprintf(target, sizeof(target), "target remote 127.0.0.1:%u",
		 ntohs(a.sin_port));
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		execlp("gdb", "gdb", "-q", "-nx", "-batch", "-ex", target,
		       "-ex", "break hz_main", "-ex", "continue", "-ex",
		       "info registers rip", "-ex", "stepi", "-ex",
		       "info registers rip", "-ex", "print debuggee_answer",
		       "-ex", "continue", image_path(), (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	assert_int_equal(hz_gdb_attach(&vm, &link, lfd), 0);
	int status = -1;
	int ended = fakevm_run(&vm, run_vm, &status);
	close(link.fd); /* gdb hears the end even if the stub said nothing */
	int ws;
	const char *text = gdb_transcript(out[0], pid, &ws);
	uint64_t r1 = 0, r2 = 0;
	const char *p = strstr(text, "\nrip ");
	if (p)
		r1 = strtoull(p + 4, NULL, 0);
	p = p ? strstr(p + 1, "\nrip ") : NULL;
	if (p)
		r2 = strtoull(p + 4, NULL, 0);
	if (ended != 7 || !strstr(text, "Breakpoint 1, hz_main (") || !r1 ||
	    r2 != r1 + 1 || !strstr(text, "$1 = 709720648") ||
	    !strstr(text, "exited with code 07]"))
		fail_msg("status %d, rip %llx then %llx (one byte on), "
			 "expected the breakpoint, the global and exit code "
			 "07:\n%s",
			 ended, (unsigned long long)r1, (unsigned long long)r2,
			 text);
	release_vm();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(registers_are_read_and_written),
	    cmocka_unit_test(image_memory_is_read),
	    cmocka_unit_test(addresses_outside_the_guest_are_refused),
	    cmocka_unit_test(breakpoints_save_and_restore_bytes),
	    cmocka_unit_test(bad_packets_are_refused),
	    cmocka_unit_test(gdb_batch_session),
	    cmocka_unit_test(guest_exit_is_reported),
	    cmocka_unit_test(guest_fault_is_a_segv_stop),
	    cmocka_unit_test(kvm_backend_steps_over_breakpoints),
	    cmocka_unit_test(kvm_backend_puts_breakpoints_back),
	    cmocka_unit_test(gdb_session_through_the_run_loop),
	};
	return HARNESS_RUN("tender-gdb", tests);
}
