/*
 * Guard pages below fiber stacks on the unix target: the page is
 * inaccessible while its fiber lives and accessible again once the stack
 * is freed (by a fiber's end or by abandoning it); a write to it kills a
 * process; a recursion that overflows is named by the fault handler,
 * which aborts; and any other SIGSEGV still reaches the handler that was
 * there before, ASan's included. Faults happen in child processes.
 */
#include "tests/unit/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/asan.h"
#include "haze/log.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/sched.h"
#include "platform/unix/unix.h"

/* A default stack is a run of this size, aligned to it (haze/mem.h). */
#define RUN HZ_FIBER_STACK_DEFAULT

/* --- helpers -------------------------------------------------------------- */

/* The guard page of the running fiber, found from its frame. */
static uintptr_t my_guard(void)
{
	/* The frame, not a local: under ASan locals may live elsewhere. */
	return (uintptr_t)__builtin_frame_address(0) & ~(uintptr_t)(RUN - 1);
}

/*
 * The protection of the page at @addr from /proc/self/maps: "rw-p",
 * "---p", ... in @perms; false if no mapping holds it.
 */
static bool page_perms(uintptr_t addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    addr >= lo && addr < hi)
			found = true;
	}
	fclose(f);
	return found;
}

/* Whether the page at @addr is mapped with exactly @want. */
static bool perms_are(uintptr_t addr, const char *want)
{
	char perms[5] = "";

	return page_perms(addr, perms) && strcmp(perms, want) == 0;
}

/* Runs @fn(@arg) in a child process with its stdout and stderr in @out;
 * returns the child's wait status. */
