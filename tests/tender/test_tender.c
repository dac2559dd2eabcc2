/*
 * haze-kvm against a hostile guest, without /dev/kvm: the tender's own
 * code (hypercall dispatch, devices, the ELF loader, user networking,
 * the sandbox) driven in-process through a fake VM (fakevm.h), the way a
 * malicious image would drive it through hypercalls.
 *
 * Each test stands for one way a guest could hurt the host: overrunning
 * the tender's stack through libslirp's descriptors, costing it unbounded
 * work before boot, reaching the host's loopback, widening the sandbox,
 * having a half-checked call take effect, or flooding the console and a
 * capture. pread is wrapped (-Wl,--wrap=pread) to count what the ELF
 * loader reads.
 */
#include "tests/unit/harness.h"

#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/host/notify.h"
#include "platform/host/tap.h"
#include "tests/tender/fakevm.h"

/* --- counting the loader's reads ------------------------------------------ */

ssize_t __real_pread(int fd, void *buf, size_t n, off_t off);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off);

static unsigned long preads;

/* Counts every pread of the tender's code, then does it. */
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t off)
{
	preads++;
	return __real_pread(fd, buf, n, off);
}

/* --- frames a guest sends ------------------------------------------------- */

/* The Internet checksum of @len bytes at @p. */
static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * Writes into @f a UDP/IPv4 frame from the guest (10.0.2.15:@sport) to
 * 10.0.2.2:@dport carrying @payload; returns its length.
 */
static size_t udp_frame(uint8_t *f, uint16_t sport, uint16_t dport,
			const char *payload)
{
	size_t plen = strlen(payload);
	static const uint8_t dst_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
	static const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	uint8_t *ip = f + 14, *udp = ip + 20;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + 8 + plen) >> 8);
	ip[3] = (uint8_t)(20 + 8 + plen);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (const uint8_t[]){10, 0, 2, 15}, 4);
	memcpy(ip + 16, (const uint8_t[]){10, 0, 2, 2}, 4);
	uint16_t c = csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)((8 + plen) >> 8);
	udp[5] = (uint8_t)(8 + plen);
	udp[6] = udp[7] = 0; /* no checksum: allowed over IPv4 */
	memcpy(udp + 8, payload, plen);
	return 14 + 20 + 8 + plen;
}

/* A UDP socket on 127.0.0.1 for guest datagrams; its port in *port. */
static int loopback_udp(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 4 << 20;

	assert_true(fd >= 0);
	/* Room for every flow's datagram: past rmem_max as root. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Datagrams waiting on @fd after @ms of quiet; drains them. */
static unsigned drain(int fd, int ms)
{
	unsigned n = 0;
	char buf[256];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (poll(&p, 1, ms) == 1)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			n++;
	return n;
}

/* Whether @fd has something to read (an eventfd's count, a frame). */
static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* Gives @vm a user NIC (libslirp) as device 0. */
static void add_user_nic(struct hz_vm *vm, bool host_loopback)
{
	struct hz_device *d = &vm->dev[vm->ndev++];

	*d = (struct hz_device){
	    .kind = HZ_DEVICE_KIND_NET, .bound = true, .fd = -1, .pcap_fd = -1};
	memcpy(d->name, "user", 5);
	d->net.backend = HZ_NET_USER;
	d->net.host_loopback = host_loopback;
	d->slirp = hz_slirp_new(vm, d);
	assert_non_null(d->slirp);
}

/* Gives @vm a net device standing for a tap, backed by descriptor @fd. */
static void add_fd_nic(struct hz_vm *vm, int fd)
{
	struct hz_device *d = &vm->dev[vm->ndev++];

	*d = (struct hz_device){
	    .kind = HZ_DEVICE_KIND_NET, .bound = true, .fd = fd, .pcap_fd = -1};
	memcpy(d->name, "tap", 4);
	d->net.backend = HZ_NET_TAP;
}

/* Gives @vm a tap-like NIC on one end of a new socket pair @sp (sp[0]). */
static void add_socket_nic(struct hz_vm *vm, int sp[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp),
			 0);
	add_fd_nic(vm, sp[0]);
}

/* A fresh fake VM in @vm whose one NIC is a new socket pair @sp. */
static void socket_nic_vm(struct hz_vm *vm, int sp[2])
{
	fakevm_init(vm);
	add_socket_nic(vm, sp);
}

/* Sends @n guest UDP flows (one source port each) to 127.0.0.1:@port. */
static void open_flows(struct hz_vm *vm, unsigned n, uint16_t port)
{
	uint8_t f[128];
	for (unsigned i = 0; i < n; i++) {
		size_t len = udp_frame(f, (uint16_t)(20000 + i), port, "flow");
		hz_slirp_input(vm->dev[0].slirp, f, len);
	}
}

