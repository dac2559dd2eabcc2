/*
 * haze-kvm --gdb PORT: the GDB stub of tender/gdb.h on the KVM vCPU and
 * one TCP connection from gdb on 127.0.0.1.
 *
 * The connection is accepted before the sandbox and before the guest's
 * first instruction; after that the tender only reads and writes it.
 * Breakpoints are int3 bytes written into guest memory by the engine
 * (guest-virtual = guest-physical: the tender's identity map), and
 * KVM_SET_GUEST_DEBUG with KVM_GUESTDBG_USE_SW_BP makes the guest's #BP
 * exit to the tender (KVM_EXIT_DEBUG) before the guest's own exception
 * stubs see it. A step is KVM_GUESTDBG_SINGLESTEP: KVM sets TF and
 * intercepts the #DB. Continuing from a breakpoint steps over it with its
 * byte put back, then writes int3 again. A gdb that disconnects is a
 * detach: breakpoints come out and the guest runs on. docs/kvm.md
 * describes the workflow.
 *
 * PVM (KVM without hardware virtualisation) sets TF but intercepts
 * neither exception: the #BP or #DB goes through the guest's IDT to its
 * CPL 0 stub (platform/kvm/traps.S), which saves the ring-3 registers and
 * makes the FAULT call. hz_gdb_fault_trap takes those of gdb's making
 * back out of the guest: the vCPU is put back in ring 3 as it was before
 * the exception, and the stop is handled as a debug exit would be.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tender.h"

#define DB_VECTOR 1
#define BP_VECTOR 3

#define RFLAGS_FIXED 0x2ull /* bit 1: always set */
#define RFLAGS_TF 0x100ull
/* What ring 3 may change in rflags: CF PF AF ZF SF TF DF OF, AC, ID. The
 * rest (IF, IOPL, NT, RF, VM...) is the tender's: 0. */
#define RFLAGS_RING3 0x240fd5ull

int hz_gdb_vm_read(const struct hz_vm *vm, uint64_t addr, void *buf, size_t len)
{
	const void *p = hz_guest_ptr(vm, addr, len);
	if (!p)
		return -HZ_EINVAL;
	memcpy(buf, p, len);
	return 0;
}

int hz_gdb_vm_write(struct hz_vm *vm, uint64_t addr, const void *buf,
		    size_t len)
{
	void *p = hz_guest_ptr(vm, addr, len);
	if (!p)
		return -HZ_EINVAL;
	memcpy(p, buf, len);
	return 0;
}

/* --- the target: the vCPU ------------------------------------------------- */

/* Reads the vCPU's registers, or the fault's after a fault. */
static int kvm_get_regs(void *ctx, struct hz_gdb_regs *g)
{
	struct hz_vm *vm = ctx;
	struct kvm_regs r;
	struct kvm_sregs s;

	if (vm->gdb->faulted) {
		const struct hz_kvm_fault *f = &vm->gdb->fault;
		*g = (struct hz_gdb_regs){
		    {f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi,
		     f->rbp, f->rsp, f->r8,  f->r9,  f->r10, f->r11,
		     f->r12, f->r13, f->r14, f->r15, f->rip, f->rflags,
		     f->cs,  f->ss,  f->ss,  f->ss,  f->ss,  f->ss}};
		return 0;
	}
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return -HZ_EIO;
	*g = (struct hz_gdb_regs){
	    {r.rax,	    r.rbx,	   r.rcx,	  r.rdx,
	     r.rsi,	    r.rdi,	   r.rbp,	  r.rsp,
	     r.r8,	    r.r9,	   r.r10,	  r.r11,
	     r.r12,	    r.r13,	   r.r14,	  r.r15,
	     r.rip,	    r.rflags,	   s.cs.selector, s.ss.selector,
	     s.ds.selector, s.es.selector, s.fs.selector, s.gs.selector}};
	return 0;
}

