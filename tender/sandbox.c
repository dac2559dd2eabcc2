/*
 * The seccomp sandbox of haze-kvm, entered after setup and before the
 * guest's first instruction. From then on the tender may only run the
 * vCPU and move bytes on the file descriptors it already holds: KVM_RUN
 * on the vCPU, reads and writes on taps, block files, the console and
 * captures, ppoll, clocks, getrandom, exit. User networking adds what
 * libslirp needs: IPv4 and IPv6 sockets for guest connections, memory
 * that is never executable, fcntl for file status and close-on-exec
 * flags only. A system call outside the list ends the process with a
 * message (tests/kvm/sandbox_probe.c tries the refused ones).
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
#include <sys/socket.h>
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
	_exit(HZ_KVM_EXIT_BADCALL);
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
	rc |= allow_fd(ctx, SCMP_SYS(pread64), vm->image.fd); /* symbols */
	static const int always[] = {
	    SCMP_SYS(ppoll),	 SCMP_SYS(clock_gettime),
	    SCMP_SYS(getrandom), SCMP_SYS(exit_group),
	    SCMP_SYS(exit),	 SCMP_SYS(rt_sigreturn),
	};
	for (unsigned i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, always[i], 0);
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
		/* libslirp opens, polls and closes host sockets as it goes. */
		static const int slirp[] = {
		    SCMP_SYS(connect),	       SCMP_SYS(bind),
		    SCMP_SYS(listen),	       SCMP_SYS(accept),
		    SCMP_SYS(accept4),	       SCMP_SYS(getsockname),
		    SCMP_SYS(getpeername),     SCMP_SYS(setsockopt),
		    SCMP_SYS(getsockopt),      SCMP_SYS(sendto),
		    SCMP_SYS(recvfrom),	       SCMP_SYS(sendmsg),
		    SCMP_SYS(recvmsg),	       SCMP_SYS(shutdown),
		    SCMP_SYS(close),	       SCMP_SYS(read),
		    SCMP_SYS(write),	       SCMP_SYS(readv),
		    SCMP_SYS(writev),	       SCMP_SYS(brk),
		    SCMP_SYS(munmap),	       SCMP_SYS(mremap),
		    SCMP_SYS(madvise),	       SCMP_SYS(gettimeofday),
		    SCMP_SYS(getpid),	       SCMP_SYS(poll),
		    SCMP_SYS(clock_nanosleep),
		};
		for (unsigned i = 0; i < sizeof(slirp) / sizeof(slirp[0]); i++)
			rc |=
			    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, slirp[i], 0);
		/* Internet sockets only: no netlink, packet or unix sockets. */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       arg_eq(0, AF_INET));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       arg_eq(0, AF_INET6));
		/* Memory for the allocator, never executable; no mprotect. */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       arg_clear(2, PROT_EXEC));
		/* Non-blocking and close-on-exec flags; no dup, no locks. */
		static const int fcntl_cmds[] = {F_GETFL, F_SETFL, F_GETFD,
						 F_SETFD};
		for (unsigned i = 0; i < 4; i++)
			rc |= seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
			    arg_eq(1, (scmp_datum_t)fcntl_cmds[i]));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       arg_eq(1, FIONREAD));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
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
