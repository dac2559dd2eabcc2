/*
 * inttypes.h for Haze's freestanding libc: the PRI* format macros for an
 * LP64 ABI (int64_t is long). The SCN* macros are absent: there is no scanf.
 */
#ifndef _HZ_LIBC_INTTYPES_H
#define _HZ_LIBC_INTTYPES_H

#include <stdint.h>

#define __HZ_PRI64 "l"
#define __HZ_PRIPTR "l"

#define PRId8 "d"
#define PRId16 "d"
#define PRId32 "d"
#define PRId64 __HZ_PRI64 "d"
#define PRIi8 "i"
#define PRIi16 "i"
#define PRIi32 "i"
#define PRIi64 __HZ_PRI64 "i"
#define PRIu8 "u"
#define PRIu16 "u"
#define PRIu32 "u"
#define PRIu64 __HZ_PRI64 "u"
#define PRIo8 "o"
#define PRIo16 "o"
#define PRIo32 "o"
#define PRIo64 __HZ_PRI64 "o"
#define PRIx8 "x"
#define PRIx16 "x"
#define PRIx32 "x"
#define PRIx64 __HZ_PRI64 "x"
#define PRIX8 "X"
#define PRIX16 "X"
#define PRIX32 "X"
#define PRIX64 __HZ_PRI64 "X"

#define PRIdLEAST8 PRId8
#define PRIdLEAST16 PRId16
#define PRIdLEAST32 PRId32
#define PRIdLEAST64 PRId64
#define PRIuLEAST8 PRIu8
#define PRIuLEAST16 PRIu16
#define PRIuLEAST32 PRIu32
#define PRIuLEAST64 PRIu64
#define PRIxLEAST8 PRIx8
#define PRIxLEAST16 PRIx16
#define PRIxLEAST32 PRIx32
#define PRIxLEAST64 PRIx64

/* The 16- and 32-bit fast types are long (see stdint.h). */
#define PRIdFAST8 "d"
#define PRIdFAST16 __HZ_PRIPTR "d"
#define PRIdFAST32 __HZ_PRIPTR "d"
#define PRIdFAST64 PRId64
#define PRIuFAST8 "u"
#define PRIuFAST16 __HZ_PRIPTR "u"
#define PRIuFAST32 __HZ_PRIPTR "u"
#define PRIuFAST64 PRIu64
#define PRIxFAST8 "x"
#define PRIxFAST16 __HZ_PRIPTR "x"
#define PRIxFAST32 __HZ_PRIPTR "x"
#define PRIxFAST64 PRIx64

#define PRIdMAX "jd"
#define PRIiMAX "ji"
#define PRIuMAX "ju"
#define PRIoMAX "jo"
#define PRIxMAX "jx"
#define PRIXMAX "jX"
#define PRIdPTR __HZ_PRIPTR "d"
#define PRIiPTR __HZ_PRIPTR "i"
#define PRIuPTR __HZ_PRIPTR "u"
#define PRIoPTR __HZ_PRIPTR "o"
#define PRIxPTR __HZ_PRIPTR "x"
#define PRIXPTR __HZ_PRIPTR "X"

#endif