/* Raises the descriptor limit so slirp can open @n sockets. */
static void allow_descriptors(rlim_t n)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < n && rl.rlim_max >= n) {
		rl.rlim_cur = n;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

/*
 * The wait behind yield used a 256-entry pollfd array on the stack that
 * slirp filled with one entry per guest flow, then appended taps past
 * its end: 300 flows and a yield overwrote the tender's stack. Now the
 * tap is polled and reported however many flows the guest opens, up to
 * and past the bound.
 */
static void yield_survives_many_slirp_flows(void **state)
{
	static struct hz_vm vm;
	static const unsigned flows[] = {300, HZ_POLL_MAX + 100};
	int p[2];
	uint16_t port;

	(void)state;
	allow_descriptors(HZ_POLL_MAX + 512);
	for (unsigned round = 0; round < 2; round++) {
		fakevm_init(&vm);
		int sink = loopback_udp(&port);
		add_user_nic(&vm, true);
		assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		add_fd_nic(&vm, p[0]);
		open_flows(&vm, flows[round], port);
		/* The flows are real: every datagram reached the host. */
		assert_int_equal(drain(sink, 50), flows[round]);

		assert_int_equal(write(p[1], "x", 1), 1);
		uint64_t ready = hz_devices_wait(&vm, 0, 1u << 1);
		assert_int_equal(ready, 1u << 1);
		/* Nothing ready, nothing reported, after the bound too. */
		char c;
		assert_int_equal(read(p[0], &c, 1), 1);
		assert_int_equal(hz_devices_wait(&vm, 1000000, 1u << 1), 0);
		close(p[0]);
		close(p[1]);
		close(sink);
		fakevm_release(&vm);
	}
}

/*
 * 10.0.2.2 reaches the host's loopback only when asked for: otherwise a
 * guest could reach every service bound to the host's 127.0.0.1.
 */
static void host_loopback_only_when_asked(void **state)
{
	static struct hz_vm vm;
	uint16_t port;

	(void)state;
	for (int asked = 0; asked < 2; asked++) {
		fakevm_init(&vm);
		int sink = loopback_udp(&port);
		add_user_nic(&vm, asked);
		open_flows(&vm, 3, port);
		(void)hz_devices_wait(&vm, 0, 0); /* let slirp run */
		assert_int_equal(drain(sink, 100), asked ? 3 : 0);
		close(sink);
		fakevm_release(&vm);
	}
}

/* --- images that cost the tender before boot ------------------------------ */

/* A memfd of @size bytes (zeros) holding @len bytes of @data first. */
static int image_file(const void *data, size_t len, size_t size)
{
	int fd = memfd_create("image", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(pwrite(fd, data, len, 0), (ssize_t)len);
	return fd;
}

/* An ELF64 x86_64 executable header with @phnum headers after it. */
static Elf64_Ehdr elf_header(unsigned phnum)
{
	Elf64_Ehdr eh = {
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_entry = HZ_KVM_IMAGE_BASE,
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = (uint16_t)phnum,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	return eh;
}

/*
 * Notes were read 12 bytes a pread, and 64 PT_NOTE headers could each
 * cover the whole file: 1.4 million reads for a 256 KiB image. Now all
 * notes together are bounded and each segment is read in one go.
 */
static void notes_cost_a_few_reads(void **state)
{
	static uint8_t img[sizeof(Elf64_Ehdr) + 64 * sizeof(Elf64_Phdr)];
	struct hz_image image;
	const size_t size = 1u << 20;

	(void)state;
	Elf64_Ehdr eh = elf_header(64);
	memcpy(img, &eh, sizeof(eh));
	for (unsigned i = 0; i < 64; i++) {
		Elf64_Phdr ph = {.p_type = PT_NOTE, .p_filesz = size};
		memcpy(img + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
	}
	int fd = image_file(img, sizeof(img), size);
	preads = 0;
	assert_int_equal(hz_image_check(&image, fd, "notes", FAKEVM_MEM), -1);
	assert_true(preads <= 4);

	/* Notes within the bound (empty ones), many segments: one read
	 * each, then the image is refused for having nothing to load. */
	for (unsigned i = 0; i < 64; i++) {
		Elf64_Phdr ph = {.p_type = PT_NOTE,
				 .p_offset = 4096,
				 .p_filesz = HZ_TENDER_NOTES_MAX / 64};
		memcpy(img + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
	}
	assert_int_equal(pwrite(fd, img, sizeof(img), 0), (ssize_t)sizeof(img));
	preads = 0;
	assert_int_equal(hz_image_check(&image, fd, "notes", FAKEVM_MEM), -1);
	assert_true(preads <= 2 + 64);
	close(fd);
}

/* Section headers for the symbol tests: null, .symtab, .strtab. */
struct sym_image {
	Elf64_Ehdr eh;
	Elf64_Shdr sh[3];
	Elf64_Sym syms[3];
	char strtab[16];
};

/*
 * The fault report's symbol lookup read the section headers one by one
 * (up to 65,535) and the symbol table 64 entries a read. Now it takes
 * the headers in one read, the table in one, the name in one, and
 * refuses tables past its bounds; a lookup still names the function.
 */
static void symbols_cost_a_few_reads(void **state)
{
	struct sym_image si = {0};
	struct hz_image image = {0};
	char name[32];
	uint64_t off = 0;

	(void)state;
	si.eh = elf_header(0);
	si.eh.e_shoff = offsetof(struct sym_image, sh);
	si.eh.e_shentsize = sizeof(Elf64_Shdr);
	si.eh.e_shnum = 3;
	si.sh[1] = (Elf64_Shdr){.sh_type = SHT_SYMTAB,
				.sh_offset = offsetof(struct sym_image, syms),
				.sh_size = sizeof(si.syms),
				.sh_link = 2};
	si.sh[2] = (Elf64_Shdr){.sh_type = SHT_STRTAB,
				.sh_offset = offsetof(struct sym_image, strtab),
				.sh_size = sizeof(si.strtab)};
	si.syms[1] = (Elf64_Sym){.st_name = 1,
				 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				 .st_value = 0x100000,
				 .st_size = 0x40};
	si.syms[2] = (Elf64_Sym){.st_name = 7,
				 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
				 .st_value = 0x100040,
				 .st_size = 0x10};
	memcpy(si.strtab, "\0first\0second", 14);
	image.fd = image_file(&si, sizeof(si), sizeof(si));
	image.file_size = sizeof(si);
	preads = 0;
	assert_true(
	    hz_image_symbol(&image, 0x100044, name, sizeof(name), &off));
	assert_string_equal(name, "second");
	assert_int_equal(off, 4);
	assert_true(preads <= 4);

	/* 65,535 section headers and no symbol table among them: refused
	 * in one read, not searched one header a read. */
	const size_t big = 65535 * sizeof(Elf64_Shdr) + 4096;
	si.eh.e_shnum = 65535;
	si.sh[1].sh_type = SHT_PROGBITS;
	close(image.fd);
	image.fd = image_file(&si, sizeof(si), big);
	image.file_size = big;
	preads = 0;
	assert_false(
	    hz_image_symbol(&image, 0x100044, name, sizeof(name), &off));
	assert_true(preads <= 1);

	/* A symbol table larger than the bound: not read at all. */
	si.eh.e_shnum = 3;
	si.sh[1].sh_type = SHT_SYMTAB;
	si.sh[1].sh_size = HZ_TENDER_SYMTAB_MAX + sizeof(Elf64_Sym);
	close(image.fd);
	image.fd = image_file(&si, sizeof(si), big + HZ_TENDER_SYMTAB_MAX);
	image.file_size = big + HZ_TENDER_SYMTAB_MAX;
	preads = 0;
	assert_false(
	    hz_image_symbol(&image, 0x100044, name, sizeof(name), &off));
	assert_true(preads <= 2);
	close(image.fd);
}

/* --- a call has no effect unless all of it is good ------------------------ */

/* Guest addresses of a net write's argument, frame array and frames. */
#define ARG_GPA (FAKEVM_HEAP + 0x0)
#define FRAMES_GPA (FAKEVM_HEAP + 0x1000)
#define BUFS_GPA (FAKEVM_HEAP + 0x10000)

/*
 * Lays out a net write of @n 60-byte frames in @vm's memory for device
 * 0; returns the frame array, for the caller to spoil one entry.
 */
static struct hz_kvm_frame *net_write_args(struct hz_vm *vm, unsigned n)
{
	struct hz_kvm_net_io *io = fakevm_ptr(vm, ARG_GPA);
	struct hz_kvm_frame *fr = fakevm_ptr(vm, FRAMES_GPA);

	*io = (struct hz_kvm_net_io){
	    .handle = 0, .count = n, .frames = FRAMES_GPA};
	for (unsigned i = 0; i < n; i++) {
		fr[i] = (struct hz_kvm_frame){
		    .buf = BUFS_GPA + i * 2048, .cap = 2048, .len = 60};
		memset(fakevm_ptr(vm, fr[i].buf), (int)i, 60);
	}
	return fr;
}

/* How many frames came out of the device's other end. */
static unsigned frames_out(int fd)
{
	return drain(fd, 0);
}

/*
 * A net write with a bad frame at index 3 sent frames 0..2 before the
 * tender noticed, although abi.h promises a malformed call no effect.
 * Now every frame is checked first: a buffer outside guest memory ends
 * the VM, and a frame of a bad length refuses the call, with nothing
 * sent either way.
 */
static void bad_frame_sends_nothing(void **state)
{
	static struct hz_vm vm;
	int sp[2];

	(void)state;
	socket_nic_vm(&vm, sp);
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);

	/* A good call: all five go out. */
	net_write_args(&vm, 5);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(io->ret, 5);
	assert_int_equal(frames_out(sp[1]), 5);

	/* Frame 3 outside guest memory: the VM ends, nothing is sent. */
	net_write_args(&vm, 5)[3].buf = FAKEVM_MEM - 10;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	assert_int_equal(frames_out(sp[1]), 0);

	/* Frame 3 too long, or too short, for Ethernet: refused whole. */
	static const uint64_t bad_len[] = {1515, 13};
	for (unsigned i = 0; i < 2; i++) {
		net_write_args(&vm, 5)[3].len = bad_len[i];
		assert_int_equal(
		    fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
		assert_int_equal(io->ret, -HZ_EMSGSIZE);
		assert_int_equal(frames_out(sp[1]), 0);
	}

	/* A read into a frame in read-only guest memory ends the VM. */
	struct hz_kvm_frame *fr = net_write_args(&vm, 2);
	fr[1].buf = HZ_KVM_IMAGE_BASE;
	assert_int_equal(send(sp[1], "0123456789abcdef", 16, 0), 16);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	/* ...before it took the frame waiting: it is still there. */
	assert_int_equal(frames_out(sp[0]), 1);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/*
 * A yield carrying staged frames sends them before it waits, checked as a
 * NET_WRITE: a refused frame sends none of them and the yield still
 * reports readiness; count 0 sends nothing.
 */
static void yield_sends_staged_frames_first(void **state)
{
	static struct hz_vm vm;
	int sp[2];

	(void)state;
	socket_nic_vm(&vm, sp);
	struct hz_kvm_yield *y = fakevm_ptr(&vm, ARG_GPA);

	/* Three staged frames go, and a frame waiting is reported. */
	net_write_args(&vm, 3);
	assert_int_equal(send(sp[1], "0123456789abcdef0123", 20, 0), 20);
	*y = (struct hz_kvm_yield){.interest = 1,
				   .tx = {.count = 3, .frames = FRAMES_GPA}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->tx.ret, 3);
	assert_int_equal(y->ready, 1);
	assert_int_equal(frames_out(sp[1]), 3);
	assert_int_equal(vm.st.yield_tx, 1);
	assert_int_equal(vm.st.frames_written, 3);

	/* One too short for Ethernet: refused whole, the wait still done. */
	net_write_args(&vm, 3)[1].len = 13;
	*y = (struct hz_kvm_yield){.interest = 1,
				   .tx = {.count = 3, .frames = FRAMES_GPA}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->tx.ret, -HZ_EMSGSIZE);
	assert_int_equal(y->ready, 1);
	assert_int_equal(frames_out(sp[1]), 0);

	/* Nothing staged: nothing sent, tx.ret 0 whatever it held. */
	*y = (struct hz_kvm_yield){.interest = 1, .tx = {.ret = 77}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->tx.ret, 0);
	assert_int_equal(frames_out(sp[1]), 0);
	assert_int_equal(vm.st.yield_tx, 2);

	/* Too many frames: an error value, nothing sent. */
	*y = (struct hz_kvm_yield){
	    .tx = {.count = HZ_KVM_FRAMES_MAX + 1, .frames = FRAMES_GPA}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->tx.ret, -HZ_EINVAL);

	/* A frame outside guest memory ends the VM before anything. */
	net_write_args(&vm, 2)[1].buf = FAKEVM_MEM - 10;
	*y = (struct hz_kvm_yield){.timeout_ns = UINT64_MAX,
				   .tx = {.count = 2, .frames = FRAMES_GPA}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	assert_int_equal(frames_out(sp[1]), 0);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/* --- offloads through the tender --------------------------------------- */

/* Guest address of large frame buffers, past the small ones. */
#define BIG_GPA (FAKEVM_HEAP + 0x100000)

/* Writes at guest @gpa a TCP/IPv4 frame carrying @payload bytes; length. */
static size_t guest_tcp_frame(struct hz_vm *vm, uint64_t gpa, size_t payload)
{
	uint8_t *f = fakevm_ptr(vm, gpa);
	size_t len = 14 + 20 + 20 + payload;

	memset(f, 0, len);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[14 + 8] = 64;
	f[14 + 9] = 6;
	f[14 + 20 + 12] = 5 << 4;
	for (size_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 7);
	return len;
}

/*
 * Sets up @vm with one NIC on socket pair @sp (add_socket_nic) offering
 * both offloads, as a tap the tender opened does.
 */
static void offload_vm(struct hz_vm *vm, int sp[2])
{
	fakevm_init(vm);
	add_socket_nic(vm, sp);
	vm->dev[0].gso_max = HZ_TAP_GSO_MAX;
	vm->dev[0].rx_max = HZ_TAP_RX_MAX;
	vm->dev[0].rx_offload = true;
}

/* The kernel's side of the tap sends @f behind header @h. */
static void tap_delivers(int fd, const struct virtio_net_hdr *h,
			 const uint8_t *f, size_t len)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)f, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	assert_int_equal(sendmsg(fd, &m, 0), (ssize_t)(sizeof(*h) + len));
}

/* The kernel's side of the tap sends string @s as a plain frame. */
static void kernel_sends(int fd, const char *s)
{
	struct virtio_net_hdr plain = {0};

	tap_delivers(fd, &plain, (const uint8_t *)s, strlen(s));
}

/* Guest address of a yield's receive frame array, apart from the tx one. */
#define RX_FRAMES_GPA (FAKEVM_HEAP + 0x2000)
#define RX_BUFS_GPA (FAKEVM_HEAP + 0x30000)

/* Posts @n receive buffers of @cap bytes at RX_FRAMES_GPA; the array. */
static struct hz_kvm_frame *rx_post(struct hz_vm *vm, unsigned n, uint64_t cap)
{
	struct hz_kvm_frame *fr = fakevm_ptr(vm, RX_FRAMES_GPA);

	for (unsigned i = 0; i < n; i++)
		fr[i] = (struct hz_kvm_frame){.buf = RX_BUFS_GPA + i * 2048,
					      .cap = cap};
	return fr;
}

/*
 * A yield posting receive buffers gets back the frames that ended its
 * wait, read as a NET_READ would; fewer than posted says the queue is
 * empty. Nothing ready, nothing read; a malformed rx ends the VM before
 * the staged frames go or the wait begins.
 */
static void yield_receives_into_posted_buffers(void **state)
{
	static struct hz_vm vm;
	int sp[2];

	(void)state;
	socket_nic_vm(&vm, sp);
	struct hz_kvm_yield *y = fakevm_ptr(&vm, ARG_GPA);
	const struct hz_kvm_net_io rx4 = {
	    .handle = 0, .count = 4, .frames = RX_FRAMES_GPA};

	/* Two frames wait: both come back with the yield, in order. */
	kernel_sends(sp[1], "first frame, 20 byte");
	kernel_sends(sp[1], "second frame of 24 bytes");
	struct hz_kvm_frame *fr = rx_post(&vm, 4, 2048);
	*y = (struct hz_kvm_yield){.interest = 1, .rx = rx4};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->ready, 1);
	assert_int_equal(y->rx.ret, 2);
	assert_int_equal(fr[0].len, 20);
	assert_int_equal(fr[1].len, 24);
	assert_memory_equal(fakevm_ptr(&vm, RX_BUFS_GPA), "first frame", 11);
	assert_memory_equal(fakevm_ptr(&vm, RX_BUFS_GPA + 2048), "second", 6);
	assert_int_equal(vm.st.yield_rx, 1);
	assert_int_equal(vm.st.frames_read, 2);

	/* Nothing waits: a poll, nothing read, rx.ret 0 whatever it held. */
	rx_post(&vm, 4, 2048);
	*y = (struct hz_kvm_yield){.interest = 1, .rx = rx4};
	y->rx.ret = 77;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->ready, 0);
	assert_int_equal(y->rx.ret, 0);
	assert_int_equal(vm.st.yield_rx, 1);

	/* A frame waits on a device the yield did not ask about: kept. */
	kernel_sends(sp[1], "0123456789abcdef");
	*y = (struct hz_kvm_yield){.interest = 0, .rx = rx4};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->rx.ret, 0);
	assert_int_equal(frames_out(sp[0]), 1);

	/* Staged frames and posted buffers in one yield: both done. */
	net_write_args(&vm, 2);
	rx_post(&vm, 4, 2048);
	kernel_sends(sp[1], "0123456789abcdef");
	*y = (struct hz_kvm_yield){
	    .interest = 1, .tx = {.count = 2, .frames = FRAMES_GPA}, .rx = rx4};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->tx.ret, 2);
	assert_int_equal(y->rx.ret, 1);
	assert_int_equal(frames_out(sp[1]), 2);

	/* An unknown device, or too many buffers: an error value. */
	*y = (struct hz_kvm_yield){.interest = 1, .rx = rx4};
	y->rx.handle = 9;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->rx.ret, -HZ_EINVAL);
	*y = (struct hz_kvm_yield){.interest = 1, .rx = rx4};
	y->rx.count = HZ_KVM_FRAMES_MAX + 1;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA), -1);
	assert_int_equal(y->rx.ret, -HZ_EINVAL);

	/* A buffer in read-only memory ends the VM before anything: the
	 * staged frames stay unsent and the waiting frame unread, even
	 * with a wait of forever. */
	net_write_args(&vm, 2);
	rx_post(&vm, 4, 2048)[2].buf = HZ_KVM_IMAGE_BASE;
	kernel_sends(sp[1], "0123456789abcdef");
	*y = (struct hz_kvm_yield){.timeout_ns = UINT64_MAX,
				   .interest = 1,
				   .tx = {.count = 2, .frames = FRAMES_GPA},
				   .rx = rx4};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	assert_int_equal(frames_out(sp[1]), 0);
	assert_int_equal(frames_out(sp[0]), 1);

	/* The array past the end of memory: the same. */
	*y = (struct hz_kvm_yield){
	    .timeout_ns = UINT64_MAX,
	    .interest = 1,
	    .rx = {.count = 2, .frames = FAKEVM_MEM - 16}};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/* --- net rings (ABI 8) -------------------------------------------------- */

