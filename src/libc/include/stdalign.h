/* stdalign.h for Haze's freestanding libc (C11). */
#ifndef _HZ_LIBC_STDALIGN_H
#define _HZ_LIBC_STDALIGN_H

#define alignas _Alignas
#define alignof _Alignof
#define __alignas_is_defined 1
#define __alignof_is_defined 1

#endif
