/* Internal interfaces between the pieces of the runtime core. */
#ifndef HAZE_CORE_CORE_H
#define HAZE_CORE_CORE_H

#include <stdint.h>

/* Sets the monotonic time that log timestamps count from. */
void hz_log_set_origin(uint64_t origin_ns);

#endif
