/*
 * The process entry of a unix-target unikernel: parses the options that
 * bind host resources to the manifest's devices, checks them all against
 * the manifest before opening any, maps the heap, installs the handler
 * that names a fiber whose stack overflowed (guard.c), and starts the
 * runtime.
 * Everything after the options goes to the runtime, which takes leading
 * --log=SPEC options as on every target, then to the application.
 *
 *   PROG [--mem MIB] [--net NAME=tap:IFACE] [--net NAME=tapfd:FD]
 *        [--block NAME=PATH] [--notify FD] [--log=SPEC] [--] [ARGS...]
 *
 * tapfd:FD takes a tap the parent opened and passed down (hz_tap_adopt
 * checks it); --notify FD writes the start, guest, main and ready notices
 * of platform/host/notify.h on FD.
 * --log=SPEC is the runtime's (src/core/runtime.c): it is passed on ahead
 * of the application's arguments. Any other --option before the first
 * argument or "--" is refused, so a mistyped option is not silently given
 * to the application.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "haze/manifest.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "platform/host/notify.h"
#include "platform/host/options.h"
#include "platform/host/tap.h"
#include "platform/unix/unix.h"

#define DEFAULT_MEM_MIB 32
#define MAX_MEM_MIB (64 * 1024)

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--mem MIB] [--net NAME=tap:IFACE] "
		"[--net NAME=tapfd:FD]\n"
		"       [--block NAME=PATH] [--notify FD] [--log=SPEC] [--] "
		"[ARGS...]\n",
		prog);
}

static HZ_NORETURN void fail(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(2);
}

/* Parses the value of --net or --block into @b; exits on a bad one. */
static void parse_binding(const char *prog, const char *opt, const char *arg,
			  struct hz_host_binding *b)
{
	bool net = strcmp(opt, "--net") == 0;
	struct hz_errmsg err = {0};

	if (hz_host_parse_binding(
		opt, arg, net ? HZ_DEVICE_KIND_NET : HZ_DEVICE_KIND_BLOCK, b,
		&err) < 0)
		fail(prog, hz_errmsg_text(&err));
	if (net && strncmp(b->target, "tapfd:", 6) == 0) {
		int fd;

		if (hz_host_parse_fd("--net", b->target + 6, &fd, &err) < 0) {
			fprintf(stderr,
				"%s: --net %s=%s: expected tapfd:FD, a "
				"descriptor number\n",
				prog, b->name, b->target);
			exit(2);
		}
		return;
	}
	if (net &&
	    (strncmp(b->target, "tap:", 4) != 0 || b->target[4] == '\0')) {
		fprintf(stderr,
			"%s: --net %s=%s: the unix target supports tap:IFACE "
			"and tapfd:FD\n",
			prog, b->name, b->target);
		exit(2);
	}
}

/* The descriptor of a tapfd:FD binding (parse_binding checked it), or -1. */
static int binding_tapfd(const struct hz_host_binding *b)
{
	struct hz_errmsg err = {0};
	int fd;

	if (b->kind != HZ_DEVICE_KIND_NET ||
	    strncmp(b->target, "tapfd:", 6) != 0 ||
	    hz_host_parse_fd("--net", b->target + 6, &fd, &err) < 0)
		return -1;
	return fd;
}

/*
 * Checks every inherited tap before anything is opened, as the other
 * bindings are checked: a descriptor that is not the tap it should be is
 * one line naming the binding and why. Exits on a bad one.
 */
static void check_tapfds(const char *prog, const struct hz_host_binding *b,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct hz_errmsg err = {0};
		int fd = binding_tapfd(&b[i]);

		if (fd >= 0 && hz_tap_adopt(fd, &err) < 0) {
			fprintf(stderr, "%s: --net %s=%s: %s\n", prog,
				b[i].name, b[i].target, hz_errmsg_text(&err));
			exit(2);
		}
	}
}

/* Opens the host resources of bindings already checked; exits on failure. */
static void open_bindings(const char *prog, const struct hz_host_binding *b,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct hz_errmsg err = {0};
		bool net = b[i].kind == HZ_DEVICE_KIND_NET;
		int fd = binding_tapfd(&b[i]);
		int r = fd >= 0 ? hz_unix_bind_tapfd(b[i].name, fd, &err)
			: net
			    ? hz_unix_bind_tap(b[i].name, b[i].target + 4, &err)
			    : hz_unix_bind_file(b[i].name, b[i].target, &err);

		if (r < 0) {
			fprintf(stderr, "%s: %s %s: %s\n", prog,
				net ? "--net" : "--block", b[i].name,
				hz_errmsg_text(&err));
			exit(2);
		}
	}
}

