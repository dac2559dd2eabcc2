/* stdbool.h for Haze's freestanding libc (C11). */
#ifndef _HZ_LIBC_STDBOOL_H
#define _HZ_LIBC_STDBOOL_H

#define bool _Bool
#define true 1
#define false 0
#define __bool_true_false_are_defined 1

#endif