/* Guest addresses of a fake VM's rings, their frames and buffers. */
#define RING_TX_GPA (FAKEVM_HEAP + 0x4000)
#define RING_RX_GPA (FAKEVM_HEAP + 0x6000)
#define RING_BUFS_GPA (FAKEVM_HEAP + 0x40000)
#define RING_N 8u

/* The fake VM's ring at @gpa. */
static struct hz_kvm_ring *ring_at(struct hz_vm *vm, uint64_t gpa)
{
	return fakevm_ptr(vm, gpa);
}

/* Asks for rings of @entries at @tx and @rx on NIC 0; the call's ret. */
static int64_t rings_call(struct hz_vm *vm, uint32_t entries, uint64_t tx,
			  uint64_t rx, int *status)
{
	struct hz_kvm_net_rings *a = fakevm_ptr(vm, ARG_GPA);

	*a = (struct hz_kvm_net_rings){
	    .handle = 0, .entries = entries, .tx = tx, .rx = rx, .ret = 77};
	*status = fakevm_call(vm, HZ_KVM_CALL_NET_RINGS, ARG_GPA);
	return a->ret;
}

/* A fake VM whose NIC 0 (socket pair @sp) has rings of RING_N. */
static void ring_vm(struct hz_vm *vm, int sp[2])
{
	int status;

	socket_nic_vm(vm, sp);
	vm->rings = true;
	vm->kick_fd = eventfd(0, EFD_NONBLOCK);
	vm->wake_fd = eventfd(0, EFD_NONBLOCK);
	assert_true(vm->kick_fd >= 0 && vm->wake_fd >= 0);
	memset(fakevm_ptr(vm, RING_TX_GPA), 0, 0x4000);
	assert_int_equal(
	    rings_call(vm, RING_N, RING_TX_GPA, RING_RX_GPA, &status), 0);
	assert_int_equal(status, -1);
	/* Setting up woke the I/O thread to take the NIC in. */
	assert_true(readable(vm->kick_fd));
}

/* Closes what ring_vm opened. */
static void ring_vm_release(struct hz_vm *vm, int sp[2])
{
	close(vm->kick_fd);
	close(vm->wake_fd);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(vm);
}

/* Posts tx frame @i (@len bytes of @i at RING_BUFS_GPA + i * 4096). */
static void ring_tx_post(struct hz_vm *vm, uint32_t i, uint64_t len)
{
	struct hz_kvm_ring *tx = ring_at(vm, RING_TX_GPA);
	uint64_t buf = RING_BUFS_GPA + (uint64_t)(i % RING_N) * 4096;

	memset(fakevm_ptr(vm, buf), (int)(i & 0xff), len);
	tx->desc[i % RING_N] = (struct hz_kvm_frame){.buf = buf, .len = len};
	tx->posted = i + 1;
}

/* Posts rx buffers up to descriptor @upto (2048 bytes each). */
static void ring_rx_post(struct hz_vm *vm, uint32_t from, uint32_t upto)
{
	struct hz_kvm_ring *rx = ring_at(vm, RING_RX_GPA);

	for (uint32_t i = from; i < upto; i++)
		rx->desc[i % RING_N] = (struct hz_kvm_frame){
		    .buf = RING_BUFS_GPA + 0x10000 + (i % RING_N) * 2048,
		    .cap = 2048};
	rx->posted = upto;
}

/*
 * NET_RINGS checks what it is given: an error value for what a guest
 * may get wrong, the end of the VM for rings it cannot own.
 */
