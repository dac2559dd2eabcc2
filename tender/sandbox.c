/*
 * The seccomp sandbox of haze-kvm, entered after setup and before the
 * guest's first instruction. From then on the tender may only run the
 * vCPU and move bytes on the file descriptors it already holds: KVM_RUN
 * on the vCPU, reads and writes on taps, block files, the console and
 * captures, writes on --notify's descriptor, ppoll, clocks, getrandom,
 * exit; with --gdb, reads and writes on gdb's connection and the three
 * vCPU calls the stub needs (KVM_SET_REGS, KVM_SET_GUEST_DEBUG, and
 * KVM_SET_SREGS where a trap of gdb's reaches the guest's IDT). User
 * networking adds what libslirp needs: stream and datagram
 * sockets of IPv4 and IPv6 for guest connections (no raw sockets: asking
 * for one fails with EPERM, so slirp
 * carries on without), private anonymous memory that is never executable
 * (no shared mappings), fcntl for file status and close-on-exec flags
 * only. The descriptor calls libslirp makes (read, write, close, fcntl,
 * ioctl) are allowed only above the highest descriptor the tender held
 * when it entered the sandbox: slirp's sockets are all opened later, and
 * the tender's own (vCPU, VM, image, taps, disks, captures, the console)
 * are out of their reach. A system call outside the list ends the
 * process with a message (tests/tender tries the refused ones).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tender.h"

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg),
			 "haze-kvm: sandbox: blocked system call %d\n",
			 si->si_syscall);
	if (write(2, msg, (size_t)n) < 0) {
		/* Nothing more to do: we are exiting. */
	}
	/* The raw call: no exit path (a sanitizer's among them) gets a
	 * chance to make another, refused, system call first. */
	syscall(SYS_exit_group, HZ_KVM_EXIT_BADCALL);
}

/* A comparison "argument @arg == @value" (the SCMP_A* macros leave
 * fields unset, which -Wmissing-field-initializers refuses). */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){
	    .arg = arg, .op = SCMP_CMP_EQ, .datum_a = value, .datum_b = 0};
}

/* A comparison "(argument @arg & @mask) == 0". */
static struct scmp_arg_cmp arg_clear(unsigned arg, scmp_datum_t mask)
{
	return (struct scmp_arg_cmp){.arg = arg,
				     .op = SCMP_CMP_MASKED_EQ,
				     .datum_a = mask,
				     .datum_b = 0};
}

/* A comparison "argument @arg > @value". */
static struct scmp_arg_cmp arg_gt(unsigned arg, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){
	    .arg = arg, .op = SCMP_CMP_GT, .datum_a = value, .datum_b = 0};
}

/* A comparison "(argument @arg & @mask) == @value". */
static struct scmp_arg_cmp arg_masked(unsigned arg, scmp_datum_t mask,
				      scmp_datum_t value)
{
	return (struct scmp_arg_cmp){.arg = arg,
				     .op = SCMP_CMP_MASKED_EQ,
				     .datum_a = mask,
				     .datum_b = value};
}

/* The highest descriptor @vm holds (devices, captures, KVM, --notify,
 * gdb's connection, the image), or -1. */
static int highest_held(const struct hz_vm *vm)
{
	int top = -1;
	int fds[] = {vm->kvm_fd,    vm->vm_fd,	  vm->vcpu_fd,
		     vm->notify_fd, vm->image.fd, vm->gdb ? vm->gdb->fd : -1};

	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] > top)
			top = fds[i];
	for (unsigned i = 0; i < vm->ndev; i++) {
		if (vm->dev[i].fd > top)
			top = vm->dev[i].fd;
		if (vm->dev[i].pcap_fd > top)
			top = vm->dev[i].pcap_fd;
	}
	return top;
}

/*
 * Makes every descriptor number up to the highest one open a used one
 * (holes are filled with /dev/null), so that each descriptor opened from
 * now on, libslirp's sockets, is numbered above it; then lets at most
 * HZ_SLIRP_SOCKETS_MAX more be opened. The highest is the highest found
 * below the descriptor limit or held by @vm, whichever is higher (one
 * held past the limit cannot be fenced: -1). Returns that number, or -1.
 */
static int fence_descriptors(const struct hz_vm *vm)
{
	struct rlimit rl;
	int top = highest_held(vm);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	int limit = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	for (int fd = 0; fd < limit; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && fd > top)
			top = fd;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		if (fd > top) {
			close(fd);
			break;
		}
	}
	/* A guest opens a host socket per flow: bounded, whatever limit
	 * the tender inherited (it can only be lowered). */
	rlim_t cap = (rlim_t)top + 1 + HZ_SLIRP_SOCKETS_MAX;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap) {
		rl.rlim_cur = cap;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -1;
	}
	return top;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

