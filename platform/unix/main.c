/*
 * The process entry of a unix-target unikernel: parses the options that
 * bind host resources to the manifest's devices, maps the heap, and starts
 * the runtime. Everything after the options goes to the application.
 *
 *   PROG [--mem MIB] [--net NAME=tap:IFACE] [--block NAME=PATH] [--]
 *        [ARGS...]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "haze/manifest.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "platform/unix/unix.h"

#define DEFAULT_MEM_MIB 32
#define MAX_MEM_MIB (64 * 1024)

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--mem MIB] [--net NAME=tap:IFACE] "
		"[--block NAME=PATH] [--] [ARGS...]\n",
		prog);
}

static HZ_NORETURN void fail(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(2);
}

/* Splits "NAME=VALUE" in place; returns VALUE or NULL. */
static char *split_binding(char *arg)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg || eq[1] == '\0')
		return NULL;
	*eq = '\0';
	return eq + 1;
}

static void bind_option(const char *prog, const char *opt, char *arg)
{
	struct hz_errmsg err = {0};
	char *value = split_binding(arg);
	int r;

	if (value == NULL) {
		fprintf(stderr, "%s: %s wants NAME=%s\n", prog, opt,
			strcmp(opt, "--net") == 0 ? "tap:IFACE" : "PATH");
		exit(2);
	}
	if (strcmp(opt, "--net") == 0) {
		if (strncmp(value, "tap:", 4) != 0 || value[4] == '\0') {
			fprintf(stderr,
				"%s: --net %s=%s: the unix target supports "
				"tap:IFACE\n",
				prog, arg, value);
			exit(2);
		}
		r = hz_unix_bind_tap(arg, value + 4, &err);
	} else {
		r = hz_unix_bind_file(arg, value, &err);
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s %s: %s\n", prog, opt, arg,
			hz_errmsg_text(&err));
		exit(2);
	}
}

static size_t parse_mem(const char *prog, const char *s)
{
	char *end;
	unsigned long mib;

	errno = 0;
	mib = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || mib < 1 || mib > MAX_MEM_MIB)
		fail(prog, "--mem wants a size in MiB from 1 to 65536");
	return (size_t)mib << 20;
}

int main(int argc, char **argv)
{
	const char *prog = argv[0];
	struct hz_errmsg err = {0};
	struct hz_start_info si = {.target = "unix"};
	size_t mem = (size_t)DEFAULT_MEM_MIB << 20;
	const char *why;
	void *heap;
	int i;

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
		if (strcmp(a, "--mem") != 0 && strcmp(a, "--net") != 0 &&
		    strcmp(a, "--block") != 0)
			break;
		if (i + 1 == argc) {
			fprintf(stderr, "%s: %s wants a value\n", prog, a);
			usage(prog);
			exit(2);
		}
		if (strcmp(a, "--mem") == 0)
			mem = parse_mem(prog, argv[++i]);
		else
			bind_option(prog, a, argv[++i]);
	}
	if (hz_manifest_validate(&hz_manifest, &why) < 0)
		fail(prog, why);
	if (hz_unix_check_bindings(&hz_manifest, &err) < 0)
		fail(prog, hz_errmsg_text(&err));

	heap = mmap(NULL, mem, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (heap == MAP_FAILED)
		fail(prog, "cannot map the heap");
	si.heap_start = (uintptr_t)heap;
	si.heap_size = mem;
	/* The application sees its name, then what follows the options. */
	argv[i - 1] = argv[0];
	si.argv = &argv[i - 1];
	si.argc = argc - i + 1;
	hz_runtime_start(&si);
}