static void rings_setup_is_checked(void **state)
{
	static struct hz_vm vm;
	int sp[2], status;

	(void)state;
	socket_nic_vm(&vm, sp);
	vm.kick_fd = eventfd(0, EFD_NONBLOCK);
	vm.wake_fd = eventfd(0, EFD_NONBLOCK);
	/* Not served (--no-net-rings, or no tap): ENOTSUP. */
	assert_int_equal(rings_call(&vm, 8, RING_TX_GPA, RING_RX_GPA, &status),
			 -HZ_ENOTSUP);
	vm.rings = true;
	/* Entry counts that are no power of two, or too many: EINVAL. */
	static const uint32_t bad_n[] = {0, 3, HZ_KVM_RING_MAX * 2};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rings_call(&vm, bad_n[i], RING_TX_GPA,
					    RING_RX_GPA, &status),
				 -HZ_EINVAL);
	struct hz_kvm_net_rings *a = fakevm_ptr(&vm, ARG_GPA);
	*a = (struct hz_kvm_net_rings){
	    .handle = 5, .entries = 8, .tx = RING_TX_GPA, .rx = RING_RX_GPA};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_RINGS, ARG_GPA), -1);
	assert_int_equal(a->ret, -HZ_EINVAL);
	/* More posted than the ring holds: EINVAL. */
	ring_at(&vm, RING_RX_GPA)->posted = 9;
	assert_int_equal(rings_call(&vm, 8, RING_TX_GPA, RING_RX_GPA, &status),
			 -HZ_EINVAL);
	ring_at(&vm, RING_RX_GPA)->posted = 0;
	/* Rings it cannot own end the VM: misaligned, overlapping, in
	 * read-only memory, past the end of memory. */
	static const uint64_t bad[][2] = {
	    {RING_TX_GPA + 8, RING_RX_GPA},   {RING_TX_GPA, RING_TX_GPA + 64},
	    {RING_TX_GPA + 256, RING_TX_GPA}, {HZ_KVM_IMAGE_BASE, RING_RX_GPA},
	    {RING_TX_GPA, FAKEVM_MEM - 64},   {RING_TX_GPA, UINT64_MAX - 63},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ret = rings_call(&vm, 8, bad[i][0], bad[i][1], &status);
		assert_int_equal(status, HZ_KVM_EXIT_BADCALL);
		assert_int_equal(ret, 77); /* nothing written back */
		assert_false(vm.dev[0].ring.active);
	}
	/* A good one; then a second is EEXIST. */
	assert_int_equal(rings_call(&vm, 8, RING_TX_GPA, RING_RX_GPA, &status),
			 0);
	assert_true(vm.dev[0].ring.active);
	assert_int_equal(rings_call(&vm, 8, RING_TX_GPA + 0x8000,
				    RING_RX_GPA + 0x8000, &status),
			 -HZ_EEXIST);
	/* The NIC is the rings' alone: a NET_WRITE is refused. */
	net_write_args(&vm, 1);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(
	    ((struct hz_kvm_net_io *)fakevm_ptr(&vm, ARG_GPA))->ret,
	    -HZ_EINVAL);
	assert_int_equal(frames_out(sp[1]), 0);
	/* A user NIC has no rings. */
	static struct hz_vm user;
	fakevm_init(&user);
	add_user_nic(&user, false);
	user.rings = true;
	assert_int_equal(
	    rings_call(&user, 8, RING_TX_GPA, RING_RX_GPA, &status),
	    -HZ_ENOTSUP);
	fakevm_release(&user);
	ring_vm_release(&vm, sp);
}

/*
 * Frames posted on the tx ring go out in order, one the device cannot
 * send is skipped and counted; buffers posted on the rx ring are filled
 * with what the tap has, lengths written back, and a yield waiting on
 * the NIC is woken through wake_fd.
 */
static void rings_move_frames(void **state)
{
	static struct hz_vm vm;
	int sp[2];
	uint8_t got[2048];

	(void)state;
	ring_vm(&vm, sp);
	struct hz_kvm_ring *tx = ring_at(&vm, RING_TX_GPA);
	struct hz_kvm_ring *rx = ring_at(&vm, RING_RX_GPA);

	/* tx: three frames, the middle one too long for Ethernet. */
	ring_tx_post(&vm, 0, 60);
	ring_tx_post(&vm, 1, 1515);
	ring_tx_post(&vm, 2, 100);
	assert_int_equal(hz_ring_tx(&vm, &vm.dev[0]), 3);
	assert_int_equal(tx->done, 3);
	assert_int_equal(vm.dev[0].ring.tx_frames, 2);
	assert_int_equal(vm.dev[0].ring.tx_refused, 1);
	assert_int_equal(recv(sp[1], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(struct virtio_net_hdr) + 60);
	assert_int_equal(got[sizeof(struct virtio_net_hdr)], 0);
	assert_int_equal(recv(sp[1], got, sizeof(got), MSG_DONTWAIT),
			 sizeof(struct virtio_net_hdr) + 100);
	assert_int_equal(got[sizeof(struct virtio_net_hdr)], 2);
	assert_int_equal(frames_out(sp[1]), 0);
	/* Nothing new: nothing moves, however `done` was scribbled on. */
	tx->done = 0;
	assert_int_equal(hz_ring_tx(&vm, &vm.dev[0]), 0);
	assert_int_equal(frames_out(sp[1]), 0);

	/* rx: four buffers, two frames waiting, a yield waiting. */
	ring_rx_post(&vm, 0, 4);
	kernel_sends(sp[1], "first frame, 20 byte");
	kernel_sends(sp[1], "second frame of 24 bytes");
	rx->guest_wait = 1;
	assert_false(readable(vm.wake_fd));
	assert_int_equal(hz_ring_rx(&vm, &vm.dev[0]), 2);
	assert_int_equal(rx->done, 2);
	assert_int_equal(rx->desc[0].len, 20);
	assert_int_equal(rx->desc[1].len, 24);
	assert_memory_equal(fakevm_ptr(&vm, rx->desc[1].buf), "second", 6);
	assert_true(readable(vm.wake_fd));
	/* The yield sees the NIC ready through wake_fd. */
	kernel_sends(sp[1], "0123456789abcdef");
	assert_int_equal(hz_devices_wait(&vm, 0, 1), 1);
	assert_false(readable(vm.wake_fd));
	/* A wake for frames the guest has seen ends no wait: dropped. */
	rx->guest_seen = 2;
	uint64_t one = 1;
	assert_int_equal(write(vm.wake_fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(hz_devices_wait(&vm, 1000000, 1), 0);
	assert_false(readable(vm.wake_fd));
	/* done past what it saw: the wait is a poll, ready at once. */
	rx->guest_seen = 1;
	assert_int_equal(hz_devices_wait(&vm, UINT64_MAX, 1), 1);
	/* Two buffers left: the third frame fills one. */
	rx->guest_wait = 0;
	assert_int_equal(hz_ring_rx(&vm, &vm.dev[0]), 1);
	assert_int_equal(rx->desc[2].len, 16);
	assert_false(readable(vm.wake_fd)); /* nobody waited */
	/* No frame waiting: nothing, and the last buffer stays posted. */
	assert_int_equal(hz_ring_rx(&vm, &vm.dev[0]), 0);
	assert_int_equal(rx->done, 3);
	ring_vm_release(&vm, sp);
}

/*
 * The I/O thread sleeps only when nothing is posted, and then asks to be
 * kicked: on tx always, on rx only without a buffer to fill. NET_KICK
 * wakes it.
 */
static void rings_sleep_and_kick(void **state)
{
	static struct hz_vm vm;
	int sp[2];

	(void)state;
	ring_vm(&vm, sp);
	struct hz_kvm_ring *tx = ring_at(&vm, RING_TX_GPA);
	struct hz_kvm_ring *rx = ring_at(&vm, RING_RX_GPA);
	uint64_t v;

	assert_int_equal(read(vm.kick_fd, &v, sizeof(v)), sizeof(v));
	assert_true(hz_rings_may_sleep(&vm));
	assert_int_equal(tx->tender_wait, 1);
	assert_int_equal(rx->tender_wait, 1); /* no buffers posted */
	ring_rx_post(&vm, 0, 2);
	assert_true(hz_rings_may_sleep(&vm));
	assert_int_equal(rx->tender_wait, 0); /* the tap is polled */
	/* A frame posted before the flag was seen: no sleep, no flags. */
	ring_tx_post(&vm, 0, 60);
	assert_false(hz_rings_may_sleep(&vm));
	assert_int_equal(tx->tender_wait, 0);
	/* The guest's kick reaches the thread's eventfd. */
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_KICK, ARG_GPA), -1);
	assert_true(readable(vm.kick_fd));
	ring_vm_release(&vm, sp);
}

/* What a hostile ring test runs: one pass of the I/O thread. */
static void ring_pass(struct hz_vm *vm, void *arg)
{
	(void)arg;
	hz_ring_tx(vm, &vm->dev[0]);
	hz_ring_rx(vm, &vm->dev[0]);
}

/* Changes the tx ring's descriptors under the tender, until told. */
struct flipper {
	struct hz_kvm_frame *desc;
	volatile bool stop;
};

static void *flip(void *arg)
{
	struct flipper *f = arg;
	static const uint64_t bufs[] = {RING_BUFS_GPA, FAKEVM_MEM - 8,
					UINT64_MAX - 4};
	static const uint64_t lens[] = {60, 1 << 20, UINT64_MAX, 14};

	for (unsigned i = 0; !f->stop; i++) {
		struct hz_kvm_frame *d = &f->desc[i % RING_N];
		__atomic_store_n(&d->buf, bufs[i % 3], __ATOMIC_RELAXED);
		__atomic_store_n(&d->len, lens[i % 4], __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * A hostile guest's rings: posted far ahead of done, or backwards;
 * buffers outside (writable) guest memory; a descriptor changed while
 * the tender reads it. Each ends the VM or is a frame like any other;
 * the tender never touches memory outside the guest's (the fake VM's
 * guard page and ASan would say) and survives every one.
 */
static void rings_refuse_a_hostile_guest(void **state)
{
	static struct hz_vm vm;
	int sp[2];

	(void)state;
	ring_vm(&vm, sp);
	struct hz_kvm_ring *tx = ring_at(&vm, RING_TX_GPA);
	struct hz_kvm_ring *rx = ring_at(&vm, RING_RX_GPA);

	/* posted more than the entries ahead, or behind (it wraps). */
	static const uint32_t posted[] = {RING_N + 1, UINT32_MAX, 1u << 31};
	for (unsigned i = 0; i < 3; i++) {
		tx->posted = posted[i];
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL),
				 HZ_KVM_EXIT_BADCALL);
		assert_int_equal(frames_out(sp[1]), 0);
		tx->posted = 0;
		rx->posted = posted[i];
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL),
				 HZ_KVM_EXIT_BADCALL);
		rx->posted = 0;
	}
	/* A full ring is fine: RING_N frames go. */
	for (uint32_t i = 0; i < RING_N; i++)
		ring_tx_post(&vm, i, 60);
	assert_int_equal(fakevm_run(&vm, ring_pass, NULL), -1);
	assert_int_equal(frames_out(sp[1]), RING_N);
	/* tx frames outside memory end the VM; those before went. */
	static const uint64_t tx_bad[][2] = {
	    {FAKEVM_MEM - 8, 60}, {RING_BUFS_GPA, UINT64_MAX}, {UINT64_MAX, 2}};
	for (unsigned i = 0; i < 3; i++) {
		uint32_t at = tx->posted;
		ring_tx_post(&vm, at, 60);
		ring_tx_post(&vm, at + 1, 60);
		tx->desc[(at + 1) % RING_N].buf = tx_bad[i][0];
		tx->desc[(at + 1) % RING_N].len = tx_bad[i][1];
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL),
				 HZ_KVM_EXIT_BADCALL);
		assert_int_equal(frames_out(sp[1]), 1);
		/* The tender's own done stayed at the bad descriptor. */
		assert_int_equal(vm.dev[0].ring.tx_done, at + 1);
		tx->desc[(at + 1) % RING_N].buf = RING_BUFS_GPA;
		tx->desc[(at + 1) % RING_N].len = 60;
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL), -1);
		assert_int_equal(frames_out(sp[1]), 1);
	}
	/* rx buffers in read-only memory, the page tables, or past the
	 * end: the VM ends before a frame is taken off the tap. */
	static const uint64_t rx_bad[] = {HZ_KVM_IMAGE_BASE, HZ_KVM_PAGE_TABLES,
					  FAKEVM_MEM - 100, HZ_KVM_BOOT_INFO};
	for (unsigned i = 0; i < 4; i++) {
		uint32_t at = rx->posted;
		ring_rx_post(&vm, at, at + 1);
		rx->desc[at % RING_N].buf = rx_bad[i];
		kernel_sends(sp[1], "a frame for a bad buffer");
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL),
				 HZ_KVM_EXIT_BADCALL);
		assert_true(readable(sp[0])); /* the frame still waits */
		rx->desc[at % RING_N].buf = RING_BUFS_GPA + 0x10000;
		assert_int_equal(fakevm_run(&vm, ring_pass, NULL), -1);
		assert_int_equal(vm.dev[0].ring.rx_done, at + 1);
	}
	/* A descriptor changed while the tender reads it, thousands of
	 * times: each pass sends a frame it checked or ends the VM. */
	struct flipper fl = {.desc = tx->desc};
	pthread_t t;
	unsigned ended = 0, sent = 0;
	/* The tender's thousands of messages go nowhere meanwhile. */
	int err = dup(2), null = open("/dev/null", O_WRONLY);
	assert_true(err >= 0 && null >= 0 && dup2(null, 2) == 2);
	assert_int_equal(pthread_create(&t, NULL, flip, &fl), 0);
	for (unsigned i = 0; i < 20000; i++) {
		tx->posted = vm.dev[0].ring.tx_done + 1;
		int st = fakevm_run(&vm, ring_pass, NULL);
		if (st == HZ_KVM_EXIT_BADCALL) {
			ended++;
			vm.dev[0].ring.tx_done = tx->posted; /* skip it */
		} else {
			assert_int_equal(st, -1);
		}
		sent += frames_out(sp[1]);
	}
	fl.stop = true;
	pthread_join(t, NULL);
	dup2(err, 2);
	close(err);
	close(null);
	assert_true(ended > 0 && sent > 0);
	print_message("# %u passes ended the VM, %u frames sent, %llu "
		      "refused\n",
		      ended, sent,
		      (unsigned long long)vm.dev[0].ring.tx_refused);
	ring_vm_release(&vm, sp);
}

