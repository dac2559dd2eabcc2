/*
 * libFuzzer harness for the record path of the TLS flow (src/tls/
 * tls_flow.c and BearSSL's engine behind it): the input is what the
 * lower flow delivers to a server TLS flow, as if a client had sent it.
 * The first byte sets how the lower flow cuts it into reads (1 to 256
 * bytes at a time); what the server sends back is discarded. The server
 * reads until the end or a failure, then writes, shuts down and is
 * freed. Nothing may crash or leak, and every failure must be named.
 * Seeds are real ClientHellos (openssl s_client, curl, Haze's client).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "haze/entropy.h"
#include "haze/flow.h"
#include "haze/mem.h"
#include "haze/platform.h"
#include "haze/tls.h"
#include "tls_certs.h"

#define FUZZ_HEAP (32u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A lower flow that hands out the fuzz input and swallows writes. */
struct replay {
	struct hz_flow flow;
	const uint8_t *data;
	size_t left, chunk;
	bool closed;
};

static int replay_read(struct hz_flow *f, struct hz_view *out,
		       uint64_t deadline)
{
	struct replay *r = (struct replay *)f;
	size_t n = r->left < r->chunk ? r->left : r->chunk;

	(void)deadline;
	*out = (struct hz_view){0};
	if (r->closed)
		return -HZ_ECLOSED;
	if (n == 0)
		return 0;
	if (hz_pbuf_alloc(NULL, n, out) != 0)
		return -HZ_ENOMEM;
	memcpy(hz_view_data(out), r->data, n);
	r->data += n;
	r->left -= n;
	return (int)n;
}

static ssize_t replay_writev(struct hz_flow *f, const struct hz_iov *iov,
			     size_t n, uint64_t deadline)
{
	size_t total = 0;

	(void)deadline;
	if (((struct replay *)f)->closed)
		return -HZ_ECLOSED;
	for (size_t i = 0; i < n; i++)
		total += iov[i].len;
	return (ssize_t)total;
}

static int replay_shutdown(struct hz_flow *f)
{
	return ((struct replay *)f)->closed ? -HZ_ECLOSED : 0;
}

static void replay_close(struct hz_flow *f)
{
	((struct replay *)f)->closed = true;
}

static void replay_free(struct hz_flow *f)
{
	hz_free(f);
}

static const char *replay_error(const struct hz_flow *f)
{
	(void)f;
	return "replay: no error";
}

static const struct hz_flow_ops replay_ops = {
    .read = replay_read,
    .writev = replay_writev,
    .shutdown = replay_shutdown,
    .close = replay_close,
    .free = replay_free,
    .error_message = replay_error,
};

static struct hz_tls_config *cfg;
static size_t base_objects;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const alpn[] = {"http/1.1", "echo"};
	void *heap = mmap(NULL, FUZZ_HEAP, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hz_mem_stats st;

	(void)argc;
	(void)argv;
	if (heap == MAP_FAILED || hz_mem_init((uintptr_t)heap, FUZZ_HEAP) != 0)
		abort();
	if (hz_entropy_init() != 0 ||
	    hz_tls_config_new(HZ_TLS_SERVER, &cfg) != 0 ||
	    hz_tls_config_add_chain(cfg, ec_pem, ec_pem_len, ec_key,
				    ec_key_len) != 0 ||
	    hz_tls_config_add_chain(cfg, rsa_pem, rsa_pem_len, rsa_key,
				    rsa_key_len) != 0 ||
	    hz_tls_config_set_alpn(cfg, alpn, 2) != 0)
		abort();
	hz_mem_stats(&st);
	base_objects = st.live_objects;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay *lower = hz_calloc(1, sizeof(*lower));
	struct hz_flow *tls;
	struct hz_mem_stats st;
	struct hz_view v;
	int n;

	if (lower == NULL || size == 0) {
		hz_free(lower);
		return 0;
	}
	lower->flow.ops = &replay_ops;
	lower->chunk = (size_t)data[0] + 1;
	lower->data = data + 1;
	lower->left = size - 1;
	if (hz_tls_server(&lower->flow, cfg, &tls) != 0)
		abort();
	while ((n = hz_flow_read(tls, &v, HZ_DEADLINE_NEVER)) > 0)
		hz_view_release(&v);
	if (n < 0 && strncmp(hz_flow_error(tls), "TLS: ", 5) != 0)
		abort(); /* every failure is named */
	if (hz_flow_write(tls, "bye", 3, HZ_DEADLINE_NEVER) == 3 &&
	    hz_flow_shutdown(tls) != 0 && n == 0)
		abort();
	hz_flow_free(tls);
	hz_mem_stats(&st);
	if (st.live_objects != base_objects || hz_pbuf_live() != 0)
		abort();
	return 0;
}
