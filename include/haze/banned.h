/*
 * Functions that bite: each becomes a compile error wherever this header is
 * included (the build force-includes it into every Haze source). Use the
 * bounded forms: snprintf, or memcpy with an explicit size.
 */
#ifndef HAZE_BANNED_H
#define HAZE_BANNED_H

/*
 * The headers that declare the banned functions come first, so their
 * declarations are seen before the macros and later includes are no-ops.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#define HZ_BANNED(func) sorry_##func##_is_banned_in_haze

#undef strcpy
#define strcpy(x, y) HZ_BANNED(strcpy)
#undef strcat
#define strcat(x, y) HZ_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) HZ_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) HZ_BANNED(strncat)
#undef sprintf
#define sprintf(...) HZ_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) HZ_BANNED(vsprintf)
#undef gets
#define gets(x) HZ_BANNED(gets)
#undef strtok
#define strtok(x, y) HZ_BANNED(strtok)
#undef asctime
#define asctime(x) HZ_BANNED(asctime)
#undef ctime
#define ctime(x) HZ_BANNED(ctime)
#undef gmtime
#define gmtime(x) HZ_BANNED(gmtime)
#undef localtime
#define localtime(x) HZ_BANNED(localtime)

#endif