/*
 * A frame the guest asks to have segmented reaches the tap with the
 * virtio-net header that has the kernel cut it; a batch with one frame
 * the tap would refuse (not TCP, a gso_size on a device without
 * segmentation, too long, flags set) sends nothing at all.
 */
static void segmentation_passes_through(void **state)
{
	static struct hz_vm vm;
	static uint8_t got[HZ_TAP_RX_MAX];
	struct virtio_net_hdr h;
	int sp[2];

	(void)state;
	offload_vm(&vm, sp);
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);

	/* 3000 bytes of TCP in segments of 1000, then an ordinary frame. */
	struct hz_kvm_frame *fr = net_write_args(&vm, 2);
	fr[0].buf = BIG_GPA;
	fr[0].len = guest_tcp_frame(&vm, BIG_GPA, 3000);
	fr[0].gso_size = 1000;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(io->ret, 2);
	struct iovec iov[2] = {{&h, sizeof(h)}, {got, sizeof(got)}};
	assert_int_equal(readv(sp[1], iov, 2), (ssize_t)(sizeof(h) + 3054));
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1000);
	assert_int_equal(h.hdr_len, 54);
	assert_memory_equal(got, fakevm_ptr(&vm, BIG_GPA), 3054);
	assert_int_equal(readv(sp[1], iov, 2), (ssize_t)(sizeof(h) + 60));
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);

	/* Each bad frame, second in a batch of three: nothing goes out. */
	for (unsigned bad = 0; bad < 4; bad++) {
		fr = net_write_args(&vm, 3);
		fr[1].buf = BIG_GPA;
		fr[1].len = guest_tcp_frame(&vm, BIG_GPA, 3000);
		fr[1].gso_size = 1000;
		int want = -HZ_EINVAL;
		if (bad == 0) /* UDP: nothing the kernel segments */
			((uint8_t *)fakevm_ptr(&vm, BIG_GPA))[14 + 9] = 17;
		else if (bad == 1) /* the frame fits in one segment */
			fr[1].gso_size = 4000;
		else if (bad == 2) /* flags are the tender's to set */
			fr[1].flags = HZ_KVM_FRAME_CSUM_OK;
		else { /* past the device's largest */
			fr[1].len = 14 + HZ_TAP_GSO_MAX + 1;
			want = -HZ_EMSGSIZE;
		}
		assert_int_equal(
		    fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
		assert_int_equal(io->ret, want);
		assert_int_equal(frames_out(sp[1]), 0);
	}

	/* A device without segmentation (a user NIC's) refuses gso_size. */
	vm.dev[0].gso_max = 0;
	fr = net_write_args(&vm, 1);
	fr[0].buf = BIG_GPA;
	fr[0].len = guest_tcp_frame(&vm, BIG_GPA, 3000);
	fr[0].gso_size = 1000;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(io->ret, -HZ_EINVAL);
	assert_int_equal(frames_out(sp[1]), 0);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/*
 * A tap with receive offload hands the guest a coalesced frame whole,
 * with CSUM_OK where the kernel vouches for it; a frame whose header
 * lies is dropped and counted by reason, one too large for the guest's
 * buffer too, and the read goes on to the next. A tap without receive
 * offload (one passed down) takes no coalesced frame.
 */
static void coalesced_frames_reach_the_guest(void **state)
{
	static struct hz_vm vm;
	static uint8_t f[HZ_TAP_RX_MAX];
	int sp[2];

	(void)state;
	offload_vm(&vm, sp);
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);
	size_t len = guest_tcp_frame(&vm, BIG_GPA, 60000);
	memcpy(f, fakevm_ptr(&vm, BIG_GPA), len);
	struct virtio_net_hdr gso = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
	    .hdr_len = 54,
	    .gso_size = 1448,
	    .csum_start = 34,
	    .csum_offset = 16,
	};
	struct virtio_net_hdr lie = gso, plain = {0};
	lie.gso_type = VIRTIO_NET_HDR_GSO_UDP;

	/* Lying header, the coalesced frame, a plain frame to verify. */
	tap_delivers(sp[1], &lie, f, len);
	tap_delivers(sp[1], &gso, f, len);
	tap_delivers(sp[1], &plain, f, 100);
	struct hz_kvm_frame *fr = net_write_args(&vm, 2);
	for (unsigned i = 0; i < 2; i++) {
		fr[i].buf = BIG_GPA + 0x10000 + i * HZ_TAP_RX_MAX;
		fr[i].cap = HZ_TAP_RX_MAX;
		fr[i].flags = 0xff; /* the tender's to set */
	}
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, 2);
	assert_int_equal(fr[0].len, len);
	assert_int_equal(fr[0].flags, HZ_KVM_FRAME_CSUM_OK);
	assert_memory_equal(fakevm_ptr(&vm, fr[0].buf), f, len);
	assert_int_equal(fr[1].len, 100);
	assert_int_equal(fr[1].flags, 0);
	assert_int_equal(vm.dev[0].rx_refused[HZ_TAP_RX_GSO_TYPE], 1);

	/* Too large for a 2048-byte buffer: dropped, counted, read on. */
	tap_delivers(sp[1], &gso, f, len);
	tap_delivers(sp[1], &plain, f, 100);
	fr = net_write_args(&vm, 1);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, 1);
	assert_int_equal(fr[0].len, 100);
	assert_int_equal(vm.dev[0].rx_oversize, 1);

	/* Without receive offload a coalesced frame is too large. */
	vm.dev[0].rx_offload = false;
	tap_delivers(sp[1], &gso, f, len);
	fr = net_write_args(&vm, 1);
	fr[0].buf = BIG_GPA + 0x10000;
	fr[0].cap = HZ_TAP_RX_MAX;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, -HZ_EAGAIN);
	assert_int_equal(vm.dev[0].rx_oversize, 2);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/*
 * A read's frames land in guest memory one after another; one that lands
 * on the frame array itself must not change what the tender checked. Here
 * frame 0 is received into the array, its bytes rewriting frame 1's cap
 * from 16 to 4096: frame 1 (1500 bytes) is still held to the 16 bytes
 * that were checked, so it is dropped and counted, and nothing past
 * those 16 bytes is written.
 */
