/* stdnoreturn.h for Haze's freestanding libc (C11). */
#ifndef _HZ_LIBC_STDNORETURN_H
#define _HZ_LIBC_STDNORETURN_H

#define noreturn _Noreturn

#endif
