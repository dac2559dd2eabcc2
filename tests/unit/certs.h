/*
 * Test certificates for the unit tests that speak TLS: made fresh by
 * tests/tls/mkcerts.sh in a temporary directory before the tests run,
 * removed after.
 */
#ifndef HAZE_TESTS_CERTS_H
#define HAZE_TESTS_CERTS_H

#include "tests/unit/harness.h"

/* A PEM file's bytes (NUL-terminated). */
struct pem {
	char *data;
	size_t len;
};

/* Reads the test certificate or key @name ("ca.pem", "ec.key", ...). */
struct pem pem_load(const char *name);

/* Frees what pem_load read. */
void pem_drop(struct pem *p);

/*
 * Makes the certificates, seeds the entropy generator, runs @tests like
 * harness_run, and removes the certificates. Returns the failure count.
 */
int certs_run(const char *group, const struct CMUnitTest *tests, size_t n);

#define CERTS_RUN(group, tests) \
	certs_run(group, tests, sizeof(tests) / sizeof(tests[0]))

#endif