static void frames_landing_on_the_array_change_nothing_checked(void **state)
{
	static struct hz_vm vm;
	uint8_t f[1500];
	struct virtio_net_hdr plain = {0};
	const uint64_t small = BUFS_GPA + 0x8000;
	int sp[2];

	(void)state;
	socket_nic_vm(&vm, sp);
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);
	struct hz_kvm_frame *fr = net_write_args(&vm, 2);
	fr[0].buf = FRAMES_GPA;
	fr[0].cap = 64;
	fr[1].buf = small;
	fr[1].cap = 16;
	memset(fakevm_ptr(&vm, small), 0x5a, 4096);

	/* Frame 0: 64 bytes, those at offset 32 + 8 becoming fr[1].cap. */
	uint64_t lie = 4096;
	memset(f, 0x41, sizeof(f));
	memcpy(f + sizeof(struct hz_kvm_frame) +
		   offsetof(struct hz_kvm_frame, cap),
	       &lie, sizeof(lie));
	tap_delivers(sp[1], &plain, f, 64);
	tap_delivers(sp[1], &plain, f, sizeof(f));
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, 1);
	assert_int_equal(fr[0].len, 64);
	assert_int_equal(vm.dev[0].rx_oversize, 1);
	const uint8_t *b = fakevm_ptr(&vm, small);
	for (unsigned i = 16; i < 4096; i++)
		assert_int_equal(b[i], 0x5a);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/*
 * --trace counts hypercalls by kind and the frames each net call moved,
 * and prints them with frames per VM exit (the run loop counts exits;
 * here they are set as it would have).
 */
static void trace_counts_calls_and_frames(void **state)
{
	static struct hz_vm vm;
	int err = memfd_create("stderr", MFD_CLOEXEC);
	int saved_err = dup(2);
	char line[512] = {0};
	int sp[2];

	(void)state;
	fakevm_init(&vm);
	vm.trace = true;
	add_socket_nic(&vm, sp);
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);

	/* Two writes of 5 and 3 frames, a read of 4 that finds 2. */
	net_write_args(&vm, 5);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	net_write_args(&vm, 3);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(frames_out(sp[1]), 8);
	/* Two frames for the read, each behind a tap's virtio-net header. */
	uint8_t frame[10 + 60] = {0};
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(send(sp[1], frame, sizeof(frame), 0),
				 (ssize_t)sizeof(frame));
	net_write_args(&vm, 4);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, 2);
	/* A refused write moves nothing and counts as a call. */
	net_write_args(&vm, 2)[1].len = 13;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_WRITE, ARG_GPA), -1);
	assert_int_equal(io->ret, -HZ_EMSGSIZE);

	assert_int_equal(vm.st.calls[HZ_KVM_CALL_NET_WRITE], 3);
	assert_int_equal(vm.st.calls[HZ_KVM_CALL_NET_READ], 1);
	assert_int_equal(vm.st.frames_written, 8);
	assert_int_equal(vm.st.frames_read, 2);
	vm.st.exits = 4;
	assert_int_equal(dup2(err, 2), 2);
	hz_vm_trace_counts(&vm);
	dup2(saved_err, 2);
	close(saved_err);
	assert_true(pread(err, line, sizeof(line) - 1, 0) > 0);
	print_message("# %s", line);
	assert_non_null(strstr(line, "trace: exits=4 "));
	assert_non_null(strstr(line, " net_read=1 frames_read=2 "));
	assert_non_null(strstr(line, " net_write=3 frames_written=8 "));
	assert_non_null(strstr(line, " frames_per_exit=2.50\n"));
	close(err);
	close(sp[0]);
	close(sp[1]);
	fakevm_release(&vm);
}

/* Other malformed calls end the VM with the bad-call status too. */
static void malformed_calls_end_the_vm(void **state)
{
	static struct hz_vm vm;

	(void)state;
	fakevm_init(&vm);
	struct hz_kvm_console *con = fakevm_ptr(&vm, ARG_GPA);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_COUNT_, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA + 4),
			 HZ_KVM_EXIT_BADCALL);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, FAKEVM_MEM),
			 HZ_KVM_EXIT_BADCALL);
	*con = (struct hz_kvm_console){.data = FAKEVM_MEM - 4, .len = 8};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	*con = (struct hz_kvm_console){.data = 8, .len = UINT64_MAX};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	/* Results written back into read-only memory: refused. */
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_YIELD, HZ_KVM_IMAGE_BASE),
			 HZ_KVM_EXIT_BADCALL);
	/* A net call on a device that is not there is an error value. */
	struct hz_kvm_net_io *io = fakevm_ptr(&vm, ARG_GPA);
	*io = (struct hz_kvm_net_io){.handle = 7, .count = 1};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_NET_READ, ARG_GPA), -1);
	assert_int_equal(io->ret, -HZ_EINVAL);
	/* The guest's exit status passes through, clamped. */
	struct hz_kvm_exit *ex = fakevm_ptr(&vm, ARG_GPA);
	ex->status = 7;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_EXIT, ARG_GPA), 7);
	ex->status = -1;
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_EXIT, ARG_GPA),
			 HZ_KVM_EXIT_GUEST_MAX);
	fakevm_release(&vm);
}

/*
 * The page tables are mapped for the guest's CPL 0 (its guard pages edit
 * them), read-write: the tender must still never write into them, or into
 * the read-only boot page, for the guest. Heap and stack stay writable.
 */
static void page_tables_are_never_written_for_the_guest(void **state)
{
	static struct hz_vm vm;

	(void)state;
	fakevm_init(&vm);
	for (uint64_t gpa = HZ_KVM_BOOT_PAGE; gpa < HZ_KVM_STACK_BOTTOM;
	     gpa += 4096)
		if (hz_guest_ptr_writable(&vm, gpa, 8) != NULL)
			fail_msg("guest page 0x%llx is writable for the tender",
				 (unsigned long long)gpa);
	assert_non_null(hz_guest_ptr_writable(&vm, HZ_KVM_STACK_BOTTOM, 8));
	assert_non_null(hz_guest_ptr_writable(&vm, FAKEVM_HEAP, 8));
	/* An entropy call into the page tables ends the VM. */
	struct hz_kvm_entropy *e = fakevm_ptr(&vm, ARG_GPA);
	*e = (struct hz_kvm_entropy){.buf = HZ_KVM_PAGE_TABLES, .len = 16};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_ENTROPY, ARG_GPA),
			 HZ_KVM_EXIT_BADCALL);
	fakevm_release(&vm);
}

/* --- output a guest makes the host write ---------------------------------- */

/* Size of the file open on @fd. */
static off_t file_size(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/*
 * Console output was written as fast as the guest made it. Now it is a
 * token bucket: a burst of HZ_CONSOLE_BURST, then HZ_CONSOLE_RATE a
 * second; what is over is dropped and said on stderr once output flows
 * again.
 */
static void console_is_rate_limited(void **state)
{
	static struct hz_vm vm;
	const uint64_t chunk = 8u << 20;
	int out = memfd_create("console", MFD_CLOEXEC);
	int err = memfd_create("stderr", MFD_CLOEXEC);
	int saved_out = dup(1), saved_err = dup(2);

	(void)state;
	fakevm_init(&vm);
	struct hz_kvm_console *con = fakevm_ptr(&vm, ARG_GPA);
	*con = (struct hz_kvm_console){.data = BUFS_GPA, .len = chunk};
	memset(fakevm_ptr(&vm, BUFS_GPA), 'x', chunk);
	assert_int_equal(dup2(out, 1), 1);
	assert_int_equal(dup2(err, 2), 2);
	int rc = -1;
	for (unsigned i = 0; i < 8 && rc == -1; i++) /* 64 MiB at once */
		rc = fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA);
	off_t burst = file_size(out);
	usleep(100 * 1000);
	if (rc == -1)
		rc = fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA);
	off_t after = file_size(out);
	/* A guest that always asks for more than the bucket holds: each
	 * call gets a refill's few bytes and drops the rest; the drops are
	 * said at most once a second, not once a call. */
	con->len = 1u << 20;
	for (unsigned i = 0; i < 20000 && rc == -1; i++)
		rc = fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);

	/* The burst and a refill's worth, nothing like the 72 MiB sent. */
	assert_int_equal(rc, -1);
	assert_true(burst >= (off_t)HZ_CONSOLE_BURST);
	assert_true(burst <= (off_t)(HZ_CONSOLE_BURST + HZ_CONSOLE_RATE / 10));
	assert_true(after - burst >= (off_t)(HZ_CONSOLE_RATE / 10));
	assert_true(after - burst <= (off_t)HZ_CONSOLE_RATE);
	static char msg[64 << 10];
	assert_true(pread(err, msg, sizeof(msg) - 1, 0) > 0);
	assert_non_null(strstr(msg, "bytes dropped over the rate limit"));
	unsigned lines = 0;
	for (const char *p = msg; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_in_range(lines, 1, 3);
	close(out);
	close(err);
	fakevm_release(&vm);
}

/*
 * Console output to a reader that is gone fails with EPIPE and the
 * tender goes on: after hz_tender_signals, SIGPIPE no longer ends it
 * (nor does a libslirp send to a peer that reset, the same signal).
 */
static void console_to_a_closed_reader_is_survived(void **state)
{
	(void)state;
	for (int ignore = 0; ignore < 2; ignore++) {
		int p[2], status;
		assert_int_equal(pipe(p), 0);
		close(p[0]); /* no reader anywhere, before the child writes */
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			static struct hz_vm vm;
			signal(SIGPIPE, SIG_DFL);
			if (ignore)
				hz_tender_signals();
			dup2(p[1], 1);
			fakevm_init(&vm);
			struct hz_kvm_console *con = fakevm_ptr(&vm, ARG_GPA);
			*con = (struct hz_kvm_console){.data = BUFS_GPA,
						       .len = 100};
			fakevm_call(&vm, HZ_KVM_CALL_CONSOLE, ARG_GPA);
			_exit(7);
		}
		close(p[1]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (ignore) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 7);
		} else { /* the check itself: without it, SIGPIPE ends it */
			assert_true(WIFSIGNALED(status));
			assert_int_equal(WTERMSIG(status), SIGPIPE);
		}
	}
}

