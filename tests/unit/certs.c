/* Test certificates for the unit tests that speak TLS (certs.h). */
#include "tests/unit/certs.h"

#include <stdlib.h>

#include "haze/entropy.h"

static char cert_dir[64];

struct pem pem_load(const char *name)
{
	char path[128];
	struct pem p = {0};
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", cert_dir, name);
	/* Fibers load certificates too: checks, and an empty PEM on failure. */
	f = fopen(path, "rb");
	if (!HARNESS_CHECK(f != NULL))
		return p;
	n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	rewind(f);
	if (HARNESS_CHECK_GE(n, 0))
		p.data = malloc((size_t)n + 1);
	if (!HARNESS_CHECK(p.data != NULL) ||
	    !HARNESS_CHECK_EQ(fread(p.data, 1, (size_t)n, f), n)) {
		fclose(f);
		pem_drop(&p);
		return p;
	}
	fclose(f);
	p.data[n] = '\0';
	p.len = (size_t)n;
	return p;
}

void pem_drop(struct pem *p)
{
	free(p->data);
	*p = (struct pem){0};
}

int certs_run(const char *group, const struct CMUnitTest *tests, size_t n)
{
	char cmd[160];
	int r;

	snprintf(cert_dir, sizeof(cert_dir), "/tmp/haze-%s-test.XXXXXX", group);
	if (mkdtemp(cert_dir) == NULL) {
		printf("not ok 1 - a temporary directory\n1..1\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "sh tests/tls/mkcerts.sh %s", cert_dir);
	if (system(cmd) != 0) {
		printf("not ok 1 - tests/tls/mkcerts.sh makes the test "
		       "certificates\n1..1\n");
		return 1;
	}
	if (hz_entropy_init() != 0) {
		printf("not ok 1 - the entropy generator seeds\n1..1\n");
		return 1;
	}
	r = harness_run(group, tests, n);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cert_dir);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