static int in_child(void (*fn)(void *arg), void *arg, char *out, size_t size)
{
	int fds[2], status = -1;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		/* cmocka's handlers would catch what the test expects. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (n + 1 < size && (r = read(fds[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* --- protection while alive, none after ----------------------------------- */

struct probe {
	uintptr_t guard;
	bool guard_locked, stack_open;
};

static void probe(void *arg)
{
	struct probe *p = arg;

	p->guard = my_guard();
	p->guard_locked = perms_are(p->guard, "---p");
	p->stack_open = perms_are(p->guard + HZ_PAGE_SIZE, "rw-p");
}

static void park_forever(void *arg)
{
	struct hz_waitq never = {0};

	probe(arg);
	if (hz_waitq_wait(&never, HZ_DEADLINE_NEVER) == 0)
		HARNESS_FAIL("woken from a queue nobody wakes");
}

/* Spawns given a kept stack so far (the counter registers on first use). */
static uint64_t stacks_reused(void)
{
	const struct hz_counter *c = hz_counter_find("sched", "stack_reused");

	return c != NULL ? c->value : 0;
}

static int probe_main(void *arg)
{
	struct probe *p = arg;
	uint64_t reused;

	if (!HARNESS_CHECK_EQ(hz_fiber_spawn("probe", probe, &p[0], 0), 0) ||
	    !HARNESS_CHECK_EQ(hz_fiber_spawn("parked", park_forever, &p[1], 0),
			      0))
		return -1;
	hz_fiber_yield(); /* both run; probe ends, its stack is kept */
	hz_fiber_yield();
	HARNESS_CHECK(p[0].guard != 0 && p[1].guard != p[0].guard);
	/* Kept for the next spawn, still guarded. */
	HARNESS_CHECK(perms_are(p[0].guard, "---p"));
	HARNESS_CHECK(perms_are(p[1].guard, "---p"));
	reused = stacks_reused();
	/* The next fiber gets that stack, guard and all. */
	if (!HARNESS_CHECK_EQ(hz_fiber_spawn("again", probe, &p[2], 0), 0))
		return -1;
	hz_fiber_yield();
	HARNESS_CHECK_EQ(p[2].guard, p[0].guard);
	HARNESS_CHECK_EQ(stacks_reused(), reused + 1);
	return 0; /* "parked" is abandoned with its stack */
}

static void guard_lives_and_dies_with_the_stack(void **state)
{
	struct probe p[3] = {{0}};

	(void)state;
	assert_int_equal(harness_run_fibers(probe_main, p), 0);
	assert_true(p[0].guard_locked);
	assert_true(p[0].stack_open);
	assert_true(p[1].guard_locked);
	assert_true(p[2].guard_locked);
	/* The loop has ended: the abandoned stack and the kept one are
	 * open again, as every page. */
	assert_true(perms_are(p[1].guard, "rw-p"));
	assert_true(perms_are(p[0].guard, "rw-p"));
}

/* Every page of the heap, allocated and written: none stayed a guard. */
static int fill_heap(void)
{
	struct hz_mem_stats st;
	void **pages = NULL;
	size_t n = 0;
	void *p;

	hz_mem_stats(&st);
	pages = calloc(st.heap_pages, sizeof(*pages));
	if (pages == NULL)
		return -1;
	while ((p = hz_pages_alloc(0)) != NULL) {
		memset(p, 0xa5, HZ_PAGE_SIZE);
		pages[n++] = p;
	}
	while (n > 0)
		hz_pages_free(pages[--n]);
	free(pages);
	return 0;
}

static int many_fibers_main(void *arg)
{
	static struct probe probes[64];

	(void)arg;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (!HARNESS_CHECK_EQ(
			hz_fiber_spawn("short", probe, &probes[i], 0), 0))
			return -1;
	hz_fiber_yield();
	return 0;
}

static void reuse_child(void *arg)
{
	(void)arg;
	if (harness_run_fibers(many_fibers_main, NULL) != 0)
		_exit(3);
	_exit(fill_heap() == 0 ? 0 : 4);
}

static void freed_stacks_are_reused_without_fault(void **state)
{
	char out[4096];
	int status;

	(void)state;
	status = in_child(reuse_child, NULL, out, sizeof(out));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child status %#x: %s", status, out);
}

/* A fiber that ends at once. */
static void nothing(void *arg)
{
	(void)arg;
}

/*
 * With every free page taken, a spawn whose stack size no kept stack has
 * still succeeds: the kept stacks are freed for it.
 */
static int short_memory_main(void *arg)
{
	void **pages = arg;
	size_t n = 0;
	void *p;
	int r;

	for (int i = 0; i < 2; i++)
		if (!HARNESS_CHECK_EQ(
			hz_fiber_spawn("kept", nothing, NULL, 64 * 1024), 0))
			return -1;
	hz_fiber_yield(); /* both end: two 64 KiB stacks kept */
	while ((p = hz_pages_alloc(0)) != NULL)
		pages[n++] = p;
	r = hz_fiber_spawn("smaller", nothing, NULL, 32 * 1024);
	hz_fiber_yield();
	while (n > 0)
		hz_pages_free(pages[--n]);
	return HARNESS_CHECK_EQ(r, 0) ? 0 : -1;
}

static void kept_stacks_give_way_when_memory_is_short(void **state)
{
	struct hz_mem_stats st;
	void **pages;

	(void)state;
	hz_mem_stats(&st);
	pages = calloc(st.heap_pages, sizeof(*pages));
	assert_non_null(pages);
	assert_int_equal(harness_run_fibers(short_memory_main, pages), 0);
	free(pages);
}

/* --- faults --------------------------------------------------------------- */

static void poke_guard(void *arg)
{
	(void)arg;
	hz_printf("poking %#lx\n", (unsigned long)my_guard());
	*(volatile char *)my_guard() = 1;
	hz_printf("wrote the guard page\n");
}

static int poke_main(void *arg)
{
	if (hz_fiber_spawn("poker", poke_guard, arg, 0) < 0)
		return -1;
	hz_fiber_yield();
	return 0;
}

static void poke_child(void *arg)
{
	bool handler = *(bool *)arg;
	struct hz_errmsg err = {0};

	if (handler && hz_unix_fault_init(&err) < 0)
		_exit(5);
	(void)harness_run_fibers(poke_main, NULL);
}

static void a_write_to_the_guard_kills(void **state)
{
	char out[4096];
	bool handler = false;
	int status;

	(void)state;
	status = in_child(poke_child, &handler, out, sizeof(out));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_non_null(strstr(out, "poking 0x"));
	assert_null(strstr(out, "wrote the guard page"));
}

static void a_write_to_the_guard_is_named(void **state)
{
	char out[4096], want[128];
	unsigned long guard = 0;
	const char *at;
	bool handler = true;
	int status;

	(void)state;
	status = in_child(poke_child, &handler, out, sizeof(out));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	at = strstr(out, "poking ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "poking %lx", &guard), 1);
	snprintf(want, sizeof(want),
		 "fiber poker overflowed its stack (guard page at %#lx)\n",
		 guard);
	if (strstr(out, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, out);
}

/* Recurses until the stack runs out: the frames walk down to the guard. */
__attribute__((noinline)) static unsigned recurse(volatile char *up,
						  unsigned depth)
{
	volatile char frame[128];

	frame[0] = (char)depth;
	if (up != NULL)
		up[1] = frame[0];
	if (depth == UINT32_MAX)
		return depth;
	return recurse(frame, depth + 1);
}

static void deep(void *arg)
{
	(void)arg;
	hz_printf("guard %#lx\n", (unsigned long)my_guard());
	recurse(NULL, 0);
}

static int deep_main(void *arg)
{
	(void)arg;
	if (hz_fiber_spawn("deep", deep, NULL, 0) < 0)
		return -1;
	hz_fiber_yield();
	return 0;
}

static void deep_child(void *arg)
{
	struct hz_errmsg err = {0};

	(void)arg;
	if (hz_unix_fault_init(&err) < 0)
		_exit(5);
	(void)harness_run_fibers(deep_main, NULL);
	hz_printf("recursion came back\n");
}

static void an_overflow_is_named_and_aborts(void **state)
{
	char out[8192], want[128];
	unsigned long guard = 0;
	const char *at;
	int status;

	(void)state;
	status = in_child(deep_child, NULL, out, sizeof(out));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	at = strstr(out, "guard ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "guard %lx", &guard), 1);
	snprintf(want, sizeof(want),
		 "fiber deep overflowed its stack (guard page at %#lx)\n",
		 guard);
	if (strstr(out, want) == NULL)
		fail_msg("no \"%s\" in: %s", want, out);
}

/* --- other faults --------------------------------------------------------- */

static void exit_42(int sig)
{
	(void)sig;
	_exit(42);
}

/* A SIGSEGV outside any guard page: a page of its own, never a stack. */
static void stray_fault(void)
{
	char *page = mmap(NULL, HZ_PAGE_SIZE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		_exit(6);
	*(volatile char *)page = 1;
}

static void stray_child(void *arg)
{
	struct hz_errmsg err = {0};

	(void)arg;
	signal(SIGSEGV, exit_42);
	if (hz_unix_fault_init(&err) < 0)
		_exit(5);
	stray_fault();
	_exit(7);
}

static void other_faults_reach_the_previous_handler(void **state)
{
	char out[4096];
	int status;

	(void)state;
	status = in_child(stray_child, NULL, out, sizeof(out));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
		fail_msg("child status %#x: %s", status, out);
	assert_null(strstr(out, "overflowed"));
}

static void kill_child(void *arg)
{
	struct hz_errmsg err = {0};

	(void)arg;
	if (hz_unix_fault_init(&err) < 0)
		_exit(5);
	kill(getpid(), SIGSEGV);
	_exit(7);
}

static void a_sent_sigsegv_still_kills(void **state)
{
	char out[4096];
	int status;

	(void)state;
	status = in_child(kill_child, NULL, out, sizeof(out));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/*
 * Run as this binary's only argument in a fresh process, where the
 * sanitizer's handlers are still the ones it installed (cmocka's are
 * not): a stray fault after hz_unix_fault_init must get ASan's report.
 */
#define STRAY_UNDER_ASAN "--stray-fault-under-asan"

static int stray_under_asan(void)
{
	struct hz_errmsg err = {0};

	if (hz_unix_fault_init(&err) < 0)
		return 5;
	stray_fault();
	return 7;
}

static void exec_self(void *arg)
{
	(void)arg;
	execl("/proc/self/exe", "test_guard", STRAY_UNDER_ASAN, (char *)NULL);
	_exit(8);
}

static void asan_still_reports_other_faults(void **state)
{
	char out[16384];
	int status;

	(void)state;
	status = in_child(exec_self, NULL, out, sizeof(out));
#ifdef HZ_ASAN
	if (strstr(out, "AddressSanitizer: SEGV on unknown address") == NULL ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 1) ||
	    strstr(out, "overflowed") != NULL)
		fail_msg("child status %#x, no ASan report: %s", status, out);
#else
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    HARNESS_TEST(guard_lives_and_dies_with_the_stack),
	    HARNESS_TEST(freed_stacks_are_reused_without_fault),
	    HARNESS_TEST(kept_stacks_give_way_when_memory_is_short),
	    HARNESS_TEST(a_write_to_the_guard_kills),
	    HARNESS_TEST(a_write_to_the_guard_is_named),
	    HARNESS_TEST(an_overflow_is_named_and_aborts),
	    HARNESS_TEST(other_faults_reach_the_previous_handler),
	    HARNESS_TEST(a_sent_sigsegv_still_kills),
	    HARNESS_TEST(asan_still_reports_other_faults),
	};

	if (argc == 2 && strcmp(argv[1], STRAY_UNDER_ASAN) == 0)
		return stray_under_asan();
	return HARNESS_RUN("guard", tests);
}