/* A capture stops at its limit, says so once, and the VM goes on. */
static void pcap_stops_at_its_limit(void **state)
{
	struct hz_device d = {.pcap_fd = -1, .pcap_limit = 10000};
	uint8_t frame[1000] = {0};
	int err = memfd_create("stderr", MFD_CLOEXEC);
	int saved_err = dup(2);

	(void)state;
	memcpy(d.name, "net0", 5);
	d.pcap_fd = memfd_create("pcap", MFD_CLOEXEC);
	assert_true(d.pcap_fd >= 0);
	int fd = d.pcap_fd;
	assert_int_equal(dup2(err, 2), 2);
	for (unsigned i = 0; i < 20; i++)
		hz_pcap_frame(&d, frame, sizeof(frame));
	dup2(saved_err, 2);
	close(saved_err);
	assert_true(file_size(fd) <= 10000);
	assert_true(file_size(fd) >= 10000 - 2 * (16 + 1000));
	char msg[256] = {0};
	assert_true(pread(err, msg, sizeof(msg) - 1, 0) > 0);
	assert_non_null(strstr(msg, "--pcap net0: capture stopped"));
	assert_null(strstr(strstr(msg, "stopped") + 1, "stopped"));
	close(fd);
	close(err);
}

/* --- notices and inherited taps ------------------------------------------- */

/* Reads what waits in the pipe @fd (non-blocking) into @buf. */
static size_t read_pipe(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

/*
 * --notify: the guest's first MAIN writes "guest" then "main", its first
 * READY "ready", each once, with times in order; what a guest repeats or
 * claims (a first instruction after main, or a TSC from the far future)
 * changes neither how many lines there are nor their order.
 */
static void notices_are_written_once_in_order(void **state)
{
	static struct hz_vm vm;
	int p[2];
	char buf[512];
	unsigned long long g, m, r;
	int used;

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	fakevm_init(&vm);
	vm.notify_fd = p[1];
	uint64_t before = hz_tender_now();
	vm.t_run_ns = before;
	struct hz_kvm_mark *mark = fakevm_ptr(&vm, ARG_GPA);
	*mark = (struct hz_kvm_mark){.tsc_entry = UINT64_MAX, .tsc_now = 0};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_MAIN, ARG_GPA), -1);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_MAIN, ARG_GPA), -1);
	/* READY reads nothing: any address will do, even none. */
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_READY, 0), -1);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_READY, FAKEVM_MEM), -1);
	uint64_t after = hz_tender_now();
	read_pipe(p[0], buf, sizeof(buf));
	assert_int_equal(sscanf(buf, "guest %llu\nmain %llu\nready %llu\n%n",
				&g, &m, &r, &used),
			 3);
	assert_int_equal(buf[used], '\0'); /* nothing more: each once */
	assert_true(before <= g && g <= m && m <= r && r <= after);
	fakevm_release(&vm);

	/* Without --notify the calls are taken and nothing is written. */
	fakevm_init(&vm);
	mark = fakevm_ptr(&vm, ARG_GPA);
	*mark = (struct hz_kvm_mark){.tsc_entry = 1, .tsc_now = 2};
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_MAIN, ARG_GPA), -1);
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_READY, 0), -1);
	assert_true(vm.t_main_ns >= vm.t_first_ns);
	assert_int_equal(read_pipe(p[0], buf, sizeof(buf)), 0);
	fakevm_release(&vm);
	close(p[0]);
	close(p[1]);
}

/* A reader that went away costs the notice, not the tender. */
static void notice_to_a_closed_reader_is_ignored(void **state)
{
	static struct hz_vm vm;
	struct hz_errmsg err = {0};
	char num[16];
	int p[2], fd;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(num, sizeof(num), "%d", p[1]);
	assert_int_equal(hz_notify_setup(num, &fd, &err), 0);
	assert_int_equal(fd, p[1]);
	close(p[0]);
	fakevm_init(&vm);
	vm.notify_fd = fd;
	/* SIGPIPE would end this process; EPIPE is ignored. */
	assert_int_equal(fakevm_call(&vm, HZ_KVM_CALL_READY, 0), -1);
	assert_true(vm.told_ready);
	fakevm_release(&vm);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);

	/* What --notify refuses, by its message. */
	assert_true(hz_notify_setup("x", &fd, &err) < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "descriptor number"));
	assert_true(hz_notify_setup("99999999999", &fd, &err) < 0);
	assert_true(hz_notify_setup("1000000", &fd, &err) < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "is not open"));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	snprintf(num, sizeof(num), "%d", p[0]);
	assert_true(hz_notify_setup(num, &fd, &err) < 0);
	assert_non_null(strstr(hz_errmsg_text(&err), "not open for writing"));
	close(p[0]);
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
}

/* Attaches a new descriptor of /dev/net/tun with @flags; -1 if refused. */
static int tun_attach(short flags, const char *name)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	ifr.ifr_flags = flags;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* hz_tap_adopt refuses @fd with a message holding @why. */
static void refused(int fd, const char *why)
{
	struct hz_errmsg err = {0};

	assert_int_equal(hz_tap_adopt(fd, &err), -HZ_EINVAL);
	if (strstr(hz_errmsg_text(&err), why) == NULL)
		fail_msg("descriptor %d: expected \"%s\", got \"%s\"", fd, why,
			 hz_errmsg_text(&err));
}

/*
 * tapfd:FD takes only a tap attached as hz_tap_open attaches one: not a
 * closed descriptor, a file, a pipe, another device, a tun, or a tap
 * without virtio-net headers. Making tuns and taps needs root.
 */
static void tapfd_takes_only_a_tap_with_headers(void **state)
{
	char name[IFNAMSIZ];
	int p[2];

	(void)state;
	refused(1000000, "is not open");
	int file = memfd_create("file", MFD_CLOEXEC);
	refused(file, "not /dev/net/tun (a regular file)");
	close(file);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	refused(p[0], "not /dev/net/tun (a pipe)");
	close(p[0]);
	close(p[1]);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	refused(null, "another character device");
	close(null);
	int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun < 0 || geteuid() != 0) {
		if (tun >= 0)
			close(tun);
		skip(); /* the checks of real taps need root and a tun */
		return;
	}
	refused(tun, "attached to no interface");
	close(tun);
	snprintf(name, sizeof(name), "hzfd%d", (int)getpid() % 100000);
	tun = tun_attach(IFF_TUN | IFF_NO_PI | IFF_VNET_HDR, name);
	assert_true(tun >= 0);
	refused(tun, "is tun hzfd");
	close(tun);
	int bare = tun_attach(IFF_TAP | IFF_NO_PI, name);
	assert_true(bare >= 0);
	refused(bare, "without IFF_VNET_HDR");
	close(bare);
	/* Some kernels attach every tap without packet information, asked
	 * or not: the check is then one no descriptor can fail. */
	int pi = tun_attach(IFF_TAP | IFF_VNET_HDR, name);
	struct ifreq ifr = {0};
	assert_true(pi >= 0);
	assert_int_equal(ioctl(pi, TUNGETIFF, &ifr), 0);
	if (!(ifr.ifr_flags & IFF_NO_PI))
		refused(pi, "without IFF_NO_PI");
	close(pi);
	/* A good one, blocking as a parent might leave it: taken, made
	 * non-blocking and close-on-exec. */
	int tap = tun_attach(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, name);
	assert_true(tap >= 0);
	assert_int_equal(fcntl(tap, F_SETFD, 0), 0);
	struct hz_errmsg err = {0};
	assert_int_equal(hz_tap_adopt(tap, &err), 0);
	assert_true(fcntl(tap, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(tap, F_GETFD) & FD_CLOEXEC);
	char frame[64];
	assert_int_equal(hz_tap_read(tap, frame, sizeof(frame)), 0);
	close(tap);
}

/*
 * haze-kvm closes what it inherited before anything else, but for the
 * descriptors of --notify and tapfd bindings: those stay open, the rest
 * (past stdio) is closed. Run in a child, whose descriptors it may close.
 */
