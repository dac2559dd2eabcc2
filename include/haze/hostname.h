/*
 * Host names as DNS and TLS compare them: ASCII letters without regard
 * to case (RFC 4343), every other byte as it is. In the core so that TLS
 * (a certificate's names against SNI) and DNS agree without TLS depending
 * on DNS.
 */
#ifndef HAZE_HOSTNAME_H
#define HAZE_HOSTNAME_H

#include <stdbool.h>

/* Whether host names @a and @b are the same, ASCII letter case aside. */
bool hz_hostname_equal(const char *a, const char *b);

#endif