/* Writes the general registers, rip and rflags (selectors stay). */
static int kvm_set_regs(void *ctx, const struct hz_gdb_regs *g)
{
	struct hz_vm *vm = ctx;
	struct kvm_regs r;

	if (vm->gdb->faulted)
		return -HZ_ENOTSUP; /* the guest is over */
	r = (struct kvm_regs){
	    .rax = g->r[0],
	    .rbx = g->r[1],
	    .rcx = g->r[2],
	    .rdx = g->r[3],
	    .rsi = g->r[4],
	    .rdi = g->r[5],
	    .rbp = g->r[6],
	    .rsp = g->r[7],
	    .r8 = g->r[8],
	    .r9 = g->r[9],
	    .r10 = g->r[10],
	    .r11 = g->r[11],
	    .r12 = g->r[12],
	    .r13 = g->r[13],
	    .r14 = g->r[14],
	    .r15 = g->r[15],
	    .rip = g->r[HZ_GDB_RIP],
	    /* Bit 1 is always set; IOPL stays 0 (the guest does no I/O). */
	    .rflags = (g->r[HZ_GDB_EFLAGS] | 0x2) & ~0x3000ull,
	};
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -HZ_EIO;
	return 0;
}

/* Reads guest memory for the engine. */
static int kvm_read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return hz_gdb_vm_read(ctx, addr, buf, len);
}

/* Writes guest memory for the engine. */
static int kvm_write_mem(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	return hz_gdb_vm_write(ctx, addr, buf, len);
}

static const struct hz_gdb_target kvm_target = {
    .get_regs = kvm_get_regs,
    .set_regs = kvm_set_regs,
    .read_mem = kvm_read_mem,
    .write_mem = kvm_write_mem,
};

/* Sets the vCPU's debug controls: breakpoints on, stepping if @step. */
static void set_debug(struct hz_vm *vm, bool on, bool step)
{
	struct kvm_guest_debug dbg;

	memset(&dbg, 0, sizeof(dbg));
	if (on)
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP |
			      (step ? KVM_GUESTDBG_SINGLESTEP : 0);
	if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
		hz_tender_die(HZ_KVM_EXIT_BADCALL, "KVM_SET_GUEST_DEBUG: %s",
			      strerror(errno));
}

/* Whether the vCPU runs the ring-3 guest, not its CPL 0 exception code. */
static bool in_ring3(struct hz_vm *vm)
{
	struct kvm_sregs s;

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return true; /* as it nearly always is */
	return (s.cs.selector & 3) == 3;
}

/* --- the connection ------------------------------------------------------- */