static void only_kept_descriptors_survive(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fds[6];
		for (unsigned i = 0; i < 6; i++)
			fds[i] = open("/dev/null", O_RDONLY);
		int keep[] = {fds[4], fds[1], fds[1]};
		if (hz_sandbox_close_inherited(keep, 3) < 0)
			_exit(10);
		for (unsigned i = 0; i < 6; i++) {
			bool open = fcntl(fds[i], F_GETFD) >= 0;
			if (open != (i == 1 || i == 4))
				_exit(11 + (int)i);
		}
		for (int fd = 0; fd < 3; fd++)
			if (fcntl(fd, F_GETFD) < 0)
				_exit(20 + fd);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- the sandbox ---------------------------------------------------------- */

/* What a child in the sandbox tries (run_sandboxed). */
enum attempt {
	TRY_RAW_SOCKET,	  /* fails with EPERM; the child goes on */
	TRY_STREAM,	  /* a slirp-style socket: allowed, closed */
	TRY_SLIRP_FLOW,	  /* a guest flow and a forwarded connection */
	TRY_MAP_SHARED,	  /* killed */
	TRY_CLOSE_VCPU,	  /* killed */
	TRY_WRITE_IMAGE,  /* killed */
	TRY_DUP,	  /* killed */
	TRY_SEND_BELOW,	  /* sendto on a socket below the fence: killed */
	TRY_MANY_SOCKETS, /* at most HZ_SLIRP_SOCKETS_MAX, then EMFILE */
	TRY_NOTIFY,	  /* READY's notice written past the fence */
};

/* The pipe a sandboxed child writes its notices on (TRY_NOTIFY). */
static int notify_pipe[2] = {-1, -1};

/*
 * Ends a sandboxed child with @status by the raw system call: _exit is
 * noreturn, and ASan makes a system call of its own before those.
 */
static void child_exit(int status)
{
	syscall(SYS_exit_group, status);
}

/*
 * Runs @what in a child that entered the sandbox of a VM with a user NIC,
 * as haze-kvm does; returns the child's exit status (0: it went as
 * expected), or 128 + signal.
 */
static int run_sandboxed(enum attempt what)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static struct hz_vm vm;
		uint16_t port;
		int below = loopback_udp(&port); /* one of the tender's own */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		struct rlimit rl;
		if (what == TRY_MANY_SOCKETS) /* as if the host allowed many */
			allow_descriptors(1 << 16);
		getrlimit(RLIMIT_NOFILE, &rl); /* a call the filter refuses */
		fakevm_init(&vm);
		vm.vcpu_fd = devnull;  /* stand-ins: the filter looks at */
		vm.image.fd = devnull; /* numbers only */
		add_user_nic(&vm, true);
		vm.dev[0].net.nfwd = 0;
		vm.notify_fd = what == TRY_NOTIFY ? notify_pipe[1] : -1;
		int fd = -1;
		if (hz_sandbox_enter(&vm) < 0)
			child_exit(10);
		int r = 19;
		switch (what) {
		case TRY_RAW_SOCKET:
			fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
			r = fd < 0 && errno == EPERM ? 0 : 11;
			break;
		case TRY_STREAM:
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			r = fd <= devnull ? 12 : close(fd) == 0 ? 0 : 13;
			break;
		case TRY_SLIRP_FLOW: {
			/* The test's sink, made past the fence as slirp's. */
			int sink = loopback_udp(&port);
			open_flows(&vm, 20, port);
			(void)hz_devices_wait(&vm, 1000000, 1);
			r = drain(sink, 50) == 20 ? 0 : 14;
			break;
		}
		case TRY_MAP_SHARED:
			mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			r = 15;
			break;
		case TRY_CLOSE_VCPU:
			close(vm.vcpu_fd);
			r = 16;
			break;
		case TRY_WRITE_IMAGE:
			if (write(vm.image.fd, "x", 1) < 0) {
				/* refused by the filter, not the kernel */
			}
			r = 17;
			break;
		case TRY_DUP:
			fd = fcntl(devnull, F_DUPFD_CLOEXEC, 0);
			r = 18;
			break;
		case TRY_SEND_BELOW: {
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons(port),
						.sin_addr.s_addr =
						    htonl(INADDR_LOOPBACK)};
			if (sendto(below, "x", 1, 0, (struct sockaddr *)&a,
				   sizeof(a)) < 0) {
				/* refused by the filter, not the kernel */
			}
			r = 21;
			break;
		}
		case TRY_MANY_SOCKETS: {
			unsigned n = 0;
			while (socket(AF_INET, SOCK_DGRAM, 0) >= 0)
				n++;
			r = errno != EMFILE	       ? 22
			    : n > HZ_SLIRP_SOCKETS_MAX ? 23
			    : rl.rlim_max >= (1 << 16) &&
				    n < HZ_SLIRP_SOCKETS_MAX - 64
				? 24
				: 0;
			break;
		}
		case TRY_NOTIFY:
			r = fakevm_call(&vm, HZ_KVM_CALL_READY, 0) == -1 ? 0
									 : 20;
			break;
		}
		child_exit(r);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * With a user NIC, the sandbox let any socket type through (SOCK_RAW as
 * root), shared mappings, write and close on any descriptor, and socket
 * calls on the tender's own sockets, and as many host sockets as the
 * inherited limit allowed. Now raw
 * sockets fail with EPERM, libslirp's own work still goes through, and
 * the rest ends the tender with its bad-call status.
 */
static void sandbox_holds_with_user_networking(void **state)
{
	(void)state;
	assert_int_equal(run_sandboxed(TRY_RAW_SOCKET), 0);
	assert_int_equal(run_sandboxed(TRY_STREAM), 0);
	assert_int_equal(run_sandboxed(TRY_SLIRP_FLOW), 0);
	assert_int_equal(run_sandboxed(TRY_MAP_SHARED), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(run_sandboxed(TRY_CLOSE_VCPU), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(run_sandboxed(TRY_WRITE_IMAGE), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(run_sandboxed(TRY_DUP), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(run_sandboxed(TRY_SEND_BELOW), HZ_KVM_EXIT_BADCALL);
	assert_int_equal(run_sandboxed(TRY_MANY_SOCKETS), 0);
}

/* --notify's descriptor is written under the filter, fence and all. */
static void sandbox_lets_notices_through(void **state)
{
	char buf[128];
	unsigned long long t;

	(void)state;
	assert_int_equal(pipe2(notify_pipe, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(run_sandboxed(TRY_NOTIFY), 0);
	read_pipe(notify_pipe[0], buf, sizeof(buf));
	assert_int_equal(sscanf(buf, "ready %llu\n", &t), 1);
	close(notify_pipe[0]);
	close(notify_pipe[1]);
}

/* A CPUID table of leaf 1's ECX @ecx1 and (unless @no_xsave_leaf) leaf
 * 0xD's EAX @eax_d, in @buf. */
static struct kvm_cpuid2 *cpuid_table(uint64_t *buf, uint32_t ecx1,
				      uint32_t eax_d, bool no_xsave_leaf)
{
	struct kvm_cpuid2 *c = (struct kvm_cpuid2 *)buf;

	c->nent = 0;
	c->entries[c->nent++] =
	    (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd};
	c->entries[c->nent++] =
	    (struct kvm_cpuid_entry2){.function = 1, .ecx = ecx1};
	if (!no_xsave_leaf) {
		/* Sub-leaf 1 first: the table is searched by index too. */
		c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		    .function = 0xd, .index = 1, .eax = 0xf};
		c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		    .function = 0xd, .index = 0, .eax = eax_d};
	}
	return c;
}

/*
 * The guest gets the AVX state (XCR0 x87 | SSE | AVX) only where its
 * CPUID table offers XSAVE, AVX and room for the AVX state; never the
 * AVX-512 state, which Haze does not use.
 */
static void guest_avx_only_where_cpuid_offers_it(void **state)
{
	enum { XSAVE = 1u << 26, AVX = 1u << 28 };
	uint64_t buf[(sizeof(struct kvm_cpuid2) +
		      8 * sizeof(struct kvm_cpuid_entry2)) /
		     8];

	(void)state;
	/* A host with AVX-512: x87, SSE, AVX, opmask, ZMM state. */
	assert_int_equal(
	    hz_vm_guest_xcr0(cpuid_table(buf, XSAVE | AVX, 0xe7, false)), 0x7);
	assert_int_equal(
	    hz_vm_guest_xcr0(cpuid_table(buf, XSAVE | AVX, 0x7, false)), 0x7);
	assert_int_equal(hz_vm_guest_xcr0(cpuid_table(buf, AVX, 0x7, false)),
			 0);
	assert_int_equal(hz_vm_guest_xcr0(cpuid_table(buf, XSAVE, 0x7, false)),
			 0);
	assert_int_equal(
	    hz_vm_guest_xcr0(cpuid_table(buf, XSAVE | AVX, 0x3, false)), 0);
	assert_int_equal(
	    hz_vm_guest_xcr0(cpuid_table(buf, XSAVE | AVX, 0x7, true)), 0);
	cpuid_table(buf, XSAVE | AVX, 0x7, false)->nent = 0;
	assert_int_equal(hz_vm_guest_xcr0((struct kvm_cpuid2 *)buf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(yield_survives_many_slirp_flows),
	    cmocka_unit_test(host_loopback_only_when_asked),
	    cmocka_unit_test(notes_cost_a_few_reads),
	    cmocka_unit_test(symbols_cost_a_few_reads),
	    cmocka_unit_test(bad_frame_sends_nothing),
	    cmocka_unit_test(yield_sends_staged_frames_first),
	    cmocka_unit_test(yield_receives_into_posted_buffers),
	    cmocka_unit_test(rings_setup_is_checked),
	    cmocka_unit_test(rings_move_frames),
	    cmocka_unit_test(rings_sleep_and_kick),
	    cmocka_unit_test(rings_refuse_a_hostile_guest),
	    cmocka_unit_test(trace_counts_calls_and_frames),
	    cmocka_unit_test(malformed_calls_end_the_vm),
	    cmocka_unit_test(page_tables_are_never_written_for_the_guest),
	    cmocka_unit_test(console_is_rate_limited),
	    cmocka_unit_test(console_to_a_closed_reader_is_survived),
	    cmocka_unit_test(pcap_stops_at_its_limit),
	    cmocka_unit_test(sandbox_holds_with_user_networking),
	    cmocka_unit_test(notices_are_written_once_in_order),
	    cmocka_unit_test(notice_to_a_closed_reader_is_ignored),
	    cmocka_unit_test(tapfd_takes_only_a_tap_with_headers),
	    cmocka_unit_test(only_kept_descriptors_survive),
	    cmocka_unit_test(sandbox_lets_notices_through),
	    cmocka_unit_test(segmentation_passes_through),
	    cmocka_unit_test(coalesced_frames_reach_the_guest),
	    cmocka_unit_test(
		frames_landing_on_the_array_change_nothing_checked),
	    cmocka_unit_test(guest_avx_only_where_cpuid_offers_it),
	};
	return HARNESS_RUN("tender", tests);
}
