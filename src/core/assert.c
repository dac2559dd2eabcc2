/* Assertion failures: a programming error ends the unikernel loudly. */
#include "haze/assert.h"
#include "haze/log.h"
#include "haze/sched.h"

void hz_assert_fail(const char *expr, const char *file, int line)
{
	hz_printf("%s:%d: assertion `%s' failed (fiber %s)\n", file, line, expr,
		  hz_fiber_name());
	hz_platform_abort();
}