int hz_sandbox_close_inherited(const int *keep, unsigned n)
{
	unsigned lo = 3;

	/* Ascending order of what is kept, the gaps between closed. */
	for (;;) {
		unsigned next = ~0u;
		for (unsigned i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next == ~0u)
			break;
		if (next > lo && close_range(lo, next - 1, 0) < 0)
			return -1;
		lo = next + 1;
	}
	closefrom((int)lo);
	return 0;
}

/*
 * Allows the @n system calls @nrs: with any arguments when @fence is
 * negative, else only on descriptors above @fence (the first argument).
 */
static int allow_calls(scmp_filter_ctx ctx, const int *nrs, size_t n, int fence)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		rc |= fence < 0
			  ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0)
			  : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 1,
					     arg_gt(0, (scmp_datum_t)fence));
	return rc;
}

/* The socket type without SOCK_NONBLOCK and SOCK_CLOEXEC (Linux's mask). */
#define SOCKET_TYPE_MASK 0xfu

/* Allows stream and datagram sockets of @domain, refuses raw ones. */
static int allow_sockets(scmp_filter_ctx ctx, int domain)
{
	int rc = 0;
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
	for (unsigned i = 0; i < 2; i++)
		rc |= seccomp_rule_add(
		    ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
		    arg_eq(0, (scmp_datum_t)domain),
		    arg_masked(1, SOCKET_TYPE_MASK, (scmp_datum_t)types[i]));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2,
			       arg_eq(0, (scmp_datum_t)domain),
			       arg_masked(1, SOCKET_TYPE_MASK, SOCK_RAW));
	return rc;
}

/* Allows @nr with its first argument equal to @fd. */
static int allow_fd(scmp_filter_ctx ctx, int nr, int fd)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				arg_eq(0, (scmp_datum_t)fd));
}