int hz_gdb_listen(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		hz_tender_log("--gdb %u: socket: %s", port, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 1) < 0) {
		hz_tender_log("--gdb %u: 127.0.0.1:%u %s", port, port,
			      errno == EADDRINUSE ? "is in use"
						  : strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void hz_gdb_link_init(struct hz_vm *vm, struct hz_gdb_link *link, int fd)
{
	memset(link, 0, sizeof(*link));
	link->fd = fd;
	hz_gdb_init(&link->gdb, &kvm_target, vm);
	vm->gdb = link;
}

int hz_gdb_attach(struct hz_vm *vm, struct hz_gdb_link *link, int listen_fd)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	if (getsockname(listen_fd, (struct sockaddr *)&a, &alen) == 0)
		hz_tender_log("waiting for gdb on 127.0.0.1:%u",
			      ntohs(a.sin_port));
	int fd;
	do
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	close(listen_fd);
	if (fd < 0) {
		hz_tender_log("--gdb: accept: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		/* Slower replies, nothing worse. */
	}
	hz_gdb_link_init(vm, link, fd);
	set_debug(vm, true, false);
	return 0;
}

/* Sends what the engine queued; on failure gdb is gone (fd -1). */
static void flush_out(struct hz_gdb_link *l)
{
	size_t n;
	const uint8_t *p = hz_gdb_output(&l->gdb, &n);

	while (n && l->fd >= 0) {
		ssize_t w = write(l->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			l->fd = -1; /* kept open: the sandbox allows no close */
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	hz_gdb_output_done(&l->gdb);
}

/* gdb left (D, or the connection ended): breakpoints out, run on. */
static void detach(struct hz_vm *vm)
{
	hz_gdb_remove_breakpoints(&vm->gdb->gdb);
	flush_out(vm->gdb);
	set_debug(vm, false, false);
	hz_tender_log("gdb detached; the guest runs on");
	vm->gdb = NULL;
}

/*
 * Resumes the guest as gdb asked. Continuing from a breakpoint first
 * steps one instruction with the original byte in place; the debug exit
 * of that step writes the int3 back and runs on.
 */
static void resume(struct hz_vm *vm, bool step)
{
	struct hz_gdb_link *l = vm->gdb;
	struct kvm_regs r;
	uint8_t saved;

	l->stepping_over = false;
	if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) == 0 &&
	    hz_gdb_breakpoint_at(&l->gdb, r.rip, &saved) &&
	    hz_gdb_vm_write(vm, r.rip, &saved, 1) == 0) {
		l->stepping_over = true;
		l->reinsert = r.rip;
		l->step_then_continue = !step;
		step = true;
	}
	set_debug(vm, true, step);
	l->stepping = step && in_ring3(vm);
}

void hz_gdb_serve(struct hz_vm *vm, int signal, bool swbreak)
{
	struct hz_gdb_link *l = vm->gdb;

	if (!l)
		return;
	if (signal) {
		hz_gdb_stopped(&l->gdb, signal, swbreak);
		flush_out(l);
	}
	for (;;) {
		if (l->fd < 0) {
			detach(vm);
			return;
		}
		if (l->in_pos == l->in_len) {
			ssize_t n = read(l->fd, l->in, sizeof(l->in));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				l->fd = -1;
				continue;
			}
			l->in_pos = 0;
			l->in_len = (size_t)n;
		}
		enum hz_gdb_action act;
		l->in_pos += hz_gdb_input(&l->gdb, l->in + l->in_pos,
					  l->in_len - l->in_pos, &act);
		flush_out(l);
		switch (act) {
		case HZ_GDB_NONE:
			break;
		case HZ_GDB_CONTINUE:
		case HZ_GDB_STEP:
			if (l->ended)
				return; /* nowhere to go: the caller ends it */
			resume(vm, act == HZ_GDB_STEP);
			return;
		case HZ_GDB_DETACH:
			detach(vm);
			return;
		case HZ_GDB_KILL:
			hz_tender_die(HZ_KVM_EXIT_BADCALL,
				      "guest stopped: killed by gdb");
		}
	}
}

/*
 * The guest stopped for gdb with exception @vector (#BP: rip on the int3
 * at @pc; #DB: a step done): finishes a step over a breakpoint, or tells
 * gdb and serves it.
 */
static void debug_stop(struct hz_vm *vm, uint32_t vector, uint64_t pc)
{
	struct hz_gdb_link *l = vm->gdb;

	if (vector == DB_VECTOR && l->stepping_over) {
		uint8_t int3 = 0xcc;
		l->stepping_over = false;
		if (hz_gdb_breakpoint_at(&l->gdb, l->reinsert, NULL) &&
		    hz_gdb_vm_write(vm, l->reinsert, &int3, 1) < 0) {
			/* Inside guest memory when inserted: cannot fail. */
		}
		if (l->step_then_continue) {
			set_debug(vm, true, false);
			l->stepping = false;
			return;
		}
	}
	if (vector == BP_VECTOR && !hz_gdb_breakpoint_at(&l->gdb, pc, NULL)) {
		/* An int3 of the guest's own: report it past the int3. */
		struct kvm_regs r;
		if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) == 0) {
			r.rip++;
			if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0) {
				/* gdb will see rip on the int3. */
			}
		}
		hz_gdb_serve(vm, HZ_GDB_SIGTRAP, false);
		return;
	}
	hz_gdb_serve(vm, HZ_GDB_SIGTRAP, vector == BP_VECTOR);
}

void hz_gdb_debug_exit(struct hz_vm *vm)
{
	struct hz_gdb_link *l = vm->gdb;
	const struct kvm_debug_exit_arch *d = &vm->run->debug.arch;

	if (!l) {
		/* Detached with a step pending: nothing to report. */
		return;
	}
	if (d->exception == DB_VECTOR && l->stepping && !in_ring3(vm)) {
		/*
		 * PVM: the stepped instruction's #DB (or its fault) went to
		 * the guest's IDT, and KVM, emulating the CPL 0 stub, stops
		 * after each of its instructions. Let the stub run unstepped:
		 * the step is still pending and ends with the FAULT call of
		 * its #DB (hz_gdb_fault_trap), or, if the guest's handler
		 * resumes ring 3 (its frame keeps TF), one instruction later.
		 */
		set_debug(vm, true, false);
		return;
	}
	debug_stop(vm, d->exception, d->pc);
}

/*
 * Puts the vCPU back in ring 3 as the exception of @f found it, at @rip
 * with @rflags: undoes its delivery through the guest's IDT. Everything
 * taken from @f is a register value the ring-3 guest could have set
 * itself; the segments are the tender's own.
 */
