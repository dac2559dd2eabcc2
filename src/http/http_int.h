/*
 * What the files of src/http share and nobody else sees.
 */
#ifndef HAZE_HTTP_INT_H
#define HAZE_HTTP_INT_H

#include <stdbool.h>

/* Whether NUL-terminated @a and @b are equal in any letter case. */
bool hz_http_name_eq(const char *a, const char *b);

#endif
