/*
 * Start-up: the target calls hz_runtime_start once the machine is ready;
 * the runtime takes the heap, applies its own options, runs hz_main as the
 * first fiber inside the event loop, and exits with its status.
 *
 * Runtime options come first among the application's arguments and are
 * removed before hz_main sees them: --log=SPEC (see hz_log_configure).
 * The image's random source, if it declares one, is seeded before hz_main.
 */
#include <string.h>

#include "core/core.h"
#include "haze/haze.h"
#include "haze/random.h"

HZ_LOG_SOURCE(runtime_log, "runtime");

struct app_args {
	int argc;
	char **argv;
};

static int run_main(void *arg)
{
	struct app_args *a = arg;

	return hz_main(a->argc, a->argv);
}

/* Consumes leading runtime options from @a; 0 or -HZ_EINVAL. */
static int apply_runtime_options(struct app_args *a)
{
	while (a->argc > 1 && strncmp(a->argv[1], "--log=", 6) == 0) {
		const char *why;

		if (hz_log_configure(a->argv[1] + 6, &why) < 0) {
			HZ_ERROR(&runtime_log, "bad --log at '%s'", why);
			return -HZ_EINVAL;
		}
		a->argv[1] = a->argv[0];
		a->argv++;
		a->argc--;
	}
	return 0;
}

/*
 * Seeds the image's random source, if it declares one, and puts it in use
 * (haze/random.h): every library then starts with seeded randomness, and
 * a unikernel that cannot seed stops here rather than run with guessable
 * keys. 0 or the source's error.
 */
static int seed_random_source(void)
{
	struct hz_random *src = hz_random_source;
	int r;

	if (src == NULL)
		return 0;
	if (src->ops->seed != NULL) {
		r = src->ops->seed(src);
		if (r < 0)
			return r;
	}
	hz_random_use(src);
	return 0;
}

void hz_runtime_start(const struct hz_start_info *si)
{
	struct app_args args = {si->argc, si->argv};
	int status, r;

	hz_log_set_origin(hz_platform_clock_monotonic());
	r = hz_mem_init(si->heap_start, si->heap_size);
	if (r < 0) {
		HZ_ERROR(&runtime_log,
			 "cannot use heap of %zu bytes at %#lx: %s",
			 si->heap_size, (unsigned long)si->heap_start,
			 hz_strerror(r));
		hz_platform_exit(1);
	}
	if (apply_runtime_options(&args) < 0)
		hz_platform_exit(2);
	HZ_DEBUG(&runtime_log, "target %s, heap %zu KiB", si->target,
		 si->heap_size / 1024);
	r = seed_random_source();
	if (r < 0) {
		HZ_ERROR(&runtime_log, "cannot seed the random source: %s",
			 hz_strerror(r));
		hz_platform_exit(1);
	}

	status = hz_sched_run(run_main, &args);
	if (status < 0) {
		HZ_ERROR(&runtime_log, "hz_main failed: %s (%s)",
			 hz_strerror(status), hz_errname(status));
		status = 1;
	}
	hz_platform_exit(status & 0xff);
}