static void restore_ring3(struct hz_vm *vm, const struct hz_kvm_fault *f,
			  uint64_t rip, uint64_t rflags)
{
	struct kvm_sregs s;
	struct kvm_regs r = {
	    .rax = f->rax,
	    .rbx = f->rbx,
	    .rcx = f->rcx,
	    .rdx = f->rdx,
	    .rsi = f->rsi,
	    .rdi = f->rdi,
	    .rbp = f->rbp,
	    .rsp = f->rsp,
	    .r8 = f->r8,
	    .r9 = f->r9,
	    .r10 = f->r10,
	    .r11 = f->r11,
	    .r12 = f->r12,
	    .r13 = f->r13,
	    .r14 = f->r14,
	    .r15 = f->r15,
	    .rip = rip,
	    .rflags = rflags,
	};

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0)
		hz_tender_die(HZ_KVM_EXIT_BADCALL, "KVM_GET_SREGS: %s",
			      strerror(errno));
	/* The delivery changed only cs and ss (null at CPL 0). */
	hz_vm_ring3_segments(&s.cs, &s.ss);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0)
		hz_tender_die(HZ_KVM_EXIT_BADCALL, "KVM_SET_SREGS: %s",
			      strerror(errno));
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0)
		hz_tender_die(HZ_KVM_EXIT_BADCALL, "KVM_SET_REGS: %s",
			      strerror(errno));
}

bool hz_gdb_fault_trap(struct hz_vm *vm, const struct hz_kvm_fault *f)
{
	struct hz_gdb_link *l = vm->gdb;
	uint64_t pc, rflags;

	if (!l || l->ended)
		return false;
	/* Only an exception from ring 3: one inside the guest's CPL 0 code
	 * (its trap handler) is a fault, as it always was. */
	if (f->cs != HZ_KVM_SEL_UCODE || f->ss != HZ_KVM_SEL_UDATA)
		return false;
	if (f->vector == BP_VECTOR && f->rip != 0 &&
	    hz_gdb_breakpoint_at(&l->gdb, f->rip - 1, NULL))
		pc = f->rip - 1; /* back on gdb's int3, as KVM leaves it */
	else if (f->vector == DB_VECTOR && l->stepping)
		pc = f->rip; /* the step is done */
	else
		return false; /* the guest's own int3 or #DB: a fault */
	rflags = (f->rflags & RFLAGS_RING3) | RFLAGS_FIXED;
	if (l->stepping)
		rflags &= ~RFLAGS_TF; /* KVM's, for the step: not the guest's */
	restore_ring3(vm, f, pc, rflags);
	debug_stop(vm, (uint32_t)f->vector, pc);
	return true;
}

void hz_gdb_after_call(struct hz_vm *vm)
{
	struct hz_gdb_link *l = vm->gdb;
	struct kvm_regs r;

	if (!l || !l->stepping)
		return;
	/* Completes the store without running the guest: KVM returns at
	 * once (EINTR) with rip past it. */
	vm->run->immediate_exit = 1;
	int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
	vm->run->immediate_exit = 0;
	if ((rc < 0 && errno != EINTR) ||
	    ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0)
		hz_tender_die(HZ_KVM_EXIT_BADCALL, "finishing a step: %s",
			      strerror(errno));
	debug_stop(vm, DB_VECTOR, r.rip);
}

void hz_gdb_guest_exit(struct hz_vm *vm, int status)
{
	if (!vm->gdb)
		return;
	hz_gdb_exited(&vm->gdb->gdb, status);
	flush_out(vm->gdb);
}

/* The signal gdb is told for CPU exception @vector. */
static int fault_signal(uint64_t vector)
{
	switch (vector) {
	case 0:	 /* #DE */
	case 16: /* #MF */
	case 19: /* #XM */
		return HZ_GDB_SIGFPE;
	case 1:
	case 3:
		return HZ_GDB_SIGTRAP;
	case 6: /* #UD */
		return HZ_GDB_SIGILL;
	case 17: /* #AC */
		return HZ_GDB_SIGBUS;
	default: /* #PF, #GP, #SS, #NP, a triple fault... */
		return HZ_GDB_SIGSEGV;
	}
}

void hz_gdb_guest_end(struct hz_vm *vm, const struct hz_kvm_fault *f,
		      int signal)
{
	struct hz_gdb_link *l = vm->gdb;

	if (!l)
		return;
	l->ended = true;
	if (f) {
		l->faulted = true;
		l->fault = *f;
		signal = fault_signal(f->vector);
	}
	hz_gdb_serve(vm, signal, false);
	if (vm->gdb) {
		hz_gdb_killed(&l->gdb, signal);
		flush_out(l);
	}
}