/* Takes the value of --notify as *fd; exits on a bad one. */
static void parse_notify(const char *prog, const char *s, int *fd)
{
	struct hz_errmsg err = {0};

	if (hz_notify_setup(s, fd, &err) < 0)
		fail(prog, hz_errmsg_text(&err));
}

/* Parses the value of --mem; exits on a bad one. */
static size_t parse_mem(const char *prog, const char *s)
{
	struct hz_errmsg err = {0};
	uint64_t bytes;

	if (hz_host_parse_mem(s, 1, MAX_MEM_MIB, &bytes, &err) < 0)
		fail(prog, hz_errmsg_text(&err));
	return (size_t)bytes;
}

int main(int argc, char **argv)
{
	/* The start notice's time: the process began about now. */
	uint64_t t_start = hz_notify_now();
	const char *prog = argv[0];
	struct hz_errmsg err = {0};
	struct hz_start_info si = {.target = "unix"};
	size_t mem = (size_t)DEFAULT_MEM_MIB << 20;
	struct hz_host_binding *binds;
	char **runtime_opts;
	size_t nbinds = 0, nruntime = 0;
	const char *why;
	int notify_fd = -1;
	void *heap;
	int i;

	/* Each option takes at least one slot of argv: argc bounds both. */
	binds = calloc((size_t)argc, sizeof(*binds));
	runtime_opts = calloc((size_t)argc, sizeof(*runtime_opts));
	if (binds == NULL || runtime_opts == NULL)
		fail(prog, "out of memory");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0) {
			usage(prog);
			exit(0);
		}
		if (strncmp(a, "--log=", 6) == 0) {
			runtime_opts[nruntime++] = argv[i];
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			break;
		if (strcmp(a, "--mem") != 0 && strcmp(a, "--net") != 0 &&
		    strcmp(a, "--block") != 0 && strcmp(a, "--notify") != 0) {
			fprintf(stderr,
				"%s: unknown option %s (put the application's "
				"options after --)\n",
				prog, a);
			usage(prog);
			exit(2);
		}
		if (i + 1 == argc) {
			fprintf(stderr, "%s: %s wants a value\n", prog, a);
			usage(prog);
			exit(2);
		}
		if (strcmp(a, "--mem") == 0)
			mem = parse_mem(prog, argv[++i]);
		else if (strcmp(a, "--notify") == 0)
			parse_notify(prog, argv[++i], &notify_fd);
		else
			parse_binding(prog, a, argv[++i], &binds[nbinds++]);
	}
	/* The unix target's first instruction is the process's: the guest
	 * notice is the start's, so every target writes the same lines. */
	hz_notify(notify_fd, "start", t_start);
	hz_notify(notify_fd, "guest", t_start);
	hz_unix_notify_on(notify_fd);
	if (hz_manifest_validate(&hz_manifest, &why) < 0)
		fail(prog, why);
	/* Everything is checked before any host resource is opened. */
	if (hz_host_check_bindings(&hz_manifest, binds, nbinds, &err) < 0)
		fail(prog, hz_errmsg_text(&err));
	check_tapfds(prog, binds, nbinds);
	open_bindings(prog, binds, nbinds);
	free(binds);

	heap = mmap(NULL, mem, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (heap == MAP_FAILED)
		fail(prog, "cannot map the heap");
	/* Fiber stacks have guard pages; their faults name the fiber. */
	if (hz_unix_fault_init(&err) < 0)
		fail(prog, hz_errmsg_text(&err));
	si.heap_start = (uintptr_t)heap;
	si.heap_size = mem;
	/*
	 * The application sees its name, the runtime's options (which the
	 * runtime removes), then what follows the options. The slots the
	 * options used hold them: runtime options are at most i - 1.
	 */
	i -= (int)nruntime;
	memcpy(&argv[i], runtime_opts, nruntime * sizeof(*runtime_opts));
	free(runtime_opts);
	argv[i - 1] = argv[0];
	si.argv = &argv[i - 1];
	si.argc = argc - i + 1;
	hz_notify(notify_fd, "main", hz_notify_now());
	hz_runtime_start(&si);
}