int hz_sandbox_enter(struct hz_vm *vm)
{
	struct sigaction sa;
	bool user_net = false;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		hz_tender_log("seccomp_init failed");
		return -1;
	}
	static const unsigned long vcpu_ioctls[] = {KVM_RUN, KVM_GET_REGS,
						    KVM_GET_SREGS};
	for (unsigned i = 0; i < 3; i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				       arg_eq(0, (scmp_datum_t)vm->vcpu_fd),
				       arg_eq(1, (scmp_datum_t)vcpu_ioctls[i]));
	rc |= allow_fd(ctx, SCMP_SYS(write), 1);
	rc |= allow_fd(ctx, SCMP_SYS(write), 2);
	/* --gdb: the connection, registers written, stepping toggled. */
	if (vm->gdb && vm->gdb->fd >= 0) {
		/* KVM_SET_SREGS: back to ring 3 after a trap of gdb's
		 * reached the guest's IDT (hz_gdb_fault_trap). */
		static const unsigned long gdb_ioctls[] = {
		    KVM_SET_REGS, KVM_SET_SREGS, KVM_SET_GUEST_DEBUG};
		for (unsigned i = 0;
		     i < sizeof(gdb_ioctls) / sizeof(gdb_ioctls[0]); i++)
			rc |= seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
			    arg_eq(0, (scmp_datum_t)vm->vcpu_fd),
			    arg_eq(1, (scmp_datum_t)gdb_ioctls[i]));
		rc |= allow_fd(ctx, SCMP_SYS(read), vm->gdb->fd);
		rc |= allow_fd(ctx, SCMP_SYS(write), vm->gdb->fd);
	}
	/* --notify: below any fence, so libslirp's calls cannot reach it. */
	if (vm->notify_fd >= 0 && vm->notify_fd != 1 && vm->notify_fd != 2)
		rc |= allow_fd(ctx, SCMP_SYS(write), vm->notify_fd);
	rc |= allow_fd(ctx, SCMP_SYS(pread64), vm->image.fd); /* symbols */
	/* Net rings: the I/O thread and the vCPU wake each other. The
	 * filter covers the thread too (TSYNC: it was started first). */
	if (vm->rings) {
		rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
		rc |= allow_fd(ctx, SCMP_SYS(read), vm->kick_fd);
		rc |= allow_fd(ctx, SCMP_SYS(write), vm->kick_fd);
		rc |= allow_fd(ctx, SCMP_SYS(read), vm->wake_fd);
		rc |= allow_fd(ctx, SCMP_SYS(write), vm->wake_fd);
	}
	static const int always[] = {
	    SCMP_SYS(ppoll),	 SCMP_SYS(clock_gettime),
	    SCMP_SYS(getrandom), SCMP_SYS(exit_group),
	    SCMP_SYS(exit),	 SCMP_SYS(rt_sigreturn),
	};
	rc |= allow_calls(ctx, always, ARRAY_LEN(always), -1);
	for (unsigned i = 0; i < vm->ndev; i++) {
		const struct hz_device *d = &vm->dev[i];
		if (!d->bound)
			continue;
		if (d->pcap_fd >= 0)
			rc |= allow_fd(ctx, SCMP_SYS(writev), d->pcap_fd);
		if (d->kind == HZ_DEVICE_KIND_BLOCK) {
			rc |= allow_fd(ctx, SCMP_SYS(pread64), d->fd);
			rc |= allow_fd(ctx, SCMP_SYS(pwrite64), d->fd);
			rc |= allow_fd(ctx, SCMP_SYS(fdatasync), d->fd);
		} else if (d->slirp) {
			user_net = true;
		} else {
			rc |= allow_fd(ctx, SCMP_SYS(readv), d->fd);
			rc |= allow_fd(ctx, SCMP_SYS(writev), d->fd);
		}
	}
	if (user_net) {
		int fence = fence_descriptors(vm);
		if (fence < 0) {
			hz_tender_log("sandbox: cannot fence descriptors: %s",
				      strerror(errno));
			seccomp_release(ctx);
			return -1;
		}
		/*
		 * Unfiltered: accepting (only a listening socket accepts,
		 * and the forwarded ports' listeners, made before the
		 * fence, are libslirp's), calls that only read a socket's
		 * names and options, the allocator's memory calls, GLib's
		 * clocks.
		 */
		static const int unfiltered[] = {
		    SCMP_SYS(accept),	       SCMP_SYS(accept4),
		    SCMP_SYS(getsockname),     SCMP_SYS(getpeername),
		    SCMP_SYS(getsockopt),      SCMP_SYS(brk),
		    SCMP_SYS(munmap),	       SCMP_SYS(mremap),
		    SCMP_SYS(madvise),	       SCMP_SYS(gettimeofday),
		    SCMP_SYS(getpid),	       SCMP_SYS(poll),
		    SCMP_SYS(clock_nanosleep),
		};
		rc |= allow_calls(ctx, unfiltered, ARRAY_LEN(unfiltered), -1);
		/*
		 * Calls that move data or change a descriptor reach slirp's
		 * descriptors only (above the fence), never the tender's
		 * own sockets: --notify's, gdb's, a socket on stdio.
		 */
		static const int fd_calls[] = {
		    SCMP_SYS(close),	SCMP_SYS(read),	      SCMP_SYS(write),
		    SCMP_SYS(readv),	SCMP_SYS(writev),     SCMP_SYS(connect),
		    SCMP_SYS(bind),	SCMP_SYS(setsockopt), SCMP_SYS(sendto),
		    SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),    SCMP_SYS(recvmsg),
		    SCMP_SYS(shutdown),
		};
		rc |= allow_calls(ctx, fd_calls, ARRAY_LEN(fd_calls), fence);
		/* Internet stream and datagram sockets only. */
		rc |= allow_sockets(ctx, AF_INET);
		rc |= allow_sockets(ctx, AF_INET6);
		/* Private anonymous memory, never executable; no mprotect. */
		rc |= seccomp_rule_add(
		    ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
		    arg_clear(2, PROT_EXEC),
		    arg_masked(3, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS,
			       MAP_PRIVATE | MAP_ANONYMOUS));
		/* Non-blocking and close-on-exec flags; no dup, no locks. */
		static const int fcntl_cmds[] = {F_GETFL, F_SETFL, F_GETFD,
						 F_SETFD};
		for (unsigned i = 0; i < 4; i++)
			rc |= seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
			    arg_gt(0, (scmp_datum_t)fence),
			    arg_eq(1, (scmp_datum_t)fcntl_cmds[i]));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				       arg_gt(0, (scmp_datum_t)fence),
				       arg_eq(1, FIONREAD));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2,
				       arg_gt(0, (scmp_datum_t)fence),
				       arg_eq(1, FIONBIO));
	}
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		hz_tender_log("cannot install the seccomp filter: %s",
			      strerror(-rc));
		return -1;
	}
	return 0;
}
