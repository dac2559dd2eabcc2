/*
 * Haze: the runtime core's interfaces, in one include. The libraries
 * above the core have their own headers (haze/stack.h, haze/tls.h,
 * haze/entropy.h, ...): an application includes those it links.
 *
 * An application defines hz_main() instead of main(): the target owns the
 * real entry point (on unix, the process's main() binds devices from the
 * command line first). hz_main runs as the first fiber; its return value is
 * the unikernel's exit status (0..255). Returning a negative HZ_E* code
 * prints the error and exits with status 1.
 */
#ifndef HAZE_HAZE_H
#define HAZE_HAZE_H

#include "haze/assert.h"
#include "haze/error.h"
#include "haze/log.h"
#include "haze/manifest.h"
#include "haze/mem.h"
#include "haze/pbuf.h"
#include "haze/platform.h"
#include "haze/random.h"
#include "haze/sched.h"

/* The application's entry point, run as fiber "main". */
int hz_main(int argc, char **argv);

#endif
