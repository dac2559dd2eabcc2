/*
 * What the files of src/http share and nobody else sees.
 */
#ifndef HAZE_HTTP_INT_H
#define HAZE_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Whether NUL-terminated @a and @b are equal in any letter case. */
bool hz_http_name_eq(const char *a, const char *b);

/* The value of hex digit @c (either case), or -1. */
int http_hex_value(uint8_t c);

#endif
